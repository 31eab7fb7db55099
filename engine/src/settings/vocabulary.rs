//! Every job setting, declared once: its key (the JSON key, the CLI flag
//! `--key-with-dashes`), label, doc text, range, the tasks it matters for
//! and the engine's fallback when neither the user nor the model sets it.
//!
//! To add a setting: add a [`Spec`] here, read it in
//! [`super::Settings::resolve`], and use it in the job. The CLI flag, the
//! plugin's state and the editor's row follow from the declaration.

use super::{Accompaniment, Method, TaskKind, Value};
use crate::sampler::Sampler;

/// What values a setting takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// A whole number from `min` to `max`.
    Count {
        /// Smallest value.
        min: usize,
        /// Largest value.
        max: usize,
    },
    /// A real number from `min` to `max`.
    Number {
        /// Smallest value.
        min: f32,
        /// Largest value.
        max: f32,
    },
    /// A positive width relative to σ up to `max`, or ∞ ("inf": no constraint).
    Width {
        /// Largest finite value.
        max: f32,
    },
    /// On or off.
    Switch,
    /// One of these names.
    Choice(&'static [&'static str]),
    /// A stem name of the model.
    Stem,
    /// A random seed (any whole number from 0 to 2^64 − 1).
    Seed,
}

/// One setting's declaration.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// Key in JSON (model defaults, plugin state) and, with dashes, the CLI flag.
    pub key: &'static str,
    /// Older names still read (`model.json` and saved projects).
    pub aliases: &'static [&'static str],
    /// Short label for the editor and messages.
    pub label: &'static str,
    /// What it does, for `--help` and the editor's tooltip.
    pub doc: &'static str,
    /// The values it takes.
    pub kind: Kind,
    /// Tasks it changes anything for.
    pub tasks: &'static [TaskKind],
    /// Whether the editor shows it only under "Advanced".
    pub advanced: bool,
    /// The engine's value when neither the user nor the model sets it
    /// (`None`: unset, the job decides).
    pub fallback: fn(TaskKind) -> Option<Value>,
}

const ALL: &[TaskKind] = &TaskKind::ALL;
const SEPARATING: &[TaskKind] = &[TaskKind::Separate, TaskKind::Extract];
const GENERATING: &[TaskKind] = &[TaskKind::Accompany, TaskKind::Generate];

