//! Capture: the audio thread records every input into buffers allocated at
//! activation, indexed by timeline position in samples; the worker reads
//! them lock-free (samples and the captured range are atomics).

use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};

use gmsdi_engine::audio::Audio;

use crate::buses::{CHANNELS, INPUTS};

/// Capture buffers of one activation: `INPUTS × CHANNELS` channels of
/// `len` samples at `rate`, covering timeline positions `0..len`.
pub struct CaptureStore {
    rate: u32,
    len: usize,
    channels: Vec<Box<[AtomicU32]>>,
    start: AtomicI64,
    end: AtomicI64,
}

/// Zeroed atomics from a zeroed allocation: the pages stay untouched (and
/// cost no memory on most systems) until something is captured there.
/// `None` if the system refuses the allocation.
fn zeroed_atomics(len: usize) -> Option<Box<[AtomicU32]>> {
    let layout = std::alloc::Layout::array::<AtomicU32>(len.max(1)).ok()?;
    // SAFETY: the layout has a non-zero size; all-zero bits are a valid `AtomicU32`.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<AtomicU32>();
    if ptr.is_null() {
        return None;
    }
    // SAFETY: allocated above with the layout of `[AtomicU32; len.max(1)]`, zeroed.
    Some(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len.max(1))) })
}

impl CaptureStore {
    /// Capacity in samples for `seconds` at `rate` (at least 1 s, at most 6 h).
    pub fn capacity(rate: u32, seconds: f64) -> usize {
        let seconds = if seconds.is_finite() { seconds.clamp(1.0, 6.0 * 3600.0) } else { 600.0 };
        (seconds * f64::from(rate)).round() as usize
    }

    /// Buffers for `len` samples at `rate` (call off the audio thread);
    /// `None` if the memory cannot be had.
    pub fn new(rate: u32, len: usize) -> Option<Self> {
        let channels = (0..INPUTS * CHANNELS).map(|_| zeroed_atomics(len)).collect::<Option<_>>()?;
        Some(Self { rate, len, channels, start: AtomicI64::new(i64::MAX), end: AtomicI64::new(i64::MIN) })
    }

    /// Sample rate of the buffers.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Capacity in samples.
    pub fn frames(&self) -> usize {
        self.len
    }

    /// Forgets the captured range (a new take); the samples stay until overwritten.
    pub fn clear_range(&self) {
        self.start.store(i64::MAX, Ordering::Release);
        self.end.store(i64::MIN, Ordering::Release);
    }

    /// The captured timeline range `start..end`, if anything was captured.
    pub fn range(&self) -> Option<(i64, i64)> {
        let (start, end) = (self.start.load(Ordering::Acquire), self.end.load(Ordering::Acquire));
        (start < end).then_some((start, end))
    }

    /// Records `channels` of one input at timeline position `pos` (real-time
    /// safe). Samples outside `0..len` are dropped; returns whether any fit.
    pub fn write(&self, input: usize, channels: &[&mut [f32]], pos: i64) -> bool {
        let Some(frames) = channels.first().map(|c| c.len()) else { return false };
        let (from, to) = (pos.max(0), (pos + frames as i64).min(self.len as i64));
        if from >= to {
            return false;
        }
        for (c, samples) in channels.iter().take(CHANNELS).enumerate() {
            let store = &self.channels[input * CHANNELS + c];
            let src = &samples[(from - pos) as usize..(to - pos) as usize];
            for (dst, s) in store[from as usize..to as usize].iter().zip(src) {
                dst.store(s.to_bits(), Ordering::Relaxed);
            }
        }
        // A mono input fills both channels.
        if channels.len() == 1 {
            let (left, right) = (&self.channels[input * CHANNELS], &self.channels[input * CHANNELS + 1]);
            for i in from as usize..to as usize {
                right[i].store(left[i].load(Ordering::Relaxed), Ordering::Relaxed);
            }
        }
        self.start.fetch_min(from, Ordering::AcqRel);
        self.end.fetch_max(to, Ordering::AcqRel);
        true
    }

