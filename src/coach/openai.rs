//! The OpenAI-compatible adapter (`POST /v1/chat/completions`, as served by Ollama, llama.cpp's
//! server and vLLM): our Anthropic-shaped history translated to chat messages, and the SSE
//! `data:` chunks translated back to a `ModelTurn`.
//!
//! **Invariants.** Thinking blocks are dropped on the way out (these servers have no use for
//! Anthropic signatures). A returned turn holds at most one text block, then one `tool_use` per
//! tool call in `index` order, each with its `arguments` fragments joined and parsed. Usage is the
//! server's `usage` chunk when it sends one, else conservative estimates. As with Anthropic, a
//! failure after the first chunk is `ModelError::Interrupted` with the text so far.

use std::collections::BTreeMap;

use eventsource_stream::Eventsource;
use serde::Deserialize;
use serde_json::{Value, json};

use super::client::{Failure, ModelConfig, next_event, send};
use super::model::{
    Block, Message, ModelError, ModelRequest, ModelTurn, Role, StopReason, StreamUpdate, Usage,
    estimate_request, estimate_tokens,
};

/// The chat messages for a request: the system prompt first, then per message of ours: an
/// assistant message (`content` + `tool_calls`), or for a user message one `role: "tool"`
/// message per `tool_result` (they must directly follow the assistant's calls) and then the
/// user's text if any.
pub fn chat_messages(system: &str, messages: &[Message]) -> Vec<Value> {
    let mut out = Vec::with_capacity(messages.len() + 1);
    if !system.is_empty() {
        out.push(json!({"role": "system", "content": system}));
    }
    for m in messages {
        let text = m.text();
        match m.role {
            Role::Assistant => {
                let calls: Vec<Value> = m
                    .tool_uses()
                    .map(|(id, name, input)| {
                        json!({
                            "id": id,
                            "type": "function",
                            "function": {"name": name, "arguments": input.to_string()},
                        })
                    })
                    .collect();
                let mut msg = json!({"role": "assistant", "content": text});
                if !calls.is_empty() {
                    if text.is_empty() {
                        msg["content"] = Value::Null;
                    }
                    msg["tool_calls"] = Value::Array(calls);
                }
                out.push(msg);
            }
            Role::User => {
                for b in &m.content {
                    if let Block::ToolResult {
                        tool_use_id,
                        content,
                        is_error,
                    } = b
                    {
                        // No error flag in this API: say it in the content.
                        let content = if *is_error {
                            format!("Error: {content}")
                        } else {
                            content.clone()
                        };
                        out.push(json!({
                            "role": "tool",
                            "tool_call_id": tool_use_id,
                            "content": content,
                        }));
                    }
                }
                if !text.is_empty() {
                    out.push(json!({"role": "user", "content": text}));
                }
            }
        }
    }
    out
}

/// The request body: streaming with a final usage chunk; tools as functions.
pub fn request_body(model: &str, req: &ModelRequest<'_>) -> Value {
    let mut body = json!({
        "model": model,
        "messages": chat_messages(req.system, req.messages),
        "max_tokens": req.max_tokens,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                json!({
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.input_schema,
                    },
                })
            })
            .collect();
        body["tools"] = Value::Array(tools);
    }
    body
}

/// One streamed call (one attempt; the client retries).
pub(crate) async fn stream(
    http: &reqwest::Client,
    config: &ModelConfig,
    req: &ModelRequest<'_>,
    on: &mut (dyn FnMut(StreamUpdate) + Send),
) -> Result<ModelTurn, Failure> {
    let url = format!(
        "{}/v1/chat/completions",
        config.base_url.trim_end_matches('/')
    );
    let mut request = http.post(url).json(&request_body(&config.model, req));
    if let Some(key) = &config.api_key {
        request = request.bearer_auth(key);
    }
    let resp = send(request, config.timeout).await?;
    let mut events = resp.bytes_stream().eventsource();
    let mut turn = TurnState {
        input_estimate: estimate_request(req),
        ..TurnState::default()
    };
    loop {
        let event = match next_event(&mut events, config.timeout).await {
            Ok(Some(event)) => event,
            // Some servers close without `[DONE]` after the finish chunk.
            Ok(None) if turn.finish_reason.is_some() => break,
            Ok(None) => {
                return Err(turn.fail(
                    ModelError::Network("the stream ended before [DONE]".into()),
                    true,
                ));
            }
            Err((error, retryable)) => return Err(turn.fail(error, retryable)),
        };
        if event.data.trim() == "[DONE]" {
            break;
        }
        turn.started = true;
        let chunk: Chunk = match serde_json::from_str(&event.data) {
            Ok(chunk) => chunk,
            Err(e) => {
                let message = format!("bad chunk: {e}");
                return Err(turn.fail(ModelError::Protocol(message), false));
            }
        };
        if let Some(error) = chunk.error {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| error.to_string(), str::to_string);
            return Err(turn.fail(ModelError::Protocol(message), true));
        }
        turn.apply(chunk, on);
    }
    turn.finish().map_err(|e| turn.fail(e, false))
}

