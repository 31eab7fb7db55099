//! Mixture-consistent Wiener post-filter for separation results.
//!
//! The diffusion estimates of the stems are used only as power estimates:
//! each stem becomes the mixture's short-time spectrum times that stem's
//! share of the estimated power, `M_k = |X̂_k|² / Σ_j |X̂_j|²`, the
//! single-pass soft mask of classic source separation (Open-Unmix, Demucs).
//! It removes the sampler's residual noise, and the masked stems add up to
//! the mixture exactly.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// Frame length in seconds of the short-time spectrum (rounded up to a power
/// of two in samples: 1024 at 16 kHz).
const FRAME_SECONDS: f64 = 0.064;
/// Frames overlap by this factor (hop = frame / 4).
const OVERLAP: usize = 4;
/// Power floor that keeps masks defined where every estimate is silent.
const FLOOR: f32 = 1e-12;

/// A short-time Fourier transform with a periodic Hann window.
struct Stft {
    n: usize,
    hop: usize,
    window: Vec<f32>,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
}

impl Stft {
    fn new(rate: u32) -> Stft {
        let n = ((f64::from(rate) * FRAME_SECONDS).ceil() as usize).next_power_of_two().max(16);
        let window = (0..n).map(|i| (std::f32::consts::PI * i as f32 / n as f32).sin().powi(2)).collect();
        let mut planner = RealFftPlanner::new();
        Stft { n, hop: n / OVERLAP, window, forward: planner.plan_fft_forward(n), inverse: planner.plan_fft_inverse(n) }
    }

    /// Start of every frame (the first starts before the signal so that
    /// every sample is covered by `OVERLAP` frames).
    fn starts(&self, len: usize) -> impl Iterator<Item = isize> {
        let first = -((self.n - self.hop) as isize);
        let hop = self.hop as isize;
        (0..).map(move |i| first + i * hop).take_while(move |&s| s < len as isize)
    }

    fn spectrum(&self, x: &[f32], start: isize) -> Vec<Complex<f32>> {
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
    fn overlap_add(&self, mut spectrum: Vec<Complex<f32>>, start: isize, out: &mut [f32]) {
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
    fn window_norm(&self, len: usize) -> Vec<f32> {
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
}

/// Splits `mix` (one row at `rate`) by the power of each of `estimates`
/// (rows of the same length). The returned rows add up to `mix`.
pub fn wiener(mix: &[f32], estimates: &[Vec<f32>], rate: u32) -> Vec<Vec<f32>> {
    let len = mix.len();
    if estimates.is_empty() || len == 0 {
        return estimates.to_vec();
    }
    let stft = Stft::new(rate);
    let mut outs = vec![vec![0.0f32; len]; estimates.len()];
    for start in stft.starts(len) {
        let y = stft.spectrum(mix, start);
        let powers: Vec<Vec<f32>> =
            estimates.iter().map(|e| stft.spectrum(e, start).iter().map(|c| c.norm_sqr() + FLOOR).collect()).collect();
        let total: Vec<f32> = (0..y.len()).map(|f| powers.iter().map(|p| p[f]).sum()).collect();
        for (k, out) in outs.iter_mut().enumerate() {
            let masked = y.iter().zip(&powers[k]).zip(&total).map(|((y, p), t)| y * (p / t)).collect();
            stft.overlap_add(masked, start, out);
        }
    }
    let norm = stft.window_norm(len);
    for out in &mut outs {
        out.iter_mut().zip(&norm).for_each(|(v, n)| *v /= n.max(1e-8));
    }
    outs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f32, len: usize, rate: u32) -> Vec<f32> {
        (0..len).map(|i| (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin()).collect()
    }

    #[test]
    fn stems_add_up_to_the_mix() {
        let rate = 16000;
        let a = tone(110.0, 5000, rate);
        let b = tone(3000.0, 5000, rate);
        let mix: Vec<f32> = a.iter().zip(&b).map(|(a, b)| a + b).collect();
        let noisy: Vec<f32> =
            a.iter().enumerate().map(|(i, v)| v + 0.3 * ((i * 7919 % 13) as f32 / 13.0 - 0.5)).collect();
        let out = wiener(&mix, &[noisy, b.clone()], rate);
        for i in 0..mix.len() {
            let sum = out[0][i] + out[1][i];
            assert!((sum - mix[i]).abs() < 1e-4, "sample {i}: {sum} vs {}", mix[i]);
        }
    }

    #[test]
    fn a_noisy_estimate_is_cleaned_by_the_mixture() {
        let rate = 16000;
        let len = 8000;
        let a = tone(220.0, len, rate);
        let b = tone(2500.0, len, rate);
        let mix: Vec<f32> = a.iter().zip(&b).map(|(a, b)| a + b).collect();
        // Estimate of a: a plus a little of b plus broadband noise.
        let noise: Vec<f32> = (0..len).map(|i| ((i * 2654435761usize) % 1000) as f32 / 1000.0 - 0.5).collect();
        let est_a: Vec<f32> = (0..len).map(|i| a[i] + 0.1 * b[i] + 0.5 * noise[i]).collect();
        let est_b: Vec<f32> = mix.iter().zip(&est_a).map(|(m, e)| m - e).collect();
        let err = |x: &[f32]| x.iter().zip(&a).map(|(x, a)| (x - a).powi(2)).sum::<f32>();
        let out = wiener(&mix, &[est_a.clone(), est_b], rate);
        assert!(err(&out[0]) < 0.1 * err(&est_a), "error {} vs {}", err(&out[0]), err(&est_a));
    }
}
