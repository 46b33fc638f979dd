//! Billing on SQLite and on a fresh PostgreSQL database: Stripe webhooks signed here with the
//! endpoint secret go through the same two calls the webhook route makes (verify + parse, then
//! `Store::apply_stripe_event`), and plans are read back with `Store::plan_of`; Discord
//! entitlements; and the Stripe client against a fake Stripe server on 127.0.0.1.

mod common;
#[path = "common/fake_stripe.rs"]
mod fake_stripe;

use fake_stripe::{DAY, FakeStripe, Sub, checkout_completed, envelope, invoice};
use rlcoach::billing::{
    StripeClient, StripeClientError, StripeConfig, WebhookError, signature_header, verified_event,
};
use rlcoach::coach::Usage;
use rlcoach::storage::{
    Applied, Entitlement, PlanSource, StorageError, Store, Tier, UserId, Viewer, now_ms,
};
use serde_json::json;
use sqlx::Row;

const SECRET: &str = "whsec_test_secret";
const USER: u64 = 424_242_424_242;

fn user() -> UserId {
    UserId::from_discord(USER)
}

fn now_s() -> i64 {
    now_ms() / 1000
}

/// What the webhook route answers.
#[derive(Debug)]
enum Outcome {
    /// 400: unsigned, forged, stale or unreadable.
    Rejected(WebhookError),
    /// 500: Stripe retries.
    Failed(StorageError),
    /// 200.
    Ok(Applied),
}

async fn deliver(store: &Store, header: &str, body: &[u8]) -> Outcome {
    let event = match verified_event(SECRET, header, body, now_s()) {
        Ok(e) => e,
        Err(e) => return Outcome::Rejected(e),
    };
    match store.apply_stripe_event(&event.event, &event.id).await {
        Ok(a) => Outcome::Ok(a),
        Err(e) => Outcome::Failed(e),
    }
}

/// Signs `event` now, as Stripe does, and delivers it; panics unless it is applied.
async fn send(store: &Store, event: &serde_json::Value) -> Applied {
    let body = serde_json::to_vec(event).unwrap();
    match deliver(store, &signature_header(SECRET, now_s(), &body), &body).await {
        Outcome::Ok(a) => a,
        other => panic!("{other:?}"),
    }
}

/// What a rejected delivery's error must be.
type Expect = fn(&WebhookError) -> bool;

async fn count(store: &Store, table: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

async fn tier(store: &Store, at_s: i64) -> Tier {
    store.plan_of(user(), at_s * 1000).await.unwrap().tier
}

both_backends!(
    a_valid_event_makes_pro_in_one_call,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let now = now_s();
            assert_eq!(tier(&store, now).await, Tier::Free);
            // The subscription's own event names the user (our checkout puts them in its
            // metadata): one delivery is enough, whatever came before it.
            let mut sub = Sub::active("sub_1", "cus_1", (now - DAY, now + 29 * DAY));
            sub.discord_user = Some(USER);
            let applied = send(&store, &sub.event("evt_1", "created", now)).await;
            assert_eq!(
                applied,
                Applied::Done {
                    user: Some(user()),
                    past_due: false
                }
            );
            let plan = store.plan_of(user(), now_ms()).await.unwrap();
            assert!(plan.is_pro());
            assert_eq!(plan.source, Some(PlanSource::Stripe));
            // The billing period is the coach budget period.
            assert_eq!(
                (plan.period_start, plan.period_end),
                ((now - DAY) * 1000, (now + 29 * DAY) * 1000)
            );
            assert_eq!(
                store
                    .stripe_customer_of(&Viewer::user(user()))
                    .await
                    .unwrap()
                    .as_deref(),
                Some("cus_1")
            );

            // A paid checkout alone (its subscription's events still on the way) is Pro too.
            let other = UserId::from_discord(77);
            let applied = send(
                &store,
                &checkout_completed("evt_2", now, 77, "cus_2", "sub_2"),
            )
            .await;
            assert_eq!(
                applied,
                Applied::Done {
                    user: Some(other),
                    past_due: false
                }
            );
            assert!(store.plan_of(other, now_ms()).await.unwrap().is_pro());
            // … and the subscription's event replaces the provisional state.
            let sub2 = Sub::active("sub_2", "cus_2", (now, now + 30 * DAY));
            send(&store, &sub2.event("evt_3", "created", now)).await;
            let plan = store.plan_of(other, now_ms()).await.unwrap();
            assert_eq!(plan.period_start, now * 1000);
        }
    }
);

