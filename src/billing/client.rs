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
use crate::storage::{StorageError, Store, UserId, Viewer};

/// Per request, connection included; Stripe answers these in well under a second.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Checkouts started within the same ten minutes reuse one Checkout Session.
const CHECKOUT_KEY_WINDOW_MS: i64 = 600_000;

#[derive(Debug, thiserror::Error)]
pub enum StripeClientError {
    /// Stripe answered with an error object.
    #[error("Stripe refused the request ({status}, {kind}): {message}")]
    Api {
        status: u16,
        /// `invalid_request_error`, `api_error`, `card_error`, …
        kind: String,
        code: Option<String>,
        /// The request parameter at fault, when Stripe names one (`customer`, …).
        param: Option<String>,
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
    param: Option<String>,
    message: Option<String>,
}

impl StripeClientError {
    /// Stripe does not know the object given as `param` (e.g. a customer deleted in the
    /// Dashboard).
    pub fn is_missing(&self, param: &str) -> bool {
        matches!(self, StripeClientError::Api { code: Some(c), param: Some(p), .. }
            if c == "resource_missing" && p == param)
    }

    /// Stripe refused the request itself (4xx other than 429): retrying will not help, the
    /// configuration (key, price) is likely wrong.
    pub fn is_refusal(&self) -> bool {
        matches!(self, StripeClientError::Api { status, .. }
            if (400..500).contains(status) && *status != 429)
    }
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
    /// makes two checkouts started at once create one customer; a customer made to replace one
    /// Stripe no longer knows (`replacing`) gets a key of its own.
    pub async fn create_customer(
        &self,
        user: UserId,
        replacing: Option<&str>,
    ) -> Result<String, StripeClientError> {
        let form = vec![
            ("metadata[discord_user_id]".to_string(), user.to_string()),
            ("description".to_string(), format!("Discord user {user}")),
        ];
        let key = match replacing {
            None => format!("rlcoach-customer-{user}"),
            Some(old) => format!("rlcoach-customer-{user}-after-{old}"),
        };
        let created: Created = self.post("/v1/customers", &form, Some(&key)).await?;
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
        // A double click, a second tab or a reload within ten minutes gets the same session
        // (Stripe replays the first answer for the same key and parameters): one payment page.
        // (Stripe refuses a key reused with other parameters: they are part of the key.)
        let params = {
            use sha2::Digest as _;
            let mut h = sha2::Sha256::new();
            for (k, v) in &form {
                h.update(k.as_bytes());
                h.update([0]);
                h.update(v.as_bytes());
                h.update([0]);
            }
            hex::encode(&h.finalize()[..8])
        };
        let key = format!(
            "rlcoach-checkout-{}-{params}-{}",
            req.user,
            crate::storage::now_ms() / CHECKOUT_KEY_WINDOW_MS
        );
        self.post("/v1/checkout/sessions", &form, Some(&key)).await
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

    /// What `POST /billing/checkout` does for the viewer: their customer (created and linked
    /// first when they have none, so every later event finds them), then a Checkout Session
    /// for it. A customer Stripe no longer knows (deleted in the Dashboard) is unlinked and
    /// replaced once.
    pub async fn checkout(
        &self,
        store: &Store,
        viewer: &Viewer,
        success_url: &str,
        cancel_url: &str,
    ) -> Result<RedirectSession, StripeClientError> {
        let user = viewer.user;
        let customer = match store.stripe_customer_of(viewer).await? {
            Some(c) => c,
            None => {
                let replacing = store.deleted_stripe_customer_of(viewer).await?;
                self.new_customer(store, user, replacing.as_deref()).await?
            }
        };
        let session = |customer: String| async move {
            self.create_checkout_session(&CheckoutRequest {
                user,
                customer: Some(&customer),
                success_url,
                cancel_url,
            })
            .await
        };
        match session(customer.clone()).await {
            Err(e) if e.is_missing("customer") => {
                tracing::warn!(%customer, %user, "Stripe no longer knows this customer; making a new one");
                store.unlink_stripe_customer(user, &customer).await?;
                let fresh = self.new_customer(store, user, Some(&customer)).await?;
                session(fresh).await
            }
            other => other,
        }
    }

    async fn new_customer(
        &self,
        store: &Store,
        user: UserId,
        replacing: Option<&str>,
    ) -> Result<String, StripeClientError> {
        let c = self.create_customer(user, replacing).await?;
        Ok(store.link_stripe_customer(user, &c).await?)
    }

    /// What `POST /billing/portal` does for the viewer: None when they have never checked out
    /// (or their customer no longer exists at Stripe: it is unlinked).
    pub async fn portal(
        &self,
        store: &Store,
        viewer: &Viewer,
        return_url: &str,
    ) -> Result<Option<RedirectSession>, StripeClientError> {
        let Some(customer) = store.stripe_customer_of(viewer).await? else {
            return Ok(None);
        };
        match self.create_portal_session(&customer, return_url).await {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.is_missing("customer") => {
                tracing::warn!(%customer, user = %viewer.user, "Stripe no longer knows this customer; unlinked");
                store.unlink_stripe_customer(viewer.user, &customer).await?;
                Ok(None)
            }
            Err(e) => Err(e),
        }
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
            let (kind, code, param, message) = match parsed {
                Some(b) => (
                    b.error.kind.unwrap_or_else(|| "api_error".into()),
                    b.error.code,
                    b.error.param,
                    b.error.message.unwrap_or_default(),
                ),
                None => ("api_error".into(), None, None, String::new()),
            };
            return Err(StripeClientError::Api {
                status: status.as_u16(),
                kind,
                code,
                param,
                message,
            });
        }
        serde_json::from_slice(&body)
            .map_err(|e| StripeClientError::Response(format!("{path}: {e}")))
    }
}
