//! The web site: server-rendered pages over the core's scoped queries and SVG cards, with
//! Discord login. One module per page; `auth` holds sessions, cookies and CSRF, `oauth` the three
//! Discord calls of the login, `layout` the page shell.
//!
//! `rlcoach web` runs the site and the worker pool ([`run`]); `rlcoach` with no subcommand runs
//! them beside the bot (one store, one pool: [`Site::spawn`]). Every page takes the session's
//! user as the [`Viewer`](rlcoach::storage::Viewer); anything that is not the viewer's to see is
//! a 404, like a missing page.

mod assets;
pub mod auth;
mod billing;
mod coach;
mod compare;
mod error;
mod home;
mod layout;
pub mod oauth;
mod replays;
mod server;
mod sessions;
mod settings;
mod trends;
mod upload;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::{get, post};
use rlcoach::jobs::{Intake, WorkerPool};
use rlcoach::storage::Store;
use tower_http::set_header::SetResponseHeaderLayer;

pub use error::WebError;
pub use server::{ServerLimits, serve};

use crate::limits::RateLimits;

/// The site's settings (see README, "Web site").
#[derive(Clone)]
pub struct WebSettings {
    /// `RLCOACH_WEB_ADDR`, default `127.0.0.1:8080`.
    pub addr: SocketAddr,
    /// `RLCOACH_WEB_BASE`: the public URL without a trailing slash (default `http://<addr>`).
    pub base: String,
    /// Discord login; None when `DISCORD_CLIENT_ID` / `DISCORD_CLIENT_SECRET` are unset.
    pub discord: Option<oauth::DiscordOAuth>,
    /// Signs the session cookie (`RLCOACH_SESSION_KEY`).
    pub session_key: auth::SessionKey,
    pub session_ttl: Duration,
    /// The largest replay accepted (the intake's limit), and so the upload body limit.
    pub max_replay_bytes: usize,
    /// The coach's monthly token budget shown on the Coach page.
    pub coach_monthly_tokens: u64,
    /// Stripe (`STRIPE_*`); None: billing is not configured.
    pub stripe: Option<rlcoach::billing::StripeConfig>,
    /// How the Pro price reads on the site (`RLCOACH_PRO_PRICE`, default `$10 / month`); the
    /// amount charged is Stripe's price (`STRIPE_PRICE_ID`).
    pub pro_price: String,
    /// Header and idle timeouts and the connection cap (`RLCOACH_WEB_*`).
    pub server: ServerLimits,
}

impl std::fmt::Debug for WebSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSettings")
            .field("addr", &self.addr)
            .field("base", &self.base)
            .field("discord", &self.discord)
            .finish_non_exhaustive()
    }
}

impl WebSettings {
    /// Cookies get `Secure` when the site is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.base.starts_with("https://")
    }
}

/// What every handler gets. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub intake: Intake,
    pub settings: Arc<WebSettings>,
    /// For the Discord login calls (timeouts set).
    pub http: reqwest::Client,
    /// Checkout and the portal; None when billing is not configured.
    pub stripe: Option<rlcoach::billing::StripeClient>,
    /// Checkout and portal requests per user (each calls Stripe, whose API rate limit is the
    /// whole site's).
    pub billing_limits: Arc<governor::DefaultKeyedRateLimiter<i64>>,
    /// Replay files (`POST /upload`) and heavy requests per user: the bot's limits, and its
    /// very buckets when both run in one process ([`AppState::with_limits`]).
    pub limits: Arc<RateLimits>,
    /// Replay files held in memory at once (`RLCOACH_MAX_DOWNLOADS`): an upload holds a slot
    /// while a file is read and stored. The bot's download semaphore when both run in one
    /// process ([`AppState::with_replay_slots`]).
    pub replay_slots: Arc<tokio::sync::Semaphore>,
    /// The replay slots each user holds (at most [`upload::SLOTS_PER_USER`]).
    pub user_slots: Arc<upload::UserSlots>,
}

