//! The GMSDI tasks as drifts over a batch of variables (docs/method.md §2):
//! generation (total and partial, eq. 10–12), separator (eq. 13) and
//! extractor (eq. 14), with classifier-free guidance. Every network
//! evaluation puts all rows (variables, lanes, CFG pairs) in one batch.
//!
//! A variable is `lanes × C × T` samples: lanes are independent rows that
//! share a prompt (e.g. the two channels of a stereo mix under a mono model).
//! Likelihood widths are relative to the noise level: γ = c·σ, `None` = ∞.

use crate::error::Result;
use crate::network::Denoiser;
use crate::progress::Tracker;
use crate::sampler::{noise, Drift, Rng};

/// The prompt and negative-prompt embeddings of one network input.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// Embedding of the prompt.
    pub prompt: Vec<f32>,
    /// Embedding of the negative prompt (the null embedding when none).
    pub negative: Vec<f32>,
}

/// Evaluates the guided denoiser D* = D(z) + w·(D(z) − D(z_neg)) on many
/// inputs in one batched network call. Guidance applies only at σ ≥
/// `min_sigma` (guidance in a limited interval: Kynkäänniemi et al. 2024,
/// "Applying Guidance in a Limited Interval Improves Sample and
/// Distribution Quality in Diffusion Models"); below it, D* = D(z) at half the rows.
pub struct Guide<'a> {
    /// The network.
    pub net: &'a mut dyn Denoiser,
    /// Progress and cancellation.
    pub tracker: &'a mut Tracker,
    /// Guidance scale w (0 = no guidance, one row per input).
    pub w: f32,
    /// Guidance only at σ at or above this.
    pub min_sigma: f32,
    /// Rows per variable.
    pub lanes: usize,
    /// Frames T per row.
    pub frames: usize,
}

impl Guide<'_> {
    /// Samples in one variable.
    pub fn var_len(&self) -> usize {
        self.lanes * self.net.channels() * self.frames
    }

    /// D* of each `(signal, condition)` pair, all in one network call.
    pub fn denoise(&mut self, inputs: &[(&[f32], &Condition)], sigma: f32) -> Result<Vec<Vec<f32>>> {
        self.tracker.check()?;
        let guided = self.w != 0.0 && sigma >= self.min_sigma;
        let passes = if guided { 2 } else { 1 };
        let rows = inputs.len() * self.lanes * passes;
        let mut x = Vec::with_capacity(rows * self.var_len() / self.lanes);
        let mut emb = Vec::new();
        for pass in 0..passes {
            for (signal, cond) in inputs {
                x.extend_from_slice(signal);
                let e = if pass == 0 { &cond.prompt } else { &cond.negative };
                for _ in 0..self.lanes {
                    emb.extend_from_slice(e);
                }
            }
        }
        let out = self.net.denoise(&x, self.frames, &vec![sigma; rows], &emb)?;
        self.tracker.advance();
        let n = self.var_len();
        let half = inputs.len() * n;
        Ok((0..inputs.len())
            .map(|i| {
                let pos = &out[i * n..(i + 1) * n];
                if guided {
                    let neg = &out[half + i * n..half + (i + 1) * n];
                    pos.iter().zip(neg).map(|(p, q)| p + self.w * (p - q)).collect()
                } else {
                    pos.to_vec()
                }
            })
            .collect())
    }
}

/// Known leading frames of every variable (continuation of the previous
/// window): re-noised to the current σ before every evaluation.
#[derive(Clone, Debug)]
pub struct Prefix {
    /// Number of known frames at the start of each row.
    pub frames: usize,
    /// Per variable, `lanes × C × frames` known samples.
    pub values: Vec<Vec<f32>>,
}

impl Prefix {
    fn apply(&self, x: &mut [f32], var_len: usize, row_len: usize, sigma: f32, rng: &mut Rng) {
        for (v, known) in self.values.iter().enumerate() {
            let var = &mut x[v * var_len..(v + 1) * var_len];
            let eps = noise(known.len(), rng);
            let fresh = known.chunks(self.frames).zip(eps.chunks(self.frames));
            for (row, (known_row, eps_row)) in var.chunks_mut(row_len).zip(fresh) {
                for ((s, k), e) in row.iter_mut().zip(known_row).zip(eps_row) {
                    *s = k + sigma * e;
                }
            }
        }
    }
}

fn slot(x: &[f32], i: usize, n: usize) -> &[f32] {
    &x[i * n..(i + 1) * n]
}

/// `(x − D) / σ`, the denoising part of the drift.
fn base_drift<'a>(x: &'a [f32], denoised: &'a [f32], sigma: f32) -> impl Iterator<Item = f32> + 'a {
    x.iter().zip(denoised).map(move |(x, d)| (x - d) / sigma)
}

