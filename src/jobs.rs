//! Intake and the worker pool. [`Intake::submit`] validates a file (size, header), stores it and
//! queues it durably before answering; the [`WorkerPool`] claims jobs from the database, runs
//! the analysis on blocking threads with a timeout and panic isolation, stores the result, and
//! announces each finished replay on an in-process broadcast channel.
//!
//! **Invariant:** a submission is in the database before `submit` returns, and a result is
//! stored exactly once (the job can only be completed by the holder of its lease). Who waits for
//! a result learns it from [`Completion`] events, and after a restart from
//! [`Store::pending_deliveries`], whichever comes first; [`Store::mark_delivered`] decides who
//! answers.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinSet;
use tracing::Instrument as _;

use crate::analysis::{self, AnalyzeError, Limits};
use crate::storage::{ClaimedJob, NewUpload, StorageError, Store, SubmitOutcome, now_ms};

#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Concurrent analyses (default: number of cores).
    pub workers: usize,
    /// How long a claimed job stays ours without a heartbeat.
    pub lease: Duration,
    /// Wall-time limit per analysis (also passed to the analyzer as its deadline).
    pub job_timeout: Duration,
    pub max_attempts: i64,
    /// Queued + running jobs beyond which intake answers "busy".
    pub max_queue: i64,
    /// What one user may upload in a day.
    pub quota: crate::storage::UploadQuota,
    /// How often idle workers look for due jobs (they are also woken on each submission).
    pub poll: Duration,
    /// How often the pool fails jobs whose worker died on their last attempt (also once at
    /// start), so that their uploaders get an answer. A write transaction, so not on every tick.
    pub sweep: Duration,
    pub limits: Limits,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            lease: Duration::from_secs(60),
            job_timeout: Duration::from_secs(30),
            max_attempts: 3,
            max_queue: 200,
            quota: crate::storage::UploadQuota::default(),
            poll: Duration::from_secs(2),
            sweep: Duration::from_secs(30),
            limits: Limits::default(),
        }
    }
}

/// What the pool announces: a job started running, or finished.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEvent {
    Started { replay_id: String },
    Finished(Completion),
}

