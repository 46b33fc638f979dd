//! Paying for Pro end to end, offline: the real `rlcoach` binary (bot, workers and site
//! together) against the fake Discord, the fake Stripe and the fake model.
//! - Stripe: a Free user's `/coach` gets the upsell; they log in on the site (Discord OAuth),
//!   check out, Stripe's signed webhooks arrive over HTTP, and the next `/coach ask` is
//!   answered. A failed renewal sends one "your payment failed" DM.
//! - Discord App Subscriptions: the upsell carries Discord's premium button; ENTITLEMENT_CREATE
//!   grants Pro, ENTITLEMENT_DELETE takes it away, an operator grant survives losing the
//!   entitlement, an entitlement carried by an interaction counts before its event, and
//!   entitlements changed while the bot was down are reconciled at start-up.

#[path = "../../tests/common/fake_model.rs"]
mod fake_model;
#[path = "../../tests/common/fake_stripe.rs"]
mod fake_stripe;
mod support;

use std::path::Path;
use std::time::Duration;

use fake_model::{AnthropicTurn, FakeModel};
use fake_stripe::FakeStripe;
use serde_json::{Value, json};
use support::Bot;
use support::fake_discord::{Call, FakeDiscord, GUILD_ID, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET};

const T: Duration = Duration::from_secs(60);
const CHANNEL: u64 = 6101;
const WEBHOOK_SECRET: &str = "whsec_e2e_secret";
const SESSION_KEY: &str = "billing-e2e-session-key-0123456789abcdef";
const SKU: u64 = 1_234_965_026_943_668_316;

/// The bot with the coach (fake model) and, when given, the site on `port` with Stripe.
fn env(
    model: &FakeModel,
    web: Option<(u16, &FakeStripe)>,
    sku: Option<u64>,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("ANTHROPIC_API_KEY".to_string(), "sk-ant-test".to_string()),
        ("ANTHROPIC_BASE_URL".into(), model.base_url()),
        ("RLCOACH_COACH_MODEL".into(), "claude-sonnet-4-5".into()),
    ];
    if let Some((port, stripe)) = web {
        env.extend([
            ("RLCOACH_WEB_ADDR".to_string(), format!("127.0.0.1:{port}")),
            (
                "RLCOACH_WEB_BASE".into(),
                format!("http://127.0.0.1:{port}"),
            ),
            ("RLCOACH_SESSION_KEY".into(), SESSION_KEY.into()),
            ("DISCORD_CLIENT_ID".into(), OAUTH_CLIENT_ID.into()),
            ("DISCORD_CLIENT_SECRET".into(), OAUTH_CLIENT_SECRET.into()),
            ("STRIPE_SECRET_KEY".into(), fake_stripe::SECRET_KEY.into()),
            ("STRIPE_WEBHOOK_SECRET".into(), WEBHOOK_SECRET.into()),
            ("STRIPE_PRICE_ID".into(), fake_stripe::PRICE.into()),
            ("STRIPE_API_BASE".into(), stripe.base.clone()),
        ]);
    }
    if let Some(sku) = sku {
        env.push(("DISCORD_PRO_SKU_ID".into(), sku.to_string()));
    }
    env
}

async fn start(fake: &FakeDiscord, dir: &Path, env: &[(String, String)]) -> Bot {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Bot::start(fake, dir, &env).await
}

fn ask(fake: &FakeDiscord, user: u64, question: &str) -> String {
    fake.slash(
        user,
        CHANNEL,
        Some(GUILD_ID),
        "0",
        "coach",
        json!([{"name": "ask", "type": 1, "options": [{"name": "question", "type": 3, "value": question}]}]),
        Value::Null,
    )
}

/// The first message the bot sent for interaction `token` (the callback or a follow-up).
async fn answer_to(fake: &FakeDiscord, token: &str) -> Call {
    fake.wait_for("the command's answer", T, |calls| {
        calls
            .iter()
            .find(|c| c.path.contains(token) && !content_of(c).is_empty())
            .cloned()
    })
    .await
}

fn content_of(c: &Call) -> String {
    c.json["data"]["content"]
        .as_str()
        .or_else(|| c.json["content"].as_str())
        .unwrap_or("")
        .to_string()
}

fn components_of(c: &Call) -> Value {
    let d = if c.json["data"].is_object() {
        &c.json["data"]
    } else {
        &c.json
    };
    d["components"].clone()
}

