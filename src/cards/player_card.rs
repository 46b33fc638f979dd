//! The player card (1200×675): one player's scoreboard and key stats against a rank benchmark
//! (p25–p75 band, median tick, the player's value, and an arrow for better or worse).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{Draw, DrawResult, HPos, fill_rect, label};
use super::spec::{MetricRow, PlayerCardSpec};
use super::{text, theme};

const W: i32 = 1200;
const H: i32 = 675;
const BAR_X0: i32 = 390;
const BAR_X1: i32 = 960;

impl Draw for PlayerCardSpec {
    fn size(&self) -> (u32, u32) {
        (W as u32, H as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let color = theme::team(self.team);
        root.fill(&theme::BG)?;
        fill_rect(root, (0, 0), (10, H), color)?;

        let name_font = text::bold(40.0);
        label(
            root,
            &text::fit(&self.name, &name_font, W - 120),
            &name_font,
            theme::TEXT,
            (40, 46),
            HPos::Left,
        )?;
        let sub = text::regular(19.0);
        let team = format!("{} team  ·  {}", theme::team_name(self.team), self.subtitle);
        label(
            root,
            &text::fit(&team, &sub, W - 120),
            &sub,
            theme::MUTED,
            (40, 90),
            HPos::Left,
        )?;

        // Scoreboard boxes.
        let n = self.headline.len().max(1) as i32;
        let box_w = (W - 80 - (n - 1) * 12) / n;
        for (i, (name, value)) in self.headline.iter().enumerate() {
            let x = 40 + i as i32 * (box_w + 12);
            fill_rect(root, (x, 120), (x + box_w, 200), theme::PANEL)?;
            let c = if name == "MVP" {
                theme::GOLD
            } else {
                theme::TEXT
            };
            label(
                root,
                value,
                &text::bold(32.0),
                c,
                (x + box_w / 2, 152),
                HPos::Center,
            )?;
            label(
                root,
                name,
                &text::regular(15.0),
                theme::MUTED,
                (x + box_w / 2, 184),
                HPos::Center,
            )?;
        }

        let head = format!(
            "vs {} ({})  ·  bar = middle half of {} players, tick = median",
            self.rank, self.benchmark_playlist, self.rank
        );
        label(
            root,
            &head,
            &text::bold(17.0),
            theme::TEXT,
            (40, 232),
            HPos::Left,
        )?;

        if self.rows.is_empty() {
            label(
                root,
                "No benchmarked stats could be read from this replay.",
                &text::regular(20.0),
                theme::MUTED,
                (40, 300),
                HPos::Left,
            )?;
        }
        let row_h = 38;
        for (i, row) in self.rows.iter().enumerate() {
            let y = 254 + i as i32 * row_h;
            let bg = if i % 2 == 0 { theme::PANEL } else { theme::BG };
            fill_rect(root, (30, y), (W - 30, y + row_h), bg)?;
            draw_metric(root, row, y + row_h / 2, color)?;
        }
        if !self.notes.is_empty() {
            let f = text::regular(15.0);
            label(
                root,
                &text::fit(&self.notes.join("  ·  "), &f, W - 80),
                &f,
                theme::GOLD,
                (40, H - 18),
                HPos::Left,
            )?;
        }
        Ok(())
    }
}

fn draw_metric<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    row: &MetricRow,
    cy: i32,
    color: RGBColor,
) -> DrawResult {
    let f = text::regular(18.0);
    label(root, &row.label, &f, theme::TEXT, (48, cy), HPos::Left)?;
    label(
        root,
        &row.value_label,
        &text::bold(18.0),
        theme::TEXT,
        (BAR_X0 - 24, cy),
        HPos::Right,
    )?;

    // Scale: the band and the value with some room on both sides.
    let spread = (row.p75 - row.p25)
        .abs()
        .max(row.median.abs() * 0.2)
        .max(1e-6);
    let lo = row.p25.min(row.value) - spread * 0.6;
    let hi = row.p75.max(row.value) + spread * 0.6;
    let x_of = |v: f64| BAR_X0 + ((v - lo) / (hi - lo) * f64::from(BAR_X1 - BAR_X0)).round() as i32;
    fill_rect(root, (BAR_X0, cy - 2), (BAR_X1, cy + 2), theme::GRID)?;
    fill_rect(
        root,
        (x_of(row.p25), cy - 8),
        (x_of(row.p75), cy + 8),
        theme::PANEL_ALT,
    )?;
    root.draw(&Rectangle::new(
        [(x_of(row.p25), cy - 8), (x_of(row.p75), cy + 8)],
        theme::MUTED.stroke_width(1),
    ))?;
    fill_rect(
        root,
        (x_of(row.median) - 1, cy - 12),
        (x_of(row.median) + 1, cy + 12),
        theme::TEXT,
    )?;
    root.draw(&Circle::new((x_of(row.value), cy), 8, color.filled()))?;
    root.draw(&Circle::new(
        (x_of(row.value), cy),
        8,
        theme::TEXT.stroke_width(2),
    ))?;

    let (mark, c, word) = match row.better {
        Some(true) => ("▲", theme::GOOD, "better"),
        Some(false) => ("▼", theme::BAD, "worse"),
        None => ("●", theme::MUTED, "neutral"),
    };
    label(
        root,
        mark,
        &text::regular(18.0),
        c,
        (BAR_X1 + 30, cy),
        HPos::Center,
    )?;
    let median = super::spec::format_value(row.median, "");
    label(
        root,
        &format!("{word} · med {median}"),
        &text::regular(15.0),
        theme::MUTED,
        (BAR_X1 + 48, cy),
        HPos::Left,
    )?;
    Ok(())
}
