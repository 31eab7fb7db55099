//! The plugin through a real CLAP host (clack-host): ports, the main path,
//! capture → Generate → results as BWF clips → playback in sync, state
//! round trips, sample rates and block sizes. The plugin is built with
//! nice-plug's `assert_process_allocs`: any allocation in `process`, also
//! while a job runs on the worker, aborts these tests.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gmsdi_engine::audio::{read_wav, Audio};
use gmsdi_engine::job::{self, Job, Source, Task};
use gmsdi_engine::progress::Tracker;
use gmsdi_engine::settings::Value;
use gmsdi_tests::clap_host::{plugin_library, Instance, Transport};
use gmsdi_tests::session::{
    capture, generate, guitar, instance, noise_bytes, results, slice, wait_for, STEPS, WITHOUT_RESULTS, WITH_RESULTS,
};
use gmsdi_tests::{fixture_dir, load_fixture};

/// Plays the transport over `from..from + frames`; returns each output port's channels.
fn play(p: &mut Instance, from: i64, frames: usize, block: usize) -> Vec<Vec<Vec<f32>>> {
    let mut out: Vec<Vec<Vec<f32>>> = Vec::new();
    let mut done = 0;
    while done < frames {
        let n = block.min(frames - done);
        let outs = p.process(&[], n, Some(Transport { pos: from + done as i64, playing: true }));
        out.resize(outs.len(), vec![Vec::new(); 2]);
        for (acc, port) in out.iter_mut().zip(outs) {
            for (a, c) in acc.iter_mut().zip(port) {
                a.extend(c);
            }
        }
        done += n;
    }
    out
}

/// The `bext` TimeReference of a WAV file, parsed independently of the plugin.
fn bext_time_reference(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        if &bytes[at..at + 4] == b"bext" {
            let body = &bytes[at + 8..];
            return u64::from_le_bytes(body[338..346].try_into().unwrap());
        }
        at += 8 + len + (len & 1);
    }
    panic!("{} has no bext chunk", path.display());
}

/// Checks that `out` (one port's channels over timeline `from..`) holds
/// `clip` at `start` and silence elsewhere, sample for sample.
fn assert_plays(out: &[Vec<f32>], from: i64, clip: &Audio, start: i64, what: &str) {
    for (c, channel) in out.iter().enumerate() {
        for (i, &s) in channel.iter().enumerate() {
            let t = from + i as i64 - start;
            let expected = if t >= 0 && (t as usize) < clip.frames() { clip.channels[c][t as usize] } else { 0.0 };
            assert_eq!(s, expected, "{what}: channel {c}, timeline sample {}", from + i as i64);
        }
    }
}

/// Capture, Generate, check the clip file and the playback of a fresh instance.
fn round_trip(rate: f64, block: usize, seconds: f64) -> (Instance, tempfile::TempDir, Vec<Vec<f32>>, i64) {
    let out = tempfile::tempdir().unwrap();
    let mut p = instance(WITH_RESULTS, out.path());
    p.activate(rate, block as u32);
    let frames = (seconds * rate) as usize;
    let source = guitar(rate, frames);
    let start = (rate * 0.1) as i64 + 7;
    capture(&mut p, &source, start, block);
    let (state, _) = generate(&mut p, block);
    let clips = results(&state);
    assert_eq!(clips.len(), 1, "one result expected; state: {state}");
    let (stem, path, clip_start) = &clips[0];
    assert_eq!((stem.as_str(), *clip_start), ("bass", start));
    assert!(path.starts_with(out.path()), "{} not in the output folder", path.display());
    let clip = read_wav(path).unwrap();
    assert_eq!((clip.rate, clip.channel_count(), clip.frames()), (rate as u32, 2, frames));
    assert_eq!(bext_time_reference(path), start as u64);
    let margin = block.max(16) as i64;
    let outs = play(&mut p, start - margin, frames + 2 * margin as usize, block);
    assert_eq!(outs.len(), 5, "main + 4 result outputs");
    assert_plays(&outs[1], start - margin, &clip, start, "Result 1");
    assert_plays(&outs[0], start - margin, &clip, start, "main (input + results, silent input)");
    assert!(outs[2..].iter().flatten().flatten().all(|s| *s == 0.0), "unused result outputs are silent");
    (p, out, source, start)
}

