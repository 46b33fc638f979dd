//! Anthropic's Messages API: the request body, the SSE stream parser, and count-tokens.
//!
//! **Invariants.** `ModelTurn::content` holds every block exactly as received, in the stream's
//! index order (thinking with its signature, redacted thinking with its data, tool_use with its
//! input parsed from the joined `input_json_delta` fragments), because the next request of a
//! tool loop must send the assistant turn back unedited. Unknown event and block types are
//! ignored. Any failure after the turn started (`message_start`) — an `error` event, an idle
//! timeout, a cut connection — is `ModelError::Interrupted` carrying the blocks completed so
//! far, the open text block's text, and the usage so far.

use std::collections::BTreeMap;

use eventsource_stream::Eventsource;
use serde::Deserialize;
use serde_json::{Value, json};

use super::client::{Failure, ModelConfig, next_event, send};
use super::model::{
    Block, ModelError, ModelRequest, ModelTurn, StopReason, StreamUpdate, Usage, estimate_tokens,
};

pub const API_VERSION: &str = "2023-06-01";
/// The smallest thinking budget the API accepts in the `enabled` form.
pub const MIN_THINKING_BUDGET: u32 = 1024;

/// How a model takes extended thinking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThinkingForm {
    /// `{"type": "enabled", "budget_tokens": n}`: Claude 3.7 and the Claude 4 models up to 4.5.
    Enabled,
    /// `{"type": "adaptive"}`: Claude 4.6 and later, which deprecate or reject the old form.
    Adaptive,
}

/// The thinking form for a model id. `claude-3-7-*` and `claude-{opus,sonnet,haiku}-4` with a
/// minor version up to 5 (`claude-opus-4-20250514`, `claude-opus-4-1-…`, `claude-sonnet-4-5-…`,
/// `claude-haiku-4-5`) take the `enabled` form; everything else (4.6+, later families, unknown
/// ids) the `adaptive` form, since new models are the ones that reject the old form.
pub fn thinking_form(model: &str) -> ThinkingForm {
    if model.starts_with("claude-3-7") {
        return ThinkingForm::Enabled;
    }
    for family in ["claude-opus-4", "claude-sonnet-4", "claude-haiku-4"] {
        let Some(rest) = model.strip_prefix(family) else {
            continue;
        };
        // What follows the major version: nothing, a date (4.0), or "-<minor>[-…]".
        let minor = match rest.strip_prefix('-') {
            None if rest.is_empty() => 0,
            None => return ThinkingForm::Adaptive,
            Some(rest) => {
                let segment = rest.split(['-', '@']).next().unwrap_or("");
                match segment.parse::<u32>() {
                    // An 8-digit date snapshot of the .0 model.
                    Ok(_) if segment.len() >= 8 => 0,
                    Ok(minor) => minor,
                    Err(_) => 0,
                }
            }
        };
        return if minor <= 5 {
            ThinkingForm::Enabled
        } else {
            ThinkingForm::Adaptive
        };
    }
    ThinkingForm::Adaptive
}

/// The `thinking` parameter and the API's `max_tokens` for a request. Thinking counts against
/// `max_tokens`, so the visible cap is kept by adding the budget (in both forms).
fn thinking_and_max_tokens(model: &str, req: &ModelRequest<'_>) -> (Option<Value>, u32) {
    match req.thinking_budget {
        None => (None, req.max_tokens),
        Some(budget) => {
            let budget = budget.max(MIN_THINKING_BUDGET);
            let max_tokens = req.max_tokens.saturating_add(budget);
            let thinking = match thinking_form(model) {
                ThinkingForm::Enabled => json!({"type": "enabled", "budget_tokens": budget}),
                ThinkingForm::Adaptive => json!({"type": "adaptive"}),
            };
            (Some(thinking), max_tokens)
        }
    }
}

/// The request body; `streaming` false gives the count-tokens body (no `max_tokens`/`stream`).
pub fn request_body(model: &str, req: &ModelRequest<'_>, streaming: bool) -> Value {
    let (thinking, max_tokens) = thinking_and_max_tokens(model, req);
    let mut body = json!({
        "model": model,
        "messages": req.messages,
    });
    let obj = body.as_object_mut().expect("an object literal");
    if !req.system.is_empty() {
        obj.insert("system".into(), json!(req.system));
    }
    if !req.tools.is_empty() {
        obj.insert("tools".into(), json!(req.tools));
    }
    if let Some(thinking) = thinking {
        obj.insert("thinking".into(), thinking);
    }
    if streaming {
        obj.insert("max_tokens".into(), json!(max_tokens));
        obj.insert("stream".into(), json!(true));
    }
    body
}

