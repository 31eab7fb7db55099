//! Running the task subcommands: load the model, build the job, show
//! progress, write the results, print the summary.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use gmsdi_engine::audio::{read_audio, write_wav};
use gmsdi_engine::flac::write_flac;
use gmsdi_engine::job::{self, Job, JobOutput, Source, Task};
use gmsdi_engine::network::Model;
use gmsdi_engine::progress::{Progress, Tracker};
use gmsdi_engine::runtime::RuntimeOptions;
use gmsdi_engine::EngineError;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::args::{key_value, Cli, Command, Format, SettingArgs};
use crate::model_dir;

/// Why the command failed.
pub enum Failure {
    /// Ctrl-C.
    Cancelled,
    /// Anything else, as one line.
    Error(String),
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Cancelled => Failure::Cancelled,
            other => Failure::Error(other.to_string()),
        }
    }
}

impl From<String> for Failure {
    fn from(e: String) -> Self {
        Failure::Error(e)
    }
}

/// Loads the model the command line asks for.
pub fn load_model(cli: &Cli) -> Result<Model, Failure> {
    load_model_with(cli, cli.threads, cli.full_precision)
}

/// Loads the model the command line asks for, with `threads` ONNX Runtime
/// threads, its full-precision denoiser on the CPU if `full_precision`.
pub fn load_model_with(cli: &Cli, threads: Option<usize>, full_precision: bool) -> Result<Model, Failure> {
    let dir = model_dir::resolve(cli.model.as_deref())?;
    let options = RuntimeOptions { provider: cli.provider.parse()?, threads, search_dir: None, full_precision };
    let model = Model::load(&dir, &options)?;
    if let Some(w) = &model.provider_warning {
        eprintln!("gmsdi: warning: {w}");
    }
    Ok(model)
}

/// Runs a task subcommand (separate, extract, accompany, generate).
pub fn task(cli: &Cli) -> Result<(), Failure> {
    let (task, settings, out) = task_of(&cli.command)?;
    let mut job = Job::new(task);
    apply_settings(&mut job, settings)?;
    prepare_out_dir(out)?;
    let mut model = load_model(cli)?;
    let started = Instant::now();
    let output = run_with_progress(&mut model, &job, !cli.json)?;
    let written = write_outputs(out, &output, cli.format)?;
    for w in &output.warnings {
        eprintln!("gmsdi: warning: {w}");
    }
    if cli.json {
        let outputs: Vec<_> = written
            .iter()
            .zip(&output.stems)
            .map(|(p, (name, a))| json!({"stem": name, "path": p, "seconds": a.seconds(), "rate": a.rate, "channels": a.channel_count()}))
            .collect();
        let summary = json!({
            "task": job.task.kind().name(),
            "model": model.manifest.name,
            "provider": model.provider.to_string(),
            "outputs": outputs,
            "warnings": output.warnings,
            "settings": output.settings.to_string(),
            "evaluations": output.evaluations,
            "wall_seconds": started.elapsed().as_secs_f64(),
        });
        println!("{summary}");
    } else {
        for p in &written {
            eprintln!("wrote {}", p.display());
        }
    }
    Ok(())
}

fn task_of(cmd: &Command) -> Result<(Task, &SettingArgs, &Path), Failure> {
    Ok(match cmd {
        Command::Separate { mix, stems, out, settings } => {
            (Task::Separate { mix: read_audio(mix)?, stems: stems.clone() }, settings, out)
        }
        Command::Extract { mix, stem, out, settings } => {
            (Task::Extract { mix: read_audio(mix)?, stems: stem.clone() }, settings, out)
        }
        Command::Accompany { sources, generate, out, settings } => {
            let sources = sources
                .iter()
                .map(|s| {
                    let (label, file) = key_value(s, "--source")?;
                    Ok(Source { label, audio: read_audio(Path::new(&file))? })
                })
                .collect::<Result<Vec<_>, Failure>>()?;
            let generate = generate.iter().map(|g| g.split(',').map(|s| s.trim().to_string()).collect()).collect();
            (Task::Accompany { sources, generate }, settings, out)
        }
        Command::Generate { stems, seconds, rate, channels, out, settings } => {
            let blocks = stems.iter().map(|s| vec![s.clone()]).collect();
            let rate = rate.unwrap_or(0);
            (Task::Generate { stems: blocks, seconds: *seconds, rate, channels: *channels }, settings, out)
        }
        _ => return Err(Failure::Error("not a task subcommand".into())),
    })
}