#[test]
fn separation_of_the_main_input_plays_each_stem_on_its_own_output() {
    let (rate, block) = (48000.0, 512);
    let out = tempfile::tempdir().unwrap();
    let mut p = instance(WITH_RESULTS, out.path());
    p.set_param("Task", 1.0);
    p.set_param("Monitor", 2.0);
    p.activate(rate, block as u32);
    let mix = guitar(rate, 24000);
    let start = 96000;
    p.set_param("Capture", 1.0);
    for (i, from) in (0..mix[0].len()).step_by(block).enumerate() {
        let n = block.min(mix[0].len() - from);
        let pos = start + (i * block) as i64;
        p.process(&[slice(&mix, from, n)], n, Some(Transport { pos, playing: true }));
    }
    p.set_param("Capture", 0.0);
    let (state, _) = generate(&mut p, block);
    let clips = results(&state);
    let stems: Vec<&str> = clips.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(stems, ["bass", "drums", "guitar", "piano"], "{state}");
    let audio: Vec<Audio> = clips.iter().map(|c| read_wav(&c.1).unwrap()).collect();
    let outs = play(&mut p, start - 1000, 26000, block);
    for (k, clip) in audio.iter().enumerate() {
        assert_eq!(bext_time_reference(&clips[k].1), start as u64);
        assert_plays(&outs[1 + k], start - 1000, clip, start, &clips[k].0);
    }
    // Monitor "results only": the main output is the sum of the stems.
    let check_main = |main: &[f32], gains: [f32; 4]| {
        for (i, s) in main.iter().enumerate() {
            let t = i as i64 - 1000;
            let sum: f32 = if (0..24000).contains(&t) {
                audio.iter().zip(gains).map(|(a, g)| a.channels[0][t as usize] * g).sum()
            } else {
                0.0
            };
            assert!((s - sum).abs() <= 1e-5 * sum.abs().max(1.0), "main at {t}: {s} vs {sum}");
        }
    };
    check_main(&outs[0][0], [1.0; 4]);
    // Per-stem gain and mute, on the stem's output and in the main mix.
    p.set_param("Result 1 Gain", (-6.0 + 60.0) / 72.0); // continuous: normalized, -60..12 dB
    p.set_param("Result 2 Mute", 1.0);
    let outs = play(&mut p, start - 1000, 26000, block);
    let half = 10f32.powf(-6.0 * 0.05);
    for (i, s) in outs[1][0].iter().enumerate() {
        let t = i as i64 - 1000;
        let expected = if (0..24000).contains(&t) { audio[0].channels[0][t as usize] * half } else { 0.0 };
        assert!((s - expected).abs() <= 1e-5 * expected.abs().max(1.0), "Result 1 at {t}: {s} vs {expected}");
    }
    assert!(outs[2].iter().flatten().all(|s| *s == 0.0), "a muted stem is silent");
    check_main(&outs[0][0], [half, 0.0, 1.0, 1.0]);
}

#[test]
fn capture_runs_free_without_transport_and_drops_pre_roll() {
    let (rate, block) = (44100.0, 100);
    let source = guitar(rate, 4400);
    // No transport position: captured from arming, at timeline 0.
    let out = tempfile::tempdir().unwrap();
    let mut p = instance(WITH_RESULTS, out.path());
    p.activate(rate, block as u32);
    p.set_param("Capture", 1.0);
    for from in (0..4400).step_by(block) {
        p.process(&[vec![], slice(&source, from, block)], block, None);
    }
    p.set_param("Capture", 0.0);
    let (state, _) = generate(&mut p, block);
    let clips = results(&state);
    assert_eq!(clips[0].2, 0, "{state}");
    assert_eq!(read_wav(&clips[0].1).unwrap().frames(), 4400);
    // Pre-roll (negative positions) is not captured: the take starts at 0.
    let out = tempfile::tempdir().unwrap();
    let mut p = instance(WITH_RESULTS, out.path());
    p.activate(rate, block as u32);
    capture(&mut p, &source, -1000, block);
    let (state, _) = generate(&mut p, block);
    let clips = results(&state);
    assert_eq!(clips[0].2, 0, "{state}");
    assert_eq!(read_wav(&clips[0].1).unwrap().frames(), 3400);
}

