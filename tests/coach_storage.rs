//! The coach's storage on SQLite and on a fresh PostgreSQL database: the budget can never go
//! below zero under concurrency, reservations left by crashes are released, the 80 % warning
//! fires once, plans follow their sources, and conversations and notes are the owner's only.

mod common;

use rlcoach::coach::Usage;
use rlcoach::storage::{
    NewMessage, NoteCategory, NoteSource, PlanSource, StorageError, Store, Tier, UserId, Viewer,
};
use sqlx::Row;

fn me(n: i64) -> Viewer {
    Viewer::user(UserId::from_db(n))
}

/// used + reserved straight from the table (the invariant is about the rows, not the API).
async fn taken(store: &Store, user: i64, period: i64) -> (i64, i64) {
    let r = sqlx::query(
        "SELECT used_tokens, reserved_tokens FROM coach_usage WHERE user_id = $1 AND period_start = $2",
    )
    .bind(user)
    .bind(period)
    .fetch_one(store.pool())
    .await
    .unwrap();
    (r.try_get(0).unwrap(), r.try_get(1).unwrap())
}

fn usage(input: u32, output: u32) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        ..Usage::default()
    }
}

both_backends!(
    fifty_concurrent_requests_never_take_the_budget_below_zero,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            const LIMIT: u64 = 150_000;
            let viewer = me(7);
            let month = store.plan(&viewer).await.unwrap().period_start;
            // Five rounds (five periods) of fifty calls at once, each wanting exactly 10,000
            // tokens (2,000 input + 8,000 output, no smaller cap accepted): after the 10 tokens
            // already used, 14 fit and the 15th must be refused.
            for round in 0..5 {
                let period = month + round;
                // The period's ledger row exists already (creating it would serialize the
                // first reservations on the primary key and hide a missing row lock).
                let first = store
                    .reserve_tokens(&viewer, period, LIMIT, 10, 10, 1)
                    .await
                    .unwrap()
                    .unwrap();
                store
                    .settle_tokens(&first, &usage(10, 0), LIMIT)
                    .await
                    .unwrap();
                let mut tasks = Vec::new();
                for _ in 0..50 {
                    let store = store.clone();
                    tasks.push(tokio::spawn(async move {
                        store
                            .reserve_tokens(&viewer, period, LIMIT, 2_000, 8_000, 8_000)
                            .await
                            .unwrap()
                    }));
                }
                let mut granted = Vec::new();
                for t in tasks {
                    granted.extend(t.await.unwrap());
                }
                assert_eq!(granted.len(), 14, "round {round}: 14 calls fit");
                let (used, held) = taken(&store, 7, period).await;
                assert_eq!((used, held), (10, 140_000));
                // Every call then used far more than it reserved (a bad estimate): the user
                // is charged at most what was reserved, so the budget still ends at or above
                // zero.
                let mut settles = Vec::new();
                for r in granted {
                    let store = store.clone();
                    settles.push(tokio::spawn(async move {
                        store
                            .settle_tokens(&r, &usage(30_000, 9_000), LIMIT)
                            .await
                            .unwrap()
                    }));
                }
                let mut warnings = 0;
                for s in settles {
                    warnings += usize::from(s.await.unwrap().crossed_warning);
                }
                assert_eq!(taken(&store, 7, period).await, (140_010, 0));
                assert_eq!(warnings, 1, "the 80 % warning fires exactly once");
                // Then a smaller call takes what is left, and nothing more fits.
                let last = store
                    .reserve_tokens(&viewer, period, LIMIT, 2_000, 8_000, 256)
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(last.max_output, 7_990);
                assert!(
                    store
                        .reserve_tokens(&viewer, period, LIMIT, 1, 1, 1)
                        .await
                        .unwrap()
                        .is_none()
                );
            }
            let budget = store.coach_budget(&viewer, LIMIT).await.unwrap();
            assert_eq!(
                (budget.used, budget.reserved, budget.left()),
                (140_010, 9_990, 0)
            );
        }
    }
);

