//! A fake model server for tests: Anthropic's `POST /v1/messages` (+ `/count_tokens`) and an
//! OpenAI-compatible `POST /v1/chat/completions`, on `127.0.0.1:0`, speaking the real wire
//! formats (status codes, `content-type: text/event-stream`, `event:`/`data:` lines with blank
//! line separators, `retry-after`, JSON error bodies), so the code under test is the real client.
//!
//! Answers come from a queue of scripted responses ([`Scripted`]): an SSE transcript (optionally
//! cut into arbitrary byte chunks with delays, so fragments split across TCP reads), an HTTP
//! error, or a hang. Builders cover the common shapes ([`AnthropicTurn`], [`OpenAiTurn`] and the
//! free functions below). With the queue empty the server answers a default text if one is set,
//! else a 500 that names the problem. Every request is recorded ([`Recorded`]: path, headers
//! with secret values redacted, parsed JSON body).
//!
//! Self-contained on purpose (only axum, tokio, futures-util, serde_json): `commands/tests` uses
//! it through `#[path = "../../tests/common/fake_model.rs"] mod fake_model;`.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};

/// One SSE event: `event: <name>` (Anthropic; None for OpenAI's bare `data:` lines) and its data.
#[derive(Debug, Clone)]
pub struct Frame {
    pub event: Option<String>,
    pub data: String,
}

impl Frame {
    pub fn named(event: &str, data: &Value) -> Frame {
        Frame {
            event: Some(event.to_string()),
            data: data.to_string(),
        }
    }

    pub fn data(data: impl Into<String>) -> Frame {
        Frame {
            event: None,
            data: data.into(),
        }
    }

    fn render(&self, out: &mut Vec<u8>) {
        if let Some(event) = &self.event {
            out.extend_from_slice(format!("event: {event}\n").as_bytes());
        }
        out.extend_from_slice(format!("data: {}\n\n", self.data).as_bytes());
    }
}

/// What the stream reports as usage by its end (or, for a broken stream, so far).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FakeUsage {
    pub input_tokens: u32,
    pub output_tokens: u32,
    pub cache_creation_input_tokens: u32,
    pub cache_read_input_tokens: u32,
}

/// How a transcript's body ends once its frames are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The normal end of the response body.
    Close,
    /// Keep the connection open and send nothing more (an idle-timeout test).
    Stall,
    /// Break the connection (the body ends with an error, no terminating chunk).
    Abort,
}

/// A streamed answer.
#[derive(Debug, Clone)]
pub struct Transcript {
    pub frames: Vec<Frame>,
    /// Cut the rendered bytes into chunks of this size (None: one chunk per frame).
    pub chunk_size: Option<usize>,
    /// Pause before the first chunk (after the response head).
    pub first_delay: Duration,
    /// Pause between chunks.
    pub chunk_delay: Duration,
    pub end: End,
    pub usage: FakeUsage,
}

impl Transcript {
    pub fn new(frames: Vec<Frame>) -> Transcript {
        Transcript {
            frames,
            chunk_size: None,
            first_delay: Duration::ZERO,
            chunk_delay: Duration::ZERO,
            end: End::Close,
            usage: FakeUsage::default(),
        }
    }

    /// Cut into `size`-byte chunks (mid-line, mid-JSON, mid-UTF-8), `delay` apart, so each
    /// chunk is a separate TCP read.
    pub fn chunked(mut self, size: usize, delay: Duration) -> Transcript {
        self.chunk_size = Some(size.max(1));
        self.chunk_delay = delay;
        self
    }

    /// One chunk per frame, `delay` apart (a stream a user watches arrive).
    pub fn paced(mut self, delay: Duration) -> Transcript {
        self.chunk_delay = delay;
        self
    }

    pub fn first_delay(mut self, delay: Duration) -> Transcript {
        self.first_delay = delay;
        self
    }

    /// Send only the first `frames` frames, then end as `end`.
    pub fn truncated(mut self, frames: usize, end: End) -> Transcript {
        self.frames.truncate(frames);
        self.end = end;
        self
    }

    pub fn ending(mut self, end: End) -> Transcript {
        self.end = end;
        self
    }

