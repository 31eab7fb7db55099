//! System packages that some tests need on Linux: Xvfb with Mesa's software
//! OpenGL (the editor test) and Ardour 7 (the Ardour session test).
//!
//! `cargo xtask test` installs missing ones with apt-get, as root or through
//! passwordless `sudo -n`, announcing each install on one line. Where it
//! cannot, it prints one message before the tests, with the command to run
//! and the tests that are skipped for it.

use std::path::Path;
use std::process::Command;

/// A set of system packages that some tests need.
#[derive(Debug, PartialEq, Eq)]
pub struct Group {
    /// What it is, for messages.
    pub what: &'static str,
    /// Its Debian/Ubuntu packages.
    pub packages: &'static [&'static str],
    /// A command that is on PATH once it is installed (empty: none).
    pub probe: &'static str,
    /// Why the tests need it, for the line that announces the install.
    pub why: &'static str,
    /// The tests that need it.
    pub tests: &'static str,
}

/// Xvfb and Mesa's software OpenGL, for the editor test.
pub const XVFB: Group = Group {
    what: "Xvfb and Mesa's software OpenGL",
    packages: &[
        "xvfb",
        "libgl1-mesa-dri",
        "libglx-mesa0",
        "libegl1",
        "libegl-mesa0",
        "libx11-xcb1",
        "libxcursor1",
        "libxkbcommon-x11-0",
    ],
    probe: "Xvfb",
    why: "the editor test opens the plugin window under Xvfb, drawn by Mesa's software OpenGL",
    tests: "the editor test (tests/tests/clap_gui.rs)",
};

/// Ardour 7, for the Ardour session test (`ardour7-lua`, as tests/ardour
/// looks for it, and Ardour's VST3 scanner).
pub const ARDOUR: Group = Group {
    what: "Ardour 7",
    packages: &["ardour"],
    probe: "ardour7-lua",
    why: "the Ardour session test runs the plugin in a headless Ardour 7 (ardour7-lua)",
    tests: "the Ardour session test (tests/ardour)",
};

/// Python's venv module with ensurepip (Debian splits it from python3).
pub const PYTHON_VENV: Group = Group {
    what: "Python's venv module",
    packages: &["python3-venv"],
    probe: "",
    why: "`python3 -m venv` needs it to make the host tests' virtual environment",
    tests: "the VST3 and Ardour host tests (tests/vst3, tests/ardour)",
};

/// MinGW-w64's linker and Wine, for the Windows tests (cross-built here,
/// run under Wine; Debian's `wine64` keeps its binary off PATH).
pub const WINDOWS: Group = Group {
    what: "the MinGW-w64 linker and Wine",
    packages: &["gcc-mingw-w64-x86-64", "wine64"],
    probe: "x86_64-w64-mingw32-gcc",
    why: "the Windows plugin and CLI are cross-built with MinGW-w64 and tested under Wine",
    tests: "the Windows tests under Wine",
};

/// How packages can be installed on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Installer {
    /// apt-get, as root.
    Root,
    /// apt-get through passwordless `sudo -n`.
    Sudo,
    /// Not at all; why.
    Unavailable(String),
}

/// apt-get as found on this machine; runs `apt-get update` once, before
/// the first install.
#[derive(Debug)]
pub struct Apt {
    installer: Installer,
    root: bool,
    updated: bool,
}

impl Apt {
    /// Looks for apt-get and the rights to run it: root, else `sudo -n`.
    pub fn detect() -> Apt {
        let root = is_root();
        let installer = if !cfg!(target_os = "linux") {
            Installer::Unavailable("not Linux".into())
        } else if !on_path("apt-get") {
            Installer::Unavailable("no apt-get on this system".into())
        } else if root {
            Installer::Root
        } else if !on_path("sudo") {
            Installer::Unavailable("not root, and no sudo".into())
        } else if Command::new("sudo").args(["-n", "true"]).output().is_ok_and(|o| o.status.success()) {
            Installer::Sudo
        } else {
            Installer::Unavailable("not root, and sudo asks for a password".into())
        };
        Apt { installer, root, updated: false }
    }