both_backends!(
    reservations_settle_to_real_usage_and_crashed_ones_are_released,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            const LIMIT: u64 = 20_000;
            let viewer = me(8);
            let period = store.plan(&viewer).await.unwrap().period_start;
            let r = store
                .reserve_tokens(&viewer, period, LIMIT, 3_000, 8_000, 256)
                .await
                .unwrap()
                .unwrap();
            assert_eq!((r.tokens, r.max_output), (11_000, 8_000));
            // Thinking is recorded apart and not charged.
            let mut u = usage(2_500, 1_500);
            u.thinking_tokens = 1_000;
            let settled = store.settle_tokens(&r, &u, LIMIT).await.unwrap();
            assert_eq!(settled.charged, 3_000);
            assert!(!settled.crossed_warning);
            let b = store.coach_budget(&viewer, LIMIT).await.unwrap();
            assert_eq!(
                (b.used, b.reserved, b.thinking, b.requests),
                (3_000, 0, 1_000, 1)
            );
            // Less than a full output cap left: the call gets what is left.
            let r2 = store
                .reserve_tokens(&viewer, period, LIMIT, 10_000, 8_000, 256)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(r2.max_output, 7_000);
            // A crash: the reservation stays until the sweeper's timeout.
            assert_eq!(store.release_stale_reservations(60_000).await.unwrap(), 0);
            assert_eq!(taken(&store, 8, period).await, (3_000, 17_000));
            assert_eq!(store.release_stale_reservations(-1).await.unwrap(), 1);
            assert_eq!(taken(&store, 8, period).await, (3_000, 0));
            // Settling a swept reservation later charges only what still fits.
            let late = store
                .settle_tokens(&r2, &usage(30_000, 0), LIMIT)
                .await
                .unwrap();
            assert_eq!(late.charged, 17_000);
            assert!(late.crossed_warning);
            assert_eq!(taken(&store, 8, period).await, (20_000, 0));
        }
    }
);

both_backends!(plans_follow_their_sources, |db: &common::db::TestDb| {
    let store = db.store.clone();
    async move {
        let u = UserId::from_db(9);
        let viewer = Viewer::user(u);
        let now = rlcoach::storage::now_ms();
        assert_eq!(store.plan(&viewer).await.unwrap().tier, Tier::Free);
        store
            .set_plan(u, PlanSource::Operator, Tier::Pro, None, None)
            .await
            .unwrap();
        let p = store.plan(&viewer).await.unwrap();
        assert_eq!((p.tier, p.source), (Tier::Pro, Some(PlanSource::Operator)));
        // A second source with a billing period: losing the operator grant keeps Pro, and the
        // budget period is the billing one.
        let period = (now - 86_400_000, now + 29 * 86_400_000);
        store
            .set_plan(
                u,
                PlanSource::Stripe,
                Tier::Pro,
                Some(period.1),
                Some(period),
            )
            .await
            .unwrap();
        store
            .set_plan(u, PlanSource::Operator, Tier::Free, None, None)
            .await
            .unwrap();
        let p = store.plan(&viewer).await.unwrap();
        assert_eq!(p.source, Some(PlanSource::Stripe));
        assert_eq!((p.period_start, p.period_end), period);
        // Ended: Free, with calendar-month periods.
        store
            .set_plan(
                u,
                PlanSource::Stripe,
                Tier::Pro,
                Some(now - 1),
                Some(period),
            )
            .await
            .unwrap();
        let p = store.plan(&viewer).await.unwrap();
        assert_eq!(p.tier, Tier::Free);
        assert_eq!(
            (p.period_start, p.period_end),
            rlcoach::storage::coach::month_bounds(now)
        );
    }
});

