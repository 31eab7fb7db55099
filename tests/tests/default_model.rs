//! The shipped default model (models/default) follows the contract and runs
//! every task end to end on the example audio (few steps: a smoke test of
//! the real network, not a quality measurement — see its MODEL_CARD.md).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use gmsdi_engine::audio::{read_wav, Audio};
use gmsdi_engine::job::{self, Job, Source, Task};
use gmsdi_engine::network::Model;
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
    let guitar = example("guitar.wav", 2.0);
    let out = run(
        &mut model,
        Task::Accompany {
            sources: vec![Source { label: "guitar".into(), audio: guitar.clone() }],
            generate: vec![vec!["bass".into()]],
        },
    );
    finite_and_shaped(&out.stems[0].1, &guitar);
    assert!(out.stems[0].1.rms() > 1e-4, "the generated bass is silent");
}
