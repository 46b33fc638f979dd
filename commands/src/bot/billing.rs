//! Billing in the bot: Discord App Subscriptions (`ENTITLEMENT_CREATE` / `UPDATE` / `DELETE`,
//! the entitlements an interaction carries, and a full reconcile at start-up so events missed
//! while the bot was down are not lost), and the "your payment failed" DM owed after a Stripe
//! `invoice.payment_failed` (the webhook records it; this sends it once).
//!
//! The decisions live in the core (`Store::apply_entitlement`, `Store::reconcile_entitlements`,
//! `Store::plan_of`): a user with a Stripe subscription and a Discord entitlement is Pro once,
//! and losing one keeps the other.

use std::time::Duration;

use poise::serenity_prelude as serenity;
use rlcoach::storage::coach::date_string;
use rlcoach::storage::{DeliveryFailure, Entitlement, Store, UserId};

use super::Data;

/// The core's view of a Discord entitlement; None for a guild entitlement (Pro is per user).
pub fn entitlement(e: &serenity::Entitlement) -> Option<Entitlement> {
    if e.guild_id.is_some() {
        return None;
    }
    let ms = |t: Option<serenity::Timestamp>| t.map(|t| t.unix_timestamp().saturating_mul(1000));
    Some(Entitlement {
        id: e.id.get(),
        user: UserId::from_discord(e.user_id?.get()),
        sku: e.sku_id.get(),
        starts_at: ms(e.starts_at),
        ends_at: ms(e.ends_at),
        deleted: e.deleted,
    })
}

/// Which gateway event an entitlement came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntitlementEvent {
    Create,
    Update,
    /// A refund or removal: deleted whatever the payload's `deleted` says.
    Delete,
}

/// ENTITLEMENT_CREATE / UPDATE / DELETE.
pub async fn on_entitlement(data: &Data, e: &serenity::Entitlement, event: EntitlementEvent) {
    let Some(mut core) = entitlement(e) else {
        return;
    };
    if event == EntitlementEvent::Delete {
        core.deleted = true;
    }
    match data
        .store
        .apply_entitlement(&core, data.settings.pro_sku)
        .await
    {
        Ok(()) => tracing::info!(
            entitlement = core.id,
            user = %core.user,
            sku = core.sku,
            deleted = core.deleted,
            ?event,
            "entitlement applied"
        ),
        // The start-up reconcile picks it up after a restart.
        Err(err) => {
            tracing::error!(entitlement = core.id, ?event, error = %err, "entitlement not applied")
        }
    }
}

/// The entitlements an interaction carries (Discord includes the user's active ones): the Pro
/// ones are stored, so a purchase whose gateway event is late or was missed counts at once.
/// A no-op without a Pro SKU or without such an entitlement.
pub async fn from_interaction(
    data: &Data,
    user: serenity::UserId,
    carried: &[serenity::Entitlement],
) {
    let Some(sku) = data.settings.pro_sku else {
        return;
    };
    for e in carried {
        if e.sku_id.get() != sku || e.user_id != Some(user) || e.deleted {
            continue;
        }
        if let Some(core) = entitlement(e)
            && let Err(err) = data.store.apply_entitlement(&core, Some(sku)).await
        {
            tracing::warn!(error = %err, "cannot store an interaction's entitlement");
        }
    }
}

/// The most entitlement pages read at start-up (100 each); more is an error, not a partial list.
const MAX_PAGES: usize = 1000;

/// `GET /applications/{id}/entitlements` (every page, oldest first; ended ones included, so
/// that one missing from the list was deleted), then the stored entitlements are made to match
/// (events that arrive meanwhile are kept: see `Store::reconcile_entitlements`). Returns how
/// many users' Discord plans were recomputed.
pub async fn reconcile(http: &serenity::Http, store: &Store, sku: u64) -> anyhow::Result<usize> {
    let listed_at = rlcoach::storage::now_ms();
    let mut all = Vec::new();
    // Paging forward from the first possible id returns pages in ascending id order.
    let mut after = serenity::EntitlementId::new(1);
    let mut complete = false;
    for _ in 0..MAX_PAGES {
        let page = http
            .get_entitlements(None, None, None, Some(after), Some(100), None, Some(false))
            .await?;
        let last = page.iter().map(|e| e.id).max();
        all.extend(page.iter().filter_map(entitlement));
        match last {
            Some(id) if page.len() == 100 && id > after => after = id,
            _ => {
                complete = true;
                break;
            }
        }
    }
    anyhow::ensure!(
        complete,
        "more than {MAX_PAGES} pages of entitlements: not reconciled from a partial list"
    );
    Ok(store
        .reconcile_entitlements(&all, Some(sku), listed_at)
        .await?)
}

