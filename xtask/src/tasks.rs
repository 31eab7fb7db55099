//! `demo` and `test`: the two commands of the README, each one step for a
//! newcomer (the ONNX Runtime library is fetched first when missing).

use std::path::Path;
use std::process::Command;

/// Example audio shipped in the repository.
const EXAMPLE_DIR: &str = "assets/example";

/// Runs a command in `root`, failing with its name if it fails.
fn run(root: &Path, program: &str, args: &[&str], env: &[(&str, &Path)]) -> Result<(), String> {
    eprintln!("xtask: {program} {}", args.join(" "));
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(root);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let status = cmd.status().map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

/// The demo: a bass line under the example guitar, and the example mix
/// split into four stems, with the default model. Results in `out/demo/`.
pub fn demo(root: &Path, lib: &Path) -> Result<(), String> {
    let env = [("GMSDI_ORT_LIB", lib)];
    let gmsdi = ["run", "--release", "--quiet", "-p", "gmsdi-engine", "--bin", "gmsdi", "--"];
    let guitar = format!("guitar={EXAMPLE_DIR}/guitar.wav");
    let mix = format!("{EXAMPLE_DIR}/mix.wav");
    let mut accompany = gmsdi.to_vec();
    accompany.extend(["accompany", "--source", &guitar, "--generate", "bass", "--out", "out/demo/accompany"]);
    run(root, "cargo", &accompany, &env)?;
    let mut separate = gmsdi.to_vec();
    separate.extend(["separate", &mix, "--stems", "bass,drums,guitar,piano", "--out", "out/demo/separate"]);
    run(root, "cargo", &separate, &env)?;
    eprintln!("xtask: demo done: listen to out/demo/accompany/bass.wav and out/demo/separate/*.wav");
    Ok(())
}

/// Python tests of the VST3 bundle in real hosts: dawdreamer and pedalboard
/// (`tests/vst3`), and a headless Ardour session (`tests/ardour`, skipped
/// with its reason where Ardour is not installed, unless
/// `GMSDI_ARDOUR_REQUIRED=1`).
const HOST_TESTS: [&str; 2] = ["tests/vst3", "tests/ardour"];

/// All tests of the workspace, then the VST3 bundle (debug build) tested in
/// real hosts by `python3 -m pytest tests/vst3 tests/ardour` (needs the
/// packages of `tests/vst3/requirements.txt`). Any pytest exit code but 0
/// fails, including 5 (no tests collected); a missing bundle fails instead
/// of skipping.
pub fn test(root: &Path, lib: &Path) -> Result<(), String> {
    run(root, "cargo", &["test", "--workspace"], &[("GMSDI_ORT_LIB", lib)])?;
    crate::bundle::bundle(root, lib, &[])?;
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |t| root.join(t));
    let vst3 = target.join("bundled").join("gmsdi-plugin.vst3");
    let env = [
        ("GMSDI_VST3_BUNDLE", vst3.as_path()),
        ("GMSDI_VST3_REQUIRED", Path::new("1")),
        ("PYTHONDONTWRITEBYTECODE", Path::new("1")),
    ];
    let mut args = vec!["-m", "pytest"];
    args.extend(HOST_TESTS);
    args.extend(["-q", "-rs", "-p", "no:cacheprovider"]);
    run(root, "python3", &args, &env)
        .map_err(|e| format!("{e}\n(the host tests need `python3 -m pip install -r tests/vst3/requirements.txt`)"))
}
