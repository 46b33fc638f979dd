//! Time-axis charts drawn with plotters' chart builder: boost amount over time (one panel per
//! team, goals marked) and a stat's trend over a player's last games with the rank band.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{Draw, DrawResult, HPos, fill_rect, label};
use super::spec::{BoostChartSpec, SeriesLine, TrendChartSpec};
use super::{text, theme};
use crate::benchmarks::Better;
use crate::names;

const W: u32 = 1200;
const H: u32 = 675;

/// Title bar shared by the charts: a bold title and a muted subtitle.
pub(super) fn title<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    sub: &str,
) -> DrawResult {
    let f = text::bold(26.0);
    label(
        root,
        &text::fit(title, &f, 1100),
        &f,
        theme::TEXT,
        (40, 34),
        HPos::Left,
    )?;
    let s = text::regular(16.0);
    label(
        root,
        &text::fit(sub, &s, 1120),
        &s,
        theme::MUTED,
        (40, 66),
        HPos::Left,
    )?;
    Ok(())
}

/// A coloured square and a name, left to right from `x`; returns the x after it.
pub(super) fn legend_item<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    x: i32,
    y: i32,
    color: RGBColor,
    name: &str,
) -> Result<i32, super::canvas::DrawError> {
    let f = text::regular(15.0);
    let name = text::fit(name, &f, 200);
    fill_rect(root, (x, y - 6), (x + 14, y + 6), color)?;
    label(root, &name, &f, theme::TEXT, (x + 20, y), HPos::Left)?;
    Ok(x + 20 + text::width(&name, &f) + 22)
}

impl Draw for BoostChartSpec {
    fn size(&self) -> (u32, u32) {
        (W, H)
    }

    /// Small multiples: one strip per player (blue first), the area under the boost line filled
    /// in the player's colour, goals as dashed lines across all strips.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&theme::BG)?;
        title(
            root,
            "Boost over time",
            "Boost amount (0–100) per player · dashed lines are goals, dots show who scored",
        )?;
        let mut order: Vec<&SeriesLine> = self.lines.iter().collect();
        order.sort_by_key(|l| (l.team, l.nth));
        let body = root.margin(86, 6, 20, 24);
        // Equal lanes; the last one also holds the time axis below its lane.
        const AXIS: i32 = 24;
        let lanes = i32::try_from(order.len().max(1)).unwrap_or(1);
        let height = i32::try_from(body.dim_in_pixel().1).unwrap_or(0);
        let lane = (height - AXIS).max(lanes) / lanes;
        let breaks: Vec<i32> = (1..lanes).map(|k| k * lane).collect();
        let strips = body.split_by_breakpoints::<i32, i32, _, _>([], breaks);
        let minutes = self.duration / 60.0;
        let clock = |x: &f32| names::clock(f64::from(*x) * 60.0);
        let whole = |y: &f32| format!("{y:.0}");
        for (i, (line, strip)) in order.iter().zip(&strips).enumerate() {
            let last = i + 1 == order.len();
            let color = theme::player(line.team, line.nth);
            let mut chart = ChartBuilder::on(strip)
                .margin_top(6)
                .margin_bottom(4)
                .margin_right(8)
                .x_label_area_size(if last { AXIS as u32 } else { 0 })
                .y_label_area_size(44)
                // x in minutes, so that the axis picks whole-minute ticks.
                .build_cartesian_2d(0f32..minutes, 0f32..100f32)?;
            chart
                .configure_mesh()
                .bold_line_style(theme::PANEL_ALT)
                .light_line_style(theme::BG)
                .axis_style(theme::GRID)
                .label_style(text::regular(13.0).color(&theme::MUTED))
                .x_labels(minutes.ceil() as usize + 1)
                .y_labels(2)
                .x_label_formatter(&clock)
                .y_label_formatter(&whole)
                .draw()?;
            for g in &self.goals {
                chart.draw_series(DashedLineSeries::new(
                    [(g.t / 60.0, 0.0), (g.t / 60.0, 100.0)],
                    5,
                    4,
                    theme::MUTED.stroke_width(1),
                ))?;
                if i == 0 {
                    chart.draw_series(std::iter::once(Circle::new(
                        (g.t / 60.0, 96.0),
                        5,
                        theme::team(g.team).filled(),
                    )))?;
                }
            }
            for run in present_runs(&self.t, &line.values, 1.0 / 60.0) {
                chart
                    .draw_series(AreaSeries::new(run, 0.0, color.mix(0.35)).border_style(color))?;
            }
            let f = text::bold(14.0);
            let name = text::fit(&line.name, &f, 260);
            let w = text::width(&name, &f);
            fill_rect(strip, (52, 6), (64 + w, 26), theme::BG)?;
            label(strip, &name, &f, color, (58, 16), HPos::Left)?;
        }
        Ok(())
    }
}

