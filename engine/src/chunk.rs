//! Long audio: splitting into model windows and stitching results back
//! with linear crossfades over the overlaps.

/// One window of a long signal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    /// First frame of the window in the whole signal.
    pub start: usize,
    /// Frames of real signal in the window.
    pub len: usize,
    /// Frames given to the network: `len` rounded up to the length multiple.
    pub padded: usize,
}

/// Plans windows of at most `window` frames overlapping by `overlap`
/// frames over a signal of `total` frames. Every window but a short last
/// one is `window` long; padded lengths are multiples of `multiple`.
pub fn plan(total: usize, window: usize, overlap: usize, multiple: usize) -> Vec<Window> {
    let multiple = multiple.max(1);
    let overlap = overlap.min(window / 2);
    let hop = (window - overlap).max(1);
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        let len = window.min(total - start);
        let padded = len.div_ceil(multiple).max(1) * multiple;
        out.push(Window { start, len, padded });
        if start + len >= total {
            break;
        }
        start += hop;
    }
    out
}

/// Overlap-add with complementary linear fades, so that overlapping
/// windows that agree reproduce the signal exactly.
pub struct Stitcher {
    /// Stitched rows.
    pub rows: Vec<Vec<f32>>,
    overlap: usize,
}

impl Stitcher {
    /// `rows` rows of `total` frames, windows overlapping by `overlap`.
    pub fn new(rows: usize, total: usize, overlap: usize) -> Self {
        Self { rows: vec![vec![0.0; total]; rows], overlap }
    }

    /// Adds a window's rows (each at least `w.len` long), faded in unless
    /// it starts the signal and out unless it ends it.
    pub fn add(&mut self, w: Window, rows: &[Vec<f32>]) {
        let total = self.rows.first().map_or(0, Vec::len);
        let fade_in = if w.start == 0 { 0 } else { self.overlap.min(w.len) };
        let fade_out = if w.start + w.len >= total { 0 } else { self.overlap.min(w.len) };
        for (out, row) in self.rows.iter_mut().zip(rows) {
            for i in 0..w.len {
                let mut g = 1.0;
                if i < fade_in {
                    g *= (i as f32 + 0.5) / fade_in as f32;
                }
                if i + fade_out >= w.len {
                    g *= (w.len - i) as f32 / fade_out as f32 - 0.5 / fade_out as f32;
                }
                out[w.start + i] += g * row[i];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_signal_and_respect_the_multiple() {
        for total in [1, 100, 4096, 4097, 10000, 44100] {
            let ws = plan(total, 4096, 512, 128);
            assert_eq!(ws[0].start, 0);
            assert_eq!(ws.last().map(|w| w.start + w.len), Some(total));
            for pair in ws.windows(2) {
                assert_eq!(pair[1].start, pair[0].start + 4096 - 512);
            }
            assert!(ws.iter().all(|w| w.padded % 128 == 0 && w.padded >= w.len && w.len <= 4096));
        }
    }

    #[test]
    fn an_overlap_above_half_the_window_is_cut_to_half() {
        let ws = plan(3000, 1000, 900, 1);
        let starts: Vec<usize> = ws.iter().map(|w| w.start).collect();
        assert_eq!(starts, [0, 500, 1000, 1500, 2000]);
    }

    #[test]
    fn stitching_identical_windows_reproduces_the_signal() {
        let total = 10000;
        let signal: Vec<f32> = (0..total).map(|i| (i as f32 * 0.01).sin()).collect();
        let ws = plan(total, 4096, 512, 1);
        let mut s = Stitcher::new(1, total, 512);
        for w in &ws {
            let rows = vec![signal[w.start..w.start + w.len].to_vec()];
            s.add(*w, &rows);
        }
        let err = s.rows[0].iter().zip(&signal).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(err < 1e-5, "{err}");
    }

    #[test]
    fn only_the_inner_edges_of_windows_fade() {
        // Two windows of 6 over 10 frames, overlapping by 2: a window of
        // ones each fades only where the other takes over.
        let mut s = Stitcher::new(1, 10, 2);
        s.add(Window { start: 0, len: 6, padded: 6 }, &[vec![1.0; 6]]);
        assert_eq!(s.rows[0], [1.0, 1.0, 1.0, 1.0, 0.75, 0.25, 0.0, 0.0, 0.0, 0.0]);
        s.add(Window { start: 4, len: 6, padded: 6 }, &[vec![1.0; 6]]);
        assert_eq!(s.rows[0], [1.0; 10]);
    }
}
