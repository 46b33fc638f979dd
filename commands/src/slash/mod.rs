//! Slash commands, one module each, registered in [`all`]. Handlers parse, call the core and
//! format; errors a user can cause are `UserError`s shown ephemerally by `bot::reply::on_error`.

mod analyze;
pub mod coach;
mod compare;
mod help;
mod leaderboard;
mod link;
mod notes;
mod privacy;
mod replays;
mod sessions;
mod setup;
mod stats;
mod trends;

use poise::serenity_prelude as serenity;
use rlcoach::storage::{Profile, UserId, Viewer};

use crate::bot::{Context, Data, Error, user_error};

pub use link::{linked_message, option_value as player_option_value, picker as link_picker};

pub fn all() -> Vec<poise::Command<Data, Error>> {
    vec![
        analyze::analyze(),
        link::link(),
        stats::stats(),
        trends::trends(),
        sessions::sessions(),
        compare::compare(),
        replays::replays(),
        leaderboard::leaderboard(),
        setup::setup(),
        privacy::privacy(),
        coach::coach(),
        notes::notes(),
        help::help(),
    ]
}

/// Who is asking, and where.
pub fn viewer(ctx: &Context<'_>) -> Viewer {
    Viewer::in_channel(
        UserId::from_discord(ctx.author().id.get()),
        ctx.guild_id().map(|g| crate::bot::sid(g.get())),
        crate::bot::sid(ctx.channel_id().get()),
    )
}

/// The user a stats command is about: refused when their profile is private (unless it is the
/// asker), or when they have not linked an in-game identity.
pub async fn target(ctx: &Context<'_>, user: Option<&serenity::User>) -> Result<Profile, Error> {
    let me = ctx.author().id;
    let target = user.map_or(me, |u| u.id);
    let profile = ctx
        .data()
        .store
        .profile(&viewer(ctx), UserId::from_discord(target.get()))
        .await?;
    if profile.linked_identities == 0 {
        return Err(user_error(if target == me {
            "You haven't linked your in-game player yet: drop a replay and press **This is me**, or use `/link`."
        } else {
            "That user hasn't linked an in-game player yet."
        }));
    }
    Ok(profile)
}

/// Answers about a private profile stay between the bot and the asker in a server (ephemeral);
/// a public profile's answers are public, as its owner chose.
pub fn private_answer(ctx: &Context<'_>, profiles: &[Profile]) -> bool {
    ctx.guild_id().is_some() && profiles.iter().any(|p| !p.public)
}

/// A heavy request (reads many games or renders an image) against the asker's own budget.
pub fn heavy(ctx: &Context<'_>) -> Result<(), Error> {
    ctx.data()
        .limits
        .heavy(ctx.author().id.get())
        .map_err(|wait| user_error(crate::bot::wait_message(wait)))
}

/// Defers (visibly or ephemerally) before slow work, so Discord's 3 s deadline is never missed.
pub async fn defer(ctx: &Context<'_>, ephemeral: bool) -> Result<(), Error> {
    if ephemeral {
        ctx.defer_ephemeral().await?;
    } else {
        ctx.defer().await?;
    }
    Ok(())
}

/// Rank benchmark choices (shown as the game's rank abbreviations).
#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
#[expect(
    clippy::upper_case_acronyms,
    reason = "rank names as players write them"
)]
pub enum Rank {
    C2,
    C3,
    GC1,
    GC2,
    GC3,
    SSL,
}

impl Rank {
    pub fn key(self) -> &'static str {
        match self {
            Rank::C2 => "C2",
            Rank::C3 => "C3",
            Rank::GC1 => "GC1",
            Rank::GC2 => "GC2",
            Rank::GC3 => "GC3",
            Rank::SSL => "SSL",
        }
    }
}

/// Autocomplete over the benchmarked stats (label shown, key sent).
pub async fn autocomplete_stat(
    _ctx: Context<'_>,
    partial: &str,
) -> serenity::CreateAutocompleteResponse {
    let p = partial.to_lowercase();
    let choices = rlcoach::benchmarks::METRICS
        .iter()
        .filter(|m| m.label.to_lowercase().contains(&p) || m.key.contains(&p))
        .take(25)
        .map(|m| serenity::AutocompleteChoice::new(m.label, m.key))
        .collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}

pub fn stat_label(key: &str) -> Result<&'static str, Error> {
    rlcoach::benchmarks::Metric::by_key(key)
        .map(|m| m.label)
        .ok_or_else(|| {
            user_error(format!(
                "I don't know the stat `{key}`; pick one from the list."
            ))
        })
}

pub fn games_arg(games: Option<u32>, default: u32) -> Result<i64, Error> {
    match games.unwrap_or(default) {
        0 => Err(user_error("`games` must be at least 1.")),
        n if n > 500 => Err(user_error("`games` can be at most 500.")),
        n => Ok(i64::from(n)),
    }
}
