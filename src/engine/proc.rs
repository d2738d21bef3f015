//! Process identity that survives PID reuse: (pid, start time in clock ticks since boot).

use std::fs;

pub type ProcId = (i32, u64);

/// Start time of `pid` (field 22 of /proc/PID/stat), and whether it is a zombie.
fn stat(pid: i32) -> Option<(u64, char)> {
    // One read into a buffer that holds any stat line (52 numbers and a 16-byte name):
    // `read_to_string` took a statx and several reads (`podnet graph` asks this of every
    // container; ~25 ms at 1,000).
    use std::io::Read;
    let mut buf = [0u8; 4096];
    let n = fs::File::open(format!("/proc/{pid}/stat"))
        .and_then(|mut f| f.read(&mut buf))
        .ok()?;
    let s = std::str::from_utf8(buf.get(..n)?).ok()?;
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

/// The calling process (read once: every compare-and-set of this process uses the same value).
pub fn me() -> ProcId {
    static ME: std::sync::OnceLock<ProcId> = std::sync::OnceLock::new();
    *ME.get_or_init(|| {
        identity(std::process::id() as i32).unwrap_or((std::process::id() as i32, 0))
    })
}

/// Wait until `id` is gone, for at most `limit`; whether it is gone.
pub fn wait_gone(id: ProcId, limit: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while alive(id) {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    true
}

/// Whether the process recorded as `id` still runs (same start time, not a zombie).
pub fn alive(id: ProcId) -> bool {
    matches!(stat(id.0), Some((start, state)) if start == id.1 && state != 'Z' && state != 'X')
}

/// Processes whose network namespace is the one identified by (dev, inode): what still holds a
/// namespace alive after its recorded process is gone (e.g. one started by a podnet that
/// crashed before recording it, or one entered with `podnet exec`).
pub fn in_netns(id: (u64, u64)) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::metadata(format!("/proc/{pid}/ns/net")).is_ok_and(|m| (m.dev(), m.ino()) == id)
        })
        .collect()
}

/// Send `sig` to a recorded process if it is still the same process — to its whole process
/// group when it leads one. Returns whether it was alive.
pub fn signal(id: ProcId, sig: i32) -> bool {
    if !alive(id) {
        return false;
    }
    // SAFETY: getpgid/kill on a pid just verified (by start time) to be the process we started;
    // a negative pid signals the group that process leads.
    unsafe {
        if libc::getpgid(id.0) == id.0 {
            libc::kill(-id.0, sig);
        } else {
            libc::kill(id.0, sig);
        }
    }
    true
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
