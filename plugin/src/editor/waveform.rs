//! Waveform overviews on a shared timeline, and the ruler above them
//! (bars and beats when the host gives a tempo, else seconds).

use egui::{Color32, Pos2, Rect, Sense, Stroke, Ui, Vec2};

use crate::capture::CaptureStore;
use crate::playback::Stem;

/// Columns of an overview; the painter stretches them to the row's width.
pub const COLUMNS: usize = 400;
/// Samples read per column at most (strided beyond that: an overview, not a meter).
const SAMPLES_PER_COLUMN: usize = 256;

/// Peak magnitude per column of one signal over a timeline span.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overview(pub Vec<f32>);

/// The timeline span every row shares, in samples at `rate`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Span {
    /// First timeline sample shown.
    pub start: i64,
    /// One past the last timeline sample shown.
    pub end: i64,
    /// Sample rate of the positions.
    pub rate: u32,
}

impl Span {
    /// Fraction of the span at which `pos` sits.
    fn fraction(&self, pos: i64) -> f32 {
        ((pos - self.start) as f64 / (self.end - self.start).max(1) as f64) as f32
    }
}

/// Peaks of `samples(i)` for `i` in `0..len`, placed over `span` from timeline position `at`.
fn peaks(span: Span, at: i64, len: usize, sample: impl Fn(usize, usize) -> f32, channels: usize) -> Overview {
    let width = (span.end - span.start).max(1) as f64 / COLUMNS as f64;
    let columns = (0..COLUMNS)
        .map(|c| {
            let from = span.start + (c as f64 * width) as i64 - at;
            let to = span.start + ((c + 1) as f64 * width) as i64 - at;
            let (from, to) = (from.clamp(0, len as i64) as usize, to.clamp(0, len as i64) as usize);
            let stride = ((to - from) / SAMPLES_PER_COLUMN).max(1);
            (from..to)
                .step_by(stride)
                .flat_map(|i| (0..channels).map(move |ch| (ch, i)))
                .map(|(ch, i)| sample(ch, i).abs())
                .filter(|s| s.is_finite())
                .fold(0.0, f32::max)
        })
        .collect();
    Overview(columns)
}

/// Overview of one captured input over `span`.
pub fn of_capture(store: &CaptureStore, input: usize, span: Span) -> Overview {
    peaks(span, 0, store.frames(), |ch, i| store.sample(input, ch, i), crate::buses::CHANNELS)
}

/// Overview of a result stem over `span`; `rate` is the stem's rate.
pub fn of_stem(stem: &Stem, rate: u32, span: Span) -> Overview {
    let scale = f64::from(rate) / f64::from(span.rate.max(1));
    let at = (stem.start as f64 / scale) as i64;
    let len = (stem.channels[0].len() as f64 / scale) as usize;
    let sample = |ch: usize, i: usize| stem.channels[ch].get((i as f64 * scale) as usize).copied().unwrap_or(0.0);
    peaks(span, at, len, sample, 2)
}

/// How a row is drawn: its width, the captured region (tinted), the
/// playhead and the colour.
#[derive(Clone, Copy, Debug)]
pub struct Look {
    /// Width in points (every row of the timeline has the same).
    pub width: f32,
    /// The captured region, drawn tinted.
    pub marked: Option<(i64, i64)>,
    /// The transport position.
    pub playhead: Option<i64>,
    /// Waveform colour.
    pub color: Color32,
}

/// Draws an overview over `span`.
pub fn draw(ui: &mut Ui, overview: &Overview, span: Span, look: Look) {
    let Look { width, marked, playhead, color } = look;
    let (rect, _) = ui.allocate_exact_size(Vec2::new(width, 40.0), Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, Color32::from_gray(24));
    let x = |f: f32| rect.left() + f.clamp(0.0, 1.0) * rect.width();
    if let Some((a, b)) = marked {
        let region = Rect::from_x_y_ranges(x(span.fraction(a))..=x(span.fraction(b)), rect.y_range());
        painter.rect_filled(region, 0.0, Color32::from_rgba_unmultiplied(90, 140, 220, 28));
    }
    let n = overview.0.len().max(1) as f32;
    for (i, peak) in overview.0.iter().enumerate() {
        let px = rect.left() + (i as f32 + 0.5) / n * rect.width();
        let h = peak.min(1.0) * rect.height() * 0.5;
        painter.line_segment([Pos2::new(px, rect.center().y - h), Pos2::new(px, rect.center().y + h)], (1.0, color));
    }
    if let Some(pos) = playhead.filter(|p| (span.start..span.end).contains(p)) {
        let px = x(span.fraction(pos));
        painter
            .line_segment([Pos2::new(px, rect.top()), Pos2::new(px, rect.bottom())], Stroke::new(1.0, Color32::WHITE));
    }
}

