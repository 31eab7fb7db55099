//! The summary that `cargo xtask test` prints at its end: each suite with
//! its passed / failed / skipped tests and its time, the skipped tests with
//! their reasons, then one total line (`N passed, M failed[, K skipped]`).
//! The counts are parsed from the runners' own output: cargo's
//! `test result: ok. N passed; M failed; K ignored; …` lines and pytest's
//! final line.

use std::fmt::Write as _;

/// Numbers of tests by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Tests that passed.
    pub passed: u64,
    /// Tests that failed (pytest: errors too).
    pub failed: u64,
    /// Tests that did not run: ignored or filtered out (cargo), skipped or
    /// expected to fail (pytest).
    pub skipped: u64,
}

impl Counts {
    /// Adds `other` to these counts.
    pub fn add(&mut self, other: Counts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }
}

/// One test binary of a `cargo test` run.
#[derive(Clone, Debug, PartialEq)]
pub struct TestBinary {
    /// The binary and its source, e.g. `clap_gui (tests/clap_gui.rs)` or
    /// `gmsdi_engine (doc-tests)`.
    pub name: String,
    /// Its counts. A binary that ended without a result line (it crashed)
    /// counts as one failure.
    pub counts: Counts,
    /// The time the binary reported (`finished in …s`); `None` without a
    /// result line.
    pub seconds: Option<f64>,
    /// Its ignored tests, as `stem::name: ignored, reason`.
    pub ignored: Vec<String>,
}

/// How a suite ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// Its command succeeded.
    Passed,
    /// Its command failed; why.
    Failed(String),
    /// It did not run; why.
    NotRun(String),
}

/// One suite: a command of the test run.
#[derive(Clone, Debug, PartialEq)]
pub struct Suite {
    /// What ran, e.g. `cargo test --workspace`.
    pub name: String,
    /// How it ended.
    pub status: Status,
    /// Its counts; `None` for a step without tests (the bundle).
    pub counts: Option<Counts>,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Rows shown under it (cargo's test binaries that hold tests).
    pub parts: Vec<TestBinary>,
}

/// All suites of a run and the tests it skipped.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// The suites, in the order they ran.
    pub suites: Vec<Suite>,
    /// One line per skipped test or group of tests, with the reason.
    pub skips: Vec<String>,
}

impl Summary {
    /// The counts of all suites. A suite that failed without a failed test
    /// (a build error, a crash) adds one failure, so a failed run never
    /// totals `0 failed`.
    pub fn total(&self) -> Counts {
        let mut total = Counts::default();
        for suite in &self.suites {
            let counts = suite.counts.unwrap_or_default();
            total.add(counts);
            if matches!(suite.status, Status::Failed(_)) && counts.failed == 0 {
                total.failed += 1;
            }
        }
        total
    }

    /// Whether every suite ran and passed.
    pub fn passed(&self) -> bool {
        self.suites.iter().all(|s| s.status == Status::Passed)
    }

