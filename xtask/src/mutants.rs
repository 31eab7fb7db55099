//! `mutants`: mutation testing of the engine's core with cargo-mutants:
//! which small changes to the method code (a sign, an operator, a function
//! body) the tests catch. It runs in two stages: every mutant first against
//! the engine's unit tests alone (a few seconds each), then only the mutants
//! they miss against the engine's own tests and the fixture tests of
//! `tests/` (not the plugin's host tests, which exercise the plugin, not the
//! method). Mutants that no behaviour can tell from the original are listed
//! with their reason in `xtask/mutants-equivalent.txt` and left out. Prints
//! caught / missed / timeouts / unviable and the kill rate per file; each
//! stage's lists are in `target/mutants/<stage>/mutants.out/`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// The cargo-mutants release used (installed with `cargo install --locked`
/// when `cargo mutants` is missing or another version).
const VERSION: &str = "27.1.0";

/// The engine's core: the method (guidance, tasks, samplers, schedule,
/// windowing, Wiener post-filter), the rows' way to the network, its
/// settings and its metrics.
pub const CORE: &[&str] = &[
    "engine/src/gmsdi.rs",
    "engine/src/generation.rs",
    "engine/src/separation.rs",
    "engine/src/rows.rs",
    "engine/src/row_pool.rs",
    "engine/src/sampler.rs",
    "engine/src/schedule.rs",
    "engine/src/chunk.rs",
    "engine/src/wiener.rs",
    "engine/src/stft.rs",
    "engine/src/chords.rs",
    "engine/src/post_filter.rs",
    "engine/src/metrics.rs",
    "engine/src/settings/resolve.rs",
    "engine/src/settings/task.rs",
    "engine/src/settings/value.rs",
    "engine/src/settings/overrides.rs",
    "engine/src/settings/stored.rs",
    "engine/src/settings/vocabulary.rs",
];

/// One run of cargo-mutants: the packages whose tests run, the test
/// targets given to `cargo test` and the seconds a mutant's tests may run
/// (a mutant that loops for ever is a timeout, counted as caught).
struct Stage {
    name: &'static str,
    packages: &'static [&'static str],
    tests: &'static [&'static str],
    timeout: &'static str,
}

/// First stage: every mutant against the engine's unit tests, which catch
/// most of them at a fraction of the full suite's cost (they take 1 to 3 s;
/// a mutant still running after 20 s loops).
const QUICK: Stage = Stage { name: "quick", packages: &["gmsdi-engine"], tests: &["--lib"], timeout: "20" };

/// Second stage: the mutants the first missed, against the engine's unit,
/// CLI, contract and thread-count tests and the fixture tests (about two
/// minutes on a busy 2-core machine).
const FULL: Stage = Stage {
    name: "full",
    packages: &["gmsdi-engine", "gmsdi-tests"],
    tests: &[
        "--lib",
        "--test",
        "cli",
        "--test",
        "contract",
        "--test",
        "threads",
        "--test",
        "fixture_gmsdi",
        "--test",
        "fixture_accompaniment",
    ],
    timeout: "300",
};

/// Equivalent mutants: one regular expression (matched against the names
/// `cargo mutants --list` prints) per line, then ` # ` and the reason.
const EQUIVALENT: &str = "xtask/mutants-equivalent.txt";

/// Seconds a mutant's build may take (the first builds every dependency).
const BUILD_TIMEOUT: &str = "1800";

/// The Cargo profile mutants are built with: the test profile at opt-level
/// 1 (the workspace's `[profile.mutation]`). A mutant then builds in about
/// 4 s and the engine's unit tests run in 2 s, against 2 s and 15 s
/// unoptimised; overflow checks and debug assertions stay on.
const PROFILE: &str = "mutation";

/// Mutants built and tested at once: one. All share [`BUILD_DIR`], where
/// Cargo names a workspace crate's artifacts by its path inside the
/// workspace, not by the copy it lies in: two copies building at once
/// would overwrite each other's test binary and each test the other's
/// mutant. (Two jobs with a `target/` each cost a first build of every
/// dependency per copy and per stage, about 13 min on 2 cores; one job
/// tests about 450 mutants an hour there.)
const JOBS: &str = "1";

/// Where cargo-mutants writes its `mutants.out/`.
const OUTPUT: &str = "target/mutants";

/// The Cargo target directory every mutant's build shares, kept between
/// runs: cargo-mutants builds each mutant in a fresh copy of the tree, and
/// with the copy's own `target/` each stage of each run began by building
/// every dependency again (about 13 min on 2 cores).
const BUILD_DIR: &str = "target/mutants/build";

