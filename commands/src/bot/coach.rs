//! The coach in Discord. A conversation lives in a private thread the bot opens for the user (a
//! public one where the server refuses private threads) or in the user's DM; every later message
//! of that user there goes to the coach. Answers stream into messages: a placeholder at once,
//! then one edit task per answer that sends the latest text at most once per
//! [`EDIT_INTERVAL`] (it never queues edits: it always renders the newest state), splitting at
//! paragraph boundaries past Discord's 2000 characters with code fences re-opened across the
//! split.

use std::sync::Arc;
use std::time::Duration;

use poise::serenity_prelude as serenity;
use rlcoach::cards::thousands;
use rlcoach::coach::{Activity, Coach, CoachError, Progress};
use rlcoach::storage::coach::date_string;
use rlcoach::storage::{BudgetStatus, Conversation, UserId, Viewer};
use tokio::sync::watch;

use super::{BotSettings, Data, Error, limits, reply, sid, user_error};

/// The shortest time between two edits of one message.
pub const EDIT_INTERVAL: Duration = Duration::from_millis(1200);
/// Text per message (Discord allows 2000; the rest is room for a status line and fences).
const CHUNK: usize = 1900;

/// The friendly "this is Pro" answer: with Discord's subscribe button when Pro is sold on
/// Discord (`DISCORD_PRO_SKU_ID`), else with the link to the site's billing page when there is one.
pub fn upsell(settings: &BotSettings) -> (String, Vec<serenity::CreateActionRow>) {
    let text = PITCH.to_string();
    // Sold on Discord: its own subscribe button (Discord's checkout, no website needed).
    if let Some(sku) = settings.pro_sku {
        return (
            format!(
                "{text}\nSubscribe right here with the button below; Pro switches on as soon as Discord confirms it."
            ),
            vec![serenity::CreateActionRow::Buttons(vec![
                serenity::CreateButton::new_premium(sku),
            ])],
        );
    }
    match &settings.web_base {
        Some(base) => (
            format!(
                "{text}\nUpgrade to Pro: <{}/billing>",
                base.trim_end_matches('/')
            ),
            vec![serenity::CreateActionRow::Buttons(vec![
                serenity::CreateButton::new_link(format!("{}/billing", base.trim_end_matches('/')))
                    .label("Get Pro"),
            ])],
        ),
        None => (
            format!("{text}\nAsk this bot's operator about Pro."),
            Vec::new(),
        ),
    }
}

const PITCH: &str = "**The coach is part of rlcoach Pro.** Pro gives you an AI coach that reads your own games before it answers: ask it anything in a private thread, get a review of your last session with the numbers behind it and drills for next time, and it remembers what you worked on. Everything else (analysis, cards, trends) stays free.";

/// The upsell where no button can go with it (a message in a coach thread, a button's answer):
/// Discord's subscribe button is one command away.
pub fn upsell_text(settings: &BotSettings) -> String {
    match settings.pro_sku {
        Some(_) => format!("{PITCH}\nRun `/coach usage` to subscribe right here in Discord."),
        None => upsell(settings).0,
    }
}

/// The coach, or the "not configured" answer.
pub fn configured(data: &Data) -> Result<&Coach, Error> {
    data.coach.as_ref().ok_or_else(|| {
        user_error("The coach isn't set up on this bot yet (its operator has to configure a model). Everything else works as usual.")
    })
}

/// The per-user hourly question limit, as a user error.
pub fn take_question(data: &Data, user: serenity::UserId) -> Result<(), Error> {
    data.limits.coach(user.get()).map_err(|wait| {
        user_error(format!(
            "You've asked the coach {} questions this hour; the next one is possible in {}.",
            data.limits.coach_per_hour(),
            limits::human_wait(wait)
        ))
    })
}

/// A usage bar: "▰▰▰▱▱▱▱▱▱▱ 30 %".
pub fn usage_bar(b: &BudgetStatus) -> String {
    let used = b.used + b.reserved;
    let pct = used
        .saturating_mul(100)
        .checked_div(b.limit)
        .map_or(100, |p| p.min(100));
    let filled = usize::try_from(pct / 10).unwrap_or(10);
    format!(
        "{}{} {pct} %\n{} of {} tokens used this period; **{} left**. Resets on {}.",
        "▰".repeat(filled),
        "▱".repeat(10 - filled),
        thousands(used),
        thousands(b.limit),
        thousands(b.left()),
        date_string(b.period_end)
    )
}