    /// The summary as printed: a table of suites (and cargo's test
    /// binaries), the skipped tests, and the total line, last and alone.
    pub fn render(&self) -> String {
        let rows: Vec<(String, Option<Counts>, String, String)> = self
            .suites
            .iter()
            .flat_map(|suite| {
                let status = match &suite.status {
                    Status::Passed => "ok".to_string(),
                    Status::Failed(why) => format!("FAILED: {why}"),
                    Status::NotRun(why) => format!("not run: {why}"),
                };
                let head = (suite.name.clone(), suite.counts, format!("{:.1} s", suite.seconds), status);
                let parts = suite.parts.iter().filter(|b| b.counts != Counts::default()).map(|b| {
                    let time = b.seconds.map_or_else(|| "-".to_string(), |s| format!("{s:.1} s"));
                    let status = if b.seconds.is_none() { "no result (crashed?)" } else { "" };
                    (format!("  {}", b.name), Some(b.counts), time, status.to_string())
                });
                std::iter::once(head).chain(parts)
            })
            .collect();
        let width = rows.iter().map(|r| r.0.len()).chain([5]).max().unwrap_or(5);
        let mut out = String::from("xtask: summary\n");
        let _ =
            writeln!(out, "  {:width$}  {:>6}  {:>6}  {:>7}  {:>9}", "suite", "passed", "failed", "skipped", "time");
        for (name, counts, time, status) in rows {
            let (p, f, s) = counts.map_or(("-".into(), "-".into(), "-".into()), |c| {
                (c.passed.to_string(), c.failed.to_string(), c.skipped.to_string())
            });
            let line = format!("  {name:width$}  {p:>6}  {f:>6}  {s:>7}  {time:>9}  {status}");
            let _ = writeln!(out, "{}", line.trim_end());
        }
        if !self.skips.is_empty() {
            out.push_str("skipped:\n");
            for skip in &self.skips {
                let _ = writeln!(out, "  - {skip}");
            }
        }
        out.push_str(&total_line(self.total()));
        out
    }
}

/// `N passed, M failed`, with `, K skipped` when K > 0.
pub fn total_line(counts: Counts) -> String {
    let mut line = format!("{} passed, {} failed", counts.passed, counts.failed);
    if counts.skipped > 0 {
        let _ = write!(line, ", {} skipped", counts.skipped);
    }
    line
}

/// `text` without ANSI escape sequences (colours), for parsing.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            // Parameters and intermediates, then one final byte in @..~.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The test binaries of a `cargo test` run's output (stdout and stderr
/// merged in order), each named by the `Running …` or `Doc-tests …` line
/// before it and counted from its last `test result:` line (a test that
/// runs its own binary in a child process adds a result line of its own
/// before that one).
pub fn parse_cargo_test(output: &str) -> Vec<TestBinary> {
    let mut binaries: Vec<TestBinary> = Vec::new();
    let mut current: Option<(String, TestBinary)> = None;
    let close = |current: &mut Option<(String, TestBinary)>, binaries: &mut Vec<TestBinary>| {
        if let Some((_, mut binary)) = current.take() {
            if binary.seconds.is_none() {
                binary.counts = Counts { failed: 1, ..Counts::default() };
            }
            binaries.push(binary);
        }
    };
    let open = |stem: &str, name: String| {
        (stem.to_string(), TestBinary { name, counts: Counts::default(), seconds: None, ignored: Vec::new() })
    };
    for line in output.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("Running ").filter(|r| !r.starts_with('`')) {
            // (`cargo run`'s "Running `program args`" is no test binary.)
            close(&mut current, &mut binaries);
            let (stem, name) = binary_name(rest);
            current = Some(open(&stem, name));
        } else if let Some(krate) = line.strip_prefix("Doc-tests ") {
            close(&mut current, &mut binaries);
            current = Some(open(krate.trim(), format!("{} (doc-tests)", krate.trim())));
        } else if let Some(result) = line.strip_prefix("test result: ") {
            let (_, binary) = current.get_or_insert_with(|| open("tests", "tests".into()));
            let (counts, seconds) = parse_cargo_result(result);
            binary.counts = counts;
            binary.seconds = Some(seconds);
        } else if let Some(rest) = line.strip_prefix("test ") {
            let Some((test, outcome)) = rest.split_once(" ... ") else { continue };
            let Some(reason) = outcome.strip_prefix("ignored") else { continue };
            let (stem, binary) = current.get_or_insert_with(|| open("tests", "tests".into()));
            let entry = format!("{stem}::{test}: ignored{}", reason.trim_end());
            if !binary.ignored.contains(&entry) {
                binary.ignored.push(entry);
            }
        }
    }
    close(&mut current, &mut binaries);
    binaries
}

