//! Separation and extraction: a mix split into stems window by window, by
//! the separator (one constrained stem), one extractor per stem, or both.

use rand::SeedableRng;

use crate::audio::Audio;
use crate::chunk::{plan, Stitcher};
use crate::context::Context;
use crate::error::{EngineError, Result};
use crate::gmsdi::{Extractor, Separator};
use crate::post_filter::PostFilter;
use crate::progress::Tracker;
use crate::rows::{flatten, to_audio, to_rows, unflatten, Rows};
use crate::sampler::Rng;
use crate::settings::{Method, TaskKind};

/// Splits `mix` into `stems`, each at the mix's rate, channel count and
/// length. `mixture_stems` are all the stems the mix holds: the extractor
/// takes each stem against the others of them.
pub(crate) fn separate(
    cx: &mut Context,
    mix: &Audio,
    stems: &[String],
    mixture_stems: &[String],
    tracker: &mut Tracker,
) -> Result<Vec<(String, Audio)>> {
    for s in stems.iter().chain(mixture_stems) {
        cx.check_stem(s)?;
    }
    mix.check_usable("mix")?;
    if mix.rms() < 1e-7 {
        cx.warnings.push("the mix is silent, so every stem is silent".into());
        return Ok(stems
            .iter()
            .map(|s| (s.clone(), Audio::silence(mix.rate, mix.channel_count(), mix.frames())))
            .collect());
    }
    let runs = SeparationPlan::new(cx.settings.method, cx.settings.constrained.as_deref(), stems)?;
    // The job's output tells which stem the separator constrained, none if only extractors ran.
    cx.settings.constrained = runs.separator.map(|k| stems[k].clone());
    // With the Wiener filter the model hears the mix once (the mid of a
    // stereo mix under a mono model) and its estimates only shape the
    // masks that split every channel; without it each channel is a lane.
    let rows = to_rows(mix, cx.manifest(), !cx.settings.wiener)?;
    let gain = cx.gain_for(mix.rms(), "the mix");
    let estimates = estimate(cx, &runs, stems, mixture_stems, &rows, gain, tracker)?;
    let mut out: Vec<(String, Audio)> = if cx.settings.wiener {
        let filter = PostFilter {
            mix,
            estimates: &estimates,
            model_rate: cx.manifest().sample_rate,
            gain,
            residual: cx.job.task.kind() == TaskKind::Extract,
        };
        stems.iter().cloned().zip(filter.run()?).collect()
    } else {
        let channels = mix.channel_count();
        stems
            .iter()
            .zip(estimates)
            .map(|(s, rows)| Ok((s.clone(), to_audio(rows, cx.manifest(), mix.rate, channels, mix.frames(), gain)?)))
            .collect::<Result<_>>()?
    };
    if let (Method::Separator, Some(k)) = (cx.settings.method, runs.separator) {
        constrain_to_mix(&mut out, k, mix);
    }
    Ok(out)
}

/// Each stem's estimate over the whole mix (`rows`, scaled by `gain`):
/// model-rate rows stitched from the windows the plan's runs separate, each
/// window the mean of the settings' passes over it.
fn estimate(
    cx: &mut Context,
    runs: &SeparationPlan,
    stems: &[String],
    mixture_stems: &[String],
    rows: &Rows,
    gain: f32,
    tracker: &mut Tracker,
) -> Result<Vec<Vec<Vec<f32>>>> {
    let total = rows.rows[0].len();
    let (window, multiple) = (cx.manifest().window, cx.manifest().length_multiple);
    let overlap = window / 8;
    let windows = plan(total, window, overlap, multiple);
    let passes = cx.settings.passes.max(1);
    tracker.set_total(windows.len() * passes * runs.runs() * cx.evals_per_run());
    let mut rng = Rng::seed_from_u64(cx.settings.seed);
    let mut stitchers: Vec<Stitcher> = stems.iter().map(|_| Stitcher::new(rows.rows.len(), total, overlap)).collect();
    for w in &windows {
        let y: Vec<f32> = flatten(&rows.rows, *w, gain);
        let out = (0..passes)
            .map(|_| separate_window(cx, runs, stems, mixture_stems, &y, rows.lanes, w.padded, tracker, &mut rng))
            .collect::<Result<Vec<_>>>()?;
        for (st, var) in stitchers.iter_mut().zip(mean(out)) {
            st.add(*w, &unflatten(&var, rows.rows.len(), w.padded));
        }
    }
    Ok(stitchers.into_iter().map(|st| st.rows).collect())
}

