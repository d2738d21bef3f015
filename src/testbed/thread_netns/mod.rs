//! Threads in network namespaces: for kernel tests that need a private netns but no
//! processes of their own, and for benchmark clients in a container's namespace.
//!
//! A network namespace belongs to a *thread*: [`in_netns`] runs a closure on a new thread
//! moved into a fresh namespace, which goes away with the thread, so nothing reaches the
//! machine's own ruleset. Threads and processes started from that thread inherit it. These
//! helpers panic on failure: they are for tests and benchmarks. A [`ThreadLab`] is a small
//! topology of such namespaces (host, LAN neighbour, four containers on two bridges); a
//! [`NodesLab`] is cluster nodes on one underlay, each with a pod bridge and pods.

mod lab;
mod lab6;
pub mod nodes;

pub use lab::{ThreadLab, HOST_LAN, OUT_LAN};
pub use lab6::{HOST_LAN6, OUT_LAN6};
pub use nodes::NodesLab;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

fn netns_id(path: &str) -> PathBuf {
    std::fs::read_link(path).expect("reading a netns link")
}

/// Moves the calling thread (only) into a new network namespace. Call it on a thread made
/// for the purpose; threads it spawns inherit the namespace.
pub fn unshare_net() {
    let before = netns_id("/proc/thread-self/ns/net");
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
        .expect("unshare(CLONE_NEWNET) failed: the kernel tests need root");
    let after = netns_id("/proc/thread-self/ns/net");
    assert_ne!(before, after, "refusing to touch the machine's own netns");
    assert_ne!(after, netns_id("/proc/self/ns/net"));
}

/// Runs `f` in a new network namespace (on its own thread) and returns its result.
pub fn in_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    joined(std::thread::spawn(move || {
        unshare_net();
        f()
    }))
}

/// Runs `f` on a new thread that has entered the existing network namespace at `ns` (e.g.
/// `/run/netns/client` inside a sandbox) and returns its result.
pub fn in_netns_at<T: Send + 'static>(ns: &Path, f: impl FnOnce() -> T + Send + 'static) -> T {
    let file = File::open(ns).unwrap_or_else(|e| panic!("open netns {}: {e}", ns.display()));
    joined(std::thread::spawn(move || {
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    }))
}

fn joined<T>(h: std::thread::JoinHandle<T>) -> T {
    h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Runs a command in the calling thread's namespaces (a child process inherits the
/// namespaces of the thread that spawns it); its stdout. Panics if it fails.
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
