//! Mixture-consistent Wiener post-filter for separation results.
//!
//! The diffusion estimates of the stems are used only as power estimates:
//! each stem becomes the mixture's short-time spectrum times that stem's
//! share of the estimated power, `M_k = |X̂_k|² / Σ_j |X̂_j|²`, the
//! single-pass soft mask of classic source separation (Open-Unmix, Demucs).
//! It removes the sampler's residual noise, and the masked stems add up to
//! the mixture exactly.
//!
//! The masks are shared by all channels of the mix, so a stereo mix needs
//! the model's estimates of its mid only. Above the model's band (a model at
//! 16 kHz hears nothing above 8 kHz of a 44.1 kHz mix) each stem keeps, frame
//! by frame, its share of the octave just below the band's top: cymbals go
//! with the drums that play them, and the stems add up to the whole mix.

use crate::stft::Stft;

/// Frame length in seconds of the short-time spectrum (rounded to a multiple
/// of 64 samples: 1024 at 16 kHz, 2816 at 44.1 kHz).
const FRAME_SECONDS: f64 = 0.064;
/// Power floor that keeps masks defined where every estimate is silent.
const FLOOR: f32 = 1e-12;

/// Splits every channel of `mix` (rows at `rate`) by the power of each
/// stem's estimate (`estimates[k]`: the stem's rows at `rate`, of the mix's
/// length; their power is summed over rows). `band_top` is the frequency in
/// Hz above which the estimates carry nothing, if any: there each stem gets
/// its share of the octave below `band_top`. Returns `[stem][channel]` rows,
/// which add up to `mix`.
pub fn split(mix: &[Vec<f32>], estimates: &[Vec<Vec<f32>>], rate: u32, band_top: Option<f32>) -> Vec<Vec<Vec<f32>>> {
    let len = mix.first().map_or(0, Vec::len);
    let mut outs = vec![vec![vec![0.0f32; len]; mix.len()]; estimates.len()];
    if estimates.is_empty() || len == 0 {
        return outs;
    }
    let stft = Stft::for_seconds(rate, FRAME_SECONDS);
    let bins = stft.n / 2 + 1;
    let top_bin = band_top.map(|f| ((f64::from(f) * stft.n as f64 / f64::from(rate)) as usize).clamp(2, bins));
    for start in stft.starts(len) {
        let mut powers: Vec<Vec<f32>> = estimates.iter().map(|rows| stem_power(&stft, rows, start)).collect();
        if let Some(top) = top_bin {
            extend_above(&mut powers, top);
        }
        let total: Vec<f32> = (0..bins).map(|f| powers.iter().map(|p| p[f]).sum()).collect();
        for (channel, row) in mix.iter().enumerate() {
            let y = stft.spectrum(row, start);
            for (out, p) in outs.iter_mut().zip(&powers) {
                let masked = y.iter().zip(p).zip(&total).map(|((y, p), t)| y * (p / t)).collect();
                stft.overlap_add(masked, start, &mut out[channel]);
            }
        }
    }
    let norm = stft.window_norm(len);
    for row in outs.iter_mut().flatten() {
        row.iter_mut().zip(&norm).for_each(|(v, n)| *v /= n.max(1e-8));
    }
    outs
}

/// Power of one stem's estimate in the frame at `start`, summed over its rows.
fn stem_power(stft: &Stft, rows: &[Vec<f32>], start: isize) -> Vec<f32> {
    let mut power = vec![FLOOR; stft.n / 2 + 1];
    for row in rows {
        for (p, c) in power.iter_mut().zip(stft.spectrum(row, start)) {
            *p += c.norm_sqr();
        }
    }
    power
}

