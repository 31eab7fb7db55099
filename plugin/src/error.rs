//! The plugin's failures as types: what went wrong in a job, a restore, an
//! activation or the model search, each with what the user can do about it.

use std::path::PathBuf;

use gmsdi_engine::error::EngineError;

use crate::location;

/// Everything that can stop a job, a restore or an activation, or leave the
/// plugin without a model. The message says what happened; [`fix`](Self::fix)
/// says what to do, chosen by the variant (never by the message's words).
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// No candidate folder holds a `model.json`.
    #[error("no model found: set the model folder or {} (looked in: {})", location::MODEL_ENV, paths(.looked_in))]
    NoModel {
        /// The folders that were searched, in order.
        looked_in: Vec<PathBuf>,
    },
    /// The model folder was found but could not be read or loaded.
    #[error(transparent)]
    Model(EngineError),
    /// The capture buffers could not be allocated at activation.
    #[error("not enough memory for {seconds} s of capture: lower max_capture_seconds")]
    CaptureMemory {
        /// The capture length that did not fit.
        seconds: f64,
    },
    /// The worker thread could not be started.
    #[error("cannot start the worker thread: {0}")]
    WorkerThread(#[source] std::io::Error),
    /// A job was asked for while there are no capture buffers.
    #[error("no capture buffers (see the previous message)")]
    NoCaptureBuffers,
    /// Nothing has been captured for a task that needs captured audio.
    #[error("nothing captured yet: turn Capture on and play the part to work on")]
    NothingCaptured,
    /// The input a task works on holds only silence.
    #[error("the captured {which} is silent")]
    SilentInput {
        /// The input, in words ("main input").
        which: &'static str,
    },
    /// An accompaniment job found no labelled source with audio.
    #[error("no labelled source holds audio: route a track into Source 1-3 and give it a label")]
    NoLabelledSource,
    /// The output folder could not be created.
    #[error("cannot create the output folder {}: {source}", .path.display())]
    OutputFolder {
        /// The folder.
        path: PathBuf,
        /// Why it could not be created.
        source: std::io::Error,
    },
    /// A result file could not be written.
    #[error("cannot write {}: {source}", .path.display())]
    CannotWrite {
        /// The file.
        path: PathBuf,
        /// Why it could not be written.
        source: std::io::Error,
    },
    /// A setting in the state is not valid (an unknown execution provider).
    #[error("{0}")]
    InvalidSetting(String),
    /// The engine failed while running the job.
    #[error(transparent)]
    Engine(EngineError),
    /// The job was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// Some of the state's result files could not be loaded again.
    #[error("restored {restored} result clips; missing or unreadable: {}", problems(.missing))]
    RestoreIncomplete {
        /// How many clips were loaded.
        restored: usize,
        /// Why each of the others was not.
        missing: Vec<EngineError>,
    },
}

impl PluginError {
    /// An engine failure while running a job ([`Cancelled`](Self::Cancelled) when it was cancelled).
    pub fn engine(error: EngineError) -> Self {
        match error {
            EngineError::Cancelled => Self::Cancelled,
            other => Self::Engine(other),
        }
    }

    /// What the user can do about it (`None`: nothing to fix).
    pub fn fix(&self) -> Option<&'static str> {
        Some(match self {
            Self::NoModel { .. } => {
                "set the state's model_dir or GMSDI_MODEL to a folder holding model.json, or reinstall the plugin \
                 bundle with its default model"
            }
            Self::Model(EngineError::Runtime(_)) | Self::Engine(EngineError::Runtime(_)) => RUNTIME_FIX,
            Self::Model(EngineError::Inference(_)) => {
                "choose cpu under Runs on (the model could not start on the chosen provider), or reinstall the model"
            }
            Self::Model(EngineError::Cancelled) | Self::Engine(EngineError::Cancelled) | Self::Cancelled => {
                return None
            }
            Self::Model(_) | Self::Engine(EngineError::Contract { .. }) => CONTRACT_FIX,
            Self::CaptureMemory { .. } | Self::NoCaptureBuffers => {
                "lower max_capture_seconds in the plugin's state (or free memory), then let the host activate the \
                 plugin again (stop and start playback, or reload the project)"
            }
            Self::WorkerThread(_) => "free memory (close other programs), then remove the plugin and insert it again",
            Self::NothingCaptured => {
                "turn Capture on, press play in the host over the part to work on, then press Generate"
            }
            Self::SilentInput { .. } => {
                "route audio into the plugin's main input (or a source), capture while it plays, then Generate"
            }
            Self::NoLabelledSource => {
                "route a track into Source 1, 2 or 3 (sidechain), give that source a label such as \"guitar\", \
                 capture, then Generate"
            }
            Self::OutputFolder { .. } => "choose an output folder you can write to",
            Self::CannotWrite { .. } => "free some disk space or choose another output folder, then Generate again",
            Self::InvalidSetting(_) | Self::Engine(EngineError::Setting(_)) => {
                "correct the setting it names, or press Reset to the model's defaults"
            }
            Self::Engine(EngineError::Inference(_)) => {
                "run the job again; if it fails again, choose cpu under Runs on or reinstall the model"
            }
            Self::Engine(EngineError::Audio { .. }) => {
                "check that the file it names exists and is a WAV file you can read, then Generate again"
            }
            Self::Engine(EngineError::UnknownStem { .. }) => {
                "tick only stems this model knows, or give the stem a prompt of its own, then Generate again"
            }
            Self::Engine(EngineError::Input(_)) => {
                "change what it names (stems, labels or settings; Reset to the model's defaults helps), then \
                 Generate again"
            }
            Self::RestoreIncomplete { .. } => {
                "put the missing files back and restore the job again from the Job history, or run the job again"
            }
        })
    }
}

