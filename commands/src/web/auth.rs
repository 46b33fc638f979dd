//! Login sessions, cookies and CSRF.
//!
//! The session cookie holds an opaque random id (the row in `web_sessions`) with an
//! HMAC-SHA256 signature under `RLCOACH_SESSION_KEY`: HttpOnly, SameSite=Lax, Secure when the
//! site is https. The login's `state`, PKCE verifier and issue time ride in a second signed
//! cookie scoped to `/auth`; a callback is honoured within ten minutes of the issue time and
//! once per state (`Store::consume_oauth_state`, so also across restarts and processes). Every state-changing request is a POST that carries the session's
//! CSRF token and comes from this site's origin.

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use hmac::{KeyInit as _, Mac as _};
use rlcoach::storage::{UserId, Viewer, WebSession};
use sha2::Digest as _;

use super::error::{WebError, WebResult};
use super::{AppState, layout};

pub const SESSION_COOKIE: &str = "rlcoach_session";
const OAUTH_COOKIE: &str = "rlcoach_oauth";
/// How long a login started at `/login` may take to come back to `/auth/callback`.
pub const OAUTH_STATE_TTL_SECS: i64 = 600;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The key signing cookies. Never printed.
#[derive(Clone)]
pub struct SessionKey(std::sync::Arc<Vec<u8>>);

impl SessionKey {
    /// From `RLCOACH_SESSION_KEY` (at least 32 bytes), or a random key for this process when it
    /// is unset (sessions then end at every restart: said once in the log).
    pub fn from_env_value(value: Option<&str>) -> anyhow::Result<SessionKey> {
        match value {
            Some(v) if v.trim().len() >= 32 => Ok(SessionKey(std::sync::Arc::new(
                v.trim().as_bytes().to_vec(),
            ))),
            Some(_) => anyhow::bail!(
                "RLCOACH_SESSION_KEY is too short: use at least 32 random characters (e.g. `openssl rand -hex 32`)"
            ),
            None => {
                tracing::warn!(
                    "RLCOACH_SESSION_KEY is not set: using a random key, so logins end when rlcoach restarts"
                );
                Ok(SessionKey::random())
            }
        }
    }

    pub fn random() -> SessionKey {
        SessionKey(std::sync::Arc::new(random_bytes::<32>().to_vec()))
    }

    fn mac(&self, purpose: &str, value: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(b":");
        mac.update(value.as_bytes());
        mac
    }

    /// `value.signature` (hex HMAC of the purpose and value).
    pub fn sign(&self, purpose: &str, value: &str) -> String {
        let sig = self.mac(purpose, value).finalize().into_bytes();
        format!("{value}.{}", hex(&sig))
    }

    /// The value of a signed string when its signature is right (compared in constant time).
    pub fn verify<'a>(&self, purpose: &str, signed: &'a str) -> Option<&'a str> {
        let (value, sig) = signed.rsplit_once('.')?;
        let sig = unhex(sig)?;
        self.mac(purpose, value).verify_slice(&sig).ok()?;
        Some(value)
    }

    /// The cookie value for a session.
    pub fn session_cookie_value(&self, session: &WebSession) -> String {
        self.sign("session", &session.id)
    }

    /// The login cookie: `state.verifier.issued_at` (unix seconds), signed. State and verifier
    /// are base64url, so the dots separate them.
    pub fn oauth_cookie_value(&self, state: &str, verifier: &str, issued_at: i64) -> String {
        self.sign("oauth", &format!("{state}.{verifier}.{issued_at}"))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("the OS random number generator works");
    b
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The value of cookie `name` in the request.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
) -> (header::HeaderName, HeaderValue) {
    let secure = if state.settings.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    let v =
        format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
    (
        header::SET_COOKIE,
        HeaderValue::from_str(&v).expect("cookie values are ASCII"),
    )
}

/// The logged-in user of a request; pages that need one take this (no session: to the login).
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub session: WebSession,
}

impl CurrentUser {
    pub fn viewer(&self) -> Viewer {
        Viewer::user(self.session.user)
    }

