//! Issue 7, item 13: output into a pipe whose reader is gone (`podnet ps | head -1`) ends
//! podnet quietly with status 0: no panic, nothing on stderr.

mod common;

use common::*;
use podnet::testbed::describe;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;

/// A pipe whose read end is already closed: the first write to the other end fails with EPIPE
/// (deterministically, unlike a `| head -1` that may read before podnet writes).
fn reader_gone() -> Stdio {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two fds we then own.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both fds are fresh and owned here; the read end is closed at once.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    Stdio::from(write)
}

#[test]
fn listings_into_a_closed_pipe_exit_quietly() {
    let sb = sandbox();
    podnet_ok(
        &sb,
        &["run", "-d", "--name", "a", "--", "sleep", "infinity"],
    );
    podnet_ok(
        &sb,
        &["service", "create", "s", "--port", "80", "--backend", "a"],
    );
    let cases: &[&[&str]] = &[
        &["ps"],
        &["ps", "--format", "json"],
        &["inspect", "a"],
        &["network", "ls"],
        &["network", "inspect", "podnet0", "--format", "json"],
        &["service", "ls"],
        &["ports", "a"],
        &["gc"],
        &["--help"],
        &["run", "-d", "--name", "b", "--", "sleep", "infinity"],
    ];
    for args in cases {
        let what = format!("podnet {} | (reader gone)", args.join(" "));
        let mut c = sb.podnet_cmd(*args);
        c.stdout(reader_gone());
        let out = output(c);
        assert_eq!(out.status.code(), Some(0), "{what}\n{}", describe(&out));
        assert!(
            out.stderr.is_empty(),
            "{what}: stderr not empty\n{}",
            describe(&out)
        );
    }
    // The run whose name went nowhere still did its work.
    assert_eq!(s(&inspect(&sb, "b"), "status"), "running");
}
