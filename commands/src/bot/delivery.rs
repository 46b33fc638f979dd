//! Delivering results: on every finished job (and at start-up, for results finished before a
//! restart) each waiting uploader gets their answer exactly once — the status message edited
//! into the embed, match card and buttons, or the error. `Store::claim_delivery` and
//! `Store::mark_delivered` decide who sends.
//!
//! Deliveries run concurrently (at most [`CONCURRENT_DELIVERIES`] at a time, one task per
//! upload), so a slow render or a slow Discord call never holds up other answers. A failed send
//! is classified: transient (Discord 5xx or 429, timeouts, our database) is retried with backoff
//! (2 s, 4 s, … up to 10 min, for at most a day); permanent (the status message deleted, 400,
//! 401, a channel the bot may not post in) is given up at once and logged once — the result
//! stays in `/replays`. A missing permission is told to the uploader once by DM.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use poise::serenity_prelude as serenity;
use rlcoach::cards::{self, Chart, ImageFormat};
use rlcoach::jobs::JobEvent;
use rlcoach::storage::{
    BatchSummary, Delivery, DeliveryFailure, DeliveryRetry, StorageError, UserId, Viewer,
};
use tokio::sync::{Semaphore, broadcast};

use super::{Data, reply};

/// How long a claimed answer waits before another attempt may send it.
const DELIVERY_LEASE: Duration = Duration::from_secs(15);

/// Interaction tokens last 15 minutes; leave a margin.
const TOKEN_TTL_MS: i64 = 14 * 60 * 1000;

/// A send Discord has not answered by then is abandoned and retried (shorter than the claim).
const SEND_TIMEOUT: Duration = Duration::from_secs(12);

/// Answers being built or sent at the same time.
pub const CONCURRENT_DELIVERIES: usize = 8;

/// The deliveries in flight in this process: one task per upload, bounded.
pub struct Deliveries {
    permits: Arc<Semaphore>,
    in_flight: Mutex<HashSet<String>>,
    /// Rings when a retry was scheduled, so the loop plans its next rescan again.
    rescheduled: tokio::sync::Notify,
}

impl Default for Deliveries {
    fn default() -> Self {
        Deliveries {
            permits: Arc::new(Semaphore::new(CONCURRENT_DELIVERIES)),
            in_flight: Mutex::default(),
            rescheduled: tokio::sync::Notify::new(),
        }
    }
}

/// One lock per status message (or interaction response), so a status edit ("queued",
/// "analyzing") and the result never cross and the result is never overwritten.
#[derive(Default)]
pub struct StatusLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl StatusLocks {
    /// Holds the lock for `key` (None: nothing to hold).
    pub async fn hold(&self, key: Option<String>) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        let lock = {
            let mut m = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            if m.len() > 10_000 {
                m.retain(|_, l| Arc::strong_count(l) > 1);
            }
            m.entry(key?).or_default().clone()
        };
        Some(lock.lock_owned().await)
    }
}

/// The lock key of an upload's status: its status message, else its interaction response.
/// Intake (`StatusTarget`) and delivery both derive it from the same two facts.
pub fn status_key(
    reply_message_id: Option<i64>,
    interaction_token: Option<&str>,
) -> Option<String> {
    match (reply_message_id, interaction_token) {
        (Some(m), _) => Some(format!("msg:{m}")),
        (None, Some(t)) => Some(format!("tok:{t}")),
        (None, None) => None,
    }
}

/// Listens to the pool; also delivers what finished while the bot was down, and rescans every
/// 30 s, or sooner when a claim left by a crashed sender or a retry's backoff ends.
pub async fn run(data: Data, mut events: broadcast::Receiver<JobEvent>) {
    deliver_all_pending(&data, None).await;
    let mut rescan = next_rescan(&data).await;
    loop {
        let event = tokio::select! {
            e = events.recv() => e,
            _ = tokio::time::sleep_until(rescan) => {
                deliver_all_pending(&data, None).await;
                rescan = next_rescan(&data).await;
                continue;
            }
            _ = data.deliveries.rescheduled.notified() => {
                rescan = next_rescan(&data).await;
                continue;
            }
        };
        match event {
            Ok(JobEvent::Started { replay_id }) => {
                let data = data.clone();
                tokio::spawn(async move { mark_analyzing(&data, &replay_id).await });
            }
            Ok(JobEvent::Finished(c)) => deliver_all_pending(&data, Some(&c.replay_id)).await,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "delivery fell behind; rescanning");
                deliver_all_pending(&data, None).await;
            }
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}

