//! The editor driven like a user would, through egui's accessibility tree
//! (egui_kittest): the real view over a real instance's parameters, its
//! worker thread and the analytic fixture model. A guitar-like signal is
//! captured on Source 1; the test presses Generate, sees the progress, presses
//! Cancel, runs the job again to the end and checks the result row and file.
//! A second test splits a captured mix into the model's four stems from the
//! Separate tab; a third sees failures with the fix their error type gives.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;
use gmsdi_engine::settings::Value;
use gmsdi_plugin::capture::CaptureStore;
use gmsdi_plugin::editor::view::View;
use gmsdi_plugin::editor::Link;
use gmsdi_plugin::error::PluginError;
use gmsdi_plugin::live::Live;
use gmsdi_plugin::params::{GmsdiParams, TaskChoice};
use gmsdi_plugin::playback;
use gmsdi_plugin::status::Code;
use gmsdi_plugin::worker::Worker;
use nice_plug::context::gui::GuiContextInner;
use nice_plug::context::PluginApi;
use nice_plug::plugin::PluginState;
use nice_plug::prelude::{ParamPtr, ParamSetter};

const RATE: u32 = 44_100;

/// The host side of parameter changes: applies them at once, as a host
/// would between blocks.
struct TestHost;

impl GuiContextInner for TestHost {
    fn plugin_api(&self) -> PluginApi {
        PluginApi::Clap
    }
    unsafe fn raw_begin_set_parameter(&self, _param: ParamPtr) {}
    unsafe fn raw_set_parameter_normalized(&self, param: ParamPtr, normalized: f32) {
        param._internal_set_normalized_value(normalized);
    }
    unsafe fn raw_end_set_parameter(&self, _param: ParamPtr) {}
    fn get_state(&self) -> PluginState {
        unreachable!("the editor never reads the whole plugin state")
    }
    fn set_state(&self, _state: PluginState) {
        unreachable!("the editor never writes the whole plugin state")
    }
    fn request_restart(&self) {}
}

fn fixture_model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/fixtures/gaussian")
}

/// A decaying two-partial pluck every half second, stereo.
fn guitar(frames: usize) -> [Vec<f32>; 2] {
    let tone = |f: f64, i: usize| {
        let t = i as f64 / f64::from(RATE);
        (0.3 * (-4.0 * (t % 0.5)).exp() * (2.0 * std::f64::consts::PI * f * t).sin()) as f32
    };
    [(0..frames).map(|i| tone(110.0, i)).collect(), (0..frames).map(|i| tone(164.8, i)).collect()]
}

/// An activated instance's worker (not started) with 2 s of guitar captured
/// on Source 1 at 1 s, and what its editor works with.
fn instance(out: &std::path::Path) -> (Worker, Link) {
    let (publisher, _reader) = playback::channel();
    let params = Arc::new(GmsdiParams::default());
    params.state.update(|s| {
        s.model_dir = Some(fixture_model());
        s.output_dir = Some(out.to_path_buf());
        s.settings.set("steps", Value::Count(400)).unwrap();
    });
    let worker = Worker::new(params.clone(), publisher);
    let store = CaptureStore::new(RATE, 4 * RATE as usize).unwrap();
    let [mut left, mut right] = guitar(2 * RATE as usize);
    store.write(1, &[&mut left[..], &mut right[..]], i64::from(RATE));
    worker.activated(Some(Arc::new(store)), RATE);
    let link = Link { params, live: Arc::new(Live::default()), worker: worker.view() };
    (worker, link)
}

/// The editor's view over `link`, its parameter changes applied by [`TestHost`].
fn window(link: &Link) -> Harness<'static, View> {
    static HOST: TestHost = TestHost;
    let setter = ParamSetter::new(&HOST);
    Harness::builder()
        .with_size(egui::vec2(1000.0, 900.0))
        .build_ui_state(move |ui, view: &mut View| view.ui(ui, &setter), View::new(link.clone()))
}

