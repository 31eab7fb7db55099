//! Where things are: the plugin's own binary (via `dladdr`), the model
//! shipped next to it, and the output folder.

use std::path::PathBuf;

use gmsdi_engine::model_folder;
/// Environment variable naming a model folder.
pub use gmsdi_engine::model_folder::MODEL_ENV;
/// Environment variable naming the output folder.
pub const OUTPUT_ENV: &str = "GMSDI_OUTPUT_DIR";
/// Name of the model folder shipped next to the plugin binary.
pub const BUNDLED_MODEL: &str = "gmsdi-model";

/// The folder holding this plugin's binary (not the host's executable).
#[cfg(unix)]
pub fn binary_dir() -> Option<PathBuf> {
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let addr = binary_dir as *const libc::c_void;
    // SAFETY: dladdr only reads the address and fills `info`.
    if unsafe { libc::dladdr(addr, &mut info) } == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated path owned by the loader.
    let file = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    let path = PathBuf::from(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(file.to_bytes()));
    let path = std::fs::canonicalize(&path).unwrap_or(path);
    path.parent().map(PathBuf::from)
}

/// The folder holding this plugin's binary (not known on this platform yet).
#[cfg(not(unix))]
pub fn binary_dir() -> Option<PathBuf> {
    None
}

/// Model folders to try, by the engine's rule ([`model_folder`]): the
/// state's, else `GMSDI_MODEL`'s, else the one shipped next to the binary
/// (CLAP folder) or in the VST3 bundle's Resources.
pub fn model_candidates(from_state: Option<PathBuf>) -> Vec<PathBuf> {
    let shipped = binary_dir().map_or_else(Vec::new, |dir| {
        vec![dir.join(BUNDLED_MODEL), dir.join("..").join("Resources").join(BUNDLED_MODEL)]
    });
    model_folder::candidates(from_state, shipped)
}

/// The output folder: the state's, `GMSDI_OUTPUT_DIR`, or `GMSDI` in the
/// user's documents (home on Linux).
pub fn output_dir(from_state: Option<PathBuf>) -> PathBuf {
    from_state.or_else(|| std::env::var_os(OUTPUT_ENV).map(PathBuf::from)).unwrap_or_else(|| {
        let home = std::env::var_os(if cfg!(windows) { "USERPROFILE" } else { "HOME" })
            .map_or_else(std::env::temp_dir, PathBuf::from);
        if cfg!(target_os = "linux") {
            home.join("GMSDI")
        } else {
            home.join("Documents").join("GMSDI")
        }
    })
}
