//! Where things are: the plugin's own binary (`dladdr` on Unix,
//! `GetModuleHandleExW` on Windows), the model shipped next to it, and the
//! output folder.

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

/// The folder holding this plugin's binary (not the host's executable): the
/// module that contains this function's code, by address.
#[cfg(windows)]
pub fn binary_dir() -> Option<PathBuf> {
    use std::os::windows::ffi::OsStringExt;
    use windows_sys::Win32::Foundation::HMODULE;
    use windows_sys::Win32::System::LibraryLoader::{
        GetModuleFileNameW, GetModuleHandleExW, GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS,
        GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
    };
    let mut module: HMODULE = std::ptr::null_mut();
    let flags = GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT;
    let addr = binary_dir as *const () as *const u16;
    // SAFETY: with FROM_ADDRESS the name argument is an address inside a module; the
    // reference count is left alone, so nothing needs to be freed.
    if unsafe { GetModuleHandleExW(flags, addr, &mut module) } == 0 {
        return None;
    }
    // Long paths: grow the buffer until the name fits.
    let mut buf = vec![0u16; 512];
    loop {
        // SAFETY: the buffer is valid for `buf.len()` UTF-16 units.
        let len = unsafe { GetModuleFileNameW(module, buf.as_mut_ptr(), buf.len() as u32) } as usize;
        if len == 0 {
            return None;
        }
        if len < buf.len() {
            let path = PathBuf::from(std::ffi::OsString::from_wide(&buf[..len]));
            return path.parent().map(PathBuf::from);
        }
        if buf.len() >= 1 << 15 {
            return None;
        }
        buf.resize(buf.len() * 2, 0);
    }
}

/// The folder holding this plugin's binary (not known on this platform).
#[cfg(not(any(unix, windows)))]
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
/// user's home on Linux and in their Documents folder elsewhere (where the
/// system says it is: on Windows it may be moved, e.g. to OneDrive).
pub fn output_dir(from_state: Option<PathBuf>) -> PathBuf {
    from_state.or_else(|| std::env::var_os(OUTPUT_ENV).map(PathBuf::from)).unwrap_or_else(|| {
        let documents = if cfg!(target_os = "linux") { dirs::home_dir() } else { dirs::document_dir() };
        documents.unwrap_or_else(std::env::temp_dir).join("GMSDI")
    })
}
