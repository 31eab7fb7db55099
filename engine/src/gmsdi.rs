//! The GMSDI tasks as drifts over a batch of variables (docs/method.md §2):
//! generation (total and partial, eq. 10–12), separator (eq. 13) and
//! extractor (eq. 14), with classifier-free guidance. Every network
//! evaluation puts all rows (variables, lanes, CFG pairs) in one batch.
//!
//! A variable is `lanes × C × T` samples: lanes are independent rows that
//! share a prompt (e.g. the two channels of a stereo mix under a mono model).
//! Likelihood widths are relative to the noise level: γ = c·σ, `None` = ∞.

use crate::chords::ChordGuide;
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

/// Evaluates the guided denoiser on many inputs in one batched network call:
/// D* = D(z) + w·(D(z) − D(z_neg)) + w_c·(D(z) − D(z, no context)), the
/// last term (guidance by the given tracks) only when there is a context.
/// Guidance applies only at `min_sigma` ≤ σ ≤ `max_sigma` (guidance in a
/// limited interval: Kynkäänniemi et al. 2024, "Applying Guidance in a
/// Limited Interval Improves Sample and Distribution Quality in Diffusion
/// Models"); outside it, D* = D(z) at a fraction of the rows.
pub struct Guide<'a> {
    /// The network.
    pub net: &'a mut dyn Denoiser,
    /// Progress and cancellation.
    pub tracker: &'a mut Tracker,
    /// Guidance scale w of the prompts (0 = off).
    pub w: f32,
    /// Guidance scale w_c of the given tracks (0 = off): toward the answer
    /// that hears them, away from the answer that does not.
    pub context_w: f32,
    /// Guidance only at σ at or above this.
    pub min_sigma: f32,
    /// Guidance only at σ at or below this (0: no upper limit).
    pub max_sigma: f32,
    /// Rows per variable.
    pub lanes: usize,
    /// Frames T per row.
    pub frames: usize,
    /// The given tracks (one variable's worth) every row hears through the
    /// network's `context` input, if any.
    pub context: Option<Vec<f32>>,
    /// Guidance by the given tracks' harmony, if any, and how many inputs
    /// of each evaluation it steers (the first ones: the generated stems).
    pub chords: Option<(ChordGuide, usize)>,
}

/// One set of rows in a guided batch: which embedding they get and
/// whether they hear the context.
#[derive(Clone, Copy, PartialEq)]
enum Pass {
    /// The prompt, with the context: D(z).
    Prompted,
    /// The negative prompt, with the context: D(z_neg).
    Negative,
    /// The prompt, with a silent context: D(z, no context).
    Unheard,
}

