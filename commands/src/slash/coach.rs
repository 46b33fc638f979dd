//! `/coach ask|review|usage`: the Pro coach. `ask` and `review` open a conversation (a private
//! thread in a server, the DM in a DM) and stream the answer there; `usage` shows the token
//! budget. Free users get the upsell, not an error.

use poise::serenity_prelude as serenity;
use rlcoach::coach::prompt::REVIEW_REQUEST;
use rlcoach::storage::{UserId, Viewer};

use crate::bot::coach::{self as discord_coach, Place};
use crate::bot::{Context, Data, Error, reply, user_error};

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

/// Checks (configured, Pro, hourly limit, budget), opens the conversation, and starts the
/// answer to `question` there.
async fn begin(ctx: Context<'_>, kind: &str, topic: &str, question: String) -> Result<(), Error> {
    let data = ctx.data();
    let coach = discord_coach::configured(data)?;
    let viewer = Viewer::user(UserId::from_discord(ctx.author().id.get()));
    let (plan, budget) = coach
        .usage(&viewer)
        .await
        .map_err(discord_coach::coach_error)?;
    if !plan.is_pro() {
        return upsell(ctx).await;
    }
    if budget.left() < 1_000 {
        return Err(user_error(
            rlcoach::coach::CoachError::BudgetExhausted {
                resets_at: budget.period_end,
            }
            .user_message(),
        ));
    }
    discord_coach::take_question(data, ctx.author().id)?;
    let in_dm = ctx.guild_id().is_none();
    if in_dm {
        ctx.defer().await?;
    } else {
        ctx.defer_ephemeral().await?;
    }
    let (conversation, channel) = discord_coach::open(
        data,
        ctx.author(),
        Place {
            guild: ctx.guild_id(),
            channel: ctx.channel_id(),
        },
        kind,
        topic,
    )
    .await?;
    let quoted = quote(&question);
    if in_dm {
        ctx.say(format!("**You asked the coach:**\n{quoted}"))
            .await?;
    } else {
        ctx.say(format!("Your coach is waiting in <#{channel}>."))
            .await?;
        let who = ctx.author().id;
        channel
            .send_message(
                &data.http,
                serenity::CreateMessage::new()
                    .content(format!("<@{who}> asked:\n{quoted}\n-# Keep talking here: every message you send in this thread goes to your coach."))
                    .allowed_mentions(serenity::CreateAllowedMentions::new().users([who])),
            )
            .await?;
    }
    spawn_answer(data, channel, viewer, conversation.id, question);
    Ok(())
}

pub fn spawn_answer(
    data: &Data,
    channel: serenity::ChannelId,
    viewer: Viewer,
    conversation: String,
    question: String,
) {
    let data = data.clone();
    tokio::spawn(async move {
        discord_coach::answer(&data, channel, viewer, conversation, Some(question)).await;
    });
}

/// The question as a Discord block quote (at most ~1500 characters, one `>` per line).
fn quote(q: &str) -> String {
    reply::truncate(q, 1500)
        .lines()
        .map(|l| format!("> {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