    fn chunks(&self) -> VecDeque<Bytes> {
        match self.chunk_size {
            None => self
                .frames
                .iter()
                .map(|f| {
                    let mut out = Vec::new();
                    f.render(&mut out);
                    Bytes::from(out)
                })
                .collect(),
            Some(size) => {
                let mut all = Vec::new();
                for f in &self.frames {
                    f.render(&mut all);
                }
                all.chunks(size).map(Bytes::copy_from_slice).collect()
            }
        }
    }
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Scripted {
    Stream(Transcript),
    /// An HTTP error with a JSON body (`retry_after` in seconds, sent as the header).
    Error {
        status: u16,
        body: Value,
        retry_after: Option<String>,
    },
    /// Never answer (not even the response head).
    Hang,
}

impl From<Transcript> for Scripted {
    fn from(t: Transcript) -> Scripted {
        Scripted::Stream(t)
    }
}

/// A count-tokens answer.
#[derive(Debug, Clone)]
pub enum CountAnswer {
    Tokens(u32),
    Error(u16),
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    /// Lower-case names; the values of `x-api-key` and `authorization` are `<redacted>`.
    pub headers: Vec<(String, String)>,
    /// The parsed JSON body (Null when it was not JSON).
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Scripted>,
    counts: VecDeque<CountAnswer>,
    requests: Vec<Recorded>,
    default_text: Option<String>,
    default_pacing: (Duration, Duration),
    api_key: Option<String>,
}

type Shared = Arc<Mutex<Inner>>;

/// The running fake; stops when dropped.
pub struct FakeModel {
    addr: SocketAddr,
    inner: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeModel {
    pub async fn start() -> FakeModel {
        let inner: Shared = Arc::default();
        let app = Router::new()
            .route("/v1/messages", post(messages))
            .route("/v1/messages/count_tokens", post(count_tokens))
            .route("/v1/chat/completions", post(chat_completions))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake model server");
        });
        FakeModel { addr, inner, task }
    }

