//! Positioning heatmaps on a top-down pitch: blue goal on the left, orange on the right, thirds
//! lines, centre circle and boost pads; one pitch per player, one row per team.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{Draw, DrawResult, HPos, fill_rect, label, outline_rect};
use super::charts::title;
use super::spec::{HeatmapChartSpec, PlayerHeat};
use super::{text, theme};
use crate::analysis::field::{self, PadSize};

const FIELD_X: f32 = field::SIDE_WALL_X;
const FIELD_Y: f32 = field::BACK_WALL_Y;
const GOAL_HALF_W: f32 = 893.0;
const GOAL_DEPTH: f32 = 880.0;

impl Draw for HeatmapChartSpec {
    fn size(&self) -> (u32, u32) {
        (1200, 675)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&theme::BG)?;
        title(
            root,
            "Positioning heatmap",
            "Where each player spent their time · blue goal on the left, orange on the right",
        )?;
        let mut rows: Vec<Vec<&PlayerHeat>> = (0..2u8)
            .map(|t| self.players.iter().filter(|p| p.team == t).collect())
            .filter(|r: &Vec<&PlayerHeat>| !r.is_empty())
            .collect();
        // One player per team (duels, single cards): side by side, larger.
        if rows.iter().all(|r| r.len() == 1) {
            rows = vec![rows.concat()];
        }
        let cols = rows.iter().map(Vec::len).max().unwrap_or(1) as i32;
        let (top, bottom) = (92, 665);
        let row_h = (bottom - top) / rows.len().max(1) as i32;
        // Pitch with goals is (2·FIELD_Y + 2·GOAL_DEPTH) long and 2·FIELD_X wide.
        let aspect = (2.0 * FIELD_Y + 2.0 * GOAL_DEPTH) / (2.0 * FIELD_X);
        let cell_w = (1200 - 40) / cols;
        let pitch_w = ((cell_w - 24) as f32).min((row_h - 34) as f32 * aspect);
        let pitch_h = pitch_w / aspect;
        for (r, players) in rows.iter().enumerate() {
            let y0 = top + r as i32 * row_h;
            let used = players.len() as i32 * cell_w;
            let x_start = (1200 - used) / 2;
            for (c, p) in players.iter().enumerate() {
                let cx = x_start + c as i32 * cell_w + cell_w / 2;
                let x0 = cx - (pitch_w / 2.0) as i32;
                let nf = text::bold(16.0);
                label(
                    root,
                    &text::fit(&p.name, &nf, cell_w - 30),
                    &nf,
                    theme::team(p.team),
                    (cx, y0 + 12),
                    HPos::Center,
                )?;
                draw_pitch(root, (x0, y0 + 28), pitch_w, pitch_h, p)?;
            }
        }
        Ok(())
    }
}