/// Starts a conversation where `user` asked and spawns the answer to `question` there. The
/// checks first (configured, Pro with budget left, the hourly limit): a Free user gets
/// `Err(Started::Upsell)` to show the upsell with its button. Returns the channel the answer
/// goes to.
pub async fn begin(
    data: &Data,
    user: &serenity::User,
    place: Place,
    kind: &str,
    topic: &str,
    question: String,
) -> Result<serenity::ChannelId, Begin> {
    let coach = configured(data).map_err(Begin::Refused)?;
    let viewer = Viewer::user(UserId::from_discord(user.id.get()));
    match coach.can_ask(&viewer).await {
        Ok(_) => {}
        Err(CoachError::NotPro) => return Err(Begin::Upsell),
        Err(e) => return Err(Begin::Refused(coach_error(e))),
    }
    take_question(data, user.id).map_err(Begin::Refused)?;
    let in_guild = place.guild.is_some();
    let (conversation, channel) = open(data, user, place, kind, topic)
        .await
        .map_err(Begin::Refused)?;
    if in_guild {
        let quoted = quote(&question);
        channel
            .send_message(
                &data.http,
                serenity::CreateMessage::new()
                    .content(format!("<@{}> asked:\n{quoted}\n-# Keep talking here: every message you send in this thread goes to your coach.", user.id))
                    .allowed_mentions(serenity::CreateAllowedMentions::new().users([user.id])),
            )
            .await
            .map_err(|e| Begin::Refused(e.into()))?;
    }
    let data = data.clone();
    let id = conversation.id;
    tokio::spawn(async move {
        answer(&data, channel, viewer, id, Some(question)).await;
    });
    Ok(channel)
}

/// Why a conversation was not started.
pub enum Begin {
    /// The user is on the Free plan: show the upsell.
    Upsell,
    /// Anything else, as an error for the user (or the logs).
    Refused(Error),
}