#[test]
fn reactivation_keeps_the_capture_unless_the_rate_changes() {
    let out = tempfile::tempdir().unwrap();
    let mut p = instance(WITH_RESULTS, out.path());
    p.activate(44100.0, 256);
    capture(&mut p, &guitar(44100.0, 4410), 0, 256);
    p.deactivate();
    p.activate(44100.0, 1024);
    let (state, _) = generate(&mut p, 1024);
    assert_eq!(results(&state).len(), 1, "same rate, other block size: capture kept; {state}");
    p.deactivate();
    p.activate(48000.0, 1024);
    let (state, _) = generate(&mut p, 1024);
    assert!(state["report"].as_str().unwrap().contains("nothing captured"), "rate changed: capture discarded; {state}");
    // The earlier result, resampled to the new rate (4410 → 4800 frames), still plays.
    let outs = play(&mut p, 0, 4800, 1024);
    assert!(outs[1][0].iter().filter(|s| **s != 0.0).count() > 4700, "the resampled result should play");
}

#[test]
fn a_job_survives_the_host_deactivating_and_reactivating_the_plugin() {
    let out = tempfile::tempdir().unwrap();
    let mut p = instance(WITH_RESULTS, out.path());
    p.activate(44100.0, 256);
    capture(&mut p, &guitar(44100.0, 22050), 0, 256);
    p.set_param("Generate", 1.0);
    p.process(&[], 256, None);
    p.deactivate();
    p.activate(44100.0, 256);
    let (state, _) = wait_for(&mut p, 256, |s| s["report"].as_str().unwrap_or_default().starts_with("wrote"));
    let clip = read_wav(&results(&state)[0].1).unwrap();
    let outs = play(&mut p, 0, 22050, 256);
    assert_plays(&outs[1], 0, &clip, 0, "Result 1 after reactivation");
}

#[test]
fn ports_have_names_and_channel_counts() {
    let mut p = Instance::new(plugin_library());
    assert_eq!(p.configs(), ["Main + sources + results", "Main + sources"]);
    let stereo = |names: &[&str]| names.iter().map(|n| (n.to_string(), 2)).collect::<Vec<_>>();
    let inputs = stereo(&["Input", "Source 1", "Source 2", "Source 3"]);
    let with_results = stereo(&["Output", "Result 1", "Result 2", "Result 3", "Result 4"]);
    assert_eq!(p.ports(), (inputs.clone(), with_results.clone()), "the default layout has the result outputs");
    p.select_config(WITHOUT_RESULTS);
    assert_eq!(p.ports(), (inputs.clone(), stereo(&["Output"])));
    p.select_config(WITH_RESULTS);
    assert_eq!(p.ports(), (inputs, with_results));
    let mut names =
        vec!["Capture", "Generate", "Task", "Monitor", "Output Gain"].into_iter().map(String::from).collect::<Vec<_>>();
    for i in 1..=4 {
        names.extend([format!("Result {i} Gain"), format!("Result {i} Mute")]);
    }
    names.push("Bypass".into());
    assert_eq!(p.param_names(), names);
}

#[test]
fn main_path_passes_audio_unchanged_with_and_without_result_outputs() {
    for config in [WITH_RESULTS, WITHOUT_RESULTS] {
        for block in [1usize, 64, 4096, 16384] {
            let mut p = Instance::new(plugin_library());
            p.select_config(config);
            p.activate(48000.0, block as u32);
            let input = guitar(48000.0, 3 * block + 5);
            let mut done = 0;
            while done < input[0].len() {
                let n = block.min(input[0].len() - done);
                let transport = (done > block).then_some(Transport { pos: done as i64, playing: true });
                let outs = p.process(&[slice(&input, done, n)], n, transport);
                assert_eq!(outs[0], slice(&input, done, n), "config {config}, block {block}");
                assert!(outs[1..].iter().flatten().flatten().all(|s| *s == 0.0));
                done += n;
            }
        }
    }
}