/// Total and partial generation (eq. 10–12). State: the generated
/// variables (stems or blocks of a partition) followed by the mixture y.
pub struct Generation<'a> {
    /// The guided network.
    pub guide: Guide<'a>,
    /// Condition of each generated variable.
    pub sources: Vec<Condition>,
    /// Condition of the mixture (all labels joined).
    pub mix: Condition,
    /// Clean known sources x_i(0) (accompaniment), each one variable.
    pub known: Vec<Vec<f32>>,
    /// Scale of the known sources in the mixture model.
    pub alpha: f32,
    /// Scale of the generated sources in the mixture model.
    pub beta: f32,
    /// Relative γ of each generated variable.
    pub gamma_sources: Vec<Option<f32>>,
    /// Relative γ of the mixture.
    pub gamma_mix: Option<f32>,
    /// Known start of every variable, if continuing a previous window.
    pub prefix: Option<Prefix>,
}

impl Generation<'_> {
    /// Number of state variables.
    pub fn variables(&self) -> usize {
        self.sources.len() + 1
    }
}

impl Generation<'_> {
    /// `m = α Σ x_i(σ) + β Σ x_j`: the known sources re-noised to `sigma`
    /// with fresh noise, plus the generated variables.
    fn mixture_model(&self, x: &[f32], sigma: f32, rng: &mut Rng) -> Vec<f32> {
        let n = self.guide.var_len();
        let mut m = vec![0.0f32; n];
        for known in &self.known {
            let eps = noise(n, rng);
            for ((m, k), e) in m.iter_mut().zip(known).zip(eps) {
                *m += self.alpha * (k + sigma * e);
            }
        }
        for k in 0..self.sources.len() {
            m.iter_mut().zip(slot(x, k, n)).for_each(|(m, s)| *m += self.beta * s);
        }
        m
    }
}

impl Drift for Generation<'_> {
    /// The prior part: each variable's guided score. The likelihood pulls
    /// between the variables and the mixture are in [`Generation::relax`].
    fn drift(&mut self, x: &mut [f32], sigma: f32, rng: &mut Rng) -> Result<Vec<f32>> {
        let n = self.guide.var_len();
        let j = self.sources.len();
        if let Some(p) = &self.prefix {
            p.apply(x, n, self.guide.frames, sigma, rng);
        }
        let mut inputs: Vec<(&[f32], &Condition)> =
            self.sources.iter().enumerate().map(|(k, c)| (slot(x, k, n), c)).collect();
        inputs.push((slot(x, j, n), &self.mix));
        let denoised = self.guide.denoise(&inputs, sigma)?;
        let mut d = Vec::with_capacity(x.len());
        for (k, den) in denoised.iter().enumerate() {
            d.extend(base_drift(slot(x, k, n), den, sigma));
        }
        Ok(d)
    }

    /// The likelihood pulls of eq. 10–12, `∓ (y − m) / (γ²σ)` with γ = c·σ,
    /// integrated exactly: the residual `r = y − m` obeys
    /// `dr/dσ = λ r / σ` with `λ = 1/c_y² + β Σ_j 1/c_j²`, so it shrinks by
    /// `(to/from)^λ` and each variable takes its share of the change.
    fn relax(&mut self, x: &mut [f32], from: f32, to: f32, rng: &mut Rng) {
        let n = self.guide.var_len();
        let j = self.sources.len();
        let inv = |c: Option<f32>| c.map_or(0.0, |c| 1.0 / (c * c));
        let weights: Vec<f32> = self.gamma_sources.iter().map(|&c| inv(c)).collect();
        let weight_y = inv(self.gamma_mix);
        let lambda = weight_y + self.beta * weights.iter().sum::<f32>();
        if lambda <= 0.0 || from <= 0.0 {
            return;
        }
        let shrink = (to.max(0.0) / from).powf(lambda);
        let m = self.mixture_model(x, to, rng);
        let r: Vec<f32> = slot(x, j, n).iter().zip(&m).map(|(y, m)| (1.0 - shrink) * (y - m) / lambda).collect();
        for (k, w) in weights.iter().enumerate() {
            x[k * n..(k + 1) * n].iter_mut().zip(&r).for_each(|(v, r)| *v += w * r);
        }
        x[j * n..(j + 1) * n].iter_mut().zip(&r).for_each(|(v, r)| *v -= weight_y * r);
    }
}

/// MSDM's Dirac separator (eq. 13). State: every stem but the constrained
/// one, which is always `y(0) − Σ others`.
pub struct Separator<'a> {
    /// The guided network.
    pub guide: Guide<'a>,
    /// The clean mixture y(0), one variable.
    pub mix: Vec<f32>,
    /// Condition of each stem, the constrained one included.
    pub stems: Vec<Condition>,
    /// Index of the constrained stem.
    pub constrained: usize,
}

