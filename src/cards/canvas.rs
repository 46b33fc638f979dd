//! One drawing routine, two outputs: every card implements [`Draw`] against any plotters
//! backend, and [`render`] turns it into PNG bytes (bitmap backend + `png` encoder) or SVG text.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{CardError, ImageFormat, text};

/// A drawing failure inside plotters, flattened to text (backend error types differ).
#[derive(Debug)]
pub struct DrawError(pub String);

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for DrawError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        DrawError(e.to_string())
    }
}

pub type DrawResult = Result<(), DrawError>;

/// Something that can be drawn on a fixed-size canvas.
pub trait Draw {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult;
}

/// Renders `card` to PNG or SVG bytes. Deterministic: same input, same bytes.
pub fn render<D: Draw>(card: &D, format: ImageFormat) -> Result<Vec<u8>, CardError> {
    text::ensure_fonts();
    let (w, h) = card.size();
    match format {
        ImageFormat::Png => {
            let mut buf = vec![0u8; w as usize * h as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
                card.draw(&root).map_err(|e| CardError::Draw(e.0))?;
                root.present().map_err(|e| CardError::Draw(e.to_string()))?;
            }
            encode_png(&buf, w, h)
        }
        ImageFormat::Svg => {
            let mut out = String::new();
            {
                let root = SVGBackend::with_string(&mut out, (w, h)).into_drawing_area();
                card.draw(&root).map_err(|e| CardError::Draw(e.0))?;
                root.present().map_err(|e| CardError::Draw(e.to_string()))?;
            }
            Ok(out.into_bytes())
        }
    }
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, CardError> {
    let mut out = Vec::with_capacity(rgb.len() / 8);
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Balanced);
    let mut writer = enc
        .write_header()
        .map_err(|e| CardError::Encode(e.to_string()))?;
    writer
        .write_image_data(rgb)
        .map_err(|e| CardError::Encode(e.to_string()))?;
    writer
        .finish()
        .map_err(|e| CardError::Encode(e.to_string()))?;
    Ok(out)
}

// Small drawing helpers shared by the cards.

pub fn fill_rect<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x0, y0): (i32, i32),
    (x1, y1): (i32, i32),
    color: RGBColor,
) -> DrawResult {
    area.draw(&Rectangle::new([(x0, y0), (x1, y1)], color.filled()))?;
    Ok(())
}

pub fn outline_rect<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x0, y0): (i32, i32),
    (x1, y1): (i32, i32),
    color: RGBColor,
    width: u32,
) -> DrawResult {
    area.draw(&Rectangle::new(
        [(x0, y0), (x1, y1)],
        color.stroke_width(width),
    ))?;
    Ok(())
}

/// Draws `s` with its left edge at x and vertically centred on y.
pub fn label<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    font: &FontDesc<'_>,
    color: RGBColor,
    (x, y): (i32, i32),
    align: HPos,
) -> DrawResult {
    let runs = super::text::layout(s, font);
    if runs.len() <= 1 && runs.iter().all(|r| !r.fallback) {
        let style = font.color(&color).pos(Pos::new(align, VPos::Center));
        area.draw_text(s, &style, (x, y))?;
        return Ok(());
    }
    // Mixed fonts: lay the runs out left to right from the aligned start.
    let total: i32 = runs.iter().map(|r| r.width).sum();
    let mut cx = match align {
        HPos::Left => x,
        HPos::Center => x - total / 2,
        HPos::Right => x - total,
    };
    for run in runs {
        let style = run
            .font
            .color(&color)
            .pos(Pos::new(HPos::Left, VPos::Center));
        area.draw_text(&run.text, &style, (cx, y))?;
        cx += run.width;
    }
    Ok(())
}

pub use plotters::style::text_anchor::{HPos, Pos, VPos};