/// A host may connect only the main ports of the default layout (no
/// sidechains, no result outputs): `process` must still run, which the
/// output gain shows (a skipped call would pass the input unchanged).
#[test]
fn main_path_is_processed_when_the_host_connects_only_the_main_ports() {
    let mut p = Instance::new(plugin_library());
    p.select_config(WITH_RESULTS);
    p.connect_main_ports_only();
    p.set_param("Output Gain", 0.5); // normalized: a gain below 0 dB
    p.activate(44100.0, 256);
    let input = guitar(44100.0, 256);
    let outs = p.process(std::slice::from_ref(&input), 256, Some(Transport { pos: 0, playing: true }));
    assert_eq!(outs.len(), 1, "only the main output is connected");
    let ratio = outs[0][0][100] / input[0][100];
    assert!(ratio > 0.0 && ratio < 0.5, "the gain was applied, so process ran (ratio {ratio})");
    for (out, inp) in outs[0].iter().flatten().zip(input.iter().flatten()) {
        assert!((out - inp * ratio).abs() <= 1e-5, "one gain for every sample");
    }
}

#[test]
fn capture_generate_play_and_restore_in_sync() {
    let (mut p, out, source, start) = round_trip(44100.0, 64, 0.5);
    let state = p.field("gmsdi");
    let (_, path, _) = results(&state).remove(0);
    let clip = read_wav(&path).unwrap();

    // The same job run directly on the engine gives the same audio.
    let mut model = load_fixture();
    let mut job = Job::new(Task::Accompany {
        sources: vec![Source { label: "guitar".into(), audio: Audio { rate: 44100, channels: source.clone() } }],
        generate: vec![vec!["bass".into()]],
    });
    job.overrides.set("steps", Value::Count(STEPS as usize)).unwrap();
    let mut tracker = Tracker::new(1, Arc::new(AtomicBool::new(false)), Box::new(|_| {}));
    let direct = job::run(&mut model, &job, &mut tracker).unwrap();
    let diff =
        direct.stems[0].1.channels.iter().flatten().zip(clip.channels.iter().flatten()).map(|(a, b)| (a - b).abs());
    let peak = clip.channels.iter().flatten().fold(0f32, |m, s| m.max(s.abs()));
    assert!(diff.fold(0f32, f32::max) <= 1e-4 * peak.max(1e-3), "the plugin's result differs from the engine's");

    // State → new instance → same playback, restored from the file, from
    // the first block after activation (as in an offline export started
    // right after a project loads). The report is cleared so the restore's
    // own report is what we check.
    let mut saved = p.state_json();
    let mut fields = p.field("gmsdi");
    fields["report"] = "".into();
    saved["fields"]["gmsdi"] = fields.to_string().into();
    drop(p);
    let mut q = Instance::new(plugin_library());
    q.select_config(WITH_RESULTS);
    assert!(q.load_state_json(&saved));
    q.activate(44100.0, 64);
    assert_eq!(q.field("gmsdi")["report"], "restored 1 result clips", "activation waits for the restore");
    let outs = play(&mut q, start - 100, clip.frames() + 200, 64);
    assert_plays(&outs[1], start - 100, &clip, start, "restored Result 1");
    assert_plays(&outs[0], start - 100, &clip, start, "restored main");

    // A missing file is reported, not fatal: audio keeps passing.
    std::fs::remove_file(&path).unwrap();
    let mut r = Instance::new(plugin_library());
    assert!(r.load_state_json(&saved));
    r.activate(44100.0, 64);
    let (state, _) = wait_for(&mut r, 64, |s| s["report"].as_str().unwrap_or_default().contains("missing"));
    assert!(state["report"].as_str().unwrap().contains(&*path.to_string_lossy()), "{state}");
    let input = guitar(44100.0, 64);
    assert_eq!(r.process(std::slice::from_ref(&input), 64, Some(Transport { pos: start, playing: true }))[0], input);
    drop(out);
}

