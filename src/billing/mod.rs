//! Pro billing: Stripe (Checkout, the Customer Portal, webhooks) and Discord App Subscriptions.
//!
//! - `webhook` — the `Stripe-Signature` check and parsing of the handled event types.
//! - `client` — the two Stripe API calls the site makes (Checkout Session, portal session).
//! - the state lives in storage (`storage/billing.rs`): `Store::apply_stripe_event` (idempotent
//!   on the event id, in one transaction with its writes; out-of-order safe) and
//!   `Store::apply_entitlement` / `Store::reconcile_entitlements` for Discord, both feeding the
//!   `stripe` and `discord` rows of `user_plans` that `Store::plan_of` decides from.
//!
//! No HTTP-server types here: the web routes and the bot's gateway handler call these.

pub mod client;
pub mod webhook;

pub use client::{CheckoutRequest, RedirectSession, StripeClient, StripeClientError};
pub use webhook::{
    Event, ParsedEvent, WebhookError, parse_event, signature_header, verified_event,
    verify_signature,
};

/// A secret string that never reaches a log: its `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Stripe's API, by default.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";

/// Stripe settings: `STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET`, `STRIPE_PRICE_ID`,
/// `STRIPE_API_BASE`.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    pub secret_key: Secret,
    pub webhook_secret: Secret,
    /// The monthly Pro price (`price_…`).
    pub price_id: String,
    /// Without a trailing slash; a fake Stripe in tests.
    pub api_base: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("billing is half configured: {missing} missing (set all of {needed} or none)")]
pub struct BillingConfigError {
    pub missing: String,
    pub needed: &'static str,
}

impl StripeConfig {
    /// From variables looked up by `get` (the environment in production): None when none of
    /// the three required ones is set (billing is then "not configured"), an error when only
    /// some are.
    pub fn from_vars(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<StripeConfig>, BillingConfigError> {
        const NEEDED: [&str; 3] = [
            "STRIPE_SECRET_KEY",
            "STRIPE_WEBHOOK_SECRET",
            "STRIPE_PRICE_ID",
        ];
        let values: Vec<Option<String>> = NEEDED
            .iter()
            .map(|k| {
                get(k)
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
            })
            .collect();
        if values.iter().all(Option::is_none) {
            return Ok(None);
        }
        let missing: Vec<&str> = NEEDED
            .iter()
            .zip(&values)
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| *k)
            .collect();
        if !missing.is_empty() {
            return Err(BillingConfigError {
                missing: missing.join(", "),
                needed: "STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, STRIPE_PRICE_ID",
            });
        }
        let mut values = values.into_iter().flatten();
        let (secret_key, webhook_secret, price_id) = (
            values.next().unwrap_or_default(),
            values.next().unwrap_or_default(),
            values.next().unwrap_or_default(),
        );
        let api_base = get("STRIPE_API_BASE")
            .map(|v| v.trim().trim_end_matches('/').to_string())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| STRIPE_API_BASE.to_string());
        Ok(Some(StripeConfig {
            secret_key: Secret::new(secret_key),
            webhook_secret: Secret::new(webhook_secret),
            price_id,
            api_base,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn config_is_all_or_nothing_and_hides_secrets() {
        assert!(StripeConfig::from_vars(vars(&[])).unwrap().is_none());
        let err = StripeConfig::from_vars(vars(&[("STRIPE_SECRET_KEY", "sk_test_1")])).unwrap_err();
        assert_eq!(err.missing, "STRIPE_WEBHOOK_SECRET, STRIPE_PRICE_ID");
        let c = StripeConfig::from_vars(vars(&[
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
            ("STRIPE_PRICE_ID", "price_1"),
            ("STRIPE_API_BASE", "http://127.0.0.1:9/"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.api_base, "http://127.0.0.1:9");
        assert_eq!(c.secret_key.expose(), "sk_test_1");
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("sk_test_1") && !shown.contains("whsec_1"),
            "{shown}"
        );
        assert!(shown.contains("price_1"));
    }
}
