//! Storage, intake, the durable queue and the worker pool, each test run against SQLite and
//! against a fresh PostgreSQL database.

mod common;

use std::time::Duration;

use rlcoach::benchmarks::Metric;
use rlcoach::jobs::{Completion, Intake, IntakeError, JobEvent, PoolConfig, WorkerPool};
use rlcoach::storage::queries::{GameFilter, GameSort, TrendBucket};
use rlcoach::storage::{
    ClaimedJob, JobState, NewUpload, StorageConfig, StorageError, Store, SubmitOutcome, UserId,
    Viewer,
};
use rlcoach::{Limits, Report};
use sqlx::Row as _;

fn config() -> PoolConfig {
    PoolConfig {
        workers: 2,
        poll: Duration::from_millis(100),
        ..PoolConfig::default()
    }
}

/// An upload by `user` in channel 600 of guild 500, answered publicly there.
fn upload(user: i64) -> NewUpload {
    NewUpload {
        guild_id: Some(500),
        channel_id: Some(600),
        message_id: Some(700 + user),
        file_name: Some("game.replay".into()),
        ..NewUpload::by(UserId::from_db(user))
    }
}

/// User `n` asking in channel 600 of guild 500 (where `upload` answers publicly).
fn in_channel(n: i64) -> Viewer {
    Viewer::in_channel(UserId::from_db(n), Some(500), 600)
}

/// User `n` asking privately (a DM, the web).
fn user(n: i64) -> Viewer {
    Viewer::user(UserId::from_db(n))
}

fn replay() -> Vec<u8> {
    common::fixture("small-doubles.replay")
}

async fn wait_for(
    rx: &mut tokio::sync::broadcast::Receiver<JobEvent>,
    replay_id: &str,
) -> Completion {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if let JobEvent::Finished(c) = rx.recv().await.expect("pool alive")
                && c.replay_id == replay_id
            {
                return c;
            }
        }
    })
    .await
    .expect("completion within 60 s")
}

/// Polls until the replay's report is stored; false after a minute.
async fn stored_within_a_minute(store: &rlcoach::storage::Store, replay_id: &str) -> bool {
    tokio::time::timeout(Duration::from_secs(60), async {
        while store
            .report(&in_channel(99), replay_id)
            .await
            .unwrap()
            .is_none()
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .is_ok()
}

fn replay_id_of(o: &SubmitOutcome) -> String {
    match o {
        SubmitOutcome::Analyzed { replay_id, .. }
        | SubmitOutcome::Failed { replay_id, .. }
        | SubmitOutcome::Pending { replay_id, .. } => replay_id.clone(),
        SubmitOutcome::Busy { .. } => panic!("busy"),
    }
}

both_backends!(
    drop_is_queued_analyzed_stored_and_delivered_once,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let pool = WorkerPool::start(store.clone(), config());
            let mut rx = pool.subscribe();
            let first = pool.intake().submit(replay(), upload(1)).await.unwrap();
            let SubmitOutcome::Pending { position, .. } = &first else {
                panic!("{first:?}")
            };
            assert!(*position <= 1);
            let id = replay_id_of(&first);
            let done = wait_for(&mut rx, &id).await;
            assert_eq!(done.error, None);

            let report = store
                .report(&user(1), &id)
                .await
                .unwrap()
                .expect("report stored");
            assert_eq!(report.metadata.replay_id, id);
            assert!(
                store.replay_path(&id).exists(),
                "file stored content-addressed"
            );
            let waiting = store.pending_deliveries(Some(&id)).await.unwrap();
            assert_eq!(waiting.len(), 1);
            assert_eq!(
                (waiting[0].user_id, waiting[0].error.clone()),
                (UserId::from_db(1), None)
            );
            let one = store.pending_delivery(&waiting[0].upload_id).await.unwrap();
            assert_eq!(one.as_ref(), Some(&waiting[0]));
            // A claim on the answer: held until its lease ends, which the bot's rescan watches.
            assert_eq!(store.earliest_delivery_claim_end().await.unwrap(), None);
            let before = rlcoach::storage::now_ms();
            let lease = Duration::from_secs(15);
            assert!(
                store
                    .claim_delivery(&waiting[0].upload_id, lease)
                    .await
                    .unwrap()
            );
            assert!(
                !store
                    .claim_delivery(&waiting[0].upload_id, lease)
                    .await
                    .unwrap()
            );
            let end = store.earliest_delivery_claim_end().await.unwrap().unwrap();
            assert!((before + 15_000..=rlcoach::storage::now_ms() + 15_000).contains(&end));
            assert!(store.mark_delivered(&waiting[0].upload_id).await.unwrap());
            assert_eq!(store.earliest_delivery_claim_end().await.unwrap(), None);
            assert_eq!(
                store.pending_delivery(&waiting[0].upload_id).await.unwrap(),
                None
            );
            assert!(
                !store.mark_delivered(&waiting[0].upload_id).await.unwrap(),
                "delivered twice"
            );
            assert!(store.pending_deliveries(None).await.unwrap().is_empty());

            // The same file again answers at once from storage and is not analyzed again.
            let again = pool.intake().submit(replay(), upload(2)).await.unwrap();
            assert!(matches!(again, SubmitOutcome::Analyzed { .. }), "{again:?}");
            let stats = store.queue_stats().await.unwrap();
            assert_eq!(
                (stats.done, stats.queued, stats.running, stats.failed),
                (1, 0, 0, 0)
            );
            pool.shutdown(Duration::from_secs(5)).await;
        }
    }
);

