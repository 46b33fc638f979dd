//! Privacy, on SQLite and on a fresh PostgreSQL database: identities belong to one person,
//! private games stay private, every read is scoped to the viewer, and deletion leaves nothing
//! of the user behind.

mod common;

use std::time::Duration;

use rlcoach::jobs::{Intake, JobEvent, PoolConfig, WorkerPool};
use rlcoach::report::PlayerId;
use rlcoach::storage::{
    DiscordConnection, LinkState, NewUpload, StorageError, Store, SubmitOutcome, UserId,
    VerifyOutcome, Viewer, identity_from_connection, is_verifiable,
};

const GUILD: i64 = 500;
const CHANNEL: i64 = 600;
const A: i64 = 1;
const B: i64 = 2;
const C: i64 = 3;

fn config() -> PoolConfig {
    PoolConfig {
        workers: 2,
        poll: Duration::from_millis(100),
        ..PoolConfig::default()
    }
}

fn uid(n: i64) -> UserId {
    UserId::from_db(n)
}

/// `n` asking privately (DM, web).
fn private(n: i64) -> Viewer {
    Viewer::user(uid(n))
}

/// `n` asking in the guild channel where public answers are posted.
fn in_channel(n: i64) -> Viewer {
    Viewer::in_channel(uid(n), Some(GUILD), CHANNEL)
}

/// A replay sent to the bot in a DM.
fn dm_upload(user: i64) -> NewUpload {
    NewUpload {
        file_name: Some("mine.replay".into()),
        ..NewUpload::by(uid(user))
    }
}

/// A replay dropped in the guild channel, answered publicly there.
fn guild_upload(user: i64) -> NewUpload {
    NewUpload {
        guild_id: Some(GUILD),
        channel_id: Some(CHANNEL),
        file_name: Some("shared.replay".into()),
        ..NewUpload::by(uid(user))
    }
}

fn replay_id(o: &SubmitOutcome) -> String {
    match o {
        SubmitOutcome::Analyzed { replay_id, .. }
        | SubmitOutcome::Failed { replay_id, .. }
        | SubmitOutcome::Pending { replay_id, .. } => replay_id.clone(),
        SubmitOutcome::Busy { .. } => panic!("busy"),
    }
}

/// Submits and waits until the replay is analyzed; returns its id.
async fn analyzed(pool: &WorkerPool, bytes: Vec<u8>, upload: NewUpload) -> String {
    let mut rx = pool.subscribe();
    let outcome = pool.intake().submit(bytes, upload).await.unwrap();
    let id = replay_id(&outcome);
    if matches!(outcome, SubmitOutcome::Pending { .. }) {
        tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                if let JobEvent::Finished(c) = rx.recv().await.unwrap()
                    && c.replay_id == id
                {
                    assert_eq!(c.error, None);
                    return;
                }
            }
        })
        .await
        .expect("analyzed within a minute");
    }
    id
}

fn fixture() -> Vec<u8> {
    common::fixture("small-doubles.replay")
}

/// The fixture's four players (all Steam accounts).
fn players() -> Vec<PlayerId> {
    rlcoach::analyze(&fixture(), &rlcoach::Limits::default())
        .unwrap()
        .players
        .into_iter()
        .map(|p| p.id)
        .collect()
}

async fn game_ids(store: &Store, viewer: &Viewer, target: i64) -> Vec<String> {
    let mut ids: Vec<String> = store
        .recent_games(viewer, uid(target), 100, None)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.replay_id)
        .collect();
    ids.sort();
    ids
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