    /// Installs `group`'s packages, announcing it on one line; the reason
    /// when it cannot.
    pub fn install(&mut self, group: &Group) -> Result<(), String> {
        let sudo = match &self.installer {
            Installer::Root => false,
            Installer::Sudo => true,
            Installer::Unavailable(why) => return Err(why.clone()),
        };
        let how = if sudo { "sudo apt-get" } else { "apt-get" };
        eprintln!("xtask: installing {} ({how}): {}", group.packages.join(" "), group.why);
        if !self.updated {
            // A broken source fails the update but not always the install: go on.
            if let Err(e) = apt_get(sudo, &["update", "-qq"]) {
                eprintln!("xtask: warning: apt-get update failed: {e}");
            }
            self.updated = true;
        }
        let mut args = vec!["install", "-y", "-qq", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300"];
        args.extend(group.packages);
        apt_get(sudo, &args).map_err(|e| format!("apt-get install failed: {e}"))?;
        if !group.probe.is_empty() && !on_path(group.probe) {
            return Err(format!("installed, but {} is still not on PATH", group.probe));
        }
        Ok(())
    }

    /// The command a user runs to install `packages` by hand.
    pub fn manual_command(&self, packages: &[&str]) -> String {
        manual_command(self.root, !on_path("apt-get"), packages)
    }
}

/// `apt-get update && apt-get install …` as root, else with sudo; for a
/// system without apt-get, the Debian/Ubuntu command as an example.
fn manual_command(root: bool, no_apt: bool, packages: &[&str]) -> String {
    let sudo = if root { "" } else { "sudo " };
    let command =
        format!("{sudo}apt-get update && {sudo}apt-get install --no-install-recommends {}", packages.join(" "));
    if no_apt {
        format!("your package manager's equivalent of (Debian/Ubuntu) `{command}`")
    } else {
        command
    }
}

/// Runs apt-get non-interactively; the last lines of its output on failure.
fn apt_get(sudo: bool, args: &[&str]) -> Result<(), String> {
    let mut cmd = if sudo {
        let mut cmd = Command::new("sudo");
        cmd.args(["-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
        cmd
    } else {
        let mut cmd = Command::new("apt-get");
        cmd.env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    let output = cmd.args(args).output().map_err(|e| format!("cannot run apt-get: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    Err(format!("{} ({})", lines[lines.len().saturating_sub(3)..].join(" / "), output.status))
}

/// The switches of a test run, from the environment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Switches {
    /// `GMSDI_SKIP_GUI=1`: leave out the editor test.
    pub skip_gui: bool,
    /// `GMSDI_SKIP_ARDOUR=1`: leave out the Ardour session test.
    pub skip_ardour: bool,
    /// `GMSDI_ARDOUR_REQUIRED=1`: the Ardour session test fails where it
    /// would skip.
    pub ardour_required: bool,
    /// `GMSDI_SKIP_WINDOWS=1`: leave out the Windows tests under Wine.
    pub skip_windows: bool,
    /// `GMSDI_WINDOWS_REQUIRED=1`: the Windows tests fail where they would
    /// skip (no MinGW-w64, Wine or Rust's Windows target to be had).
    pub windows_required: bool,
}

impl Switches {
    /// Reads the switches; a switch is on when set to anything but empty or `0`.
    pub fn from_env() -> Switches {
        let on = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0");
        Switches {
            skip_gui: on("GMSDI_SKIP_GUI"),
            skip_ardour: on("GMSDI_SKIP_ARDOUR"),
            ardour_required: on("GMSDI_ARDOUR_REQUIRED"),
            skip_windows: on("GMSDI_SKIP_WINDOWS"),
            windows_required: on("GMSDI_WINDOWS_REQUIRED"),
        }
    }
}

/// What the test run does about its system packages.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Prepared {
    /// Why the editor test is skipped, where it is.
    pub gui_skip: Option<String>,
    /// The one message to print before the tests, where something could
    /// not be installed.
    pub message: Option<String>,
}

/// Installs what the switched-on tests need and is missing (on Linux);
/// says what is skipped where that cannot be done.
pub fn prepare(apt: &mut Apt, switches: Switches) -> Prepared {
    let has_display = std::env::var("DISPLAY").is_ok_and(|d| !d.is_empty());
    let needed = needed(switches, cfg!(target_os = "linux"), has_display, on_path);
    let missing: Vec<(&Group, String)> =
        needed.into_iter().filter_map(|group| apt.install(group).err().map(|why| (group, why))).collect();
    let gui_skip = if switches.skip_gui {
        Some("GMSDI_SKIP_GUI=1".to_string())
    } else {
        missing
            .iter()
            .any(|(g, _)| *g == &XVFB)
            .then(|| format!("no Xvfb; install it with `{}`", apt.manual_command(XVFB.packages)))
    };
    let message = (!missing.is_empty()).then(|| {
        let packages: Vec<&str> = missing.iter().flat_map(|(g, _)| g.packages.iter().copied()).collect();
        cannot_install_message(&missing, &apt.manual_command(&packages), switches.ardour_required)
    });
    Prepared { gui_skip, message }
}

/// The groups to install: those whose tests run here and whose probe
/// command is missing (the editor test needs no Xvfb with a `$DISPLAY`).
fn needed(switches: Switches, linux: bool, has_display: bool, found: impl Fn(&str) -> bool) -> Vec<&'static Group> {
    if !linux {
        return Vec::new();
    }
    let mut groups = Vec::new();
    if !switches.skip_gui && !has_display && !found(XVFB.probe) {
        groups.push(&XVFB);
    }
    if !switches.skip_ardour && !found(ARDOUR.probe) {
        groups.push(&ARDOUR);
    }
    groups
}

/// The one message printed before the tests when packages could not be
/// installed: what is missing and why, the tests skipped (or failing, for
/// Ardour under `GMSDI_ARDOUR_REQUIRED=1`), and the command to run.
fn cannot_install_message(missing: &[(&Group, String)], command: &str, ardour_required: bool) -> String {
    let mut text = String::from("xtask: cannot install what some tests need, so they are skipped:\n");
    for (group, why) in missing {
        let outcome =
            if **group == ARDOUR && ardour_required { "FAILS instead (GMSDI_ARDOUR_REQUIRED=1)" } else { "is skipped" };
        text.push_str(&format!("  - {} needs {} ({why}): it {outcome}\n", group.tests, group.what));
    }
    text.push_str(&format!("  To run them, install the packages and run `cargo xtask test` again:\n    {command}"));
    text
}

/// Whether `name` is an executable file in a folder of `$PATH`.
pub fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| is_executable(&dir.join(name))))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file() || path.with_extension("exe").is_file()
}

