//! Shared by the nft kernel tests (included with `#[path]`): run a closure on
//! a fresh thread that has its own network namespace. The namespace goes away
//! with the thread, so nothing reaches the machine's own ruleset.

#![allow(dead_code)]

use std::process::Command;

fn netns_id(path: &str) -> std::path::PathBuf {
    std::fs::read_link(path).expect("reading a netns link")
}

/// Moves the calling thread (only) into a new network namespace. Call it on
/// a thread made for the purpose; threads it spawns inherit the namespace.
pub fn unshare_net() {
    let before = netns_id("/proc/thread-self/ns/net");
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
        .expect("unshare(CLONE_NEWNET) failed: the nft kernel tests need root");
    let after = netns_id("/proc/thread-self/ns/net");
    assert_ne!(before, after, "refusing to touch the machine's own netns");
    assert_ne!(after, netns_id("/proc/self/ns/net"));
}

/// Runs `f` in a new network namespace (on its own thread) and returns its result.
pub fn in_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        unshare_net();
        f()
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Runs a command in the calling thread's namespaces (a child process
/// inherits the namespaces of the thread that spawns it).
pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `nft list ruleset` of the calling thread's namespace.
pub fn nft_list() -> String {
    run("nft", &["list", "ruleset"])
}

pub fn have_nft() -> bool {
    Command::new("nft")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}
