//! Guidance by the given tracks' harmony: the denoised estimate of a
//! generated stem is filtered toward the pitch classes the given tracks
//! play, so the sampler settles on notes of their chords.
//!
//! Per short-time frame the given tracks' chroma (the magnitude of every
//! pitch class, summed over the octaves of `BAND` and over `SMOOTH` frames
//! either side) is scaled to its strongest class; a bin of the
//! estimate's spectrum gets the chroma of its pitch class (interpolated
//! between the two nearest semitones; where semitones are closer than the
//! bins, the largest of those within a bin either side), raised to
//! `SHARPNESS`. With strength λ the gain is `1 − λ + λ·chroma`: λ = 0 leaves
//! the estimate alone, λ = 1 removes pitch classes the given tracks never
//! play. Each frame is then scaled back to its energy in `BAND` (by at most
//! `MAX_BOOST`): the guide moves energy toward the chord's pitch classes
//! without making the stem quieter. Outside `BAND`, and where the given
//! tracks are silent, the gain is 1.
//!
//! Only estimates at σ ≥ `FLOOR`·σ_data are steered: there the notes are
//! decided, and the last steps render them as the network alone would.

use realfft::num_complex::Complex;

use crate::stft::Stft;

/// Frame length in seconds (rounded to a multiple of 64 samples: 4096 at 16 kHz).
const FRAME_SECONDS: f64 = 0.256;
/// Frequencies whose pitch class counts, in Hz.
const BAND: (f32, f32) = (30.0, 2000.0);
/// Frames of chroma added on each side of a frame.
const SMOOTH: usize = 2;
/// Exponent of the scaled chroma: above 1 it favours the strongest classes.
const SHARPNESS: i32 = 2;
/// Largest factor by which a frame is scaled back to its energy.
const MAX_BOOST: f32 = 4.0;
/// Lowest steered σ, relative to the model's σ_data.
pub const FLOOR: f32 = 0.5;
/// Below this magnitude sum a frame's given tracks count as silent.
const SILENT: f32 = 1e-6;

/// The per-frame, per-bin gains of one window's given tracks.
pub struct ChordGuide {
    stft: Stft,
    gains: Vec<Vec<f32>>,
    band: Vec<bool>,
    frames: usize,
    min_sigma: f32,
}

impl ChordGuide {
    /// The guide from the given tracks `context` (rows of `frames` samples at
    /// `rate`), at strength `strength` (0–1), steering at σ ≥ `min_sigma`.
    pub fn new(context: &[f32], frames: usize, rate: u32, strength: f32, min_sigma: f32) -> ChordGuide {
        let stft = Stft::for_seconds(rate, FRAME_SECONDS);
        let n = stft.n;
        let classes = bin_classes(n, rate);
        let chroma = smooth(&frame_chroma(&stft, context, frames, &classes));
        let bin = rate as f32 / n as f32;
        let gains = chroma
            .iter()
            .map(|c| {
                let peak = c.iter().copied().fold(0.0f32, f32::max);
                let weight = |k: usize| (c[k % 12] / peak).powi(SHARPNESS);
                classes
                    .iter()
                    .enumerate()
                    .map(|(k, class)| match class {
                        Some((low, frac)) if peak > SILENT => {
                            let (below, above) = (midi(bin * (k as f32 - 1.0)), midi(bin * (k as f32 + 1.0)));
                            let covered = below.ceil() as usize..=above.floor() as usize;
                            let g = covered
                                .map(weight)
                                .reduce(f32::max)
                                .unwrap_or_else(|| weight(*low) * (1.0 - frac) + weight(low + 1) * frac);
                            1.0 - strength + strength * g
                        }
                        _ => 1.0,
                    })
                    .collect()
            })
            .collect();
        let band = classes.iter().map(Option::is_some).collect();
        ChordGuide { stft, gains, band, frames, min_sigma }
    }

