//! Billing: `/billing` (the plan, its renewal or end, the coach budget of the period, and the
//! buttons), `POST /billing/checkout` (a Stripe Checkout Session for the Pro price, the user's
//! customer reused, 303 to Stripe), `POST /billing/portal` (the Customer Portal) and
//! `POST /stripe/webhook`.
//!
//! The webhook: the raw body's `Stripe-Signature` is verified before anything is parsed
//! (`rlcoach::billing::verified_event`), then the event is applied with its id in the same
//! transaction as its writes (`Store::apply_stripe_event`). Answers: 400 to anything unsigned,
//! forged, stale or unreadable (Stripe does not retry those); 500 when applying failed (nothing
//! was written; Stripe retries); 200 otherwise, duplicates included. Without the Stripe
//! configuration the site runs, `/billing` says payments are not set up, and the POST routes
//! answer 404.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, Redirect};
use maud::{Markup, html};
use rlcoach::billing::StripeClientError;
use rlcoach::storage::{BillingStatus, PlanSource, Tier};

use super::auth::{CsrfForm, CurrentUser, check_post};
use super::error::{WebError, WebResult};
use super::{AppState, coach, layout};

#[derive(serde::Deserialize, Default)]
pub struct BillingQuery {
    /// `done` after a paid checkout, `cancelled` when the user came back without paying,
    /// `already` when they tried to buy Pro while having it.
    checkout: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<BillingQuery>,
) -> WebResult<Html<String>> {
    let viewer = user.viewer();
    let status = state.store.billing_status(&viewer).await?;
    let usage = coach::usage_panel(&state, &viewer, &status.plan).await?;
    let configured = state.stripe.is_some();
    let pro = status.plan.is_pro();
    let body = html! {
        h1 { "Billing" }
        @match q.checkout.as_deref() {
            Some("done") if pro => div.panel.notice { p { strong { "Welcome to Pro!" } " Your coach is ready: ask it on Discord with " code { "/coach ask" } "." } }
            Some("done") => div.panel.notice #wait-pro data-wait-pro="/billing/plan" {
                p { strong { "Thanks!" } " Stripe is confirming your payment; Pro switches on here within a few seconds." }
            }
            Some("cancelled") => div.panel.notice { p { "Checkout cancelled: nothing was charged." } }
            Some("already") => div.panel.notice { p { "You already have Pro (or a subscription whose payment is in progress), so there is nothing to buy." } }
            _ => {}
        }
        div.panel {
            (plan_summary(&status))
        }
        h2 { "Coach budget" }
        (usage)
        h2 { "Pro" }
        div.panel {
            p { "Pro is " strong { (state.settings.pro_price) } ": the AI coach reads your own games before it answers, in a private Discord thread; it reviews your sessions and remembers what you work on. Analysis, cards, trends and this site stay free." }
            @if !configured {
                p.muted { "Payments are not set up on this site yet. Ask its operator about Pro." }
            } @else {
                div.actions {
                    @if !pro && q.checkout.as_deref() != Some("done") {
                        form.inline data-once method="post" action="/billing/checkout" {
                            input type="hidden" name="csrf" value=(user.csrf());
                            button type="submit" { "Upgrade to Pro · " (state.settings.pro_price) }
                        }
                    }
                    @if status.has_customer {
                        form.inline data-once method="post" action="/billing/portal" {
                            input type="hidden" name="csrf" value=(user.csrf());
                            button.secondary type="submit" { "Manage subscription, card and invoices" }
                        }
                    }
                }
                p.muted { "Payments are handled by Stripe; cancel any time from the portal and Pro stays on until the end of the period you paid for." }
            }
        }
    };
    Ok(layout::page("Billing", &user, "/billing", body))
}

