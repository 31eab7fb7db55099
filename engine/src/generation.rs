//! Generation: stems from nothing or under given sources (accompaniment),
//! window by window, each window continuing the one before.

use rand::SeedableRng;

use crate::audio::Audio;
use crate::chords::{ChordGuide, FLOOR};
use crate::chunk::{plan, Stitcher, Window};
use crate::context::Context;
use crate::error::{EngineError, Result};
use crate::gmsdi::{Condition, Generation, Heard, Prefix};
use crate::progress::Tracker;
use crate::request::{block_name, Source};
use crate::rows::{flatten, to_audio, to_rows, unflatten, Rows};
use crate::sampler::Rng;
use crate::settings::{spec, Accompaniment, SettingError};

/// Generates each of the `generate` blocks under the given sources, aligned
/// with them and as long as the longest, at the first source's rate and
/// channel count.
pub(crate) fn accompany(
    cx: &mut Context,
    sources: &[Source],
    generate: &[Vec<String>],
    tracker: &mut Tracker,
) -> Result<Vec<(String, Audio)>> {
    let first = sources.first().ok_or_else(|| EngineError::Input("accompany needs at least one source".into()))?;
    for s in sources {
        s.audio.check_usable(&format!("source \"{}\"", s.label))?;
    }
    let rows: Vec<Rows> = sources.iter().map(|s| to_rows(&s.audio, cx.manifest(), false)).collect::<Result<_>>()?;
    let total = rows.iter().map(|r| r.rows[0].len()).max().unwrap_or(0);
    if rows.iter().any(|r| r.rows[0].len() * 100 < total * 99) {
        cx.warnings.push("the sources differ in length; shorter ones are padded with silence".into());
    }
    let mut sum = Audio::silence(cx.manifest().sample_rate, cx.manifest().channels, total);
    for r in &rows {
        for (acc, row) in sum.channels.iter_mut().zip(&r.rows) {
            acc.iter_mut().zip(row).for_each(|(a, s)| *a += s);
        }
    }
    // The model's level is that of a whole mixture; the given sources are
    // only part of it. Scale them as if every stem had the same power, so
    // the sources plus the generated stems land at the mixture's level
    // (otherwise the mixture prior hears too loud a mix and the generated
    // stem cancels part of the given sources).
    let generated = generate.iter().map(Vec::len).sum::<usize>();
    let share = (sources.len() as f32 / (sources.len() + generated) as f32).sqrt();
    let mut gain = cx.gain_for(sum.rms(), "the sum of the sources");
    if cx.manifest().input_rms.is_some() {
        gain *= share;
    }
    let labels: Vec<String> = sources.iter().map(|s| s.label.clone()).collect();
    let known: Vec<Vec<Vec<f32>>> = rows.into_iter().map(|r| r.rows).collect();
    let outs = generate_rows(cx, generate, &labels, &known, total, gain, tracker)?;
    let (rate, channels) = (first.audio.rate, first.audio.channel_count());
    let frames = sources
        .iter()
        .map(|s| (s.audio.frames() as f64 * f64::from(rate) / f64::from(s.audio.rate)).round() as usize)
        .max()
        .unwrap_or(0);
    generate
        .iter()
        .zip(outs)
        .map(|(b, rows)| Ok((block_name(b), to_audio(rows, cx.manifest(), rate, channels, frames, gain)?)))
        .collect()
}

/// Generates each of the `stems` blocks from nothing, `seconds` long at
/// `rate` with `channels` channels, followed by their sum as "mix".
pub(crate) fn generate(
    cx: &mut Context,
    stems: &[Vec<String>],
    seconds: f64,
    rate: u32,
    channels: usize,
    tracker: &mut Tracker,
) -> Result<Vec<(String, Audio)>> {
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(EngineError::Input(format!("length must be a positive number of seconds, got {seconds}")));
    }
    if rate == 0 || channels == 0 {
        return Err(EngineError::Input("output rate and channels must be > 0".into()));
    }
    let total = (seconds * f64::from(cx.manifest().sample_rate)).round().max(1.0) as usize;
    let outs = generate_rows(cx, stems, &[], &[], total, 1.0, tracker)?;
    let frames = (seconds * f64::from(rate)).round() as usize;
    let mut result: Vec<(String, Audio)> = stems
        .iter()
        .zip(outs)
        .map(|(b, rows)| Ok((block_name(b), to_audio(rows, cx.manifest(), rate, channels, frames, 1.0)?)))
        .collect::<Result<_>>()?;
    let mut mix = Audio::silence(rate, channels, frames);
    for (_, a) in &result {
        for (m, c) in mix.channels.iter_mut().zip(&a.channels) {
            m.iter_mut().zip(c).for_each(|(m, s)| *m += s);
        }
    }
    result.push(("mix".into(), mix));
    Ok(result)
}

