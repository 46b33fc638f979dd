//! Seeding the bot's database before it starts, through the core API (`Store`, `Intake`): many
//! uploads in seconds instead of one analysis each. Each seeded replay is a real, distinct file
//! (a copy of a fixture with its match GUID rewritten and its CRCs re-sealed, as in the core's
//! `tests/common`), stored and queued by `Intake::submit`; its job is then completed with a
//! report the test supplies (the fixture's analysis, edited: names, teams, scores, dates), and
//! the upload counts as answered. The bot reads everything it shows from these rows.

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use rlcoach::Report;
use rlcoach::jobs::{Intake, PoolConfig};
use rlcoach::storage::{NewUpload, StorageConfig, Store, SubmitOutcome};

/// Where a replay's header and body (content) data lie, each after its size and CRC words.
pub fn sections(bytes: &[u8]) -> (Range<usize>, Range<usize>) {
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let header = 8..8 + word(0);
    let body = header.end + 8..header.end + 8 + word(header.end);
    (header, body)
}

/// Rewrites both section CRCs to match edited bytes, so the replay reads as intact.
pub fn reseal(bytes: &mut [u8]) {
    for section in <[_; 2]>::from(sections(bytes)) {
        let crc = boxcars::crc::calc_crc(&bytes[section.clone()]);
        bytes[section.start - 4..section.start].copy_from_slice(&crc.to_le_bytes());
    }
}

/// The same match as a different replay: the match GUID in the header rewritten (keeping its
/// length) and the CRCs re-sealed, so intake stores it as another game.
pub fn distinct_copy(bytes: &[u8], n: u16) -> Vec<u8> {
    distinct_copy_with_guid(bytes, &match_guid(bytes), n).0
}

/// The match GUID in a replay's header.
pub fn match_guid(bytes: &[u8]) -> String {
    rlcoach::analysis::inspect(bytes, &rlcoach::Limits::default())
        .expect("a valid replay")
        .match_guid
        .expect("the replay has a match GUID")
}

/// [`distinct_copy`] of a replay whose match GUID is `guid`; also returns the copy's GUID.
pub fn distinct_copy_with_guid(bytes: &[u8], guid: &str, n: u16) -> (Vec<u8>, String) {
    let header = sections(bytes).0;
    let at = bytes[header.clone()]
        .windows(guid.len())
        .position(|w| w == guid.as_bytes())
        .expect("GUID in the header")
        + header.start;
    let mut b = bytes.to_vec();
    let tail = format!("{n:04X}");
    b[at + guid.len() - 4..at + guid.len()].copy_from_slice(tail.as_bytes());
    reseal(&mut b);
    let copy_guid = format!("{}{tail}", &guid[..guid.len() - 4]);
    (b, copy_guid)
}

/// The bot's database in `data_dir`, opened before the bot starts (close it first), and the
/// replay whose copies are seeded.
pub struct Seeder {
    pub store: Store,
    intake: Intake,
    template: Vec<u8>,
    guid: String,
}

impl Seeder {
    pub async fn open(data_dir: &Path, template: &[u8]) -> Seeder {
        let store = Store::open(&StorageConfig::sqlite_in(data_dir))
            .await
            .expect("the bot's database opens");
        let intake = Intake::new(store.clone(), PoolConfig::default());
        Seeder {
            store,
            intake,
            template: template.to_vec(),
            guid: match_guid(template),
        }
    }

    /// Stores distinct copy `n` of the template, uploaded as `upload`, analyzed as `report`
    /// (its replay id and match GUID are set here); the upload is marked answered. Returns the
    /// replay id.
    pub async fn add(&self, n: u16, upload: NewUpload, mut report: Report) -> String {
        let (copy, guid) = distinct_copy_with_guid(&self.template, &self.guid, n);
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
