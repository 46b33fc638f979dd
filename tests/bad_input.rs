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

/// A real replay from `../shared/replays` by file name, or None (after `SKIPPED:`) without the
/// corpus.
fn shared_replay(name: &str) -> Option<Vec<u8>> {
    let path = common::corpus()?
        .into_iter()
        .find(|p| p.ends_with(name))
        .unwrap_or_else(|| panic!("the corpus has {name}"));
    Some(std::fs::read(path).expect("readable replay"))
}

/// Every real replay: the corpus and the older game versions beside it.
fn every_real_replay() -> Option<Vec<std::path::PathBuf>> {
    let mut files = common::corpus()?;
    let versions = common::shared_dir().join("replays/versions");
    files.extend(rlcoach::analysis::replay_files(&versions).expect("replays/versions"));
    Some(files)
}

/// A replay is unsigned: anyone can give its header's scoreboard thousands of players and
/// re-seal the CRCs. Intake refuses it (nothing is stored), and so does the analysis, instead of
/// storing a stat row and a report player per entry.
#[test]
fn a_header_listing_more_players_than_a_match_has_is_refused() {
    let Some(bytes) = shared_replay("0925.replay") else {
        return;
    };
    // The edit itself: rewriting the scoreboard with its own four entries gives the file back.
    assert_eq!(common::with_header_players(&bytes, 4), bytes);
    // Each entry is about 1.2 KB: 2,000 of them also make the header ten times the header cap,
    // which refuses the file first. With that cap lifted, the player cap refuses it on its own.
    let no_header_cap = Limits {
        max_header_bytes: usize::MAX,
        ..Limits::default()
    };
    for (n, limits) in [
        (rlcoach::analysis::MAX_HEADER_PLAYERS + 1, Limits::default()),
        (20, Limits::default()),
        (2000, no_header_cap),
    ] {
        let b = common::with_header_players(&bytes, n);
        for (what, r) in [
            ("inspect", inspect(&b, &limits).map(|_| ())),
            ("analyze", analyze(&b, &limits).map(|_| ())),
        ] {
            match r {
                Err(
                    e @ AnalyzeError::TooManyPlayers {
                        players,
                        limit: rlcoach::analysis::MAX_HEADER_PLAYERS,
                    },
                ) if players == n => {
                    if n == 2000 {
                        assert!(e.user_message().contains("2,000 players"), "{e:?}");
                    }
                }
                other => panic!("{what}, {n} players: {other:?}"),
            }
        }
    }
    let b = common::with_header_players(&bytes, 2000);
    for (what, r) in [
        ("inspect", inspect(&b, &Limits::default()).map(|_| ())),
        ("analyze", analyze(&b, &Limits::default()).map(|_| ())),
    ] {
        assert!(
            matches!(r, Err(AnalyzeError::HeaderTooLarge { .. })),
            "{what}, 2,000 players, default limits: {r:?}"
        );
    }
    // Up to the cap the file is taken (the repeated entries are the same four players).
    let b = common::with_header_players(&bytes, rlcoach::analysis::MAX_HEADER_PLAYERS);
    inspect(&b, &Limits::default()).expect("inspect at the cap");
    analyze(&b, &Limits::default()).expect("analyze at the cap");
}

/// The header's goal list sizes the timeline, kickoffs and chart markers: thousands of goals are
/// refused like thousands of players.
#[test]
fn a_header_listing_more_goals_than_an_hour_can_hold_is_refused() {
    let Some(bytes) = shared_replay("0925.replay") else {
        return;
    };
    let n = rlcoach::analysis::MAX_HEADER_GOALS + 1;
    let b = common::with_header_array_len(&bytes, "Goals", n);
    for (what, r) in [
        ("inspect", inspect(&b, &Limits::default()).map(|_| ())),
        ("analyze", analyze(&b, &Limits::default()).map(|_| ())),
    ] {
        assert!(
            matches!(r, Err(AnalyzeError::TooManyGoals { goals, .. }) if goals == n),
            "{what}: {r:?}"
        );
    }
    // At the cap the file is analyzed, its report bounded.
    let b = common::with_header_array_len(&bytes, "Goals", n - 1);
    inspect(&b, &Limits::default()).expect("inspect at the cap");
    analyze(&b, &Limits::default()).expect("analyze at the cap");
}

/// A header grown past the cap (here with 2,000 highlight entries, which nothing reads) is
/// refused from its size word; the same file is otherwise well formed and analyzes without the
/// cap, so the size alone refused it.
#[test]
fn a_header_section_over_the_cap_is_refused() {
    let Some(bytes) = shared_replay("0925.replay") else {
        return;
    };
    let b = common::with_header_array_len(&bytes, "HighLights", 2000);
    let size = common::sections(&b).0.len();
    let limit = Limits::default().max_header_bytes;
    assert!(size > limit, "{size}");
    for (what, r) in [
        ("inspect", inspect(&b, &Limits::default()).map(|_| ())),
        ("analyze", analyze(&b, &Limits::default()).map(|_| ())),
    ] {
        assert_eq!(
            r,
            Err(AnalyzeError::HeaderTooLarge { size, limit }),
            "{what}"
        );
    }
    let uncapped = Limits {
        max_header_bytes: usize::MAX,
        ..Limits::default()
    };
    analyze(&b, &uncapped).expect("the padded file is well formed");
    // Its game type renamed, the file no longer starts like a replay: still not parsed.
    let mut renamed = b.clone();
    let at = renamed
        .windows(14)
        .position(|w| w == b"TAGame.Replay_")
        .unwrap();
    renamed[at..at + 6].copy_from_slice(b"XXGame");
    common::reseal(&mut renamed);
    analyze(&renamed, &uncapped).expect("the renamed file parses without the cap");
    for (what, r) in [
        ("inspect", inspect(&renamed, &Limits::default()).map(|_| ())),
        ("analyze", analyze(&renamed, &Limits::default()).map(|_| ())),
    ] {
        assert!(
            matches!(r, Err(AnalyzeError::NotAReplay(_))),
            "{what}: {r:?}"
        );
    }
    // A size word over the cap that runs past the end of the file is a damaged replay.
    let mut lying = bytes.clone();
    lying[..4].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
    for (what, r) in [
        ("inspect", inspect(&lying, &Limits::default()).map(|_| ())),
        ("analyze", analyze(&lying, &Limits::default()).map(|_| ())),
    ] {
        assert!(matches!(r, Err(AnalyzeError::Corrupt(_))), "{what}: {r:?}");
    }
}

