//! The Windows tests of `cargo xtask test`, on Linux: the Windows bundles
//! cross-built with MinGW-w64 (debug, CPU ONNX Runtime from the official
//! win_amd64 wheel), then, run under Wine by `tests/wine/runner.sh` (cargo's
//! runner for the target, in `.cargo/config.toml`): the CLI's tests
//! (`engine/tests/cli.rs`) with the Windows ONNX Runtime, the row pool's
//! unit tests (network threads at the caller's priority), and the CLAP host
//! test that loads the bundled plugin from its folder and runs a job with the
//! bundled model.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::host_deps::{self, Apt, Switches, WINDOWS};
use crate::ort_lib::{self, Platform, Provider};
use crate::summary::{Status, Suite, Summary};

/// The Rust target of the Windows build.
pub const TRIPLE: &str = "x86_64-pc-windows-gnu";

/// The bundled plugin's host test (tests/tests/clap_host.rs), ignored on
/// Linux until a bundle exists.
const BUNDLE_TEST: &str = "bundled_plugin_finds_its_runtime_and_model";

/// Sets up, builds and runs the Windows tests, adding their suites (or why
/// they were skipped) to `summary`.
pub fn run(root: &Path, apt: &mut Apt, switches: Switches, summary: &mut Summary) {
    const NAME: &str = "the Windows tests under Wine";
    if switches.skip_windows {
        summary.skips.push(format!("{NAME}: GMSDI_SKIP_WINDOWS=1"));
        return;
    }
    if let Err(why) = prepare(apt) {
        let fix = format!("{}; rustup target add {TRIPLE}", apt.manual_command(WINDOWS.packages));
        if switches.windows_required {
            let why = format!("cannot set them up (GMSDI_WINDOWS_REQUIRED=1): {why}");
            summary.suites.push(unrun(NAME, Status::Failed(why)));
        } else {
            summary.skips.push(format!("{NAME}: {why}; to run them: {fix}"));
        }
        return;
    }

    eprintln!("xtask: {NAME}: the bundles cross-built for {TRIPLE} (debug), then the tests");
    let start = Instant::now();
    let platform = Platform::from_triple(TRIPLE).expect("a Windows triple");
    let bundled = ort_lib::setup(&root.join("target").join("onnxruntime"), Provider::Cpu, &platform).and_then(|ort| {
        crate::bundle::bundle(root, &ort, &platform, &["--target".into(), TRIPLE.into()]).map(|()| ort)
    });
    let status = bundled.as_ref().map_or_else(|e| Status::Failed(e.clone()), |_| Status::Passed);
    summary.suites.push(Suite {
        name: "Windows bundle (debug, cross-built)".into(),
        status,
        counts: None,
        seconds: start.elapsed().as_secs_f64(),
        parts: Vec::new(),
    });
    let Ok(ort) = bundled else {
        summary.suites.push(unrun(NAME, Status::NotRun("the bundle failed".into())));
        return;
    };

    let mut cli = cargo_test(root);
    cli.args(["-p", "gmsdi-engine", "--test", "cli"]).env("GMSDI_ORT_LIB", &ort.library);
    let (suite, _) = crate::tasks::cargo_tests("Windows CLI tests (Wine)", cli);
    summary.suites.push(suite);

    // The row pool's unit tests: its network threads take the caller's priority.
    let mut pool = cargo_test(root);
    pool.args(["-p", "gmsdi-engine", "--lib", "row_pool"]);
    let (suite, _) = crate::tasks::cargo_tests("Windows row pool tests, thread priority (Wine)", pool);
    summary.suites.push(suite);

    let mut host = cargo_test(root);
    host.args(["-p", "gmsdi-tests", "--test", "clap_host", "--", "--ignored", "--exact", BUNDLE_TEST]);
    host.env_remove("GMSDI_ORT_LIB").env_remove("GMSDI_MODEL");
    let (suite, _) = crate::tasks::cargo_tests("Windows CLAP host test of the bundle (Wine)", host);
    summary.suites.push(suite);
}

/// Rust's Windows target (added with rustup when missing: it comes from
/// rustup's server, not a package registry, so it is tried first) and
/// MinGW-w64 and Wine (installed with apt-get when missing); why not, where not.
fn prepare(apt: &mut Apt) -> Result<(), String> {
    if !cfg!(target_os = "linux") {
        return Err("they run on Linux only (cross-built, under Wine)".into());
    }
    if !target_installed() {
        eprintln!("xtask: rustup target add {TRIPLE}: the Windows build needs Rust's standard library for it");
        let status = Command::new("rustup").args(["target", "add", TRIPLE]).status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => return Err(format!("`rustup target add {TRIPLE}` failed ({s})")),
            Err(e) => return Err(format!("cannot run rustup: {e}")),
        }
    }
    if !host_deps::on_path(WINDOWS.probe) {
        apt.install(&WINDOWS)?;
    }
    Ok(())
}

/// Whether Rust's standard library for [`TRIPLE`] is installed.
fn target_installed() -> bool {
    Command::new("rustc").args(["--print", "sysroot"]).output().ok().filter(|o| o.status.success()).is_some_and(|o| {
        let sysroot = String::from_utf8_lossy(&o.stdout).trim().to_string();
        Path::new(&sysroot).join("lib").join("rustlib").join(TRIPLE).join("lib").is_dir()
    })
}

/// `cargo test --target x86_64-pc-windows-gnu` in `root`.
fn cargo_test(root: &Path) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.args(["test", "--target", TRIPLE, "--no-fail-fast"]).current_dir(root);
    cmd
}

/// A suite that did not get to run its tests, with why.
fn unrun(name: &str, status: Status) -> Suite {
    Suite { name: name.into(), status, counts: None, seconds: 0.0, parts: Vec::new() }
}
