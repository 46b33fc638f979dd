//! `/privacy`: export your data, delete it, and choose who can see your stats.

use poise::serenity_prelude as serenity;

use rlcoach::storage::UserExport;

use super::viewer;
use crate::bot::reply::limits;
use crate::bot::{Context, Error, user_error};

/// Your data: export, delete, visibility.
#[poise::command(
    slash_command,
    subcommands("export", "delete", "visibility", "leaderboard")
)]
pub async fn privacy(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Download everything stored about you (gzip-compressed JSON).
#[poise::command(slash_command)]
pub async fn export(ctx: Context<'_>) -> Result<(), Error> {
    super::heavy(&ctx)?;
    ctx.defer_ephemeral().await?;
    let data = ctx.data().store.export_user(&viewer(&ctx)).await?;
    let limit = upload_limit(&ctx);
    let games = if data.games_total > data.games.len() as i64 {
        format!(
            "your newest {} games of {} (the rest are in your stored replays)",
            data.games.len(),
            data.games_total
        )
    } else {
        format!("all {} of your games", data.games.len())
    };
    let what = format!(
        "your settings (plan, profile visibility, leaderboard choice), {} linked players, {} uploads (replay, file name, server, channel, message and time of each), {games} (your stats in each) and your {} coach conversations, {} coach notes and coach token usage. Replay files and full match reports are not included.",
        data.identities.len(),
        data.uploads.len(),
        data.coach.conversations.len(),
        data.coach.notes.len()
    );
    let export =
        tokio::task::spawn_blocking(move || export_files(&data, limit, limits::FILES)).await??;
    tracing::info!(
        json_bytes = export.json_bytes,
        gzip_bytes = export.gzip_bytes,
        files = export.files.as_ref().map_or(0, Vec::len),
        limit,
        "privacy export"
    );
    let reply = match export.files {
        Some(files) => {
            let mut text = format!(
                "Here is everything rlcoach stores about you, as gzip-compressed JSON (open it with any archive tool, or `gunzip`): {what}"
            );
            if files.len() > 1 {
                text.push_str(&format!(
                    "\nIt comes in {} parts (Discord takes at most {} per file); each holds your settings and links and a share of the uploads and games.",
                    files.len(),
                    size(limit)
                ));
            }
            files.into_iter().fold(
                poise::CreateReply::default().content(text),
                |reply, (name, bytes)| {
                    reply.attachment(serenity::CreateAttachment::bytes(bytes, name))
                },
            )
        }
        None => poise::CreateReply::default().content(format!(
            "Your export is too large to send through Discord: {} compressed, and a message can carry at most {} files of {}. Nothing was sent. A download from the rlcoach web site is planned for exports this size; until then, ask the people who run this bot for your data. It holds {what}",
            size(export.gzip_bytes),
            limits::FILES,
            size(limit)
        )),
    };
    ctx.send(reply.ephemeral(true)).await?;
    Ok(())
}

/// The interaction's upload limit per file (Discord sends it with every interaction).
fn upload_limit(ctx: &Context<'_>) -> usize {
    let given = match ctx {
        poise::Context::Application(app) => app.interaction.attachment_size_limit as usize,
        poise::Context::Prefix(_) => 0,
    };
    if given == 0 {
        limits::UPLOAD_BYTES
    } else {
        given
    }
}

/// A file size as people read it ("24.0 MB", "14 KB").
fn size(bytes: usize) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{} KB", bytes / 1024)
    }
}

/// The export as files, and its sizes.
#[derive(Debug)]
pub struct ExportFiles {
    /// (file name, gzip bytes), each within the limit; None when no split into at most
    /// `max_files` parts fits.
    pub files: Option<Vec<(String, Vec<u8>)>>,
    /// The whole export as pretty JSON, and gzip-compressed.
    pub json_bytes: usize,
    pub gzip_bytes: usize,
}

