//! A short-time Fourier transform with a periodic Hann window, frames
//! overlapping by four, for the engine's spectral filters (the Wiener
//! post-filter, the chord guide).

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// Frames overlap by this factor (hop = frame / 4).
const OVERLAP: usize = 4;

/// Forward and inverse transforms of one frame length.
pub(crate) struct Stft {
    /// Frame length in samples.
    pub(crate) n: usize,
    /// Hop between frames in samples.
    pub(crate) hop: usize,
    window: Vec<f32>,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
}

impl Stft {
    /// Transforms of `n`-sample frames (`n` a multiple of 4).
    pub(crate) fn new(n: usize) -> Stft {
        let window = (0..n).map(|i| (std::f32::consts::PI * i as f32 / n as f32).sin().powi(2)).collect();
        let mut planner = RealFftPlanner::new();
        Stft { n, hop: n / OVERLAP, window, forward: planner.plan_fft_forward(n), inverse: planner.plan_fft_inverse(n) }
    }

    /// Transforms of frames `seconds` long at `rate`, rounded to a multiple
    /// of 64 samples.
    pub(crate) fn for_seconds(rate: u32, seconds: f64) -> Stft {
        Stft::new((((f64::from(rate) * seconds) / 64.0).round() as usize).max(1) * 64)
    }

    /// Start of every frame (the first starts before the signal so that
    /// every sample is covered by `OVERLAP` frames).
    pub(crate) fn starts(&self, len: usize) -> impl Iterator<Item = isize> {
        let first = -((self.n - self.hop) as isize);
        let hop = self.hop as isize;
        (0..).map(move |i| first + i * hop).take_while(move |&s| s < len as isize)
    }

    /// The spectrum of the windowed frame of `x` at `start` (zero outside `x`).
    pub(crate) fn spectrum(&self, x: &[f32], start: isize) -> Vec<Complex<f32>> {
        let mut frame: Vec<f32> = (0..self.n)
            .map(|i| {
                let t = start + i as isize;
                if t >= 0 && (t as usize) < x.len() {
                    x[t as usize] * self.window[i]
                } else {
                    0.0
                }
            })
            .collect();
        let mut out = self.forward.make_output_vec();
        // Lengths match by construction, so the transform cannot fail.
        let _ = self.forward.process(&mut frame, &mut out);
        out
    }

    /// Adds the windowed inverse of `spectrum` at `start` into `out`.
    pub(crate) fn overlap_add(&self, mut spectrum: Vec<Complex<f32>>, start: isize, out: &mut [f32]) {
        // The inverse of a real signal's spectrum has real DC and Nyquist bins.
        spectrum[0].im = 0.0;
        if let Some(last) = spectrum.last_mut() {
            last.im = 0.0;
        }
        let mut frame = self.inverse.make_output_vec();
        let _ = self.inverse.process(&mut spectrum, &mut frame);
        let scale = 1.0 / self.n as f32;
        for (i, v) in frame.iter().enumerate() {
            let t = start + i as isize;
            if t >= 0 && (t as usize) < out.len() {
                out[t as usize] += v * scale * self.window[i];
            }
        }
    }

    /// Sum of the squared synthesis windows over all frames, per sample.
    pub(crate) fn window_norm(&self, len: usize) -> Vec<f32> {
        let mut norm = vec![0.0f32; len];
        for start in self.starts(len) {
            for (i, w) in self.window.iter().enumerate() {
                let t = start + i as isize;
                if t >= 0 && (t as usize) < len {
                    norm[t as usize] += w * w;
                }
            }
        }
        norm
    }

    /// `x` with frame `f`'s spectrum changed by `change(f, spectrum)`,
    /// resynthesised by overlap-add.
    pub(crate) fn filter(&self, x: &[f32], mut change: impl FnMut(usize, &mut [Complex<f32>])) -> Vec<f32> {
        let mut out = vec![0.0f32; x.len()];
        for (f, start) in self.starts(x.len()).enumerate() {
            let mut spectrum = self.spectrum(x, start);
            change(f, &mut spectrum);
            self.overlap_add(spectrum, start, &mut out);
        }
        out.iter_mut().zip(self.window_norm(x.len())).for_each(|(v, n)| *v /= n.max(1e-8));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_spectrum_gives_back_the_signal_and_a_zeroed_one_silence() {
        let x: Vec<f32> = (0..3000).map(|i| ((i * 7919) % 101) as f32 / 101.0 - 0.5).collect();
        let stft = Stft::new(256);
        let back = stft.filter(&x, |_, _| {});
        assert!(x.iter().zip(&back).all(|(a, b)| (a - b).abs() < 1e-4));
        let silent = stft.filter(&x, |_, s| s.iter_mut().for_each(|v| *v *= 0.0));
        assert!(silent.iter().all(|v| v.abs() < 1e-6));
    }
}
