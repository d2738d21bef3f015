//! Test-only fault switch: `PODNET_FAULT=OP:K` makes the process SIGKILL itself right after
//! step K of operation OP (`attach` or `detach`), the most abrupt crash there is, so tests can
//! prove that `podnet gc` repairs a crash at every point.

use std::sync::OnceLock;

fn configured() -> &'static Option<(String, u32)> {
    static FAULT: OnceLock<Option<(String, u32)>> = OnceLock::new();
    FAULT.get_or_init(|| {
        let v = std::env::var("PODNET_FAULT").ok()?;
        let (op, k) = v.split_once(':')?;
        Some((op.to_string(), k.parse().ok()?))
    })
}

/// Mark that step `step` of `op` is done; dies here when the switch says so.
pub fn step(op: &str, step: u32) {
    if let Some((fop, k)) = configured() {
        if fop == op && *k == step {
            // SAFETY: kill(getpid(), SIGKILL) has no memory effects; it ends the process.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }
}
