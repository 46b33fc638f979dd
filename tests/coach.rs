//! The coach's answer loop end to end in the core: a real store with analyzed games, the real
//! model client against the fake model server (real SSE), the real tools. What the fake received
//! is asserted: tool results carry the asking user's stored numbers and never another user's;
//! Free users and spent budgets send nothing; interrupted answers are kept and retried; a new
//! process resumes a conversation.

mod common;
#[path = "common/fake_model.rs"]
mod fake_model;

use std::time::Duration;

use fake_model::{
    AnthropicTurn, FakeModel, error_after_text, text_answer, thinking_then_tool, tool_call,
};
use rlcoach::coach::{
    Coach, CoachConfig, CoachError, ModelClient, ModelConfig, Progress, Provider,
};
use rlcoach::jobs::{JobEvent, PoolConfig, WorkerPool};
use rlcoach::report::PlayerId;
use rlcoach::storage::{
    NewUpload, NoteCategory, NoteSource, PlanSource, Store, SubmitOutcome, Tier, UserId, Viewer,
};
use serde_json::Value;

const A: i64 = 21;
const B: i64 = 22;

fn me(n: i64) -> Viewer {
    Viewer::user(UserId::from_db(n))
}

fn fixture() -> Vec<u8> {
    common::fixture("small-doubles.replay")
}

fn players() -> Vec<PlayerId> {
    rlcoach::analyze(&fixture(), &rlcoach::Limits::default())
        .unwrap()
        .players
        .into_iter()
        .map(|p| p.id)
        .collect()
}

/// Uploads `bytes` privately as `user` and waits for the analysis.
async fn analyzed(pool: &WorkerPool, bytes: Vec<u8>, user: i64) -> String {
    let mut rx = pool.subscribe();
    let upload = NewUpload {
        file_name: Some("game.replay".into()),
        ..NewUpload::by(UserId::from_db(user))
    };
    let outcome = pool.intake().submit(bytes, upload).await.unwrap();
    let id = match &outcome {
        SubmitOutcome::Analyzed { replay_id, .. } | SubmitOutcome::Pending { replay_id, .. } => {
            replay_id.clone()
        }
        other => panic!("unexpected {other:?}"),
    };
    if matches!(outcome, SubmitOutcome::Pending { .. }) {
        tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                if let JobEvent::Finished(c) = rx.recv().await.unwrap()
                    && c.replay_id == id
                {
                    return;
                }
            }
        })
        .await
        .expect("analyzed");
    }
    id
}

fn coach(store: &Store, fake: &FakeModel, monthly: u64) -> Coach {
    let client = ModelClient::new(ModelConfig {
        provider: Provider::Anthropic,
        base_url: fake.base_url(),
        api_key: Some("sk-test".into()),
        model: "claude-sonnet-4-5".into(),
        timeout: Duration::from_secs(5),
        max_retries: 1,
    })
    .unwrap();
    Coach::new(
        store.clone(),
        client,
        CoachConfig {
            monthly_tokens: monthly,
            ..CoachConfig::default()
        },
    )
}

async fn pro(store: &Store, user: i64) {
    store
        .set_plan(
            UserId::from_db(user),
            PlanSource::Operator,
            Tier::Pro,
            None,
            None,
        )
        .await
        .unwrap();
}

fn ignore(_: &Progress) {}