both_backends!(
    fifty_concurrent_drops_of_one_replay_make_one_analysis_and_fifty_answers,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let pool = WorkerPool::start(store.clone(), config());
            let intake = pool.intake();
            let bytes = replay();
            let mut handles = Vec::new();
            for user in 0..50 {
                let intake = intake.clone();
                let bytes = bytes.clone();
                handles.push(tokio::spawn(async move {
                    intake.submit(bytes, upload(1000 + user)).await
                }));
            }
            let mut ids = Vec::new();
            for h in handles {
                ids.push(replay_id_of(&h.await.unwrap().unwrap()));
            }
            ids.dedup();
            assert_eq!(ids.len(), 1, "one replay id for all");
            let id = &ids[0];
            // Wait until the analysis is stored, then every upload is owed an answer.
            assert!(stored_within_a_minute(&store, id).await, "analysis stored");
            let stats = store.queue_stats().await.unwrap();
            assert_eq!(
                stats.done + stats.queued + stats.running + stats.failed,
                1,
                "exactly one job"
            );
            let owed = store.pending_deliveries(Some(id)).await.unwrap();
            assert_eq!(owed.len(), 50);
            let mut users: Vec<UserId> = owed.iter().map(|d| d.user_id).collect();
            users.sort();
            users.dedup();
            assert_eq!(users.len(), 50);
            pool.shutdown(Duration::from_secs(5)).await;
        }
    }
);

both_backends!(
    a_job_whose_worker_died_runs_again_and_completes_exactly_once,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            // Queue without workers running.
            let intake = Intake::new(store.clone(), config());
            let id = replay_id_of(&intake.submit(replay(), upload(1)).await.unwrap());

            // A worker claims the job and "crashes" mid-job: it never heartbeats or finishes.
            let dead = store
                .claim_job(Duration::from_millis(300))
                .await
                .unwrap()
                .expect("claimable");
            assert_eq!(dead.attempt, 1);
            assert!(
                store
                    .claim_job(Duration::from_secs(60))
                    .await
                    .unwrap()
                    .is_none(),
                "leased job is not claimable"
            );

            // After a restart, the job runs again once the lease has expired.
            tokio::time::sleep(Duration::from_millis(400)).await;
            let pool = WorkerPool::start(
                store.clone(),
                PoolConfig {
                    workers: 2,
                    ..config()
                },
            );
            assert!(
                stored_within_a_minute(&store, &id).await,
                "job re-ran after the lease expired"
            );
            // The dead worker coming back cannot complete or fail it a second time.
            let report = store.report(&user(1), &id).await.unwrap().unwrap();
            assert!(!store.complete_job(&dead, &report).await.unwrap());
            assert!(!store.fail_job(&dead, "late", false, None).await.unwrap());
            let (state, _, attempts) = store.job_state(&id).await.unwrap().unwrap();
            assert_eq!((state, attempts), (rlcoach::storage::JobState::Done, 2));
            // Delivered exactly once.
            let owed = store.pending_deliveries(None).await.unwrap();
            assert_eq!(owed.len(), 1);
            assert!(store.mark_delivered(&owed[0].upload_id).await.unwrap());
            assert!(store.pending_deliveries(None).await.unwrap().is_empty());
            pool.shutdown(Duration::from_secs(5)).await;
        }
    }
);

both_backends!(
    bad_files_are_refused_before_anything_is_stored,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let pool = WorkerPool::start(store.clone(), config());
            let intake = pool.intake();
            for (bytes, what) in [
                (Vec::new(), "empty"),
                (b"definitely not a replay".to_vec(), "not a replay"),
                (replay()[..5000].to_vec(), "truncated"),
            ] {
                let err = intake.submit(bytes, upload(9)).await.unwrap_err();
                assert!(matches!(err, IntakeError::Replay(_)), "{what}: {err}");
                assert!(!err.user_message().is_empty());
            }
            let stats = store.queue_stats().await.unwrap();
            assert_eq!(stats, Default::default(), "nothing queued");
            assert!(store.my_uploads(&user(9), 10).await.unwrap().is_empty());
            pool.shutdown(Duration::from_secs(5)).await;
        }
    }
);

both_backends!(full_queue_answers_busy, |db: &common::db::TestDb| {
    let store = db.store.clone();
    async move {
        let intake = Intake::new(
            store.clone(),
            PoolConfig {
                max_queue: 1,
                ..config()
            },
        );
        intake.submit(replay(), upload(1)).await.unwrap();
        // The same bytes are not refused (nothing new to queue)...
        let o = intake.submit(replay(), upload(2)).await.unwrap();
        assert!(matches!(o, SubmitOutcome::Pending { .. }), "{o:?}");
        // ...but any other file is, even one claiming the same match GUID (a file proves only
        // its own bytes, so it is a replay of its own to analyze).
        let same_match = common::header_only_bytes(&replay());
        let o = intake.submit(same_match, upload(3)).await.unwrap();
        assert!(matches!(o, SubmitOutcome::Busy { queued: 1 }), "{o:?}");
        let other = common::distinct_copy(&replay(), 1);
        let o = intake.submit(other, upload(3)).await.unwrap();
        assert!(matches!(o, SubmitOutcome::Busy { queued: 1 }), "{o:?}");
    }
});

both_backends!(
    failures_retry_then_fail_and_the_uploader_hears_why,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            // A zero time budget makes every analysis time out (a failure of ours, so retried).
            let cfg = PoolConfig {
                job_timeout: Duration::ZERO,
                max_attempts: 2,
                ..config()
            };
            let pool = WorkerPool::start(store.clone(), cfg);
            let mut rx = pool.subscribe();
            let id = replay_id_of(&pool.intake().submit(replay(), upload(1)).await.unwrap());
            let c = tokio::time::timeout(Duration::from_secs(30), wait_for(&mut rx, &id))
                .await
                .unwrap();
            assert!(
                c.error.as_deref().unwrap_or_default().contains("too long"),
                "{c:?}"
            );
            let (state, _, attempts) = store.job_state(&id).await.unwrap().unwrap();
            assert_eq!((state, attempts), (rlcoach::storage::JobState::Failed, 2));
            let owed = store.pending_deliveries(Some(&id)).await.unwrap();
            assert_eq!(owed.len(), 1);
            assert!(owed[0].error.is_some());
            pool.shutdown(Duration::from_secs(5)).await;
        }
    }
);

