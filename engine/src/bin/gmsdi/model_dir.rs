//! Which model folder the CLI uses when none is given.

use std::path::{Path, PathBuf};

/// Environment variable naming the default model folder.
pub const MODEL_ENV: &str = "GMSDI_MODEL";

/// `--model`, else `$GMSDI_MODEL`, else `models/default` (then the test
/// fixture `models/fixtures/gaussian`) in the current folder or above the
/// running binary.
pub fn resolve(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os(MODEL_ENV) {
        return Ok(PathBuf::from(p));
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.extend(cwd.ancestors().map(Path::to_path_buf));
    }
    if let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        roots.extend(dir.ancestors().map(Path::to_path_buf));
    }
    for sub in ["models/default", "models/fixtures/gaussian"] {
        if let Some(found) = roots.iter().map(|r| r.join(sub)).find(|p| p.join("model.json").is_file()) {
            return Ok(found);
        }
    }
    Err(format!("no model found: pass --model DIR or set {MODEL_ENV}"))
}
