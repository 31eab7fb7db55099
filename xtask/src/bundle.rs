//! `bundle`: the plugin's CLAP and VST3 bundles (nice-plug-xtask), completed
//! with the ONNX Runtime library next to the plugin binary and the default
//! model where the plugin looks for it (`gmsdi-model/` next to the binary,
//! or in the bundle's `Resources/`).

use std::path::{Path, PathBuf};

use crate::ort_lib::{OrtFiles, Platform};

/// The plugin's package name.
const PACKAGE: &str = "gmsdi-plugin";
/// Folder name the plugin looks for (see plugin/src/location.rs).
const MODEL_DIR: &str = "gmsdi-model";

/// Builds the bundles with `args` (e.g. `--release`, `--target
/// x86_64-pc-windows-gnu`) passed to cargo, then adds the ONNX Runtime files
/// and the model. They land in `target/bundled/`, or for another platform
/// than this machine's in `target/bundled/<os>-<arch>/` (nice-plug-xtask
/// writes every target's into `bundled/`; a cross build's are moved out so
/// they never mix with this machine's).
pub fn bundle(root: &Path, ort: &OrtFiles, platform: &Platform, args: &[String]) -> Result<(), String> {
    let mut xtask_args = vec!["bundle".to_string(), PACKAGE.to_string()];
    xtask_args.extend(args.iter().cloned());
    nice_plug_xtask::main_with_args("cargo xtask", xtask_args).map_err(|e| format!("{e:#}"))?;
    // nice-plug-xtask honours CARGO_TARGET_DIR (relative to the workspace root).
    let bundled = crate::target_dir(root).join("bundled");
    let out = if *platform == Platform::host() {
        bundled.clone()
    } else {
        bundled.join(format!("{}-{}", platform.os, platform.arch))
    };
    let model = default_model(root)?;

    // CLAP: on macOS a bundle folder; elsewhere one file, moved into a
    // folder of its own so the library and model can sit beside it.
    let clap = bundled.join(format!("{PACKAGE}.clap"));
    let clap_binary_dir = if clap.is_dir() {
        clap.join("Contents").join("MacOS")
    } else {
        let folder = out.join(format!("{PACKAGE}-clap"));
        recreate(&folder)?;
        let to = folder.join(format!("{PACKAGE}.clap"));
        std::fs::rename(&clap, &to).map_err(|e| format!("cannot move {}: {e}", clap.display()))?;
        folder
    };
    complete(&clap_binary_dir, ort, &model)?;

    let built = bundled.join(format!("{PACKAGE}.vst3"));
    let vst3 = out.join(format!("{PACKAGE}.vst3")).join("Contents");
    let arch_dir = vst3_arch_dir(platform);
    if out != bundled {
        recreate(&vst3)?;
        let from = built.join("Contents").join(&arch_dir);
        std::fs::rename(&from, vst3.join(&arch_dir)).map_err(|e| format!("cannot move {}: {e}", from.display()))?;
        remove_if_no_binaries(&built)?;
    }
    let vst3_binary_dir = vst3.join(&arch_dir);
    if !vst3_binary_dir.is_dir() {
        return Err(format!("no binary folder {} in {}", arch_dir, vst3.display()));
    }
    copy_ort(&vst3_binary_dir, ort)?;
    let resources = vst3.join("Resources");
    std::fs::create_dir_all(&resources).map_err(|e| e.to_string())?;
    copy_model(&model, &resources.join(MODEL_DIR))?;
    eprintln!("xtask: bundles ready in {}", out.display());
    Ok(())
}

/// The folder of a VST3 bundle's `Contents/` that holds the binary for
/// `platform` (the VST3 bundle format's names).
fn vst3_arch_dir(platform: &Platform) -> String {
    match platform.os.as_str() {
        "windows" => format!("{}-win", platform.arch),
        "macos" => "MacOS".to_string(),
        _ => format!("{}-linux", platform.arch),
    }
}

/// Removes a VST3 bundle left without any platform's binary folder.
fn remove_if_no_binaries(vst3: &Path) -> Result<(), String> {
    let contents = vst3.join("Contents");
    let has_binaries = std::fs::read_dir(&contents)
        .map(|entries| entries.filter_map(Result::ok).any(|e| e.path().is_dir() && e.file_name() != "Resources"))
        .unwrap_or(false);
    if has_binaries {
        return Ok(());
    }
    std::fs::remove_dir_all(vst3).map_err(|e| format!("cannot remove {}: {e}", vst3.display()))
}

/// The model to ship: `models/default` if present, else the analytic fixture.
fn default_model(root: &Path) -> Result<PathBuf, String> {
    ["models/default", "models/fixtures/gaussian"]
        .iter()
        .map(|p| root.join(p))
        .find(|p| p.join("model.json").is_file())
        .ok_or_else(|| "no model: neither models/default nor models/fixtures/gaussian has a model.json".into())
}

fn recreate(dir: &Path) -> Result<(), String> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| format!("cannot remove {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// ONNX Runtime library and model next to the plugin binary.
fn complete(binary_dir: &Path, ort: &OrtFiles, model: &Path) -> Result<(), String> {
    copy_ort(binary_dir, ort)?;
    copy_model(model, &binary_dir.join(MODEL_DIR))
}

/// Copies the ONNX Runtime library (a link resolved) into `to` under the
/// name the engine looks for, with the libraries it depends on and its
/// licence files.
fn copy_ort(to: &Path, ort: &OrtFiles) -> Result<(), String> {
    let ort_lib = &ort.library;
    for file in std::iter::once(ort_lib).chain(&ort.extra) {
        let name = file.file_name().ok_or("ONNX Runtime file path has no file name")?;
        std::fs::copy(file, to.join(name)).map_err(|e| format!("cannot copy {}: {e}", file.display()))?;
    }
    for notice in ["LICENSE", "ThirdPartyNotices.txt"] {
        let from = ort_lib.with_file_name(notice);
        if from.is_file() {
            std::fs::copy(&from, to.join(format!("onnxruntime-{notice}")))
                .map_err(|e| format!("cannot copy {}: {e}", from.display()))?;
        }
    }
    Ok(())
}

/// Copies the model folder's files (not its subfolders).
fn copy_model(from: &Path, to: &Path) -> Result<(), String> {
    recreate(to)?;
    let entries = std::fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    for entry in entries.filter_map(Result::ok).filter(|e| e.path().is_file()) {
        std::fs::copy(entry.path(), to.join(entry.file_name()))
            .map_err(|e| format!("cannot copy {}: {e}", entry.path().display()))?;
    }
    Ok(())
}
