//! Replay drops: `.replay` attachments in DMs and in channels where an admin turned auto-analyze
//! on. Each file gets a status message at once, which is edited as the job moves and finally
//! replaced by the result (see `delivery`).

use poise::serenity_prelude as serenity;
use rlcoach::jobs::IntakeError;
use rlcoach::storage::{NewUpload, SubmitOutcome, UserId};

use super::{Data, Error, limits, reply};

pub fn is_replay_name(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".replay")
}

/// Snowflakes fit in i64 (Discord ids are < 2^63).
pub fn sid(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

pub async fn on_message(
    _ctx: &serenity::Context,
    data: &Data,
    msg: &serenity::Message,
) -> Result<(), Error> {
    if msg.author.bot {
        return Ok(());
    }
    let replays: Vec<serenity::Attachment> = msg
        .attachments
        .iter()
        .filter(|a| is_replay_name(&a.filename))
        .cloned()
        .collect();
    if replays.is_empty() {
        return Ok(());
    }
    if let Some(g) = msg.guild_id
        && !data
            .store
            .is_auto_analyze(sid(g.get()), sid(msg.channel_id.get()))
            .await?
    {
        return Ok(());
    }
    let user = UserId::from_discord(msg.author.id.get());
    // Every file takes a token of the uploader's own budget; files beyond it are refused with
    // the wait, the others go ahead.
    let (allowed, wait) = data.limits.files(msg.author.id.get(), replays.len());
    if let Some(wait) = wait {
        let skipped: Vec<String> = replays[allowed..]
            .iter()
            .map(|a| format!("`{}`", a.filename.replace('`', "'")))
            .collect();
        let text = if allowed == 0 {
            limits::wait_message(wait)
        } else {
            format!(
                "{} (not taken: {})",
                limits::wait_message(wait),
                reply::truncate(&skipped.join(", "), 1500)
            )
        };
        let reply = serenity::CreateMessage::new()
            .content(text)
            .reference_message(msg)
            .allowed_mentions(serenity::CreateAllowedMentions::new());
        let _ = msg.channel_id.send_message(&data.http, reply).await;
        if allowed == 0 {
            return Ok(());
        }
        for a in &replays[allowed..] {
            let _ = data
                .store
                .record_batch_refusal(
                    user,
                    sid(msg.id.get()),
                    sid(a.id.get()),
                    &a.filename,
                    "sent too fast (try it again in a minute)",
                )
                .await;
        }
    }
    // A server in private reply mode gets nothing in the channel: statuses and results go to
    // the uploader's DM. DMs are private anyway.
    let private = match msg.guild_id {
        Some(g) => data
            .store
            .guild_settings(sid(g.get()))
            .await?
            .private_replies(),
        None => false,
    };
    let status_channel = if private {
        match msg.author.id.create_dm_channel(&*data.http).await {
            Ok(dm) => dm.id,
            Err(e) => {
                tracing::info!(error = %e, "cannot open a DM for a private reply");
                tell_dm_closed(data, msg).await;
                return Ok(());
            }
        }
    } else {
        msg.channel_id
    };
    let batch_size = i64::try_from(replays.len()).unwrap_or(i64::MAX);
    // Every file gets its status message at once; then they are downloaded and queued side by
    // side (downloads are bounded across the bot by `Data::downloads`).
    let mut work = tokio::task::JoinSet::new();
    let mut accepted = Vec::new();
    for a in replays.into_iter().take(allowed) {
        let mut status = serenity::CreateMessage::new()
            .content(format!("📥 `{}` received — checking it…", a.filename))
            .allowed_mentions(serenity::CreateAllowedMentions::new());
        if !private {
            status = status.reference_message(msg);
        }
        let status = match status_channel.send_message(&data.http, status).await {
            Ok(m) => m,
            Err(e) if private => {
                tracing::info!(error = %e, "cannot DM the uploader a private reply");
                tell_dm_closed(data, msg).await;
                break;
            }
            Err(e) => {
                super::delivery::report_cannot_post(data, msg.author.id, msg.channel_id, &e).await;
                break;
            }
        };
        let target = StatusTarget::Message {
            channel: status_channel,
            message: status.id,
        };
        let upload = NewUpload {
            guild_id: msg.guild_id.map(|g| sid(g.get())),
            channel_id: Some(sid(status_channel.get())),
            message_id: Some(sid(msg.id.get())),
            reply_message_id: Some(sid(status.id.get())),
            file_name: Some(a.filename.clone()),
            batch_size: Some(batch_size),
            private_reply: private || msg.guild_id.is_none(),
            ..NewUpload::by(user)
        };
        let source = Source {
            channel: msg.channel_id,
            message: msg.id,
        };
        accepted.push((a, upload, target, source));
    }
    for (a, upload, target, source) in accepted {
        let data = data.clone();
        work.spawn(async move { accept(&data, &a, upload, &target, Some(source)).await });
    }
    while work.join_next().await.is_some() {}
    Ok(())
}

/// The user's message a dropped file came from (for the retry button of a full queue).
#[derive(Debug, Clone, Copy)]
pub struct Source {
    pub channel: serenity::ChannelId,
    pub message: serenity::MessageId,
}

/// In a server that keeps results private, an uploader whose DMs are closed is told in the
/// channel (no result there).
async fn tell_dm_closed(data: &Data, msg: &serenity::Message) {
    let text = "This server keeps results private and I can't send you a DM. Allow direct messages from server members (Privacy Settings), or use `/analyze` here.";
    let reply = serenity::CreateMessage::new()
        .content(text)
        .reference_message(msg)
        .allowed_mentions(serenity::CreateAllowedMentions::new());
    if let Err(e) = msg.channel_id.send_message(&data.http, reply).await {
        super::delivery::report_cannot_post(data, msg.author.id, msg.channel_id, &e).await;
    }
}

/// Where the status of an upload is shown.
pub enum StatusTarget {
    Message {
        channel: serenity::ChannelId,
        message: serenity::MessageId,
    },
    Interaction {
        token: String,
    },
}

impl StatusTarget {
    pub async fn set(&self, data: &Data, text: String) {
        let r = match self {
            StatusTarget::Message { channel, message } => channel
                .edit_message(
                    &data.http,
                    *message,
                    serenity::EditMessage::new().content(text),
                )
                .await
                .map(|_| ()),
            StatusTarget::Interaction { token } => {
                use serenity::Builder as _;
                serenity::EditInteractionResponse::new()
                    .content(text)
                    .execute(&*data.http, token)
                    .await
                    .map(|_| ())
            }
        };
        if let Err(e) = r {
            tracing::warn!(error = %e, "could not update a status message");
        }
    }

    /// Reports a problem with the upload: in a channel by editing the status message; for a
    /// slash command only to the uploader (an ephemeral follow-up replaces the public "thinking").
    pub async fn fail(&self, data: &Data, text: String) {
        match self {
            StatusTarget::Message { .. } => self.set(data, text).await,
            StatusTarget::Interaction { token } => {
                use serenity::Builder as _;
                let followup = serenity::CreateInteractionResponseFollowup::new()
                    .content(text.clone())
                    .ephemeral(true);
                match followup.execute(&*data.http, (None, token)).await {
                    Ok(_) => {
                        let _ = data.http.delete_original_interaction_response(token).await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "ephemeral follow-up failed; editing the response instead");
                        self.set(data, text).await;
                    }
                }
            }
        }
    }

    fn lock_key(&self) -> Option<String> {
        match self {
            StatusTarget::Message { message, .. } => {
                super::delivery::status_key(Some(sid(message.get())), None)
            }
            StatusTarget::Interaction { token } => super::delivery::status_key(None, Some(token)),
        }
    }
}