fn post(
    http: &reqwest::Client,
    config: &ModelConfig,
    path: &str,
    body: &Value,
) -> reqwest::RequestBuilder {
    let url = format!("{}{path}", config.base_url.trim_end_matches('/'));
    let mut request = http
        .post(url)
        .header("anthropic-version", API_VERSION)
        .json(body);
    if let Some(key) = &config.api_key {
        request = request.header("x-api-key", key);
    }
    request
}

/// `POST /v1/messages/count_tokens`: `{"input_tokens": N}`.
pub(crate) async fn count_tokens(
    http: &reqwest::Client,
    config: &ModelConfig,
    req: &ModelRequest<'_>,
) -> Result<u32, ModelError> {
    #[derive(Deserialize)]
    struct Count {
        input_tokens: u32,
    }
    let body = request_body(&config.model, req, false);
    let resp = send(
        post(http, config, "/v1/messages/count_tokens", &body),
        config.timeout,
    )
    .await?;
    match tokio::time::timeout(config.timeout, resp.json::<Count>()).await {
        Err(_) => Err(ModelError::Timeout),
        Ok(Err(e)) => Err(ModelError::Protocol(e.to_string())),
        Ok(Ok(count)) => Ok(count.input_tokens),
    }
}

/// One streamed call (one attempt; the client retries).
pub(crate) async fn stream(
    http: &reqwest::Client,
    config: &ModelConfig,
    req: &ModelRequest<'_>,
    on: &mut (dyn FnMut(StreamUpdate) + Send),
) -> Result<ModelTurn, Failure> {
    let body = request_body(&config.model, req, true);
    let resp = send(post(http, config, "/v1/messages", &body), config.timeout).await?;
    let mut events = resp.bytes_stream().eventsource();
    let mut turn = TurnState::default();
    loop {
        let event = match next_event(&mut events, config.timeout).await {
            Ok(Some(event)) => event,
            Ok(None) => {
                return Err(turn.fail(
                    ModelError::Network("the stream ended before message_stop".into()),
                    true,
                ));
            }
            Err((error, retryable)) => return Err(turn.fail(error, retryable)),
        };
        let parsed: SseEvent = match serde_json::from_str(&event.data) {
            Ok(parsed) => parsed,
            Err(e) => {
                let message = format!("bad `{}` event: {e}", event.event);
                return Err(turn.fail(ModelError::Protocol(message), false));
            }
        };
        match turn.apply(parsed, on) {
            Ok(Flow::Continue) => {}
            Ok(Flow::Done) => return turn.finish().map_err(|e| turn.fail(e, false)),
            Err(failure) => return Err(failure),
        }
    }
}

/// The stream's events, by their `type` (the data's `type` equals the SSE event name).
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum SseEvent {
    MessageStart {
        message: StartMessage,
    },
    ContentBlockStart {
        index: usize,
        content_block: StartBlock,
    },
    ContentBlockDelta {
        index: usize,
        delta: Delta,
    },
    ContentBlockStop {
        index: usize,
    },
    MessageDelta {
        delta: MessageDeltaBody,
        #[serde(default)]
        usage: Option<WireUsage>,
    },
    MessageStop,
    Ping,
    Error {
        error: ApiError,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Deserialize)]
struct StartMessage {
    #[serde(default)]
    usage: WireUsage,
}

/// Usage as the wire has it: every field optional (`message_delta` carries only some).
#[derive(Debug, Default, Deserialize)]
struct WireUsage {
    input_tokens: Option<u32>,
    output_tokens: Option<u32>,
    cache_creation_input_tokens: Option<u32>,
    cache_read_input_tokens: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StartBlock {
    Text {
        #[serde(default)]
        text: String,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
        #[serde(default)]
        signature: String,
    },
    RedactedThinking {
        data: String,
    },
    ToolUse {
        id: String,
        name: String,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Delta {
    #[serde(rename = "text_delta")]
    Text { text: String },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: String },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: String },
    #[serde(rename = "signature_delta")]
    Signature { signature: String },
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Deserialize)]
struct MessageDeltaBody {
    stop_reason: Option<StopReason>,
}

#[derive(Debug, Deserialize)]
struct ApiError {
    #[serde(rename = "type")]
    kind: String,
    message: String,
}

/// A block being received. `json` collects a tool_use's `input_json_delta` fragments.
#[derive(Debug)]
enum Slot {
    Open {
        block: Block,
        json: String,
    },
    Done(Block),
    /// A block type we do not know: skipped.
    Ignored,
}

enum Flow {
    Continue,
    Done,
}

#[derive(Debug, Default)]
struct TurnState {
    started: bool,
    slots: BTreeMap<usize, Slot>,
    usage: Usage,
    stop_reason: Option<StopReason>,
}

