//! The conversation loop: one user message in, one streamed answer out, within the budget.
//!
//! For every message: the plan is checked (Pro only), the user's message is stored before the
//! model sees it, and then, for at most `max_rounds` model calls: the history is trimmed
//! oldest-first to the input cap, tokens are reserved (input estimate + output cap, in one
//! transaction), the call streams, the reservation is settled to the real usage, and tool calls
//! are answered from the user's own data. An assistant turn and its tool results are stored
//! together, exactly as received, so the history is always a valid request.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::client::ModelClient;
use super::model::{
    Block, Message, ModelError, ModelRequest, Role, StopReason, StreamUpdate, ToolSpec, Usage,
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
/// Tool calls answered per model turn; more in one turn get an error result.
const MAX_TOOL_CALLS_PER_TURN: usize = 4;
/// One model call's longest run, whatever the stream does (pings keep an idle timeout happy).
const CALL_DEADLINE: Duration = Duration::from_secs(180);
/// Stored messages read back for the model (older ones would be trimmed anyway).
const HISTORY_WINDOW: i64 = 400;
/// What the coach says when its steps for one answer ran out (kept in the history so every
/// tool result is followed by an assistant turn).
const OUT_OF_STEPS: &str = "(I used all my steps for this answer; ask me to go on.)";

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
    /// One answer at a time per conversation (the bot and the site share this `Coach`).
    turns:
        std::sync::Arc<std::sync::Mutex<HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>>,
}

impl Coach {
    pub fn new(store: Store, model: ModelClient, config: CoachConfig) -> Coach {
        Coach {
            store,
            model,
            config,
            tools: std::sync::Arc::new(tools::specs()),
            turns: std::sync::Arc::default(),
        }
    }

