//! `demo` and `test`: the two commands of the README, each one step for a
//! newcomer (the ONNX Runtime library is fetched first when missing; `test`
//! also sets up what its tests need, see [`test`]).

use std::path::Path;
use std::process::{Command, ExitStatus};
use std::time::Instant;

use crate::host_deps::{self, Apt, Switches};
use crate::ort_lib::OrtFiles;
use crate::summary::{self, Status, Suite, Summary};
use crate::{tee, venv};

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

/// The editor test (tests/tests/clap_gui.rs), by its full name: left out of
/// `cargo test` when the editor test is skipped.
const GUI_TEST: &str = "editor_shows_an_accompaniment_job_from_idle_to_done";

/// The README's test command. First the setup: missing system packages
/// (Xvfb and Mesa for the editor test, Ardour 7 for the Ardour session
/// test) installed with apt-get where this user may (else one message says
/// what to run and the tests skip), and the host tests' Python packages in
/// `<target>/venv`. Then all tests of the workspace, the bundles (debug),
/// and the VST3 bundle tested in real hosts by the venv's
/// `python -m pytest tests/vst3 tests/ardour`; every suite runs even when
/// one before it failed, and a summary ends the output.
///
/// Switches: `GMSDI_SKIP_GUI=1` leaves out the editor test,
/// `GMSDI_SKIP_ARDOUR=1` the Ardour session test; `GMSDI_ARDOUR_REQUIRED=1`
/// makes the Ardour test fail where it would skip. Any pytest exit code but
/// 0 fails, including 5 (no tests collected); a missing bundle fails
/// instead of skipping.
pub fn test(root: &Path, ort: &OrtFiles) -> Result<(), String> {
    let lib = ort.library.as_path();
    let switches = Switches::from_env();
    if switches.skip_ardour && switches.ardour_required {
        return Err("GMSDI_SKIP_ARDOUR=1 and GMSDI_ARDOUR_REQUIRED=1 contradict each other: unset one".into());
    }
    let target = crate::target_dir(root);
    let mut apt = Apt::detect();
    let prepared = host_deps::prepare(&mut apt, switches);
    let python = venv::ensure(root, &target, &mut apt)?;
    if let Some(message) = &prepared.message {
        eprintln!("{message}");
    }

    let mut summary = Summary::default();
    let mut cargo = Command::new("cargo");
    cargo.args(["test", "--workspace", "--no-fail-fast"]).current_dir(root).env("GMSDI_ORT_LIB", lib);
    if let Some(why) = &prepared.gui_skip {
        cargo.env("GMSDI_SKIP_GUI", "1").args(["--", "--exact", "--skip", GUI_TEST]);
        summary.skips.push(format!("clap_gui::{GUI_TEST} (the editor test): {why}"));
    }
    let (suite, ignored) = cargo_tests("cargo test --workspace", cargo);
    summary.suites.push(suite);
    summary.skips.extend(ignored);

    let start = Instant::now();
    let bundled = crate::bundle::bundle(root, ort, &crate::ort_lib::Platform::host(), &[]);
    summary.suites.push(Suite {
        name: "bundle (debug)".into(),
        status: bundled.as_ref().map_or_else(|e| Status::Failed(e.clone()), |()| Status::Passed),
        counts: None,
        seconds: start.elapsed().as_secs_f64(),
        parts: Vec::new(),
    });

    let vst3 = target.join("bundled").join("gmsdi-plugin.vst3");
    let (suite, skipped) = if bundled.is_ok() {
        let mut pytest = Command::new(&python);
        pytest
            .args(["-m", "pytest"])
            .args(HOST_TESTS)
            .args(["-q", "-rs", "-p", "no:cacheprovider"])
            .current_dir(root)
            .env("GMSDI_VST3_BUNDLE", &vst3)
            .env("GMSDI_VST3_REQUIRED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONUNBUFFERED", "1");
        host_tests(pytest)
    } else {
        let suite = Suite {
            name: host_tests_name(),
            status: Status::NotRun("the bundle failed".into()),
            counts: None,
            seconds: 0.0,
            parts: Vec::new(),
        };
        (suite, Vec::new())
    };
    summary.suites.push(suite);
    summary.skips.extend(skipped);

    crate::windows::run(root, &mut apt, switches, &mut summary);

    println!("\n{}", summary.render());
    if summary.passed() {
        Ok(())
    } else {
        let failed: Vec<&str> =
            summary.suites.iter().filter(|s| s.status != Status::Passed).map(|s| s.name.as_str()).collect();
        Err(format!("tests failed: {}", failed.join(", ")))
    }
}

/// Runs one suite's command teed, announced by `name`: its exit status, its
/// output without colour codes and when it started; or, when it cannot
/// start, the suite as failed.
fn run_suite(name: &str, cmd: Command) -> Result<(ExitStatus, String, Instant), Suite> {
    eprintln!("xtask: {name}");
    let start = Instant::now();
    match tee::run(cmd) {
        Ok((status, output)) => Ok((status, summary::strip_ansi(&output), start)),
        Err(e) => Err(Suite {
            name: name.to_string(),
            status: Status::Failed(e),
            counts: None,
            seconds: 0.0,
            parts: Vec::new(),
        }),
    }
}

/// Runs a `cargo test` command as the suite `name`, teed; its suite (one
/// part per test binary) and its ignored tests.
pub fn cargo_tests(name: &str, cmd: Command) -> (Suite, Vec<String>) {
    let name = name.to_string();
    let (status, output, start) = match run_suite(&name, cmd) {
        Ok(run) => run,
        Err(suite) => return (suite, Vec::new()),
    };
    let parts = summary::parse_cargo_test(&output);
    let mut counts = summary::Counts::default();
    parts.iter().for_each(|p| counts.add(p.counts));
    let status = if status.success() { Status::Passed } else { Status::Failed(status.to_string()) };
    let ignored = parts.iter().flat_map(|p| p.ignored.iter().cloned()).collect();
    let suite = Suite { name, status, counts: Some(counts), seconds: start.elapsed().as_secs_f64(), parts };
    (suite, ignored)
}

fn host_tests_name() -> String {
    format!("host tests (pytest {})", HOST_TESTS.join(" "))
}

/// Runs pytest, teed; its suite and its skip reasons.
fn host_tests(cmd: Command) -> (Suite, Vec<String>) {
    let name = host_tests_name();
    let (status, output, start) = match run_suite(&name, cmd) {
        Ok(run) => run,
        Err(suite) => return (suite, Vec::new()),
    };
    let status = match status.code() {
        Some(0) => Status::Passed,
        Some(5) => Status::Failed("pytest collected no tests (exit code 5)".into()),
        _ => Status::Failed(status.to_string()),
    };
    let suite = Suite {
        name,
        status,
        counts: summary::parse_pytest(&output),
        seconds: start.elapsed().as_secs_f64(),
        parts: Vec::new(),
    };
    (suite, summary::pytest_skips(&output))
}
