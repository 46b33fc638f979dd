//! A fake Stripe on 127.0.0.1 for the billing tests (the core's client tests and the site's
//! end-to-end ones): `POST /v1/customers`, `/v1/checkout/sessions` and
//! `/v1/billing_portal/sessions` with Stripe's response and error shapes (trimmed to common
//! fields), idempotency keys honoured (a replay gets the first answer), customers that can be
//! deleted, every request recorded; the events Stripe sends after a payment
//! (`FakeStripe::events_of_payment`) and their signed delivery (`FakeStripe::deliver`), plus
//! builders for other events.
//! Used with `#[path]` from both crates' tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// The secret key the fake accepts.
pub const SECRET_KEY: &str = "sk_test_fake";
/// The price the fake knows; any other is refused as Stripe refuses an unknown price.
pub const PRICE: &str = "price_pro";
pub const DAY: i64 = 86_400;

#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub authorization: Option<String>,
    pub idempotency_key: Option<String>,
    pub form: Vec<(String, String)>,
}

impl Recorded {
    pub fn field(&self, key: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A Checkout Session the fake created: who it is for.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub client_reference_id: Option<String>,
    pub customer: Option<String>,
    pub success_url: Option<String>,
}

#[derive(Default)]
struct State {
    log: Vec<Recorded>,
    sessions: HashMap<String, Session>,
    /// Answer the next N requests with a 500 `api_error`.
    failures: u32,
    /// Customers deleted in the Dashboard: using one is a 400 `resource_missing`.
    deleted_customers: Vec<String>,
    /// `Idempotency-Key` → the request's form and Stripe's first answer (replayed as is).
    idempotent: HashMap<String, Replay>,
}

/// A keyed request's form, and the status and body first answered.
type Replay = (Vec<(String, String)>, u16, Value);

type Shared = Arc<Mutex<State>>;

pub struct FakeStripe {
    /// `http://127.0.0.1:PORT` (give `STRIPE_API_BASE` this).
    pub base: String,
    state: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeStripe {
    pub async fn start() -> FakeStripe {
        let state: Shared = Arc::default();
        let app = axum::Router::new()
            .route("/v1/{*path}", axum::routing::post(handle))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeStripe { base, state, task }
    }

    /// Every API request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().log.clone()
    }

    /// The next `n` requests get a 500 (Stripe having a bad moment).
    pub fn fail_next(&self, n: u32) {
        self.state.lock().unwrap().failures = n;
    }

    /// The customer is deleted (in the Dashboard): requests naming it are refused.
    pub fn delete_customer(&self, id: &str) {
        self.state
            .lock()
            .unwrap()
            .deleted_customers
            .push(id.to_string());
    }

    pub fn session(&self, id: &str) -> Option<Session> {
        self.state.lock().unwrap().sessions.get(id).cloned()
    }

    /// Stops answering (connections refused from now on).
    pub async fn stop(&mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }

    /// The events Stripe sends after the customer pays Checkout Session `session_id` at
    /// `now` (seconds): the session completed, the subscription created (active, a 30-day
    /// period) and its first invoice paid. Subscription `sub_<n>`.
    pub fn events_of_payment(&self, session_id: &str, now: i64) -> Vec<Value> {
        let s = self
            .session(session_id)
            .expect("a session the fake created");
        let customer = s.customer.clone().unwrap_or_else(|| "cus_Guest".into());
        let user: u64 = s
            .client_reference_id
            .as_deref()
            .and_then(|u| u.parse().ok())
            .unwrap_or(0);
        let sub = format!("sub_{}", session_id.trim_start_matches("cs_test_"));
        let period = (now, now + 30 * DAY);
        let mut subscription = Sub::active(&sub, &customer, period);
        subscription.discord_user = Some(user);
        vec![
            checkout_completed(&format!("evt_cs_{session_id}"), now, user, &customer, &sub),
            subscription.event(&format!("evt_sub_{session_id}"), "created", now),
            invoice(
                &format!("evt_inv_{session_id}"),
                "invoice.paid",
                now,
                &customer,
                &sub,
                period,
            ),
        ]
    }