both_backends!(
    forged_stale_and_unsigned_events_change_nothing,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let now = now_s();
            let mut sub = Sub::active("sub_1", "cus_1", (now - DAY, now + 29 * DAY));
            sub.discord_user = Some(USER);
            let body = serde_json::to_vec(&sub.event("evt_1", "created", now)).unwrap();

            let forged = signature_header("whsec_someone_else", now, &body);
            let stale = signature_header(SECRET, now - 301, &body);
            let future = signature_header(SECRET, now + 400, &body);
            let mut tampered = body.clone();
            let at = tampered.iter().position(|&b| b == b'a').unwrap();
            tampered[at] = b'b';
            let good_for_original = signature_header(SECRET, now, &body);
            let cases: Vec<(&str, &[u8], Expect)> = vec![
                ("", &body, |e| *e == WebhookError::Unsigned),
                (&forged, &body, |e| *e == WebhookError::Mismatch),
                (&stale, &body, |e| matches!(e, WebhookError::Stale { .. })),
                (&future, &body, |e| matches!(e, WebhookError::Stale { .. })),
                (&good_for_original, &tampered, |e| {
                    *e == WebhookError::Mismatch
                }),
                ("t=abc,v1=00", &body, |e| *e == WebhookError::Malformed),
            ];
            for (header, body, expected) in cases {
                match deliver(&store, header, body).await {
                    Outcome::Rejected(e) => assert!(expected(&e), "{header:?}: {e:?}"),
                    other => panic!("{header:?} was not rejected: {other:?}"),
                }
            }
            assert_eq!(tier(&store, now).await, Tier::Free);
            for table in [
                "stripe_events",
                "stripe_subscriptions",
                "stripe_customers",
                "user_plans",
            ] {
                assert_eq!(count(&store, table).await, 0, "{table}");
            }
            // The genuine delivery still works afterwards.
            assert!(matches!(
                deliver(&store, &good_for_original, &body).await,
                Outcome::Ok(Applied::Done { .. })
            ));
            assert_eq!(tier(&store, now).await, Tier::Pro);
        }
    }
);

both_backends!(
    the_same_event_twice_grants_once,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let now = now_s();
            let event = checkout_completed("evt_1", now, USER, "cus_1", "sub_1");
            assert!(matches!(send(&store, &event).await, Applied::Done { .. }));
            let first = store.plan_grants(user()).await.unwrap();
            // Redelivered later (a new signature, the same event id): nothing changes.
            assert_eq!(send(&store, &event).await, Applied::Duplicate);
            assert_eq!(store.plan_grants(user()).await.unwrap(), first);
            assert_eq!(count(&store, "stripe_events").await, 1);
            assert_eq!(count(&store, "stripe_customers").await, 1);
            assert_eq!(count(&store, "stripe_subscriptions").await, 1);
        }
    }
);

both_backends!(
    deleted_before_created_ends_free,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let now = now_s();
            send(
                &store,
                &checkout_completed("evt_0", now - 100, USER, "cus_1", "sub_other"),
            )
            .await;
            // `sub_other` was provisionally active from the checkout; cancel it for this test.
            let mut other = Sub::active("sub_other", "cus_1", (now - DAY, now + 29 * DAY));
            other.status = "canceled";
            send(&store, &other.event("evt_x", "deleted", now - 90)).await;

            let mut sub = Sub::active("sub_1", "cus_1", (now - DAY, now + 29 * DAY));
            // Stripe sent created, then (a minute later) deleted; they arrive the other way round.
            sub.status = "canceled";
            send(&store, &sub.event("evt_2", "deleted", now - 10)).await;
            assert_eq!(tier(&store, now).await, Tier::Free);
            sub.status = "active";
            send(&store, &sub.event("evt_1", "created", now - 70)).await;
            assert_eq!(tier(&store, now).await, Tier::Free);
            // Even an update stamped later cannot revive a canceled subscription.
            send(&store, &sub.event("evt_3", "updated", now)).await;
            assert_eq!(tier(&store, now).await, Tier::Free);
            let status: String = sqlx::query(
                "SELECT status FROM stripe_subscriptions WHERE subscription_id = 'sub_1'",
            )
            .fetch_one(store.pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
            assert_eq!(status, "canceled");

            // Updates out of order: the newest state wins, not the last to arrive.
            let mut sub3 = Sub::active("sub_3", "cus_1", (now - DAY, now + 5 * DAY));
            sub3.period_on_items = false; // older API versions
            sub3.cancel_at_period_end = true;
            send(&store, &sub3.event("evt_5", "updated", now - 5)).await;
            sub3.cancel_at_period_end = false;
            send(&store, &sub3.event("evt_4", "created", now - 50)).await;
            let plan = store.plan_of(user(), now_ms()).await.unwrap();
            assert_eq!(
                plan.ends_at,
                Some((now + 5 * DAY) * 1000),
                "cancellation kept"
            );
        }
    }
);

