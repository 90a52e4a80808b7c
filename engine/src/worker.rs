//! The worker side of one exploration: reads a [`Request`] (JSON) from a file, explores it with
//! the checker this copy of the engine was compiled for, and writes a [`Response`] (JSON) to
//! another file. The `mountcheck` binary links the std, shuttle and loom copies of the engine and
//! runs this in a child process of itself (`mountcheck __worker BACKEND REQUEST RESPONSE`), so a
//! loom abort, a hang or a crash costs the child, never the CLI.
//!
//! Invariant: the response file is written whole (write to a temporary name, then rename). If
//! the process is about to abort (loom aborts on a deadlock with guards held and on its branch
//! limit), the panic hook has already written a response holding the first panic and the ledger
//! of the execution that caused it, so the CLI can still give a verdict.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::driver::{self, BACKEND};
use crate::{Request, Response};

fn write_atomic(path: &Path, resp: &Response) {
    let tmp = path.with_extension("tmp");
    if let Ok(s) = serde_json::to_string(resp) {
        if std::fs::write(&tmp, s).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        }
    }
}

/// Explore the request in file `request` and write the response to file `response`. Exit status
/// 0 when a response was written, 2 when the request could not be read or was refused (it fails
/// [`Request::check`], or names another backend); the CLI turns a refusal into a checker error.
pub fn main(request: &Path, response: &Path) -> ExitCode {
    let req: Request = match std::fs::read_to_string(request)
        .map_err(|e| e.to_string())
        .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "mountcheck worker ({BACKEND}): cannot read the request {}: {e}",
                request.display()
            );
            return ExitCode::from(2);
        }
    };
    let out = PathBuf::from(response);
    let hook_out = out.clone();
    driver::install_panic_hook(move || {
        // Written before any abort can happen; overwritten by the normal response if the
        // process survives the panic.
        write_atomic(&hook_out, &driver::response_at_panic());
    });
    match driver::explore(&req) {
        Ok(resp) => {
            write_atomic(&out, &resp);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mountcheck worker ({BACKEND}): {e}");
            ExitCode::from(2)
        }
    }
}