both_backends!(
    a_claim_counts_only_your_uploads_and_a_verified_identity_is_one_persons,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let pool = WorkerPool::start(store.clone(), config());
            let [pa, pb, ..] = <[PlayerId; 4]>::try_from(players()).unwrap();
            // A sends two games to the bot privately; B drops one game he played with A in the
            // server.
            let a1 = analyzed(&pool, common::distinct_copy(&fixture(), 1), dm_upload(A)).await;
            let a2 = analyzed(&pool, common::distinct_copy(&fixture(), 2), dm_upload(A)).await;
            let shared = analyzed(&pool, fixture(), guild_upload(B)).await;
            pool.shutdown(Duration::from_secs(5)).await;

            // The attack: B claims A's identity from the shared game and sees only that game.
            let b = in_channel(B);
            assert_eq!(
                store.link_identity(&b, &pa).await.unwrap(),
                LinkState::Claimed
            );
            assert_eq!(game_ids(&store, &b, B).await, vec![shared.clone()]);
            // B cannot claim a player from a replay he did not upload, nor open A's replays.
            let a_only_player = PlayerId {
                platform: "steam".into(),
                id: "1".into(),
            };
            assert!(matches!(
                store.link_identity(&b, &a_only_player).await,
                Err(StorageError::Invalid(_))
            ));
            for id in [&a1, &a2] {
                assert!(store.report(&b, id).await.unwrap().is_none());
                assert!(store.report(&private(B), id).await.unwrap().is_none());
            }
            // B's public profile, read by a stranger, shows only B's own upload; on the
            // leaderboard B counts one game.
            store.set_public_profile(&b, true).await.unwrap();
            assert_eq!(
                game_ids(&store, &in_channel(C), B).await,
                vec![shared.clone()]
            );
            let lb = store
                .leaderboard(&in_channel(C), GUILD, "bcpm", 1, 10)
                .await
                .unwrap();
            assert_eq!(
                lb.iter().map(|r| (r.user_id, r.games)).collect::<Vec<_>>(),
                vec![(uid(B), 1)]
            );
            let export = store.export_user(&b).await.unwrap();
            assert_eq!(
                (export.games_total, export.games.len(), export.uploads.len()),
                (1, 1, 1)
            );

            // A's own claim counts A's two private uploads only (not B's upload yet).
            let a = private(A);
            store.link_identity(&a, &pa).await.unwrap();
            assert_eq!(
                game_ids(&store, &a, A).await,
                sorted(vec![a1.clone(), a2.clone()])
            );
            // A verifies the identity: it is A's alone and B's claim goes. B's upload still does
            // not count for A: B is not verified as a player of it, and a file proves only its
            // own bytes.
            assert_eq!(
                store.verify_identity(&a, &pa).await.unwrap(),
                VerifyOutcome::Verified
            );
            assert_eq!(
                game_ids(&store, &a, A).await,
                sorted(vec![a1.clone(), a2.clone()])
            );
            assert!(store.identities(&b).await.unwrap().is_empty());
            let refused = store.link_identity(&b, &pa).await.unwrap_err();
            assert!(
                refused.user_message().contains("someone else"),
                "{}",
                refused.user_message()
            );
            assert!(
                store
                    .claimable_identities(&b)
                    .await
                    .unwrap()
                    .iter()
                    .all(|c| c.player != pa),
                "a verified identity is not offered to others"
            );
            assert_eq!(
                store.verify_identity(&b, &pa).await.unwrap(),
                VerifyOutcome::OwnedByAnother
            );
            // The public B profile shows nothing of A now.
            assert!(game_ids(&store, &in_channel(C), B).await.is_empty());
            // Nor may A open it privately (it was answered in the channel, where A may).
            assert!(store.report(&a, &shared).await.unwrap().is_none());
            assert!(
                store
                    .report(&in_channel(A), &shared)
                    .await
                    .unwrap()
                    .is_some()
            );
            // B can still claim himself in his own upload.
            store.link_identity(&b, &pb).await.unwrap();
            assert_eq!(game_ids(&store, &b, B).await, vec![shared.clone()]);
            // A's profile is private: nobody else reads A's games.
            assert!(matches!(
                store.recent_games(&b, uid(A), 10, None).await,
                Err(StorageError::Forbidden)
            ));
            assert!(matches!(
                store.profile(&b, uid(A)).await,
                Err(StorageError::Forbidden)
            ));
            // Verification by Discord connection: only verified connections count.
            let steam_id = pb.id.clone();
            let c = private(C);
            let done = store
                .verify_connections(
                    &c,
                    &[DiscordConnection {
                        kind: "steam".into(),
                        id: steam_id.clone(),
                        name: "x".into(),
                        verified: false,
                    }],
                )
                .await
                .unwrap();
            assert!(done.is_empty(), "an unverified connection proves nothing");
            let done = store
                .verify_connections(
                    &c,
                    &[DiscordConnection {
                        kind: "steam".into(),
                        id: steam_id,
                        name: "x".into(),
                        verified: true,
                    }],
                )
                .await
                .unwrap();
            assert_eq!(done, vec![(pb.clone(), VerifyOutcome::Verified)]);
            assert!(
                store.identities(&b).await.unwrap().is_empty(),
                "B's claim on C's verified account is gone"
            );
            // C played in all three games. A verified identity counts the games uploaded by a
            // verified player of them (A's private uploads: A is verified) whom C has played
            // with in a game C uploaded — none yet — and never B's upload.
            assert!(game_ids(&store, &c, C).await.is_empty());
            assert!(store.report(&c, &a1).await.unwrap().is_none());
            let pool = WorkerPool::start(store.clone(), config());
            let mine = analyzed(&pool, common::distinct_copy(&fixture(), 30), dm_upload(C)).await;
            pool.shutdown(Duration::from_secs(5)).await;
            assert_eq!(
                game_ids(&store, &c, C).await,
                sorted(vec![a1.clone(), a2.clone(), mine])
            );
            assert!(store.report(&c, &a1).await.unwrap().is_some());
            assert!(store.report(&c, &shared).await.unwrap().is_none());
        }
    }
);

both_backends!(
    bots_and_name_keyed_players_can_be_claimed_never_verified,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            for (platform, id) in [
                ("bot", "Armstrong"),
                ("ps4", "SomeName"),
                ("splitscreen", "Guest"),
                ("unknown", "Name"),
                ("steam", "76561198000000000#1"),
                ("psynet", "1234"),
            ] {
                let p = PlayerId {
                    platform: platform.into(),
                    id: id.into(),
                };
                assert!(!is_verifiable(&p), "{p}");
                assert_eq!(
                    store.verify_identity(&private(A), &p).await.unwrap(),
                    VerifyOutcome::NotVerifiable,
                    "{p}"
                );
            }
            assert!(store.identities(&private(A)).await.unwrap().is_empty());
        }
    }
);