#[test]
fn sample_rates_and_block_sizes() {
    for (rate, block) in [(22050.0, 64), (44100.0, 1), (48000.0, 4096), (96000.0, 64)] {
        round_trip(rate, block, 0.25);
    }
}

#[test]
fn process_does_not_allocate_while_a_job_runs() {
    let out = tempfile::tempdir().unwrap();
    let mut p = instance(WITH_RESULTS, out.path());
    let mut state = p.field("gmsdi");
    state["settings"]["steps"] = 60.into();
    p.set_field("gmsdi", &state);
    p.activate(48000.0, 256);
    capture(&mut p, &guitar(48000.0, 96000), 0, 256);
    let (state, blocks) = generate(&mut p, 256);
    assert_eq!(results(&state).len(), 1, "{state}");
    assert!(blocks >= 16, "the job should have run across many process calls, took {blocks} blocks");
}

#[test]
fn generate_with_nothing_captured_reports_it_and_audio_passes() {
    let out = tempfile::tempdir().unwrap();
    let mut p = instance(0, out.path());
    p.activate(44100.0, 128);
    let (state, _) = generate(&mut p, 128);
    assert!(state["report"].as_str().unwrap().contains("nothing captured"), "{state}");
    let input = guitar(44100.0, 128);
    assert_eq!(p.process(std::slice::from_ref(&input), 128, None)[0], input);
}

#[test]
fn megabytes_of_random_state_are_refused_and_the_state_stays() {
    let mut p = Instance::new(plugin_library());
    let before = p.field("gmsdi");
    for seed in 1..=3 {
        assert!(!p.load_state(&noise_bytes(1 << 20, seed)), "random bytes {seed} accepted as a state");
    }
    // A valid length prefix in front of 1 MB of random bytes.
    let mut framed = (1u64 << 20).to_le_bytes().to_vec();
    framed.extend(noise_bytes(1 << 20, 4));
    assert!(!p.load_state(&framed));
    assert_eq!(p.field("gmsdi"), before, "refused states leave the state as it was");
    p.activate(44100.0, 64);
    let input = guitar(44100.0, 64);
    assert_eq!(p.process(std::slice::from_ref(&input), 64, None)[0], input);
}

#[test]
fn blocks_of_random_size_are_captured_without_a_gap() {
    let (rate, max_block) = (44100.0, 512usize);
    let source = guitar(rate, 8820);
    let out = tempfile::tempdir().unwrap();
    let mut p = instance(WITH_RESULTS, out.path());
    p.activate(rate, max_block as u32);
    p.set_param("Capture", 1.0);
    let sizes = noise_bytes(200, 9);
    let (mut done, mut i) = (0usize, 0usize);
    while done < source[0].len() {
        // 1 to 512 frames, the host's prepared maximum included.
        let n = (usize::from(sizes[i % sizes.len()]) * 2 + 1).min(max_block).min(source[0].len() - done);
        let block = slice(&source, done, n);
        let outs = p.process(&[block.clone(), block.clone()], n, Some(Transport { pos: done as i64, playing: true }));
        assert_eq!(outs[0], block, "the main input passes through a block of {n} frames");
        done += n;
        i += 1;
    }
    p.set_param("Capture", 0.0);
    let (state, _) = generate(&mut p, 128);
    assert!(state["report"].as_str().unwrap().starts_with("wrote"), "{state}");
    let clip = read_wav(&results(&state)[0].1).unwrap();
    assert_eq!(clip.frames(), source[0].len(), "every frame of every block was captured");
}

#[test]
fn garbage_state_is_rejected_without_a_crash() {
    let mut p = Instance::new(plugin_library());
    assert!(!p.load_state(b"\x00\x01 not json at all"));
    assert!(!p.load_state(&[]));
    let mut truncated = p.save_state();
    truncated.truncate(truncated.len() / 2);
    assert!(!p.load_state(&truncated));
    let mut state = p.state_json();
    state["fields"]["gmsdi"] = "{\"labels\": 3".into();
    p.load_state_json(&state);
    assert_eq!(p.field("gmsdi")["labels"][0], "guitar", "a broken field leaves the state as it was");
    p.activate(44100.0, 64);
    let input = guitar(44100.0, 64);
    assert_eq!(p.process(std::slice::from_ref(&input), 64, None)[0], input);
}