both_backends!(
    invoice_paid_starts_a_new_budget_period_once,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            const LIMIT: u64 = 100_000;
            let viewer = Viewer::user(user());
            let now = now_s();
            // The first period ended an hour ago; the renewal's invoice is paid now.
            let p1 = (now - 30 * DAY - 3600, now - 3600);
            let p2 = (now - 3600, now + 30 * DAY - 3600);
            let mut sub = Sub::active("sub_1", "cus_1", p1);
            sub.discord_user = Some(USER);
            send(&store, &sub.event("evt_1", "created", p1.0)).await;
            let in_p1 = (p1.0 + DAY) * 1000;
            let plan = store.plan_of(user(), in_p1).await.unwrap();
            assert_eq!(
                (plan.period_start, plan.period_end),
                (p1.0 * 1000, p1.1 * 1000)
            );
            // Tokens spent in the first period.
            let r = store
                .reserve_tokens(&viewer, p1.0 * 1000, LIMIT, 1_000, 1_000, 1)
                .await
                .unwrap()
                .unwrap();
            let used = Usage {
                input_tokens: 1_000,
                output_tokens: 500,
                ..Usage::default()
            };
            store.settle_tokens(&r, &used, LIMIT).await.unwrap();

            let paid = invoice("evt_2", "invoice.paid", now, "cus_1", "sub_1", p2);
            assert!(matches!(send(&store, &paid).await, Applied::Done { .. }));
            let plan = store.plan_of(user(), now_ms()).await.unwrap();
            assert!(plan.is_pro());
            assert_eq!(
                (plan.period_start, plan.period_end),
                (p2.0 * 1000, p2.1 * 1000)
            );
            let budget = store.coach_budget(&viewer, LIMIT).await.unwrap();
            assert_eq!(budget.period_start, p2.0 * 1000);
            assert_eq!((budget.used, budget.reserved), (0, 0), "a fresh budget");

            // Spend in the new period; neither the same event again nor the subscription's own
            // renewal update (arriving later, same period) starts another one.
            let r = store
                .reserve_tokens(&viewer, budget.period_start, LIMIT, 200, 100, 1)
                .await
                .unwrap()
                .unwrap();
            let used = Usage {
                input_tokens: 200,
                output_tokens: 100,
                ..Usage::default()
            };
            store.settle_tokens(&r, &used, LIMIT).await.unwrap();
            assert_eq!(send(&store, &paid).await, Applied::Duplicate);
            let renewed = Sub::active("sub_1", "cus_1", p2);
            send(&store, &renewed.event("evt_3", "updated", now - 3600)).await;
            let again = invoice("evt_4", "invoice.paid", now - 10, "cus_1", "sub_1", p2);
            send(&store, &again).await;
            let budget = store.coach_budget(&viewer, LIMIT).await.unwrap();
            assert_eq!(budget.period_start, p2.0 * 1000);
            assert_eq!(budget.used, 300);
            // The first period's ledger is untouched.
            let old: i64 = sqlx::query(
                "SELECT used_tokens FROM coach_usage WHERE user_id = $1 AND period_start = $2",
            )
            .bind(user().get())
            .bind(p1.0 * 1000)
            .fetch_one(store.pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
            assert_eq!(old, 1_500);
        }
    }
);

both_backends!(
    a_failing_handler_writes_nothing_and_the_retry_succeeds,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let now = now_s();
            let mut sub = Sub::active("sub_1", "cus_1", (now - DAY, now + 29 * DAY));
            sub.discord_user = Some(USER);
            let event = sub.event("evt_1", "created", now);
            // The database fails after the event id and the subscription were written: the plan
            // table is gone for a moment.
            sqlx::query("ALTER TABLE user_plans RENAME TO user_plans_away")
                .execute(store.pool())
                .await
                .unwrap();
            let body = serde_json::to_vec(&event).unwrap();
            let outcome = deliver(&store, &signature_header(SECRET, now_s(), &body), &body).await;
            assert!(
                matches!(outcome, Outcome::Failed(StorageError::Database(_))),
                "{outcome:?}"
            );
            for table in ["stripe_events", "stripe_subscriptions", "stripe_customers"] {
                assert_eq!(count(&store, table).await, 0, "{table} rolled back");
            }
            sqlx::query("ALTER TABLE user_plans_away RENAME TO user_plans")
                .execute(store.pool())
                .await
                .unwrap();
            assert_eq!(tier(&store, now).await, Tier::Free);
            // Stripe retries the same event: applied this time.
            assert!(matches!(send(&store, &event).await, Applied::Done { .. }));
            assert_eq!(tier(&store, now).await, Tier::Pro);
            assert_eq!(count(&store, "stripe_events").await, 1);
        }
    }
);

both_backends!(
    twenty_concurrent_deliveries_have_one_effect,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let now = now_s();
            let event = checkout_completed("evt_1", now, USER, "cus_1", "sub_1");
            let body = std::sync::Arc::new(serde_json::to_vec(&event).unwrap());
            let mut tasks = Vec::new();
            for _ in 0..20 {
                let (store, body) = (store.clone(), body.clone());
                tasks.push(tokio::spawn(async move {
                    let header = signature_header(SECRET, now_s(), &body);
                    deliver(&store, &header, &body).await
                }));
            }
            let mut applied = 0;
            let mut duplicates = 0;
            for t in tasks {
                match t.await.unwrap() {
                    Outcome::Ok(Applied::Done { .. }) => applied += 1,
                    Outcome::Ok(Applied::Duplicate) => duplicates += 1,
                    other => panic!("{other:?}"),
                }
            }
            assert_eq!((applied, duplicates), (1, 19));
            assert_eq!(count(&store, "stripe_events").await, 1);
            assert_eq!(count(&store, "stripe_customers").await, 1);
            assert_eq!(count(&store, "stripe_subscriptions").await, 1);
            assert_eq!(tier(&store, now).await, Tier::Pro);
        }
    }
);