    /// `http://127.0.0.1:PORT` (the clients append `/v1/...`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn push(&self, answer: impl Into<Scripted>) {
        self.lock().queue.push_back(answer.into());
    }

    pub fn push_count(&self, answer: CountAnswer) {
        self.lock().counts.push_back(answer);
    }

    /// With the queue empty, answer this text (Anthropic or OpenAI shape by path).
    pub fn set_default_text(&self, text: Option<&str>) {
        self.lock().default_text = text.map(str::to_string);
    }

    /// Delays of the default answer: before its first event, and between events.
    pub fn set_default_pacing(&self, first: Duration, between: Duration) {
        self.lock().default_pacing = (first, between);
    }

    /// Require this key (`x-api-key`, or `Authorization: Bearer` on the OpenAI path); a
    /// request without it gets the API's 401.
    pub fn require_api_key(&self, key: &str) {
        self.lock().api_key = Some(key.to_string());
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    pub fn request_count(&self) -> usize {
        self.lock().requests.len()
    }

    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    /// Scripted answers not consumed yet.
    pub fn pending(&self) -> usize {
        self.lock().queue.len()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Api {
    Anthropic,
    OpenAi,
}

/// Records the request; returns its body, or the 400/401 the real API would answer.
fn receive(
    inner: &Shared,
    api: Api,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Value, Box<Response>> {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let recorded = Recorded {
        path: uri.path().to_string(),
        headers: headers
            .iter()
            .map(|(name, value)| {
                let name = name.as_str().to_ascii_lowercase();
                let value = if name == "x-api-key" || name == "authorization" {
                    "<redacted>".to_string()
                } else {
                    value.to_str().unwrap_or("<binary>").to_string()
                };
                (name, value)
            })
            .collect(),
        body: parsed.clone().unwrap_or(Value::Null),
    };
    let mut guard = inner.lock().unwrap_or_else(|e| e.into_inner());
    guard.requests.push(recorded);
    if let Some(key) = &guard.api_key {
        let sent = match api {
            Api::Anthropic => headers.get("x-api-key").and_then(|v| v.to_str().ok()),
            Api::OpenAi => headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer ")),
        };
        if sent != Some(key.as_str()) {
            return Err(Box::new(error_response(
                401,
                &error_body("authentication_error", "invalid x-api-key"),
                None,
            )));
        }
    }
    parsed.ok_or_else(|| {
        Box::new(error_response(
            400,
            &error_body("invalid_request_error", "body is not JSON"),
            None,
        ))
    })
}

fn next_answer(inner: &Shared, api: Api) -> Scripted {
    let mut guard = inner.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(answer) = guard.queue.pop_front() {
        return answer;
    }
    match &guard.default_text {
        Some(text) => {
            let (first, between) = guard.default_pacing;
            let t = match api {
                Api::Anthropic => text_answer(text),
                Api::OpenAi => openai_text(text),
            };
            t.first_delay(first).paced(between).into()
        }
        None => Scripted::Error {
            status: 500,
            body: error_body("api_error", "fake model: no scripted response left"),
            retry_after: None,
        },
    }
}

async fn messages(
    State(inner): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = receive(&inner, Api::Anthropic, &uri, &headers, &body) {
        return *refusal;
    }
    let answer = next_answer(&inner, Api::Anthropic);
    respond(answer).await
}

async fn chat_completions(
    State(inner): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = receive(&inner, Api::OpenAi, &uri, &headers, &body) {
        return *refusal;
    }
    let answer = next_answer(&inner, Api::OpenAi);
    respond(answer).await
}

async fn count_tokens(
    State(inner): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = receive(&inner, Api::Anthropic, &uri, &headers, &body) {
        return *refusal;
    }
    let answer = {
        let mut guard = inner.lock().unwrap_or_else(|e| e.into_inner());
        guard.counts.pop_front()
    };
    // Default: a rough estimate, as the real endpoint's numbers are for this fake's purposes.
    let n = match answer {
        Some(CountAnswer::Error(status)) => {
            return error_response(status, &error_body("api_error", "count failed"), None);
        }
        Some(CountAnswer::Tokens(n)) => n,
        None => u32::try_from(body.len() / 4).unwrap_or(u32::MAX),
    };
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from(json!({"input_tokens": n}).to_string()))
        .expect("a valid response")
}

async fn respond(answer: Scripted) -> Response {
    match answer {
        Scripted::Hang => std::future::pending::<Response>().await,
        Scripted::Error {
            status,
            body,
            retry_after,
        } => error_response(status, &body, retry_after.as_deref()),
        Scripted::Stream(t) => stream_response(t),
    }
}

fn error_response(status: u16, body: &Value, retry_after: Option<&str>) -> Response {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(status).expect("a valid status"))
        .header("content-type", "application/json")
        .header("request-id", request_id());
    if let Some(after) = retry_after {
        builder = builder.header("retry-after", after);
    }
    builder
        .body(Body::from(body.to_string()))
        .expect("a valid response")
}

fn stream_response(t: Transcript) -> Response {
    struct Feed {
        chunks: VecDeque<Bytes>,
        first: bool,
        first_delay: Duration,
        chunk_delay: Duration,
        end: End,
    }
    let feed = Feed {
        chunks: t.chunks(),
        first: true,
        first_delay: t.first_delay,
        chunk_delay: t.chunk_delay,
        end: t.end,
    };
    let body = futures_util::stream::unfold(feed, |mut feed| async move {
        match feed.chunks.pop_front() {
            Some(chunk) => {
                let delay = if feed.first {
                    feed.first_delay
                } else {
                    feed.chunk_delay
                };
                feed.first = false;
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                Some((Ok::<Bytes, std::io::Error>(chunk), feed))
            }
            None => match feed.end {
                End::Close => None,
                End::Stall => {
                    std::future::pending::<()>().await;
                    None
                }
                End::Abort => {
                    // hyper drops what it has not written yet when a body fails: let the
                    // frames reach the client first, as on a connection cut mid-answer.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    feed.end = End::Close;
                    let cut = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "cut");
                    Some((Err(cut), feed))
                }
            },
        }
    });
    Response::builder()
        .status(200)
        .header("content-type", "text/event-stream; charset=utf-8")
        .header("cache-control", "no-cache")
        .header("request-id", request_id())
        .body(Body::from_stream(body))
        .expect("a valid response")
}