both_backends!(
    queries_are_scoped_to_the_asker,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let pool = WorkerPool::start(store.clone(), config());
            let mut rx = pool.subscribe();
            let id = replay_id_of(&pool.intake().submit(replay(), upload(1)).await.unwrap());
            wait_for(&mut rx, &id).await;
            pool.shutdown(Duration::from_secs(5)).await;
            let report = store.report(&user(1), &id).await.unwrap().unwrap();
            let me = &report.players[0];

            let alice = in_channel(1);
            let bob = in_channel(2);
            let (a, b) = (UserId::from_db(1), UserId::from_db(2));
            // Only players from one's own uploads can be linked.
            let claimable = store.claimable_identities(&alice).await.unwrap();
            assert_eq!(claimable.len(), report.players.len());
            assert!(matches!(
                store.link_identity(&bob, &me.id).await,
                Err(StorageError::Invalid(_))
            ));
            store.link_identity(&alice, &me.id).await.unwrap();
            let linked = store.identities(&alice).await.unwrap();
            assert_eq!(
                linked.iter().map(|l| &l.player).collect::<Vec<_>>(),
                vec![&me.id]
            );

            let games = store.recent_games(&alice, a, 10, None).await.unwrap();
            assert_eq!(games.len(), 1);
            assert_eq!(
                (games[0].name.as_str(), games[0].goals),
                (me.name.as_str(), i64::from(me.core.goals))
            );
            assert_eq!(games[0].metric("bcpm"), me.boost.as_ref().map(|b| b.bcpm));
            // Private by default: Bob cannot read Alice's games, trends or sessions.
            assert!(matches!(
                store.recent_games(&bob, a, 10, None).await,
                Err(StorageError::Forbidden)
            ));
            assert!(matches!(
                store.trend(&bob, a, "bcpm", 10, None).await,
                Err(StorageError::Forbidden)
            ));
            assert!(matches!(
                store.sessions(&bob, a, 5).await,
                Err(StorageError::Forbidden)
            ));
            assert!(matches!(
                store.games_summary(&bob, a, &GameFilter::default()).await,
                Err(StorageError::Forbidden)
            ));
            assert!(matches!(
                store.compare_with_user(&bob, b, a, 10, None).await,
                Err(StorageError::Forbidden)
            ));
            // Against oneself every metric is level: nothing better, nothing worse.
            let same = store
                .compare_with_user(&alice, a, a, 10, None)
                .await
                .unwrap()
                .rows;
            assert!(
                !same.is_empty()
                    && same
                        .iter()
                        .all(|c| c.better.is_none() && c.value == c.reference)
            );
            // Leaderboard: inside the guild only; private users only see themselves.
            assert!(matches!(
                store.leaderboard(&user(2), 500, "bcpm", 1, 10).await,
                Err(StorageError::Forbidden)
            ));
            assert!(
                store
                    .leaderboard(&bob, 500, "bcpm", 1, 10)
                    .await
                    .unwrap()
                    .is_empty()
            );
            let lb = store.leaderboard(&alice, 500, "bcpm", 1, 10).await.unwrap();
            assert_eq!(lb.len(), 1);
            assert_eq!(lb[0].user_id, a);
            // Unknown stats are refused, not interpolated into SQL.
            assert!(matches!(
                store
                    .leaderboard(&alice, 500, "bcpm; DROP TABLE users", 1, 10)
                    .await,
                Err(StorageError::Invalid(_))
            ));

            store.set_public_profile(&alice, true).await.unwrap();
            assert_eq!(
                store.recent_games(&bob, a, 10, None).await.unwrap().len(),
                1
            );
            assert_eq!(
                store
                    .leaderboard(&bob, 500, "bcpm", 1, 10)
                    .await
                    .unwrap()
                    .len(),
                1
            );

            let trend = store
                .trend(&alice, a, "avg_speed_uu_s", 10, None)
                .await
                .unwrap();
            assert_eq!(trend.len(), 1);
            assert!((trend[0].1 - me.movement.as_ref().unwrap().avg_speed).abs() < 1e-6);
            let sessions = store.sessions(&alice, a, 5).await.unwrap();
            assert_eq!(sessions.len(), 1);
            let won = report.metadata.score[usize::from(me.team)]
                > report.metadata.score[1 - usize::from(me.team)];
            assert_eq!((sessions[0].games, sessions[0].wins), (1, usize::from(won)));
            let vs_rank = store
                .compare_with_rank(&alice, a, "GC1", 10, None)
                .await
                .unwrap();
            assert_eq!(
                (
                    vs_rank.playlist.as_str(),
                    vs_rank.benchmark_playlist,
                    vs_rank.games
                ),
                (report.metadata.playlist.as_str(), Some("doubles"), 1)
            );
            assert_eq!(
                vs_rank.benchmark_note(),
                None,
                "doubles games, doubles numbers"
            );
            // Asked about another playlist: nothing of these games is averaged into it.
            let duel = store
                .compare_with_rank(&alice, a, "GC1", 10, Some("DUEL"))
                .await
                .unwrap();
            assert_eq!((duel.games, duel.rows.len()), (0, 0));
            assert!(duel.benchmark_note().unwrap().contains("doubles numbers"));
            let vs_rank = vs_rank.rows;
            assert!(
                vs_rank
                    .iter()
                    .any(|c| c.metric == "bcpm" && c.p25 == Some(330.0))
            );
            let summaries = store.playlist_summaries(&alice, a, 50).await.unwrap();
            assert_eq!(summaries.len(), 1);
            assert_eq!(summaries[0].games, 1);

            // The summary Home shows, aggregated in SQL: games, wins, averages, mechanics.
            let all = GameFilter::default();
            let sum = store.games_summary(&alice, a, &all).await.unwrap();
            let mech = me.mechanics.as_ref().expect("the fixture counts mechanics");
            assert_eq!(
                (sum.games, sum.wins, sum.mechanics_games),
                (1, i64::from(won), 1)
            );
            assert_eq!(sum.mechanics[0], ("Flips", i64::from(mech.flips)));
            assert_eq!(sum.mechanics[4], ("Aerials", i64::from(mech.aerials)));
            assert_eq!(sum.average("bcpm"), me.boost.as_ref().map(|b| b.bcpm));
            // Rows stored before the mechanics columns existed are filled from the report.
            sqlx::query("UPDATE game_stats SET mechanics_stored = 0, flips = NULL, aerials = NULL")
                .execute(store.pool())
                .await
                .unwrap();
            let before = store.games_summary(&alice, a, &all).await.unwrap();
            assert_eq!((before.mechanics[0].1, before.mechanics_games), (0, 0));
            assert_eq!(store.backfill_mechanics(10).await.unwrap(), 1);
            assert_eq!(store.backfill_mechanics(10).await.unwrap(), 0);
            assert_eq!(store.games_summary(&alice, a, &all).await.unwrap(), sum);
            // A second linked identity (another player of Alice's upload): the list reads each
            // link's games and merges them, newest first, with filters and pages in SQL.
            let other = &report.players[1];
            store.link_identity(&alice, &other.id).await.unwrap();
            let both = store.recent_games(&alice, a, 10, None).await.unwrap();
            let mut names: Vec<&str> = both.iter().map(|g| g.name.as_str()).collect();
            names.sort_unstable();
            let mut expected = vec![me.name.as_str(), other.name.as_str()];
            expected.sort_unstable();
            assert_eq!(names, expected);
            let page = store
                .games_page(&alice, a, &all, GameSort::BestScore, 2, 1)
                .await
                .unwrap();
            assert_eq!((page.total, page.rows.len()), (2, 1));
            assert_ne!(
                me.core.score, other.core.score,
                "the fixture tells the pages apart"
            );
            let lower = i64::from(me.core.score.min(other.core.score));
            assert_eq!(
                page.rows[0].score, lower,
                "page 2 of 1 holds the lower score"
            );
            // Every sort over the merged links, on both databases (a column named twice in the
            // merged rows would make PostgreSQL's ORDER BY ambiguous), and a page far past the
            // end is empty, not an overflow.
            for sort in GameSort::ALL {
                let rows = store
                    .games_page(&alice, a, &all, sort, 1, 25)
                    .await
                    .unwrap_or_else(|e| panic!("{sort:?}: {e}"));
                assert_eq!(rows.rows.len(), 2, "{sort:?}");
            }
            let far = store
                .games_page(&alice, a, &all, GameSort::MostGoals, i64::MAX, 200)
                .await
                .unwrap();
            assert!(far.rows.is_empty());
            // Many links (claimed players with no games here): one join instead of a branch
            // each, with the same two games in every order.
            for k in 0..40 {
                sqlx::query(
                    "INSERT INTO user_identities (user_id, platform, platform_id, linked_at, verified)
                     VALUES ($1, 'epic', $2, 0, 0)",
                )
                .bind(a.get())
                .bind(format!("nobody-{k}"))
                .execute(store.pool())
                .await
                .unwrap();
            }
            for sort in GameSort::ALL {
                let many = store
                    .games_page(&alice, a, &all, sort, 1, 25)
                    .await
                    .unwrap_or_else(|e| panic!("{sort:?} over 42 links: {e}"));
                assert_eq!((many.total, many.rows.len()), (2, 2), "{sort:?}");
            }
            let page2 = store
                .games_page(&alice, a, &all, GameSort::BestScore, 2, 1)
                .await
                .unwrap();
            assert_eq!(page2.rows[0].score, lower);
            sqlx::query("DELETE FROM user_identities WHERE platform_id LIKE 'nobody-%'")
                .execute(store.pool())
                .await
                .unwrap();
            let wins_only = GameFilter {
                won: Some(true),
                ..GameFilter::default()
            };
            let winners = store
                .games_page(&alice, a, &wins_only, GameSort::Newest, 1, 25)
                .await
                .unwrap();
            assert!(winners.rows.iter().all(|g| g.won));
            assert_eq!(winners.total, winners.rows.len() as i64);
            assert_eq!(
                store
                    .trend(&alice, a, "bcpm", 10, None)
                    .await
                    .unwrap()
                    .len(),
                [me, other].iter().filter(|p| p.boost.is_some()).count()
            );
            assert_eq!(store.games_summary(&alice, a, &all).await.unwrap().games, 2);
            assert!(store.unlink_identity(&alice, &other.id).await.unwrap());

            // Export and delete.
            let export = store.export_user(&alice).await.unwrap();
            assert_eq!((export.uploads.len(), export.games.len()), (1, 1));
            assert_eq!(
                store.delete_user(&alice).await.unwrap(),
                1,
                "the replay only Alice uploaded goes too"
            );
            assert!(store.report(&user(1), &id).await.unwrap().is_none());
            assert!(!store.replay_path(&id).exists());
            assert!(store.identities(&alice).await.unwrap().is_empty());
        }
    }
);

