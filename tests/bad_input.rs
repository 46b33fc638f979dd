//! Hostile and broken inputs get a typed error, never a panic; header-only replays degrade.

mod common;

use rlcoach::{AnalyzeError, Limits, analyze};

#[test]
fn truncated_replays_are_rejected_at_every_cut() {
    let bytes = common::fixture("small-doubles.replay");
    for cut in [
        0usize,
        10,
        100,
        1000,
        5000,
        bytes.len() / 3,
        bytes.len() / 2,
        bytes.len() - 1,
    ] {
        match analyze(&bytes[..cut], &Limits::default()) {
            Err(AnalyzeError::Empty | AnalyzeError::Corrupt(_) | AnalyzeError::NotAReplay(_)) => {}
            // A cut inside the network data leaves a valid header: scoreboard-only report.
            Ok(r) => assert!(!r.quality.network_parsed, "cut at {cut} parsed fully?"),
            Err(e) => panic!("cut at {cut}: unexpected {e:?}"),
        }
    }
}

#[test]
fn flipped_bytes_fail_the_crc_or_degrade_never_panic() {
    let bytes = common::fixture("small-doubles.replay");
    for (i, pos) in [20usize, 500, 4000, 100_000, 400_000, bytes.len() - 10]
        .into_iter()
        .enumerate()
    {
        let mut b = bytes.clone();
        b[pos] ^= 0x5a + i as u8;
        match analyze(&b, &Limits::default()) {
            Ok(_) | Err(AnalyzeError::Corrupt(_) | AnalyzeError::NotAReplay(_)) => {}
            Err(e) => panic!("flip at {pos}: {e:?}"),
        }
    }
}

#[test]
fn header_only_replay_keeps_the_scoreboard() {
    let bytes = common::fixture("small-doubles.replay");
    let full = analyze(&bytes, &Limits::default()).unwrap();
    let b = common::header_only_bytes(&bytes);
    let r = analyze(&b, &Limits::default()).unwrap();
    assert!(!r.quality.network_parsed);
    assert!(!r.quality.warnings.is_empty());
    assert_eq!(r.metadata.score, full.metadata.score);
    for p in &r.players {
        assert!(p.boost.is_none() && p.movement.is_none() && p.positioning.is_none());
        let f = full.players.iter().find(|f| f.name == p.name).unwrap();
        assert_eq!(
            (p.core.score, p.core.goals, p.core.saves),
            (f.core.score, f.core.goals, f.core.saves)
        );
    }
}

#[test]
fn frame_limit_is_enforced_from_the_header() {
    let bytes = common::fixture("small-doubles.replay");
    let limits = Limits {
        max_frames: 1000,
        ..Limits::default()
    };
    assert!(matches!(
        analyze(&bytes, &limits),
        Err(AnalyzeError::TooManyFrames { limit: 1000, .. })
    ));
}

#[test]
fn zero_time_budget_times_out() {
    let bytes = common::fixture("small-doubles.replay");
    let limits = Limits {
        max_duration: std::time::Duration::ZERO,
        ..Limits::default()
    };
    assert!(matches!(
        analyze(&bytes, &limits),
        Err(AnalyzeError::Timeout(_))
    ));
}

#[test]
fn random_bytes_with_a_replay_prefix_do_not_panic() {
    let bytes = common::fixture("small-doubles.replay");
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..20 {
        let mut b = bytes[..2000].to_vec();
        for _ in 0..3000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            b.push(seed as u8);
        }
        let _ = analyze(&b, &Limits::default());
    }
}
