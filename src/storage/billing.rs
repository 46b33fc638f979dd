//! Billing state: Stripe events applied exactly once, subscriptions kept at their newest state,
//! Discord entitlements; each source decides its own row of `user_plans`.
//!
//! Invariants:
//! - a Stripe event id is inserted into `stripe_events` in the same transaction as everything
//!   its handler writes, so an event is applied once or not at all (an error rolls back both,
//!   and Stripe's retry applies it);
//! - a subscription's row holds the state of the newest event seen about it (`state_at`: the
//!   event's `created`, ms, plus a small rank breaking ties within a second), and a terminal
//!   status (`canceled`, `incomplete_expired`) is never replaced: arrival order never matters;
//! - the `stripe` row of `user_plans` is recomputed from all of the user's subscriptions after
//!   every change (under a lock on the user on PostgreSQL), the `discord` row from all of the
//!   user's entitlements.

use sqlx::Row;

use super::coach::{PlanSource, Tier, write_plan};
use super::scope::UserId;
use super::users::ensure_user;
use super::{Backend, Result, Store, now_ms};
use crate::billing::webhook::{
    CheckoutCompleted, CustomerDeleted, Event, InvoiceEvent, MoneyBack, SubscriptionAction,
    SubscriptionChange,
};

/// How long a past-due subscription keeps Pro after the last paid period ended.
pub const PAST_DUE_GRACE_MS: i64 = 3 * 86_400_000;
/// How long an active subscription that renews keeps Pro past its period end while the
/// renewal's events are on their way (a webhook outage must not drop paying users).
pub const RENEWAL_SLACK_MS: i64 = 86_400_000;

/// What applying a Stripe event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// This event id was applied before: nothing changed.
    Duplicate,
    /// Applied; the user whose plan it concerns, when known yet.
    Done {
        user: Option<UserId>,
        /// The user should be told a payment failed (see [`Store::past_due_notices`]).
        past_due: bool,
    },
    /// Recorded, nothing to do (a type we do not act on, or not one of ours).
    Ignored,
    /// A refund or dispute: logged for a human, plans unchanged.
    NeedsHuman,
}

/// One source's row of a user's plan (`rlcoach plan show`, the billing page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanGrant {
    pub source: PlanSource,
    pub tier: Tier,
    pub ends_at: Option<i64>,
    pub period: Option<(i64, i64)>,
    pub updated_at: i64,
}

/// A user owed a "your payment failed" message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastDueNotice {
    pub user: UserId,
    pub subscription_id: String,
    /// Pro lasts until then unless the payment goes through (ms).
    pub pro_until: Option<i64>,
}

/// The viewer's own billing: what the `/billing` page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingStatus {
    /// The plan decided from every source now.
    pub plan: super::coach::Plan,
    /// Each source's row (ended and Free ones too).
    pub grants: Vec<PlanGrant>,
    /// The viewer's Stripe subscription that still runs (the newest one), else the newest
    /// ended one.
    pub subscription: Option<SubscriptionView>,
    /// The viewer has a Stripe customer (the Customer Portal can open).
    pub has_customer: bool,
}

/// A Stripe subscription as last seen (times in ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionView {
    /// Stripe's status: `active`, `trialing`, `past_due`, `canceled`, `unpaid`, `incomplete`, …
    pub status: String,
    pub cancel_at_period_end: bool,
    pub period_end: Option<i64>,
}

impl SubscriptionView {
    /// Still running or about to (its first payment in progress): a new checkout would be a
    /// second subscription.
    pub fn is_running(&self) -> bool {
        matches!(
            self.status.as_str(),
            "active" | "trialing" | "past_due" | "incomplete"
        )
    }
}

/// A Discord App Subscription entitlement (times in ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entitlement {
    pub id: u64,
    pub user: UserId,
    pub sku: u64,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    /// ENTITLEMENT_DELETE (a refund, a removed test entitlement).
    pub deleted: bool,
}

fn is_terminal(status: &str) -> bool {
    matches!(status, "canceled" | "incomplete_expired")
}