both_backends!(
    settings_and_migrations_are_idempotent,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        let config = db.config.clone();
        async move {
            store.migrate().await.unwrap();
            let again = rlcoach::storage::Store::open(&config).await.unwrap();
            again.close().await;
            store.set_auto_analyze(500, 601, true).await.unwrap();
            store.set_auto_analyze(500, 602, true).await.unwrap();
            store.set_auto_analyze(500, 602, false).await.unwrap();
            assert!(store.is_auto_analyze(500, 601).await.unwrap());
            assert!(!store.is_auto_analyze(500, 602).await.unwrap());
            assert!(!store.is_auto_analyze(501, 601).await.unwrap());
            store.set_reply_mode(500, true).await.unwrap();
            let s = store.guild_settings(500).await.unwrap();
            assert_eq!(
                (s.reply_mode.as_str(), s.auto_analyze_channels),
                ("private", vec![601])
            );
        }
    }
);

both_backends!(
    stale_analyses_are_rerun_in_place_by_a_newer_analyzer,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let pool = WorkerPool::start(store.clone(), config());
            let mut rx = pool.subscribe();
            let id = replay_id_of(&pool.intake().submit(replay(), upload(1)).await.unwrap());
            wait_for(&mut rx, &id).await;
            let owed = store.pending_deliveries(Some(&id)).await.unwrap();
            assert!(store.mark_delivered(&owed[0].upload_id).await.unwrap());
            let current = rlcoach::report::ANALYZER_VERSION;
            assert_eq!(
                store.requeue_stale_analyses(current).await.unwrap(),
                0,
                "nothing stale yet"
            );

            // What an upgrade leaves behind: a report stored by an older analyzer.
            sqlx::query(
                "UPDATE analyses SET analyzer_version = 'rlcoach-0.0.1+old' WHERE replay_id = $1",
            )
            .bind(&id)
            .execute(store.pool())
            .await
            .unwrap();
            assert_eq!(store.requeue_stale_analyses(current).await.unwrap(), 1);
            wait_for(&mut rx, &id).await;
            let fresh = store.report(&user(1), &id).await.unwrap().unwrap();
            assert_eq!(fresh.analyzer_version, current);
            assert_eq!(store.requeue_stale_analyses(current).await.unwrap(), 0);
            // Nobody is answered twice for a re-analysis.
            assert!(
                store
                    .pending_deliveries(Some(&id))
                    .await
                    .unwrap()
                    .is_empty()
            );
            pool.shutdown(Duration::from_secs(5)).await;
        }
    }
);

