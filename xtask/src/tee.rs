//! Running a command whose output the user watches live while xtask keeps
//! a copy to read the test counts from.

use std::io::{Read, Write};
use std::process::{Command, ExitStatus};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long to wait for the rest of the output once the command has ended
/// (a process it left behind may hold the pipe open).
const DRAIN_WAIT: Duration = Duration::from_secs(5);

/// Runs `cmd` with its stdout and stderr merged into one pipe (so their
/// lines stay in order), copies everything to this process's stdout as it
/// comes, and returns the exit status with the output as text.
pub fn run(mut cmd: Command) -> Result<(ExitStatus, String), String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let (mut reader, writer) = std::io::pipe().map_err(|e| format!("cannot make a pipe: {e}"))?;
    let writer_err = writer.try_clone().map_err(|e| format!("cannot make a pipe: {e}"))?;
    cmd.stdout(writer).stderr(writer_err);
    let mut child = cmd.spawn().map_err(|e| format!("cannot run {program}: {e}"))?;
    // The Command holds the pipe's write ends: drop them, or the reader never sees the end.
    drop(cmd);

    let captured = Arc::new(Mutex::new(Vec::new()));
    let (done_tx, done_rx) = mpsc::channel();
    let sink = Arc::clone(&captured);
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        let mut stdout = std::io::stdout();
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            let _ = stdout.write_all(&buf[..n]);
            let _ = stdout.flush();
            sink.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(&buf[..n]);
        }
        let _ = done_tx.send(());
    });

    let status = child.wait().map_err(|e| format!("waiting for {program}: {e}"))?;
    let _ = done_rx.recv_timeout(DRAIN_WAIT);
    let bytes = captured.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn merges_stdout_and_stderr_in_order() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo one; echo two >&2; echo three; exit 3"]);
        let (status, output) = run(cmd).expect("sh runs");
        assert_eq!(status.code(), Some(3));
        assert_eq!(output, "one\ntwo\nthree\n");
    }
}
