//! A thread's scheduling priority carried over to the threads it starts.
//! Linux threads inherit their creator's nice value by themselves; Windows
//! threads start at normal priority, so a worker that lowered its own (the
//! plugin's) would otherwise run its network threads above itself.

/// The scheduling priority of the thread that took it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Priority {
    #[cfg(windows)]
    level: i32,
}

impl Priority {
    /// The calling thread's priority.
    pub(crate) fn current() -> Priority {
        #[cfg(windows)]
        // SAFETY: reads the calling thread's priority through its pseudo-handle.
        let level = unsafe {
            use windows_sys::Win32::System::Threading::{GetCurrentThread, GetThreadPriority};
            GetThreadPriority(GetCurrentThread())
        };
        Priority {
            #[cfg(windows)]
            level,
        }
    }

    /// Gives the calling thread this priority (on Linux it has it already).
    pub(crate) fn apply(self) {
        #[cfg(windows)]
        // SAFETY: sets the calling thread's priority through its pseudo-handle to a level read from another thread.
        unsafe {
            use windows_sys::Win32::System::Threading::{GetCurrentThread, SetThreadPriority};
            SetThreadPriority(GetCurrentThread(), self.level);
        }
    }
}

/// Lowers the calling thread's priority, which the threads it starts for the
/// network then share: nice 10 on Linux, below normal on Windows.
pub fn lower_current() {
    #[cfg(target_os = "linux")]
    // SAFETY: changes only the calling thread's nice value.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10);
    }
    #[cfg(windows)]
    // SAFETY: changes only the calling thread's priority, through its pseudo-handle.
    unsafe {
        use windows_sys::Win32::System::Threading::{
            GetCurrentThread, SetThreadPriority, THREAD_PRIORITY_BELOW_NORMAL,
        };
        SetThreadPriority(GetCurrentThread(), THREAD_PRIORITY_BELOW_NORMAL);
    }
}

/// Reading the calling thread's priority, for tests.
#[cfg(test)]
pub(crate) mod test_support {
    /// The calling thread's priority: its nice value, or its Windows level.
    pub(crate) fn level() -> i32 {
        // SAFETY: reads the calling thread's priority.
        #[cfg(target_os = "linux")]
        unsafe {
            libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t)
        }
        // SAFETY: as above, through the thread's pseudo-handle.
        #[cfg(windows)]
        unsafe {
            use windows_sys::Win32::System::Threading::*;
            GetThreadPriority(GetCurrentThread())
        }
    }
}
