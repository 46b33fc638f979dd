//! Stat cards and charts rendered with plotters, as PNG (Discord) or SVG (web). Each card is a
//! spec struct built from a [`Report`] (see [`spec`]) plus a drawing routine; the same routine
//! draws both formats. Fonts are compiled in, so output is identical on every machine.

mod canvas;
mod charts;
mod match_card;
mod movement;
mod pitch;
mod player_card;
pub mod spec;
mod text;
pub mod theme;
mod timeline;

pub use spec::*;

use crate::report::Report;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Svg,
}

impl ImageFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Svg => "svg",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CardError {
    #[error("could not draw the card: {0}")]
    Draw(String),
    #[error("could not encode the image: {0}")]
    Encode(String),
    #[error("there is no player number {0} in this replay")]
    NoSuchPlayer(usize),
    #[error("{0} is not available for this replay")]
    Unavailable(&'static str),
}

impl CardError {
    /// What to tell the user.
    pub fn user_message(&self) -> String {
        match self {
            CardError::Draw(_) | CardError::Encode(_) => {
                "Something went wrong drawing this card. The stats are still saved.".into()
            }
            other => other.to_string(),
        }
    }
}

/// A rendered image and the file name it should carry.
#[derive(Debug, Clone)]
pub struct Image {
    /// e.g. `match.png`, `boost.png`.
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The kinds of image that can be drawn for one replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chart {
    Match,
    Boost,
    Movement,
    Heatmap,
    Timeline,
}

impl Chart {
    pub const ALL: [Chart; 5] = [
        Chart::Match,
        Chart::Boost,
        Chart::Movement,
        Chart::Heatmap,
        Chart::Timeline,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Chart::Match => "match",
            Chart::Boost => "boost",
            Chart::Movement => "movement",
            Chart::Heatmap => "heatmap",
            Chart::Timeline => "timeline",
        }
    }

    pub fn from_slug(s: &str) -> Option<Chart> {
        Chart::ALL.into_iter().find(|c| c.slug() == s)
    }

    fn what(self) -> &'static str {
        match self {
            Chart::Match => "The match card",
            Chart::Boost => "The boost chart",
            Chart::Movement => "The speed and air chart",
            Chart::Heatmap => "The positioning heatmap",
            Chart::Timeline => "The timeline",
        }
    }
}

/// Renders one chart of a report.
pub fn render_chart(
    r: &Report,
    chart: Chart,
    opts: &CardOptions,
    format: ImageFormat,
) -> Result<Image, CardError> {
    let unavailable = || CardError::Unavailable(chart.what());
    let bytes = match chart {
        Chart::Match => canvas::render(&MatchCardSpec::from_report(r, opts), format)?,
        Chart::Boost => canvas::render(
            &BoostChartSpec::from_report(r).ok_or_else(unavailable)?,
            format,
        )?,
        Chart::Movement => canvas::render(
            &MovementChartSpec::from_report(r).ok_or_else(unavailable)?,
            format,
        )?,
        Chart::Heatmap => canvas::render(
            &HeatmapChartSpec::from_report(r, None).ok_or_else(unavailable)?,
            format,
        )?,
        Chart::Timeline => canvas::render(
            &TimelineChartSpec::from_report(r).ok_or_else(unavailable)?,
            format,
        )?,
    };
    Ok(Image {
        name: format!("{}.{}", chart.slug(), format.extension()),
        bytes,
    })
}

/// The match card plus every chart this report supports (charts it cannot support are skipped).
pub fn render_all(
    r: &Report,
    opts: &CardOptions,
    format: ImageFormat,
) -> Result<Vec<Image>, CardError> {
    let mut out = Vec::new();
    for chart in Chart::ALL {
        match render_chart(r, chart, opts, format) {
            Ok(img) => out.push(img),
            Err(CardError::Unavailable(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// One player's card against a rank benchmark.
pub fn render_player_card(
    r: &Report,
    player: usize,
    opts: &CardOptions,
    format: ImageFormat,
) -> Result<Image, CardError> {
    let spec =
        PlayerCardSpec::from_report(r, player, opts).ok_or(CardError::NoSuchPlayer(player))?;
    Ok(Image {
        name: format!("player-{}.{}", player + 1, format.extension()),
        bytes: canvas::render(&spec, format)?,
    })
}

/// A trend chart of one stat over a player's last games.
pub fn render_trend(spec: &TrendChartSpec, format: ImageFormat) -> Result<Image, CardError> {
    if spec.points.is_empty() {
        return Err(CardError::Unavailable("A trend"));
    }
    Ok(Image {
        name: format!("trend.{}", format.extension()),
        bytes: canvas::render(spec, format)?,
    })
}