impl Guide<'_> {
    /// Samples in one variable.
    pub fn var_len(&self) -> usize {
        self.lanes * self.net.channels() * self.frames
    }

    /// The passes one evaluation at `sigma` needs, `Prompted` first.
    fn passes(&self, sigma: f32) -> Vec<Pass> {
        let below_max = self.max_sigma <= 0.0 || sigma <= self.max_sigma;
        let guided = sigma >= self.min_sigma && below_max;
        let mut passes = vec![Pass::Prompted];
        if guided && self.w != 0.0 {
            passes.push(Pass::Negative);
        }
        if guided && self.context_w != 0.0 && self.context.is_some() {
            passes.push(Pass::Unheard);
        }
        passes
    }

    /// D* of each `(signal, condition)` pair, all in one network call.
    pub fn denoise(&mut self, inputs: &[(&[f32], &Condition)], sigma: f32) -> Result<Vec<Vec<f32>>> {
        self.tracker.check()?;
        let passes = self.passes(sigma);
        let n = self.var_len();
        let rows = inputs.len() * self.lanes * passes.len();
        let mut x = Vec::with_capacity(rows * n / self.lanes);
        let mut emb = Vec::new();
        for &pass in &passes {
            for (signal, cond) in inputs {
                x.extend_from_slice(signal);
                let e = if pass == Pass::Negative { &cond.negative } else { &cond.prompt };
                for _ in 0..self.lanes {
                    emb.extend_from_slice(e);
                }
            }
        }
        let context = self.context.as_ref().map(|given| {
            let silent = vec![0.0; given.len()];
            let per_pass = passes.iter().map(|&p| if p == Pass::Unheard { &silent } else { given });
            per_pass.flat_map(|c| c.repeat(inputs.len())).collect::<Vec<f32>>()
        });
        let out = self.net.denoise(&x, self.frames, &vec![sigma; rows], &emb, context.as_deref())?;
        self.tracker.advance();
        let set = inputs.len() * n;
        Ok((0..inputs.len())
            .map(|i| {
                let rows_of = |p: usize| &out[p * set + i * n..p * set + (i + 1) * n];
                let prompted = rows_of(0);
                let mut d = prompted.to_vec();
                for (p, &pass) in passes.iter().enumerate().skip(1) {
                    let scale = if pass == Pass::Negative { self.w } else { self.context_w };
                    let pairs = prompted.iter().zip(rows_of(p));
                    d.iter_mut().zip(pairs).for_each(|(d, (a, b))| *d += scale * (a - b));
                }
                if let Some((chords, steered)) = &self.chords {
                    if i < *steered {
                        chords.steer(&mut d, sigma);
                    }
                }
                d
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

/// Each variable's guided prior drift `(x − D*) / σ`, variable k under
/// `conditions[k]`, after re-noising the known prefix (if continuing).
fn prior_drift(
    guide: &mut Guide,
    conditions: &[&Condition],
    prefix: Option<&Prefix>,
    x: &mut [f32],
    sigma: f32,
    rng: &mut Rng,
) -> Result<Vec<f32>> {
    let n = guide.var_len();
    if let Some(p) = prefix {
        p.apply(x, n, guide.frames, sigma, rng);
    }
    let inputs: Vec<(&[f32], &Condition)> = conditions.iter().enumerate().map(|(k, &c)| (slot(x, k, n), c)).collect();
    let denoised = guide.denoise(&inputs, sigma)?;
    let mut d = Vec::with_capacity(x.len());
    for (k, den) in denoised.iter().enumerate() {
        d.extend(base_drift(slot(x, k, n), den, sigma));
    }
    Ok(d)
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
        let conditions: Vec<&Condition> = self.sources.iter().chain([&self.mix]).collect();
        prior_drift(&mut self.guide, &conditions, self.prefix.as_ref(), x, sigma, rng)
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

/// Accompaniment by a network that hears the given tracks (its `context`
/// input, set in the guide): each generated variable is drawn from the
/// network's conditional prior, with no mixture variable or likelihood.
/// State: the generated variables.
pub struct Heard<'a> {
    /// The guided network, its context set to the given tracks.
    pub guide: Guide<'a>,
    /// Condition of each generated variable.
    pub sources: Vec<Condition>,
    /// Known start of every variable, if continuing a previous window.
    pub prefix: Option<Prefix>,
}

impl Drift for Heard<'_> {
    fn drift(&mut self, x: &mut [f32], sigma: f32, rng: &mut Rng) -> Result<Vec<f32>> {
        let conditions: Vec<&Condition> = self.sources.iter().collect();
        prior_drift(&mut self.guide, &conditions, self.prefix.as_ref(), x, sigma, rng)
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
    /// Number of state variables: every stem but the constrained one.
    pub fn variables(&self) -> usize {
        self.stems.len() - 1
    }

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
        let mut free = x.chunks(n).map(<[f32]>::to_vec);
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

    use rand::SeedableRng;

    use crate::probe::Probe;
    use crate::request::TextDenoiser;

    /// A denoiser that returns its embedding's first value everywhere and
    /// counts rows; like a real network it refuses a batch whose σ, embedding
    /// or context does not match its rows.
    struct Echo {
        rows: usize,
        channels: usize,
    }

    impl Denoiser for Echo {
        fn channels(&self) -> usize {
            self.channels
        }
        fn denoise(
            &mut self,
            x: &[f32],
            frames: usize,
            sigma: &[f32],
            embedding: &[f32],
            context: Option<&[f32]>,
        ) -> Result<Vec<f32>> {
            let rows = x.len() / (frames * self.channels);
            let shaped = sigma.len() == rows
                && embedding.len().is_multiple_of(rows)
                && context.is_none_or(|c| c.len() == x.len());
            if !shaped {
                return Err(crate::error::EngineError::Input(format!(
                    "{rows} rows, {} sigmas, {} embedding values, context {:?}",
                    sigma.len(),
                    embedding.len(),
                    context.map(<[f32]>::len)
                )));
            }
            self.rows += rows;
            let d = embedding.len() / rows;
            Ok((0..rows).flat_map(|r| vec![embedding[r * d]; frames * self.channels]).collect())
        }
    }

    #[test]
    fn guidance_applies_only_inside_its_sigma_interval() {
        let mut net = Echo { rows: 0, channels: 1 };
        let mut tracker = Tracker::new(1, Default::default(), Box::new(|_| {}));
        let cond = Condition { prompt: vec![1.0], negative: vec![0.0] };
        let x = [0.5f32; 4];
        let (min_sigma, max_sigma) = (0.1, 0.0);
        let mut guide = Guide {
            net: &mut net,
            tracker: &mut tracker,
            w: 2.0,
            context_w: 0.0,
            min_sigma,
            max_sigma,
            lanes: 1,
            frames: 4,
            context: None,
            chords: None,
        };
        let guided = guide.denoise(&[(&x, &cond)], 0.1).unwrap();
        assert_eq!(guided[0], [3.0; 4], "D + w (D − D_neg) = 1 + 2 (1 − 0)");
        let plain = guide.denoise(&[(&x, &cond)], 0.05).unwrap();
        assert_eq!(plain[0], [1.0; 4], "below min_sigma: D alone");
        assert_eq!(guide.denoise(&[(&x, &cond)], 80.0).unwrap()[0], [3.0; 4], "a max of 0 is no limit");
        guide.max_sigma = 0.5;
        assert_eq!(guide.denoise(&[(&x, &cond)], 0.5).unwrap()[0], [3.0; 4], "at max_sigma: guided");
        assert_eq!(guide.denoise(&[(&x, &cond)], 0.51).unwrap()[0], [1.0; 4], "above max_sigma: D alone");
        assert_eq!(net.rows, 2 + 1 + 2 + 2 + 1, "two rows per guided call, one otherwise");
    }

    #[test]
    fn each_input_is_guided_by_its_own_condition_with_one_sigma_per_row() {
        let mut net = Echo { rows: 0, channels: 1 };
        let mut tracker = tracker();
        let a = Condition { prompt: vec![1.0], negative: vec![0.0] };
        let b = Condition { prompt: vec![5.0], negative: vec![2.0] };
        let x = [0.5f32; 6];
        let mut guide = Guide {
            net: &mut net,
            tracker: &mut tracker,
            w: 2.0,
            context_w: 0.0,
            min_sigma: 0.0,
            max_sigma: 0.0,
            lanes: 2,
            frames: 3,
            context: Some(vec![0.25; 6]),
            chords: None,
        };
        let out = guide.denoise(&[(&x, &a), (&x, &b), (&x, &a)], 1.0).unwrap();
        assert_eq!(out, [vec![3.0; 6], vec![11.0; 6], vec![3.0; 6]], "D + w (D − D_neg) per input: 1 + 2·1, 5 + 2·3");
        guide.w = 0.0;
        let out = guide.denoise(&[(&x, &b), (&x, &a)], 1.0).unwrap();
        assert_eq!(out, [vec![5.0; 6], vec![1.0; 6]], "unguided: D of each input's own prompt");
        assert_eq!(net.rows, 3 * 2 * 2 + 2 * 2, "lanes × inputs rows, twice when guided");
    }

    #[test]
    fn guidance_by_the_given_tracks_steers_toward_the_answer_that_hears_them() {
        // The probe answers rows that hear a context with it (a silent one: 0),
        // rows without one with their prompt's number.
        let mut net = Probe::new(true);
        let cond = Condition { prompt: net.embed("bass").unwrap(), negative: net.embed("").unwrap() };
        let (bass, null) = (net.value("bass"), net.value(""));
        let mut tracker = tracker();
        let x = [0.5f32; 4];
        let mut guide = Guide {
            net: &mut net,
            tracker: &mut tracker,
            w: 2.0,
            context_w: 3.0,
            min_sigma: 0.1,
            max_sigma: 0.0,
            lanes: 1,
            frames: 4,
            context: Some(vec![0.25; 4]),
            chords: None,
        };
        let out = guide.denoise(&[(&x, &cond)], 0.5).unwrap();
        assert_eq!(out[0], [1.0; 4], "D + w (D − D_neg) + w_c (D − D_unheard) = 0.25 + 2·0 + 3·0.25");
        assert_eq!(guide.denoise(&[(&x, &cond)], 0.05).unwrap()[0], [0.25; 4], "below min_sigma: D alone");
        guide.context = None;
        assert_eq!(guide.denoise(&[(&x, &cond)], 0.5).unwrap()[0], [bass + 2.0 * (bass - null); 4], "no context");
        let calls: Vec<_> = net.calls.iter().map(|c| (c.rows.clone(), c.context.clone())).collect();
        let (heard, silent) = (vec![0.25; 4], vec![0.0; 4]);
        assert_eq!(
            calls,
            [
                (vec![bass, null, bass], Some([heard.clone(), heard.clone(), silent].concat())),
                (vec![bass], Some(heard)),
                (vec![bass, null], None),
            ],
            "prompted, negative and unheard rows; only the guided evaluation has the unheard ones"
        );
    }

    /// A denoiser that answers every row with its input.
    struct Identity;

    impl Denoiser for Identity {
        fn channels(&self) -> usize {
            1
        }
        fn denoise(&mut self, x: &[f32], _: usize, _: &[f32], _: &[f32], _: Option<&[f32]>) -> Result<Vec<f32>> {
            Ok(x.to_vec())
        }
    }

    #[test]
    fn chord_guidance_steers_the_generated_stems_and_not_the_mixture() {
        let rate = 16000;
        let tone = |midi: f32| -> Vec<f32> {
            let f = 440.0 * ((midi - 69.0) / 12.0).exp2();
            (0..rate).map(|i| (2.0 * std::f32::consts::PI * f * i as f32 / rate as f32).sin()).collect()
        };
        let add = |a: Vec<f32>, b: Vec<f32>| -> Vec<f32> { a.iter().zip(&b).map(|(a, b)| a + b).collect() };
        // Given: a C major triad. Both inputs: C2 (on the chord) plus F♯2 (off it).
        let chord = add(add(tone(60.0), tone(64.0)), tone(67.0));
        let x = add(tone(36.0), tone(42.0));
        let off = |d: &[f32]| {
            let f_sharp = tone(42.0);
            d.iter().zip(&f_sharp).map(|(a, b)| a * b).sum::<f32>() / f_sharp.iter().map(|v| v * v).sum::<f32>()
        };
        let (mut net, mut tracker) = (Identity, tracker());
        let mut guide = Guide {
            net: &mut net,
            tracker: &mut tracker,
            w: 0.0,
            context_w: 0.0,
            min_sigma: 0.0,
            max_sigma: 0.0,
            lanes: 1,
            frames: rate as usize,
            context: None,
            chords: Some((crate::chords::ChordGuide::new(&chord, rate as usize, rate, 1.0, 0.5), 1)),
        };
        let out = guide.denoise(&[(&x, &cond()), (&x, &cond())], 0.5).unwrap();
        assert!(off(&out[0]).abs() < 0.2, "the generated stem keeps F#2 at {:.3}", off(&out[0]));
        assert!(off(&out[1]) > 0.99, "the mixture keeps F#2 at {:.3}", off(&out[1]));
        let below = guide.denoise(&[(&x, &cond())], 0.4).unwrap();
        assert_eq!(below[0], x, "below the guide's floor: D alone");
    }

    /// A guide without guidance over `net`.
    fn unguided<'a>(net: &'a mut Echo, tracker: &'a mut Tracker, lanes: usize, frames: usize) -> Guide<'a> {
        Guide {
            net,
            tracker,
            w: 0.0,
            context_w: 0.0,
            min_sigma: 0.0,
            max_sigma: 0.0,
            lanes,
            frames,
            context: None,
            chords: None,
        }
    }

    fn tracker() -> Tracker {
        Tracker::new(1, Default::default(), Box::new(|_| {}))
    }

    fn cond() -> Condition {
        Condition { prompt: vec![0.0], negative: vec![0.0] }
    }

    /// A generation of `sources` mono variables of 2 frames, with the given
    /// sources `known`, α = 0.5 and β = 2, run through `f`.
    fn with_generation<R>(
        sources: usize,
        known: Vec<Vec<f32>>,
        gamma_sources: Option<f32>,
        gamma_mix: Option<f32>,
        f: impl FnOnce(&mut Generation) -> R,
    ) -> R {
        let mut net = Echo { rows: 0, channels: 1 };
        let mut tracker = tracker();
        let guide = unguided(&mut net, &mut tracker, 1, 2);
        let mut g = Generation {
            guide,
            sources: vec![cond(); sources],
            mix: cond(),
            known,
            alpha: 0.5,
            beta: 2.0,
            gamma_sources: vec![gamma_sources; sources],
            gamma_mix,
            prefix: None,
        };
        f(&mut g)
    }

    fn assert_close(got: &[f32], want: &[f32]) {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        assert!(got.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-5), "{got:?} vs {want:?}");
    }

    #[test]
    fn a_variable_is_lanes_times_channels_times_frames() {
        let mut net = Echo { rows: 0, channels: 2 };
        let mut tracker = tracker();
        let guide = unguided(&mut net, &mut tracker, 2, 3);
        assert_eq!(guide.var_len(), 12);
        assert_eq!(with_generation(2, vec![], None, None, |g| g.variables()), 3, "two sources and the mixture");
    }

    #[test]
    fn the_mixture_model_is_alpha_renoised_known_plus_beta_generated() {
        // Sources s1 = [1, −1], s2 = [0.5, 0.25]; given k = [2, 4]; α = 0.5, β = 2.
        let x = [1.0f32, -1.0, 0.5, 0.25, 7.0, 7.0];
        let clean = with_generation(2, vec![vec![2.0, 4.0]], None, None, |g| {
            g.mixture_model(&x, 0.0, &mut Rng::seed_from_u64(5))
        });
        assert_close(&clean, &[0.5 * 2.0 + 2.0 * 1.5, 0.5 * 4.0 + 2.0 * -0.75]);
        let noisy = with_generation(2, vec![vec![2.0, 4.0]], None, None, |g| {
            g.mixture_model(&x, 0.5, &mut Rng::seed_from_u64(5))
        });
        let eps = noise(2, &mut Rng::seed_from_u64(5));
        assert_close(&noisy, &[clean[0] + 0.5 * 0.5 * eps[0], clean[1] + 0.5 * 0.5 * eps[1]]);
    }

    #[test]
    fn relaxing_to_zero_puts_the_mixture_on_its_model_by_hand() {
        // One source s = [1, −1], mixture y = [3, 2], given k = [2, 4];
        // γ_s = 1σ (weight 1), γ_y = 0.5σ (weight 4): λ = 4 + β·1 = 6.
        // m = 0.5 k + 2 s = [3, 0], r = (y − m) / λ = [0, 1/3];
        // s += 1·r, y −= 4·r.
        let mut x = [1.0f32, -1.0, 3.0, 2.0];
        with_generation(1, vec![vec![2.0, 4.0]], Some(1.0), Some(0.5), |g| {
            g.relax(&mut x, 1.0, 0.0, &mut Rng::seed_from_u64(1))
        });
        assert_close(&x, &[1.0, -1.0 + 1.0 / 3.0, 3.0, 2.0 - 4.0 / 3.0]);
        // The mixture now equals its model: 0.5 k + 2 s.
        assert_close(&x[2..], &[0.5 * 2.0 + 2.0 * x[0], 0.5 * 4.0 + 2.0 * x[1]]);
    }

    #[test]
    fn relaxing_weights_each_variable_by_its_own_gamma() {
        // Two sources, γ = 2σ and 0.5σ (weights 1/4 and 4), γ_y = 1σ (weight 1),
        // rows of 3 frames: λ = 1 + β·(1/4 + 4) = 9.5 with β = 2.
        // m = 0.5 k + 2 (s1 + s2) = [4, 2, 3]; r = (y − m) / λ = [0, −1, −3] / 9.5.
        let mut net = Echo { rows: 0, channels: 1 };
        let mut tracker = tracker();
        let mut g = Generation {
            guide: unguided(&mut net, &mut tracker, 1, 3),
            sources: vec![cond(); 2],
            mix: cond(),
            known: vec![vec![2.0, 0.0, 2.0]],
            alpha: 0.5,
            beta: 2.0,
            gamma_sources: vec![Some(2.0), Some(0.5)],
            gamma_mix: Some(1.0),
            prefix: None,
        };
        let mut x = [1.0f32, 0.0, -1.0, 0.5, 1.0, 2.0, 4.0, 1.0, 0.0];
        g.relax(&mut x, 1.0, 0.0, &mut Rng::seed_from_u64(1));
        let r = [0.0, -1.0 / 9.5, -3.0 / 9.5];
        let want: Vec<f32> = (0..9)
            .map(|i| {
                let (v, f) = (i / 3, i % 3);
                [1.0f32, 0.0, -1.0, 0.5, 1.0, 2.0, 4.0, 1.0, 0.0][i] + [0.25, 4.0, -1.0][v] * r[f]
            })
            .collect();
        assert_close(&x, &want);
    }

    #[test]
    fn relaxing_shrinks_the_residual_by_the_ratio_of_sigmas_to_the_lambda() {
        // No given sources: m = β s. γ_s = 1σ, γ_y = 0.5σ: λ = 6; from σ 2 to 1
        // the residual y − β s shrinks by (1/2)^6.
        let mut x = [1.0f32, -1.0, 3.0, 2.0];
        with_generation(1, vec![], Some(1.0), Some(0.5), |g| g.relax(&mut x, 2.0, 1.0, &mut Rng::seed_from_u64(1)));
        let residual = [x[2] - 2.0 * x[0], x[3] - 2.0 * x[1]];
        assert_close(&residual, &[1.0 / 64.0, 4.0 / 64.0]);
        // The residual's change (1 − 1/64)·[1, 4] splits as 1/λ of it per unit weight.
        let moved = (1.0 - 1.0 / 64.0) / 6.0;
        assert_close(&x, &[1.0 + moved, -1.0 + 4.0 * moved, 3.0 - 4.0 * moved, 2.0 - 16.0 * moved]);
    }

    #[test]
    fn relaxing_without_a_likelihood_or_from_sigma_zero_changes_nothing() {
        let start = [1.0f32, -1.0, 3.0, 2.0];
        let mut x = start;
        with_generation(1, vec![vec![2.0, 4.0]], None, None, |g| g.relax(&mut x, 1.0, 0.5, &mut Rng::seed_from_u64(1)));
        assert_eq!(x, start, "no likelihood: λ = 0");
        with_generation(1, vec![vec![2.0, 4.0]], Some(1.0), Some(0.5), |g| {
            g.relax(&mut x, 0.0, 0.0, &mut Rng::seed_from_u64(1))
        });
        assert_eq!(x, start, "from σ = 0");
    }

    #[test]
    fn the_prefix_sets_each_rows_first_frames_to_the_known_start_renoised() {
        // Two variables of one lane, rows of 3 frames, the first 2 known.
        let prefix = Prefix { frames: 2, values: vec![vec![1.0, 2.0], vec![3.0, 4.0]] };
        let mut x = [9.0f32; 6];
        prefix.apply(&mut x, 3, 3, 0.0, &mut Rng::seed_from_u64(3));
        assert_eq!(x, [1.0, 2.0, 9.0, 3.0, 4.0, 9.0]);
        let mut x = [9.0f32; 6];
        prefix.apply(&mut x, 3, 3, 0.5, &mut Rng::seed_from_u64(3));
        let e = noise(4, &mut Rng::seed_from_u64(3));
        let want = [1.0 + 0.5 * e[0], 2.0 + 0.5 * e[1], 9.0, 3.0 + 0.5 * e[2], 4.0 + 0.5 * e[3], 9.0];
        assert_close(&x, &want);
        // Two lanes of one variable: each row gets its own known start.
        let prefix = Prefix { frames: 1, values: vec![vec![1.0, 2.0]] };
        let mut x = [9.0f32; 4];
        prefix.apply(&mut x, 4, 2, 0.0, &mut Rng::seed_from_u64(3));
        assert_eq!(x, [1.0, 9.0, 2.0, 9.0]);
    }

    /// A condition whose prompt the [`Echo`] network denoises to `d`.
    fn denoising_to(d: f32) -> Condition {
        Condition { prompt: vec![d], negative: vec![0.0] }
    }

    #[test]
    fn generation_and_heard_drifts_are_each_variables_x_less_its_denoised_over_sigma() {
        // Two generated variables (D = 1 and 2) and the mixture (D = 4), rows of 2 frames.
        let x0 = [1.0f32, 3.0, -2.0, 6.0, 8.0, 0.0];
        let mut x = x0;
        let d = with_generation(2, vec![], None, None, |g| {
            g.sources = vec![denoising_to(1.0), denoising_to(2.0)];
            g.mix = denoising_to(4.0);
            g.drift(&mut x, 2.0, &mut Rng::seed_from_u64(1)).unwrap()
        });
        assert_close(&d, &[0.0, 1.0, -2.0, 2.0, 2.0, -2.0]);
        assert_eq!(x, x0, "no prefix: the state is left as it is");
        let mut net = Echo { rows: 0, channels: 1 };
        let mut tracker = tracker();
        let sources = vec![denoising_to(1.0), denoising_to(2.0)];
        let mut heard = Heard { guide: unguided(&mut net, &mut tracker, 1, 2), sources, prefix: None };
        let mut x = [1.0f32, 3.0, -2.0, 6.0];
        let d = heard.drift(&mut x, 0.5, &mut Rng::seed_from_u64(1)).unwrap();
        assert_close(&d, &[0.0, 4.0, -8.0, 8.0]);
    }

    #[test]
    fn a_continued_window_drifts_from_its_renoised_known_start() {
        // One generated variable (D = 1) and the mixture (D = 0), rows of 2
        // frames, the first frame of each known: 5 and 7, re-noised to σ = 0.5.
        let mut x = [1.0f32, 3.0, 2.0, 6.0];
        let d = with_generation(1, vec![], None, None, |g| {
            g.sources = vec![denoising_to(1.0)];
            g.prefix = Some(Prefix { frames: 1, values: vec![vec![5.0], vec![7.0]] });
            g.drift(&mut x, 0.5, &mut Rng::seed_from_u64(4)).unwrap()
        });
        let mut rng = Rng::seed_from_u64(4);
        let (e0, e1) = (noise(1, &mut rng)[0], noise(1, &mut rng)[0]);
        assert_close(&x, &[5.0 + 0.5 * e0, 3.0, 7.0 + 0.5 * e1, 6.0]);
        assert_close(&d, &[(x[0] - 1.0) / 0.5, 4.0, x[2] / 0.5, 12.0]);
    }

    #[test]
    fn the_separators_drift_is_each_free_stems_less_the_constrained_ones() {
        // Stems a (D = 1), b (D = 2, constrained), c (D = 4); mix y = [10, 20];
        // free a = [1, 3], c = [2, 5], so b = y − a − c = [7, 12]; σ = 2.
        let mut net = Echo { rows: 0, channels: 1 };
        let mut tracker = tracker();
        let stems = vec![denoising_to(1.0), denoising_to(2.0), denoising_to(4.0)];
        let guide = unguided(&mut net, &mut tracker, 1, 2);
        let mut sep = Separator { guide, mix: vec![10.0, 20.0], stems, constrained: 1 };
        let mut x = [1.0f32, 3.0, 2.0, 5.0];
        let d = sep.drift(&mut x, 2.0, &mut Rng::seed_from_u64(1)).unwrap();
        // (x_k − D_k)/σ − (b − D_b)/σ, with (b − D_b)/σ = [2.5, 5].
        assert_close(&d, &[0.0 - 2.5, 1.0 - 5.0, -1.0 - 2.5, 0.5 - 5.0]);
    }

    #[test]
    fn the_extractors_drift_is_each_targets_less_its_complements() {
        // Targets x0 = [1, 3] (D = 1, complement D = 2) and x1 = [2, 5]
        // (D = 4, complement D = 8) in y = [10, 20]; σ = 2.
        let mut net = Echo { rows: 0, channels: 1 };
        let mut tracker = tracker();
        let targets = vec![(denoising_to(1.0), denoising_to(2.0)), (denoising_to(4.0), denoising_to(8.0))];
        let guide = unguided(&mut net, &mut tracker, 1, 2);
        let mut ext = Extractor { guide, mix: vec![10.0, 20.0], targets };
        let mut x = [1.0f32, 3.0, 2.0, 5.0];
        let d = ext.drift(&mut x, 2.0, &mut Rng::seed_from_u64(1)).unwrap();
        // Complements [9, 17] and [8, 15]: (x − D)/σ − (comp − D_comp)/σ.
        assert_close(&d, &[0.0 - 3.5, 1.0 - 7.5, -1.0 - 0.0, 0.5 - 3.5]);
    }

    #[test]
    fn the_separators_constrained_stem_is_the_mix_less_the_others_in_its_place() {
        let mut net = Echo { rows: 0, channels: 1 };
        let mut tracker = tracker();
        let guide = unguided(&mut net, &mut tracker, 1, 2);
        let sep = Separator { guide, mix: vec![10.0, 20.0], stems: vec![cond(); 3], constrained: 1 };
        assert_eq!(sep.variables(), 2, "the two free stems");
        let stems = sep.stems_from_state(&[1.0, 2.0, 3.0, 5.0]);
        assert_eq!(stems, [vec![1.0f32, 2.0], vec![6.0, 13.0], vec![3.0, 5.0]]);
    }
}