/// The plan in words: where it comes from and until when.
fn plan_summary(status: &BillingStatus) -> Markup {
    let plan = &status.plan;
    if !plan.is_pro() {
        return html! {
            p { "You are on " strong { "Free" } "." }
            @if let Some(sub) = &status.subscription {
                @if sub.status == "canceled" { p.muted { "Your Pro subscription has ended." } }
            }
        };
    }
    let until = plan.ends_at.map(layout::date);
    html! {
        p { "You are on " strong { "Pro" } "." }
        @match plan.source {
            Some(PlanSource::Stripe) => {
                @match status.subscription.as_ref() {
                    Some(s) if s.status == "past_due" => p.warn {
                        "Your last payment failed. Pro stays on until " (until.clone().unwrap_or_default())
                        "; update your card under " em { "Manage subscription" } " to keep it."
                    },
                    Some(s) if s.cancel_at_period_end => p {
                        "Cancelled: Pro stays on until " (until.clone().unwrap_or_default())
                        " and does not renew. You can resume it under " em { "Manage subscription" } "."
                    },
                    Some(s) => p { "Paid with Stripe; renews on " (s.period_end.map(layout::date).unwrap_or_default()) "." },
                    None => p { "Paid with Stripe." },
                }
            }
            Some(PlanSource::Discord) => p {
                "Through your Discord subscription"
                @if let Some(u) = &until { " (current period until " (u) ")" }
                ". Manage it in Discord: User Settings → Subscriptions."
            },
            Some(PlanSource::Operator) => p {
                "Granted by this site's operator"
                @if let Some(u) = &until { " until " (u) }
                "."
            },
            None => {}
        }
        @let others: Vec<_> = status.grants.iter().filter(|g| g.tier == Tier::Pro && Some(g.source) != plan.source && g.ends_at.is_none_or(|e| e > rlcoach::storage::now_ms())).collect();
        @if !others.is_empty() {
            p.muted { "Also Pro through: "
                @for (i, g) in others.iter().enumerate() { @if i > 0 { ", " } (g.source.as_str()) }
                ". Losing one source keeps the other." }
        }
    }
}

/// `GET /billing/plan`: the viewer's tier as JSON, polled by the page after a checkout.
pub async fn plan(
    State(state): State<AppState>,
    user: CurrentUser,
) -> WebResult<Json<serde_json::Value>> {
    let plan = state.store.plan(&user.viewer()).await?;
    Ok(Json(
        serde_json::json!({ "tier": plan.tier.as_str(), "ends_at": plan.ends_at }),
    ))
}

/// Checkout and portal requests per user: 6 a minute (a person needs one or two).
pub const QUOTA: governor::Quota =
    governor::Quota::per_minute(std::num::NonZeroU32::new(6).unwrap());

/// A billing POST: from this site with the session's CSRF token, Stripe configured, and the
/// user within their request budget; the Stripe client to serve it.
fn billing_post<'a>(
    state: &'a AppState,
    headers: &HeaderMap,
    user: &CurrentUser,
    csrf: &str,
) -> WebResult<&'a rlcoach::billing::StripeClient> {
    check_post(state, headers, user, csrf)?;
    let client = state.stripe.as_ref().ok_or(WebError::NotFound)?;
    if state.billing_limits.check_key(&user.user().get()).is_err() {
        return Err(WebError::TooMany(
            "Too many billing requests in a row; wait a minute and try again.".into(),
        ));
    }
    Ok(client)
}

fn stripe_failed(what: &'static str, e: StripeClientError) -> WebError {
    match e {
        StripeClientError::Storage(e) => e.into(),
        e if e.is_refusal() => {
            // A key, price or account setting is wrong: the operator has to act.
            tracing::error!(error = %e, "stripe refused the {what}: check STRIPE_SECRET_KEY, STRIPE_PRICE_ID and the Stripe account");
            WebError::Upstream {
                title: "Payments are not working",
                message: format!(
                    "Stripe refused to open the {what}; this site's payment setup needs fixing and its operator has been told. Nothing was charged."
                ),
            }
        }
        e => {
            tracing::error!(error = %e, "stripe: {what} failed");
            WebError::Upstream {
                title: "Stripe is not answering",
                message: format!(
                    "Stripe did not open the {what} (it may be busy). Nothing was charged; please try again in a minute."
                ),
            }
        }
    }
}