/// boxcars reads the header's properties to their end, whatever its size word says: a word under
/// the cap must not hide a header of megabytes behind it. Refused as edited.
#[test]
fn a_header_running_past_its_size_word_is_refused() {
    let Some(bytes) = shared_replay("0925.replay") else {
        return;
    };
    let padded = common::with_header_array_len(&bytes, "HighLights", 2000);
    let b = common::with_header_size_word(&padded, 9000);
    for (what, r) in [
        ("inspect", inspect(&b, &Limits::default()).map(|_| ())),
        ("analyze", analyze(&b, &Limits::default()).map(|_| ())),
    ] {
        assert!(
            matches!(r, Err(AnalyzeError::EditedHeader(_))),
            "{what}: {r:?}"
        );
    }
}

/// boxcars parses nested header properties recursively: thousands of nested arrays (they fit
/// under the header cap) overflowed the stack of a 2 MiB worker thread, which aborts the whole
/// process. Refused before boxcars sees them; real headers nest two deep.
#[test]
fn deeply_nested_header_properties_are_refused_before_parsing() {
    let Some(bytes) = shared_replay("0925.replay") else {
        return;
    };
    let at = |depth| common::with_nested_header_arrays(&bytes, depth);
    // The top level and 7 nested arrays: 8 deep, taken.
    analyze(&at(7), &Limits::default()).expect("8 deep");
    for depth in [8, 5000] {
        let b = at(depth);
        assert!(common::sections(&b).0.len() < Limits::default().max_header_bytes);
        // On a thread with tokio's blocking-thread stack, where intake and workers run.
        let r = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                [
                    inspect(&b, &Limits::default()).map(|_| ()),
                    analyze(&b, &Limits::default()).map(|_| ()),
                ]
            })
            .unwrap()
            .join()
            .unwrap();
        for r in r {
            assert!(
                matches!(r, Err(AnalyzeError::EditedHeader(_))),
                "{depth} deep: {r:?}"
            );
        }
    }
}

/// The network data of the corpus's 3v3 private match brings in 16 people (6 players and 10
/// spectators). Under a cap of 15 its frame pass stops and the replay is refused; at 16 it is
/// analyzed. (The default cap is 64.)
#[test]
fn network_data_bringing_in_more_players_than_the_cap_is_refused() {
    let Some(bytes) = shared_replay("4985385d-2a6a-4bea-a312-8e539c7fd098.replay") else {
        return;
    };
    let capped = |max_network_players| Limits {
        max_network_players,
        ..Limits::default()
    };
    match analyze(&bytes, &capped(15)).map(|_| ()) {
        Err(AnalyzeError::TooManyNetworkPlayers { players, limit: 15 }) if players > 15 => {}
        other => panic!("{other:?}"),
    }
    analyze(&bytes, &capped(16)).expect("16 network players under a cap of 16");
}

/// The stored report is bounded: a report whose JSON is over `max_report_bytes` is refused as the
/// file's fault (the worker stores nothing and does not retry), one at the limit is not.
#[test]
fn a_report_over_the_size_cap_is_refused() {
    let bytes = common::fixture("small-doubles.replay");
    let len = serde_json::to_vec(&analyze(&bytes, &Limits::default()).unwrap())
        .unwrap()
        .len();
    let capped = |max_report_bytes| Limits {
        max_report_bytes,
        ..Limits::default()
    };
    assert_eq!(
        analyze(&bytes, &capped(len - 1)).map(|_| ()),
        Err(AnalyzeError::ReportTooLarge { limit: len - 1 })
    );
    assert!(analyze(&bytes, &capped(len)).is_ok());
    // The scoreboard-only report is bounded too.
    let header_only = common::header_only_bytes(&bytes);
    assert!(matches!(
        analyze(&header_only, &capped(1000)),
        Err(AnalyzeError::ReportTooLarge { limit: 1000 })
    ));
}

/// No real replay is refused by the caps: every one in `../shared/replays` and its `versions/`
/// passes intake and analysis with the default limits, well inside each cap.
#[test]
fn every_real_replay_passes_the_caps() {
    let Some(files) = every_real_replay() else {
        return;
    };
    assert!(files.len() >= 20, "{}", files.len());
    let limits = Limits::default();
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let what = path.display();
        inspect(&bytes, &limits).unwrap_or_else(|e| panic!("inspect {what}: {e}"));
        let report = analyze(&bytes, &limits).unwrap_or_else(|e| panic!("analyze {what}: {e}"));
        let header = common::sections(&bytes).0.len();
        let json = serde_json::to_vec(&report).unwrap().len();
        assert!(
            header * 10 < limits.max_header_bytes,
            "{what}: header {header}"
        );
        assert!(json * 10 < limits.max_report_bytes, "{what}: report {json}");
    }
}
