//! What the audio thread shows the editor while it runs: the peak level of
//! each input and the transport (position, tempo, metre). Plain atomics:
//! written once per block, read by the editor at its frame rate.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};

use crate::buses::INPUTS;

/// Live values, shared between the audio thread and the editor.
pub struct Live {
    peaks: [AtomicU32; INPUTS],
    playing: AtomicBool,
    pos: AtomicI64,
    tempo: AtomicU32,
    beats_per_bar: AtomicU32,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            peaks: std::array::from_fn(|_| AtomicU32::new(0)),
            playing: AtomicBool::new(false),
            pos: AtomicI64::new(i64::MIN),
            tempo: AtomicU32::new(0),
            beats_per_bar: AtomicU32::new(0),
        }
    }
}

/// The transport as the host last reported it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transport {
    /// Whether the host is playing.
    pub playing: bool,
    /// Timeline position in samples, if the host gives one.
    pub pos: Option<i64>,
    /// Tempo in beats per minute, if the host gives one.
    pub tempo: Option<f64>,
    /// Beats per bar, if the host gives a time signature.
    pub beats_per_bar: Option<u32>,
}

impl Live {
    /// Raises input `input`'s peak to the block's largest magnitude (real-time safe).
    pub fn meter(&self, input: usize, channels: &[&mut [f32]]) {
        let peak = channels.iter().flat_map(|c| c.iter()).fold(0.0f32, |m, s| if s.abs() > m { s.abs() } else { m });
        if let Some(slot) = self.peaks.get(input) {
            slot.fetch_max(peak.to_bits(), Ordering::Relaxed); // non-negative floats order like their bits
        }
    }

    /// Takes input `input`'s peak since the last call (the editor decays it).
    pub fn take_peak(&self, input: usize) -> f32 {
        self.peaks.get(input).map_or(0.0, |p| f32::from_bits(p.swap(0, Ordering::Relaxed)))
    }

    /// Records the transport of the current block (real-time safe).
    pub fn set_transport(&self, transport: Transport) {
        self.playing.store(transport.playing, Ordering::Relaxed);
        self.pos.store(transport.pos.unwrap_or(i64::MIN), Ordering::Relaxed);
        self.tempo.store(transport.tempo.map_or(0, |t| (t as f32).to_bits()), Ordering::Relaxed);
        self.beats_per_bar.store(transport.beats_per_bar.unwrap_or(0), Ordering::Relaxed);
    }

    /// The transport of the last block.
    pub fn transport(&self) -> Transport {
        let pos = self.pos.load(Ordering::Relaxed);
        let tempo = f32::from_bits(self.tempo.load(Ordering::Relaxed));
        let beats = self.beats_per_bar.load(Ordering::Relaxed);
        Transport {
            playing: self.playing.load(Ordering::Relaxed),
            pos: (pos != i64::MIN).then_some(pos),
            tempo: (tempo.is_finite() && tempo > 0.0).then_some(f64::from(tempo)),
            beats_per_bar: (beats > 0).then_some(beats),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_hold_until_taken_and_nan_is_ignored() {
        let live = Live::default();
        live.meter(1, &[&mut [0.1, -0.5], &mut [0.2, f32::NAN]]);
        live.meter(1, &[&mut [0.3]]);
        assert_eq!((live.take_peak(1), live.take_peak(1), live.take_peak(0)), (0.5, 0.0, 0.0));
    }

    #[test]
    fn transport_round_trips() {
        let live = Live::default();
        assert_eq!(live.transport(), Transport { playing: false, pos: None, tempo: None, beats_per_bar: None });
        let t = Transport { playing: true, pos: Some(-512), tempo: Some(120.0), beats_per_bar: Some(3) };
        live.set_transport(t);
        assert_eq!(live.transport(), t);
    }
}
