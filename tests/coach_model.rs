//! The coach's model clients against the fake model server (real HTTP, real SSE framing): text
//! streaming, tool calls split across fragments and TCP reads, thinking blocks kept verbatim,
//! retries (429 with `retry-after`, 529) and their limits, interrupted streams, timeouts, the
//! OpenAI-compatible adapter and count-tokens.

#[path = "common/fake_model.rs"]
mod fake_model;

use std::time::{Duration, Instant};

use fake_model::{
    AnthropicTurn, CountAnswer, End, FakeModel, OpenAiTurn, Scripted, Transcript, http_error,
    max_tokens_stop, overloaded, rate_limited, text_answer, thinking_then_tool, two_tool_calls,
};
use rlcoach::coach::model::estimate_request;
use rlcoach::coach::{
    Block, Message, ModelClient, ModelConfig, ModelError, ModelRequest, ModelTurn, Provider, Role,
    StopReason, StreamUpdate, ToolSpec, Usage,
};
use serde_json::{Value, json};

const KEY: &str = "sk-ant-test-key";
const SONNET_4_5: &str = "claude-sonnet-4-5-20250929";

fn config(fake: &FakeModel, provider: Provider) -> ModelConfig {
    ModelConfig {
        provider,
        base_url: fake.base_url(),
        api_key: Some(KEY.to_string()),
        model: SONNET_4_5.to_string(),
        timeout: Duration::from_secs(5),
        max_retries: 2,
    }
}

async fn anthropic(fake: &FakeModel) -> ModelClient {
    fake.require_api_key(KEY);
    ModelClient::new(config(fake, Provider::Anthropic)).expect("client")
}

fn tools() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: "player_stats",
            description: "The asking player's averages over their last n games.",
            input_schema: json!({
                "type": "object",
                "properties": {"n": {"type": "integer"}, "playlist": {"type": "string"}},
                "required": ["n"],
            }),
        },
        ToolSpec {
            name: "recent_games",
            description: "The asking player's recent games.",
            input_schema: json!({"type": "object", "properties": {}}),
        },
    ]
}

fn request<'a>(messages: &'a [Message], tools: &'a [ToolSpec]) -> ModelRequest<'a> {
    ModelRequest {
        system: "You are a Rocket League coach.",
        messages,
        tools,
        max_tokens: 1024,
        thinking_budget: None,
    }
}

/// Runs one call, collecting the stream's updates; a call that never ends fails the test.
async fn run(
    client: &ModelClient,
    req: &ModelRequest<'_>,
) -> (Result<ModelTurn, ModelError>, Vec<StreamUpdate>) {
    let mut updates = Vec::new();
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        client.stream(req, &mut |u| updates.push(u)),
    )
    .await
    .expect("the call ends");
    (result, updates)
}

fn texts(updates: &[StreamUpdate]) -> Vec<String> {
    updates
        .iter()
        .filter_map(|u| match u {
            StreamUpdate::Text(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

fn usage_of(t: &Transcript) -> Usage {
    Usage {
        input_tokens: t.usage.input_tokens,
        output_tokens: t.usage.output_tokens,
        cache_creation_input_tokens: t.usage.cache_creation_input_tokens,
        cache_read_input_tokens: t.usage.cache_read_input_tokens,
        thinking_tokens: 0,
    }
}

fn tool_result(id: &str, content: &str) -> Block {
    Block::ToolResult {
        tool_use_id: id.to_string(),
        content: content.to_string(),
        is_error: false,
    }
}

#[tokio::test]
async fn plain_text_streams_in_order_and_sends_the_messages_request() {
    let fake = FakeModel::start().await;
    let client = anthropic(&fake).await;
    let text = "Your boost use is fine. Work on your rotation: you double-commit too often.";
    let t = text_answer(text).paced(Duration::from_millis(5));
    let expected_usage = usage_of(&t);
    fake.push(t);
    let messages = [Message::user_text("How do I get better?")];
    let tools = tools();
    let (result, updates) = run(&client, &request(&messages, &tools)).await;
    let turn = result.expect("a turn");

    assert_eq!(texts(&updates).len(), 3, "one update per text_delta");
    assert_eq!(updates.len(), 3, "only text updates: {updates:?}");
    assert_eq!(texts(&updates).concat(), text);
    assert_eq!(
        turn.content,
        vec![Block::Text {
            text: text.to_string()
        }]
    );
    assert_eq!(turn.stop_reason, StopReason::EndTurn);
    assert_eq!(turn.usage, expected_usage);
    assert!(turn.usage.output_tokens > 1, "cumulative output tokens");

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.path, "/v1/messages");
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-api-key"), Some("<redacted>"));
    assert_eq!(
        r.body,
        json!({
            "model": SONNET_4_5,
            "max_tokens": 1024,
            "stream": true,
            "system": "You are a Rocket League coach.",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "How do I get better?"}]}],
            "tools": [
                {"name": "player_stats", "description": "The asking player's averages over their last n games.",
                 "input_schema": {"type": "object",
                                  "properties": {"n": {"type": "integer"}, "playlist": {"type": "string"}},
                                  "required": ["n"]}},
                {"name": "recent_games", "description": "The asking player's recent games.",
                 "input_schema": {"type": "object", "properties": {}}},
            ],
        })
    );
}

