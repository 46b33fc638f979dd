//! The web site in process (`tower::ServiceExt::oneshot` on the real router): every route, the
//! Discord login against the fake Discord's OAuth2 endpoints, sessions and CSRF, privacy
//! (another user's replay, conversation or export is "not found") and the upload rate limit.
//! Each test runs twice, on a fresh SQLite database and on a fresh PostgreSQL database
//! (`both_backends!`; see `RLCOACH_TEST_POSTGRES` / `RLCOACH_REQUIRE_POSTGRES` in the README).

#[path = "../../tests/common/fake_stripe.rs"]
mod fake_stripe;
mod support;

// `both_backends!` (declared in the core's tests/common/db.rs) names its database helper
// `common::db::TestDb`.
use support as common;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use futures_util::StreamExt as _;
use governor::Quota;
use rlcoach::Report;
use rlcoach::jobs::{Intake, JobEvent, PoolConfig, WorkerPool};
use rlcoach::report::PlayerId;
use rlcoach::storage::{NewUpload, Store, UploadQuota, UserId, Viewer};
use rlcoach_bot::limits::RateLimits;
use rlcoach_bot::web::auth::SessionKey;
use rlcoach_bot::web::oauth::DiscordOAuth;
use rlcoach_bot::web::{self, AppState, WebSettings};
use serde_json::{Value, json};
use support::fake_discord::{FakeDiscord, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET};
use tower::ServiceExt as _;

const BASE: &str = "http://rlcoach.test";
const WEBHOOK_SECRET: &str = "whsec_test_secret";
const ME: u64 = 111_000_000_000_000_001;
const OTHER: u64 = 222_000_000_000_000_002;
const MY_STEAM: &str = "76561198000000001";

struct TestSite {
    app: Router,
    store: Store,
    key: SessionKey,
    fake: FakeDiscord,
    stripe: fake_stripe::FakeStripe,
    pool: Option<WorkerPool>,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// `name=value` of a Set-Cookie for `name`.
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(|c| c.split(';').next().unwrap_or("").to_string())
    }
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn uid(id: u64) -> UserId {
    UserId::from_discord(id)
}

fn steam(id: &str) -> PlayerId {
    PlayerId {
        platform: "steam".into(),
        id: id.into(),
    }
}

impl TestSite {
    /// A site over `store` (a fresh database: SQLite or PostgreSQL, see `both_backends!`) with
    /// billing against the fake Stripe; `workers` starts the worker pool (uploads), otherwise
    /// games are seeded with the fake analyses of `support::seed`.
    async fn on(store: Store, workers: bool) -> TestSite {
        Self::on_with(store, workers, true).await
    }

    /// `billing`: Stripe configured (against the fake Stripe), or not at all. The bot's file
    /// limits (20 a minute, 10 at once); heavy requests as many as a test that opens every page
    /// needs (the heavy-limit test sets its own, [`TestSite::on_limits`]).
    async fn on_with(store: Store, workers: bool, billing: bool) -> TestSite {
        let limits = RateLimits::new(
            Quota::per_minute(nz(20)).allow_burst(nz(10)),
            Quota::per_minute(nz(600)).allow_burst(nz(600)),
        );
        Self::on_full(store, workers, billing, Arc::new(limits), None, None).await
    }

    /// A site whose per-user limits are `limits` (the bot's, when a test plays both doors).
    async fn on_limits(store: Store, limits: Arc<RateLimits>) -> TestSite {
        Self::on_full(store, false, true, limits, None, None).await
    }

    /// A site with these per-user limits and this daily upload quota.
    async fn on_quota(store: Store, limits: Arc<RateLimits>, quota: UploadQuota) -> TestSite {
        Self::on_full(store, false, true, limits, None, Some(quota)).await
    }

    /// A site whose replay slots are `slots` (the bot's download semaphore).
    async fn on_slots(store: Store, slots: Arc<tokio::sync::Semaphore>) -> TestSite {
        let limits = RateLimits::new(
            Quota::per_minute(nz(20)).allow_burst(nz(10)),
            Quota::per_minute(nz(600)).allow_burst(nz(600)),
        );
        Self::on_full(store, false, true, Arc::new(limits), Some(slots), None).await
    }

    async fn on_full(
        store: Store,
        workers: bool,
        billing: bool,
        limits: Arc<RateLimits>,
        slots: Option<Arc<tokio::sync::Semaphore>>,
        quota: Option<UploadQuota>,
    ) -> TestSite {
        let config = PoolConfig {
            workers: 2,
            poll: Duration::from_millis(100),
            quota: quota.unwrap_or_default(),
            ..PoolConfig::default()
        };
        let (intake, pool) = if workers {
            let pool = WorkerPool::start(store.clone(), config);
            (pool.intake(), Some(pool))
        } else {
            (Intake::new(store.clone(), config), None)
        };
        let fake = FakeDiscord::start().await;
        let stripe = fake_stripe::FakeStripe::start().await;
        let key = SessionKey::random();
        let settings = WebSettings {
            addr: "127.0.0.1:0".parse().unwrap(),
            base: BASE.into(),
            discord: Some(DiscordOAuth {
                client_id: OAUTH_CLIENT_ID.into(),
                client_secret: OAUTH_CLIENT_SECRET.into(),
                base: fake.base.clone(),
            }),
            session_key: key.clone(),
            session_ttl: Duration::from_secs(3600),
            max_replay_bytes: 5 * 1024 * 1024,
            coach_monthly_tokens: 150_000,
            stripe: billing.then(|| rlcoach::billing::StripeConfig {
                secret_key: rlcoach::billing::Secret::new(fake_stripe::SECRET_KEY),
                webhook_secret: rlcoach::billing::Secret::new(WEBHOOK_SECRET),
                price_id: fake_stripe::PRICE.into(),
                api_base: stripe.base.clone(),
            }),
            pro_price: "$10 / month".into(),
            server: Default::default(),
        };
        let mut state = AppState::new(store.clone(), intake, settings)
            .unwrap()
            .with_limits(limits);
        if let Some(slots) = slots {
            state = state.with_replay_slots(slots);
        }
        let app = web::router(state);
        TestSite {
            app,
            store,
            key,
            fake,
            stripe,
            pool,
        }
    }

