//! The shipped default model (models/default) follows the contract and runs
//! every task end to end on the example audio (few steps: a smoke test of
//! the real network, not a quality measurement — see its MODEL_CARD.md).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use gmsdi_engine::audio::{read_wav, Audio};
use gmsdi_engine::job::{self, Job, Source, Task};
use gmsdi_engine::network::{Denoiser, Model};
use gmsdi_engine::progress::Tracker;
use gmsdi_engine::runtime::RuntimeOptions;
use gmsdi_engine::settings::Value;
use gmsdi_tests::repo;

fn load() -> Model {
    Model::load(&repo().join("models/default"), &RuntimeOptions::default()).expect("models/default loads")
}

fn example(name: &str, seconds: f64) -> Audio {
    let mut a = read_wav(&repo().join("assets/example").join(name)).unwrap();
    let frames = (seconds * f64::from(a.rate)) as usize;
    a.channels.iter_mut().for_each(|c| c.truncate(frames));
    a
}

fn run(model: &mut Model, task: Task) -> job::JobOutput {
    let mut job = Job::new(task);
    job.overrides.set("steps", Value::Count(3)).unwrap();
    let mut tracker = Tracker::new(1, Arc::new(AtomicBool::new(false)), Box::new(|_| {}));
    job::run(model, &job, &mut tracker).unwrap()
}

fn finite_and_shaped(a: &Audio, like: &Audio) {
    assert_eq!((a.rate, a.channel_count(), a.frames()), (like.rate, like.channel_count(), like.frames()));
    assert!(a.channels.iter().flatten().all(|v| v.is_finite()));
}

#[test]
fn default_model_loads_and_names_the_four_stems() {
    let model = load();
    let stems: Vec<&String> = model.manifest.stems.keys().collect();
    assert_eq!(stems, ["bass", "drums", "guitar", "piano"]);
}

#[test]
fn default_model_separates_and_accompanies_the_example_audio() {
    let mut model = load();
    let mix = example("mix.wav", 2.0);
    let out = run(
        &mut model,
        Task::Separate {
            mix: mix.clone(),
            stems: vec!["bass".into(), "drums".into(), "guitar".into(), "piano".into()],
        },
    );
    assert_eq!(out.stems.len(), 4);
    out.stems.iter().for_each(|(_, a)| finite_and_shaped(a, &mix));
    assert_eq!(model.denoiser_file, "denoiser_int8.onnx", "separation runs the int8 denoiser");
    let guitar = example("guitar.wav", 2.0);
    let out = run(
        &mut model,
        Task::Accompany {
            sources: vec![Source { label: "guitar".into(), audio: guitar.clone() }],
            generate: vec![vec!["bass".into()]],
        },
    );
    finite_and_shaped(&out.stems[0].1, &guitar);
    assert_eq!(model.denoiser_file, "denoiser.onnx", "accompaniment runs the fp32 denoiser (model.json)");
    assert!(out.stems[0].1.rms() > 1e-4, "the generated bass is silent");
}

#[test]
fn the_int8_cpu_denoiser_agrees_with_the_full_precision_one() {
    let dir = repo().join("models/default");
    let mut int8 = load();
    let full = RuntimeOptions { full_precision: true, ..RuntimeOptions::default() };
    let mut fp32 = Model::load(&dir, &full).expect("models/default loads in full precision");
    assert_eq!((int8.denoiser_file.as_str(), fp32.denoiser_file.as_str()), ("denoiser_int8.onnx", "denoiser.onnx"));
    // One window of the example mix's samples at noise levels across the schedule.
    let t = int8.manifest.window;
    let clean = example("mix.wav", 10.0).channels[0][..t].to_vec();
    let emb = int8.embed("bass").unwrap();
    // Bounds: 1.5 times the differences measured when the int8 file was made (0.21, 0.13,
    // 0.09, 0.04; smaller on the training crops it was calibrated on).
    for (sigma, bound) in [(1.0f32, 0.32f32), (0.3, 0.2), (0.05, 0.14), (0.005, 0.06)] {
        let x: Vec<f32> =
            clean.iter().enumerate().map(|(i, v)| v + sigma * ((i * 7919 % 101) as f32 / 50.0 - 1.0)).collect();
        let a = int8.denoise(&x, t, &[sigma], &emb, None).unwrap();
        let b = fp32.denoise(&x, t, &[sigma], &emb, None).unwrap();
        let err: f32 = a.iter().zip(&b).map(|(p, q)| (p - q).powi(2)).sum::<f32>().sqrt();
        let norm: f32 = b.iter().map(|q| q * q).sum::<f32>().sqrt();
        assert!(err < bound * norm, "sigma {sigma}: relative RMS difference {}", err / norm);
    }
}
