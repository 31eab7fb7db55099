//! One job's settings, resolved: the caller's override, else the model's
//! default for the task, else the engine's fallback (see [`super::SETTINGS`]).

use super::{spec, Accompaniment, Method, Overrides, TaskKind, Value};
use crate::error::Result;
use crate::manifest::Manifest;
use crate::sampler::Sampler;

/// Fully resolved settings of one job.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Sampler steps.
    pub steps: usize,
    /// Separations averaged per window.
    pub passes: usize,
    /// Guidance scale.
    pub w: f32,
    /// Guidance scale of the given tracks (models with a context input).
    pub context_w: f32,
    /// Strength (0–1) of the guidance by the given tracks' harmony.
    pub chord_w: f32,
    /// Guidance only at σ at or above this.
    pub guidance_min_sigma: f32,
    /// Guidance only at σ at or below this (0: no upper limit).
    pub guidance_max_sigma: f32,
    /// The sampler.
    pub sampler: Sampler,
    /// Karras ρ.
    pub rho: f32,
    /// Relative γ of the sources.
    pub gamma_sources: Option<f32>,
    /// Relative γ of the mixture.
    pub gamma_mix: Option<f32>,
    /// α of eq. 12.
    pub alpha: f32,
    /// β of eq. 12.
    pub beta: f32,
    /// Separation method.
    pub method: Method,
    /// How accompaniment hears the given tracks (a job records here what
    /// `auto` became).
    pub accompaniment: Accompaniment,
    /// Constrained stem (None: the job picks the last stem).
    pub constrained: Option<String>,
    /// Use the stems' negative prompts.
    pub negative_prompts: bool,
    /// Separation: split the mixture by the estimates' power ([`crate::wiener`]).
    pub wiener: bool,
    /// On the CPU, run the model's `denoiser_cpu` (if it has one).
    pub cpu_denoiser: bool,
    /// Random seed.
    pub seed: u64,
}

/// The layers one value is looked up in, first to last.
struct Layers<'a> {
    kind: TaskKind,
    caller: &'a Overrides,
    model: &'a Overrides,
}

impl Layers<'_> {
    fn value(&self, key: &str) -> Option<Value> {
        self.caller.get(key).cloned().or_else(|| default_value(self.kind, self.model, key))
    }
    fn count(&self, key: &str) -> usize {
        match self.value(key) {
            Some(Value::Count(n)) => n,
            _ => 1,
        }
    }
    fn number(&self, key: &str) -> f32 {
        match self.value(key) {
            Some(Value::Number(x)) => x,
            _ => 1.0,
        }
    }
    fn width(&self, key: &str) -> Option<f32> {
        match self.value(key) {
            Some(Value::Width(w)) => w,
            _ => Some(1.0),
        }
    }
    fn switch(&self, key: &str) -> bool {
        matches!(self.value(key), Some(Value::Switch(true)))
    }
    fn name(&self, key: &str) -> Option<String> {
        match self.value(key) {
            Some(Value::Name(s)) => Some(s),
            _ => None,
        }
    }
}

/// The value `key` takes for a task when the caller sets nothing: the
/// model's default (`model`), else the engine's fallback.
pub fn default_value(kind: TaskKind, model: &Overrides, key: &str) -> Option<Value> {
    model.get(key).cloned().or_else(|| spec(key).and_then(|s| (s.fallback)(kind)))
}

