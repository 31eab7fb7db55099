//! The Python virtual environment of the host tests, `<target>/venv`: made
//! on first use with the pinned packages of `tests/vst3/requirements.txt`
//! (dawdreamer, pedalboard, pytest, numpy), reused after, and made again
//! when that file changes (the sha256 of the file it was made from is kept
//! in the venv).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::host_deps::{Apt, PYTHON_VENV};

/// The host tests' requirements, relative to the workspace root.
pub const REQUIREMENTS: &str = "tests/vst3/requirements.txt";

/// File in the venv holding the sha256 of the requirements it was made from.
const STAMP: &str = "gmsdi-requirements.sha256";

/// Returns the interpreter of `<target>/venv`, first making the venv (or
/// making it again) when it is missing, incomplete or made from other
/// requirements. Where Python has no venv module, `apt` installs
/// python3-venv if it can.
pub fn ensure(root: &Path, target: &Path, apt: &mut Apt) -> Result<PathBuf, String> {
    let requirements_path = root.join(REQUIREMENTS);
    let requirements =
        fs::read(&requirements_path).map_err(|e| format!("cannot read {}: {e}", requirements_path.display()))?;
    let venv = target.join("venv");
    let python = interpreter(&venv);
    let stamp = fs::read_to_string(venv.join(STAMP)).ok();
    if python.is_file() && is_current(stamp.as_deref(), &requirements) {
        eprintln!("xtask: host tests' Python packages: {} (up to date with {REQUIREMENTS})", venv.display());
        return Ok(python);
    }
    if stamp.is_some() {
        eprintln!("xtask: {REQUIREMENTS} changed: making {} again", venv.display());
    }
    make(&venv, apt)?;
    eprintln!(
        "xtask: installing the host tests' Python packages ({REQUIREMENTS}: dawdreamer, pedalboard, pytest, numpy) into {}",
        venv.display()
    );
    let status = Command::new(&python)
        .args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--quiet", "-r"])
        .arg(&requirements_path)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !status.success() {
        return Err(format!("pip could not install {REQUIREMENTS} into {} ({status})", venv.display()));
    }
    fs::write(venv.join(STAMP), stamp_text(&requirements))
        .map_err(|e| format!("cannot write {}: {e}", venv.join(STAMP).display()))?;
    Ok(python)
}

/// The Python interpreter inside a venv.
pub fn interpreter(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// `python3 -m venv --clear <venv>`, installing python3-venv and trying
/// again where the venv module or its ensurepip is missing.
fn make(venv: &Path, apt: &mut Apt) -> Result<(), String> {
    let python = crate::ort_lib::python();
    let attempt = || {
        let output = Command::new(&python)
            .args(["-m", "venv", "--clear"])
            .arg(venv)
            .output()
            .map_err(|e| format!("cannot run {python}: {e} (install Python 3, or set XTASK_PYTHON)"))?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
        Ok::<_, String>((output.status.success(), text))
    };
    eprintln!("xtask: making the host tests' virtual environment {} ({python} -m venv)", venv.display());
    let (ok, text) = attempt()?;
    if ok {
        return Ok(());
    }
    if !lacks_venv_module(&text) {
        return Err(format!("`{python} -m venv {}` failed: {}", venv.display(), last_line(&text)));
    }
    let installed = apt.install(&PYTHON_VENV);
    if installed.is_ok() {
        if let (true, _) = attempt()? {
            return Ok(());
        }
    }
    let why = installed.err().map_or_else(String::new, |e| format!(" (cannot install it: {e})"));
    Err(format!(
        "{python} cannot make a virtual environment: its venv module or ensurepip is missing{why}. \
         Install it (Debian/Ubuntu: `{}`) and run again. {python} said: {}",
        apt.manual_command(PYTHON_VENV.packages),
        last_line(&text)
    ))
}

/// Whether `python -m venv`'s output says the module or ensurepip is missing.
fn lacks_venv_module(output: &str) -> bool {
    output.contains("ensurepip") || output.contains("No module named venv") || output.contains("python3-venv")
}

fn last_line(text: &str) -> &str {
    text.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("(no output)")
}

/// The stamp kept in the venv: the requirements' sha256 in hex.
fn stamp_text(requirements: &[u8]) -> String {
    let digest = Sha256::digest(requirements);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}\n")
}

/// Whether a venv whose stamp reads `stamp` was made from `requirements`.
fn is_current(stamp: Option<&str>, requirements: &[u8]) -> bool {
    stamp.is_some_and(|s| s.trim() == stamp_text(requirements).trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_is_the_sha256_of_the_requirements() {
        assert_eq!(stamp_text(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n");
    }

    #[test]
    fn venv_is_stale_without_a_stamp_or_after_a_change() {
        let old = b"pytest==9.2.0\n";
        let stamp = stamp_text(old);
        assert!(is_current(Some(&stamp), old));
        assert!(is_current(Some(stamp.trim()), old), "a newline more or less does not matter");
        assert!(!is_current(Some(&stamp), b"pytest==9.3.0\n"));
        assert!(!is_current(None, old));
        assert!(!is_current(Some(""), old));
    }

    #[test]
    fn recognises_a_missing_venv_module() {
        let debian = "The virtual environment was not created successfully because ensurepip is not\n\
                      available.  On Debian/Ubuntu systems, you need to install the python3-venv\n\
                      package using the following command.\n\n    apt install python3.11-venv\n";
        assert!(lacks_venv_module(debian));
        assert!(lacks_venv_module("/usr/bin/python3: No module named venv\n"));
        assert!(!lacks_venv_module("Error: [Errno 13] Permission denied: '/x'\n"));
        assert_eq!(last_line(debian), "apt install python3.11-venv");
    }

    #[test]
    fn interpreter_is_inside_the_venv() {
        assert!(interpreter(Path::new("/t/venv")).starts_with("/t/venv"));
    }
}