    /// Filters every row of the estimate `denoised` (rows of the context's
    /// length) toward the given tracks' pitch classes, if `sigma` is steered.
    pub fn steer(&self, denoised: &mut [f32], sigma: f32) {
        if sigma < self.min_sigma {
            return;
        }
        for row in denoised.chunks_mut(self.frames) {
            let filtered = self.stft.filter(row, |f, spectrum| self.reweigh(&self.gains[f], spectrum));
            row.copy_from_slice(&filtered);
        }
    }

    /// Multiplies the bins of `BAND` by `gains`, then scales them back to
    /// their energy before.
    fn reweigh(&self, gains: &[f32], spectrum: &mut [Complex<f32>]) {
        let inside = || spectrum.iter().zip(gains).zip(&self.band).filter(|(_, &b)| b).map(|(sg, _)| sg);
        let before: f32 = inside().map(|(s, _)| s.norm_sqr()).sum();
        let after: f32 = inside().map(|(s, g)| g * g * s.norm_sqr()).sum();
        let scale = if after > 0.0 { (before / after).sqrt().min(MAX_BOOST) } else { 1.0 };
        for ((s, g), &b) in spectrum.iter_mut().zip(gains).zip(&self.band) {
            if b {
                *s *= g * scale;
            }
        }
    }
}

/// For each bin of an `n`-point spectrum at `rate`: the semitone below its
/// frequency (MIDI number) and how far it is toward the next, inside `BAND`.
fn bin_classes(n: usize, rate: u32) -> Vec<Option<(usize, f32)>> {
    (0..=n / 2)
        .map(|k| {
            let f = k as f32 * rate as f32 / n as f32;
            (f >= BAND.0 && f <= BAND.1).then(|| (midi(f).floor() as usize, midi(f).fract()))
        })
        .collect()
}

/// The MIDI number (fractional) of `freq` Hz.
fn midi(freq: f32) -> f32 {
    69.0 + 12.0 * (freq / 440.0).log2()
}

/// Each frame's chroma of the rows of `x`, summed over the rows.
fn frame_chroma(stft: &Stft, x: &[f32], frames: usize, classes: &[Option<(usize, f32)>]) -> Vec<[f32; 12]> {
    stft.starts(frames)
        .map(|start| {
            let mut c = [0.0f32; 12];
            for row in x.chunks(frames) {
                for (bin, class) in stft.spectrum(row, start).iter().zip(classes) {
                    if let Some((low, frac)) = class {
                        let m = bin.norm();
                        c[low % 12] += m * (1.0 - frac);
                        c[(low + 1) % 12] += m * frac;
                    }
                }
            }
            c
        })
        .collect()
}

