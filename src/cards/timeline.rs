//! The match timeline: goals, shots, saves and demos along the clock, blue above the axis and
//! orange below, with the running score at each goal.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{Draw, DrawResult, HPos, fill_rect, label};
use super::charts::title;
use super::spec::TimelineChartSpec;
use super::{text, theme};
use crate::names;
use crate::report::EventKind;

const X0: i32 = 150;
const X1: i32 = 1160;
const AXIS_Y: i32 = 380;
/// Lanes away from the axis, nearest first.
const LANES: [(&str, i32); 4] = [("Goals", 40), ("Shots", 95), ("Saves", 150), ("Demos", 205)];

impl Draw for TimelineChartSpec {
    fn size(&self) -> (u32, u32) {
        (1200, 675)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&theme::BG)?;
        let sub = format!(
            "Final score {}–{} · blue events above the clock, orange below",
            self.final_score[0], self.final_score[1]
        );
        title(root, "Match timeline", &sub)?;
        let x_of =
            |t: f32| X0 + ((t / self.duration).clamp(0.0, 1.0) * (X1 - X0) as f32).round() as i32;

        // Lanes with labels, per team.
        let lf = text::regular(15.0);
        for (team, sign) in [(0u8, -1), (1u8, 1)] {
            for (name, off) in LANES {
                let y = AXIS_Y + sign * off;
                fill_rect(root, (X0, y - 1), (X1, y), theme::PANEL_ALT)?;
                label(
                    root,
                    name,
                    &lf,
                    theme::team(team),
                    (X0 - 16, y),
                    HPos::Right,
                )?;
            }
        }
        // Clock axis with minute ticks.
        fill_rect(root, (X0, AXIS_Y - 1), (X1, AXIS_Y + 1), theme::GRID)?;
        let step = if self.duration > 600.0 { 120.0 } else { 60.0 };
        let tf = text::regular(13.0);
        let mut t = 0.0f32;
        while t <= self.duration + 0.1 {
            let x = x_of(t);
            fill_rect(root, (x, AXIS_Y - 6), (x + 1, AXIS_Y + 6), theme::GRID)?;
            label(
                root,
                &names::clock(f64::from(t)),
                &tf,
                theme::MUTED,
                (x, AXIS_Y + 258),
                HPos::Center,
            )?;
            t += step;
        }
        if let Some(ot) = self.overtime_start {
            let x = x_of(ot);
            root.draw(&PathElement::new(
                vec![(x, AXIS_Y - 230), (x, AXIS_Y + 230)],
                theme::GOLD.stroke_width(1),
            ))?;
            label(
                root,
                "OT",
                &text::bold(14.0),
                theme::GOLD,
                (x + 6, AXIS_Y - 230),
                HPos::Left,
            )?;
        }

        let mut score = [0u32; 2];
        for e in &self.events {
            let sign = if e.team == 0 { -1 } else { 1 };
            let c = theme::team(e.team);
            let x = x_of(e.t);
            match e.kind {
                EventKind::Goal => {
                    score[usize::from(e.team.min(1))] += 1;
                    let y = AXIS_Y + sign * LANES[0].1;
                    root.draw(&PathElement::new(
                        vec![(x, AXIS_Y), (x, y)],
                        c.stroke_width(2),
                    ))?;
                    root.draw(&Circle::new((x, y), 9, c.filled()))?;
                    root.draw(&Circle::new((x, y), 9, theme::TEXT.stroke_width(2)))?;
                    let s = format!("{}–{}", score[0], score[1]);
                    // Score above blue goals, below orange goals, clear of the marker.
                    label(
                        root,
                        &s,
                        &text::bold(14.0),
                        theme::TEXT,
                        (x, y + sign * 20),
                        HPos::Center,
                    )?;
                }
                EventKind::Shot => {
                    let y = AXIS_Y + sign * LANES[1].1;
                    root.draw(&TriangleMarker::new((x, y), 7, c.filled()))?;
                }
                EventKind::Save => {
                    let y = AXIS_Y + sign * LANES[2].1;
                    fill_rect(root, (x - 5, y - 5), (x + 5, y + 5), c)?;
                }
                EventKind::Demo => {
                    let y = AXIS_Y + sign * LANES[3].1;
                    root.draw(&Cross::new((x, y), 6, c.stroke_width(3)))?;
                }
                _ => {}
            }
        }
        if self.events.is_empty() {
            label(
                root,
                "No goals, shots, saves or demos were recorded.",
                &text::regular(18.0),
                theme::MUTED,
                (600, AXIS_Y - 20),
                HPos::Center,
            )?;
        }
        Ok(())
    }
}
