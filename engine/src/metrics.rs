//! Separation metrics and the evaluation protocol of MSDM (docs/method.md §4).

/// Scale-invariant SDR in dB: 10·log10(‖a·t‖² / ‖a·t − p‖²), a = ⟨p,t⟩/⟨t,t⟩.
pub fn si_sdr(estimate: &[f32], truth: &[f32]) -> f64 {
    const EPS: f64 = 1e-8;
    let dot: f64 = estimate.iter().zip(truth).map(|(p, t)| f64::from(*p) * f64::from(*t)).sum();
    let tt: f64 = truth.iter().map(|t| f64::from(*t) * f64::from(*t)).sum();
    let a = if tt > 0.0 { dot / tt } else { 0.0 };
    let (mut num, mut den) = (0.0, 0.0);
    for (p, t) in estimate.iter().zip(truth) {
        let s = a * f64::from(*t);
        num += s * s;
        den += (s - f64::from(*p)).powi(2);
    }
    10.0 * ((num + EPS) / (den + EPS)).log10()
}

/// Per-stem SI-SDR improvements collected over windows.
#[derive(Clone, Debug, Default)]
pub struct WindowScores {
    /// For each stem (in input order), the SI-SDRi of every counted window.
    pub per_stem: Vec<Vec<f64>>,
}

impl WindowScores {
    /// Mean SI-SDRi of each stem (NaN for a stem never counted).
    pub fn means(&self) -> Vec<f64> {
        self.per_stem
            .iter()
            .map(|v| if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 })
            .collect()
    }

    /// Appends another track's scores.
    pub fn extend(&mut self, other: WindowScores) {
        if self.per_stem.is_empty() {
            self.per_stem = vec![Vec::new(); other.per_stem.len()];
        }
        for (a, b) in self.per_stem.iter_mut().zip(other.per_stem) {
            a.extend(b);
        }
    }
}

