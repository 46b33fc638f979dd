//! Cards and charts: the data behind each card (insta), decoded PNGs (size, weight, non-blank
//! regions), determinism, awkward names and team sizes, header-only reports, SVG, and one golden
//! PNG compared with a tolerance.

mod common;

use rlcoach::cards::{
    self, CardError, CardOptions, Chart, ImageFormat, MatchCardSpec, PlayerCardSpec, TrendChartSpec,
};
use rlcoach::{Limits, Report, analyze};

struct Decoded {
    w: u32,
    h: u32,
    rgb: Vec<u8>,
}

fn decode(png_bytes: &[u8]) -> Decoded {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("valid PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("valid PNG data");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    Decoded {
        w: info.width,
        h: info.height,
        rgb: buf,
    }
}

impl Decoded {
    fn px(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.w + x) * 3) as usize;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Share of pixels in the box that differ from the card background.
    fn ink(&self, (x0, y0): (u32, u32), (x1, y1): (u32, u32)) -> f64 {
        let bg = self.px(2, self.h - 2);
        let mut n = 0;
        let mut inked = 0;
        for y in y0..y1 {
            for x in x0..x1 {
                n += 1;
                if self.px(x, y) != bg {
                    inked += 1;
                }
            }
        }
        f64::from(inked) / f64::from(n)
    }

    /// Whether any pixel in the box is close to `color`.
    fn has_color(&self, (x0, y0): (u32, u32), (x1, y1): (u32, u32), color: [u8; 3]) -> bool {
        (y0..y1).any(|y| {
            (x0..x1).any(|x| {
                let p = self.px(x, y);
                (0..3).all(|c| (i32::from(p[c]) - i32::from(color[c])).abs() <= 12)
            })
        })
    }
}

const BLUE: [u8; 3] = [0x3b, 0x8b, 0xf0];
const ORANGE: [u8; 3] = [0xf5, 0x9a, 0x2c];
const WHITE: [u8; 3] = [0xff, 0xff, 0xff];

fn small_doubles() -> Report {
    analyze(&common::fixture("small-doubles.replay"), &Limits::default()).unwrap()
}

fn check_png(name: &str, bytes: &[u8]) -> Decoded {
    if let Some(dir) = std::env::var_os("RLCOACH_CARD_DUMP") {
        // Look at what the tests render: RLCOACH_CARD_DUMP=/tmp/x cargo nextest run --test cards
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let _ = std::fs::write(std::path::Path::new(&dir).join(safe), bytes);
    }
    assert!(bytes.len() < 1_000_000, "{name} is {} bytes", bytes.len());
    let img = decode(bytes);
    assert_eq!((img.w, img.h), (1200, 675), "{name}");
    // The body of every card carries content (not a blank or a bare background).
    let ink = img.ink((40, 100), (1160, 640));
    assert!(ink > 0.02, "{name}: body only {:.1}% inked", ink * 100.0);
    img
}

#[test]
fn every_card_of_every_corpus_replay_renders_and_is_not_blank() {
    let Some(files) = common::corpus() else {
        return;
    };
    for path in files {
        let r = common::analyze_path(&path);
        let opts = CardOptions::default();
        let images = cards::render_all(&r, &opts, ImageFormat::Png).unwrap();
        let names: Vec<&str> = images.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "match.png",
                "boost.png",
                "movement.png",
                "heatmap.png",
                "timeline.png"
            ],
            "{}",
            path.display()
        );
        for img in &images {
            check_png(&format!("{}/{}", path.display(), img.name), &img.bytes);
        }
        let m = decode(&images[0].bytes);
        // Big score digits in team colours either side of the centre.
        assert!(
            m.has_color((420, 20), (590, 100), BLUE),
            "{}: blue score",
            path.display()
        );
        assert!(
            m.has_color((610, 20), (780, 100), ORANGE),
            "{}: orange score",
            path.display()
        );
        for i in 0..r.players.len() {
            let card = cards::render_player_card(&r, i, &opts, ImageFormat::Png).unwrap();
            check_png(&card.name, &card.bytes);
        }
    }
}

#[test]
fn rendering_is_deterministic() {
    let r = small_doubles();
    for chart in Chart::ALL {
        let a = cards::render_chart(&r, chart, &CardOptions::default(), ImageFormat::Png).unwrap();
        let b = cards::render_chart(&r, chart, &CardOptions::default(), ImageFormat::Png).unwrap();
        assert!(a.bytes == b.bytes, "{} differs between two renders", a.name);
    }
}

#[test]
fn card_data_snapshots() {
    let r = small_doubles();
    let who = r.players[0].id.clone();
    let opts = CardOptions {
        highlight: Some(who),
        rank: Some("gc2".into()),
    };
    insta::assert_json_snapshot!("match_card_spec", MatchCardSpec::from_report(&r, &opts));
    insta::assert_json_snapshot!(
        "player_card_spec",
        PlayerCardSpec::from_report(&r, 0, &opts).unwrap()
    );
    let timeline = cards::TimelineChartSpec::from_report(&r).unwrap();
    insta::assert_json_snapshot!("timeline_spec", timeline);
    let movement = cards::MovementChartSpec::from_report(&r).unwrap();
    insta::assert_json_snapshot!("movement_spec", movement, {
        ".players[].speed[]" => insta::rounded_redaction(2),
        ".players[].height[]" => insta::rounded_redaction(2),
    });
}