static IDS: AtomicU32 = AtomicU32::new(1);

fn next_id() -> u32 {
    IDS.fetch_add(1, Ordering::Relaxed)
}

fn request_id() -> String {
    format!("req_011Fake{:08}", next_id())
}

/// Anthropic's error body.
pub fn error_body(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

/// A plausible token count for generated text (≈ 4 characters per token).
fn tokens_of(text: &str) -> u32 {
    u32::try_from(text.chars().count().div_ceil(4)).unwrap_or(u32::MAX)
}

/// Cuts text into `n` pieces at character boundaries (as the API streams words).
fn pieces(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    let size = chars.len().div_ceil(n.max(1));
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

/// An Anthropic streamed turn, block by block. `new` opens with `message_start` (realistic
/// usage) and a `ping`; `end`/`error` close it. Output tokens are counted as blocks are added
/// and reported cumulatively in `message_delta`.
pub struct AnthropicTurn {
    frames: Vec<Frame>,
    index: usize,
    usage: FakeUsage,
}

impl Default for AnthropicTurn {
    fn default() -> Self {
        AnthropicTurn::new()
    }
}

impl AnthropicTurn {
    pub fn new() -> AnthropicTurn {
        AnthropicTurn::with_usage(2095, 0, 1804)
    }

    /// Opens with this input usage (`message_start`; output starts at 1 as the API reports).
    pub fn with_usage(input: u32, cache_creation: u32, cache_read: u32) -> AnthropicTurn {
        let usage = FakeUsage {
            input_tokens: input,
            output_tokens: 1,
            cache_creation_input_tokens: cache_creation,
            cache_read_input_tokens: cache_read,
        };
        let id = format!("msg_01Fake{:08}", next_id());
        let start = json!({
            "type": "message_start",
            "message": {
                "id": id, "type": "message", "role": "assistant", "content": [],
                "model": "claude-sonnet-4-5-20250929", "stop_reason": null, "stop_sequence": null,
                "usage": {
                    "input_tokens": input,
                    "cache_creation_input_tokens": cache_creation,
                    "cache_read_input_tokens": cache_read,
                    "output_tokens": 1,
                    "service_tier": "standard",
                },
            },
        });
        AnthropicTurn {
            frames: vec![
                Frame::named("message_start", &start),
                Frame::named("ping", &json!({"type": "ping"})),
            ],
            index: 0,
            usage,
        }
    }

    /// Any event (an unknown type, a ping) as is.
    pub fn raw(mut self, event: &str, data: Value) -> AnthropicTurn {
        self.frames.push(Frame::named(event, &data));
        self
    }

    fn start(&mut self, block: Value) -> usize {
        let index = self.index;
        self.index += 1;
        self.frames.push(Frame::named(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        ));
        index
    }

    fn delta(&mut self, index: usize, delta: Value) {
        self.frames.push(Frame::named(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index, "delta": delta}),
        ));
    }

    fn stop(&mut self, index: usize) {
        self.frames.push(Frame::named(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        ));
    }

    /// A text block streamed as three `text_delta`s.
    pub fn text(self, text: &str) -> AnthropicTurn {
        let parts = pieces(text, 3);
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        self.text_pieces(&parts)
    }

    /// A text block streamed as exactly these `text_delta`s.
    pub fn text_pieces(mut self, parts: &[&str]) -> AnthropicTurn {
        let i = self.start(json!({"type": "text", "text": ""}));
        for p in parts {
            self.delta(i, json!({"type": "text_delta", "text": p}));
            self.usage.output_tokens += tokens_of(p);
        }
        self.stop(i);
        self
    }

    /// A text block whose deltas are sent but which is never stopped (for a broken stream).
    pub fn open_text(mut self, text: &str) -> AnthropicTurn {
        let i = self.start(json!({"type": "text", "text": ""}));
        for p in pieces(text, 2) {
            self.delta(i, json!({"type": "text_delta", "text": p}));
            self.usage.output_tokens += tokens_of(&p);
        }
        self
    }

    /// A thinking block (two `thinking_delta`s) closed by its `signature_delta`.
    pub fn thinking(mut self, thinking: &str, signature: &str) -> AnthropicTurn {
        let i = self.start(json!({"type": "thinking", "thinking": "", "signature": ""}));
        for p in pieces(thinking, 2) {
            self.delta(i, json!({"type": "thinking_delta", "thinking": p}));
        }
        self.delta(
            i,
            json!({"type": "signature_delta", "signature": signature}),
        );
        self.stop(i);
        self.usage.output_tokens += tokens_of(thinking);
        self
    }

    /// A block of a type the client does not know (with one delta of an unknown type too).
    pub fn unknown_block(mut self, block_type: &str) -> AnthropicTurn {
        let i = self.start(json!({"type": block_type, "id": "srvtoolu_01Fake", "extra": [1, 2]}));
        self.delta(
            i,
            json!({"type": format!("{block_type}_delta"), "payload": "x"}),
        );
        self.stop(i);
        self
    }

    pub fn redacted_thinking(mut self, data: &str) -> AnthropicTurn {
        let i = self.start(json!({"type": "redacted_thinking", "data": data}));
        self.stop(i);
        self.usage.output_tokens += 40;
        self
    }

    /// A tool_use block whose input arrives as these `input_json_delta` fragments (an empty
    /// first fragment is sent first, as the API does). Returns the block's id too.
    pub fn tool_use_with_id(mut self, name: &str, fragments: &[&str]) -> (AnthropicTurn, String) {
        let id = format!("toolu_01Fake{:08}", next_id());
        let i = self.start(json!({"type": "tool_use", "id": id, "name": name, "input": {}}));
        self.delta(i, json!({"type": "input_json_delta", "partial_json": ""}));
        for f in fragments {
            self.delta(i, json!({"type": "input_json_delta", "partial_json": f}));
            self.usage.output_tokens += tokens_of(f);
        }
        self.stop(i);
        self.usage.output_tokens += 12;
        (self, id)
    }

    pub fn tool_use(self, name: &str, fragments: &[&str]) -> AnthropicTurn {
        self.tool_use_with_id(name, fragments).0
    }

    /// Ends the turn: `message_delta` (stop reason, cumulative output tokens), `message_stop`.
    pub fn end(mut self, stop_reason: &str) -> Transcript {
        self.frames.push(Frame::named(
            "message_delta",
            &json!({
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                "usage": {"output_tokens": self.usage.output_tokens},
            }),
        ));
        self.frames.push(Frame::named(
            "message_stop",
            &json!({"type": "message_stop"}),
        ));
        let mut t = Transcript::new(self.frames);
        t.usage = self.usage;
        t
    }

    /// Breaks the stream with an `error` event. The usage so far is `message_start`'s (the
    /// cumulative count comes only with `message_delta`).
    pub fn error(mut self, kind: &str, message: &str) -> Transcript {
        self.frames
            .push(Frame::named("error", &error_body(kind, message)));
        let mut t = Transcript::new(self.frames);
        t.usage = FakeUsage {
            output_tokens: 1,
            ..self.usage
        };
        t
    }
}