/// Every setting, in the order the CLI's help and the editor list them.
pub const SETTINGS: &[Spec] = &[
    Spec {
        key: "steps",
        aliases: &[],
        label: "Steps",
        doc: "Sampler steps (noise levels): more is slower and usually cleaner",
        kind: Kind::Count { min: 2, max: 10_000 },
        tasks: ALL,
        advanced: false,
        fallback: |_| Some(Value::Count(50)),
    },
    Spec {
        key: "passes",
        aliases: &[],
        label: "Passes",
        doc: "Separations averaged per window: each pass separates again from fresh noise and the results are \
              averaged, which leaves less of each pass's own errors; each pass costs as much as the first",
        kind: Kind::Count { min: 1, max: 16 },
        tasks: SEPARATING,
        advanced: false,
        fallback: |_| Some(Value::Count(1)),
    },
    Spec {
        key: "w",
        aliases: &[],
        label: "Guidance w",
        doc: "Classifier-free guidance scale: how strongly the prompts steer the result (0 = off)",
        kind: Kind::Number { min: 0.0, max: 100.0 },
        tasks: ALL,
        advanced: false,
        fallback: |kind| Some(Value::Number(if kind == TaskKind::Extract { 7.5 } else { 3.0 })),
    },
    Spec {
        key: "guidance_min_sigma",
        aliases: &[],
        label: "Guidance from σ",
        doc: "Guide only at noise levels σ at or above this (0: at every step); below it a step costs one \
              network evaluation instead of two",
        kind: Kind::Number { min: 0.0, max: 100.0 },
        tasks: ALL,
        advanced: true,
        fallback: |_| Some(Value::Number(0.0)),
    },
    Spec {
        key: "guidance_max_sigma",
        aliases: &[],
        label: "Guidance up to σ",
        doc: "Guide only at noise levels σ at or below this (0: no upper limit); above it a step costs one \
              network evaluation instead of two",
        kind: Kind::Number { min: 0.0, max: 100.0 },
        tasks: ALL,
        advanced: true,
        fallback: |_| Some(Value::Number(0.0)),
    },
    Spec {
        key: "sampler",
        aliases: &[],
        label: "Sampler",
        doc: "ADPM2 for generation; Euler with churn or the deterministic DPM-Solver++(2M) for separation",
        kind: Kind::Choice(&Sampler::NAMES),
        tasks: ALL,
        advanced: false,
        fallback: |kind| Some(Value::Name(if kind.separates() { "euler" } else { "adpm2" }.into())),
    },
    Spec {
        key: "seed",
        aliases: &[],
        label: "Seed",
        doc: "Random seed: the same seed, input and settings give the same result",
        kind: Kind::Seed,
        tasks: ALL,
        advanced: false,
        fallback: |_| Some(Value::Seed(0)),
    },
    Spec {
        key: "cpu_denoiser",
        aliases: &[],
        label: "CPU denoiser",
        doc: "On the CPU, run the model's CPU denoiser (`denoiser_cpu`, the shipped model's int8 one: about 1.5 \
              times as fast); off runs its full-precision denoiser. GPUs always run the full-precision one",
        kind: Kind::Switch,
        tasks: ALL,
        advanced: true,
        fallback: |_| Some(Value::Switch(true)),
    },
    Spec {
        key: "method",
        aliases: &[],
        label: "Method",
        doc: "Separation method: separator (stems add up to the mix), extractor (each stem on its own) or \
              ensemble (separator for the constrained stem, extractor for the others)",
        kind: Kind::Choice(&Method::NAMES),
        tasks: &[TaskKind::Separate],
        advanced: false,
        fallback: |kind| Some(Value::Name(if kind == TaskKind::Extract { "extractor" } else { "separator" }.into())),
    },
    Spec {
        key: "constrained",
        aliases: &[],
        label: "Constrained stem",
        doc: "The separator's stem that takes whatever the others leave (default: the model's, else the last stem)",
        kind: Kind::Stem,
        tasks: &[TaskKind::Separate],
        advanced: false,
        fallback: |_| None,
    },
    Spec {
        key: "wiener",
        aliases: &[],
        label: "Wiener filter",
        doc: "Split the mix by each stem's estimated power: less hiss, the stems add up to the whole mix, \
              and the model hears a stereo mix once (its mid), so it runs twice as fast",
        kind: Kind::Switch,
        tasks: SEPARATING,
        advanced: false,
        fallback: |_| Some(Value::Switch(false)),
    },
    Spec {
        key: "negative_prompts",
        aliases: &[],
        label: "Negative prompts",
        doc: "Steer away from each stem's negative prompt",
        kind: Kind::Switch,
        tasks: ALL,
        advanced: false,
        fallback: |kind| Some(Value::Switch(kind != TaskKind::Separate)),
    },
    Spec {
        key: "accompaniment",
        aliases: &[],
        label: "Hear the given tracks by",
        doc: "context: the model hears the given tracks through its context input (models that have one); \
              mixture: eq. 12, coupled through the mixture's prior; auto: context where the model has it",
        kind: Kind::Choice(&Accompaniment::NAMES),
        tasks: &[TaskKind::Accompany],
        advanced: false,
        fallback: |_| Some(Value::Name("auto".into())),
    },
    Spec {
        key: "context_w",
        aliases: &[],
        label: "Follow the given tracks",
        doc: "Guidance by the given tracks (context accompaniment): how much more the result follows them than \
              the model alone would (0 = off; on, each guided step runs half as many rows again)",
        kind: Kind::Number { min: 0.0, max: 100.0 },
        tasks: &[TaskKind::Accompany],
        advanced: false,
        fallback: |_| Some(Value::Number(0.0)),
    },
    Spec {
        key: "chord_w",
        aliases: &[],
        label: "Stick to the chords",
        doc: "Guidance by the given tracks' harmony (accompaniment): while the notes are decided, the generated \
              stems lean toward the pitch classes the given tracks play (0 = off, 1 = only those)",
        kind: Kind::Number { min: 0.0, max: 1.0 },
        tasks: &[TaskKind::Accompany],
        advanced: false,
        fallback: |_| Some(Value::Number(1.0)),
    },
    Spec {
        key: "gamma_sources",
        aliases: &["gamma"],
        label: "γ (sources)",
        doc: "Noise of the generated sources' likelihood relative to σ (\"inf\": none)",
        kind: Kind::Width { max: 100.0 },
        tasks: GENERATING,
        advanced: true,
        fallback: |_| Some(Value::Width(Some(1.0))),
    },
    Spec {
        key: "gamma_mix",
        aliases: &[],
        label: "γ (mixture)",
        doc: "Noise of the mixture's likelihood relative to σ (\"inf\": none); small ties the result to the given sources",
        kind: Kind::Width { max: 100.0 },
        tasks: GENERATING,
        advanced: true,
        // Accompaniment ties the mixture tightly to the given sources plus the
        // generated ones: with γ_y = γ_x the generated stem took the mixture's
        // shortfall and came out as the given guitar inverted (correlation
        // −0.77 with it on validation songs); with γ_y = 0.3σ it does not (0.00).
        fallback: |kind| {
            Some(Value::Width(match kind {
                TaskKind::Generate => None,
                TaskKind::Accompany => Some(0.3),
                _ => Some(1.0),
            }))
        },
    },
    Spec {
        key: "alpha",
        aliases: &[],
        label: "α (given sources)",
        doc: "Scale α of the given sources in the mixture (accompaniment)",
        kind: Kind::Number { min: 0.0, max: 10.0 },
        tasks: &[TaskKind::Accompany],
        advanced: true,
        fallback: |_| Some(Value::Number(1.0)),
    },
    Spec {
        key: "beta",
        aliases: &[],
        label: "β (generated)",
        doc: "Scale β of the generated sources in the mixture (accompaniment)",
        kind: Kind::Number { min: 0.0, max: 10.0 },
        tasks: &[TaskKind::Accompany],
        advanced: true,
        fallback: |_| Some(Value::Number(1.0)),
    },
    Spec {
        key: "s_churn",
        aliases: &[],
        label: "Euler churn",
        doc: "Noise the Euler sampler adds back at each step (0: deterministic)",
        kind: Kind::Number { min: 0.0, max: 100.0 },
        tasks: ALL,
        advanced: true,
        fallback: |_| Some(Value::Number(20.0)),
    },
    Spec {
        key: "resamples",
        aliases: &[],
        label: "Euler resamples",
        doc: "Euler evaluations per step",
        kind: Kind::Count { min: 1, max: 16 },
        tasks: ALL,
        advanced: true,
        fallback: |_| Some(Value::Count(1)),
    },
];

/// The declaration of `key` (or of an alias of it).
pub fn spec(key: &str) -> Option<&'static Spec> {
    SETTINGS.iter().find(|s| s.key == key || s.aliases.contains(&key))
}

/// Every key, comma separated (for messages).
pub fn known_keys() -> String {
    SETTINGS.iter().map(|s| s.key).collect::<Vec<_>>().join(", ")
}
