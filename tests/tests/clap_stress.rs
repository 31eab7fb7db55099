//! What hosts and their validators do to a plugin beyond normal use
//! (pluginval's and clap-validator's checks), through the CLAP test host
//! with the audio thread's allocation assertions on: blocks larger than the
//! prepared maximum, subnormal input, a sample-rate change during a capture,
//! state read and written a few bytes at a time, parameters fuzzed while a
//! job runs.

use gmsdi_engine::audio::read_wav;
use gmsdi_tests::clap_host::{Instance, Transport};
use gmsdi_tests::session::{capture, generate, guitar, instance, noise_bytes, results, slice, wait_for, WITH_RESULTS};

/// Processes `frames` of the test guitar on the main input in one block and
/// checks that it passes through unchanged.
fn passes(p: &mut Instance, frames: usize) {
    let input = guitar(44100.0, frames);
    let outs = p.process(std::slice::from_ref(&input), frames, None);
    assert_eq!(outs[0], input, "a block of {frames} frames passes through");
}

#[test]
fn blocks_larger_than_prepared_are_processed_without_allocating() {
    let out = tempfile::tempdir().unwrap();
    let mut p = instance(WITH_RESULTS, out.path());
    p.activate(44100.0, 256);
    for frames in [256, 257, 1000, 4096, 64] {
        passes(&mut p, frames);
    }
    // A capture through oversized blocks keeps every frame at its place.
    let source = guitar(44100.0, 8192);
    p.set_param("Capture", 1.0);
    for from in (0..8192).step_by(2048) {
        let block = slice(&source, from, 2048);
        let outs =
            p.process(&[block.clone(), block.clone()], 2048, Some(Transport { pos: from as i64, playing: true }));
        assert_eq!(outs[0], block, "the main input passes through a block of 2048 frames");
    }
    p.set_param("Capture", 0.0);
    let (state, _) = generate(&mut p, 256);
    let clip = read_wav(&results(&state)[0].1).unwrap();
    assert_eq!((clip.frames(), results(&state)[0].2), (8192, 0), "{state}");
}

#[test]
fn subnormal_input_leaves_no_subnormal_output_bypassed_or_not() {
    // clap-validator's fuzzer feeds subnormal noise and refuses it on an output.
    let out = tempfile::tempdir().unwrap();
    let mut p = instance(WITH_RESULTS, out.path());
    p.activate(44100.0, 256);
    let tiny: Vec<Vec<f32>> =
        (0..2).map(|c| (0..256).map(|i| f32::MIN_POSITIVE / (2 + i + c) as f32).collect()).collect();
    assert!(tiny[0].iter().all(|s| s.is_subnormal()));
    for bypass in [0.0, 1.0, 0.0] {
        p.set_param("Bypass", bypass);
        let outs = p.process(&[tiny.clone(), tiny.clone()], 256, Some(Transport { pos: 0, playing: true }));
        assert!(outs.iter().flatten().flatten().all(|s| !s.is_subnormal()), "bypass {bypass}");
    }
    passes(&mut p, 256);
}

#[test]
fn a_rate_change_during_a_capture_keeps_what_came_after_it_and_says_so() {
    let out = tempfile::tempdir().unwrap();
    let mut p = instance(WITH_RESULTS, out.path());
    p.activate(44100.0, 441);
    p.set_param("Capture", 1.0);
    let before = guitar(44100.0, 4410);
    for from in (0..4410).step_by(441) {
        let pos = Some(Transport { pos: from as i64, playing: true });
        p.process(&[vec![], slice(&before, from, 441)], 441, pos);
    }
    // The host changes the sample rate while Capture is still on.
    p.deactivate();
    p.activate(48000.0, 480);
    let (state, _) = wait_for(&mut p, 480, |s| s["report"].as_str().unwrap_or_default().contains("discarded"));
    let report = state["report"].as_str().unwrap();
    assert!(report.contains("the sample rate (44100 Hz to 48000 Hz)"), "{report}");
    let after = guitar(48000.0, 9600);
    for from in (0..9600).step_by(480) {
        let pos = Some(Transport { pos: 48000 + from as i64, playing: true });
        p.process(&[vec![], slice(&after, from, 480)], 480, pos);
    }
    p.set_param("Capture", 0.0);
    let (state, _) = generate(&mut p, 480);
    let report = state["report"].as_str().unwrap();
    assert!(report.starts_with("wrote"), "{state}");
    let clip = read_wav(&results(&state)[0].1).unwrap();
    assert_eq!((clip.rate, clip.frames(), results(&state)[0].2), (48000, 9600, 48000), "only the 48 kHz part");
}