/// Applies the settings and prompt overrides of the command line to a job.
pub fn apply_settings(job: &mut Job, settings: &SettingArgs) -> Result<(), Failure> {
    job.overrides = settings.overrides()?;
    for p in &settings.prompts {
        let (k, v) = key_value(p, "--prompt")?;
        job.prompts.insert(k, v);
    }
    for p in &settings.negatives {
        let (k, v) = key_value(p, "--negative")?;
        job.negatives.insert(k, v);
    }
    Ok(())
}

/// Runs a job with a progress bar on stderr and Ctrl-C cancelling it.
pub fn run_with_progress(model: &mut Model, job: &Job, show: bool) -> Result<JobOutput, Failure> {
    let mut job = job.clone();
    if let Task::Generate { rate, .. } = &mut job.task {
        if *rate == 0 {
            *rate = model.manifest.sample_rate;
        }
    }
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    // A second handler registration fails (e.g. eval runs many jobs); the first one stays active.
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed));
    let bar = if show { ProgressBar::new(1) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {bar:40} {pos}/{len} evaluations, {elapsed} elapsed, ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let b = bar.clone();
    let report = Box::new(move |p: &Progress| {
        b.set_length(p.total as u64);
        b.set_position(p.step as u64);
    });
    let mut tracker = Tracker::new(1, cancel, report);
    let result = job::run(model, &job, &mut tracker);
    bar.finish_and_clear();
    Ok(result?)
}

fn prepare_out_dir(out: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create output folder {}: {e}", out.display()))?;
    let probe = tempfile::Builder::new().prefix(".gmsdi-probe").tempfile_in(out);
    probe.map(drop).map_err(|e| Failure::Error(format!("output folder {} is not writable: {e}", out.display())))
}

/// Writes each result as OUT/<name>.wav (or .flac); on failure removes
/// what this call wrote. Warns when FLAC clipped samples beyond ±1.
fn write_outputs(out: &Path, output: &JobOutput, format: Format) -> Result<Vec<PathBuf>, Failure> {
    let mut written = Vec::new();
    for (name, audio) in &output.stems {
        let path = out.join(format!("{name}.{}", if format == Format::Flac { "flac" } else { "wav" }));
        let result = match format {
            Format::Wav => write_wav(&path, audio),
            Format::Flac => write_flac(&path, audio).map(|clipped| {
                if clipped > 0 {
                    eprintln!("warning: {}: {clipped} samples beyond ±1 clipped (WAV keeps them)", path.display());
                }
            }),
        };
        if let Err(e) = result {
            for p in &written {
                let _ = std::fs::remove_file(p);
            }
            return Err(e.into());
        }
        written.push(path);
    }
    Ok(written)
}

/// `gmsdi info`: the model's description as JSON.
pub fn info(cli: &Cli) -> Result<(), Failure> {
    let model = load_model(cli)?;
    let m = &model.manifest;
    let stems: Vec<_> =
        m.stems.iter().map(|(k, v)| json!({"stem": k, "prompt": v.prompt, "negative": v.negative})).collect();
    let summary = json!({
        "name": m.name, "version": m.version, "folder": model.dir, "sample_rate": m.sample_rate, "channels": m.channels,
        "window_seconds": m.window as f64 / f64::from(m.sample_rate), "stems": stems, "provider": model.provider.to_string(),
        "denoiser": model.denoiser_file, "onnxruntime": gmsdi_engine::runtime::loaded_library(),
    });
    println!("{}", serde_json::to_string_pretty(&summary).unwrap_or_default());
    Ok(())
}