/// The binary's stem and its row name, `clap_gui (tests/clap_gui.rs)`,
/// from cargo's `tests/clap_gui.rs (target/debug/deps/clap_gui-0123abcd)`.
fn binary_name(running: &str) -> (String, String) {
    let Some((source, path)) = running.rsplit_once(" (") else {
        return (running.to_string(), running.to_string());
    };
    let file = path.trim_end_matches(')').rsplit(['/', '\\']).next().unwrap_or(path);
    let file = file.strip_suffix(".exe").unwrap_or(file);
    let stem = file.rsplit_once('-').map_or(file, |(stem, _hash)| stem);
    (stem.to_string(), format!("{stem} ({source})"))
}

/// Counts and seconds of `ok. 41 passed; 0 failed; 1 ignored; 0 measured;
/// 0 filtered out; finished in 1.23s`.
fn parse_cargo_result(result: &str) -> (Counts, f64) {
    let mut counts = Counts::default();
    let mut seconds = 0.0;
    let body = result.split_once(". ").map_or(result, |(_, body)| body);
    for item in body.split(';').map(str::trim) {
        if let Some(time) = item.strip_prefix("finished in ") {
            seconds = time.trim_end_matches('s').parse().unwrap_or(0.0);
            continue;
        }
        let Some((number, what)) = item.split_once(' ') else { continue };
        let Ok(n) = number.parse::<u64>() else { continue };
        match what {
            "passed" => counts.passed += n,
            "failed" => counts.failed += n,
            "ignored" | "filtered out" => counts.skipped += n,
            _ => {}
        }
    }
    (counts, seconds)
}

/// The counts of pytest's final line, e.g. `12 passed, 2 skipped in 3.4s`
/// or `==== 1 failed, 11 passed in 3.40s ====`; `None` when there is none.
pub fn parse_pytest(output: &str) -> Option<Counts> {
    output.lines().rev().find_map(|line| {
        let line = line.trim().trim_matches('=').trim();
        let (items, time) = line.rsplit_once(" in ")?;
        if !time.trim_start().starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        let mut counts = Counts::default();
        let mut any = false;
        for item in items.split(',').map(str::trim) {
            let (number, what) = item.split_once(' ')?;
            let n: u64 = number.parse().ok()?;
            any = true;
            match what {
                "passed" | "xpassed" => counts.passed += n,
                "failed" | "error" | "errors" => counts.failed += n,
                "skipped" | "xfailed" => counts.skipped += n,
                _ => {}
            }
        }
        any.then_some(counts)
    })
}