    /// Holds the conversation's turn lock (answers of one conversation never interleave).
    async fn hold_turn(&self, conversation_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut m = self.turns.lock().unwrap_or_else(|e| e.into_inner());
            if m.len() > 1_000 {
                m.retain(|_, l| std::sync::Arc::strong_count(l) > 1);
            }
            m.entry(conversation_id.to_string()).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// The tokens one call needs at least: the system prompt and tools, a short message, and
    /// the least output worth asking for.
    fn min_call_tokens(&self) -> u64 {
        let base = estimate_request(&ModelRequest {
            system: prompt::SYSTEM_PROMPT,
            messages: &[],
            tools: &self.tools,
            max_tokens: 0,
            thinking_budget: None,
        });
        u64::from(base) + 64 + u64::from(MIN_OUTPUT_TOKENS)
    }

    /// Whether the viewer may ask now: Pro, with budget left for at least one call. The one
    /// check every front end uses before opening or continuing a conversation.
    pub async fn can_ask(&self, viewer: &Viewer) -> Result<(Plan, BudgetStatus), CoachError> {
        let (plan, budget) = self.usage(viewer).await?;
        if !plan.is_pro() {
            return Err(CoachError::NotPro);
        }
        if budget.left() < self.min_call_tokens() {
            return Err(CoachError::BudgetExhausted {
                resets_at: plan.period_end,
            });
        }
        Ok((plan, budget))
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
            .coach_budget_in(viewer, &plan, self.config.monthly_tokens)
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
        let _turn = self.hold_turn(conversation_id).await;
        let mut db_time = Duration::ZERO;
        let t = Instant::now();
        let (plan, _) = self.can_ask(&me).await?;
        if self
            .store
            .conversation(&me, conversation_id)
            .await?
            .is_none()
        {
            return Err(CoachError::NotFound);
        }
        let stored = self
            .store
            .recent_conversation_messages(&me, conversation_id, HISTORY_WINDOW)
            .await?;
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
                push_turn(&mut history, message);
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
            let result = match tokio::time::timeout(
                CALL_DEADLINE,
                self.model.stream(&request, &mut forward),
            )
            .await
            {
                Ok(r) => r,
                Err(_) => Err(ModelError::Timeout),
            };
            let usage = match &result {
                Ok(turn) => billed(&turn.content, turn.usage),
                Err(ModelError::Interrupted { partial, .. }) => {
                    billed(&partial.content, partial.usage)
                }
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
            // Every tool call present is answered, whatever the stop reason says (a tool call
            // without its result would make every later request invalid).
            if assistant.tool_uses().next().is_none() {
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
            for (i, (id, name, input)) in assistant.tool_uses().enumerate() {
                let out = if last_round {
                    tools::ToolOutput::error(
                        "No more tool calls for this answer: answer now with what you have.",
                    )
                } else if i >= MAX_TOOL_CALLS_PER_TURN {
                    tools::ToolOutput::error(format!(
                        "At most {MAX_TOOL_CALLS_PER_TURN} tool calls at once; call this again if you still need it."
                    ))
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
            let mut turn_messages = vec![
                NewMessage {
                    message: assistant.clone(),
                    usage,
                    incomplete: false,
                },
                NewMessage::of(results.clone()),
            ];
            if last_round {
                // Out of steps: an assistant turn closes the exchange, so the next question
                // starts a new one.
                turn_messages.push(NewMessage::of(Message {
                    role: Role::Assistant,
                    content: vec![Block::Text {
                        text: OUT_OF_STEPS.into(),
                    }],
                }));
                if answer_text.trim().is_empty() {
                    answer_text = OUT_OF_STEPS.into();
                }
            }
            let t = Instant::now();
            self.store
                .append_messages(&me, conversation_id, &turn_messages)
                .await?;
            db_time += t.elapsed();
            history.push(assistant);
            history.push(results);
            if last_round {
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

/// The stored history as the model must see it: incomplete (cut-off) answers left out, and a
/// message that follows another of the same role joined to it (see [`push_turn`]).
fn usable_history(stored: &[StoredMessage]) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::new();
    for m in stored.iter().filter(|m| !m.incomplete) {
        push_turn(&mut out, m.message.clone());
    }
    // The window may begin inside an exchange: start at its first question.
    let start = out.iter().position(is_question).unwrap_or(out.len());
    out.drain(..start);
    out
}

/// A question: a user message that is not (only) tool results.
fn is_question(m: &Message) -> bool {
    m.role == Role::User
        && !m
            .content
            .iter()
            .any(|b| matches!(b, Block::ToolResult { .. }))
}

/// Appends `message`, keeping the roles alternating: a question left unanswered (a crash, an
/// interrupted answer) and the next go as one user turn; a question after tool results that
/// were never answered (an interrupted answer) gets a short assistant turn in between, so it
/// starts an exchange of its own.
fn push_turn(history: &mut Vec<Message>, message: Message) {
    match history.last_mut() {
        Some(last) if last.role == message.role => {
            if message.role == Role::User && !is_question(last) && is_question(&message) {
                history.push(Message {
                    role: Role::Assistant,
                    content: vec![Block::Text {
                        text: "(My previous answer was cut off.)".into(),
                    }],
                });
                history.push(message);
            } else {
                last.content.extend(message.content);
            }
        }
        _ => history.push(message),
    }
}

/// A call's usage as we bill it. The API counts thinking as output but does not say how much
/// (Claude 4 models return only a summary of their thinking), so the visible part is estimated
/// from what was received (text and tool calls) and the rest of the output is thinking — ours,
/// not the user's. An interrupted stream reports its output only at the end: the received
/// content is the floor.
fn billed(content: &[Block], usage: Usage) -> Usage {
    let (mut visible, mut thought, mut thinking) = (0u32, 0u32, false);
    for b in content {
        match b {
            Block::Text { text } => visible += super::model::estimate_tokens(text),
            Block::ToolUse { name, input, .. } => {
                visible += super::model::estimate_tokens(name)
                    + super::model::estimate_tokens(&input.to_string());
            }
            Block::Thinking { thinking: t, .. } => {
                thinking = true;
                thought += super::model::estimate_tokens(t);
            }
            Block::RedactedThinking { .. } => thinking = true,
            Block::ToolResult { .. } => {}
        }
    }
    let output = usage.output_tokens.max(visible + thought);
    Usage {
        output_tokens: output,
        thinking_tokens: if thinking {
            output.saturating_sub(visible)
        } else {
            0
        },
        ..usage
    }
}

/// The newest part of the history that fits in `max_input` tokens with the system prompt and
/// tools. It starts at a question (so no tool result loses its tool call). The current exchange
/// is kept even when it alone is larger; then the contents of its older tool results are
/// replaced by a stub, oldest first, until it fits.
fn trim_to_fit(history: &[Message], max_input: u32, tools: &[ToolSpec]) -> Vec<Message> {
    let base = estimate_request(&ModelRequest {
        system: prompt::SYSTEM_PROMPT,
        messages: &[],
        tools,
        max_tokens: 0,
        thinking_budget: None,
    });
    let cost = |m: &Message| {
        estimate_request(&ModelRequest {
            system: "",
            messages: std::slice::from_ref(m),
            tools: &[],
            max_tokens: 0,
            thinking_budget: None,
        })
    };
    // Walk from the newest message back, keeping the earliest question that still fits.
    let mut total = base;
    let mut from = history.len();
    for (i, m) in history.iter().enumerate().rev() {
        total = total.saturating_add(cost(m));
        if is_question(m) {
            if total <= max_input || from == history.len() {
                from = i;
            }
            if total > max_input {
                break;
            }
        }
    }
    let from = if from == history.len() { 0 } else { from };
    let mut kept = history[from..].to_vec();
    let mut total: u32 = base + kept.iter().map(cost).sum::<u32>();
    let last = kept.len().saturating_sub(1);
    for m in kept.iter_mut().take(last) {
        if total <= max_input {
            break;
        }
        for b in &mut m.content {
            if let Block::ToolResult { content, .. } = b {
                let before = super::model::estimate_tokens(content);
                *content = "[shown earlier; call the tool again if you need it]".into();
                total = total
                    .saturating_sub(before.saturating_sub(super::model::estimate_tokens(content)));
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_question_after_unanswered_tool_results_starts_its_own_exchange() {
        let mut h = vec![
            user("look"),
            Message {
                role: Role::Assistant,
                content: vec![Block::ToolUse {
                    id: "t".into(),
                    name: "list_notes".into(),
                    input: serde_json::json!({}),
                }],
            },
            Message {
                role: Role::User,
                content: vec![Block::ToolResult {
                    tool_use_id: "t".into(),
                    content: "{}".into(),
                    is_error: false,
                }],
            },
        ];
        push_turn(&mut h, user("next question"));
        assert_eq!(h.len(), 5);
        assert_eq!(h[3].role, Role::Assistant);
        assert!(is_question(&h[4]));
        // Two questions in a row are one turn.
        push_turn(&mut h, user("and another"));
        assert_eq!(h.len(), 5);
        assert_eq!(h[4].content.len(), 2);
    }

    #[test]
    fn thinking_is_billed_as_ours_and_cut_streams_bill_what_arrived() {
        let content = vec![
            Block::Thinking {
                thinking: "short summary".into(),
                signature: "s".into(),
            },
            Block::Text {
                text: "x".repeat(300),
            },
        ];
        // 1,000 output tokens, of which ~100 visible: the rest is thinking.
        let u = billed(
            &content,
            Usage {
                input_tokens: 50,
                output_tokens: 1_000,
                ..Usage::default()
            },
        );
        assert_eq!(u.thinking_tokens, 900);
        assert_eq!(u.charged(), 150);
        // A cut stream reported 1 output token but 100 visible ones arrived.
        let u = billed(
            &content[1..],
            Usage {
                input_tokens: 50,
                output_tokens: 1,
                ..Usage::default()
            },
        );
        assert_eq!((u.output_tokens, u.thinking_tokens), (100, 0));
    }
}