#[test]
fn highlighted_player_and_mvp_are_marked_on_the_match_card() {
    let r = small_doubles();
    let mvp = r.players.iter().position(|p| p.core.mvp).expect("an MVP");
    let opts = CardOptions {
        highlight: Some(r.players[mvp].id.clone()),
        rank: None,
    };
    let spec = MatchCardSpec::from_report(&r, &opts);
    let rows: Vec<_> = spec.teams.iter().flat_map(|t| &t.rows).collect();
    let highlighted: Vec<_> = rows.iter().filter(|row| row.highlighted).collect();
    assert_eq!(highlighted.len(), 1);
    // The one highlighted row is the MVP's, and the only row starred.
    assert_eq!(highlighted[0].name, r.players[mvp].name);
    assert!(highlighted[0].mvp);
    assert_eq!(rows.iter().filter(|row| row.mvp).count(), 1);
    // Each team's rows are sorted by score, and the team header carries its goals.
    for t in &spec.teams {
        assert!(t.rows.windows(2).all(|w| w[0].score >= w[1].score));
        assert_eq!(t.goals, r.metadata.score[usize::from(t.team)]);
    }
    // The highlight draws a white outline somewhere in the table.
    let img = decode(
        &cards::render_chart(&r, Chart::Match, &opts, ImageFormat::Png)
            .unwrap()
            .bytes,
    );
    assert!(img.has_color((30, 140), (1170, 640), [255, 255, 255]));
}

/// A report stretched to 4v4 with awkward names: emoji, CJK, right-to-left, very long.
fn awkward_four_v_four() -> Report {
    let mut r = small_doubles();
    let names = [
        "🔥🔥 xX_Blaze_Xx 🔥🔥",
        "山田太郎",
        "AVeryLongRocketLeagueNameThatKeepsGoingAndGoingForeverAndEver",
        "مرحبا",
        "\u{202e}reversed",
        "",
        "   ",
        "Ünïcödé Ñame",
    ];
    let template = r.players.clone();
    r.players.clear();
    for (i, name) in names.iter().enumerate() {
        let mut p = template[i % template.len()].clone();
        p.name = (*name).to_string();
        p.team = (i % 2) as u8;
        p.id.id = format!("{i}");
        r.players.push(p);
    }
    r.metadata.team_size = 4;
    r.series.boost = (0..8)
        .map(|i| r.series.boost[i % template.len()].clone())
        .collect();
    r.series.speed = (0..8)
        .map(|i| r.series.speed[i % template.len()].clone())
        .collect();
    r
}

#[test]
fn awkward_names_and_four_v_four_render() {
    let r = awkward_four_v_four();
    let opts = CardOptions {
        highlight: Some(r.players[2].id.clone()),
        rank: None,
    };
    for img in cards::render_all(&r, &opts, ImageFormat::Png).unwrap() {
        check_png(&img.name, &img.bytes);
    }
    for i in 0..8 {
        let card = cards::render_player_card(&r, i, &opts, ImageFormat::Png).unwrap();
        check_png(&card.name, &card.bytes);
    }
    // Nothing drawn past the card's right margin in the name column (long name is cut).
    let img = decode(
        &cards::render_chart(&r, Chart::Match, &opts, ImageFormat::Png)
            .unwrap()
            .bytes,
    );
    assert_eq!(
        img.ink((1172, 140), (1200, 640)),
        0.0,
        "table spills past the right edge"
    );
}

#[test]
fn header_only_reports_render_what_is_known_and_say_what_is_not() {
    let bytes = common::header_only_bytes(&common::fixture("small-doubles.replay"));
    let r = analyze(&bytes, &Limits::default()).unwrap();
    assert!(!r.quality.network_parsed);
    let opts = CardOptions::default();
    let images = cards::render_all(&r, &opts, ImageFormat::Png).unwrap();
    assert_eq!(images.len(), 1, "only the match card is possible");
    check_png("header-only match", &images[0].bytes);
    let spec = MatchCardSpec::from_report(&r, &opts);
    assert!(!spec.detailed);
    assert!(
        spec.notes.iter().any(|n| n.contains("Scoreboard only")),
        "{:?}",
        spec.notes
    );
    for chart in [
        Chart::Boost,
        Chart::Movement,
        Chart::Heatmap,
        Chart::Timeline,
    ] {
        let err = cards::render_chart(&r, chart, &opts, ImageFormat::Png).unwrap_err();
        assert!(matches!(err, CardError::Unavailable(_)), "{chart:?}: {err}");
        assert!(err.user_message().contains("not available"));
    }
    let card = cards::render_player_card(&r, 0, &opts, ImageFormat::Png).unwrap();
    check_png("header-only player", &card.bytes);
    let p = PlayerCardSpec::from_report(&r, 0, &opts).unwrap();
    // Only the scoreboard-derived metric (shooting %) can be compared.
    assert_eq!(
        p.rows.iter().map(|m| m.key.as_str()).collect::<Vec<_>>(),
        ["shooting_pct"]
    );
    assert!(p.notes.iter().any(|n| n.contains("Only the scoreboard")));
    assert!(matches!(
        cards::render_player_card(&r, 99, &opts, ImageFormat::Png),
        Err(CardError::NoSuchPlayer(99))
    ));
}

