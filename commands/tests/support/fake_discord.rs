//! A fake Discord on 127.0.0.1 that speaks the real wire protocol: the REST routes the bot uses
//! (JSON and multipart bodies, recorded for assertions), attachment downloads from its own URLs,
//! and a websocket gateway (HELLO, IDENTIFY, READY, GUILD_CREATE, heartbeats, then whatever
//! events a test pushes). The real `rlcoach` binary is pointed at it with `DISCORD_API_BASE`.
//! Every request is checked against Discord's limits (`discord_limits`) and refused as Discord
//! refuses it; refusals are recorded so a test can assert there were none.
#![allow(dead_code)]

#[path = "discord_limits.rs"]
pub mod discord_limits;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, broadcast};
use tokio_tungstenite::tungstenite::Message as WsMessage;

pub const BOT_ID: u64 = 900_000_000_000_000_001;
pub const APP_ID: u64 = 900_000_000_000_000_001;
pub const GUILD_ID: u64 = 800_000_000_000_000_001;
pub const OWNER_ID: u64 = 700_000_000_000_000_001;

/// One REST request the bot made.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub json: Value,
    /// (file name, bytes) of multipart uploads.
    pub files: Vec<(String, Vec<u8>)>,
    /// What the fake answered (JSON routes), e.g. the id of a created message.
    pub response: Value,
    /// Discord's error body when the request broke one of its limits (and was refused).
    pub refused: Option<Value>,
    pub at: std::time::Instant,
}

