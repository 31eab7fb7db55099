//! Job settings: engine fallbacks, overridden by the model's `defaults`,
//! overridden by what the caller asks for.

use crate::error::{EngineError, Result};
use crate::manifest::{Manifest, TaskDefaults};
use crate::sampler::Sampler;

/// The four kinds of task, by their names in `model.json` `defaults`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskKind {
    /// Separate a mixture into stems.
    Separate,
    /// Extract stems one by one from a mixture.
    Extract,
    /// Generate stems under given sources.
    Accompany,
    /// Generate all stems from nothing.
    Generate,
}

impl TaskKind {
    /// Name used in `model.json` `defaults`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Separate => "separate",
            Self::Extract => "extract",
            Self::Accompany => "accompany",
            Self::Generate => "generate",
        }
    }
}

/// A separation method (docs/method.md §2: eq. 13 and 14 of the paper).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Dirac separator with one constrained stem (eq. 13).
    Separator,
    /// One extractor per stem (eq. 14).
    Extractor,
    /// Separator for some stems (by default drums), extractor for the others.
    Ensemble,
}

impl std::str::FromStr for Method {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "separator" => Ok(Self::Separator),
            "extractor" => Ok(Self::Extractor),
            "ensemble" => Ok(Self::Ensemble),
            _ => Err(EngineError::Input(format!("unknown method \"{s}\"; use separator, extractor or ensemble"))),
        }
    }
}

/// Settings the caller may set; `None` keeps the model's or engine's default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// Sampler steps (noise levels).
    pub steps: Option<usize>,
    /// Guidance scale w.
    pub w: Option<f32>,
    /// Euler churn.
    pub s_churn: Option<f32>,
    /// Euler evaluations per step.
    pub resamples: Option<usize>,
    /// Relative γ of the sources (γ = c·σ); `Some(None)` = ∞.
    pub gamma_sources: Option<Option<f32>>,
    /// Relative γ of the mixture; `Some(None)` = ∞.
    pub gamma_mix: Option<Option<f32>>,
    /// Scale α of the known sources (accompaniment).
    pub alpha: Option<f32>,
    /// Scale β of the generated sources (accompaniment).
    pub beta: Option<f32>,
    /// Sampler: one of [`Sampler::NAMES`].
    pub sampler: Option<String>,
    /// Separation method.
    pub method: Option<Method>,
    /// Constrained stem of the separator.
    pub constrained: Option<String>,
    /// Whether the stems' negative prompts are used for guidance.
    pub negative_prompts: Option<bool>,
    /// Whether separation results go through the Wiener post-filter.
    pub wiener: Option<bool>,
    /// Random seed.
    pub seed: Option<u64>,
}

/// Fully resolved settings of one job.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Sampler steps.
    pub steps: usize,
    /// Guidance scale.
    pub w: f32,
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
    /// Constrained stem (None: the engine picks).
    pub constrained: Option<String>,
    /// Use the stems' negative prompts.
    pub negative_prompts: bool,
    /// Separation: split the mixture by the estimates' power ([`crate::wiener`]).
    pub wiener: bool,
    /// Random seed.
    pub seed: u64,
}

impl Settings {
    /// Resolves settings for a task: caller > model defaults > engine fallbacks.
    pub fn resolve(kind: TaskKind, manifest: &Manifest, o: &Overrides) -> Result<Settings> {
        let m: TaskDefaults = manifest.task_defaults(kind.name());
        let separating = matches!(kind, TaskKind::Separate | TaskKind::Extract);
        let steps = o.steps.or(m.steps).unwrap_or(50);
        if steps < 2 {
            return Err(EngineError::Input("steps must be at least 2".into()));
        }
        let sampler_name =
            o.sampler.clone().or(m.sampler).unwrap_or_else(|| if separating { "euler" } else { "adpm2" }.into());
        let sampler = match sampler_name.as_str() {
            "adpm2" => Sampler::Adpm2,
            "dpmpp2m" => Sampler::DpmPp2m,
            "euler" => Sampler::Euler {
                s_churn: o.s_churn.or(m.s_churn).unwrap_or(20.0),
                resamples: o.resamples.or(m.resamples).unwrap_or(1).max(1),
            },
            other => {
                let names = Sampler::NAMES.join(", ");
                return Err(EngineError::Input(format!("unknown sampler \"{other}\"; use one of {names}")));
            }
        };
        let w_default = match kind {
            TaskKind::Extract => 7.5,
            _ => 3.0,
        };
        let w = o.w.or(m.w).unwrap_or(w_default);
        if !w.is_finite() || w < 0.0 {
            return Err(EngineError::Input(format!("guidance w must be ≥ 0, got {w}")));
        }
        let method = match (o.method, m.method.as_deref()) {
            (Some(x), _) => x,
            (None, Some(s)) => s.parse()?,
            (None, None) if kind == TaskKind::Extract => Method::Extractor,
            (None, None) => Method::Separator,
        };
        // (γ of the generated variables, γ of the mixture), relative to σ.
        // Accompaniment ties the mixture tightly to the given sources plus the
        // generated ones: with γ_y = γ_x the generated stem took the mixture's
        // shortfall and came out as the given guitar inverted (correlation
        // −0.77 with it on validation songs); with γ_y = 0.3σ it does not (0.00).
        let gamma_default = match kind {
            TaskKind::Generate => (Some(1.0), None),
            TaskKind::Accompany => (Some(1.0), Some(0.3)),
            _ => (Some(1.0), Some(1.0)),
        };
        Ok(Settings {
            steps,
            w,
            sampler,
            rho: 7.0,
            gamma_sources: o.gamma_sources.unwrap_or(m.gamma.or(gamma_default.0)),
            gamma_mix: o.gamma_mix.unwrap_or(gamma_default.1),
            alpha: o.alpha.unwrap_or(1.0),
            beta: o.beta.unwrap_or(1.0),
            method,
            constrained: o.constrained.clone().or(m.constrained),
            negative_prompts: o.negative_prompts.or(m.negative_prompts).unwrap_or(kind != TaskKind::Separate),
            wiener: o.wiener.or(m.wiener).unwrap_or(false),
            seed: o.seed.unwrap_or(0),
        })
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
            let o = Overrides { sampler: Some(name.into()), ..Overrides::default() };
            let s = Settings::resolve(TaskKind::Separate, &manifest, &o).unwrap();
            assert_eq!(s.sampler.name(), name);
        }
        let o = Overrides { sampler: Some("heun".into()), ..Overrides::default() };
        let err = Settings::resolve(TaskKind::Separate, &manifest, &o).unwrap_err().to_string();
        assert!(err.contains("\"heun\"") && Sampler::NAMES.iter().all(|n| err.contains(n)), "{err}");
    }
}
