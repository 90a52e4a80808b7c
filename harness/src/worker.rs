//! Building and running the exploration worker in child processes.
//!
//! The model's backend is fixed at compile time, so each backend has its own build of
//! `mountcheck-worker` (std; `--features shuttle`; `RUSTFLAGS="--cfg loom"`), each in its own
//! target directory, as cargo-fuzz does for sanitizer builds. Each exploration runs in a child
//! process with a wall-clock bound and an address-space bound (`setrlimit(RLIMIT_AS)`), so a loom
//! abort, a hang or a crash is a verdict, never a lost run.
//!
//! Invariant: [`run`] always returns a [`Response`]: what the worker wrote, or, when it died
//! without writing one, a `crash` finding naming the signal, the bound hit and stderr's tail.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use mountcheck_engine::{build, Failure, ReplayToken, Request, Response, Stop};
use mountcheck_model::oracle::{Finding, FindingClass};

/// The workspace root (where `Cargo.toml` and `scenarios/` live).
pub fn workspace_root() -> PathBuf {
    mountcheck_engine::build::workspace_root()
}

/// Address-space bound of a worker: generous, because loom and shuttle map a stack per model
/// thread, but finite, so a runaway exploration is a verdict instead of an OOM kill.
pub const MEMORY_LIMIT_BYTES: u64 = 8 << 30;
/// Grace beyond an exploration's own time bound before the child is killed.
pub const KILL_GRACE: Duration = Duration::from_secs(15);

/// Build (or find up to date) the worker for `backend` and return its path.
pub fn ensure_worker(backend: &str, quiet: bool) -> Result<PathBuf> {
    if let Ok(dir) = std::env::var("MOUNTCHECK_WORKER_DIR") {
        let p = PathBuf::from(dir).join(backend).join("mountcheck-worker");
        if p.exists() {
            return Ok(p);
        }
    }
    let root = workspace_root();
    let spec = build::worker_spec(backend);
    let exe = build::binary_path(&root, &spec);
    if !quiet && !exe.exists() {
        eprintln!(
            "mountcheck: building the {backend} worker (first run only) in {}",
            root.join("target").join(spec.target_dir).display()
        );
    }
    Ok(build::build_for_backend(&root, &spec)?)
}

fn crash(req_scenario: &str, msg: String, executions: u64) -> Response {
    let _ = req_scenario;
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
            },
            trace: Vec::new(),
            execution: executions,
            panic_message: msg,
            replay: ReplayToken::None,
        }),
        elapsed_secs: 0.0,
        checkpoint: None,
    }
}

/// Run one request in a child process with the worker at `worker`.
pub fn run(worker: &Path, req: &Request, scratch: &Path) -> Result<Response> {
    std::fs::create_dir_all(scratch)?;
    let req_path = scratch.join("request.json");
    let resp_path = scratch.join("response.json");
    let _ = std::fs::remove_file(&resp_path);
    let mut req = req.clone();
    req.scratch_dir = Some(scratch.to_string_lossy().into_owned());
    std::fs::write(&req_path, serde_json::to_string(&req)?)?;
    let mut cmd = Command::new(worker);
    cmd.arg(&req_path)
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
        .with_context(|| format!("cannot start {}", worker.display()))?;
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
        std::thread::sleep(Duration::from_millis(5));
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
        (Some(st), _) if st.code() == Some(2) => {
            bail!("the worker refused the request: {}", tail.trim())
        }
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
            Ok(resp)
        }
        (Some(st), None) => Ok(crash(
            &req.scenario,
            format!("the worker died ({st}) without a result: {}", tail.trim()),
            0,
        )),
        (None, written) => {
            let msg = format!(
                "time bound hit: the worker ran past {:.0} s and was killed",
                deadline.as_secs_f64()
            );
            match written {
                Some(mut resp) if resp.failure.is_some() => {
                    if let Some(f) = resp.failure.as_mut() {
                        f.panic_message = format!("{} ({msg})", f.panic_message);
                    }
                    Ok(resp)
                }
                _ => Ok(crash(&req.scenario, msg, 0)),
            }
        }
    }
}
