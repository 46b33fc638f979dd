//! `/coach`: the viewer's conversations with the coach and its notes, and this period's usage;
//! `/coach/{id}` one conversation (someone else's: 404).

use axum::extract::{Path, State};
use axum::response::Html;
use maud::{Markup, html};
use rlcoach::cards::thousands;
use rlcoach::coach::Role;
use rlcoach::storage::{Plan, Viewer};

use super::auth::CurrentUser;
use super::error::{WebError, WebResult};
use super::{AppState, layout};

pub async fn page(State(state): State<AppState>, user: CurrentUser) -> WebResult<Html<String>> {
    let viewer = user.viewer();
    let conversations = state.store.conversations(&viewer, 50).await?;
    let notes = state.store.notes(&viewer).await?;
    let plan = state.store.plan(&viewer).await?;
    let usage = usage_panel(&state, &viewer, &plan).await?;
    let body = html! {
        h1 { "Coach" }
        (usage)
        h2 { "Conversations" }
        @if conversations.is_empty() { p.muted { "No conversations yet. Ask the coach on Discord with /coach." } }
        ul.plain {
            @for c in &conversations {
                li { a href={ "/coach/" (c.id) } { (c.title) } " " span.muted { (layout::datetime(c.updated_at)) } }
            }
        }
        h2 { "Notes" }
        @if notes.is_empty() { p.muted { "The coach has not noted anything about your game yet." } }
        ul.plain {
            @for n in &notes {
                li { span.badge { (n.category.as_str()) } " " (n.body) }
            }
        }
    };
    Ok(layout::page("Coach", &user, "/coach", body))
}

/// The viewer's `plan` and this period's coach budget as a bar (the Coach and Billing pages).
pub async fn usage_panel(state: &AppState, viewer: &Viewer, plan: &Plan) -> WebResult<Markup> {
    let budget = state
        .store
        .coach_budget_in(viewer, plan, state.settings.coach_monthly_tokens)
        .await?;
    let used = budget.used + budget.reserved;
    let share = if budget.limit == 0 {
        100.0
    } else {
        (100.0 * used as f64 / budget.limit as f64).min(100.0)
    };
    Ok(html! {
        div.panel {
            p { "Plan: " strong { (plan.tier.as_str()) } " · this period ends " (layout::date(budget.period_end)) }
            meter.usage min="0" max=(budget.limit.max(1)) high=(budget.limit * 9 / 10) value=(used) { (format!("{share:.0}")) " %" }
            p.muted { (thousands(used)) " of " (thousands(budget.limit)) " coach tokens used (" (format!("{share:.0}")) " %)" }
            @if !plan.is_pro() { p.muted { "The coach is part of Pro: " a href="/billing" { "see Billing" } ", then ask it on Discord with /coach." } }
        }
    })
}

pub async fn conversation(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> WebResult<Html<String>> {
    let viewer = user.viewer();
    let c = state
        .store
        .conversation(&viewer, &id)
        .await?
        .ok_or(WebError::NotFound)?;
    let messages = state.store.conversation_messages(&viewer, &id).await?;
    let body = html! {
        p { a href="/coach" { "← Coach" } }
        h1 { (c.title) }
        @for m in &messages {
            @let text = m.message.text();
            @if !text.trim().is_empty() {
                @let who = if m.message.role == Role::User { "user" } else { "assistant" };
                div class={ "msg " (who) } { (text) }
            }
        }
    };
    Ok(layout::page(&c.title, &user, "/coach", body))
}
