//! `/sessions`: the viewer's sessions (games less than 30 minutes apart), W/L and key numbers,
//! each expandable to its games.

use axum::extract::State;
use axum::response::Html;
use maud::html;

use super::auth::CurrentUser;
use super::error::WebResult;
use super::{AppState, layout};

pub async fn page(State(state): State<AppState>, user: CurrentUser) -> WebResult<Html<String>> {
    super::heavy(&state, &user, false)?;
    let sessions = state
        .store
        .sessions_with_games(&user.viewer(), user.user(), 30)
        .await?;
    let body = html! {
        h1 { "Sessions" }
        p.muted { "Games less than 30 minutes apart make a session; the newest 30 sessions." }
        @if sessions.is_empty() {
            div.panel { p { "No games yet. " a href="/upload" { "Upload replays" } " to see your sessions." } }
        }
        @for s in &sessions {
            details.panel {
                summary {
                    strong { (layout::datetime(s.session.started_at)) }
                    " · " (s.session.games) " games · "
                    span.win { (s.session.wins) "W" } " " span.loss { (s.session.losses) "L" }
                    " · " (s.session.goals) " goals · " (s.session.saves) " saves · avg score "
                    (rlcoach::cards::format_value(s.session.avg_score, ""))
                }
                (layout::games_table(&s.games))
            }
        }
    };
    Ok(layout::page("Sessions", &user, "/sessions", body))
}
