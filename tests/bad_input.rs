//! Hostile and broken inputs get a typed error, never a panic; header-only replays degrade.

mod common;

use rlcoach::analysis::inspect;
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
        // Even a cut inside the network data: the body is shorter than its size word says.
        // Once the header's start is there, it is a damaged replay, at upload as in analysis
        // ("damaged or incomplete"), not "not a replay".
        let cut_bytes = &bytes[..cut];
        for (what, result) in [
            (
                "analyze",
                analyze(cut_bytes, &Limits::default()).map(|_| ()),
            ),
            (
                "inspect",
                inspect(cut_bytes, &Limits::default()).map(|_| ()),
            ),
        ] {
            match result {
                Err(AnalyzeError::Corrupt(_)) if cut >= 100 => {}
                Err(
                    AnalyzeError::Empty | AnalyzeError::Corrupt(_) | AnalyzeError::NotAReplay(_),
                ) if cut < 100 => {}
                other => panic!("{what}, cut at {cut}: unexpected {other:?}"),
            }
        }
    }
}

/// A replay whose bytes no longer match their CRC is refused as corrupt, wherever the damage is:
/// in the header, in the body's lists, or in the network data. (Before the CRCs were checked up
/// front, boxcars only looked at them when parsing failed: damaged network data gave a
/// header-only report, or a full report from the damaged frames.) Intake refuses the same files.
#[test]
fn a_crc_mismatch_anywhere_refuses_the_replay_as_corrupt() {
    let bytes = common::fixture("small-doubles.replay");
    let (header, body) = common::sections(&bytes);
    let positions = [
        20usize,
        500,
        4000,
        9000,
        20_000,
        100_000,
        400_000,
        bytes.len() - 10,
    ];
    assert!(header.contains(&positions[1]) && body.contains(&positions[7]));
    for (i, pos) in positions.into_iter().enumerate() {
        let mut b = bytes.clone();
        b[pos] ^= 0x5a + i as u8;
        for (what, r) in [
            ("analyze", analyze(&b, &Limits::default()).map(|_| ())),
            ("inspect", inspect(&b, &Limits::default()).map(|_| ())),
        ] {
            match r {
                Err(AnalyzeError::Corrupt(m)) if m.to_lowercase().contains("crc") => {}
                other => panic!("{what}, flip at {pos}: {other:?}"),
            }
        }
        // Damage in the network data re-sealed (the CRCs match again) is not refused: it
        // decodes or falls back to the scoreboard, so the CRC alone refused the bytes above.
        if pos >= 20_000 {
            common::reseal(&mut b);
            let r = analyze(&b, &Limits::default());
            assert!(r.is_ok(), "re-sealed flip at {pos}: {r:?}");
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

/// Fails the test if `analyze` hit a bug of ours instead of the input's fault: a panic (caught as
/// `Internal`) or a runaway (`Timeout`, with the default 30 s budget).
fn assert_typed(r: &Result<rlcoach::Report, AnalyzeError>, what: &str) {
    assert!(
        !matches!(r, Err(AnalyzeError::Internal(_) | AnalyzeError::Timeout(_))),
        "{what}: {r:?}"
    );
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_bytes_with_a_replay_prefix_get_a_typed_error() {
    let bytes = common::fixture("small-doubles.replay");
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    for round in 0..20 {
        let mut b = bytes[..2000].to_vec();
        b.extend((0..3000).map(|_| rng.next() as u8));
        let r = analyze(&b, &Limits::default());
        assert_typed(&r, &format!("round {round}"));
        assert!(r.is_err(), "round {round}: 5000 bytes analyzed as a replay");
    }
}

/// Random bytes written over part of the network data, CRCs re-sealed so the damage reaches the
/// frame decoder and the analysis: a report (full or scoreboard-only) or a typed error.
#[test]
fn random_network_data_behind_valid_crcs_never_panics() {
    let bytes = common::fixture("small-doubles.replay");
    let body = common::sections(&bytes).1;
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for round in 0..12 {
        let mut b = bytes.clone();
        let len = 1 + (rng.next() % 4096) as usize;
        let at = body.start + 20_000 + (rng.next() as usize % (body.len() - 20_000 - len));
        for byte in &mut b[at..at + len] {
            *byte = rng.next() as u8;
        }
        common::reseal(&mut b);
        assert_typed(
            &analyze(&b, &Limits::default()),
            &format!("round {round}: {len} random bytes at {at}"),
        );
    }
}
