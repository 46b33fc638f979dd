//! The Discord bot: wiring of serenity + poise to the core's intake, worker pool, storage and
//! cards. Handlers stay thin: parse, call the core, format.
//!
//! Start-up: config → store (migrations) → worker pool → token check (`GET /users/@me`) and
//! application id (`GET /oauth2/applications/@me`, needed to edit interaction responses) →
//! deliveries → gateway. `DISCORD_API_BASE` redirects every REST call (and so the gateway URL lookup) to
//! another server, e.g. the offline fake used by the end-to-end tests.

pub(crate) mod billing;
pub mod coach;
mod components;
mod delivery;
pub mod intake;
pub mod reply;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use poise::serenity_prelude as serenity;
use rlcoach::jobs::{Intake, WorkerPool};
use rlcoach::storage::Store;
use rlcoach_bot::shutdown_signal;

pub use intake::sid;
pub use rlcoach_bot::limits::{self, RateLimits, wait_message};

pub type Error = anyhow::Error;
pub type Context<'a> = poise::Context<'a, Data, Error>;

/// A problem the user caused or can fix; shown to them as is (ephemeral where possible).
#[derive(Debug)]
pub struct UserError(pub String);

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UserError {}

pub fn user_error(msg: impl Into<String>) -> Error {
    UserError(msg.into()).into()
}

/// Shared state: poise's user data and the delivery task's context. Cheap to clone.
#[derive(Clone)]
pub struct Data {
    pub store: Store,
    pub intake: Intake,
    pub http: Arc<serenity::Http>,
    pub download: reqwest::Client,
    pub limits: Arc<RateLimits>,
    pub settings: Arc<BotSettings>,
    pub status_locks: Arc<delivery::StatusLocks>,
    pub deliveries: Arc<delivery::Deliveries>,
    /// Attachment downloads at the same time (each holds up to the size limit in memory): the
    /// same semaphore as the site's uploads, so both doors together stay within it.
    pub downloads: Arc<tokio::sync::Semaphore>,
    /// The AI coach; None when no model is configured.
    pub coach: Option<rlcoach::coach::Coach>,
}

/// Bot settings from the environment (see README).
#[derive(Clone)]
pub struct BotSettings {
    pub token: String,
    pub api_base: Option<String>,
    pub dev_guild: Option<u64>,
    pub web_base: Option<String>,
    pub max_replay_bytes: usize,
    /// Replay files in memory at the same time, bot downloads and site uploads together
    /// (`RLCOACH_MAX_DOWNLOADS`, default 8).
    pub max_downloads: usize,
    pub shutdown_grace: Duration,
    /// The Discord SKU that makes a user Pro (`DISCORD_PRO_SKU_ID`); None: not sold on Discord.
    pub pro_sku: Option<u64>,
}

impl std::fmt::Debug for BotSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotSettings")
            .field("token", &"***")
            .field("api_base", &self.api_base)
            .field("dev_guild", &self.dev_guild)
            .field("web_base", &self.web_base)
            .field("pro_sku", &self.pro_sku)
            .finish()
    }
}

impl BotSettings {
    pub fn from_env() -> anyhow::Result<BotSettings> {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
        let token = var("DISCORD_TOKEN").ok_or_else(|| {
            anyhow::anyhow!("DISCORD_TOKEN is not set. Create a bot at https://discord.com/developers/applications and export its token (see README).")
        })?;
        let api_base = var("DISCORD_API_BASE")
            .map(|b| b.trim_end_matches('/').to_string())
            .filter(|b| b != "https://discord.com");
        let dev_guild = match var("DEV_GUILD_ID") {
            Some(g) => Some(
                g.trim()
                    .parse()
                    .with_context(|| format!("DEV_GUILD_ID={g:?} is not a guild id"))?,
            ),
            None => None,
        };
        Ok(BotSettings {
            token: token.trim().to_string(),
            api_base,
            dev_guild,
            web_base: var("RLCOACH_WEB_BASE"),
            max_replay_bytes: crate::config::pool()?.limits.max_bytes,
            max_downloads: crate::config::max_downloads()?,
            shutdown_grace: Duration::from_secs(20),
            pro_sku: match var("DISCORD_PRO_SKU_ID") {
                Some(v) => Some(
                    v.trim()
                        .parse()
                        .with_context(|| format!("DISCORD_PRO_SKU_ID={v:?} is not a SKU id"))?,
                ),
                None => None,
            },
        })
    }
}