impl TurnState {
    fn apply(
        &mut self,
        event: SseEvent,
        on: &mut (dyn FnMut(StreamUpdate) + Send),
    ) -> Result<Flow, Failure> {
        match event {
            SseEvent::MessageStart { message } => {
                self.started = true;
                self.merge_usage(&message.usage);
            }
            SseEvent::ContentBlockStart {
                index,
                content_block,
            } => {
                let block = match content_block {
                    StartBlock::Text { text } => {
                        if !text.is_empty() {
                            on(StreamUpdate::Text(text.clone()));
                        }
                        Some(Block::Text { text })
                    }
                    StartBlock::Thinking {
                        thinking,
                        signature,
                    } => {
                        on(StreamUpdate::Thinking);
                        Some(Block::Thinking {
                            thinking,
                            signature,
                        })
                    }
                    StartBlock::RedactedThinking { data } => {
                        on(StreamUpdate::Thinking);
                        Some(Block::RedactedThinking { data })
                    }
                    StartBlock::ToolUse { id, name } => {
                        on(StreamUpdate::ToolCall(name.clone()));
                        // The start's `input` is always `{}`: the input comes as deltas.
                        Some(Block::ToolUse {
                            id,
                            name,
                            input: Value::Null,
                        })
                    }
                    StartBlock::Unknown => None,
                };
                let slot = match block {
                    Some(block) => Slot::Open {
                        block,
                        json: String::new(),
                    },
                    None => Slot::Ignored,
                };
                self.slots.insert(index, slot);
            }
            SseEvent::ContentBlockDelta { index, delta } => {
                let Some(Slot::Open { block, json }) = self.slots.get_mut(&index) else {
                    // A delta for an ignored (or unknown) block.
                    return Ok(Flow::Continue);
                };
                match (block, delta) {
                    (Block::Text { text }, Delta::Text { text: more }) => {
                        text.push_str(&more);
                        if !more.is_empty() {
                            on(StreamUpdate::Text(more));
                        }
                    }
                    (Block::ToolUse { .. }, Delta::InputJson { partial_json }) => {
                        json.push_str(&partial_json);
                    }
                    (Block::Thinking { thinking, .. }, Delta::Thinking { thinking: more }) => {
                        thinking.push_str(&more);
                    }
                    (Block::Thinking { signature, .. }, Delta::Signature { signature: s }) => {
                        *signature = s;
                    }
                    _ => {}
                }
            }
            SseEvent::ContentBlockStop { index } => {
                if let Some(slot) = self.slots.get_mut(&index) {
                    let taken = std::mem::replace(slot, Slot::Ignored);
                    *slot = match taken {
                        Slot::Open { block, json } => match close_block(block, &json) {
                            Ok(block) => Slot::Done(block),
                            Err(e) => return Err(self.fail(e, false)),
                        },
                        other => other,
                    };
                }
            }
            SseEvent::MessageDelta { delta, usage } => {
                if let Some(reason) = delta.stop_reason {
                    self.stop_reason = Some(reason);
                }
                if let Some(usage) = usage {
                    self.merge_usage(&usage);
                }
            }
            SseEvent::MessageStop => return Ok(Flow::Done),
            SseEvent::Ping | SseEvent::Unknown => {}
            SseEvent::Error { error } => {
                let retryable = !matches!(
                    error.kind.as_str(),
                    "invalid_request_error"
                        | "authentication_error"
                        | "permission_error"
                        | "not_found_error"
                        | "request_too_large"
                        | "billing_error"
                );
                let message = format!("{}: {}", error.kind, error.message);
                // Always Interrupted, even before message_start: the stream was open.
                self.started = true;
                return Err(self.fail(ModelError::Protocol(message), retryable));
            }
        }
        Ok(Flow::Continue)
    }

    /// Usage fields present in an event replace ours (`message_delta`'s are cumulative).
    fn merge_usage(&mut self, wire: &WireUsage) {
        let u = &mut self.usage;
        u.input_tokens = wire.input_tokens.unwrap_or(u.input_tokens);
        u.output_tokens = wire.output_tokens.unwrap_or(u.output_tokens);
        u.cache_creation_input_tokens = wire
            .cache_creation_input_tokens
            .unwrap_or(u.cache_creation_input_tokens);
        u.cache_read_input_tokens = wire
            .cache_read_input_tokens
            .unwrap_or(u.cache_read_input_tokens);
    }