#[test]
fn svg_output_is_the_same_drawing_as_text() {
    let r = small_doubles();
    let svg =
        cards::render_chart(&r, Chart::Match, &CardOptions::default(), ImageFormat::Svg).unwrap();
    assert_eq!(svg.name, "match.svg");
    let s = String::from_utf8(svg.bytes).unwrap();
    assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
    assert!(s.contains(r#"width="1200""#) && s.contains(r#"height="675""#));
    for p in &r.players {
        assert!(s.contains(&p.name), "{} missing from SVG", p.name);
    }
}

#[test]
fn trend_chart_draws_points_and_the_rank_band() {
    let points: Vec<(String, f64)> = [310.0, 355.0, 402.0, 388.0, 420.0, 371.0]
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("G{}", i + 1), *v))
        .collect();
    let spec = TrendChartSpec::new("mrtn", "bcpm", points, Some("GC1"), "DOUBLES");
    let band = spec.band.as_ref().expect("bcpm has a GC1 band");
    assert_eq!((band.p25, band.median, band.p75), (330.0, 380.0, 420.0));
    assert_eq!(band.borrowed_from, None);
    // Duel games have no benchmark of their own yet: the band is doubles' and says so.
    let duel = TrendChartSpec::new(
        "mrtn",
        "bcpm",
        vec![("G1".into(), 300.0)],
        Some("GC1"),
        "DUEL",
    );
    assert_eq!(
        duel.band.as_ref().unwrap().borrowed_from.as_deref(),
        Some("doubles")
    );
    assert!(spec.title.contains("Boost collected / min") && spec.title.contains("6 games"));
    let img = cards::render_trend(&spec, ImageFormat::Png).unwrap();
    let d = check_png("trend", &img.bytes);
    assert!(d.has_color((100, 100), (1160, 600), ORANGE), "trend line");
    assert!(
        !d.has_color((100, 100), (1160, 600), WHITE),
        "no average asked for"
    );
    // The moving average is a second (white) line, and the subtitle says what it is.
    let smooth = spec.clone().with_moving_average(3);
    assert_eq!(smooth.average.len(), 6);
    assert!((smooth.average[2] - (310.0 + 355.0 + 402.0) / 3.0).abs() < 1e-9);
    assert!((smooth.average[5] - (388.0 + 420.0 + 371.0) / 3.0).abs() < 1e-9);
    let img = cards::render_trend(&smooth, ImageFormat::Svg).unwrap();
    assert!(
        String::from_utf8(img.bytes)
            .unwrap()
            .contains("average of the last 3")
    );
    let d = check_png(
        "trend-average",
        &cards::render_trend(&smooth, ImageFormat::Png)
            .unwrap()
            .bytes,
    );
    assert!(d.has_color((100, 100), (1160, 600), WHITE), "average line");
    let empty = TrendChartSpec::new("mrtn", "bcpm", vec![], None, "DOUBLES");
    assert!(matches!(
        cards::render_trend(&empty, ImageFormat::Png),
        Err(CardError::Unavailable(_))
    ));
    // Unknown metrics chart without a band instead of failing.
    let odd = TrendChartSpec::new("mrtn", "made_up", vec![("a".into(), 1.0)], None, "DOUBLES");
    assert!(odd.band.is_none());
    let d = decode(&cards::render_trend(&odd, ImageFormat::Png).unwrap().bytes);
    assert!(d.has_color((100, 100), (1160, 600), ORANGE), "single point");
}

/// One golden PNG, compared with a tolerance (font rasterisation may shift a pixel). Refresh with
/// `RLCOACH_UPDATE_GOLDEN=1` after checking the new image by eye.
#[test]
fn match_card_matches_the_golden_png() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/small-doubles-match.png");
    let r = small_doubles();
    let img =
        cards::render_chart(&r, Chart::Match, &CardOptions::default(), ImageFormat::Png).unwrap();
    if std::env::var_os("RLCOACH_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &img.bytes).unwrap();
    }
    let want =
        decode(&std::fs::read(&path).expect("golden present (RLCOACH_UPDATE_GOLDEN=1 writes it)"));
    let got = decode(&img.bytes);
    assert_eq!((got.w, got.h), (want.w, want.h));
    let differing = got
        .rgb
        .chunks(3)
        .zip(want.rgb.chunks(3))
        .filter(|(a, b)| a.iter().zip(b.iter()).any(|(x, y)| x.abs_diff(*y) > 24))
        .count();
    let share = differing as f64 / f64::from(got.w * got.h);
    assert!(
        share < 0.005,
        "{:.2}% of pixels differ from the golden",
        share * 100.0
    );
}