/// 30 s from now, or just after the earliest delivery claim or retry backoff ends if sooner.
async fn next_rescan(data: &Data) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    let latest = now + Duration::from_secs(30);
    match data.store.earliest_delivery_claim_end().await {
        Ok(Some(end)) => {
            let wait = u64::try_from(end - rlcoach::storage::now_ms()).unwrap_or(0) + 100;
            latest.min(now + Duration::from_millis(wait))
        }
        Ok(None) => latest,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read delivery claims");
            latest
        }
    }
}

/// Starts a delivery task for every owed answer (optionally of one replay) not already in
/// flight; returns without waiting for them.
async fn deliver_all_pending(data: &Data, replay_id: Option<&str>) {
    match data.store.pending_deliveries(replay_id).await {
        Ok(list) => {
            for d in list {
                spawn_delivery(data, d);
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot list pending deliveries"),
    }
}

fn spawn_delivery(data: &Data, d: Delivery) {
    {
        let mut in_flight = data
            .deliveries
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if !in_flight.insert(d.upload_id.clone()) {
            return;
        }
    }
    let data = data.clone();
    tokio::spawn(async move {
        // Leaves the in-flight set however the task ends (a panic included).
        let _in_flight = InFlight {
            deliveries: data.deliveries.clone(),
            upload: d.upload_id.clone(),
        };
        if let Ok(_permit) = data.deliveries.permits.clone().acquire_owned().await {
            deliver(&data, d).await;
        }
    });
}

/// An upload's place in the in-flight set, given back on drop.
struct InFlight {
    deliveries: Arc<Deliveries>,
    upload: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.deliveries
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.upload);
    }
}

async fn mark_analyzing(data: &Data, replay_id: &str) {
    let Ok(waiting) = data.store.waiting_uploads(replay_id).await else {
        return;
    };
    for (upload, channel, message, file) in waiting {
        let (Some(channel), Some(message)) = (channel, message) else {
            continue;
        };
        let _g = data
            .status_locks
            .hold(status_key(Some(message), None))
            .await;
        // The answer may have gone out meanwhile: never write "analyzing" over it.
        if !data.store.is_unanswered(&upload).await.unwrap_or(false) {
            continue;
        }
        let text = format!("⚙️ Analyzing `{}`…", file.as_deref().unwrap_or("replay"));
        let _ = serenity::ChannelId::new(channel.max(1) as u64)
            .edit_message(
                &data.http,
                serenity::MessageId::new(message.max(1) as u64),
                serenity::EditMessage::new().content(text),
            )
            .await;
    }
}

/// Delivers one upload now if its job has finished (used when a duplicate answers at once).
pub async fn deliver_upload(data: &Data, upload_id: &str) {
    match data.store.pending_delivery(upload_id).await {
        Ok(Some(d)) => {
            if let Ok(_slot) = data.deliveries.permits.clone().acquire_owned().await {
                deliver(data, d).await;
            }
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "cannot load a delivery"),
    }
}

async fn deliver(data: &Data, d: Delivery) {
    let _g = data
        .status_locks
        .hold(status_key(
            d.reply_message_id,
            d.interaction_token.as_deref(),
        ))
        .await;
    // Build first (rendering takes a while), then claim, send, and mark: a crash between claim
    // and mark re-sends the same edit after the lease, it never loses the answer.
    let a = match answer(data, &d).await {
        Ok(a) => a,
        Err(AnswerError::Transient(e)) => {
            // Our database hiccuped: try again shortly; the user is not told it failed.
            retry(data, &d, DeliveryFailure::Transient, &e.to_string()).await;
            return;
        }
        Err(AnswerError::Internal(e)) => {
            tracing::error!(replay = %d.replay_id, error = %format!("{e:#}"), "cannot build the answer");
            Answer {
                content: "❌ Something went wrong on our side while preparing this result. It has been logged.".into(),
                embed: None,
                card: None,
                buttons: Vec::new(),
            }
        }
    };
    match data
        .store
        .claim_delivery(&d.upload_id, DELIVERY_LEASE)
        .await
    {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::warn!(error = %e, "cannot claim a delivery; the rescan retries it");
            return;
        }
    }
    let sent = match tokio::time::timeout(SEND_TIMEOUT, send(data, &d, &a)).await {
        Ok(r) => r,
        Err(_) => {
            retry(
                data,
                &d,
                DeliveryFailure::Transient,
                "Discord did not answer in time",
            )
            .await;
            return;
        }
    };
    match sent {
        Ok(()) => {
            if let Err(e) = data.store.mark_delivered(&d.upload_id).await {
                tracing::error!(error = %e, "cannot mark a delivery; it will be re-sent");
            }
            tracing::info!(upload = %d.upload_id, replay = %d.replay_id, "result delivered");
        }
        Err(e) if d.private_reply && (is_dm_closed(&e) || is_missing_permission(&e)) => {
            // A private answer never falls back to a channel: it stays for `/replays`.
            retry(
                data,
                &d,
                DeliveryFailure::Permanent,
                "the uploader's DMs are closed",
            )
            .await;
        }
        Err(e) if is_missing_permission(&e) => {
            retry(data, &d, DeliveryFailure::Permanent, "missing permission").await;
            let channel = serenity::ChannelId::new(d.channel_id.unwrap_or_default().max(1) as u64);
            report_cannot_post(
                data,
                serenity::UserId::new(d.user_id.discord()),
                channel,
                &e,
            )
            .await;
        }
        Err(e) => retry(data, &d, classify(&e), &e.to_string()).await,
    }
    if let Some(m) = d.message_id {
        after_answer(data, d.user_id, m).await;
    }
}

