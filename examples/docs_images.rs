//! Re-renders the README's pictures (`docs/*.png`) from `../shared/replays/0925.replay`, so they
//! show what the current analyzer and cards produce:
//! `cargo run -p rlcoach --example docs_images` from the workspace root.

use rlcoach::cards::{self, CardOptions, Chart, ImageFormat};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bytes = std::fs::read("../shared/replays/0925.replay")?;
    let report = rlcoach::analyze(&bytes, &rlcoach::Limits::default())?;
    let opts = CardOptions::default();
    let mrtn = report
        .players
        .iter()
        .position(|p| p.name == "mrtn")
        .ok_or("mrtn is not in 0925.replay")?;
    let player = cards::render_player_card(&report, mrtn, &opts, ImageFormat::Png)?;
    std::fs::write("docs/player-card.png", player.bytes)?;
    for (chart, file) in [
        (Chart::Match, "docs/match-card.png"),
        (Chart::Boost, "docs/boost-chart.png"),
    ] {
        std::fs::write(
            file,
            cards::render_chart(&report, chart, &opts, ImageFormat::Png)?.bytes,
        )?;
    }
    Ok(())
}