#[test]
fn state_written_and_read_a_few_bytes_at_a_time_round_trips() {
    let out = tempfile::tempdir().unwrap();
    let mut p = instance(WITH_RESULTS, out.path());
    let mut state = p.field("gmsdi");
    state["labels"][0] = "electric guitar ✓".into();
    p.set_field("gmsdi", &state);
    let whole = p.save_state();
    for piece in [1, 3, 7] {
        assert_eq!(p.save_state_in_pieces(piece), whole, "saved {piece} bytes per write");
        let mut other = Instance::new(gmsdi_tests::clap_host::plugin_library());
        assert!(other.load_state_in_pieces(&whole, piece), "loaded {piece} bytes per read");
        assert_eq!(other.field("gmsdi"), p.field("gmsdi"), "{piece} bytes per read");
    }
    // A state cut short, read a few bytes at a time, is refused and changes nothing.
    let before = p.field("gmsdi");
    assert!(!p.load_state_in_pieces(&whole[..whole.len() - 5], 3));
    assert_eq!(p.field("gmsdi"), before);
}

#[test]
fn parameters_fuzzed_while_a_job_runs_leave_audio_passing_and_the_job_finishing() {
    let out = tempfile::tempdir().unwrap();
    let mut p = instance(WITH_RESULTS, out.path());
    p.activate(44100.0, 256);
    capture(&mut p, &guitar(44100.0, 22050), 0, 256);
    let names: Vec<String> =
        p.param_names().into_iter().filter(|n| !["Generate", "Capture", "Bypass"].contains(&n.as_str())).collect();
    assert!(names.len() >= 6, "{names:?}");
    p.set_param("Generate", 1.0);
    p.process(&[], 256, None);
    p.set_param("Generate", 0.0);
    let noise = noise_bytes(4000, 11);
    let input = guitar(44100.0, 256);
    for (i, pair) in noise.chunks(2).enumerate() {
        let name = &names[usize::from(pair[0]) % names.len()];
        // Normalised values for continuous parameters; stepped ones take 0, 1 or 2.
        let value = if name.ends_with("Gain") { f64::from(pair[1]) / 255.0 } else { f64::from(pair[1] % 3) };
        p.set_param(name, value);
        let outs = p.process(std::slice::from_ref(&input), 256, Some(Transport { pos: i as i64 * 256, playing: true }));
        assert!(outs.iter().flatten().flatten().all(|s| s.is_finite()), "finite output after {name} = {value}");
    }
    let (state, _) = wait_for(&mut p, 256, |s| {
        let report = s["report"].as_str().unwrap_or_default();
        report.starts_with("wrote") || report.starts_with("job failed")
    });
    // The fuzz may change the task before the worker reads it: then the job
    // fails with its fix (e.g. a silent main input), which is fine too.
    let report = state["report"].as_str().unwrap();
    assert!(report.starts_with("wrote") || report.contains("Fix: "), "{state}");
    // Back to defaults: the main input passes through.
    p.set_param("Bypass", 0.0);
    for name in &names {
        let default = if name.ends_with("Gain") { 60.0 / 72.0 } else { 0.0 };
        p.set_param(name, default);
    }
    p.process(&[], 256, None);
    passes(&mut p, 256);
}
