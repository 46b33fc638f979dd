//! Operator commands: `rlcoach plan set <discord-user-id> pro|free` and `rlcoach plan show
//! <discord-user-id>` (what billing will also call to grant and revoke Pro by hand).

use std::process::ExitCode;

use rlcoach::storage::coach::date_string;
use rlcoach::storage::{PlanSource, Tier, UserId};

#[derive(clap::Subcommand)]
pub enum PlanCommand {
    /// Grant (pro) or withdraw (free) an operator's Pro grant.
    Set {
        /// The Discord user id (a number).
        user: u64,
        /// pro or free.
        #[arg(value_parser = parse_tier)]
        plan: Tier,
    },
    /// Print the user's plan, where it comes from, the coach budget period, and what each
    /// source (operator, Stripe, Discord) says.
    Show {
        /// The Discord user id (a number).
        user: u64,
    },
}

fn parse_tier(s: &str) -> Result<Tier, String> {
    Tier::parse(s).ok_or_else(|| format!("unknown plan {s:?}; use pro or free"))
}

pub async fn plan(cmd: PlanCommand) -> anyhow::Result<ExitCode> {
    let store = crate::config::open_store().await?;
    let result = async {
        match cmd {
            PlanCommand::Set { user, plan } => {
                let u = UserId::from_discord(user);
                store
                    .set_plan(u, PlanSource::Operator, plan, None, None)
                    .await?;
                println!("{}", describe(&store, u).await?);
            }
            PlanCommand::Show { user } => {
                println!("{}", describe(&store, UserId::from_discord(user)).await?);
            }
        }
        anyhow::Ok(ExitCode::SUCCESS)
    }
    .await;
    store.close().await;
    result
}

async fn describe(store: &rlcoach::storage::Store, user: UserId) -> anyhow::Result<String> {
    let p = store.plan_of(user, rlcoach::storage::now_ms()).await?;
    let source = p.source.map_or("—", |s| s.as_str());
    let ends = p.ends_at.map_or("no end date".to_string(), date_string);
    let mut out = format!(
        "user {user}: {} (source: {source}; {ends}); coach budget period {} → {}",
        p.tier.as_str(),
        date_string(p.period_start),
        date_string(p.period_end)
    );
    // Every source's own say (a Stripe subscription, a Discord entitlement, an operator grant).
    for g in store.plan_grants(user).await? {
        let ends = g.ends_at.map_or("no end date".to_string(), |e| {
            format!("until {}", date_string(e))
        });
        let period = g.period.map_or(String::new(), |(s, e)| {
            format!("; billing period {} → {}", date_string(s), date_string(e))
        });
        out.push_str(&format!(
            "\n  {}: {} ({ends}{period}; updated {})",
            g.source.as_str(),
            g.tier.as_str(),
            date_string(g.updated_at)
        ));
    }
    Ok(out)
}
