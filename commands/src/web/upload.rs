//! `/upload`: replays through the same [`Intake`](rlcoach::jobs::Intake) as the bot (same size
//! limits, same checks, same queue, the same per-user file rate limit: 429 when none is taken). `POST /upload` takes multipart with many files; with
//! `Accept: application/json` (the page's script) it answers JSON, else a page. The status of
//! each upload (queued → analyzing → done / failed) comes from `GET /upload/status?id=…`, which
//! the script polls.

use axum::extract::{Multipart, State};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Json, Response};
use maud::{Markup, html};
use rlcoach::storage::{NewUpload, SubmitOutcome, UploadStatus};

use super::auth::{CurrentUser, check_post};
use super::error::{WebError, WebResult};
use super::{AppState, layout};
use crate::limits::{self, wait_secs};

/// Files per upload request (as many as a Discord message carries, times five).
const MAX_FILES: usize = 50;

/// The upload form (also on the home page).
pub fn form(user: &CurrentUser) -> Markup {
    html! {
        form #upload-form method="post" action="/upload" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(user.csrf());
            div.drop {
                p { "Drop .replay files here or choose them" }
                input type="file" name="replays" accept=".replay" multiple required;
            }
            p { button type="submit" { "Upload" } }
        }
        ul.plain #upload-status {}
    }
}

pub async fn page(user: CurrentUser) -> Html<String> {
    layout::page(
        "Upload",
        &user,
        "/upload",
        html! {
            h1 { "Upload replays" }
            p.muted { "Rocket League keeps replays in Documents/My Games/Rocket League/TAGame/Demos. "
                "Each is analyzed in a few seconds; you can leave this page." }
            (form(&user))
        },
    )
}

/// A file that was not taken, and why (the user's to read).
#[derive(Debug, serde::Serialize)]
pub struct Refused {
    pub file_name: String,
    pub error: String,
}

#[derive(Debug, serde::Serialize)]
pub struct UploadResult {
    pub accepted: Vec<UploadStatus>,
    pub refused: Vec<Refused>,
    /// When files were refused for the rate limit: seconds until the next one is taken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u64>,
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: CurrentUser,
    mut multipart: Multipart,
) -> WebResult<Response> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        WebError::BadRequest(format!("The upload could not be read: {}", e.body_text()))
    };
    let mut csrf: Option<String> = None;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let max = state.settings.max_replay_bytes;
    let mut refused = Vec::new();
    let mut wait: Option<Duration> = None;
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        match field.name() {
            Some("csrf") => csrf = Some(field.text().await.map_err(bad)?),
            Some("replays") => {
                let name = field.file_name().unwrap_or("replay").to_string();
                if name.is_empty() {
                    continue;
                }
                // The token comes first in the form: nothing is read for a forged request.
                check_post(&state, &headers, &user, csrf.as_deref().unwrap_or(""))?;
                if files.len() + refused.len() >= MAX_FILES {
                    return Err(WebError::BadRequest(format!(
                        "At most {MAX_FILES} replays per upload."
                    )));
                }
                if !name.to_ascii_lowercase().ends_with(".replay") {
                    refused.push(Refused {
                        file_name: name,
                        error: "Only .replay files can be analyzed.".into(),
                    });
                    continue;
                }
                // Each file takes a token of the uploader's budget (the bot's limits); past it,
                // the rest are refused with the wait, and their bytes are never read.
                if let Some(w) = wait.or_else(|| state.limits.files(user.user().discord(), 1).1) {
                    wait = Some(w);
                    refused.push(Refused {
                        file_name: name,
                        error: limits::wait_message(w),
                    });
                    continue;
                }
                let bytes = field.bytes().await.map_err(bad)?;
                if bytes.len() > max {
                    refused.push(Refused {
                        file_name: name,
                        error: format!(
                            "This file is larger than {} MB, the most a replay can be here.",
                            max / (1024 * 1024)
                        ),
                    });
                } else {
                    files.push((name, bytes.to_vec()));
                }
            }
            _ => {}
        }
    }
    check_post(&state, &headers, &user, csrf.as_deref().unwrap_or(""))?;
    if files.is_empty() && refused.is_empty() {
        return Err(WebError::BadRequest(
            "There was no replay in that upload: choose one or more .replay files.".into(),
        ));
    }
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if let Some(wait) = wait.filter(|_| files.is_empty()) {
        // Nothing was taken: 429, with when to try again (a page, or JSON for the script).
        let mut response = if wants_json {
            let body = UploadResult {
                accepted: Vec::new(),
                refused,
                retry_after_s: Some(wait_secs(wait)),
            };
            (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response()
        } else {
            WebError::TooMany(limits::wait_message(wait)).into_response()
        };
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, wait_secs(wait).into());
        return Ok(response);
    }
    let mut ids = Vec::new();
    for (name, bytes) in files {
        let upload = NewUpload {
            file_name: Some(name.clone()),
            private_reply: true,
            ..NewUpload::by(user.user())
        };
        match state.intake.submit(bytes, upload).await {
            Ok(
                SubmitOutcome::Analyzed { upload_id, .. }
                | SubmitOutcome::Failed { upload_id, .. }
                | SubmitOutcome::Pending { upload_id, .. },
            ) => ids.push(upload_id),
            Ok(SubmitOutcome::Busy { .. }) => refused.push(Refused {
                file_name: name,
                error: "The analysis queue is full right now; try this one again in a minute."
                    .into(),
            }),
            Err(
                e @ (rlcoach::jobs::IntakeError::Replay(_)
                | rlcoach::jobs::IntakeError::OverQuota(_)),
            ) => refused.push(Refused {
                file_name: name,
                error: e.user_message(),
            }),
            Err(e) => return Err(WebError::Internal(e.into())),
        }
    }
    let accepted = state.store.upload_statuses(&user.viewer(), &ids).await?;
    let result = UploadResult {
        accepted,
        refused,
        retry_after_s: wait.map(wait_secs),
    };
    if wants_json {
        return Ok(Json(result).into_response());
    }
    Ok(layout::page(
        "Upload",
        &user,
        "/upload",
        html! {
            h1 { "Uploaded" }
            ul.plain #upload-status {
                @for s in &result.accepted {
                    li data-upload=(s.upload_id) {
                        (s.file_name.as_deref().unwrap_or("replay")) " — "
                        span class={ "status-" (s.state) } { (s.state) @if let Some(e) = &s.error { ": " (e) } }
                        @if s.state == "done" { " " a href={ "/replays/" (s.replay_id) } { "open" } }
                    }
                }
                @for r in &result.refused {
                    li.status-failed { (r.file_name) " — " (r.error) }
                }
            }
            p { a href="/upload" { "Upload more" } }
        },
    )
    .into_response())
}

/// `GET /upload/status?id=…&id=…`: the viewer's own uploads among these (others' are left out).
pub async fn status(
    State(state): State<AppState>,
    user: CurrentUser,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> WebResult<Json<Vec<UploadStatus>>> {
    let ids: Vec<String> = raw
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.strip_prefix("id="))
        .map(str::to_string)
        .collect();
    Ok(Json(
        state.store.upload_statuses(&user.viewer(), &ids).await?,
    ))
}