/// A plain text answer (three `text_delta`s), `end_turn`.
pub fn text_answer(text: &str) -> Transcript {
    AnthropicTurn::new().text(text).end("end_turn")
}

/// A short preamble, then one tool call whose input arrives as `fragments`; `tool_use`.
pub fn tool_call(name: &str, fragments: &[&str]) -> Transcript {
    AnthropicTurn::new()
        .text("Let me look at your numbers.")
        .tool_use(name, fragments)
        .end("tool_use")
}

/// Two tool calls in one turn (parallel tool use).
pub fn two_tool_calls(first: (&str, &[&str]), second: (&str, &[&str])) -> Transcript {
    AnthropicTurn::new()
        .text("I'll check both.")
        .tool_use(first.0, first.1)
        .tool_use(second.0, second.1)
        .end("tool_use")
}

pub fn thinking_then_text(thinking: &str, signature: &str, text: &str) -> Transcript {
    AnthropicTurn::new()
        .thinking(thinking, signature)
        .text(text)
        .end("end_turn")
}

pub fn thinking_then_tool(
    thinking: &str,
    signature: &str,
    name: &str,
    fragments: &[&str],
) -> Transcript {
    AnthropicTurn::new()
        .thinking(thinking, signature)
        .tool_use(name, fragments)
        .end("tool_use")
}

