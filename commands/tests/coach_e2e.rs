//! The Pro coach end to end, offline: the real `rlcoach` binary against the fake Discord and the
//! fake model server (Anthropic's SSE wire format). A Pro user's `/coach ask` opens a private
//! thread and the answer streams into it (edits counted); follow-ups in the thread are answered,
//! other people's messages there are not; Free users get the upsell; a spent budget sends
//! nothing to the model; a crash mid-answer loses nothing.

#[path = "../../tests/common/fake_model.rs"]
mod fake_model;
mod support;

use std::path::Path;
use std::time::Duration;

use fake_model::{AnthropicTurn, FakeModel, text_answer};
use serde_json::{Value, json};
use support::Bot;
use support::fake_discord::{Call, FakeDiscord, GUILD_ID};

const T: Duration = Duration::from_secs(60);
const CHANNEL: u64 = 6001;
const WEB: &str = "https://rlcoach.example";

fn coach_env(model: &FakeModel) -> Vec<(&'static str, String)> {
    vec![
        ("ANTHROPIC_API_KEY", "sk-ant-test".to_string()),
        ("ANTHROPIC_BASE_URL", model.base_url()),
        ("RLCOACH_COACH_MODEL", "claude-sonnet-4-5".to_string()),
        ("RLCOACH_WEB_BASE", WEB.to_string()),
    ]
}