#[derive(Debug, Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    /// Some servers report a failure mid-stream as a chunk with an `error` object.
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<ChoiceDelta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ChoiceDelta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallDelta>>,
}

#[derive(Debug, Deserialize)]
struct ToolCallDelta {
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionDelta>,
}

#[derive(Debug, Deserialize)]
struct FunctionDelta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}

#[derive(Debug, Default)]
struct PendingCall {
    id: String,
    name: String,
    arguments: String,
}

#[derive(Debug, Default)]
struct TurnState {
    started: bool,
    text: String,
    calls: BTreeMap<usize, PendingCall>,
    finish_reason: Option<String>,
    usage: Option<WireUsage>,
    /// The request's estimated input, for servers that send no usage.
    input_estimate: u32,
}

impl TurnState {
    fn apply(&mut self, chunk: Chunk, on: &mut (dyn FnMut(StreamUpdate) + Send)) {
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage);
        }
        // `n` is never set: only the first choice exists.
        let Some(choice) = chunk.choices.into_iter().next() else {
            return;
        };
        if let Some(reason) = choice.finish_reason {
            self.finish_reason = Some(reason);
        }
        let delta = choice.delta.unwrap_or_default();
        if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
            self.text.push_str(&text);
            on(StreamUpdate::Text(text));
        }
        for (position, call) in delta.tool_calls.into_iter().flatten().enumerate() {
            let index = call.index.unwrap_or(position);
            let pending = self.calls.entry(index).or_default();
            if let Some(id) = call.id.filter(|id| !id.is_empty()) {
                pending.id = id;
            }
            if let Some(function) = call.function {
                if let Some(name) = function.name.filter(|n| !n.is_empty()) {
                    if pending.name.is_empty() {
                        on(StreamUpdate::ToolCall(name.clone()));
                    }
                    pending.name = name;
                }
                if let Some(arguments) = function.arguments {
                    pending.arguments.push_str(&arguments);
                }
            }
        }
    }

    /// The usage: the server's numbers, else estimates (the request's input, the output's text
    /// and arguments).
    fn usage(&self) -> Usage {
        match &self.usage {
            Some(u) => Usage {
                input_tokens: u.prompt_tokens,
                output_tokens: u.completion_tokens,
                ..Usage::default()
            },
            None => {
                let mut output = estimate_tokens(&self.text);
                for call in self.calls.values() {
                    output += estimate_tokens(&call.name) + estimate_tokens(&call.arguments);
                }
                Usage {
                    input_tokens: self.input_estimate,
                    output_tokens: output,
                    ..Usage::default()
                }
            }
        }
    }

    fn finish(&self) -> Result<ModelTurn, ModelError> {
        let mut content = Vec::with_capacity(1 + self.calls.len());
        if !self.text.is_empty() {
            content.push(Block::Text {
                text: self.text.clone(),
            });
        }
        for (index, call) in &self.calls {
            if call.name.is_empty() {
                return Err(ModelError::Protocol(format!(
                    "tool call {index} has no name"
                )));
            }
            let input = if call.arguments.trim().is_empty() {
                json!({})
            } else {
                serde_json::from_str(&call.arguments).map_err(|e| {
                    ModelError::Protocol(format!(
                        "tool `{}` arguments are not JSON: {e}",
                        call.name
                    ))
                })?
            };
            let id = if call.id.is_empty() {
                format!("call_{index}")
            } else {
                call.id.clone()
            };
            content.push(Block::ToolUse {
                id,
                name: call.name.clone(),
                input,
            });
        }
        // Some servers (older Ollama) say `stop` for a turn that calls tools.
        let stop_reason = match self.finish_reason.as_deref() {
            Some("length") => StopReason::MaxTokens,
            _ if !self.calls.is_empty() => StopReason::ToolUse,
            Some("stop") | None => StopReason::EndTurn,
            Some("tool_calls" | "function_call") => StopReason::ToolUse,
            Some("content_filter") => StopReason::Refusal,
            Some(_) => StopReason::Other,
        };
        Ok(ModelTurn {
            content,
            stop_reason,
            usage: self.usage(),
        })
    }

    /// Before the first chunk the bare error; after it `Interrupted` with the text so far.
    fn fail(&self, error: ModelError, retryable: bool) -> Failure {
        if !self.started {
            return Failure::new(error, retryable);
        }
        let content = if self.text.is_empty() {
            Vec::new()
        } else {
            vec![Block::Text {
                text: self.text.clone(),
            }]
        };
        let message = match error {
            ModelError::Protocol(m) | ModelError::Network(m) => m,
            other => other.to_string(),
        };
        Failure::new(
            ModelError::Interrupted {
                message,
                partial: Box::new(ModelTurn {
                    content,
                    stop_reason: StopReason::Other,
                    usage: self.usage(),
                }),
            },
            retryable,
        )
    }
}