    /// The usage so far, with `thinking_tokens` estimated from the thinking text received
    /// (redacted thinking is opaque and not counted), capped at the output tokens.
    fn usage(&self) -> Usage {
        let mut thinking = 0u32;
        for slot in self.slots.values() {
            if let Slot::Open {
                block: Block::Thinking { thinking: text, .. },
                ..
            }
            | Slot::Done(Block::Thinking { thinking: text, .. }) = slot
            {
                thinking = thinking.saturating_add(estimate_tokens(text));
            }
        }
        Usage {
            thinking_tokens: thinking.min(self.usage.output_tokens),
            ..self.usage
        }
    }

    /// The finished turn (after `message_stop`).
    fn finish(&self) -> Result<ModelTurn, ModelError> {
        let mut content = Vec::with_capacity(self.slots.len());
        for (index, slot) in &self.slots {
            match slot {
                Slot::Done(block) => content.push(block.clone()),
                Slot::Open { .. } => {
                    return Err(ModelError::Protocol(format!(
                        "block {index} was never closed"
                    )));
                }
                Slot::Ignored => {}
            }
        }
        Ok(ModelTurn {
            content,
            stop_reason: self.stop_reason.unwrap_or(StopReason::Other),
            usage: self.usage(),
        })
    }

    /// A failure at this point of the stream: before `message_start` the bare error, after it
    /// `Interrupted` with the completed blocks, the open text block, and the usage so far.
    /// (The message of an `Interrupted` is the cause's text.)
    fn fail(&self, error: ModelError, retryable: bool) -> Failure {
        if !self.started {
            return Failure::new(error, retryable);
        }
        let mut content = Vec::new();
        for slot in self.slots.values() {
            match slot {
                Slot::Done(block) => content.push(block.clone()),
                Slot::Open {
                    block: Block::Text { text },
                    ..
                } if !text.is_empty() => content.push(Block::Text { text: text.clone() }),
                _ => {}
            }
        }
        let message = match error {
            ModelError::Protocol(m) | ModelError::Network(m) => m,
            other => other.to_string(),
        };
        Failure::new(
            ModelError::Interrupted {
                message,
                partial: Box::new(ModelTurn {
                    content,
                    stop_reason: self.stop_reason.unwrap_or(StopReason::Other),
                    usage: self.usage(),
                }),
            },
            retryable,
        )
    }
}

/// A block at its `content_block_stop`: a tool_use's joined JSON parsed (empty means `{}`).
fn close_block(block: Block, json: &str) -> Result<Block, ModelError> {
    match block {
        Block::ToolUse { id, name, .. } => {
            let input = if json.trim().is_empty() {
                json!({})
            } else {
                serde_json::from_str(json).map_err(|e| {
                    ModelError::Protocol(format!("tool `{name}` input is not JSON: {e}"))
                })?
            };
            Ok(Block::ToolUse { id, name, input })
        }
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinking_form_follows_the_model_id() {
        use ThinkingForm::*;
        for (id, form) in [
            ("claude-3-7-sonnet-20250219", Enabled),
            ("claude-3-7-sonnet-latest", Enabled),
            ("claude-sonnet-4-20250514", Enabled),
            ("claude-opus-4-20250514", Enabled),
            ("claude-opus-4-1-20250805", Enabled),
            ("claude-opus-4-1", Enabled),
            ("claude-sonnet-4-5-20250929", Enabled),
            ("claude-sonnet-4-5", Enabled),
            ("claude-haiku-4-5-20251001", Enabled),
            ("claude-sonnet-4", Enabled),
            ("claude-opus-4-6", Adaptive),
            ("claude-sonnet-4-6", Adaptive),
            ("claude-opus-4-7-20260101", Adaptive),
            ("claude-opus-5", Adaptive),
            ("claude-sonnet-40", Adaptive),
            ("some-local-model", Adaptive),
        ] {
            assert_eq!(thinking_form(id), form, "{id}");
        }
    }

    #[test]
    fn enabled_thinking_adds_the_budget_to_max_tokens() {
        let messages = [super::super::model::Message::user_text("hi")];
        let req = ModelRequest {
            system: "sys",
            messages: &messages,
            tools: &[],
            max_tokens: 1000,
            thinking_budget: Some(500),
        };
        let body = request_body("claude-sonnet-4-5", &req, true);
        assert_eq!(
            body["thinking"],
            json!({"type": "enabled", "budget_tokens": 1024})
        );
        assert_eq!(body["max_tokens"], json!(2024));
        assert_eq!(body["stream"], json!(true));
        let body = request_body("claude-opus-4-6", &req, true);
        assert_eq!(body["thinking"], json!({"type": "adaptive"}));
        let count = request_body("claude-opus-4-6", &req, false);
        assert!(count.get("max_tokens").is_none() && count.get("stream").is_none());
        assert_eq!(count["system"], json!("sys"));
    }
}