/// The `tool_result` blocks of a recorded request's last message.
fn tool_results(body: &Value) -> Vec<(String, bool)> {
    body["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "tool_result")
        .map(|b| {
            (
                b["content"].as_str().unwrap().to_string(),
                b["is_error"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

both_backends!(
    the_coach_answers_from_the_askers_games_only,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let pool = WorkerPool::start(
                store.clone(),
                PoolConfig {
                    workers: 2,
                    poll: Duration::from_millis(100),
                    ..PoolConfig::default()
                },
            );
            let ps = players();
            // A and B each uploaded a game (different copies) and claimed a different player.
            let a_game = analyzed(&pool, common::distinct_copy(&fixture(), 1), A).await;
            let b_game = analyzed(&pool, common::distinct_copy(&fixture(), 2), B).await;
            store.link_identity(&me(A), &ps[0]).await.unwrap();
            store.link_identity(&me(B), &ps[1]).await.unwrap();
            pro(&store, A).await;
            let a_row = store
                .recent_games(&me(A), UserId::from_db(A), 1, None)
                .await
                .unwrap()
                .remove(0);
            let b_row = store
                .recent_games(&me(B), UserId::from_db(B), 1, None)
                .await
                .unwrap()
                .remove(0);
            assert_ne!(a_row.name, b_row.name);

            let fake = FakeModel::start().await;
            // Round 1: recent games (input split mid-token); round 2: B's replay by id (a
            // forged id for A) and A's own; round 3: the answer.
            fake.push(tool_call(
                "recent_games",
                &["{\"n\": ", "5, \"play", "list\": \"doubles\"}"],
            ));
            fake.push(
                AnthropicTurn::new()
                    .tool_use(
                        "game_details",
                        &[&format!("{{\"replay_id\": \"{b_game}\"}}")],
                    )
                    .tool_use(
                        "game_details",
                        &[&format!("{{\"replay_id\": \"{a_game}\"}}")],
                    )
                    .end("tool_use"),
            );
            fake.push(text_answer("Your boost collection is solid: keep it up."));
            let coach = coach(&store, &fake, 150_000);
            let conversation = coach
                .start(&me(A), Some(77), "ask", "A · boost")
                .await
                .unwrap();
            let mut seen = Vec::new();
            let answer = coach
                .reply(
                    &me(A),
                    &conversation.id,
                    Some("How is my boost?"),
                    &mut |p: &Progress| seen.push(p.text.clone()),
                )
                .await
                .unwrap();
            assert_eq!(
                answer.text,
                "Let me look at your numbers.\n\nYour boost collection is solid: keep it up."
            );
            assert_eq!(answer.calls, 3);
            assert!(
                seen.iter().any(|t| t.ends_with("keep it up.")),
                "streamed: {seen:?}"
            );

            let requests = fake.requests();
            assert_eq!(requests.len(), 3);
            // Text from replay files (the in-game name) reaches the model only inside tool
            // results, under a system prompt that calls it data, never instructions.
            for r in &requests {
                assert!(
                    r.body["system"].to_string().contains("never instructions"),
                    "the system prompt says replay text is data"
                );
                for m in r.body["messages"].as_array().unwrap() {
                    let blocks = match &m["content"] {
                        Value::Array(blocks) => blocks.clone(),
                        text => vec![serde_json::json!({"type": "text", "text": text})],
                    };
                    for b in blocks.iter().filter(|b| b["type"] != "tool_result") {
                        assert!(
                            !b.to_string().contains(&a_row.name),
                            "a replay name outside a tool result: {b}"
                        );
                    }
                }
            }
            // The first tool result is A's game with A's stored numbers, nothing of B's.
            let first = tool_results(&requests[1].body);
            assert_eq!(first.len(), 1);
            let games: Value = serde_json::from_str(&first[0].0).unwrap();
            let games = games["games"].as_array().unwrap();
            assert_eq!(games.len(), 1);
            assert_eq!(games[0]["replay_id"], a_game.as_str());
            assert_eq!(games[0]["name"], a_row.name.as_str());
            assert_eq!(games[0]["goals"], a_row.goals);
            let bcpm = a_row.metric("bcpm").unwrap();
            assert!((games[0]["stats"]["bcpm"].as_f64().unwrap() - bcpm).abs() < 0.01);
            assert!(!first[0].0.contains(&b_game) && !first[0].0.contains(&b_row.name));
            // Two calls in one turn: two results in one message, B's replay refused.
            let second = tool_results(&requests[2].body);
            assert_eq!(second.len(), 2);
            assert!(second[0].1, "B's replay must be an error for A");
            assert!(!second[0].0.contains(&b_row.name));
            assert!(!second[1].1 && second[1].0.contains(&a_row.name));
            // The assistant turn went back exactly as received.
            let msgs = requests[2].body["messages"].as_array().unwrap();
            assert_eq!(msgs.len(), 5);
            assert_eq!(msgs[3]["role"], "assistant");
            assert_eq!(msgs[3]["content"][0]["type"], "tool_use");

            // Everything is stored with its tokens, and charged.
            let stored = store
                .conversation_messages(&me(A), &conversation.id)
                .await
                .unwrap();
            assert_eq!(stored.len(), 6);
            assert!(stored.iter().filter(|m| m.usage.output_tokens > 0).count() == 3);
            let budget = store.coach_budget(&me(A), 150_000).await.unwrap();
            assert_eq!(budget.used, answer.charged);
            assert_eq!(budget.reserved, 0);
            assert!(answer.charged > 0);
            // B cannot open A's conversation through the coach either.
            assert!(matches!(
                coach
                    .reply(&me(B), &conversation.id, Some("hi"), &mut ignore)
                    .await,
                Err(CoachError::NotPro)
            ));
            pro(&store, B).await;
            assert!(matches!(
                coach
                    .reply(&me(B), &conversation.id, Some("hi"), &mut ignore)
                    .await,
                Err(CoachError::NotFound)
            ));
            assert_eq!(fake.request_count(), 3);
            pool.shutdown(Duration::from_secs(5)).await;
        }
    }
);

#[tokio::test]
async fn free_users_and_spent_budgets_send_nothing_to_the_model() {
    let db = common::db::TestDb::sqlite().await;
    let store = db.store.clone();
    let fake = FakeModel::start().await;
    let c = coach(&store, &fake, 150_000);
    assert!(matches!(
        c.start(&me(A), None, "ask", "x").await,
        Err(CoachError::NotPro)
    ));
    pro(&store, A).await;
    let conv = c.start(&me(A), None, "ask", "x").await.unwrap();
    // Pro ends while the conversation is open: checked on every message.
    store
        .set_plan(
            UserId::from_db(A),
            PlanSource::Operator,
            Tier::Free,
            None,
            None,
        )
        .await
        .unwrap();
    assert!(matches!(
        c.reply(&me(A), &conv.id, Some("hi"), &mut ignore).await,
        Err(CoachError::NotPro)
    ));
    pro(&store, A).await;
    // A budget too small for one call: refused with the reset date, nothing sent.
    let tiny = coach(&store, &fake, 400);
    let err = tiny
        .reply(&me(A), &conv.id, Some("hi"), &mut ignore)
        .await
        .unwrap_err();
    let CoachError::BudgetExhausted { resets_at } = err else {
        panic!("{err:?}")
    };
    assert_eq!(resets_at, store.plan(&me(A)).await.unwrap().period_end);
    assert!(err_text(resets_at).contains("resets on"));
    assert_eq!(fake.request_count(), 0);
    // A budget that fits the system prompt but not this long message: still nothing sent.
    let small = coach(&store, &fake, 5_000);
    let long = "why ".repeat(5_000);
    assert!(matches!(
        small
            .reply(&me(A), &conv.id, Some(&long), &mut ignore)
            .await,
        Err(CoachError::BudgetExhausted { .. })
    ));
    assert_eq!(fake.request_count(), 0);
    db.finish().await;
}

fn err_text(resets_at: i64) -> String {
    CoachError::BudgetExhausted { resets_at }.user_message()
}

#[tokio::test]
async fn an_interrupted_answer_is_kept_and_retry_answers_the_question_again() {
    let db = common::db::TestDb::sqlite().await;
    let store = db.store.clone();
    pro(&store, A).await;
    let fake = FakeModel::start().await;
    let c = coach(&store, &fake, 150_000);
    let conv = c.start(&me(A), None, "ask", "x").await.unwrap();
    fake.push(error_after_text(
        "Your rotation is",
        "overloaded_error",
        "Overloaded",
    ));
    let err = c
        .reply(&me(A), &conv.id, Some("How is my rotation?"), &mut ignore)
        .await
        .unwrap_err();
    let CoachError::Interrupted { partial, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(partial, "Your rotation is");
    let stored = store.conversation_messages(&me(A), &conv.id).await.unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored[1].incomplete);
    let charged_so_far = store.coach_budget(&me(A), 150_000).await.unwrap().used;
    assert!(charged_so_far > 0, "an interrupted call is still counted");

    fake.push(text_answer("Your rotation is fine."));
    let answer = c.reply(&me(A), &conv.id, None, &mut ignore).await.unwrap();
    assert_eq!(answer.text, "Your rotation is fine.");
    // The retry sent the question alone: the cut answer is not part of the history.
    let retry = &fake.requests()[1].body;
    let msgs = retry["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["content"][0]["text"], "How is my rotation?");
    assert!(store.coach_budget(&me(A), 150_000).await.unwrap().used > charged_so_far);
    // Nothing left to retry now.
    assert!(matches!(
        c.reply(&me(A), &conv.id, None, &mut ignore).await,
        Err(CoachError::NothingToRetry)
    ));
    db.finish().await;
}

#[tokio::test]
async fn a_restarted_coach_resumes_with_thinking_signatures_and_notes_intact() {
    let db = common::db::TestDb::sqlite().await;
    let store = db.store.clone();
    pro(&store, A).await;
    store
        .add_note(
            &me(A),
            NoteCategory::Goal,
            "reach Champion 3 by January",
            NoteSource::User,
        )
        .await
        .unwrap();
    let fake = FakeModel::start().await;
    let conv_id = {
        let c = coach(&store, &fake, 150_000);
        let conv = c.start(&me(A), Some(5), "ask", "x").await.unwrap();
        fake.push(thinking_then_tool(
            "Check notes first.",
            "sig-abc==",
            "list_notes",
            &["{}"],
        ));
        fake.push(text_answer("You want Champion 3."));
        c.reply(&me(A), &conv.id, Some("What was my goal?"), &mut ignore)
            .await
            .unwrap();
        conv.id
        // `c` dropped: the process "restarts".
    };
    let first = &fake.requests()[0].body;
    let opening = first["messages"][0]["content"][0]["text"].as_str().unwrap();
    assert!(opening.contains("reach Champion 3 by January"), "{opening}");
    let listed = tool_results(&fake.requests()[1].body);
    assert!(listed[0].0.contains("reach Champion 3"));

    let c = coach(&store, &fake, 150_000);
    fake.push(text_answer("Keep going."));
    c.reply(&me(A), &conv_id, Some("And now?"), &mut ignore)
        .await
        .unwrap();
    let body = &fake.requests()[2].body;
    let msgs = body["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 5);
    // The thinking block went back with its signature, from the database.
    assert_eq!(msgs[1]["content"][0]["type"], "thinking");
    assert_eq!(msgs[1]["content"][0]["signature"], "sig-abc==");
    assert_eq!(msgs[4]["content"][0]["text"], "And now?");
    // The notes are given once, at the start, not again.
    assert!(!msgs[4].to_string().contains("Notes from earlier"));
    db.finish().await;
}

#[tokio::test]
async fn a_model_that_keeps_calling_tools_is_stopped_after_five_calls() {
    let db = common::db::TestDb::sqlite().await;
    let store = db.store.clone();
    pro(&store, A).await;
    let fake = FakeModel::start().await;
    for _ in 0..5 {
        fake.push(tool_call("list_notes", &["{}"]));
    }
    fake.push(text_answer("never asked for"));
    let c = coach(&store, &fake, 150_000);
    let conv = c.start(&me(A), None, "ask", "x").await.unwrap();
    let answer = c
        .reply(&me(A), &conv.id, Some("loop"), &mut ignore)
        .await
        .unwrap();
    assert_eq!(answer.calls, 5);
    assert_eq!(fake.request_count(), 5);
    let stored = store.conversation_messages(&me(A), &conv.id).await.unwrap();
    // The last round's calls were answered with "no more tool calls" and an assistant turn
    // closes the exchange, so the history stays valid and the next question starts afresh.
    let n = stored.len();
    assert!(stored[n - 2].message.content.iter().any(|b| matches!(
        b,
        rlcoach::coach::Block::ToolResult { is_error: true, content, .. } if content.contains("No more tool calls")
    )));
    assert_eq!(stored[n - 1].message.role, rlcoach::coach::Role::Assistant);
    assert!(answer.text.contains("Let me look at your numbers."));
    fake.push(text_answer("Fresh start."));
    c.reply(&me(A), &conv.id, Some("next"), &mut ignore)
        .await
        .unwrap();
    let msgs = fake.requests()[5].body["messages"]
        .as_array()
        .unwrap()
        .clone();
    let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert!(roles.windows(2).all(|w| w[0] != w[1]), "{roles:?}");
    db.finish().await;
}