    pub fn user(&self) -> UserId {
        self.session.user
    }

    pub fn csrf(&self) -> &str {
        &self.session.csrf_token
    }
}

async fn session_of(parts: &Parts, state: &AppState) -> WebResult<Option<CurrentUser>> {
    let Some(raw) = cookie(&parts.headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(id) = state.settings.session_key.verify("session", raw) else {
        return Ok(None);
    };
    Ok(state
        .store
        .web_session(id)
        .await?
        .map(|session| CurrentUser { session }))
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> WebResult<Self> {
        session_of(parts, state)
            .await?
            .ok_or(WebError::LoginRequired)
    }
}

/// The logged-in user, if any (pages that also show something to visitors).
pub struct MaybeUser(pub Option<CurrentUser>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> WebResult<Self> {
        Ok(MaybeUser(session_of(parts, state).await?))
    }
}

/// `scheme://host[:port]` of the site's base URL.
fn origin_of(base: &str) -> &str {
    match base.find("://") {
        Some(i) => match base[i + 3..].find('/') {
            Some(j) => &base[..i + 3 + j],
            None => base,
        },
        None => base,
    }
}

/// A state-changing request must come from this site (`Origin`, else `Referer`) and carry the
/// session's CSRF token.
pub fn check_post(
    state: &AppState,
    headers: &HeaderMap,
    user: &CurrentUser,
    token: &str,
) -> WebResult<()> {
    let origin = origin_of(&state.settings.base);
    let from_here = match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(o) => o == origin,
        None => headers
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|r| r == origin || r.starts_with(&format!("{origin}/"))),
    };
    if !from_here {
        return Err(WebError::Forbidden("cross-origin request"));
    }
    let expected = user.csrf().as_bytes();
    let given = token.as_bytes();
    // Constant time over the expected length.
    let same = expected.len() == given.len()
        && expected
            .iter()
            .zip(given)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return Err(WebError::Forbidden("bad CSRF token"));
    }
    Ok(())
}

/// `GET /login`: to Discord's consent screen, with a fresh `state` and PKCE challenge.
pub async fn login(State(state): State<AppState>, MaybeUser(user): MaybeUser) -> Response {
    if user.is_some() {
        return Redirect::to("/").into_response();
    }
    let Some(discord) = &state.settings.discord else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            layout::bare(
                "Login is not set up",
                maud::html! {
                    h1 { "Login is not set up" }
                    p { "This rlcoach has no Discord application configured. Set "
                        code { "DISCORD_CLIENT_ID" } " and " code { "DISCORD_CLIENT_SECRET" }
                        " (see the README's Web site section) and restart it." }
                },
            ),
        )
            .into_response();
    };
    let oauth_state = b64(&random_bytes::<24>());
    let verifier = b64(&random_bytes::<32>());
    let challenge = b64(&sha2::Sha256::digest(verifier.as_bytes()));
    let url = discord.authorize_url(&oauth_state, &challenge, &redirect_uri(&state));
    let signed = state.settings.session_key.oauth_cookie_value(
        &oauth_state,
        &verifier,
        rlcoach::storage::now_ms() / 1000,
    );
    (
        [set_cookie(
            &state,
            OAUTH_COOKIE,
            &signed,
            "/auth",
            OAUTH_STATE_TTL_SECS,
        )],
        Redirect::to(&url),
    )
        .into_response()
}

fn redirect_uri(state: &AppState) -> String {
    format!("{}/auth/callback", state.settings.base)
}

#[derive(serde::Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /auth/callback`: checks `state`, exchanges the code (with the PKCE verifier), reads the
/// user and their connections, verifies the identities the connections prove, opens a session.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let clear = set_cookie(&state, OAUTH_COOKIE, "", "/auth", 0);
    match finish_login(&state, &headers, q).await {
        Ok(session) => {
            let value = state.settings.session_key.session_cookie_value(&session);
            let max_age = i64::try_from(state.settings.session_ttl.as_secs()).unwrap_or(i64::MAX);
            (
                [
                    clear,
                    set_cookie(&state, SESSION_COOKIE, &value, "/", max_age),
                ],
                Redirect::to("/"),
            )
                .into_response()
        }
        Err(e) => ([clear], e).into_response(),
    }
}

