//! `mountcheck conform` against the running kernel, scaled down: the bundled scenarios (and each
//! of their threads alone) and a few hundred random traces must agree with the model or differ
//! only as the era table explains, the scenarios' result assertions must hold on the kernel, and
//! the host's mount table must be the same before and after. It needs root to make private mount
//! namespaces; without it (or where `unshare` is refused) the test says why and does not run. CI
//! runs as root, so it runs there.

use std::process::Command;

fn workspace() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn model_agrees_with_the_kernel_on_a_few_hundred_traces() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED: conform needs root (CAP_SYS_ADMIN) for a private mount namespace; this test process is not root");
        return;
    }
    let host_before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mountcheck"))
        .current_dir(workspace())
        .args(["conform", "--traces", "300", "--seed", "7"])
        .output()
        .unwrap();
    let host_after = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}\n{stderr}");
    assert_eq!(
        host_before, host_after,
        "conform changed the host's mount table"
    );
    if out.status.code() == Some(2) && stderr.contains("private mount namespace") {
        eprintln!("SKIPPED: this machine refuses a private mount namespace");
        return;
    }
    assert_eq!(
        out.status.code(),
        Some(0),
        "unexplained differences between the model and the kernel"
    );
    assert!(stdout.contains("300 random: seed 7"), "{stdout}");
    assert!(stdout.contains(" 0 unexplained differences"), "{stdout}");
    assert!(stdout.contains("from scenarios"), "{stdout}");
    // The scenarios' result assertions were checked against the kernel's results.
    let held: usize = stdout
        .split(" result assertions of the scenarios held on the kernel")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of checked assertions: {stdout}"));
    assert!(held >= 50, "only {held} assertions checked: {stdout}");
}

#[test]
fn conform_refuses_to_run_without_privilege() {
    // Run as an unprivileged user when we are root (setuid to nobody in the child); otherwise we
    // already are unprivileged.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mountcheck"));
    cmd.current_dir(workspace())
        .args(["conform", "--traces", "1"]);
    if rustix::process::geteuid().is_root() {
        use std::os::unix::process::CommandExt;
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("needs root") || err.contains("private mount namespace"),
        "{err}"
    );
    assert!(err.contains("Nothing was run"), "{err}");
}