    /// Delivers `events` to `webhook_url` as Stripe does (POST, JSON body, `Stripe-Signature`
    /// signed with `secret` at now); returns each answer's status.
    pub async fn deliver(webhook_url: &str, secret: &str, events: &[Value]) -> Vec<u16> {
        let http = reqwest::Client::new();
        let mut statuses = Vec::new();
        for e in events {
            let body = serde_json::to_vec(e).unwrap();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            let signature = rlcoach::billing::signature_header(secret, now, &body);
            let r = http
                .post(webhook_url)
                .header("content-type", "application/json; charset=utf-8")
                .header("stripe-signature", signature)
                .body(body)
                .send()
                .await
                .unwrap();
            statuses.push(r.status().as_u16());
        }
        statuses
    }
}

async fn handle(
    axum::extract::State(state): axum::extract::State<Shared>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let recorded = Recorded {
        path: uri.path().to_string(),
        authorization: header("authorization"),
        idempotency_key: header("idempotency-key"),
        form,
    };
    let mut st = state.lock().unwrap();
    st.log.push(recorded.clone());
    let error = |status: StatusCode, body: Value| (status, axum::Json(body)).into_response();
    // Idempotency: the same key again replays the first answer; with other parameters it is
    // refused, as Stripe does.
    if let Some(key) = &recorded.idempotency_key
        && let Some((form, status, body)) = st.idempotent.get(key).cloned()
    {
        if form != recorded.form {
            return error(
                StatusCode::BAD_REQUEST,
                json!({"error": {"type": "idempotency_error", "message":
                    "Keys for idempotent requests can only be used with the same parameters they were first used with."}}),
            );
        }
        return error(StatusCode::from_u16(status).unwrap(), body);
    }
    let (status, body) = answer(&mut st, &recorded);
    if let Some(key) = &recorded.idempotency_key
        && status < 500
    {
        st.idempotent
            .insert(key.clone(), (recorded.form.clone(), status, body.clone()));
    }
    if status == 404 {
        return StatusCode::NOT_FOUND.into_response();
    }
    error(StatusCode::from_u16(status).unwrap(), body)
}

/// Stripe's answer to one request: (status, body).
fn answer(st: &mut State, recorded: &Recorded) -> (u16, Value) {
    let n = st.log.len();
    if st.failures > 0 {
        st.failures -= 1;
        return (
            500,
            json!({"error": {"type": "api_error", "message": "An unknown error occurred"}}),
        );
    }
    if recorded.authorization.as_deref() != Some(&*format!("Bearer {SECRET_KEY}")) {
        return (
            401,
            json!({"error": {"type": "invalid_request_error",
                "message": "Invalid API Key provided: sk_test_****"}}),
        );
    }
    if let Some(c) = recorded.field("customer")
        && st.deleted_customers.iter().any(|d| d == c)
    {
        return (
            400,
            json!({"error": {"code": "resource_missing", "param": "customer",
                "message": format!("No such customer: '{c}'"), "type": "invalid_request_error"}}),
        );
    }
    let body = match recorded.path.as_str() {
        "/v1/customers" => json!({
            "id": format!("cus_Fake{n}"), "object": "customer", "created": 1_765_000_000,
            "description": recorded.field("description"), "email": null,
            "livemode": false, "metadata": {"discord_user_id": recorded.field("metadata[discord_user_id]")},
            "invoice_settings": {"default_payment_method": null}
        }),
        "/v1/checkout/sessions" => {
            let price = recorded.field("line_items[0][price]").unwrap_or_default();
            if price != PRICE {
                return (
                    400,
                    json!({"error": {
                        "code": "resource_missing", "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
                        "message": format!("No such price: '{price}'"),
                        "param": "line_items[0][price]", "type": "invalid_request_error"}}),
                );
            }
            let id = format!("cs_test_{n}");
            st.sessions.insert(
                id.clone(),
                Session {
                    id: id.clone(),
                    client_reference_id: recorded.field("client_reference_id").map(str::to_string),
                    customer: recorded.field("customer").map(str::to_string),
                    success_url: recorded.field("success_url").map(str::to_string),
                },
            );
            json!({
                "id": id, "object": "checkout.session",
                "client_reference_id": recorded.field("client_reference_id"),
                "customer": recorded.field("customer"), "mode": "subscription",
                "payment_status": "unpaid", "status": "open", "livemode": false,
                "success_url": recorded.field("success_url"),
                "cancel_url": recorded.field("cancel_url"),
                "url": format!("https://checkout.stripe.com/c/pay/{id}")
            })
        }
        "/v1/billing_portal/sessions" => json!({
            "id": format!("bps_{n}"), "object": "billing_portal.session",
            "configuration": "bpc_1", "created": 1_765_000_000,
            "customer": recorded.field("customer"), "livemode": false, "locale": null,
            "on_behalf_of": null, "return_url": recorded.field("return_url"),
            "url": format!("https://billing.stripe.com/p/session/test_{n}")
        }),
        _ => return (404, Value::Null),
    };
    (200, body)
}

// ----- events, shaped as Stripe sends them -----

pub fn envelope(id: &str, kind: &str, created: i64, object: Value) -> Value {
    json!({
        "id": id, "object": "event", "api_version": "2025-03-31.basil", "created": created,
        "livemode": false, "pending_webhooks": 1, "type": kind,
        "request": {"id": null, "idempotency_key": null},
        "data": {"object": object}
    })
}

pub fn checkout_completed(id: &str, created: i64, user: u64, customer: &str, sub: &str) -> Value {
    envelope(
        id,
        "checkout.session.completed",
        created,
        json!({
            "id": format!("cs_test_{id}"), "object": "checkout.session", "mode": "subscription",
            "client_reference_id": user.to_string(), "customer": customer,
            "subscription": sub, "payment_status": "paid", "status": "complete",
            "amount_total": 1000, "currency": "usd", "metadata": {}
        }),
    )
}

pub struct Sub<'a> {
    pub id: &'a str,
    pub customer: &'a str,
    pub status: &'a str,
    pub period: (i64, i64),
    pub cancel_at_period_end: bool,
    /// Put the period on the items (newer API versions) instead of the subscription.
    pub period_on_items: bool,
    pub discord_user: Option<u64>,
}