/// How often owed past-due messages are looked for (the webhook records them).
const NOTICE_INTERVAL: Duration = Duration::from_secs(15);
/// A DM that fails for a transient reason is tried again after 15 s, 30 s, 1 min, … (at most
/// an hour apart), for a day.
const NOTICE_GIVE_UP: Duration = Duration::from_secs(86_400);

/// Sends each "your payment failed" DM once: the notice is cleared after the DM is sent or
/// refused for good (DMs closed, unknown user); a transient failure is retried with backoff
/// for a day. A DM sent whose clearing failed is not sent again (remembered here).
pub async fn past_due_notices(data: Data) {
    struct Pending {
        first: tokio::time::Instant,
        next: tokio::time::Instant,
        tries: u32,
    }
    let mut pending: std::collections::HashMap<String, Pending> = Default::default();
    let mut sent: std::collections::HashSet<String> = Default::default();
    let mut tick = tokio::time::interval(NOTICE_INTERVAL);
    loop {
        tick.tick().await;
        let notices = match data.store.past_due_notices().await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read past-due notices");
                continue;
            }
        };
        let now = tokio::time::Instant::now();
        for n in notices {
            let done = if sent.contains(&n.subscription_id) {
                true
            } else {
                let p = pending.entry(n.subscription_id.clone()).or_insert(Pending {
                    first: now,
                    next: now,
                    tries: 0,
                });
                if p.next > now {
                    continue;
                }
                match send_past_due(&data, &n).await {
                    Ok(()) => {
                        tracing::info!(user = %n.user, "past-due DM sent");
                        sent.insert(n.subscription_id.clone());
                        true
                    }
                    Err(e) => {
                        let permanent = super::delivery::classify(&e) == DeliveryFailure::Permanent;
                        let expired = now.duration_since(p.first) >= NOTICE_GIVE_UP;
                        p.tries += 1;
                        p.next = now
                            + (NOTICE_INTERVAL * 2u32.saturating_pow(p.tries.min(8)))
                                .min(Duration::from_secs(3600));
                        tracing::warn!(user = %n.user, error = %e, gave_up = permanent || expired, "past-due DM not sent");
                        permanent || expired
                    }
                }
            };
            if done {
                match data.store.clear_past_due_notice(&n.subscription_id).await {
                    Ok(()) => {
                        pending.remove(&n.subscription_id);
                        sent.remove(&n.subscription_id);
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot clear a past-due notice"),
                }
            }
        }
    }
}

async fn send_past_due(
    data: &Data,
    n: &rlcoach::storage::PastDueNotice,
) -> Result<(), serenity::Error> {
    let fix = match &data.settings.web_base {
        Some(base) => format!(
            "Update your card at <{}/billing> (**Manage subscription**)",
            base.trim_end_matches('/')
        ),
        None => "Update your card in Stripe's billing portal".to_string(),
    };
    let text = match n.pro_until {
        Some(until) if until > rlcoach::storage::now_ms() => format!(
            "**Your rlcoach Pro payment didn't go through.** Pro (and your coach) stays on until {}. {fix} to keep it; Stripe will also try the card again.",
            date_string(until)
        ),
        _ => format!(
            "**Your rlcoach Pro payment didn't go through**, so Pro is paused. {fix} to switch it back on; Stripe will also try the card again."
        ),
    };
    serenity::UserId::new(n.user.discord())
        .direct_message(&*data.http, serenity::CreateMessage::new().content(text))
        .await
        .map(|_| ())
}
