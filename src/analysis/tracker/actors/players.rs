//! Player identity: platform ids from the replicated unique id, and the PRI → player links.

use boxcars::{RemoteId, UniqueId};

use super::{ActorTable, Slot};
use crate::analysis::tracker::PlayerTrack;
use crate::report::PlayerId;

pub fn player_id(u: &UniqueId, name: Option<&str>) -> PlayerId {
    let (platform, id) = match &u.remote_id {
        RemoteId::Steam(id) => ("steam", id.to_string()),
        RemoteId::Epic(id) => ("epic", id.clone()),
        RemoteId::PlayStation(ps) => ("ps4", ps.name.clone()),
        RemoteId::PsyNet(p) => ("psynet", p.online_id.to_string()),
        RemoteId::Xbox(id) => ("xbox", format!("{id:016x}")),
        RemoteId::Switch(s) => ("switch", s.online_id.to_string()),
        RemoteId::QQ(id) => ("qq", id.to_string()),
        RemoteId::SplitScreen(id) => ("splitscreen", id.to_string()),
        _ => ("unknown", String::new()),
    };
    let empty = id.is_empty() || id == "0" || platform == "splitscreen" || platform == "unknown";
    if empty {
        // Bots and split-screen guests share a platform id: tell them apart by name.
        return PlayerId {
            platform: if platform == "splitscreen" {
                "splitscreen"
            } else {
                "bot"
            }
            .into(),
            id: name.unwrap_or("").to_string(),
        };
    }
    let id = if u.local_id > 0 {
        format!("{id}#{}", u.local_id)
    } else {
        id
    };
    PlayerId {
        platform: platform.into(),
        id,
    }
}

impl ActorTable<'_> {
    /// Links new PRIs to players (adding a player the first time an identity is seen) and copies
    /// names and teams that changed. Returns how many players were added. Adds none once there
    /// are more than `cap` (one over it is enough for the frame pass to refuse the replay), so a
    /// frame of thousands of forged PRIs does not allocate per-player state for each.
    pub fn resolve_players(&mut self, players: &mut Vec<PlayerTrack>, cap: usize) -> usize {
        let before = players.len();
        for idx in 0..self.live_pris.len() {
            let pri_id = self.live_pris[idx];
            let team_actor = match self.slot(pri_id) {
                Slot::Pri(p) if p.dirty || p.player.is_none() => p.team_actor,
                _ => continue,
            };
            let team = team_actor.and_then(|t| match self.slot(t) {
                Slot::Team(n) => Some(*n),
                _ => None,
            });
            let Some(Slot::Pri(p)) = self.slot_mut(pri_id) else {
                continue;
            };
            if p.player.is_none() {
                let Some(mut uid) = p.unique.clone() else {
                    continue;
                };
                if matches!(uid.platform.as_str(), "bot" | "splitscreen") {
                    let Some(name) = p.name.clone() else { continue };
                    uid.id = name;
                }
                let found = players.iter().position(|t| t.id == uid);
                if found.is_none() && players.len() > cap {
                    continue;
                }
                let name = p.name.clone().unwrap_or_default();
                p.player = Some(found.unwrap_or_else(|| {
                    players.push(PlayerTrack::new(uid, name, p.is_bot));
                    players.len() - 1
                }));
            }
            let Some(player) = p.player else {
                continue;
            };
            // Done until the name or team changes again, unless the team actor is not there yet.
            if team_actor.is_none() || team.is_some() {
                p.dirty = false;
            }
            if let Some(track) = players.get_mut(player) {
                if team.is_some() {
                    track.team = team;
                }
                if let Some(name) = &p.name
                    && !name.is_empty()
                {
                    track.name = name.clone();
                }
            }
        }
        players.len() - before
    }
}