/// Generates `blocks` (model-rate rows each) over `total` frames under the
/// `known` sources' rows (labelled `known_labels`, scaled by `gain`),
/// window by window, each window continuing the previous one's last quarter.
fn generate_rows(
    cx: &mut Context,
    blocks: &[Vec<String>],
    known_labels: &[String],
    known: &[Vec<Vec<f32>>],
    total: usize,
    gain: f32,
    tracker: &mut Tracker,
) -> Result<Vec<Vec<Vec<f32>>>> {
    if blocks.is_empty() || blocks.iter().any(Vec::is_empty) {
        return Err(EngineError::Input("name at least one stem to generate".into()));
    }
    for s in blocks.iter().flatten() {
        cx.check_stem(s)?;
    }
    let sources = blocks
        .iter()
        .map(|b| cx.condition(&b.iter().map(String::as_str).collect::<Vec<_>>()))
        .collect::<Result<Vec<_>>>()?;
    let all: Vec<&str> = known_labels.iter().chain(blocks.iter().flatten()).map(String::as_str).collect();
    let mix_prompt = cx.joined_prompt(&all);
    // The mixture of a single generated block is that block: it gets the
    // block's condition, negative prompt included, or the unguided mixture
    // would pull the stem away from its negative-prompt guidance.
    let mix = if blocks.len() == 1 && known_labels.is_empty() {
        sources[0].clone()
    } else {
        Condition { prompt: cx.model.embed(&mix_prompt)?, negative: cx.model.embed("")? }
    };
    let c = cx.manifest().channels;
    let (window, multiple) = (cx.manifest().window, cx.manifest().length_multiple);
    let overlap = window / 4;
    let windows = plan(total, window, overlap, multiple);
    tracker.set_total(windows.len() * cx.evals_per_run());
    let sigmas = cx.sigmas();
    let sampler = cx.settings.sampler;
    let (rate, sigma_data) = (cx.manifest().sample_rate, cx.manifest().sigma_data);
    let heard = !known.is_empty() && hears_context(cx)?;
    // Eq. 12 samples the mixture too; a network that hears the given
    // tracks samples the generated variables alone.
    let vars = blocks.len() + usize::from(!heard);
    let mut rng = Rng::seed_from_u64(cx.settings.seed);
    let mut stitchers: Vec<Stitcher> = (0..vars).map(|_| Stitcher::new(c, total, overlap)).collect();
    let mut previous: Option<(Window, Vec<Vec<f32>>)> = None;
    for w in &windows {
        let prefix = previous.as_ref().map(|(pw, vals)| continuation(*pw, vals, *w));
        let known_vars: Vec<Vec<f32>> = known.iter().map(|rows| flatten(rows, *w, gain)).collect();
        let st = cx.settings.clone();
        let mut guide = cx.guide(tracker, 1, w.padded);
        let n = guide.var_len();
        let given = sum(&known_vars, n);
        if st.chord_w > 0.0 && !known_vars.is_empty() {
            let chords = ChordGuide::new(&given, w.padded, rate, st.chord_w, FLOOR * sigma_data);
            guide.chords = Some((chords, blocks.len()));
        }
        let x = if heard {
            guide.context = Some(given);
            let mut task = Heard { guide, sources: sources.clone(), prefix };
            sampler.sample(&mut task, &sigmas, vars * n, &mut rng)?
        } else {
            let mut task = Generation {
                guide,
                sources: sources.clone(),
                mix: mix.clone(),
                known: known_vars,
                alpha: st.alpha,
                beta: st.beta,
                gamma_sources: vec![st.gamma_sources; blocks.len()],
                gamma_mix: st.gamma_mix,
                prefix,
            };
            sampler.sample(&mut task, &sigmas, vars * n, &mut rng)?
        };
        let vals: Vec<Vec<f32>> = x.chunks(n).map(<[f32]>::to_vec).collect();
        for (st, v) in stitchers.iter_mut().zip(&vals) {
            st.add(*w, &unflatten(v, c, w.padded));
        }
        previous = Some((*w, vals));
    }
    Ok(stitchers.into_iter().take(blocks.len()).map(|s| s.rows).collect())
}

