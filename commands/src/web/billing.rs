//! Billing routes. `POST /stripe/webhook`: the raw body's `Stripe-Signature` is verified before
//! anything is parsed (`rlcoach::billing::verified_event`), then the event is applied with its id
//! in the same transaction as its writes (`Store::apply_stripe_event`). Answers: 400 to anything
//! unsigned, forged, stale or unreadable (Stripe does not retry those); 500 when applying failed
//! (nothing was written; Stripe retries); 200 otherwise, duplicates included. Without the Stripe
//! configuration the route answers 404. (The `/billing` page, checkout and portal routes are
//! not built yet.)

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use super::AppState;

pub async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let Some(stripe) = &state.settings.stripe else {
        return (StatusCode::NOT_FOUND, "billing is not configured");
    };
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
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
