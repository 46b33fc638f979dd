//! Buttons and menus under a result: a player's card, a chart, and "this is me" (pick yourself
//! among the replay's players to link your account). Answers are ephemeral.

use poise::serenity_prelude as serenity;
use rlcoach::cards::{self, CardOptions, Chart, ImageFormat};
use rlcoach::report::PlayerId;
use rlcoach::storage::{UserId, Viewer};

use super::{Data, Error, reply, sid};

/// Who clicked, and in which channel (a public answer's buttons work for its channel).
pub fn component_viewer(c: &serenity::ComponentInteraction) -> Viewer {
    Viewer::in_channel(
        UserId::from_discord(c.user.id.get()),
        c.guild_id.map(|g| sid(g.get())),
        sid(c.channel_id.get()),
    )
}

pub async fn on_component(
    ctx: &serenity::Context,
    data: &Data,
    c: &serenity::ComponentInteraction,
) -> Result<(), Error> {
    let id = c.data.custom_id.as_str();
    let viewer = component_viewer(c);
    let mut parts = id.splitn(3, ':');
    let (kind, replay, arg) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    match kind {
        "card" | "chart" => {
            if let Err(wait) = data.limits.heavy(c.user.id.get()) {
                return respond(ctx, c, &super::wait_message(wait)).await;
            }
            c.create_response(
                ctx,
                serenity::CreateInteractionResponse::Defer(
                    serenity::CreateInteractionResponseMessage::new().ephemeral(true),
                ),
            )
            .await?;
            let result = image(data, &viewer, replay, kind, arg).await;
            let edit = match result {
                Ok((name, png)) => serenity::EditInteractionResponse::new()
                    .new_attachment(serenity::CreateAttachment::bytes(png, name)),
                Err(msg) => serenity::EditInteractionResponse::new().content(msg),
            };
            c.edit_response(ctx, edit).await?;
        }
        "me" => {
            let Some(report) = data.store.report(&viewer, replay).await? else {
                return respond(ctx, c, NOT_FOUND).await;
            };
            let options = player_options(&report);
            if options.is_empty() {
                return respond(ctx, c, "None of this replay's players can be linked.").await;
            }
            let menu = serenity::CreateSelectMenu::new(
                format!("link:{replay}"),
                serenity::CreateSelectMenuKind::String { options },
            )
            .placeholder("Which player are you?");
            c.create_response(
                ctx,
                serenity::CreateInteractionResponse::Message(
                    serenity::CreateInteractionResponseMessage::new()
                        .content("Pick yourself to link your account; your stats and trends will then follow you.")
                        .components(vec![serenity::CreateActionRow::SelectMenu(menu)])
                        .ephemeral(true),
                ),
            )
            .await?;
        }
        "link" => {
            let picked = match &c.data.kind {
                serenity::ComponentInteractionDataKind::StringSelect { values } => {
                    values.first().cloned()
                }
                _ => None,
            };
            let Some((platform, pid)) = picked.as_deref().and_then(|v| v.split_once(':')) else {
                return respond(ctx, c, "Please pick a player.").await;
            };
            let player = PlayerId {
                platform: platform.to_string(),
                id: pid.to_string(),
            };
            let msg = match data.store.link_identity(&viewer, &player).await {
                Ok(state) => crate::slash::linked_message(state).to_string(),
                Err(e) => e.user_message(),
            };
            respond(ctx, c, &msg).await?;
        }
        "linkpage" => {
            let page = replay.parse().unwrap_or(0);
            let response = match crate::slash::link_picker(&data.store, &viewer, page).await {
                Ok((content, rows)) => serenity::CreateInteractionResponseMessage::new()
                    .content(content)
                    .components(rows),
                Err(e) => serenity::CreateInteractionResponseMessage::new()
                    .content(e.to_string())
                    .components(Vec::new()),
            };
            c.create_response(
                ctx,
                serenity::CreateInteractionResponse::UpdateMessage(response),
            )
            .await?;
        }
        "hide" | "unhide" => {
            // Only the clicker's own history changes, and only for a replay they may open
            // (a forged id is "not found").
            let me = rlcoach::storage::Viewer::user(viewer.user);
            let (done, text, undo) = if kind == "hide" {
                (
                    data.store.hide_game(&me, replay).await?,
                    "Hidden from your history: it no longer counts in your stats, trends, sessions, comparisons, leaderboards or the coach.",
                    Some(("unhide", "Undo")),
                )
            } else {
                (
                    data.store.unhide_game(&me, replay).await?,
                    "Back in your history.",
                    None,
                )
            };
            if !done {
                return respond(ctx, c, NOT_FOUND).await;
            }
            let mut message = serenity::CreateInteractionResponseMessage::new()
                .content(text)
                .ephemeral(true);
            if let Some((kind, label)) = undo {
                message = message.components(vec![serenity::CreateActionRow::Buttons(vec![
                    serenity::CreateButton::new(format!("{kind}:{replay}"))
                        .label(label)
                        .style(serenity::ButtonStyle::Secondary),
                ])]);
            }
            c.create_response(ctx, serenity::CreateInteractionResponse::Message(message))
                .await?;
        }
        "retry" => retry_upload(ctx, data, c, id).await?,
        "coachretry" | "coachreview" => coach_button(ctx, data, c, kind, replay).await?,
        _ => tracing::debug!(custom_id = id, "unknown component"),
    }
    Ok(())
}

