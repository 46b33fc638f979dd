//! Speed bands and air time per player as two stacked 100 % bars (drawn by hand: plotters has no
//! stacked-bar series, and rectangles give exact control of labels inside segments).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{Draw, DrawResult, HPos, fill_rect, label};
use super::charts::{legend_item, title};
use super::spec::MovementChartSpec;
use super::{text, theme};

const SPEED_COLORS: [RGBColor; 3] = [
    RGBColor(0x5b, 0x65, 0x72),
    RGBColor(0x2f, 0xa7, 0xb5),
    RGBColor(0xf5, 0xc5, 0x42),
];
const SPEED_NAMES: [&str; 3] = ["Slow", "Boost speed", "Supersonic"];
const HEIGHT_COLORS: [RGBColor; 3] = [
    RGBColor(0x3f, 0x8f, 0x5a),
    RGBColor(0x5a, 0x9b, 0xe8),
    RGBColor(0xb0, 0x6c, 0xf0),
];
const HEIGHT_NAMES: [&str; 3] = ["Ground", "Low air", "High air"];

const NAME_W: i32 = 230;
const GROUP_W: i32 = 410;

impl Draw for MovementChartSpec {
    fn size(&self) -> (u32, u32) {
        (1200, 675)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&theme::BG)?;
        title(
            root,
            "Speed and air time",
            "Share of each player's time on the field",
        )?;
        let x_speed = 40 + NAME_W + 20;
        let x_height = x_speed + GROUP_W + 40;
        let f = text::bold(17.0);
        label(root, "Speed", &f, theme::TEXT, (x_speed, 110), HPos::Left)?;
        label(root, "Height", &f, theme::TEXT, (x_height, 110), HPos::Left)?;
        let mut x = x_speed + 70;
        for (c, n) in SPEED_COLORS.iter().zip(SPEED_NAMES) {
            x = legend_item(root, x, 110, *c, n)?;
        }
        let mut x = x_height + 75;
        for (c, n) in HEIGHT_COLORS.iter().zip(HEIGHT_NAMES) {
            x = legend_item(root, x, 110, *c, n)?;
        }

        let top = 140;
        let n = self.players.len().max(1) as i32;
        let row_h = ((675 - top - 30) / n).min(100);
        let bar_h = (row_h * 5 / 10).clamp(14, 44);
        for (i, p) in self.players.iter().enumerate() {
            let cy = top + i as i32 * row_h + row_h / 2;
            fill_rect(
                root,
                (40, cy - bar_h / 2),
                (46, cy + bar_h / 2),
                theme::team(p.team),
            )?;
            let nf = text::regular(18.0);
            label(
                root,
                &text::fit(&p.name, &nf, NAME_W - 16),
                &nf,
                theme::TEXT,
                (56, cy),
                HPos::Left,
            )?;
            stacked(root, x_speed, cy, bar_h, &p.speed, &SPEED_COLORS)?;
            stacked(root, x_height, cy, bar_h, &p.height, &HEIGHT_COLORS)?;
        }
        Ok(())
    }
}

fn stacked<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    x0: i32,
    cy: i32,
    h: i32,
    parts: &[f64; 3],
    colors: &[RGBColor; 3],
) -> DrawResult {
    let total: f64 = parts.iter().map(|v| v.max(0.0)).sum();
    fill_rect(
        root,
        (x0, cy - h / 2),
        (x0 + GROUP_W, cy + h / 2),
        theme::PANEL,
    )?;
    if total <= 0.0 {
        return Ok(());
    }
    let mut x = f64::from(x0);
    let f = text::bold(14.0);
    for (v, c) in parts.iter().zip(colors) {
        let w = v.max(0.0) / total * f64::from(GROUP_W);
        let (a, b) = (x.round() as i32, (x + w).round() as i32);
        if b > a {
            fill_rect(root, (a, cy - h / 2), (b, cy + h / 2), *c)?;
            let s = format!("{v:.0}%");
            if text::width(&s, &f) + 8 < b - a {
                label(root, &s, &f, theme::BG, ((a + b) / 2, cy), HPos::Center)?;
            }
        }
        x += w;
    }
    Ok(())
}
