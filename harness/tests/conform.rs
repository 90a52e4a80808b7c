//! `mountcheck conform` against the running kernel, scaled down: a few hundred random traces and
//! the bundled scenarios must agree with the model or differ only as the era table explains. It
//! needs root to make a private mount namespace; without it the test says why and does not run
//! (CI runs as root, so it runs there).

use std::process::Command;

#[test]
fn model_agrees_with_the_kernel_on_a_few_hundred_traces() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED: conform needs root (CAP_SYS_ADMIN) for a private mount namespace; this test process is not root");
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let out = Command::new(env!("CARGO_BIN_EXE_mountcheck")).current_dir(&root).args(["conform", "--traces", "300", "--seed", "7"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    if out.status.code() == Some(2) && String::from_utf8_lossy(&out.stderr).contains("private mount namespace") {
        eprintln!("SKIPPED: this machine refuses a private mount namespace");
        return;
    }
    assert_eq!(out.status.code(), Some(0), "unexplained differences between the model and the kernel");
    assert!(stdout.contains("329 traces"), "{stdout}");
    assert!(stdout.contains("0 unexplained differences"), "{stdout}");
}

#[test]
fn conform_refuses_to_run_without_privilege() {
    // Run as an unprivileged user when we are root (setuid to nobody in the child); otherwise we
    // already are unprivileged.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mountcheck"));
    cmd.args(["conform", "--traces", "1"]);
    if rustix::process::geteuid().is_root() {
        use std::os::unix::process::CommandExt;
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs root") || err.contains("private mount namespace"), "{err}");
}
