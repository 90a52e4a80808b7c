//! Running one exploration in a child process of this very binary.
//!
//! The model's backend is fixed at compile time, so the binary links three copies of the engine
//! (std, shuttle, loom; see `backends/README.md`) and re-executes itself with the hidden
//! subcommand `__worker BACKEND REQUEST RESPONSE` for each exploration. No source tree and no
//! cargo are needed at run time. Each child runs with a wall-clock bound and an address-space
//! bound (`setrlimit(RLIMIT_AS)`), so a loom abort, a hang or a crash is a verdict, never a lost
//! run.
//!
//! Invariant: [`run`] always returns a [`Response`]: what the worker wrote; a checker error when
//! the worker refused the request (its exit status 2, with stderr's tail as the message); or,
//! when it died without writing one, a `crash` finding naming the signal, the bound hit and
//! stderr's tail.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use mountcheck_engine::{Failure, ReplayToken, Request, Response, Stop};
use mountcheck_model::oracle::{Finding, FindingClass};

/// Address-space bound of a worker: generous, because loom and shuttle map a stack per model
/// thread, but finite, so a runaway exploration is a verdict instead of an OOM kill.
pub const MEMORY_LIMIT_BYTES: u64 = 8 << 30;
/// Grace beyond an exploration's own time bound before the child is killed.
pub const KILL_GRACE: Duration = Duration::from_secs(15);
/// How often the parent looks whether the child has ended.
const POLL: Duration = Duration::from_millis(5);

/// The worker builds linked into this binary, by the name a [`mountcheck_engine::Strategy`]
/// gives for its backend.
pub const BACKENDS: [&str; 3] = ["std", "shuttle", "loom"];

/// The hidden subcommand: run the worker of `backend` on the request file, writing the response
/// file (see `mountcheck_engine::worker`).
pub fn worker_main(backend: &str, request: &Path, response: &Path) -> ExitCode {
    match backend {
        "std" => mountcheck_engine::worker::main(request, response),
        "shuttle" => mountcheck_engine_shuttle::worker::main(request, response),
        "loom" => mountcheck_engine_loom::worker::main(request, response),
        other => {
            eprintln!(
                "mountcheck __worker: unknown backend `{other}` (expected one of: {})",
                BACKENDS.join(", ")
            );
            ExitCode::from(2)
        }
    }
}

/// This binary, which runs the workers.
pub fn self_exe() -> Result<PathBuf> {
    std::env::current_exe().context("cannot find the mountcheck binary to run its workers")
}

fn crash(msg: String, executions: u64) -> Response {
    Response {
        backend: String::new(),
        executions,
        stop: Stop::Finding,
        failure: Some(Failure {
            finding: Finding {
                class: FindingClass::Crash,
                message: msg.clone(),
                thread: None,
                op: String::new(),
                object: None,
                unmatched: Vec::new(),
                comparison: None,
            },
            trace: Vec::new(),
            execution: executions,
            panic_message: msg,
            replay: ReplayToken::None,
            prior_order: None,
        }),
        checker_error: None,
        elapsed_secs: 0.0,
        checkpoint: None,
        shrink: None,
    }
}

/// The worker refused the request: a checker error with its message.
fn refused(msg: String) -> Response {
    Response {
        backend: String::new(),
        executions: 0,
        stop: Stop::CheckerError,
        failure: None,
        checker_error: Some(msg),
        elapsed_secs: 0.0,
        checkpoint: None,
        shrink: None,
    }
}

