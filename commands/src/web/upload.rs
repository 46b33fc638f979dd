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

/// Why a file was refused when every replay slot was taken (shared with the bot's downloads):
/// the one wording, for each file in the list and for the 503 when no file was taken.
fn busy_message(wait: Duration) -> String {
    format!(
        "Many replays are being uploaded right now; try again in {} s.",
        wait_secs(wait)
    )
}

/// Why a file was refused when the uploader already holds [`SLOTS_PER_USER`] slots.
fn own_slots_message() -> String {
    format!(
        "You are already uploading {SLOTS_PER_USER} files at once; send this one when they are done."
    )
}

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

/// The CSRF field's cap: the token is 64 characters; anything much longer is not one.
const CSRF_MAX_BYTES: usize = 256;

/// How long an upload waits for a free replay slot (shared with the bot's downloads) before it
/// is answered "busy" (503 with `Retry-After`) instead of queueing without bound.
const SLOT_WAIT: Duration = Duration::from_secs(5);

/// Replay slots one user may hold at once: a file trickling in holds its slot, so without this
/// one account could take every slot (and with them the bot's downloads) with slow uploads.
pub const SLOTS_PER_USER: usize = 2;

/// The replay slots each user holds now (users holding none are not kept).
#[derive(Default)]
pub struct UserSlots(std::sync::Mutex<std::collections::HashMap<u64, usize>>);

/// One of a user's slots, given back when dropped.
pub struct UserSlot<'a> {
    slots: &'a UserSlots,
    user: u64,
}

impl UserSlots {
    /// One more slot for `user`, unless they hold [`SLOTS_PER_USER`] already.
    fn take(&self, user: u64) -> Option<UserSlot<'_>> {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = held.entry(user).or_insert(0);
        if *n >= SLOTS_PER_USER {
            return None;
        }
        *n += 1;
        Some(UserSlot { slots: self, user })
    }
}

impl Drop for UserSlot<'_> {
    fn drop(&mut self) {
        let mut held = self.slots.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.remove(&self.user);
            }
        }
    }
}

/// The whole `POST /upload` body limit: `MAX_FILES`' worth is not needed in one request, ten
/// full-size replays and the form around them are.
pub fn body_limit(max_replay_bytes: usize) -> usize {
    max_replay_bytes.saturating_mul(10) + (1 << 20)
}

fn too_large(limit: usize) -> WebError {
    WebError::TooLarge(format!(
        "This upload is larger than {} MB. Send fewer replays at once.",
        limit / (1024 * 1024)
    ))
}

/// Reads the rest of `field` as it streams in, up to `cap` bytes: None as soon as it is
/// longer (what is left of it is never held). `reserve`: the most worth allocating up front.
async fn read_capped(
    field: &mut axum::extract::multipart::Field<'_>,
    cap: usize,
    reserve: usize,
    limit: usize,
) -> WebResult<Option<Vec<u8>>> {
    let mut out = Vec::with_capacity(reserve.min(cap));
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| multipart_error(&e, limit))?
    {
        if out.len() + chunk.len() > cap {
            return Ok(None);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Some(out))
}

fn multipart_error(e: &axum::extract::multipart::MultipartError, limit: usize) -> WebError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(limit)
    } else {
        WebError::BadRequest(format!("The upload could not be read: {}", e.body_text()))
    }
}

/// `POST /upload`. Every field streams in with its own cap (the CSRF token 256 bytes, each
/// file the replay size limit; any other field is refused), the CSRF token is checked before
/// any file is read, and each file is handed to the intake as soon as it has arrived, so one
/// request holds at most one file in memory, and only while it has one of the replay slots
/// shared with the bot's downloads (`RLCOACH_MAX_DOWNLOADS`). Once a file is refused for the
/// rate limit, for want of a slot or for the user's daily quota, the rest are refused with the
/// same reason without being read, and take no token or slot.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: CurrentUser,
    multipart: Multipart,
) -> Response {
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    match receive(&state, &headers, &user, multipart, wants_json).await {
        Ok(r) => r,
        // The page's script reads JSON: the same words, the same status.
        Err(e @ (WebError::Busy { .. } | WebError::TooLarge(_) | WebError::BadRequest(_)))
            if wants_json =>
        {
            let retry = match &e {
                WebError::Busy { wait, .. } => Some(wait_secs(*wait)),
                _ => None,
            };
            let message = e.to_string();
            let status = e.into_response().status();
            let mut r = (
                status,
                Json(serde_json::json!({
                    "accepted": [], "refused": [], "error": message, "retry_after_s": retry
                })),
            )
                .into_response();
            if let Some(s) = retry {
                r.headers_mut().insert(header::RETRY_AFTER, s.into());
            }
            r
        }
        Err(e) => e.into_response(),
    }
}