both_backends!(
    cancel_at_period_end_keeps_pro_until_the_end,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let now = now_s();
            let end = now + 5 * DAY;
            let mut sub = Sub::active("sub_1", "cus_1", (now - 25 * DAY, end));
            sub.discord_user = Some(USER);
            send(&store, &sub.event("evt_1", "created", now - 25 * DAY)).await;
            sub.cancel_at_period_end = true;
            send(&store, &sub.event("evt_2", "updated", now)).await;
            let plan = store.plan_of(user(), now_ms()).await.unwrap();
            assert!(plan.is_pro());
            assert_eq!(plan.ends_at, Some(end * 1000));
            assert_eq!(tier(&store, end - 1).await, Tier::Pro);
            assert_eq!(tier(&store, end + 1).await, Tier::Free);
            // At the end Stripe deletes it: Free from then on.
            sub.status = "canceled";
            send(&store, &sub.event("evt_3", "deleted", end)).await;
            assert_eq!(tier(&store, now).await, Tier::Free);
            let stripe = store.plan_grants(user()).await.unwrap();
            assert_eq!(stripe.len(), 1);
            assert_eq!(
                (stripe[0].source, stripe[0].tier),
                (PlanSource::Stripe, Tier::Free)
            );
        }
    }
);

both_backends!(
    a_failed_payment_keeps_pro_for_the_grace_period,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let now = now_s();
            let p1 = (now - 30 * DAY, now - 3600);
            let p2 = (now - 3600, now + 30 * DAY - 3600);
            let mut sub = Sub::active("sub_1", "cus_1", p1);
            sub.discord_user = Some(USER);
            send(&store, &sub.event("evt_1", "created", p1.0)).await;
            let failed = invoice(
                "evt_2",
                "invoice.payment_failed",
                now - 60,
                "cus_1",
                "sub_1",
                p2,
            );
            assert_eq!(
                send(&store, &failed).await,
                Applied::Done {
                    user: Some(user()),
                    past_due: true
                }
            );
            // Pro for three days past the paid period, not the unpaid one.
            let grace_end = p1.1 + 3 * DAY;
            let plan = store.plan_of(user(), now_ms()).await.unwrap();
            assert_eq!(plan.ends_at, Some(grace_end * 1000));
            assert_eq!(tier(&store, grace_end + 1).await, Tier::Free);
            // The subscription's own update (past_due, already in the new period) agrees.
            sub.status = "past_due";
            sub.period = p2;
            send(&store, &sub.event("evt_3", "updated", now - 30)).await;
            assert_eq!(
                store.plan_of(user(), now_ms()).await.unwrap().ends_at,
                Some(grace_end * 1000)
            );
            let notices = store.past_due_notices().await.unwrap();
            assert_eq!(notices.len(), 1);
            assert_eq!(notices[0].user, user());
            assert_eq!(notices[0].pro_until, Some(grace_end * 1000));
            store.clear_past_due_notice("sub_1").await.unwrap();
            assert!(store.past_due_notices().await.unwrap().is_empty());
            // Stripe retries the card and it fails again: the user was told already.
            let again = invoice(
                "evt_2b",
                "invoice.payment_failed",
                now - 20,
                "cus_1",
                "sub_1",
                p2,
            );
            assert_eq!(
                send(&store, &again).await,
                Applied::Done {
                    user: Some(user()),
                    past_due: false
                }
            );
            assert!(
                store.past_due_notices().await.unwrap().is_empty(),
                "one message per fall into past due, not one per retry"
            );
            // The retry is paid: active again for the new period.
            send(
                &store,
                &invoice("evt_4", "invoice.paid", now, "cus_1", "sub_1", p2),
            )
            .await;
            let plan = store.plan_of(user(), now_ms()).await.unwrap();
            assert!(plan.is_pro());
            assert_eq!(plan.period_start, p2.0 * 1000);
            assert!(plan.ends_at > Some(p2.1 * 1000 - 1));
            // Retries exhausted on another subscription: unpaid is Free.
            let mut lapsed = Sub::active("sub_2", "cus_1", p2);
            lapsed.status = "unpaid";
            send(&store, &lapsed.event("evt_5", "created", now)).await;
            assert!(
                store.plan_of(user(), now_ms()).await.unwrap().is_pro(),
                "sub_1 still pays"
            );
        }
    }
);