async fn start(fake: &FakeDiscord, dir: &Path, env: &[(&'static str, String)]) -> Bot {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Bot::start(fake, dir, &env).await
}

/// `rlcoach plan set <user> <plan>` on the bot's data directory (the operator command).
fn plan_set(dir: &Path, user: u64, plan: &str) {
    let shown = support::operator(dir, &["plan", "set", &user.to_string(), plan]);
    assert!(shown.contains(&format!(": {plan} ")), "{shown}");
}

fn ask(fake: &FakeDiscord, user: u64, channel: u64, guild: Option<u64>, question: &str) -> String {
    fake.slash(
        user,
        channel,
        guild,
        "0",
        "coach",
        json!([{"name": "ask", "type": 1, "options": [{"name": "question", "type": 3, "value": question}]}]),
        Value::Null,
    )
}

/// The bot's messages posted in `channel` (POST), in order.
fn posts(calls: &[Call], channel: u64) -> Vec<Call> {
    let path = format!("/channels/{channel}/messages");
    calls
        .iter()
        .filter(|c| c.method == "POST" && c.path == path)
        .cloned()
        .collect()
}

/// Edits of one message, in order.
fn edits(calls: &[Call], channel: u64, message: &str) -> Vec<Call> {
    let path = format!("/channels/{channel}/messages/{message}");
    calls
        .iter()
        .filter(|c| c.method == "PATCH" && c.path == path)
        .cloned()
        .collect()
}

/// Waits for a message in `channel` (posted or edited) whose content is exactly `text`.
async fn shown(fake: &FakeDiscord, channel: u64, text: &str) -> Call {
    let prefix = format!("/channels/{channel}/messages");
    fake.wait_for(&format!("{text:?} in {channel}"), T, |calls| {
        calls
            .iter()
            .find(|c| c.path.starts_with(&prefix) && c.content() == text)
            .cloned()
    })
    .await
}

/// The streamed answer: twelve pieces, 350 ms apart (about 4 s in all).
fn slow_answer(pieces: &[&str]) -> fake_model::Transcript {
    AnthropicTurn::new()
        .text_pieces(pieces)
        .end("end_turn")
        .paced(Duration::from_millis(350))
}

const PIECES: [&str; 12] = [
    "Your ",
    "boost ",
    "collection ",
    "is ",
    "solid. ",
    "Work ",
    "on ",
    "your ",
    "speed: ",
    "you ",
    "are ",
    "slow.",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pro_user_gets_a_private_thread_and_a_streamed_answer() {
    let fake = FakeDiscord::start().await;
    let model = FakeModel::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (pro, other) = (111, 222);
    plan_set(dir.path(), pro, "pro");
    let _bot = start(&fake, dir.path(), &coach_env(&model)).await;

    model.push(slow_answer(&PIECES));
    let token = ask(&fake, pro, CHANNEL, Some(GUILD_ID), "How is my boost?");
    let callback = fake.callback("the deferral", &token).await;
    assert_eq!(callback.json["type"], 5);
    assert_eq!(callback.json["data"]["flags"], 64, "ephemeral in a server");
    let thread = fake
        .wait_for("a thread", T, |_| fake.threads().first().cloned())
        .await;
    let (thread_id, parent, kind, name) = thread;
    assert_eq!(
        (parent, kind),
        (CHANNEL, 12),
        "a private thread in the channel"
    );
    assert!(name.contains("How is my boost?"), "{name}");
    fake.wait_for("the user added to the thread", T, |calls| {
        calls
            .iter()
            .find(|c| {
                c.method == "PUT" && c.path == format!("/channels/{thread_id}/thread-members/{pro}")
            })
            .map(|_| ())
    })
    .await;
    let full = PIECES.concat();
    let last = shown(&fake, thread_id, &full).await;
    let calls = fake.calls();
    // The question is quoted first, then the answer's message streams.
    let thread_posts = posts(&calls, thread_id);
    assert!(thread_posts[0].content().contains("> How is my boost?"));
    let answer = &thread_posts[1];
    assert!(
        answer.content().contains("thinking"),
        "placeholder: {}",
        answer.content()
    );
    let answer_id = answer.response["id"].as_str().unwrap().to_string();
    assert!(last.path.ends_with(&answer_id));
    let edits = edits(&calls, thread_id, &answer_id);
    assert!(
        edits.len() >= 2,
        "the answer streamed in several edits: {}",
        edits.len()
    );
    // Text grows edit by edit, and no two edits of the message are less than a second apart.
    let lens: Vec<usize> = edits.iter().map(|e| e.content().len()).collect();
    assert!(
        edits
            .iter()
            .any(|e| e.content().contains("Your boost") && e.content() != full),
        "{lens:?}"
    );
    let mut times = vec![answer.at];
    times.extend(edits.iter().map(|e| e.at));
    for w in times.windows(2) {
        let gap = w[1] - w[0];
        assert!(gap >= Duration::from_millis(1000), "edits {gap:?} apart");
    }
    // The ephemeral answer to the command points at the thread.
    let pointer = fake
        .wait_for("the pointer to the thread", T, |calls| {
            calls
                .iter()
                .find(|c| {
                    c.path.contains(&token) && c.content().contains(&format!("<#{thread_id}>"))
                })
                .cloned()
        })
        .await;
    assert!(pointer.content().contains("waiting"));
    // The model got the question and the coach's tools.
    let first = &model.requests()[0].body;
    assert_eq!(
        first["messages"][0]["content"][0]["text"],
        "How is my boost?"
    );
    assert!(first["tools"].as_array().unwrap().len() >= 8);
    assert_eq!(first["stream"], true);

    // Someone else talking in the thread is not sent to the coach; the owner is.
    fake.message_text(other, thread_id, Some(GUILD_ID), "hey, me too?");
    model.push(text_answer("Speed comes from flips and boost."));
    fake.message_text(pro, thread_id, Some(GUILD_ID), "And my speed?");
    shown(&fake, thread_id, "Speed comes from flips and boost.").await;
    let requests = model.requests();
    assert_eq!(requests.len(), 2);
    let msgs = requests[1].body["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3, "question, answer, follow-up");
    assert_eq!(msgs[1]["content"][0]["text"], full);
    assert_eq!(msgs[2]["content"][0]["text"], "And my speed?");
    assert!(!requests[1].body.to_string().contains("me too"));

    // /coach usage shows the tokens charged.
    let usage = fake.slash(
        pro,
        CHANNEL,
        Some(GUILD_ID),
        "0",
        "coach",
        json!([{"name": "usage", "type": 1, "options": []}]),
        Value::Null,
    );
    let shown_usage = fake.callback("usage", &usage).await;
    let text = shown_usage.json["data"]["content"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        text.contains("150,000 tokens used") && text.contains("left"),
        "{text}"
    );
    assert_eq!(shown_usage.json["data"]["flags"], 64);
    support::assert_within_discord_limits(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_users_get_the_upsell_and_a_spent_budget_sends_nothing() {
    let fake = FakeDiscord::start().await;
    let model = FakeModel::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (free, spent) = (333, 444);
    plan_set(dir.path(), spent, "pro");
    let mut env = coach_env(&model);
    env.push(("RLCOACH_COACH_MONTHLY_TOKENS", "800".to_string()));
    let _bot = start(&fake, dir.path(), &env).await;

    let token = ask(&fake, free, CHANNEL, Some(GUILD_ID), "help");
    let c = fake.callback("the upsell", &token).await;
    let text = c.json["data"]["content"].as_str().unwrap();
    assert!(text.contains("Pro"), "{text}");
    assert_eq!(c.json["data"]["flags"], 64);
    let button = &c.json["data"]["components"][0]["components"][0];
    assert_eq!(button["url"], format!("{WEB}/billing"));
    assert_eq!(button["style"], 5);

    let token = ask(&fake, spent, CHANNEL, Some(GUILD_ID), "help");
    let c = fake.callback("the budget answer", &token).await;
    let text = c.json["data"]["content"].as_str().unwrap();
    assert!(text.contains("resets on"), "{text}");
    assert_eq!(c.json["data"]["flags"], 64);

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(model.request_count(), 0, "nothing reached the model");
    assert!(fake.threads().is_empty(), "no thread was opened");
    support::assert_within_discord_limits(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_private_threads_a_public_one_and_in_a_dm_the_dm() {
    let fake = FakeDiscord::start().await;
    let model = FakeModel::start().await;
    let dir = tempfile::tempdir().unwrap();
    let user = 555;
    plan_set(dir.path(), user, "pro");
    let _bot = start(&fake, dir.path(), &coach_env(&model)).await;
    fake.refuse_private_threads();
    model.push(text_answer("Public thread answer."));
    ask(&fake, user, CHANNEL, Some(GUILD_ID), "Thread please");
    let (thread_id, _, kind, _) = fake
        .wait_for("a thread", T, |_| fake.threads().first().cloned())
        .await;
    assert_eq!(kind, 11);
    shown(&fake, thread_id, "Public thread answer.").await;

    // In a DM, the DM is the conversation; later DM messages continue it.
    let dm = 7001;
    model.push(text_answer("DM answer."));
    let token = ask(&fake, user, dm, None, "In private?");
    shown(&fake, dm, "DM answer.").await;
    let said = fake
        .wait_for("the quoted question", T, |calls| {
            calls
                .iter()
                .find(|c| c.path.contains(&token) && c.content().contains("> In private?"))
                .cloned()
        })
        .await;
    assert!(said.content().contains("You asked"));
    model.push(text_answer("Still here."));
    fake.message_text(user, dm, None, "Thanks!");
    shown(&fake, dm, "Still here.").await;
    let last = model.requests().last().unwrap().body.clone();
    assert_eq!(last["messages"].as_array().unwrap().len(), 3);
    assert_eq!(fake.threads().len(), 1);

    // The model breaks off mid-answer: the partial text stays, marked, with a Retry button that
    // answers the same question again.
    model.push(fake_model::error_after_text(
        "Your kickoffs are",
        "overloaded_error",
        "Overloaded",
    ));
    fake.message_text(user, dm, None, "What about kickoffs?");
    let cut = fake
        .wait_for("the interrupted answer", T, |calls| {
            calls
                .iter()
                .find(|c| {
                    c.path.starts_with(&format!("/channels/{dm}/messages"))
                        && c.content().starts_with("Your kickoffs are")
                        && c.content().contains("cut off")
                })
                .cloned()
        })
        .await;
    let retry = cut.json["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(retry.starts_with("coachretry:"));
    // Someone else's click does nothing for them.
    let stranger = fake.component(999, dm, &retry, None);
    let c = fake.callback("the stranger's click", &stranger).await;
    assert!(
        c.json["data"]["content"]
            .as_str()
            .unwrap_or("")
            .contains("Pro")
    );
    model.push(text_answer("Kickoffs: go speed-flip."));
    fake.component(user, dm, &retry, None);
    shown(&fake, dm, "Kickoffs: go speed-flip.").await;
    let body = model.requests().last().unwrap().body.clone();
    let msgs = body["messages"].as_array().unwrap();
    assert_eq!(
        msgs.last().unwrap()["content"][0]["text"],
        "What about kickoffs?",
        "the retry answers the same question, without the cut-off text"
    );

    // Notes: added by the user, listed back, given to the coach in the next conversation.
    let add = fake.slash(
        user,
        dm,
        None,
        "0",
        "notes",
        json!([{"name": "add", "type": 1, "options": [
            {"name": "category", "type": 4, "value": 2},
            {"name": "text", "type": 3, "value": "Champion 2 by March"}]}]),
        Value::Null,
    );
    let c = fake.callback("the note", &add).await;
    assert!(
        c.json["data"]["content"]
            .as_str()
            .unwrap()
            .contains("Noted")
    );
    let list = fake.slash(
        user,
        dm,
        None,
        "0",
        "notes",
        json!([{"name": "list", "type": 1, "options": []}]),
        Value::Null,
    );
    let c = fake.callback("the notes", &list).await;
    assert!(
        c.json["data"]["content"]
            .as_str()
            .unwrap()
            .contains("Champion 2 by March")
    );
    support::assert_within_discord_limits(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_answer_loses_nothing_and_the_next_message_works() {
    let fake = FakeDiscord::start().await;
    let model = FakeModel::start().await;
    let dir = tempfile::tempdir().unwrap();
    let user = 666;
    plan_set(dir.path(), user, "pro");
    let env = coach_env(&model);
    let mut bot = start(&fake, dir.path(), &env).await;
    // An answer that takes long: the bot is killed while it streams.
    model.push(
        AnthropicTurn::new()
            .text_pieces(&["Let me ", "think ", "about ", "that ", "for ", "a while."])
            .end("end_turn")
            .paced(Duration::from_secs(2)),
    );
    ask(&fake, user, CHANNEL, Some(GUILD_ID), "Why do I lose?");
    let (thread_id, ..) = fake
        .wait_for("a thread", T, |_| fake.threads().first().cloned())
        .await;
    fake.wait_for("the first streamed words", T, |calls| {
        calls
            .iter()
            .find(|c| {
                c.path
                    .starts_with(&format!("/channels/{thread_id}/messages/"))
                    && c.content().contains("Let me")
            })
            .map(|_| ())
    })
    .await;
    bot.kill();
    let _bot = start(&fake, dir.path(), &env).await;
    model.push(text_answer("Back: you lose kickoffs."));
    fake.message_text(user, thread_id, Some(GUILD_ID), "Are you there?");
    shown(&fake, thread_id, "Back: you lose kickoffs.").await;
    // The conversation survived: the first question is there, joined with the new one (the
    // crashed answer was never stored), and the thread still belongs to the user.
    let body = model.requests().last().unwrap().body.clone();
    let msgs = body["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let texts: Vec<&str> = msgs[0]["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["text"].as_str())
        .collect();
    assert_eq!(texts, ["Why do I lose?", "Are you there?"]);
    support::assert_within_discord_limits(&fake);
}
