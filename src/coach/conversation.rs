//! The conversation loop: one user message in, one streamed answer out, within the budget.
//!
//! For every message: the plan is checked (Pro only), the user's message is stored before the
//! model sees it, and then, for at most `max_rounds` model calls: the history is trimmed
//! oldest-first to the input cap, tokens are reserved (input estimate + output cap, in one
//! transaction), the call streams, the reservation is settled to the real usage, and tool calls
//! are answered from the user's own data. An assistant turn and its tool results are stored
//! together, exactly as received, so the history is always a valid request.

use std::time::{Duration, Instant};

use super::client::ModelClient;
use super::model::{
    Block, Message, ModelError, ModelRequest, Role, StopReason, StreamUpdate, ToolSpec,
    estimate_request,
};
use super::{prompt, tools};
use crate::storage::{
    BudgetStatus, Conversation, NewMessage, Plan, StorageError, Store, StoredMessage, Viewer,
};

/// The coach's limits (README: `RLCOACH_COACH_*`).
#[derive(Debug, Clone)]
pub struct CoachConfig {
    /// Tokens per user per budget period (input + visible output).
    pub monthly_tokens: u64,
    /// The most input tokens one model call may send (history is trimmed to fit).
    pub max_input_tokens: u32,
    /// The most visible output tokens of one call.
    pub max_output_tokens: u32,
    /// Extended thinking per call (our cost, not the user's); None: off.
    pub thinking_budget: Option<u32>,
    /// Model calls per answer (tool rounds + the final one).
    pub max_rounds: usize,
    /// A reservation older than this was left by a crash and is released.
    pub reservation_timeout: Duration,
}

impl Default for CoachConfig {
    fn default() -> Self {
        CoachConfig {
            monthly_tokens: 150_000,
            max_input_tokens: 16_000,
            max_output_tokens: 8_000,
            thinking_budget: Some(2_048),
            max_rounds: 5,
            reservation_timeout: Duration::from_secs(600),
        }
    }
}

/// The least output a call is made with: below this there is no useful answer to give.
const MIN_OUTPUT_TOKENS: u32 = 256;

/// What the answer is doing, for the "thinking…" line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Thinking,
    Writing,
    /// Reading the player's data (a tool's name).
    Reading(&'static str),
}

/// The answer so far, as shown while it streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub text: String,
    pub activity: Activity,
}