/// The fix of a missing or broken ONNX Runtime library.
const RUNTIME_FIX: &str = "reinstall the plugin bundle: it carries the ONNX Runtime library next to the plugin \
                           binary, or set GMSDI_ORT_LIB to the library's path";
/// The fix of a model folder that breaks the model contract.
const CONTRACT_FIX: &str = "choose a model folder that follows the model contract (models/CONTRACT.md in the GMSDI \
                            repository), or reinstall the plugin bundle with its default model";

/// Paths as one comma-separated list.
fn paths(list: &[PathBuf]) -> String {
    list.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// Errors as one semicolon-separated list.
fn problems(list: &[EngineError]) -> String {
    list.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(message: &str) -> std::io::Error {
        std::io::Error::other(message.to_string())
    }

    /// One error of every variant, and of every engine variant inside
    /// `Model` and `Engine`, with the message each must show.
    fn samples() -> Vec<(PluginError, String)> {
        let engine = || {
            vec![
                EngineError::contract("model.json", "no stems"),
                EngineError::Runtime("cannot load x.so".into()),
                EngineError::Inference("bad shape".into()),
                EngineError::audio("/a/b.wav", "not a WAV file"),
                EngineError::UnknownStem { stem: "kazoo".into(), known: "bass, drums".into() },
                EngineError::Input("separate needs at least two stems".into()),
                EngineError::Cancelled,
            ]
        };
        let mut out = vec![
            (
                PluginError::NoModel { looked_in: vec!["/a".into(), "/b".into()] },
                format!("no model found: set the model folder or {} (looked in: /a, /b)", location::MODEL_ENV),
            ),
            (
                PluginError::CaptureMemory { seconds: 600.0 },
                "not enough memory for 600 s of capture: lower max_capture_seconds".into(),
            ),
            (PluginError::WorkerThread(io("no threads")), "cannot start the worker thread: no threads".into()),
            (PluginError::NoCaptureBuffers, "no capture buffers (see the previous message)".into()),
            (PluginError::NothingCaptured, "nothing captured yet: turn Capture on and play the part to work on".into()),
            (PluginError::SilentInput { which: "main input" }, "the captured main input is silent".into()),
            (
                PluginError::NoLabelledSource,
                "no labelled source holds audio: route a track into Source 1-3 and give it a label".into(),
            ),
            (
                PluginError::OutputFolder { path: "/out".into(), source: io("read-only") },
                "cannot create the output folder /out: read-only".into(),
            ),
            (
                PluginError::CannotWrite { path: "/out/a.wav".into(), source: io("disk full") },
                "cannot write /out/a.wav: disk full".into(),
            ),
            (PluginError::InvalidSetting("unknown method \"magic\"".into()), "unknown method \"magic\"".into()),
            (PluginError::Cancelled, "cancelled".into()),
            (
                PluginError::RestoreIncomplete { restored: 1, missing: engine().into_iter().skip(3).take(2).collect() },
                "restored 1 result clips; missing or unreadable: /a/b.wav: not a WAV file; unknown stem \"kazoo\"; \
                 this model knows: bass, drums"
                    .into(),
            ),
        ];
        for e in engine() {
            let message = e.to_string();
            out.push((PluginError::Model(e), message.clone()));
        }
        for e in engine() {
            let message = e.to_string();
            out.push((PluginError::Engine(e), message));
        }
        out
    }

    #[test]
    fn every_variant_has_its_message_and_a_fix_unless_cancelled() {
        let mut seen = [false; 14];
        for (error, message) in samples() {
            assert_eq!(error.to_string(), message);
            let index = match &error {
                PluginError::NoModel { .. } => 0,
                PluginError::Model(_) => 1,
                PluginError::CaptureMemory { .. } => 2,
                PluginError::WorkerThread(_) => 3,
                PluginError::NoCaptureBuffers => 4,
                PluginError::NothingCaptured => 5,
                PluginError::SilentInput { .. } => 6,
                PluginError::NoLabelledSource => 7,
                PluginError::OutputFolder { .. } => 8,
                PluginError::CannotWrite { .. } => 9,
                PluginError::InvalidSetting(_) => 10,
                PluginError::Engine(_) => 11,
                PluginError::Cancelled => 12,
                PluginError::RestoreIncomplete { .. } => 13,
            };
            seen[index] = true;
            let cancelled = matches!(
                error,
                PluginError::Cancelled
                    | PluginError::Model(EngineError::Cancelled)
                    | PluginError::Engine(EngineError::Cancelled)
            );
            match error.fix() {
                Some(fix) => assert!(!cancelled && fix.len() > 20, "{error}: fix \"{fix}\""),
                None => assert!(cancelled, "{error} has no fix"),
            }
        }
        assert!(seen.iter().all(|s| *s), "a variant lacks a sample: {seen:?}");
    }

    #[test]
    fn engine_failures_get_the_fix_of_their_kind() {
        let runtime = PluginError::Model(EngineError::Runtime("cannot load".into()));
        assert!(runtime.fix().unwrap().contains("GMSDI_ORT_LIB"), "{runtime}");
        let contract = PluginError::Model(EngineError::contract("model.json", "bad"));
        assert!(contract.fix().unwrap().contains("models/CONTRACT.md"));
        let input = PluginError::engine(EngineError::Input("separate needs at least two stems".into()));
        assert!(input.fix().unwrap().contains("Reset to the model's defaults"));
        let stem = PluginError::engine(EngineError::UnknownStem { stem: "kazoo".into(), known: "bass".into() });
        assert!(stem.fix().unwrap().contains("prompt of its own"), "{stem}");
        assert!(matches!(PluginError::engine(EngineError::Cancelled), PluginError::Cancelled));
    }
}
