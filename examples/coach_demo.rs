//! The coach against the fake model server, offline: prints one coaching exchange as Markdown
//! (the README shows it) and, with `--bench N`, the coach's own overhead per answer.
//!
//! `cargo run -p rlcoach --example coach_demo [-- --bench 200]`
//!
//! The model's words are scripted (there is no model here); everything else is real: the player's
//! game is analyzed from `tests/fixtures/small-doubles.replay` and stored in SQLite, the tools
//! read it through the scoped queries, the client streams the fake's SSE, and the numbers in the
//! scripted answer are the ones the tools returned.

#[path = "../tests/common/fake_model.rs"]
mod fake_model;

use std::time::{Duration, Instant};

use fake_model::{AnthropicTurn, FakeModel, text_answer};
use rlcoach::coach::{Block, Coach, CoachConfig, ModelClient, ModelConfig, Progress, Provider};
use rlcoach::jobs::{JobEvent, PoolConfig, WorkerPool};
use rlcoach::storage::{NewUpload, PlanSource, StorageConfig, Store, Tier, UserId, Viewer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bench: Option<usize> = std::env::args()
        .skip_while(|a| a != "--bench")
        .nth(1)
        .map(|n| n.parse())
        .transpose()?;
    let dir = tempfile::tempdir()?;
    let store = Store::open(&StorageConfig::sqlite_in(dir.path())).await?;
    let user = UserId::from_db(1);
    let me = Viewer::user(user);
    let pool = WorkerPool::start(store.clone(), PoolConfig::default());
    let mut events = pool.subscribe();
    pool.intake()
        .submit(
            std::fs::read("tests/fixtures/small-doubles.replay")?,
            NewUpload::by(user),
        )
        .await?;
    while !matches!(events.recv().await?, JobEvent::Finished(_)) {}
    let report = store
        .report(&me, &store.my_uploads(&me, 1).await?[0].0)
        .await?
        .ok_or("the game is not readable")?;
    store.link_identity(&me, &report.players[0].id).await?;
    store
        .set_plan(user, PlanSource::Operator, Tier::Pro, None, None)
        .await?;

    let fake = FakeModel::start().await;
    let coach = Coach::new(
        store.clone(),
        ModelClient::new(ModelConfig {
            provider: Provider::Anthropic,
            base_url: fake.base_url(),
            api_key: Some("demo".into()),
            model: "claude-sonnet-4-5".into(),
            timeout: Duration::from_secs(10),
            max_retries: 0,
        })?,
        CoachConfig {
            // The bench asks hundreds of questions; the budget is not what is measured.
            monthly_tokens: 1_000_000_000,
            ..CoachConfig::default()
        },
    );

    // The numbers the tools will return, for the scripted answer.
    let game = store.recent_games(&me, user, 1, None).await?.remove(0);
    let cmp = store.compare_with_rank(&me, user, "GC1", 20, None).await?;
    let row = |k: &str| cmp.rows.iter().find(|r| r.metric == k);
    let (bcpm, speed) = (
        row("bcpm").ok_or("bcpm")?,
        row("avg_speed_uu_s").ok_or("speed")?,
    );
    let answer = format!(
        "**{name}**, one game is a small sample, but two things stand out.\n\n\
         - **Boost: {bcpm:.0} collected per minute**, against a Grand Champion 1 median of {bm:.0} \
         ({bp25:.0}-{bp75:.0}). {boost_verdict}\n\
         - **Speed: {speed:.0} uu/s on average** (GC1 median {sm:.0}). {speed_verdict}\n\n\
         **Drill:** {drill}",
        name = game.name,
        bcpm = bcpm.value,
        bm = bcpm.reference,
        bp25 = bcpm.p25.unwrap_or(f64::NAN),
        bp75 = bcpm.p75.unwrap_or(f64::NAN),
        boost_verdict = if bcpm.better == Some(true) {
            "That's above the band: keep it."
        } else {
            "That's below the band: you're starving your rotation."
        },
        speed = speed.value,
        sm = speed.reference,
        speed_verdict = if speed.better == Some(true) {
            "You play fast."
        } else {
            "You're slower than the rank: more flips and boost into space."
        },
        drill = if speed.better == Some(true) {
            format!(
                "10 minutes of free play collecting only small pads, never dropping below half \
                 speed; next session, aim for **{:.0}+ bcpm**.",
                bcpm.reference
            )
        } else {
            format!(
                "10 minutes of free play at supersonic: flip out of every landing and wave-dash \
                 off walls, no boost below 20; next session, aim for **{:.0}+ uu/s**.",
                speed.reference
            )
        },
    );
    fake.push(
        AnthropicTurn::new()
            .thinking("Look at the games first, then compare to GC1.", "sig")
            .tool_use("recent_games", &["{\"n\": ", "10}"])
            .end("tool_use"),
    );
    fake.push(
        AnthropicTurn::new()
            .tool_use("compare_to_rank", &["{\"rank\": \"GC1\"}"])
            .end("tool_use"),
    );
    fake.push(text_answer(&answer));
    let question = "What should I work on to reach GC?";
    let conversation = coach.start(&me, None, "ask", "demo").await?;
    let mut ignore = |_: &Progress| {};
    let done = coach
        .reply(&me, &conversation.id, Some(question), &mut ignore)
        .await?;

    println!("**Player:** `/coach ask question: {question}`\n");
    for m in store.conversation_messages(&me, &conversation.id).await? {
        for b in &m.message.content {
            match b {
                Block::ToolUse { name, input, .. } => {
                    println!("*coach calls* `{name}({input})`\n");
                }
                Block::ToolResult { content, .. } => {
                    let short: String = content.chars().take(300).collect();
                    println!("*tool result* `{short}…`\n");
                }
                _ => {}
            }
        }
    }
    println!("**rlcoach coach:**\n\n{}\n", done.text);
    println!(
        "*({} model calls, {} tokens charged; thinking is not charged)*\n",
        done.calls, done.charged
    );

    if let Some(n) = bench {
        // The coach's own overhead: from `reply` to the first streamed text, with a local model
        // that answers at once (so this is our database work, HTTP and SSE parsing), and the
        // database time of the whole answer.
        let mut first = Vec::with_capacity(n);
        let mut db = Vec::with_capacity(n);
        let mut total = Vec::with_capacity(n);
        for _ in 0..n {
            fake.push(text_answer("Keep your boost above 30 and your speed up."));
            let t = Instant::now();
            let mut at: Option<Duration> = None;
            let mut on = |p: &Progress| {
                if at.is_none() && !p.text.is_empty() {
                    at = Some(t.elapsed());
                }
            };
            let conv = coach.start(&me, None, "ask", "bench").await?;
            let a = coach
                .reply(&me, &conv.id, Some("quick tip?"), &mut on)
                .await?;
            total.push(t.elapsed());
            first.push(at.unwrap_or_default());
            db.push(a.db_time);
        }
        let pct = |v: &mut Vec<Duration>, p: f64| {
            v.sort();
            let i = ((v.len() as f64 - 1.0) * p).round() as usize;
            v[i].as_secs_f64() * 1000.0
        };
        println!(
            "coach overhead over {n} answers (SQLite, local fake model answering at once):\n  \
             time to first text   p50 {:.2} ms  p95 {:.2} ms\n  \
             database time/answer p50 {:.2} ms  p95 {:.2} ms\n  \
             whole answer         p50 {:.2} ms  p95 {:.2} ms",
            pct(&mut first, 0.5),
            pct(&mut first, 0.95),
            pct(&mut db, 0.5),
            pct(&mut db, 0.95),
            pct(&mut total, 0.5),
            pct(&mut total, 0.95),
        );
    }
    pool.shutdown(Duration::from_secs(5)).await;
    Ok(())
}