/// `rlcoach plan show <user>` on the bot's data directory.
fn plan_show(dir: &Path, user: u64) -> String {
    support::operator(dir, &["plan", "show", &user.to_string()])
}

/// Waits until `plan show` for `user` contains `needle` (the bot applies gateway events on its
/// own time).
async fn wait_shown(dir: &Path, user: u64, needle: &str) -> String {
    for _ in 0..150 {
        let shown = plan_show(dir, user);
        if shown.contains(needle) {
            return shown;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "`plan show {user}` never said {needle:?}: {}",
        plan_show(dir, user)
    );
}

/// Waits until `plan show` says `tier` for `user`.
async fn wait_tier(dir: &Path, user: u64, tier: &str) -> String {
    wait_shown(dir, user, &format!(": {tier} ")).await
}

/// Waits until the bot logged that it applied entitlement `id`.
async fn wait_applied(bot: &Bot, id: &str) {
    for _ in 0..150 {
        let log = bot.log_text();
        if log
            .lines()
            .any(|l| l.contains("entitlement applied") && l.contains(id))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("entitlement {id} never applied:\n{}", bot.log_text());
}

/// A coach answer for the next question; returns the thread it streamed into.
async fn answered(fake: &FakeDiscord, model: &FakeModel, user: u64, text: &str) -> u64 {
    let before = fake.threads().len();
    model.push(AnthropicTurn::new().text_pieces(&[text]).end("end_turn"));
    ask(fake, user, "What should I work on?");
    let (thread, ..) = fake
        .wait_for("a coach thread", T, |_| fake.threads().get(before).cloned())
        .await;
    let prefix = format!("/channels/{thread}/messages");
    fake.wait_for("the answer in the thread", T, |calls| {
        calls
            .iter()
            .find(|c| c.path.starts_with(&prefix) && c.content() == text)
            .map(|_| ())
    })
    .await;
    thread
}

/// A browser without cookies support: cookies carried by hand, redirects not followed.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: Vec<String>,
}

impl Browser {
    fn new(base: String) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base,
            cookies: Vec::new(),
        }
    }

    fn keep_cookies(&mut self, r: &reqwest::Response) {
        for c in r.headers().get_all("set-cookie") {
            let pair = c.to_str().unwrap().split(';').next().unwrap().to_string();
            let name = pair.split('=').next().unwrap().to_string();
            self.cookies.retain(|k| !k.starts_with(&format!("{name}=")));
            self.cookies.push(pair);
        }
    }

    async fn get(&mut self, path: &str) -> (u16, String, String) {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    async fn post(&mut self, path: &str, form: &str) -> (u16, String, String) {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_string());
        self.send(req).await
    }

    /// Sends with the kept cookies, keeps the new ones: (status, Location, body).
    async fn send(&mut self, req: reqwest::RequestBuilder) -> (u16, String, String) {
        let r = req
            .header("cookie", self.cookies.join("; "))
            .send()
            .await
            .unwrap();
        self.keep_cookies(&r);
        let status = r.status().as_u16();
        let location = header(&r, "location");
        (status, location, r.text().await.unwrap())
    }
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

fn query_param(url: &str, key: &str) -> String {
    url.split_once('?')
        .map_or("", |x| x.1)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| {
            v.replace("%3A", ":")
                .replace("%2F", "/")
                .replace("%20", " ")
        })
        .unwrap_or_default()
}

