//! Seeding the bot's database before it starts, through the core API (`Store`, `Intake`): many
//! uploads in seconds instead of one analysis each. Each seeded replay is a real, distinct file
//! (`edit::distinct_copy`: the fixture with its match GUID rewritten and its CRCs re-sealed),
//! stored and queued by `Intake::submit`; its job is then completed with a report the test
//! supplies (the fixture's analysis, edited: names, teams, scores, dates), and
//! the upload counts as answered. The bot reads everything it shows from these rows.

use std::path::Path;
use std::time::Duration;

use rlcoach::Report;
use rlcoach::jobs::{Intake, PoolConfig};
use rlcoach::storage::{NewUpload, StorageConfig, Store, SubmitOutcome};

/// The bot's database in `data_dir`, opened before the bot starts (close it first), and the
/// replay whose copies are seeded.
pub struct Seeder {
    pub store: Store,
    intake: Intake,
    template: Vec<u8>,
}

impl Seeder {
    pub async fn open(data_dir: &Path, template: &[u8]) -> Seeder {
        let store = Store::open(&StorageConfig::sqlite_in(data_dir))
            .await
            .expect("the bot's database opens");
        Seeder::on(store, template)
    }

    /// Seeds through a store that is already open (any backend); leave closing it to its owner.
    pub fn on(store: Store, template: &[u8]) -> Seeder {
        let intake = Intake::new(store.clone(), PoolConfig::default());
        Seeder {
            store,
            intake,
            template: template.to_vec(),
        }
    }

    /// Stores distinct copy `n` of the template, uploaded as `upload`, analyzed as `report`
    /// (its replay id and match GUID are set here); the upload is marked answered. Returns the
    /// replay id.
    pub async fn add(&self, n: u32, upload: NewUpload, mut report: Report) -> String {
        let (copy, guid) = super::edit::distinct_copy_and_guid(&self.template, n);
        let (upload_id, replay_id) = match self.intake.submit(copy, upload).await {
            Ok(SubmitOutcome::Pending {
                upload_id,
                replay_id,
                ..
            }) => (upload_id, replay_id),
            other => panic!("seeding copy {n}: {other:?}"),
        };
        let job = self
            .store
            .claim_job(Duration::from_secs(60))
            .await
            .unwrap()
            .expect("the seeded job is claimable");
        assert_eq!(job.replay_id, replay_id, "one seeded job at a time");
        report.metadata.replay_id = replay_id.clone();
        report.metadata.match_guid = Some(guid);
        assert!(self.store.complete_job(&job, &report).await.unwrap());
        assert!(self.store.mark_delivered(&upload_id).await.unwrap());
        replay_id
    }

    pub async fn close(self) {
        self.store.close().await;
    }
}
