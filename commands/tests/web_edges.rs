//! The site against hostile clients, on the real `rlcoach web` process (`RLCOACH_BIN`, or this
//! build's binary): a client trickling its headers, and hundreds of half-sent requests under a
//! small open-file limit.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;


/// `rlcoach web` on `data`, killed when dropped.
struct Site {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Site {
    /// Starts the site with `env`; `nofile`: the process's open-file limit (`ulimit -n`).
    async fn start(data: &Path, env: &[(&str, &str)], nofile: Option<u32>) -> Site {
        let port = support::free_port();
        let log = data.join(format!("web-{port}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let mut cmd = match nofile {
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" web"))
                    .arg(support::rlcoach_bin());
                c
            }
            None => {
                let mut c = Command::new(support::rlcoach_bin());
                c.arg("web");
                c
            }
        };
        cmd.env("RLCOACH_DATA_DIR", data)
            .env("RLCOACH_WEB_ADDR", format!("127.0.0.1:{port}"))
            .env("RLCOACH_WEB_BASE", format!("http://127.0.0.1:{port}"))
            .env("RLCOACH_WORKERS", "1")
            .env("RUST_LOG", "info")
            .env_remove("DATABASE_URL")
            .env_remove("DISCORD_CLIENT_ID")
            .env_remove("DISCORD_CLIENT_SECRET")
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let site = Site {
            child: cmd.spawn().expect("rlcoach web starts"),
            port,
            log,
        };
        for i in 0.. {
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            assert!(i < 300, "the site did not start: {}", site.log_text());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        site
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// `GET path` on a new connection: the status code, within `within`.
    async fn get(&self, path: &str, within: Duration) -> Option<u16> {
        tokio::time::timeout(within, async {
            let mut s = TcpStream::connect(("127.0.0.1", self.port)).await.ok()?;
            s.write_all(
                format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .ok()?;
            let mut out = Vec::new();
            s.read_to_end(&mut out).await.ok()?;
            String::from_utf8_lossy(&out)
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .await
        .ok()
        .flatten()
    }
}

/// One connection sending a header byte every second is cut when the header timeout (2 s here)
/// runs out — it stayed open 105 s before. An idle connection that never sends is cut as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_its_headers_is_cut_at_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let site = Site::start(&data, &[("RLCOACH_WEB_HEADER_TIMEOUT_SECS", "2")], None).await;
    let trickle = async {
        let mut s = TcpStream::connect(("127.0.0.1", site.port)).await.unwrap();
        let start = Instant::now();
        let request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        for b in request {
            if s.write_all(&[*b]).await.is_err() {
                return Some(start.elapsed());
            }
            // A closed connection reads as EOF (or a reset) at once.
            let mut buf = [0u8; 256];
            if let Ok(r) = tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await {
                match r {
                    Ok(0) | Err(_) => return Some(start.elapsed()),
                    Ok(_) => {}
                }
            }
        }
        None
    };
    let silent = async {
        let mut s = TcpStream::connect(("127.0.0.1", site.port)).await.unwrap();
        let start = Instant::now();
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => Some(start.elapsed()),
            _ => None,
        }
    };
    let (trickled, silent) = tokio::join!(trickle, silent);
    let trickled = trickled.expect("the trickling connection was never closed");
    assert!(
        trickled < Duration::from_secs(6),
        "closed after {trickled:?}"
    );
    let silent = silent.expect("the silent connection was never closed");
    assert!(silent < Duration::from_secs(6), "closed after {silent:?}");
    eprintln!("trickling client cut after {trickled:?}, silent one after {silent:?}");
    assert_eq!(site.get("/", Duration::from_secs(10)).await, Some(200));
}

/// 320 half-sent requests held open against a site with a 256 open-file limit and a cap of 64
/// connections (and a header timeout far away, so only the cap can help): a new visitor still
/// gets the page at once, and the process never holds more than the cap. Before, the half-sent
/// requests took every file descriptor and new visitors waited forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_requests_do_not_lock_visitors_out() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let site = Site::start(
        &data,
        &[
            ("RLCOACH_WEB_HEADER_TIMEOUT_SECS", "120"),
            ("RLCOACH_WEB_MAX_CONNECTIONS", "64"),
        ],
        Some(256),
    )
    .await;
    let files_before = site.open_files();
    let mut held = Vec::new();
    for _ in 0..320 {
        let mut s = TcpStream::connect(("127.0.0.1", site.port)).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
            .await
            .unwrap();
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let files_held = site.open_files();
    let start = Instant::now();
    for _ in 0..3 {
        assert_eq!(
            site.get("/", Duration::from_secs(5)).await,
            Some(200),
            "a visitor is locked out; log:\n{}",
            site.log_text()
        );
    }
    eprintln!(
        "open files: {files_before} before, {files_held} with 320 half-sent requests; three visitors served in {:?}",
        start.elapsed()
    );
    assert!(
        files_held <= files_before + 64 + 2,
        "{files_held} open files (cap 64, {files_before} before)"
    );
    drop(held);
}