/// Gives every bin from `top` up each stem's power summed over the octave
/// below `top`, so the masks there are the stems' shares of that octave.
fn extend_above(powers: &mut [Vec<f32>], top: usize) {
    for p in powers {
        let octave: f32 = p[top / 2..top].iter().sum();
        p[top..].iter_mut().for_each(|v| *v = octave);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f32, len: usize, rate: u32) -> Vec<f32> {
        (0..len).map(|i| (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin()).collect()
    }

    fn add(a: &[f32], b: &[f32]) -> Vec<f32> {
        a.iter().zip(b).map(|(a, b)| a + b).collect()
    }

    fn energy(x: &[f32]) -> f32 {
        x.iter().map(|v| v * v).sum()
    }

    #[test]
    fn a_stems_power_sums_its_rows_spectra_over_the_floor() {
        // A unit impulse at the middle of a frame, where the Hann window is 1:
        // a flat spectrum of power 1 in every bin, per row.
        let stft = Stft::for_seconds(16000, FRAME_SECONDS);
        let mut impulse = vec![0.0; stft.n];
        impulse[stft.n / 2] = 1.0;
        let power = stem_power(&stft, &[impulse.clone(), impulse], 0);
        assert_eq!(power.len(), stft.n / 2 + 1);
        assert!(power.iter().all(|p| (p - 2.0).abs() < 1e-5), "{:?}", &power[..4]);
        let silent = stem_power(&stft, &[vec![0.0; stft.n]], 0);
        assert!(silent.iter().all(|&p| p == FLOOR));
    }

    #[test]
    fn stems_add_up_to_the_mix() {
        let rate = 16000;
        let a = tone(110.0, 5000, rate);
        let b = tone(3000.0, 5000, rate);
        let mix = add(&a, &b);
        let noisy: Vec<f32> =
            a.iter().enumerate().map(|(i, v)| v + 0.3 * ((i * 7919 % 13) as f32 / 13.0 - 0.5)).collect();
        let out = split(std::slice::from_ref(&mix), &[vec![noisy], vec![b.clone()]], rate, None);
        for i in 0..mix.len() {
            let sum = out[0][0][i] + out[1][0][i];
            assert!((sum - mix[i]).abs() < 1e-4, "sample {i}: {sum} vs {}", mix[i]);
        }
    }

    #[test]
    fn a_noisy_estimate_is_cleaned_by_the_mixture() {
        let rate = 16000;
        let len = 8000;
        let a = tone(220.0, len, rate);
        let b = tone(2500.0, len, rate);
        let mix = add(&a, &b);
        // Estimate of a: a plus a little of b plus broadband noise.
        let noise: Vec<f32> = (0..len).map(|i| ((i * 2654435761usize) % 1000) as f32 / 1000.0 - 0.5).collect();
        let est_a: Vec<f32> = (0..len).map(|i| a[i] + 0.1 * b[i] + 0.5 * noise[i]).collect();
        let est_b: Vec<f32> = mix.iter().zip(&est_a).map(|(m, e)| m - e).collect();
        let err = |x: &[f32]| x.iter().zip(&a).map(|(x, a)| (x - a).powi(2)).sum::<f32>();
        let out = split(&[mix], &[vec![est_a.clone()], vec![est_b]], rate, None);
        assert!(err(&out[0][0]) < 0.1 * err(&est_a), "error {} vs {}", err(&out[0][0]), err(&est_a));
    }

    /// A 44.1 kHz stereo mix of a "drum" (a 5 kHz tone with a 12 kHz partial)
    /// and a "bass" (110 Hz), whose estimates stop at a 16 kHz model's band.
    #[test]
    fn the_band_above_the_model_goes_to_the_stem_that_owns_the_octave_below() {
        let rate = 44100;
        let len = 44100;
        let (body, air, bass) = (tone(5000.0, len, rate), tone(12000.0, len, rate), tone(110.0, len, rate));
        let drum = add(&body, &air.iter().map(|v| 0.5 * v).collect::<Vec<_>>());
        // Left: drum and bass; right: bass alone, quieter.
        let left = add(&drum, &bass);
        let right: Vec<f32> = bass.iter().map(|v| 0.5 * v).collect();
        let mix = vec![left.clone(), right.clone()];
        // Estimates of the mid: in band only, as a 16 kHz model gives them.
        let drum_est: Vec<f32> = body.iter().map(|v| 0.5 * v).collect();
        let bass_est: Vec<f32> = bass.iter().map(|v| 0.75 * v).collect();
        let out = split(&mix, &[vec![drum_est], vec![bass_est]], rate, Some(7200.0));
        // The stems null against the whole mix, channel by channel.
        for (c, row) in mix.iter().enumerate() {
            let rest: Vec<f32> = (0..len).map(|i| row[i] - out[0][c][i] - out[1][c][i]).collect();
            let null_db = 10.0 * (energy(&rest) / energy(row)).log10();
            assert!(null_db < -60.0, "channel {c}: sum of stems vs mix {null_db:.1} dB");
        }
        // The 12 kHz partial is in the drum stem, not the bass.
        let air_in = |x: &[f32]| {
            let p: f32 = x.iter().zip(&air).map(|(x, a)| x * a).sum();
            p / energy(&air)
        };
        assert!(air_in(&out[0][0]) > 0.48, "drum stem holds {:.3} of the 0.5 partial", air_in(&out[0][0]));
        assert!(air_in(&out[1][0]).abs() < 0.02, "bass stem holds {:.3}", air_in(&out[1][0]));
        // The right channel has no drum: its drum stem stays near silent.
        assert!(energy(&out[0][1]) < 0.01 * energy(&right), "{}", energy(&out[0][1]) / energy(&right));
        // Without the band extension the partial is split by the estimates'
        // leakage into that band, not by who plays it.
        let plain = split(&mix, &[vec![body.clone()], vec![bass.clone()]], rate, None);
        assert!(air_in(&plain[0][0]) < 0.45, "{}", air_in(&plain[0][0]));
    }

    #[test]
    fn where_every_estimate_is_silent_the_stems_share_the_mix_equally() {
        let rate = 16000;
        let mix = tone(440.0, 3000, rate);
        let silent = vec![0.0f32; 3000];
        let out = split(std::slice::from_ref(&mix), &[vec![silent.clone()], vec![silent]], rate, None);
        for (i, m) in mix.iter().enumerate() {
            for stem in &out {
                assert!((stem[0][i] - 0.5 * m).abs() < 1e-4, "sample {i}: {} vs {}", stem[0][i], 0.5 * m);
            }
        }
    }

    #[test]
    fn the_floor_is_far_below_a_quiet_estimate() {
        // An estimate at −60 dB still takes all of its tone from a silent stem.
        let rate = 16000;
        let mix = tone(440.0, 8000, rate);
        let quiet: Vec<f32> = mix.iter().map(|v| 1e-3 * v).collect();
        let out = split(std::slice::from_ref(&mix), &[vec![quiet], vec![vec![0.0; 8000]]], rate, None);
        assert!(energy(&out[1][0]) < 1e-4 * energy(&mix), "the silent stem took {}", energy(&out[1][0]) / energy(&mix));
    }
}