/// "Try again" under a file the full queue could not take: fetches the user's message again
/// (Discord kept the file) and runs the intake once more, in the same status message.
async fn retry_upload(
    ctx: &serenity::Context,
    data: &Data,
    c: &serenity::ComponentInteraction,
    custom_id: &str,
) -> Result<(), Error> {
    let ids: Vec<u64> = custom_id
        .split(':')
        .skip(1)
        .filter_map(|p| p.parse().ok())
        .filter(|n| *n > 0)
        .collect();
    // The button must be on the message clicked (a forged id can't act on another message).
    let on_this_message = c.message.components.iter().any(|row| {
        row.components.iter().any(|b| match b {
            serenity::ActionRowComponent::Button(b) => matches!(&b.data, serenity::ButtonKind::NonLink { custom_id: id, .. } if id == custom_id),
            _ => false,
        })
    });
    let [channel, message, attachment] = ids[..] else {
        return respond(
            ctx,
            c,
            "That button is broken; please drop the replay again.",
        )
        .await;
    };
    let (channel, message) = (
        serenity::ChannelId::new(channel),
        serenity::MessageId::new(message),
    );
    let original = match channel.message(&data.http, message).await {
        Ok(m) if m.author.id == c.user.id => m,
        Ok(_) => return respond(ctx, c, "Only the uploader can retry this file.").await,
        Err(_) => {
            return respond(
                ctx,
                c,
                "I can't find that message any more; please drop the replay again.",
            )
            .await;
        }
    };
    let Some(a) = original
        .attachments
        .iter()
        .find(|a| a.id.get() == attachment)
        .cloned()
    else {
        return respond(
            ctx,
            c,
            "That file is no longer on the message; please drop it again.",
        )
        .await;
    };
    if !on_this_message {
        return respond(
            ctx,
            c,
            "That button is broken; please drop the replay again.",
        )
        .await;
    }
    if let (0, Some(wait)) = data.limits.files(c.user.id.get(), 1) {
        return respond(ctx, c, &super::wait_message(wait)).await;
    }
    // Once per file, however often the button is pressed.
    if !data
        .store
        .take_batch_refusal(
            UserId::from_discord(c.user.id.get()),
            sid(original.id.get()),
            sid(a.id.get()),
        )
        .await?
    {
        return respond(ctx, c, "That file is already being retried.").await;
    }
    c.create_response(
        ctx,
        serenity::CreateInteractionResponse::UpdateMessage(
            serenity::CreateInteractionResponseMessage::new()
                .content(format!("📥 `{}` — trying again…", a.filename))
                .components(Vec::new()),
        ),
    )
    .await?;
    let status = super::intake::StatusTarget::Message {
        channel: c.channel_id,
        message: c.message.id,
    };
    let upload = rlcoach::storage::NewUpload {
        guild_id: original.guild_id.or(c.guild_id).map(|g| sid(g.get())),
        channel_id: Some(sid(c.channel_id.get())),
        message_id: Some(sid(original.id.get())),
        reply_message_id: Some(sid(c.message.id.get())),
        file_name: Some(a.filename.clone()),
        // The status lives where the button was: the channel, or the DM of a private reply.
        private_reply: c.guild_id.is_none(),
        ..rlcoach::storage::NewUpload::by(UserId::from_discord(c.user.id.get()))
    };
    let source = super::intake::Source { channel, message };
    super::intake::accept(data, &a, upload, &status, Some(source)).await;
    Ok(())
}

