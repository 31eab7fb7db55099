//! Twenty jobs back to back, cancelled at random points: no thread is
//! leaked, memory stays bounded, and every finished job's clips are on disk
//! and in the state.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Worker, WorkerView};
use crate::capture::CaptureStore;
use crate::params::GmsdiParams;
use crate::playback;
use crate::status::Code;

const RATE: u32 = 44_100;

/// Threads of this process.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, Iterator::count)
}

/// Resident memory of this process in MB.
fn resident_mb() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0.0);
    pages * 4096.0 / 1e6
}

/// Two seconds of a two-tone "guitar" on Source 1.
fn captured() -> Arc<CaptureStore> {
    let store = CaptureStore::new(RATE, 2 * RATE as usize).unwrap();
    let mut left: Vec<f32> = (0..store.frames()).map(|i| (i as f32 * 0.047).sin() * 0.3).collect();
    let mut right: Vec<f32> = (0..store.frames()).map(|i| (i as f32 * 0.031).sin() * 0.3).collect();
    assert!(store.write(1, &[&mut left, &mut right], 0));
    Arc::new(store)
}

/// What the status says between two jobs.
const WAITING: &str = "test: waiting for the job";

/// Asks for a job, cancels it after `cancel_after` if given, and waits
/// (at most 120 s) until it ended; its final message.
fn run_job(worker: &Worker, view: &WorkerView, cancel_after: Option<Duration>) -> String {
    worker.report(Code::Idle, WAITING.into());
    worker.request_generate();
    if let Some(wait) = cancel_after {
        std::thread::sleep(wait);
        view.cancel();
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while view.code() == Code::Busy || view.message() == WAITING {
        assert!(Instant::now() < deadline, "the job did not end: {}", view.message());
        std::thread::sleep(Duration::from_millis(5));
    }
    view.message()
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/fixtures/gaussian")
}

/// A started worker on the fixture model, writing into `out`, with two
/// seconds captured and a first job done (it loads the model and starts
/// ONNX Runtime's threads); with the reader of the results it publishes.
fn started(out: &Path) -> (Arc<GmsdiParams>, Worker, WorkerView, playback::Reader) {
    let params = Arc::new(GmsdiParams::default());
    params.state.update(|s| {
        s.model_dir = Some(fixture());
        s.output_dir = Some(out.to_path_buf());
    });
    let (publisher, reader) = playback::channel();
    let mut worker = Worker::new(params.clone(), publisher);
    let view = worker.view();
    worker.activated(Some(captured()), RATE);
    worker.start().unwrap();
    assert!(run_job(&worker, &view, None).starts_with("wrote"), "{}", view.message());
    (params, worker, view, reader)
}

#[test]
fn twenty_jobs_cancelled_at_random_points_leak_nothing() {
    let out = tempfile::tempdir().unwrap();
    let (params, worker, view, _reader) = started(out.path());
    let (threads_before, memory_before) = (threads(), resident_mb());
    let mut seed = 12_345u64;
    let (mut finished, mut cancelled) = (0, 0);
    for job in 0..20u64 {
        // A new seed each time, so no job is answered from the cache.
        params.state.update(|s| {
            s.settings.overrides.set("seed", gmsdi_engine::settings::Value::Seed(job + 1)).unwrap();
            s.settings.overrides.set("steps", gmsdi_engine::settings::Value::Count(6)).unwrap();
        });
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let cancel = (seed >> 63 == 1).then(|| Duration::from_millis((seed >> 33) % 300));
        let message = run_job(&worker, &view, cancel);
        if message.starts_with("wrote") {
            finished += 1;
            let state = params.state.snapshot();
            assert!(!state.results.is_empty(), "job {job}: {message}");
            for clip in &state.results {
                assert!(clip.path.is_file(), "job {job}: {} is in the state but not on disk", clip.path.display());
            }
        } else {
            assert_eq!(message, "job cancelled", "job {job}");
            cancelled += 1;
        }
    }
    let (threads_after, memory_after) = (threads(), resident_mb());
    println!(
        "{finished} finished, {cancelled} cancelled; threads {threads_before} -> {threads_after}; \
         resident memory {memory_before:.0} -> {memory_after:.0} MB"
    );
    assert!(finished > 0 && cancelled > 0, "both outcomes must occur ({finished} finished, {cancelled} cancelled)");
    assert!(threads_after <= threads_before, "threads leaked: {threads_before} -> {threads_after}");
    assert!(memory_after < memory_before + 100.0, "memory grew: {memory_before:.0} -> {memory_after:.0} MB");
    drop(worker);
    assert!(threads() < threads_after, "dropping the worker ends its thread");
}

#[test]
fn an_activation_while_a_job_runs_does_not_wait_for_the_restore() {
    let out = tempfile::tempdir().unwrap();
    let (params, worker, view, _reader) = started(out.path());
    // A long job; meanwhile the host re-activates at another rate, and the
    // activation reports the discarded capture (as `Gmsdi::activate` does).
    params.state.update(|s| s.settings.overrides.set("steps", gmsdi_engine::settings::Value::Count(5000)).unwrap());
    worker.request_generate();
    let started = Instant::now();
    while view.code() != Code::Busy {
        assert!(started.elapsed() < Duration::from_secs(30), "the job did not start");
        std::thread::sleep(Duration::from_millis(2));
    }
    worker.report(Code::Idle, "the captured audio was discarded".into());
    worker.activated(None, 48_000);
    let waiting = Instant::now();
    worker.wait_for_restore(Duration::from_secs(10));
    assert!(waiting.elapsed() < Duration::from_secs(1), "activate waited {:?}", waiting.elapsed());
    view.cancel();
}
