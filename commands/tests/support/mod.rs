//! Test support: the fake Discord and the real `rlcoach` binary started against it.
#![allow(dead_code)]

// The core's test helpers: replay edits, and a fresh SQLite or PostgreSQL database per test
// (`db::TestDb`, `both_backends!`; Postgres skips or fails as `skip` says).
#[path = "../../../tests/common/db.rs"]
pub mod db;
#[path = "../../../tests/common/edit.rs"]
pub mod edit;
#[path = "../../../tests/common/skip.rs"]
mod skip;
#[allow(unused_imports)]
pub use edit::distinct_copy;
#[allow(unused_imports)]
pub use skip::{REQUIRE_POSTGRES, skip_or_fail};
pub mod fake_discord;
pub mod seed;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fake_discord::FakeDiscord;

/// The real bot binary, connected to a fake Discord, with its own data directory.
pub struct Bot {
    child: Option<Child>,
    pub log: PathBuf,
}

impl Bot {
    pub async fn start(fake: &FakeDiscord, data_dir: &Path, env: &[(&str, &str)]) -> Bot {
        let before = registrations(fake);
        let log = data_dir.join(format!("bot-{}.log", fake.next_id()));
        std::fs::create_dir_all(data_dir).unwrap();
        let file = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(rlcoach_bin());
        cmd.env("DISCORD_TOKEN", "fake-token")
            .env("DISCORD_API_BASE", &fake.base)
            .env("RLCOACH_DATA_DIR", data_dir)
            // The site runs beside the bot: any free port, so tests never share one.
            .env("RLCOACH_WEB_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "info,serenity=warn")
            .env_remove("DATABASE_URL")
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("bot binary starts");
        let bot = Bot {
            child: Some(child),
            log,
        };
        // Ready when the slash commands have been registered (after READY and setup).
        let log = bot.log.clone();
        let wait = fake.wait_for(
            "the bot to register its commands",
            Duration::from_secs(60),
            |calls| {
                (calls
                    .iter()
                    .filter(|c| c.method == "PUT" && c.path.ends_with("/commands"))
                    .count()
                    > before)
                    .then_some(())
            },
        );
        if tokio::time::timeout(Duration::from_secs(61), wait)
            .await
            .is_err()
        {
            panic!(
                "bot not ready; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        bot
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, as a deploy or `docker stop` would, then wait for the exit.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        for _ in 0..300 {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        child.wait().ok().and_then(|s| s.code())
    }

    /// SIGKILL: a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Panics, listing each request and Discord's error, if the fake refused any request of this
/// test for breaking one of Discord's limits. Every end-to-end test ends with it.
pub fn assert_within_discord_limits(fake: &FakeDiscord) {
    let refused = fake.refused();
    if refused.is_empty() {
        return;
    }
    let list: Vec<String> = refused
        .iter()
        .map(|c| {
            format!(
                "{} {}\n  error: {}\n  body: {}",
                c.method,
                c.path,
                c.refused
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                short(&c.json.to_string(), 3000)
            )
        })
        .collect();
    panic!(
        "Discord would have refused {} request(s):\n{}",
        refused.len(),
        list.join("\n")
    );
}

fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max).collect();
    format!("{cut}…")
}

fn registrations(fake: &FakeDiscord) -> usize {
    fake.calls()
        .iter()
        .filter(|c| c.method == "PUT" && c.path.ends_with("/commands"))
        .count()
}

/// The `rlcoach` binary the tests run: this build's, or `RLCOACH_BIN` (e.g. a release build:
/// `RLCOACH_BIN=target/release/rlcoach cargo nextest run --test web_browser`).
pub fn rlcoach_bin() -> std::ffi::OsString {
    std::env::var_os("RLCOACH_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_rlcoach").into())
}

/// A port nobody listens on now (for a site the test starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `rlcoach <args>` on the data directory `dir` (SQLite), as an operator runs it; panics unless
/// it succeeds, returns what it printed.
pub fn operator(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(rlcoach_bin())
        .args(args)
        .env("RLCOACH_DATA_DIR", dir)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rlcoach {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn replay_fixture() -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/small-doubles.replay"),
    )
    .unwrap()
}

/// `n` copies of the in-repo fixture that intake takes for `n` different replays (each with its
/// own match GUID and sha256; see `edit::distinct_copy`), named `copy-<i>.replay`.
pub fn distinct_fixtures(n: u32) -> Vec<(String, Vec<u8>)> {
    let fixture = replay_fixture();
    (1..=n)
        .map(|i| (format!("copy-{i}.replay"), edit::distinct_copy(&fixture, i)))
        .collect()
}

/// Decodes a whole PNG (panics if invalid) and returns its size.
pub fn png_size(bytes: &[u8]) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    (info.width, info.height)
}