/// The `game_stats` columns that hold a benchmark metric (each named after it); each is bound as
/// an optional float, NULL when the report has no value.
const METRIC_COLUMNS: [&str; 16] = [
    "bcpm",
    "avg_boost_amount",
    "pct_zero_boost",
    "pct_full_boost",
    "boost_stolen",
    "avg_speed_uu_s",
    "pct_supersonic",
    "pct_slow_speed",
    "pct_on_ground",
    "pct_low_air",
    "pct_high_air",
    "pct_offensive_third",
    "pct_defensive_third",
    "pct_behind_ball",
    "avg_distance_to_ball",
    "avg_distance_to_teammates",
];

/// Checks that the stored report and every player's stat row are exactly `r`'s.
async fn assert_stored(store: &Store, replay_id: &str, r: &Report, context: &str) {
    // As the report reads back from its JSON (floats may move by an ulp there).
    let mut expected: Report = serde_json::from_str(&serde_json::to_string(r).unwrap()).unwrap();
    expected.upgrade_stored();
    let stored = store.report(&in_channel(99), replay_id).await.unwrap();
    assert!(
        stored.as_ref() == Some(&expected),
        "{context}: stored report differs"
    );
    let sql = format!(
        "SELECT goals, {} FROM game_stats WHERE replay_id = $1 AND platform = $2 AND platform_id = $3",
        METRIC_COLUMNS.join(", ")
    );
    for p in &r.players {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .bind(replay_id)
            .bind(&p.id.platform)
            .bind(&p.id.id)
            .fetch_one(store.pool())
            .await
            .unwrap_or_else(|e| panic!("{context}: {}'s row: {e}", p.name));
        assert_eq!(row.try_get::<i64, _>(0).unwrap(), i64::from(p.core.goals));
        for (i, key) in METRIC_COLUMNS.iter().enumerate() {
            let want = Metric::by_key(key).unwrap().value(p);
            let got: Option<f64> = row.try_get(i + 1).unwrap();
            assert_eq!(got, want, "{context}: {key} of {}", p.name);
        }
    }
}