/// Each frame's `chroma` summed with that of `SMOOTH` frames either side
/// (a moving average but for its scale, which the guide divides out).
fn smooth(chroma: &[[f32; 12]]) -> Vec<[f32; 12]> {
    (0..chroma.len())
        .map(|i| {
            let mut c = [0.0f32; 12];
            for frame in &chroma[i.saturating_sub(SMOOTH)..(i + SMOOTH + 1).min(chroma.len())] {
                c.iter_mut().zip(frame).for_each(|(c, v)| *c += v);
            }
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 16000;
    const LEN: usize = 16000;

    fn tones(midis: &[f32]) -> Vec<f32> {
        (0..LEN)
            .map(|i| {
                let t = i as f32 / RATE as f32;
                midis.iter().map(|m| (2.0 * std::f32::consts::PI * 440.0 * ((m - 69.0) / 12.0).exp2() * t).sin()).sum()
            })
            .collect()
    }

    /// The share of `x` along the unit-power tone of `midi` (its amplitude).
    fn amplitude(x: &[f32], midi: f32) -> f32 {
        let tone = tones(&[midi]);
        let mid = LEN / 4..3 * LEN / 4;
        let dot: f32 = x[mid.clone()].iter().zip(&tone[mid.clone()]).map(|(a, b)| a * b).sum();
        dot / tone[mid].iter().map(|v| v * v).sum::<f32>()
    }

    #[test]
    fn a_bass_note_off_the_chord_gives_its_energy_to_one_on_it() {
        // Given: a C major triad (C4 E4 G4). Estimate: C2, on the chord, and F♯2, off it.
        let guide = ChordGuide::new(&tones(&[60.0, 64.0, 67.0]), LEN, RATE, 1.0, 0.1);
        let mut estimate = tones(&[36.0, 42.0]);
        guide.steer(&mut estimate, 0.1);
        let (on, off) = (amplitude(&estimate, 36.0), amplitude(&estimate, 42.0));
        assert!((on - 2f32.sqrt()).abs() < 0.1, "C2 at {on:.3}, the energy of both notes: 1.414");
        assert!(off.abs() < 0.2, "F#2 kept at {off:.3}");
    }

    #[test]
    fn half_strength_halves_the_share_of_what_the_chord_lacks() {
        let guide = ChordGuide::new(&tones(&[60.0, 64.0, 67.0]), LEN, RATE, 0.5, 0.0);
        let mut estimate = tones(&[36.0, 42.0]);
        guide.steer(&mut estimate, 1.0);
        let ratio = amplitude(&estimate, 42.0) / amplitude(&estimate, 36.0);
        assert!(ratio > 0.45 && ratio < 0.6, "F#2 / C2 {ratio:.3}: 0.5 / (0.5 + 0.5 × C's weight)");
        let mut lone = tones(&[42.0]);
        guide.steer(&mut lone, 1.0);
        assert!((amplitude(&lone, 42.0) - 1.0).abs() < 0.05, "a lone note keeps its level");
    }

    #[test]
    fn below_the_floor_or_under_silence_the_estimate_is_untouched() {
        let estimate = tones(&[36.0, 42.0]);
        let mut low = estimate.clone();
        ChordGuide::new(&tones(&[60.0]), LEN, RATE, 1.0, 0.5).steer(&mut low, 0.4);
        assert_eq!(low, estimate);
        let mut silent = estimate.clone();
        ChordGuide::new(&vec![0.0; LEN], LEN, RATE, 1.0, 0.0).steer(&mut silent, 1.0);
        assert!(silent.iter().zip(&estimate).all(|(a, b)| (a - b).abs() < 1e-4));
    }

    #[test]
    fn smoothing_spreads_a_frame_over_two_frames_either_side() {
        let mut chroma = vec![[0.0f32; 12]; 9];
        chroma[4][3] = 1.0;
        let smoothed: Vec<f32> = smooth(&chroma).iter().map(|c| c[3]).collect();
        assert_eq!(smoothed, [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
        let edge = smooth(&[[1.0; 12], [2.0; 12]]);
        assert_eq!((edge[0][0], edge[1][0]), (3.0, 3.0), "at the ends the window is cut");
    }

    #[test]
    fn every_row_is_steered_by_the_chroma_of_all_rows() {
        // Two rows (a stereo variable): the chord's notes split across them.
        let context = [tones(&[60.0]), tones(&[64.0, 67.0])].concat();
        let guide = ChordGuide::new(&context, LEN, RATE, 1.0, 0.0);
        let mut estimate = [tones(&[40.0, 42.0]), tones(&[43.0, 42.0])].concat();
        guide.steer(&mut estimate, 1.0);
        let (left, right) = estimate.split_at(LEN);
        let kept = [amplitude(left, 40.0), amplitude(right, 43.0)];
        let removed = [amplitude(left, 42.0), amplitude(right, 42.0)];
        assert!(kept.iter().all(|a| *a > 1.2), "E2 and G2 at {kept:.3?}, with F#2's energy");
        assert!(removed.iter().all(|a| a.abs() < 0.2), "F#2 kept at {removed:.3?}");
    }
}
