//! Test-only fault switches, read from the environment once per process:
//!
//! - `PODNET_FAULT=OP:K` makes the process SIGKILL itself right after step K of operation OP
//!   (`attach`, `detach`, `run`, `gc`, `boot`), the most abrupt crash there is, so tests can
//!   prove that `podnet gc` repairs a crash at every point.
//! - `PODNET_HOLD=OP:K@FILE` makes the process stop right after step K of OP: it creates FILE,
//!   then waits until FILE is removed. A test uses it to interleave two podnet processes at an
//!   exact point (a race made deterministic), never to time anything.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

fn parse_step(v: &str) -> Option<(String, u32)> {
    let (op, k) = v.split_once(':')?;
    Some((op.to_string(), k.parse().ok()?))
}

fn crash_at() -> &'static Option<(String, u32)> {
    static FAULT: OnceLock<Option<(String, u32)>> = OnceLock::new();
    FAULT.get_or_init(|| parse_step(&std::env::var("PODNET_FAULT").ok()?))
}

fn hold_at() -> &'static Option<((String, u32), PathBuf)> {
    static HOLD: OnceLock<Option<((String, u32), PathBuf)>> = OnceLock::new();
    HOLD.get_or_init(|| {
        let v = std::env::var("PODNET_HOLD").ok()?;
        let (step, file) = v.split_once('@')?;
        Some((parse_step(step)?, PathBuf::from(file)))
    })
}

/// Mark that step `step` of `op` is done; dies or waits here when a switch says so.
pub fn step(op: &str, step: u32) {
    if let Some((fop, k)) = crash_at() {
        if fop == op && *k == step {
            // SAFETY: kill(getpid(), SIGKILL) has no memory effects; it ends the process.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }
    if let Some(((hop, k), file)) = hold_at() {
        if hop == op && *k == step && std::fs::write(file, b"held\n").is_ok() {
            while file.exists() {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// Whether a switch is set: work that must crash or stop at a step stays in this process
/// (the CNI plugin does not hand such a call to the agent).
pub fn any_switch() -> bool {
    crash_at().is_some() || hold_at().is_some()
}
