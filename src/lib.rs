//! rlcoach core: Rocket League replay analysis, stats export and (later) cards, storage, jobs,
//! coach and billing. This crate knows nothing of Discord or HTTP servers; the `commands` crate
//! wires it to the outside world.

pub mod analysis;
pub mod benchmarks;
pub mod billing;
pub mod cards;
pub mod coach;
pub mod export;
pub mod jobs;
pub mod names;
pub mod playlist;
pub mod report;
pub mod storage;
pub mod summary;

pub use analysis::{AnalyzeError, Limits, analyze};
pub use report::Report;
