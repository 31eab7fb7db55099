//! `gmsdi bench`: network throughput (a batch shared out over the denoiser's
//! sessions vs one row at a time), and the time of separation and
//! accompaniment, with separation also timed at the previous defaults (the
//! baseline) and with one pass, and accompaniment without chord guidance, in
//! the same run.

use std::path::Path;
use std::time::{Duration, Instant};

use gmsdi_engine::audio::{read_audio, Audio};
use gmsdi_engine::job::{Job, Source, Task};
use gmsdi_engine::network::{Denoiser, Model};
use gmsdi_engine::runtime::RuntimeOptions;
use gmsdi_engine::sampler::{noise, Rng};
use gmsdi_engine::settings::{Overrides, SettingError, Value};
use rand::SeedableRng;
use serde_json::json;

use crate::args::Cli;
use crate::run::{load_model, load_model_with, run_with_progress, Failure};

/// Separation as the engine ran it by default before the speed work: Euler
/// with churn 20 at 20 steps, guided at every step, each channel of the mix
/// as its own row (the Wiener filter off: it then ran per channel, at a cost
/// next to nothing beside the network's), one ONNX Runtime thread.
fn baseline_overrides() -> Result<Overrides, SettingError> {
    Overrides::default()
        .with("sampler", Value::Name("euler".into()))?
        .with("s_churn", Value::Number(20.0))?
        .with("resamples", Value::Count(1))?
        .with("steps", Value::Count(20))?
        .with("guidance_min_sigma", Value::Number(0.0))?
        .with("guidance_max_sigma", Value::Number(0.0))?
        .with("wiener", Value::Switch(false))
}

/// Peak resident memory of this process so far, in MB (Linux; else `None`).
fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The mix to separate: the first `seconds` of `input`, else stereo noise.
fn bench_mix(input: Option<&Path>, seconds: f64, rng: &mut Rng) -> Result<Audio, Failure> {
    let Some(path) = input else {
        let frames = (seconds * 44100.0) as usize;
        return Ok(Audio { rate: 44100, channels: vec![noise(frames, rng).iter().map(|v| 0.1 * v).collect(); 2] });
    };
    let mut audio = read_audio(path)?;
    let frames = ((seconds * f64::from(audio.rate)) as usize).min(audio.frames());
    audio.channels.iter_mut().for_each(|c| c.truncate(frames));
    Ok(audio)
}

