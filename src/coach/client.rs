//! The model client: one type for both providers (`anthropic.rs`, `openai.rs`), with retries.
//!
//! **Invariants.** A call is retried only while nothing visible was shown: once `on` received a
//! `StreamUpdate::Text`, any failure is final and comes back as `ModelError::Interrupted` with
//! the partial turn. 400/401/403/404 and a 429 saying the spend limit is reached are never
//! retried. Every attempt is bounded by `ModelConfig::timeout` for connecting and the response
//! head, and by the same timeout between two stream chunks (an idle timeout, not a cap on the
//! whole answer, which can legitimately stream for minutes).

use std::time::Duration;

use super::model::{ModelError, ModelRequest, ModelTurn, StreamUpdate, Usage, estimate_request};
use super::{anthropic, openai};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Anthropic's Messages API (and Anthropic-compatible servers).
    Anthropic,
    /// An OpenAI-compatible `POST /v1/chat/completions` (Ollama, llama.cpp's server, vLLM).
    OpenAi,
}

/// How to reach the model. `api_key` is a secret: `Debug` never prints it.
#[derive(Clone)]
pub struct ModelConfig {
    pub provider: Provider,
    /// e.g. `https://api.anthropic.com` or `http://127.0.0.1:11434` (no trailing `/v1`).
    pub base_url: String,
    pub api_key: Option<String>,
    pub model: String,
    /// Per attempt: connecting and waiting for the first byte / between stream events.
    pub timeout: Duration,
    /// Attempts after the first for retryable failures before any output was received.
    pub max_retries: u32,
}

impl std::fmt::Debug for ModelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelConfig")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

#[derive(Clone, Debug)]
pub struct ModelClient {
    config: ModelConfig,
    http: reqwest::Client,
}

/// The first backoff delay (no `retry-after`); doubled per attempt up to `BACKOFF_CAP`.
const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(8);
/// A `retry-after` longer than this is not waited for: the error is returned instead (a chat
/// answer that starts a minute late is worse than a clear "try again later").
const RETRY_AFTER_MAX: Duration = Duration::from_secs(60);

/// One failed attempt, as the providers report it: the error, and whether another attempt can
/// help (the client still refuses once text was shown).
#[derive(Debug)]
pub(crate) struct Failure {
    pub error: ModelError,
    pub retryable: bool,
}

impl Failure {
    pub(crate) fn new(error: ModelError, retryable: bool) -> Failure {
        Failure { error, retryable }
    }
}

impl From<ModelError> for Failure {
    /// The retryability the error itself implies (`Status` says so; a timeout or a network
    /// failure may clear; an unreadable answer will not).
    fn from(error: ModelError) -> Failure {
        let retryable = match &error {
            ModelError::Status { retryable, .. } => *retryable,
            ModelError::Timeout | ModelError::Network(_) => true,
            ModelError::Interrupted { .. } | ModelError::Protocol(_) => false,
        };
        Failure { error, retryable }
    }
}

