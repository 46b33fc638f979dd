//! The one error boundary of the site: every failure becomes a page with the right status.
//! What a user caused or can fix is said plainly; anything else is logged and answered with a
//! generic line (details never reach the page).

use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use rlcoach::storage::StorageError;

use crate::limits::wait_secs;

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
    /// Over the user's heavy-request budget (the bot's: chart renders, exports, …): 429 with
    /// `Retry-After`. `image`: the request was for an image (an `<img>` shows an SVG saying so).
    #[error("heavy requests: wait {wait:?}")]
    SlowDown {
        wait: std::time::Duration,
        image: bool,
    },
    /// No slot for reading an upload (every one taken, shared with the bot's downloads, or the
    /// user's own): 503 with `Retry-After`; `message` says why, for the user to read.
    #[error("{message}")]
    Busy {
        wait: std::time::Duration,
        message: String,
    },
    /// The request is larger than this route takes (413); the message says what the limit is.
    #[error("{0}")]
    TooLarge(String),
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
            WebError::SlowDown { wait, image } => {
                return slow_down(*wait, *image);
            }
            WebError::Busy { wait, message } => {
                let mut r = page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Busy right now",
                    &format!("{message} Nothing was stored from this upload."),
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, wait_secs(*wait).into());
                return r;
            }
            WebError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, "Too large", m.clone()),
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
        page(status, title, &text)
    }
}

/// The error page: a title, the message and the way back.
fn page(status: StatusCode, title: &str, text: &str) -> Response {
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

/// 429 with `Retry-After`: a page, or for an image request an SVG that says the same (an
/// `<img>` shows it where the chart would be).
fn slow_down(wait: std::time::Duration, image: bool) -> Response {
    // Our own words and a number: nothing to escape in the SVG.
    let text = crate::limits::wait_message(wait);
    let mut r = if image {
        let svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1200\" height=\"675\" viewBox=\"0 0 1200 675\">\
             <rect width=\"1200\" height=\"675\" fill=\"#1b1f2a\"/>\
             <text x=\"600\" y=\"330\" fill=\"#e6e6e6\" font-family=\"sans-serif\" font-size=\"36\" text-anchor=\"middle\">Too many charts at once</text>\
             <text x=\"600\" y=\"385\" fill=\"#a0a6b4\" font-family=\"sans-serif\" font-size=\"28\" text-anchor=\"middle\">{}</text></svg>",
            text
        );
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::CONTENT_TYPE, "image/svg+xml")],
            svg,
        )
            .into_response()
    } else {
        page(StatusCode::TOO_MANY_REQUESTS, "Slow down", &text)
    };
    r.headers_mut()
        .insert(header::RETRY_AFTER, wait_secs(wait).into());
    r
}

/// Any route that does not exist.
pub async fn not_found(_uri: Uri) -> WebError {
    WebError::NotFound
}

pub type WebResult<T> = Result<T, WebError>;