/// The export as gzip-compressed JSON in files of at most `limit` bytes: one file when it fits,
/// else as few parts as fit (at most `max_files`), each a JSON object with the settings and
/// links, `part` and `parts`, and an even share of the uploads and games.
pub fn export_files(
    data: &UserExport,
    limit: usize,
    max_files: usize,
) -> anyhow::Result<ExportFiles> {
    let json = serde_json::to_vec_pretty(data)?;
    let whole = gzip(&json)?;
    let (json_bytes, gzip_bytes) = (json.len(), whole.len());
    if whole.len() <= limit {
        return Ok(ExportFiles {
            files: Some(vec![("rlcoach-export.json.gz".to_string(), whole)]),
            json_bytes,
            gzip_bytes,
        });
    }
    let mut base = serde_json::to_value(data)?;
    let uploads = take_array(&mut base, "uploads");
    let games = take_array(&mut base, "games");
    let conversations = match base.get_mut("coach") {
        Some(coach) => take_array(coach, "conversations"),
        None => Vec::new(),
    };
    let share = |v: &[serde_json::Value], i: usize, k: usize| {
        serde_json::Value::Array(v[i * v.len() / k..(i + 1) * v.len() / k].to_vec())
    };
    for k in whole.len().div_ceil(limit.max(1)).max(2)..=max_files {
        let mut files = Vec::with_capacity(k);
        for i in 0..k {
            let mut part = base.clone();
            part["part"] = (i + 1).into();
            part["parts"] = k.into();
            part["uploads"] = share(&uploads, i, k);
            part["games"] = share(&games, i, k);
            part["coach"]["conversations"] = share(&conversations, i, k);
            let bytes = gzip(&serde_json::to_vec_pretty(&part)?)?;
            if bytes.len() > limit {
                break;
            }
            files.push((
                format!("rlcoach-export-part-{}-of-{k}.json.gz", i + 1),
                bytes,
            ));
        }
        if files.len() == k {
            return Ok(ExportFiles {
                files: Some(files),
                json_bytes,
                gzip_bytes,
            });
        }
    }
    Ok(ExportFiles {
        files: None,
        json_bytes,
        gzip_bytes,
    })
}

fn take_array(v: &mut serde_json::Value, key: &str) -> Vec<serde_json::Value> {
    match v.get_mut(key).map(serde_json::Value::take) {
        Some(serde_json::Value::Array(a)) => a,
        _ => Vec::new(),
    }
}

fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes)?;
    gz.finish()
}

/// Delete your account data (uploads, links; replays only you uploaded).
#[poise::command(slash_command)]
pub async fn delete(
    ctx: Context<'_>,
    #[description = "Type true to confirm: this cannot be undone"] confirm: bool,
) -> Result<(), Error> {
    if !confirm {
        return Err(user_error(
            "Nothing deleted. Run `/privacy delete confirm:true` to delete your data.",
        ));
    }
    ctx.defer_ephemeral().await?;
    let n = ctx.data().store.delete_user(&viewer(&ctx)).await?;
    ctx.send(
        poise::CreateReply::default()
            .content(format!(
                "Deleted your data: your uploads, linked players, settings, coach conversations and notes ({n} replays only you had uploaded were removed with their files and stats). Games other people uploaded stay theirs. Your plan and this period's coach token count are kept (they are billing records)."
            ))
            .ephemeral(true),
    )
    .await?;
    Ok(())
}

/// Let others see your stats (/stats @you, /compare, leaderboards) or keep them private.
#[poise::command(slash_command)]
pub async fn visibility(
    ctx: Context<'_>,
    #[description = "Make your stats public"] public: bool,
) -> Result<(), Error> {
    ctx.data()
        .store
        .set_public_profile(&viewer(&ctx), public)
        .await?;
    let text = if public {
        "Your stats are now public."
    } else {
        "Your stats are now private."
    };
    ctx.send(poise::CreateReply::default().content(text).ephemeral(true))
        .await?;
    Ok(())
}

