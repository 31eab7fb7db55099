//! The Wiener post-filter of a separation job at the mix's own rate, one
//! stretch of the song at a time, so that a long song never holds more than
//! one stretch of upsampled estimates besides the stems it returns.

use crate::audio::Audio;
use crate::error::Result;
use crate::wiener;

/// Length of one stretch, in seconds (rounded up to whole resampler periods).
const STRETCH_SECONDS: f64 = 20.0;
/// Context on each side of a stretch, longer than a filter frame and the
/// resampler's reach, so the stretch comes out as if filtered whole.
const MARGIN_SECONDS: f64 = 1.0;

/// What the post-filter splits and how.
pub struct PostFilter<'a> {
    /// The mix, at its own rate.
    pub mix: &'a Audio,
    /// Each stem's estimate: its rows at `model_rate`, scaled by `gain`.
    pub estimates: &'a [Vec<Vec<f32>>],
    /// Rate of the estimates (Hz).
    pub model_rate: u32,
    /// The scale the estimates carry relative to the mix.
    pub gain: f32,
    /// Whether what the estimates leave of the mix competes as one more
    /// source, dropped from the result (extraction).
    pub residual: bool,
}

impl PostFilter<'_> {
    /// Every channel of the mix split by the stems' estimated power, over the
    /// whole band: one [`Audio`] per stem, shaped like the mix.
    pub fn run(&self) -> Result<Vec<Audio>> {
        self.run_in_stretches(STRETCH_SECONDS)
    }

    fn run_in_stretches(&self, stretch_seconds: f64) -> Result<Vec<Audio>> {
        let (mix_rate, frames) = (self.mix.rate, self.mix.frames());
        let mut out = vec![Audio::silence(mix_rate, self.mix.channel_count(), frames); self.estimates.len()];
        // Stretches start on frames that both rates share, so each resampled
        // stretch lines up with the mix sample for sample.
        let g = gcd(mix_rate, self.model_rate);
        let (model_period, mix_period) = ((self.model_rate / g) as usize, (mix_rate / g) as usize);
        let (stretch, margin) = (
            periods(stretch_seconds, self.model_rate, model_period),
            periods(MARGIN_SECONDS, self.model_rate, model_period),
        );
        // The resampler's passband ends a little below the model's Nyquist.
        let band_top = (mix_rate > self.model_rate).then_some(0.45 * self.model_rate as f32);
        for Stretch { lo, first, end: stop, hi } in stretches(frames.div_ceil(mix_period), stretch, margin) {
            let mix: Vec<Vec<f32>> =
                self.mix.channels.iter().map(|ch| padded_slice(ch, lo * mix_period, hi * mix_period)).collect();
            let mut estimates = self
                .estimates
                .iter()
                .map(|rows| self.upsampled(rows, lo * model_period, hi * model_period))
                .collect::<Result<Vec<_>>>()?;
            if self.residual {
                estimates.push(residual(&mix, &estimates));
            }
            let split = wiener::split(&mix, &estimates, mix_rate, band_top);
            let (start, end) = (first * mix_period, (stop * mix_period).min(frames));
            let offset = (first - lo) * mix_period;
            for (stem, parts) in out.iter_mut().zip(split) {
                for (channel, part) in stem.channels.iter_mut().zip(parts) {
                    channel[start..end].copy_from_slice(&part[offset..offset + end - start]);
                }
            }
        }
        Ok(out)
    }

    /// Model-rate samples `[from, to)` of `rows` at the mix's rate and scale.
    fn upsampled(&self, rows: &[Vec<f32>], from: usize, to: usize) -> Result<Vec<Vec<f32>>> {
        let stretch =
            Audio { rate: self.model_rate, channels: rows.iter().map(|r| padded_slice(r, from, to)).collect() };
        let mut up = stretch.resampled(self.mix.rate)?;
        up.scale(1.0 / self.gain);
        Ok(up.channels)
    }
}

/// The mix (as many rows as the estimates have) minus every estimate.
fn residual(mix: &[Vec<f32>], estimates: &[Vec<Vec<f32>>]) -> Vec<Vec<f32>> {
    let rows = estimates.first().map_or(1, Vec::len);
    let mix = Audio { rate: 1, channels: mix.to_vec() }.with_channel_count(rows).channels;
    mix.into_iter()
        .enumerate()
        .map(|(r, mut rest)| {
            for e in estimates {
                rest.iter_mut().zip(&e[r]).for_each(|(a, b)| *a -= b);
            }
            rest
        })
        .collect()
}