impl Call {
    pub fn file(&self, name: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.as_slice())
    }
    pub fn content(&self) -> &str {
        self.json
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// The OAuth2 application the fake knows (the site is configured with these).
pub const OAUTH_CLIENT_ID: &str = "900000000000000001";
pub const OAUTH_CLIENT_SECRET: &str = "fake-client-secret";

/// What a user consented to on the fake's authorize page: who they are, their connected
/// accounts, and the PKCE challenge the site sent there.
#[derive(Debug, Clone)]
pub struct OAuthGrant {
    pub user: Value,
    pub connections: Value,
    pub code_challenge: String,
    pub redirect_uri: String,
}

#[derive(Default)]
pub struct Shared {
    calls: Mutex<Vec<Call>>,
    files: Mutex<HashMap<String, Vec<u8>>>,
    forbidden_channels: Mutex<HashSet<u64>>,
    /// Interaction tokens Discord no longer accepts (expired or revoked).
    dead_tokens: Mutex<HashSet<String>>,
    /// Users who do not accept DMs from the bot.
    closed_dms: Mutex<HashSet<u64>>,
    /// DM channel id → its recipient.
    dm_channels: Mutex<HashMap<u64, u64>>,
    /// Messages users sent (MESSAGE_CREATE payloads), served by `GET /channels/{c}/messages/{m}`.
    user_messages: Mutex<HashMap<u64, Value>>,
    /// Per channel: statuses to answer, in order, to the next edits that attach a file (the
    /// bot's results), before edits succeed again.
    result_failures: Mutex<HashMap<u64, std::collections::VecDeque<u16>>>,
    /// Per channel: how long the fake takes to answer result edits there.
    slow_channels: Mutex<HashMap<u64, Duration>>,
    /// Attachment downloads take this long (0: at once); while they do, how many run at once.
    download_delay: Mutex<Duration>,
    downloads_now: AtomicU64,
    downloads_peak: AtomicU64,
    /// Tokens of slash commands sent from now on are dead on arrival for webhook calls.
    expire_new_tokens: std::sync::atomic::AtomicBool,
    /// `attachment_size_limit` of interactions sent from now on (0: the default 25 MiB).
    next_upload_limit: AtomicU64,
    /// Interaction token → its `attachment_size_limit`.
    upload_limits: Mutex<HashMap<String, u64>>,
    /// Threads the bot opened: (id, parent, type, name).
    threads: Mutex<Vec<(u64, u64, u64, String)>>,
    /// Private threads (type 12) are refused (no permission, or the server does not allow them).
    refuse_private_threads: std::sync::atomic::AtomicBool,
    /// OAuth2: authorization codes not yet exchanged, and access tokens, to their grant.
    oauth_codes: Mutex<HashMap<String, OAuthGrant>>,
    oauth_tokens: Mutex<HashMap<String, OAuthGrant>>,
    /// App Subscription entitlements (Discord's JSON objects), served by `GET
    /// /applications/{app}/entitlements` and carried by the user's interactions.
    entitlements: Mutex<Vec<Value>>,
    ids: AtomicU64,
    changed: Notify,
    identifies: AtomicU64,
    gateway_port: AtomicU64,
    http_port: AtomicU64,
}

#[derive(Clone)]
pub struct FakeDiscord {
    shared: Arc<Shared>,
    events: broadcast::Sender<Value>,
    pub base: String,
}

impl FakeDiscord {
    pub async fn start() -> FakeDiscord {
        Self::start_on(0).await
    }

    /// Starts on a fixed port (0: any); the gateway takes any free port.
    pub async fn start_on(port: u16) -> FakeDiscord {
        let shared = Arc::new(Shared {
            ids: AtomicU64::new(100_000_000_000_000_000),
            ..Shared::default()
        });
        let (events, _) = broadcast::channel(4096);
        let http = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("port free");
        let gw = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http_port = http.local_addr().unwrap().port();
        shared
            .http_port
            .store(u64::from(http_port), Ordering::SeqCst);
        shared
            .gateway_port
            .store(u64::from(gw.local_addr().unwrap().port()), Ordering::SeqCst);
        let app = Router::new()
            .route("/files/{name}", get(serve_file))
            .route("/api/oauth2/token", axum::routing::post(oauth_token))
            .route("/api/v10/{*rest}", any(rest))
            // Bodies up to Discord's upload limits (axum's default stops at 2 MB), so files
            // over the limit reach the check and are refused as Discord refuses them.
            .layer(axum::extract::DefaultBodyLimit::max(256 << 20))
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(http, app).await.unwrap() });
        tokio::spawn(gateway(gw, shared.clone(), events.clone()));
        FakeDiscord {
            shared,
            events,
            base: format!("http://127.0.0.1:{http_port}"),
        }
    }

    /// A user consents on the authorize page: the code Discord would redirect back with.
    /// `connections` is `/users/@me/connections`'s answer (objects with type, id, name,
    /// verified); `code_challenge` and `redirect_uri` are what the site sent to the authorize URL.
    pub fn oauth_consent(
        &self,
        user_id: u64,
        username: &str,
        connections: Value,
        code_challenge: &str,
        redirect_uri: &str,
    ) -> String {
        let code = format!("code-{}", self.next_id());
        self.shared.oauth_codes.lock().unwrap().insert(
            code.clone(),
            OAuthGrant {
                user: json!({"id": user_id.to_string(), "username": username, "discriminator": "0",
                    "global_name": username, "avatar": null}),
                connections,
                code_challenge: code_challenge.to_string(),
                redirect_uri: redirect_uri.to_string(),
            },
        );
        code
    }

    pub fn next_id(&self) -> u64 {
        self.shared.ids.fetch_add(1, Ordering::SeqCst)
    }

    /// Serves `bytes` at a URL of this server; returns the attachment object for events.
    pub fn attachment(&self, name: &str, bytes: Vec<u8>) -> Value {
        let id = self.next_id();
        let key = format!("{id}-{name}");
        let url = format!("{}/files/{key}", self.base);
        let size = bytes.len();
        self.shared.files.lock().unwrap().insert(key, bytes);
        json!({"id": id.to_string(), "filename": name, "size": size, "url": url, "proxy_url": url,
               "content_type": "application/octet-stream"})
    }

    pub fn forbid_channel(&self, channel: u64) {
        self.shared
            .forbidden_channels
            .lock()
            .unwrap()
            .insert(channel);
    }

    /// From now on, webhook calls with this interaction token fail as an expired token does
    /// (401, code 50027).
    pub fn expire_token(&self, token: &str) {
        self.shared
            .dead_tokens
            .lock()
            .unwrap()
            .insert(token.to_string());
    }

    /// Slash commands sent from now on carry tokens whose webhook calls fail as expired ones do
    /// (the initial callback still works): a backlog or restart outlasting the 15 minutes.
    pub fn expire_new_tokens(&self, on: bool) {
        self.shared.expire_new_tokens.store(on, Ordering::SeqCst);
    }

    /// The next result edits in `channel` (edits attaching a file) fail with these statuses, in
    /// order (404: the status message was deleted; 5xx; 429), then succeed.
    pub fn fail_results_in(&self, channel: u64, statuses: &[u16]) {
        self.shared
            .result_failures
            .lock()
            .unwrap()
            .insert(channel, statuses.iter().copied().collect());
    }

    /// Result edits in `channel` take this long to answer (a slow upload to Discord).
    pub fn slow_results_in(&self, channel: u64, delay: Duration) {
        self.shared
            .slow_channels
            .lock()
            .unwrap()
            .insert(channel, delay);
    }

    /// Attachment downloads take `delay` each, and the most running at once is recorded.
    pub fn slow_downloads(&self, delay: Duration) {
        *self.shared.download_delay.lock().unwrap() = delay;
    }

    /// The most attachment downloads that ran at the same time (while downloads were slow).
    pub fn peak_concurrent_downloads(&self) -> u64 {
        self.shared.downloads_peak.load(Ordering::SeqCst)
    }

    /// This user does not accept DMs: messages to their DM channel fail (403, code 50007).
    /// Threads the bot opened: (id, parent channel, type, name).
    pub fn threads(&self) -> Vec<(u64, u64, u64, String)> {
        self.shared.threads.lock().unwrap().clone()
    }

    /// From now on, creating a private thread is refused with 403 Missing Permissions.
    pub fn refuse_private_threads(&self) {
        self.shared
            .refuse_private_threads
            .store(true, Ordering::SeqCst);
    }

    /// A MESSAGE_CREATE with text from `user` in `channel` (guild None = DM); returns its id.
    pub fn message_text(&self, user: u64, channel: u64, guild: Option<u64>, text: &str) -> u64 {
        self.user_message(user, channel, guild, text, Vec::new())
    }

    pub fn close_dms(&self, user: u64) {
        self.shared.closed_dms.lock().unwrap().insert(user);
    }

    /// The DM channels the bot opened with `user`.
    pub fn dm_channels_of(&self, user: u64) -> Vec<u64> {
        self.shared
            .dm_channels
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, r)| **r == user)
            .map(|(c, _)| *c)
            .collect()
    }

    /// A user entitlement to `sku` (Discord's object); `ends_at` RFC 3339, None: open-ended.
    pub fn entitlement_json(&self, user: u64, sku: u64, ends_at: Option<&str>) -> Value {
        json!({
            "id": self.next_id().to_string(), "sku_id": sku.to_string(),
            "application_id": APP_ID.to_string(), "user_id": user.to_string(), "type": 8,
            "deleted": false, "starts_at": "2026-01-01T00:00:00.000000+00:00", "ends_at": ends_at,
            "consumed": false
        })
    }

    /// Discord grants (or updates) an entitlement; `announce` sends ENTITLEMENT_CREATE (or
    /// UPDATE for a known id) to the bot, otherwise the bot only sees it in the list and in
    /// interactions (an event missed while it was down).
    pub fn grant_entitlement(&self, e: Value, announce: bool) {
        let mut list = self.shared.entitlements.lock().unwrap();
        let known = list.iter().position(|x| x["id"] == e["id"]);
        let kind = match known {
            Some(i) => {
                list[i] = e.clone();
                "ENTITLEMENT_UPDATE"
            }
            None => {
                list.push(e.clone());
                "ENTITLEMENT_CREATE"
            }
        };
        drop(list);
        if announce {
            self.dispatch(kind, e);
        }
    }

    /// Every entitlement Discord holds (deleted ones too).
    pub fn entitlements(&self) -> Vec<Value> {
        self.shared.entitlements.lock().unwrap().clone()
    }

    /// Discord deletes an entitlement (a refund); `announce` sends ENTITLEMENT_DELETE.
    pub fn delete_entitlement(&self, id: &str, announce: bool) {
        let mut list = self.shared.entitlements.lock().unwrap();
        let Some(e) = list.iter_mut().find(|x| x["id"] == id) else {
            return;
        };
        e["deleted"] = json!(true);
        let e = e.clone();
        drop(list);
        if announce {
            self.dispatch("ENTITLEMENT_DELETE", e);
        }
    }

    /// Sends a gateway dispatch to every connected bot.
    pub fn dispatch(&self, t: &str, d: Value) {
        let _ = self.events.send(json!({"t": t, "d": d}));
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap().clone()
    }

    /// The requests refused for breaking one of Discord's limits.
    pub fn refused(&self) -> Vec<Call> {
        self.shared
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.refused.is_some())
            .cloned()
            .collect()
    }

    /// Interactions sent from now on carry this `attachment_size_limit` (bytes), and files
    /// answering them beyond it are refused (413).
    pub fn set_attachment_size_limit(&self, bytes: u64) {
        self.shared.next_upload_limit.store(bytes, Ordering::SeqCst);
    }

    /// Records the upload limit of a new interaction; returns it.
    fn upload_limit_for(&self, token: &str) -> u64 {
        let limit = match self.shared.next_upload_limit.load(Ordering::SeqCst) {
            0 => discord_limits::UPLOAD_LIMIT,
            n => n,
        };
        self.shared
            .upload_limits
            .lock()
            .unwrap()
            .insert(token.to_string(), limit);
        limit
    }

    pub fn identifies(&self) -> u64 {
        self.shared.identifies.load(Ordering::SeqCst)
    }

    /// Waits until `pred` holds over the recorded calls (checked after each request).
    pub async fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut pred: impl FnMut(&[Call]) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.changed.notified();
            if let Some(t) = pred(&self.shared.calls.lock().unwrap()) {
                return t;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let calls = self.calls();
                let tail: Vec<String> = calls
                    .iter()
                    .rev()
                    .take(15)
                    .map(|c| format!("{} {} {}", c.method, c.path, c.content()))
                    .collect();
                panic!("timed out waiting for {what}; last calls: {tail:#?}");
            }
        }
    }

    /// The bot's initial response to interaction `token` (`POST …/callback`).
    pub async fn callback(&self, what: &str, token: &str) -> Call {
        self.wait_for(what, Duration::from_secs(90), |calls| {
            calls
                .iter()
                .find(|c| c.path.contains(token) && c.path.ends_with("/callback"))
                .cloned()
        })
        .await
    }

    /// A MESSAGE_CREATE from `user` in `channel` (guild None = DM) with attachments.
    pub fn message_with(
        &self,
        user: u64,
        channel: u64,
        guild: Option<u64>,
        attachments: Vec<Value>,
    ) -> u64 {
        self.user_message(user, channel, guild, "", attachments)
    }

    /// A user's MESSAGE_CREATE (kept for `GET /channels/{c}/messages/{m}`); returns its id.
    fn user_message(
        &self,
        user: u64,
        channel: u64,
        guild: Option<u64>,
        content: &str,
        attachments: Vec<Value>,
    ) -> u64 {
        let id = self.next_id();
        let mut d = json!({
            "id": id.to_string(), "channel_id": channel.to_string(), "author": user_json(user, false),
            "content": content, "timestamp": "2026-11-23T12:00:00.000000+00:00", "edited_timestamp": null,
            "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
            "attachments": attachments, "embeds": [], "pinned": false, "type": 0
        });
        if let Some(g) = guild {
            d["guild_id"] = json!(g.to_string());
            d["member"] = json!({"roles": [], "joined_at": "2026-01-01T00:00:00.000000+00:00", "deaf": false, "mute": false, "flags": 0});
        }
        self.shared
            .user_messages
            .lock()
            .unwrap()
            .insert(id, d.clone());
        self.dispatch("MESSAGE_CREATE", d);
        id
    }

    /// An INTERACTION_CREATE for a slash command; returns the interaction token.
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per field of the payload"
    )]
    pub fn slash(
        &self,
        user: u64,
        channel: u64,
        guild: Option<u64>,
        permissions: &str,
        name: &str,
        options: Value,
        resolved: Value,
    ) -> String {
        self.command_interaction(
            2,
            user,
            channel,
            guild,
            permissions,
            name,
            options,
            resolved,
        )
    }

    /// An INTERACTION_CREATE asking for autocomplete choices (type 4): `options` as for
    /// [`FakeDiscord::slash`], the option being typed marked `"focused": true`. Returns the
    /// interaction token; the choices arrive in its callback (type 8).
    pub fn autocomplete(
        &self,
        user: u64,
        channel: u64,
        guild: Option<u64>,
        name: &str,
        options: Value,
    ) -> String {
        self.command_interaction(4, user, channel, guild, "0", name, options, Value::Null)
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per field of the payload"
    )]
    fn command_interaction(
        &self,
        kind: u64,
        user: u64,
        channel: u64,
        guild: Option<u64>,
        permissions: &str,
        name: &str,
        options: Value,
        resolved: Value,
    ) -> String {
        let id = self.next_id();
        let token = format!("tok{id}");
        if self.shared.expire_new_tokens.load(Ordering::SeqCst) {
            self.expire_token(&token);
        }
        // Discord puts the user's active entitlements on every interaction.
        let owner = user.to_string();
        let entitlements: Vec<Value> = self
            .shared
            .entitlements
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["user_id"] == owner.as_str() && active(e, false))
            .cloned()
            .collect();
        let mut d = json!({
            "id": id.to_string(), "application_id": APP_ID.to_string(), "type": kind, "token": token,
            "version": 1, "locale": "en-US", "channel_id": channel.to_string(),
            "channel": {"id": channel.to_string(), "type": if guild.is_some() { 0 } else { 1 }},
            "data": {"id": "600000000000000001", "name": name, "type": 1, "options": options, "resolved": resolved},
            "entitlements": entitlements, "app_permissions": "2251799813685247", "authorizing_integration_owners": {},
            "context": if guild.is_some() { 0 } else { 1 }, "attachment_size_limit": self.upload_limit_for(&token)
        });
        if resolved.is_null() {
            d["data"].as_object_mut().unwrap().remove("resolved");
        }
        match guild {
            Some(g) => {
                d["guild_id"] = json!(g.to_string());
                d["guild_locale"] = json!("en-US");
                d["member"] = json!({"user": user_json(user, false), "roles": [], "permissions": permissions,
                    "joined_at": "2026-01-01T00:00:00.000000+00:00", "deaf": false, "mute": false, "flags": 0});
            }
            None => d["user"] = user_json(user, false),
        }
        self.dispatch("INTERACTION_CREATE", d);
        token
    }
}

