//! The settings vocabulary: every job setting declared once
//! ([`vocabulary::SETTINGS`]: key, label, doc text, range, fallback), the
//! values and overrides built from it, and their resolution for one job
//! (user override > the model's defaults > the engine's fallback).
//!
//! The CLI's flags, the plugin's stored state and the editor's rows are all
//! views of the vocabulary, so a value is accepted or refused, with the same
//! message, wherever it comes from.

mod error;
mod overrides;
mod resolve;
mod stored;
mod task;
mod value;
pub mod vocabulary;

pub use error::SettingError;
pub use overrides::Overrides;
pub use resolve::{default_value, Settings};
pub use stored::StoredSettings;
pub use task::{Accompaniment, Method, TaskKind};
pub use value::Value;
pub use vocabulary::{spec, Kind, Spec, SETTINGS};