#[test]
fn discord_connections_map_to_replay_identities() {
    let p = |platform: &str, id: &str| {
        Some(PlayerId {
            platform: platform.into(),
            id: id.into(),
        })
    };
    assert_eq!(
        identity_from_connection("steam", "76561198194694181"),
        p("steam", "76561198194694181")
    );
    assert_eq!(
        identity_from_connection("epicgames", "ABCDEF0123456789abcdef0123456789"),
        p("epic", "abcdef0123456789abcdef0123456789")
    );
    // Discord gives the XUID in decimal; replays carry 16 hex digits.
    assert_eq!(
        identity_from_connection("xbox", "2535405290364440"),
        p("xbox", "000901f00bb19e18")
    );
    assert_eq!(identity_from_connection("playstation", "1234"), None);
    assert_eq!(identity_from_connection("steam", "not-a-number"), None);
    assert_eq!(identity_from_connection("xbox", "x"), None);
    assert_eq!(identity_from_connection("twitch", "1"), None);
}

both_backends!(
    replay_reads_are_checked_against_the_viewer,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let pool = WorkerPool::start(store.clone(), config());
            let public = analyzed(&pool, fixture(), guild_upload(A)).await;
            let dm = analyzed(&pool, common::distinct_copy(&fixture(), 7), dm_upload(A)).await;
            let ephemeral = analyzed(
                &pool,
                common::distinct_copy(&fixture(), 8),
                NewUpload {
                    private_reply: true,
                    ..guild_upload(A)
                },
            )
            .await;
            pool.shutdown(Duration::from_secs(5)).await;
            let other_channel = Viewer::in_channel(uid(C), Some(GUILD), CHANNEL + 1);
            // The uploader sees everything they uploaded, from anywhere.
            for id in [&public, &dm, &ephemeral] {
                assert!(store.report(&private(A), id).await.unwrap().is_some());
            }
            // A public answer's cards open for anyone in its channel, nowhere else.
            assert!(
                store
                    .report(&in_channel(C), &public)
                    .await
                    .unwrap()
                    .is_some()
            );
            assert!(
                store
                    .report(&other_channel, &public)
                    .await
                    .unwrap()
                    .is_none()
            );
            assert!(store.report(&private(C), &public).await.unwrap().is_none());
            // DM and ephemeral answers open for nobody else, even in that channel.
            for id in [&dm, &ephemeral] {
                assert!(store.report(&in_channel(C), id).await.unwrap().is_none());
            }
            // Forged ids are simply not found.
            for forged in ["", "x", "../../etc/passwd", &"0".repeat(64), "' OR 1=1 --"] {
                assert!(store.report(&private(A), forged).await.unwrap().is_none());
            }
            // /replays lists only one's own uploads.
            assert_eq!(store.my_uploads(&private(A), 10).await.unwrap().len(), 3);
            assert!(store.my_uploads(&private(C), 10).await.unwrap().is_empty());
        }
    }
);

/// Rows per table, for before/after comparisons.
async fn table_counts(store: &Store) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for table in [
        "users",
        "guilds",
        "guild_channels",
        "players",
        "player_names",
        "user_identities",
        "replays",
        "uploads",
        "analyses",
        "game_stats",
        "jobs",
        "batch_summaries",
        "batch_refusals",
    ] {
        let n: i64 = sqlx::Row::get(
            &sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(store.pool())
                .await
                .unwrap(),
            0,
        );
        out.push((table, n));
    }
    out
}

async fn user_rows(store: &Store, user: i64) -> i64 {
    let mut n = 0;
    for sql in [
        "SELECT COUNT(*) FROM users WHERE user_id = $1",
        "SELECT COUNT(*) FROM user_identities WHERE user_id = $1",
        "SELECT COUNT(*) FROM uploads WHERE user_id = $1",
    ] {
        n += sqlx::Row::get::<i64, _>(
            &sqlx::query(sql)
                .bind(user)
                .fetch_one(store.pool())
                .await
                .unwrap(),
            0,
        );
    }
    n
}