impl ModelClient {
    pub fn new(config: ModelConfig) -> Result<ModelClient, ModelError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.timeout)
            .user_agent(concat!("rlcoach/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ModelError::Network(format!("cannot build the HTTP client: {e}")))?;
        Ok(ModelClient { config, http })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// One model turn, streamed: `on` sees text as it arrives. Retryable failures before any
    /// output are retried with backoff (and `retry-after`).
    ///
    /// The usage of attempts that were billed and then retried (a stream that broke before any
    /// text) is added to the returned turn's usage, so budgets count every token paid for; the
    /// same goes for a final `Interrupted`. (A final error of another kind carries no usage, so
    /// earlier billed attempts are then not reported: `ModelError::usage` has nowhere to put it.)
    pub async fn stream(
        &self,
        req: &ModelRequest<'_>,
        on: &mut (dyn FnMut(StreamUpdate) + Send),
    ) -> Result<ModelTurn, ModelError> {
        let mut attempt: u32 = 0;
        let mut billed = Usage::default();
        loop {
            let mut shown = false;
            let result = {
                let mut watch = |update: StreamUpdate| {
                    if matches!(update, StreamUpdate::Text(_)) {
                        shown = true;
                    }
                    on(update);
                };
                match self.config.provider {
                    Provider::Anthropic => {
                        anthropic::stream(&self.http, &self.config, req, &mut watch).await
                    }
                    Provider::OpenAi => {
                        openai::stream(&self.http, &self.config, req, &mut watch).await
                    }
                }
            };
            let failure = match result {
                Ok(mut turn) => {
                    turn.usage = add_usage(turn.usage, billed);
                    return Ok(turn);
                }
                Err(failure) => failure,
            };
            let error = failure.error;
            let delay = match &error {
                _ if shown || !failure.retryable || attempt >= self.config.max_retries => None,
                ModelError::Status {
                    retry_after: Some(after),
                    ..
                } => (*after <= RETRY_AFTER_MAX).then_some(*after),
                _ => Some(backoff(attempt)),
            };
            let Some(delay) = delay else {
                return Err(with_billed(error, billed));
            };
            billed = add_usage(billed, error.usage());
            tracing::warn!(attempt, ?delay, %error, "model call failed; retrying");
            attempt += 1;
            tokio::time::sleep(delay).await;
        }
    }

    /// Input tokens of a request: the count-tokens endpoint where the provider has one, else a
    /// conservative estimate. Never fails: any error falls back to the estimate.
    pub async fn count_tokens(&self, req: &ModelRequest<'_>) -> u32 {
        match self.config.provider {
            Provider::Anthropic => {
                match anthropic::count_tokens(&self.http, &self.config, req).await {
                    Ok(n) => n,
                    Err(error) => {
                        tracing::debug!(%error, "count_tokens failed; using the estimate");
                        estimate_request(req)
                    }
                }
            }
            Provider::OpenAi => estimate_request(req),
        }
    }
}

/// The final error, its partial turn charged with the earlier attempts' usage too.
fn with_billed(mut error: ModelError, billed: Usage) -> ModelError {
    if let ModelError::Interrupted { partial, .. } = &mut error {
        partial.usage = add_usage(partial.usage, billed);
    }
    error
}

fn add_usage(a: Usage, b: Usage) -> Usage {
    Usage {
        input_tokens: a.input_tokens.saturating_add(b.input_tokens),
        output_tokens: a.output_tokens.saturating_add(b.output_tokens),
        cache_creation_input_tokens: a
            .cache_creation_input_tokens
            .saturating_add(b.cache_creation_input_tokens),
        cache_read_input_tokens: a
            .cache_read_input_tokens
            .saturating_add(b.cache_read_input_tokens),
        thinking_tokens: a.thinking_tokens.saturating_add(b.thinking_tokens),
    }
}

/// Exponential backoff for retry `attempt` (0-based): 0.5 s, 1 s, 2 s, … capped at 8 s, each
/// stretched by up to +25 % of jitter taken from the clock's nanoseconds (enough to spread
/// clients that failed together; no RNG needed).
fn backoff(attempt: u32) -> Duration {
    let base = BACKOFF_BASE
        .saturating_mul(1u32 << attempt.min(16))
        .min(BACKOFF_CAP);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let quarter = base / 4;
    base + quarter.mul_f64(f64::from(nanos % 1000) / 1000.0)
}

/// Retryable statuses: 408, 409, 429 (except a spend limit), 5xx (529 "overloaded" included).
pub(crate) fn status_retryable(status: u16, message: &str) -> bool {
    match status {
        408 | 409 => true,
        429 => !spend_limit_reached(message),
        500..=599 => true,
        _ => false,
    }
}

/// A 429 that says the account's spend/usage limit is reached: waiting seconds will not help.
fn spend_limit_reached(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "usage limit",
        "spend limit",
        "spending limit",
        "credit balance",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

/// The `retry-after` header in seconds (integer or decimal), if present and readable.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// An HTTP error answer as a `ModelError::Status`: the message from the JSON error body (both
/// providers put it at `error.message`), else the start of the raw body.
pub(crate) async fn status_error(resp: reqwest::Response, timeout: Duration) -> ModelError {
    let status = resp.status().as_u16();
    let after = retry_after(resp.headers());
    let body = match tokio::time::timeout(timeout, resp.text()).await {
        Ok(Ok(body)) => body,
        _ => String::new(),
    };
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            let error = v.get("error")?;
            let message = error.get("message")?.as_str()?;
            Some(match error.get("type").and_then(|t| t.as_str()) {
                Some(kind) => format!("{kind}: {message}"),
                None => message.to_string(),
            })
        })
        .unwrap_or_else(|| body.chars().take(300).collect());
    ModelError::Status {
        status,
        retryable: status_retryable(status, &message),
        message,
        retry_after: after,
    }
}

