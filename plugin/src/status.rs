//! What the plugin is doing, for the editor and the log: an atomic code and
//! progress, plus a message (and after a failure, its fix) behind a lock
//! that only non-audio threads touch.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

use gmsdi_engine::progress::Progress;
use parking_lot::Mutex;

/// State of the worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Code {
    /// Nothing has happened yet.
    Idle = 0,
    /// A job or a restore is running.
    Busy = 1,
    /// The last job or restore finished.
    Done = 2,
    /// The last job or restore failed; the message says why.
    Failed = 3,
}

/// The plugin's status, shared between the worker and the editor.
pub struct Status {
    code: AtomicU8,
    progress: AtomicU32,
    steps: AtomicU64,
    eta_ms: AtomicU64,
    /// The message, and what the user can do about it after a failure.
    message: Mutex<(String, Option<&'static str>)>,
}

impl Default for Status {
    fn default() -> Self {
        Self {
            code: AtomicU8::new(Code::Idle as u8),
            progress: AtomicU32::new(0),
            steps: AtomicU64::new(0),
            eta_ms: AtomicU64::new(u64::MAX),
            message: Mutex::new((String::new(), None)),
        }
    }
}

/// A running job's progress as the editor shows it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct JobProgress {
    /// Done fraction in [0, 1].
    pub fraction: f32,
    /// Network evaluations done.
    pub step: u32,
    /// Network evaluations in the whole job (0 = not known yet).
    pub total: u32,
    /// Estimated time left, once known.
    pub eta: Option<Duration>,
}

impl Status {
    /// Sets the code and message (without a fix), and logs the message.
    pub fn set(&self, code: Code, message: impl Into<String>) {
        self.store(code, message.into(), None);
    }

    /// Sets a failure: its message and what the user can do about it.
    pub fn fail(&self, message: impl Into<String>, fix: Option<&'static str>) {
        self.store(Code::Failed, message.into(), fix);
    }

    fn store(&self, code: Code, message: String, fix: Option<&'static str>) {
        if code == Code::Failed {
            nice_plug::nice_warn!("GMSDI: {message}");
        } else {
            nice_plug::nice_log!("GMSDI: {message}");
        }
        *self.message.lock() = (message, fix);
        self.code.store(code as u8, Ordering::Release);
    }

    /// The current code.
    pub fn code(&self) -> Code {
        match self.code.load(Ordering::Acquire) {
            1 => Code::Busy,
            2 => Code::Done,
            3 => Code::Failed,
            _ => Code::Idle,
        }
    }

    /// The current message (never call on the audio thread).
    pub fn message(&self) -> String {
        self.message.lock().0.clone()
    }

    /// What the user can do about the current failure, if it is one with a fix.
    pub fn fix(&self) -> Option<&'static str> {
        self.message.lock().1
    }

    /// Sets the running job's progress (`None`: a new job, nothing done yet).
    pub fn set_progress(&self, progress: Option<&Progress>) {
        let p = progress.cloned().unwrap_or(Progress { fraction: 0.0, step: 0, total: 0, eta: None });
        self.progress.store(p.fraction.to_bits(), Ordering::Relaxed);
        self.steps.store(((p.step as u64) << 32) | (p.total as u64 & 0xffff_ffff), Ordering::Relaxed);
        let eta = p.eta.map_or(u64::MAX, |d| d.as_millis().min(u128::from(u64::MAX - 1)) as u64);
        self.eta_ms.store(eta, Ordering::Relaxed);
    }

    /// The running job's progress.
    pub fn progress(&self) -> JobProgress {
        let steps = self.steps.load(Ordering::Relaxed);
        let eta = self.eta_ms.load(Ordering::Relaxed);
        JobProgress {
            fraction: f32::from_bits(self.progress.load(Ordering::Relaxed)),
            step: (steps >> 32) as u32,
            total: steps as u32,
            eta: (eta != u64::MAX).then(|| Duration::from_millis(eta)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_message_and_progress_round_trip() {
        let status = Status::default();
        assert_eq!(
            (status.code(), status.message(), status.progress()),
            (Code::Idle, String::new(), JobProgress::default())
        );
        status.set(Code::Failed, "no model found");
        let eta = Some(Duration::from_millis(1500));
        status.set_progress(Some(&Progress { fraction: 0.5, step: 10, total: 20, eta }));
        let expected = JobProgress { fraction: 0.5, step: 10, total: 20, eta };
        assert_eq!(
            (status.code(), status.message(), status.progress()),
            (Code::Failed, "no model found".into(), expected)
        );
        status.set_progress(None);
        assert_eq!(status.progress(), JobProgress::default());
    }

    #[test]
    fn a_failure_keeps_its_fix_until_the_next_message() {
        let status = Status::default();
        status.fail("nothing captured", Some("turn Capture on"));
        assert_eq!(
            (status.code(), status.message(), status.fix()),
            (Code::Failed, "nothing captured".into(), Some("turn Capture on"))
        );
        status.set(Code::Busy, "running the job");
        assert_eq!((status.code(), status.fix()), (Code::Busy, None));
    }
}