    /// One captured sample of `input`'s channel `channel` at timeline
    /// position `pos` (0 outside the buffers).
    pub fn sample(&self, input: usize, channel: usize, pos: usize) -> f32 {
        self.channels
            .get(input * CHANNELS + channel)
            .and_then(|c| c.get(pos))
            .map_or(0.0, |a| f32::from_bits(a.load(Ordering::Relaxed)))
    }

    /// A copy of one input over `start..end` (off the audio thread); NaN and
    /// infinite samples become silence and are counted.
    pub fn read(&self, input: usize, start: i64, end: i64) -> (Audio, usize) {
        let (from, to) = (start.clamp(0, self.len as i64) as usize, end.clamp(0, self.len as i64) as usize);
        let mut bad = 0;
        let channels = (0..CHANNELS)
            .map(|c| {
                self.channels[input * CHANNELS + c][from..to.max(from)]
                    .iter()
                    .map(|a| {
                        let s = f32::from_bits(a.load(Ordering::Relaxed));
                        if s.is_finite() {
                            s
                        } else {
                            bad += 1;
                            0.0
                        }
                    })
                    .collect()
            })
            .collect();
        (Audio { rate: self.rate, channels }, bad)
    }
}

/// Where the audio thread writes: follows the Capture parameter and the
/// transport (free-running from arming when the host gives no position).
#[derive(Default)]
pub struct Capturer {
    armed: bool,
    free_pos: i64,
}

impl Capturer {
    /// The timeline position to capture this block at, if capturing:
    /// the host's position while it plays, or a free-running counter when
    /// the host has no transport position. Arming starts a new take.
    pub fn position(&mut self, store: &CaptureStore, on: bool, playing: bool, host_pos: Option<i64>) -> Option<i64> {
        if on && !self.armed {
            store.clear_range();
            self.free_pos = 0;
        }
        self.armed = on;
        if !on {
            return None;
        }
        match host_pos {
            Some(pos) if playing => Some(pos),
            Some(_) => None,
            None => Some(self.free_pos),
        }
    }

    /// Advances the free-running position after a captured block without host position.
    pub fn advance(&mut self, frames: usize) {
        self.free_pos += frames as i64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_land_at_their_timeline_position_and_extend_the_range() {
        let store = CaptureStore::new(10, 20).unwrap();
        assert_eq!(store.frames(), 20);
        assert_eq!(store.range(), None);
        let mut l = [1.0, 2.0, 3.0];
        let mut r = [4.0, 5.0, 6.0];
        assert!(store.write(1, &[&mut l, &mut r], 5));
        let mut neg = [7.0, 8.0, 9.0];
        assert!(store.write(1, &[&mut neg], -2));
        assert_eq!(store.range(), Some((0, 8)));
        let (audio, bad) = store.read(1, 0, 8);
        assert_eq!(bad, 0);
        assert_eq!(audio.channels[0], [9.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0]);
        assert_eq!(audio.channels[1], [9.0, 0.0, 0.0, 0.0, 0.0, 4.0, 5.0, 6.0]);
        let mut past_end = [f32::NAN; 4];
        assert!(store.write(0, &[&mut past_end], 18));
        assert!(!store.write(0, &[&mut past_end], 25));
        assert_eq!(store.range(), Some((0, 20)));
        assert_eq!(store.read(0, 18, 30).1, 4);
    }

    #[test]
    fn capturer_follows_the_transport_or_runs_free() {
        let store = CaptureStore::new(10, 10).unwrap();
        let mut c = Capturer::default();
        assert_eq!(c.position(&store, false, true, Some(3)), None);
        assert_eq!(c.position(&store, true, true, Some(3)), Some(3));
        assert_eq!(c.position(&store, true, false, Some(3)), None);
        assert_eq!(c.position(&store, true, false, None), Some(0));
        c.advance(4);
        assert_eq!(c.position(&store, true, false, None), Some(4));
        let mut x = [1.0];
        store.write(0, &[&mut x], 4);
        assert!(store.range().is_some());
        c.position(&store, false, false, None);
        assert_eq!(c.position(&store, true, false, None), Some(0));
        assert_eq!(store.range(), None, "arming starts a new take");
    }
}