/// Records a failed attempt: owed again after a backoff, or given up (logged once, here).
async fn retry(data: &Data, d: &Delivery, failure: DeliveryFailure, error: &str) {
    match data.store.delivery_failed(d, failure, error).await {
        Ok(DeliveryRetry::At(at)) => {
            let secs = (at - rlcoach::storage::now_ms()) as f64 / 1000.0;
            tracing::warn!(upload = %d.upload_id, attempt = d.attempts + 1, error, "delivery failed; retrying in {secs:.0} s");
            data.deliveries.rescheduled.notify_one();
        }
        Ok(DeliveryRetry::GaveUp) => {
            tracing::warn!(upload = %d.upload_id, attempts = d.attempts + 1, error, "delivery given up; the result stays in /replays");
        }
        Err(e) => {
            tracing::error!(upload = %d.upload_id, error = %e, "cannot record a failed delivery");
            let _ = data.store.release_delivery(&d.upload_id).await;
        }
    }
}

/// Whether a failed Discord call may work later.
pub(super) fn classify(e: &serenity::Error) -> DeliveryFailure {
    match e {
        serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r))
            if r.status_code.as_u16() == 429 || r.status_code.is_server_error() =>
        {
            DeliveryFailure::Transient
        }
        serenity::Error::Http(serenity::HttpError::Request(_)) | serenity::Error::Io(_) => {
            DeliveryFailure::Transient
        }
        _ => DeliveryFailure::Permanent,
    }
}

/// After a file of a multi-file message was answered (or given up, or refused at intake):
/// posts the series summary once every file is accounted for.
pub async fn after_answer(data: &Data, user: UserId, message_id: i64) {
    match data.store.claim_batch_summary(message_id).await {
        Ok(Some(batch)) => series_summary(data, user, message_id, batch).await,
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "cannot check a series summary"),
    }
}