fn draw_pitch<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (x0, y0): (i32, i32),
    w: f32,
    h: f32,
    heat: &PlayerHeat,
) -> DrawResult {
    // Field y (blue goal −5120 → orange +5120) runs left to right; field x runs top to bottom.
    let scale = w / (2.0 * FIELD_Y + 2.0 * GOAL_DEPTH);
    let px = |fy: f32| x0 + ((fy + FIELD_Y + GOAL_DEPTH) * scale).round() as i32;
    let py = |fx: f32| y0 + ((fx + FIELD_X) * scale).round() as i32;
    let _ = h;
    fill_rect(
        root,
        (px(-FIELD_Y), py(-FIELD_X)),
        (px(FIELD_Y), py(FIELD_X)),
        theme::PITCH,
    )?;

    // Cells: rows run along field y, columns along field x.
    let (cols, rows) = (heat.cols as usize, heat.rows as usize);
    let smooth = blur(&heat.cells, cols, rows);
    let peak = smooth.iter().copied().fold(0.0, f32::max).max(1e-6);
    for row in 0..rows {
        for col in 0..cols {
            let v = smooth[row * cols + col] / peak;
            if v <= 0.1 {
                continue;
            }
            let fy0 = -FIELD_Y + row as f32 * 2.0 * FIELD_Y / rows as f32;
            let fy1 = fy0 + 2.0 * FIELD_Y / rows as f32;
            let fx0 = -FIELD_X + col as f32 * 2.0 * FIELD_X / cols as f32;
            let fx1 = fx0 + 2.0 * FIELD_X / cols as f32;
            fill_rect(
                root,
                (px(fy0), py(fx0)),
                (px(fy1), py(fx1)),
                ramp(v.powf(0.75)),
            )?;
        }
    }

    let line = theme::PITCH_LINE.stroke_width(1);
    outline_rect(
        root,
        (px(-FIELD_Y), py(-FIELD_X)),
        (px(FIELD_Y), py(FIELD_X)),
        theme::PITCH_LINE,
        2,
    )?;
    root.draw(&PathElement::new(
        vec![(px(0.0), py(-FIELD_X)), (px(0.0), py(FIELD_X))],
        line,
    ))?;
    let third = field::THIRD_BOUNDARY_Y;
    for y in [-third, third] {
        root.draw(&PathElement::new(
            vec![(px(y), py(-FIELD_X)), (px(y), py(FIELD_X))],
            theme::GRID.stroke_width(1),
        ))?;
    }
    root.draw(&Circle::new(
        (px(0.0), py(0.0)),
        (1000.0 * scale).round() as i32,
        line,
    ))?;
    fill_rect(
        root,
        (px(-FIELD_Y - GOAL_DEPTH), py(-GOAL_HALF_W)),
        (px(-FIELD_Y), py(GOAL_HALF_W)),
        theme::BLUE,
    )?;
    fill_rect(
        root,
        (px(FIELD_Y), py(-GOAL_HALF_W)),
        (px(FIELD_Y + GOAL_DEPTH), py(GOAL_HALF_W)),
        theme::ORANGE,
    )?;
    for pad in field::soccar_pads() {
        let r = if pad.size == PadSize::Big { 3 } else { 1 };
        root.draw(&Circle::new(
            (px(pad.y), py(pad.x)),
            r,
            theme::GOLD.mix(0.8).filled(),
        ))?;
    }
    Ok(())
}

/// 3×3 binomial blur: 24×16 cells over one game are noisy, and a smoothed map reads as "areas".
fn blur(cells: &[f32], cols: usize, rows: usize) -> Vec<f32> {
    const K: [f32; 3] = [1.0, 2.0, 1.0];
    let mut out = vec![0.0; cells.len()];
    for r in 0..rows {
        for c in 0..cols {
            let (mut sum, mut weight) = (0.0, 0.0);
            for (dr, kr) in K.iter().enumerate() {
                for (dc, kc) in K.iter().enumerate() {
                    let (rr, cc) = (r as isize + dr as isize - 1, c as isize + dc as isize - 1);
                    if rr < 0 || cc < 0 || rr >= rows as isize || cc >= cols as isize {
                        continue;
                    }
                    sum += cells[rr as usize * cols + cc as usize] * kr * kc;
                    weight += kr * kc;
                }
            }
            out[r * cols + c] = sum / weight;
        }
    }
    out
}

/// Dark teal → yellow → red for 0..1.
fn ramp(v: f32) -> RGBColor {
    const STOPS: [(f32, (f32, f32, f32)); 4] = [
        (0.0, (0x1b as f32, 0x2a as f32, 0x22 as f32)),
        (0.35, (0x1f as f32, 0x8a as f32, 0x8c as f32)),
        (0.7, (0xf5 as f32, 0xc5 as f32, 0x42 as f32)),
        (1.0, (0xf0 as f32, 0x4a as f32, 0x3a as f32)),
    ];
    let v = v.clamp(0.0, 1.0);
    for pair in STOPS.windows(2) {
        let ((a, ca), (b, cb)) = (pair[0], pair[1]);
        if v <= b {
            let t = (v - a) / (b - a);
            let mix = |x: f32, y: f32| (x + (y - x) * t).round() as u8;
            return RGBColor(mix(ca.0, cb.0), mix(ca.1, cb.1), mix(ca.2, cb.2));
        }
    }
    RGBColor(0xf0, 0x4a, 0x3a)
}