// Issue 16: PostgreSQL prepares a statement once per connection and reuses it; through sqlx's Any
// driver a NULL float was bound with another type than a value (FLOAT4 against the column's
// DOUBLE PRECISION), so whichever report a connection stored first decided whether later ones
// failed ("incorrect binary data format in bind parameter 36": a 1v1 player has no team-mate
// distance). Here every replay at hand — 1v1, 2v2, 3v3, and each one's header-only report (no
// stats at all) — is stored first on a fresh pool, then all the others at once, round after round.
both_backends!(
    every_report_stores_whatever_the_connection_stored_before,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        let storage_config = db.config.clone();
        async move {
            let mut inputs = vec![replay()];
            for path in common::corpus().unwrap_or_default() {
                inputs.push(std::fs::read(path).unwrap());
            }
            // Without the corpus, copies of the fixture that are other matches.
            if inputs.len() < 3 {
                inputs.extend((1..=2).map(|n| common::distinct_copy(&replay(), n)));
            }
            let intake = Intake::new(
                store.clone(),
                PoolConfig {
                    max_queue: 1000,
                    ..config()
                },
            );
            // Per replay: its id and its two reports, full and header-only.
            let mut entries: Vec<(String, [Report; 2])> = Vec::new();
            for (i, bytes) in inputs.iter().enumerate() {
                let outcome = intake.submit(bytes.clone(), upload(i as i64)).await;
                let id = replay_id_of(&outcome.unwrap());
                if entries.iter().any(|(e, _)| *e == id) {
                    continue; // the fixture is a copy of a corpus replay
                }
                let full = rlcoach::analyze(bytes, &Limits::default()).unwrap();
                let bare = common::header_only_bytes(bytes);
                let header_only = rlcoach::analyze(&bare, &Limits::default()).unwrap();
                assert!(full.quality.network_parsed && !header_only.quality.network_parsed);
                entries.push((id, [full, header_only]));
            }
            let n = entries.len();
            let report_of = |id: &str, header_only: bool| {
                let (_, reports) = entries.iter().find(|(e, _)| e == id).unwrap();
                reports[usize::from(header_only)].clone()
            };
            // Each replay goes first twice: its full report on a pool of one connection (which
            // then stores all the others), its header-only one on a pool of eight (the first
            // of these rounds on one).
            for round in 0..2 * n {
                let first = &entries[round % n].0;
                let first_header_only = round >= n;
                let connections = if round <= n { 1 } else { 8 };
                let fresh = Store::open(&StorageConfig {
                    max_connections: connections,
                    ..storage_config.clone()
                })
                .await
                .unwrap();
                sqlx::query(
                    "UPDATE jobs SET state = 'queued', attempts = 0, run_after = 0,
                         lease_token = NULL, lease_until = NULL, finished_at = NULL",
                )
                .execute(fresh.pool())
                .await
                .unwrap();
                let mut jobs: Vec<ClaimedJob> = Vec::new();
                while let Some(job) = fresh.claim_job(Duration::from_secs(600)).await.unwrap() {
                    jobs.push(job);
                }
                assert_eq!(jobs.len(), n);
                jobs.sort_by(|a, b| a.replay_id.cmp(&b.replay_id));
                jobs.rotate_left(round % n);
                let at = jobs.iter().position(|j| j.replay_id == *first).unwrap();
                let first_job = jobs.remove(at);
                let mut plan = vec![(first_job, report_of(first, first_header_only))];
                for (i, job) in jobs.into_iter().enumerate() {
                    let r = report_of(&job.replay_id, (i + round) % 3 == 0);
                    plan.push((job, r));
                }
                let context = |job: &ClaimedJob, r: &Report| {
                    format!(
                        "round {round} ({connections} connections, first {first} {}): {} {}v{}{}",
                        if first_header_only {
                            "header-only"
                        } else {
                            "full"
                        },
                        job.replay_id,
                        r.metadata.team_size,
                        r.metadata.team_size,
                        if r.quality.network_parsed {
                            ""
                        } else {
                            " header-only"
                        },
                    )
                };
                // The first alone, so it is what a fresh connection prepares; then all at once.
                let (job, r) = &plan[0];
                let stored = fresh.complete_job(job, r).await;
                assert!(
                    matches!(stored, Ok(true)),
                    "{}: {stored:?}",
                    context(job, r)
                );
                let mut tasks = Vec::new();
                for (job, r) in plan[1..].iter().cloned() {
                    let fresh = fresh.clone();
                    tasks.push(tokio::spawn(async move {
                        let stored = fresh.complete_job(&job, &r).await;
                        (job, r, stored)
                    }));
                }
                for t in tasks {
                    let (job, r, stored) = t.await.unwrap();
                    assert!(
                        matches!(stored, Ok(true)),
                        "{}: {stored:?}",
                        context(&job, &r)
                    );
                }
                for (job, r) in &plan {
                    assert_stored(&store, &job.replay_id, r, &context(job, r)).await;
                }
                fresh.close().await;
            }
        }
    }
);

/// Makes storing any analysis fail while `inject_store_failure` holds a row (a trigger on
/// `analyses`): a failure of ours to store a result.
async fn install_store_failure(store: &Store) {
    let statements: &[&'static str] = match store.backend() {
        rlcoach::storage::Backend::Postgres => &[
            "CREATE TABLE inject_store_failure (armed BIGINT)",
            "CREATE FUNCTION inject_store_failure() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF EXISTS (SELECT 1 FROM inject_store_failure) THEN
                     RAISE EXCEPTION 'injected failure to store an analysis';
                 END IF;
                 RETURN NEW;
             END $$",
            "CREATE TRIGGER inject_store_failure BEFORE INSERT ON analyses
             FOR EACH ROW EXECUTE FUNCTION inject_store_failure()",
        ],
        rlcoach::storage::Backend::Sqlite => &[
            "CREATE TABLE inject_store_failure (armed BIGINT)",
            "CREATE TRIGGER inject_store_failure BEFORE INSERT ON analyses
             WHEN EXISTS (SELECT 1 FROM inject_store_failure)
             BEGIN SELECT RAISE(ABORT, 'injected failure to store an analysis'); END",
        ],
    };
    for sql in statements {
        sqlx::query(*sql).execute(store.pool()).await.unwrap();
    }
}

async fn set_store_failure(store: &Store, armed: bool) {
    let sql = if armed {
        "INSERT INTO inject_store_failure (armed) VALUES (1)"
    } else {
        "DELETE FROM inject_store_failure"
    };
    sqlx::query(sql).execute(store.pool()).await.unwrap();
}

/// Polls the replay's job until `done` holds for (state, last error, attempts); None after a
/// minute.
async fn job_reaches(
    store: &Store,
    replay_id: &str,
    done: impl Fn(JobState, Option<&str>, i64) -> bool,
) -> Option<(JobState, Option<String>, i64)> {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let s = store.job_state(replay_id).await.unwrap().unwrap();
            if done(s.0, s.1.as_deref(), s.2) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .ok()
}