/// Runs the bot (and the web site, when given: same store and worker pool) until SIGTERM / Ctrl-C.
pub async fn run(
    settings: BotSettings,
    web: Option<crate::web::WebSettings>,
) -> anyhow::Result<()> {
    let store = crate::config::open_store().await?;
    let pool = WorkerPool::start(store.clone(), crate::config::pool()?);

    let http = Arc::new(build_http(&settings));
    let me = http.get_current_user().await.map_err(|e| match &e {
        serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r)) if r.status_code.as_u16() == 401 => {
            anyhow::anyhow!("DISCORD_TOKEN was rejected by Discord (401 Unauthorized); check the token in the developer portal")
        }
        _ => anyhow::anyhow!("cannot reach Discord to check the token: {e}"),
    })?;
    tracing::info!(bot = %me.name, id = %me.id, "token accepted");
    // One limit on replay files held in memory, for the bot's downloads and the site's uploads.
    let replay_slots = Arc::new(tokio::sync::Semaphore::new(settings.max_downloads));
    // Interaction edits (results of /analyze) need the application id before any delivery.
    let app = http
        .get_current_application_info()
        .await
        .context("cannot read the application's info from Discord")?;
    http.set_application_id(app.id);

    let data = Data {
        store: store.clone(),
        intake: pool.intake(),
        http: http.clone(),
        download: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?,
        limits: Arc::new(RateLimits::from_env()),
        settings: Arc::new(settings.clone()),
        status_locks: Arc::default(),
        deliveries: Arc::default(),
        downloads: replay_slots.clone(),
        coach: build_coach(&store)?,
    };
    let site = match web {
        Some(w) => Some(
            crate::web::Site::spawn(
                crate::web::AppState::new(store.clone(), pool.intake(), w)?
                    .with_limits(data.limits.clone())
                    .with_replay_slots(replay_slots),
            )
            .await?,
        ),
        None => None,
    };
    // Results finished while the bot was down go out now; new ones as the pool announces them.
    let deliveries = tokio::spawn(delivery::run(data.clone(), pool.subscribe()));
    let sweeper = tokio::spawn(sweep_files(store.clone()));
    let notices = tokio::spawn(billing::past_due_notices(data.clone()));
    // Entitlements granted or revoked while the bot was down (not blocking start-up).
    let reconcile = settings.pro_sku.map(|sku| {
        let (http, store) = (http.clone(), store.clone());
        tokio::spawn(async move {
            match billing::reconcile(&http, &store, sku).await {
                Ok(users) => tracing::info!(users, "Discord entitlements reconciled"),
                Err(e) => tracing::warn!(error = %e, "cannot reconcile Discord entitlements"),
            }
        })
    });
    let coach_sweeper = data
        .coach
        .clone()
        .map(|c| tokio::spawn(sweep_reservations(c)));
    let pruner = tokio::spawn({
        let limits = data.limits.clone();
        async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                limits.prune();
            }
        }
    });

    let framework_data = data.clone();
    let framework = poise::Framework::builder()
        .options(poise::FrameworkOptions {
            commands: crate::slash::all(),
            on_error: |e| Box::pin(reply::on_error(e)),
            event_handler: |fw, event| Box::pin(event_handler(fw, event)),
            initialize_owners: false,
            ..Default::default()
        })
        .setup(move |ctx, ready, framework| {
            Box::pin(async move {
                let cmds = &framework.options().commands;
                match framework_data.settings.dev_guild {
                    Some(g) => {
                        poise::builtins::register_in_guild(ctx, cmds, serenity::GuildId::new(g))
                            .await?
                    }
                    None => poise::builtins::register_globally(ctx, cmds).await?,
                }
                tracing::info!(
                    guilds = ready.guilds.len(),
                    "ready; slash commands registered"
                );
                Ok(framework_data)
            })
        })
        .build();

    let intents = serenity::GatewayIntents::GUILDS
        | serenity::GatewayIntents::GUILD_MESSAGES
        | serenity::GatewayIntents::DIRECT_MESSAGES
        | serenity::GatewayIntents::MESSAGE_CONTENT;
    let mut client = serenity::ClientBuilder::new_with_http(build_http(&settings), intents)
        .framework(framework)
        .await
        .context("cannot build the Discord client")?;
    let shards = client.shard_manager.clone();
    let health = tokio::spawn(write_health(
        shards.clone(),
        store.data_dir().join("health"),
    ));

    let outcome = tokio::select! {
        r = client.start() => r.context("Discord gateway connection failed"),
        _ = shutdown_signal() => {
            tracing::info!("shutting down: finishing or requeueing running analyses");
            Ok(())
        }
    };
    // The site stops taking uploads, then workers stop: closing the gateway can take seconds,
    // and a job claimed in that time would be analyzed for nothing (or its answer cut off).
    if let Some(site) = site {
        site.stop().await;
    }
    pool.shutdown(settings.shutdown_grace).await;
    health.abort();
    shards.shutdown_all().await;
    deliveries.abort();
    sweeper.abort();
    notices.abort();
    if let Some(r) = reconcile {
        r.abort();
    }
    if let Some(s) = coach_sweeper {
        s.abort();
    }
    pruner.abort();
    store.close().await;
    outcome
}