/// "This is me": one option per distinct player whose id fits an option value (Discord refuses
/// duplicate values and values over 100 characters), at most 25.
fn player_options(report: &rlcoach::Report) -> Vec<serenity::CreateSelectMenuOption> {
    let mut seen = std::collections::HashSet::new();
    report
        .players
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let value = crate::slash::player_option_value(&p.id)?;
            seen.insert(value.clone()).then(|| {
                serenity::CreateSelectMenuOption::new(
                    reply::label(&p.name, reply::limits::OPTION_TEXT, || {
                        format!("Player {}", i + 1)
                    }),
                    value,
                )
            })
        })
        .take(25)
        .collect()
}

async fn respond(
    ctx: &serenity::Context,
    c: &serenity::ComponentInteraction,
    text: &str,
) -> Result<(), Error> {
    c.create_response(
        ctx,
        serenity::CreateInteractionResponse::Message(
            serenity::CreateInteractionResponseMessage::new()
                .content(text)
                .ephemeral(true),
        ),
    )
    .await?;
    Ok(())
}

/// "Retry" under an interrupted coach answer (the conversation's id), and "Review my last
/// session" under a match result: both for the clicking user's own coach only.
async fn coach_button(
    ctx: &serenity::Context,
    data: &Data,
    c: &serenity::ComponentInteraction,
    kind: &str,
    conversation: &str,
) -> Result<(), Error> {
    let me = Viewer::user(UserId::from_discord(c.user.id.get()));
    if let Err(e) = super::coach::configured(data) {
        return respond(ctx, c, &e.to_string()).await;
    }
    super::billing::from_interaction(data, c.user.id, &c.entitlements).await;
    if !data.store.plan(&me).await?.is_pro() {
        let (text, rows) = super::coach::upsell(&data.settings);
        c.create_response(
            ctx,
            serenity::CreateInteractionResponse::Message(
                serenity::CreateInteractionResponseMessage::new()
                    .content(text)
                    .components(rows)
                    .ephemeral(true),
            ),
        )
        .await?;
        return Ok(());
    }
    if kind == "coachretry" {
        let Some(conv) = data.store.conversation(&me, conversation).await? else {
            return respond(ctx, c, "That conversation isn't yours.").await;
        };
        if let Err(e) = super::coach::take_question(data, c.user.id) {
            return respond(ctx, c, &e.to_string()).await;
        }
        let channel = conv
            .channel_id
            .and_then(|id| u64::try_from(id).ok())
            .map_or(c.channel_id, serenity::ChannelId::new);
        c.create_response(ctx, serenity::CreateInteractionResponse::Acknowledge)
            .await?;
        let data = data.clone();
        tokio::spawn(async move {
            super::coach::answer(&data, channel, me, conv.id, None).await;
        });
        return Ok(());
    }
    c.create_response(
        ctx,
        serenity::CreateInteractionResponse::Defer(
            serenity::CreateInteractionResponseMessage::new().ephemeral(true),
        ),
    )
    .await?;
    let place = super::coach::Place {
        guild: c.guild_id,
        channel: c.channel_id,
    };
    let text = match super::coach::begin(
        data,
        &c.user,
        place,
        "review",
        "session review",
        rlcoach::coach::prompt::REVIEW_REQUEST.to_string(),
    )
    .await
    {
        Ok(channel) if c.guild_id.is_some() => {
            format!("Your review is being written in <#{channel}>.")
        }
        Ok(_) => "Your review is on its way below.".to_string(),
        Err(super::coach::Begin::Upsell) => super::coach::upsell_text(&data.settings),
        Err(super::coach::Begin::Refused(e)) => match e.downcast_ref::<super::UserError>() {
            Some(u) => u.0.clone(),
            None => {
                tracing::warn!(error = %e, "could not open a review");
                "I couldn't open your review right now; please try again in a minute.".into()
            }
        },
    };
    c.edit_response(ctx, serenity::EditInteractionResponse::new().content(text))
        .await?;
    Ok(())
}