/// The skip reasons of pytest's `-rs` report, as `path: reason (N tests)`.
pub fn pytest_skips(output: &str) -> Vec<String> {
    // (path, reason, tests), one per reason: pytest reports a skip once per
    // test line, and the line number says little in a summary.
    let mut skips: Vec<(&str, &str, u64)> = Vec::new();
    for rest in output.lines().filter_map(|line| line.trim().strip_prefix("SKIPPED [")) {
        let Some((n, rest)) = rest.split_once("] ") else { continue };
        let Ok(n) = n.parse::<u64>() else { continue };
        let Some((place, reason)) = rest.split_once(": ") else { continue };
        let place = place.rsplit_once(':').map_or(place, |(path, _line)| path);
        match skips.iter_mut().find(|(p, r, _)| *p == place && *r == reason) {
            Some(skip) => skip.2 += n,
            None => skips.push((place, reason, n)),
        }
    }
    skips
        .into_iter()
        .map(|(place, reason, n)| {
            let tests = if n == 1 { "1 test".to_string() } else { format!("{n} tests") };
            format!("{place}: {reason} ({tests})")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARGO: &str = "\
   Compiling gmsdi-tests v0.1.0 (/work/tests)
    Finished `test` profile [optimized + debuginfo] target(s) in 3.20s
     Running unittests src/lib.rs (target/debug/deps/gmsdi_engine-0123abcd)

running 3 tests
test a ... ok
test b ... ignored, needs `cargo xtask bundle` first
test c ... ok

test result: ok. 2 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 1.25s

     Running tests/clap_gui.rs (/abs/target/debug/deps/clap_gui-89ef)

running 1 test
test editor_shows ... FAILED

test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 1 filtered out; finished in 10.50s

error: test failed, to rerun pass `-p gmsdi-tests --test clap_gui`
     Running tests/clap_host.rs (target/debug/deps/clap_host-77aa)

running 4 tests
error: test failed, to rerun pass `-p gmsdi-tests --test clap_host`

Caused by:
  process didn't exit successfully (signal: 11, SIGSEGV)
   Doc-tests gmsdi_engine

running 0 tests

test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
";

    #[test]
    fn cargo_binaries_are_named_and_counted() {
        let binaries = parse_cargo_test(CARGO);
        let names: Vec<&str> = binaries.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "gmsdi_engine (unittests src/lib.rs)",
                "clap_gui (tests/clap_gui.rs)",
                "clap_host (tests/clap_host.rs)",
                "gmsdi_engine (doc-tests)"
            ]
        );
        assert_eq!(binaries[0].counts, Counts { passed: 2, failed: 0, skipped: 1 });
        assert_eq!(binaries[0].seconds, Some(1.25));
        assert_eq!(binaries[1].counts, Counts { passed: 0, failed: 1, skipped: 1 });
        // No result line: it crashed, one failure.
        assert_eq!(binaries[2].counts, Counts { passed: 0, failed: 1, skipped: 0 });
        assert_eq!(binaries[2].seconds, None);
        assert_eq!(binaries[3].counts, Counts::default());
    }

    #[test]
    fn cargo_output_with_colours_parses_the_same() {
        let coloured = "\u{1b}[1m\u{1b}[92m     Running\u{1b}[0m tests/x.rs (target/debug/deps/x-1)\n\
                        test result: \u{1b}[32mok\u{1b}[0m. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.10s\n";
        let binaries = parse_cargo_test(&strip_ansi(coloured));
        assert_eq!(binaries.len(), 1);
        assert_eq!(binaries[0].name, "x (tests/x.rs)");
        assert_eq!(binaries[0].counts.passed, 3);
    }

    #[test]
    fn cargo_ignored_tests_with_reasons() {
        let binaries = parse_cargo_test(CARGO);
        assert_eq!(binaries[0].ignored, ["gmsdi_engine::b: ignored, needs `cargo xtask bundle` first"]);
        assert!(binaries[1..].iter().all(|b| b.ignored.is_empty()));
        let plain = parse_cargo_test("test x::y ... ignored\n");
        assert_eq!(plain[0].ignored, ["tests::x::y: ignored"]);
    }

    /// A test that runs one test of its own binary in a child process
    /// (clap_host does): the child's result line comes first, the binary's last.
    #[test]
    fn a_child_test_run_does_not_hide_the_binary_result() {
        let out = "     Running tests/clap_host.rs (target/debug/deps/clap_host-24c6)\n\n\
                   running 20 tests\n\
                   test a ... ok\n\n\
                   running 1 test\n\
                   test child ... ok\n\n\
                   test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 19 filtered out; finished in 14.27s\n\n\
                   test child ... ignored, run by the parent in its own process\n\
                   test b ... ok\n\n\
                   test result: ok. 18 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 104.05s\n\n\
                        Running tests/default_model.rs (target/debug/deps/default_model-d1e4)\n\
                   test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 7.30s\n";
        let binaries = parse_cargo_test(&format!("     Running `target/debug/gmsdi info`\n{out}"));
        assert_eq!(binaries.len(), 2);
        assert_eq!(binaries[0].name, "clap_host (tests/clap_host.rs)");
        assert_eq!(binaries[0].counts, Counts { passed: 18, failed: 0, skipped: 2 });
        assert_eq!(binaries[0].seconds, Some(104.05));
        assert_eq!(binaries[0].ignored, ["clap_host::child: ignored, run by the parent in its own process"]);
        assert_eq!(binaries[1].counts.passed, 2);
    }

    #[test]
    fn pytest_final_lines() {
        let quiet = "....s.\nSKIPPED [1] tests/ardour/test_ardour_session.py:283: ardour7-lua not found\n\
                     5 passed, 1 skipped in 12.34s (0:00:12)\n";
        assert_eq!(parse_pytest(quiet), Some(Counts { passed: 5, failed: 0, skipped: 1 }));
        let framed = "===== 1 failed, 10 passed, 2 errors, 1 xfailed, 3 warnings in 3.40s =====\n";
        assert_eq!(parse_pytest(framed), Some(Counts { passed: 10, failed: 3, skipped: 1 }));
        assert_eq!(parse_pytest("no tests ran in 0.01s\n"), None);
        assert_eq!(parse_pytest("ImportError: No module named pytest\n"), None);
    }

    #[test]
    fn pytest_skip_reasons() {
        let out =
            "SKIPPED [7] tests/ardour/test_ardour_session.py:283: ardour7-lua not found: `apt-get install ardour`\n\
                   SKIPPED [1] tests/vst3/test_vst3_hosts.py:40: no dawdreamer\n";
        assert_eq!(
            pytest_skips(out),
            [
                "tests/ardour/test_ardour_session.py: ardour7-lua not found: `apt-get install ardour` (7 tests)",
                "tests/vst3/test_vst3_hosts.py: no dawdreamer (1 test)"
            ]
        );
        let per_test = "SKIPPED [1] tests/ardour/t.py:335: GMSDI_SKIP_ARDOUR=1\n\
                        SKIPPED [1] tests/ardour/t.py:342: GMSDI_SKIP_ARDOUR=1\n\
                        SKIPPED [2] tests/ardour/t.py:406: GMSDI_SKIP_ARDOUR=1\n";
        assert_eq!(pytest_skips(per_test), ["tests/ardour/t.py: GMSDI_SKIP_ARDOUR=1 (4 tests)"]);
    }

    fn suite(name: &str, status: Status, counts: Option<Counts>) -> Suite {
        Suite { name: name.into(), status, counts, seconds: 1.0, parts: Vec::new() }
    }

    #[test]
    fn green_run_ends_with_the_plain_total_line() {
        let summary = Summary {
            suites: vec![
                suite("cargo test", Status::Passed, Some(Counts { passed: 10, failed: 0, skipped: 2 })),
                suite("bundle", Status::Passed, None),
                suite("pytest", Status::Passed, Some(Counts { passed: 5, failed: 0, skipped: 0 })),
            ],
            skips: vec!["editor test (GMSDI_SKIP_GUI=1)".into()],
        };
        assert!(summary.passed());
        let text = summary.render();
        println!("{text}");
        assert_eq!(text.lines().last(), Some("15 passed, 0 failed, 2 skipped"));
        assert!(text.contains("  - editor test (GMSDI_SKIP_GUI=1)\n"), "{text}");
        assert_eq!(total_line(Counts { passed: 3, failed: 0, skipped: 0 }), "3 passed, 0 failed");
    }

    #[test]
    fn a_suite_failing_without_failed_tests_still_counts_as_a_failure() {
        let summary = Summary {
            suites: vec![
                suite("cargo test", Status::Failed("exit status: 101".into()), Some(Counts::default())),
                suite("bundle", Status::Failed("build failed".into()), None),
                suite("pytest", Status::NotRun("the bundle failed".into()), None),
            ],
            skips: Vec::new(),
        };
        assert!(!summary.passed());
        assert_eq!(summary.total().failed, 2);
        let text = summary.render();
        assert!(text.contains("not run: the bundle failed"), "{text}");
        assert_eq!(text.lines().last(), Some("0 passed, 2 failed"));
    }
}
