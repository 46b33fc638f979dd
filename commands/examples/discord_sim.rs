//! Try the bot without a Discord account, and benchmark it end to end.
//!
//! ```sh
//! cargo build --release && cargo run --release --example discord_sim -- ../shared/replays/0925.replay
//! cargo run --release --example discord_sim -- --bench 200 ../shared/replays/*.replay
//! ```
//!
//! Starts the fake Discord used by the end-to-end tests (REST + gateway on 127.0.0.1), launches
//! the real `rlcoach` binary built next to this example against it (`DISCORD_API_BASE`, a fresh
//! data directory), drops each file as a DM and writes what the bot answers into `sim-out/`
//! (message text and every image). With `--bench N` it drops N files from 10 users at once and
//! prints attachment-to-final-reply latency (p50/p95) and throughput.

#[path = "../tests/support/fake_discord.rs"]
mod fake_discord;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fake_discord::{Call, FakeDiscord};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut bench = None;
    let mut out = PathBuf::from("sim-out");
    const USAGE: &str = "usage: discord_sim [--bench N] [--out DIR] FILE.replay...";
    while let Some(flag) = args.first().filter(|a| a.starts_with("--")).cloned() {
        args.remove(0);
        if args.is_empty() {
            anyhow::bail!("{flag} needs a value\n{USAGE}");
        }
        let value = args.remove(0);
        match flag.as_str() {
            "--bench" => bench = Some(value.parse::<usize>()?),
            "--out" => out = PathBuf::from(value),
            other => anyhow::bail!("unknown flag {other}\n{USAGE}"),
        }
    }
    if args.is_empty() {
        anyhow::bail!(USAGE);
    }
    let files: Vec<(String, Vec<u8>)> = args
        .iter()
        .map(|p| {
            Ok((
                PathBuf::from(p)
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                std::fs::read(p)?,
            ))
        })
        .collect::<anyhow::Result<_>>()?;

    let fake = FakeDiscord::start().await;
    let exe = std::env::current_exe()?;
    let bot_path = exe
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("rlcoach"))
        .filter(|p| p.exists());
    let Some(bot_path) = bot_path else {
        anyhow::bail!(
            "build the bot first: cargo build --release (the example runs target/<profile>/rlcoach)"
        );
    };
    let data = tempfile::tempdir()?;
    let mut bot = Command::new(bot_path)
        .env("DISCORD_TOKEN", "simulated")
        .env("DISCORD_API_BASE", &fake.base)
        .env("RLCOACH_DATA_DIR", data.path())
        .env("RLCOACH_USER_BURST", "100000")
        .env("RLCOACH_USER_PER_MIN", "100000")
        .env("RLCOACH_GLOBAL_BURST", "100000")
        .env("RLCOACH_GLOBAL_PER_MIN", "100000")
        .env("RLCOACH_MAX_QUEUE", "100000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()?;
    fake.wait_for("the bot to connect", Duration::from_secs(60), |calls| {
        calls
            .iter()
            .any(|c| c.method == "PUT" && c.path.ends_with("/commands"))
            .then_some(())
    })
    .await;
    eprintln!("fake Discord at {} · bot connected", fake.base);

    let n = bench.unwrap_or(files.len());
    let mut drops = Vec::with_capacity(n);
    let t0 = Instant::now();
    for i in 0..n {
        let (name, bytes) = &files[i % files.len()];
        let user = 1000 + (i as u64 % 10);
        let channel = 50_000 + user;
        let att = fake.attachment(name, bytes.clone());
        let sent = Instant::now();
        drops.push((
            channel,
            fake.message_with(user, channel, None, vec![att]),
            sent,
            i < files.len(),
        ));
    }
    let finals = fake
        .wait_for("every drop answered", Duration::from_secs(600), |calls| {
            let got: Vec<Option<Call>> = drops
                .iter()
                .map(|(ch, m, _, _)| answer(calls, *ch, *m))
                .collect();
            got.iter()
                .all(Option::is_some)
                .then(|| got.into_iter().flatten().collect::<Vec<_>>())
        })
        .await;
    let total = t0.elapsed();
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(bot.id().to_string())
        .status();
    let _ = bot.wait();

    if bench.is_none() {
        std::fs::create_dir_all(&out)?;
        for ((_, _, _, _), call) in drops.iter().zip(&finals) {
            let name = call.path.rsplit('/').next().unwrap_or("msg").to_string();
            let text = serde_json::to_string_pretty(&call.json)?;
            std::fs::write(out.join(format!("{name}.json")), text)?;
            for (file, bytes) in &call.files {
                std::fs::write(out.join(format!("{name}-{file}")), bytes)?;
            }
            let title = call.json["embeds"][0]["title"]
                .as_str()
                .unwrap_or(call.content());
            println!("{name}: {title} ({} image(s))", call.files.len());
        }
        println!("answers written to {}", out.display());
        warn_refusals(&fake);
        return Ok(());
    }
    let mut all: Vec<Duration> = drops
        .iter()
        .zip(&finals)
        .map(|((_, _, sent, _), c)| c.at - *sent)
        .collect();
    let mut cold: Vec<Duration> = drops
        .iter()
        .zip(&finals)
        .filter(|((_, _, _, first), _)| *first)
        .map(|((_, _, sent, _), c)| c.at - *sent)
        .collect();
    let pct = |v: &mut Vec<Duration>, p: usize| {
        v.sort();
        v.get((v.len() * p / 100).min(v.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    println!("{n} drops from 10 users, {} distinct replays", files.len());
    println!(
        "attachment → final reply: p50 {:.0} ms, p95 {:.0} ms (all)",
        pct(&mut all, 50),
        pct(&mut all, 95)
    );
    println!(
        "first drop of each distinct replay (analyzed): p50 {:.0} ms, p95 {:.0} ms",
        pct(&mut cold, 50),
        pct(&mut cold, 95)
    );
    println!(
        "throughput: {:.1} replies/s ({:.2} s for all)",
        n as f64 / total.as_secs_f64(),
        total.as_secs_f64()
    );
    warn_refusals(&fake);
    Ok(())
}

/// Requests the real Discord would have refused (a limit broken), with its error.
fn warn_refusals(fake: &FakeDiscord) {
    for c in fake.refused() {
        let error = c.refused.map(|e| e.to_string()).unwrap_or_default();
        eprintln!("Discord would refuse {} {}: {error}", c.method, c.path);
    }
}

/// The final reply to a drop: the edit of its status message that carries match.png or an error.
fn answer(calls: &[Call], channel: u64, msg: u64) -> Option<Call> {
    let path = format!("/channels/{channel}/messages");
    let status = calls
        .iter()
        .find(|c| {
            c.method == "POST"
                && c.path == path
                && c.json["message_reference"]["message_id"].as_str() == Some(&msg.to_string())
        })?
        .response["id"]
        .as_str()?
        .to_string();
    calls
        .iter()
        .find(|c| {
            c.method == "PATCH"
                && c.path == format!("{path}/{status}")
                && (c.file("match.png").is_some() || c.content().starts_with('❌'))
        })
        .cloned()
}