impl Settings {
    /// Resolves settings for a task: caller > model defaults > engine fallbacks.
    /// Every value was checked when it was set, so this cannot refuse one.
    pub fn resolve(kind: TaskKind, manifest: &Manifest, caller: &Overrides) -> Result<Settings> {
        let layers = Layers { kind, caller, model: manifest.task_defaults(kind) };
        let sampler = match layers.name("sampler").as_deref() {
            Some("adpm2") => Sampler::Adpm2,
            Some("dpmpp2m") => Sampler::DpmPp2m,
            _ => Sampler::Euler { s_churn: layers.number("s_churn"), resamples: layers.count("resamples") },
        };
        let method = match kind {
            TaskKind::Extract => Method::Extractor,
            _ => layers.name("method").and_then(|m| Method::from_name(&m)).unwrap_or(Method::Separator),
        };
        Ok(Settings {
            steps: layers.count("steps"),
            passes: layers.count("passes"),
            w: layers.number("w"),
            context_w: layers.number("context_w"),
            chord_w: layers.number("chord_w"),
            guidance_min_sigma: layers.number("guidance_min_sigma"),
            guidance_max_sigma: layers.number("guidance_max_sigma"),
            sampler,
            rho: 7.0,
            gamma_sources: layers.width("gamma_sources"),
            gamma_mix: layers.width("gamma_mix"),
            alpha: layers.number("alpha"),
            beta: layers.number("beta"),
            method,
            accompaniment: layers
                .name("accompaniment")
                .and_then(|m| Accompaniment::from_name(&m))
                .unwrap_or(Accompaniment::Auto),
            constrained: layers.name("constrained"),
            negative_prompts: layers.switch("negative_prompts"),
            wiener: layers.switch("wiener"),
            cpu_denoiser: layers.switch("cpu_denoiser"),
            seed: match layers.value("seed") {
                Some(Value::Seed(n)) => n,
                _ => 0,
            },
        })
    }
}

