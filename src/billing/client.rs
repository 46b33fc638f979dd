//! The Stripe API calls the site makes: a customer for a Discord user, a Checkout Session
//! (subscription mode, the Pro price) and a Customer Portal session.
//!
//! Written over reqwest (form-encoded bodies, `Authorization: Bearer`) rather than
//! async-stripe's split crates (`async-stripe` with rustls, `async-stripe-checkout`,
//! `async-stripe-billing`): they all depend on `async-stripe-shared`, 11 MB of generated types,
//! whose debug build took 585 s on this project's 2-core machine (cargo `--timings`, cores shared
//! with another build; the three crates above ~100 s more), paid on every clean build, for
//! three POSTs whose answers we read two fields of. Their strict response
//! types would also make a fake Stripe serve every required field of every object. The form
//! fields below are the ones async-stripe would send for these requests.

use std::time::Duration;

use serde::Deserialize;

use super::StripeConfig;
use crate::storage::{StorageError, Store, UserId};

/// Per request, connection included; Stripe answers these in well under a second.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum StripeClientError {
    /// Stripe answered with an error object.
    #[error("Stripe refused the request ({status}, {kind}): {message}")]
    Api {
        status: u16,
        /// `invalid_request_error`, `api_error`, `card_error`, …
        kind: String,
        code: Option<String>,
        message: String,
    },
    #[error("Stripe could not be reached: {0}")]
    Transport(String),
    #[error("unexpected answer from Stripe: {0}")]
    Response(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A Checkout Session or portal session: where to send the user.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RedirectSession {
    pub id: String,
    pub url: String,
}

/// What a checkout is for.
#[derive(Debug, Clone)]
pub struct CheckoutRequest<'a> {
    pub user: UserId,
    /// The user's Stripe customer, reused when they have one.
    pub customer: Option<&'a str>,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorObject,
}

#[derive(Deserialize)]
struct ErrorObject {
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

/// A Stripe API client (cheap to clone).
#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    config: StripeConfig,
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl StripeClient {
    pub fn new(config: StripeConfig) -> Result<StripeClient, StripeClientError> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("rlcoach/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| StripeClientError::Transport(e.to_string()))?;
        Ok(StripeClient { http, config })
    }

    pub fn config(&self) -> &StripeConfig {
        &self.config
    }

    /// `POST /v1/customers` for a Discord user (their id in the metadata). The idempotency key
    /// makes two checkouts started at once create one customer.
    pub async fn create_customer(&self, user: UserId) -> Result<String, StripeClientError> {
        let form = vec![
            ("metadata[discord_user_id]".to_string(), user.to_string()),
            ("description".to_string(), format!("Discord user {user}")),
        ];
        let created: Created = self
            .post(
                "/v1/customers",
                &form,
                Some(&format!("rlcoach-customer-{user}")),
            )
            .await?;
        Ok(created.id)
    }

    /// `POST /v1/checkout/sessions`: a subscription to the Pro price for `req.user`
    /// (`client_reference_id`, and `metadata.discord_user_id` on the subscription so its own
    /// events name the user too).
    pub async fn create_checkout_session(
        &self,
        req: &CheckoutRequest<'_>,
    ) -> Result<RedirectSession, StripeClientError> {
        let user = req.user.to_string();
        let mut form: Vec<(String, String)> = vec![
            ("mode".into(), "subscription".into()),
            ("line_items[0][price]".into(), self.config.price_id.clone()),
            ("line_items[0][quantity]".into(), "1".into()),
            ("client_reference_id".into(), user.clone()),
            ("subscription_data[metadata][discord_user_id]".into(), user),
            ("success_url".into(), req.success_url.to_string()),
            ("cancel_url".into(), req.cancel_url.to_string()),
        ];
        if let Some(customer) = req.customer {
            form.push(("customer".into(), customer.to_string()));
        }
        self.post("/v1/checkout/sessions", &form, None).await
    }

    /// `POST /v1/billing_portal/sessions` for a customer, coming back to `return_url`.
    pub async fn create_portal_session(
        &self,
        customer: &str,
        return_url: &str,
    ) -> Result<RedirectSession, StripeClientError> {
        let form = vec![
            ("customer".to_string(), customer.to_string()),
            ("return_url".to_string(), return_url.to_string()),
        ];
        self.post("/v1/billing_portal/sessions", &form, None).await
    }

    /// What `POST /billing/checkout` does: the user's customer (created and linked first when
    /// they have none, so every later event finds them), then a Checkout Session for it.
    pub async fn checkout(
        &self,
        store: &Store,
        user: UserId,
        success_url: &str,
        cancel_url: &str,
    ) -> Result<RedirectSession, StripeClientError> {
        let customer = match store.stripe_customer_of(user).await? {
            Some(c) => c,
            None => {
                let c = self.create_customer(user).await?;
                store.link_stripe_customer(user, &c).await?
            }
        };
        self.create_checkout_session(&CheckoutRequest {
            user,
            customer: Some(&customer),
            success_url,
            cancel_url,
        })
        .await
    }

    /// What `POST /billing/portal` does: None when the user has never checked out.
    pub async fn portal(
        &self,
        store: &Store,
        user: UserId,
        return_url: &str,
    ) -> Result<Option<RedirectSession>, StripeClientError> {
        let Some(customer) = store.stripe_customer_of(user).await? else {
            return Ok(None);
        };
        self.create_portal_session(&customer, return_url)
            .await
            .map(Some)
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        form: &[(String, String)],
        idempotency_key: Option<&str>,
    ) -> Result<T, StripeClientError> {
        let mut request = self
            .http
            .post(format!("{}{path}", self.config.api_base))
            .bearer_auth(self.config.secret_key.expose())
            .form(form);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| StripeClientError::Transport(e.without_url().to_string()))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| StripeClientError::Transport(e.without_url().to_string()))?;
        if !status.is_success() {
            let parsed = serde_json::from_slice::<ErrorBody>(&body).ok();
            let (kind, code, message) = match parsed {
                Some(b) => (
                    b.error.kind.unwrap_or_else(|| "api_error".into()),
                    b.error.code,
                    b.error.message.unwrap_or_default(),
                ),
                None => ("api_error".into(), None, String::new()),
            };
            return Err(StripeClientError::Api {
                status: status.as_u16(),
                kind,
                code,
                message,
            });
        }
        serde_json::from_slice(&body)
            .map_err(|e| StripeClientError::Response(format!("{path}: {e}")))
    }
}
