//! Rows: audio of any rate and channel count to and from the model's rate
//! and channels, its gain towards the model's level, and the window of it
//! that one network variable holds.

use crate::audio::Audio;
use crate::chunk::Window;
use crate::context::Context;
use crate::error::Result;
use crate::manifest::Manifest;

/// Audio at the model's rate as network rows: `lanes × C` rows.
pub(crate) struct Rows {
    /// One row per lane and model channel, all equally long.
    pub(crate) rows: Vec<Vec<f32>>,
    /// Lanes: inputs run side by side through the network.
    pub(crate) lanes: usize,
}

/// Converts audio to rows at the model's rate and channels;
/// `per_channel_lanes` runs each input channel as its own lane under a
/// mono model.
pub(crate) fn to_rows(audio: &Audio, m: &Manifest, per_channel_lanes: bool) -> Result<Rows> {
    let c = m.channels;
    let at_rate = audio.resampled(m.sample_rate)?;
    if c == 1 && per_channel_lanes {
        let lanes = at_rate.channel_count();
        return Ok(Rows { rows: at_rate.channels, lanes });
    }
    let fitted = if c == 1 { vec![at_rate.downmix()] } else { at_rate.with_channel_count(c).channels };
    Ok(Rows { rows: fitted, lanes: 1 })
}

/// Converts rows at the model's rate back to audio of `rate`, `channels`
/// and `frames`, undoing the input `gain`.
pub(crate) fn to_audio(
    rows: Vec<Vec<f32>>,
    m: &Manifest,
    rate: u32,
    channels: usize,
    frames: usize,
    gain: f32,
) -> Result<Audio> {
    let mut audio = Audio { rate: m.sample_rate, channels: rows }.with_channel_count(channels);
    audio.scale(1.0 / gain);
    let mut out = audio.resampled(rate)?;
    for ch in &mut out.channels {
        ch.resize(frames, 0.0);
    }
    Ok(out)
}

impl Context<'_> {
    /// Input gain towards the model's training level for an input of this
    /// `rms`; a silent input keeps gain 1 and warns, naming it as `what`.
    pub(crate) fn gain_for(&mut self, rms: f32, what: &str) -> f32 {
        match self.manifest().input_rms {
            Some(_) if rms < 1e-6 => {
                self.warnings.push(format!("{what} is silent"));
                1.0
            }
            Some(target) => (target / rms).clamp(1e-3, 1e3),
            None => 1.0,
        }
    }
}

/// One variable from rows: each row's window slice, scaled and zero-padded.
pub(crate) fn flatten(rows: &[Vec<f32>], w: Window, gain: f32) -> Vec<f32> {
    let mut out = Vec::with_capacity(rows.len() * w.padded);
    for row in rows {
        let end = (w.start + w.len).min(row.len());
        let start = w.start.min(end);
        out.extend(row[start..end].iter().map(|s| s * gain));
        out.resize(out.len() + w.padded - (end - start), 0.0);
    }
    out
}

/// Rows of a variable of `rows` rows of `padded` frames.
pub(crate) fn unflatten(var: &[f32], rows: usize, padded: usize) -> Vec<Vec<f32>> {
    (0..rows).map(|r| var[r * padded..(r + 1) * padded].to_vec()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::job::{Job, Task};
    use crate::probe::{Probe, RATE};
    use crate::settings::{Overrides, Settings};

    fn stereo() -> Audio {
        Audio { rate: RATE, channels: vec![vec![1.0, 2.0], vec![3.0, -2.0]] }
    }

    #[test]
    fn a_mono_model_hears_each_channel_as_a_lane_or_their_mean() {
        let m = Probe::new(false).manifest;
        let lanes = to_rows(&stereo(), &m, true).unwrap();
        assert_eq!((lanes.rows, lanes.lanes), (stereo().channels, 2));
        let mean = to_rows(&stereo(), &m, false).unwrap();
        assert_eq!((mean.rows, mean.lanes), (vec![vec![2.0, 0.0]], 1));
    }

    #[test]
    fn a_stereo_model_hears_both_channels_of_one_lane() {
        let mut m = Probe::new(false).manifest;
        m.channels = 2;
        for per_channel_lanes in [false, true] {
            let rows = to_rows(&stereo(), &m, per_channel_lanes).unwrap();
            assert_eq!((rows.rows, rows.lanes), (stereo().channels, 1));
        }
        let mono = Audio { rate: RATE, channels: vec![vec![1.0, 2.0]] };
        assert_eq!(to_rows(&mono, &m, false).unwrap().rows, [[1.0, 2.0], [1.0, 2.0]]);
    }

    #[test]
    fn the_gain_brings_an_input_to_the_models_level_unless_it_is_silent() {
        let mut model = Probe::new(false);
        let job = Job::new(Task::Generate { stems: vec![], seconds: 1.0, rate: RATE, channels: 1 });
        let settings = Settings::resolve(job.task.kind(), &model.manifest, &Overrides::default()).unwrap();
        let mut cx = Context { model: &mut model, job: &job, settings, warnings: Vec::new() };
        // Trained at RMS 0.1; the gain stays within 1e-3 and 1e3.
        assert_eq!((cx.gain_for(0.2, "x"), cx.gain_for(1e-6, "x"), cx.gain_for(1e3, "x")), (0.5, 1e3, 1e-3));
        assert!(cx.warnings.is_empty(), "{:?}", cx.warnings);
        assert_eq!(cx.gain_for(0.0, "the mix"), 1.0);
        assert_eq!(cx.warnings, ["the mix is silent"]);
        // A model that wants no normalising.
        let mut model = Probe::new(false);
        model.manifest.input_rms = None;
        let settings = cx.settings.clone();
        let mut cx = Context { model: &mut model, job: &job, settings, warnings: Vec::new() };
        assert_eq!((cx.gain_for(0.2, "x"), cx.gain_for(0.0, "x")), (1.0, 1.0));
        assert!(cx.warnings.is_empty(), "{:?}", cx.warnings);
    }

    #[test]
    fn a_window_flattens_scaled_and_padded_and_unflattens_to_its_rows() {
        let rows = vec![vec![1.0, 2.0, 3.0, 4.0, 5.0], vec![-1.0, -2.0, -3.0, -4.0, -5.0]];
        // The last window runs past the rows' end: its missing frames are zeros.
        let w = Window { start: 3, len: 3, padded: 4 };
        let var = flatten(&rows, w, 2.0);
        assert_eq!(var, [8.0, 10.0, 0.0, 0.0, -8.0, -10.0, 0.0, 0.0]);
        assert_eq!(unflatten(&var, 2, 4), [vec![8.0, 10.0, 0.0, 0.0], vec![-8.0, -10.0, 0.0, 0.0]]);
    }
}