    async fn send(&self, req: Request<Body>) -> Page {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20)
            .await
            .unwrap();
        Page {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Page {
        let mut req = Request::get(path);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    async fn post(&self, path: &str, cookie: &str, origin: Option<&str>, form: &str) -> Page {
        let mut req = Request::post(path)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(o) = origin {
            req = req.header(header::ORIGIN, o);
        }
        self.send(req.body(Body::from(form.to_string())).unwrap())
            .await
    }

    /// A logged-in browser of `user`: the session row and its signed cookie, and the CSRF token.
    async fn login_as(&self, user: u64) -> (String, String) {
        let s = self
            .store
            .create_web_session(uid(user), 3_600_000)
            .await
            .unwrap();
        (
            format!("rlcoach_session={}", self.key.session_cookie_value(&s)),
            s.csrf_token,
        )
    }
}

/// The fixture's analysis, as `k`-th game: `me` is player 0 (blue), dates an hour apart.
fn game(base: &Report, k: usize, me: &PlayerId, won: bool) -> Report {
    let mut r = base.clone();
    r.players[0].id = me.clone();
    r.players[0].name = "Me".into();
    r.players[0].team = 0;
    for (i, p) in r.players.iter_mut().enumerate().skip(1) {
        p.id = PlayerId {
            platform: "epic".into(),
            id: format!("{:032x}", 1000 * k + i),
        };
    }
    r.metadata.score = if won { [3, 1] } else { [1, 2] };
    r.metadata.started_at_unix = Some(1_767_225_600 + k as i64 * 3600);
    r
}

/// `n` games of `uploader` with `me` in them (every third lost), linked (claimed) to the
/// uploader; returns the replay ids, oldest first.
async fn seed(site: &TestSite, uploader: u64, me: &PlayerId, n: usize, first: u32) -> Vec<String> {
    let fixture = support::replay_fixture();
    let base = rlcoach::analyze(&fixture, &rlcoach::Limits::default()).unwrap();
    let seeder = support::seed::Seeder::on(site.store.clone(), &fixture);
    let mut ids = Vec::new();
    for k in 0..n {
        let upload = NewUpload {
            file_name: Some(format!("game-{k}.replay")),
            ..NewUpload::by(uid(uploader))
        };
        ids.push(
            seeder
                .add(first + k as u32, upload, game(&base, k, me, k % 3 != 2))
                .await,
        );
    }
    site.store
        .link_identity(&Viewer::user(uid(uploader)), me)
        .await
        .unwrap();
    ids
}

const PAGES: [&str; 9] = [
    "/",
    "/replays",
    "/sessions",
    "/trends",
    "/compare",
    "/coach",
    "/settings",
    "/upload",
    "/billing",
];

both_backends!(
    visitors_get_the_login_and_pages_send_them_to_it,
    |db: &common::db::TestDb| visitors_get_the_login_and_pages_send_them_to_it(db.store.clone())
);

async fn visitors_get_the_login_and_pages_send_them_to_it(store: Store) {
    let site = TestSite::on(store, false).await;
    let home = site.get("/", None).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Log in with Discord"), "{}", home.body);
    let csp = home.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"));
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(home.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(home.headers[header::REFERRER_POLICY], "same-origin");
    assert!(!home.body.contains("<script>"), "no inline script");
    for path in PAGES.iter().skip(1).chain(&["/replays/abc", "/coach/abc"]) {
        let p = site.get(path, None).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(p.location(), "/login", "{path}");
    }
    // A forged signature is no session; nor is an expired one.
    let (cookie, _) = site.login_as(ME).await;
    // Change the signature's last character (to one it is not, or the "forgery" is the cookie).
    let last = if cookie.ends_with('0') { "1" } else { "0" };
    let forged = format!("{}{last}", &cookie[..cookie.len() - 1]);
    assert_eq!(
        site.get("/replays", Some(&forged)).await.location(),
        "/login"
    );
    let s = site.store.create_web_session(uid(ME), 1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let expired = format!("rlcoach_session={}", site.key.session_cookie_value(&s));
    assert_eq!(
        site.get("/replays", Some(&expired)).await.location(),
        "/login"
    );
    assert_eq!(
        site.get("/replays", Some(&cookie)).await.status,
        StatusCode::OK
    );
    // Unknown routes are a page, not a bare 404.
    let missing = site.get("/nope", Some(&cookie)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("Not found"));
}

both_backends!(
    static_assets_have_hashed_names_and_long_cache,
    |db: &common::db::TestDb| static_assets_have_hashed_names_and_long_cache(db.store.clone())
);

async fn static_assets_have_hashed_names_and_long_cache(store: Store) {
    let site = TestSite::on(store, false).await;
    let home = site.get("/", None).await;
    let css = home
        .body
        .split('"')
        .find(|s| s.starts_with("/static/app.") && s.ends_with(".css"))
        .expect("stylesheet link")
        .to_string();
    let js = home
        .body
        .split('"')
        .find(|s| s.starts_with("/static/app.") && s.ends_with(".js"))
        .expect("script link")
        .to_string();
    for (url, kind) in [(&css, "text/css"), (&js, "text/javascript")] {
        let a = site.get(url, None).await;
        assert_eq!(a.status, StatusCode::OK, "{url}");
        assert!(
            a.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        assert!(
            a.headers[header::CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
    }
    assert_eq!(
        site.get("/static/app.000000000000.css", None).await.status,
        StatusCode::NOT_FOUND
    );
}

/// Goes through `/login` and the fake's consent; returns the callback's page.
async fn oauth_login(site: &TestSite, user: u64, connections: Value) -> Page {
    let login = site.get("/login", None).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    let url = login.location().to_string();
    assert!(
        url.starts_with(&format!("{}/oauth2/authorize?", site.fake.base)),
        "{url}"
    );
    let q = query(&url);
    assert_eq!(q["client_id"], OAUTH_CLIENT_ID);
    assert_eq!(q["scope"], "identify connections");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["redirect_uri"], format!("{BASE}/auth/callback"));
    let oauth_cookie = login.cookie("rlcoach_oauth").expect("state cookie");
    let code = site.fake.oauth_consent(
        user,
        "me",
        connections,
        &q["code_challenge"],
        &q["redirect_uri"],
    );
    site.get(
        &format!("/auth/callback?code={code}&state={}", q["state"]),
        Some(&oauth_cookie),
    )
    .await
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    url.split_once('?')
        .map_or("", |x| x.1)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), pct_decode(v)))
        .collect()
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() + 1 {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

both_backends!(
    discord_login_verifies_the_connected_accounts_seen_in_replays,
    |db: &common::db::TestDb| discord_login_verifies_the_connected_accounts_seen_in_replays(
        db.store.clone()
    )
);

async fn discord_login_verifies_the_connected_accounts_seen_in_replays(store: Store) {
    let site = TestSite::on(store, false).await;
    // A team-mate, verified as his own player of it, uploaded a game I played in, as Steam
    // MY_STEAM (a verified player's upload counts for the match's other verified players).
    let ids = seed(&site, OTHER, &steam(MY_STEAM), 1, 1).await;
    let other = Viewer::user(uid(OTHER));
    let seeded = site.store.report(&other, &ids[0]).await.unwrap().unwrap();
    let mate = seeded
        .players
        .iter()
        .find(|p| p.id != steam(MY_STEAM))
        .unwrap()
        .id
        .clone();
    assert_eq!(
        site.store.verify_identity(&other, &mate).await.unwrap(),
        rlcoach::storage::VerifyOutcome::Verified
    );
    // A stranger's upload of a game naming my Steam id proves nothing.
    let forged = seed(&site, 333, &steam(MY_STEAM), 1, 2).await;
    // I once uploaded a game I played with that team-mate (so his uploads may add to mine).
    let own = seed(&site, ME, &steam(MY_STEAM), 1, 3).await;
    let before = site.login_as(ME).await.0;
    assert_eq!(own.len(), 1);
    assert_eq!(
        site.get(&format!("/replays/{}", ids[0]), Some(&before))
            .await
            .status,
        StatusCode::NOT_FOUND,
        "not mine yet"
    );
    let connections = json!([
        {"type": "steam", "id": MY_STEAM, "name": "me", "verified": true},
        {"type": "epicgames", "id": "abcdef0123456789abcdef0123456789", "name": "me", "verified": true},
        {"type": "twitch", "id": "123", "name": "me", "verified": true}
    ]);
    let done = oauth_login(&site, ME, connections).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/");
    let cookie = done.cookie("rlcoach_session").expect("session cookie");
    let set = done
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert!(
        set.iter().any(|c| c.starts_with("rlcoach_session=")
            && c.contains("HttpOnly")
            && c.contains("SameSite=Lax")
            && !c.contains("Secure")),
        "{set:?}"
    );
    // The token exchange carried the PKCE verifier, and the fake checked it.
    let token_call = site
        .fake
        .calls()
        .into_iter()
        .find(|c| c.path == "/oauth2/token")
        .unwrap();
    assert_eq!(token_call.json["has_verifier"], true);
    let links = site.store.identities(&Viewer::user(uid(ME))).await.unwrap();
    assert!(
        links.iter().any(
            |l| l.player == steam(MY_STEAM) && l.state == rlcoach::storage::LinkState::Verified
        ),
        "{links:?}"
    );
    let settings = site.get("/settings", Some(&cookie)).await;
    assert!(settings.body.contains("verified"), "{}", settings.body);
    let detail = site
        .get(&format!("/replays/{}", ids[0]), Some(&cookie))
        .await;
    assert_eq!(
        detail.status,
        StatusCode::OK,
        "verified players see their games"
    );
    assert!(detail.body.contains("Blue 3 – 1 Orange"), "{}", detail.body);
    assert_eq!(
        site.get(&format!("/replays/{}", forged[0]), Some(&cookie))
            .await
            .status,
        StatusCode::NOT_FOUND,
        "a stranger's file naming me is not mine"
    );
}

both_backends!(
    a_login_without_game_accounts_works_and_says_how_to_verify,
    |db: &common::db::TestDb| a_login_without_game_accounts_works_and_says_how_to_verify(
        db.store.clone()
    )
);

async fn a_login_without_game_accounts_works_and_says_how_to_verify(store: Store) {
    let site = TestSite::on(store, false).await;
    let done = oauth_login(&site, ME, json!([])).await;
    let cookie = done.cookie("rlcoach_session").expect("session cookie");
    let settings = site.get("/settings", Some(&cookie)).await;
    assert_eq!(settings.status, StatusCode::OK);
    assert!(settings.body.contains("No players linked yet"));
    assert!(settings.body.contains("Connections"));
}

both_backends!(failed_logins_open_no_session, |db: &common::db::TestDb| {
    failed_logins_open_no_session(db.store.clone())
});

async fn failed_logins_open_no_session(store: Store) {
    let site = TestSite::on(store, false).await;
    let login = site.get("/login", None).await;
    let oauth_cookie = login.cookie("rlcoach_oauth").unwrap();
    let q = query(login.location());
    let code = site.fake.oauth_consent(
        ME,
        "me",
        json!([]),
        &q["code_challenge"],
        &q["redirect_uri"],
    );
    // State mismatch (a forged callback).
    let p = site
        .get(
            &format!("/auth/callback?code={code}&state=forged"),
            Some(&oauth_cookie),
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.cookie("rlcoach_session").is_none());
    assert!(p.body.contains("log in again"), "{}", p.body);
    // No state cookie (another browser).
    let p = site
        .get(
            &format!("/auth/callback?code={code}&state={}", q["state"]),
            None,
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    // Denied consent.
    let p = site
        .get(
            &format!("/auth/callback?error=access_denied&state={}", q["state"]),
            Some(&oauth_cookie),
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(
        p.body.contains("didn&#39;t allow") || p.body.contains("didn't allow"),
        "{}",
        p.body
    );
    // The token exchange fails (Discord refuses the code).
    let p = site
        .get(
            &format!("/auth/callback?code=unknown&state={}", q["state"]),
            Some(&oauth_cookie),
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_GATEWAY);
    assert!(p.cookie("rlcoach_session").is_none());
    // Nothing was stored for the user either.
    let export = site
        .store
        .export_user(&Viewer::user(uid(ME)))
        .await
        .unwrap();
    assert!(export.identities.is_empty());
}

both_backends!(
    every_page_renders_for_a_seeded_user_and_others_get_404,
    |db: &common::db::TestDb| every_page_renders_for_a_seeded_user_and_others_get_404(
        db.store.clone()
    )
);

async fn every_page_renders_for_a_seeded_user_and_others_get_404(store: Store) {
    let site = TestSite::on(store, false).await;
    let ids = seed(&site, ME, &steam(MY_STEAM), 30, 1).await;
    let (cookie, _) = site.login_as(ME).await;
    for path in PAGES {
        let p = site.get(path, Some(&cookie)).await;
        assert_eq!(p.status, StatusCode::OK, "{path}: {}", p.body);
    }
    // The list: 30 games, 25 a page, newest first; filters and sorts in SQL.
    let list = site.get("/replays", Some(&cookie)).await;
    assert!(list.body.contains("30 games"), "{}", list.body);
    assert_eq!(list.body.matches("href=\"/replays/").count(), 25);
    assert!(list.body.contains(&format!("/replays/{}", ids[29])));
    let page2 = site.get("/replays?page=2", Some(&cookie)).await;
    assert_eq!(page2.body.matches("href=\"/replays/").count(), 5);
    assert!(page2.body.contains(&format!("/replays/{}", ids[0])));
    let losses = site.get("/replays?result=loss", Some(&cookie)).await;
    assert!(losses.body.contains("10 games"), "{}", losses.body);
    assert!(!losses.body.contains("class=\"win\""));
    let oldest = site
        .get(
            "/replays?sort=oldest&from=2026-01-01&to=2026-01-01",
            Some(&cookie),
        )
        .await;
    assert!(oldest.body.contains("24 games"), "{}", oldest.body);
    let first = oldest.body.find(&format!("/replays/{}", ids[0])).unwrap();
    let second = oldest.body.find(&format!("/replays/{}", ids[1])).unwrap();
    assert!(first < second);
    assert_eq!(
        site.get("/replays?from=yesterday", Some(&cookie))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        site.get("/replays?sort=evil", Some(&cookie)).await.status,
        StatusCode::BAD_REQUEST
    );
    // Detail tabs and charts.
    for tab in [
        "overview",
        "mechanics",
        "boost",
        "positioning",
        "timeline",
        "defense",
        "offense",
    ] {
        let p = site
            .get(&format!("/replays/{}?tab={tab}", ids[0]), Some(&cookie))
            .await;
        assert_eq!(p.status, StatusCode::OK, "{tab}");
    }
    for chart in ["match", "boost", "heatmap", "timeline", "movement"] {
        let p = site
            .get(
                &format!("/replays/{}/charts/{chart}.svg", ids[0]),
                Some(&cookie),
            )
            .await;
        assert_eq!(p.status, StatusCode::OK, "{chart}");
        assert!(p.body.starts_with("<svg"), "{chart}");
        assert_eq!(p.headers[header::CONTENT_TYPE], "image/svg+xml");
    }
    // Sessions: games an hour apart are separate sessions; trends per week; the chart.
    let sessions = site.get("/sessions", Some(&cookie)).await;
    assert_eq!(sessions.body.matches("<details").count(), 30);
    let trends = site
        .get(
            "/trends?metric=goals_per_game&per=week&avg=3",
            Some(&cookie),
        )
        .await;
    assert_eq!(trends.status, StatusCode::OK);
    assert!(
        trends
            .body
            .contains("/trends/chart.svg?metric=goals_per_game")
    );
    let chart = site
        .get("/trends/chart.svg?metric=goals_per_game", Some(&cookie))
        .await;
    assert!(chart.body.starts_with("<svg"), "{}", chart.body);
    assert_eq!(
        site.get("/trends?metric=nope", Some(&cookie)).await.status,
        StatusCode::BAD_REQUEST
    );
    for q in ["with=rank&rank=SSL", "with=week", "with=player&player=1"] {
        let p = site.get(&format!("/compare?{q}"), Some(&cookie)).await;
        assert!(
            p.status == StatusCode::OK || p.status == StatusCode::BAD_REQUEST,
            "{q}"
        );
    }
    // Someone else: the same ids are not found; my games are not theirs.
    let (theirs, _) = site.login_as(OTHER).await;
    assert_eq!(
        site.get(&format!("/replays/{}", ids[0]), Some(&theirs))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        site.get(
            &format!("/replays/{}/charts/match.svg", ids[0]),
            Some(&theirs)
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert!(
        site.get("/replays", Some(&theirs))
            .await
            .body
            .contains("0 games")
    );
    let private = site
        .get(&format!("/compare?with=player&player={ME}"), Some(&theirs))
        .await;
    assert_eq!(private.status, StatusCode::BAD_REQUEST, "a private profile");
}

both_backends!(
    home_sums_the_last_30_days_with_mechanics,
    |db: &common::db::TestDb| { home_sums_the_last_30_days_with_mechanics(db.store.clone()) }
);

/// Home: games of the last 30 days against the 30 before, and the mechanics counted in them
/// (summed in SQL from the stat rows); the trend chart draws the moving average asked for.
async fn home_sums_the_last_30_days_with_mechanics(store: Store) {
    let site = TestSite::on(store, false).await;
    let fixture = support::replay_fixture();
    let base = rlcoach::analyze(&fixture, &rlcoach::Limits::default()).unwrap();
    let me = steam(MY_STEAM);
    let seeder = support::seed::Seeder::on(site.store.clone(), &fixture);
    let now_s = rlcoach::storage::now_ms() / 1000;
    // Three games in the last 30 days, one in the 30 before.
    for (k, days_ago) in [1i64, 2, 3, 40].into_iter().enumerate() {
        let mut r = game(&base, k, &me, true);
        r.metadata.started_at_unix = Some(now_s - days_ago * 86_400);
        let upload = NewUpload::by(uid(ME));
        seeder.add(100 + k as u32, upload, r).await;
    }
    site.store
        .link_identity(&Viewer::user(uid(ME)), &me)
        .await
        .unwrap();
    let (cookie, _) = site.login_as(ME).await;
    let home = site.get("/", Some(&cookie)).await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.body);
    let mech = base.players[0].mechanics.as_ref().unwrap();
    assert!(home.body.contains("Mechanics"), "{}", home.body);
    assert!(
        home.body.contains("Counted in 3 games of the last 30 days"),
        "{}",
        home.body
    );
    for (label, n) in [("Flips", mech.flips), ("Aerials", mech.aerials)] {
        let tile = format!(
            "<div class=\"label\">{label}</div><div class=\"value\">{}</div>",
            3 * n
        );
        assert!(home.body.contains(&tile), "{tile} in {}", home.body);
    }
    // Games: 3 against 1 (+2).
    assert!(
        home.body
            .contains("<div class=\"label\">Games</div><div class=\"value\">3</div>"),
        "{}",
        home.body
    );
    let chart = site
        .get("/trends/chart.svg?metric=bcpm&avg=2", Some(&cookie))
        .await;
    assert_eq!(chart.status, StatusCode::OK);
    assert!(
        chart.body.contains("average of the last 2"),
        "{}",
        chart.body
    );
}

both_backends!(
    trends_average_sessions_and_weeks_in_sql,
    |db: &common::db::TestDb| { trends_average_sessions_and_weeks_in_sql(db.store.clone()) }
);

/// Per session and per week, a trend's points are averaged in SQL: the same points as grouping
/// the per-game values (30-minute gaps; weeks from Monday 00:00 UTC).
async fn trends_average_sessions_and_weeks_in_sql(store: Store) {
    use rlcoach::storage::queries::{GameFilter, TrendBucket};
    let site = TestSite::on(store, false).await;
    let fixture = support::replay_fixture();
    let base = rlcoach::analyze(&fixture, &rlcoach::Limits::default()).unwrap();
    let me = steam(MY_STEAM);
    let seeder = support::seed::Seeder::on(site.store.clone(), &fixture);
    // Monday 2026-01-05 00:00 UTC: a session of three games (10 min apart), one more in the
    // afternoon, then two games the next Monday; goals 1..=6.
    const MON: i64 = 1_767_571_200;
    let times = [
        MON + 10 * 3600,
        MON + 10 * 3600 + 600,
        MON + 10 * 3600 + 1200,
        MON + 15 * 3600,
        MON + 7 * 86_400 + 9 * 3600,
        MON + 7 * 86_400 + 9 * 3600 + 25 * 60,
    ];
    for (k, at) in times.iter().enumerate() {
        let mut r = game(&base, k, &me, true);
        r.metadata.started_at_unix = Some(*at);
        r.players[0].core.goals = k as u32 + 1;
        seeder.add(200 + k as u32, NewUpload::by(uid(ME)), r).await;
    }
    let viewer = Viewer::user(uid(ME));
    site.store.link_identity(&viewer, &me).await.unwrap();
    let series = |bucket| {
        let store = site.store.clone();
        async move {
            store
                .trend_series(
                    &viewer,
                    uid(ME),
                    "goals_per_game",
                    &GameFilter::default(),
                    bucket,
                    2_000,
                )
                .await
                .unwrap()
                .iter()
                .map(|p| (p.at, p.value, p.games))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        series(TrendBucket::Game).await,
        (0..6)
            .map(|k| (times[k] * 1000, k as f64 + 1.0, 1))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        series(TrendBucket::Session).await,
        vec![
            (times[0] * 1000, 2.0, 3),
            (times[3] * 1000, 4.0, 1),
            (times[4] * 1000, 5.5, 2),
        ]
    );
    assert_eq!(
        series(TrendBucket::Week).await,
        vec![(MON * 1000, 2.5, 4), ((MON + 7 * 86_400) * 1000, 5.5, 2)]
    );
    let (cookie, _) = site.login_as(ME).await;
    let page = site
        .get("/trends?metric=goals_per_game&per=week", Some(&cookie))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("2026-01-05 00:00"), "{}", page.body);
}

both_backends!(
    conversations_and_exports_are_the_owners_alone,
    |db: &common::db::TestDb| conversations_and_exports_are_the_owners_alone(db.store.clone())
);

async fn conversations_and_exports_are_the_owners_alone(store: Store) {
    let site = TestSite::on(store, false).await;
    let me = Viewer::user(uid(ME));
    let c = site
        .store
        .create_conversation(&me, None, "ask", "Why do I lose kickoffs?")
        .await
        .unwrap();
    site.store
        .append_messages(
            &me,
            &c.id,
            &[rlcoach::storage::NewMessage::of(
                rlcoach::coach::Message::user_text("Why do I lose kickoffs?"),
            )],
        )
        .await
        .unwrap();
    let (cookie, csrf) = site.login_as(ME).await;
    let coach = site.get("/coach", Some(&cookie)).await;
    assert!(coach.body.contains("Why do I lose kickoffs?"));
    assert!(coach.body.contains("<meter"));
    let conv = site.get(&format!("/coach/{}", c.id), Some(&cookie)).await;
    assert_eq!(conv.status, StatusCode::OK);
    let (theirs, their_csrf) = site.login_as(OTHER).await;
    assert_eq!(
        site.get(&format!("/coach/{}", c.id), Some(&theirs))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Exports are POSTs for the session's own user.
    let export = site
        .post(
            "/settings/export",
            &cookie,
            Some(BASE),
            &format!("csrf={csrf}"),
        )
        .await;
    assert_eq!(export.status, StatusCode::OK);
    let json: Value = serde_json::from_str(&export.body).unwrap();
    assert_eq!(json["user_id"], json!(uid(ME).get()));
    assert_eq!(
        json["coach"]["conversations"][0]["conversation"]["id"],
        json!(c.id)
    );
    let theirs_export = site
        .post(
            "/settings/export",
            &theirs,
            Some(BASE),
            &format!("csrf={their_csrf}"),
        )
        .await;
    let json: Value = serde_json::from_str(&theirs_export.body).unwrap();
    assert_eq!(json["coach"]["conversations"], json!([]));
}

both_backends!(
    state_changes_need_the_sessions_token_and_this_origin,
    |db: &common::db::TestDb| state_changes_need_the_sessions_token_and_this_origin(
        db.store.clone()
    )
);

async fn state_changes_need_the_sessions_token_and_this_origin(store: Store) {
    let site = TestSite::on(store, false).await;
    let (cookie, csrf) = site.login_as(ME).await;
    let (_, their_csrf) = site.login_as(OTHER).await;
    let me = Viewer::user(uid(ME));
    for (origin, token) in [
        (Some(BASE), "forged"),
        (Some(BASE), their_csrf.as_str()),
        (Some("http://evil.test"), csrf.as_str()),
        (None, csrf.as_str()),
    ] {
        let p = site
            .post(
                "/settings/profile",
                &cookie,
                origin,
                &format!("csrf={token}&public=1"),
            )
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{origin:?} {token}");
        assert!(!site.store.profile(&me, uid(ME)).await.unwrap().public);
        let p = site
            .post("/logout", &cookie, origin, &format!("csrf={token}"))
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
    }
    let p = site
        .post(
            "/settings/profile",
            &cookie,
            Some(BASE),
            &format!("csrf={csrf}&public=1"),
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(site.store.profile(&me, uid(ME)).await.unwrap().public);
    assert!(
        site.store.leaderboard_opt_out(&me).await.unwrap(),
        "the box was not ticked"
    );
    // Deletion: scheduled, every session ends, a login cancels it.
    let p = site
        .post(
            "/settings/delete",
            &cookie,
            Some(BASE),
            &format!("csrf={csrf}&confirm=1"),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(site.store.deletion_due(&me).await.unwrap().is_some());
    assert_eq!(
        site.get("/settings", Some(&cookie)).await.location(),
        "/login"
    );
    let (again, _) = site.login_as(ME).await;
    assert!(site.store.deletion_due(&me).await.unwrap().is_none());
    // Logout ends the session.
    let csrf2 = site
        .store
        .web_session(again.split_once('=').unwrap().1.rsplit_once('.').unwrap().0)
        .await
        .unwrap()
        .unwrap()
        .csrf_token;
    let p = site
        .post("/logout", &again, Some(BASE), &format!("csrf={csrf2}"))
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(
        site.get("/settings", Some(&again)).await.location(),
        "/login"
    );
}

fn multipart(csrf: &str, files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "XrlcoachBoundaryX";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n")
            .as_bytes(),
    );
    for (name, bytes) in files {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"replays\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

both_backends!(
    uploads_go_through_the_intake_and_report_their_status,
    |db: &common::db::TestDb| uploads_go_through_the_intake_and_report_their_status(
        db.store.clone()
    )
);

async fn uploads_go_through_the_intake_and_report_their_status(store: Store) {
    let site = TestSite::on(store, true).await;
    let (cookie, csrf) = site.login_as(ME).await;
    let mut events = site.pool.as_ref().unwrap().subscribe();
    let good = support::distinct_copy(&support::replay_fixture(), 1);
    let (ct, body) = multipart(
        &csrf,
        &[
            ("mine.replay", &good),
            ("notes.txt", b"hello"),
            ("broken.replay", b"not a replay"),
        ],
    );
    let req = Request::post("/upload")
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, BASE)
        .header(header::ACCEPT, "application/json")
        .header(header::CONTENT_TYPE, ct)
        .body(Body::from(body))
        .unwrap();
    let p = site.send(req).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let res: Value = serde_json::from_str(&p.body).unwrap();
    assert_eq!(res["accepted"].as_array().unwrap().len(), 1, "{res}");
    // A form with no file in it (a script, a broken form) is told so, not an empty success.
    let (ct, body) = multipart(&csrf, &[]);
    let empty = Request::post("/upload")
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, BASE)
        .header(header::CONTENT_TYPE, ct)
        .body(Body::from(body))
        .unwrap();
    let empty = site.send(empty).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert!(
        empty.body.contains("no replay in that upload"),
        "{}",
        empty.body
    );
    assert_eq!(res["refused"].as_array().unwrap().len(), 2, "{res}");
    let upload_id = res["accepted"][0]["upload_id"]
        .as_str()
        .unwrap()
        .to_string();
    let replay_id = res["accepted"][0]["replay_id"]
        .as_str()
        .unwrap()
        .to_string();
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if let Ok(JobEvent::Finished(c)) = events.recv().await
                && c.replay_id == replay_id
            {
                break;
            }
        }
    })
    .await
    .expect("analyzed");
    let status = site
        .get(&format!("/upload/status?id={upload_id}"), Some(&cookie))
        .await;
    let s: Value = serde_json::from_str(&status.body).unwrap();
    assert_eq!(s[0]["state"], "done", "{s}");
    // Someone else polling my upload learns nothing.
    let (theirs, their_csrf) = site.login_as(OTHER).await;
    let s: Value = serde_json::from_str(
        &site
            .get(&format!("/upload/status?id={upload_id}"), Some(&theirs))
            .await
            .body,
    )
    .unwrap();
    assert_eq!(s, json!([]));
    // A forged token stores nothing.
    let (ct, body) = multipart(
        "forged",
        &[(
            "again.replay",
            &support::distinct_copy(&support::replay_fixture(), 2),
        )],
    );
    let req = Request::post("/upload")
        .header(header::COOKIE, &theirs)
        .header(header::ORIGIN, BASE)
        .header(header::CONTENT_TYPE, ct)
        .body(Body::from(body))
        .unwrap();
    assert_eq!(site.send(req).await.status, StatusCode::FORBIDDEN);
    let _ = their_csrf;
    // The uploader sees the analyzed game.
    let p = site
        .get(&format!("/replays/{replay_id}"), Some(&cookie))
        .await;
    assert_eq!(p.status, StatusCode::OK);
    site.pool.unwrap().shutdown(Duration::from_secs(5)).await;
}

/// Uploads `files` as `user` (logged in as `cookie`/`csrf`) and waits until each accepted one
/// is analyzed; the replay ids accepted.
async fn upload_and_wait(
    site: &TestSite,
    user: u64,
    (cookie, csrf): (&str, &str),
    files: &[(&str, &[u8])],
) -> Vec<String> {
    let (ct, body) = multipart(csrf, files);
    let req = Request::post("/upload")
        .header(header::COOKIE, cookie)
        .header(header::ORIGIN, BASE)
        .header(header::ACCEPT, "application/json")
        .header(header::CONTENT_TYPE, ct)
        .body(Body::from(body))
        .unwrap();
    let p = site.send(req).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let res: Value = serde_json::from_str(&p.body).unwrap();
    let ids: Vec<String> = res["accepted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["replay_id"].as_str().unwrap().to_string())
        .collect();
    for id in &ids {
        tokio::time::timeout(Duration::from_secs(60), async {
            while site
                .store
                .report(&Viewer::user(uid(user)), id)
                .await
                .unwrap()
                .is_none()
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("analyzed");
    }
    ids
}

both_backends!(
    a_file_claiming_your_match_opens_nothing_and_a_hidden_game_counts_nowhere,
    |db: &common::db::TestDb| {
        a_file_claiming_your_match_opens_nothing_and_a_hidden_game_counts_nowhere(db.store.clone())
    }
);

async fn a_file_claiming_your_match_opens_nothing_and_a_hidden_game_counts_nowhere(store: Store) {
    let site = TestSite::on(store, true).await;
    let (mine, my_csrf) = site.login_as(ME).await;
    let (theirs, their_csrf) = site.login_as(OTHER).await;
    let genuine = support::replay_fixture();
    // The stranger uploads first a doctored copy of my match (a player renamed, the network
    // data broken, both CRCs re-sealed, the match GUID kept)...
    let doctored = support::edit::header_only_bytes(&support::edit::rename_in_header(
        &genuine, "cometten", "HACKED!!",
    ));
    assert_eq!(
        support::edit::guid_of(&doctored),
        support::edit::guid_of(&genuine)
    );
    let theirs_id = upload_and_wait(
        &site,
        OTHER,
        (&theirs, &their_csrf),
        &[("x.replay", &doctored)],
    )
    .await
    .remove(0);
    // ...then I upload the genuine file: I get the analysis of my bytes.
    let mine_id = upload_and_wait(&site, ME, (&mine, &my_csrf), &[("mine.replay", &genuine)])
        .await
        .remove(0);
    assert_ne!(mine_id, theirs_id);
    let page = site.get(&format!("/replays/{mine_id}"), Some(&mine)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("cometten") && !page.body.contains("HACKED!!"));
    // Neither opens the other's copy, nor its charts.
    for (cookie, id) in [(&theirs, &mine_id), (&mine, &theirs_id)] {
        assert_eq!(
            site.get(&format!("/replays/{id}"), Some(cookie))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            site.get(&format!("/replays/{id}/charts/match.svg"), Some(cookie))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    }
    // Hiding a game: mine counts in my list until I hide it; nobody else can hide it for me.
    site.store
        .link_identity(&Viewer::user(uid(ME)), &{
            let r = site
                .store
                .report(&Viewer::user(uid(ME)), &mine_id)
                .await
                .unwrap()
                .unwrap();
            r.players
                .iter()
                .find(|p| p.name == "cometten")
                .unwrap()
                .id
                .clone()
        })
        .await
        .unwrap();
    assert!(
        site.get("/replays", Some(&mine))
            .await
            .body
            .contains(&mine_id)
    );
    let p = site
        .post(
            &format!("/replays/{mine_id}/hide"),
            &theirs,
            Some(BASE),
            &format!("csrf={their_csrf}"),
        )
        .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    let p = site
        .post(
            &format!("/replays/{mine_id}/hide"),
            &mine,
            Some(BASE),
            "csrf=forged",
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = site
        .post(
            &format!("/replays/{mine_id}/hide"),
            &mine,
            Some(BASE),
            &format!("csrf={my_csrf}"),
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert!(
        !site
            .get("/replays", Some(&mine))
            .await
            .body
            .contains(&mine_id)
    );
    let page = site.get(&format!("/replays/{mine_id}"), Some(&mine)).await;
    assert!(page.body.contains("Put it back"), "{}", page.body);
    let settings = site.get("/settings", Some(&mine)).await;
    assert!(
        settings
            .body
            .contains(&format!("/replays/{mine_id}/unhide"))
    );
    let p = site
        .post(
            &format!("/replays/{mine_id}/unhide"),
            &mine,
            Some(BASE),
            &format!("csrf={my_csrf}"),
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(
        site.get("/replays", Some(&mine))
            .await
            .body
            .contains(&mine_id)
    );
    site.pool.unwrap().shutdown(Duration::from_secs(5)).await;
}

both_backends!(
    uploads_share_the_bots_per_user_file_limit,
    |db: &common::db::TestDb| { uploads_share_the_bots_per_user_file_limit(db.store.clone()) }
);

/// `POST /upload` takes a token per file from the bot's limits (default burst 10): past it the
/// rest of the files are refused with the wait, and a request with nothing taken is a 429 that
/// says when to try again, as JSON for the page's script and as a page otherwise.
async fn uploads_share_the_bots_per_user_file_limit(store: Store) {
    let site = TestSite::on(store, false).await;
    let (cookie, csrf) = site.login_as(ME).await;
    let upload = |files: Vec<(String, Vec<u8>)>, json: bool| {
        let (cookie, csrf) = (cookie.clone(), csrf.clone());
        let site = &site;
        async move {
            let refs: Vec<(&str, &[u8])> = files
                .iter()
                .map(|(n, b)| (n.as_str(), b.as_slice()))
                .collect();
            let (ct, body) = multipart(&csrf, &refs);
            let mut req = Request::post("/upload")
                .header(header::COOKIE, &cookie)
                .header(header::ORIGIN, BASE)
                .header(header::CONTENT_TYPE, ct);
            if json {
                req = req.header(header::ACCEPT, "application/json");
            }
            site.send(req.body(Body::from(body)).unwrap()).await
        }
    };
    let junk = |n: usize| -> Vec<(String, Vec<u8>)> {
        (0..n)
            .map(|k| (format!("junk-{k}.replay"), b"not a replay".to_vec()))
            .collect()
    };
    // Eleven files: ten take the burst (and fail as replays), the eleventh waits.
    let p = upload(junk(11), true).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let res: Value = serde_json::from_str(&p.body).unwrap();
    let refused = res["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 11, "{res}");
    let waiting: Vec<&Value> = refused
        .iter()
        .filter(|r| r["error"].as_str().unwrap().contains("Slow down"))
        .collect();
    assert_eq!(waiting.len(), 1, "{res}");
    assert_eq!(waiting[0]["file_name"], "junk-10.replay");
    let wait = res["retry_after_s"].as_u64().unwrap();
    assert!((1..=3).contains(&wait), "{res}");
    assert!(
        waiting[0]["error"]
            .as_str()
            .unwrap()
            .contains(&format!("try again in {wait} s")),
        "the message and retry_after_s agree: {res}"
    );
    // Nothing taken: 429, with Retry-After.
    let p = upload(junk(2), true).await;
    assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS, "{}", p.body);
    let wait: u64 = p.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3).contains(&wait), "{wait}");
    let res: Value = serde_json::from_str(&p.body).unwrap();
    assert_eq!(res["retry_after_s"].as_u64(), Some(wait));
    assert_eq!(res["refused"].as_array().unwrap().len(), 2);
    let page = upload(junk(1), false).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.headers.contains_key(header::RETRY_AFTER));
    assert!(
        page.body.contains("Slow down") && page.body.contains("try again in"),
        "{}",
        page.body
    );
    // Another user has their own budget.
    let (theirs, their_csrf) = site.login_as(OTHER).await;
    let (ct, body) = multipart(&their_csrf, &[("x.replay", b"not a replay")]);
    let req = Request::post("/upload")
        .header(header::COOKIE, &theirs)
        .header(header::ORIGIN, BASE)
        .header(header::ACCEPT, "application/json")
        .header(header::CONTENT_TYPE, ct)
        .body(Body::from(body))
        .unwrap();
    assert_eq!(site.send(req).await.status, StatusCode::OK);
}

both_backends!(
    the_stripe_webhook_verifies_before_it_applies,
    |db: &common::db::TestDb| the_stripe_webhook_verifies_before_it_applies(db.store.clone())
);

/// `POST /stripe/webhook` through the real router: signed with the secret → applied (Pro) once,
/// duplicates answered 200 without a second effect; forged, stale and unsigned → 400 and nothing
/// stored.
async fn the_stripe_webhook_verifies_before_it_applies(store: Store) {
    let site = TestSite::on(store, false).await;
    // Anyone may call the route: a request without a signature is refused before its body is
    // read (this one's body never ends, as a trickling client's).
    let endless = futures_util::stream::once(async {
        Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"{"))
    })
    .chain(futures_util::stream::pending());
    let req = Request::post("/stripe/webhook")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(endless))
        .unwrap();
    let refused = tokio::time::timeout(Duration::from_secs(10), site.send(req))
        .await
        .expect("answered without reading the body");
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let now = rlcoach::storage::now_ms() / 1000;
    let user: u64 = 333_000_000_000_000_003;
    let event = |id: &str, created: i64| {
        json!({
            "id": id, "object": "event", "api_version": "2025-03-31.basil", "created": created,
            "livemode": false, "pending_webhooks": 1, "type": "customer.subscription.created",
            "request": {"id": null, "idempotency_key": null},
            "data": {"object": {
                "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active",
                "cancel_at_period_end": false, "cancel_at": null, "created": created,
                "current_period_start": created, "current_period_end": created + 30 * 86_400,
                "metadata": {"discord_user_id": user.to_string()},
                "items": {"object": "list", "data": []}
            }}
        })
        .to_string()
    };
    let post = |body: String, signature: Option<String>| {
        let mut req =
            Request::post("/stripe/webhook").header(header::CONTENT_TYPE, "application/json");
        if let Some(sig) = signature {
            req = req.header("stripe-signature", sig);
        }
        req.body(Body::from(body)).unwrap()
    };
    let pro = || async {
        site.store
            .plan_of(UserId::from_discord(user), rlcoach::storage::now_ms())
            .await
            .unwrap()
            .is_pro()
    };
    let body = event("evt_1", now);
    let sign = |secret: &str, t: i64, b: &str| {
        rlcoach::billing::webhook::signature_header(secret, t, b.as_bytes())
    };
    // Unsigned, forged, stale: 400, nothing applied.
    assert_eq!(
        site.send(post(body.clone(), None)).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        site.send(post(body.clone(), Some(sign("whsec_wrong", now, &body))))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        site.send(post(
            body.clone(),
            Some(sign(WEBHOOK_SECRET, now - 600, &body))
        ))
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    // A body changed after signing is forged too.
    let tampered = body.replace("active", "trialing");
    assert_eq!(
        site.send(post(tampered, Some(sign(WEBHOOK_SECRET, now, &body))))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert!(!pro().await);
    // Signed: Pro within this one request; the same delivery again changes nothing.
    let ok = site
        .send(post(body.clone(), Some(sign(WEBHOOK_SECRET, now, &body))))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert!(
        pro().await,
        "the subscription's metadata names the Discord user"
    );
    let again = site
        .send(post(body.clone(), Some(sign(WEBHOOK_SECRET, now, &body))))
        .await;
    assert_eq!(again.status, StatusCode::OK);
    // The event id was recorded once: applying it again is a duplicate.
    let parsed = rlcoach::billing::webhook::parse_event(body.as_bytes()).unwrap();
    assert!(matches!(
        site.store
            .apply_stripe_event(&parsed.event, &parsed.id)
            .await
            .unwrap(),
        rlcoach::storage::Applied::Duplicate
    ));
}

impl TestSite {
    /// Stripe delivers `events` to `POST /stripe/webhook` (signed now); each must be accepted.
    async fn stripe_delivers(&self, events: &[Value]) {
        for e in events {
            let body = e.to_string();
            let now = rlcoach::storage::now_ms() / 1000;
            let req = Request::post("/stripe/webhook")
                .header(header::CONTENT_TYPE, "application/json")
                .header(
                    "stripe-signature",
                    rlcoach::billing::signature_header(WEBHOOK_SECRET, now, body.as_bytes()),
                )
                .body(Body::from(body))
                .unwrap();
            let r = self.send(req).await;
            assert_eq!(r.status, StatusCode::OK, "{}: {}", e["type"], r.body);
        }
    }
}

both_backends!(
    checkout_and_stripes_webhooks_drive_the_billing_page,
    |db: &common::db::TestDb| {
        checkout_and_stripes_webhooks_drive_the_billing_page(db.store.clone())
    }
);

/// The whole Stripe path on the site: a Free user's `/billing` offers the upgrade; the checkout
/// POST (CSRF-checked) makes one customer for them and sends them to Stripe's page; back from
/// it the page waits for Stripe; Stripe's webhooks make them Pro (renewal date, portal, no
/// second checkout); cancelling at period end, a failed payment and the end of the
/// subscription each show as they are.
async fn checkout_and_stripes_webhooks_drive_the_billing_page(store: Store) {
    use fake_stripe::{DAY, Sub, invoice};
    let site = TestSite::on(store, false).await;
    let (cookie, csrf) = site.login_as(ME).await;
    let form = format!("csrf={csrf}");

    let free = site.get("/billing", Some(&cookie)).await;
    assert_eq!(free.status, StatusCode::OK);
    assert!(
        free.body.contains("You are on <strong>Free</strong>"),
        "{}",
        free.body
    );
    assert!(free.body.contains("action=\"/billing/checkout\""));
    assert!(free.body.contains("Upgrade to Pro · $10 / month"));
    assert!(!free.body.contains("/billing/portal"), "no customer yet");
    assert!(
        free.body.contains("coach tokens used"),
        "the period's budget"
    );
    // A user who never checked out has no portal to open.
    let portal = site
        .post("/billing/portal", &cookie, Some(BASE), &form)
        .await;
    assert_eq!(portal.status, StatusCode::SEE_OTHER);
    assert_eq!(portal.location(), "/billing");

    // A forged token or another site's form: refused before Stripe is asked.
    let forged = site
        .post("/billing/checkout", &cookie, Some(BASE), "csrf=forged")
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let cross = site
        .post(
            "/billing/checkout",
            &cookie,
            Some("https://evil.example"),
            &form,
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert!(site.stripe.requests().is_empty());

    // Checkout: a customer for this user, then a subscription session for the Pro price.
    let go = site
        .post("/billing/checkout", &cookie, Some(BASE), &form)
        .await;
    assert_eq!(go.status, StatusCode::SEE_OTHER, "{}", go.body);
    assert!(
        go.location()
            .starts_with("https://checkout.stripe.com/c/pay/cs_test_"),
        "{}",
        go.location()
    );
    let session_id = go.location().rsplit('/').next().unwrap().to_string();
    let requests = site.stripe.requests();
    assert_eq!(
        requests.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        ["/v1/customers", "/v1/checkout/sessions"]
    );
    let checkout = &requests[1];
    assert_eq!(
        checkout.field("client_reference_id"),
        Some(&*ME.to_string())
    );
    assert_eq!(checkout.field("mode"), Some("subscription"));
    assert_eq!(
        checkout.field("success_url"),
        Some(&*format!("{BASE}/billing?checkout=done"))
    );
    let customer = checkout.field("customer").unwrap().to_string();

    // Back from Stripe before its webhooks: the page says it is confirming, and polls.
    let waiting = site.get("/billing?checkout=done", Some(&cookie)).await;
    assert!(
        waiting.body.contains("data-wait-pro=\"/billing/plan\""),
        "{}",
        waiting.body
    );
    let plan = site.get("/billing/plan", Some(&cookie)).await;
    assert_eq!(
        serde_json::from_str::<Value>(&plan.body).unwrap()["tier"],
        "free"
    );

    // Stripe's deliveries after the payment: Pro at once.
    let now = rlcoach::storage::now_ms() / 1000;
    site.stripe_delivers(&site.stripe.events_of_payment(&session_id, now))
        .await;
    let plan = site.get("/billing/plan", Some(&cookie)).await;
    assert_eq!(
        serde_json::from_str::<Value>(&plan.body).unwrap()["tier"],
        "pro"
    );
    let pro = site.get("/billing?checkout=done", Some(&cookie)).await;
    assert!(pro.body.contains("Welcome to Pro!"), "{}", pro.body);
    assert!(!pro.body.contains("data-wait-pro"));
    assert!(pro.body.contains("You are on <strong>Pro</strong>"));
    let renews = rlcoach::storage::coach::date_string((now + 30 * DAY) * 1000);
    assert!(
        pro.body.contains(&format!("renews on {renews}")),
        "{}",
        pro.body
    );
    assert!(pro.body.contains("action=\"/billing/portal\""));
    assert!(
        !pro.body.contains("action=\"/billing/checkout\""),
        "nothing to buy"
    );
    // The Coach page shows Pro and the period Stripe bills.
    let coach = site.get("/coach", Some(&cookie)).await;
    assert!(
        coach.body.contains("Plan: <strong>pro</strong>"),
        "{}",
        coach.body
    );

    // Buying again is refused without asking Stripe; the portal opens for their customer.
    let before = site.stripe.requests().len();
    let again = site
        .post("/billing/checkout", &cookie, Some(BASE), &form)
        .await;
    assert_eq!(again.location(), "/billing?checkout=already");
    assert_eq!(site.stripe.requests().len(), before);
    let portal = site
        .post("/billing/portal", &cookie, Some(BASE), &form)
        .await;
    assert_eq!(portal.status, StatusCode::SEE_OTHER);
    assert!(
        portal
            .location()
            .starts_with("https://billing.stripe.com/p/session/")
    );
    let opened = site.stripe.requests().pop().unwrap();
    assert_eq!(opened.path, "/v1/billing_portal/sessions");
    assert_eq!(opened.field("customer"), Some(&*customer));
    assert_eq!(
        opened.field("return_url"),
        Some(&*format!("{BASE}/billing"))
    );

    // Cancelled in the portal (at period end): still Pro, until then.
    let sub_id = format!("sub_{}", session_id.trim_start_matches("cs_test_"));
    let period = (now, now + 30 * DAY);
    let mut sub = Sub::active(&sub_id, &customer, period);
    sub.cancel_at_period_end = true;
    site.stripe_delivers(&[sub.event("evt_cancel", "updated", now + 1)])
        .await;
    let cancelled = site.get("/billing", Some(&cookie)).await;
    assert!(
        cancelled
            .body
            .contains(&format!("Cancelled: Pro stays on until {renews}")),
        "{}",
        cancelled.body
    );
    // Resumed, then the renewal payment fails: past due, Pro kept for the grace period.
    sub.cancel_at_period_end = false;
    sub.status = "past_due";
    site.stripe_delivers(&[
        invoice(
            "evt_failed",
            "invoice.payment_failed",
            now + 2,
            &customer,
            &sub_id,
            period,
        ),
        sub.event("evt_past_due", "updated", now + 2),
    ])
    .await;
    let failed = site.get("/billing", Some(&cookie)).await;
    assert!(
        failed.body.contains("Your last payment failed"),
        "{}",
        failed.body
    );
    assert!(failed.body.contains("You are on <strong>Pro</strong>"));
    // Ended: Free, and the page says so.
    sub.status = "canceled";
    site.stripe_delivers(&[sub.event("evt_deleted", "deleted", now + 3)])
        .await;
    let ended = site.get("/billing", Some(&cookie)).await;
    assert!(
        ended.body.contains("You are on <strong>Free</strong>"),
        "{}",
        ended.body
    );
    assert!(ended.body.contains("Your Pro subscription has ended."));
    assert!(
        ended.body.contains("action=\"/billing/checkout\""),
        "can buy again"
    );
}

both_backends!(
    billing_says_what_is_wrong_when_stripe_fails_or_is_not_set_up,
    |db: &common::db::TestDb| {
        billing_says_what_is_wrong_when_stripe_fails_or_is_not_set_up(db.store.clone())
    }
);

/// Stripe failing or absent: a clear page, nothing half done; the retry works.
async fn billing_says_what_is_wrong_when_stripe_fails_or_is_not_set_up(store: Store) {
    let site = TestSite::on(store, false).await;
    let (cookie, csrf) = site.login_as(ME).await;
    let form = format!("csrf={csrf}");
    site.stripe.fail_next(1);
    let failed = site
        .post("/billing/checkout", &cookie, Some(BASE), &form)
        .await;
    assert_eq!(failed.status, StatusCode::BAD_GATEWAY);
    assert!(
        failed.body.contains("Stripe is not answering"),
        "{}",
        failed.body
    );
    assert!(failed.body.contains("Nothing was charged"));
    assert!(
        !failed.body.contains("api_error") && !failed.body.contains("sk_test"),
        "no details on the page"
    );
    assert_eq!(
        site.store
            .stripe_customer_of(&Viewer::user(uid(ME)))
            .await
            .unwrap(),
        None,
        "no customer was linked"
    );
    let retry = site
        .post("/billing/checkout", &cookie, Some(BASE), &form)
        .await;
    assert_eq!(retry.status, StatusCode::SEE_OTHER, "{}", retry.body);

    // The same database behind a site without Stripe.
    let bare = TestSite::on_with(site.store.clone(), false, false).await;
    let (cookie, csrf) = bare.login_as(ME).await;
    let page = bare.get("/billing", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Payments are not set up on this site"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("/billing/checkout"));
    for path in ["/billing/checkout", "/billing/portal", "/stripe/webhook"] {
        let r = bare
            .post(path, &cookie, Some(BASE), &format!("csrf={csrf}"))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    // Visitors are sent to the login.
    let visitor = bare.get("/billing", None).await;
    assert_eq!(visitor.status, StatusCode::SEE_OTHER);
    assert_eq!(visitor.location(), "/login");
}

both_backends!(
    large_stripe_events_fit_the_webhooks_own_body_limit,
    |db: &common::db::TestDb| large_stripe_events_fit_the_webhooks_own_body_limit(db.store.clone())
);

/// Stripe's events are not forms: a genuinely signed 200 KB subscription event (one with many
/// items, as a seat-based plan has) is applied, past the site's 64 KiB form limit; only a body
/// over the webhook's own 1 MB is a 413.
async fn large_stripe_events_fit_the_webhooks_own_body_limit(store: Store) {
    let site = TestSite::on(store, false).await;
    let now = rlcoach::storage::now_ms() / 1000;
    let user: u64 = 444_000_000_000_000_004;
    let event = |id: &str, items: usize| {
        let item = |k: usize| {
            json!({
                "id": format!("si_{k}"), "object": "subscription_item", "created": now,
                "current_period_start": now, "current_period_end": now + 30 * 86_400,
                "quantity": 1, "metadata": {},
                "price": {"id": fake_stripe::PRICE, "object": "price", "active": true,
                    "currency": "usd", "unit_amount": 1000, "type": "recurring",
                    "recurring": {"interval": "month", "interval_count": 1},
                    "product": "prod_pro",
                    "nickname": "x".repeat(1600)}
            })
        };
        json!({
            "id": id, "object": "event", "api_version": "2025-03-31.basil", "created": now,
            "livemode": false, "pending_webhooks": 1, "type": "customer.subscription.created",
            "request": {"id": null, "idempotency_key": null},
            "data": {"object": {
                "id": "sub_big", "object": "subscription", "customer": "cus_big",
                "status": "active", "cancel_at_period_end": false, "cancel_at": null,
                "created": now, "current_period_start": now,
                "current_period_end": now + 30 * 86_400,
                "metadata": {"discord_user_id": user.to_string()},
                "items": {"object": "list", "data": (0..items).map(item).collect::<Vec<_>>()}
            }}
        })
        .to_string()
    };
    let post = |body: String| {
        let sig = rlcoach::billing::signature_header(WEBHOOK_SECRET, now, body.as_bytes());
        Request::post("/stripe/webhook")
            .header(header::CONTENT_TYPE, "application/json")
            .header("stripe-signature", sig)
            .body(Body::from(body))
            .unwrap()
    };
    let big = event("evt_big", 110);
    assert!(
        (200_000..300_000).contains(&big.len()),
        "a 200 KB event: {}",
        big.len()
    );
    let ok = site.send(post(big)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert!(
        site.store
            .plan_of(UserId::from_discord(user), rlcoach::storage::now_ms())
            .await
            .unwrap()
            .is_pro(),
        "the large event was applied"
    );
    // Over the webhook's own limit: 413, before the signature is read.
    let huge = event("evt_huge", 600);
    assert!(huge.len() > web::WEBHOOK_BODY_LIMIT, "{}", huge.len());
    let refused = site.send(post(huge)).await;
    assert_eq!(
        refused.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        refused.body
    );
    // The rest of the site keeps its small form limit.
    let (cookie, csrf) = site.login_as(ME).await;
    let padded = format!("csrf={csrf}&pad={}", "x".repeat(100 * 1024));
    let p = site.post("/logout", &cookie, Some(BASE), &padded).await;
    assert_eq!(p.status, StatusCode::PAYLOAD_TOO_LARGE);
}

both_backends!(
    a_login_state_is_single_use_and_expires_after_ten_minutes,
    |db: &common::db::TestDb| a_login_state_is_single_use_and_expires_after_ten_minutes(
        db.store.clone()
    )
);

/// The OAuth `state` of a login is honoured once, within ten minutes of `/login`: replaying a
/// finished callback (same state and cookie, even with a fresh code from Discord) and coming
/// back after eleven minutes are both refused with a "log in again" page and no session.
async fn a_login_state_is_single_use_and_expires_after_ten_minutes(store: Store) {
    use base64::Engine as _;
    use sha2::Digest as _;
    let site = TestSite::on(store, false).await;
    let login = site.get("/login", None).await;
    let oauth_cookie = login.cookie("rlcoach_oauth").unwrap();
    let q = query(login.location());
    let consent = |challenge: &str| {
        site.fake
            .oauth_consent(ME, "me", json!([]), challenge, &q["redirect_uri"])
    };
    let callback = |code: String, state: String, cookie: String| {
        let site = &site;
        async move {
            site.get(
                &format!("/auth/callback?code={code}&state={state}"),
                Some(&cookie),
            )
            .await
        }
    };
    let first = callback(
        consent(&q["code_challenge"]),
        q["state"].clone(),
        oauth_cookie.clone(),
    )
    .await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    assert!(first.cookie("rlcoach_session").is_some());
    // The same callback again, even with a new code Discord would accept: refused.
    let replay = callback(
        consent(&q["code_challenge"]),
        q["state"].clone(),
        oauth_cookie.clone(),
    )
    .await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{}", replay.body);
    assert!(replay.cookie("rlcoach_session").is_none());
    assert!(
        replay.body.contains("already used") && replay.body.contains("log in again"),
        "{}",
        replay.body
    );
    // A login cookie issued `age` seconds ago, for a state and verifier of our own.
    let aged = |age: i64, n: u8| {
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let state = b64(&[n; 24]);
        let verifier = b64(&[n + 100; 32]);
        let challenge = b64(&sha2::Sha256::digest(verifier.as_bytes()));
        let issued = rlcoach::storage::now_ms() / 1000 - age;
        let cookie = format!(
            "rlcoach_oauth={}",
            site.key.oauth_cookie_value(&state, &verifier, issued)
        );
        (state, challenge, cookie)
    };
    let (state, challenge, cookie) = aged(11 * 60, 1);
    let late = callback(consent(&challenge), state, cookie).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST, "{}", late.body);
    assert!(late.cookie("rlcoach_session").is_none());
    assert!(
        late.body.contains("expired") && late.body.contains("log in again"),
        "{}",
        late.body
    );
    // Nine minutes is still in time.
    let (state, challenge, cookie) = aged(9 * 60, 2);
    let in_time = callback(consent(&challenge), state, cookie).await;
    assert_eq!(in_time.status, StatusCode::SEE_OTHER, "{}", in_time.body);
    assert!(in_time.cookie("rlcoach_session").is_some());
}

both_backends!(
    heavy_pages_take_the_bots_heavy_budget,
    |db: &common::db::TestDb| heavy_pages_take_the_bots_heavy_budget(db.store.clone())
);

/// Chart renders, exports, comparisons and sessions on the site take the same per-user heavy
/// budget as the bot's buttons and commands — its very buckets: the 9th render within a burst of
/// 8 is a 429 with `Retry-After` (an SVG saying when, where the chart would be; a page for the
/// others), other users keep theirs, and what the bot took counts on the site. The heavy budget
/// refills one request every 3 minutes here, so no token comes back while the test runs however
/// slow the machine (at the bot's 20 a minute one would every 3 s).
async fn heavy_pages_take_the_bots_heavy_budget(store: Store) {
    let limits = Arc::new(RateLimits::new(
        Quota::per_minute(nz(20)).allow_burst(nz(10)),
        Quota::per_hour(nz(20)).allow_burst(nz(8)),
    ));
    let site = TestSite::on_limits(store, limits.clone()).await;
    let ids = seed(&site, ME, &steam(MY_STEAM), 1, 1).await;
    let (cookie, csrf) = site.login_as(ME).await;
    let chart = format!("/replays/{}/charts/match.svg", ids[0]);
    for i in 0..8 {
        let p = site.get(&chart, Some(&cookie)).await;
        assert_eq!(p.status, StatusCode::OK, "render {i}: {}", p.body);
    }
    let p = site.get(&chart, Some(&cookie)).await;
    assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS, "{}", p.body);
    let wait: u64 = p.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((150..=180).contains(&wait), "{wait}");
    assert_eq!(p.headers[header::CONTENT_TYPE], "image/svg+xml");
    assert!(
        p.body.contains(&format!("try again in {wait} s")),
        "{}",
        p.body
    );
    // The other heavy routes share the budget: pages that say so.
    for p in [
        site.get("/trends/chart.svg?metric=bcpm", Some(&cookie))
            .await,
        site.get("/compare", Some(&cookie)).await,
        site.get("/sessions", Some(&cookie)).await,
        site.post(
            "/settings/export",
            &cookie,
            Some(BASE),
            &format!("csrf={csrf}"),
        )
        .await,
    ] {
        assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS, "{}", p.body);
        assert!(p.headers.contains_key(header::RETRY_AFTER));
    }
    let page = site.get("/compare", Some(&cookie)).await;
    assert!(
        page.body.contains("Slow down") && page.body.contains("try again in"),
        "{}",
        page.body
    );
    // Light pages are not limited.
    assert_eq!(
        site.get("/replays", Some(&cookie)).await.status,
        StatusCode::OK
    );
    // Another user has their own budget…
    let (theirs, _) = site.login_as(OTHER).await;
    assert_eq!(
        site.get("/compare", Some(&theirs)).await.status,
        StatusCode::OK
    );
    // …which the bot's buttons spend too: one budget for both doors.
    for _ in 0..7 {
        limits.heavy(OTHER).unwrap();
    }
    assert_eq!(
        site.get("/sessions", Some(&theirs)).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

both_backends!(
    uploads_check_the_token_first_and_share_the_bots_replay_slots,
    |db: &common::db::TestDb| uploads_check_the_token_first_and_share_the_bots_replay_slots(
        db.store.clone()
    )
);

/// `POST /upload` reads nothing it will not use: a file before the CSRF token is refused, as is
/// an oversized token or a field the form does not send, and a declared length over the limit is
/// a 413 before the body is read. Files wait for one of the replay slots shared with the bot's
/// downloads: with all of them taken, the upload is a 503 with `Retry-After` (JSON for the
/// page's script), and once one is free it goes through.
async fn uploads_check_the_token_first_and_share_the_bots_replay_slots(store: Store) {
    let slots = Arc::new(tokio::sync::Semaphore::new(1));
    let site = TestSite::on_slots(store, slots.clone()).await;
    let (cookie, csrf) = site.login_as(ME).await;
    let post = |ct: String, body: Vec<u8>, json: bool| {
        let mut req = Request::post("/upload")
            .header(header::COOKIE, &cookie)
            .header(header::ORIGIN, BASE)
            .header(header::CONTENT_TYPE, ct);
        if json {
            req = req.header(header::ACCEPT, "application/json");
        }
        req.body(Body::from(body)).unwrap()
    };
    let boundary = "XrlcoachBoundaryX";
    let ct = format!("multipart/form-data; boundary={boundary}");
    let part = |name: &str, file: Option<&str>, value: &[u8]| {
        let mut b = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"");
        if let Some(f) = file {
            b.push_str(&format!("; filename=\"{f}\""));
        }
        b.push_str("\r\n\r\n");
        let mut out = b.into_bytes();
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
        out
    };
    let end = format!("--{boundary}--\r\n").into_bytes();
    // A file before the token: refused without reading it.
    let body = [
        part("replays", Some("a.replay"), b"not a replay"),
        part("csrf", None, csrf.as_bytes()),
        end.clone(),
    ]
    .concat();
    assert_eq!(
        site.send(post(ct.clone(), body, false)).await.status,
        StatusCode::FORBIDDEN
    );
    // An oversized token (a megabyte of it).
    let body = [part("csrf", None, &vec![b'a'; 1 << 20]), end.clone()].concat();
    assert_eq!(
        site.send(post(ct.clone(), body, false)).await.status,
        StatusCode::FORBIDDEN
    );
    // A field the form does not send.
    let body = [
        part("csrf", None, csrf.as_bytes()),
        part("padding", None, &vec![b'a'; 1 << 16]),
        end.clone(),
    ]
    .concat();
    let p = site.send(post(ct.clone(), body, false)).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.body);
    // A declared length over the limit: 413 at once.
    let req = Request::post("/upload")
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, BASE)
        .header(header::CONTENT_TYPE, ct.clone())
        .header(header::CONTENT_LENGTH, (1u64 << 40).to_string())
        .body(Body::from(part("csrf", None, csrf.as_bytes())))
        .unwrap();
    let p = site.send(req).await;
    assert_eq!(p.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", p.body);
    assert!(p.body.contains("larger than"), "{}", p.body);
    // The bot is downloading a file: its one slot is taken, so the upload is answered "busy".
    let upload = [
        part("csrf", None, csrf.as_bytes()),
        part("replays", Some("b.replay"), b"not a replay"),
        end.clone(),
    ]
    .concat();
    let download = slots.clone().acquire_owned().await.unwrap();
    let p = site.send(post(ct.clone(), upload.clone(), true)).await;
    assert_eq!(p.status, StatusCode::SERVICE_UNAVAILABLE, "{}", p.body);
    assert!(p.headers.contains_key(header::RETRY_AFTER));
    let res: Value = serde_json::from_str(&p.body).unwrap();
    assert!(
        res["error"].as_str().unwrap().contains("try again in"),
        "{res}"
    );
    let page = site.send(post(ct.clone(), upload.clone(), false)).await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.body.contains("try again in"), "{}", page.body);
    // The download is done: the upload is read (and refused as no replay, with its reason).
    drop(download);
    let p = site.send(post(ct.clone(), upload, true)).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let res: Value = serde_json::from_str(&p.body).unwrap();
    assert_eq!(res["refused"][0]["file_name"], "b.replay", "{res}");
    assert_eq!(slots.available_permits(), 1, "the slot was given back");
}

both_backends!(
    one_user_cannot_hold_every_replay_slot,
    |db: &common::db::TestDb| one_user_cannot_hold_every_replay_slot(db.store.clone())
);

/// A file trickling in holds its replay slot, so one user holds at most two at once: with two
/// slow uploads of theirs in flight a third is answered "busy" (503, `Retry-After`) while the
/// slots shared with the bot stay mostly free, and another user's upload goes through.
async fn one_user_cannot_hold_every_replay_slot(store: Store) {
    let slots = Arc::new(tokio::sync::Semaphore::new(8));
    let site = TestSite::on_slots(store, slots.clone()).await;
    let (cookie, csrf) = site.login_as(ME).await;
    let boundary = "XrlcoachBoundaryX";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"replays\"; filename=\"slow.replay\"\r\n\r\nTAGame"
    );
    let mut senders = Vec::new();
    let mut slow = Vec::new();
    for _ in 0..2 {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
        tx.send(Ok(head.clone().into_bytes())).await.unwrap();
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        });
        let req = Request::post("/upload")
            .header(header::COOKIE, &cookie)
            .header(header::ORIGIN, BASE)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from_stream(stream))
            .unwrap();
        slow.push(tokio::spawn(site.app.clone().oneshot(req)));
        senders.push(tx);
    }
    // Both slow files are being read: they hold two of the eight slots.
    for i in 0.. {
        if slots.available_permits() == 6 {
            break;
        }
        assert!(i < 200, "the slow uploads never took their slots");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (ct, body) = multipart(&csrf, &[("third.replay", b"not a replay")]);
    let req = Request::post("/upload")
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, BASE)
        .header(header::ACCEPT, "application/json")
        .header(header::CONTENT_TYPE, ct)
        .body(Body::from(body))
        .unwrap();
    let p = site.send(req).await;
    assert_eq!(p.status, StatusCode::SERVICE_UNAVAILABLE, "{}", p.body);
    assert!(p.headers.contains_key(header::RETRY_AFTER));
    // It says why: their own uploads, not a crowd.
    let res: Value = serde_json::from_str(&p.body).unwrap();
    let why = "You are already uploading 2 files at once";
    assert!(res["error"].as_str().unwrap().contains(why), "{res}");
    let (ct, body) = multipart(&csrf, &[("third.replay", b"not a replay")]);
    let req = Request::post("/upload")
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, BASE)
        .header(header::CONTENT_TYPE, ct)
        .body(Body::from(body))
        .unwrap();
    let page = site.send(req).await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        page.body.contains(why) && page.body.contains("Nothing was stored"),
        "{}",
        page.body
    );
    // Someone else is not held up.
    let (theirs, their_csrf) = site.login_as(OTHER).await;
    let (ct, body) = multipart(&their_csrf, &[("x.replay", b"not a replay")]);
    let req = Request::post("/upload")
        .header(header::COOKIE, &theirs)
        .header(header::ORIGIN, BASE)
        .header(header::ACCEPT, "application/json")
        .header(header::CONTENT_TYPE, ct)
        .body(Body::from(body))
        .unwrap();
    assert_eq!(site.send(req).await.status, StatusCode::OK);
    // The slow uploads end (their clients went away): every slot is back.
    drop(senders);
    for s in slow {
        let _ = s.await;
    }
    assert_eq!(slots.available_permits(), 8);
}

both_backends!(
    files_past_the_daily_quota_are_refused_unread,
    |db: &common::db::TestDb| files_past_the_daily_quota_are_refused_unread(db.store.clone())
);

/// A request of three files when the daily quota allows one more: the first is accepted, the
/// second refused by the quota, and the third refused with the same words without being read
/// (it is larger than a replay may be: read, it would be refused for its size) and without a
/// token of the rate limit (burst 3, no refill during the test): the next upload of the same
/// user is refused by the quota, not by the rate limit.
async fn files_past_the_daily_quota_are_refused_unread(store: Store) {
    let limits = Arc::new(RateLimits::new(
        Quota::per_hour(nz(3)).allow_burst(nz(3)),
        Quota::per_minute(nz(600)).allow_burst(nz(600)),
    ));
    let quota = UploadQuota {
        files_per_day: 1,
        ..UploadQuota::default()
    };
    let site = TestSite::on_quota(store, limits.clone(), quota).await;
    let (cookie, csrf) = site.login_as(ME).await;
    let upload = |files: Vec<(&'static str, Vec<u8>)>| {
        let (cookie, csrf) = (cookie.clone(), csrf.clone());
        let site = &site;
        async move {
            let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
            let (ct, body) = multipart(&csrf, &refs);
            let req = Request::post("/upload")
                .header(header::COOKIE, &cookie)
                .header(header::ORIGIN, BASE)
                .header(header::ACCEPT, "application/json")
                .header(header::CONTENT_TYPE, ct)
                .body(Body::from(body))
                .unwrap();
            let p = site.send(req).await;
            assert_eq!(p.status, StatusCode::OK, "{}", p.body);
            serde_json::from_str::<Value>(&p.body).unwrap()
        }
    };
    let fixture = support::replay_fixture();
    let res = upload(vec![
        ("first.replay", support::distinct_copy(&fixture, 1)),
        ("second.replay", support::distinct_copy(&fixture, 2)),
        // 6 MB: over the test site's 5 MB replay limit.
        ("third.replay", vec![b'x'; 6 << 20]),
    ])
    .await;
    assert_eq!(res["accepted"].as_array().unwrap().len(), 1, "{res}");
    assert_eq!(res["accepted"][0]["file_name"], "first.replay", "{res}");
    let refused = res["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 2, "{res}");
    assert_eq!(refused[0]["file_name"], "second.replay");
    assert_eq!(refused[1]["file_name"], "third.replay");
    let quota_message = refused[0]["error"].as_str().unwrap();
    assert!(
        quota_message.contains("today's upload limit"),
        "{quota_message}"
    );
    assert_eq!(
        refused[1]["error"], refused[0]["error"],
        "the third is refused with the quota's words, unread"
    );
    // Two tokens were taken (the first and second files, read before the quota refused the
    // second), so one is left: the next upload is read, and refused by the quota.
    let res = upload(vec![("fourth.replay", support::distinct_copy(&fixture, 4))]).await;
    assert!(res["accepted"].as_array().unwrap().is_empty(), "{res}");
    assert!(
        res["refused"][0]["error"]
            .as_str()
            .unwrap()
            .contains("today's upload limit"),
        "the rate limit had a token left: {res}"
    );
    assert_eq!(limits.files(ME, 1).0, 0, "the burst is spent now");
}
