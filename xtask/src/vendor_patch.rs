//! `nice-plug-patch`: rebuilds `third_party/nice-plug` as the published
//! nice-plug crate plus `third_party/nice-plug.patch`, or checks that the
//! copy in the repository is exactly that.
//!
//! The published `.crate` is fetched by cargo itself (a throw-away manifest
//! and `cargo fetch`, so only the package registry is contacted), its sha256
//! is checked against the pinned one, and it is unpacked with `tar`; the
//! patch is applied with `git apply` and compared with `git diff`.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// The patched crate: name and version, as published on crates.io.
const CRATE: &str = "nice-plug";
const VERSION: &str = "0.4.2";
/// sha256 of `nice-plug-0.4.2.crate` (its checksum in crates.io's index).
const CRATE_SHA256: &str = "3f47be74bed3e8aa17bb055d4ff89af1fb016aa0d2756cd9b6c029a3743676a5";
/// Files of the unpacked crate that are not part of its source.
const NOT_SOURCE: [&str; 3] = [".cargo-ok", "Cargo.lock", ".cargo_vcs_info.json"];

/// Rebuilds `third_party/nice-plug` (or, with `check`, fails unless the copy
/// there equals the published crate plus the patch).
pub fn run(root: &Path, check: bool) -> Result<(), String> {
    let third_party = root.join("third_party");
    let scratch = root.join("target").join("nice-plug-patch");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch).map_err(|e| format!("cannot clear {}: {e}", scratch.display()))?;
    }
    std::fs::create_dir_all(&scratch).map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
    let pristine = unpack_published(&scratch)?;
    let patch = third_party.join(format!("{CRATE}.patch"));
    // `git apply` works relative to the enclosing repository (here: ours), so
    // the unpacked crate gets a repository of its own while it is patched.
    let applied = git(&pristine, &["init", "--quiet"])?
        && git(&pristine, &["apply", "-p1", "--whitespace=nowarn", &path_str(&patch)?])?;
    let dot_git = pristine.join(".git");
    std::fs::remove_dir_all(&dot_git).map_err(|e| format!("cannot remove {}: {e}", dot_git.display()))?;
    if !applied {
        return Err(format!("{} does not apply to {CRATE} {VERSION}", patch.display()));
    }
    let vendored = third_party.join(CRATE);
    if check {
        let same =
            git(root, &["diff", "--no-index", "--stat", "--exit-code", &path_str(&pristine)?, &path_str(&vendored)?])?;
        if !same {
            return Err(format!(
                "{} differs from {CRATE} {VERSION} + {} (the differences are listed above); run \
                 `cargo xtask nice-plug-patch` to rebuild it, or regenerate the patch (third_party/README.md)",
                vendored.display(),
                patch.display()
            ));
        }
        eprintln!("xtask: {} is {CRATE} {VERSION} + {}", vendored.display(), patch.display());
    } else {
        if vendored.exists() {
            std::fs::remove_dir_all(&vendored).map_err(|e| format!("cannot remove {}: {e}", vendored.display()))?;
        }
        std::fs::rename(&pristine, &vendored).map_err(|e| format!("cannot move the patched crate: {e}"))?;
        eprintln!("xtask: wrote {} ({CRATE} {VERSION} + {})", vendored.display(), patch.display());
    }
    Ok(())
}

/// Fetches the published crate through cargo, checks its hash and unpacks
/// it (without its non-source files) into `scratch/nice-plug-<version>`.
fn unpack_published(scratch: &Path) -> Result<PathBuf, String> {
    let manifest = scratch.join("Cargo.toml");
    let text = format!(
        "[package]\nname = \"fetch-{CRATE}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n\
         [lib]\npath = \"lib.rs\"\n\n[dependencies]\n{CRATE} = \"={VERSION}\"\n\n[workspace]\n"
    );
    std::fs::write(&manifest, text).map_err(|e| format!("cannot write {}: {e}", manifest.display()))?;
    let lib = scratch.join("lib.rs");
    std::fs::write(&lib, "").map_err(|e| format!("cannot write {}: {e}", lib.display()))?;
    let fetched = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["fetch", "--quiet", "--manifest-path", &path_str(&manifest)?])
        .status()
        .map_err(|e| format!("cannot run cargo fetch: {e}"))?;
    if !fetched.success() {
        return Err(format!("`cargo fetch` of {CRATE} {VERSION} failed ({fetched})"));
    }
    let archive = find_crate_file()?;
    let bytes = std::fs::read(&archive).map_err(|e| format!("cannot read {}: {e}", archive.display()))?;
    let digest = format!("{:x}", Sha256::digest(&bytes));
    if digest != CRATE_SHA256 {
        return Err(format!("{}: sha256 {digest}, expected {CRATE_SHA256}", archive.display()));
    }
    let untar = Command::new("tar")
        .args(["-xzf", &path_str(&archive)?, "-C", &path_str(scratch)?])
        .status()
        .map_err(|e| format!("cannot run tar: {e}"))?;
    if !untar.success() {
        return Err(format!("tar could not unpack {} ({untar})", archive.display()));
    }
    let pristine = scratch.join(format!("{CRATE}-{VERSION}"));
    for name in NOT_SOURCE {
        let file = pristine.join(name);
        if file.exists() {
            std::fs::remove_file(&file).map_err(|e| format!("cannot remove {}: {e}", file.display()))?;
        }
    }
    Ok(pristine)
}

/// The `.crate` file in cargo's download cache (`$CARGO_HOME/registry/cache/*/`).
fn find_crate_file() -> Result<PathBuf, String> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    let cache = cargo_home.join("registry").join("cache");
    let file_name = format!("{CRATE}-{VERSION}.crate");
    std::fs::read_dir(&cache)
        .map_err(|e| format!("cannot read {}: {e}", cache.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path().join(&file_name)))
        .find(|path| path.is_file())
        .ok_or_else(|| format!("{file_name} is not in {} after `cargo fetch`", cache.display()))
}

/// Runs git in `dir`; true when it exits with 0.
fn git(dir: &Path, args: &[&str]) -> Result<bool, String> {
    let status =
        Command::new("git").args(args).current_dir(dir).status().map_err(|e| format!("cannot run git: {e}"))?;
    Ok(status.success())
}

fn path_str(path: &Path) -> Result<String, String> {
    path.to_str().map(str::to_owned).ok_or_else(|| format!("not UTF-8: {}", path.display()))
}
