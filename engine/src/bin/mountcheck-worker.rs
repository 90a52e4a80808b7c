//! The worker the `mountcheck` CLI runs in a child process: reads a [`Request`] (JSON) from the
//! file named by its first argument, explores it with the checker it was compiled for, and writes
//! a [`Response`] (JSON) to the file named by its second argument.
//!
//! Invariant: the response file is written whole (write to a temporary name, then rename). If
//! the process is about to abort (loom aborts on a deadlock with guards held and on its branch
//! limit), the panic hook has already written a response holding the first panic and the ledger
//! of the execution that caused it, so the CLI can still give a verdict.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mountcheck_engine::driver::{self, current_failure, BACKEND};
use mountcheck_engine::{ReplayToken, Request, Response, Stop};

fn write_atomic(path: &Path, resp: &Response) {
    let tmp = path.with_extension("tmp");
    if let Ok(s) = serde_json::to_string(resp) {
        if std::fs::write(&tmp, s).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 2 && args[1] == "--backend" {
        println!("{BACKEND}");
        return ExitCode::SUCCESS;
    }
    if args.len() != 3 {
        eprintln!("usage: mountcheck-worker REQUEST.json RESPONSE.json  (or --backend)");
        return ExitCode::from(2);
    }
    let req: Request = match std::fs::read_to_string(&args[1])
        .map_err(|e| e.to_string())
        .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "mountcheck-worker: cannot read the request {}: {e}",
                args[1]
            );
            return ExitCode::from(2);
        }
    };
    let out = PathBuf::from(&args[2]);
    let hook_out = out.clone();
    driver::install_panic_hook(move |_| {
        // Written before any abort can happen; overwritten by the normal response if the
        // process survives the panic.
        let failure = current_failure(ReplayToken::None);
        let resp = Response {
            backend: BACKEND.to_string(),
            executions: driver::EXECUTIONS.load(std::sync::atomic::Ordering::SeqCst),
            stop: Stop::Finding,
            failure,
            elapsed_secs: 0.0,
            checkpoint: None,
        };
        write_atomic(&hook_out, &resp);
    });
    match driver::explore(&req) {
        Ok(resp) => {
            write_atomic(&out, &resp);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mountcheck-worker: {e}");
            ExitCode::from(2)
        }
    }
}