impl AppState {
    pub fn new(store: Store, intake: Intake, settings: WebSettings) -> anyhow::Result<AppState> {
        let stripe = match &settings.stripe {
            Some(c) => Some(
                rlcoach::billing::StripeClient::new(c.clone())
                    .context("cannot build the HTTP client for Stripe")?,
            ),
            None => None,
        };
        Ok(AppState {
            stripe,
            billing_limits: Arc::new(governor::RateLimiter::keyed(billing::QUOTA)),
            store,
            intake,
            settings: Arc::new(settings),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .context("cannot build the HTTP client for Discord login")?,
            limits: Arc::new(RateLimits::from_env()),
            replay_slots: Arc::new(tokio::sync::Semaphore::new(crate::config::max_downloads()?)),
            user_slots: Arc::default(),
        })
    }

    /// Shares the bot's replay slots, so downloads and uploads together stay within one limit.
    pub fn with_replay_slots(self, replay_slots: Arc<tokio::sync::Semaphore>) -> AppState {
        AppState {
            replay_slots,
            ..self
        }
    }

    /// Shares these rate limits (the bot's), so a user's files count once across both.
    pub fn with_limits(self, limits: Arc<RateLimits>) -> AppState {
        AppState { limits, ..self }
    }
}

/// The largest Stripe event `POST /stripe/webhook` reads (1 MB); larger bodies are a 413.
pub const WEBHOOK_BODY_LIMIT: usize = 1 << 20;

/// Every route, with security headers, body limits and a timeout.
pub fn router(state: AppState) -> Router {
    // Uploads carry many replays; everything else is a small form.
    let upload_limit = upload::body_limit(state.settings.max_replay_bytes);
    let pages = Router::new()
        .route("/", get(home::page))
        .route("/login", get(auth::login))
        .route("/auth/callback", get(auth::callback))
        .route("/logout", post(auth::logout))
        .route("/replays", get(replays::list))
        .route("/replays/{id}", get(replays::detail))
        .route("/replays/{id}/charts/{chart}", get(replays::chart))
        .route("/replays/{id}/hide", post(replays::hide))
        .route("/replays/{id}/unhide", post(replays::unhide))
        .route("/sessions", get(sessions::page))
        .route("/trends", get(trends::page))
        .route("/trends/chart.svg", get(trends::chart))
        .route("/compare", get(compare::page))
        .route("/coach", get(coach::page))
        .route("/coach/{id}", get(coach::conversation))
        .route("/settings", get(settings::page))
        .route("/settings/profile", post(settings::profile))
        .route("/settings/unlink", post(settings::unlink))
        .route("/settings/export", post(settings::export))
        .route("/settings/delete", post(settings::delete))
        .route("/upload", get(upload::page))
        .route("/upload/status", get(upload::status))
        .route("/static/{name}", get(assets::serve))
        .route("/billing", get(billing::page))
        .route("/billing/plan", get(billing::plan))
        .route("/billing/checkout", post(billing::checkout))
        .route("/billing/portal", post(billing::portal))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024));
    // Stripe's events can be far larger than a form (an invoice with many lines, a
    // subscription with its items): refused for size, a genuine event would be lost.
    let webhook = Router::new()
        .route("/stripe/webhook", post(billing::webhook))
        .layer(axum::extract::DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT));
    let uploads = Router::new()
        .route("/upload", post(upload::submit))
        .layer(axum::extract::DefaultBodyLimit::max(upload_limit));
    pages
        .merge(webhook)
        .merge(uploads)
        .fallback(error::not_found)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                 connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; \
                 frame-ancestors 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("cache-control"),
            HeaderValue::from_static("no-store"),
        ))
        .with_state(state)
}

/// A running site: stop it with [`Site::stop`] (in-flight requests finish first).
pub struct Site {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    addr: SocketAddr,
}

