//! One job's settings, resolved: the caller's override, else the model's
//! default for the task, else the engine's fallback (see [`super::SETTINGS`]).

use super::{spec, Method, Overrides, TaskKind, Value};
use crate::error::Result;
use crate::manifest::Manifest;
use crate::sampler::Sampler;

/// Fully resolved settings of one job.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Sampler steps.
    pub steps: usize,
    /// Guidance scale.
    pub w: f32,
    /// Guidance only at σ at or above this.
    pub guidance_min_sigma: f32,
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
    /// Constrained stem (None: the job picks the last stem).
    pub constrained: Option<String>,
    /// Use the stems' negative prompts.
    pub negative_prompts: bool,
    /// Separation: split the mixture by the estimates' power ([`crate::wiener`]).
    pub wiener: bool,
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
            _ => layers.name("method").and_then(|m| m.parse().ok()).unwrap_or(Method::Separator),
        };
        Ok(Settings {
            steps: layers.count("steps"),
            w: layers.number("w"),
            guidance_min_sigma: layers.number("guidance_min_sigma"),
            sampler,
            rho: 7.0,
            gamma_sources: layers.width("gamma_sources"),
            gamma_mix: layers.width("gamma_mix"),
            alpha: layers.number("alpha"),
            beta: layers.number("beta"),
            method,
            constrained: layers.name("constrained"),
            negative_prompts: layers.switch("negative_prompts"),
            wiener: layers.switch("wiener"),
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
            "steps {}, w {} (from σ {}), {sampler}, rho {}, gamma sources {} mix {}, alpha {}, beta {}, method {}{}, \
             negative prompts {}, Wiener filter {}, seed {}",
            self.steps,
            self.w,
            self.guidance_min_sigma,
            self.rho,
            gamma(self.gamma_sources),
            gamma(self.gamma_mix),
            self.alpha,
            self.beta,
            self.method.name(),
            self.constrained.as_ref().map_or(String::new(), |c| format!(" (constrained {c})")),
            on(self.negative_prompts),
            on(self.wiener),
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
}
