//! Playback: result stems handed to the audio thread through a triple
//! buffer (the writer, off the audio thread, drops replaced results), and
//! rendered sample-aligned with the timeline onto aux and main outputs.

use std::sync::Arc;

use crate::params::Monitor;

/// Results ready to play: stereo stems at timeline positions.
pub struct Results {
    /// Sample rate of the stems.
    pub rate: u32,
    /// The stems, in aux-output order.
    pub stems: Vec<Stem>,
}

/// One result stem.
pub struct Stem {
    /// Stem name.
    pub name: String,
    /// Timeline position of the first sample.
    pub start: i64,
    /// Left and right channels.
    pub channels: [Vec<f32>; 2],
}

/// What the audio thread reads: the results, if any.
pub type Slot = Option<Arc<Results>>;

/// Writer side, owned off the audio thread.
pub type Publisher = triple_buffer::Input<Slot>;
/// Reader side, owned by the audio thread.
pub type Reader = triple_buffer::Output<Slot>;

/// A new, empty hand-over.
pub fn channel() -> (Publisher, Reader) {
    triple_buffer::triple_buffer(&None)
}

/// Publishes `results` and drops whatever the writer's buffer still held,
/// here, off the audio thread.
pub fn publish(publisher: &mut Publisher, results: Slot) {
    publisher.write(results);
    *publisher.input_buffer_mut() = None;
}

/// One block of output, rendered in place (real-time safe: no allocation).
pub struct Block<'a, 'b> {
    /// Timeline position of the block's first sample, when the transport plays.
    pub pos: Option<i64>,
    /// Current host sample rate.
    pub rate: u32,
    /// Main output channels (holding the main input on entry).
    pub main: &'a mut [&'b mut [f32]],
    /// What the main output carries.
    pub monitor: Monitor,
    /// Gain of everything the plugin outputs.
    pub gain: f32,
    /// Gain of each result stem (stems past the end play at 1).
    pub stem_gains: &'a [f32],
}

impl Block<'_, '_> {
    /// Writes stem `k` to aux output `k` (silence where nothing plays) and
    /// the results to the main output according to the monitor setting.
    pub fn render<'x, 'y: 'x>(
        self,
        results: Option<&Results>,
        aux_outputs: impl Iterator<Item = &'x mut [&'y mut [f32]]>,
    ) {
        let playing = results.filter(|r| r.rate == self.rate).zip(self.pos);
        for (k, aux) in aux_outputs.enumerate() {
            for (c, out) in aux.iter_mut().enumerate() {
                out.fill(0.0);
                if let Some((r, pos)) = playing {
                    if let Some(stem) = r.stems.get(k) {
                        add_at(
                            out,
                            &stem.channels[c.min(1)],
                            pos - stem.start,
                            self.gain * stem_gain(self.stem_gains, k),
                        );
                    }
                }
            }
        }
        for (c, out) in self.main.iter_mut().enumerate() {
            if self.monitor == Monitor::Results {
                out.fill(0.0);
            }
            if self.gain != 1.0 {
                out.iter_mut().for_each(|s| *s *= self.gain);
            }
            if let (Some((r, pos)), false) = (playing, self.monitor == Monitor::Input) {
                for (k, stem) in r.stems.iter().enumerate() {
                    add_at(out, &stem.channels[c.min(1)], pos - stem.start, self.gain * stem_gain(self.stem_gains, k));
                }
            }
        }
    }
}

/// Sets subnormal samples to zero. Flush-to-zero only applies to the
/// results of arithmetic, so a main input that passes through untouched
/// keeps the host's subnormals, which validators refuse on an output (and
/// which slow down the plugins after this one).
pub fn flush_subnormals(channels: &mut [&mut [f32]]) {
    for s in channels.iter_mut().flat_map(|c| c.iter_mut()) {
        if s.is_subnormal() {
            *s = 0.0;
        }
    }
}

/// Gain of stem `k` (1 past the end of `gains`).
fn stem_gain(gains: &[f32], k: usize) -> f32 {
    gains.get(k).copied().unwrap_or(1.0)
}

/// Adds `src[offset..]` times `gain` into `out` where it overlaps.
fn add_at(out: &mut [f32], src: &[f32], offset: i64, gain: f32) {
    let skip = (-offset).max(0) as usize;
    let from = offset.max(0) as usize;
    if skip >= out.len() || from >= src.len() {
        return;
    }
    for (o, s) in out[skip..].iter_mut().zip(&src[from..]) {
        *o += s * gain;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnormal_samples_become_zero_and_others_stay() {
        let tiny = f32::MIN_POSITIVE / 4.0;
        let (mut left, mut right) = ([tiny, 0.5, -tiny, f32::MIN_POSITIVE], [-0.25, tiny, 0.0, 1.0]);
        flush_subnormals(&mut [&mut left, &mut right]);
        assert_eq!((left, right), ([0.0, 0.5, 0.0, f32::MIN_POSITIVE], [-0.25, 0.0, 0.0, 1.0]));
    }

    fn results() -> Results {
        let channels = [vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]];
        Results { rate: 10, stems: vec![Stem { name: "bass".into(), start: 4, channels }] }
    }

    #[test]
    fn stems_play_aligned_on_aux_and_main() {
        let r = results();
        let (mut l, mut rr) = ([0.5f32; 4], [0.5f32; 4]);
        let mut main: [&mut [f32]; 2] = [&mut l, &mut rr];
        let (mut al, mut ar) = ([9.0f32; 4], [9.0f32; 4]);
        let mut aux: [&mut [f32]; 2] = [&mut al, &mut ar];
        let block = Block {
            pos: Some(2),
            rate: 10,
            main: &mut main,
            monitor: Monitor::InputAndResults,
            gain: 1.0,
            stem_gains: &[],
        };
        block.render(Some(&r), std::iter::once(&mut aux[..]));
        assert_eq!(al, [0.0, 0.0, 1.0, 2.0]);
        assert_eq!(ar, [0.0, 0.0, 4.0, 5.0]);
        assert_eq!(l, [0.5, 0.5, 1.5, 2.5]);
        assert_eq!(rr, [0.5, 0.5, 4.5, 5.5]);
    }

    #[test]
    fn monitor_and_rate_and_stopped_transport() {
        let r = results();
        let mut l = [0.5f32; 3];
        let mut main: [&mut [f32]; 1] = [&mut l];
        Block { pos: Some(5), rate: 10, main: &mut main, monitor: Monitor::Results, gain: 2.0, stem_gains: &[0.5] }
            .render(Some(&r), std::iter::empty());
        assert_eq!(l, [2.0, 3.0, 0.0]);
        let mut l = [0.5f32; 3];
        let mut main: [&mut [f32]; 1] = [&mut l];
        Block {
            pos: Some(5),
            rate: 11,
            main: &mut main,
            monitor: Monitor::InputAndResults,
            gain: 1.0,
            stem_gains: &[],
        }
        .render(Some(&r), std::iter::empty());
        assert_eq!(l, [0.5; 3], "results at another rate do not play");
        let mut l = [0.5f32; 3];
        let mut main: [&mut [f32]; 1] = [&mut l];
        Block { pos: None, rate: 10, main: &mut main, monitor: Monitor::Results, gain: 1.0, stem_gains: &[] }
            .render(Some(&r), std::iter::empty());
        assert_eq!(l, [0.0; 3]);
    }
}