/// Run one request in a child process (`exe __worker BACKEND …`), with `scratch` as its
/// directory for the request, the response and loom's checkpoint.
pub fn run(exe: &Path, req: &Request, scratch: &Path) -> Result<Response> {
    std::fs::create_dir_all(scratch)?;
    let req_path = scratch.join("request.json");
    let resp_path = scratch.join("response.json");
    let _ = std::fs::remove_file(&resp_path);
    let mut req = req.clone();
    req.scratch_dir = Some(scratch.to_string_lossy().into_owned());
    std::fs::write(&req_path, serde_json::to_string(&req)?)?;
    let mut cmd = Command::new(exe);
    cmd.arg("__worker")
        .arg(req.strategy.backend())
        .arg(&req_path)
        .arg(&resp_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: the closure only calls setrlimit, which is async-signal-safe.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            let lim = rustix::process::Rlimit {
                current: Some(MEMORY_LIMIT_BYTES),
                maximum: Some(MEMORY_LIMIT_BYTES),
            };
            let _ = rustix::process::setrlimit(rustix::process::Resource::As, lim);
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {} __worker", exe.display()))?;
    let mut stderr = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Duration::from_secs_f64(req.time_limit_secs) + KILL_GRACE;
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break Some(st);
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(POLL);
    };
    let err_text = reader.join().unwrap_or_default();
    let tail: String = err_text
        .lines()
        .rev()
        .take(6)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    let written: Option<Response> = std::fs::read_to_string(&resp_path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok());
    match (status, written) {
        (Some(st), Some(resp)) if st.success() => Ok(resp),
        (Some(st), _) if st.code() == Some(2) => Ok(refused(format!(
            "the worker refused the request: {}",
            tail.trim()
        ))),
        (Some(st), Some(mut resp)) => {
            // Died after the panic hook wrote what it knew (loom aborts, double panics).
            use std::os::unix::process::ExitStatusExt;
            let how = st
                .signal()
                .map_or(format!("exit status {:?}", st.code()), |s| {
                    format!("signal {s}")
                });
            if let Some(f) = resp.failure.as_mut() {
                f.panic_message = format!("{} (the worker then died with {how})", f.panic_message);
            }
            if let Some(m) = resp.checker_error.as_mut() {
                *m = format!("{m} (the worker then died with {how})");
            }
            Ok(resp)
        }
        (Some(st), None) => Ok(crash(
            format!("the worker died ({st}) without a result: {}", tail.trim()),
            0,
        )),
        (None, written) => {
            let msg = format!(
                "time bound hit: the worker ran past {:.0} s and was killed",
                deadline.as_secs_f64()
            );
            match written {
                Some(mut resp) if resp.failure.is_some() || resp.checker_error.is_some() => {
                    if let Some(f) = resp.failure.as_mut() {
                        f.panic_message = format!("{} ({msg})", f.panic_message);
                    }
                    if let Some(m) = resp.checker_error.as_mut() {
                        *m = format!("{m} ({msg})");
                    }
                    Ok(resp)
                }
                _ => Ok(crash(msg, 0)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mountcheck_engine::Strategy;
    use mountcheck_model::{Config, Program};

    fn request() -> Request {
        Request {
            scenario: "t".into(),
            program: Program::default(),
            config: Config::default(),
            strategy: Strategy::Stress,
            max_executions: 1,
            seed: 1,
            time_limit_secs: 5.0,
            scratch_dir: None,
            resume_checkpoint: None,
            prior_order: None,
        }
    }

    /// A stand-in for the binary: a script that answers `__worker …` as told.
    fn fake_worker(dir: &Path, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join("fake-worker");
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn a_worker_that_refuses_the_request_is_a_checker_error_not_clean() {
        let tmp = tempfile::tempdir().unwrap();
        let exe = fake_worker(
            tmp.path(),
            "echo 'mountcheck worker (std): no such bound' >&2; exit 2",
        );
        let resp = run(&exe, &request(), &tmp.path().join("scratch")).unwrap();
        assert_eq!(resp.stop, Stop::CheckerError);
        assert!(resp.failure.is_none());
        let msg = resp.checker_error.unwrap();
        assert!(
            msg.contains("refused") && msg.contains("no such bound"),
            "{msg}"
        );
    }

    #[test]
    fn a_worker_that_dies_without_a_response_is_a_crash() {
        let tmp = tempfile::tempdir().unwrap();
        let exe = fake_worker(tmp.path(), "echo 'boom' >&2; kill -9 $$");
        let resp = run(&exe, &request(), &tmp.path().join("scratch")).unwrap();
        assert_eq!(resp.stop, Stop::Finding);
        let f = resp.failure.unwrap();
        assert_eq!(f.finding.class, FindingClass::Crash);
        assert_eq!(f.replay, ReplayToken::None);
    }
}
