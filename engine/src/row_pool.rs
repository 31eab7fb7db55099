//! One network call's rows spread over several sessions, each evaluated on
//! its own thread.
//!
//! On a CPU, rows evaluated one at a time on one ONNX Runtime thread each,
//! with one session per core, run faster than the whole batch on one session
//! whose intra-op threads share the cores: the rows need no synchronisation
//! between cores and one row's activations stay in cache. Each session's
//! memory arena then holds one row, not the whole batch.

use std::ops::Range;

use crate::error::{EngineError, Result};
use crate::thread_priority::Priority;

/// Sessions (or anything that evaluates rows) that share out a batch.
pub struct RowPool<S> {
    members: Vec<S>,
    rows_per_call: Option<usize>,
}

impl<S: Send> RowPool<S> {
    /// A pool of `members` (at least one), each given rows in calls of at
    /// most `rows_per_call` (`None`: a member's whole share in one call).
    pub fn new(members: Vec<S>, rows_per_call: Option<usize>) -> Self {
        assert!(!members.is_empty(), "a row pool needs a member");
        Self { members, rows_per_call: rows_per_call.map(|n| n.max(1)) }
    }

    /// How many members share out a batch.
    pub fn members(&self) -> usize {
        self.members.len()
    }

    /// The first member, for checks that need one session.
    pub fn first(&mut self) -> &mut S {
        &mut self.members[0]
    }

    /// Evaluates `rows` rows: `run(member, range)` returns the outputs of
    /// the rows in `range`, concatenated. Members take contiguous shares,
    /// the first on the calling thread and the others on threads of their
    /// own at its priority; the outputs come back in row order.
    pub fn run<F>(&mut self, rows: usize, run: F) -> Result<Vec<f32>>
    where
        F: Fn(&mut S, Range<usize>) -> Result<Vec<f32>> + Sync,
    {
        let shares = shares(rows, self.members.len());
        let per_call = self.rows_per_call;
        let run = &run;
        let work = move |member: &mut S, share: Range<usize>| -> Result<Vec<f32>> {
            let mut out = Vec::new();
            for calls in chunks(share, per_call) {
                out.extend(run(member, calls)?);
            }
            Ok(out)
        };
        let mut members = self.members.iter_mut().zip(shares);
        let Some((first, first_share)) = members.next() else { return Ok(Vec::new()) };
        let priority = Priority::current();
        std::thread::scope(|scope| {
            let others: Vec<_> = members
                .map(|(m, share)| {
                    scope.spawn(move || {
                        priority.apply();
                        work(m, share)
                    })
                })
                .collect();
            let mut out = work(first, first_share);
            for handle in others {
                let part =
                    handle.join().unwrap_or_else(|_| Err(EngineError::Inference("a network thread panicked".into())));
                out = match (out, part) {
                    (Ok(mut all), Ok(part)) => {
                        all.extend(part);
                        Ok(all)
                    }
                    (Err(e), _) | (_, Err(e)) => Err(e),
                };
            }
            out
        })
    }
}

/// `rows` split into at most `members` contiguous, non-empty shares whose
/// sizes differ by at most one.
fn shares(rows: usize, members: usize) -> Vec<Range<usize>> {
    let n = members.min(rows).max(1);
    let (base, extra) = (rows / n, rows % n);
    let mut start = 0;
    (0..n)
        .map(|i| {
            let len = base + usize::from(i < extra);
            let range = start..start + len;
            start += len;
            range
        })
        .collect()
}

/// `range` in consecutive pieces of at most `size` rows (`None`: whole).
fn chunks(range: Range<usize>, size: Option<usize>) -> Vec<Range<usize>> {
    let Some(size) = size else { return vec![range] };
    range.clone().step_by(size).map(|s| s..(s + size).min(range.end)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_the_rows_in_order_and_differ_by_at_most_one() {
        assert_eq!(shares(16, 2), vec![0..8, 8..16]);
        assert_eq!(shares(10, 4), vec![0..3, 3..6, 6..8, 8..10]);
        assert_eq!(shares(3, 8), vec![0..1, 1..2, 2..3]);
        assert_eq!(shares(0, 2), vec![0..0]);
    }

    #[test]
    fn chunks_are_calls_of_at_most_the_size() {
        assert_eq!(chunks(3..8, Some(2)), vec![3..5, 5..7, 7..8]);
        assert_eq!(chunks(3..8, None), vec![3..8]);
    }

    /// A member that records the calls it got and returns each row's index.
    fn record(calls: &mut Vec<Range<usize>>, range: Range<usize>) -> Result<Vec<f32>> {
        calls.push(range.clone());
        Ok(range.map(|r| r as f32).collect())
    }

    #[test]
    fn every_member_takes_its_share_in_calls_and_the_outputs_keep_row_order() {
        let mut pool = RowPool::new(vec![Vec::new(), Vec::new(), Vec::new()], Some(2));
        assert_eq!(pool.members(), 3);
        let out = pool.run(7, record).unwrap();
        assert_eq!(out, (0..7).map(|r| r as f32).collect::<Vec<_>>());
        assert_eq!(pool.members, vec![vec![0..2, 2..3], vec![3..5], vec![5..7]]);
    }

    #[test]
    fn a_pool_of_one_makes_one_call_for_the_batch_unless_told_otherwise() {
        let mut pool = RowPool::new(vec![Vec::new()], None);
        pool.run(5, record).unwrap();
        assert_eq!(pool.members, vec![vec![0..5]]);
    }

    #[test]
    fn member_threads_run_at_the_calling_threads_priority() {
        use crate::thread_priority::lower_current;
        use crate::thread_priority::test_support::level;
        std::thread::spawn(|| {
            let normal = level();
            lower_current();
            let lowered = level();
            assert_ne!(lowered, normal, "the test thread's priority could not be lowered");
            let mut pool = RowPool::new(vec![0, 1, 2], Some(1));
            let levels = pool.run(3, |_, r| Ok(vec![level() as f32; r.len()])).unwrap();
            assert_eq!(levels, vec![lowered as f32; 3], "normal is {normal}");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_failing_member_fails_the_call_and_a_panicking_one_is_an_error() {
        let mut pool = RowPool::new(vec![0, 1], Some(1));
        let err = pool
            .run(4, |m, r| if *m == 1 { Err(EngineError::Inference("boom".into())) } else { Ok(vec![0.0; r.len()]) })
            .unwrap_err();
        assert!(err.to_string().contains("boom"), "{err}");
        let err = pool
            .run(4, |m, r| {
                assert!(*m == 0, "second member panics");
                Ok(vec![0.0; r.len()])
            })
            .unwrap_err();
        assert!(err.to_string().contains("panicked"), "{err}");
    }
}
