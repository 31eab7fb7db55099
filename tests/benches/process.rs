//! `cargo bench -p gmsdi-tests --bench process`: the plugin's `process()`
//! time per block as users run it (release build, through the CLAP test
//! host), with no job (the baseline) and while a job runs on the worker
//! thread, measured in the same run. Prints median, 99th percentile and
//! worst per block size, the ratios against the baseline, and the share of
//! the block's real-time budget.

use std::time::{Duration, Instant};

use gmsdi_tests::clap_host::{release_plugin_library, Instance, Transport};
use gmsdi_tests::fixture_dir;

/// Host sample rate.
const RATE: f64 = 48000.0;
/// Blocks measured per figure.
const BLOCKS: usize = 2000;

/// Sets the calling thread's scheduling policy: real-time FIFO as DAWs run
/// their audio threads, or back to normal. Returns whether it was granted.
#[cfg(target_os = "linux")]
fn set_realtime(on: bool) -> bool {
    let (policy, priority) = if on { (libc::SCHED_FIFO, 10) } else { (libc::SCHED_OTHER, 0) };
    let param = libc::sched_param { sched_priority: priority };
    // SAFETY: plain syscall on the calling thread (pid 0) with a valid parameter.
    unsafe { libc::sched_setscheduler(0, policy, &param) == 0 }
}

#[cfg(not(target_os = "linux"))]
fn set_realtime(_on: bool) -> bool {
    false
}

/// Median, 99th percentile and worst of `BLOCKS` process() calls, on this
/// thread at real-time priority where the system grants it (threads the
/// plugin starts meanwhile would inherit it, so only while measuring).
fn measure(p: &mut Instance, input: &[Vec<Vec<f32>>], block: usize, pos: &mut i64) -> [Duration; 3] {
    let realtime = set_realtime(true);
    let mut times: Vec<Duration> = (0..BLOCKS)
        .map(|_| {
            let started = Instant::now();
            p.process(input, block, Some(Transport { pos: *pos, playing: true }));
            *pos += block as i64;
            started.elapsed()
        })
        .collect();
    if realtime {
        set_realtime(false);
    }
    times.sort();
    [times[BLOCKS / 2], times[BLOCKS * 99 / 100], times[BLOCKS - 1]]
}

/// A stereo test tone of `frames` samples.
fn tone(frames: usize) -> Vec<Vec<f32>> {
    let wave =
        |f: f64| (0..frames).map(move |i| (0.3 * (2.0 * std::f64::consts::PI * f * i as f64 / RATE).sin()) as f32);
    vec![wave(110.0).collect(), wave(165.0).collect()]
}

fn main() {
    let library = release_plugin_library();
    let out = tempfile::tempdir().unwrap();
    let policy = if set_realtime(true) && set_realtime(false) {
        "real-time (SCHED_FIFO) while measuring, as in a DAW"
    } else {
        "normal priority (real-time refused here), so preemption shows in the worst case"
    };
    println!("process() per block, release build, {RATE} Hz, main + source 1 + 4 result outputs, {BLOCKS} blocks each");
    println!("audio thread: {policy}");
    println!("| block | no job: median / p99 / worst | job running: median / p99 / worst | ratio median / p99 | budget used (median, job) |");
    println!("|---|---|---|---|---|");
    for block in [64usize, 256, 1024] {
        let mut p = Instance::new(library);
        p.select_config(0); // main + sources + results
        let mut state = p.field("gmsdi");
        state["output_dir"] = out.path().to_string_lossy().into();
        state["model_dir"] = fixture_dir().to_string_lossy().into();
        state["settings"]["steps"] = 100_000.into(); // the job outlasts the measurement
        p.set_field("gmsdi", &state);
        p.activate(RATE, block as u32);
        let input = vec![tone(block), tone(block)];
        let mut pos = 0;
        // Capture 2 s, then measure with Capture off: the baseline plays and meters like the job run.
        p.set_param("Capture", 1.0);
        while pos < 2 * RATE as i64 {
            p.process(&input, block, Some(Transport { pos, playing: true }));
            pos += block as i64;
        }
        p.set_param("Capture", 0.0);
        let idle = measure(&mut p, &input, block, &mut pos);
        p.set_param("Generate", 1.0);
        p.process(&input, block, None);
        std::thread::sleep(Duration::from_millis(500)); // the model loads, the job starts
        let busy = measure(&mut p, &input, block, &mut pos);
        assert_eq!(p.field("gmsdi")["report"], "", "the job must still run while measuring");
        let ratio = |i: usize| busy[i].as_secs_f64() / idle[i].as_secs_f64();
        let budget = block as f64 / RATE;
        println!(
            "| {block} | {:?} / {:?} / {:?} | {:?} / {:?} / {:?} | {:.2} / {:.2} | {:.2} % |",
            idle[0],
            idle[1],
            idle[2],
            busy[0],
            busy[1],
            busy[2],
            ratio(0),
            ratio(1),
            100.0 * busy[0].as_secs_f64() / budget
        );
        drop(p); // cancels the job
    }
}
