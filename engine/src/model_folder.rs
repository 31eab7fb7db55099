//! Which model folder a job uses, one rule for the CLI and the plugin: the
//! folder the user named (the CLI's `--model`, the plugin's model setting),
//! else the one `$GMSDI_MODEL` names, else the folders shipped with the
//! program (each front end knows where it ships them), in that order.
//! A folder the user chose is the only one tried, so a wrong one is
//! reported, never silently replaced by the shipped model.

use std::path::{Path, PathBuf};

/// Environment variable naming a model folder.
pub const MODEL_ENV: &str = "GMSDI_MODEL";

/// The folder the user chose: `named`, else `$GMSDI_MODEL`'s.
pub fn user_choice(named: Option<PathBuf>) -> Option<PathBuf> {
    named.or_else(|| std::env::var_os(MODEL_ENV).map(PathBuf::from))
}

/// The folders to try, in order: the user's choice alone, else the shipped ones.
pub fn candidates(named: Option<PathBuf>, shipped: impl IntoIterator<Item = PathBuf>) -> Vec<PathBuf> {
    match user_choice(named) {
        Some(chosen) => vec![chosen],
        None => shipped.into_iter().collect(),
    }
}

/// The first of `candidates` that holds a `model.json`.
pub fn first_model(candidates: &[PathBuf]) -> Option<&Path> {
    candidates.iter().map(PathBuf::as_path).find(|d| d.join("model.json").is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_folder_is_the_only_candidate() {
        let shipped = vec![PathBuf::from("shipped")];
        assert_eq!(candidates(Some("mine".into()), shipped), [PathBuf::from("mine")]);
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/fixtures/gaussian");
        let list = [PathBuf::from("nowhere"), fixture.clone()];
        assert_eq!(first_model(&list), Some(fixture.as_path()));
        assert_eq!(first_model(&list[..1]), None);
    }
}
