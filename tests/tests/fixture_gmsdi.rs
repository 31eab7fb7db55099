//! The GMSDI tasks on the analytic Gaussian fixture, through real ONNX
//! Runtime, checked against closed-form answers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use gmsdi_engine::audio::Audio;
use gmsdi_engine::job::{self, Job, JobOutput, Source, Task, TextDenoiser};
use gmsdi_engine::manifest::Manifest;
use gmsdi_engine::metrics::si_sdr;
use gmsdi_engine::network::{Denoiser, Model};
use gmsdi_engine::progress::Tracker;
use gmsdi_engine::settings::{Method, Value};
use gmsdi_engine::{EngineError, Result};
use gmsdi_tests::{correlation, load_fixture, rng, Spectra};

const RATE: u32 = 8000;
const STEMS: [&str; 4] = ["bass", "drums", "guitar", "piano"];

fn tracker() -> Tracker {
    Tracker::new(1, Arc::new(AtomicBool::new(false)), Box::new(|_| {}))
}

fn run(model: &mut dyn TextDenoiser, job: &Job) -> JobOutput {
    job::run(model, job, &mut tracker()).unwrap()
}

fn mono(x: Vec<f32>) -> Audio {
    Audio { rate: RATE, channels: vec![x] }
}

fn stems() -> Vec<String> {
    STEMS.iter().map(|s| s.to_string()).collect()
}

/// Whittle log-likelihood of x under stem k's spectrum.
fn whittle(s: &Spectra, k: usize, x: &[f32]) -> f64 {
    let n = x.len();
    let power = gmsdi_tests::power_spectrum(x);
    let bins = s.bins(k, n);
    -power.iter().zip(&bins).map(|(p, b)| p / (n as f64 * b) + b.ln()).sum::<f64>()
}