both_backends!(
    delete_removes_everything_of_the_user_and_nothing_of_others,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let pool = WorkerPool::start(store.clone(), config());
            let empty = table_counts(&store).await;
            // A alone: two games, linked, public, in a two-file message.
            let a1 = analyzed(
                &pool,
                common::distinct_copy(&fixture(), 1),
                NewUpload {
                    message_id: Some(42),
                    batch_size: Some(2),
                    ..guild_upload(A)
                },
            )
            .await;
            let a2 = analyzed(
                &pool,
                common::distinct_copy(&fixture(), 2),
                NewUpload {
                    message_id: Some(42),
                    batch_size: Some(2),
                    ..guild_upload(A)
                },
            )
            .await;
            let a = private(A);
            store.link_identity(&a, &players()[0]).await.unwrap();
            store.set_public_profile(&a, true).await.unwrap();
            for d in store.pending_deliveries(None).await.unwrap() {
                store.mark_delivered(&d.upload_id).await.unwrap();
            }
            assert!(store.claim_batch_summary(42).await.unwrap().is_some());
            assert_eq!(store.stored_files().await.len(), 2);
            // Deleting A alone leaves the database as it was before A came, and no file.
            assert_eq!(store.delete_user(&a).await.unwrap(), 2);
            let after: Vec<_> = table_counts(&store)
                .await
                .into_iter()
                .filter(|(t, _)| *t != "guilds")
                .collect();
            let before: Vec<_> = empty.into_iter().filter(|(t, _)| *t != "guilds").collect();
            assert_eq!(after, before, "no row of A left");
            assert!(store.stored_files().await.is_empty(), "no file of A left");
            assert!(store.report(&a, &a1).await.unwrap().is_none());
            assert!(store.report(&a, &a2).await.unwrap().is_none());

            // A game A and B both uploaded stays B's; A's own game goes.
            let shared = analyzed(&pool, fixture(), guild_upload(A)).await;
            analyzed(&pool, fixture(), guild_upload(B)).await;
            let mine = analyzed(&pool, common::distinct_copy(&fixture(), 3), dm_upload(A)).await;
            store.link_identity(&a, &players()[0]).await.unwrap();
            store
                .link_identity(&private(B), &players()[1])
                .await
                .unwrap();
            pool.shutdown(Duration::from_secs(5)).await;
            let before = table_counts(&store).await;
            assert_eq!(store.stored_files().await.len(), 2);
            assert_eq!(store.delete_user(&a).await.unwrap(), 1);
            assert_eq!(user_rows(&store, A).await, 0);
            let after = table_counts(&store).await;
            let diff: Vec<(&str, i64)> = before
                .iter()
                .zip(&after)
                .filter(|(b, a)| b.1 != a.1)
                .map(|(b, a)| (b.0, b.1 - a.1))
                .collect();
            assert_eq!(
                diff,
                vec![
                    ("users", 1),
                    ("user_identities", 1),
                    ("replays", 1),
                    ("uploads", 2),
                    ("analyses", 1),
                    ("game_stats", 4),
                    ("jobs", 1),
                ]
            );
            let files = store.stored_files().await;
            assert_eq!(files, vec![store.replay_path(&shared)]);
            assert!(store.report(&private(B), &shared).await.unwrap().is_some());
            assert!(store.report(&private(B), &mine).await.unwrap().is_none());
            assert_eq!(game_ids(&store, &private(B), B).await, vec![shared]);
        }
    }
);

both_backends!(
    duplicates_and_busy_uploads_leave_no_file_and_the_sweep_removes_orphans,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            // No workers: jobs stay queued, so a queue of one fills up.
            let intake = Intake::new(
                store.clone(),
                PoolConfig {
                    max_queue: 1,
                    ..config()
                },
            );
            let first = intake.submit(fixture(), dm_upload(A)).await.unwrap();
            assert!(matches!(first, SubmitOutcome::Pending { .. }));
            assert_eq!(store.stored_files().await.len(), 1);
            // Same bytes: deduplicated, no new file.
            let again = intake.submit(fixture(), dm_upload(B)).await.unwrap();
            assert_eq!(replay_id(&again), replay_id(&first));
            assert_eq!(store.stored_files().await.len(), 1);
            // The same match re-sealed into other bytes is another replay: with the queue
            // full it is Busy, and nothing is written.
            let resealed = {
                let mut b = fixture();
                let body = common::sections(&b).1;
                b[body.end - 1] ^= 1;
                common::reseal(&mut b);
                b
            };
            let other = intake.submit(resealed, dm_upload(C)).await.unwrap();
            assert!(matches!(other, SubmitOutcome::Busy { .. }), "{other:?}");
            assert_eq!(store.stored_files().await.len(), 1);
            // Another game while the queue is full: Busy, and nothing written.
            let busy = intake
                .submit(common::distinct_copy(&fixture(), 9), dm_upload(A))
                .await
                .unwrap();
            assert!(matches!(busy, SubmitOutcome::Busy { .. }), "{busy:?}");
            assert_eq!(store.stored_files().await.len(), 1);

            // What a crash can leave: a file whose row never committed, and a temporary file.
            let orphan = store.replay_path(&"ab".repeat(32));
            std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
            std::fs::write(&orphan, b"x").unwrap();
            let tmp = orphan.with_extension("tmp-123");
            std::fs::write(&tmp, b"x").unwrap();
            // Young files are never touched (a submit may be about to commit its row).
            let r = store
                .sweep_orphan_files(Duration::from_secs(3600))
                .await
                .unwrap();
            assert_eq!((r.removed, r.kept), (0, 0));
            assert_eq!(store.stored_files().await.len(), 3);
            let r = store.sweep_orphan_files(Duration::ZERO).await.unwrap();
            assert_eq!((r.removed, r.kept), (2, 1));
            assert_eq!(
                store.stored_files().await,
                vec![store.replay_path(&replay_id(&first))]
            );
        }
    }
);