async fn receive(
    state: &AppState,
    headers: &HeaderMap,
    user: &CurrentUser,
    mut multipart: Multipart,
    wants_json: bool,
) -> WebResult<Response> {
    let max = state.settings.max_replay_bytes;
    let limit = body_limit(max);
    // A declared length over the limit is refused before a byte of the body is read.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let reserve = declared.map_or(max, |n| usize::try_from(n).unwrap_or(max));
    let mut csrf_ok = false;
    let mut ids = Vec::new();
    let mut refused = Vec::new();
    let mut wait: Option<Duration> = None;
    // Every slot taken (or the user's own): how long to wait, and why.
    let mut busy: Option<(Duration, String)> = None;
    // The user's daily quota refused a file: the rest are refused with the same words, unread.
    let mut over_quota: Option<String> = None;
    let mut files = 0usize;
    // Files that took a slot and a token (and so were read).
    let mut taken = 0usize;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(&e, limit))?
    {
        match field.name() {
            Some("csrf") if !csrf_ok => {
                let token = read_capped(&mut field, CSRF_MAX_BYTES, CSRF_MAX_BYTES, limit)
                    .await?
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or(WebError::Forbidden("oversized or unreadable CSRF field"))?;
                check_post(state, headers, user, &token)?;
                csrf_ok = true;
            }
            Some("replays") => {
                // The token comes first in the form: no file is read for a forged request.
                if !csrf_ok {
                    return Err(WebError::Forbidden("a file before the CSRF token"));
                }
                let name = field.file_name().unwrap_or("replay").to_string();
                if name.is_empty() {
                    continue;
                }
                files += 1;
                if files > MAX_FILES {
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
                if let Some(error) = over_quota.as_ref().or(busy.as_ref().map(|(_, m)| m)) {
                    refused.push(Refused {
                        file_name: name,
                        error: error.clone(),
                    });
                    continue;
                }
                if let Some(w) = wait {
                    refused.push(Refused {
                        file_name: name,
                        error: limits::wait_message(w),
                    });
                    continue;
                }
                // One of the user's own slots (their other uploads in flight), then a replay
                // slot: both held while this file's bytes are in memory, until the intake has
                // stored (or refused) them.
                let Some(_mine) = state.user_slots.take(user.user().discord()) else {
                    let error = own_slots_message();
                    busy = Some((SLOT_WAIT, error.clone()));
                    refused.push(Refused {
                        file_name: name,
                        error,
                    });
                    continue;
                };
                let Ok(Ok(_slot)) =
                    tokio::time::timeout(SLOT_WAIT, state.replay_slots.clone().acquire_owned())
                        .await
                else {
                    let error = busy_message(SLOT_WAIT);
                    busy = Some((SLOT_WAIT, error.clone()));
                    refused.push(Refused {
                        file_name: name,
                        error,
                    });
                    continue;
                };
                // Each file takes a token of the uploader's budget (the bot's limits); past it,
                // the rest are refused with the wait, and their bytes are never read.
                if let (_, Some(w)) = state.limits.files(user.user().discord(), 1) {
                    wait = Some(w);
                    refused.push(Refused {
                        file_name: name,
                        error: limits::wait_message(w),
                    });
                    continue;
                }
                taken += 1;
                let Some(bytes) = read_capped(&mut field, max, reserve, limit).await? else {
                    refused.push(Refused {
                        file_name: name,
                        error: format!(
                            "This file is larger than {} MB, the most a replay can be here.",
                            max / (1024 * 1024)
                        ),
                    });
                    continue;
                };
                let upload = NewUpload {
                    file_name: Some(name.clone()),
                    private_reply: true,
                    ..NewUpload::by(user.user())
                };
                // Moved, not copied: the intake keeps this one buffer until it is stored.
                match state.intake.submit(bytes, upload).await {
                    Ok(
                        SubmitOutcome::Analyzed { upload_id, .. }
                        | SubmitOutcome::Failed { upload_id, .. }
                        | SubmitOutcome::Pending { upload_id, .. },
                    ) => ids.push(upload_id),
                    Ok(SubmitOutcome::Busy { .. }) => refused.push(Refused {
                        file_name: name,
                        error:
                            "The analysis queue is full right now; try this one again in a minute."
                                .into(),
                    }),
                    Err(e @ rlcoach::jobs::IntakeError::Replay(_)) => refused.push(Refused {
                        file_name: name,
                        error: e.user_message(),
                    }),
                    Err(e @ rlcoach::jobs::IntakeError::OverQuota(_)) => {
                        let error = e.user_message();
                        over_quota = Some(error.clone());
                        refused.push(Refused {
                            file_name: name,
                            error,
                        });
                    }
                    Err(e) => return Err(WebError::Internal(e.into())),
                }
            }
            // Nothing else belongs in this form (and a second token is not read either).
            _ => {
                return Err(WebError::BadRequest(
                    "The upload could not be read: it has a field this form does not send.".into(),
                ));
            }
        }
    }
    if !csrf_ok {
        return Err(WebError::Forbidden("no CSRF token"));
    }
    if ids.is_empty() && refused.is_empty() {
        return Err(WebError::BadRequest(
            "There was no replay in that upload: choose one or more .replay files.".into(),
        ));
    }
    if let Some((wait, message)) = busy.filter(|_| taken == 0 && wait.is_none()) {
        // No slot for any file: nothing stored, try again shortly (and why).
        return Err(WebError::Busy { wait, message });
    }
    if let Some(wait) = wait.filter(|_| taken == 0) {
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
        user,
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
