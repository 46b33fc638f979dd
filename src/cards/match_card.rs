//! The match card (1200×675): final score, map/mode/duration, and every player's key numbers.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{Draw, DrawResult, HPos, fill_rect, label, outline_rect};
use super::spec::{MatchCardSpec, PlayerRow};
use super::{text, theme};

pub const SIZE: (u32, u32) = (1200, 675);

/// (header, x of the column's right edge) after the name column.
const COLUMNS: [(&str, i32); 9] = [
    ("Score", 450),
    ("G", 510),
    ("A", 565),
    ("Sv", 620),
    ("Sh", 675),
    ("Demos", 755),
    ("Boost", 860),
    ("Avg speed", 990),
    ("Supersonic", 1160),
];
const NAME_X: i32 = 58;
const NAME_MAX_W: i32 = 330;

impl Draw for MatchCardSpec {
    fn size(&self) -> (u32, u32) {
        SIZE
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let (w, h) = (SIZE.0 as i32, SIZE.1 as i32);
        root.fill(&theme::BG)?;
        self.draw_header(root, w)?;

        let header_h = 32;
        let gap = 14;
        let top = 150;
        let bottom = h - 48;
        let n_rows: i32 = self.teams.iter().map(|t| t.rows.len().max(1) as i32).sum();
        let row_h = ((bottom - top - 2 * header_h - gap) / n_rows.max(1)).clamp(26, 60);
        // Centre the tables in the space between the header and the footer.
        let used = 2 * header_h + gap + n_rows * row_h;
        let mut y = top + ((bottom - top - used) / 2).max(0);
        for team in &self.teams {
            y = self.draw_team(root, team, y, header_h, row_h, w)? + gap;
        }

        // Footer: notes (what is not known) on the left, provenance and date on the right.
        let foot_y = h - 22;
        let notes = self.notes.join("  ·  ");
        if !notes.is_empty() {
            let f = text::regular(15.0);
            label(
                root,
                &text::fit(&notes, &f, 640),
                &f,
                theme::GOLD,
                (40, foot_y),
                HPos::Left,
            )?;
        }
        let mut right = self.footer.clone();
        if let Some(d) = &self.date {
            right = format!("{d}  ·  {right}");
        }
        label(
            root,
            &right,
            &text::regular(14.0),
            theme::MUTED,
            (w - 40, foot_y),
            HPos::Right,
        )?;
        Ok(())
    }
}