both_backends!(
    leaderboards_and_names_follow_the_link_rule,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let pool = WorkerPool::start(store.clone(), config());
            let [pa, ..] = <[PlayerId; 4]>::try_from(players()).unwrap();
            // B uploads one game with A in the server; A uploads two more there, and one by DM.
            let shared = analyzed(&pool, fixture(), guild_upload(B)).await;
            let a1 = analyzed(&pool, common::distinct_copy(&fixture(), 1), guild_upload(A)).await;
            analyzed(&pool, common::distinct_copy(&fixture(), 2), guild_upload(A)).await;
            let dm = analyzed(&pool, common::distinct_copy(&fixture(), 3), dm_upload(A)).await;
            pool.shutdown(Duration::from_secs(5)).await;
            let b = in_channel(B);
            store.link_identity(&b, &pa).await.unwrap();
            store.set_public_profile(&b, true).await.unwrap();
            // B's claim counts B's one upload on the server's leaderboard, not A's two.
            let lb = store
                .leaderboard(&in_channel(C), GUILD, "bcpm", 1, 10)
                .await
                .unwrap();
            assert_eq!(
                lb.iter().map(|r| (r.user_id, r.games)).collect::<Vec<_>>(),
                vec![(uid(B), 1)]
            );
            // The name B sees for the claimed player comes from B's games, never from A's
            // uploads (here A's copies carry the player under a new name).
            for id in [&a1, &dm] {
                sqlx::query("UPDATE game_stats SET name = 'Renamed' WHERE replay_id = $1 AND platform_id = $2")
                    .bind(id.as_str())
                    .bind(&pa.id)
                    .execute(store.pool())
                    .await
                    .unwrap();
            }
            sqlx::query("UPDATE game_stats SET played_at = played_at + 1000 WHERE replay_id <> $1")
                .bind(&shared)
                .execute(store.pool())
                .await
                .unwrap();
            let names: Vec<Option<String>> = store
                .identities(&b)
                .await
                .unwrap()
                .into_iter()
                .map(|l| l.name)
                .collect();
            assert_eq!(names, vec![Some("tlsc.".to_string())]);
            let export = store.export_user(&b).await.unwrap();
            assert!(!serde_json::to_string(&export).unwrap().contains("Renamed"));
            // A, verifying, sees the newest name of all their games.
            let a = private(A);
            store.verify_identity(&a, &pa).await.unwrap();
            let names: Vec<Option<String>> = store
                .identities(&a)
                .await
                .unwrap()
                .into_iter()
                .map(|l| l.name)
                .collect();
            assert_eq!(names, vec![Some("Renamed".to_string())]);
        }
    }
);

both_backends!(
    a_claim_racing_a_verification_never_survives_it,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let pool = WorkerPool::start(store.clone(), config());
            let [pa, ..] = <[PlayerId; 4]>::try_from(players()).unwrap();
            analyzed(&pool, fixture(), guild_upload(B)).await;
            analyzed(&pool, fixture(), guild_upload(C)).await;
            pool.shutdown(Duration::from_secs(5)).await;
            for round in 0..30 {
                let (s1, s2, s3) = (store.clone(), store.clone(), store.clone());
                let (p1, p2, p3) = (pa.clone(), pa.clone(), pa.clone());
                let claim = tokio::spawn(async move { s1.link_identity(&private(B), &p1).await });
                let verify_a =
                    tokio::spawn(async move { s2.verify_identity(&private(A), &p2).await });
                let verify_c =
                    tokio::spawn(async move { s3.verify_identity(&private(C), &p3).await });
                let _ = claim.await.unwrap();
                let a = verify_a.await.unwrap().expect("no deadlock, no error");
                let c = verify_c.await.unwrap().expect("no deadlock, no error");
                assert!(
                    matches!(
                        (a, c),
                        (VerifyOutcome::Verified, VerifyOutcome::OwnedByAnother)
                            | (VerifyOutcome::OwnedByAnother, VerifyOutcome::Verified)
                    ),
                    "round {round}: {a:?} {c:?}"
                );
                let links: i64 = sqlx::Row::get(
                    &sqlx::query(
                        "SELECT COUNT(*) FROM user_identities WHERE platform = $1 AND platform_id = $2",
                    )
                    .bind(&pa.platform)
                    .bind(&pa.id)
                    .fetch_one(store.pool())
                    .await
                    .unwrap(),
                    0,
                );
                assert_eq!(
                    links, 1,
                    "round {round}: only the verified owner's link is left"
                );
                sqlx::query("DELETE FROM user_identities")
                    .execute(store.pool())
                    .await
                    .unwrap();
            }
        }
    }
);

both_backends!(
    interaction_tokens_are_forgotten_once_answered,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let pool = WorkerPool::start(store.clone(), config());
            analyzed(
                &pool,
                fixture(),
                NewUpload {
                    interaction_token: Some("secret-token".into()),
                    application_id: Some(9),
                    ..guild_upload(A)
                },
            )
            .await;
            pool.shutdown(Duration::from_secs(5)).await;
            let owed = store.pending_deliveries(None).await.unwrap();
            assert_eq!(owed[0].interaction_token.as_deref(), Some("secret-token"));
            assert!(store.mark_delivered(&owed[0].upload_id).await.unwrap());
            let left: i64 = sqlx::Row::get(
                &sqlx::query("SELECT COUNT(*) FROM uploads WHERE interaction_token IS NOT NULL")
                    .fetch_one(store.pool())
                    .await
                    .unwrap(),
                0,
            );
            assert_eq!(left, 0);
        }
    }
);

// ---- A replay proves only its own bytes (anyone can edit a header and re-seal its CRCs) ----

const D: i64 = 4;
const E: i64 = 5;
/// A verified player who forges.
const M: i64 = 6;
/// A verified player the forger names.
const V: i64 = 7;
/// A stranger to the match.
const S: i64 = 9;

/// The replay id intake gives these bytes (their sha256).
fn sha(bytes: &[u8]) -> String {
    rlcoach::analysis::inspect(bytes, &rlcoach::Limits::default())
        .unwrap()
        .replay_id
}

