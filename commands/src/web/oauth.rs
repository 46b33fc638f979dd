//! Discord's OAuth2 authorization-code flow with PKCE, as three calls over reqwest: the token
//! exchange (`POST /api/oauth2/token`, form-encoded, client id and secret in the form), the user
//! (`GET /api/v10/users/@me`) and their connected accounts (`GET /api/v10/users/@me/connections`),
//! both with the bearer token. Everything goes to `DISCORD_API_BASE` (tests point it at a fake).

use rlcoach::storage::DiscordConnection;

use super::error::WebError;

/// The Discord application the site logs in with. The secret is never printed.
#[derive(Clone)]
pub struct DiscordOAuth {
    pub client_id: String,
    pub client_secret: String,
    /// `https://discord.com` (or the fake): the authorize page is `<base>/oauth2/authorize`, the
    /// API `<base>/api/...`.
    pub base: String,
}

impl std::fmt::Debug for DiscordOAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordOAuth")
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("base", &self.base)
            .finish()
    }
}

/// The Discord user who logged in.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct DiscordUser {
    #[serde(deserialize_with = "snowflake")]
    pub id: u64,
    pub username: String,
}

fn snowflake<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let s: String = serde::Deserialize::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
}

fn upstream(what: &str, e: impl std::fmt::Display) -> WebError {
    tracing::warn!(error = %e, "{what}");
    WebError::Upstream {
        title: "Discord login failed",
        message:
            "Discord did not complete the login (it may be busy). Please try again in a minute."
                .into(),
    }
}

impl DiscordOAuth {
    pub fn authorize_url(&self, state: &str, challenge: &str, redirect_uri: &str) -> String {
        let q: String = [
            ("response_type", "code"),
            ("client_id", self.client_id.as_str()),
            ("scope", "identify connections"),
            ("state", state),
            ("redirect_uri", redirect_uri),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ]
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&");
        format!("{}/oauth2/authorize?{q}", self.base)
    }

    /// The access token for an authorization code.
    pub async fn exchange(
        &self,
        http: &reqwest::Client,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<String, WebError> {
        let resp = http
            .post(format!("{}/api/oauth2/token", self.base))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier),
                ("client_id", &self.client_id),
                ("client_secret", &self.client_secret),
            ])
            .send()
            .await
            .map_err(|e| upstream("Discord token exchange unreachable", e))?;
        let status = resp.status();
        if !status.is_success() {
            // 400 invalid_grant: a used or stale code (e.g. the back button); log in again.
            return Err(upstream("Discord token exchange refused", status));
        }
        let t: TokenResponse = resp
            .json()
            .await
            .map_err(|e| upstream("Discord token response unreadable", e))?;
        Ok(t.access_token)
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        http: &reqwest::Client,
        token: &str,
        path: &str,
    ) -> Result<T, WebError> {
        let resp = http
            .get(format!("{}/api/v10{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| upstream("Discord API unreachable", e))?;
        if !resp.status().is_success() {
            return Err(upstream("Discord API refused", resp.status()));
        }
        resp.json()
            .await
            .map_err(|e| upstream("Discord API response unreadable", e))
    }

    pub async fn me(&self, http: &reqwest::Client, token: &str) -> Result<DiscordUser, WebError> {
        self.get(http, token, "/users/@me").await
    }

    pub async fn connections(
        &self,
        http: &reqwest::Client,
        token: &str,
    ) -> Result<Vec<DiscordConnection>, WebError> {
        self.get(http, token, "/users/@me/connections").await
    }
}

/// Percent-encoding for query values (unreserved characters stay).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