enum AnswerError {
    /// Worth retrying (the database or the file store is unavailable).
    Transient(StorageError),
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for AnswerError {
    fn from(e: anyhow::Error) -> Self {
        AnswerError::Internal(e)
    }
}

/// The answer's content: the embed, the match card and buttons, or the error.
struct Answer {
    content: String,
    embed: Option<serenity::CreateEmbed>,
    card: Option<Vec<u8>>,
    buttons: Vec<serenity::CreateActionRow>,
}

async fn answer(data: &Data, d: &Delivery) -> Result<Answer, AnswerError> {
    let file = d.file_name.as_deref().unwrap_or("replay");
    if let Some(err) = &d.error {
        return Ok(Answer {
            content: format!("❌ `{file}`: {err}"),
            embed: None,
            card: None,
            buttons: Vec::new(),
        });
    }
    let report = match data.store.report(&d.uploader(), &d.replay_id).await {
        Ok(Some(r)) => r,
        Ok(None) => return Err(anyhow::anyhow!("report missing").into()),
        Err(e @ (StorageError::Database(_) | StorageError::Io { .. })) => {
            return Err(AnswerError::Transient(e));
        }
        Err(e) => return Err(anyhow::Error::from(e).into()),
    };
    let opts = super::components::card_options(data, &d.uploader(), &report).await;
    let embed = reply::result_embed(&report, d.file_name.as_deref());
    let mut buttons =
        reply::result_buttons(&report, &d.replay_id, data.settings.web_base.as_deref());
    // Pro uploaders get their coach one click away.
    if data.coach.is_some()
        && data
            .store
            .plan(&d.uploader())
            .await
            .is_ok_and(|p| p.is_pro())
    {
        buttons.push(serenity::CreateActionRow::Buttons(vec![
            serenity::CreateButton::new("coachreview")
                .label("Review my last session")
                .style(serenity::ButtonStyle::Success),
        ]));
        buttons.truncate(5);
    }
    let png = tokio::task::spawn_blocking(move || {
        cards::render_chart(&report, Chart::Match, &opts, ImageFormat::Png)
    })
    .await
    .map_err(anyhow::Error::from)?
    .map_err(anyhow::Error::from)?;
    Ok(Answer {
        content: String::new(),
        embed: Some(embed),
        card: Some(png.bytes),
        buttons,
    })
}

async fn send(data: &Data, d: &Delivery, a: &Answer) -> Result<(), serenity::Error> {
    let fresh_token = d
        .interaction_token
        .as_ref()
        .filter(|_| rlcoach::storage::now_ms() - d.created_at < TOKEN_TTL_MS);
    if let Some(token) = fresh_token {
        use serenity::Builder as _;
        match a.interaction_edit().execute(&*data.http, token).await {
            Ok(_) => return Ok(()),
            // The token died early (Discord revoked it, or our clock is off): answer as if it
            // had expired.
            Err(e) if is_dead_token(&e) => {
                tracing::info!(upload = %d.upload_id, "interaction token no longer valid");
            }
            Err(e) => return Err(e),
        }
    }
    match (d.private_reply, d.channel_id, d.reply_message_id) {
        // The status message: in the channel for public answers, in the uploader's DM for
        // private ones (intake posts private statuses there).
        (_, Some(channel), Some(msg)) => {
            let (channel, msg) = (
                serenity::ChannelId::new(channel.max(1) as u64),
                serenity::MessageId::new(msg.max(1) as u64),
            );
            channel.edit_message(&data.http, msg, a.edit()).await?;
        }
        (false, Some(channel), None) => {
            serenity::ChannelId::new(channel.max(1) as u64)
                .send_message(&data.http, a.create())
                .await?;
        }
        // A private answer whose interaction token expired, or nowhere recorded: the uploader's
        // DM — never the channel.
        _ => {
            let dm = serenity::UserId::new(d.user_id.discord())
                .create_dm_channel(&*data.http)
                .await?;
            dm.id.send_message(&data.http, a.create()).await?;
        }
    }
    Ok(())
}

/// An interaction token Discord no longer accepts (401 Invalid Webhook Token, 404 Unknown
/// Webhook).
fn is_dead_token(e: &serenity::Error) -> bool {
    matches!(e, serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r))
        if matches!(r.status_code.as_u16(), 401 | 404))
}

/// Discord refuses to open or use a DM with this user (DMs closed: code 50007).
fn is_dm_closed(e: &serenity::Error) -> bool {
    matches!(e, serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r))
        if r.error.code == 50007)
}

impl Answer {
    fn card(&self) -> Option<serenity::CreateAttachment> {
        self.card
            .as_ref()
            .map(|png| serenity::CreateAttachment::bytes(png.clone(), "match.png"))
    }

    fn create(&self) -> serenity::CreateMessage {
        let mut m = serenity::CreateMessage::new()
            .content(self.content.clone())
            .components(self.buttons.clone());
        if let Some(file) = self.card() {
            m = m.add_file(file);
        }
        match &self.embed {
            Some(e) => m.embed(e.clone()),
            None => m,
        }
    }

    fn edit(&self) -> serenity::EditMessage {
        let mut m = serenity::EditMessage::new()
            .content(self.content.clone())
            .components(self.buttons.clone());
        if let Some(file) = self.card() {
            m = m.new_attachment(file);
        }
        match &self.embed {
            Some(e) => m.embed(e.clone()),
            None => m,
        }
    }

    fn interaction_edit(&self) -> serenity::EditInteractionResponse {
        let mut m = serenity::EditInteractionResponse::new()
            .content(self.content.clone())
            .components(self.buttons.clone());
        if let Some(file) = self.card() {
            m = m.new_attachment(file);
        }
        match &self.embed {
            Some(e) => m.embed(e.clone()),
            None => m,
        }
    }
}