/// The fixture's player called `name`.
fn player(name: &str) -> PlayerId {
    rlcoach::analyze(&fixture(), &rlcoach::Limits::default())
        .unwrap()
        .players
        .into_iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("{name} played in the fixture"))
        .id
}

both_backends!(
    a_file_proves_only_its_own_bytes,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let pool = WorkerPool::start(store.clone(), config());
            let genuine = fixture();
            let guid = common::edit::guid_of(&genuine);
            // B uploads a doctored copy of A's match first: a player renamed, blue's score
            // zeroed, the network data broken, both CRCs re-sealed, the match GUID kept.
            let doctored = common::header_only_bytes(&common::edit::with_int_property(
                &common::edit::rename_in_header(&genuine, "cometten", "HACKED!!"),
                "Team0Score",
                0,
            ));
            assert_eq!(common::edit::guid_of(&doctored), guid);
            let rb = analyzed(&pool, doctored.clone(), dm_upload(B)).await;
            // A's genuine file is stored and analyzed from A's bytes: the doctored copy does not
            // stand in for it.
            let ra = analyzed(&pool, genuine.clone(), dm_upload(A)).await;
            assert_eq!((ra.clone(), rb.clone()), (sha(&genuine), sha(&doctored)));
            let mine = store.report(&private(A), &ra).await.unwrap().unwrap();
            assert!(
                mine.quality.network_parsed,
                "A sees the analysis of A's file"
            );
            assert!(mine.players.iter().any(|p| p.name == "cometten"));
            assert!(mine.metadata.score[0] > 0, "{:?}", mine.metadata.score);
            let theirs = store.report(&private(B), &rb).await.unwrap().unwrap();
            assert!(!theirs.quality.network_parsed);
            assert!(theirs.players.iter().any(|p| p.name == "HACKED!!"));
            // Claiming the GUID grants nothing: neither opens the other's copy.
            assert!(store.report(&private(B), &ra).await.unwrap().is_none());
            assert!(store.report(&private(A), &rb).await.unwrap().is_none());
            // C re-seals a different match (another score) with A's GUID: his own replay again.
            let other = common::edit::with_int_property(&genuine, "Team1Score", 9);
            let rc = analyzed(&pool, other, dm_upload(C)).await;
            assert!(store.report(&private(C), &ra).await.unwrap().is_none());
            assert!(store.report(&private(C), &rb).await.unwrap().is_none());
            let c_uploads = store.my_uploads(&private(C), 10).await.unwrap();
            assert_eq!(
                c_uploads.iter().map(|u| u.0.clone()).collect::<Vec<_>>(),
                vec![rc.clone()]
            );
            // Claiming a player from one's own upload counts that upload only.
            store
                .link_identity(&private(C), &player("cometten"))
                .await
                .unwrap();
            assert_eq!(game_ids(&store, &private(C), C).await, vec![rc.clone()]);
            // Three different files, three stored replays; identical bytes stay one.
            let again = analyzed(&pool, genuine.clone(), dm_upload(D)).await;
            assert_eq!(again, ra);
            assert!(store.report(&private(D), &ra).await.unwrap().is_some());
            assert_eq!(store.stored_files().await.len(), 3);
            pool.shutdown(Duration::from_secs(5)).await;
        }
    }
);