/// A reqwest failure as a `ModelError`: timeouts apart, everything is a network error.
pub(crate) fn network_error(e: &reqwest::Error) -> ModelError {
    if e.is_timeout() {
        ModelError::Timeout
    } else {
        // The source chain says why (refused, reset, DNS); the top level only "error sending".
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        ModelError::Network(text)
    }
}

/// The next event of a streamed answer, waiting at most `timeout` (the idle timeout):
/// `Ok(None)` when the stream ended; an error with whether a retry can help (a timeout or a
/// transport failure can, a malformed stream cannot).
pub(crate) async fn next_event<S>(
    events: &mut S,
    timeout: Duration,
) -> Result<Option<eventsource_stream::Event>, (ModelError, bool)>
where
    S: futures_util::Stream<
            Item = Result<
                eventsource_stream::Event,
                eventsource_stream::EventStreamError<reqwest::Error>,
            >,
        > + Unpin,
{
    use futures_util::StreamExt as _;
    match tokio::time::timeout(timeout, events.next()).await {
        Err(_) => Err((ModelError::Timeout, true)),
        Ok(None) => Ok(None),
        Ok(Some(Err(eventsource_stream::EventStreamError::Transport(e)))) => {
            Err((network_error(&e), true))
        }
        Ok(Some(Err(e))) => Err((ModelError::Protocol(e.to_string()), false)),
        Ok(Some(Ok(event))) => Ok(Some(event)),
    }
}

/// Sends a request with the per-attempt timeout on connecting and the response head; a non-2xx
/// answer becomes `ModelError::Status`.
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
    timeout: Duration,
) -> Result<reqwest::Response, ModelError> {
    let resp = match tokio::time::timeout(timeout, request.send()).await {
        Err(_) => return Err(ModelError::Timeout),
        Ok(Err(e)) => return Err(network_error(&e)),
        Ok(Ok(resp)) => resp,
    };
    if resp.status().is_success() {
        Ok(resp)
    } else {
        Err(status_error(resp, timeout).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_that_are_retried() {
        for s in [408, 409, 429, 500, 502, 503, 529] {
            assert!(status_retryable(s, "x"), "{s}");
        }
        for s in [400, 401, 403, 404, 413] {
            assert!(!status_retryable(s, "x"), "{s}");
        }
        assert!(!status_retryable(
            429,
            "rate_limit_error: You have reached your specified API usage limits."
        ));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let d0 = backoff(0);
        assert!(d0 >= Duration::from_millis(500) && d0 < Duration::from_millis(626));
        let d2 = backoff(2);
        assert!(d2 >= Duration::from_secs(2) && d2 < Duration::from_millis(2501));
        let d9 = backoff(9);
        assert!(d9 >= Duration::from_secs(8) && d9 <= Duration::from_secs(10));
        assert!(backoff(40) <= Duration::from_secs(10));
    }
}