both_backends!(
    a_subscription_before_its_checkout_waits_for_the_link,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let now = now_s();
            // No metadata on this subscription (made outside our checkout): nobody to grant yet.
            let sub = Sub::active("sub_1", "cus_1", (now - DAY, now + 29 * DAY));
            assert_eq!(
                send(&store, &sub.event("evt_1", "created", now - 2)).await,
                Applied::Done {
                    user: None,
                    past_due: false
                }
            );
            assert_eq!(tier(&store, now).await, Tier::Free);
            send(
                &store,
                &checkout_completed("evt_2", now - 3, USER, "cus_1", "sub_1"),
            )
            .await;
            let plan = store.plan_of(user(), now_ms()).await.unwrap();
            assert!(plan.is_pro());
            assert_eq!(
                plan.period_end,
                (now + 29 * DAY) * 1000,
                "the subscription's state kept"
            );
            // Refunds and disputes are for a human; nothing changes.
            let refund = envelope(
                "evt_3",
                "charge.refunded",
                now,
                json!({"id": "ch_1", "object": "charge", "customer": "cus_1",
                   "amount": 1000, "amount_refunded": 1000, "currency": "usd"}),
            );
            assert_eq!(send(&store, &refund).await, Applied::NeedsHuman);
            let dispute = envelope(
                "evt_4",
                "charge.dispute.created",
                now,
                json!({"id": "dp_1", "object": "dispute", "charge": "ch_1", "amount": 1000,
                   "currency": "usd", "reason": "fraudulent", "status": "needs_response"}),
            );
            assert_eq!(send(&store, &dispute).await, Applied::NeedsHuman);
            let other = envelope("evt_5", "customer.created", now, json!({"id": "cus_9"}));
            assert_eq!(send(&store, &other).await, Applied::Ignored);
            assert!(store.plan_of(user(), now_ms()).await.unwrap().is_pro());
        }
    }
);

both_backends!(
    a_deleted_customer_ends_its_subscriptions_and_its_link,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let now = now_s();
            let mut sub = Sub::active("sub_1", "cus_1", (now - DAY, now + 29 * DAY));
            sub.discord_user = Some(USER);
            send(&store, &sub.event("evt_1", "created", now - 5)).await;
            assert!(store.plan_of(user(), now_ms()).await.unwrap().is_pro());
            // Deleted in Stripe's Dashboard: its subscriptions are canceled at once, and their
            // own `deleted` events may come later (or not before this one).
            let deleted = envelope(
                "evt_2",
                "customer.deleted",
                now,
                json!({"id": "cus_1", "object": "customer", "deleted": true}),
            );
            assert_eq!(
                send(&store, &deleted).await,
                Applied::Done {
                    user: Some(user()),
                    past_due: false
                }
            );
            assert_eq!(tier(&store, now).await, Tier::Free);
            let me = Viewer::user(user());
            assert_eq!(store.stripe_customer_of(&me).await.unwrap(), None);
            assert_eq!(
                store
                    .billing_status(&me)
                    .await
                    .unwrap()
                    .subscription
                    .map(|s| s.status),
                Some("canceled".to_string())
            );
            // The subscription's own event, late, changes nothing (it names the user, but the
            // dead customer is not offered again); nor does a stale "updated".
            send(&store, &sub.event("evt_3", "deleted", now)).await;
            send(&store, &sub.event("evt_4", "updated", now - 1)).await;
            assert_eq!(tier(&store, now).await, Tier::Free);
            assert_eq!(store.stripe_customer_of(&me).await.unwrap(), None);
            assert_eq!(
                store
                    .deleted_stripe_customer_of(&me)
                    .await
                    .unwrap()
                    .as_deref(),
                Some("cus_1"),
                "a new customer gets an idempotency key of its own"
            );

            // Deleted before any of its events were seen: late ones make nobody Pro through it.
            let other = UserId::from_discord(77);
            let first = envelope("evt_10", "customer.deleted", now, json!({"id": "cus_2"}));
            send(&store, &first).await;
            let mut late = Sub::active("sub_2", "cus_2", (now - DAY, now + 29 * DAY));
            late.discord_user = Some(77);
            send(&store, &late.event("evt_11", "created", now - 5)).await;
            let period = (now - DAY, now + 29 * DAY);
            send(
                &store,
                &invoice("evt_12", "invoice.paid", now - 4, "cus_2", "sub_3", period),
            )
            .await;
            send(
                &store,
                &checkout_completed("evt_13", now - 3, 77, "cus_2", "sub_4"),
            )
            .await;
            assert!(!store.plan_of(other, now_ms()).await.unwrap().is_pro());
            assert_eq!(
                store
                    .stripe_customer_of(&Viewer::user(other))
                    .await
                    .unwrap(),
                None
            );

            // A user whose old customer is deleted and who pays through a new one stays Pro,
            // and the new one is the one offered.
            let mut again = Sub::active("sub_5", "cus_5", (now - DAY, now + 29 * DAY));
            again.discord_user = Some(USER);
            send(&store, &again.event("evt_14", "created", now)).await;
            assert_eq!(tier(&store, now).await, Tier::Pro);
            assert_eq!(
                store.stripe_customer_of(&me).await.unwrap().as_deref(),
                Some("cus_5")
            );
            // A past-due subscription whose customer is deleted owes no payment-failed message.
            let mut due = Sub::active("sub_6", "cus_6", (now - DAY, now + 29 * DAY));
            due.discord_user = Some(88);
            due.status = "past_due";
            send(&store, &due.event("evt_15", "updated", now - 2)).await;
            assert_eq!(store.past_due_notices().await.unwrap().len(), 1);
            let gone = envelope("evt_16", "customer.deleted", now, json!({"id": "cus_6"}));
            send(&store, &gone).await;
            assert!(store.past_due_notices().await.unwrap().is_empty());
            // A customer we never linked: recorded, nobody's plan changes.
            let stranger = envelope("evt_5", "customer.deleted", now, json!({"id": "cus_9"}));
            assert_eq!(
                send(&store, &stranger).await,
                Applied::Done {
                    user: None,
                    past_due: false
                }
            );
        }
    }
);