/// What a forged, deleted or someone else's replay id gets.
const NOT_FOUND: &str = "I can't find that replay: it was deleted, or it isn't yours to open.";

/// Card options for `viewer` looking at `report`: their linked player, if in it, highlighted.
pub(super) async fn card_options(
    data: &Data,
    viewer: &Viewer,
    report: &rlcoach::Report,
) -> CardOptions {
    let highlight = data.store.identities(viewer).await.ok().and_then(|ids| {
        report
            .players
            .iter()
            .find(|p| ids.iter().any(|l| l.player == p.id))
            .map(|p| p.id.clone())
    });
    CardOptions {
        highlight,
        rank: None,
    }
}

/// Renders a player card or a chart; Err is the message for the user.
pub async fn image(
    data: &Data,
    viewer: &Viewer,
    replay: &str,
    kind: &str,
    arg: &str,
) -> Result<(String, Vec<u8>), String> {
    let report = match data.store.report(viewer, replay).await {
        Ok(Some(r)) => r,
        Ok(None) => return Err(NOT_FOUND.into()),
        Err(e) => return Err(e.user_message()),
    };
    let opts = card_options(data, viewer, &report).await;
    let kind = kind.to_string();
    let arg = arg.to_string();
    let rendered = tokio::task::spawn_blocking(move || match kind.as_str() {
        "card" => {
            let i: usize = arg
                .parse()
                .map_err(|_| cards::CardError::NoSuchPlayer(usize::MAX))?;
            cards::render_player_card(&report, i, &opts, ImageFormat::Png)
        }
        _ => {
            let chart =
                Chart::from_slug(&arg).ok_or(cards::CardError::Unavailable("That chart"))?;
            cards::render_chart(&report, chart, &opts, ImageFormat::Png)
        }
    })
    .await
    .map_err(|_| "Something went wrong drawing this card.".to_string())?;
    rendered
        .map(|img| (img.name, img.bytes))
        .map_err(|e| e.user_message())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_is_me_offers_each_linkable_player_once_with_a_label() {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/small-doubles.replay"
        ))
        .unwrap();
        let mut r = rlcoach::analyze(&bytes, &rlcoach::Limits::default()).unwrap();
        let template = r.players[0].clone();
        // A split-screen guest without a name, a player listed twice, an id too long for an
        // option value, and thirty more: 25 options at most.
        let mut extra = |name: &str, platform: &str, id: String| {
            let mut p = template.clone();
            (p.name, p.id.platform, p.id.id) = (name.to_string(), platform.to_string(), id);
            r.players.push(p);
        };
        extra("", "splitscreen", "guest".into());
        extra("again", &template.id.platform, template.id.id.clone());
        extra("long id", "epic", "e".repeat(120));
        for i in 0..30 {
            extra(&format!("p{i}"), "epic", format!("{i:032x}"));
        }
        let options = serde_json::to_value(player_options(&r)).unwrap();
        let options = options.as_array().unwrap();
        assert_eq!(options.len(), 25);
        let values: Vec<&str> = options
            .iter()
            .map(|o| o["value"].as_str().unwrap())
            .collect();
        let distinct: std::collections::HashSet<&&str> = values.iter().collect();
        assert_eq!(distinct.len(), values.len(), "{values:?}");
        assert!(values.iter().all(|v| v.chars().count() <= 100));
        assert!(!values.iter().any(|v| v.starts_with("epic:eee")));
        assert!(values.contains(&"splitscreen:guest"));
        assert_eq!(options[4]["label"], "Player 5", "a blank name gets a label");
        assert!(options.iter().all(|o| {
            let l = o["label"].as_str().unwrap().chars().count();
            (1..=100).contains(&l)
        }));
    }
}