impl<'a> Sub<'a> {
    pub fn active(id: &'a str, customer: &'a str, period: (i64, i64)) -> Sub<'a> {
        Sub {
            id,
            customer,
            status: "active",
            period,
            cancel_at_period_end: false,
            period_on_items: true,
            discord_user: None,
        }
    }

    pub fn event(&self, id: &str, kind: &str, created: i64) -> Value {
        let mut object = json!({
            "id": self.id, "object": "subscription", "customer": self.customer,
            "status": self.status, "cancel_at_period_end": self.cancel_at_period_end,
            "cancel_at": if self.cancel_at_period_end { json!(self.period.1) } else { json!(null) },
            "created": self.period.0 - 5, "currency": "usd",
            "items": {"object": "list", "data": [{
                "id": "si_1", "object": "subscription_item",
                "price": {"id": PRICE, "object": "price", "unit_amount": 1000},
                "quantity": 1
            }]},
            "metadata": match self.discord_user {
                Some(u) => json!({"discord_user_id": u.to_string()}),
                None => json!({}),
            }
        });
        if self.period_on_items {
            object["items"]["data"][0]["current_period_start"] = json!(self.period.0);
            object["items"]["data"][0]["current_period_end"] = json!(self.period.1);
        } else {
            object["current_period_start"] = json!(self.period.0);
            object["current_period_end"] = json!(self.period.1);
        }
        envelope(
            id,
            &format!("customer.subscription.{kind}"),
            created,
            object,
        )
    }
}

pub fn invoice(
    id: &str,
    kind: &str,
    created: i64,
    customer: &str,
    sub: &str,
    period: (i64, i64),
) -> Value {
    envelope(
        id,
        kind,
        created,
        json!({
            "id": format!("in_{id}"), "object": "invoice", "customer": customer,
            "billing_reason": "subscription_cycle", "status": "paid",
            // A renewal invoice's own period is the one that just ended.
            "period_start": period.0 - 30 * DAY, "period_end": period.0,
            "parent": {"type": "subscription_details",
                       "subscription_details": {"subscription": sub, "metadata": {}}},
            "lines": {"object": "list", "data": [{
                "id": "il_1", "object": "line_item", "amount": 1000,
                "period": {"start": period.0, "end": period.1}
            }]}
        }),
    )
}