/// Appear on server leaderboards or not.
#[poise::command(slash_command)]
pub async fn leaderboard(
    ctx: Context<'_>,
    #[description = "Show me on leaderboards"] include: bool,
) -> Result<(), Error> {
    ctx.data()
        .store
        .set_leaderboard_opt_out(&viewer(&ctx), !include)
        .await?;
    let text = if include {
        "You'll appear on leaderboards (when your profile is public)."
    } else {
        "You won't appear on leaderboards."
    };
    ctx.send(poise::CreateReply::default().content(text).ephemeral(true))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use rlcoach::storage::UserId;
    use rlcoach::storage::queries::GameRow;
    use serde_json::Value;

    use super::*;

    fn export(uploads: usize, games: usize) -> UserExport {
        UserExport {
            user_id: UserId::from_discord(42),
            plan: "free".into(),
            public_profile: false,
            leaderboard_opt_out: false,
            identities: Vec::new(),
            uploads: (0..uploads)
                .map(|i| serde_json::json!({"upload_id": format!("u{i}"), "file_name": format!("game {i}.replay")}))
                .collect(),
            games_total: games as i64,
            hidden_games: Vec::new(),
            coach: rlcoach::storage::CoachExport {
                plan: rlcoach::storage::Plan {
                    tier: rlcoach::storage::Tier::Free,
                    source: None,
                    ends_at: None,
                    period_start: 0,
                    period_end: 1,
                },
                conversations: Vec::new(),
                notes: Vec::new(),
                usage: Vec::new(),
            },
            games: (0..games)
                .map(|i| GameRow {
                    replay_id: format!("{i:064x}"),
                    name: "someone".into(),
                    team: 0,
                    won: i % 2 == 0,
                    playlist: "DOUBLES".into(),
                    map: Some("Stadium_P".into()),
                    played_at: i as i64 * 1000,
                    score: i as i64,
                    goals: 1,
                    assists: 0,
                    saves: 2,
                    shots: 3,
                    demos: 0,
                    mvp: false,
                    // Measured values do not repeat, so compression has real work to do; quarters
                    // survive the JSON round trip exactly.
                    metrics: rlcoach::benchmarks::METRICS
                        .iter()
                        .enumerate()
                        .map(|(k, m)| (m.key.to_string(), Some((i * 31 + k * 7) as f64 / 4.0)))
                        .collect(),
                })
                .collect(),
        }
    }

    fn gunzip(bytes: &[u8]) -> Value {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn an_export_that_fits_is_one_gzip_file_of_the_whole_json() {
        let data = export(300, 300);
        let out = export_files(&data, limits::UPLOAD_BYTES, limits::FILES).unwrap();
        assert!(out.gzip_bytes * 4 < out.json_bytes, "{out:?}");
        let files = out.files.unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].0, "rlcoach-export.json.gz");
        assert!(gunzip(&files[0].1) == serde_json::to_value(&data).unwrap());
    }

    #[test]
    fn an_export_over_the_limit_is_split_into_parts_that_together_hold_everything() {
        let data = export(3000, 3000);
        let whole = export_files(&data, usize::MAX, 1).unwrap().gzip_bytes;
        let limit = whole / 3;
        let out = export_files(&data, limit, limits::FILES).unwrap();
        let files = out.files.expect("fits in parts");
        assert!(
            (3..=limits::FILES).contains(&files.len()),
            "{} parts",
            files.len()
        );
        let (mut uploads, mut games) = (Vec::new(), Vec::new());
        for (i, (name, bytes)) in files.iter().enumerate() {
            assert!(bytes.len() <= limit);
            assert_eq!(
                name,
                &format!("rlcoach-export-part-{}-of-{}.json.gz", i + 1, files.len())
            );
            let part = gunzip(bytes);
            assert_eq!(
                (part["part"].as_u64(), part["parts"].as_u64()),
                (Some(i as u64 + 1), Some(files.len() as u64))
            );
            assert_eq!(part["plan"], "free");
            uploads.extend(part["uploads"].as_array().unwrap().clone());
            games.extend(part["games"].as_array().unwrap().clone());
        }
        let original = serde_json::to_value(&data).unwrap();
        assert!(
            Value::Array(uploads) == original["uploads"],
            "uploads differ"
        );
        assert!(Value::Array(games) == original["games"], "games differ");

        // Ten files cannot hold it: nothing is sent.
        let none = export_files(&data, whole / 20, limits::FILES).unwrap();
        assert!(none.files.is_none());
        assert_eq!(none.gzip_bytes, whole);
    }
}