/// A replay whose job finished (successfully or not).
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub replay_id: String,
    /// None on success; the user-facing error otherwise.
    pub error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The file itself is unacceptable (message for the user in `user_message`).
    #[error(transparent)]
    Replay(#[from] AnalyzeError),
    /// The uploader is over their daily upload quota; nothing was stored.
    #[error("upload quota reached")]
    OverQuota(Box<crate::storage::OverQuota>),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl IntakeError {
    pub fn user_message(&self) -> String {
        match self {
            IntakeError::Replay(e) => e.user_message(),
            IntakeError::OverQuota(q) => q.user_message(),
            IntakeError::Storage(e) => e.user_message(),
        }
    }
}

/// Validates and durably queues uploads. Cheap to clone.
#[derive(Clone)]
pub struct Intake {
    store: Store,
    config: PoolConfig,
    wake: Arc<Notify>,
}

impl Intake {
    /// An intake that only queues (no workers in this process; they wake by polling).
    pub fn new(store: Store, config: PoolConfig) -> Intake {
        Intake {
            store,
            config,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Validates (size, header CRC, frame limit), stores the file and records the upload.
    /// Bad files are rejected before anything is stored.
    pub async fn submit(
        &self,
        bytes: Vec<u8>,
        upload: NewUpload,
    ) -> Result<SubmitOutcome, IntakeError> {
        let limits = self.config.limits.clone();
        let (info, bytes) =
            tokio::task::spawn_blocking(move || (analysis::inspect(&bytes, &limits), bytes))
                .await
                .map_err(|e| AnalyzeError::Internal(e.to_string()))?;
        let info = info?;
        let outcome = self
            .store
            .submit(
                &info.replay_id,
                info.match_guid.as_deref(),
                &bytes,
                &upload,
                self.config.max_queue,
                self.config.max_attempts,
                &self.config.quota,
            )
            .await
            .map_err(|e| match e {
                StorageError::OverQuota(q) => IntakeError::OverQuota(q),
                e => IntakeError::Storage(e),
            })?;
        if matches!(outcome, SubmitOutcome::Pending { .. }) {
            self.wake.notify_waiters();
        }
        Ok(outcome)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// N workers claiming jobs from the database.
pub struct WorkerPool {
    tasks: JoinSet<()>,
    stop: watch::Sender<Stop>,
    events: broadcast::Sender<JobEvent>,
    intake: Intake,
}

impl WorkerPool {
    pub fn start(store: Store, config: PoolConfig) -> WorkerPool {
        let (events, _) = broadcast::channel(1024);
        let (stop, _) = watch::channel(None);
        let wake = Arc::new(Notify::new());
        let intake = Intake {
            store: store.clone(),
            config: config.clone(),
            wake: wake.clone(),
        };
        let mut tasks = JoinSet::new();
        for n in 0..config.workers.max(1) {
            let worker = Worker {
                id: n,
                store: store.clone(),
                config: config.clone(),
                wake: wake.clone(),
                events: events.clone(),
                stop: stop.subscribe(),
            };
            tasks.spawn(worker.run());
        }
        tasks.spawn(sweep_abandoned(
            store.clone(),
            config.sweep,
            events.clone(),
            stop.subscribe(),
        ));
        WorkerPool {
            tasks,
            stop,
            events,
            intake,
        }
    }

    pub fn intake(&self) -> Intake {
        self.intake.clone()
    }

    /// Job events from now on (late subscribers use `Store::pending_deliveries`).
    pub fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.events.subscribe()
    }

    /// Stops claiming. Running analyses may finish and be stored for up to `grace` (most take
    /// well under a second); one still running a second before `grace` ends is handed back to
    /// the queue (the next start runs it first). Then waits for the workers, and aborts what is
    /// left, whose leases simply expire.
    pub async fn shutdown(mut self, grace: Duration) {
        let release_at = tokio::time::Instant::now() + grace.saturating_sub(Duration::from_secs(1));
        let _ = self.stop.send(Some(release_at));
        let drained = tokio::time::timeout(grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
    }

    /// Kills the workers at once, as a crash would: running jobs keep their lease until it
    /// expires. For tests and for fatal errors.
    pub async fn abort(mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// None while running; after `shutdown`, when running jobs are handed back if unfinished.
type Stop = Option<tokio::time::Instant>;

struct Worker {
    id: usize,
    store: Store,
    config: PoolConfig,
    wake: Arc<Notify>,
    events: broadcast::Sender<JobEvent>,
    stop: watch::Receiver<Stop>,
}

impl Worker {
    async fn run(mut self) {
        tracing::debug!(worker = self.id, "worker started");
        loop {
            if self.stop.borrow().is_some() {
                break;
            }
            let wake = self.wake.clone();
            let notified = wake.notified();
            tokio::pin!(notified);
            // Register before looking for work, so a submission during the look is not missed.
            notified.as_mut().enable();
            match self.tick().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::warn!(worker = self.id, error = %e, "job queue error"),
            }
            let sleep = self.idle_sleep().await;
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(sleep) => {}
                _ = self.stop.changed() => {}
            }
        }
        tracing::debug!(worker = self.id, "worker stopped");
    }

    async fn idle_sleep(&self) -> Duration {
        let now = now_ms();
        match self.store.next_due().await {
            Ok(Some(due)) if due > now => self
                .config
                .poll
                .min(Duration::from_millis((due - now) as u64)),
            Ok(Some(_)) => Duration::from_millis(50),
            _ => self.config.poll,
        }
    }

    /// Runs one job if there is one; Ok(true) when it did.
    async fn tick(&mut self) -> Result<bool, StorageError> {
        let Some(job) = self.store.claim_job(self.config.lease).await? else {
            return Ok(false);
        };
        let span = tracing::info_span!("job", job = %job.job_id, replay = %job.replay_id, attempt = job.attempt);
        self.run_job(job).instrument(span).await?;
        Ok(true)
    }

    async fn run_job(&mut self, job: ClaimedJob) -> Result<(), StorageError> {
        let bytes = match self.store.replay_bytes(&job.replay_id).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(replay = %job.replay_id, error = %e, "stored replay unreadable");
                if self
                    .store
                    .fail_job(&job, "the stored replay file is missing", false, None)
                    .await?
                {
                    self.announce(job.replay_id.clone(), Some("Something went wrong on our side: the replay file was lost. Please upload it again.".into()));
                }
                return Ok(());
            }
        };
        let _ = self.events.send(JobEvent::Started {
            replay_id: job.replay_id.clone(),
        });
        let mut limits = self.config.limits.clone();
        limits.max_duration = self.config.job_timeout;
        let analysis = tokio::task::spawn_blocking(move || analysis::analyze(&bytes, &limits));
        tokio::pin!(analysis);
        let mut beat = tokio::time::interval(self.config.lease / 3);
        beat.tick().await;
        let deadline = tokio::time::sleep(self.config.job_timeout + Duration::from_secs(5));
        tokio::pin!(deadline);
        let result = loop {
            tokio::select! {
                r = &mut analysis => break r.unwrap_or_else(|e| Err(AnalyzeError::Internal(e.to_string()))),
                _ = beat.tick() => {
                    match self.store.heartbeat(&job, self.config.lease).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(job = %job.job_id, "lease lost; another worker owns the job");
                            return Ok(());
                        }
                        // The lease still has two thirds to run: the next beat tries again, and
                        // if the lease is lost meanwhile, storing the result notices.
                        Err(e) => tracing::warn!(job = %job.job_id, error = %e, "heartbeat failed"),
                    }
                }
                _ = &mut deadline => break Err(AnalyzeError::Timeout(self.config.job_timeout)),
                // Graceful shutdown: the analysis may finish (and be stored) until shortly
                // before the grace ends; then the job is handed back so the next start runs it.
                _ = wait_for_release(&mut self.stop) => {
                    tracing::info!(job = %job.job_id, "shutting down: job handed back to the queue");
                    self.store.release_job(&job).await?;
                    return Ok(());
                }
            }
        };
        match result {
            Ok(report) => match self.store.complete_job(&job, &report).await {
                Ok(true) => {
                    tracing::info!(job = %job.job_id, replay = %job.replay_id, "analysis stored");
                    self.announce(job.replay_id.clone(), None);
                }
                Ok(false) => {}
                Err(e) => {
                    // A failure of ours to store the result: the job goes back to the queue for
                    // another attempt after the short backoff instead of sitting out its lease.
                    let retry = (job.attempt < job.max_attempts)
                        .then(|| now_ms() + backoff_ms(job.attempt));
                    tracing::warn!(job = %job.job_id, error = %e, retry = retry.is_some(), "storing the analysis failed");
                    let message = e.user_message();
                    if self.store.fail_job(&job, &message, false, retry).await? && retry.is_none() {
                        self.announce(job.replay_id.clone(), Some(message));
                    }
                }
            },
            Err(e) => {
                let ours = matches!(e, AnalyzeError::Internal(_) | AnalyzeError::Timeout(_));
                let retry = (ours && job.attempt < job.max_attempts)
                    .then(|| now_ms() + backoff_ms(job.attempt));
                tracing::warn!(job = %job.job_id, error = %e, retry = retry.is_some(), "analysis failed");
                let message = e.user_message();
                if self.store.fail_job(&job, &message, !ours, retry).await? && retry.is_none() {
                    self.announce(job.replay_id.clone(), Some(message));
                }
            }
        }
        Ok(())
    }

    fn announce(&self, replay_id: String, error: Option<String>) {
        announce(&self.events, replay_id, error);
    }
}

fn announce(events: &broadcast::Sender<JobEvent>, replay_id: String, error: Option<String>) {
    // No receiver is fine: deliveries are also found in the database.
    let _ = events.send(JobEvent::Finished(Completion { replay_id, error }));
}

/// Resolves when a shutdown's release time has come (never while the pool runs).
async fn wait_for_release(stop: &mut watch::Receiver<Stop>) {
    loop {
        let at = *stop.borrow_and_update();
        match at {
            Some(at) => return tokio::time::sleep_until(at).await,
            None => {
                if stop.changed().await.is_err() {
                    return std::future::pending().await;
                }
            }
        }
    }
}

/// Fails, at start and then every `every`, the jobs whose worker died on their last attempt
/// (their lease ran out and no attempt is left, so no worker claims them), and announces them.
async fn sweep_abandoned(
    store: Store,
    every: Duration,
    events: broadcast::Sender<JobEvent>,
    mut stop: watch::Receiver<Stop>,
) {
    let mut timer = tokio::time::interval(every.max(Duration::from_millis(1)));
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = timer.tick() => {}
            changed = stop.changed() => if changed.is_err() { break },
        }
        if stop.borrow().is_some() {
            break;
        }
        match store.fail_abandoned_jobs().await {
            Ok(failed) => {
                for replay_id in failed {
                    announce(
                        &events,
                        replay_id,
                        Some(
                            "Something went wrong on our side while analyzing that replay.".into(),
                        ),
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "sweeping abandoned jobs failed"),
        }
    }
}

/// 2 s, 4 s, 8 s … capped at 5 minutes.
fn backoff_ms(attempt: i64) -> i64 {
    (2_000i64 << attempt.clamp(0, 8)).min(300_000)
}
