//! `/link [player] [remove]`: pick your in-game identity among players of replays you uploaded.
//! Without a player it shows your links and a paged picker (Discord allows 25 options per
//! select menu and 2000 characters per message, so long histories are paged, never listed).

use poise::serenity_prelude as serenity;
use rlcoach::report::PlayerId;
use rlcoach::storage::{ClaimableIdentity, LinkState, Store, Viewer};

use super::viewer;
use crate::bot::reply::truncate;
use crate::bot::{Context, Error, user_error};

/// Options per page of the picker (Discord's maximum for one select menu).
const PAGE: usize = 25;

async fn autocomplete_player(
    ctx: Context<'_>,
    partial: &str,
) -> serenity::CreateAutocompleteResponse {
    let p = partial.to_lowercase();
    let list = ctx
        .data()
        .store
        .claimable_identities(&viewer(&ctx))
        .await
        .unwrap_or_default();
    let choices = list
        .into_iter()
        .filter(|c| c.name.to_lowercase().contains(&p))
        .filter_map(|c| {
            let value = option_value(&c.player)?;
            Some(serenity::AutocompleteChoice::new(
                crate::bot::reply::plain(&format!("{} ({})", c.name, c.player.platform), 100),
                value,
            ))
        })
        .take(25)
        .collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}

/// Link your Discord account to your in-game player (from replays you uploaded).
#[poise::command(slash_command)]
pub async fn link(
    ctx: Context<'_>,
    #[description = "Your in-game name"]
    #[autocomplete = "autocomplete_player"]
    player: Option<String>,
    #[description = "Remove this link instead"] remove: Option<bool>,
) -> Result<(), Error> {
    let store = &ctx.data().store;
    let me = viewer(&ctx);
    let Some(player) = player else {
        let (content, components) = picker(store, &me, 0).await?;
        ctx.send(
            poise::CreateReply::default()
                .content(content)
                .components(components)
                .ephemeral(true),
        )
        .await?;
        return Ok(());
    };
    if remove == Some(true) {
        let linked: Vec<PlayerId> = store
            .identities(&me)
            .await?
            .into_iter()
            .map(|l| l.player)
            .collect();
        let id = parse_player(&player, &linked, &store.claimable_identities(&me).await?)?;
        let text = if store.unlink_identity(&me, &id).await? {
            "Unlinked."
        } else {
            "That player wasn't linked."
        };
        ctx.send(poise::CreateReply::default().content(text).ephemeral(true))
            .await?;
        return Ok(());
    }
    let id = parse_player(&player, &[], &store.claimable_identities(&me).await?)?;
    let state = store.link_identity(&me, &id).await?;
    ctx.send(
        poise::CreateReply::default()
            .content(linked_message(state))
            .ephemeral(true),
    )
    .await?;
    Ok(())
}

/// What a user is told after linking.
pub fn linked_message(state: LinkState) -> &'static str {
    match state {
        LinkState::Verified => {
            "✅ Linked (verified). `/stats`, `/trends` and `/sessions` count this player's games that you upload, and those uploaded by verified players you have played with."
        }
        LinkState::Claimed => {
            "✅ Linked. `/stats`, `/trends` and `/sessions` now count this player's games from the replays **you** upload."
        }
    }
}

/// The select value for an identity (`platform:id`); None when it would not fit Discord's
/// 100-character limit.
pub fn option_value(p: &PlayerId) -> Option<String> {
    let v = format!("{}:{}", p.platform, p.id);
    (v.chars().count() <= 100).then_some(v)
}

