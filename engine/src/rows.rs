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