#[tokio::test]
async fn updates_arrive_while_the_answer_streams() {
    let fake = FakeModel::start().await;
    fake.set_default_text(Some("Save your flip for the challenge, then recover."));
    fake.set_default_pacing(Duration::from_millis(20), Duration::from_millis(60));
    let client = anthropic(&fake).await;
    let messages = [Message::user_text("tips?")];
    let start = Instant::now();
    let mut seen = Vec::new();
    let turn = client
        .stream(&request(&messages, &[]), &mut |u| {
            if let StreamUpdate::Text(_) = u {
                seen.push(start.elapsed());
            }
        })
        .await
        .expect("the default answer");
    assert_eq!(
        turn.message().text(),
        "Save your flip for the challenge, then recover."
    );
    assert_eq!(seen.len(), 3);
    // Each text_delta is its own 60 ms-apart chunk: a client that buffered the whole body
    // would deliver them all at once.
    assert!(
        seen[2] - seen[0] >= Duration::from_millis(100),
        "updates were not incremental: {seen:?}"
    );
}

#[tokio::test]
async fn tool_input_split_mid_token_and_across_tcp_reads_is_joined() {
    let fake = FakeModel::start().await;
    let client = anthropic(&fake).await;
    // Non-ASCII text too: 7-byte chunks cut inside UTF-8 sequences.
    let preamble = "Très bien — je regarde tes stats ⚽.";
    let (turn, tool_id) = AnthropicTurn::new().text(preamble).tool_use_with_id(
        "player_stats",
        &[r#"{"n": 5, "play"#, r#"list": "doubles"}"#],
    );
    fake.push(turn.end("tool_use").chunked(7, Duration::from_millis(1)));
    let mut history = vec![Message::user_text("How were my last 5 doubles?")];
    let tools = tools();
    let (result, updates) = run(&client, &request(&history, &tools)).await;
    let turn = result.expect("a turn");

    assert_eq!(turn.stop_reason, StopReason::ToolUse);
    assert_eq!(
        turn.content,
        vec![
            Block::Text {
                text: preamble.to_string()
            },
            Block::ToolUse {
                id: tool_id.clone(),
                name: "player_stats".to_string(),
                input: json!({"n": 5, "playlist": "doubles"}),
            },
        ]
    );
    assert_eq!(texts(&updates).concat(), preamble);
    assert_eq!(
        updates.last(),
        Some(&StreamUpdate::ToolCall("player_stats".to_string()))
    );

    // The loop's next request: the assistant turn verbatim, then one tool_result.
    history.push(turn.message());
    history.push(Message {
        role: Role::User,
        content: vec![tool_result(&tool_id, r#"{"goals": 1.4}"#)],
    });
    fake.push(text_answer("You score 1.4 goals a game."));
    let (result, _) = run(&client, &request(&history, &tools)).await;
    assert_eq!(
        result.expect("the answer").message().text(),
        "You score 1.4 goals a game."
    );
    let sent = &fake.requests()[1].body["messages"];
    assert_eq!(
        sent[1],
        json!({"role": "assistant", "content": [
            {"type": "text", "text": preamble},
            {"type": "tool_use", "id": tool_id, "name": "player_stats",
             "input": {"n": 5, "playlist": "doubles"}},
        ]})
    );
    assert_eq!(
        sent[2],
        json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": tool_id, "content": "{\"goals\": 1.4}"},
        ]})
    );
}

