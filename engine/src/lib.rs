//! GMSDI engine: text-conditioned multi-source diffusion inference
//! (generation, accompaniment, separation, extraction) with any model that
//! follows the contract in `models/CONTRACT.md`, through ONNX Runtime.

pub mod audio;
pub mod chords;
pub mod chunk;
mod context;
pub mod error;
pub mod flac;
mod generation;
pub mod gmsdi;
pub mod job;
pub mod manifest;
pub mod metrics;
pub mod model_folder;
pub mod network;
pub mod post_filter;
#[cfg(test)]
mod probe;
pub mod progress;
mod prompts;
mod request;
mod row_pool;
mod rows;
pub mod runtime;
pub mod sampler;
pub mod schedule;
mod separation;
pub mod settings;
mod stft;
pub mod thread_priority;
pub mod wiener;

pub use error::{EngineError, Result};