/// The `/link` picker at `page`: the viewer's links, and one page of claimable players as a
/// select menu with previous/next buttons.
pub async fn picker(
    store: &Store,
    viewer: &Viewer,
    page: usize,
) -> Result<(String, Vec<serenity::CreateActionRow>), Error> {
    let linked = store.identities(viewer).await?;
    let claimable: Vec<ClaimableIdentity> = store
        .claimable_identities(viewer)
        .await?
        .into_iter()
        .filter(|c| c.linked.is_none() && option_value(&c.player).is_some())
        .collect();
    if claimable.is_empty() && linked.is_empty() {
        return Err(user_error(
            "Upload one of your replays first; then pick yourself with `/link`.",
        ));
    }
    let mut lines = Vec::new();
    if linked.is_empty() {
        lines.push("You haven't linked a player yet.".to_string());
    } else {
        lines.push("**Your players**".to_string());
        for l in linked.iter().take(10) {
            let state = match l.state {
                LinkState::Verified => "verified: your uploads and verified team-mates' count",
                LinkState::Claimed => "claimed: games you upload count",
            };
            lines.push(format!(
                "• {} ({}) — {state}",
                crate::bot::reply::player_name(l.name.as_deref().unwrap_or("?")),
                l.player.platform
            ));
        }
        if linked.len() > 10 {
            lines.push(format!("…and {} more.", linked.len() - 10));
        }
    }
    let pages = claimable.len().div_ceil(PAGE).max(1);
    let page = page.min(pages - 1);
    let mut rows = Vec::new();
    if !claimable.is_empty() {
        lines.push(format!(
            "\nPick yourself among the players of your uploads ({} players{}):",
            claimable.len(),
            if pages > 1 {
                format!(", page {} of {pages}", page + 1)
            } else {
                String::new()
            }
        ));
        let options: Vec<serenity::CreateSelectMenuOption> = claimable
            .iter()
            .skip(page * PAGE)
            .take(PAGE)
            .filter_map(|c| {
                Some(
                    serenity::CreateSelectMenuOption::new(
                        crate::bot::reply::label(&c.name, 100, || c.player.id.clone()),
                        option_value(&c.player)?,
                    )
                    .description(truncate(&c.player.platform, 100)),
                )
            })
            .collect();
        rows.push(serenity::CreateActionRow::SelectMenu(
            serenity::CreateSelectMenu::new(
                "link:pick",
                serenity::CreateSelectMenuKind::String { options },
            )
            .placeholder("Which player are you?"),
        ));
        if pages > 1 {
            rows.push(serenity::CreateActionRow::Buttons(vec![
                serenity::CreateButton::new(format!("linkpage:{}", page.saturating_sub(1)))
                    .label("◀ Previous")
                    .style(serenity::ButtonStyle::Secondary)
                    .disabled(page == 0),
                serenity::CreateButton::new(format!("linkpage:{}", page + 1))
                    .label("Next ▶")
                    .style(serenity::ButtonStyle::Secondary)
                    .disabled(page + 1 >= pages),
            ]));
        }
    }
    Ok((lines.join("\n"), rows))
}

/// Accepts the autocomplete value `platform:id`, or a typed name matching one player among
/// `linked` (for removal) or the claimable players.
fn parse_player(
    input: &str,
    linked: &[PlayerId],
    claimable: &[ClaimableIdentity],
) -> Result<PlayerId, Error> {
    let candidates: Vec<(&PlayerId, &str)> = linked
        .iter()
        .map(|p| (p, ""))
        .chain(claimable.iter().map(|c| (&c.player, c.name.as_str())))
        .collect();
    // The picker's and autocomplete's value; the store checks the claim itself (in one of the
    // viewer's uploads, not verified by someone else) and says why when it refuses.
    if let Some((platform, id)) = input.split_once(':')
        && !platform.is_empty()
        && platform
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Ok(PlayerId {
            platform: platform.to_string(),
            id: id.to_string(),
        });
    }
    let mut by_name: Vec<&PlayerId> = candidates
        .iter()
        .filter(|(_, n)| !n.is_empty() && n.eq_ignore_ascii_case(input.trim()))
        .map(|(p, _)| *p)
        .collect();
    by_name.dedup();
    match by_name.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(user_error(
            "You can only link a player who appears in a replay you uploaded. Pick one from the list.",
        )),
        _ => Err(user_error(
            "Several players have that name; pick one from the list.",
        )),
    }
}
