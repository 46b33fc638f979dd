//! The conversation as the model sees it, and the one client type the coach calls.
//!
//! The wire shapes are Anthropic's Messages API (`Block` serializes exactly as a content block),
//! so an assistant turn is stored and sent back as received — thinking blocks with their
//! signatures included (an edited assistant turn is a 400). The OpenAI-compatible adapter
//! translates to and from these types at its edge.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// One content block of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Text {
        text: String,
    },
    Thinking {
        thinking: String,
        signature: String,
    },
    RedactedThinking {
        data: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: serde_json::Value,
    },
    ToolResult {
        tool_use_id: String,
        content: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: Vec<Block>,
}

impl Message {
    pub fn user_text(text: impl Into<String>) -> Message {
        Message {
            role: Role::User,
            content: vec![Block::Text { text: text.into() }],
        }
    }

    /// The visible text of the message (text blocks joined).
    pub fn text(&self) -> String {
        let mut out = String::new();
        for b in &self.content {
            if let Block::Text { text } = b {
                out.push_str(text);
            }
        }
        out
    }

    /// The tool calls the message asks for, in order.
    pub fn tool_uses(&self) -> impl Iterator<Item = (&str, &str, &serde_json::Value)> {
        self.content.iter().filter_map(|b| match b {
            Block::ToolUse { id, name, input } => Some((id.as_str(), name.as_str(), input)),
            _ => None,
        })
    }
}

/// A tool the model may call (Anthropic's shape; the OpenAI adapter wraps it as a function).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub input_schema: serde_json::Value,
}

/// One call to the model.
#[derive(Debug, Clone)]
pub struct ModelRequest<'a> {
    pub system: &'a str,
    pub messages: &'a [Message],
    pub tools: &'a [ToolSpec],
    /// Cap on the visible output of this call.
    pub max_tokens: u32,
    /// Extended thinking cap (Anthropic; ignored by the OpenAI adapter). None: thinking off.
    /// The API counts thinking against `max_tokens`, so the client sends `max_tokens +
    /// thinking_budget` there and this as the thinking budget.
    pub thinking_budget: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndTurn,
    ToolUse,
    MaxTokens,
    StopSequence,
    Refusal,
    PauseTurn,
    /// Anything else the API says (kept so a new reason is not an error).
    #[serde(other)]
    Other,
}

/// Tokens of one call, as the API reported them (`message_start` + the cumulative
/// `message_delta`), plus our estimate of how many of the output tokens were thinking (the API
/// bills thinking as output and does not report it apart).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u32,
    pub output_tokens: u32,
    pub cache_creation_input_tokens: u32,
    pub cache_read_input_tokens: u32,
    pub thinking_tokens: u32,
}

impl Usage {
    /// What counts against a user's budget: every input token (cached or not) and the visible
    /// output; thinking is ours.
    pub fn charged(&self) -> u64 {
        u64::from(self.input_tokens)
            + u64::from(self.cache_creation_input_tokens)
            + u64::from(self.cache_read_input_tokens)
            + u64::from(self.output_tokens.saturating_sub(self.thinking_tokens))
    }
}

/// A finished model turn.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelTurn {
    /// Exactly the blocks received, in order (for the history).
    pub content: Vec<Block>,
    pub stop_reason: StopReason,
    pub usage: Usage,
}

impl ModelTurn {
    pub fn message(&self) -> Message {
        Message {
            role: Role::Assistant,
            content: self.content.clone(),
        }
    }
}

/// What the stream shows while it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamUpdate {
    /// More visible text of the current turn.
    Text(String),
    /// The model started thinking.
    Thinking,
    /// The model is calling a tool (its name).
    ToolCall(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// An HTTP error status. `retryable` says whether retrying can help (429 other than a spend
    /// limit, 408, 409, 5xx, 529), `retry_after` the server's hint.
    #[error("the model API answered {status}: {message}")]
    Status {
        status: u16,
        message: String,
        retryable: bool,
        retry_after: Option<std::time::Duration>,
    },
    #[error("the model API did not answer in time")]
    Timeout,
    #[error("cannot reach the model API: {0}")]
    Network(String),
    /// The stream broke (an `error` event, a cut connection) after the turn started: what was
    /// received so far, and its usage, are in `partial`.
    #[error("the answer was interrupted: {message}")]
    Interrupted {
        message: String,
        partial: Box<ModelTurn>,
    },
    #[error("the model API sent something unreadable: {0}")]
    Protocol(String),
}

impl ModelError {
    /// Tokens the failed call still used (an interrupted stream is billed).
    pub fn usage(&self) -> Usage {
        match self {
            ModelError::Interrupted { partial, .. } => partial.usage,
            _ => Usage::default(),
        }
    }
}

/// A rough, conservative token count for text (≈ 3 characters per token; real English runs
/// ~4), used where the count-tokens endpoint is not available and for trimming.
pub fn estimate_tokens(text: &str) -> u32 {
    u32::try_from(text.chars().count().div_ceil(3)).unwrap_or(u32::MAX)
}

/// The estimate of a whole request's input (system, tools, messages), conservative.
pub fn estimate_request(req: &ModelRequest<'_>) -> u32 {
    let mut n = estimate_tokens(req.system) + 8;
    for t in req.tools {
        n += estimate_tokens(t.description) + estimate_tokens(&t.input_schema.to_string()) + 8;
    }
    for m in req.messages {
        n += 4;
        for b in &m.content {
            n += match b {
                Block::Text { text } => estimate_tokens(text),
                Block::Thinking { thinking, .. } => estimate_tokens(thinking) + 64,
                Block::RedactedThinking { data } => estimate_tokens(data),
                Block::ToolUse { name, input, .. } => {
                    estimate_tokens(name) + estimate_tokens(&input.to_string()) + 16
                }
                Block::ToolResult { content, .. } => estimate_tokens(content) + 16,
            };
        }
    }
    n
}