/// The question as a Discord block quote (at most ~1500 characters, one `>` per line).
pub fn quote(q: &str) -> String {
    reply::truncate(q, 1500)
        .lines()
        .map(|l| format!("> {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where a conversation is opened: a guild text channel (a thread is made there) or a DM.
pub struct Place {
    pub guild: Option<serenity::GuildId>,
    pub channel: serenity::ChannelId,
}

/// Opens a conversation for `user`: in a guild, a private thread named after the user and the
/// topic (public where private threads are refused) with the user added; in a DM, the DM (its
/// existing conversation when there is one). Returns the conversation and its channel.
pub async fn open(
    data: &Data,
    user: &serenity::User,
    place: Place,
    kind: &str,
    topic: &str,
) -> Result<(Conversation, serenity::ChannelId), Error> {
    let coach = configured(data)?;
    let viewer = Viewer::user(UserId::from_discord(user.id.get()));
    if place.guild.is_none() {
        if let Some(c) = data
            .store
            .conversation_in_channel(&viewer, sid(place.channel.get()))
            .await?
        {
            return Ok((c, place.channel));
        }
        let title = format!("{} · {}", user.name, topic);
        let c = start(coach, &viewer, Some(place.channel), kind, &title).await?;
        return Ok((c, place.channel));
    }
    let title = reply::plain(
        &format!(
            "{} · {}",
            user.global_name.as_deref().unwrap_or(&user.name),
            topic
        ),
        100,
    );
    let thread = match place
        .channel
        .create_thread(
            &data.http,
            serenity::CreateThread::new(title.clone())
                .kind(serenity::ChannelType::PrivateThread)
                .invitable(false)
                .auto_archive_duration(serenity::AutoArchiveDuration::OneDay),
        )
        .await
    {
        Ok(t) => t,
        Err(e) if discord_status(&e).is_some_and(|s| s == 400 || s == 403) => {
            tracing::info!(error = %e, "private thread refused; opening a public one");
            place
                .channel
                .create_thread(
                    &data.http,
                    serenity::CreateThread::new(title.clone())
                        .kind(serenity::ChannelType::PublicThread)
                        .auto_archive_duration(serenity::AutoArchiveDuration::OneDay),
                )
                .await
                .map_err(|e| match discord_status(&e) {
                    Some(400 | 403) => user_error(
                        "I can't open a thread here. Use `/coach` in a text channel where I may create threads, or in a DM with me.",
                    ),
                    _ => e.into(),
                })?
        }
        Err(e) => return Err(e.into()),
    };
    if let Err(e) = thread.id.add_thread_member(&data.http, user.id).await {
        tracing::warn!(error = %e, "could not add the user to their coach thread");
    }
    let c = start(coach, &viewer, Some(thread.id), kind, &title).await?;
    Ok((c, thread.id))
}

async fn start(
    coach: &Coach,
    viewer: &Viewer,
    channel: Option<serenity::ChannelId>,
    kind: &str,
    title: &str,
) -> Result<Conversation, Error> {
    coach
        .start(viewer, channel.map(|c| sid(c.get())), kind, title)
        .await
        .map_err(coach_error)
}

fn discord_status(e: &serenity::Error) -> Option<u16> {
    match e {
        serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r)) => {
            Some(r.status_code.as_u16())
        }
        _ => None,
    }
}

/// A coach error as a user error (Free users get the upsell text).
pub fn coach_error(e: CoachError) -> Error {
    match e {
        CoachError::Storage(s) => anyhow::Error::from(s),
        other => user_error(other.user_message()),
    }
}

/// A message of a user in a channel: when it is that user's coach conversation (their thread,
/// or a DM where they talk with the coach), the coach answers it. Runs the answer in its own
/// task.
pub async fn on_message(data: &Data, msg: &serenity::Message) -> Result<(), Error> {
    if msg.author.bot || msg.content.trim().is_empty() {
        return Ok(());
    }
    if msg
        .attachments
        .iter()
        .any(|a| super::intake::is_replay_name(&a.filename))
    {
        return Ok(());
    }
    let viewer = Viewer::user(UserId::from_discord(msg.author.id.get()));
    let Some(conversation) = data
        .store
        .conversation_in_channel(&viewer, sid(msg.channel_id.get()))
        .await?
    else {
        return Ok(());
    };
    let refuse = |text: String| {
        serenity::CreateMessage::new()
            .content(text)
            .reference_message(msg)
            .allowed_mentions(serenity::CreateAllowedMentions::new())
    };
    if data.coach.is_none() {
        let _ = msg
            .channel_id
            .send_message(
                &data.http,
                refuse("The coach isn't set up on this bot any more.".into()),
            )
            .await;
        return Ok(());
    }
    if let Err(e) = take_question(data, msg.author.id) {
        let _ = msg
            .channel_id
            .send_message(&data.http, refuse(e.to_string()))
            .await;
        return Ok(());
    }
    let data = data.clone();
    let channel = msg.channel_id;
    let text = msg.content.clone();
    tokio::spawn(async move {
        answer(&data, channel, viewer, conversation.id, Some(text)).await;
    });
    Ok(())
}

/// What the edit task shows.
#[derive(Debug, Clone, Default, PartialEq)]
struct View {
    text: String,
    /// A status line under the text while the answer runs.
    status: Option<String>,
    /// Buttons under the last message (set with the final view).
    retry_of: Option<String>,
    done: bool,
}

/// Answers `text` (None: retries the last unanswered message) in `channel`, streaming. Answers
/// of one conversation run one at a time. Never fails: errors become the answer's text.
pub async fn answer(
    data: &Data,
    channel: serenity::ChannelId,
    viewer: Viewer,
    conversation_id: String,
    text: Option<String>,
) {
    let Some(coach) = data.coach.clone() else {
        return;
    };
    let (tx, rx) = watch::channel(View {
        status: Some(status_line(Activity::Thinking)),
        ..View::default()
    });
    let editor = tokio::spawn(edit_loop(data.http.clone(), channel, rx));
    let mut on = |p: &Progress| {
        tx.send_replace(View {
            text: p.text.clone(),
            status: Some(status_line(p.activity)),
            retry_of: None,
            done: false,
        });
    };
    let result = coach
        .reply(&viewer, &conversation_id, text.as_deref(), &mut on)
        .await;
    let final_view = match result {
        Ok(a) => {
            let mut text = if a.text.trim().is_empty() {
                "I don't have anything useful to add to that; could you ask it another way?"
                    .to_string()
            } else {
                a.text
            };
            if a.truncated {
                text.push_str(
                    "\n\n-# The answer hit the length limit: say \"go on\" for the rest.",
                );
            }
            if let Some(b) = a.budget_warning {
                text.push_str(&format!(
                    "\n\n-# Heads-up: you've used 80 % of this period's coaching tokens ({} left; resets on {}). `/coach usage` shows the details.",
                    thousands(b.left()),
                    date_string(b.period_end)
                ));
            }
            View {
                text,
                done: true,
                ..View::default()
            }
        }
        Err(CoachError::NotPro) => View {
            text: upsell_text(&data.settings),
            done: true,
            ..View::default()
        },
        Err(e @ CoachError::Interrupted { .. }) => {
            let CoachError::Interrupted { partial, message } = &e else {
                unreachable!()
            };
            tracing::warn!(error = %message, "coach answer interrupted");
            View {
                text: format!("{partial}\n\n-# ⚠️ {}", e.user_message()),
                retry_of: Some(conversation_id.clone()),
                done: true,
                ..View::default()
            }
        }
        Err(e) => {
            // Retrying helps after a model or database failure, never after a refused request
            // (a bad key, an invalid request).
            let retry = match &e {
                CoachError::Model(rlcoach::coach::ModelError::Status { retryable, .. }) => {
                    *retryable
                }
                CoachError::Model(_) | CoachError::Storage(_) => true,
                _ => false,
            };
            if retry {
                tracing::warn!(error = %e, "coach answer failed");
            }
            View {
                text: e.user_message(),
                retry_of: retry.then(|| conversation_id.clone()),
                done: true,
                ..View::default()
            }
        }
    };
    tx.send_replace(final_view);
    drop(tx);
    if let Err(e) = editor.await {
        tracing::warn!(error = %e, "coach edit task failed");
    }
}

fn status_line(a: Activity) -> String {
    match a {
        Activity::Thinking => "-# 💭 thinking…".into(),
        Activity::Writing => "-# ✍️ writing…".into(),
        Activity::Reading(what) => format!("-# 📊 looking at {what}…"),
    }
}

/// The one edit task of an answer: renders the newest [`View`] at most once per
/// [`EDIT_INTERVAL`] per message, posting more messages as the text outgrows one, until the view
/// is done.
async fn edit_loop(
    http: Arc<serenity::Http>,
    channel: serenity::ChannelId,
    mut rx: watch::Receiver<View>,
) {
    // (message, what it shows now)
    let mut sent: Vec<(serenity::MessageId, String)> = Vec::new();
    let mut last_edit = tokio::time::Instant::now() - EDIT_INTERVAL;
    loop {
        // Whatever arrived while waiting is folded into one edit: the newest view wins.
        tokio::time::sleep_until(last_edit + EDIT_INTERVAL).await;
        let view = rx.borrow_and_update().clone();
        let mut chunks = split_message(&view.text, CHUNK);
        if let Some(status) = &view.status {
            match chunks.last_mut() {
                Some(last) => {
                    last.push_str("\n\n");
                    last.push_str(status);
                }
                None => chunks.push(status.clone()),
            }
        }
        if chunks.is_empty() {
            chunks.push("…".into());
        }
        let n = chunks.len();
        for (i, chunk) in chunks.into_iter().enumerate() {
            let last = i + 1 == n;
            let components = match (&view.retry_of, last && view.done) {
                (Some(id), true) => vec![serenity::CreateActionRow::Buttons(vec![
                    serenity::CreateButton::new(format!("coachretry:{id}"))
                        .label("Retry")
                        .style(serenity::ButtonStyle::Primary),
                ])],
                _ => Vec::new(),
            };
            match sent.get(i) {
                Some((_, shown)) if *shown == chunk && components.is_empty() => {}
                Some((id, _)) => {
                    let id = *id;
                    let edit = serenity::EditMessage::new()
                        .content(chunk.clone())
                        .components(components)
                        .allowed_mentions(serenity::CreateAllowedMentions::new());
                    match channel.edit_message(&http, id, edit).await {
                        Ok(_) => sent[i].1 = chunk,
                        Err(e) => tracing::warn!(error = %e, "coach edit failed"),
                    }
                }
                None => {
                    let post = serenity::CreateMessage::new()
                        .content(chunk.clone())
                        .components(components)
                        .allowed_mentions(serenity::CreateAllowedMentions::new());
                    match channel.send_message(&http, post).await {
                        Ok(m) => sent.push((m.id, chunk)),
                        Err(e) => {
                            tracing::warn!(error = %e, "coach message failed");
                            if view.done {
                                return;
                            }
                            // The next chunks wait for this one (message i shows chunk i).
                            break;
                        }
                    }
                }
            }
        }
        if view.done && sent.len() > n {
            // The final answer is shorter than what streamed (an error after earlier text):
            // the extra messages go.
            for (id, _) in sent.drain(n..) {
                if let Err(e) = channel.delete_message(&http, id).await {
                    tracing::warn!(error = %e, "could not delete a stale coach message");
                }
            }
        }
        last_edit = tokio::time::Instant::now();
        if view.done {
            return;
        }
        if rx.changed().await.is_err() {
            // The answer ended without a final view (a panic): nothing more will come.
            return;
        }
    }
}

/// Splits `text` into messages of at most `limit` bytes, at paragraph boundaries where possible
/// (else a line break, else a space), closing a code fence at the end of a message and opening
/// it again (same language) at the start of the next.
pub fn split_message(text: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text.trim_end();
    let mut fence: Option<String> = None;
    while !rest.trim().is_empty() {
        let prefix = fence.as_ref().map(|f| format!("{f}\n")).unwrap_or_default();
        let budget = limit.saturating_sub(prefix.len() + 4).max(16);
        let cut = if rest.len() <= budget {
            rest.len()
        } else {
            let mut end = budget;
            while !rest.is_char_boundary(end) {
                end -= 1;
            }
            let window = &rest[..end];
            window
                .rfind("\n\n")
                .filter(|&i| i > 0)
                .or_else(|| window.rfind('\n').filter(|&i| i > 0))
                .or_else(|| window.rfind(' ').filter(|&i| i > 0))
                .unwrap_or(end)
        };
        let piece = &rest[..cut];
        rest = &rest[cut..];
        let mut chunk = format!("{prefix}{piece}");
        for line in piece.lines() {
            let l = line.trim_start();
            if l.starts_with("```") {
                fence = match fence {
                    Some(_) => None,
                    // The opening line without its info string past 20 characters.
                    None => Some(
                        l.split_whitespace()
                            .next()
                            .unwrap_or("```")
                            .chars()
                            .take(20)
                            .collect(),
                    ),
                };
            }
        }
        // The cut itself (a paragraph break, a newline or a space) is not repeated; inside a
        // code block only the newline goes, so indentation survives.
        rest = match fence {
            Some(_) => rest.strip_prefix('\n').unwrap_or(rest),
            None => rest.trim_start_matches(['\n', ' ']),
        };
        if fence.is_some() {
            chunk.push_str("\n```");
        }
        out.push(chunk);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_answers_split_at_paragraphs_within_the_limit() {
        let para = "word ".repeat(80); // 400 bytes
        let text = (0..12)
            .map(|_| para.trim())
            .collect::<Vec<_>>()
            .join("\n\n");
        let parts = split_message(&text, 1900);
        assert!(parts.len() >= 3);
        for p in &parts {
            assert!(p.len() <= 1900, "{}", p.len());
            // Cut at a paragraph end: every part is whole paragraphs.
            assert!(p.ends_with("word"), "{:?}", &p[p.len() - 10..]);
        }
        assert_eq!(
            parts.join("\n\n").split_whitespace().count(),
            text.split_whitespace().count()
        );
    }

    #[test]
    fn code_fences_stay_balanced_across_the_split() {
        let code: String = (0..120).map(|i| format!("let x{i} = {i};\n")).collect();
        let text = format!("Try this:\n\n```rust\n{code}```\n\nThat's all.");
        let parts = split_message(&text, 1000);
        assert!(parts.len() >= 2);
        for p in &parts {
            assert!(p.len() <= 1000);
            assert_eq!(p.matches("```").count() % 2, 0, "unbalanced: {p}");
        }
        assert!(parts[1].starts_with("```rust\n"));
    }

    #[test]
    fn one_unbroken_word_is_cut_hard_and_nothing_is_lost() {
        let text = "é".repeat(3000);
        let parts = split_message(&text, 1900);
        assert!(parts.iter().all(|p| p.len() <= 1900));
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn the_usage_bar_shows_used_left_and_reset() {
        let b = BudgetStatus {
            period_start: 0,
            period_end: 1_798_761_600_000,
            limit: 150_000,
            used: 45_000,
            reserved: 0,
            thinking: 9,
            requests: 3,
        };
        let s = usage_bar(&b);
        assert!(s.starts_with("▰▰▰▱▱▱▱▱▱▱ 30 %"), "{s}");
        assert!(s.contains("45,000 of 150,000") && s.contains("105,000 left"));
        assert!(s.contains("2027-01-01"));
    }
}