/// Runs cargo-mutants on `files` (the core when empty) with the ONNX
/// Runtime library `ort_lib`, in the two stages, then prints the table per
/// file. Fails when a mutant was missed or cargo-mutants could not run.
pub fn run(root: &Path, ort_lib: &Path, files: &[String]) -> Result<(), String> {
    ensure_installed()?;
    let files: Vec<String> =
        if files.is_empty() { CORE.iter().map(|f| f.to_string()).collect() } else { files.to_vec() };
    let equivalent = equivalent_patterns(&std::fs::read_to_string(root.join(EQUIVALENT)).unwrap_or_default())?;
    let quick = run_stage(root, ort_lib, &QUICK, &files, &equivalent, &[])?;
    let only: Vec<String> = quick[1].lines().filter(|l| !l.trim().is_empty()).map(regex::escape).collect();
    let lists = if only.is_empty() {
        quick
    } else {
        merge(quick, run_stage(root, ort_lib, &FULL, &files, &equivalent, &only)?)
    };
    let table = Table::from_lists(&lists);
    println!("\n{}", table.render());
    if lists[1].trim().is_empty() {
        Ok(())
    } else {
        Err(format!("mutants missed:\n{}", lists[1]))
    }
}

/// Runs one stage over `files`, leaving out the `equivalent` patterns and,
/// when `only` is not empty, every mutant no pattern of it matches; returns
/// the stage's lists in [`LISTS`] order.
fn run_stage(
    root: &Path,
    ort_lib: &Path,
    stage: &Stage,
    files: &[String],
    equivalent: &[String],
    only: &[String],
) -> Result<[String; 4], String> {
    let output = Path::new(OUTPUT).join(stage.name);
    // cargo-mutants makes `mutants.out/` but not the folders above it.
    std::fs::create_dir_all(root.join(&output)).map_err(|e| format!("cannot create {}: {e}", output.display()))?;
    let mut cmd = Command::new("cargo");
    // No baseline run: cargo-mutants 27 runs the baseline with the mutated
    // package's tests only, where `--test fixture_gmsdi` does not exist. The
    // unmutated tree's tests pass in CI; a mutant's tests stop after the stage's timeout.
    cmd.args(["mutants", "--no-shuffle", "-j", JOBS, "--package", "gmsdi-engine", "--profile", PROFILE])
        .arg("--output")
        .arg(&output)
        .args(["--baseline", "skip", "--timeout", stage.timeout, "--build-timeout", BUILD_TIMEOUT])
        // Copy the sources only, not target/ and the recipe's data (ignored by git).
        .args(["--gitignore", "true"])
        .current_dir(root)
        .env("CARGO_TARGET_DIR", root.join(BUILD_DIR))
        .env("GMSDI_ORT_LIB", ort_lib);
    for package in stage.packages {
        cmd.args(["--test-package", package]);
    }
    for file in files {
        cmd.args(["--file", file]);
    }
    for pattern in equivalent {
        cmd.args(["--exclude-re", pattern]);
    }
    for name in only {
        cmd.args(["--re", name]);
    }
    // Given to the build as well as the test run, so a mutant builds only
    // the test targets that run (not the CLI binary and every test binary).
    for arg in stage.tests {
        cmd.arg(format!("--cargo-arg={arg}"));
    }
    eprintln!(
        "xtask: {} stage, cargo mutants on {} file(s){}, {} equivalent pattern(s) left out",
        stage.name,
        files.len(),
        if only.is_empty() { String::new() } else { format!(" ({} mutants)", only.len()) },
        equivalent.len()
    );
    let status = cmd.status().map_err(|e| format!("cannot run cargo mutants: {e}"))?;
    // cargo-mutants: 0 all caught, 2 some missed, 3 some timed out; others are errors.
    if !matches!(status.code(), Some(0 | 2 | 3)) {
        return Err(format!("cargo mutants failed in the {} stage ({status})", stage.name));
    }
    read_lists(&root.join(output).join("mutants.out"))
}

/// Installs cargo-mutants [`VERSION`] unless `cargo mutants --version` says it is there.
fn ensure_installed() -> Result<(), String> {
    let installed = Command::new("cargo")
        .args(["mutants", "--version"])
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains(VERSION));
    if installed {
        return Ok(());
    }
    eprintln!("xtask: installing cargo-mutants {VERSION} (cargo install --locked)");
    let status = Command::new("cargo")
        .args(["install", "--locked", "cargo-mutants", "--version", VERSION])
        .status()
        .map_err(|e| format!("cannot run cargo install: {e}"))?;
    status.success().then_some(()).ok_or_else(|| format!("cargo install cargo-mutants {VERSION} failed ({status})"))
}

/// The patterns of the equivalent-mutant list; a line without its reason
/// is an error (every exclusion must say why).
fn equivalent_patterns(text: &str) -> Result<Vec<String>, String> {
    let lines = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
    lines
        .map(|line| match line.split_once(" # ") {
            Some((pattern, reason)) if !pattern.trim().is_empty() && !reason.trim().is_empty() => {
                Ok(pattern.trim().to_string())
            }
            _ => Err(format!("{EQUIVALENT}: \"{line}\" needs \"<pattern> # <reason>\"")),
        })
        .collect()
}

