//! `bundle`: the plugin's CLAP and VST3 bundles (nice-plug-xtask), completed
//! with the ONNX Runtime library next to the plugin binary and the default
//! model where the plugin looks for it (`gmsdi-model/` next to the binary,
//! or in the bundle's `Resources/`).

use std::path::{Path, PathBuf};

/// The plugin's package name.
const PACKAGE: &str = "gmsdi-plugin";
/// Folder name the plugin looks for (see plugin/src/location.rs).
const MODEL_DIR: &str = "gmsdi-model";

/// Builds the bundles into `target/bundled/` with `args` (e.g. `--release`)
/// passed to cargo, then adds the ONNX Runtime library and the model.
pub fn bundle(root: &Path, ort_lib: &Path, args: &[String]) -> Result<(), String> {
    let mut xtask_args = vec!["bundle".to_string(), PACKAGE.to_string()];
    xtask_args.extend(args.iter().cloned());
    nice_plug_xtask::main_with_args("cargo xtask", xtask_args).map_err(|e| format!("{e:#}"))?;
    // nice-plug-xtask honours CARGO_TARGET_DIR (relative to the workspace root).
    let bundled = crate::target_dir(root).join("bundled");
    let model = default_model(root)?;

    // CLAP: on macOS a bundle folder; elsewhere one file, moved into a
    // folder of its own so the library and model can sit beside it.
    let clap = bundled.join(format!("{PACKAGE}.clap"));
    let clap_binary_dir = if clap.is_dir() {
        clap.join("Contents").join("MacOS")
    } else {
        let folder = bundled.join(format!("{PACKAGE}-clap"));
        recreate(&folder)?;
        let to = folder.join(format!("{PACKAGE}.clap"));
        std::fs::rename(&clap, &to).map_err(|e| format!("cannot move {}: {e}", clap.display()))?;
        folder
    };
    complete(&clap_binary_dir, ort_lib, &model)?;

    let vst3 = bundled.join(format!("{PACKAGE}.vst3")).join("Contents");
    let vst3_binary_dir = std::fs::read_dir(&vst3)
        .map_err(|e| format!("cannot read {}: {e}", vst3.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "Resources"))
        .ok_or_else(|| format!("no binary folder in {}", vst3.display()))?;
    copy_ort(&vst3_binary_dir, ort_lib)?;
    let resources = vst3.join("Resources");
    std::fs::create_dir_all(&resources).map_err(|e| e.to_string())?;
    copy_model(&model, &resources.join(MODEL_DIR))?;
    eprintln!("xtask: bundles ready in {}", bundled.display());
    Ok(())
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
fn complete(binary_dir: &Path, ort_lib: &Path, model: &Path) -> Result<(), String> {
    copy_ort(binary_dir, ort_lib)?;
    copy_model(model, &binary_dir.join(MODEL_DIR))
}

/// Copies the ONNX Runtime library (a link resolved) into `to` under the
/// name the engine looks for, with its licence files.
fn copy_ort(to: &Path, ort_lib: &Path) -> Result<(), String> {
    let name = ort_lib.file_name().ok_or("ONNX Runtime library path has no file name")?;
    std::fs::copy(ort_lib, to.join(name)).map_err(|e| format!("cannot copy {}: {e}", ort_lib.display()))?;
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