fn snowflake(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

/// Orders states of one subscription: the event's second, then what kind of event it was
/// (a subscription's `created` comes before its invoice, which comes before updates).
fn state_at(event_created_secs: i64, rank: i64) -> i64 {
    event_created_secs.saturating_mul(1000).saturating_add(rank)
}

fn ms(secs: Option<i64>) -> Option<i64> {
    secs.map(|s| s.saturating_mul(1000))
}

/// A subscription's stored state.
struct SubRow {
    user: Option<i64>,
    status: String,
    period_end: Option<i64>,
    state_at: i64,
}

impl Store {
    /// Applies one verified Stripe event, once: `event_id` is recorded in the same transaction
    /// as the handler's writes; a duplicate returns [`Applied::Duplicate`] and changes nothing;
    /// an error leaves nothing written (answer 500 so Stripe retries).
    pub async fn apply_stripe_event(&self, event: &Event, event_id: &str) -> Result<Applied> {
        let mut tx = self.write_tx().await?;
        let fresh = sqlx::query(
            "INSERT INTO stripe_events (event_id, event_type, received_at) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(event_id)
        .bind(event.type_name())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !fresh {
            return Ok(Applied::Duplicate);
        }
        let applied = match event {
            Event::CheckoutCompleted(c) => self.checkout_completed(&mut tx, c).await?,
            Event::Subscription(s) => self.subscription_changed(&mut tx, s).await?,
            Event::InvoicePaid(i) => self.invoice_paid(&mut tx, i).await?,
            Event::InvoicePaymentFailed(i) => self.invoice_failed(&mut tx, i).await?,
            Event::MoneyBack(m) => money_back(&mut tx, m).await?,
            Event::CustomerDeleted(c) => self.customer_deleted(&mut tx, c).await?,
            Event::Ignored(_) => Applied::Ignored,
        };
        tx.commit().await?;
        Ok(applied)
    }

    /// The viewer's Stripe customer (the latest linked), for reusing it at checkout and for
    /// the Customer Portal.
    pub async fn stripe_customer_of(&self, viewer: &super::Viewer) -> Result<Option<String>> {
        let user = viewer.user;
        Ok(sqlx::query(
            "SELECT customer_id FROM stripe_customers c WHERE user_id = $1
                 AND NOT EXISTS (SELECT 1 FROM stripe_deleted_customers d
                                 WHERE d.customer_id = c.customer_id)
             ORDER BY created_at DESC, customer_id LIMIT 1",
        )
        .bind(user.get())
        .fetch_optional(&self.pool)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?)
    }

    /// Links a customer made for `user` (before their first checkout, so every event about it
    /// finds them). The first link of a customer stays; returns the customer.
    pub async fn link_stripe_customer(&self, user: UserId, customer: &str) -> Result<String> {
        let mut tx = self.write_tx().await?;
        link_customer(&mut tx, customer, user).await?;
        tx.commit().await?;
        Ok(customer.to_string())
    }

    /// The viewer's own plan, grants and newest Stripe subscription (the `/billing` page).
    pub async fn billing_status(&self, viewer: &super::Viewer) -> Result<BillingStatus> {
        let user = viewer.user;
        let plan = self.plan_of(user, now_ms()).await?;
        let grants = self.plan_grants(user).await?;
        let subscription = sqlx::query(
            "SELECT status, cancel_at_period_end, period_end FROM stripe_subscriptions
             WHERE user_id = $1
             ORDER BY CASE WHEN status IN ('canceled', 'incomplete_expired') THEN 1 ELSE 0 END,
                 state_at DESC, subscription_id
             LIMIT 1",
        )
        .bind(user.get())
        .fetch_optional(&self.pool)
        .await?
        .map(|r| -> Result<SubscriptionView> {
            Ok(SubscriptionView {
                status: r.try_get(0)?,
                cancel_at_period_end: r.try_get::<i64, _>(1)? != 0,
                period_end: r.try_get(2)?,
            })
        })
        .transpose()?;
        let has_customer = self.stripe_customer_of(viewer).await?.is_some();
        Ok(BillingStatus {
            plan,
            grants,
            subscription,
            has_customer,
        })
    }

    /// Forgets a customer Stripe no longer knows (deleted in the Dashboard), so the user's next
    /// checkout makes a new one; it is marked deleted, so late events about it change nothing.
    pub async fn unlink_stripe_customer(&self, user: UserId, customer: &str) -> Result<()> {
        let mut tx = self.write_tx().await?;
        if customer_owner(&mut tx, customer).await? == Some(user) {
            mark_customer_deleted(&mut tx, customer).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The user's most recently deleted customer: a new one made after it gets an idempotency
    /// key of its own (Stripe would replay the deleted one for a day).
    pub async fn deleted_stripe_customer_of(
        &self,
        viewer: &super::Viewer,
    ) -> Result<Option<String>> {
        Ok(sqlx::query(
            "SELECT c.customer_id FROM stripe_customers c
                 JOIN stripe_deleted_customers d ON d.customer_id = c.customer_id
             WHERE c.user_id = $1 ORDER BY d.deleted_at DESC, c.customer_id LIMIT 1",
        )
        .bind(viewer.user.get())
        .fetch_optional(&self.pool)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?)
    }

    /// Every source's row of a user's plan (ended ones and Free ones included).
    pub async fn plan_grants(&self, user: UserId) -> Result<Vec<PlanGrant>> {
        let rows = sqlx::query(
            "SELECT source, plan, ends_at, period_start, period_end, updated_at FROM user_plans
             WHERE user_id = $1 ORDER BY source",
        )
        .bind(user.get())
        .fetch_all(&self.pool)
        .await?;
        let mut grants = Vec::with_capacity(rows.len());
        for r in rows {
            let Some(source) = PlanSource::parse(&r.try_get::<String, _>(0)?) else {
                continue;
            };
            let period = match (r.try_get(3)?, r.try_get(4)?) {
                (Some(s), Some(e)) => Some((s, e)),
                _ => None,
            };
            grants.push(PlanGrant {
                source,
                tier: Tier::parse(&r.try_get::<String, _>(1)?).unwrap_or(Tier::Free),
                ends_at: r.try_get(2)?,
                period,
                updated_at: r.try_get(5)?,
            });
        }
        Ok(grants)
    }

    /// Users owed a "your payment failed" message (the bot sends it, then clears it), with the
    /// end of their Stripe Pro grant (one query, whatever the number of users).
    pub async fn past_due_notices(&self) -> Result<Vec<PastDueNotice>> {
        let rows = sqlx::query(
            "SELECT s.user_id, s.subscription_id, p.ends_at FROM stripe_subscriptions s
                 LEFT JOIN user_plans p
                     ON p.user_id = s.user_id AND p.source = $1 AND p.plan = $2
             WHERE s.notice = 'past_due' AND s.status = 'past_due' AND s.user_id IS NOT NULL
             ORDER BY s.updated_at",
        )
        .bind(PlanSource::Stripe.as_str())
        .bind(Tier::Pro.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PastDueNotice {
                    user: UserId::from_db(r.try_get(0)?),
                    subscription_id: r.try_get(1)?,
                    pro_until: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// The past-due message for a subscription was sent.
    pub async fn clear_past_due_notice(&self, subscription_id: &str) -> Result<()> {
        sqlx::query("UPDATE stripe_subscriptions SET notice = NULL WHERE subscription_id = $1")
            .bind(subscription_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn checkout_completed(
        &self,
        tx: &mut sqlx::AnyConnection,
        c: &CheckoutCompleted,
    ) -> Result<Applied> {
        let user = c
            .client_reference_id
            .as_deref()
            .and_then(|r| r.trim().parse::<u64>().ok());
        let (Some(user), Some(customer)) = (user, c.customer.as_deref()) else {
            tracing::warn!(
                session = %c.session_id,
                "checkout session without a Discord user id or customer: not one of ours, ignored"
            );
            return Ok(Applied::Ignored);
        };
        let owner = link_customer(tx, customer, UserId::from_discord(user)).await?;
        if owner.get() != snowflake(user) {
            tracing::warn!(
                session = %c.session_id, %customer, %owner,
                "checkout by user {user} with a customer already linked to another user; kept the first link"
            );
        }
        if c.paid
            && let Some(subscription) = c.subscription.as_deref()
            && !is_deleted_customer(tx, customer).await?
            && self.lock_subscription(tx, subscription).await?.is_none()
        {
            // Paid: Pro now, provisionally (a day, no period) until the subscription's own
            // events, which may come later, say more; any of them replaces this state.
            sqlx::query(
                "INSERT INTO stripe_subscriptions (subscription_id, customer_id, user_id, status,
                     state_at, updated_at)
                 VALUES ($1, $2, $3, 'active', $4, $5)",
            )
            .bind(subscription)
            .bind(customer)
            .bind(owner.get())
            .bind(state_at(c.event_created, 0))
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        }
        self.derive_stripe_plan(tx, owner).await?;
        Ok(Applied::Done {
            user: Some(owner),
            past_due: false,
        })
    }

    async fn subscription_changed(
        &self,
        tx: &mut sqlx::AnyConnection,
        s: &SubscriptionChange,
    ) -> Result<Applied> {
        let mut user = customer_owner(tx, &s.customer).await?;
        if user.is_none()
            && let Some(id) = s
                .discord_user_id
                .as_deref()
                .and_then(|d| d.parse::<u64>().ok())
        {
            // Our Checkout Sessions put the user on the subscription: this event overtook
            // `checkout.session.completed`, and needs not wait for it.
            user = Some(link_customer(tx, &s.customer, UserId::from_discord(id)).await?);
        }
        let rank = match s.action {
            SubscriptionAction::Created => 0,
            SubscriptionAction::Updated => 2,
            SubscriptionAction::Deleted => 3,
        };
        // A deleted subscription, or one of a deleted customer, is canceled whatever its object
        // says.
        let status = if s.action == SubscriptionAction::Deleted
            || is_deleted_customer(tx, &s.customer).await?
        {
            "canceled"
        } else {
            s.status.as_str()
        };
        let at = state_at(s.event_created, rank);
        let period = match (s.current_period_start, s.current_period_end) {
            (Some(a), Some(b)) => Some((a * 1000, b * 1000)),
            _ => None,
        };
        let old = self.lock_subscription(tx, &s.id).await?;
        let newer = match &old {
            None => true,
            Some(o) => !is_terminal(&o.status) && (is_terminal(status) || at >= o.state_at),
        };
        let became_past_due =
            status == "past_due" && old.as_ref().is_none_or(|o| o.status != "past_due");
        if newer {
            let paid = matches!(status, "active" | "trialing");
            sqlx::query(
                "INSERT INTO stripe_subscriptions (subscription_id, customer_id, user_id, status,
                     cancel_at_period_end, cancel_at, period_start, period_end, paid_until,
                     state_at, notice, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT (subscription_id) DO UPDATE SET
                     user_id = COALESCE(stripe_subscriptions.user_id, excluded.user_id),
                     status = excluded.status,
                     cancel_at_period_end = excluded.cancel_at_period_end,
                     cancel_at = excluded.cancel_at,
                     period_start = COALESCE(excluded.period_start, stripe_subscriptions.period_start),
                     period_end = COALESCE(excluded.period_end, stripe_subscriptions.period_end),
                     paid_until = CASE
                         WHEN excluded.paid_until IS NULL THEN stripe_subscriptions.paid_until
                         WHEN stripe_subscriptions.paid_until IS NULL
                             OR excluded.paid_until > stripe_subscriptions.paid_until
                             THEN excluded.paid_until
                         ELSE stripe_subscriptions.paid_until END,
                     state_at = excluded.state_at,
                     notice = CASE WHEN excluded.status = 'past_due'
                         THEN COALESCE(excluded.notice, stripe_subscriptions.notice) ELSE NULL END,
                     updated_at = excluded.updated_at",
            )
            .bind(&s.id)
            .bind(&s.customer)
            .bind(user.map(UserId::get))
            .bind(status)
            .bind(i64::from(s.cancel_at_period_end))
            .bind(ms(s.cancel_at))
            .bind(period.map(|p| p.0))
            .bind(period.map(|p| p.1))
            .bind(if paid { period.map(|p| p.1) } else { None })
            .bind(at)
            .bind(became_past_due.then_some("past_due"))
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        } else {
            tracing::info!(
                subscription = %s.id, status, "older subscription state than the one kept: ignored"
            );
        }
        let user = match user {
            Some(u) => Some(u),
            None => old.and_then(|o| o.user).map(UserId::from_db),
        };
        let Some(user) = user else {
            tracing::info!(
                subscription = %s.id, customer = %s.customer,
                "subscription of a customer not linked to a user yet: kept until checkout completes"
            );
            return Ok(Applied::Done {
                user: None,
                past_due: false,
            });
        };
        self.derive_stripe_plan(tx, user).await?;
        Ok(Applied::Done {
            user: Some(user),
            past_due: newer && became_past_due,
        })
    }

    /// A deleted customer: Stripe has canceled its subscriptions (their own `deleted` events
    /// may come later, or in any order). It is marked deleted: the next checkout makes a new
    /// customer, the portal is not offered for it, and late events about it (a subscription
    /// created or paid, a checkout completed) cannot make anyone Pro through it.
    async fn customer_deleted(
        &self,
        tx: &mut sqlx::AnyConnection,
        c: &CustomerDeleted,
    ) -> Result<Applied> {
        let mut users: Vec<UserId> = customer_owner(tx, &c.customer).await?.into_iter().collect();
        let rows = sqlx::query(
            "SELECT DISTINCT user_id FROM stripe_subscriptions
             WHERE customer_id = $1 AND user_id IS NOT NULL",
        )
        .bind(&c.customer)
        .fetch_all(&mut *tx)
        .await?;
        for r in rows {
            let u = UserId::from_db(r.try_get(0)?);
            if !users.contains(&u) {
                users.push(u);
            }
        }
        sqlx::query(
            "UPDATE stripe_subscriptions SET status = 'canceled', notice = NULL,
                 state_at = CASE WHEN state_at > $2 THEN state_at ELSE $2 END, updated_at = $3
             WHERE customer_id = $1 AND status NOT IN ('canceled', 'incomplete_expired')",
        )
        .bind(&c.customer)
        .bind(state_at(c.event_created, 3))
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        mark_customer_deleted(tx, &c.customer).await?;
        for &user in &users {
            self.derive_stripe_plan(tx, user).await?;
        }
        Ok(Applied::Done {
            user: users.first().copied(),
            past_due: false,
        })
    }

    async fn invoice_paid(
        &self,
        tx: &mut sqlx::AnyConnection,
        i: &InvoiceEvent,
    ) -> Result<Applied> {
        let (Some(subscription), Some(customer)) =
            (i.subscription.as_deref(), i.customer.as_deref())
        else {
            return Ok(Applied::Ignored);
        };
        let at = state_at(i.event_created, 1);
        let period = i.period.map(|(a, b)| (a * 1000, b * 1000));
        let user = customer_owner(tx, customer).await?;
        match self.lock_subscription(tx, subscription).await? {
            None if is_deleted_customer(tx, customer).await? => {}
            None => {
                // The subscription's own events have not arrived yet: a paid invoice means it
                // is active for the invoiced period.
                sqlx::query(
                    "INSERT INTO stripe_subscriptions (subscription_id, customer_id, user_id,
                         status, period_start, period_end, paid_until, state_at, updated_at)
                     VALUES ($1, $2, $3, 'active', $4, $5, $5, $6, $7)",
                )
                .bind(subscription)
                .bind(customer)
                .bind(user.map(UserId::get))
                .bind(period.map(|p| p.0))
                .bind(period.map(|p| p.1))
                .bind(at)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            }
            Some(old) => {
                let newer = !is_terminal(&old.status) && at >= old.state_at;
                // Paying settles a past-due or unpaid subscription.
                if newer && matches!(old.status.as_str(), "past_due" | "unpaid" | "incomplete") {
                    sqlx::query(
                        "UPDATE stripe_subscriptions SET status = 'active', state_at = $1,
                             notice = NULL, updated_at = $2
                         WHERE subscription_id = $3",
                    )
                    .bind(at)
                    .bind(now_ms())
                    .bind(subscription)
                    .execute(&mut *tx)
                    .await?;
                }
                // Periods only move forward: a paid later period is the current one whatever
                // the order its events arrived in.
                if let Some((start, end)) = period
                    && !is_terminal(&old.status)
                    && old.period_end.is_none_or(|e| end > e)
                {
                    sqlx::query(
                        "UPDATE stripe_subscriptions SET period_start = $1, period_end = $2,
                             updated_at = $3
                         WHERE subscription_id = $4",
                    )
                    .bind(start)
                    .bind(end)
                    .bind(now_ms())
                    .bind(subscription)
                    .execute(&mut *tx)
                    .await?;
                }
                if let Some((_, end)) = period {
                    sqlx::query(
                        "UPDATE stripe_subscriptions SET paid_until = $1
                         WHERE subscription_id = $2 AND (paid_until IS NULL OR paid_until < $1)",
                    )
                    .bind(end)
                    .bind(subscription)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        let user = match user {
            Some(u) => Some(u),
            None => subscription_user(tx, subscription).await?,
        };
        if let Some(user) = user {
            self.derive_stripe_plan(tx, user).await?;
        }
        Ok(Applied::Done {
            user,
            past_due: false,
        })
    }

    async fn invoice_failed(
        &self,
        tx: &mut sqlx::AnyConnection,
        i: &InvoiceEvent,
    ) -> Result<Applied> {
        let Some(subscription) = i.subscription.as_deref() else {
            return Ok(Applied::Ignored);
        };
        let at = state_at(i.event_created, 1);
        let Some(old) = self.lock_subscription(tx, subscription).await? else {
            // Nothing known of the subscription: its own `updated` event (status past_due)
            // carries what is needed.
            return Ok(Applied::Ignored);
        };
        let past_due = !is_terminal(&old.status)
            && at >= old.state_at
            && matches!(old.status.as_str(), "active" | "trialing" | "past_due");
        // Stripe retries a failed card several times; the user is told once, when the
        // subscription falls past due (again after it recovered, not on every retry).
        let entering = past_due && old.status != "past_due";
        if past_due {
            sqlx::query(
                "UPDATE stripe_subscriptions SET status = 'past_due', state_at = $1,
                     notice = CASE WHEN $2 = 1 THEN 'past_due' ELSE notice END, updated_at = $3
                 WHERE subscription_id = $4",
            )
            .bind(at)
            .bind(i64::from(entering))
            .bind(now_ms())
            .bind(subscription)
            .execute(&mut *tx)
            .await?;
        }
        let user = old.user.map(UserId::from_db);
        if let Some(user) = user {
            self.derive_stripe_plan(tx, user).await?;
        }
        Ok(Applied::Done {
            user,
            past_due: entering && user.is_some(),
        })
    }

    /// The subscription's row, locked until the transaction ends on PostgreSQL (SQLite's
    /// write transactions are already exclusive).
    async fn lock_subscription(
        &self,
        tx: &mut sqlx::AnyConnection,
        subscription: &str,
    ) -> Result<Option<SubRow>> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT user_id, status, period_end, state_at FROM stripe_subscriptions
             WHERE subscription_id = $1{lock}"
        )))
        .bind(subscription)
        .fetch_optional(&mut *tx)
        .await?;
        row.map(|r| {
            Ok(SubRow {
                user: r.try_get(0)?,
                status: r.try_get(1)?,
                period_end: r.try_get(2)?,
                state_at: r.try_get(3)?,
            })
        })
        .transpose()
    }

    /// Recomputes the user's `stripe` plan row from all of their subscriptions.
    async fn derive_stripe_plan(&self, tx: &mut sqlx::AnyConnection, user: UserId) -> Result<()> {
        ensure_user(tx, user.get()).await?;
        self.lock_user(tx, user).await?;
        let rows = sqlx::query(
            "SELECT status, cancel_at_period_end, cancel_at, period_start, period_end, paid_until,
                 state_at
             FROM stripe_subscriptions WHERE user_id = $1",
        )
        .bind(user.get())
        .fetch_all(&mut *tx)
        .await?;
        let mut best: Option<Grant> = None;
        for r in rows {
            let status: String = r.try_get(0)?;
            let cancel_at_period_end = r.try_get::<i64, _>(1)? == 1;
            let cancel_at: Option<i64> = r.try_get(2)?;
            let period = match (r.try_get(3)?, r.try_get(4)?) {
                (Some(s), Some(e)) => Some((s, e)),
                _ => None,
            };
            let paid_until: Option<i64> = r.try_get(5)?;
            let state_at: i64 = r.try_get(6)?;
            let ends_at = match status.as_str() {
                "active" | "trialing" => match (period, cancel_at) {
                    (_, Some(at)) => Some(at),
                    (Some((_, end)), None) if cancel_at_period_end => Some(end),
                    (Some((_, end)), None) => Some(end + RENEWAL_SLACK_MS),
                    // No period yet (only the paid checkout was seen): a provisional day.
                    (None, None) => Some(state_at + RENEWAL_SLACK_MS),
                },
                "past_due" => paid_until
                    .or(period.map(|p| p.0))
                    .map(|e| e + PAST_DUE_GRACE_MS),
                _ => continue,
            };
            best = Some(Grant::longer(best, Grant { ends_at, period }));
        }
        match best {
            Some(g) => {
                write_plan(tx, user, PlanSource::Stripe, Tier::Pro, g.ends_at, g.period).await
            }
            None => write_plan(tx, user, PlanSource::Stripe, Tier::Free, None, None).await,
        }
    }

    async fn lock_user(&self, tx: &mut sqlx::AnyConnection, user: UserId) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT user_id FROM users WHERE user_id = $1 FOR UPDATE")
                .bind(user.get())
                .fetch_optional(&mut *tx)
                .await?;
        }
        Ok(())
    }

    // ----- Discord App Subscriptions -----

    /// Applies an ENTITLEMENT_CREATE / UPDATE / DELETE: the user's `discord` plan is Pro while
    /// they hold an undeleted entitlement to `pro_sku` (None: Pro is not sold on Discord).
    pub async fn apply_entitlement(&self, e: &Entitlement, pro_sku: Option<u64>) -> Result<()> {
        let mut tx = self.write_tx().await?;
        upsert_entitlement(&mut tx, e, i64::MAX).await?;
        self.derive_discord_plan(&mut tx, e.user, pro_sku).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes the stored entitlements match Discord's full list (`GET
    /// /applications/{id}/entitlements`, all pages, read from `listed_at` on) at start-up, so
    /// events missed while the bot was down are not lost: listed ones are stored, stored ones
    /// not listed are set aside as *missing*, and every concerned user's `discord` plan is
    /// recomputed. Returns how many users'.
    ///
    /// Events keep arriving while the list is read: a row written at or after `listed_at`
    /// (an event newer than the list) is left as the event wrote it. *Missing* is not final,
    /// unlike a deletion by Discord: a later CREATE or UPDATE of that entitlement restores it.
    pub async fn reconcile_entitlements(
        &self,
        current: &[Entitlement],
        pro_sku: Option<u64>,
        listed_at: i64,
    ) -> Result<usize> {
        let mut tx = self.write_tx().await?;
        let listed: std::collections::HashSet<i64> =
            current.iter().map(|e| snowflake(e.id)).collect();
        let mut users: std::collections::BTreeSet<i64> = sqlx::query(
            "SELECT user_id FROM discord_entitlements WHERE deleted = 0
             UNION SELECT user_id FROM user_plans WHERE source = 'discord'",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<std::result::Result<_, _>>()?;
        let stored = sqlx::query(
            "SELECT entitlement_id FROM discord_entitlements WHERE deleted = 0 AND updated_at < $1",
        )
        .bind(listed_at)
        .fetch_all(&mut *tx)
        .await?;
        for r in stored {
            let id: i64 = r.try_get(0)?;
            if !listed.contains(&id) {
                sqlx::query(
                    "UPDATE discord_entitlements SET deleted = $1, updated_at = $2
                     WHERE entitlement_id = $3",
                )
                .bind(MISSING)
                .bind(now_ms())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
        }
        for e in current {
            upsert_entitlement(&mut tx, e, listed_at).await?;
            users.insert(e.user.get());
        }
        for &user in &users {
            self.derive_discord_plan(&mut tx, UserId::from_db(user), pro_sku)
                .await?;
        }
        tx.commit().await?;
        Ok(users.len())
    }

    async fn derive_discord_plan(
        &self,
        tx: &mut sqlx::AnyConnection,
        user: UserId,
        pro_sku: Option<u64>,
    ) -> Result<()> {
        ensure_user(tx, user.get()).await?;
        self.lock_user(tx, user).await?;
        let mut best: Option<Grant> = None;
        if let Some(sku) = pro_sku {
            let rows = sqlx::query(
                "SELECT starts_at, ends_at FROM discord_entitlements
                 WHERE user_id = $1 AND sku_id = $2 AND deleted = 0",
            )
            .bind(user.get())
            .bind(snowflake(sku))
            .fetch_all(&mut *tx)
            .await?;
            for r in rows {
                let starts_at: Option<i64> = r.try_get(0)?;
                let ends_at: Option<i64> = r.try_get(1)?;
                let period = starts_at.zip(ends_at).filter(|(s, e)| s < e);
                best = Some(Grant::longer(best, Grant { ends_at, period }));
            }
        }
        match best {
            Some(g) => {
                write_plan(
                    tx,
                    user,
                    PlanSource::Discord,
                    Tier::Pro,
                    g.ends_at,
                    g.period,
                )
                .await
            }
            None => write_plan(tx, user, PlanSource::Discord, Tier::Free, None, None).await,
        }
    }
}

/// A Pro grant of one subscription or entitlement: until `ends_at` (None: open-ended).
#[derive(Clone, Copy)]
struct Grant {
    ends_at: Option<i64>,
    period: Option<(i64, i64)>,
}

impl Grant {
    /// The one lasting longest (an open-ended one over any dated one).
    fn longer(a: Option<Grant>, b: Grant) -> Grant {
        match a {
            None => b,
            Some(a) => match (a.ends_at, b.ends_at) {
                (None, _) => a,
                (Some(_), None) => b,
                (Some(x), Some(y)) => {
                    if y > x {
                        b
                    } else {
                        a
                    }
                }
            },
        }
    }
}

/// `discord_entitlements.deleted`: 0 live, [`DELETED`] by Discord (final), [`MISSING`] from
/// the start-up list (a later event may restore it).
const DELETED: i64 = 1;
const MISSING: i64 = 2;

/// Stores an entitlement as Discord last described it, unless the stored row was written at or
/// after `stale_before` (the start-up list passes the time it was read; events pass
/// `i64::MAX`). Deletion by Discord is final (Discord never restores a deleted entitlement), so
/// a CREATE or UPDATE handled after its DELETE (gateway events are handled concurrently)
/// cannot bring it back.
async fn upsert_entitlement(
    tx: &mut sqlx::AnyConnection,
    e: &Entitlement,
    stale_before: i64,
) -> Result<()> {
    ensure_user(tx, e.user.get()).await?;
    sqlx::query(
        "INSERT INTO discord_entitlements (entitlement_id, user_id, sku_id, starts_at, ends_at,
             deleted, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (entitlement_id) DO UPDATE SET user_id = excluded.user_id,
             sku_id = excluded.sku_id, starts_at = excluded.starts_at, ends_at = excluded.ends_at,
             deleted = CASE WHEN discord_entitlements.deleted = 1 THEN 1 ELSE excluded.deleted END,
             updated_at = excluded.updated_at
         WHERE discord_entitlements.updated_at < $8",
    )
    .bind(snowflake(e.id))
    .bind(e.user.get())
    .bind(snowflake(e.sku))
    .bind(e.starts_at)
    .bind(e.ends_at)
    .bind(if e.deleted { DELETED } else { 0 })
    .bind(now_ms())
    .bind(stale_before)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The user a customer is linked to.
/// Stripe customers that are gone for good.
async fn is_deleted_customer(tx: &mut sqlx::AnyConnection, customer: &str) -> Result<bool> {
    Ok(
        sqlx::query("SELECT 1 FROM stripe_deleted_customers WHERE customer_id = $1")
            .bind(customer)
            .fetch_optional(&mut *tx)
            .await?
            .is_some(),
    )
}

async fn mark_customer_deleted(tx: &mut sqlx::AnyConnection, customer: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO stripe_deleted_customers (customer_id, deleted_at) VALUES ($1, $2)
         ON CONFLICT DO NOTHING",
    )
    .bind(customer)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn customer_owner(tx: &mut sqlx::AnyConnection, customer: &str) -> Result<Option<UserId>> {
    Ok(
        sqlx::query("SELECT user_id FROM stripe_customers WHERE customer_id = $1")
            .bind(customer)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?
            .map(UserId::from_db),
    )
}

async fn subscription_user(
    tx: &mut sqlx::AnyConnection,
    subscription: &str,
) -> Result<Option<UserId>> {
    Ok(
        sqlx::query("SELECT user_id FROM stripe_subscriptions WHERE subscription_id = $1")
            .bind(subscription)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get::<Option<i64>, _>(0))
            .transpose()?
            .flatten()
            .map(UserId::from_db),
    )
}

/// Links a customer to a user (the first link stays) and hands the user the customer's
/// subscriptions that arrived before the link. Returns the customer's owner.
async fn link_customer(
    tx: &mut sqlx::AnyConnection,
    customer: &str,
    user: UserId,
) -> Result<UserId> {
    ensure_user(tx, user.get()).await?;
    sqlx::query(
        "INSERT INTO stripe_customers (customer_id, user_id, created_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(customer)
    .bind(user.get())
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    let owner = customer_owner(tx, customer).await?.unwrap_or(user);
    sqlx::query(
        "UPDATE stripe_subscriptions SET user_id = $1 WHERE customer_id = $2 AND user_id IS NULL",
    )
    .bind(owner.get())
    .bind(customer)
    .execute(&mut *tx)
    .await?;
    Ok(owner)
}

async fn money_back(tx: &mut sqlx::AnyConnection, m: &MoneyBack) -> Result<Applied> {
    let user = match m.customer.as_deref() {
        Some(c) => customer_owner(tx, c).await?,
        None => None,
    };
    // For a human: refunds and disputes change no plan by themselves (a refund that ends the
    // subscription arrives as `customer.subscription.deleted`).
    tracing::warn!(
        kind = ?m.kind, id = %m.id, charge = ?m.charge, customer = ?m.customer,
        user = ?user.map(UserId::get), amount = ?m.amount, currency = ?m.currency,
        reason = ?m.reason,
        "Stripe refund or dispute: a human should look at it"
    );
    Ok(Applied::NeedsHuman)
}
