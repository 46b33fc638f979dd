//! The one error boundary of the site: every failure becomes a page with the right status.
//! What a user caused or can fix is said plainly; anything else is logged and answered with a
//! generic line (details never reach the page).

use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use rlcoach::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No session (or an expired one): go and log in.
    #[error("login required")]
    LoginRequired,
    /// Missing, or not the viewer's to see (the same answer, so ids cannot be probed).
    #[error("not found")]
    NotFound,
    /// A forged or missing CSRF token, or a cross-site POST.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The user sent something we cannot use; the message is theirs to read.
    #[error("{0}")]
    BadRequest(String),
    /// Over a per-user rate limit; the message says when to try again.
    #[error("{0}")]
    TooMany(String),
    /// A service we depend on (Discord's login, Stripe) failed; `title` names what failed.
    #[error("{message}")]
    Upstream {
        title: &'static str,
        message: String,
    },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StorageError> for WebError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound | StorageError::Forbidden => WebError::NotFound,
            StorageError::Invalid(m) => WebError::BadRequest(m),
            other => WebError::Internal(other.into()),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, title, text) = match &self {
            WebError::LoginRequired => return Redirect::to("/login").into_response(),
            WebError::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here, or it is not yours to see.".to_string(),
            ),
            WebError::Forbidden(why) => {
                tracing::warn!(why, "refused a state-changing request");
                (
                    StatusCode::FORBIDDEN,
                    "Refused",
                    "This form expired or did not come from this site. Go back, reload the page and try again.".to_string(),
                )
            }
            WebError::BadRequest(m) => (StatusCode::BAD_REQUEST, "That didn't work", m.clone()),
            WebError::TooMany(m) => (StatusCode::TOO_MANY_REQUESTS, "Slow down", m.clone()),
            WebError::Upstream { title, message } => {
                (StatusCode::BAD_GATEWAY, *title, message.clone())
            }
            WebError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "web request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Something went wrong on our side. Please try again in a minute.".to_string(),
                )
            }
        };
        let body = super::layout::bare(
            title,
            html! {
                h1 { (title) }
                p { (text) }
                p { a href="/" { "Back to the start" } }
            },
        );
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response()
    }
}

/// Any route that does not exist.
pub async fn not_found(_uri: Uri) -> WebError {
    WebError::NotFound
}

pub type WebResult<T> = Result<T, WebError>;
