//! What the plugin is doing, for the editor and the log: an atomic code and
//! progress, plus a message behind a lock that only non-audio threads touch.

use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};

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
    message: Mutex<String>,
}

impl Default for Status {
    fn default() -> Self {
        Self { code: AtomicU8::new(Code::Idle as u8), progress: AtomicU32::new(0), message: Mutex::new(String::new()) }
    }
}

impl Status {
    /// Sets the code and message, and logs the message.
    pub fn set(&self, code: Code, message: impl Into<String>) {
        let message = message.into();
        if code == Code::Failed {
            nice_plug::nice_warn!("GMSDI: {message}");
        } else {
            nice_plug::nice_log!("GMSDI: {message}");
        }
        *self.message.lock() = message;
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
        self.message.lock().clone()
    }

    /// Sets the running job's progress in [0, 1].
    pub fn set_progress(&self, fraction: f32) {
        self.progress.store(fraction.to_bits(), Ordering::Relaxed);
    }

    /// The running job's progress in [0, 1].
    pub fn progress(&self) -> f32 {
        f32::from_bits(self.progress.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_message_and_progress_round_trip() {
        let status = Status::default();
        assert_eq!((status.code(), status.message(), status.progress()), (Code::Idle, String::new(), 0.0));
        status.set(Code::Failed, "no model found");
        status.set_progress(0.5);
        assert_eq!((status.code(), status.message(), status.progress()), (Code::Failed, "no model found".into(), 0.5));
    }
}