// ----- Discord App Subscriptions -----

const SKU: u64 = 1_300_000_000_000_000_001;

fn entitlement(id: u64, user: u64, sku: u64, ends_at: Option<i64>, deleted: bool) -> Entitlement {
    Entitlement {
        id,
        user: UserId::from_discord(user),
        sku,
        starts_at: ends_at.map(|e| e - 30 * DAY * 1000),
        ends_at,
        deleted,
    }
}

both_backends!(
    entitlements_grant_and_revoke_pro,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let now = now_s();
            let ends = (now + 10 * DAY) * 1000;
            let e = entitlement(9001, USER, SKU, Some(ends), false);
            store.apply_entitlement(&e, Some(SKU)).await.unwrap();
            let plan = store.plan_of(user(), now_ms()).await.unwrap();
            assert_eq!(
                (plan.tier, plan.source),
                (Tier::Pro, Some(PlanSource::Discord))
            );
            assert_eq!(
                (plan.period_start, plan.period_end),
                (ends - 30 * DAY * 1000, ends)
            );
            // Another SKU grants nothing.
            let other = entitlement(9002, 55, SKU + 1, None, false);
            store.apply_entitlement(&other, Some(SKU)).await.unwrap();
            assert!(
                !store
                    .plan_of(UserId::from_discord(55), now_ms())
                    .await
                    .unwrap()
                    .is_pro()
            );
            // ENTITLEMENT_DELETE.
            store
                .apply_entitlement(&entitlement(9001, USER, SKU, Some(ends), true), Some(SKU))
                .await
                .unwrap();
            assert_eq!(tier(&store, now).await, Tier::Free);
            // Its CREATE or UPDATE handled after the DELETE (events are handled concurrently)
            // cannot bring it back: deletion is final.
            store.apply_entitlement(&e, Some(SKU)).await.unwrap();
            assert_eq!(tier(&store, now).await, Tier::Free);
        }
    }
);

both_backends!(
    both_sources_stay_pro_after_losing_one,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let now = now_s();
            let mut sub = Sub::active("sub_1", "cus_1", (now - DAY, now + 29 * DAY));
            sub.discord_user = Some(USER);
            send(&store, &sub.event("evt_1", "created", now - 10)).await;
            let e = entitlement(9001, USER, SKU, Some((now + 10 * DAY) * 1000), false);
            store.apply_entitlement(&e, Some(SKU)).await.unwrap();
            assert_eq!(tier(&store, now).await, Tier::Pro);
            // Losing Discord's: Stripe's remains.
            store
                .apply_entitlement(&entitlement(9001, USER, SKU, e.ends_at, true), Some(SKU))
                .await
                .unwrap();
            let plan = store.plan_of(user(), now_ms()).await.unwrap();
            assert_eq!(
                (plan.tier, plan.source),
                (Tier::Pro, Some(PlanSource::Stripe))
            );
            // Subscribed on Discord again (a new entitlement), then losing Stripe's: Discord's
            // remains.
            let e = entitlement(9003, USER, SKU, e.ends_at, false);
            store.apply_entitlement(&e, Some(SKU)).await.unwrap();
            sub.status = "canceled";
            send(&store, &sub.event("evt_2", "deleted", now)).await;
            let plan = store.plan_of(user(), now_ms()).await.unwrap();
            assert_eq!(
                (plan.tier, plan.source),
                (Tier::Pro, Some(PlanSource::Discord))
            );
            // Every source is listed (what `rlcoach plan show` prints).
            let grants = store.plan_grants(user()).await.unwrap();
            let sources: Vec<_> = grants.iter().map(|g| (g.source, g.tier)).collect();
            assert_eq!(
                sources,
                vec![
                    (PlanSource::Discord, Tier::Pro),
                    (PlanSource::Stripe, Tier::Free)
                ]
            );
        }
    }
);