impl Site {
    /// Binds the address and serves `state` until stopped; also sweeps expired sessions and
    /// deletions whose grace period ended.
    pub async fn spawn(state: AppState) -> anyhow::Result<Site> {
        let addr = state.settings.addr;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (RLCOACH_WEB_ADDR)"))?;
        let addr = listener.local_addr().unwrap_or(addr);
        tracing::info!(%addr, base = %state.settings.base, "web site listening");
        let limits = state.settings.server;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let sweeper = tokio::spawn(sweep(state.store.clone(), state.limits.clone()));
        // Its own task: a long fill never holds up the hourly sweeps.
        let fill = tokio::spawn(fill_mechanics(state.store.clone()));
        let app = router(state);
        let task = tokio::spawn(async move {
            server::serve(listener, app, limits, stopped).await;
            sweeper.abort();
            fill.abort();
        });
        Ok(Site { stop, task, addr })
    }

    /// The address it listens on (the port chosen when `RLCOACH_WEB_ADDR` says port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections and waits (up to 10 s) for requests in flight.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }
}

/// At start: stat rows stored before mechanics were counted get them from their reports.
async fn fill_mechanics(store: Store) {
    loop {
        match store.backfill_mechanics(100).await {
            Ok(0) => break,
            Ok(_) => tokio::task::yield_now().await,
            Err(e) => {
                tracing::warn!(error = %e, "mechanics backfill failed; it resumes at the next start");
                break;
            }
        }
    }
}

/// Hourly: expired sessions and used login states go, accounts whose deletion grace period ended are deleted, and
/// idle users' rate-limit buckets are forgotten.
async fn sweep(store: Store, limits: Arc<RateLimits>) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        limits.prune();
        if let Err(e) = store.sweep_web_sessions().await {
            tracing::warn!(error = %e, "web session sweep failed");
        }
        let expired = rlcoach::storage::now_ms() - (auth::OAUTH_STATE_TTL_SECS + 60) * 1000;
        if let Err(e) = store.sweep_oauth_states(expired).await {
            tracing::warn!(error = %e, "used login states sweep failed");
        }
        match store.purge_due_deletions(rlcoach::storage::now_ms()).await {
            Ok(users) if !users.is_empty() => {
                tracing::info!(
                    count = users.len(),
                    "accounts deleted after their grace period"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "deletion sweep failed"),
        }
    }
}

/// `rlcoach web`: the site and the worker pool, no Discord bot, until SIGTERM / Ctrl-C.
pub async fn run(settings: WebSettings) -> anyhow::Result<()> {
    let store = crate::config::open_store().await?;
    let pool = WorkerPool::start(store.clone(), crate::config::pool()?);
    let site = Site::spawn(AppState::new(store.clone(), pool.intake(), settings)?).await?;
    crate::shutdown_signal().await;
    tracing::info!("shutting down: the site stops, then running analyses finish or go back");
    site.stop().await;
    pool.shutdown(Duration::from_secs(20)).await;
    store.close().await;
    Ok(())
}

/// A heavy request (a chart or card render, an export, a comparison, the sessions read) takes a
/// token of the user's heavy budget: the bot's (`RLCOACH_HEAVY_PER_MIN` / `_BURST`), its very
/// buckets when both run in one process, so a page and a button cost the same. Past it: 429.
pub(crate) fn heavy(
    state: &AppState,
    user: &auth::CurrentUser,
    image: bool,
) -> Result<(), WebError> {
    state
        .limits
        .heavy(user.user().discord())
        .map_err(|wait| WebError::SlowDown { wait, image })
}

/// Renders a core card or chart as SVG off the async threads and answers it: a card the report
/// cannot support is a 404, like a missing page.
pub(crate) async fn svg_response(
    cache_control: &'static str,
    render: impl FnOnce() -> Result<rlcoach::cards::Image, rlcoach::cards::CardError> + Send + 'static,
) -> Result<axum::response::Response, WebError> {
    use axum::response::IntoResponse as _;
    let image = tokio::task::spawn_blocking(render)
        .await
        .map_err(|e| WebError::Internal(e.into()))?
        .map_err(|e| match e {
            rlcoach::cards::CardError::Unavailable(_) => WebError::NotFound,
            other => WebError::Internal(other.into()),
        })?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, cache_control),
        ],
        image.bytes,
    )
        .into_response())
}