/// Downloads, validates and queues one attachment, and says where it stands. Never fails: every
/// problem ends up in the status message. `source` (dropped files) lets a full queue offer a
/// retry button.
pub async fn accept(
    data: &Data,
    a: &serenity::Attachment,
    upload: NewUpload,
    status: &StatusTarget,
    source: Option<Source>,
) {
    let name = a.filename.clone();
    let max = data.settings.max_replay_bytes;
    let refusal = upload
        .message_id
        .map(|m| (upload.user_id, m, sid(a.id.get())));
    let in_series = upload.batch_size.unwrap_or(1) > 1;
    // A file that never becomes an upload still counts for its message's series summary;
    // `always` records it outside a series too (what the Try again button consumes).
    let refused = |reason: String, always: bool| async move {
        if let Some((user, message, attachment)) = refusal
            && (always || in_series)
        {
            let _ = data
                .store
                .record_batch_refusal(user, message, attachment, &name_of(a), &reason)
                .await;
            super::delivery::after_answer(data, user, message).await;
        }
    };
    if a.size as usize > max {
        let why = format!(
            "is too large ({:.1} MB; the limit is {} MB). Rocket League replays are usually 1–5 MB.",
            f64::from(a.size) / 1048576.0,
            max / 1048576
        );
        status.fail(data, format!("❌ `{name}` {why}")).await;
        refused(why, false).await;
        return;
    }
    // The slot is held until the bytes are stored (or refused), so at most
    // `RLCOACH_MAX_DOWNLOADS` files are in memory at once.
    let _download_slot = data.downloads.acquire().await;
    let bytes = download(data, &a.url, max).await;
    let bytes = match bytes {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(file = %name, error = %e, "attachment download failed");
            status
                .fail(
                    data,
                    format!("❌ I couldn't download `{name}` from Discord. Please try again."),
                )
                .await;
            refused("couldn't be downloaded from Discord".into(), false).await;
            return;
        }
    };
    // Hold the status message while we write "queued", so a fast result is never overwritten.
    let guard = data.status_locks.hold(status.lock_key()).await;
    let user = upload.user_id;
    let message = upload.message_id;
    match data.intake.submit(bytes, upload).await {
        Ok(SubmitOutcome::Analyzed { upload_id, .. }) => {
            drop(guard);
            super::delivery::deliver_upload(data, &upload_id).await;
        }
        Ok(SubmitOutcome::Failed {
            upload_id,
            message: why,
            ..
        }) => {
            if data
                .store
                .claim_delivery(&upload_id, std::time::Duration::from_secs(15))
                .await
                .unwrap_or(false)
            {
                status.fail(data, format!("❌ `{name}`: {why}")).await;
                let _ = data.store.mark_delivered(&upload_id).await;
            }
            drop(guard);
            if let Some(m) = message {
                super::delivery::after_answer(data, user, m).await;
            }
        }
        Ok(SubmitOutcome::Pending { position, .. }) => {
            let text = if position <= 0 {
                format!("⚙️ Analyzing `{name}`…")
            } else {
                format!(
                    "⏳ `{name}` is queued (position {position}). I'll update this message when it's ready."
                )
            };
            status.set(data, text).await;
        }
        Ok(SubmitOutcome::Busy { queued }) => {
            // Nothing was stored; the file stays on Discord, and the button fetches it again.
            let text = format!(
                "🚦 I'm very busy right now ({queued} replays waiting), so `{name}` isn't queued yet."
            );
            match (status, source) {
                (StatusTarget::Message { channel, message }, Some(src)) => {
                    let button = serenity::CreateButton::new(format!(
                        "retry:{}:{}:{}",
                        src.channel.get(),
                        src.message.get(),
                        a.id.get()
                    ))
                    .label("Try again")
                    .style(serenity::ButtonStyle::Primary);
                    let edit = serenity::EditMessage::new()
                        .content(format!("{text} Press **Try again** in a few minutes."))
                        .components(vec![serenity::CreateActionRow::Buttons(vec![button])]);
                    if let Err(e) = channel.edit_message(&data.http, *message, edit).await {
                        tracing::warn!(error = %e, "could not update a status message");
                    }
                }
                _ => {
                    status
                        .fail(
                            data,
                            format!("{text} Please run `/analyze` again in a few minutes."),
                        )
                        .await
                }
            }
            drop(guard);
            // Recorded for every dropped file: the Try again button consumes the row, so a
            // file is retried once however often the button is pressed.
            refused(
                "the queue was full (press Try again under its status)".into(),
                source.is_some(),
            )
            .await;
        }
        Err(e @ (IntakeError::Replay(_) | IntakeError::OverQuota(_))) => {
            status
                .fail(data, format!("❌ `{name}`: {}", e.user_message()))
                .await;
            drop(guard);
            refused(e.user_message(), false).await;
        }
        Err(e @ IntakeError::Storage(_)) => {
            tracing::error!(file = %name, error = %e, "intake failed");
            status
                .set(data, format!("❌ `{name}`: {}", e.user_message()))
                .await;
            drop(guard);
            refused(e.user_message(), false).await;
        }
    }
}

fn name_of(a: &serenity::Attachment) -> String {
    a.filename.clone()
}

/// Fetches an attachment from the URL Discord gave, whatever host it names, refusing to read
/// more than `max` bytes.
async fn download(data: &Data, url: &str, max: usize) -> anyhow::Result<Vec<u8>> {
    let mut resp = data.download.get(url).send().await?.error_for_status()?;
    if resp.content_length().is_some_and(|n| n as usize > max) {
        anyhow::bail!("attachment larger than the limit");
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        out.extend_from_slice(&chunk);
        if out.len() > max {
            anyhow::bail!("attachment larger than the limit");
        }
    }
    Ok(out)
}
