//! ONNX Runtime: finding and loading the shared library, the one process-wide
//! environment, and session options (threads, execution providers).
//!
//! Search order for the library (first hit wins):
//! 1. the file named by the `GMSDI_ORT_LIB` environment variable;
//! 2. next to the running binary (or the plugin's own file, as given by the caller);
//! 3. `onnxruntime/` in the binary's folder or any folder above it — this is
//!    where `cargo xtask setup` puts the copy it manages (`target/onnxruntime/`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::builder::SessionBuilder;
use ort::session::Session;

use crate::error::{EngineError, Result};

/// Environment variable that names the ONNX Runtime library file.
pub const LIB_ENV: &str = "GMSDI_ORT_LIB";

/// File name of the ONNX Runtime library on this platform.
pub const LIB_NAME: &str = if cfg!(target_os = "windows") {
    "onnxruntime.dll"
} else if cfg!(target_os = "macos") {
    "libonnxruntime.dylib"
} else {
    "libonnxruntime.so"
};

/// An execution provider (backend) for the network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Provider {
    /// The CPU; always available.
    #[default]
    Cpu,
    /// NVIDIA CUDA (needs the onnxruntime-gpu library).
    Cuda,
    /// DirectML on Windows (needs the onnxruntime-directml library).
    DirectMl,
}

impl std::str::FromStr for Provider {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda),
            "directml" | "dml" => Ok(Self::DirectMl),
            other => {
                Err(EngineError::Input(format!("unknown execution provider \"{other}\"; use cpu, cuda or directml")))
            }
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Cpu => "CPU",
            Self::Cuda => "CUDA",
            Self::DirectMl => "DirectML",
        })
    }
}

/// How sessions are created.
#[derive(Clone, Debug)]
pub struct RuntimeOptions {
    /// Requested execution provider.
    pub provider: Provider,
    /// Intra-op threads; `None` = every core (the plugin's worker runs them
    /// at low priority, so the host's audio threads come first).
    pub threads: Option<usize>,
    /// Where to look first for the library (e.g. the plugin binary's folder).
    pub search_dir: Option<PathBuf>,
    /// Run the model's `denoiser` on the CPU too, not its `denoiser_cpu`.
    pub full_precision: bool,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self { provider: Provider::Cpu, threads: None, search_dir: None, full_precision: false }
    }
}

impl RuntimeOptions {
    /// The thread count actually used.
    pub fn thread_count(&self) -> usize {
        self.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1)
    }
}

/// Candidate library paths, in search order.
pub fn library_candidates(search_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os(LIB_ENV) {
        out.push(PathBuf::from(p));
    }
    if let Some(dir) = search_dir {
        out.push(dir.join(LIB_NAME));
    }
    if let Some(exe_dir) = std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf)) {
        out.push(exe_dir.join(LIB_NAME));
        for dir in exe_dir.ancestors() {
            out.push(dir.join("onnxruntime").join(LIB_NAME));
        }
    }
    out
}

static ENVIRONMENT: OnceLock<std::result::Result<(PathBuf, Environment), String>> = OnceLock::new();

/// Loads the library (once per process) and returns the path it came from.
/// A missing or too old library is an error listing every place searched.
pub fn environment(search_dir: Option<&Path>) -> Result<&'static Environment> {
    let loaded = ENVIRONMENT.get_or_init(|| {
        let candidates = library_candidates(search_dir);
        let Some(found) = candidates.iter().find(|p| p.is_file()) else {
            let list: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
            return Err(format!(
                "library {LIB_NAME} not found; run `cargo xtask setup` or set {LIB_ENV} to its path. Looked in: {}",
                list.join(", ")
            ));
        };
        let found = std::path::absolute(found).unwrap_or_else(|_| found.clone());
        preload_dependencies(&found);
        let builder = ort::init_from(&found).map_err(|e| format!("cannot load {}: {e}", found.display()))?;
        let env = builder
            .with_name("gmsdi")
            .build()
            .map_err(|e| format!("cannot start ONNX Runtime from {}: {e}", found.display()))?;
        Ok((found, env))
    });
    match loaded {
        Ok((_, env)) => Ok(env),
        Err(msg) => Err(EngineError::Runtime(msg.clone())),
    }
}

