//! The model client: one type for both providers, with retries. (Skeleton: the providers'
//! streaming code lands in `anthropic.rs` / `openai.rs`.)

use std::time::Duration;

use super::model::{ModelError, ModelRequest, ModelTurn, StreamUpdate, estimate_request};

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
}

impl ModelClient {
    pub fn new(config: ModelConfig) -> Result<ModelClient, ModelError> {
        Ok(ModelClient { config })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// One model turn, streamed: `on` sees text as it arrives. Retryable failures before any
    /// output are retried with backoff (and `retry-after`).
    pub async fn stream(
        &self,
        _req: &ModelRequest<'_>,
        _on: &mut (dyn FnMut(StreamUpdate) + Send),
    ) -> Result<ModelTurn, ModelError> {
        Err(ModelError::Network("model client not built yet".into()))
    }

    /// Input tokens of a request: the count-tokens endpoint where the provider has one, else a
    /// conservative estimate.
    pub async fn count_tokens(&self, req: &ModelRequest<'_>) -> u32 {
        estimate_request(req)
    }
}