/// Whether accompaniment runs on a network that hears the given tracks
/// (the `accompaniment` setting, `auto` resolved by the model's inputs);
/// records the choice in the job's settings.
fn hears_context(cx: &mut Context) -> Result<bool> {
    let takes = cx.model.takes_context();
    if cx.settings.accompaniment == Accompaniment::Context && !takes {
        return Err(SettingError::Invalid {
            label: spec("accompaniment").map_or("accompaniment", |s| s.label),
            rule: "mixture or auto with this model (it has no context input)".into(),
            got: "context".into(),
        }
        .into());
    }
    let chosen = cx.settings.accompaniment.for_model(takes);
    cx.settings.accompaniment = chosen;
    Ok(chosen == Accompaniment::Context)
}

/// The sample-wise sum of `vars`, each `n` long.
fn sum(vars: &[Vec<f32>], n: usize) -> Vec<f32> {
    let mut total = vec![0.0; n];
    for v in vars {
        total.iter_mut().zip(v).for_each(|(t, s)| *t += s);
    }
    total
}

/// The known start of window `w`: where it overlaps the previous window
/// `pw`, the values `vals` sampled there (one variable each).
fn continuation(pw: Window, vals: &[Vec<f32>], w: Window) -> Prefix {
    let offset = w.start - pw.start;
    let frames = (pw.start + pw.len - w.start).min(w.len);
    let values = vals
        .iter()
        .map(|v| v.chunks(pw.padded).flat_map(|row| row[offset..offset + frames].to_vec()).collect())
        .collect();
    Prefix { frames, values }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::job::Task;
    use crate::probe::{job, rms, run_job, sine, Probe, RATE};
    use crate::settings::Value;

    fn names(blocks: &[&[&str]]) -> Vec<Vec<String>> {
        blocks.iter().map(|b| b.iter().map(|s| s.to_string()).collect()).collect()
    }

    fn source(label: &str, rate: u32, channels: Vec<Vec<f32>>) -> Source {
        Source { label: label.into(), audio: Audio { rate, channels } }
    }

    fn assert_all_near(got: &[f32], want: impl Fn(usize) -> f32, what: &str) {
        for (i, g) in got.iter().enumerate() {
            assert!((g - want(i)).abs() < 1e-5, "{what}: frame {i} is {g}, not {}", want(i));
        }
    }

    #[test]
    fn generated_blocks_are_stitched_from_every_window_and_the_mix_is_their_sum() {
        let mut model = Probe::new(false);
        // 176 frames in 64-frame windows overlapping by 16: 4 windows (hop 48).
        let stems = names(&[&["bass"], &["drums"]]);
        let task = Task::Generate { stems, seconds: 0.022, rate: RATE, channels: 1 };
        let (out, totals) = run_job(&mut model, &job(task));
        let out = out.unwrap();
        let (bass, drums, mix) = (model.value("bass"), model.value("drums"), model.value("bass, drums"));
        assert_eq!(out.evaluations, 4 * 3, "4 windows of 3 evaluations");
        assert!(totals.iter().all(|&t| t == 12), "progress totals {totals:?}");
        // Each evaluation: both blocks, then the mixture under all labels joined.
        assert!(model.calls.iter().all(|c| c.rows == [bass, drums, mix] && c.context.is_none()));
        let got: Vec<(&str, usize)> = out.stems.iter().map(|(n, a)| (n.as_str(), a.frames())).collect();
        assert_eq!(got, [("bass", 176), ("drums", 176), ("mix", 176)]);
        // The sampler ends on the network's answer: each block's value across
        // every window and crossfade, edges included; the mixture variable is dropped.
        assert_all_near(&out.stems[0].1.channels[0], |_| bass, "bass");
        assert_all_near(&out.stems[1].1.channels[0], |_| drums, "drums");
        assert_all_near(&out.stems[2].1.channels[0], |_| bass + drums, "mix");
    }

    #[test]
    fn a_single_generated_block_is_its_own_mixture_negative_prompt_included() {
        let mut model = Probe::new(false);
        let task = Task::Generate { stems: names(&[&["bass"]]), seconds: 0.004, rate: RATE, channels: 1 };
        let mut job = job(task);
        job.overrides.set("w", Value::Number(1.0)).unwrap();
        job.negatives.insert("bass".into(), "noise".into());
        run_job(&mut model, &job).0.unwrap();
        let (bass, noise) = (model.value("bass"), model.value("noise"));
        // Guided rows: the block and the mixture, then both under the negative prompt.
        assert!(model.calls.iter().all(|c| c.rows == [bass, bass, noise, noise]), "{:?}", model.calls[0].rows);
    }

    #[test]
    fn accompaniment_by_eq_12_samples_the_mixture_of_all_labels_with_the_sources_at_their_share() {
        let mut model = Probe::new(false);
        let guitar = sine(RATE, 400, 220.0, 0.3);
        let task = Task::Accompany {
            sources: vec![source("guitar", RATE, vec![guitar.clone()])],
            generate: names(&[&["bass"]]),
        };
        let out = run_job(&mut model, &job(task)).0.unwrap();
        let (bass, mix) = (model.value("bass"), model.value("bass, guitar"));
        assert!(model.calls.iter().all(|c| c.rows == [bass, mix] && c.context.is_none()));
        assert_eq!(out.settings.accompaniment, Accompaniment::Mixture, "auto on a model without context");
        // The guitar is one of two stems: scaled to 0.1·√(1/2), the model's
        // level times its share; the result comes back at the input's level.
        let gain = 0.1 / rms(&guitar) * 0.5f32.sqrt();
        assert_eq!(out.stems[0].0, "bass");
        assert_all_near(&out.stems[0].1.channels[0], |_| bass / gain, "bass");
    }

    #[test]
    fn a_model_that_hears_the_sources_gets_their_sum_at_their_share_of_the_level() {
        let mut model = Probe::new(true);
        let (guitar, piano) = (sine(RATE, 1000, 220.0, 0.3), sine(RATE, 990, 330.0, 0.2));
        let task = Task::Accompany {
            sources: vec![source("guitar", RATE, vec![guitar.clone()]), source("piano", RATE, vec![piano.clone()])],
            generate: names(&[&["bass"]]),
        };
        let out = run_job(&mut model, &job(task)).0.unwrap();
        assert_eq!(out.settings.accompaniment, Accompaniment::Context);
        assert!(out.warnings.is_empty(), "990 of 1000 frames is within 1 %: {:?}", out.warnings);
        let bass = model.value("bass");
        assert!(model.calls.iter().all(|c| c.rows == [bass]), "the generated stem alone, no mixture variable");
        // The context is the sources' sum scaled to 0.1·√(2/3) (two of three
        // stems); this network answers with it, so the result is the sum.
        let sum: Vec<f32> = (0..1000).map(|i| guitar[i] + piano.get(i).unwrap_or(&0.0)).collect();
        let gain = 0.1 / rms(&sum) * (2.0f32 / 3.0).sqrt();
        assert_all_near(model.calls[0].context.as_ref().unwrap(), |i| gain * sum[i], "the first window's context");
        assert_all_near(&out.stems[0].1.channels[0], |i| sum[i], "bass");
    }

    #[test]
    fn sources_more_than_one_percent_shorter_are_padded_with_a_warning() {
        let mut model = Probe::new(true);
        let task = Task::Accompany {
            sources: vec![
                source("guitar", RATE, vec![sine(RATE, 1000, 220.0, 0.3)]),
                source("piano", RATE, vec![sine(RATE, 989, 330.0, 0.2)]),
            ],
            generate: names(&[&["bass"]]),
        };
        let out = run_job(&mut model, &job(task)).0.unwrap();
        assert!(out.warnings.iter().any(|w| w.contains("differ in length")), "{:?}", out.warnings);
    }

    #[test]
    fn the_result_has_the_first_sources_rate_and_channels_and_the_longest_sources_length() {
        let mut model = Probe::new(true);
        let left = sine(RATE, 800, 220.0, 0.3);
        let task = Task::Accompany {
            sources: vec![
                source("guitar", RATE, vec![left.clone(), left]),
                source("piano", 2 * RATE, vec![sine(2 * RATE, 2400, 330.0, 0.2)]),
            ],
            generate: names(&[&["bass"], &["drums"]]),
        };
        let out = run_job(&mut model, &job(task)).0.unwrap();
        for (name, audio) in &out.stems {
            assert_eq!((audio.rate, audio.channel_count(), audio.frames()), (RATE, 2, 1200), "{name}");
        }
    }

    #[test]
    fn the_accompaniment_setting_picks_the_path_and_context_needs_a_model_that_has_it() {
        let sources = vec![source("guitar", RATE, vec![sine(RATE, 200, 220.0, 0.3)])];
        let task = Task::Accompany { sources, generate: names(&[&["bass"]]) };
        let mut mixture = job(task.clone());
        mixture.overrides.set("accompaniment", Value::Name("mixture".into())).unwrap();
        let mut model = Probe::new(true);
        let out = run_job(&mut model, &mixture).0.unwrap();
        assert_eq!(out.settings.accompaniment, Accompaniment::Mixture);
        assert!(model.calls.iter().all(|c| c.context.is_none() && c.rows.len() == 2), "eq. 12 on a context model");
        let mut context = job(task);
        context.overrides.set("accompaniment", Value::Name("context".into())).unwrap();
        let err = run_job(&mut Probe::new(false), &context).0.unwrap_err().to_string();
        assert!(err.contains("no context input"), "{err}");
    }

    #[test]
    fn generation_without_sources_never_feeds_a_context() {
        let mut model = Probe::new(true);
        let task = Task::Generate { stems: names(&[&["bass"]]), seconds: 0.004, rate: RATE, channels: 1 };
        run_job(&mut model, &job(task)).0.unwrap();
        assert!(model.calls.iter().all(|c| c.context.is_none() && c.rows.len() == 2), "the block and its mixture");
    }

    #[test]
    fn generation_refuses_a_bad_length_rate_channel_count_or_block_list() {
        let generate = |stems: &[&[&str]], seconds: f64, rate: u32, channels: usize| {
            let task = Task::Generate { stems: names(stems), seconds, rate, channels };
            run_job(&mut Probe::new(false), &job(task)).0.map(|_| ()).map_err(|e| e.to_string())
        };
        for seconds in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = generate(&[&["bass"]], seconds, RATE, 1).unwrap_err();
            assert!(err.contains("positive number of seconds"), "{seconds}: {err}");
        }
        for (rate, channels) in [(0, 1), (RATE, 0)] {
            assert!(generate(&[&["bass"]], 0.01, rate, channels).unwrap_err().contains("rate and channels"));
        }
        for stems in [&[][..], &[&[][..]][..], &[&["bass"][..], &[][..]][..]] {
            assert!(generate(stems, 0.01, RATE, 1).unwrap_err().contains("at least one stem"), "{stems:?}");
        }
        assert_eq!(generate(&[&["bass"]], 0.01, RATE, 1), Ok(()));
    }

    #[test]
    fn a_window_continues_from_the_previous_windows_values_where_they_overlap() {
        // The previous window starts at frame 2, this one at 8: their last
        // 2 frames overlap, at offset 6 of each of its rows (two rows per variable).
        let previous = Window { start: 2, len: 8, padded: 8 };
        let vals = vec![(0..16).map(|i| i as f32).collect::<Vec<f32>>(), vec![-1.0; 16]];
        let prefix = continuation(previous, &vals, Window { start: 8, len: 5, padded: 8 });
        assert_eq!(prefix.frames, 2);
        assert_eq!(prefix.values, [vec![6.0, 7.0, 14.0, 15.0], vec![-1.0; 4]]);
        // A window shorter than the overlap continues over its own length.
        let prefix =
            continuation(Window { start: 0, len: 8, padded: 8 }, &vals[..1], Window { start: 5, len: 2, padded: 2 });
        assert_eq!((prefix.frames, prefix.values), (2, vec![vec![5.0, 6.0, 13.0, 14.0]]));
    }
}
