//! `/settings`: linked identities (claimed or verified, and how to verify), profile visibility,
//! leaderboard opt-in, the data export (JSON) and account deletion with a 30-day grace period.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::html;
use rlcoach::report::PlayerId;
use rlcoach::storage::LinkState;

use super::auth::{CsrfForm, CurrentUser, check_post};
use super::error::{WebError, WebResult};
use super::{AppState, layout};

pub async fn page(State(state): State<AppState>, user: CurrentUser) -> WebResult<Html<String>> {
    let viewer = user.viewer();
    let links = state.store.identities(&viewer).await?;
    let profile = state.store.profile(&viewer, user.user()).await?;
    let opted_out = state.store.leaderboard_opt_out(&viewer).await?;
    let deletion = state.store.deletion_due(&viewer).await?;
    let hidden = state.store.hidden_games(&viewer, 100).await?;
    let body = html! {
        h1 { "Settings" }
        @if let Some(at) = deletion {
            div.panel { p { strong { "Your account will be deleted on " (layout::date(at)) "." }
                " Logging in again before then cancels it." } }
        }
        h2 { "Linked players" }
        div.panel {
            @if links.is_empty() {
                p { "No players linked yet. Link yourself from a replay you sent to the bot (the "
                    em { "This is me" } " button), or connect Steam, Epic or Xbox to Discord and log in again." }
            }
            ul.plain {
                @for l in &links {
                    li {
                        (l.name.as_deref().unwrap_or("(no games yet)")) " "
                        span.muted { (l.player.platform) } " "
                        @match l.state {
                            LinkState::Verified => span.badge.verified { "verified" },
                            LinkState::Claimed => span.badge.claimed { "claimed" },
                        }
                        " "
                        form.inline method="post" action="/settings/unlink" {
                            input type="hidden" name="csrf" value=(user.csrf());
                            input type="hidden" name="platform" value=(l.player.platform);
                            input type="hidden" name="platform_id" value=(l.player.id);
                            button.secondary type="submit" { "Unlink" }
                        }
                    }
                }
            }
            p.muted { "A " strong { "claimed" } " player counts only the replays you uploaded. A "
                strong { "verified" } " one also counts games uploaded by verified players of that match "
                "you have played with — their car is in a replay you uploaded (a stranger's file naming "
                "you never counts): "
                "connect the account (Steam, Epic Games or Xbox) to Discord under User Settings → "
                "Connections, then log out and in here. Matching players become verified." }
        }
        h2 { "Hidden games" }
        div.panel {
            @if hidden.is_empty() {
                p.muted { "None. A game you hide (from its page) counts nowhere for you: lists, trends, "
                    "sessions, comparisons, leaderboards and the coach." }
            } @else {
                p.muted { "These count nowhere for you until you put them back." }
                ul.plain {
                    @for (replay, at) in &hidden {
                        li {
                            a href={ "/replays/" (replay) } { "Game hidden on " (layout::date(*at)) }
                            " "
                            form.inline method="post" action={ "/replays/" (replay) "/unhide" } {
                                input type="hidden" name="csrf" value=(user.csrf());
                                button.secondary type="submit" { "Put back" }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Privacy" }
        form.panel method="post" action="/settings/profile" {
            input type="hidden" name="csrf" value=(user.csrf());
            label.inline { input type="checkbox" name="public" value="1" checked[profile.public];
                "Public profile: others may see my games and compare with me" }
            label.inline { input type="checkbox" name="leaderboard" value="1" checked[!opted_out];
                "Show me on server leaderboards" }
            p { button type="submit" { "Save" } }
        }
        h2 { "Your data" }
        div.panel {
            form.inline method="post" action="/settings/export" {
                input type="hidden" name="csrf" value=(user.csrf());
                button.secondary type="submit" { "Download everything (JSON)" }
            }
        }
        h2 { "Delete account" }
        form.panel method="post" action="/settings/delete" {
            input type="hidden" name="csrf" value=(user.csrf());
            p { "Deletes your links, uploads, games only you uploaded, and coach history 30 days from now. "
                "Logging in before then cancels it. You will be logged out everywhere." }
            label.inline { input type="checkbox" name="confirm" value="1" required; "I understand" }
            p { button.danger type="submit" { "Delete my account" } }
        }
    };
    Ok(layout::page("Settings", &user, "/settings", body))
}

#[derive(serde::Deserialize)]
pub struct ProfileForm {
    csrf: String,
    public: Option<String>,
    leaderboard: Option<String>,
}

pub async fn profile(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: CurrentUser,
    axum::Form(form): axum::Form<ProfileForm>,
) -> WebResult<Redirect> {
    check_post(&state, &headers, &user, &form.csrf)?;
    let viewer = user.viewer();
    state
        .store
        .set_public_profile(&viewer, form.public.is_some())
        .await?;
    state
        .store
        .set_leaderboard_opt_out(&viewer, form.leaderboard.is_none())
        .await?;
    Ok(Redirect::to("/settings"))
}

#[derive(serde::Deserialize)]
pub struct UnlinkForm {
    csrf: String,
    platform: String,
    platform_id: String,
}

pub async fn unlink(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: CurrentUser,
    axum::Form(form): axum::Form<UnlinkForm>,
) -> WebResult<Redirect> {
    check_post(&state, &headers, &user, &form.csrf)?;
    let player = PlayerId {
        platform: form.platform,
        id: form.platform_id,
    };
    if !state.store.unlink_identity(&user.viewer(), &player).await? {
        return Err(WebError::NotFound);
    }
    Ok(Redirect::to("/settings"))
}

/// `POST /settings/export`: everything stored about the viewer, as a JSON download.
pub async fn export(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: CurrentUser,
    axum::Form(form): axum::Form<CsrfForm>,
) -> WebResult<Response> {
    check_post(&state, &headers, &user, &form.csrf)?;
    super::heavy(&state, &user, false)?;
    let export = state.store.export_user(&user.viewer()).await?;
    let json = serde_json::to_vec_pretty(&export).map_err(|e| WebError::Internal(e.into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"rlcoach-{}.json\"", user.user()),
            ),
        ],
        json,
    )
        .into_response())
}

#[derive(serde::Deserialize)]
pub struct DeleteForm {
    csrf: String,
    confirm: Option<String>,
}

/// `POST /settings/delete`: the deletion happens after the grace period unless the user logs in.
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: CurrentUser,
    axum::Form(form): axum::Form<DeleteForm>,
) -> WebResult<Response> {
    check_post(&state, &headers, &user, &form.csrf)?;
    if form.confirm.is_none() {
        return Err(WebError::BadRequest(
            "Tick \"I understand\" to delete your account.".into(),
        ));
    }
    let at = state.store.request_deletion(&user.viewer()).await?;
    Ok(layout::bare(
        "Account deletion scheduled",
        html! {
            h1 { "Your account will be deleted on " (layout::date(at)) }
            p { "You are logged out. Log in again before then to keep your account." }
            p { a href="/" { "Back to the start" } }
        },
    )
    .into_response())
}