#[test]
fn missing_model_is_reported_and_audio_passes() {
    let out = tempfile::tempdir().unwrap();
    let mut p = instance(0, out.path());
    let mut state = p.field("gmsdi");
    state["model_dir"] = out.path().join("no-model-here").to_string_lossy().into();
    p.set_field("gmsdi", &state);
    p.activate(44100.0, 128);
    capture(&mut p, &guitar(44100.0, 4410), 0, 128);
    let (state, _) = generate(&mut p, 128);
    assert!(state["report"].as_str().unwrap().contains("no model found"), "{state}");
    let input = guitar(44100.0, 128);
    assert_eq!(p.process(std::slice::from_ref(&input), 128, None)[0], input);
}

#[test]
fn removing_the_plugin_during_a_job_stops_it_within_a_second() {
    let out = tempfile::tempdir().unwrap();
    let mut p = instance(WITH_RESULTS, out.path());
    p.activate(44100.0, 256);
    capture(&mut p, &guitar(44100.0, 88200), 0, 256);
    // A first, short job loads the model (loading cannot be interrupted).
    generate(&mut p, 256);
    let files = |dir: &Path| {
        let mut names: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        names
    };
    let before = files(out.path());
    let mut state = p.field("gmsdi");
    state["settings"]["steps"] = 5000.into();
    state["report"] = "".into();
    p.set_field("gmsdi", &state);
    p.set_param("Generate", 1.0);
    p.process(&[], 256, None);
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(300) {
        p.process(&[], 256, None);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!p.field("gmsdi")["report"].as_str().unwrap().starts_with("wrote"), "the job should still run");
    let removing = Instant::now();
    drop(p);
    assert!(removing.elapsed() < Duration::from_secs(1), "took {:?}", removing.elapsed());
    assert_eq!(files(out.path()), before, "no new file, whole or partial, may remain");
}

/// The bundle from `cargo xtask bundle` finds the ONNX Runtime library and
/// the default model next to its binary, with no environment variables, and
/// runs a job with them. Run after bundling: `cargo test -p gmsdi-tests
/// --test clap_host -- --ignored`; for the Windows bundle under Wine, after
/// `cargo xtask bundle --release --target x86_64-pc-windows-gnu`, the same
/// with `--target x86_64-pc-windows-gnu`.
#[test]
#[ignore = "needs `cargo xtask bundle` first"]
fn bundled_plugin_finds_its_runtime_and_model() {
    assert!(std::env::var_os("GMSDI_ORT_LIB").is_none() && std::env::var_os("GMSDI_MODEL").is_none());
    let exe = std::env::current_exe().unwrap();
    // This machine's bundles: <target>/bundled/; a cross build's (this test
    // then runs from <target>/<triple>/debug/deps/): <target>/bundled/<os>-<arch>/.
    let native = exe.ancestors().nth(3).unwrap().join("bundled/gmsdi-plugin-clap/gmsdi-plugin.clap");
    let platform = format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH);
    let cross =
        exe.ancestors().nth(4).unwrap().join("bundled").join(platform).join("gmsdi-plugin-clap/gmsdi-plugin.clap");
    let clap = if native.is_file() { native } else { cross };
    let out = tempfile::tempdir().unwrap();
    let mut p = Instance::bare(&clap);
    p.select_config(WITH_RESULTS);
    let mut state = p.field("gmsdi");
    state["output_dir"] = out.path().to_string_lossy().into();
    state["settings"]["steps"] = STEPS.into();
    p.set_field("gmsdi", &state);
    p.activate(44100.0, 512);
    capture(&mut p, &guitar(44100.0, 44100), 0, 512);
    let (state, _) = generate(&mut p, 512);
    assert_eq!(results(&state).len(), 1, "{state}");
}

