//! Standard output of every subcommand, written so that a closed pipe ends the output quietly.
//!
//! Rust ignores `SIGPIPE`, so a write to a pipe whose reader is gone (`mountcheck list | head -1`)
//! fails with `BrokenPipe`, and `println!` panics on it. Like ripgrep, mountcheck treats a broken
//! pipe as the reader having seen enough: [`print()`] then succeeds without writing, now and for
//! the rest of the process, and the command ends with the exit status its work earned (a `run`
//! still writes its reports and exits 1 on an unexpected verdict).
//!
//! Invariant: nothing in the CLI writes to stdout except through [`print()`].

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write found the pipe closed.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Write `text` to stdout and flush. A broken pipe is success (and later calls write nothing);
/// any other write error is an error.
pub fn print(text: &str) -> anyhow::Result<()> {
    if CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to standard output")),
    }
}

/// [`print()`] `text` and a newline.
pub fn println(text: &str) -> anyhow::Result<()> {
    print(&format!("{text}\n"))
}
