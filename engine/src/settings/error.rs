//! Why a setting was refused, in one line a user can act on.

/// A refused setting.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SettingError {
    /// No setting has this key.
    #[error("unknown setting \"{key}\"; known settings: {known}")]
    Unknown {
        /// The key as given.
        key: String,
        /// Every known key, comma separated.
        known: String,
    },
    /// The value is of the wrong type or out of range.
    #[error("{label} must be {rule}, got {got}")]
    Invalid {
        /// The setting's label, e.g. "γ (sources)".
        label: &'static str,
        /// What is accepted, e.g. "a positive number up to 100, or \"inf\"".
        rule: String,
        /// The refused value as given.
        got: String,
    },
}
