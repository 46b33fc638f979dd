//! Stripe webhooks: the `Stripe-Signature` check on the raw body, then parsing of only the event
//! types billing handles into small structs (everything else is `Event::Ignored`).
//!
//! async-stripe's webhook crate is not used: its generated event enum takes over 11 minutes to
//! build in release on 2 cores and has overflowed small stacks in debug builds, while the check
//! is a dozen lines of `hmac` + `sha2` and we read a handful of fields.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// Largest accepted distance between a signature's timestamp and now (Stripe's default).
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the request carries no Stripe signature")]
    Unsigned,
    #[error("the Stripe-Signature header is malformed")]
    Malformed,
    #[error("the signature's timestamp is {age_secs} s from now (more than {TOLERANCE_SECS} s)")]
    Stale { age_secs: i64 },
    #[error("no signature matches the body")]
    Mismatch,
    #[error("the event body is unreadable: {0}")]
    Payload(String),
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Checks `header` (`t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, other schemes ignored) against the
/// raw request body: one `v1` must be HMAC-SHA256(secret, "{t}.{body}") (compared in constant
/// time), and `t` within [`TOLERANCE_SECS`] of `now_secs`. Call it before parsing anything.
pub fn verify_signature(
    secret: &str,
    header: &str,
    raw_body: &[u8],
    now_secs: i64,
) -> Result<(), WebhookError> {
    let mut timestamp: Option<&str> = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            continue;
        };
        match key {
            "t" => timestamp = Some(value),
            "v1" => signatures.push(value),
            _ => {}
        }
    }
    // No header, or no v1 scheme in it (only test-mode `v0`, say): not signed for us.
    if signatures.is_empty() {
        return Err(WebhookError::Unsigned);
    }
    let timestamp = timestamp.ok_or(WebhookError::Malformed)?;
    let t: i64 = timestamp.parse().map_err(|_| WebhookError::Malformed)?;
    let expected = mac(secret, timestamp, raw_body);
    let matched = signatures.iter().any(|sig| {
        hex::decode(sig).is_ok_and(|bytes| expected.clone().verify_slice(&bytes).is_ok())
    });
    if !matched {
        return Err(WebhookError::Mismatch);
    }
    let age_secs = now_secs.saturating_sub(t).saturating_abs();
    if age_secs > TOLERANCE_SECS {
        return Err(WebhookError::Stale { age_secs });
    }
    Ok(())
}

/// The `Stripe-Signature` header Stripe would send for `raw_body` at `timestamp` (for tests,
/// the local simulator and replaying an event by hand).
pub fn signature_header(secret: &str, timestamp: i64, raw_body: &[u8]) -> String {
    let t = timestamp.to_string();
    let sig = hex::encode(mac(secret, &t, raw_body).finalize().into_bytes());
    format!("t={t},v1={sig}")
}

/// A verified event: its id (the idempotency key), when Stripe created it (unix seconds), and
/// what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedEvent {
    pub id: String,
    pub created: i64,
    pub event: Event,
}

/// The events billing acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `checkout.session.completed`: links the customer to the Discord user.
    CheckoutCompleted(CheckoutCompleted),
    /// `customer.subscription.created` / `updated` / `deleted`.
    Subscription(SubscriptionChange),
    /// `invoice.paid`: a (new) billing period is paid for.
    InvoicePaid(InvoiceEvent),
    /// `invoice.payment_failed`: the subscription is (about to be) past due.
    InvoicePaymentFailed(InvoiceEvent),
    /// `charge.refunded` / `charge.dispute.created`: logged for a human, nothing changes.
    MoneyBack(MoneyBack),
    /// `customer.deleted` (in the Dashboard or by the API): Stripe cancels the customer's
    /// subscriptions at once.
    CustomerDeleted(CustomerDeleted),
    /// Any other type (the endpoint should not be sent them, but may be).
    Ignored(String),
}

impl Event {
    /// The Stripe event type it came from.
    pub fn type_name(&self) -> &str {
        match self {
            Event::CheckoutCompleted(_) => "checkout.session.completed",
            Event::Subscription(s) => match s.action {
                SubscriptionAction::Created => "customer.subscription.created",
                SubscriptionAction::Updated => "customer.subscription.updated",
                SubscriptionAction::Deleted => "customer.subscription.deleted",
            },
            Event::InvoicePaid(_) => "invoice.paid",
            Event::InvoicePaymentFailed(_) => "invoice.payment_failed",
            Event::MoneyBack(m) => match m.kind {
                MoneyBackKind::Refund => "charge.refunded",
                MoneyBackKind::Dispute => "charge.dispute.created",
            },
            Event::CustomerDeleted(_) => "customer.deleted",
            Event::Ignored(t) => t,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerDeleted {
    /// The event's `created` (unix seconds).
    pub event_created: i64,
    pub customer: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutCompleted {
    /// The event's `created` (unix seconds).
    pub event_created: i64,
    pub session_id: String,
    /// What we put in `client_reference_id`: the Discord user id (None when the session was
    /// not made by us, e.g. a payment link).
    pub client_reference_id: Option<String>,
    pub customer: Option<String>,
    pub subscription: Option<String>,
    /// `payment_status` is `paid` (or `no_payment_required`, a trial).
    pub paid: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionAction {
    Created,
    Updated,
    Deleted,
}

/// A subscription as one event saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionChange {
    pub action: SubscriptionAction,
    /// The event's `created` (unix seconds): orders states of the same subscription.
    pub event_created: i64,
    pub id: String,
    pub customer: String,
    /// Stripe's status (`active`, `trialing`, `past_due`, `canceled`, `unpaid`, `incomplete`,
    /// `incomplete_expired`, `paused`).
    pub status: String,
    pub cancel_at_period_end: bool,
    /// When a scheduled cancellation takes effect (unix seconds).
    pub cancel_at: Option<i64>,
    /// The current billing period (unix seconds): on the subscription in older API versions,
    /// on its items in newer ones (the widest of the items' periods then).
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
    /// The subscription object's own `created`.
    pub created: i64,
    /// `metadata.discord_user_id`, which our Checkout Sessions set on the subscription.
    pub discord_user_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceEvent {
    pub event_created: i64,
    pub id: String,
    pub customer: Option<String>,
    pub subscription: Option<String>,
    /// `subscription_create`, `subscription_cycle`, … (None on old objects).
    pub billing_reason: Option<String>,
    /// The service period of its lines (the latest-ending line), unix seconds: a renewal
    /// invoice's own `period_start/end` is the period that just ended, its lines the new one.
    pub period: Option<(i64, i64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoneyBackKind {
    Refund,
    Dispute,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneyBack {
    pub kind: MoneyBackKind,
    /// The charge or dispute id.
    pub id: String,
    pub charge: Option<String>,
    pub customer: Option<String>,
    /// In the smallest currency unit.
    pub amount: Option<i64>,
    pub currency: Option<String>,
    pub reason: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    created: i64,
    data: EnvelopeData,
}

#[derive(Deserialize)]
struct EnvelopeData {
    object: serde_json::Value,
}

/// An id, or the object it names when expanded.
#[derive(Deserialize)]
#[serde(untagged)]
enum Expandable {
    Id(String),
    Object { id: String },
}

impl Expandable {
    fn into_id(self) -> String {
        match self {
            Expandable::Id(id) | Expandable::Object { id } => id,
        }
    }
}

fn id_of(e: Option<Expandable>) -> Option<String> {
    e.map(Expandable::into_id)
}

#[derive(Deserialize)]
struct List<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
}

#[derive(Deserialize)]
struct CustomerObject {
    id: String,
}

#[derive(Deserialize)]
struct SessionObject {
    id: String,
    client_reference_id: Option<String>,
    customer: Option<Expandable>,
    subscription: Option<Expandable>,
    payment_status: Option<String>,
}

#[derive(Deserialize)]
struct SubscriptionObject {
    id: String,
    customer: Expandable,
    status: String,
    #[serde(default)]
    cancel_at_period_end: bool,
    cancel_at: Option<i64>,
    current_period_start: Option<i64>,
    current_period_end: Option<i64>,
    items: Option<List<SubscriptionItem>>,
    created: i64,
    #[serde(default)]
    metadata: std::collections::HashMap<String, String>,
}

#[derive(Deserialize)]
struct SubscriptionItem {
    current_period_start: Option<i64>,
    current_period_end: Option<i64>,
}

#[derive(Deserialize)]
struct InvoiceObject {
    id: String,
    customer: Option<Expandable>,
    /// Older API versions.
    subscription: Option<Expandable>,
    /// Newer ones: `parent.subscription_details.subscription`.
    parent: Option<InvoiceParent>,
    billing_reason: Option<String>,
    lines: Option<List<InvoiceLine>>,
}

#[derive(Deserialize)]
struct InvoiceParent {
    subscription_details: Option<SubscriptionDetails>,
}

#[derive(Deserialize)]
struct SubscriptionDetails {
    subscription: Option<Expandable>,
}

#[derive(Deserialize)]
struct InvoiceLine {
    period: Option<LinePeriod>,
}

#[derive(Deserialize)]
struct LinePeriod {
    start: i64,
    end: i64,
}

#[derive(Deserialize)]
struct ChargeObject {
    id: String,
    customer: Option<Expandable>,
    amount_refunded: Option<i64>,
    currency: Option<String>,
}

#[derive(Deserialize)]
struct DisputeObject {
    id: String,
    charge: Option<Expandable>,
    amount: Option<i64>,
    currency: Option<String>,
    reason: Option<String>,
}

fn object<T: serde::de::DeserializeOwned>(
    kind: &str,
    v: serde_json::Value,
) -> Result<T, WebhookError> {
    serde_json::from_value(v).map_err(|e| WebhookError::Payload(format!("{kind}: {e}")))
}

/// Parses a verified body. Unknown types become [`Event::Ignored`]; a handled type whose object
/// lacks what we need is an error.
pub fn parse_event(raw_body: &[u8]) -> Result<ParsedEvent, WebhookError> {
    let envelope: Envelope =
        serde_json::from_slice(raw_body).map_err(|e| WebhookError::Payload(e.to_string()))?;
    let kind = envelope.kind.as_str();
    let created = envelope.created;
    let raw = envelope.data.object;
    let event = match kind {
        "checkout.session.completed" => {
            let s: SessionObject = object(kind, raw)?;
            Event::CheckoutCompleted(CheckoutCompleted {
                event_created: created,
                session_id: s.id,
                client_reference_id: s.client_reference_id,
                customer: id_of(s.customer),
                subscription: id_of(s.subscription),
                paid: matches!(
                    s.payment_status.as_deref(),
                    Some("paid" | "no_payment_required")
                ),
            })
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            let action = match kind {
                "customer.subscription.created" => SubscriptionAction::Created,
                "customer.subscription.updated" => SubscriptionAction::Updated,
                _ => SubscriptionAction::Deleted,
            };
            let s: SubscriptionObject = object(kind, raw)?;
            let items = s.items.map(|l| l.data).unwrap_or_default();
            let item_start = items.iter().filter_map(|i| i.current_period_start).min();
            let item_end = items.iter().filter_map(|i| i.current_period_end).max();
            Event::Subscription(SubscriptionChange {
                action,
                event_created: created,
                id: s.id,
                customer: s.customer.into_id(),
                status: s.status,
                cancel_at_period_end: s.cancel_at_period_end,
                cancel_at: s.cancel_at,
                current_period_start: s.current_period_start.or(item_start),
                current_period_end: s.current_period_end.or(item_end),
                created: s.created,
                discord_user_id: s.metadata.get("discord_user_id").cloned(),
            })
        }
        "invoice.paid" | "invoice.payment_failed" => {
            let i: InvoiceObject = object(kind, raw)?;
            let subscription = id_of(i.subscription).or_else(|| {
                i.parent
                    .and_then(|p| p.subscription_details)
                    .and_then(|d| id_of(d.subscription))
            });
            let period = i
                .lines
                .map(|l| l.data)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|line| line.period)
                .max_by_key(|p| (p.end, p.start))
                .map(|p| (p.start, p.end));
            let invoice = InvoiceEvent {
                event_created: created,
                id: i.id,
                customer: id_of(i.customer),
                subscription,
                billing_reason: i.billing_reason,
                period,
            };
            if kind == "invoice.paid" {
                Event::InvoicePaid(invoice)
            } else {
                Event::InvoicePaymentFailed(invoice)
            }
        }
        "customer.deleted" => {
            let c: CustomerObject = object(kind, raw)?;
            Event::CustomerDeleted(CustomerDeleted {
                event_created: created,
                customer: c.id,
            })
        }
        "charge.refunded" => {
            let c: ChargeObject = object(kind, raw)?;
            Event::MoneyBack(MoneyBack {
                kind: MoneyBackKind::Refund,
                charge: Some(c.id.clone()),
                id: c.id,
                customer: id_of(c.customer),
                amount: c.amount_refunded,
                currency: c.currency,
                reason: None,
            })
        }
        "charge.dispute.created" => {
            let d: DisputeObject = object(kind, raw)?;
            Event::MoneyBack(MoneyBack {
                kind: MoneyBackKind::Dispute,
                id: d.id,
                charge: id_of(d.charge),
                customer: None,
                amount: d.amount,
                currency: d.currency,
                reason: d.reason,
            })
        }
        other => Event::Ignored(other.to_string()),
    };
    Ok(ParsedEvent {
        id: envelope.id,
        created,
        event,
    })
}

/// Verifies, then parses: what the webhook route does with a request.
pub fn verified_event(
    webhook_secret: &str,
    signature_header: &str,
    raw_body: &[u8],
    now_secs: i64,
) -> Result<ParsedEvent, WebhookError> {
    verify_signature(webhook_secret, signature_header, raw_body, now_secs)?;
    parse_event(raw_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";

    #[test]
    fn signatures() {
        let body = br#"{"id":"evt_1"}"#;
        let header = signature_header(SECRET, 1_000, body);
        assert_eq!(verify_signature(SECRET, &header, body, 1_000), Ok(()));
        assert_eq!(verify_signature(SECRET, &header, body, 1_300), Ok(()));
        assert_eq!(verify_signature(SECRET, &header, body, 700), Ok(()));
        assert_eq!(
            verify_signature(SECRET, &header, body, 1_301),
            Err(WebhookError::Stale { age_secs: 301 })
        );
        assert_eq!(
            verify_signature("whsec_other", &header, body, 1_000),
            Err(WebhookError::Mismatch)
        );
        assert_eq!(
            verify_signature(SECRET, &header, br#"{"id":"evt_2"}"#, 1_000),
            Err(WebhookError::Mismatch)
        );
        // Any v1 may match (secret rolling); other schemes are ignored.
        let v1 = header.split_once(",v1=").unwrap().1;
        let rolled = format!("t=1000,v1={},v0=abc,v1={v1}", "00".repeat(32));
        assert_eq!(verify_signature(SECRET, &rolled, body, 1_000), Ok(()));
        assert_eq!(
            verify_signature(SECRET, "", body, 1_000),
            Err(WebhookError::Unsigned)
        );
        assert_eq!(
            verify_signature(SECRET, &format!("v1={v1}"), body, 1_000),
            Err(WebhookError::Malformed)
        );
        assert_eq!(
            verify_signature(SECRET, &format!("t=soon,v1={v1}"), body, 1_000),
            Err(WebhookError::Malformed)
        );
        assert_eq!(
            verify_signature(SECRET, "t=1000", body, 1_000),
            Err(WebhookError::Unsigned)
        );
        assert_eq!(
            verify_signature(SECRET, "t=1000,v1=zz", body, 1_000),
            Err(WebhookError::Mismatch)
        );
    }

    #[test]
    fn subscription_periods_from_items_in_newer_api_versions() {
        let body = br#"{"id":"evt_1","type":"customer.subscription.updated","created":50,
            "data":{"object":{"id":"sub_1","object":"subscription","customer":"cus_1",
            "status":"active","cancel_at_period_end":false,"cancel_at":null,"created":10,
            "items":{"object":"list","data":[{"id":"si_1","current_period_start":100,
            "current_period_end":200}]},"metadata":{"discord_user_id":"42"}}}}"#;
        let e = parse_event(body).unwrap();
        let Event::Subscription(s) = e.event else {
            panic!("{e:?}")
        };
        assert_eq!(
            (s.current_period_start, s.current_period_end),
            (Some(100), Some(200))
        );
        assert_eq!(s.discord_user_id.as_deref(), Some("42"));
        assert_eq!(s.event_created, 50);
    }

    #[test]
    fn invoice_subscription_from_parent_and_period_from_lines() {
        let body = br#"{"id":"evt_2","type":"invoice.paid","created":50,"data":{"object":{
            "id":"in_1","customer":{"id":"cus_1","object":"customer"},"period_start":1,"period_end":100,
            "billing_reason":"subscription_cycle",
            "parent":{"type":"subscription_details","subscription_details":{"subscription":"sub_1"}},
            "lines":{"object":"list","data":[{"id":"il_1","period":{"start":100,"end":200}}]}}}}"#;
        let e = parse_event(body).unwrap();
        let Event::InvoicePaid(i) = e.event else {
            panic!("{e:?}")
        };
        assert_eq!(i.subscription.as_deref(), Some("sub_1"));
        assert_eq!(i.customer.as_deref(), Some("cus_1"));
        assert_eq!(i.period, Some((100, 200)));
        let unknown =
            br#"{"id":"evt_3","type":"customer.created","created":1,"data":{"object":{}}}"#;
        assert_eq!(
            parse_event(unknown).unwrap().event,
            Event::Ignored("customer.created".into())
        );
    }
}