/// The CSRF token in a page's forms.
fn csrf(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a token")
        + 19;
    page[at..].split('"').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_pays_on_the_site_and_the_coach_answers_them_on_discord() {
    let fake = FakeDiscord::start().await;
    let model = FakeModel::start().await;
    let stripe = FakeStripe::start().await;
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let site = format!("http://127.0.0.1:{port}");
    let user = 5_550_001;
    let _bot = start(&fake, dir.path(), &env(&model, Some((port, &stripe)), None)).await;

    // Free: the upsell links to the billing page.
    let token = ask(&fake, user, "How do I rank up?");
    let upsell = answer_to(&fake, &token).await;
    assert!(
        content_of(&upsell).contains("part of rlcoach Pro"),
        "{upsell:?}"
    );
    assert_eq!(
        components_of(&upsell)[0]["components"][0]["url"],
        format!("{site}/billing")
    );
    assert!(model.requests().is_empty(), "nothing went to the model");

    // Log in on the site with Discord.
    let mut browser = Browser::new(site.clone());
    let (status, authorize, _) = browser.get("/login").await;
    assert_eq!(status, 303);
    let code = fake.oauth_consent(
        user,
        "payer",
        json!([]),
        &query_param(&authorize, "code_challenge"),
        &query_param(&authorize, "redirect_uri"),
    );
    let state = query_param(&authorize, "state");
    let (status, _, body) = browser
        .get(&format!("/auth/callback?code={code}&state={state}"))
        .await;
    assert_eq!(status, 303, "{body}");
    let (status, _, billing) = browser.get("/billing").await;
    assert_eq!(status, 200);
    assert!(
        billing.contains("You are on <strong>Free</strong>"),
        "{billing}"
    );

    // Check out: to Stripe's page, for this user.
    let (status, checkout, body) = browser
        .post("/billing/checkout", &format!("csrf={}", csrf(&billing)))
        .await;
    assert_eq!(status, 303, "{body}");
    let session = checkout.rsplit('/').next().unwrap().to_string();
    assert_eq!(
        stripe.session(&session).unwrap().client_reference_id,
        Some(user.to_string())
    );

    // Stripe delivers the payment's events to the site's webhook, signed.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let statuses = FakeStripe::deliver(
        &format!("{site}/stripe/webhook"),
        WEBHOOK_SECRET,
        &stripe.events_of_payment(&session, now),
    )
    .await;
    assert_eq!(statuses, [200, 200, 200]);
    // A forged delivery (someone else's "payment", signed with the wrong secret) is refused
    // and changes nothing.
    let stranger = 5_550_002u64;
    let forged = fake_stripe::checkout_completed("evt_forged", now, stranger, "cus_x", "sub_x");
    let mut forged_sub =
        fake_stripe::Sub::active("sub_x", "cus_x", (now, now + 30 * fake_stripe::DAY));
    forged_sub.discord_user = Some(stranger);
    let refused = FakeStripe::deliver(
        &format!("{site}/stripe/webhook"),
        "whsec_wrong",
        &[forged, forged_sub.event("evt_forged_sub", "created", now)],
    )
    .await;
    assert_eq!(refused, [400, 400]);
    assert!(plan_show(dir.path(), stranger).contains(": free "));
    assert!(plan_show(dir.path(), user).contains(": pro (source: stripe"));
    let (_, _, billing) = browser.get("/billing").await;
    assert!(
        billing.contains("You are on <strong>Pro</strong>"),
        "{billing}"
    );

    // The coach answers them now.
    answered(&fake, &model, user, "Work on your kickoffs.").await;
    assert_eq!(model.requests().len(), 1);

    // The renewal fails: one DM says so, with the way to fix it.
    let customer = stripe.session(&session).unwrap().customer.unwrap();
    let sub_id = format!("sub_{}", session.trim_start_matches("cs_test_"));
    let mut sub = fake_stripe::Sub::active(&sub_id, &customer, (now, now + 30 * fake_stripe::DAY));
    sub.status = "past_due";
    let statuses = FakeStripe::deliver(
        &format!("{site}/stripe/webhook"),
        WEBHOOK_SECRET,
        &[
            fake_stripe::invoice(
                "evt_fail",
                "invoice.payment_failed",
                now + 1,
                &customer,
                &sub_id,
                sub.period,
            ),
            sub.event("evt_past_due", "updated", now + 1),
        ],
    )
    .await;
    assert_eq!(statuses, [200, 200]);
    let dm = fake
        .wait_for("the past-due DM", T, |calls| {
            calls
                .iter()
                .find(|c| c.method == "POST" && c.content().contains("payment didn't go through"))
                .cloned()
        })
        .await;
    assert!(
        dm.content().contains(&format!("{site}/billing")),
        "{}",
        dm.content()
    );
    let dm_channel = dm.path.split('/').nth(2).unwrap().parse::<u64>().unwrap();
    assert_eq!(
        fake.dm_channels_of(user),
        vec![dm_channel],
        "sent to the payer"
    );
    // Sent once: the notice is cleared (a second round would find nothing to send).
    let store = rlcoach::storage::Store::open(&rlcoach::storage::StorageConfig::sqlite_in(
        dir.path().to_path_buf(),
    ))
    .await
    .unwrap();
    for _ in 0..50 {
        if store.past_due_notices().await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(store.past_due_notices().await.unwrap().is_empty());
    store.close().await;
    // Still Pro during the grace period.
    assert!(plan_show(dir.path(), user).contains(": pro (source: stripe"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_entitlements_grant_and_revoke_pro_even_while_the_bot_is_down() {
    let fake = FakeDiscord::start().await;
    let model = FakeModel::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (buyer, both, early, other) = (7_770_001u64, 7_770_002u64, 7_770_003u64, 7_770_004u64);
    let env = env(&model, None, Some(SKU));
    let mut bot = start(&fake, dir.path(), &env).await;

    // Free: the upsell is Discord's own subscribe button for the SKU.
    let token = ask(&fake, buyer, "How do I rank up?");
    let upsell = answer_to(&fake, &token).await;
    let button = &components_of(&upsell)[0]["components"][0];
    assert_eq!(button["style"], 6, "{upsell:?}");
    assert_eq!(button["sku_id"], SKU.to_string());
    support::assert_within_discord_limits(&fake);

    // ENTITLEMENT_CREATE: Pro, and the coach answers.
    let bought = fake.entitlement_json(buyer, SKU, Some("2099-01-01T00:00:00.000000+00:00"));
    fake.grant_entitlement(bought.clone(), true);
    let shown = wait_tier(dir.path(), buyer, "pro").await;
    assert!(shown.contains("source: discord"), "{shown}");
    answered(&fake, &model, buyer, "Rotate back post.").await;
    // An entitlement to another SKU grants nothing (once the bot has applied it).
    let other_sku = fake.entitlement_json(other, SKU + 1, None);
    fake.grant_entitlement(other_sku.clone(), true);
    wait_applied(&bot, other_sku["id"].as_str().unwrap()).await;
    assert!(plan_show(dir.path(), other).contains(": free "));

    // Pro twice (an operator grant and Discord): losing the entitlement keeps Pro.
    plan_set(dir.path(), both, "pro");
    let theirs = fake.entitlement_json(both, SKU, None);
    fake.grant_entitlement(theirs.clone(), true);
    wait_shown(dir.path(), both, "\n  discord: pro").await;
    let id = theirs["id"].as_str().unwrap().to_string();
    fake.delete_entitlement(&id, true);
    let kept = wait_shown(dir.path(), both, "\n  discord: free").await;
    assert!(kept.contains(": pro (source: operator"), "{kept}");
    // ENTITLEMENT_DELETE for the buyer (a refund): Free again.
    fake.delete_entitlement(bought["id"].as_str().unwrap(), true);
    wait_tier(dir.path(), buyer, "free").await;

    // Bought on Discord a moment ago, its event not here yet: the interaction carries it.
    fake.grant_entitlement(fake.entitlement_json(early, SKU, None), false);
    answered(&fake, &model, early, "Boost less on kickoffs.").await;
    assert!(plan_show(dir.path(), early).contains(": pro (source: discord"));

    // While the bot is down: the buyer subscribes again and `early` is refunded, no events.
    assert_eq!(bot.terminate(), Some(0));
    let again = fake.entitlement_json(buyer, SKU, None);
    fake.grant_entitlement(again, false);
    fake.delete_entitlement(&entitlement_of(&fake, early), false);
    let _bot = start(&fake, dir.path(), &env).await;
    wait_tier(dir.path(), buyer, "pro").await;
    wait_tier(dir.path(), early, "free").await;
    assert!(
        fake.calls()
            .iter()
            .any(|c| c.method == "GET" && c.path.ends_with("/entitlements"))
    );
}

/// `rlcoach plan set <user> <plan>` on the bot's data directory.
fn plan_set(dir: &Path, user: u64, plan: &str) {
    support::operator(dir, &["plan", "set", &user.to_string(), plan]);
}

/// The id of `user`'s entitlement in the fake's list.
fn entitlement_of(fake: &FakeDiscord, user: u64) -> String {
    let owner = user.to_string();
    fake.entitlements()
        .into_iter()
        .find(|e| e["user_id"] == owner.as_str() && e["deleted"] == false)
        .and_then(|e| e["id"].as_str().map(str::to_string))
        .expect("an entitlement of the user")
}
