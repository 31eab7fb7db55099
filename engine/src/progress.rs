//! Progress and cancellation of a job, counted in network evaluations.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{EngineError, Result};

/// A snapshot of a job's progress.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    /// Done fraction in [0, 1].
    pub fraction: f32,
    /// Network evaluations done.
    pub step: usize,
    /// Network evaluations in the whole job.
    pub total: usize,
    /// Estimated time left, once at least one evaluation is done.
    pub eta: Option<Duration>,
}

/// Counts evaluations, reports progress and checks for cancellation
/// between network evaluations.
pub struct Tracker {
    cancel: Arc<AtomicBool>,
    report: Box<dyn FnMut(&Progress) + Send>,
    total: usize,
    done: usize,
    started: Instant,
}

impl Tracker {
    /// A tracker for a job of `total` evaluations; `cancel` set to true
    /// stops the job before its next network evaluation.
    pub fn new(total: usize, cancel: Arc<AtomicBool>, report: Box<dyn FnMut(&Progress) + Send>) -> Self {
        Self { cancel, report, total: total.max(1), done: 0, started: Instant::now() }
    }

    /// Call before each network evaluation: fails with `Cancelled` if the
    /// job was cancelled.
    pub fn check(&self) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            Err(EngineError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Call after each network evaluation.
    pub fn advance(&mut self) {
        self.done = (self.done + 1).min(self.total);
        let elapsed = self.started.elapsed();
        let eta = (self.done > 0).then(|| elapsed.mul_f64((self.total - self.done) as f64 / self.done as f64));
        (self.report)(&Progress {
            fraction: self.done as f32 / self.total as f32,
            step: self.done,
            total: self.total,
            eta,
        });
    }

    /// Sets the number of evaluations of the whole job.
    pub fn set_total(&mut self, total: usize) {
        self.total = total.max(1);
    }

    /// Evaluations done so far.
    pub fn done(&self) -> usize {
        self.done
    }
}
