//! Process identity that survives PID reuse: (pid, start time in clock ticks since boot).

use std::fs;

pub type ProcId = (i32, u64);

/// Start time of `pid` (field 22 of /proc/PID/stat), and whether it is a zombie.
fn stat(pid: i32) -> Option<(u64, char)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some((start, state))
}

pub fn identity(pid: i32) -> Option<ProcId> {
    stat(pid).map(|(start, _)| (pid, start))
}

/// The calling process.
pub fn me() -> ProcId {
    identity(std::process::id() as i32).unwrap_or((std::process::id() as i32, 0))
}

/// Whether the process recorded as `id` still runs (same start time, not a zombie).
pub fn alive(id: ProcId) -> bool {
    matches!(stat(id.0), Some((start, state)) if start == id.1 && state != 'Z' && state != 'X')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn me_is_alive_and_a_wrong_start_time_is_not() {
        let m = me();
        assert!(alive(m));
        assert!(!alive((m.0, m.1 + 1)));
    }
}