/// Libraries the ONNX Runtime builds ship beside `onnxruntime.dll`.
#[cfg(windows)]
const DEPENDENCIES: &[&str] = &["onnxruntime_providers_shared.dll", "DirectML.dll"];

/// Loads, by absolute path, the libraries found beside the ONNX Runtime
/// library that it depends on. Windows looks for a DLL's dependencies beside
/// the host's executable and in the system folders, not beside the DLL, and
/// takes one already loaded under the same name: loaded first, ours are the
/// ones used (not an old `DirectML.dll` in System32). They stay loaded, as
/// ONNX Runtime does.
#[cfg(windows)]
fn preload_dependencies(library: &Path) {
    for name in DEPENDENCIES {
        let path = library.with_file_name(name);
        if path.is_file() {
            // SAFETY: a library of the ONNX Runtime build we ship; its initialisers are the vendor's.
            if let Ok(lib) = unsafe { libloading::Library::new(&path) } {
                std::mem::forget(lib);
            }
        }
    }
}

/// Elsewhere the loader finds ONNX Runtime's dependencies by its own rules
/// (`$ORIGIN`-relative paths in the wheels' libraries).
#[cfg(not(windows))]
fn preload_dependencies(_library: &Path) {}

/// Path of the loaded library, if loaded.
pub fn loaded_library() -> Option<PathBuf> {
    ENVIRONMENT.get().and_then(|r| r.as_ref().ok()).map(|(p, _)| p.clone())
}

/// A session and the provider it really runs on.
pub struct OpenedSession {
    /// The session.
    pub session: Session,
    /// The provider in use (CPU when the requested one could not start).
    pub provider: Provider,
    /// Why the requested provider is not in use, if it is not.
    pub warning: Option<String>,
}

/// Opens an ONNX file with the options; a requested GPU provider that cannot
/// start falls back to the CPU with a warning.
pub fn open_session(path: &Path, options: &RuntimeOptions) -> Result<OpenedSession> {
    let env = environment(options.search_dir.as_deref())?;
    if options.provider != Provider::Cpu {
        match build(env, path, options, true) {
            Ok(session) => return Ok(OpenedSession { session, provider: options.provider, warning: None }),
            Err(e) => {
                // ONNX Runtime's reasons can span lines (DirectML's do): one line for the report.
                let reason = e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
                let warning = format!("{} is not available ({reason}); running on the CPU", options.provider);
                let session = build(env, path, options, false)?;
                return Ok(OpenedSession { session, provider: Provider::Cpu, warning: Some(warning) });
            }
        }
    }
    Ok(OpenedSession { session: build(env, path, options, false)?, provider: Provider::Cpu, warning: None })
}

fn build(env: &Environment, path: &Path, options: &RuntimeOptions, with_provider: bool) -> Result<Session> {
    let file = path.file_name().map_or_else(String::new, |f| f.to_string_lossy().into_owned());
    let fail = |e: String| EngineError::contract(file.clone(), format!("ONNX Runtime cannot load it: {e}"));
    let rt = |e: ort::Error<SessionBuilder>| EngineError::Runtime(e.to_string());
    let mut builder: SessionBuilder = Session::builder(env).map_err(|e| EngineError::Runtime(e.to_string()))?;
    builder = builder.with_intra_threads(options.thread_count()).map_err(rt)?;
    builder = builder.with_inter_threads(1).map_err(rt)?;
    builder = builder.with_intra_op_spinning(false).map_err(rt)?;
    builder = builder.with_inter_op_spinning(false).map_err(rt)?;
    builder = builder.with_log_level(ort::logging::LogLevel::Error).map_err(rt)?;
    if with_provider {
        let ep = match options.provider {
            Provider::Cpu => ort::ep::CPU::default().build(),
            Provider::Cuda => ort::ep::CUDA::default().build(),
            Provider::DirectMl => ort::ep::DirectML::default().build(),
        };
        builder = builder.with_execution_providers([ep.error_on_failure()]).map_err(rt)?;
    }
    if !path.is_file() {
        return Err(EngineError::contract(file, "file is missing"));
    }
    builder.commit_from_file(path).map_err(|e| fail(e.to_string()))
}
