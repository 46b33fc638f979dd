//! `/coach ask|review|usage`: the Pro coach. `ask` and `review` open a conversation (a private
//! thread in a server, the DM in a DM) and stream the answer there; `usage` shows the token
//! budget. Free users get the upsell, not an error.

use poise::serenity_prelude as serenity;
use rlcoach::coach::prompt::REVIEW_REQUEST;
use rlcoach::storage::{UserId, Viewer};

use crate::bot::coach::{self as discord_coach, Place};
use crate::bot::{Context, Error, reply};

/// Your AI coach (Pro): ask a question, review your last session, see your usage.
#[poise::command(
    slash_command,
    subcommands("ask", "review", "usage"),
    subcommand_required
)]
pub async fn coach(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Ask the coach about your play; it looks at your games before it answers.
#[poise::command(slash_command)]
pub async fn ask(
    ctx: Context<'_>,
    #[description = "Your question, e.g. why do I lose so many 50/50s?"]
    #[min_length = 2]
    #[max_length = 1500]
    question: String,
) -> Result<(), Error> {
    let topic = reply::plain(&question, 60);
    begin(ctx, "ask", &topic, question).await
}

/// A structured review of your last session: overview, strengths, two weaknesses, drills.
#[poise::command(slash_command)]
pub async fn review(ctx: Context<'_>) -> Result<(), Error> {
    begin(ctx, "review", "session review", REVIEW_REQUEST.to_string()).await
}

/// Coaching tokens used this period, what is left, and when it resets.
#[poise::command(slash_command, ephemeral)]
pub async fn usage(ctx: Context<'_>) -> Result<(), Error> {
    let coach = discord_coach::configured(ctx.data())?;
    let viewer = Viewer::user(UserId::from_discord(ctx.author().id.get()));
    sync_entitlements(ctx).await;
    let (plan, budget) = coach
        .usage(&viewer)
        .await
        .map_err(discord_coach::coach_error)?;
    if !plan.is_pro() {
        return upsell(ctx).await;
    }
    let until = match plan.ends_at {
        Some(t) => format!(" until {}", rlcoach::storage::coach::date_string(t)),
        None => String::new(),
    };
    ctx.send(
        poise::CreateReply::default()
            .content(format!(
                "**Coach usage** (Pro{until})\n{}",
                discord_coach::usage_bar(&budget)
            ))
            .ephemeral(true),
    )
    .await?;
    Ok(())
}

/// The Pro entitlement the interaction carries (bought on Discord a moment ago, its gateway
/// event perhaps not here yet) is stored before the plan is read.
async fn sync_entitlements(ctx: Context<'_>) {
    if let poise::Context::Application(app) = ctx {
        crate::bot::billing::from_interaction(
            ctx.data(),
            ctx.author().id,
            &app.interaction.entitlements,
        )
        .await;
    }
}

async fn upsell(ctx: Context<'_>) -> Result<(), Error> {
    let (text, rows) = discord_coach::upsell(&ctx.data().settings);
    ctx.send(
        poise::CreateReply::default()
            .content(text)
            .components(rows)
            .ephemeral(true),
    )
    .await?;
    Ok(())
}

/// Opens the conversation (`bot::coach::begin` does the checks) and answers where the user
/// asked: ephemerally pointing at the thread in a server, quoting the question in a DM.
async fn begin(ctx: Context<'_>, kind: &str, topic: &str, question: String) -> Result<(), Error> {
    let coach = discord_coach::configured(ctx.data())?;
    // Quick refusals answer at once (the deferral below is for opening the thread).
    let viewer = Viewer::user(UserId::from_discord(ctx.author().id.get()));
    sync_entitlements(ctx).await;
    match coach.can_ask(&viewer).await {
        Err(rlcoach::coach::CoachError::NotPro) => return upsell(ctx).await,
        Err(e) => return Err(discord_coach::coach_error(e)),
        Ok(_) => {}
    }
    let in_dm = ctx.guild_id().is_none();
    if in_dm {
        ctx.defer().await?;
    } else {
        ctx.defer_ephemeral().await?;
    }
    let quoted = discord_coach::quote(&question);
    let place = Place {
        guild: ctx.guild_id(),
        channel: ctx.channel_id(),
    };
    match discord_coach::begin(ctx.data(), ctx.author(), place, kind, topic, question).await {
        Ok(channel) if in_dm => {
            let _ = channel;
            ctx.send(
                poise::CreateReply::default()
                    .content(format!("**You asked the coach:**\n{quoted}"))
                    .allowed_mentions(serenity::CreateAllowedMentions::new()),
            )
            .await?;
            Ok(())
        }
        Ok(channel) => {
            ctx.say(format!("Your coach is waiting in <#{channel}>."))
                .await?;
            Ok(())
        }
        Err(discord_coach::Begin::Upsell) => upsell(ctx).await,
        Err(discord_coach::Begin::Refused(e)) => Err(e),
    }
}