fn classify(s: &Spectra, x: &[f32]) -> String {
    let best = (0..s.bands.len()).max_by(|&a, &b| whittle(s, a, x).total_cmp(&whittle(s, b, x))).unwrap();
    s.bands[best].stem.clone()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn separator_and_extractor_come_within_1_db_of_exact_posterior_sampling() {
    let spectra = Spectra::load();
    let mut model = load_fixture();
    let n = 8192;
    let all: Vec<usize> = (0..4).collect();
    let (mut exact, mut wiener, mut separator, mut extractor, mut mixed) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for track in 0..4u64 {
        let mut r = rng(100 + track);
        let truth: Vec<Vec<f32>> = all.iter().map(|&k| spectra.sample(k, n, &mut r)).collect();
        let y: Vec<f32> = (0..n).map(|i| truth.iter().map(|t| t[i]).sum()).collect();
        for (k, t) in truth.iter().enumerate() {
            let post = spectra.posterior_sample(k, &all, &y, &mut r);
            exact.push(si_sdr(&post, t) - si_sdr(&y, t));
            let y64: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
            let mean_estimate = gmsdi_tests::filter(&y64, &spectra.wiener(k, &all, n));
            wiener.push(si_sdr(&mean_estimate, t) - si_sdr(&y, t));
        }
        let runs = [
            (Method::Separator, 1, &mut separator),
            (Method::Extractor, 1, &mut extractor),
            (Method::Extractor, 3, &mut mixed),
        ];
        for (method, resamples, scores) in runs {
            let mut job = Job::new(Task::Separate { mix: mono(y.clone()), stems: stems() });
            job.overrides.set("method", Value::Name(method.name().into())).unwrap();
            // The fixture model names no constrained stem; the separator has
            // always constrained drums here (the extractors ignore it).
            job.overrides.set("constrained", Value::Name("drums".into())).unwrap();
            job.overrides.set("resamples", Value::Count(resamples)).unwrap();
            job.overrides.set("w", Value::Number(0.0)).unwrap();
            job.overrides.set("steps", Value::Count(60)).unwrap();
            job.overrides.set("seed", Value::Seed(track)).unwrap();
            let out = run(&mut model, &job);
            for (k, (name, audio)) in out.stems.iter().enumerate() {
                assert_eq!(name, STEMS[k]);
                assert_eq!(audio.frames(), n);
                scores.push(si_sdr(&audio.channels[0], &truth[k]) - si_sdr(&y, &truth[k]));
            }
        }
    }
    let (e, m, s, x, x3) = (mean(&exact), mean(&wiener), mean(&separator), mean(&extractor), mean(&mixed));
    println!(
        "SI-SDRi (dB), mean of 4 tracks x 4 stems: exact posterior sampling {e:.2}, posterior mean {m:.2}, \
         separator {s:.2}, extractor {x:.2}, extractor with 3 resamples per step {x3:.2}"
    );
    assert!(e > 1.0, "the fixture must make separation possible: {e}");
    assert!((s - e).abs() < 1.0, "separator {s:.2} dB vs exact {e:.2} dB");
    // The extractor's annealing family has about half the true noise variance at
    // large σ, which pulls its samples towards the posterior mean: it may score
    // above posterior sampling, never above the posterior mean (MMSE).
    assert!(x > e - 1.0 && x < m, "extractor {x:.2} dB vs exact {e:.2} dB and posterior mean {m:.2} dB");
    // The family ends at the true posterior (σ → 0), so more Langevin mixing per
    // step brings the extractor towards exact posterior sampling.
    assert!(x3 < x - 0.2 && x3 > e - 1.0, "extractor with more mixing {x3:.2} dB vs {x:.2} dB, exact {e:.2} dB");
}

/// A track of the fixture's four Gaussian stems and their mix.
struct Track {
    truth: Vec<Vec<f32>>,
    mix: Vec<f32>,
}

impl Track {
    /// `n` samples of each stem, drawn from its spectrum with `seed`.
    fn draw(spectra: &Spectra, n: usize, seed: u64) -> Track {
        let mut r = rng(seed);
        let truth: Vec<Vec<f32>> = (0..STEMS.len()).map(|k| spectra.sample(k, n, &mut r)).collect();
        let mix = (0..n).map(|i| truth.iter().map(|t| t[i]).sum()).collect();
        Track { truth, mix }
    }

    /// SI-SDRi of each stem of a job's output.
    fn improvements(&self, out: &JobOutput) -> Vec<f64> {
        let scores = out.stems.iter().zip(&self.truth);
        scores.map(|((_, audio), t)| si_sdr(&audio.channels[0], t) - si_sdr(&self.mix, t)).collect()
    }

    /// SI-SDRi of each stem's posterior mean: the Wiener filter with the true spectra.
    fn posterior_mean_improvements(&self, spectra: &Spectra) -> Vec<f64> {
        let all: Vec<usize> = (0..STEMS.len()).collect();
        let y64: Vec<f64> = self.mix.iter().map(|&v| f64::from(v)).collect();
        let scores = self.truth.iter().enumerate();
        scores
            .map(|(k, t)| {
                let estimate = gmsdi_tests::filter(&y64, &spectra.wiener(k, &all, self.mix.len()));
                si_sdr(&estimate, t) - si_sdr(&self.mix, t)
            })
            .collect()
    }

    /// The unguided extractor on this track's mix, 40 steps, seeded with `seed`.
    fn extractor_job(&self, seed: u64) -> Job {
        let mut job = Job::new(Task::Separate { mix: mono(self.mix.clone()), stems: stems() });
        job.overrides.set("method", Value::Name(Method::Extractor.name().into())).unwrap();
        job.overrides.set("w", Value::Number(0.0)).unwrap();
        job.overrides.set("steps", Value::Count(40)).unwrap();
        job.overrides.set("seed", Value::Seed(seed)).unwrap();
        job
    }
}

#[test]
fn wiener_post_filter_lies_between_the_samples_and_the_posterior_mean() {
    // For Gaussian stems the posterior mean is the Wiener filter with the true
    // spectra. The post-filter takes the spectra from the extractor's samples
    // instead, so it should land between those samples and the posterior mean.
    let spectra = Spectra::load();
    let mut model = load_fixture();
    let (mut posterior_mean, mut raw, mut filtered) = (Vec::new(), Vec::new(), Vec::new());
    for seed in 0..4u64 {
        let track = Track::draw(&spectra, 8192, 300 + seed);
        posterior_mean.extend(track.posterior_mean_improvements(&spectra));
        for (wiener, scores) in [(false, &mut raw), (true, &mut filtered)] {
            let mut job = track.extractor_job(seed);
            job.overrides.set("wiener", Value::Switch(wiener)).unwrap();
            let out = run(&mut model, &job);
            assert_eq!(out.settings.wiener, wiener);
            scores.extend(track.improvements(&out));
            if wiener {
                let worst = (0..track.mix.len())
                    .map(|i| (out.stems.iter().map(|(_, a)| a.channels[0][i]).sum::<f32>() - track.mix[i]).abs())
                    .fold(0.0, f32::max);
                assert!(worst < 1e-4, "filtered stems miss the mix by {worst}");
            }
        }
    }
    let (m, x, f) = (mean(&posterior_mean), mean(&raw), mean(&filtered));
    println!("SI-SDRi (dB): extractor {x:.2}, with the Wiener post-filter {f:.2}, posterior mean {m:.2}");
    assert!(f > x + 0.3 && f < m + 0.3, "post-filter {f:.2} dB vs samples {x:.2} dB and posterior mean {m:.2} dB");
}

#[test]
fn averaged_passes_come_closer_to_the_posterior_mean() {
    // Each pass is a draw around the posterior mean; the mean of four draws
    // keeps a quarter of one draw's spread, so it scores higher, and no
    // average of draws beats the posterior mean (MMSE) itself.
    let spectra = Spectra::load();
    let mut model = load_fixture();
    let (mut posterior_mean, mut one, mut four) = (Vec::new(), Vec::new(), Vec::new());
    for seed in 0..4u64 {
        let track = Track::draw(&spectra, 8192, 500 + seed);
        posterior_mean.extend(track.posterior_mean_improvements(&spectra));
        for (passes, scores) in [(1, &mut one), (4, &mut four)] {
            let mut job = track.extractor_job(seed);
            job.overrides.set("passes", Value::Count(passes)).unwrap();
            scores.extend(track.improvements(&run(&mut model, &job)));
        }
    }
    let (m, x1, x4) = (mean(&posterior_mean), mean(&one), mean(&four));
    println!("SI-SDRi (dB): extractor, 1 pass {x1:.2}, mean of 4 passes {x4:.2}, posterior mean {m:.2}");
    assert!(x4 > x1 + 1.0 && x4 < m + 0.1, "4 passes {x4:.2} dB vs 1 pass {x1:.2} dB and posterior mean {m:.2} dB");
}

#[test]
fn total_generation_draws_each_stem_from_its_own_spectrum() {
    let spectra = Spectra::load();
    let mut model = load_fixture();
    // Few steps too: the four stems are coupled through the mixture, a stiff
    // term that diverged with explicit steps below ~30 before it was split off.
    for steps in [10, 20, 40] {
        let mut job = Job::new(Task::Generate {
            stems: STEMS.iter().map(|s| vec![s.to_string()]).collect(),
            seconds: 1.0,
            rate: RATE,
            channels: 1,
        });
        job.overrides.set("w", Value::Number(0.0)).unwrap();
        job.overrides.set("steps", Value::Count(steps)).unwrap();
        let out = run(&mut model, &job);
        assert_eq!(out.stems.len(), 5);
        for (k, (name, audio)) in out.stems.iter().take(4).enumerate() {
            assert_eq!(audio.frames(), 8000);
            let found = classify(&spectra, &audio.channels[0]);
            assert_eq!(&found, name, "{steps} steps: generated {name} has another stem's spectrum");
            let var = audio.channels[0].iter().map(|v| f64::from(v * v)).sum::<f64>() / 8000.0;
            let expected = mean(&spectra.bins(k, 4096));
            assert!(
                var > expected / 2.0 && var < expected * 2.0,
                "{steps} steps, {name}: variance {var} vs {expected}"
            );
        }
        let (_, mix) = &out.stems[4];
        let sum: Vec<f32> = (0..8000).map(|i| out.stems[..4].iter().map(|(_, a)| a.channels[0][i]).sum()).collect();
        assert_eq!(mix.channels[0], sum);
    }
}

#[test]
fn a_negative_prompt_steers_single_stem_generation_away() {
    // Guidance D(z) + w·(D(z) − D(z_neg)) with the fixture's Wiener denoisers
    // lowers the gain where the negative stem's spectrum dominates (down to
    // 1/(1+w) of the stem's own power). The one-stem mixture variable used to
    // be generated without the negative prompt and the stem ended equal to it:
    // both shares came out identical.
    let spectra = Spectra::load();
    let mut model = load_fixture();
    let (guitar, bass) = (spectra.index("guitar"), spectra.index("bass"));
    let n = 8000;
    let bass_bins: Vec<bool> = (0..n).map(|i| spectra.bins(bass, n)[i] > spectra.bins(guitar, n)[i]).collect();
    let mut share_in_bass_band = |negative: bool| {
        let mut job =
            Job::new(Task::Generate { stems: vec![vec!["guitar".into()]], seconds: 1.0, rate: RATE, channels: 1 });
        job.overrides.set("w", Value::Number(3.0)).unwrap();
        job.overrides.set("steps", Value::Count(30)).unwrap();
        job.overrides.set("negative_prompts", Value::Switch(negative)).unwrap();
        job.negatives.insert("guitar".into(), "bass".into());
        let x = run(&mut model, &job).stems[0].1.channels[0].clone();
        let power = gmsdi_tests::power_spectrum(&x);
        let low: f64 = power.iter().zip(&bass_bins).filter(|(_, b)| **b).map(|(p, _)| p).sum();
        low / power.iter().sum::<f64>()
    };
    let (with, without) = (share_in_bass_band(true), share_in_bass_band(false));
    println!("guitar's energy where bass dominates: {with:.4} with negative prompt \"bass\", {without:.4} without");
    assert!(with < 0.92 * without, "the negative prompt must cut the bass band: {with:.4} vs {without:.4}");
}

/// A bass generated under a guitar sampled from the fixture (12,000 frames,
/// w = 0, 40 steps), with the mixture's likelihood width `gamma_mix`
/// (None: the default); returns the guitar and the job's output.
fn bass_under_guitar(gamma_mix: Option<f32>) -> (Vec<f32>, gmsdi_engine::job::JobOutput) {
    let spectra = Spectra::load();
    let mut model = load_fixture();
    let guitar = spectra.sample(spectra.index("guitar"), 12000, &mut rng(5));
    let mut job = Job::new(Task::Accompany {
        sources: vec![Source { label: "guitar".into(), audio: mono(guitar.clone()) }],
        generate: vec![vec!["bass".into()]],
    });
    job.overrides.set("w", Value::Number(0.0)).unwrap();
    job.overrides.set("steps", Value::Count(40)).unwrap();
    if let Some(g) = gamma_mix {
        job.overrides.set("gamma_mix", Value::Width(Some(g))).unwrap();
    }
    let out = run(&mut model, &job);
    (guitar, out)
}

#[test]
fn accompaniment_generates_the_asked_stem_aligned_with_the_source() {
    let spectra = Spectra::load();
    let (guitar, out) = bass_under_guitar(None);
    let (name, bass) = &out.stems[0];
    assert_eq!(name, "bass");
    assert_eq!((bass.rate, bass.frames()), (RATE, 12000));
    assert_eq!(classify(&spectra, &bass.channels[0]), "bass");
    let corr = correlation(&bass.channels[0], &guitar);
    assert!(corr.abs() < 0.4, "the bass must not copy the guitar (correlation {corr:.2})");
}

/// Correlation of a bass generated under a given guitar with that guitar,
/// with the mixture's likelihood width `gamma_mix` (None: the default).
fn accompaniment_correlation(gamma_mix: Option<f32>) -> f32 {
    let (guitar, out) = bass_under_guitar(gamma_mix);
    correlation(&out.stems[0].1.channels[0], &guitar)
}

#[test]
fn accompaniment_defaults_keep_an_inverted_copy_of_the_source_out_of_the_generated_stem() {
    // With γ_mix = γ_x = 1σ the generated bass takes the mixture's shortfall,
    // an inverted copy of the guitar (−0.31 on this fixture); the default
    // γ_mix = 0.3σ does not (−0.03).
    let default = accompaniment_correlation(None);
    assert!(default.abs() < 0.15, "default γ_mix: correlation {default:.3}");
    let wide = accompaniment_correlation(Some(1.0));
    assert!(wide < -0.2, "γ_mix = 1: correlation {wide:.3}");
}

#[test]
fn long_generation_has_no_seams_at_window_boundaries() {
    let spectra = Spectra::load();
    let mut model = load_fixture();
    let mut job = Job::new(Task::Generate { stems: vec![vec!["drums".into()]], seconds: 3.0, rate: RATE, channels: 1 });
    job.overrides.set("w", Value::Number(0.0)).unwrap();
    job.overrides.set("steps", Value::Count(30)).unwrap();
    let out = run(&mut model, &job);
    let x = &out.stems[0].1.channels[0];
    assert_eq!(classify(&spectra, x), "drums");
    // RMS in 256-sample frames: no frame (boundaries included) drops out or bursts.
    let rms: Vec<f32> = x.chunks(256).map(|c| (c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32).sqrt()).collect();
    let mut sorted = rms.clone();
    sorted.sort_by(f32::total_cmp);
    let median = sorted[sorted.len() / 2];
    for (i, r) in rms.iter().enumerate() {
        assert!(*r > median * 0.4 && *r < median * 2.5, "frame {i}: rms {r} vs median {median}");
    }
}

#[test]
fn same_seed_same_output_other_seed_other_output() {
    let spectra = Spectra::load();
    let mut model = load_fixture();
    let y: Vec<f32> = (0..3000)
        .map({
            let a = spectra.sample(0, 3000, &mut rng(1));
            let b = spectra.sample(1, 3000, &mut rng(2));
            move |i| a[i] + b[i]
        })
        .collect();
    let mut job = Job::new(Task::Separate { mix: mono(y), stems: vec!["bass".into(), "drums".into()] });
    job.overrides.set("steps", Value::Count(10)).unwrap();
    job.overrides.set("seed", Value::Seed(3)).unwrap();
    let a = run(&mut model, &job).stems;
    let b = run(&mut model, &job).stems;
    assert_eq!(a[0].1, b[0].1);
    job.overrides.set("seed", Value::Seed(4)).unwrap();
    assert_ne!(a[0].1, run(&mut model, &job).stems[0].1);
}

#[test]
fn the_output_records_the_method_and_constrained_stem_that_ran() {
    let mut model = load_fixture();
    let mix = mono((0..2000).map(|i| 0.1 * (i as f32 * 0.05).sin()).collect());
    let names = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let ran = |model: &mut Model, task: Task, method: Method, constrained: Option<&str>| {
        let mut job = Job::new(task);
        job.overrides.set("method", Value::Name(method.name().into())).unwrap();
        if let Some(stem) = constrained {
            job.overrides.set("constrained", Value::Name(stem.into())).unwrap();
        }
        job.overrides.set("steps", Value::Count(2)).unwrap();
        let s = run(model, &job).settings;
        (s.method, s.constrained)
    };
    // The fixture model names no constrained stem: the separator takes the last one.
    let separate = Task::Separate { mix: mix.clone(), stems: names(&["drums", "bass"]) };
    assert_eq!(ran(&mut model, separate.clone(), Method::Separator, None), (Method::Separator, Some("bass".into())));
    assert_eq!(
        ran(&mut model, separate.clone(), Method::Ensemble, Some("drums")),
        (Method::Ensemble, Some("drums".into()))
    );
    assert_eq!(ran(&mut model, separate, Method::Extractor, Some("drums")), (Method::Extractor, None));
    // Extraction always runs the extractors.
    let extract = Task::Extract { mix, stems: names(&["bass"]) };
    assert_eq!(ran(&mut model, extract, Method::Ensemble, Some("drums")), (Method::Extractor, None));
}

#[test]
fn stereo_44k_mix_comes_back_stereo_44k_and_separated() {
    let spectra = Spectra::load();
    let mut model = load_fixture();
    let n = 8000;
    let truth: Vec<Audio> =
        (0..2).map(|k| mono(spectra.sample(k, n, &mut rng(20 + k as u64))).resampled(44100).unwrap()).collect();
    let left: Vec<f32> = (0..truth[0].frames()).map(|i| truth[0].channels[0][i] + truth[1].channels[0][i]).collect();
    let right: Vec<f32> =
        (0..truth[0].frames()).map(|i| 0.5 * truth[0].channels[0][i] + truth[1].channels[0][i]).collect();
    let mix = Audio { rate: 44100, channels: vec![left.clone(), right.clone()] };
    let mut job = Job::new(Task::Separate { mix, stems: vec!["bass".into(), "drums".into()] });
    job.overrides.set("steps", Value::Count(30)).unwrap();
    job.overrides.set("w", Value::Number(0.0)).unwrap();
    let out = run(&mut model, &job);
    for (_, a) in &out.stems {
        assert_eq!((a.rate, a.channel_count(), a.frames()), (44100, 2, 44100));
    }
    // The separator's stems sum to the mix at the input's rate (the constrained stem takes the rest).
    for (ch, input) in [&left, &right].iter().enumerate() {
        let worst = (0..44100)
            .map(|i| (out.stems[0].1.channels[ch][i] + out.stems[1].1.channels[ch][i] - input[i]).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-5, "channel {ch}: stems miss the mix by {worst}");
    }
    let bass_left = &out.stems[0].1.channels[0];
    let gain = si_sdr(bass_left, &truth[0].channels[0]) - si_sdr(&left, &truth[0].channels[0]);
    assert!(gain > 3.0, "bass SI-SDRi on the left channel: {gain:.2} dB");
}

/// Delegates to the fixture and records every network call's batch size.
struct Counting {
    inner: Model,
    calls: Vec<usize>,
}

impl Denoiser for Counting {
    fn channels(&self) -> usize {
        self.inner.channels()
    }
    fn denoise(
        &mut self,
        x: &[f32],
        frames: usize,
        sigma: &[f32],
        embedding: &[f32],
        context: Option<&[f32]>,
    ) -> Result<Vec<f32>> {
        self.calls.push(sigma.len());
        self.inner.denoise(x, frames, sigma, embedding, context)
    }
}

impl TextDenoiser for Counting {
    fn manifest(&self) -> &Manifest {
        &self.inner.manifest
    }
    fn embed(&mut self, prompt: &str) -> Result<Vec<f32>> {
        self.inner.embed(prompt)
    }
}

#[test]
fn every_evaluation_is_one_batch_of_all_rows() {
    let mut model = Counting { inner: load_fixture(), calls: Vec::new() };
    let mut job = Job::new(Task::Generate {
        stems: STEMS.iter().map(|s| vec![s.to_string()]).collect(),
        seconds: 0.25,
        rate: RATE,
        channels: 1,
    });
    job.overrides.set("steps", Value::Count(6)).unwrap();
    job.overrides.set("w", Value::Number(3.0)).unwrap();
    let out = run(&mut model, &job);
    assert_eq!(out.evaluations, 10, "ADPM2 with 6 levels: 2·5 evaluations");
    assert_eq!(model.calls, vec![10; 10], "each evaluation: 2·(K+1) rows in one call");
}

#[test]
fn cancelling_stops_before_the_next_evaluation() {
    let mut model = load_fixture();
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let mut tracker = Tracker::new(
        1,
        cancel,
        Box::new(move |p| {
            log.lock().unwrap().push(p.step);
            if p.step == 3 {
                flag.store(true, Ordering::Relaxed);
            }
        }),
    );
    let job = Job::new(Task::Generate { stems: vec![vec!["bass".into()]], seconds: 1.0, rate: RATE, channels: 1 });
    let err = job::run(&mut model, &job, &mut tracker).unwrap_err();
    assert!(matches!(err, EngineError::Cancelled), "{err}");
    assert_eq!(*seen.lock().unwrap(), vec![1, 2, 3]);
}

#[test]
fn bad_requests_get_clear_errors() {
    let mut model = load_fixture();
    let mix = mono(vec![0.1; 1000]);
    let cases = [
        (Task::Separate { mix: mix.clone(), stems: vec!["bass".into()] }, "at least two stems"),
        (Task::Separate { mix: mix.clone(), stems: vec!["bass".into(), "kazoo".into()] }, "unknown stem \"kazoo\""),
        (Task::Separate { mix: mono(vec![]), stems: stems() }, "empty"),
        (Task::Separate { mix: mono(vec![0.1, f32::NAN, 0.2]), stems: stems() }, "NaN"),
        (Task::Generate { stems: vec![vec!["bass".into()]], seconds: -1.0, rate: RATE, channels: 1 }, "positive"),
    ];
    for (task, expected) in cases {
        let err = job::run(&mut model, &Job::new(task), &mut tracker()).unwrap_err().to_string();
        assert!(err.contains(expected), "expected \"{expected}\" in: {err}");
    }
    let silent = run(&mut model, &Job::new(Task::Separate { mix: mono(vec![0.0; 500]), stems: stems() }));
    assert!(silent.warnings.iter().any(|w| w.contains("silent")));
    assert!(silent.stems.iter().all(|(_, a)| a.channels[0].iter().all(|v| *v == 0.0) && a.frames() == 500));
}
