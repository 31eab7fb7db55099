//! Typed errors of the engine. Every message is one line a user can act on.

use std::path::PathBuf;

/// Result type of the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A model folder breaks the model contract (models/CONTRACT.md).
    #[error("model contract: {file}: {rule}")]
    Contract {
        /// The file (model.json, denoiser.onnx, ...) that breaks the rule.
        file: String,
        /// The rule that is broken, in words.
        rule: String,
    },
    /// The ONNX Runtime library could not be found or loaded.
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    /// A network evaluation failed inside ONNX Runtime.
    #[error("inference failed: {0}")]
    Inference(String),
    /// An audio file could not be read or written.
    #[error("{path}: {message}")]
    Audio {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A setting was refused (unknown, wrong type or out of range).
    #[error(transparent)]
    Setting(#[from] crate::settings::SettingError),
    /// A stem the model does not know, with no prompt of its own.
    #[error("unknown stem \"{stem}\"; this model knows: {known}")]
    UnknownStem {
        /// The stem as asked for.
        stem: String,
        /// The model's stems, comma separated.
        known: String,
    },
    /// The request itself is invalid (unknown stem, bad setting, empty audio, ...).
    #[error("{0}")]
    Input(String),
    /// The job was cancelled.
    #[error("cancelled")]
    Cancelled,
}

impl EngineError {
    /// Shorthand for a contract breach.
    pub fn contract(file: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::Contract { file: file.into(), rule: rule.into() }
    }

    /// Shorthand for an audio file error.
    pub fn audio(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        Self::Audio { path: path.into(), message: message.to_string() }
    }
}