// Issue 16: when storing a finished analysis failed, the worker kept the job's lease and the job
// waited it out (60 s by default) before anyone ran it again. The lease here is ten minutes: the
// job must be back in the queue (not running under our lease) at once, and run again after the
// short retry backoff.
both_backends!(
    a_result_that_fails_to_store_is_retried_within_seconds_not_after_the_lease,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            install_store_failure(&store).await;
            set_store_failure(&store, true).await;
            let pool = WorkerPool::start(
                store.clone(),
                PoolConfig {
                    workers: 1,
                    lease: Duration::from_secs(600),
                    max_attempts: 3,
                    ..config()
                },
            );
            let mut rx = pool.subscribe();
            let id = replay_id_of(&pool.intake().submit(replay(), upload(1)).await.unwrap());
            // Claimed, then no longer running under the worker's lease (or marked failed).
            let after_failure = job_reaches(&store, &id, |state, error, attempts| {
                attempts >= 1 && (state != JobState::Running || error.is_some())
            })
            .await;
            let Some((state, error, attempts)) = after_failure else {
                let now = store.job_state(&id).await.unwrap();
                panic!("the failed store kept the job under its lease: {now:?}");
            };
            assert_eq!(state, JobState::Queued, "{error:?}");
            assert_eq!(attempts, 1);
            assert!(error.is_some());
            assert!(store.report(&user(1), &id).await.unwrap().is_none());
            assert!(
                store
                    .pending_deliveries(Some(&id))
                    .await
                    .unwrap()
                    .is_empty(),
                "nobody is told anything while a retry is due"
            );

            set_store_failure(&store, false).await;
            let done = wait_for(&mut rx, &id).await;
            assert_eq!(done.error, None);
            let (state, error, attempts) = store.job_state(&id).await.unwrap().unwrap();
            assert_eq!((state, error, attempts), (JobState::Done, None, 2));
            assert!(store.report(&user(1), &id).await.unwrap().is_some());
            pool.shutdown(Duration::from_secs(5)).await;
        }
    }
);

// Failing a job whose worker died on its last attempt takes a write lock; it is the pool's sweep
// (at start, then every `PoolConfig::sweep`), not something each worker does on every tick.
both_backends!(
    a_job_abandoned_on_its_last_attempt_is_failed_by_the_sweep_not_by_worker_ticks,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let one_try = PoolConfig {
                workers: 1,
                max_attempts: 1,
                sweep: Duration::from_secs(3600),
                ..config()
            };
            let intake = Intake::new(store.clone(), one_try.clone());
            // Two jobs allowed one attempt each, claimed by a worker that then dies.
            let mut claimed = Vec::new();
            for n in 1..=2 {
                let bytes = common::distinct_copy(&replay(), n);
                let id = replay_id_of(&intake.submit(bytes, upload(i64::from(n))).await.unwrap());
                let job = store
                    .claim_job(Duration::from_secs(600))
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!((job.replay_id.as_str(), job.attempt), (id.as_str(), 1));
                claimed.push(job);
            }
            let (first, second) = (claimed[0].replay_id.clone(), claimed[1].replay_id.clone());
            // The first one's lease has run out before the pool starts; the second's has not.
            assert!(store.heartbeat(&claimed[0], Duration::ZERO).await.unwrap());
            tokio::time::sleep(Duration::from_millis(5)).await;

            // Starting a pool sweeps once: the uploader hears that the analysis failed.
            let pool = WorkerPool::start(store.clone(), one_try.clone());
            let swept = job_reaches(&store, &first, |state, _, _| state == JobState::Failed).await;
            assert!(swept.is_some(), "not failed by the start-up sweep");
            let owed = store.pending_deliveries(Some(&first)).await.unwrap();
            assert_eq!(owed.len(), 1);
            assert!(owed[0].error.is_some());

            // The second one's lease runs out while the pool runs: the worker goes on claiming and
            // finishing another job without touching it; the next sweep (an hour away) will.
            assert!(store.heartbeat(&claimed[1], Duration::ZERO).await.unwrap());
            tokio::time::sleep(Duration::from_millis(5)).await;
            let mut rx = pool.subscribe();
            let other = common::distinct_copy(&replay(), 3);
            let other = replay_id_of(&pool.intake().submit(other, upload(3)).await.unwrap());
            assert_eq!(wait_for(&mut rx, &other).await.error, None);
            let (state, _, _) = store.job_state(&second).await.unwrap().unwrap();
            assert_eq!(
                state,
                JobState::Running,
                "a worker tick failed the abandoned job"
            );
            pool.shutdown(Duration::from_secs(5)).await;

            // The next pool's sweep fails it.
            let pool = WorkerPool::start(store.clone(), one_try);
            let swept = job_reaches(&store, &second, |state, _, _| state == JobState::Failed).await;
            assert!(swept.is_some(), "not failed by the sweep");
            pool.shutdown(Duration::from_secs(5)).await;
        }
    }
);

both_backends!(
    shutdown_lets_a_running_analysis_finish_within_the_grace,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let pool = WorkerPool::start(
                store.clone(),
                PoolConfig {
                    workers: 1,
                    ..config()
                },
            );
            let mut rx = pool.subscribe();
            let running = replay_id_of(&pool.intake().submit(replay(), upload(1)).await.unwrap());
            let queued = replay_id_of(
                &pool
                    .intake()
                    .submit(common::distinct_copy(&replay(), 5), upload(2))
                    .await
                    .unwrap(),
            );
            // Stop while the first analysis runs: it finishes and is stored; the queued one
            // waits for the next start.
            loop {
                if let JobEvent::Started { replay_id } = rx.recv().await.unwrap()
                    && replay_id == running
                {
                    break;
                }
            }
            pool.shutdown(Duration::from_secs(10)).await;
            let (state, _, _) = store.job_state(&running).await.unwrap().unwrap();
            assert_eq!(state, JobState::Done, "the running analysis was finished");
            let (state, _, _) = store.job_state(&queued).await.unwrap().unwrap();
            assert_eq!(
                state,
                JobState::Queued,
                "nothing new is claimed after the stop"
            );
        }
    }
);

