//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use gmsdi_engine::settings::{Method, Overrides};

/// GMSDI: generate and separate music stems with a text-conditioned diffusion model.
#[derive(Parser, Debug)]
#[command(name = "gmsdi", version, about)]
pub struct Cli {
    /// Model folder (default: $GMSDI_MODEL, else the shipped models/default, else the test fixture).
    #[arg(long, global = true)]
    pub model: Option<PathBuf>,
    /// Execution provider: cpu, cuda or directml (falls back to cpu with a warning).
    #[arg(long, global = true, default_value = "cpu")]
    pub provider: String,
    /// ONNX Runtime intra-op threads (default: every core).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// Print a machine-readable JSON summary on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Split a mix into stems: writes OUT/<stem>.wav at the mix's rate and channel count.
    Separate {
        /// The mix (WAV).
        mix: PathBuf,
        /// Stems in the mix, comma separated (at least two).
        #[arg(long, value_delimiter = ',', required = true)]
        stems: Vec<String>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Sampling settings.
        #[command(flatten)]
        settings: SettingArgs,
    },
    /// Extract stems from a mix, each against all the model's other stems.
    Extract {
        /// The mix (WAV).
        mix: PathBuf,
        /// Stem(s) to extract, comma separated or repeated.
        #[arg(long, value_delimiter = ',', required = true)]
        stem: Vec<String>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Sampling settings.
        #[command(flatten)]
        settings: SettingArgs,
    },
    /// Generate stems under given sources: writes OUT/<stem>.wav aligned with and as long as the sources.
    Accompany {
        /// A given source as LABEL=FILE.wav (label: a stem name or a free-text description); repeatable.
        #[arg(long = "source", required = true)]
        sources: Vec<String>,
        /// Stem to generate; repeat for separate stems, comma-join for one sub-mixture (e.g. bass,drums).
        #[arg(long = "generate", required = true)]
        generate: Vec<String>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Sampling settings.
        #[command(flatten)]
        settings: SettingArgs,
    },
    /// Generate stems and their mix from nothing: writes OUT/<stem>.wav and OUT/mix.wav.
    Generate {
        /// Stems to generate, comma separated.
        #[arg(long, value_delimiter = ',', required = true)]
        stems: Vec<String>,
        /// Length in seconds.
        #[arg(long)]
        seconds: f64,
        /// Output sample rate (default: the model's).
        #[arg(long)]
        rate: Option<u32>,
        /// Output channels.
        #[arg(long, default_value_t = 1)]
        channels: usize,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Sampling settings.
        #[command(flatten)]
        settings: SettingArgs,
    },
    /// Evaluate the model.
    Eval {
        /// What to evaluate.
        #[command(subcommand)]
        what: EvalCommand,
    },
    /// Measure speed: evaluations per second, batching, real-time factors.
    Bench {
        /// Length of the audio used for the task timings, in seconds (default: one model window).
        #[arg(long)]
        seconds: Option<f64>,
        /// Sampler steps for the task timings (default: the model's defaults).
        #[arg(long)]
        steps: Option<usize>,
        /// Repetitions of each network timing.
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        /// Audio to separate for the timings (its first --seconds; default: stereo noise at 44.1 kHz).
        #[arg(long)]
        input: Option<PathBuf>,
    },
    /// Show the model's name, rate, stems and defaults.
    Info,
}

/// Evaluations.
#[derive(Subcommand, Debug)]
pub enum EvalCommand {
    /// SI-SDRi per stem by the MSDM protocol on folders of `mix.wav` + `<stem>.wav`.
    Separation {
        /// Folder with one sub-folder per track.
        #[arg(long)]
        data: PathBuf,
        /// Stems to separate (default: the model's stems found in every track).
        #[arg(long, value_delimiter = ',')]
        stems: Vec<String>,
        /// Evaluate at most this many tracks (sorted by name).
        #[arg(long)]
        limit: Option<usize>,
        /// Evaluate only the first this many seconds of each track.
        #[arg(long)]
        max_seconds: Option<f64>,
        /// Sampling settings.
        #[command(flatten)]
        settings: SettingArgs,
    },
}

/// Settings shared by every task.
#[derive(Args, Debug, Clone, Default)]
pub struct SettingArgs {
    /// Separation method: separator, extractor or ensemble.
    #[arg(long)]
    pub method: Option<Method>,
    /// Constrained stem of the separator.
    #[arg(long)]
    pub constrained: Option<String>,
    /// Sampler steps.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Classifier-free guidance scale w.
    #[arg(long)]
    pub w: Option<f32>,
    /// Random seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Sampler: adpm2, euler or dpmpp2m.
    #[arg(long)]
    pub sampler: Option<String>,
    /// Euler churn.
    #[arg(long)]
    pub s_churn: Option<f32>,
    /// Euler evaluations per step.
    #[arg(long)]
    pub resamples: Option<usize>,
    /// γ of the sources relative to σ ("inf" for none).
    #[arg(long)]
    pub gamma_sources: Option<String>,
    /// γ of the mixture relative to σ ("inf" for none).
    #[arg(long)]
    pub gamma_mix: Option<String>,
    /// α: scale of the given sources (accompaniment).
    #[arg(long)]
    pub alpha: Option<f32>,
    /// β: scale of the generated sources (accompaniment).
    #[arg(long)]
    pub beta: Option<f32>,
    /// Use (true) or ignore (false) the stems' negative prompts.
    #[arg(long)]
    pub negative_prompts: Option<bool>,
    /// Separation: split the mix by the stems' estimated power (true) or keep the raw samples (false).
    #[arg(long)]
    pub wiener: Option<bool>,
    /// Prompt for a stem as STEM=TEXT; repeatable.
    #[arg(long = "prompt")]
    pub prompts: Vec<String>,
    /// Negative prompt for a stem as STEM=TEXT ("" for none); repeatable.
    #[arg(long = "negative")]
    pub negatives: Vec<String>,
}

impl SettingArgs {
    /// The settings as engine overrides.
    pub fn overrides(&self) -> Result<Overrides, String> {
        Ok(Overrides {
            steps: self.steps,
            w: self.w,
            s_churn: self.s_churn,
            resamples: self.resamples,
            gamma_sources: self.gamma_sources.as_deref().map(parse_gamma).transpose()?,
            gamma_mix: self.gamma_mix.as_deref().map(parse_gamma).transpose()?,
            alpha: self.alpha,
            beta: self.beta,
            sampler: self.sampler.clone(),
            method: self.method,
            constrained: self.constrained.clone(),
            negative_prompts: self.negative_prompts,
            wiener: self.wiener,
            seed: self.seed,
        })
    }
}

fn parse_gamma(s: &str) -> Result<Option<f32>, String> {
    if matches!(s, "inf" | "infinity" | "∞") {
        return Ok(None);
    }
    match s.parse::<f32>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(Some(v)),
        _ => Err(format!("γ must be a positive number or \"inf\", got \"{s}\"")),
    }
}

/// Splits `KEY=VALUE`.
pub fn key_value(s: &str, what: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("{what} must look like NAME=VALUE, got \"{s}\""))
}