both_backends!(
    reconciling_entitlements_catches_up_on_missed_events,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let now = now_s();
            let ends = Some((now + 10 * DAY) * 1000);
            // Known before the bot went down: users 1 and 2.
            store
                .apply_entitlement(&entitlement(1, 1, SKU, ends, false), Some(SKU))
                .await
                .unwrap();
            store
                .apply_entitlement(&entitlement(2, 2, SKU, ends, false), Some(SKU))
                .await
                .unwrap();
            // While it was down: 1's was deleted, 3 subscribed. The list is read at `listed`.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            let listed = now_ms();
            let current = vec![
                entitlement(2, 2, SKU, ends, false),
                entitlement(3, 3, SKU, None, false),
            ];
            // Meanwhile (the bot is up, events flow): user 4 subscribes; that event is newer
            // than the list, which does not have it.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            store
                .apply_entitlement(&entitlement(4, 4, SKU, None, false), Some(SKU))
                .await
                .unwrap();
            assert_eq!(
                store
                    .reconcile_entitlements(&current, Some(SKU), listed)
                    .await
                    .unwrap(),
                4
            );
            let pro = |n: u64| {
                let store = store.clone();
                async move {
                    store
                        .plan_of(UserId::from_discord(n), now_ms())
                        .await
                        .unwrap()
                        .is_pro()
                }
            };
            assert!(!pro(1).await);
            assert!(pro(2).await);
            assert!(pro(3).await);
            assert!(pro(4).await, "an event newer than the list is kept");
            // Running it again (a list read now) changes nothing for the listed ones; 4 is not
            // in it this time, so it is set aside as missing...
            store
                .reconcile_entitlements(&current, Some(SKU), now_ms() + 1)
                .await
                .unwrap();
            assert!(!pro(1).await && pro(2).await && pro(3).await);
            assert!(!pro(4).await);
            // ...which is not final: its next UPDATE restores it (a DELETE would be final).
            store
                .apply_entitlement(&entitlement(4, 4, SKU, None, false), Some(SKU))
                .await
                .unwrap();
            assert!(pro(4).await);
            store
                .apply_entitlement(&entitlement(1, 1, SKU, ends, false), Some(SKU))
                .await
                .unwrap();
            assert!(
                pro(1).await,
                "1 was only missing from the list, never deleted by Discord"
            );
        }
    }
);

// ----- the Stripe client against a fake Stripe -----

fn config(base: &str, price: &str) -> StripeConfig {
    StripeConfig::from_vars(|k| match k {
        "STRIPE_SECRET_KEY" => Some("sk_test_fake".into()),
        "STRIPE_WEBHOOK_SECRET" => Some(SECRET.into()),
        "STRIPE_PRICE_ID" => Some(price.into()),
        "STRIPE_API_BASE" => Some(format!("{base}/")),
        _ => None,
    })
    .unwrap()
    .unwrap()
}

