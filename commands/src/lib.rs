//! The library half of the composition root: configuration from the environment, the per-user
//! rate limits and the web site, shared by the `rlcoach` binary (bot, CLI) and the site's tests
//! and benchmark.

pub mod config;
pub mod limits;
pub mod web;

/// Resolves on SIGTERM or Ctrl-C (a deploy, `docker stop`, a terminal).
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
