//! `gmsdi bench`: network throughput, batched vs single-row evaluation, and
//! real-time factors of separation and accompaniment, all in one run.

use std::time::{Duration, Instant};

use gmsdi_engine::audio::Audio;
use gmsdi_engine::job::{Job, Source, Task};
use gmsdi_engine::network::Denoiser;
use gmsdi_engine::runtime::RuntimeOptions;
use gmsdi_engine::sampler::{noise, Rng};
use rand::SeedableRng;
use serde_json::json;

use crate::args::Cli;
use crate::run::{load_model, run_with_progress, Failure};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs the benchmark and prints its figures.
pub fn run(cli: &Cli, seconds: Option<f64>, steps: Option<usize>, repeats: usize) -> Result<(), Failure> {
    let mut model = load_model(cli)?;
    let m = model.manifest.clone();
    let k = m.stems.len();
    let rows = 2 * (k + 1);
    let (c, t, d) = (m.channels, m.window, m.embedding_dim);
    let mut rng = Rng::seed_from_u64(1);
    let x: Vec<f32> = noise(rows * c * t, &mut rng).iter().map(|v| 0.1 * v).collect();
    let emb: Vec<f32> = (0..rows).flat_map(|_| m.null_embedding.clone()).collect();
    let repeats = repeats.max(1);
    model.denoise(&x[..c * t], t, &[0.5], &emb[..d])?; // warm-up
    let mut batched = Vec::new();
    let mut single = Vec::new();
    for _ in 0..repeats {
        let start = Instant::now();
        model.denoise(&x, t, &vec![0.5; rows], &emb)?;
        batched.push(start.elapsed());
        let start = Instant::now();
        for r in 0..rows {
            model.denoise(&x[r * c * t..(r + 1) * c * t], t, &[0.5], &emb[r * d..(r + 1) * d])?;
        }
        single.push(start.elapsed());
    }
    let (batched, single) = (median(batched), median(single));
    let seconds = seconds.unwrap_or(t as f64 / f64::from(m.sample_rate));
    let rate = 44100;
    let frames = (seconds * f64::from(rate)) as usize;
    let mix = Audio { rate, channels: vec![noise(frames, &mut rng).iter().map(|v| 0.1 * v).collect(); 2] };
    let stems: Vec<String> = m.stems.keys().cloned().collect();
    let mut time_job = |task: Task| -> Result<Duration, Failure> {
        let mut job = Job::new(task);
        job.overrides.steps = steps;
        let start = Instant::now();
        run_with_progress(&mut model, &job, false)?;
        Ok(start.elapsed())
    };
    let sep = time_job(Task::Separate { mix: mix.clone(), stems: stems.clone() })?;
    let acc = time_job(Task::Accompany {
        sources: vec![Source { label: stems[0].clone(), audio: mix.clone() }],
        generate: vec![vec![stems[stems.len() - 1].clone()]],
    })?;
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
        "machine": {"cpu": cpu, "cores": std::thread::available_parallelism().map_or(1, |n| n.get()), "ort_threads": threads, "provider": model.provider.to_string()},
        "model": m.name,
        "rows_per_evaluation": rows,
        "window_seconds": t as f64 / f64::from(m.sample_rate),
        "batched_evaluation_s": batched.as_secs_f64(),
        "single_row_evaluations_s": single.as_secs_f64(),
        "batching_speedup": single.as_secs_f64() / batched.as_secs_f64(),
        "evaluations_per_s": 1.0 / batched.as_secs_f64(),
        "separation_realtime_factor": seconds / sep.as_secs_f64(),
        "accompaniment_realtime_factor": seconds / acc.as_secs_f64(),
        "audio_seconds": seconds,
    });
    if cli.json {
        println!("{summary}");
    } else {
        println!("machine: {cpu}, {} ORT threads, {}", threads, model.provider);
        println!("model: {} ({} rows of {:.2} s per evaluation)", m.name, rows, t as f64 / f64::from(m.sample_rate));
        println!(
            "one batched evaluation ({rows} rows): {:.4} s -> {:.2} evaluations/s",
            batched.as_secs_f64(),
            1.0 / batched.as_secs_f64()
        );
        println!(
            "{rows} single-row evaluations: {:.4} s -> batching is {:.2}x faster",
            single.as_secs_f64(),
            single.as_secs_f64() / batched.as_secs_f64()
        );
        println!(
            "separation of {seconds:.1} s (default settings): {:.2} s wall, {:.3}x real time",
            sep.as_secs_f64(),
            seconds / sep.as_secs_f64()
        );
        println!(
            "accompaniment of {seconds:.1} s (default settings): {:.2} s wall, {:.3}x real time",
            acc.as_secs_f64(),
            seconds / acc.as_secs_f64()
        );
    }
    Ok(())
}
