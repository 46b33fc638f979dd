//! `/link [player]`: pick your in-game identity among players of replays you uploaded.

use poise::serenity_prelude as serenity;
use rlcoach::report::PlayerId;

use crate::bot::{Context, Error, sid, user_error};

async fn autocomplete_player(
    ctx: Context<'_>,
    partial: &str,
) -> serenity::CreateAutocompleteResponse {
    let p = partial.to_lowercase();
    let list = ctx
        .data()
        .store
        .claimable_identities(sid(ctx.author().id.get()))
        .await
        .unwrap_or_default();
    let choices = list
        .into_iter()
        .filter(|(_, name)| name.to_lowercase().contains(&p))
        .take(25)
        .map(|(id, name)| {
            serenity::AutocompleteChoice::new(
                format!("{name} ({})", id.platform),
                format!("{}:{}", id.platform, id.id),
            )
        })
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
    let me = sid(ctx.author().id.get());
    let Some(player) = player else {
        let linked = store.identities(me).await?;
        let claimable = store.claimable_identities(me).await?;
        if claimable.is_empty() {
            return Err(user_error(
                "Upload one of your replays first; then pick yourself with `/link player:`.",
            ));
        }
        let names: Vec<String> = claimable
            .iter()
            .map(|(id, n)| format!("{}{}", n, if linked.contains(id) { " ✅" } else { "" }))
            .collect();
        let text = format!(
            "Players in your replays: {}\nPick yours with `/link player:`.",
            names.join(", ")
        );
        ctx.send(poise::CreateReply::default().content(text).ephemeral(true))
            .await?;
        return Ok(());
    };
    let id = parse_player(&player, &store.claimable_identities(me).await?)?;
    let text = if remove == Some(true) {
        if store.unlink_identity(me, &id).await? {
            "Unlinked."
        } else {
            "That player wasn't linked."
        }
    } else {
        store.link_identity(me, &id).await?;
        "✅ Linked. `/stats`, `/trends` and `/sessions` now use this player."
    };
    ctx.send(poise::CreateReply::default().content(text).ephemeral(true))
        .await?;
    Ok(())
}

/// Accepts the autocomplete value `platform:id`, or a typed name matching one claimable player.
fn parse_player(input: &str, claimable: &[(PlayerId, String)]) -> Result<PlayerId, Error> {
    if let Some((platform, id)) = input.split_once(':')
        && let Some((p, _)) = claimable
            .iter()
            .find(|(p, _)| p.platform == platform && p.id == id)
    {
        return Ok(p.clone());
    }
    let by_name: Vec<&PlayerId> = claimable
        .iter()
        .filter(|(_, n)| n.eq_ignore_ascii_case(input.trim()))
        .map(|(p, _)| p)
        .collect();
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
