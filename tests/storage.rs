//! Storage, intake, the durable queue and the worker pool, each test run against SQLite and
//! against a fresh PostgreSQL database.

mod common;

use std::time::Duration;

use rlcoach::jobs::{Completion, Intake, IntakeError, JobEvent, PoolConfig, WorkerPool};
use rlcoach::storage::{NewUpload, StorageError, SubmitOutcome, UserId, Viewer};

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
        // A different replay (re-sealed with a damaged stream: new sha256, same match GUID)
        // dedups by GUID, so it is not refused...
        let same_match = common::header_only_bytes(&replay());
        let o = intake.submit(same_match, upload(2)).await.unwrap();
        assert!(matches!(o, SubmitOutcome::Pending { .. }), "{o:?}");
        // ...but a genuinely new one is.
        let Some(files) = common::corpus() else {
            return;
        };
        let other = std::fs::read(&files[0]).unwrap();
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