/// A REST client; with `DISCORD_API_BASE` every route goes to that server instead. The proxy is
/// only honoured with serenity's rate limiter off (the fake server does not rate limit); against
/// the real Discord the rate limiter stays on.
fn build_http(settings: &BotSettings) -> serenity::Http {
    let mut http = serenity::HttpBuilder::new(&settings.token);
    if let Some(base) = &settings.api_base {
        http = http.proxy(base.clone()).ratelimiter_disabled(true);
    }
    http.build()
}

/// At start-up and then hourly, removes replay files no row references (left by a crash between
/// writing a file and committing its row, or a failed deletion). Files younger than ten minutes
/// are never touched, so a submit in progress is safe.
async fn sweep_files(store: Store) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match store.sweep_orphan_files(Duration::from_secs(600)).await {
            Ok(r) if r.removed > 0 => tracing::info!(
                removed = r.removed,
                kept = r.kept,
                "orphan replay files removed"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "orphan file sweep failed"),
        }
    }
}

/// The coach from the environment (None without a model: `/coach` then says so).
fn build_coach(store: &Store) -> anyhow::Result<Option<rlcoach::coach::Coach>> {
    let Some((model, limits)) = crate::config::coach()? else {
        tracing::info!(
            "coach: no model configured (ANTHROPIC_API_KEY or RLCOACH_COACH_PROVIDER=openai)"
        );
        return Ok(None);
    };
    tracing::info!(
        provider = ?model.provider,
        model = %model.model,
        base = %rlcoach::storage::redact(&model.base_url),
        "coach: model configured"
    );
    let client =
        rlcoach::coach::ModelClient::new(model).context("cannot build the coach's model client")?;
    Ok(Some(rlcoach::coach::Coach::new(
        store.clone(),
        client,
        limits,
    )))
}

/// Every minute, releases token reservations left by calls that crashed or hung.
async fn sweep_reservations(coach: rlcoach::coach::Coach) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        match coach.sweep().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(released = n, "stale coach reservations released"),
            Err(e) => tracing::warn!(error = %e, "coach reservation sweep failed"),
        }
    }
}

/// Every 15 s, while a gateway shard is connected, touches `<data>/health` with the time; the
/// `rlcoach health` subcommand (the Docker healthcheck) checks it is fresh.
async fn write_health(shards: Arc<serenity::ShardManager>, path: std::path::PathBuf) {
    let mut tick = tokio::time::interval(Duration::from_secs(15));
    loop {
        tick.tick().await;
        let connected = shards
            .runners
            .lock()
            .await
            .values()
            .any(|r| r.stage == serenity::ConnectionStage::Connected);
        if connected {
            let _ = tokio::fs::write(&path, rlcoach::storage::now_ms().to_string()).await;
        }
    }
}

/// Exit 0 when the running bot reported a connected gateway in the last 60 s.
pub fn health_check(data_dir: &std::path::Path) -> bool {
    std::fs::read_to_string(data_dir.join("health"))
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .is_some_and(|t| rlcoach::storage::now_ms() - t < 60_000)
}

async fn event_handler(
    fw: poise::FrameworkContext<'_, Data, Error>,
    event: &serenity::FullEvent,
) -> Result<(), Error> {
    let data = fw.user_data;
    match event {
        serenity::FullEvent::Message { new_message } => {
            intake::on_message(fw.serenity_context, data, new_message).await?;
            coach::on_message(data, new_message).await
        }
        serenity::FullEvent::EntitlementCreate { entitlement } => {
            billing::on_entitlement(data, entitlement, billing::EntitlementEvent::Create).await;
            Ok(())
        }
        serenity::FullEvent::EntitlementUpdate { entitlement } => {
            billing::on_entitlement(data, entitlement, billing::EntitlementEvent::Update).await;
            Ok(())
        }
        serenity::FullEvent::EntitlementDelete { entitlement } => {
            billing::on_entitlement(data, entitlement, billing::EntitlementEvent::Delete).await;
            Ok(())
        }
        serenity::FullEvent::InteractionCreate { interaction } => {
            if let serenity::Interaction::Component(c) = interaction {
                components::on_component(fw.serenity_context, data, c).await?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