/// A text answer cut by the output cap: `max_tokens`.
pub fn max_tokens_stop(text: &str) -> Transcript {
    AnthropicTurn::new().text(text).end("max_tokens")
}

/// Some text (its block left open), then an `error` event.
pub fn error_after_text(text: &str, kind: &str, message: &str) -> Transcript {
    AnthropicTurn::new().open_text(text).error(kind, message)
}

/// An HTTP error in Anthropic's shape.
pub fn http_error(status: u16, kind: &str, message: &str) -> Scripted {
    Scripted::Error {
        status,
        body: error_body(kind, message),
        retry_after: None,
    }
}

/// 429 with `retry-after: <seconds>`.
pub fn rate_limited(retry_after_secs: u32) -> Scripted {
    Scripted::Error {
        status: 429,
        body: error_body(
            "rate_limit_error",
            "This request would exceed the rate limit for your organization of 50,000 input tokens per minute.",
        ),
        retry_after: Some(retry_after_secs.to_string()),
    }
}

/// 529 overloaded, no `retry-after`.
pub fn overloaded() -> Scripted {
    http_error(529, "overloaded_error", "Overloaded")
}

/// An OpenAI-compatible streamed turn: `data:` chunks, then the usage chunk and `[DONE]`.
pub struct OpenAiTurn {
    id: String,
    frames: Vec<Frame>,
    usage: Option<(u32, u32)>,
    output: u32,
}

impl Default for OpenAiTurn {
    fn default() -> Self {
        OpenAiTurn::new()
    }
}

impl OpenAiTurn {
    /// Opens with the role chunk; usage (prompt 1311) is sent at the end unless `without_usage`.
    pub fn new() -> OpenAiTurn {
        let mut turn = OpenAiTurn {
            id: format!("chatcmpl-fake{}", next_id()),
            frames: Vec::new(),
            usage: Some((1311, 0)),
            output: 0,
        };
        turn.chunk(json!({"role": "assistant", "content": ""}), None);
        turn
    }

    fn chunk(&mut self, delta: Value, finish_reason: Option<&str>) {
        let chunk = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": 1_760_000_000,
            "model": "qwen2.5:7b",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        });
        self.frames.push(Frame::data(chunk.to_string()));
    }

    pub fn without_usage(mut self) -> OpenAiTurn {
        self.usage = None;
        self
    }

    pub fn text(mut self, text: &str) -> OpenAiTurn {
        for p in pieces(text, 3) {
            self.output += tokens_of(&p);
            self.chunk(json!({"content": p}), None);
        }
        self
    }

    /// One tool call: the first fragment carries id, type and name (and empty arguments), the
    /// following ones only `arguments` pieces.
    pub fn tool_call(mut self, index: u32, id: &str, name: &str, fragments: &[&str]) -> OpenAiTurn {
        self.chunk(
            json!({"tool_calls": [{"index": index, "id": id, "type": "function",
                   "function": {"name": name, "arguments": ""}}]}),
            None,
        );
        for f in fragments {
            self.output += tokens_of(f);
            self.chunk(
                json!({"tool_calls": [{"index": index, "function": {"arguments": f}}]}),
                None,
            );
        }
        self
    }

    pub fn end(mut self, finish_reason: &str) -> Transcript {
        self.chunk(json!({}), Some(finish_reason));
        let mut usage = FakeUsage::default();
        if let Some((prompt, _)) = self.usage {
            let completion = self.output + 1;
            usage.input_tokens = prompt;
            usage.output_tokens = completion;
            let chunk = json!({
                "id": self.id, "object": "chat.completion.chunk", "created": 1_760_000_000,
                "model": "qwen2.5:7b", "choices": [],
                "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                          "total_tokens": prompt + completion},
            });
            self.frames.push(Frame::data(chunk.to_string()));
        }
        self.frames.push(Frame::data("[DONE]"));
        let mut t = Transcript::new(self.frames);
        t.usage = usage;
        t
    }
}

pub fn openai_text(text: &str) -> Transcript {
    OpenAiTurn::new().text(text).end("stop")
}