/// The mean of several passes' variables, variable by variable.
fn mean(passes: Vec<Vec<Vec<f32>>>) -> Vec<Vec<f32>> {
    let count = passes.len() as f32;
    let mut passes = passes.into_iter();
    let mut sum = passes.next().unwrap_or_default();
    for pass in passes {
        for (s, p) in sum.iter_mut().zip(pass) {
            s.iter_mut().zip(p).for_each(|(s, p)| *s += p);
        }
    }
    sum.iter_mut().flatten().for_each(|v| *v /= count);
    sum
}

/// Which separation runs a window needs, by index into the stems.
#[derive(Debug)]
struct SeparationPlan {
    /// The separator's constrained stem, when the separator runs.
    separator: Option<usize>,
    /// The stems that extractors take.
    extract: Vec<usize>,
}

impl SeparationPlan {
    /// The runs of `method` for `stems`. The separator constrains the
    /// settings' `constrained` stem (the caller's or the model's default),
    /// else the last of the stems.
    fn new(method: Method, constrained: Option<&str>, stems: &[String]) -> Result<SeparationPlan> {
        let k = match constrained.map(|c| (c, stems.iter().position(|s| s == c))) {
            Some((_, Some(k))) => k,
            Some((c, None)) if method != Method::Extractor => {
                return Err(EngineError::Input(format!("constrained stem \"{c}\" is not one of the stems to separate")))
            }
            _ => stems.len().saturating_sub(1),
        };
        Ok(match method {
            Method::Separator => SeparationPlan { separator: Some(k), extract: vec![] },
            Method::Extractor => SeparationPlan { separator: None, extract: (0..stems.len()).collect() },
            Method::Ensemble => {
                SeparationPlan { separator: Some(k), extract: (0..stems.len()).filter(|&i| i != k).collect() }
            }
        })
    }

    /// Sampler runs per window.
    fn runs(&self) -> usize {
        usize::from(self.separator.is_some()) + usize::from(!self.extract.is_empty())
    }
}

/// Runs one window `y` (`lanes` lanes of `frames` frames) through the
/// plan's separator and extractors: one variable per stem, empty for a
/// stem no run produced.
#[allow(clippy::too_many_arguments)]
fn separate_window(
    cx: &mut Context,
    runs: &SeparationPlan,
    stems: &[String],
    mixture_stems: &[String],
    y: &[f32],
    lanes: usize,
    frames: usize,
    tracker: &mut Tracker,
    rng: &mut Rng,
) -> Result<Vec<Vec<f32>>> {
    let sigmas = cx.sigmas();
    let sampler = cx.settings.sampler;
    let mut out: Vec<Option<Vec<f32>>> = vec![None; stems.len()];
    if let Some(k) = runs.separator {
        let conds = stems.iter().map(|s| cx.condition(&[s])).collect::<Result<Vec<_>>>()?;
        let mut sep =
            Separator { guide: cx.guide(tracker, lanes, frames), mix: y.to_vec(), stems: conds, constrained: k };
        let len = sep.variables() * y.len();
        let x = sampler.sample(&mut sep, &sigmas, len, rng)?;
        for (slot, v) in out.iter_mut().zip(sep.stems_from_state(&x)) {
            *slot = Some(v);
        }
    }
    if !runs.extract.is_empty() {
        let mut targets = Vec::new();
        for &k in &runs.extract {
            let s = stems[k].as_str();
            let others: Vec<&str> = mixture_stems.iter().map(String::as_str).filter(|&o| o != s).collect();
            targets.push((cx.condition(&[s])?, cx.condition(&others)?));
        }
        let mut ext = Extractor { guide: cx.guide(tracker, lanes, frames), mix: y.to_vec(), targets };
        let len = ext.targets.len() * y.len();
        let x = sampler.sample(&mut ext, &sigmas, len, rng)?;
        for (&k, stem) in runs.extract.iter().zip(x.chunks(y.len())) {
            out[k] = Some(stem.to_vec());
        }
    }
    Ok(out.into_iter().map(Option::unwrap_or_default).collect())
}