#[tokio::test]
async fn two_tool_calls_in_one_turn_keep_their_order_and_inputs() {
    let fake = FakeModel::start().await;
    let client = anthropic(&fake).await;
    fake.push(
        two_tool_calls(
            ("player_stats", &[r#"{"n":"#, r#" 10}"#]),
            // No fragments at all: the input is `{}`.
            ("recent_games", &[]),
        )
        .chunked(13, Duration::from_millis(1)),
    );
    let messages = [Message::user_text("compare")];
    let tools = tools();
    let (result, updates) = run(&client, &request(&messages, &tools)).await;
    let turn = result.expect("a turn");
    let calls: Vec<(String, String, Value)> = turn
        .message()
        .tool_uses()
        .map(|(id, name, input)| (id.to_string(), name.to_string(), input.clone()))
        .collect();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].1, "player_stats");
    assert_eq!(calls[0].2, json!({"n": 10}));
    assert_eq!(calls[1].1, "recent_games");
    assert_eq!(calls[1].2, json!({}));
    assert_ne!(calls[0].0, calls[1].0);
    assert_eq!(turn.stop_reason, StopReason::ToolUse);
    let tool_updates: Vec<&StreamUpdate> = updates
        .iter()
        .filter(|u| matches!(u, StreamUpdate::ToolCall(_)))
        .collect();
    assert_eq!(
        tool_updates,
        vec![
            &StreamUpdate::ToolCall("player_stats".into()),
            &StreamUpdate::ToolCall("recent_games".into())
        ]
    );
}