/// `POST /billing/checkout`: to Stripe's payment page for Pro (303).
pub async fn checkout(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: CurrentUser,
    axum::Form(form): axum::Form<CsrfForm>,
) -> WebResult<Redirect> {
    let client = billing_post(&state, &headers, &user, &form.csrf)?;
    let viewer = user.viewer();
    // Pro already, or a subscription still running (e.g. its first payment in progress):
    // nothing to buy.
    let status = state.store.billing_status(&viewer).await?;
    if status.plan.is_pro() || status.subscription.as_ref().is_some_and(|s| s.is_running()) {
        return Ok(Redirect::to("/billing?checkout=already"));
    }
    let base = &state.settings.base;
    let session = client
        .checkout(
            &state.store,
            &viewer,
            &format!("{base}/billing?checkout=done"),
            &format!("{base}/billing?checkout=cancelled"),
        )
        .await
        .map_err(|e| stripe_failed("payment page", e))?;
    tracing::info!(user = %user.user(), session = %session.id, "checkout started");
    Ok(Redirect::to(&session.url))
}

/// `POST /billing/portal`: to Stripe's Customer Portal (303); back to `/billing` for a user who
/// never checked out.
pub async fn portal(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: CurrentUser,
    axum::Form(form): axum::Form<CsrfForm>,
) -> WebResult<Redirect> {
    let client = billing_post(&state, &headers, &user, &form.csrf)?;
    let return_url = format!("{}/billing", state.settings.base);
    match client
        .portal(&state.store, &user.viewer(), &return_url)
        .await
        .map_err(|e| stripe_failed("billing portal", e))?
    {
        Some(session) => Ok(Redirect::to(&session.url)),
        None => Ok(Redirect::to("/billing")),
    }
}

pub async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> (StatusCode, &'static str) {
    // Nothing is read from a request that cannot be a Stripe event: billing off, or no
    // signature header (anyone may call this route; a slow body would hold a connection).
    let Some(stripe) = state.stripe.as_ref().map(|c| c.config()) else {
        return (StatusCode::NOT_FOUND, "billing is not configured");
    };
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if signature.is_empty() {
        tracing::warn!("stripe webhook refused: no signature");
        return (StatusCode::BAD_REQUEST, "invalid webhook");
    }
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > super::WEBHOOK_BODY_LIMIT as u64) {
        return (StatusCode::PAYLOAD_TOO_LARGE, "event too large");
    }
    let body: Bytes = match axum::body::to_bytes(body, super::WEBHOOK_BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => {
            // http-body-util's LengthLimitError, as axum reports it.
            let too_large = e.to_string().contains("length limit");
            return if too_large {
                (StatusCode::PAYLOAD_TOO_LARGE, "event too large")
            } else {
                (StatusCode::BAD_REQUEST, "the event could not be read")
            };
        }
    };
    let now = rlcoach::storage::now_ms() / 1000;
    let event = match rlcoach::billing::verified_event(
        stripe.webhook_secret.expose(),
        signature,
        &body,
        now,
    ) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "stripe webhook refused");
            return (StatusCode::BAD_REQUEST, "invalid webhook");
        }
    };
    match state
        .store
        .apply_stripe_event(&event.event, &event.id)
        .await
    {
        Ok(applied) => {
            tracing::info!(event = %event.id, ?applied, "stripe event");
            (StatusCode::OK, "ok")
        }
        Err(e) => {
            tracing::error!(event = %event.id, error = %e, "stripe event failed; Stripe will retry");
            (StatusCode::INTERNAL_SERVER_ERROR, "try again")
        }
    }
}
