//! Replay files on disk, content-addressed: `<data>/replays/ab/abcdef….replay`.
//!
//! **Invariant:** a file exists only for a `replays` row. Intake writes a file only after the
//! upload was accepted and deduplicated, inside the transaction that inserts its row; deletion
//! moves files aside before its commit and removes them after. [`Store::sweep_orphan_files`]
//! removes whatever a crash left behind, and is safe against a concurrent submit (it never
//! touches a file younger than its `min_age`, and re-checks after moving a file aside).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{Result, StorageError, Store, new_id};

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Files (and leftover temporary files) removed.
    pub removed: usize,
    /// Files referenced by a replay row.
    pub kept: usize,
}

impl Store {
    /// Path of a stored replay file: `<data>/replays/ab/abcdef….replay`.
    pub fn replay_path(&self, replay_id: &str) -> PathBuf {
        let shard = replay_id.get(..2).unwrap_or("xx");
        self.data_dir
            .join("replays")
            .join(shard)
            .join(format!("{replay_id}.replay"))
    }

    /// Writes a replay's file (to a temporary name, then renamed over the final one, so a reader
    /// never sees half a file). Called only by the submit that inserted the replay's row.
    pub(super) async fn write_replay_file(&self, replay_id: &str, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.replay_path(replay_id);
        let io = |source| StorageError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
        }
        let tmp = path.with_extension(format!("tmp-{}", new_id()));
        if let Err(e) = tokio::fs::write(&tmp, bytes).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(io(e));
        }
        tokio::fs::rename(&tmp, &path).await.map_err(io)?;
        Ok(path)
    }

    /// Removes replay files no row references, and temporary files, older than `min_age`.
    pub async fn sweep_orphan_files(&self, min_age: Duration) -> Result<SweepReport> {
        let mut report = SweepReport::default();
        let root = self.data_dir.join("replays");
        for path in list_files(&root).await {
            if !older_than(&path, min_age).await {
                continue;
            }
            let Some(replay_id) = replay_id_of(&path) else {
                // A temporary or set-aside file a crash left behind.
                if tokio::fs::remove_file(&path).await.is_ok() {
                    report.removed += 1;
                }
                continue;
            };
            if self.is_referenced(replay_id).await? {
                report.kept += 1;
                continue;
            }
            // Move it aside, then look again: a submit that inserted the row meanwhile has
            // written a fresh file (young), which goes back.
            let aside = path.with_extension(format!("sweep-{}", new_id()));
            if tokio::fs::rename(&path, &aside).await.is_err() {
                continue;
            }
            if !older_than(&aside, min_age).await || self.is_referenced(replay_id).await? {
                if tokio::fs::try_exists(&path).await.unwrap_or(true) {
                    let _ = tokio::fs::remove_file(&aside).await;
                } else {
                    let _ = tokio::fs::rename(&aside, &path).await;
                }
                report.kept += 1;
                continue;
            }
            if tokio::fs::remove_file(&aside).await.is_ok() {
                report.removed += 1;
                tracing::info!(replay = replay_id, "removed an orphan replay file");
            }
        }
        Ok(report)
    }

    async fn is_referenced(&self, replay_id: &str) -> Result<bool> {
        Ok(sqlx::query("SELECT 1 FROM replays WHERE replay_id = $1")
            .bind(replay_id)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// Every file under the replay directory (for tests and the sweep).
    pub async fn stored_files(&self) -> Vec<PathBuf> {
        list_files(&self.data_dir.join("replays")).await
    }
}

/// The replay id of a final file name (`<64 hex>.replay`); None for temporary files.
fn replay_id_of(path: &Path) -> Option<&str> {
    let name = path.file_name()?.to_str()?;
    let id = name.strip_suffix(".replay")?;
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

async fn older_than(path: &Path, age: Duration) -> bool {
    let Ok(meta) = tokio::fs::metadata(path).await else {
        return false;
    };
    meta.modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .is_some_and(|a| a >= age)
}

async fn list_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(mut shards) = tokio::fs::read_dir(root).await else {
        return out;
    };
    while let Ok(Some(shard)) = shards.next_entry().await {
        let Ok(mut files) = tokio::fs::read_dir(shard.path()).await else {
            continue;
        };
        while let Ok(Some(f)) = files.next_entry().await {
            if f.file_type().await.is_ok_and(|t| t.is_file()) {
                out.push(f.path());
            }
        }
    }
    out.sort();
    out
}

/// Moves files aside (before a deleting transaction commits); returns (original, aside) pairs.
pub(super) async fn set_aside(files: &[PathBuf]) -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    for f in files {
        let aside = f.with_extension(format!("deleting-{}", new_id()));
        if tokio::fs::rename(f, &aside).await.is_ok() {
            out.push((f.clone(), aside));
        }
    }
    out
}

pub(super) async fn remove_all(aside: &[(PathBuf, PathBuf)]) {
    for (_, a) in aside {
        let _ = tokio::fs::remove_file(a).await;
    }
}

/// Puts files back after a failed deletion (unless a new file took the name meanwhile).
pub(super) async fn restore(aside: &[(PathBuf, PathBuf)]) {
    for (original, a) in aside {
        if tokio::fs::try_exists(original).await.unwrap_or(true) {
            let _ = tokio::fs::remove_file(a).await;
        } else {
            let _ = tokio::fs::rename(a, original).await;
        }
    }
}
