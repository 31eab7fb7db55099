//! Command-line arguments.

use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches, Parser, Subcommand};
use gmsdi_engine::settings::{Overrides, Spec, SETTINGS};

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
    /// Run the model's full-precision denoiser on the CPU too, not its
    /// `denoiser_cpu` (the shipped model's int8 one).
    #[arg(long, global = true)]
    pub full_precision: bool,
    /// Print a machine-readable JSON summary on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// File format of the results: 32-bit float WAV, or 16-bit FLAC (dithered; samples beyond ±1 clip).
    #[arg(long, global = true, value_enum, default_value_t = Format::Wav)]
    pub format: Format,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// File format of the results.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// 32-bit float WAV.
    Wav,
    /// 16-bit FLAC.
    Flac,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Split a mix into stems: writes OUT/<stem>.wav at the mix's rate and channel count.
    Separate {
        /// The mix (WAV, FLAC, MP3, OGG/Vorbis or AIFF).
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
        /// The mix (WAV, FLAC, MP3, OGG/Vorbis or AIFF).
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
        /// A given source as LABEL=FILE (WAV, FLAC, MP3, OGG/Vorbis or AIFF; label: a stem name or a free-text description); repeatable.
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
        /// Audio to separate for the timings (WAV, FLAC, MP3, OGG/Vorbis or AIFF; its first --seconds; default: stereo noise at 44.1 kHz).
        #[arg(long)]
        input: Option<PathBuf>,
    },
    /// Show the model's name, rate, stems and defaults.
    Info,
}

/// Evaluations.
#[derive(Subcommand, Debug)]
pub enum EvalCommand {
    /// SI-SDRi per stem by the MSDM protocol on folders of `mix.wav` + `<stem>.wav` (or .flac, .aiff, .aif, .ogg, .mp3).
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

/// Settings shared by every task: one flag per setting of the engine's
/// vocabulary ([`SETTINGS`], `--key-with-dashes VALUE`, checked by the
/// setting itself), plus prompt overrides.
#[derive(Debug, Clone, Default)]
pub struct SettingArgs {
    /// The settings given on the command line, by key, as typed.
    pub given: Vec<(&'static Spec, String)>,
    /// Prompt for a stem as STEM=TEXT.
    pub prompts: Vec<String>,
    /// Negative prompt for a stem as STEM=TEXT.
    pub negatives: Vec<String>,
}

/// The flag of a setting: its key with dashes.
fn flag(spec: &Spec) -> String {
    spec.key.replace('_', "-")
}

impl Args for SettingArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        let cmd = SETTINGS.iter().fold(cmd, |cmd, spec| {
            cmd.arg(Arg::new(spec.key).long(flag(spec)).value_name(spec.key.to_uppercase()).help(format!(
                "{} ({})",
                spec.doc,
                spec.rule()
            )))
        });
        cmd.arg(
            Arg::new("prompt")
                .long("prompt")
                .value_name("STEM=TEXT")
                .action(ArgAction::Append)
                .help("Prompt for a stem as STEM=TEXT; repeatable"),
        )
        .arg(
            Arg::new("negative")
                .long("negative")
                .value_name("STEM=TEXT")
                .action(ArgAction::Append)
                .help("Negative prompt for a stem as STEM=TEXT (\"\" for none); repeatable"),
        )
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl SettingArgs {
    /// The given settings, each checked by its declaration; a refusal names the flag.
    pub fn overrides(&self) -> Result<Overrides, String> {
        let mut overrides = Overrides::default();
        for (spec, text) in &self.given {
            overrides.set_text(spec.key, text).map_err(|e| format!("--{}: {e}", flag(spec)))?;
        }
        Ok(overrides)
    }
}

impl FromArgMatches for SettingArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let given = SETTINGS.iter().filter_map(|s| matches.get_one::<String>(s.key).map(|v| (s, v.clone())));
        let texts = |id: &str| matches.get_many::<String>(id).map(|v| v.cloned().collect()).unwrap_or_default();
        Ok(SettingArgs { given: given.collect(), prompts: texts("prompt"), negatives: texts("negative") })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

/// Splits `KEY=VALUE`.
pub fn key_value(s: &str, what: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("{what} must look like NAME=VALUE, got \"{s}\""))
}