impl Separator<'_> {
    /// The constrained stem for a state of the other stems.
    pub fn constrained_value(&self, x: &[f32]) -> Vec<f32> {
        let n = self.mix.len();
        let mut c = self.mix.clone();
        for k in 0..self.stems.len() - 1 {
            c.iter_mut().zip(slot(x, k, n)).for_each(|(c, s)| *c -= s);
        }
        c
    }

    /// All stems in `stems` order from a final state.
    pub fn stems_from_state(&self, x: &[f32]) -> Vec<Vec<f32>> {
        let n = self.mix.len();
        let last = self.constrained_value(x);
        let mut free = (0..self.stems.len() - 1).map(|k| slot(x, k, n).to_vec());
        (0..self.stems.len())
            .map(|k| if k == self.constrained { last.clone() } else { free.next().unwrap_or_default() })
            .collect()
    }
}

impl Drift for Separator<'_> {
    fn drift(&mut self, x: &mut [f32], sigma: f32, _: &mut Rng) -> Result<Vec<f32>> {
        let n = self.mix.len();
        let constrained = self.constrained_value(x);
        let free: Vec<usize> = (0..self.stems.len()).filter(|&k| k != self.constrained).collect();
        let mut inputs: Vec<(&[f32], &Condition)> =
            free.iter().enumerate().map(|(i, &k)| (slot(x, i, n), &self.stems[k])).collect();
        inputs.push((&constrained, &self.stems[self.constrained]));
        let denoised = self.guide.denoise(&inputs, sigma)?;
        let last: Vec<f32> = base_drift(&constrained, &denoised[free.len()], sigma).collect();
        let mut d = Vec::with_capacity(x.len());
        for (i, den) in denoised.iter().enumerate().take(free.len()) {
            d.extend(base_drift(slot(x, i, n), den, sigma).zip(&last).map(|(a, b)| a - b));
        }
        Ok(d)
    }
}

/// The extractor (eq. 14): each target stem against its complement
/// `y(0) − x_k`, prompted with the other labels. State: the targets.
pub struct Extractor<'a> {
    /// The guided network.
    pub guide: Guide<'a>,
    /// The clean mixture y(0), one variable.
    pub mix: Vec<f32>,
    /// Per target: the stem's condition and its complement's.
    pub targets: Vec<(Condition, Condition)>,
}

impl Drift for Extractor<'_> {
    fn drift(&mut self, x: &mut [f32], sigma: f32, _: &mut Rng) -> Result<Vec<f32>> {
        let n = self.mix.len();
        let complements: Vec<Vec<f32>> =
            (0..self.targets.len()).map(|k| self.mix.iter().zip(slot(x, k, n)).map(|(y, s)| y - s).collect()).collect();
        let mut inputs: Vec<(&[f32], &Condition)> = Vec::new();
        for (k, (stem, comp)) in self.targets.iter().enumerate() {
            inputs.push((slot(x, k, n), stem));
            inputs.push((&complements[k], comp));
        }
        let denoised = self.guide.denoise(&inputs, sigma)?;
        let mut d = Vec::with_capacity(x.len());
        for k in 0..self.targets.len() {
            let comp: Vec<f32> = base_drift(&complements[k], &denoised[2 * k + 1], sigma).collect();
            d.extend(base_drift(slot(x, k, n), &denoised[2 * k], sigma).zip(comp).map(|(a, b)| a - b));
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A denoiser that returns its embedding's first value everywhere and counts rows.
    struct Echo {
        rows: usize,
    }

    impl Denoiser for Echo {
        fn channels(&self) -> usize {
            1
        }
        fn denoise(&mut self, x: &[f32], frames: usize, _: &[f32], embedding: &[f32]) -> Result<Vec<f32>> {
            let rows = x.len() / frames;
            self.rows += rows;
            let d = embedding.len() / rows;
            Ok((0..rows).flat_map(|r| vec![embedding[r * d]; frames]).collect())
        }
    }

    #[test]
    fn guidance_applies_only_from_its_sigma_up() {
        let mut net = Echo { rows: 0 };
        let mut tracker = Tracker::new(1, Default::default(), Box::new(|_| {}));
        let cond = Condition { prompt: vec![1.0], negative: vec![0.0] };
        let x = [0.5f32; 4];
        let mut guide = Guide { net: &mut net, tracker: &mut tracker, w: 2.0, min_sigma: 0.1, lanes: 1, frames: 4 };
        let guided = guide.denoise(&[(&x, &cond)], 0.1).unwrap();
        assert_eq!(guided[0], [3.0; 4], "D + w (D − D_neg) = 1 + 2 (1 − 0)");
        let plain = guide.denoise(&[(&x, &cond)], 0.05).unwrap();
        assert_eq!(plain[0], [1.0; 4], "below min_sigma: D alone");
        assert_eq!(net.rows, 3, "two rows guided, one below");
    }
}