both_backends!(
    a_verified_history_holds_only_games_its_owner_can_vouch_for,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let pool = WorkerPool::start(store.clone(), config());
            let (pc, pd, pe) = (player("cometten"), player("Joeyuden"), player("syracks"));
            let c = private(C);
            assert_eq!(
                store.verify_identity(&c, &pc).await.unwrap(),
                VerifyOutcome::Verified
            );
            store.verify_identity(&private(D), &pd).await.unwrap();
            store.verify_identity(&private(E), &pe).await.unwrap();
            store.set_public_profile(&c, true).await.unwrap();
            // C once uploaded a game he played with D, E and M (and hid it, to keep the counts
            // below about others' uploads): he has played with them.
            let own = analyzed(&pool, common::distinct_copy(&fixture(), 40), dm_upload(C)).await;
            assert!(store.hide_game(&c, &own).await.unwrap());

            // A stranger forges a game naming C's verified Steam id under a name of his choice.
            let forged = common::header_only_bytes(&common::edit::rename_in_header(
                &common::distinct_copy(&fixture(), 11),
                "cometten",
                "HACKED!!",
            ));
            let rs = analyzed(&pool, forged, guild_upload(S)).await;
            assert!(game_ids(&store, &c, C).await.is_empty(), "not C's game");
            assert!(store.report(&c, &rs).await.unwrap().is_none());
            let links = store.identities(&c).await.unwrap();
            assert_eq!(links.len(), 1);
            assert_ne!(links[0].name.as_deref(), Some("HACKED!!"));
            assert_eq!(store.export_user(&c).await.unwrap().games_total, 0);
            let board = |store: Store| async move {
                store
                    .leaderboard(&in_channel(A), GUILD, "bcpm", 1, 10)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| (r.user_id, r.games))
                    .collect::<Vec<_>>()
            };
            assert!(board(store.clone()).await.is_empty());

            // Nor does a verified player's forgery: M, verified as himself, writes a header
            // naming himself and C over broken network data. A header is not a match.
            let m = private(M);
            store.verify_identity(&m, &player("tlsc.")).await.unwrap();
            let forged = common::header_only_bytes(&common::distinct_copy(&fixture(), 12));
            let rm = analyzed(&pool, forged, guild_upload(M)).await;
            assert!(
                game_ids(&store, &c, C).await.is_empty(),
                "M's forgery is not C's"
            );
            assert!(store.report(&c, &rm).await.unwrap().is_none());
            // Nor when M's own car is in the network data: V (verified, not in this match) is
            // named only by a scoreboard entry M rewrote (cometten's, given V's id and a name).
            let v = private(V);
            let victim = PlayerId {
                platform: "steam".into(),
                id: "76561190000000042".into(),
            };
            store.verify_identity(&v, &victim).await.unwrap();
            let cometten: u64 = player("cometten").id.parse().unwrap();
            let forged = common::edit::rename_in_header(
                &common::edit::with_online_id(
                    &common::distinct_copy(&fixture(), 13),
                    cometten,
                    76561190000000042,
                ),
                "cometten",
                "HACKED!!",
            );
            let rm = analyzed(&pool, forged, guild_upload(M)).await;
            let seen = store.report(&m, &rm).await.unwrap().unwrap();
            assert!(seen.quality.network_parsed);
            assert!(seen.players.iter().any(|p| p.id == victim));
            assert!(
                game_ids(&store, &v, V).await.is_empty(),
                "M's forgery is not V's"
            );
            assert!(store.report(&v, &rm).await.unwrap().is_none());
            assert_eq!(store.identities(&v).await.unwrap()[0].name, None);
            // Nor when M rewrites the network data too, giving V cometten's car: V never uploaded
            // a game with M, so M's files add nothing to V's history.
            let forged = common::edit::with_network_id(
                &common::edit::with_online_id(
                    &common::distinct_copy(&fixture(), 14),
                    cometten,
                    76561190000000042,
                ),
                cometten,
                76561190000000042,
            );
            let rn = analyzed(&pool, forged, guild_upload(M)).await;
            let seen = store.report(&m, &rn).await.unwrap().unwrap();
            assert!(seen.quality.network_parsed);
            let row = seen.players.iter().find(|p| p.id == victim).unwrap();
            assert!(
                row.core.score > 0 && row.name == "cometten",
                "a car in the network data"
            );
            assert!(
                game_ids(&store, &v, V).await.is_empty(),
                "M's forgery is not V's"
            );
            assert!(store.report(&v, &rn).await.unwrap().is_none());
            // (That file is otherwise a real game C played, uploaded by a verified player of it:
            // it would count for C. M leaves, and his uploads with him.)
            assert_eq!(
                game_ids(&store, &c, C).await,
                vec![rm.clone()],
                "a verified team-mate's real game counts"
            );
            store.delete_user(&m).await.unwrap();
            assert!(game_ids(&store, &c, C).await.is_empty());

            // D, verified as a player of the match, uploads it: it counts for C, who may open it.
            let rd = analyzed(&pool, fixture(), dm_upload(D)).await;
            assert_eq!(game_ids(&store, &c, C).await, vec![rd.clone()]);
            assert!(store.report(&c, &rd).await.unwrap().is_some());
            // D answered by DM: the match is not this guild's yet.
            assert!(board(store.clone()).await.is_empty());
            // E, verified too, uploads his own recording of the same match (other bytes, same
            // players, score and goals) in the guild: one match, counted once for everyone, and
            // on the guild's board whichever copy counts for C. E's copy's id is picked below D's
            // (as a forger grinds one): C's history still counts D's, the first stored, which was
            // answered by DM — and the board must still count the match E uploaded there.
            // D's copy has no content digest, as in a database from before digests existed.
            sqlx::query("UPDATE replays SET content_key = NULL")
                .execute(store.pool())
                .await
                .unwrap();
            let copy = (1..)
                .map(|n| common::edit::same_match_copy(&fixture(), n))
                .find(|b| sha(b) < rd)
                .unwrap();
            let re = analyzed(&pool, copy, guild_upload(E)).await;
            assert_ne!(re, rd);
            let key = |id: String| {
                let store = store.clone();
                async move {
                    sqlx::Row::get::<String, _>(
                        &sqlx::query("SELECT match_key FROM game_stats WHERE replay_id = $1")
                            .bind(id)
                            .fetch_one(store.pool())
                            .await
                            .unwrap(),
                        0,
                    )
                }
            };
            assert_eq!(key(re.clone()).await, key(rd.clone()).await, "one match");
            assert_eq!(
                game_ids(&store, &c, C).await,
                vec![rd.clone()],
                "the first stored copy counts, not the lowest id"
            );
            assert_eq!(store.export_user(&c).await.unwrap().games_total, 1);
            assert_eq!(board(store.clone()).await, vec![(uid(C), 1)]);
            // Each uploader's own copy is the one in their history (with C's game: C is a
            // verified player they have played with).
            assert_eq!(
                game_ids(&store, &private(D), D).await,
                sorted(vec![rd.clone(), own.clone()])
            );
            assert_eq!(
                game_ids(&store, &private(E), E).await,
                sorted(vec![re.clone(), own.clone()])
            );

            // C hides the game: it counts nowhere for C (either copy), and only for C.
            assert!(store.hide_game(&c, &rd).await.unwrap());
            assert!(store.is_hidden(&c, &re).await.unwrap());
            assert!(game_ids(&store, &c, C).await.is_empty());
            let export = store.export_user(&c).await.unwrap();
            assert_eq!((export.games_total, export.hidden_games.len()), (0, 2));
            assert!(board(store.clone()).await.is_empty());
            let summary = store
                .games_summary(&c, uid(C), &Default::default())
                .await
                .unwrap();
            assert_eq!(summary.games, 0);
            assert_eq!(
                game_ids(&store, &private(D), D).await,
                sorted(vec![rd.clone(), own.clone()])
            );
            // Hiding what one cannot open changes nothing; unhiding brings it back.
            assert!(!store.hide_game(&c, &rs).await.unwrap());
            assert!(store.unhide_game(&c, &rd).await.unwrap());
            assert_eq!(game_ids(&store, &c, C).await.len(), 1);
            // A copy with one doctored scoreboard number is not that match: it never stands in
            // for the real one (it is a game of its own, which C can hide).
            let doctored = common::edit::with_int_property(
                &common::edit::same_match_copy(&fixture(), 900),
                "Score",
                5,
            );
            let rx = analyzed(&pool, doctored, dm_upload(E)).await;
            assert_ne!(key(rx.clone()).await, key(rd.clone()).await);
            assert!(game_ids(&store, &c, C).await.contains(&rd));
            pool.shutdown(Duration::from_secs(5)).await;
        }
    }
);

