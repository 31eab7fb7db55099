//! Guidance by the given tracks' harmony (`chord_w`) on the analytic
//! fixtures: under a C major chord, a generated bass (a Gaussian process,
//! which knows no notes) is steered onto the chord's pitch classes, by
//! either accompaniment method, at the level it has without the guide.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use gmsdi_engine::audio::Audio;
use gmsdi_engine::job::{self, Job, Source, Task};
use gmsdi_engine::progress::Tracker;
use gmsdi_engine::settings::Value;
use gmsdi_tests::{correlated_dir, fixture_dir, load_model, power_spectrum};

const RATE: u32 = 8000;
const FRAMES: usize = 12_000;
/// MIDI numbers of the given chord: C4, E4, G4.
const CHORD: [f32; 3] = [60.0, 64.0, 67.0];

/// The given "guitar": the chord's three sine tones.
fn chord() -> Vec<f32> {
    (0..FRAMES)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            CHORD
                .iter()
                .map(|m| 0.1 * (2.0 * std::f32::consts::PI * 440.0 * ((m - 69.0) / 12.0).exp2() * t).sin())
                .sum()
        })
        .collect()
}

/// A bass generated under the chord by the model in `dir` at `chord_w`.
fn bass(dir: &std::path::Path, chord_w: f32) -> Vec<f32> {
    let mut model = load_model(dir);
    let mut job = Job::new(Task::Accompany {
        sources: vec![Source { label: "guitar".into(), audio: Audio { rate: RATE, channels: vec![chord()] } }],
        generate: vec![vec!["bass".into()]],
    });
    job.overrides.set("w", Value::Number(0.0)).unwrap();
    job.overrides.set("steps", Value::Count(30)).unwrap();
    job.overrides.set("chord_w", Value::Number(chord_w)).unwrap();
    let mut tracker = Tracker::new(1, Arc::new(AtomicBool::new(false)), Box::new(|_| {}));
    let out = job::run(&mut model, &job, &mut tracker).unwrap();
    out.stems[0].1.channels[0].clone()
}

/// The share of `x`'s power from 40 Hz to 2 kHz whose nearest semitone is a
/// pitch class of the chord (a flat spectrum: about 3/12).
fn chord_share(x: &[f32]) -> f32 {
    let power = power_spectrum(x);
    let classes: Vec<usize> = CHORD.iter().map(|m| *m as usize % 12).collect();
    let (mut on, mut all) = (0.0, 0.0);
    for (i, p) in power.iter().enumerate().take(x.len() / 2) {
        let f = i as f32 * RATE as f32 / x.len() as f32;
        if (40.0..=2000.0).contains(&f) {
            let class = (69.0 + 12.0 * (f / 440.0).log2()).round() as usize % 12;
            all += p;
            if classes.contains(&class) {
                on += p;
            }
        }
    }
    (on / all) as f32
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
}

/// Steers the bass onto the chord, keeping its level, for the model in `dir`.
/// Unguided, eq. 12's bass holds about chance (0.26); the correlated
/// fixture's context bass holds more (0.47), its conditional mean being
/// part of the guitar itself.
fn steers_onto_the_chord(dir: &std::path::Path, method: &str) {
    let (free, steered) = (bass(dir, 0.0), bass(dir, 1.0));
    let (before, after) = (chord_share(&free), chord_share(&steered));
    let level = 20.0 * (rms(&steered) / rms(&free)).log10();
    println!(
        "{method}: chord pitch classes hold {before:.3} of the bass unguided, {after:.3} guided; level {level:+.1} dB"
    );
    assert!(after > before + 0.25, "{method}: the guide moved {before:.3} to {after:.3}");
    assert!(level.abs() < 3.0, "{method}: the guided bass changed level by {level:+.1} dB");
}

#[test]
fn eq_12_accompaniment_is_steered_onto_the_given_chord() {
    steers_onto_the_chord(&fixture_dir(), "eq. 12 (no context input)");
}

#[test]
fn context_accompaniment_is_steered_onto_the_given_chord() {
    steers_onto_the_chord(&correlated_dir(), "context");
}
