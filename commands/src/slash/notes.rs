//! `/notes list|add|delete`: what the coach remembers about you (and what you told it to).

use rlcoach::storage::{NoteCategory, NoteSource, UserId, Viewer};

use crate::bot::{Context, Error, reply, user_error};

/// What the coach remembers about you: list, add, delete.
#[poise::command(
    slash_command,
    subcommands("list", "add", "delete"),
    subcommand_required
)]
pub async fn notes(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

fn me(ctx: &Context<'_>) -> Viewer {
    Viewer::user(UserId::from_discord(ctx.author().id.get()))
}

#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
pub enum Category {
    Strength,
    Weakness,
    Goal,
    Observation,
}

impl Category {
    fn core(self) -> NoteCategory {
        match self {
            Category::Strength => NoteCategory::Strength,
            Category::Weakness => NoteCategory::Weakness,
            Category::Goal => NoteCategory::Goal,
            Category::Observation => NoteCategory::Observation,
        }
    }
}

/// Everything the coach has noted about you.
#[poise::command(slash_command, ephemeral)]
pub async fn list(ctx: Context<'_>) -> Result<(), Error> {
    let notes = ctx.data().store.notes(&me(&ctx)).await?;
    if notes.is_empty() {
        ctx.say("No notes yet. The coach writes down strengths, weaknesses and goals as you talk with it; you can add your own with `/notes add`.").await?;
        return Ok(());
    }
    let lines: Vec<String> = notes
        .iter()
        .map(|n| {
            format!(
                "`{}` **{}**{} — {}",
                n.id,
                n.category.as_str(),
                if n.source == NoteSource::User {
                    " (you)"
                } else {
                    ""
                },
                reply::plain(&n.body, 300)
            )
        })
        .collect();
    let text = reply::lines_within(&lines, 1900);
    ctx.say(format!("**Your coach's notes** ({})\n{text}", notes.len()))
        .await?;
    Ok(())
}

/// Add a note for the coach (a goal, something it should know).
#[poise::command(slash_command, ephemeral)]
pub async fn add(
    ctx: Context<'_>,
    #[description = "What kind of note"] category: Category,
    #[description = "The note (up to 500 characters)"]
    #[min_length = 1]
    #[max_length = 500]
    text: String,
) -> Result<(), Error> {
    let note = ctx
        .data()
        .store
        .add_note(&me(&ctx), category.core(), &text, NoteSource::User)
        .await
        .map_err(|e| match e {
            rlcoach::storage::StorageError::Invalid(m) => user_error(m),
            other => other.into(),
        })?;
    ctx.say(format!(
        "Noted (`{}`). The coach will see it at the start of your next conversation.",
        note.id
    ))
    .await?;
    Ok(())
}

/// Delete one of your notes (its id is shown by `/notes list`).
#[poise::command(slash_command, ephemeral)]
pub async fn delete(
    ctx: Context<'_>,
    #[description = "The note's id"]
    #[autocomplete = "autocomplete_note"]
    #[max_length = 40]
    id: String,
) -> Result<(), Error> {
    if ctx.data().store.delete_note(&me(&ctx), &id).await? {
        ctx.say("Deleted.").await?;
        Ok(())
    } else {
        Err(user_error(
            "You have no note with that id; `/notes list` shows them.",
        ))
    }
}

async fn autocomplete_note(
    ctx: Context<'_>,
    partial: &str,
) -> poise::serenity_prelude::CreateAutocompleteResponse {
    let notes = ctx.data().store.notes(&me(&ctx)).await.unwrap_or_default();
    let p = partial.to_lowercase();
    let choices = notes
        .iter()
        .rev()
        .filter(|n| n.id.starts_with(&p) || n.body.to_lowercase().contains(&p))
        .take(25)
        .map(|n| {
            poise::serenity_prelude::AutocompleteChoice::new(
                reply::label(&format!("{}: {}", n.category.as_str(), n.body), 100, || {
                    n.id.clone()
                }),
                n.id.clone(),
            )
        })
        .collect();
    poise::serenity_prelude::CreateAutocompleteResponse::new().set_choices(choices)
}