both_backends!(
    checkout_and_portal_against_a_fake_stripe,
    |db: &common::db::TestDb| {
        let store = db.store.clone();
        async move {
            let mut stripe = FakeStripe::start().await;
            let base = stripe.base.clone();
            let client = StripeClient::new(config(&base, "price_pro")).unwrap();
            assert!(!format!("{client:?}").contains("sk_test_fake"));
            assert_eq!(
                client
                    .portal(&store, &Viewer::user(user()), "https://site/billing")
                    .await
                    .unwrap(),
                None
            );

            let session = client
                .checkout(
                    &store,
                    &Viewer::user(user()),
                    "https://site/billing?ok=1",
                    "https://site/billing",
                )
                .await
                .unwrap();
            assert!(
                session.url.starts_with("https://checkout.stripe.com/"),
                "{session:?}"
            );
            {
                let log = stripe.requests();
                assert_eq!(log.len(), 2, "{log:?}");
                let customer = &log[0];
                assert_eq!(customer.path, "/v1/customers");
                assert_eq!(
                    customer.field("metadata[discord_user_id]"),
                    Some(&*USER.to_string())
                );
                assert_eq!(
                    customer.idempotency_key.as_deref(),
                    Some(&*format!("rlcoach-customer-{USER}"))
                );
                let checkout = &log[1];
                assert_eq!(checkout.path, "/v1/checkout/sessions");
                assert_eq!(
                    checkout.authorization.as_deref(),
                    Some("Bearer sk_test_fake")
                );
                assert_eq!(checkout.field("mode"), Some("subscription"));
                assert_eq!(checkout.field("line_items[0][price]"), Some("price_pro"));
                assert_eq!(checkout.field("line_items[0][quantity]"), Some("1"));
                assert_eq!(
                    checkout.field("client_reference_id"),
                    Some(&*USER.to_string())
                );
                assert_eq!(
                    checkout.field("subscription_data[metadata][discord_user_id]"),
                    Some(&*USER.to_string())
                );
                assert_eq!(checkout.field("customer"), Some("cus_Fake1"));
                assert_eq!(
                    checkout.field("success_url"),
                    Some("https://site/billing?ok=1")
                );
                assert_eq!(checkout.field("cancel_url"), Some("https://site/billing"));
            }
            assert_eq!(
                store
                    .stripe_customer_of(&Viewer::user(user()))
                    .await
                    .unwrap()
                    .as_deref(),
                Some("cus_Fake1")
            );

            // A second checkout reuses the customer: no new one is created.
            let second = client
                .checkout(
                    &store,
                    &Viewer::user(user()),
                    "https://site/ok",
                    "https://site/no",
                )
                .await
                .unwrap();
            {
                let log = stripe.requests();
                assert_eq!(log.len(), 3);
                assert_eq!(log[2].path, "/v1/checkout/sessions");
                assert_eq!(log[2].field("customer"), Some("cus_Fake1"));
            }

            let portal = client
                .portal(&store, &Viewer::user(user()), "https://site/billing")
                .await
                .unwrap()
                .unwrap();
            assert!(portal.url.starts_with("https://billing.stripe.com/"));
            {
                let log = stripe.requests();
                let p = log.last().unwrap();
                assert_eq!(p.path, "/v1/billing_portal/sessions");
                assert_eq!(p.field("customer"), Some("cus_Fake1"));
                assert_eq!(p.field("return_url"), Some("https://site/billing"));
            }

            // A double click: the same payment page again (Stripe replays the keyed request).
            let again = client
                .checkout(
                    &store,
                    &Viewer::user(user()),
                    "https://site/ok",
                    "https://site/no",
                )
                .await
                .unwrap();
            assert_eq!(again.url, second.url);
            let sessions: std::collections::HashSet<String> = stripe
                .requests()
                .iter()
                .filter(|r| {
                    r.path == "/v1/checkout/sessions"
                        && r.field("success_url") == Some("https://site/ok")
                })
                .map(|r| r.idempotency_key.clone().unwrap_or_default())
                .collect();
            assert_eq!(sessions.len(), 1, "one key for the same checkout");

            // The customer was deleted in Stripe's Dashboard: unlinked, replaced, and the
            // checkout goes through (once: the replacement is keyed too).
            stripe.delete_customer("cus_Fake1");
            assert_eq!(
                client
                    .portal(&store, &Viewer::user(user()), "https://site/billing")
                    .await
                    .unwrap(),
                None,
                "no portal for a customer Stripe no longer knows"
            );
            assert_eq!(
                store
                    .stripe_customer_of(&Viewer::user(user()))
                    .await
                    .unwrap(),
                None
            );
            store
                .link_stripe_customer(user(), "cus_Fake1")
                .await
                .unwrap();
            // (Other URLs than before: the same request within ten minutes is replayed.)
            let renewed = client
                .checkout(
                    &store,
                    &Viewer::user(user()),
                    "https://site/ok2",
                    "https://site/no",
                )
                .await
                .unwrap();
            let fresh = store
                .stripe_customer_of(&Viewer::user(user()))
                .await
                .unwrap()
                .unwrap();
            assert_ne!(fresh, "cus_Fake1");
            let made = stripe
                .requests()
                .into_iter()
                .rfind(|r| r.path == "/v1/customers")
                .unwrap();
            assert_eq!(
                made.idempotency_key.as_deref(),
                Some(&*format!("rlcoach-customer-{USER}-after-cus_Fake1"))
            );
            assert!(renewed.url.starts_with("https://checkout.stripe.com/"));

            // Two checkouts at once by a new user: one customer.
            let newcomer = Viewer::user(UserId::from_discord(USER + 1));
            let (a, b) = tokio::join!(
                client.checkout(&store, &newcomer, "https://site/ok", "https://site/no"),
                client.checkout(&store, &newcomer, "https://site/ok", "https://site/no"),
            );
            assert_eq!(a.unwrap().url, b.unwrap().url, "one payment page");
            let theirs: std::collections::HashSet<String> = stripe
                .requests()
                .iter()
                .filter(|r| {
                    r.path == "/v1/checkout/sessions"
                        && r.field("client_reference_id") == Some(&*(USER + 1).to_string())
                })
                .filter_map(|r| r.field("customer").map(str::to_string))
                .collect();
            assert_eq!(theirs.len(), 1, "{theirs:?}");

            // Stripe's error answer becomes a typed error.
            let wrong = StripeClient::new(config(&base, "price_gone")).unwrap();
            match wrong
                .checkout(
                    &store,
                    &Viewer::user(user()),
                    "https://site/ok",
                    "https://site/no",
                )
                .await
            {
                Err(StripeClientError::Api {
                    status,
                    kind,
                    code,
                    message,
                    ..
                }) => {
                    assert_eq!(status, 400);
                    assert_eq!(kind, "invalid_request_error");
                    assert_eq!(code.as_deref(), Some("resource_missing"));
                    assert!(message.contains("price_gone"), "{message}");
                }
                other => panic!("{other:?}"),
            }
            // Nobody listening: a transport error, quickly.
            stripe.stop().await;
            let gone = StripeClient::new(config(&base, "price_pro")).unwrap();
            let err = gone
                .create_portal_session("cus_Fake1", "https://site/billing")
                .await
                .unwrap_err();
            assert!(matches!(err, StripeClientError::Transport(_)), "{err:?}");
            assert!(!err.to_string().contains("sk_test_fake"));
        }
    }
);