#[tokio::test]
async fn thinking_blocks_are_kept_verbatim_and_the_form_follows_the_model() {
    let fake = FakeModel::start().await;
    let client = anthropic(&fake).await;
    let thinking = "The user asks about doubles. I should fetch the last 5 doubles games first.";
    let signature = "EqQBCkgIARABGAIiQL2b+Fake/Signature==";
    let t = thinking_then_tool(thinking, signature, "player_stats", &[r#"{"n": 5}"#]);
    let expected_output = t.usage.output_tokens;
    fake.push(t);
    let mut history = vec![Message::user_text("doubles?")];
    let tools = tools();
    let mut req = request(&history, &tools);
    req.thinking_budget = Some(2048);
    let (result, updates) = run(&client, &req).await;
    let turn = result.expect("a turn");

    assert_eq!(
        turn.content[0],
        Block::Thinking {
            thinking: thinking.to_string(),
            signature: signature.to_string()
        }
    );
    assert!(matches!(turn.content[1], Block::ToolUse { .. }));
    assert_eq!(updates[0], StreamUpdate::Thinking);
    assert_eq!(
        updates
            .iter()
            .filter(|u| **u == StreamUpdate::Thinking)
            .count(),
        1,
        "one Thinking update per block: {updates:?}"
    );
    assert_eq!(turn.usage.output_tokens, expected_output);
    assert!(turn.usage.thinking_tokens > 0 && turn.usage.thinking_tokens <= expected_output);
    // Sonnet 4.5 takes the `enabled` form; the budget is added to max_tokens.
    let body = &fake.requests()[0].body;
    assert_eq!(
        body["thinking"],
        json!({"type": "enabled", "budget_tokens": 2048})
    );
    assert_eq!(body["max_tokens"], json!(1024 + 2048));

    // A newer model takes the adaptive form; the history goes back with the signature intact.
    let tool_id = turn
        .message()
        .tool_uses()
        .next()
        .expect("a call")
        .0
        .to_string();
    history.push(turn.message());
    history.push(Message {
        role: Role::User,
        content: vec![tool_result(&tool_id, "5 games")],
    });
    let mut cfg = config(&fake, Provider::Anthropic);
    cfg.model = "claude-opus-4-6".to_string();
    let newer = ModelClient::new(cfg).expect("client");
    fake.push(
        AnthropicTurn::new()
            .thinking("Now answer.", "sig2")
            .redacted_thinking("EmwKAhgBEgy3Redacted")
            .text("Good games.")
            .end("end_turn"),
    );
    let mut req = request(&history, &tools);
    req.thinking_budget = Some(2048);
    let (result, _) = run(&newer, &req).await;
    let turn = result.expect("a turn");
    assert_eq!(
        turn.content,
        vec![
            Block::Thinking {
                thinking: "Now answer.".into(),
                signature: "sig2".into()
            },
            Block::RedactedThinking {
                data: "EmwKAhgBEgy3Redacted".into()
            },
            Block::Text {
                text: "Good games.".into()
            },
        ]
    );
    let body = &fake.requests()[1].body;
    assert_eq!(body["model"], json!("claude-opus-4-6"));
    assert_eq!(body["thinking"], json!({"type": "adaptive"}));
    assert_eq!(
        body["messages"][1]["content"][0],
        json!({"type": "thinking", "thinking": thinking, "signature": signature})
    );
    assert_eq!(
        body["messages"][2]["content"],
        json!([{"type": "tool_result", "tool_use_id": tool_id, "content": "5 games"}])
    );
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let fake = FakeModel::start().await;
    let client = anthropic(&fake).await;
    fake.push(rate_limited(1));
    fake.push(text_answer("Second time lucky."));
    let messages = [Message::user_text("hi")];
    let start = Instant::now();
    let (result, _) = run(&client, &request(&messages, &[])).await;
    let elapsed = start.elapsed();
    assert_eq!(
        result.expect("retried").message().text(),
        "Second time lucky."
    );
    assert_eq!(fake.request_count(), 2);
    assert!(
        elapsed >= Duration::from_millis(950),
        "retry-after: 1 was not honoured ({elapsed:?})"
    );
}

#[tokio::test]
async fn overloaded_529_is_retried_until_max_retries() {
    let fake = FakeModel::start().await;
    let client = anthropic(&fake).await;
    fake.push(overloaded());
    fake.push(overloaded());
    fake.push(text_answer("Finally."));
    let messages = [Message::user_text("hi")];
    let (result, _) = run(&client, &request(&messages, &[])).await;
    assert_eq!(result.expect("retried twice").message().text(), "Finally.");
    assert_eq!(fake.request_count(), 3);

    // One retry allowed: two 529s exhaust it.
    fake.clear_requests();
    let mut cfg = config(&fake, Provider::Anthropic);
    cfg.max_retries = 1;
    let client = ModelClient::new(cfg).expect("client");
    fake.push(overloaded());
    fake.push(overloaded());
    fake.push(text_answer("never reached"));
    let (result, _) = run(&client, &request(&messages, &[])).await;
    match result {
        Err(ModelError::Status {
            status: 529,
            retryable: true,
            message,
            ..
        }) => assert!(message.contains("Overloaded"), "{message}"),
        other => panic!("expected the 529, got {other:?}"),
    }
    assert_eq!(fake.request_count(), 2);
    assert_eq!(fake.pending(), 1);
}

#[tokio::test]
async fn client_errors_and_spend_limits_are_not_retried() {
    let fake = FakeModel::start().await;
    let client = anthropic(&fake).await;
    let messages = [Message::user_text("hi")];
    for (status, kind, message) in [
        (
            400,
            "invalid_request_error",
            "messages: roles must alternate",
        ),
        (401, "authentication_error", "invalid x-api-key"),
        (403, "permission_error", "not allowed"),
        (404, "not_found_error", "model: claude-nope"),
        (
            429,
            "rate_limit_error",
            "You have reached your specified API usage limits. You will regain access on 2026-01-01.",
        ),
    ] {
        fake.clear_requests();
        fake.push(http_error(status, kind, message));
        fake.push(text_answer("must not be reached"));
        let (result, updates) = run(&client, &request(&messages, &[])).await;
        match result {
            Err(ModelError::Status {
                status: s,
                retryable: false,
                message: m,
                ..
            }) => {
                assert_eq!(s, status);
                assert!(m.contains(message), "{m}");
            }
            other => panic!("{status}: expected a final status error, got {other:?}"),
        }
        assert!(updates.is_empty());
        assert_eq!(fake.request_count(), 1, "{status} was retried");
        // Drop the unused answer.
        let (_, _) = run(&client, &request(&messages, &[])).await;
    }

    // A wrong key gets the fake's real 401, once.
    fake.clear_requests();
    let mut cfg = config(&fake, Provider::Anthropic);
    cfg.api_key = Some("sk-ant-wrong".into());
    let wrong = ModelClient::new(cfg).expect("client");
    let (result, _) = run(&wrong, &request(&messages, &[])).await;
    assert!(
        matches!(result, Err(ModelError::Status { status: 401, .. })),
        "{result:?}"
    );
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn an_error_event_after_text_is_interrupted_with_the_partial_turn() {
    let fake = FakeModel::start().await;
    let client = anthropic(&fake).await;
    let t = AnthropicTurn::new()
        .thinking("Plan the answer.", "sig-a")
        .open_text("Your rotation is mostly ")
        .error("overloaded_error", "Overloaded");
    let usage_so_far = usage_of(&t);
    fake.push(t);
    fake.push(text_answer("must not be reached: text was shown"));
    let messages = [Message::user_text("rotation?")];
    let (result, updates) = run(&client, &request(&messages, &[])).await;
    match result {
        Err(ModelError::Interrupted { message, partial }) => {
            assert!(message.contains("overloaded_error"), "{message}");
            assert_eq!(
                partial.content,
                vec![
                    Block::Thinking {
                        thinking: "Plan the answer.".into(),
                        signature: "sig-a".into()
                    },
                    Block::Text {
                        text: "Your rotation is mostly ".into()
                    },
                ]
            );
            assert_eq!(partial.usage.input_tokens, usage_so_far.input_tokens);
            assert_eq!(
                partial.usage.cache_read_input_tokens,
                usage_so_far.cache_read_input_tokens
            );
            assert_eq!(partial.usage.output_tokens, 1, "message_start's count");
        }
        other => panic!("expected Interrupted, got {other:?}"),
    }
    assert_eq!(texts(&updates).concat(), "Your rotation is mostly ");
    assert_eq!(fake.request_count(), 1, "retried after text was shown");
}

#[tokio::test]
async fn a_stream_that_breaks_before_any_text_is_retried_and_billed() {
    let fake = FakeModel::start().await;
    let client = anthropic(&fake).await;
    // An error event right after message_start, then a connection cut after message_start.
    let first = AnthropicTurn::with_usage(1000, 0, 0).error("overloaded_error", "Overloaded");
    let second = AnthropicTurn::with_usage(1000, 0, 0)
        .text("x")
        .end("end_turn")
        .truncated(2, End::Abort);
    let third = AnthropicTurn::with_usage(1000, 0, 0)
        .text("Fine.")
        .end("end_turn");
    let third_output = third.usage.output_tokens;
    fake.push(first);
    fake.push(second);
    fake.push(third);
    let messages = [Message::user_text("hi")];
    let (result, updates) = run(&client, &request(&messages, &[])).await;
    let turn = result.expect("the third attempt");
    assert_eq!(turn.message().text(), "Fine.");
    assert_eq!(texts(&updates).concat(), "Fine.");
    assert_eq!(fake.request_count(), 3);
    // The broken attempts' input was billed: it counts in the turn's usage.
    assert_eq!(turn.usage.input_tokens, 3000);
    assert_eq!(turn.usage.output_tokens, third_output + 2);
}

#[tokio::test]
async fn a_cut_connection_after_text_is_interrupted() {
    let fake = FakeModel::start().await;
    let client = anthropic(&fake).await;
    // message_start, ping, content_block_start, two deltas; then the connection breaks.
    let t = AnthropicTurn::new()
        .text_pieces(&["Half ", "an answer", " never sent"])
        .end("end_turn")
        .truncated(5, End::Abort);
    fake.push(t);
    let messages = [Message::user_text("hi")];
    let (result, _) = run(&client, &request(&messages, &[])).await;
    match result {
        Err(ModelError::Interrupted { partial, .. }) => {
            assert_eq!(partial.message().text(), "Half an answer");
            assert_eq!(partial.usage.input_tokens, 2095);
        }
        other => panic!("expected Interrupted, got {other:?}"),
    }
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn max_tokens_is_reported_as_the_stop_reason() {
    let fake = FakeModel::start().await;
    let client = anthropic(&fake).await;
    fake.push(max_tokens_stop("This answer was cut because it"));
    let messages = [Message::user_text("essay please")];
    let (result, _) = run(&client, &request(&messages, &[])).await;
    let turn = result.expect("a turn");
    assert_eq!(turn.stop_reason, StopReason::MaxTokens);
    assert_eq!(turn.message().text(), "This answer was cut because it");
}

#[tokio::test]
async fn unknown_events_blocks_and_pings_are_ignored() {
    let fake = FakeModel::start().await;
    let client = anthropic(&fake).await;
    fake.push(
        AnthropicTurn::new()
            .raw("ping", json!({"type": "ping"}))
            .raw(
                "future_event",
                json!({"type": "future_event", "payload": {"x": 1}}),
            )
            .text("Before ")
            .unknown_block("server_tool_use")
            .raw("ping", json!({"type": "ping"}))
            .text("after.")
            .end("end_turn"),
    );
    let messages = [Message::user_text("hi")];
    let (result, updates) = run(&client, &request(&messages, &[])).await;
    let turn = result.expect("a turn");
    assert_eq!(
        turn.content,
        vec![
            Block::Text {
                text: "Before ".into()
            },
            Block::Text {
                text: "after.".into()
            },
        ]
    );
    assert!(updates.iter().all(|u| matches!(u, StreamUpdate::Text(_))));
}

#[tokio::test]
async fn stalls_time_out() {
    let fake = FakeModel::start().await;
    let mut cfg = config(&fake, Provider::Anthropic);
    cfg.timeout = Duration::from_millis(300);
    cfg.max_retries = 1;
    let client = ModelClient::new(cfg.clone()).expect("client");
    let messages = [Message::user_text("hi")];

    // No response head at all: a timeout, retried once.
    fake.push(Scripted::Hang);
    fake.push(Scripted::Hang);
    let (result, _) = run(&client, &request(&messages, &[])).await;
    assert!(matches!(result, Err(ModelError::Timeout)), "{result:?}");
    assert_eq!(fake.request_count(), 2);

    // The stream stalls after some text: the idle timeout ends it, with the text so far.
    fake.clear_requests();
    fake.push(
        AnthropicTurn::new()
            .text_pieces(&["Stalled ", "mid", "way"])
            .end("end_turn")
            .truncated(5, End::Stall),
    );
    let (result, updates) = run(&client, &request(&messages, &[])).await;
    match result {
        Err(ModelError::Interrupted { message, partial }) => {
            assert!(message.contains("in time"), "{message}");
            assert_eq!(partial.message().text(), "Stalled mid");
        }
        other => panic!("expected Interrupted, got {other:?}"),
    }
    assert_eq!(texts(&updates).concat(), "Stalled mid");
    assert_eq!(fake.request_count(), 1);

    // Slow but steady (each chunk within the timeout) is not a timeout.
    fake.push(text_answer("Slow and steady.").paced(Duration::from_millis(150)));
    let (result, _) = run(&client, &request(&messages, &[])).await;
    assert_eq!(
        result.expect("no timeout").message().text(),
        "Slow and steady."
    );
}

#[tokio::test]
async fn count_tokens_uses_the_endpoint_and_falls_back_to_the_estimate() {
    let fake = FakeModel::start().await;
    let client = anthropic(&fake).await;
    let messages = [Message::user_text("How many tokens is this?")];
    let tools = tools();
    let mut req = request(&messages, &tools);
    req.thinking_budget = Some(4000);

    fake.push_count(CountAnswer::Tokens(4321));
    assert_eq!(client.count_tokens(&req).await, 4321);
    let r = &fake.requests()[0];
    assert_eq!(r.path, "/v1/messages/count_tokens");
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert!(r.body.get("max_tokens").is_none() && r.body.get("stream").is_none());
    assert_eq!(r.body["model"], json!(SONNET_4_5));
    assert_eq!(r.body["system"], json!("You are a Rocket League coach."));
    assert_eq!(r.body["tools"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        r.body["thinking"],
        json!({"type": "enabled", "budget_tokens": 4000})
    );

    fake.push_count(CountAnswer::Error(500));
    assert_eq!(client.count_tokens(&req).await, estimate_request(&req));
    assert_eq!(fake.request_count(), 2);

    // No count endpoint for OpenAI-compatible servers: the estimate, no request.
    let local = ModelClient::new(config(&fake, Provider::OpenAi)).expect("client");
    assert_eq!(local.count_tokens(&req).await, estimate_request(&req));
    assert_eq!(fake.request_count(), 2);

    // An unreachable server: the estimate.
    let mut cfg = config(&fake, Provider::Anthropic);
    cfg.base_url = "http://127.0.0.1:9".into();
    let gone = ModelClient::new(cfg).expect("client");
    assert_eq!(gone.count_tokens(&req).await, estimate_request(&req));
}

#[tokio::test]
async fn openai_stream_joins_text_and_tool_call_fragments() {
    let fake = FakeModel::start().await;
    fake.require_api_key(KEY);
    let client = ModelClient::new(config(&fake, Provider::OpenAi)).expect("client");
    let t = OpenAiTurn::new()
        .text("Checking your games.")
        .tool_call(
            0,
            "call_abc",
            "player_stats",
            &[r#"{"n": 5, "play"#, r#"list": "doubles"}"#],
        )
        .tool_call(1, "call_def", "recent_games", &[])
        .end("tool_calls")
        .chunked(11, Duration::from_millis(1));
    let expected = usage_of(&t);
    fake.push(t);
    let messages = [Message::user_text("doubles?")];
    let tools = tools();
    let (result, updates) = run(&client, &request(&messages, &tools)).await;
    let turn = result.expect("a turn");
    assert_eq!(
        turn.content,
        vec![
            Block::Text {
                text: "Checking your games.".into()
            },
            Block::ToolUse {
                id: "call_abc".into(),
                name: "player_stats".into(),
                input: json!({"n": 5, "playlist": "doubles"})
            },
            Block::ToolUse {
                id: "call_def".into(),
                name: "recent_games".into(),
                input: json!({})
            },
        ]
    );
    assert_eq!(turn.stop_reason, StopReason::ToolUse);
    assert_eq!(turn.usage, expected);
    assert_eq!(texts(&updates).concat(), "Checking your games.");
    assert!(updates.contains(&StreamUpdate::ToolCall("player_stats".into())));

    let r = &fake.requests()[0];
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(r.header("authorization"), Some("<redacted>"));
    assert_eq!(r.body["stream"], json!(true));
    assert_eq!(r.body["stream_options"], json!({"include_usage": true}));
    assert_eq!(r.body["max_tokens"], json!(1024));
    assert_eq!(
        r.body["tools"][0],
        json!({"type": "function", "function": {
            "name": "player_stats",
            "description": "The asking player's averages over their last n games.",
            "parameters": {"type": "object",
                           "properties": {"n": {"type": "integer"}, "playlist": {"type": "string"}},
                           "required": ["n"]},
        }})
    );

    // A server without a usage chunk and a `length` stop: estimates and MaxTokens.
    fake.push(
        OpenAiTurn::new()
            .without_usage()
            .text("Cut sh")
            .end("length"),
    );
    let req = request(&messages, &tools);
    let (result, _) = run(&client, &req).await;
    let turn = result.expect("a turn");
    assert_eq!(turn.stop_reason, StopReason::MaxTokens);
    assert_eq!(turn.usage.input_tokens, estimate_request(&req));
    assert!(turn.usage.output_tokens > 0);
}

#[tokio::test]
async fn openai_request_translates_a_tool_history() {
    let fake = FakeModel::start().await;
    let client = ModelClient::new(config(&fake, Provider::OpenAi)).expect("client");
    let history = vec![
        Message::user_text("How were my doubles?"),
        Message {
            role: Role::Assistant,
            content: vec![
                Block::Thinking {
                    thinking: "fetch both".into(),
                    signature: "sig".into(),
                },
                Block::Text {
                    text: "Let me look.".into(),
                },
                Block::ToolUse {
                    id: "call_1".into(),
                    name: "player_stats".into(),
                    input: json!({"n": 5}),
                },
                Block::ToolUse {
                    id: "call_2".into(),
                    name: "recent_games".into(),
                    input: json!({}),
                },
            ],
        },
        Message {
            role: Role::User,
            content: vec![
                tool_result("call_1", "goals 1.4"),
                Block::ToolResult {
                    tool_use_id: "call_2".into(),
                    content: "no games stored".into(),
                    is_error: true,
                },
            ],
        },
    ];
    fake.push(OpenAiTurn::new().text("You did well.").end("stop"));
    let (result, _) = run(&client, &request(&history, &[])).await;
    let turn = result.expect("a turn");
    assert_eq!(turn.stop_reason, StopReason::EndTurn);
    assert_eq!(turn.message().text(), "You did well.");
    let body = &fake.requests()[0].body;
    assert!(body.get("tools").is_none());
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": "You are a Rocket League coach."},
            {"role": "user", "content": "How were my doubles?"},
            {"role": "assistant", "content": "Let me look.", "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "player_stats", "arguments": "{\"n\":5}"}},
                {"id": "call_2", "type": "function",
                 "function": {"name": "recent_games", "arguments": "{}"}},
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "goals 1.4"},
            {"role": "tool", "tool_call_id": "call_2", "content": "Error: no games stored"},
        ])
    );
}
