//! Noise schedules.

/// Karras et al. (2022) schedule: `n` noise levels from `sigma_max` down to
/// `sigma_min` spaced evenly in σ^(1/ρ), followed by a final 0
/// (so the result has n + 1 entries). Computed in f64, returned as f32.
pub fn karras(n: usize, sigma_min: f32, sigma_max: f32, rho: f32) -> Vec<f32> {
    let (lo, hi, rho) = (f64::from(sigma_min), f64::from(sigma_max), f64::from(rho));
    let (a, b) = (hi.powf(1.0 / rho), lo.powf(1.0 / rho));
    let mut out: Vec<f32> = (0..n)
        .map(|i| {
            let t = if n > 1 { i as f64 / (n - 1) as f64 } else { 0.0 };
            (a + t * (b - a)).powf(rho) as f32
        })
        .collect();
    out.push(0.0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32, rel: f32) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-12)
    }

    #[test]
    fn matches_the_reference_vectors_of_gmsdi_md() {
        let s = karras(150, 1e-4, 1.0, 7.0);
        assert_eq!(s.len(), 151);
        for (got, want) in s.iter().zip([1.0, 0.966126, 0.93324, 0.901318]) {
            assert!(close(*got, want, 1e-5), "{got} vs {want}");
        }
        assert!(close(s[75], 0.0401307, 1e-5), "{}", s[75]);
        assert!(close(s[148], 1.1354e-4, 1e-4), "{}", s[148]);
        assert!(close(s[149], 1e-4, 1e-6));
        assert_eq!(s[150], 0.0);
        let s = karras(100, 1e-4, 3.0, 9.0);
        for (got, want) in s.iter().zip([3.0, 2.819066, 2.647897]) {
            assert!(close(*got, want, 1e-5), "{got} vs {want}");
        }
    }

    /// One step (a valid `steps` setting) is σ_max then 0, not 0/0.
    #[test]
    fn one_level_is_sigma_max_then_zero() {
        assert_eq!(karras(1, 1e-4, 1.0, 7.0), [1.0, 0.0]);
        assert_eq!(karras(0, 1e-4, 1.0, 7.0), [0.0]);
    }
}
