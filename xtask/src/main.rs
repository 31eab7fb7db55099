//! Project tasks, run as `cargo xtask <command>`.
//!
//! Commands:
//! - `setup` (alias `setup-ort`) `[--provider cpu|cuda|directml] [--target
//!   TRIPLE]`: fetch the pinned ONNX Runtime wheel from PyPI, verify its hash
//!   and extract the shared library into `target/onnxruntime/`.
//! - `demo`: the README's demo (setup, then the CLI on the example audio).
//! - `test`: the README's test command. Sets up what its tests need: the
//!   ONNX Runtime library, missing system packages (Xvfb and Mesa for the
//!   editor test, Ardour 7 for the DAW session test; apt-get as root or with
//!   passwordless sudo, else one message says what to run and those tests
//!   skip) and the host tests' Python packages in `target/venv`. Then runs
//!   `cargo test --workspace`, builds the debug bundles and tests the VST3
//!   bundle in real hosts (`pytest tests/vst3 tests/ardour`, the venv's
//!   Python), then the Windows build under Wine (MinGW-w64, Wine and Rust's
//!   Windows target installed when missing), and ends with a summary of every
//!   suite and a total line. `GMSDI_SKIP_GUI=1` / `GMSDI_SKIP_ARDOUR=1` /
//!   `GMSDI_SKIP_WINDOWS=1` leave out the editor / Ardour / Windows tests.
//! - `bundle [--provider P] [cargo args]`: the plugin's CLAP and VST3 bundles
//!   in `target/bundled/`, with the ONNX Runtime library and the default
//!   model; `--target x86_64-pc-windows-gnu` cross-builds the Windows ones.
//! - `mutants [FILE ...]`: mutation testing of the engine's core with
//!   cargo-mutants (installed when missing), a table per file.
//! - `nice-plug-patch [--check]`: rebuild (or check) `third_party/nice-plug`,
//!   the published nice-plug crate plus `third_party/nice-plug.patch`.

mod bundle;
mod host_deps;
mod mutants;
mod ort_lib;
mod summary;
mod tasks;
mod tee;
mod vendor_patch;
mod venv;
mod windows;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ort_lib::{Platform, Provider};

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  setup, setup-ort [--provider cpu|cuda|directml] [--target TRIPLE]
      Download the pinned ONNX Runtime wheel from PyPI (via pip), verify its
      sha256 and extract the shared library into target/onnxruntime/
      (cuda: target/onnxruntime/cuda/, directml: target/onnxruntime/directml/;
      for another platform's TRIPLE under target/onnxruntime/<os>-<arch>/,
      e.g. windows-x86_64/directml/). DirectML is Windows only.
      Prints the absolute path of the library as its last line.
  demo
      Set up, then generate a bass line under assets/example/guitar.wav and
      split assets/example/mix.wav with the default model (out/demo/).
  test
      Set up what the tests need, then run them all and print a summary.
      Setup: the ONNX Runtime library; missing system packages installed with
      apt-get as root or with passwordless sudo (Xvfb and Mesa's software
      OpenGL for the editor test, Ardour 7 for the Ardour session test; where
      that cannot be done, one message says what to run and those tests are
      skipped); the packages of tests/vst3/requirements.txt in target/venv
      (made on first use, made again when that file changes).
      Tests: cargo test --workspace, the bundles (debug), then the VST3 bundle
      in dawdreamer, pedalboard and a headless Ardour session (the venv's
      python -m pytest tests/vst3 tests/ardour), then the Windows bundles
      cross-built (debug; gcc-mingw-w64-x86-64 and wine64 installed with
      apt-get, rustup target add x86_64-pc-windows-gnu, when missing) and
      under Wine the CLI's tests and the CLAP host test of the bundled plugin.
      Ends with passed / failed / skipped per suite and a total line; fails
      if any suite failed.
      Quick run: GMSDI_SKIP_GUI=1 leaves out the editor test,
      GMSDI_SKIP_ARDOUR=1 the Ardour session test, GMSDI_SKIP_WINDOWS=1 the
      Windows tests. GMSDI_ARDOUR_REQUIRED=1 / GMSDI_WINDOWS_REQUIRED=1 make
      the Ardour / Windows tests fail where they would skip (CI).
  bundle [--provider cpu|cuda|directml] [--release] [--target TRIPLE]
         [other cargo build options]
      Set up, then build the plugin and write target/bundled/gmsdi-plugin.vst3
      and target/bundled/gmsdi-plugin-clap/gmsdi-plugin.clap (gmsdi-plugin.clap
      bundle on macOS), each with the ONNX Runtime library of the provider
      (default cpu) next to the plugin binary and the default model
      (models/default, else the test fixture). With --target
      x86_64-pc-windows-gnu (rustup target add x86_64-pc-windows-gnu; the
      linker from gcc-mingw-w64-x86-64) the Windows bundles, with the Windows
      ONNX Runtime (--provider directml: the DirectML build and DirectML.dll).
  mutants [FILE ...]
      Mutation testing (cargo-mutants 27.1.0, installed when missing) of the
      engine's core files, or of the FILEs given, in two stages: every mutant
      against the engine's unit tests (about 30 s each on 2 cores), then the
      ones they miss against the engine's tests and the fixture tests (about
      two minutes each). Mutants listed with a reason in
      xtask/mutants-equivalent.txt are left out. Prints caught / missed /
      timeouts / unviable and the kill rate per file (lists in
      target/mutants/quick/ and target/mutants/full/); fails if a mutant was
      missed.
  nice-plug-patch [--check]
      Rebuild third_party/nice-plug as the published nice-plug crate (fetched
      by cargo, sha256 checked) plus third_party/nice-plug.patch; with --check,
      fail unless the copy in the repository is exactly that.
  help
      Show this text.";

