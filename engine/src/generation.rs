//! Generation: stems from nothing or under given sources (accompaniment),
//! window by window, each window continuing the one before.

use rand::SeedableRng;

use crate::audio::Audio;
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
    let heard = !known.is_empty() && hears_context(cx)?;
    // Eq. 12 samples the mixture too; a network that hears the given
    // tracks samples the generated variables alone.
    let vars = blocks.len() + usize::from(!heard);
    let mut rng = Rng::seed_from_u64(cx.settings.seed);
    let mut stitchers: Vec<Stitcher> = (0..vars).map(|_| Stitcher::new(c, total, overlap)).collect();
    let mut previous: Option<(Window, Vec<Vec<f32>>)> = None;
    for (i, w) in windows.iter().enumerate() {
        let prefix = previous.as_ref().map(|(pw, vals)| continuation(*pw, vals, *w));
        let known_vars: Vec<Vec<f32>> = known.iter().map(|rows| flatten(rows, *w, gain)).collect();
        let st = cx.settings.clone();
        let mut guide = cx.guide(tracker, 1, w.padded);
        let n = guide.var_len();
        let x = if heard {
            guide.context = Some(sum(&known_vars, n));
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
            st.add(*w, &unflatten(v, c, w.padded), i == 0, i + 1 == windows.len());
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