/// Draws the ruler: bar numbers (with beat ticks) when `tempo` and
/// `beats_per_bar` are known, else seconds.
pub fn ruler(ui: &mut Ui, width: f32, span: Span, tempo: Option<f64>, beats_per_bar: Option<u32>) {
    let (rect, _) = ui.allocate_exact_size(Vec2::new(width, 16.0), Sense::hover());
    let painter = ui.painter_at(rect);
    let seconds = (span.end - span.start) as f64 / f64::from(span.rate.max(1));
    let start_s = span.start as f64 / f64::from(span.rate.max(1));
    let (unit, per_label, label): (f64, usize, Box<dyn Fn(i64) -> String>) = match (tempo, beats_per_bar) {
        (Some(bpm), Some(beats)) => {
            let beat = 60.0 / bpm;
            (beat, beats as usize, Box::new(move |i| format!("{}", i / i64::from(beats) + 1)))
        }
        _ => (1.0, 1, Box::new(|i| format!("{i} s"))),
    };
    // Thin out the ticks so labels stay at least ~60 px apart.
    let px_per_unit = rect.width() as f64 / (seconds / unit).max(1e-9);
    let mut every = per_label.max(1);
    while (every as f64) * px_per_unit < 60.0 {
        every *= 2;
    }
    let first = (start_s / unit).floor() as i64;
    let last = ((start_s + seconds) / unit).ceil() as i64;
    let color = ui.visuals().weak_text_color();
    for i in first..=last {
        let px = rect.left() + ((i as f64 * unit - start_s) / seconds.max(1e-9)) as f32 * rect.width();
        if px < rect.left() || px > rect.right() {
            continue;
        }
        let major = i.rem_euclid(every as i64) == 0;
        if !major && px_per_unit < 6.0 {
            continue;
        }
        let top = if major { rect.top() } else { rect.bottom() - 4.0 };
        painter.line_segment([Pos2::new(px, top), Pos2::new(px, rect.bottom())], (1.0, color));
        if major {
            painter.text(
                Pos2::new(px + 2.0, rect.top()),
                egui::Align2::LEFT_TOP,
                label(i),
                egui::FontId::monospace(10.0),
                color,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_overview_follows_the_signal() {
        let store = CaptureStore::new(1000, 4000).unwrap();
        let mut loud = vec![0.5f32; 1000];
        store.write(1, &[&mut loud[..]], 2000);
        let overview = of_capture(&store, 1, Span { start: 0, end: 4000, rate: 1000 });
        assert_eq!(overview.0.len(), COLUMNS);
        assert_eq!(overview.0[COLUMNS / 4], 0.0);
        assert_eq!(overview.0[COLUMNS / 2 + 10], 0.5);
        assert_eq!(overview.0[COLUMNS - 1], 0.0);
    }

    #[test]
    fn stem_overview_is_placed_at_its_start_and_rate() {
        let stem = Stem { name: "bass".into(), start: 2000, channels: [vec![0.25; 2000], vec![0.0; 2000]] };
        // Stem at 2 kHz, span at 1 kHz: it covers timeline 1000..2000 of the span.
        let overview = of_stem(&stem, 2000, Span { start: 0, end: 4000, rate: 1000 });
        assert_eq!(
            (overview.0[COLUMNS / 8], overview.0[3 * COLUMNS / 8], overview.0[5 * COLUMNS / 8]),
            (0.0, 0.25, 0.0)
        );
    }
}