/// A finished answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub text: String,
    /// The model hit the output cap: the answer is cut.
    pub truncated: bool,
    /// Set once per period, on the answer that took the user past 80 % of the budget.
    pub budget_warning: Option<BudgetStatus>,
    /// Tokens charged to the user for this answer (every call).
    pub charged: u64,
    /// Model calls made.
    pub calls: usize,
    /// Time spent in our database calls (for the benchmark).
    pub db_time: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum CoachError {
    #[error("the coach is for Pro members")]
    NotPro,
    #[error("the coach budget of this period is used up")]
    BudgetExhausted { resets_at: i64 },
    #[error("no such conversation")]
    NotFound,
    #[error("nothing to answer")]
    NothingToRetry,
    /// The stream broke after text was shown: the partial answer is stored, marked incomplete.
    #[error("the answer was interrupted: {message}")]
    Interrupted { partial: String, message: String },
    #[error(transparent)]
    Model(ModelError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl CoachError {
    /// What the user is told (internal details stay in logs).
    pub fn user_message(&self) -> String {
        match self {
            CoachError::NotPro => "The coach is part of Pro.".into(),
            CoachError::BudgetExhausted { resets_at } => format!(
                "You've used all of this period's coaching tokens. Your budget resets on {}.",
                crate::storage::coach::date_string(*resets_at)
            ),
            CoachError::NotFound => "That conversation doesn't exist (or isn't yours).".into(),
            CoachError::NothingToRetry => "There's no question waiting for an answer.".into(),
            CoachError::Interrupted { .. } => {
                "The coach was cut off mid-answer (the model service had a problem). Press Retry to try again.".into()
            }
            CoachError::Model(ModelError::Status { status, .. })
                if *status == 401 || *status == 403 =>
            {
                "The coach isn't configured correctly; an admin has to check its API key.".into()
            }
            CoachError::Model(_) => {
                "The coach is unavailable right now (the model service didn't answer). Please try again in a minute.".into()
            }
            CoachError::Storage(e) => e.user_message(),
        }
    }
}

/// The coach: the store, a model client, the limits.
#[derive(Clone)]
pub struct Coach {
    store: Store,
    model: ModelClient,
    config: CoachConfig,
    tools: std::sync::Arc<Vec<ToolSpec>>,
}

impl Coach {
    pub fn new(store: Store, model: ModelClient, config: CoachConfig) -> Coach {
        Coach {
            store,
            model,
            config,
            tools: std::sync::Arc::new(tools::specs()),
        }
    }

    pub fn config(&self) -> &CoachConfig {
        &self.config
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The viewer's plan and budget.
    pub async fn usage(&self, viewer: &Viewer) -> Result<(Plan, BudgetStatus), CoachError> {
        let plan = self.store.plan(viewer).await?;
        let budget = self
            .store
            .coach_budget(viewer, self.config.monthly_tokens)
            .await?;
        Ok((plan, budget))
    }

    /// Releases reservations left by crashed calls (run every minute or so).
    pub async fn sweep(&self) -> Result<usize, CoachError> {
        let age = i64::try_from(self.config.reservation_timeout.as_millis()).unwrap_or(i64::MAX);
        Ok(self.store.release_stale_reservations(age).await?)
    }

    /// Starts a conversation (after checking the plan: a Free user gets `NotPro` and nothing is
    /// stored).
    pub async fn start(
        &self,
        viewer: &Viewer,
        channel_id: Option<i64>,
        kind: &str,
        title: &str,
    ) -> Result<Conversation, CoachError> {
        self.check_plan(viewer).await?;
        Ok(self
            .store
            .create_conversation(viewer, channel_id, kind, title)
            .await?)
    }

    async fn check_plan(&self, viewer: &Viewer) -> Result<Plan, CoachError> {
        let plan = self.store.plan(viewer).await?;
        if plan.is_pro() {
            Ok(plan)
        } else {
            Err(CoachError::NotPro)
        }
    }

    /// Answers `text` (None: answers the last unanswered message again — the Retry button) in
    /// one of the viewer's conversations, calling `on` as the answer streams.
    pub async fn reply(
        &self,
        viewer: &Viewer,
        conversation_id: &str,
        text: Option<&str>,
        on: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<Answer, CoachError> {
        let me = Viewer::user(viewer.user);
        let mut db_time = Duration::ZERO;
        let t = Instant::now();
        let plan = self.check_plan(&me).await?;
        let budget = self
            .store
            .coach_budget(&me, self.config.monthly_tokens)
            .await?;
        if budget.left() < u64::from(MIN_OUTPUT_TOKENS) * 2 {
            return Err(CoachError::BudgetExhausted {
                resets_at: plan.period_end,
            });
        }
        let stored = match self.store.conversation_messages(&me, conversation_id).await {
            Err(StorageError::NotFound) => return Err(CoachError::NotFound),
            other => other?,
        };
        let mut history: Vec<Message> = usable_history(&stored);
        match text {
            Some(text) => {
                let mut content = Vec::new();
                if stored.is_empty()
                    && let Some(notes) = prompt::notes_preamble(&self.store.notes(&me).await?)
                {
                    content.push(Block::Text { text: notes });
                }
                content.push(Block::Text {
                    text: text.to_string(),
                });
                let message = Message {
                    role: Role::User,
                    content,
                };
                self.store
                    .append_messages(&me, conversation_id, &[NewMessage::of(message.clone())])
                    .await?;
                // A question left unanswered (a crash, an interrupted answer) and this one go
                // to the model as one user turn.
                match history.last_mut() {
                    Some(last) if last.role == Role::User => last.content.extend(message.content),
                    _ => history.push(message),
                }
            }
            None => {
                if history.last().is_none_or(|m| m.role != Role::User) {
                    return Err(CoachError::NothingToRetry);
                }
            }
        }
        db_time += t.elapsed();

        let mut answer_text = String::new();
        let mut charged = 0u64;
        let mut budget_warning = None;
        let mut truncated = false;
        let mut calls = 0usize;
        for round in 0..self.config.max_rounds {
            let last_round = round + 1 == self.config.max_rounds;
            let messages = trim_to_fit(&history, self.config.max_input_tokens, &self.tools);
            let mut request = ModelRequest {
                system: prompt::SYSTEM_PROMPT,
                messages: &messages,
                tools: &self.tools,
                max_tokens: self.config.max_output_tokens,
                thinking_budget: self.config.thinking_budget,
            };
            let input = estimate_request(&request);
            let t = Instant::now();
            let reservation = self
                .store
                .reserve_tokens(
                    &me,
                    plan.period_start,
                    self.config.monthly_tokens,
                    input,
                    self.config.max_output_tokens,
                    MIN_OUTPUT_TOKENS,
                )
                .await?;
            db_time += t.elapsed();
            let Some(reservation) = reservation else {
                if round == 0 {
                    return Err(CoachError::BudgetExhausted {
                        resets_at: plan.period_end,
                    });
                }
                answer_text.push_str(
                    "\n\n*(I ran out of coaching budget for this period before finishing.)*",
                );
                break;
            };
            request.max_tokens = reservation.max_output;
            let prefix = if answer_text.is_empty() {
                String::new()
            } else {
                format!("{answer_text}\n\n")
            };
            let mut turn_text = String::new();
            let mut forward = |u: StreamUpdate| {
                let activity = match u {
                    StreamUpdate::Text(t) => {
                        turn_text.push_str(&t);
                        Activity::Writing
                    }
                    StreamUpdate::Thinking => Activity::Thinking,
                    StreamUpdate::ToolCall(name) => Activity::Reading(tool_label(&name)),
                };
                on(&Progress {
                    text: format!("{prefix}{turn_text}"),
                    activity,
                });
            };
            calls += 1;
            let result = self.model.stream(&request, &mut forward).await;
            let usage = match &result {
                Ok(turn) => turn.usage,
                Err(e) => e.usage(),
            };
            let t = Instant::now();
            let settled = self
                .store
                .settle_tokens(&reservation, &usage, self.config.monthly_tokens)
                .await?;
            db_time += t.elapsed();
            charged += settled.charged;
            if settled.crossed_warning {
                budget_warning = Some(
                    self.store
                        .coach_budget(&me, self.config.monthly_tokens)
                        .await?,
                );
            }
            let turn = match result {
                Ok(turn) => turn,
                Err(ModelError::Interrupted { message, partial }) => {
                    let shown: Vec<Block> = partial
                        .content
                        .iter()
                        .filter(|b| matches!(b, Block::Text { .. }))
                        .cloned()
                        .collect();
                    let partial_text = format!(
                        "{prefix}{}",
                        Message {
                            role: Role::Assistant,
                            content: shown.clone()
                        }
                        .text()
                    );
                    if !shown.is_empty() {
                        self.store
                            .append_messages(
                                &me,
                                conversation_id,
                                &[NewMessage {
                                    message: Message {
                                        role: Role::Assistant,
                                        content: shown,
                                    },
                                    usage,
                                    incomplete: true,
                                }],
                            )
                            .await?;
                    }
                    return Err(CoachError::Interrupted {
                        partial: partial_text,
                        message,
                    });
                }
                Err(e) => return Err(CoachError::Model(e)),
            };
            let assistant = turn.message();
            let said = assistant.text();
            if !said.trim().is_empty() {
                answer_text = format!("{prefix}{said}");
            }
            if turn.stop_reason != StopReason::ToolUse || assistant.tool_uses().next().is_none() {
                truncated = turn.stop_reason == StopReason::MaxTokens;
                self.store
                    .append_messages(
                        &me,
                        conversation_id,
                        &[NewMessage {
                            message: assistant,
                            usage,
                            incomplete: false,
                        }],
                    )
                    .await?;
                break;
            }
            // Answer every tool call of the turn in one user message.
            let mut results = Vec::new();
            for (id, name, input) in assistant.tool_uses() {
                let out = if last_round {
                    tools::ToolOutput {
                        content:
                            "No more tool calls for this answer: answer now with what you have."
                                .into(),
                        is_error: true,
                    }
                } else {
                    tools::run(&self.store, &me, name, input).await
                };
                results.push(Block::ToolResult {
                    tool_use_id: id.to_string(),
                    content: out.content,
                    is_error: out.is_error,
                });
            }
            let results = Message {
                role: Role::User,
                content: results,
            };
            let t = Instant::now();
            self.store
                .append_messages(
                    &me,
                    conversation_id,
                    &[
                        NewMessage {
                            message: assistant.clone(),
                            usage,
                            incomplete: false,
                        },
                        NewMessage::of(results.clone()),
                    ],
                )
                .await?;
            db_time += t.elapsed();
            history.push(assistant);
            history.push(results);
            if last_round {
                // The model had its last call; what it said is the answer.
                break;
            }
        }
        Ok(Answer {
            text: answer_text,
            truncated,
            budget_warning,
            charged,
            calls,
            db_time,
        })
    }
}

fn tool_label(name: &str) -> &'static str {
    match name {
        "recent_games" => "your recent games",
        "stats_by_playlist" => "your stats by playlist",
        "sessions" => "your sessions",
        "game_details" => "one of your games",
        "compare_to_rank" => "the rank benchmarks",
        "stat_trend" => "your trends",
        "save_note" => "taking a note",
        "list_notes" => "your notes",
        _ => "your stats",
    }
}

/// The stored history as the model must see it: incomplete (cut-off) answers left out, and
/// consecutive messages of one role merged (a message left unanswered by a crash or an
/// interrupted answer is followed by the next one).
fn usable_history(stored: &[StoredMessage]) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::new();
    for m in stored.iter().filter(|m| !m.incomplete) {
        match out.last_mut() {
            Some(last) if last.role == m.message.role => {
                last.content.extend(m.message.content.iter().cloned());
            }
            _ => out.push(m.message.clone()),
        }
    }
    out
}

/// The newest part of the history that fits in `max_input` tokens with the system prompt and
/// tools. It always starts at a user message that is not a tool result (so no tool result loses
/// its tool call); the current exchange is kept whole even when it alone is larger.
fn trim_to_fit(history: &[Message], max_input: u32, tools: &[ToolSpec]) -> Vec<Message> {
    let estimate = |from: usize| {
        estimate_request(&ModelRequest {
            system: prompt::SYSTEM_PROMPT,
            messages: &history[from..],
            tools,
            max_tokens: 0,
            thinking_budget: None,
        })
    };
    // Exchange starts: user messages that are not tool results.
    let starts: Vec<usize> = history
        .iter()
        .enumerate()
        .filter(|(_, m)| {
            m.role == Role::User
                && !m
                    .content
                    .iter()
                    .any(|b| matches!(b, Block::ToolResult { .. }))
        })
        .map(|(i, _)| i)
        .collect();
    let mut from = starts.first().copied().unwrap_or(0);
    for &s in &starts {
        from = s;
        if estimate(s) <= max_input {
            break;
        }
    }
    history[from..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coach::model::Usage;

    fn user(t: &str) -> Message {
        Message::user_text(t)
    }

    fn assistant(t: &str) -> Message {
        Message {
            role: Role::Assistant,
            content: vec![Block::Text { text: t.into() }],
        }
    }

    #[test]
    fn a_long_history_is_trimmed_oldest_first_to_the_input_cap() {
        let tools = tools::specs();
        let mut history = Vec::new();
        for i in 0..200 {
            history.push(user(&format!(
                "question {i}: {}",
                "why do I lose? ".repeat(40)
            )));
            history.push(assistant(&"because of your boost. ".repeat(60)));
        }
        history.push(user("and now?"));
        let trimmed = trim_to_fit(&history, 16_000, &tools);
        let req = ModelRequest {
            system: prompt::SYSTEM_PROMPT,
            messages: &trimmed,
            tools: &tools,
            max_tokens: 0,
            thinking_budget: None,
        };
        let est = estimate_request(&req);
        assert!(est <= 16_000, "estimate {est}");
        assert!(est > 14_000, "kept too little: {est}");
        assert_eq!(trimmed.last(), history.last());
        assert_eq!(trimmed[0].role, Role::User);
        assert!(trimmed.len() < history.len() && trimmed.len() > 4);
    }

    #[test]
    fn trimming_never_starts_at_a_tool_result() {
        let tools = tools::specs();
        let big = "x".repeat(50_000);
        let history = vec![
            user("old"),
            assistant("old answer"),
            user("look at my games"),
            Message {
                role: Role::Assistant,
                content: vec![Block::ToolUse {
                    id: "t1".into(),
                    name: "recent_games".into(),
                    input: serde_json::json!({}),
                }],
            },
            Message {
                role: Role::User,
                content: vec![Block::ToolResult {
                    tool_use_id: "t1".into(),
                    content: big,
                    is_error: false,
                }],
            },
        ];
        let trimmed = trim_to_fit(&history, 16_000, &tools);
        // The current exchange is larger than the cap: kept whole, from its question.
        assert_eq!(trimmed.len(), 3);
        assert_eq!(trimmed[0], user("look at my games"));
    }

    #[test]
    fn incomplete_answers_are_left_out_and_same_role_messages_merged() {
        let m = |seq, message, incomplete| StoredMessage {
            seq,
            message,
            usage: Usage::default(),
            incomplete,
            created_at: 0,
        };
        let stored = vec![
            m(1, user("a"), false),
            m(2, assistant("cut o"), true),
            m(3, user("b"), false),
        ];
        let h = usable_history(&stored);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].content.len(), 2);
    }
}