async fn finish_login(
    state: &AppState,
    headers: &HeaderMap,
    q: CallbackQuery,
) -> WebResult<WebSession> {
    let discord = state.settings.discord.as_ref().ok_or(WebError::NotFound)?;
    if let Some(error) = q.error {
        return Err(WebError::BadRequest(if error == "access_denied" {
            "You didn't allow rlcoach to see your Discord account, so you are not logged in. Log in again whenever you like.".into()
        } else {
            "Discord did not complete the login. Please log in again.".into()
        }));
    }
    let expired = || {
        WebError::BadRequest(
            "This login link expired or was opened in another browser. Please log in again.".into(),
        )
    };
    let signed = cookie(headers, OAUTH_COOKIE).ok_or_else(expired)?;
    let value = state
        .settings
        .session_key
        .verify("oauth", signed)
        .ok_or_else(expired)?;
    let mut parts = value.splitn(3, '.');
    let (Some(expected_state), Some(verifier), Some(issued_at)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(expired());
    };
    let issued_at: i64 = issued_at.parse().map_err(|_| expired())?;
    let now = rlcoach::storage::now_ms();
    // Ten minutes from /login, whatever the browser did with the cookie's Max-Age (a small
    // allowance for clocks of several web processes running a second apart).
    let age = now / 1000 - issued_at;
    if !(-5..=OAUTH_STATE_TTL_SECS).contains(&age) {
        return Err(expired());
    }
    let given_state = q.state.as_deref().unwrap_or("");
    if given_state.is_empty() || given_state != expected_state {
        return Err(expired());
    }
    let code = q.code.filter(|c| !c.is_empty()).ok_or_else(expired)?;
    // Once per state: a replayed callback (the same URL and cookie, a back button, a leaked
    // link) is refused before Discord is asked for anything.
    let state_hash = hex(&sha2::Sha256::digest(expected_state.as_bytes()));
    if !state.store.consume_oauth_state(&state_hash, now).await? {
        return Err(WebError::BadRequest(
            "This login link was already used. Please log in again.".into(),
        ));
    }
    let token = discord
        .exchange(&state.http, &code, verifier, &redirect_uri(state))
        .await?;
    let me = discord.me(&state.http, &token).await?;
    let connections = discord.connections(&state.http, &token).await?;
    let user = UserId::from_discord(me.id);
    let viewer = Viewer::user(user);
    let outcomes = state
        .store
        .verify_connections(&viewer, &connections)
        .await?;
    let session = state
        .store
        .create_web_session(user, ms(state.settings.session_ttl))
        .await?;
    tracing::info!(
        user = %user,
        connections = connections.len(),
        verified = outcomes.len(),
        "web login"
    );
    Ok(session)
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

/// `POST /logout`.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: CurrentUser,
    axum::Form(form): axum::Form<CsrfForm>,
) -> WebResult<Response> {
    check_post(&state, &headers, &user, &form.csrf)?;
    state.store.end_web_session(&user.session.id).await?;
    Ok((
        [set_cookie(&state, SESSION_COOKIE, "", "/", 0)],
        Redirect::to("/"),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_hold_only_for_the_signed_value_and_purpose() {
        let key = SessionKey::random();
        let signed = key.sign("session", "abc");
        assert_eq!(key.verify("session", &signed), Some("abc"));
        assert_eq!(key.verify("oauth", &signed), None);
        let forged = signed.replacen("abc", "abd", 1);
        assert_eq!(key.verify("session", &forged), None);
        assert_eq!(SessionKey::random().verify("session", &signed), None);
        assert_eq!(key.verify("session", "abc"), None);
    }

    #[test]
    fn origin_is_scheme_and_host() {
        assert_eq!(origin_of("https://rl.example/app"), "https://rl.example");
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }
}
