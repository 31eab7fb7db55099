//! A plugin session in the CLAP test host, as the stress and host tests
//! drive it: an instance on the fixture model writing into its own folder,
//! a test "guitar", capture under a playing transport, Generate and waiting
//! for the job's report.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::clap_host::{plugin_library, Instance, Transport};
use crate::fixture_dir;

/// Config 0 (the default): main + sources + one aux output per result.
pub const WITH_RESULTS: u32 = 0;
/// Config 1: main + sources, no result outputs.
pub const WITHOUT_RESULTS: u32 = 1;
/// Sampler steps of test jobs (the fixture is analytic: few steps suffice).
pub const STEPS: u64 = 4;

/// A plugin instance writing into its own folder, with the fixture model.
pub fn instance(config: u32, out: &Path) -> Instance {
    let mut p = Instance::new(plugin_library());
    p.select_config(config);
    let mut state = p.field("gmsdi");
    state["output_dir"] = out.to_string_lossy().into();
    state["model_dir"] = fixture_dir().to_string_lossy().into();
    state["settings"]["steps"] = STEPS.into();
    p.set_field("gmsdi", &state);
    p
}

/// A deterministic stereo "guitar": two sines and a little noise.
pub fn guitar(rate: f64, frames: usize) -> Vec<Vec<f32>> {
    let mut seed = 1u32;
    (0..2)
        .map(|c| {
            (0..frames)
                .map(|i| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let t = i as f64 / rate;
                    let tone = (2.0 * std::f64::consts::PI * (330.0 + 110.0 * c as f64) * t).sin() * 0.3;
                    (tone + (f64::from(seed >> 8) / f64::from(1u32 << 24) - 0.5) * 0.05) as f32
                })
                .collect()
        })
        .collect()
}

/// Frames `from..from + n` of each channel.
pub fn slice(channels: &[Vec<f32>], from: usize, n: usize) -> Vec<Vec<f32>> {
    channels.iter().map(|c| c[from..from + n].to_vec()).collect()
}

/// Plays `source` into Source 1 with Capture on while the transport plays from `start`.
pub fn capture(p: &mut Instance, source: &[Vec<f32>], start: i64, block: usize) {
    p.set_param("Capture", 1.0);
    let mut done = 0;
    while done < source[0].len() {
        let n = block.min(source[0].len() - done);
        let inputs = vec![vec![], slice(source, done, n)];
        p.process(&inputs, n, Some(Transport { pos: start + done as i64, playing: true }));
        done += n;
    }
    p.set_param("Capture", 0.0);
    p.process(&[], block, Some(Transport { pos: 0, playing: false }));
}

/// Keeps processing with the transport stopped until `done` holds for the
/// plugin's state; returns the state and how many blocks it took.
pub fn wait_for(
    p: &mut Instance,
    block: usize,
    done: impl Fn(&serde_json::Value) -> bool,
) -> (serde_json::Value, usize) {
    let started = Instant::now();
    let mut blocks = 0;
    loop {
        for _ in 0..8 {
            p.process(&[], block, Some(Transport { pos: 0, playing: false }));
            blocks += 1;
        }
        let state = p.field("gmsdi");
        if done(&state) {
            return (state, blocks);
        }
        assert!(started.elapsed() < Duration::from_secs(120), "timed out; state: {state}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Presses Generate and waits for the job's report ("wrote ...", "reused ..." or "job failed: ...").
pub fn generate(p: &mut Instance, block: usize) -> (serde_json::Value, usize) {
    p.set_param("Generate", 1.0);
    p.process(&[], block, Some(Transport { pos: 0, playing: false }));
    p.set_param("Generate", 0.0);
    wait_for(p, block, |s| {
        let report = s["report"].as_str().unwrap_or_default();
        ["wrote", "reused", "job failed"].iter().any(|w| report.starts_with(w))
    })
}

/// Result files named in the state.
pub fn results(state: &serde_json::Value) -> Vec<(String, PathBuf, i64)> {
    state["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["stem"].as_str().unwrap().into(), c["path"].as_str().unwrap().into(), c["start"].as_i64().unwrap()))
        .collect()
}

/// `n` bytes from a seeded linear congruential generator.
pub fn noise_bytes(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 56) as u8
        })
        .collect()
}