impl MatchCardSpec {
    fn draw_header<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, w: i32) -> DrawResult {
        fill_rect(root, (0, 0), (w, 8), theme::BLUE)?;
        fill_rect(root, (w / 2, 0), (w, 8), theme::ORANGE)?;
        let cx = w / 2;
        let big = text::bold(72.0);
        label(
            root,
            &self.score[0].to_string(),
            &big,
            theme::BLUE,
            (cx - 40, 62),
            HPos::Right,
        )?;
        label(root, "–", &big, theme::MUTED, (cx, 58), HPos::Center)?;
        label(
            root,
            &self.score[1].to_string(),
            &big,
            theme::ORANGE,
            (cx + 40, 62),
            HPos::Left,
        )?;

        let team_font = text::bold(30.0);
        label(root, "BLUE", &team_font, theme::BLUE, (48, 52), HPos::Left)?;
        label(
            root,
            "ORANGE",
            &team_font,
            theme::ORANGE,
            (w - 48, 52),
            HPos::Right,
        )?;
        if let Some(win) = self.winner {
            let f = text::bold(16.0);
            let (x, align) = if win == 0 {
                (48, HPos::Left)
            } else {
                (w - 48, HPos::Right)
            };
            label(root, "WINNER", &f, theme::GOLD, (x, 84), align)?;
        }
        let sub = text::regular(19.0);
        label(
            root,
            &text::fit(&self.subtitle, &sub, w - 120),
            &sub,
            theme::MUTED,
            (cx, 122),
            HPos::Center,
        )?;
        Ok(())
    }

    /// Draws one team's table from `y`; returns the y below it.
    fn draw_team<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        team: &super::spec::TeamBlock,
        y: i32,
        header_h: i32,
        row_h: i32,
        w: i32,
    ) -> Result<i32, super::canvas::DrawError> {
        let color = theme::team(team.team);
        fill_rect(
            root,
            (30, y),
            (w - 30, y + header_h),
            theme::team_dark(team.team),
        )?;
        let hf = text::bold(15.0);
        label(
            root,
            &format!("{}  {}", team.name.to_uppercase(), team.goals),
            &hf,
            color,
            (NAME_X - 14, y + header_h / 2),
            HPos::Left,
        )?;
        for (name, x) in COLUMNS {
            label(
                root,
                name,
                &hf,
                theme::MUTED,
                (x, y + header_h / 2),
                HPos::Right,
            )?;
        }
        let mut y = y + header_h;
        if team.rows.is_empty() {
            fill_rect(root, (30, y), (w - 30, y + row_h), theme::PANEL)?;
            label(
                root,
                "No players recorded",
                &text::regular(17.0),
                theme::MUTED,
                (NAME_X, y + row_h / 2),
                HPos::Left,
            )?;
            return Ok(y + row_h);
        }
        for (i, row) in team.rows.iter().enumerate() {
            let bg = if i % 2 == 0 {
                theme::PANEL
            } else {
                theme::PANEL_ALT
            };
            fill_rect(root, (30, y), (w - 30, y + row_h), bg)?;
            fill_rect(root, (30, y), (36, y + row_h), color)?;
            self.draw_row(root, row, y + row_h / 2, row_h)?;
            if row.highlighted {
                outline_rect(
                    root,
                    (31, y + 1),
                    (w - 31, y + row_h - 1),
                    theme::HIGHLIGHT,
                    2,
                )?;
            }
            y += row_h;
        }
        Ok(y)
    }

    fn draw_row<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        row: &PlayerRow,
        cy: i32,
        row_h: i32,
    ) -> DrawResult {
        let size = f64::from(row_h).mul_add(0.42, 0.0).clamp(14.0, 21.0);
        let name_font = text::regular(size + 1.0);
        let num = text::regular(size);
        let strong = text::bold(size);
        let mut tags = String::new();
        if row.mvp {
            tags.push_str(" ★");
        }
        if row.highlighted {
            tags.push_str(" (you)");
        }
        let tag_w = if tags.is_empty() {
            0
        } else {
            text::width(&tags, &strong) + 6
        };
        let name = text::fit(&row.name, &name_font, NAME_MAX_W - tag_w);
        label(
            root,
            &name,
            &name_font,
            theme::TEXT,
            (NAME_X, cy),
            HPos::Left,
        )?;
        if !tags.is_empty() {
            let x = NAME_X + text::width(&name, &name_font) + 4;
            label(root, &tags, &strong, theme::GOLD, (x, cy), HPos::Left)?;
        }
        let dash = "—".to_string();
        let values = [
            row.score.to_string(),
            row.goals.to_string(),
            row.assists.to_string(),
            row.saves.to_string(),
            row.shots.to_string(),
            row.demos.to_string(),
            row.boost_collected
                .map_or(dash.clone(), |v| format!("{v:.0}")),
            row.avg_speed
                .map_or(dash.clone(), |v| format!("{v:.0} uu/s")),
            row.supersonic_seconds.map_or(dash, |v| format!("{v:.0} s")),
        ];
        for (i, (v, (_, x))) in values.iter().zip(COLUMNS).enumerate() {
            let f = if i == 0 { &strong } else { &num };
            let c = if v == "—" {
                theme::MUTED
            } else {
                theme::TEXT
            };
            label(root, v, f, c, (x, cy), HPos::Right)?;
        }
        Ok(())
    }
}