/// Makes stem `k` the mix minus all other stems at the input's rate, so the
/// separator's stems sum exactly to the mix, including what lies above the
/// model's band (it goes to the constrained stem, as in eq. 13).
fn constrain_to_mix(stems: &mut [(String, Audio)], k: usize, mix: &Audio) {
    let mut rest = mix.channels.clone();
    for (_, a) in stems.iter().enumerate().filter(|(i, _)| *i != k).map(|(_, s)| s) {
        for (r, c) in rest.iter_mut().zip(&a.channels) {
            r.iter_mut().zip(c).for_each(|(r, s)| *r -= s);
        }
    }
    stems[k].1.channels = rest;
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::job::Task;
    use crate::probe::{job, run_job, sine, Probe, RATE};
    use crate::settings::Value;

    /// A stereo mix of `frames` frames at `rate`: two different sines.
    fn stereo(rate: u32, frames: usize) -> Audio {
        Audio { rate, channels: vec![sine(rate, frames, 220.0, 0.3), sine(rate, frames, 330.0, 0.2)] }
    }

    fn separate_task(mix: Audio, stems: &[&str]) -> Task {
        Task::Separate { mix, stems: names(stems) }
    }

    #[test]
    fn the_separators_stems_add_up_to_the_mix_at_its_rate_and_channels() {
        // At twice the model's rate, with a 6 kHz tone the model cannot hear:
        // the constrained stem takes it.
        let mut mix = stereo(2 * RATE, 354);
        let air = sine(2 * RATE, 354, 6000.0, 0.1);
        mix.channels[0].iter_mut().zip(&air).for_each(|(m, a)| *m += a);
        for wiener in [false, true] {
            let mut job = job(separate_task(mix.clone(), &["bass", "drums", "piano"]));
            job.overrides.set("wiener", Value::Switch(wiener)).unwrap();
            let out = run_job(&mut Probe::new(false), &job).0.unwrap();
            assert_eq!(out.settings.constrained.as_deref(), Some("piano"), "the last stem by default");
            let got: Vec<&str> = out.stems.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(got, ["bass", "drums", "piano"]);
            for (c, channel) in mix.channels.iter().enumerate() {
                for (i, m) in channel.iter().enumerate() {
                    let sum: f32 = out.stems.iter().map(|(_, a)| a.channels[c][i]).sum();
                    assert!((sum - m).abs() < 1e-4, "wiener {wiener}, channel {c}, frame {i}: {sum} against {m}");
                }
            }
        }
    }

    #[test]
    fn each_window_runs_the_free_stems_then_the_constrained_one_one_row_per_lane() {
        // 177 frames in 64-frame windows overlapping by 8: 4 windows (hop 56).
        let mut model = Probe::new(false);
        let mut job = job(separate_task(stereo(RATE, 177), &["bass", "drums", "piano"]));
        job.overrides.set("constrained", Value::Name("bass".into())).unwrap();
        let (out, totals) = run_job(&mut model, &job);
        assert_eq!(out.unwrap().evaluations, 4 * 3, "4 windows of 3 evaluations");
        assert!(totals.iter().all(|&t| t == 12), "{totals:?}");
        let [bass, drums, piano] = ["bass", "drums", "piano"].map(|s| model.value(s));
        // Without the Wiener filter each channel of the stereo mix is a lane.
        let want = [drums, drums, piano, piano, bass, bass];
        assert!(model.calls.iter().all(|c| c.rows == want), "{:?}", model.calls[0].rows);
        // With it the model hears the mix once, as one lane.
        let mut model = Probe::new(false);
        let mut job = job.clone();
        job.overrides.set("wiener", Value::Switch(true)).unwrap();
        run_job(&mut model, &job).0.unwrap();
        assert!(model.calls.iter().all(|c| c.rows == [drums, piano, bass]), "{:?}", model.calls[0].rows);
    }

    #[test]
    fn the_extractor_takes_each_stem_against_all_the_others_of_the_model() {
        let mut model = Probe::new(false);
        let task = Task::Extract {
            mix: Audio { rate: RATE, channels: vec![sine(RATE, 100, 220.0, 0.3)] },
            stems: names(&["drums"]),
        };
        let out = run_job(&mut model, &job(task)).0.unwrap();
        assert_eq!((out.settings.method, out.settings.constrained), (Method::Extractor, None));
        let (drums, rest) = (model.value("drums"), model.value("bass, guitar, piano"));
        assert!(model.calls.iter().all(|c| c.rows == [drums, rest]), "{:?}", model.calls[0].rows);
        assert_eq!((out.stems.len(), out.stems[0].0.as_str(), out.stems[0].1.frames()), (1, "drums", 100));
    }

    #[test]
    fn the_ensemble_runs_the_separator_and_the_extractors_in_each_window() {
        let mut model = Probe::new(false);
        let mut job = job(separate_task(stereo(RATE, 100), &["bass", "drums", "piano"]));
        job.overrides.set("method", Value::Name("ensemble".into())).unwrap();
        job.overrides.set("wiener", Value::Switch(true)).unwrap();
        let out = run_job(&mut model, &job).0.unwrap();
        assert_eq!(out.evaluations, 2 * 2 * 3, "2 windows, 2 runs, 3 evaluations each");
        assert_eq!(out.settings.constrained.as_deref(), Some("piano"));
        let [bass, drums, piano] = ["bass", "drums", "piano"].map(|s| model.value(s));
        let [not_bass, not_drums] = ["drums, piano", "bass, piano"].map(|s| model.value(s));
        let separator = model.calls.iter().filter(|c| c.rows == [bass, drums, piano]).count();
        let extractors = model.calls.iter().filter(|c| c.rows == [bass, not_bass, drums, not_drums]).count();
        assert_eq!((separator, extractors), (6, 6), "every evaluation is one of the two runs");
    }

    #[test]
    fn each_pass_runs_every_window_again() {
        let single = job(separate_task(stereo(RATE, 100), &["bass", "drums"]));
        let mut triple = single.clone();
        triple.overrides.set("passes", Value::Count(3)).unwrap();
        let (one, one_totals) = run_job(&mut Probe::new(false), &single);
        let (three, three_totals) = run_job(&mut Probe::new(false), &triple);
        let (one, three) = (one.unwrap(), three.unwrap());
        assert_eq!((one.settings.passes, three.settings.passes), (1, 3));
        assert_eq!((one.evaluations, three.evaluations), (2 * 3, 3 * 2 * 3), "2 windows of 3 evaluations a pass");
        assert!(three_totals.iter().all(|&t| t == 18) && one_totals.iter().all(|&t| t == 6), "{three_totals:?}");
    }

    #[test]
    fn passes_are_averaged_variable_by_variable() {
        let passes =
            vec![vec![vec![1.0, 2.0], vec![3.0]], vec![vec![3.0, 6.0], vec![-1.0]], vec![vec![2.0, 1.0], vec![4.0]]];
        assert_eq!(mean(passes), [vec![2.0, 3.0], vec![2.0]]);
        assert_eq!(mean(vec![vec![vec![0.5]]]), [vec![0.5]], "one pass is its own mean");
    }

    #[test]
    fn extraction_leaves_the_rest_of_the_mix_out_and_separation_does_not() {
        let mono = Audio { rate: RATE, channels: vec![sine(RATE, 200, 220.0, 0.3)] };
        let with_wiener = |task| {
            let mut job = job(task);
            job.overrides.set("wiener", Value::Switch(true)).unwrap();
            run_job(&mut Probe::new(false), &job).0.unwrap()
        };
        // Extracting one stem: the Wiener filter gives the rest of the mix to a residual.
        let out = with_wiener(Task::Extract { mix: mono.clone(), stems: names(&["drums"]) });
        let (drums, mix) = (&out.stems[0].1.channels[0], &mono.channels[0]);
        assert!(drums.iter().zip(mix).any(|(d, m)| (d - m).abs() > 1e-3), "the stem took the whole mix");
        // Separating by extractors: the stems share the whole mix.
        let mut job = job(separate_task(mono.clone(), &["bass", "drums"]));
        job.overrides.set("wiener", Value::Switch(true)).unwrap();
        job.overrides.set("method", Value::Name("extractor".into())).unwrap();
        let out = run_job(&mut Probe::new(false), &job).0.unwrap();
        for (i, m) in mix.iter().enumerate() {
            let sum = out.stems[0].1.channels[0][i] + out.stems[1].1.channels[0][i];
            assert!((sum - m).abs() < 1e-5, "frame {i}: {sum} against {m}");
        }
    }

    #[test]
    fn each_extracted_stem_comes_from_its_own_run() {
        let mut job = job(separate_task(stereo(RATE, 100), &["bass", "drums", "piano"]));
        job.overrides.set("method", Value::Name("extractor".into())).unwrap();
        let out = run_job(&mut Probe::new(false), &job).0.unwrap();
        let stems: Vec<&Vec<f32>> = out.stems.iter().map(|(_, a)| &a.channels[0]).collect();
        assert!(stems[0] != stems[1] && stems[1] != stems[2] && stems[0] != stems[2]);
    }

    #[test]
    fn a_silent_mix_gives_silent_stems_without_running_the_model() {
        let mut model = Probe::new(false);
        let mix = Audio::silence(2 * RATE, 2, 300);
        let out = run_job(&mut model, &job(separate_task(mix, &["bass", "drums"]))).0.unwrap();
        assert!(model.calls.is_empty());
        assert!(out.warnings.iter().any(|w| w.contains("silent")), "{:?}", out.warnings);
        for (_, a) in &out.stems {
            assert_eq!((a.rate, a.channel_count(), a.frames()), (2 * RATE, 2, 300));
            assert!(a.channels.iter().flatten().all(|&v| v == 0.0));
        }
        // A quiet mix is not silent.
        let quiet = Audio { rate: RATE, channels: vec![sine(RATE, 300, 220.0, 1e-5)] };
        let out = run_job(&mut model, &job(separate_task(quiet, &["bass", "drums"]))).0.unwrap();
        assert!(!model.calls.is_empty() && out.warnings.iter().all(|w| !w.contains("mix is silent")));
    }

    fn names(stems: &[&str]) -> Vec<String> {
        stems.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_separator_constrains_the_settings_stem_else_the_last_one() {
        let stems = names(&["drums", "bass", "piano"]);
        let plan = SeparationPlan::new(Method::Separator, Some("bass"), &stems).unwrap();
        assert_eq!((plan.separator, plan.extract.len()), (Some(1), 0));
        // No stem name is special: without a setting it is the last stem, drums or not.
        let plan = SeparationPlan::new(Method::Separator, None, &stems).unwrap();
        assert_eq!(plan.separator, Some(2));
        let err = SeparationPlan::new(Method::Separator, Some("guitar"), &stems).unwrap_err().to_string();
        assert!(err.contains("\"guitar\""), "{err}");
    }

    #[test]
    fn the_ensemble_extracts_all_but_the_constrained_stem_and_the_extractor_all() {
        let stems = names(&["bass", "drums", "piano"]);
        let plan = SeparationPlan::new(Method::Ensemble, Some("drums"), &stems).unwrap();
        assert_eq!((plan.separator, plan.extract.clone(), plan.runs()), (Some(1), vec![0, 2], 2));
        // The extractor has no constrained stem, so a setting naming another stem is no error.
        let plan = SeparationPlan::new(Method::Extractor, Some("guitar"), &stems).unwrap();
        assert_eq!((plan.runs(), plan.separator, plan.extract), (1, None, vec![0, 1, 2]));
    }
}