/// Whether this process runs as root (Linux: from `/proc/self/status`).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").ok().and_then(|s| uid_from_status(&s)) == Some(0)
}

/// The real user id in the text of `/proc/self/status` (`Uid: 0 0 0 0`).
fn uid_from_status(status: &str) -> Option<u32> {
    status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|ids| ids.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_user_id() {
        assert_eq!(uid_from_status("Name:\tcargo\nUid:\t0\t0\t0\t0\nGid:\t0\n"), Some(0));
        assert_eq!(uid_from_status("Uid:\t1000\t1000\t1000\t1000\n"), Some(1000));
        assert_eq!(uid_from_status("Name:\tx\n"), None);
    }

    #[test]
    fn needs_only_what_is_missing_for_the_tests_that_run() {
        let all = Switches::default();
        assert_eq!(needed(all, true, false, |_| false), [&XVFB, &ARDOUR]);
        assert_eq!(needed(all, true, false, |name| name == "Xvfb"), [&ARDOUR]);
        assert_eq!(needed(all, true, true, |_| false), [&ARDOUR], "a $DISPLAY needs no Xvfb");
        let quick = Switches { skip_gui: true, skip_ardour: true, ..Switches::default() };
        assert!(needed(quick, true, false, |_| false).is_empty());
        assert!(needed(all, false, false, |_| false).is_empty(), "only Linux installs");
    }

    #[test]
    fn cannot_install_says_what_to_run_and_what_is_skipped() {
        let why = "not root, and sudo asks for a password".to_string();
        let missing = [(&XVFB, why.clone()), (&ARDOUR, why)];
        let packages: Vec<&str> = missing.iter().flat_map(|(g, _)| g.packages.iter().copied()).collect();
        let command = manual_command(false, false, &packages);
        assert_eq!(
            command,
            "sudo apt-get update && sudo apt-get install --no-install-recommends xvfb libgl1-mesa-dri libglx-mesa0 \
             libegl1 libegl-mesa0 libx11-xcb1 libxcursor1 libxkbcommon-x11-0 ardour"
        );
        let text = cannot_install_message(&missing, &command, false);
        println!("{text}");
        assert!(text.contains("the editor test (tests/tests/clap_gui.rs) needs Xvfb"), "{text}");
        assert!(text.contains("the Ardour session test (tests/ardour) needs Ardour 7 (not root"), "{text}");
        assert_eq!(text.matches("is skipped").count(), 2, "{text}");
        assert!(text.ends_with(&format!("\n    {command}")), "{text}");
        let required = cannot_install_message(&missing, &command, true);
        assert!(required.contains("it FAILS instead (GMSDI_ARDOUR_REQUIRED=1)"), "{required}");
    }

    #[test]
    fn manual_command_as_root_and_without_apt() {
        assert_eq!(
            manual_command(true, false, &["ardour"]),
            "apt-get update && apt-get install --no-install-recommends ardour"
        );
        assert!(manual_command(false, true, &["xvfb"])
            .starts_with("your package manager's equivalent of (Debian/Ubuntu) `sudo "));
    }

    #[test]
    fn no_installer_means_every_group_is_reported_missing() {
        let mut apt =
            Apt { installer: Installer::Unavailable("no apt-get on this system".into()), root: false, updated: false };
        assert_eq!(apt.install(&XVFB), Err("no apt-get on this system".into()));
        assert!(!apt.updated);
    }
}