/// Evaluates one track by the protocol: windows of `window` samples with
/// hop `hop`; a stem is silent in a window if ‖x‖₂ / n < 1.5e-5; windows with
/// at most one non-silent stem are skipped; otherwise every stem's
/// SI-SDR(estimate) − SI-SDR(mixture) is recorded. Signals are flat (all
/// channels of a window concatenated by the caller, or mono).
pub fn evaluate_track(mix: &[f32], truths: &[&[f32]], estimates: &[&[f32]], window: usize, hop: usize) -> WindowScores {
    let n = mix.len();
    let mut scores = WindowScores { per_stem: vec![Vec::new(); truths.len()] };
    let mut start = 0;
    while start + window <= n {
        let r = start..start + window;
        let silent = |x: &[f32]| {
            let norm = x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt();
            norm / (window as f64) < 1.5e-5
        };
        let active = truths.iter().filter(|t| !silent(&t[r.clone()])).count();
        if active > 1 {
            for (k, (t, e)) in truths.iter().zip(estimates).enumerate() {
                let t = &t[r.clone()];
                scores.per_stem[k].push(si_sdr(&e[r.clone()], t) - si_sdr(&mix[r.clone()], t));
            }
        }
        start += hop;
    }
    scores
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn si_sdr_is_scale_invariant_and_drops_with_noise() {
        let t: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.05).sin()).collect();
        let scaled: Vec<f32> = t.iter().map(|v| 0.3 * v).collect();
        assert!(si_sdr(&scaled, &t) > 60.0);
        let noisy: Vec<f32> =
            t.iter().enumerate().map(|(i, v)| v + 0.1 * ((i * 7919 % 13) as f32 / 6.0 - 1.0)).collect();
        let s = si_sdr(&noisy, &t);
        assert!(s > 10.0 && s < 30.0, "{s}");
    }

    #[test]
    fn protocol_skips_windows_with_one_active_stem() {
        let a: Vec<f32> = (0..800).map(|i| (i as f32 * 0.3).sin()).collect();
        let mut b: Vec<f32> = (0..800).map(|i| (i as f32 * 0.07).cos()).collect();
        b[400..].iter_mut().for_each(|v| *v = 0.0);
        let mix: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        let s = evaluate_track(&mix, &[&a, &b], &[&a, &b], 200, 100);
        // Windows starting at 0..=300 overlap the active half of b; 400..=600 do not.
        assert_eq!(s.per_stem[0].len(), 4);
        assert!(s.means()[0] > 50.0);
    }

    #[test]
    fn si_sdr_matches_a_hand_computed_value() {
        // Estimate 2r + e with e ⟂ r: SI-SDR = 10 log10(‖2r‖² / ‖e‖²) = 10 log10(16 / 0.04).
        let r = [1.0f32, 1.0, 1.0, 1.0];
        let e = [0.1f32, -0.1, 0.1, -0.1];
        let estimate: Vec<f32> = r.iter().zip(&e).map(|(r, e)| 2.0 * r + e).collect();
        let s = si_sdr(&estimate, &r);
        assert!((s - 10.0 * 400f64.log10()).abs() < 1e-4, "{s}");
        // Worse than the plain estimate by the same 20 log10(2) when the error doubles.
        let worse: Vec<f32> = r.iter().zip(&e).map(|(r, e)| 2.0 * r + 2.0 * e).collect();
        assert!((s - si_sdr(&worse, &r) - 20.0 * 2f64.log10()).abs() < 1e-4);
    }

    #[test]
    fn a_silent_reference_gives_a_finite_score_not_nan() {
        let silent = [0.0f32; 8];
        let estimate = [0.5f32; 8];
        let s = si_sdr(&estimate, &silent);
        assert!(s.is_finite() && s < -50.0, "{s}");
        assert_eq!(si_sdr(&silent, &silent), 0.0, "silence against silence: 0 dB");
    }

    #[test]
    fn protocol_records_each_windows_improvement_over_the_mixture() {
        let a: Vec<f32> = (0..400).map(|i| (i as f32 * 0.3).sin()).collect();
        let b: Vec<f32> = (0..400).map(|i| (i as f32 * 0.07).cos()).collect();
        let mix: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        let est_a: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + 0.1 * y).collect();
        let est_b: Vec<f32> = a.iter().zip(&b).map(|(x, y)| y + 0.2 * x).collect();
        let s = evaluate_track(&mix, &[&a, &b], &[&est_a, &est_b], 200, 100);
        assert_eq!(s.per_stem[0].len(), 3, "windows at 0, 100 and 200");
        for (k, (truth, est)) in [(&a, &est_a), (&b, &est_b)].into_iter().enumerate() {
            for (i, got) in s.per_stem[k].iter().enumerate() {
                let r = i * 100..i * 100 + 200;
                let want = si_sdr(&est[r.clone()], &truth[r.clone()]) - si_sdr(&mix[r.clone()], &truth[r]);
                assert!((got - want).abs() < 1e-9 && want > 5.0, "stem {k} window {i}: {got} vs {want}");
            }
        }
        let means = s.means();
        assert!((means[1] - s.per_stem[1].iter().sum::<f64>() / 3.0).abs() < 1e-9);
        let mut all = WindowScores::default();
        all.extend(s.clone());
        all.extend(s);
        assert_eq!(all.per_stem[0].len(), 6);
        assert!(WindowScores { per_stem: vec![vec![]] }.means()[0].is_nan(), "a stem never counted");
    }

    #[test]
    fn a_stem_is_silent_below_an_rms_per_sample_of_1_5e_5() {
        // A constant v over 100 samples: ‖x‖ / n = 10 v / 100 = v / 10.
        let loud = vec![1.0f32; 100];
        let quiet = |v: f32| vec![v; 100];
        let windows = |v: f32| {
            let q = quiet(v);
            let mix: Vec<f32> = loud.iter().zip(&q).map(|(a, b)| a + b).collect();
            evaluate_track(&mix, &[&loud, &q], &[&loud, &q], 100, 100).per_stem[0].len()
        };
        assert_eq!(windows(2e-4), 1, "v / 10 = 2e-5: active");
        assert_eq!(windows(1e-4), 0, "v / 10 = 1e-5: silent, one active stem left");
    }
}