both_backends!(
    deleting_an_account_leaves_nothing_of_its_uploads,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let pool = WorkerPool::start(store.clone(), config());
            let ra = analyzed(&pool, fixture(), dm_upload(A)).await;
            // B uploads his own recording of the match, and C a file claiming its GUID.
            let rb = analyzed(
                &pool,
                common::edit::same_match_copy(&fixture(), 2),
                dm_upload(B),
            )
            .await;
            let rc = analyzed(&pool, common::header_only_bytes(&fixture()), dm_upload(C)).await;
            pool.shutdown(Duration::from_secs(5)).await;
            // B's copy joined A's match (keyed by A's replay id), and B hid it.
            assert!(store.hide_game(&private(B), &rb).await.unwrap());
            assert_eq!(store.delete_user(&private(A)).await.unwrap(), 1);
            // Nothing derived from A's bytes is left: no row, no report, no file.
            for table in ["replays", "analyses", "game_stats", "jobs", "uploads"] {
                let n: i64 = sqlx::Row::get(
                    &sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT COUNT(*) FROM {table} WHERE replay_id = $1"
                    )))
                    .bind(&ra)
                    .fetch_one(store.pool())
                    .await
                    .unwrap(),
                    0,
                );
                assert_eq!(n, 0, "{table} keeps a row of A's replay");
            }
            let n: i64 = sqlx::Row::get(
                &sqlx::query("SELECT COUNT(*) FROM analyses WHERE report_json LIKE $1")
                    .bind(format!("%{ra}%"))
                    .fetch_one(store.pool())
                    .await
                    .unwrap(),
                0,
            );
            assert_eq!(n, 0, "no stored report mentions A's replay");
            for sql in [
                "SELECT COUNT(*) FROM game_stats WHERE match_key = $1",
                "SELECT COUNT(*) FROM hidden_games WHERE match_key = $1 OR replay_id = $1",
            ] {
                let n: i64 = sqlx::Row::get(
                    &sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(&ra)
                        .fetch_one(store.pool())
                        .await
                        .unwrap(),
                    0,
                );
                assert_eq!(n, 0, "{sql}: A's replay id is left as a key");
            }
            assert!(
                store.is_hidden(&private(B), &rb).await.unwrap(),
                "B's hide holds"
            );
            assert!(!store.replay_path(&ra).exists());
            for v in [A, B, C] {
                assert!(store.report(&private(v), &ra).await.unwrap().is_none());
            }
            // The others' own files are theirs still.
            assert!(store.report(&private(B), &rb).await.unwrap().is_some());
            assert!(store.report(&private(C), &rc).await.unwrap().is_some());
            assert_eq!(store.stored_files().await.len(), 2);
        }
    }
);

both_backends!(
    a_game_hidden_before_its_analysis_stays_hidden,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let c = private(C);
            store
                .verify_identity(&c, &player("cometten"))
                .await
                .unwrap();
            let pool = WorkerPool::start(store.clone(), config());
            analyzed(&pool, fixture(), dm_upload(C)).await;
            pool.shutdown(Duration::from_secs(5)).await;
            // C uploads his second recording of the match and hides it before it is analyzed.
            let intake = Intake::new(store.clone(), config());
            let copy = common::edit::same_match_copy(&fixture(), 3);
            let rc = replay_id(&intake.submit(copy, dm_upload(C)).await.unwrap());
            assert!(store.hide_game(&c, &rc).await.unwrap());
            // Analyzed, it joins the match of C's first copy: the whole match stays hidden.
            let pool = WorkerPool::start(store.clone(), config());
            tokio::time::timeout(Duration::from_secs(60), async {
                while store
                    .report(&c, &rc)
                    .await
                    .unwrap()
                    .is_none_or(|r| r.players.is_empty())
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
            .await
            .expect("analyzed");
            pool.shutdown(Duration::from_secs(5)).await;
            assert!(game_ids(&store, &c, C).await.is_empty());
        }
    }
);