/// The outcome of both stages: the quick stage's lists but its missed
/// mutants, which the full stage ran again, then the full stage's lists.
fn merge(mut quick: [String; 4], full: [String; 4]) -> [String; 4] {
    quick[1].clear();
    for (list, more) in quick.iter_mut().zip(full) {
        list.push_str(&more);
    }
    quick
}

/// cargo-mutants' lists (`caught.txt`, …: one mutant per line,
/// `file:line:column: what`) from `mutants.out/`, in [`LISTS`] order.
fn read_lists(dir: &Path) -> Result<[String; 4], String> {
    let read = |list: &str| {
        let path = dir.join(list);
        std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    Ok([read(LISTS[0])?, read(LISTS[1])?, read(LISTS[2])?, read(LISTS[3])?])
}

/// Outcomes per file: caught, missed, timeouts, unviable.
#[derive(Debug, Default, PartialEq)]
struct Table(BTreeMap<String, [usize; 4]>);

/// cargo-mutants' lists, in the order of a row.
const LISTS: [&str; 4] = ["caught.txt", "missed.txt", "timeout.txt", "unviable.txt"];

impl Table {
    fn from_lists(texts: &[String]) -> Table {
        let mut rows: BTreeMap<String, [usize; 4]> = BTreeMap::new();
        for (column, text) in texts.iter().enumerate() {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let file = line.split(':').next().unwrap_or_default().to_string();
                rows.entry(file).or_default()[column] += 1;
            }
        }
        Table(rows)
    }

    /// Kill rate: (caught + timeouts) / (mutants − unviable), in percent.
    fn kill_rate([caught, missed, timeouts, _]: [usize; 4]) -> f64 {
        let viable = caught + missed + timeouts;
        if viable == 0 {
            100.0
        } else {
            100.0 * (caught + timeouts) as f64 / viable as f64
        }
    }

    /// The table as printed, a total line last.
    fn render(&self) -> String {
        let mut text = format!(
            "{:<36} {:>7} {:>7} {:>9} {:>9} {:>10}\n",
            "file", "caught", "missed", "timeouts", "unviable", "kill rate"
        );
        let mut total = [0; 4];
        for (file, row) in &self.0 {
            (0..4).for_each(|i| total[i] += row[i]);
            text.push_str(&Self::line(file, *row));
        }
        text.push_str(&Self::line("all", total));
        text
    }

    fn line(name: &str, [caught, missed, timeouts, unviable]: [usize; 4]) -> String {
        let rate = Self::kill_rate([caught, missed, timeouts, unviable]);
        format!("{name:<36} {caught:>7} {missed:>7} {timeouts:>9} {unviable:>9} {rate:>9.1}%\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_list_per_file_and_the_kill_rate_leaves_out_unviable_mutants() {
        let lists = [
            "engine/src/a.rs:1:1: replace f with 0\nengine/src/a.rs:2:1: replace g with 1\nengine/src/b.rs:3:4: x\n",
            "engine/src/a.rs:5:1: delete -\n",
            "engine/src/b.rs:7:1: replace loop\n",
            "engine/src/a.rs:9:1: unviable\n\n",
        ]
        .map(String::from);
        let table = Table::from_lists(&lists);
        assert_eq!(table.0["engine/src/a.rs"], [2, 1, 0, 1]);
        assert_eq!(table.0["engine/src/b.rs"], [1, 0, 1, 0]);
        assert!((Table::kill_rate(table.0["engine/src/a.rs"]) - 200.0 / 3.0).abs() < 1e-9);
        let text = table.render();
        assert!(text.lines().last().unwrap().starts_with("all") && text.contains("80.0%"), "{text}");
    }

    #[test]
    fn the_full_stage_decides_the_mutants_the_quick_stage_missed() {
        let quick = ["a.rs:1:1: x\n", "a.rs:2:1: y\na.rs:3:1: z\n", "a.rs:4:1: t\n", "a.rs:5:1: u\n"].map(String::from);
        let full = ["a.rs:2:1: y\n", "a.rs:3:1: z\n", "", ""].map(String::from);
        let lists = merge(quick, full);
        assert_eq!(lists[1], "a.rs:3:1: z\n", "missed only if the full stage missed it");
        assert_eq!(Table::from_lists(&lists).0["a.rs"], [2, 1, 1, 1]);
    }

    #[test]
    fn every_equivalent_mutant_needs_a_reason() {
        let text = "# comment\n\nreplace foo -> f32 with 1.0 # foo is only compared with itself\n";
        assert_eq!(equivalent_patterns(text).unwrap(), ["replace foo -> f32 with 1.0"]);
        assert!(equivalent_patterns("replace foo -> f32 with 1.0\n").unwrap_err().contains("needs"));
        assert!(equivalent_patterns("replace foo #   \n").is_err());
    }

    #[test]
    fn core_files_exist() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        for file in CORE {
            assert!(root.join(file).is_file(), "{file}");
        }
    }
}
