//! The AI coach: model clients (Anthropic Messages with SSE streaming; OpenAI-compatible local
//! servers), the tools that read the asking user's own stats, token budgets, and the
//! conversation loop. No Discord types: the bot and the web site show the same conversations.

pub mod anthropic;
pub mod client;
pub mod conversation;
pub mod model;
pub mod openai;
pub mod prompt;
pub mod tools;

pub use client::{ModelClient, ModelConfig, Provider};
pub use conversation::{Activity, Answer, Coach, CoachConfig, CoachError, Progress};
pub use model::{
    Block, Message, ModelError, ModelRequest, ModelTurn, Role, StopReason, StreamUpdate, ToolSpec,
    Usage,
};