/// Splits a series into runs of present samples (−1 marks an absent car).
fn present_runs(t: &[f32], v: &[f32], t_scale: f32) -> Vec<Vec<(f32, f32)>> {
    let mut runs = Vec::new();
    let mut cur = Vec::new();
    for (&t, &v) in t.iter().zip(v) {
        if v >= 0.0 && v.is_finite() {
            cur.push((t * t_scale, v.min(100.0)));
        } else if !cur.is_empty() {
            runs.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        runs.push(cur);
    }
    runs
}

impl Draw for TrendChartSpec {
    fn size(&self) -> (u32, u32) {
        (W, H)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&theme::BG)?;
        let dir = match self.direction {
            Better::Up => "higher is better",
            Better::Down => "lower is better",
            Better::Neutral => "neither higher nor lower is better",
        };
        let sub = match &self.band {
            Some(b) => match &b.borrowed_from {
                None => format!(
                    "Shaded: middle half of {} players, line: their median · {dir}",
                    b.rank
                ),
                Some(bench) => format!(
                    "Shaded: {} players in {bench} (no benchmark for this playlist yet) · {dir}",
                    b.rank
                ),
            },
            None => "No rank benchmark for this stat".to_string(),
        };
        let sub = if self.average.is_empty() {
            sub
        } else {
            format!("{sub} · white: average of the last {}", self.average_window)
        };
        title(root, &self.title, &sub)?;
        let n = self.points.len().max(1);
        let mut lo = self
            .points
            .iter()
            .map(|p| p.1)
            .fold(f64::INFINITY, f64::min);
        let mut hi = self
            .points
            .iter()
            .map(|p| p.1)
            .fold(f64::NEG_INFINITY, f64::max);
        if let Some(b) = &self.band {
            lo = lo.min(b.p25);
            hi = hi.max(b.p75);
        }
        if !lo.is_finite() || !hi.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        let pad = ((hi - lo) * 0.15).max(hi.abs() * 0.05).max(0.5);
        let (lo, hi) = (
            (lo - pad).max(if lo >= 0.0 { 0.0 } else { f64::MIN }),
            hi + pad,
        );
        let body = root.margin(90, 20, 30, 20);
        let mut chart = ChartBuilder::on(&body)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), lo..hi)?;
        let labels: Vec<String> = self.points.iter().map(|p| p.0.clone()).collect();
        let fmt_x = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        let unit = self.unit.clone();
        let fmt_y = |y: &f64| format!("{}{}", super::spec::format_value(*y, ""), unit);
        chart
            .configure_mesh()
            .bold_line_style(theme::GRID)
            .light_line_style(theme::BG)
            .axis_style(theme::GRID)
            .label_style(text::regular(13.0).color(&theme::MUTED))
            .x_labels(n.min(12))
            .y_labels(6)
            .x_label_formatter(&fmt_x)
            .y_label_formatter(&fmt_y)
            .draw()?;
        if let Some(b) = &self.band {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(-0.5, b.p25), (n as f64 - 0.5, b.p75)],
                theme::BLUE.mix(0.18).filled(),
            )))?;
            chart.draw_series(DashedLineSeries::new(
                [(-0.5, b.median), (n as f64 - 0.5, b.median)],
                8,
                6,
                theme::MUTED.stroke_width(2),
            ))?;
        }
        let pts: Vec<(f64, f64)> = self
            .points
            .iter()
            .enumerate()
            .map(|(i, p)| (i as f64, p.1))
            .collect();
        chart.draw_series(LineSeries::new(pts.clone(), theme::ORANGE.stroke_width(3)))?;
        // Hundreds of points make a band of dots: smaller dots, the line carries the shape.
        let dot = if pts.len() > 60 { 2 } else { 5 };
        chart.draw_series(
            pts.iter()
                .map(|&p| Circle::new(p, dot, theme::ORANGE.filled())),
        )?;
        if !self.average.is_empty() {
            chart.draw_series(LineSeries::new(
                self.average.iter().enumerate().map(|(i, v)| (i as f64, *v)),
                theme::HIGHLIGHT.stroke_width(3),
            ))?;
        }
        // The latest point, ringed in gold: where the player stands now.
        if let Some(&last) = pts.last() {
            chart.draw_series(std::iter::once(Circle::new(
                last,
                dot + 5,
                theme::GOLD.stroke_width(3),
            )))?;
        }
        Ok(())
    }
}