impl FakeDiscord {
    /// An INTERACTION_CREATE for a button (or, with `values`, a string select) on a bot message
    /// in a DM; returns the interaction token.
    pub fn component(
        &self,
        user: u64,
        channel: u64,
        custom_id: &str,
        values: Option<Vec<String>>,
    ) -> String {
        let message = self.next_id();
        self.component_on(user, channel, message, custom_id, values)
    }

    /// A button click on the bot's message `message` (e.g. a status message with a button).
    pub fn component_on(
        &self,
        user: u64,
        channel: u64,
        message: u64,
        custom_id: &str,
        values: Option<Vec<String>>,
    ) -> String {
        let id = self.next_id();
        let token = format!("tok{id}");
        let mut message = message_json(&self.shared, message, &channel.to_string(), "", &[]);
        // The clicked message carries the component (as Discord's payload does).
        message["components"] = if values.is_some() {
            json!([{"type": 1, "components": [{"type": 3, "custom_id": custom_id, "options": []}]}])
        } else {
            json!([{"type": 1, "components": [{"type": 2, "style": 1, "label": "x", "custom_id": custom_id}]}])
        };
        let data = match values {
            Some(v) => json!({"custom_id": custom_id, "component_type": 3, "values": v}),
            None => json!({"custom_id": custom_id, "component_type": 2}),
        };
        let d = json!({
            "id": id.to_string(), "application_id": APP_ID.to_string(), "type": 3, "token": token,
            "version": 1, "locale": "en-US", "channel_id": channel.to_string(),
            "channel": {"id": channel.to_string(), "type": 1}, "user": user_json(user, false),
            "message": message, "data": data, "entitlements": [], "app_permissions": "2251799813685247",
            "authorizing_integration_owners": {}, "context": 1, "attachment_size_limit": self.upload_limit_for(&token)
        });
        self.dispatch("INTERACTION_CREATE", d);
        token
    }
}