both_backends!(
    conversations_and_notes_are_the_owners_only,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let (a, b) = (me(10), me(11));
            let c = store
                .create_conversation(&a, Some(4242), "ask", "A · boost")
                .await
                .unwrap();
            store
                .append_messages(
                    &a,
                    &c.id,
                    &[NewMessage::of(rlcoach::coach::Message::user_text("hi"))],
                )
                .await
                .unwrap();
            // B can neither read nor write A's conversation, by id or by channel.
            assert!(store.conversation(&b, &c.id).await.unwrap().is_none());
            assert!(matches!(
                store.conversation_messages(&b, &c.id).await,
                Err(StorageError::NotFound)
            ));
            assert!(matches!(
                store
                    .append_messages(
                        &b,
                        &c.id,
                        &[NewMessage::of(rlcoach::coach::Message::user_text("x"))]
                    )
                    .await,
                Err(StorageError::NotFound)
            ));
            assert!(
                store
                    .conversation_in_channel(&b, 4242)
                    .await
                    .unwrap()
                    .is_none()
            );
            let mine = store.conversation_messages(&a, &c.id).await.unwrap();
            assert_eq!(mine.len(), 1);
            assert_eq!(mine[0].message.text(), "hi");

            let note = store
                .add_note(
                    &a,
                    NoteCategory::Weakness,
                    "  bcpm 290, below C2  ",
                    NoteSource::Coach,
                )
                .await
                .unwrap();
            assert_eq!(note.body, "bcpm 290, below C2");
            assert!(!store.delete_note(&b, &note.id).await.unwrap());
            assert!(store.notes(&b).await.unwrap().is_empty());
            assert_eq!(store.notes(&a).await.unwrap().len(), 1);
            assert!(matches!(
                store
                    .add_note(&a, NoteCategory::Goal, "   ", NoteSource::User)
                    .await,
                Err(StorageError::Invalid(_))
            ));
            // The coach's notes roll over at the cap; the user is told to delete one.
            for i in 0..60 {
                store
                    .add_note(
                        &a,
                        NoteCategory::Observation,
                        &format!("n{i}"),
                        NoteSource::Coach,
                    )
                    .await
                    .unwrap();
            }
            let notes = store.notes(&a).await.unwrap();
            assert_eq!(notes.len(), rlcoach::storage::coach::MAX_NOTES);
            assert_eq!(notes.last().unwrap().body, "n59");
            assert!(matches!(
                store
                    .add_note(&a, NoteCategory::Goal, "x", NoteSource::User)
                    .await,
                Err(StorageError::Invalid(_))
            ));

            // Export carries them; delete removes them (the ledger stays).
            let period = store.plan(&a).await.unwrap().period_start;
            let r = store
                .reserve_tokens(&a, period, 150_000, 100, 100, 1)
                .await
                .unwrap()
                .unwrap();
            store
                .settle_tokens(&r, &usage(100, 50), 150_000)
                .await
                .unwrap();
            let export = store.export_user(&a).await.unwrap();
            assert_eq!(export.coach.conversations.len(), 1);
            assert_eq!(export.coach.conversations[0].messages.len(), 1);
            assert_eq!(export.coach.notes.len(), 50);
            assert_eq!(export.coach.usage.len(), 1);
            store.delete_user(&a).await.unwrap();
            for table in ["coach_conversations", "coach_notes"] {
                let n: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT COUNT(*) FROM {table} WHERE user_id = 10"
                )))
                .fetch_one(store.pool())
                .await
                .unwrap()
                .try_get(0)
                .unwrap();
                assert_eq!(n, 0, "{table}");
            }
            let n: i64 = sqlx::query("SELECT COUNT(*) FROM coach_messages")
                .fetch_one(store.pool())
                .await
                .unwrap()
                .try_get(0)
                .unwrap();
            assert_eq!(n, 0);
            assert_eq!(store.coach_budget(&a, 150_000).await.unwrap().used, 150);
        }
    }
);
