//! Which model folder the CLI uses (the engine's rule, [`model_folder`]).

use std::path::{Path, PathBuf};

use gmsdi_engine::model_folder::{self, MODEL_ENV};

/// `--model`, else `$GMSDI_MODEL` (either used as given, so that loading
/// it says what is wrong), else `models/default`, then the test fixture
/// `models/fixtures/gaussian`, in the current folder or above the running binary.
pub fn resolve(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(chosen) = model_folder::user_choice(explicit.map(Path::to_path_buf)) {
        return Ok(chosen);
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.extend(cwd.ancestors().map(Path::to_path_buf));
    }
    if let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        roots.extend(dir.ancestors().map(Path::to_path_buf));
    }
    let subs = ["models/default", "models/fixtures/gaussian"];
    let shipped: Vec<PathBuf> = subs.iter().flat_map(|sub| roots.iter().map(move |r| r.join(sub))).collect();
    model_folder::first_model(&shipped)
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("no model found: pass --model DIR or set {MODEL_ENV}"))
}