#[test]
fn unwritable_output_folder_fails_the_job_but_keeps_the_capture() {
    let out = tempfile::tempdir().unwrap();
    let blocker = out.path().join("a-file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let mut p = instance(0, &blocker.join("results"));
    p.activate(44100.0, 256);
    capture(&mut p, &guitar(44100.0, 4410), 0, 256);
    let (state, _) = generate(&mut p, 256);
    assert!(state["report"].as_str().unwrap().contains("cannot create the output folder"), "{state}");
    let input = guitar(44100.0, 256);
    assert_eq!(p.process(std::slice::from_ref(&input), 256, None)[0], input);
    let mut state = p.field("gmsdi");
    state["output_dir"] = out.path().to_string_lossy().into();
    state["report"] = "".into();
    p.set_field("gmsdi", &state);
    let (state, _) = generate(&mut p, 256);
    assert_eq!(results(&state).len(), 1, "the capture was kept: {state}");
}

#[test]
fn nan_and_infinite_input_becomes_silence_with_a_warning() {
    let out = tempfile::tempdir().unwrap();
    let mut p = instance(0, out.path());
    p.activate(44100.0, 256);
    let mut source = guitar(44100.0, 4410);
    source[0][100] = f32::NAN;
    source[1][200] = f32::INFINITY;
    capture(&mut p, &source, 0, 256);
    let (state, _) = generate(&mut p, 256);
    let report = state["report"].as_str().unwrap();
    assert!(report.starts_with("wrote") && report.contains("2 NaN or infinite samples"), "{state}");
    let clip = read_wav(&results(&state)[0].1).unwrap();
    assert!(clip.channels.iter().flatten().all(|s| s.is_finite()));
}

#[test]
fn an_identical_job_reuses_the_files_of_the_first() {
    let out = tempfile::tempdir().unwrap();
    let mut p = instance(WITH_RESULTS, out.path());
    p.activate(44100.0, 256);
    capture(&mut p, &guitar(44100.0, 8820), 0, 256);
    let (first, _) = generate(&mut p, 256);
    let mut state = p.field("gmsdi");
    state["report"] = "".into();
    p.set_field("gmsdi", &state);
    let (second, _) = generate(&mut p, 256);
    assert!(second["report"].as_str().unwrap().starts_with("reused"), "{second}");
    assert_eq!(results(&first), results(&second));
    let wavs =
        std::fs::read_dir(out.path()).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some()).count();
    assert_eq!(wavs, 1, "no second file");
    let clip = read_wav(&results(&second)[0].1).unwrap();
    assert_plays(&play(&mut p, 0, 8820, 256)[1], 0, &clip, 0, "reused Result 1");
    // Other settings: a new job.
    let mut state = p.field("gmsdi");
    state["settings"]["seed"] = 7.into();
    state["report"] = "".into();
    p.set_field("gmsdi", &state);
    let (third, _) = generate(&mut p, 256);
    assert!(third["report"].as_str().unwrap().starts_with("wrote"), "{third}");
}

/// Runs in a child process (see the test below) with `GMSDI_ORT_LIB`
/// naming a file that is not ONNX Runtime.
#[test]
#[ignore = "run by broken_onnxruntime_is_reported_and_audio_passes in its own process"]
fn child_with_broken_onnxruntime() {
    let out = tempfile::tempdir().unwrap();
    let mut p = Instance::bare(plugin_library());
    let mut state = p.field("gmsdi");
    state["output_dir"] = out.path().to_string_lossy().into();
    state["model_dir"] = fixture_dir().to_string_lossy().into();
    p.set_field("gmsdi", &state);
    p.activate(44100.0, 256);
    capture(&mut p, &guitar(44100.0, 4410), 0, 256);
    let (state, _) = generate(&mut p, 256);
    let report = state["report"].as_str().unwrap();
    assert!(report.starts_with("job failed: ONNX Runtime: cannot load"), "{state}");
    let input = guitar(44100.0, 256);
    assert_eq!(p.process(std::slice::from_ref(&input), 256, None)[0], input);
}

#[test]
fn broken_onnxruntime_is_reported_and_audio_passes() {
    plugin_library();
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("libonnxruntime.so");
    std::fs::write(&fake, "not a library").unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_with_broken_onnxruntime", "--nocapture"])
        .env("GMSDI_ORT_LIB", &fake)
        .status()
        .unwrap();
    assert!(status.success(), "the child test failed");
}