/// Every setting a job ran with, in words, so that it can be reproduced.
impl std::fmt::Display for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sampler = match self.sampler {
            Sampler::Euler { s_churn, resamples } => format!("euler (churn {s_churn}, resamples {resamples})"),
            other => other.name().to_string(),
        };
        let gamma = |g: Option<f32>| g.map_or("inf".to_string(), |g| g.to_string());
        let on = |b: bool| if b { "on" } else { "off" };
        write!(
            f,
            "steps {}, passes {}, w {} (from σ {} to {}), {sampler}, rho {}, gamma sources {} mix {}, alpha {}, beta {}, method {}{}, \
             accompaniment {} (context w {}, chords {}), negative prompts {}, Wiener filter {}, CPU denoiser {}, seed {}",
            self.steps,
            self.passes,
            self.w,
            self.guidance_min_sigma,
            if self.guidance_max_sigma > 0.0 { self.guidance_max_sigma.to_string() } else { "any".into() },
            self.rho,
            gamma(self.gamma_sources),
            gamma(self.gamma_mix),
            self.alpha,
            self.beta,
            self.method.name(),
            self.constrained.as_ref().map_or(String::new(), |c| format!(" (constrained {c})")),
            self.accompaniment.name(),
            self.context_w,
            self.chord_w,
            on(self.negative_prompts),
            on(self.wiener),
            on(self.cpu_denoiser),
            self.seed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::Sampler;

    fn fixture() -> Manifest {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/fixtures/gaussian");
        Manifest::load(&dir).expect("the fixture model's manifest")
    }

    #[test]
    fn every_sampler_name_resolves_to_that_sampler() {
        let manifest = fixture();
        for name in Sampler::NAMES {
            let o = Overrides::default().with("sampler", Value::Name(name.into())).unwrap();
            let s = Settings::resolve(TaskKind::Separate, &manifest, &o).unwrap();
            assert_eq!(s.sampler.name(), name);
        }
        let err = Overrides::default().with("sampler", Value::Name("heun".into())).unwrap_err().to_string();
        assert!(err.contains("\"heun\"") && Sampler::NAMES.iter().all(|n| err.contains(n)), "{err}");
    }

    #[test]
    fn caller_then_model_then_fallback() {
        let mut manifest = fixture();
        manifest.defaults.accompany = Overrides::default().with("steps", Value::Count(12)).unwrap();
        let plain = Settings::resolve(TaskKind::Accompany, &manifest, &Overrides::default()).unwrap();
        assert_eq!((plain.steps, plain.gamma_mix, plain.sampler), (12, Some(0.3), Sampler::Adpm2));
        let caller = Overrides::default().with("steps", Value::Count(4)).unwrap();
        assert_eq!(Settings::resolve(TaskKind::Accompany, &manifest, &caller).unwrap().steps, 4);
        let extract = Settings::resolve(TaskKind::Extract, &manifest, &Overrides::default()).unwrap();
        assert_eq!((extract.w, extract.method, extract.steps), (7.5, Method::Extractor, 50));
        assert_eq!(Settings::resolve(TaskKind::Generate, &manifest, &caller).unwrap().gamma_mix, None);
    }

    #[test]
    fn every_fallback_is_a_value_its_setting_accepts() {
        for spec in super::super::SETTINGS {
            for kind in TaskKind::ALL {
                if let Some(v) = (spec.fallback)(kind) {
                    assert_eq!(spec.check(v.clone()), Ok(v), "{} for {}", spec.key, kind.name());
                }
            }
        }
    }

    #[test]
    fn every_task_kind_resolves_its_engine_fallbacks() {
        let manifest = fixture();
        for kind in TaskKind::ALL {
            let s = Settings::resolve(kind, &manifest, &Overrides::default()).unwrap();
            let name = kind.name();
            let separates = matches!(kind, TaskKind::Separate | TaskKind::Extract);
            assert_eq!(s.steps, 50, "{name}");
            assert_eq!(s.w, if kind == TaskKind::Extract { 7.5 } else { 3.0 }, "{name}");
            assert_eq!((s.guidance_min_sigma, s.guidance_max_sigma), (0.0, 0.0), "{name}");
            let sampler = if separates { Sampler::Euler { s_churn: 20.0, resamples: 1 } } else { Sampler::Adpm2 };
            assert_eq!(s.sampler, sampler, "{name}");
            let gamma_mix = match kind {
                TaskKind::Accompany => Some(0.3),
                TaskKind::Generate => None,
                _ => Some(1.0),
            };
            assert_eq!((s.gamma_sources, s.gamma_mix), (Some(1.0), gamma_mix), "{name}");
            assert_eq!((s.alpha, s.beta), (1.0, 1.0), "{name}");
            let method = if kind == TaskKind::Extract { Method::Extractor } else { Method::Separator };
            assert_eq!((s.method, s.constrained.as_deref()), (method, None), "{name}");
            assert_eq!(s.negative_prompts, kind != TaskKind::Separate, "negative prompts off only to separate: {name}");
            assert_eq!((s.wiener, s.seed), (false, 0), "{name}");
        }
    }

    #[test]
    fn for_every_task_kind_a_model_default_beats_the_fallback_and_the_caller_beats_both() {
        for kind in TaskKind::ALL {
            let mut manifest = fixture();
            let model = Overrides::default()
                .with("w", Value::Number(5.0))
                .and_then(|o| o.with("s_churn", Value::Number(4.0)))
                .and_then(|o| o.with("sampler", Value::Name("euler".into())))
                .and_then(|o| o.with("negative_prompts", Value::Switch(kind == TaskKind::Separate)))
                .unwrap();
            match kind {
                TaskKind::Separate => manifest.defaults.separate = model,
                TaskKind::Extract => manifest.defaults.extract = model,
                TaskKind::Accompany => manifest.defaults.accompany = model,
                TaskKind::Generate => manifest.defaults.generate = model,
            }
            let name = kind.name();
            let s = Settings::resolve(kind, &manifest, &Overrides::default()).unwrap();
            assert_eq!((s.w, s.steps), (5.0, 50), "{name}: the model's w, the fallback's steps");
            assert_eq!(s.sampler, Sampler::Euler { s_churn: 4.0, resamples: 1 }, "{name}");
            assert_eq!(s.negative_prompts, kind == TaskKind::Separate, "{name}");
            let caller = Overrides::default()
                .with("w", Value::Number(2.0))
                .and_then(|o| o.with("negative_prompts", Value::Switch(kind != TaskKind::Separate)))
                .and_then(|o| o.with("gamma_mix", Value::Width(Some(0.7))))
                .unwrap();
            let s = Settings::resolve(kind, &manifest, &caller).unwrap();
            assert_eq!((s.w, s.gamma_mix), (2.0, Some(0.7)), "{name}");
            assert_eq!(s.negative_prompts, kind != TaskKind::Separate, "{name}");
            assert_eq!(s.sampler, Sampler::Euler { s_churn: 4.0, resamples: 1 }, "{name}: the model's, still");
            // Another task's model defaults do not apply.
            let other = TaskKind::ALL.into_iter().find(|&k| k != kind).unwrap();
            assert_ne!(Settings::resolve(other, &manifest, &Overrides::default()).unwrap().w, 5.0, "{name}");
        }
    }

    #[test]
    fn the_settings_in_words_name_every_value_and_keep_the_seed() {
        let caller = Overrides::default()
            .with("seed", Value::Seed(42))
            .and_then(|o| o.with("constrained", Value::Name("drums".into())))
            .unwrap();
        let s = Settings::resolve(TaskKind::Separate, &fixture(), &caller).unwrap();
        assert_eq!(s.seed, 42);
        assert_eq!(
            s.to_string(),
            "steps 50, passes 1, w 3 (from σ 0 to any), euler (churn 20, resamples 1), rho 7, gamma sources 1 mix 1, \
             alpha 1, beta 1, method separator (constrained drums), accompaniment auto (context w 0, chords 1), negative prompts off, \
             Wiener filter off, CPU denoiser on, seed 42"
        );
    }

    #[test]
    fn extract_always_runs_the_extractor() {
        let mut manifest = fixture();
        manifest.defaults.extract = Overrides::default().with("method", Value::Name("ensemble".into())).unwrap();
        manifest.defaults.separate = Overrides::default().with("method", Value::Name("ensemble".into())).unwrap();
        let caller = Overrides::default().with("method", Value::Name("separator".into())).unwrap();
        assert_eq!(Settings::resolve(TaskKind::Extract, &manifest, &caller).unwrap().method, Method::Extractor);
        let extract = Settings::resolve(TaskKind::Extract, &manifest, &Overrides::default()).unwrap();
        assert_eq!(extract.method, Method::Extractor);
        // Separation takes the model's method, then the caller's.
        let separate = Settings::resolve(TaskKind::Separate, &manifest, &Overrides::default()).unwrap();
        assert_eq!(separate.method, Method::Ensemble);
        assert_eq!(Settings::resolve(TaskKind::Separate, &manifest, &caller).unwrap().method, Method::Separator);
    }

    #[test]
    fn out_of_range_values_are_refused_when_set() {
        for w in [-0.5, f32::NAN, f32::INFINITY, 100.5] {
            assert!(Overrides::default().with("w", Value::Number(w)).is_err(), "w = {w}");
        }
        for w in [0.0, 100.0] {
            assert!(Overrides::default().with("w", Value::Number(w)).is_ok(), "w = {w}");
        }
        for steps in [0, 1, 10_001] {
            assert!(Overrides::default().with("steps", Value::Count(steps)).is_err(), "steps = {steps}");
        }
        for steps in [2, 10_000] {
            assert!(Overrides::default().with("steps", Value::Count(steps)).is_ok(), "steps = {steps}");
        }
        for g in [0.0, -1.0, f32::NAN, 100.5] {
            assert!(Overrides::default().with("gamma_mix", Value::Width(Some(g))).is_err(), "gamma_mix = {g}");
        }
        assert!(Overrides::default().with("gamma_mix", Value::Width(None)).is_ok());
        assert!(Overrides::default().with("method", Value::Name("mixer".into())).is_err());
    }
}