both_backends!(
    trends_count_the_games_that_have_the_stat,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            // Two games of one player: the older analyzed in full, the newer from its header alone
            // (its network stream could not be decoded), so it has no boost stats.
            let pool = WorkerPool::start(store.clone(), config());
            let mut rx = pool.subscribe();
            let full = common::distinct_copy(&replay(), 11);
            let full_id = replay_id_of(&pool.intake().submit(full, upload(1)).await.unwrap());
            wait_for(&mut rx, &full_id).await;
            let bare = common::header_only_bytes(&common::distinct_copy(&replay(), 12));
            let bare_id = replay_id_of(&pool.intake().submit(bare, upload(1)).await.unwrap());
            wait_for(&mut rx, &bare_id).await;
            pool.shutdown(Duration::from_secs(5)).await;
            sqlx::query("UPDATE game_stats SET played_at = played_at + 60000 WHERE replay_id = $1")
                .bind(&bare_id)
                .execute(store.pool())
                .await
                .unwrap();
            let report = store.report(&user(1), &full_id).await.unwrap().unwrap();
            let me = &report.players[0];
            let bcpm = me.boost.as_ref().unwrap().bcpm;
            let alice = user(1);
            let a = UserId::from_db(1);
            store.link_identity(&alice, &me.id).await.unwrap();
            let games = store.recent_games(&alice, a, 10, None).await.unwrap();
            assert_eq!(games.len(), 2);
            assert_eq!(games[0].metric("bcpm"), None, "the newest game has no bcpm");

            // "The last game" of a bcpm trend is the last game that has one.
            let trend = store.trend(&alice, a, "bcpm", 1, None).await.unwrap();
            assert_eq!(trend.len(), 1);
            assert!((trend[0].1 - bcpm).abs() < 1e-6);
            // The same through the site's series, with a bound filter and a second (empty) link,
            // so the term joins numbered parameters in every branch of the merged walk.
            sqlx::query(
                "INSERT INTO user_identities (user_id, platform, platform_id, linked_at, verified)
                 VALUES ($1, 'epic', 'nobody-trend', 0, 0)",
            )
            .bind(a.get())
            .execute(store.pool())
            .await
            .unwrap();
            let filter = GameFilter {
                playlist: Some(games[1].playlist.clone()),
                ..GameFilter::default()
            };
            let per_game = store
                .trend_series(&alice, a, "bcpm", &filter, TrendBucket::Game, 1)
                .await
                .unwrap();
            assert_eq!(per_game.len(), 1, "the newest game with a bcpm");
            assert!((per_game[0].value - bcpm).abs() < 1e-6);
            // Sessions and weeks still cover both games (a game without the stat can join or
            // split a session), and their counts and averages take the one with it.
            for bucket in [TrendBucket::Session, TrendBucket::Week] {
                let points = store
                    .trend_series(&alice, a, "bcpm", &filter, bucket, 2)
                    .await
                    .unwrap();
                assert_eq!(points.len(), 1, "{bucket:?}");
                assert_eq!(
                    points[0].games, 1,
                    "{bucket:?}: the game without bcpm not counted"
                );
                assert!((points[0].value - bcpm).abs() < 1e-6, "{bucket:?}");
            }
        }
    }
);

both_backends!(
    a_daily_quota_bounds_each_users_uploads,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let size = replay().len() as i64;
            let intake = Intake::new(
                store.clone(),
                PoolConfig {
                    quota: rlcoach::storage::UploadQuota {
                        files_per_day: 3,
                        bytes_per_day: size * 10,
                    },
                    ..config()
                },
            );
            for n in 0..3 {
                let o = intake
                    .submit(common::distinct_copy(&replay(), n), upload(1))
                    .await
                    .unwrap();
                assert!(matches!(o, SubmitOutcome::Pending { .. }), "{o:?}");
            }
            let files = store.stored_files().await.len();
            // The fourth file of the day is refused with a clear reason, and nothing is kept —
            // the same bytes again count as a file too.
            for bytes in [common::distinct_copy(&replay(), 3), replay()] {
                let err = intake.submit(bytes, upload(1)).await.unwrap_err();
                assert!(matches!(err, IntakeError::OverQuota(_)), "{err:?}");
                let msg = err.user_message();
                assert!(
                    msg.contains("upload limit") && msg.contains("3 files"),
                    "{msg}"
                );
            }
            assert_eq!(store.stored_files().await.len(), files);
            assert_eq!(store.my_uploads(&user(1), 10).await.unwrap().len(), 3);
            // Another user is not affected.
            let o = intake
                .submit(common::distinct_copy(&replay(), 4), upload(2))
                .await
                .unwrap();
            assert!(matches!(o, SubmitOutcome::Pending { .. }), "{o:?}");

            // Bytes: room for two files, not three.
            let intake = Intake::new(
                store.clone(),
                PoolConfig {
                    quota: rlcoach::storage::UploadQuota {
                        files_per_day: 100,
                        bytes_per_day: size * 2 + size / 2,
                    },
                    ..config()
                },
            );
            for n in 10..12 {
                intake
                    .submit(common::distinct_copy(&replay(), n), upload(3))
                    .await
                    .unwrap();
            }
            let err = intake
                .submit(common::distinct_copy(&replay(), 12), upload(3))
                .await
                .unwrap_err();
            let IntakeError::OverQuota(q) = err else {
                panic!("{err:?}")
            };
            assert_eq!((q.files, q.bytes), (2, size * 2));
            assert!(q.retry_at_ms > rlcoach::storage::now_ms() + 23 * 3_600_000);
        }
    }
);
