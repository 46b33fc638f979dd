//! Buttons and menus under a result: a player's card, a chart, and "this is me" (pick yourself
//! among the replay's players to link your account). Answers are ephemeral.

use poise::serenity_prelude as serenity;
use rlcoach::cards::{self, CardOptions, Chart, ImageFormat};
use rlcoach::report::PlayerId;

use super::{Data, Error, reply};

pub async fn on_component(
    ctx: &serenity::Context,
    data: &Data,
    c: &serenity::ComponentInteraction,
) -> Result<(), Error> {
    let id = c.data.custom_id.as_str();
    let mut parts = id.splitn(3, ':');
    let (kind, replay, arg) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    match kind {
        "card" | "chart" => {
            c.create_response(
                ctx,
                serenity::CreateInteractionResponse::Defer(
                    serenity::CreateInteractionResponseMessage::new().ephemeral(true),
                ),
            )
            .await?;
            let result = image(data, c.user.id.get(), replay, kind, arg).await;
            let edit = match result {
                Ok((name, png)) => serenity::EditInteractionResponse::new()
                    .new_attachment(serenity::CreateAttachment::bytes(png, name)),
                Err(msg) => serenity::EditInteractionResponse::new().content(msg),
            };
            c.edit_response(ctx, edit).await?;
        }
        "me" => {
            let Some(report) = data.store.report(replay).await? else {
                return respond(ctx, c, "That replay is no longer stored.").await;
            };
            let options: Vec<serenity::CreateSelectMenuOption> = report
                .players
                .iter()
                .take(25)
                .map(|p| {
                    serenity::CreateSelectMenuOption::new(
                        reply::truncate(&p.name, 90),
                        format!("{}:{}", p.id.platform, p.id.id),
                    )
                })
                .collect();
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
            let msg = match data
                .store
                .link_identity(super::intake::sid(c.user.id.get()), &player)
                .await
            {
                Ok(()) => "✅ Linked. `/stats`, `/trends` and `/sessions` now use this player."
                    .to_string(),
                Err(e) => e.user_message(),
            };
            respond(ctx, c, &msg).await?;
        }
        _ => tracing::debug!(custom_id = id, "unknown component"),
    }
    Ok(())
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

/// Card options for `user_id` looking at `report`: their linked player, if in it, highlighted.
pub(super) async fn card_options(
    data: &Data,
    user_id: i64,
    report: &rlcoach::Report,
) -> CardOptions {
    let highlight = data.store.identities(user_id).await.ok().and_then(|ids| {
        report
            .players
            .iter()
            .find(|p| ids.contains(&p.id))
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
    user: u64,
    replay: &str,
    kind: &str,
    arg: &str,
) -> Result<(String, Vec<u8>), String> {
    let report = match data.store.report(replay).await {
        Ok(Some(r)) => r,
        Ok(None) => return Err("That replay is no longer stored.".into()),
        Err(e) => return Err(e.user_message()),
    };
    let opts = card_options(data, super::intake::sid(user), &report).await;
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