/// Not deleted, and (when `exclude_ended`) not past its `ends_at`.
fn active(e: &Value, exclude_ended: bool) -> bool {
    use poise::serenity_prelude::Timestamp;
    let ended = e["ends_at"]
        .as_str()
        .and_then(|t| Timestamp::parse(t).ok())
        .is_some_and(|t| t.unix_timestamp() <= Timestamp::now().unix_timestamp());
    e["deleted"] != json!(true) && !(exclude_ended && ended)
}

/// `GET /applications/{app}/entitlements?after=&limit=&exclude_ended=`: ascending ids.
fn list_entitlements(s: &Shared, query: &str) -> Value {
    let param = |k: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.to_string())
    };
    let after: u64 = param("after").and_then(|v| v.parse().ok()).unwrap_or(0);
    let limit: usize = param("limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
        .clamp(1, 100);
    let exclude_ended = param("exclude_ended").as_deref() == Some("true");
    let id = |e: &Value| {
        e["id"]
            .as_str()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let mut list: Vec<Value> = s
        .entitlements
        .lock()
        .unwrap()
        .iter()
        .filter(|e| id(e) > after && active(e, exclude_ended))
        .cloned()
        .collect();
    list.sort_by_key(id);
    list.truncate(limit);
    Value::Array(list)
}

pub fn user_json(id: u64, bot: bool) -> Value {
    json!({"id": id.to_string(), "username": format!("user{}", id % 1000), "discriminator": "0",
           "global_name": null, "avatar": null, "bot": bot})
}

async fn serve_file(State(s): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    let Some(bytes) = s.files.lock().unwrap().get(&name).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let delay = *s.download_delay.lock().unwrap();
    if !delay.is_zero() {
        let now = s.downloads_now.fetch_add(1, Ordering::SeqCst) + 1;
        s.downloads_peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(delay).await;
        s.downloads_now.fetch_sub(1, Ordering::SeqCst);
    }
    bytes.into_response()
}

fn message_json(
    s: &Shared,
    id: u64,
    channel: &str,
    content: &str,
    files: &[(String, Vec<u8>)],
) -> Value {
    let attachments: Vec<Value> = files
        .iter()
        .map(|(n, b)| {
            let aid = s.ids.fetch_add(1, Ordering::SeqCst);
            json!({"id": aid.to_string(), "filename": n, "size": b.len(), "url": "http://127.0.0.1/x", "proxy_url": "http://127.0.0.1/x"})
        })
        .collect();
    json!({"id": id.to_string(), "channel_id": channel, "author": user_json(BOT_ID, true), "content": content,
           "timestamp": "2026-11-23T12:00:00.000000+00:00", "edited_timestamp": null, "tts": false,
           "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": attachments,
           "embeds": [], "pinned": false, "type": 0, "components": []})
}

async fn parse_body(headers: &HeaderMap, req: Request) -> (Value, Vec<(String, Vec<u8>)>) {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if ct.starts_with("multipart/form-data") {
        use axum::extract::FromRequest;
        let mut mp = match axum::extract::Multipart::from_request(req, &()).await {
            Ok(m) => m,
            Err(_) => return (Value::Null, Vec::new()),
        };
        let mut json = Value::Null;
        let mut files = Vec::new();
        while let Ok(Some(field)) = mp.next_field().await {
            let name = field.name().unwrap_or("").to_string();
            let file_name = field.file_name().map(str::to_string);
            let data = field.bytes().await.unwrap_or_default();
            if name == "payload_json" {
                json = serde_json::from_slice(&data).unwrap_or(Value::Null);
            } else {
                files.push((file_name.unwrap_or(name), data.to_vec()));
            }
        }
        (json, files)
    } else {
        let bytes: Bytes = axum::body::to_bytes(req.into_body(), 64 << 20)
            .await
            .unwrap_or_default();
        (
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            Vec::new(),
        )
    }
}

/// `POST /api/oauth2/token` (form-encoded): exchanges a code as Discord does, checking the
/// client's credentials, the redirect URI and the PKCE verifier against the challenge
/// (S256: base64url(sha256(verifier))).
async fn oauth_token(
    State(s): State<Arc<Shared>>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    s.calls.lock().unwrap().push(Call {
        method: "POST".into(),
        path: "/oauth2/token".into(),
        json: json!({"grant_type": field("grant_type"), "client_id": field("client_id"),
            "redirect_uri": field("redirect_uri"), "has_verifier": !field("code_verifier").is_empty()}),
        files: Vec::new(),
        response: Value::Null,
        refused: None,
        at: std::time::Instant::now(),
    });
    s.changed.notify_waiters();
    let invalid = |error: &str| {
        (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/json")],
            json!({"error": error}).to_string(),
        )
            .into_response()
    };
    if field("client_id") != OAUTH_CLIENT_ID || field("client_secret") != OAUTH_CLIENT_SECRET {
        return (
            StatusCode::UNAUTHORIZED,
            [("content-type", "application/json")],
            json!({"error": "invalid_client"}).to_string(),
        )
            .into_response();
    }
    if field("grant_type") != "authorization_code" {
        return invalid("unsupported_grant_type");
    }
    let Some(grant) = s.oauth_codes.lock().unwrap().remove(field("code")) else {
        return invalid("invalid_grant");
    };
    if grant.redirect_uri != field("redirect_uri")
        || s256(field("code_verifier")) != grant.code_challenge
    {
        return invalid("invalid_grant");
    }
    let token = format!("access-{}", s.ids.fetch_add(1, Ordering::SeqCst));
    s.oauth_tokens.lock().unwrap().insert(token.clone(), grant);
    axum::Json(
        json!({"access_token": token, "token_type": "Bearer", "expires_in": 604800,
        "refresh_token": "refresh", "scope": "identify connections"}),
    )
    .into_response()
}

fn s256(verifier: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// `GET /users/@me` and `/users/@me/connections` with a bearer token from `oauth_token`.
fn oauth_api(s: &Shared, token: &str, rest: &str) -> Response {
    let Some(grant) = s.oauth_tokens.lock().unwrap().get(token).cloned() else {
        return (
            StatusCode::UNAUTHORIZED,
            [("content-type", "application/json")],
            json!({"message": "401: Unauthorized", "code": 0}).to_string(),
        )
            .into_response();
    };
    s.calls.lock().unwrap().push(Call {
        method: "GET".into(),
        path: format!("/{rest}"),
        json: Value::Null,
        files: Vec::new(),
        response: Value::Null,
        refused: None,
        at: std::time::Instant::now(),
    });
    match rest {
        "users/@me" => axum::Json(grant.user).into_response(),
        "users/@me/connections" => axum::Json(grant.connections).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn rest(
    State(s): State<Arc<Shared>>,
    Path(rest): Path<String>,
    method: Method,
    headers: HeaderMap,
    req: Request,
) -> Response {
    // A user's OAuth2 bearer token (the web login), not the bot's.
    if let Some(token) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return oauth_api(&s, token, &rest);
    }
    let rejected =
        headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bot rejected-token");
    let query = req.uri().query().unwrap_or("").to_string();
    let (json, files) = parse_body(&headers, req).await;
    let path = format!("/{rest}");
    if !files.is_empty()
        && let Some(delay) = rest
            .split('/')
            .nth(1)
            .and_then(|c| c.parse::<u64>().ok())
            .and_then(|c| s.slow_channels.lock().unwrap().get(&c).copied())
    {
        tokio::time::sleep(delay).await;
    }
    let parts: Vec<&str> = rest.split('/').collect();
    let content = json
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    // Interaction routes answer within that interaction's upload limit.
    let upload_limit = match parts.as_slice() {
        ["interactions", _, token, ..] | ["webhooks", _, token, ..] => {
            s.upload_limits.lock().unwrap().get(*token).copied()
        }
        _ => None,
    }
    .unwrap_or(discord_limits::UPLOAD_LIMIT);
    let sizes: Vec<(String, u64)> = files
        .iter()
        .map(|(n, b)| (n.clone(), b.len() as u64))
        .collect();
    let refusal = discord_limits::check(
        method.as_str(),
        parts.as_slice(),
        &json,
        &sizes,
        upload_limit,
    );
    let resp = match (method.as_str(), parts.as_slice()) {
        _ if rejected => Unauthorized,
        ("PATCH" | "POST" | "GET" | "DELETE", ["webhooks", _, token, ..])
            if s.dead_tokens.lock().unwrap().contains(*token) =>
        {
            DeadToken
        }
        _ if refusal.is_some() => Refused(refusal.clone().expect("checked")),
        ("GET", ["gateway"]) | ("GET", ["gateway", "bot"]) => {
            let port = s.gateway_port.load(Ordering::SeqCst);
            Json(json!({"url": format!("ws://127.0.0.1:{port}"), "shards": 1,
                "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}}))
        }
        ("GET", ["users", "@me"]) => Json(user_json(BOT_ID, true)),
        ("GET", ["oauth2", "applications", "@me"]) => Json(json!({
            "id": APP_ID.to_string(), "name": "rlcoach", "icon": null, "description": "", "bot_public": true,
            "bot_require_code_grant": false, "owner": user_json(OWNER_ID, false), "verify_key": "", "flags": 0,
            "team": null})),
        ("GET", ["applications", _, "entitlements"]) => Json(list_entitlements(&s, &query)),
        ("PUT", ["applications", _, "commands"])
        | ("PUT", ["applications", _, "guilds", _, "commands"]) => Json(json!([])),
        ("POST", ["interactions", _, _, "callback"]) => Status(StatusCode::NO_CONTENT),
        ("POST", ["users", "@me", "channels"]) => {
            let recipient = json
                .get("recipient_id")
                .and_then(Value::as_str)
                .unwrap_or("1")
                .to_string();
            let id = s.ids.fetch_add(1, Ordering::SeqCst);
            if let Ok(r) = recipient.parse::<u64>() {
                s.dm_channels.lock().unwrap().insert(id, r);
            }
            Json(
                json!({"id": id.to_string(), "type": 1, "recipients": [{"id": recipient, "username": "u", "discriminator": "0", "avatar": null}]}),
            )
        }
        ("POST", ["channels", c, "messages"])
            if c.parse::<u64>().is_ok_and(|c| {
                s.dm_channels
                    .lock()
                    .unwrap()
                    .get(&c)
                    .is_some_and(|r| s.closed_dms.lock().unwrap().contains(r))
            }) =>
        {
            DmClosed
        }
        ("POST", ["channels", c, "messages"]) => {
            if c.parse::<u64>()
                .is_ok_and(|c| s.forbidden_channels.lock().unwrap().contains(&c))
            {
                Forbidden
            } else {
                let id = s.ids.fetch_add(1, Ordering::SeqCst);
                Json(message_json(&s, id, c, &content, &files))
            }
        }
        ("POST", ["channels", _, "threads"])
            if json.get("type").and_then(Value::as_u64) == Some(12)
                && s.refuse_private_threads.load(Ordering::SeqCst) =>
        {
            Forbidden
        }
        ("POST", ["channels", parent, "threads"]) => {
            let id = s.ids.fetch_add(1, Ordering::SeqCst);
            let kind = json.get("type").and_then(Value::as_u64).unwrap_or(11);
            let name = json
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            s.threads
                .lock()
                .unwrap()
                .push((id, parent.parse().unwrap_or(0), kind, name.clone()));
            Json(json!({
                "id": id.to_string(), "type": kind, "guild_id": GUILD_ID.to_string(),
                "parent_id": parent, "name": name, "owner_id": BOT_ID.to_string(),
                "last_message_id": null, "rate_limit_per_user": 0, "message_count": 0,
                "member_count": 1, "flags": 0, "total_message_sent": 0,
                "thread_metadata": {"archived": false, "auto_archive_duration": 1440,
                    "archive_timestamp": "2026-11-23T12:00:00.000000+00:00", "locked": false,
                    "invitable": false}
            }))
        }
        ("PUT", ["channels", _, "thread-members", _])
        | ("DELETE", ["channels", _, "messages", _]) => Status(StatusCode::NO_CONTENT),
        ("GET", ["channels", _, "messages", m]) => {
            match m
                .parse::<u64>()
                .ok()
                .and_then(|m| s.user_messages.lock().unwrap().get(&m).cloned())
            {
                Some(v) => Json(v),
                None => UnknownMessage,
            }
        }
        ("PATCH", ["channels", c, "messages", _])
            if !files.is_empty()
                && c.parse::<u64>().is_ok_and(|c| {
                    s.result_failures
                        .lock()
                        .unwrap()
                        .get(&c)
                        .is_some_and(|q| !q.is_empty())
                }) =>
        {
            let c: u64 = c.parse().unwrap_or_default();
            let status = s
                .result_failures
                .lock()
                .unwrap()
                .get_mut(&c)
                .and_then(|q| q.pop_front())
                .unwrap_or(500);
            match status {
                404 => UnknownMessage,
                code => Failure(code),
            }
        }
        ("PATCH", ["channels", c, "messages", m]) => Json(message_json(
            &s,
            m.parse().unwrap_or(1),
            c,
            &content,
            &files,
        )),
        ("PATCH", ["webhooks", _, _, "messages", _])
        | ("GET", ["webhooks", _, _, "messages", _])
        | ("POST", ["webhooks", _, _]) => {
            let id = s.ids.fetch_add(1, Ordering::SeqCst);
            Json(message_json(&s, id, "1", &content, &files))
        }
        ("DELETE", ["webhooks", _, _, "messages", _]) => Status(StatusCode::NO_CONTENT),
        ("POST", ["channels", _, "typing"])
        | ("PUT", ["channels", _, "messages", _, "reactions", ..]) => {
            Status(StatusCode::NO_CONTENT)
        }
        _ => Status(StatusCode::NOT_FOUND),
    };
    let response = match &resp {
        Json(v) => v.clone(),
        _ => Value::Null,
    };
    let refused = match &resp {
        Refused(r) => Some(r.body()),
        _ => None,
    };
    let call = Call {
        method: method.to_string(),
        path,
        json,
        files,
        response,
        refused,
        at: std::time::Instant::now(),
    };
    s.calls.lock().unwrap().push(call);
    s.changed.notify_waiters();
    match resp {
        Json(v) => (
            StatusCode::OK,
            [("content-type", "application/json")],
            v.to_string(),
        )
            .into_response(),
        Status(code) => code.into_response(),
        Unauthorized => (
            StatusCode::UNAUTHORIZED,
            [("content-type", "application/json")],
            json!({"message": "401: Unauthorized", "code": 0}).to_string(),
        )
            .into_response(),
        Forbidden => (
            StatusCode::FORBIDDEN,
            [("content-type", "application/json")],
            json!({"message": "Missing Permissions", "code": 50013}).to_string(),
        )
            .into_response(),
        DmClosed => (
            StatusCode::FORBIDDEN,
            [("content-type", "application/json")],
            json!({"message": "Cannot send messages to this user", "code": 50007}).to_string(),
        )
            .into_response(),
        UnknownMessage => (
            StatusCode::NOT_FOUND,
            [("content-type", "application/json")],
            json!({"message": "Unknown Message", "code": 10008}).to_string(),
        )
            .into_response(),
        Failure(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = (
                status,
                [("content-type", "application/json")],
                json!({"message": status.canonical_reason().unwrap_or("error"), "code": 0, "retry_after": 0.5, "global": false}).to_string(),
            )
                .into_response();
            if code == 429 {
                resp.headers_mut()
                    .insert("retry-after", axum::http::HeaderValue::from_static("1"));
            }
            resp
        }
        DeadToken => (
            StatusCode::UNAUTHORIZED,
            [("content-type", "application/json")],
            json!({"message": "Invalid Webhook Token", "code": 50027}).to_string(),
        )
            .into_response(),
        Refused(r) => (
            StatusCode::from_u16(r.status()).expect("a valid status"),
            [("content-type", "application/json")],
            r.body().to_string(),
        )
            .into_response(),
    }
}

enum Reply {
    Json(Value),
    Status(StatusCode),
    Forbidden,
    Unauthorized,
    DmClosed,
    DeadToken,
    UnknownMessage,
    Failure(u16),
    Refused(discord_limits::Refusal),
}
use Reply::{
    DeadToken, DmClosed, Failure, Forbidden, Json, Refused, Status, Unauthorized, UnknownMessage,
};

fn guild_create() -> Value {
    // Two halves: one json! literal this size exceeds the default macro recursion limit.
    let mut g = json!({
        "id": GUILD_ID.to_string(), "name": "Test Server", "icon": null, "splash": null, "discovery_splash": null,
        "owner_id": OWNER_ID.to_string(), "afk_channel_id": null, "afk_timeout": 300, "verification_level": 0,
        "default_message_notifications": 0, "explicit_content_filter": 0,
        "roles": [{"id": GUILD_ID.to_string(), "name": "@everyone", "color": 0, "hoist": false, "icon": null,
                   "unicode_emoji": null, "position": 0, "permissions": "1024", "managed": false, "mentionable": false, "flags": 0}],
        "emojis": [], "features": [], "mfa_level": 0, "application_id": null, "system_channel_id": null,
        "system_channel_flags": 0, "rules_channel_id": null, "vanity_url_code": null, "description": null, "banner": null
    });
    let rest = json!({
        "premium_tier": 0, "preferred_locale": "en-US", "public_updates_channel_id": null, "nsfw_level": 0,
        "stickers": [], "premium_progress_bar_enabled": false, "joined_at": "2026-01-01T00:00:00.000000+00:00",
        "large": false, "unavailable": false, "member_count": 3, "members": [], "channels": [], "threads": [],
        "presences": [], "voice_states": [], "stage_instances": [], "guild_scheduled_events": [],
        "max_members": 500000, "premium_subscription_count": 0, "max_video_channel_users": 25, "nsfw": false
    });
    if let (Some(a), Value::Object(b)) = (g.as_object_mut(), rest) {
        a.extend(b);
    }
    g
}

async fn gateway(listener: TcpListener, shared: Arc<Shared>, events: broadcast::Sender<Value>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        let mut rx = events.subscribe();
        tokio::spawn(async move {
            let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            let (mut tx, mut incoming) = ws.split();
            let mut seq = 0u64;
            let hello = json!({"op": 10, "d": {"heartbeat_interval": 41250}});
            if tx.send(WsMessage::Text(hello.to_string())).await.is_err() {
                return;
            }
            loop {
                tokio::select! {
                    msg = incoming.next() => {
                        let Some(Ok(msg)) = msg else { return };
                        let WsMessage::Text(text) = msg else { continue };
                        let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
                        match v["op"].as_u64() {
                            Some(1) => { let _ = tx.send(WsMessage::Text(json!({"op": 11}).to_string())).await; }
                            Some(2) => {
                                shared.identifies.fetch_add(1, Ordering::SeqCst);
                                seq += 1;
                                let ready = json!({"op": 0, "s": seq, "t": "READY", "d": {
                                    "v": 10, "user": user_json(BOT_ID, true), "guilds": [{"id": GUILD_ID.to_string(), "unavailable": true}],
                                    "session_id": format!("session{seq}"), "resume_gateway_url": format!("ws://127.0.0.1:{}", shared.gateway_port.load(Ordering::SeqCst)),
                                    "shard": [0, 1], "application": {"id": APP_ID.to_string(), "flags": 0}}});
                                let _ = tx.send(WsMessage::Text(ready.to_string())).await;
                                seq += 1;
                                let gc = json!({"op": 0, "s": seq, "t": "GUILD_CREATE", "d": guild_create()});
                                let _ = tx.send(WsMessage::Text(gc.to_string())).await;
                            }
                            _ => {}
                        }
                    }
                    ev = rx.recv() => {
                        let Ok(ev) = ev else { continue };
                        seq += 1;
                        let frame = json!({"op": 0, "s": seq, "t": ev["t"], "d": ev["d"]});
                        if tx.send(WsMessage::Text(frame.to_string())).await.is_err() { return; }
                    }
                }
            }
        });
    }
}