/// One stretch, in resampler periods: it fills `[first, end)` and is
/// filtered with its context, `[lo, hi)`.
#[derive(Debug, PartialEq)]
struct Stretch {
    lo: usize,
    first: usize,
    end: usize,
    hi: usize,
}

/// The stretches of `stretch` periods, each with `margin` periods of
/// context on either side where there are any, that cover `[0, periods)`.
fn stretches(periods: usize, stretch: usize, margin: usize) -> Vec<Stretch> {
    (0..periods)
        .step_by(stretch)
        .map(|first| Stretch {
            lo: first.saturating_sub(margin),
            first,
            end: (first + stretch).min(periods),
            hi: (first + stretch + margin).min(periods),
        })
        .collect()
}

/// Whole periods of `period` samples at `rate` that cover `seconds` (at least one).
fn periods(seconds: f64, rate: u32, period: usize) -> usize {
    ((seconds * f64::from(rate) / period as f64).ceil() as usize).max(1)
}

/// `x[from..to]`, with zeros where it runs past the end.
fn padded_slice(x: &[f32], from: usize, to: usize) -> Vec<f32> {
    let mut out = x[from.min(x.len())..to.min(x.len())].to_vec();
    out.resize(to - from, 0.0);
    out
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a.max(1)
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f32, len: usize, rate: u32, amp: f32) -> Vec<f32> {
        (0..len).map(|i| amp * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin()).collect()
    }

    const MODEL_RATE: u32 = 16000;
    const GAIN: f32 = 2.0;

    /// A 44.1 kHz stereo mix of a gliding tone and a 10 kHz one (left) and a
    /// fixed one (both channels), and the first and last as estimates at
    /// 16 kHz, scaled by [`GAIN`].
    fn case() -> (Audio, Vec<Vec<Vec<f32>>>) {
        // Not a whole number of resampler periods (441 frames at 44.1 kHz).
        let (rate, frames) = (44100, 189_700);
        let glide: Vec<f32> = (0..frames)
            .map(|i| {
                let t = i as f32 / rate as f32;
                0.3 * (2.0 * std::f32::consts::PI * (200.0 * t + 60.0 * t * t)).sin()
            })
            .collect();
        let hum = tone(3000.0, frames, rate, 0.2);
        // And a 10 kHz tone above the model's band, which no estimate carries.
        let air = tone(10_000.0, frames, rate, 0.05);
        let left: Vec<f32> = glide.iter().zip(&hum).zip(&air).map(|((a, b), c)| a + b + c).collect();
        // Noisy estimates, so the masks are soft and change from frame to frame.
        let estimate = |x: &[f32], seed: usize| {
            let noisy = x.iter().enumerate().map(|(i, v)| v + 0.05 * (((i * 7919 + seed) % 101) as f32 / 50.0 - 1.0));
            let mut a = Audio { rate, channels: vec![noisy.collect()] }.resampled(MODEL_RATE).unwrap();
            a.scale(GAIN);
            a.channels
        };
        let estimates = vec![estimate(&glide, 1), estimate(&hum, 2)];
        (Audio { rate, channels: vec![left, hum] }, estimates)
    }

    fn filter<'a>(mix: &'a Audio, estimates: &'a [Vec<Vec<f32>>], residual: bool) -> PostFilter<'a> {
        PostFilter { mix, estimates, model_rate: MODEL_RATE, gain: GAIN, residual }
    }

    fn difference_db(a: &[Audio], b: &[Audio]) -> f64 {
        let (mut diff, mut energy) = (0.0f64, 0.0f64);
        for (x, y) in a.iter().zip(b) {
            for (cx, cy) in x.channels.iter().zip(&y.channels) {
                for (u, v) in cx.iter().zip(cy) {
                    diff += f64::from(u - v).powi(2);
                    energy += f64::from(*v).powi(2);
                }
            }
        }
        10.0 * (diff / energy).log10()
    }

    /// The Wiener filter run once over the whole song, on the estimates
    /// upsampled whole: what every stretch must reproduce.
    fn filtered_whole(mix: &Audio, estimates: &[Vec<Vec<f32>>], residual: bool) -> Vec<Audio> {
        let mut up: Vec<Vec<Vec<f32>>> = estimates
            .iter()
            .map(|rows| {
                let mut a = Audio { rate: MODEL_RATE, channels: rows.clone() }.resampled(mix.rate).unwrap();
                a.scale(1.0 / GAIN);
                a.channels.iter_mut().for_each(|c| c.resize(mix.frames(), 0.0));
                a.channels
            })
            .collect();
        if residual {
            // The mix's mid (the estimates have one row) less every estimate.
            let mid = (0..mix.frames()).map(|i| (mix.channels[0][i] + mix.channels[1][i]) / 2.0);
            up.push(vec![mid.enumerate().map(|(i, m)| m - up.iter().map(|e| e[0][i]).sum::<f32>()).collect()]);
        }
        let split = wiener::split(&mix.channels, &up, mix.rate, Some(0.45 * MODEL_RATE as f32));
        split.into_iter().take(estimates.len()).map(|channels| Audio { rate: mix.rate, channels }).collect()
    }

    #[test]
    fn stretches_give_what_the_whole_song_gives() {
        let (mix, estimates) = case();
        for residual in [false, true] {
            let filter = filter(&mix, &estimates, residual);
            let whole = filtered_whole(&mix, &estimates, residual);
            // One 20-second stretch, and stretches of 1.5 s.
            for out in [filter.run().unwrap(), filter.run_in_stretches(1.5).unwrap()] {
                assert_eq!(out.len(), 2);
                assert!(out.iter().all(|a| a.frames() == mix.frames() && a.channel_count() == 2));
                let db = difference_db(&out, &whole);
                // What is left is the resampler's block alignment (about −55 dB).
                assert!(db < -45.0, "residual {residual}: stretches differ from the whole by {db:.1} dB");
            }
        }
    }

    #[test]
    fn stretches_cover_the_song_each_with_its_margins_inside_it() {
        let s = |lo, first, end, hi| Stretch { lo, first, end, hi };
        assert_eq!(stretches(10, 4, 1), [s(0, 0, 4, 5), s(3, 4, 8, 9), s(7, 8, 10, 10)]);
        assert_eq!(stretches(3, 4, 2), [s(0, 0, 3, 3)]);
        assert_eq!(stretches(0, 4, 2), []);
    }

    #[test]
    fn at_the_models_own_rate_the_estimates_split_the_whole_band() {
        // A stem above 0.45 of the rate: where a resampled model's estimates
        // would stop, but at the model's own rate they do not.
        let (rate, frames) = (MODEL_RATE, 16000);
        let (high, low) = (tone(7600.0, frames, rate, 0.3), tone(1000.0, frames, rate, 0.3));
        let mix = Audio { rate, channels: vec![high.iter().zip(&low).map(|(a, b)| a + b).collect()] };
        let estimates = [&high, &low].map(|x| vec![x.iter().map(|v| GAIN * v).collect::<Vec<f32>>()]);
        let out = filter(&mix, &estimates, false).run().unwrap();
        let energy = |x: &[f32]| x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>();
        let share = energy(&out[0].channels[0]) / energy(&high);
        assert!((share - 1.0).abs() < 0.02, "the 7.6 kHz stem kept {share:.3} of its energy");
    }

    #[test]
    fn a_padded_slice_is_exactly_as_long_as_asked() {
        let x = [1.0, 2.0, 3.0];
        assert_eq!(padded_slice(&x, 1, 5), [2.0, 3.0, 0.0, 0.0]);
        assert_eq!(padded_slice(&x, 0, 2), [1.0, 2.0]);
        assert_eq!(padded_slice(&x, 4, 6), [0.0, 0.0]);
    }

    #[test]
    fn a_stretch_is_whole_resampler_periods_and_at_least_one() {
        // 16 kHz against 44.1 kHz: a period is 160 model samples (441 at the mix's rate).
        assert_eq!(periods(1.5, 16000, 160), 150);
        assert_eq!(periods(1.505, 16000, 160), 151, "rounded up");
        assert_eq!(periods(0.001, 16000, 160), 1);
        assert_eq!(periods(0.0, 16000, 160), 1);
        assert_eq!(gcd(44100, 16000), 100);
        assert_eq!((gcd(0, 0), gcd(7, 0)), (1, 7));
    }

    #[test]
    fn the_stems_add_up_to_the_mix_and_follow_their_estimates() {
        let (mix, estimates) = case();
        let out = filter(&mix, &estimates, false).run_in_stretches(1.5).unwrap();
        let sum: Vec<Audio> = vec![Audio {
            rate: mix.rate,
            channels: (0..2)
                .map(|c| (0..mix.frames()).map(|i| out[0].channels[c][i] + out[1].channels[c][i]).collect())
                .collect(),
        }];
        assert!(difference_db(&sum, std::slice::from_ref(&mix)) < -60.0);
        // The right channel holds only the fixed tone: nearly all of it is in stem 1.
        let energy = |x: &[f32]| x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>();
        let right = energy(&mix.channels[1]);
        assert!(energy(&out[1].channels[1]) > 0.95 * right, "{}", energy(&out[1].channels[1]) / right);
    }
}