/// Several replays in one message: wins per team colour, totals and the best player.
async fn series_summary(data: &Data, user: UserId, message_id: i64, batch: BatchSummary) {
    let uploader = Viewer::user(user);
    let mut wins = [0u32; 2];
    let mut totals: HashMap<String, (u32, u32, u32, u32)> = HashMap::new();
    let mut games = 0;
    for id in &batch.analyzed {
        let Ok(Some(r)) = data.store.report(&uploader, id).await else {
            continue;
        };
        games += 1;
        if let Some(team) = rlcoach::summary::winner(r.metadata.score) {
            wins[usize::from(team)] += 1;
        }
        for p in &r.players {
            let t = totals.entry(p.name.clone()).or_default();
            t.0 += p.core.score;
            t.1 += p.core.goals;
            t.2 += p.core.saves;
            t.3 += p.core.assists;
        }
    }
    if games + batch.failed.len() < 2 {
        return;
    }
    let mut rows: Vec<_> = totals.into_iter().collect();
    rows.sort_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| a.0.cmp(&b.0)));
    let best = rows
        .first()
        .map(|(n, t)| format!("**{}** ({} pts)", reply::player_name(n), t.0))
        .unwrap_or_default();
    let lines: Vec<String> = rows
        .iter()
        .take(8)
        .map(|(n, t)| {
            format!(
                "{} — {} pts · {}G {}A {}Sv",
                reply::player_name(n),
                t.0,
                t.1,
                t.3,
                t.2
            )
        })
        .collect();
    let mut description = if games > 0 {
        format!("Best player: {best}\n\n{}", lines.join("\n"))
    } else {
        "No game of this series could be analyzed.".to_string()
    };
    if !batch.failed.is_empty() {
        description.push_str(&format!(
            "\n\n**Not analyzed ({} of {}):**",
            batch.failed.len(),
            games + batch.failed.len()
        ));
        for (file, why) in batch.failed.iter().take(10) {
            description.push_str(&format!(
                "\n❌ `{}` — {}",
                reply::plain(file, 60).replace('`', "'"),
                reply::plain(why, 200)
            ));
        }
        if batch.failed.len() > 10 {
            description.push_str(&format!("\n…and {} more.", batch.failed.len() - 10));
        }
    }
    let embed = serenity::CreateEmbed::new()
        .title(format!(
            "Series: {games} games · Blue {} – {} Orange",
            wins[0], wins[1]
        ))
        .description(reply::truncate(&description, 4000))
        .colour(reply::GREY);
    let m = serenity::CreateMessage::new().embed(embed);
    // Public answers: under the uploader's message in its channel. Private ones: in the
    // uploader's DM (where intake put their statuses), never in the channel.
    let sent = match (batch.private_reply, batch.channel_id) {
        (false, Some(channel)) => {
            let message = message_id;
            let channel = serenity::ChannelId::new(channel.max(1) as u64);
            let m = m.reference_message((channel, serenity::MessageId::new(message.max(1) as u64)));
            channel.send_message(&data.http, m).await.map(|_| ())
        }
        (true, Some(channel)) => serenity::ChannelId::new(channel.max(1) as u64)
            .send_message(&data.http, m)
            .await
            .map(|_| ()),
        _ => match serenity::UserId::new(user.discord())
            .create_dm_channel(&*data.http)
            .await
        {
            Ok(dm) => dm.id.send_message(&data.http, m).await.map(|_| ()),
            Err(e) => Err(e),
        },
    };
    if let Err(e) = sent {
        tracing::warn!(error = %e, "could not post a series summary");
    }
}

fn is_missing_permission(e: &serenity::Error) -> bool {
    matches!(e, serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r)) if r.status_code.as_u16() == 403)
}

/// Tells the uploader once, by DM, that the bot cannot post in the channel.
pub async fn report_cannot_post(
    data: &Data,
    user: serenity::UserId,
    channel: serenity::ChannelId,
    e: &serenity::Error,
) {
    if !is_missing_permission(e) {
        tracing::warn!(error = %e, "could not post in a channel");
        return;
    }
    tracing::info!(channel = %channel, "missing permission to post; telling the uploader");
    let text = format!(
        "I can't post in <#{channel}> (missing permission). Ask a server admin to let me send messages and attach files there, or send me the replay in a DM."
    );
    if let Ok(dm) = user.create_dm_channel(&*data.http).await {
        let _ = dm
            .id
            .send_message(&data.http, serenity::CreateMessage::new().content(text))
            .await;
    }
}
