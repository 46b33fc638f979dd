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

/// A gateway entitlement event.
pub async fn on_entitlement(data: &Data, e: &serenity::Entitlement, what: &'static str) {
    let Some(core) = entitlement(e) else {
        return;
    };
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
            "{what}"
        ),
        // The start-up reconcile picks it up after a restart.
        Err(e) => tracing::error!(entitlement = core.id, error = %e, "{what} not applied"),
    }
}

/// The entitlements an interaction carries (Discord includes the user's active ones): a Pro
/// one we have not stored yet (its event is late or was missed) is applied now. Returns
/// whether anything was applied, so the caller can check the plan again.
pub async fn from_interaction(
    data: &Data,
    user: serenity::UserId,
    carried: &[serenity::Entitlement],
) -> bool {
    let Some(sku) = data.settings.pro_sku else {
        return false;
    };
    let mut applied = false;
    for e in carried {
        if e.sku_id.get() != sku || e.user_id != Some(user) || e.deleted {
            continue;
        }
        if let Some(core) = entitlement(e) {
            match data.store.apply_entitlement(&core, Some(sku)).await {
                Ok(()) => applied = true,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot store an interaction's entitlement")
                }
            }
        }
    }
    applied
}

/// The most entitlement pages read at start-up (100 each).
const MAX_PAGES: usize = 1000;

/// `GET /applications/{id}/entitlements` (every page; ended ones included, so that one missing
/// from the list was deleted), then the stored entitlements are made to match. Returns how many
/// users' Discord plans were recomputed.
pub async fn reconcile(http: &serenity::Http, store: &Store, sku: u64) -> anyhow::Result<usize> {
    let mut all = Vec::new();
    let mut after = None;
    for _ in 0..MAX_PAGES {
        let page = http
            .get_entitlements(None, None, None, after, Some(100), None, Some(false))
            .await?;
        let full = page.len() == 100;
        after = page.iter().map(|e| e.id).max();
        all.extend(page.iter().filter_map(entitlement));
        if !full || after.is_none() {
            break;
        }
    }
    Ok(store.reconcile_entitlements(&all, Some(sku)).await?)
}

/// How often owed past-due messages are looked for (the webhook records them).
const NOTICE_INTERVAL: Duration = Duration::from_secs(15);

/// Sends each "your payment failed" DM once: cleared after it is sent or when Discord refuses
/// it for good (DMs closed, unknown user); kept for the next round on a transient failure.
pub async fn past_due_notices(data: Data) {
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
        for n in notices {
            let until = n
                .pro_until
                .map_or_else(|| "the end of your grace period".to_string(), date_string);
            let manage = match &data.settings.web_base {
                Some(base) => format!(
                    "Update your card at <{}/billing> (**Manage subscription**) to keep it.",
                    base.trim_end_matches('/')
                ),
                None => "Update your card in Stripe's billing portal to keep it.".to_string(),
            };
            let text = format!(
                "**Your rlcoach Pro payment didn't go through.** Pro (and your coach) stays on until {until}. {manage} Stripe will also try the card again."
            );
            let sent = serenity::UserId::new(n.user.discord())
                .direct_message(&*data.http, serenity::CreateMessage::new().content(text))
                .await;
            let done = match &sent {
                Ok(_) => true,
                Err(e) => super::delivery::classify(e) == DeliveryFailure::Permanent,
            };
            if let Err(e) = &sent {
                tracing::warn!(user = %n.user, error = %e, gave_up = done, "past-due DM not sent");
            } else {
                tracing::info!(user = %n.user, "past-due DM sent");
            }
            if done && let Err(e) = data.store.clear_past_due_notice(&n.subscription_id).await {
                tracing::warn!(error = %e, "cannot clear a past-due notice");
            }
        }
    }
}