/// Wall time of one job.
fn time_job(model: &mut Model, task: Task, overrides: Overrides) -> Result<Duration, Failure> {
    let mut job = Job::new(task);
    job.overrides = overrides;
    let start = Instant::now();
    run_with_progress(model, &job, false)?;
    Ok(start.elapsed())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs the benchmark and prints its figures.
pub fn run(
    cli: &Cli,
    seconds: Option<f64>,
    steps: Option<usize>,
    repeats: usize,
    input: Option<&Path>,
) -> Result<(), Failure> {
    let mut model = load_model(cli)?;
    let m = model.manifest.clone();
    // The file separation runs by default (a job's settings may switch it).
    let denoiser = model.denoiser_file.clone();
    let k = m.stems.len();
    let rows = 2 * (k + 1);
    let (c, t, d) = (m.channels, m.window, m.embedding_dim);
    let mut rng = Rng::seed_from_u64(1);
    let x: Vec<f32> = noise(rows * c * t, &mut rng).iter().map(|v| 0.1 * v).collect();
    let emb: Vec<f32> = (0..rows).flat_map(|_| m.null_embedding.clone()).collect();
    let repeats = repeats.max(1);
    model.denoise(&x[..c * t], t, &[0.5], &emb[..d], None)?; // warm-up
    let mut batched = Vec::new();
    let mut single = Vec::new();
    for _ in 0..repeats {
        let start = Instant::now();
        model.denoise(&x, t, &vec![0.5; rows], &emb, None)?;
        batched.push(start.elapsed());
        let start = Instant::now();
        for r in 0..rows {
            model.denoise(&x[r * c * t..(r + 1) * c * t], t, &[0.5], &emb[r * d..(r + 1) * d], None)?;
        }
        single.push(start.elapsed());
    }
    let (batched, single) = (median(batched), median(single));
    let mix = bench_mix(input, seconds.unwrap_or(t as f64 / f64::from(m.sample_rate)), &mut rng)?;
    let seconds = mix.seconds();
    let mix_channels = mix.channel_count();
    let stems: Vec<String> = m.stems.keys().cloned().collect();
    let mut defaults = Overrides::default();
    if let Some(steps) = steps {
        defaults.set("steps", Value::Count(steps)).map_err(|e| Failure::Error(format!("--steps: {e}")))?;
    }
    let sep = time_job(&mut model, Task::Separate { mix: mix.clone(), stems: stems.clone() }, defaults.clone())?;
    let one_pass = defaults.clone().with("passes", Value::Count(1)).map_err(|e| Failure::Error(e.to_string()))?;
    let sep_one = time_job(&mut model, Task::Separate { mix: mix.clone(), stems: stems.clone() }, one_pass)?;
    let source = Source { label: stems[0].clone(), audio: mix.clone() };
    let accompany = Task::Accompany { sources: vec![source], generate: vec![vec![stems[stems.len() - 1].clone()]] };
    let acc = time_job(&mut model, accompany.clone(), defaults.clone())?;
    let no_chords = defaults.clone().with("chord_w", Value::Number(0.0)).map_err(|e| Failure::Error(e.to_string()))?;
    let acc_plain = time_job(&mut model, accompany, no_chords)?;
    let provider = model.provider.to_string();
    let sessions = model.denoiser_sessions();
    drop(model);
    // The model's own denoiser in place of its CPU one, at the same settings.
    let full_precision = if denoiser == m.denoiser {
        None
    } else {
        let mut full = load_model_with(cli, cli.threads, true)?;
        Some(time_job(&mut full, Task::Separate { mix: mix.clone(), stems: stems.clone() }, defaults)?)
    };
    let mut baseline_model = load_model_with(cli, Some(1), true)?;
    let baseline = time_job(
        &mut baseline_model,
        Task::Separate { mix, stems },
        baseline_overrides().map_err(|e| Failure::Error(e.to_string()))?,
    )?;
    let speedup = baseline.as_secs_f64() / sep.as_secs_f64();
    let peak = peak_memory_mb();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let threads = RuntimeOptions { threads: cli.threads, ..RuntimeOptions::default() }.thread_count();
    let summary = json!({
        "machine": {"cpu": cpu, "cores": std::thread::available_parallelism().map_or(1, |n| n.get()), "ort_threads": threads, "denoiser_sessions": sessions, "provider": provider},
        "model": m.name,
        "rows_per_evaluation": rows,
        "window_seconds": t as f64 / f64::from(m.sample_rate),
        "batched_evaluation_s": batched.as_secs_f64(),
        "one_row_at_a_time_s": single.as_secs_f64(),
        "sharing_speedup": single.as_secs_f64() / batched.as_secs_f64(),
        "evaluations_per_s": 1.0 / batched.as_secs_f64(),
        "separation_s": sep.as_secs_f64(),
        "separation_realtime_factor": seconds / sep.as_secs_f64(),
        "one_pass_separation_s": sep_one.as_secs_f64(),
        "denoiser": denoiser,
        "full_precision_separation_s": full_precision.map(|d| d.as_secs_f64()),
        "baseline_separation_s": baseline.as_secs_f64(),
        "separation_speedup_vs_baseline": speedup,
        "accompaniment_s": acc.as_secs_f64(),
        "accompaniment_realtime_factor": seconds / acc.as_secs_f64(),
        "accompaniment_without_chord_guidance_s": acc_plain.as_secs_f64(),
        "peak_memory_mb": peak,
        "audio_seconds": seconds,
    });
    if cli.json {
        println!("{summary}");
    } else {
        println!("machine: {cpu}, {threads} ORT threads in {sessions} denoiser sessions, {provider}");
        println!(
            "model: {} ({} rows of {:.2} s per evaluation of {denoiser})",
            m.name,
            rows,
            t as f64 / f64::from(m.sample_rate)
        );
        println!(
            "one evaluation of {rows} rows, shared out over {sessions} sessions: {:.4} s -> {:.2} evaluations/s",
            batched.as_secs_f64(),
            1.0 / batched.as_secs_f64()
        );
        println!(
            "{rows} evaluations of one row each: {:.4} s -> sharing out is {:.2}x faster",
            single.as_secs_f64(),
            single.as_secs_f64() / batched.as_secs_f64()
        );
        println!(
            "separation of {seconds:.1} s, {} channels (default settings): {:.2} s wall, {:.3}x real time",
            mix_channels,
            sep.as_secs_f64(),
            seconds / sep.as_secs_f64()
        );
        println!(
            "separation of the same in one pass (passes 1): {:.2} s wall -> the defaults take {:.2}x as long",
            sep_one.as_secs_f64(),
            sep.as_secs_f64() / sep_one.as_secs_f64()
        );
        if let Some(full) = full_precision {
            println!(
                "separation of the same with the full-precision {}: {:.2} s wall -> {denoiser} is {:.2}x faster",
                m.denoiser,
                full.as_secs_f64(),
                full.as_secs_f64() / sep.as_secs_f64()
            );
        }
        println!(
            "separation of the same at the baseline (euler, churn 20, 20 steps all guided, per channel, 1 thread): {:.2} s wall \
             -> the defaults are {speedup:.2}x faster",
            baseline.as_secs_f64()
        );
        println!(
            "accompaniment of {seconds:.1} s (default settings): {:.2} s wall, {:.3}x real time",
            acc.as_secs_f64(),
            seconds / acc.as_secs_f64()
        );
        println!(
            "accompaniment of the same without chord guidance (chord_w 0): {:.2} s wall -> the guide costs {:.3}x",
            acc_plain.as_secs_f64(),
            acc.as_secs_f64() / acc_plain.as_secs_f64()
        );
        if let Some(mb) = peak {
            println!("peak memory of this run: {mb:.0} MB");
        }
    }
    Ok(())
}