/// Steps the UI until `done` holds (the worker runs on its own thread).
fn step_until(harness: &mut Harness<'_, View>, what: &str, done: impl Fn(&Harness<'_, View>) -> bool) {
    let start = Instant::now();
    while !done(harness) {
        assert!(start.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
        harness.step();
    }
}

/// The action bar's Generate button (above the task selector's "Generate" tab).
fn generate_button<'h>(harness: &'h Harness<'_, View>) -> egui_kittest::Node<'h> {
    harness.query_all_by_label("Generate").next().expect("a Generate button")
}

fn shows(harness: &Harness<'_, View>, text: &str) -> bool {
    harness.query_all_by_label_contains(text).next().is_some()
}

#[test]
fn a_user_generates_a_bass_line_from_the_window() {
    let out = tempfile::tempdir().unwrap();
    let (mut worker, link) = instance(out.path());
    worker.start().unwrap();
    let mut harness = window(&link);

    // Idle: the model is found and described, the sources are listed.
    step_until(&mut harness, "the model's name", |h| shows(h, "Model: gaussian-fixture"));
    for text in [
        "Sources",
        "Main input",
        "Source 1",
        "Task",
        "Accompany",
        "Separate",
        "Extract",
        "Results",
        "Steps",
        "Guidance w",
    ] {
        assert!(shows(&harness, text), "idle window lacks \"{text}\"");
    }
    assert!(shows(&harness, "Captured 0:02.0 (from 0:01.0)"), "the captured length is shown");
    assert_eq!(link.params.task.value(), TaskChoice::Accompany);

    // The Capture button drives the parameter.
    harness.get_by_label("Capture: off").click();
    harness.step();
    assert!(link.params.capture.value(), "Capture button turns the parameter on");
    harness.step();
    harness.get_by_label("Capture: on").click();
    harness.step();
    assert!(!link.params.capture.value());

    // Running: progress with the step count; then Cancel stops the job.
    generate_button(&harness).click();
    step_until(&mut harness, "the progress bar", |h| shows(h, "step ") && shows(h, "left"));
    assert_eq!(link.worker.code(), Code::Busy);
    harness.get_by_label("Cancel").click();
    step_until(&mut harness, "the cancellation", |h| shows(h, "job cancelled"));
    assert!(link.params.state.snapshot().results.is_empty());

    // Done: a quick job writes the bass clip and lists it.
    link.params.state.update(|s| s.settings.set("steps", Value::Count(4)).unwrap());
    harness.step();
    generate_button(&harness).click();
    step_until(&mut harness, "the result row", |h| shows(h, "plays on Result 1"));
    let state = link.params.state.snapshot();
    assert_eq!(state.results.len(), 1);
    assert_eq!(state.results[0].stem, "bass");
    assert!(state.results[0].path.is_file(), "the clip was written");
    assert_eq!(state.results[0].start, i64::from(RATE), "the clip sits where the capture started");
    let made_by = &state.history[0].resolved;
    assert!(
        made_by.starts_with("model gaussian-fixture, steps 4, passes 1, w ") && made_by.contains("seed "),
        "{made_by}"
    );
    for text in ["bass", "Copy path", "Open folder", "Mute", "Solo", "Job history (1)", "Steps 4"] {
        assert!(shows(&harness, text), "done window lacks \"{text}\"");
    }
}

#[test]
fn a_user_splits_a_mix_from_the_window() {
    let out = tempfile::tempdir().unwrap();
    let (mut worker, link) = instance(out.path());
    link.params.state.update(|s| s.settings.set("steps", Value::Count(4)).unwrap());
    // The mix on the main input (the instance's guitar is on Source 1 only).
    let capture = link.worker.capture().unwrap();
    let [mut left, mut right] = guitar(2 * RATE as usize);
    capture.write(0, &[&mut left[..], &mut right[..]], i64::from(RATE));
    worker.start().unwrap();
    let mut harness = window(&link);
    step_until(&mut harness, "the model's name", |h| shows(h, "Model: gaussian-fixture"));

    // The Separate tab sets the Task parameter and shows the separation settings.
    harness.get_by_label("Separate").click();
    harness.step();
    assert_eq!(link.params.task.value(), TaskChoice::Separate);
    step_until(&mut harness, "the method setting", |h| shows(h, "Method") && shows(h, "Constrained stem"));

    generate_button(&harness).click();
    step_until(&mut harness, "four result rows", |h| shows(h, "plays on Result 4"));
    let state = link.params.state.snapshot();
    let stems: Vec<&str> = state.results.iter().map(|c| c.stem.as_str()).collect();
    assert_eq!(stems, ["bass", "drums", "guitar", "piano"], "every model stem is separated by default");
    assert!(state.results.iter().all(|c| c.path.is_file() && c.start == i64::from(RATE)));
    assert!(state.history[0].task == "separate" && state.history[0].resolved.contains("method "));
}

#[test]
fn a_failure_shows_the_fix_of_its_kind() {
    let out = tempfile::tempdir().unwrap();
    let (mut worker, link) = instance(out.path());
    worker.start().unwrap();
    let mut harness = window(&link);
    step_until(&mut harness, "the model's name", |h| shows(h, "Model: gaussian-fixture"));

    // Separating a silent main input (the guitar is on Source 1) fails the job.
    harness.get_by_label("Separate").click();
    harness.step();
    generate_button(&harness).click();
    let silent = PluginError::SilentInput { which: "main input" };
    step_until(&mut harness, "the failure", |h| shows(h, &format!("Error: job failed: {silent}")));
    assert_eq!(link.worker.code(), Code::Failed);
    assert_eq!(link.worker.fix(), silent.fix());
    assert!(shows(&harness, &format!("Fix: {}", silent.fix().unwrap())), "the banner shows the fix");

    // A model folder without a model: the banner says so, with that fix.
    link.params.state.update(|s| s.model_dir = Some(out.path().join("no-model-here")));
    link.worker.model_changed();
    step_until(&mut harness, "no model", |h| shows(h, "No model"));
    let missing = PluginError::NoModel { looked_in: vec![out.path().join("no-model-here")] };
    assert!(shows(&harness, &format!("Error: {missing}")), "the banner names the folder");
    assert!(shows(&harness, &format!("Fix: {}", missing.fix().unwrap())), "the banner shows the fix");
    assert!(generate_button(&harness).accesskit_node().is_disabled(), "Generate waits for a model");
}