/// A parsed command line.
enum Command {
    Setup { provider: Provider, platform: Platform },
    Demo,
    Test,
    Bundle { provider: Provider, platform: Platform, args: Vec<String> },
    NicePlugPatch { check: bool },
    Mutants { files: Vec<String> },
    Help,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse_args(&args) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        Command::Help => {
            println!("{USAGE}");
            Ok(())
        }
        Command::Setup { provider, platform } => workspace_root().and_then(|root| {
            let ort = ort_lib::setup(&root.join("target").join("onnxruntime"), provider, &platform)?;
            println!("{}", ort.library.display());
            Ok(())
        }),
        Command::Bundle { provider, platform, args } => workspace_root().and_then(|root| {
            let ort = ort_lib::setup(&root.join("target").join("onnxruntime"), provider, &platform)?;
            bundle::bundle(&root, &ort, &platform, &args)
        }),
        Command::NicePlugPatch { check } => workspace_root().and_then(|root| vendor_patch::run(&root, check)),
        Command::Mutants { files } => workspace_root().and_then(|root| {
            let ort = ort_lib::setup(&root.join("target").join("onnxruntime"), Provider::Cpu, &Platform::host())?;
            mutants::run(&root, &ort.library, &files)
        }),
        Command::Demo | Command::Test => workspace_root().and_then(|root| {
            let ort = ort_lib::setup(&root.join("target").join("onnxruntime"), Provider::Cpu, &Platform::host())?;
            if matches!(command, Command::Demo) {
                tasks::demo(&root, &ort.library)
            } else {
                tasks::test(&root, &ort)
            }
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Turns the arguments after `cargo xtask` into a [`Command`].
fn parse_args(args: &[String]) -> Result<Command, String> {
    let Some((name, rest)) = args.split_first() else {
        return Ok(Command::Help);
    };
    match name.as_str() {
        "help" | "-h" | "--help" => Ok(Command::Help),
        "demo" if rest.is_empty() => Ok(Command::Demo),
        "test" if rest.is_empty() => Ok(Command::Test),
        "mutants" => Ok(Command::Mutants { files: rest.to_vec() }),
        "bundle" => {
            let (provider, triple, args) = ort_options(rest, true)?;
            let platform = triple.map_or_else(|| Ok(Platform::host()), |t| Platform::from_triple(&t))?;
            Ok(Command::Bundle { provider, platform, args })
        }
        "nice-plug-patch" => match rest {
            [] => Ok(Command::NicePlugPatch { check: false }),
            [flag] if flag == "--check" => Ok(Command::NicePlugPatch { check: true }),
            _ => Err(format!("usage: nice-plug-patch [--check], got {}", rest.join(" "))),
        },
        "setup" | "setup-ort" => {
            let (provider, triple, others) = ort_options(rest, false)?;
            if let Some(arg) = others.first() {
                return Err(format!("unknown option for {name}: {arg}"));
            }
            let platform = triple.map_or_else(|| Ok(Platform::host()), |t| Platform::from_triple(&t))?;
            Ok(Command::Setup { provider, platform })
        }
        other => Err(format!("unknown command: {other}")),
    }
}

/// Takes `--provider P` and `--target T` (either as `--name=value`) out of
/// `args`: the provider (cpu unless given), the target, and the other
/// arguments, with `--target` among them when `keep_target` (cargo needs it).
fn ort_options(args: &[String], keep_target: bool) -> Result<(Provider, Option<String>, Vec<String>), String> {
    let (mut provider, mut target, mut others) = (Provider::Cpu, None, Vec::new());
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (arg.as_str(), None),
        };
        if name != "--provider" && name != "--target" {
            others.push(arg.clone());
            continue;
        }
        let value = match inline {
            Some(value) => value,
            None => it.next().ok_or_else(|| format!("{name} needs a value"))?.clone(),
        };
        if name == "--provider" {
            provider = value.parse()?;
        } else {
            if keep_target {
                others.extend(["--target".to_string(), value.clone()]);
            }
            target = Some(value);
        }
    }
    Ok((provider, target, others))
}

/// Finds the workspace root: the parent of this crate's manifest directory
/// if it still holds the workspace `Cargo.toml`, else the nearest ancestor
/// of the current directory whose `Cargo.toml` has a `[workspace]` table.
fn workspace_root() -> Result<PathBuf, String> {
    let from_manifest = Path::new(env!("CARGO_MANIFEST_DIR")).parent();
    if let Some(dir) = from_manifest.filter(|d| is_workspace_root(d)) {
        return Ok(dir.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(|e| format!("cannot read current dir: {e}"))?;
    cwd.ancestors()
        .find(|d| is_workspace_root(d))
        .map(Path::to_path_buf)
        .ok_or_else(|| "cannot find the workspace root (a Cargo.toml with [workspace])".into())
}

/// The build folder: `$CARGO_TARGET_DIR` (relative to the workspace root),
/// else `target/` in the workspace root.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |t| root.join(t))
}

fn is_workspace_root(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|text| text.lines().any(|l| l.trim() == "[workspace]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_setup_provider() {
        let parsed = parse_args(&args(&["setup-ort", "--provider", "cuda"]));
        assert!(matches!(parsed, Ok(Command::Setup { provider: Provider::Cuda, .. })));
        let parsed = parse_args(&args(&["setup"]));
        assert!(matches!(parsed, Ok(Command::Setup { provider: Provider::Cpu, .. })));
        assert!(parse_args(&args(&["setup", "--provider", "rocm"])).is_err());
        assert!(parse_args(&args(&["setup", "--provider"])).is_err());
    }

    #[test]
    fn bundle_passes_its_arguments_to_cargo() {
        let parsed = parse_args(&args(&["bundle", "--release"]));
        assert!(
            matches!(parsed, Ok(Command::Bundle { provider: Provider::Cpu, platform, args }) if args == ["--release"] && platform == Platform::host())
        );
    }

    #[test]
    fn bundle_for_windows_keeps_the_target_for_cargo_and_takes_the_provider() {
        let parsed =
            parse_args(&args(&["bundle", "--release", "--target=x86_64-pc-windows-gnu", "--provider", "directml"]));
        let Ok(Command::Bundle { provider, platform, args: cargo_args }) = parsed else {
            panic!("not a bundle command")
        };
        assert_eq!(provider, Provider::DirectMl);
        assert_eq!(platform, Platform::from_triple("x86_64-pc-windows-gnu").unwrap());
        assert_eq!(cargo_args, ["--release", "--target", "x86_64-pc-windows-gnu"]);
        assert!(parse_args(&args(&["bundle", "--target", "wasm32-unknown-unknown"])).is_err());
        let parsed = parse_args(&args(&["setup", "--target", "x86_64-pc-windows-gnu"]));
        assert!(matches!(parsed, Ok(Command::Setup { platform, .. }) if platform.os == "windows"));
    }

    #[test]
    fn finds_workspace_root() {
        let root = workspace_root().expect("workspace root");
        assert!(root.join("xtask").join("Cargo.toml").is_file());
    }
}
