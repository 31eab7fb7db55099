//! Shared helpers of the integration tests: the repository's paths and the
//! closed-form answers of the analytic Gaussian fixture model
//! (`models/fixtures/gaussian`, see its README): stationary circular
//! Gaussian stems with known spectra, so priors, Wiener filters and exact
//! posterior samples are computed here with an FFT.

pub mod clap_host;
pub mod session;

use std::path::PathBuf;
use std::sync::Arc;

use gmsdi_engine::network::Model;
use gmsdi_engine::runtime::RuntimeOptions;
use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rustfft::num_complex::Complex64;
use rustfft::FftPlanner;

/// Root of the repository.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The analytic fixture model's folder.
pub fn fixture_dir() -> PathBuf {
    repo().join("models/fixtures/gaussian")
}

/// The correlated two-stem fixture's folder (bass and guitar, with a
/// `context` input; see the fixtures' README).
pub fn correlated_dir() -> PathBuf {
    repo().join("models/fixtures/correlated")
}

/// Loads the fixture model with one ONNX Runtime thread.
pub fn load_fixture() -> Model {
    load_model(&fixture_dir())
}

/// Loads a model folder with one ONNX Runtime thread.
pub fn load_model(dir: &std::path::Path) -> Model {
    Model::load(dir, &RuntimeOptions { threads: Some(1), ..RuntimeOptions::default() })
        .expect("fixture model loads (run `cargo xtask setup` for the ONNX Runtime library)")
}

/// One stem's spectrum parameters.
#[derive(Clone, Debug)]
pub struct Band {
    /// Stem name.
    pub stem: String,
    a: f64,
    c: f64,
    w: f64,
    floor: f64,
}

/// The fixture's stems and spectra, read from its model.json.
pub struct Spectra {
    /// Stems in model order.
    pub bands: Vec<Band>,
    /// Correlation of the stems in every bin (the correlated fixture; 0 otherwise).
    pub rho: f64,
    eps: f64,
}

impl Spectra {
    /// Reads the `fixture` key of the fixture's model.json.
    pub fn load() -> Spectra {
        Self::load_from(&fixture_dir())
    }

    /// Reads the `fixture` key of the model.json in `dir`.
    pub fn load_from(dir: &std::path::Path) -> Spectra {
        let text = std::fs::read_to_string(dir.join("model.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let f = &v["fixture"];
        let bands = f["stems"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, p)| Band {
                stem: k.clone(),
                a: p["a"].as_f64().unwrap(),
                c: p["c"].as_f64().unwrap(),
                w: p["w"].as_f64().unwrap(),
                floor: p["floor"].as_f64().unwrap(),
            })
            .collect();
        Spectra { bands, rho: f["rho"].as_f64().unwrap_or(0.0), eps: f["eps"].as_f64().unwrap() }
    }

    /// Index of a stem.
    pub fn index(&self, stem: &str) -> usize {
        self.bands.iter().position(|b| b.stem == stem).unwrap()
    }

    /// S_k at normalised frequency ν.
    pub fn density(&self, k: usize, nu: f64) -> f64 {
        let b = &self.bands[k];
        let z = ((nu + self.eps).ln() - b.c.ln()) / b.w;
        b.a * (-0.5 * z * z).exp() + b.floor
    }

    /// S_k at every DFT bin of a length-n signal.
    pub fn bins(&self, k: usize, n: usize) -> Vec<f64> {
        (0..n).map(|i| self.density(k, i.min(n - i) as f64 / n as f64)).collect()
    }

    /// A prior sample of stem k of length n.
    pub fn sample(&self, k: usize, n: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
        let white: Vec<f64> = (0..n).map(|_| rng.sample(StandardNormal)).collect();
        let s = self.bins(k, n);
        filter(&white, &s.iter().map(|v| v.sqrt()).collect::<Vec<_>>())
    }

    /// A joint sample of stems a and b, correlated by [`Spectra::rho`] in
    /// every bin (b's white noise is ρ·a's plus √(1 − ρ²)·its own).
    pub fn joint_sample(&self, a: usize, b: usize, n: usize, rng: &mut ChaCha8Rng) -> (Vec<f32>, Vec<f32>) {
        let wa: Vec<f64> = (0..n).map(|_| rng.sample(StandardNormal)).collect();
        let own: Vec<f64> = (0..n).map(|_| rng.sample(StandardNormal)).collect();
        let rest = (1.0 - self.rho * self.rho).sqrt();
        let wb: Vec<f64> = wa.iter().zip(&own).map(|(x, o)| self.rho * x + rest * o).collect();
        let root = |k: usize| self.bins(k, n).iter().map(|v| v.sqrt()).collect::<Vec<_>>();
        (filter(&wa, &root(a)), filter(&wb, &root(b)))
    }

    /// Exact posterior sample of stem k given the mixture of `stems`
    /// (Matheron's rule: prior draws corrected by the Wiener gain).
    pub fn posterior_sample(&self, k: usize, stems: &[usize], y: &[f32], rng: &mut ChaCha8Rng) -> Vec<f32> {
        let n = y.len();
        let draws: Vec<Vec<f32>> = stems.iter().map(|&l| self.sample(l, n, rng)).collect();
        let y_draw: Vec<f32> = (0..n).map(|i| draws.iter().map(|d| d[i]).sum()).collect();
        let residual: Vec<f64> = y.iter().zip(&y_draw).map(|(a, b)| f64::from(a - b)).collect();
        let own = &draws[stems.iter().position(|&l| l == k).unwrap()];
        let correction = filter(&residual, &self.wiener(k, stems, n));
        own.iter().zip(correction).map(|(a, b)| a + b).collect()
    }

    /// Wiener gain S_k / Σ S_l per bin.
    pub fn wiener(&self, k: usize, stems: &[usize], n: usize) -> Vec<f64> {
        let sk = self.bins(k, n);
        let all: Vec<Vec<f64>> = stems.iter().map(|&l| self.bins(l, n)).collect();
        (0..n).map(|i| sk[i] / all.iter().map(|s| s[i]).sum::<f64>()).collect()
    }
}

/// Applies a real, symmetric per-bin gain to a real signal with the FFT.
pub fn filter(x: &[f64], gain: &[f64]) -> Vec<f32> {
    let n = x.len();
    let mut planner = FftPlanner::<f64>::new();
    let mut buf: Vec<Complex64> = x.iter().map(|&v| Complex64::new(v, 0.0)).collect();
    planner.plan_fft_forward(n).process(&mut buf);
    buf.iter_mut().zip(gain).for_each(|(b, g)| *b *= *g);
    let inverse: Arc<dyn rustfft::Fft<f64>> = planner.plan_fft_inverse(n);
    inverse.process(&mut buf);
    buf.iter().map(|c| (c.re / n as f64) as f32).collect()
}

/// |X_i|² of a real signal's unnormalised DFT.
pub fn power_spectrum(x: &[f32]) -> Vec<f64> {
    let mut buf: Vec<Complex64> = x.iter().map(|&v| Complex64::new(f64::from(v), 0.0)).collect();
    FftPlanner::<f64>::new().plan_fft_forward(x.len()).process(&mut buf);
    buf.iter().map(|c| c.norm_sqr()).collect()
}

/// Correlation of two signals around zero (their cosine similarity).
pub fn correlation(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |x: &[f32]| x.iter().map(|v| v * v).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

/// A seeded random generator for the tests.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}
