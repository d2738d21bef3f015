//! Exit codes, and the one-line error reports behind them. The engine says what kind of
//! failure happened (`model::Error`); only here does a kind become a number.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | done |
//! | 1 | failed while doing the work (kernel, store, process); `podnet gc` repairs what is half-done |
//! | 2 | bad input: a wrong flag or argument, an unknown name, a conflict with what exists, no state at the root; nothing was changed |
//! | 3 | several names: some were done, the others failed (each failure is reported) |
//! | `run`, `exec` | the command's own status (128+N when killed by signal N) |
//! | 125 | `run`, `exec`: podnet failed before or around the command (bad input stays 2) |
//! | 126 | `run`, `exec`: the command exists but cannot be executed |
//! | 127 | `run`, `exec`: the command was not found |

use crate::model::{CommandCause, Error, Result};
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

pub const FAILED: i32 = 1;
pub const BAD_INPUT: i32 = 2;
pub const PARTIAL: i32 = 3;
pub const RUN_FAILED: i32 = 125;
pub const NOT_EXECUTABLE: i32 = 126;
pub const NOT_FOUND: i32 = 127;

/// The state root of this invocation, so that every report of a store error names its file.
static ROOT: OnceLock<PathBuf> = OnceLock::new();

pub fn set_root(root: PathBuf) {
    let _ = ROOT.set(root);
}

/// The exit code for a command that failed with `e` (`run` says whether it was `podnet run`,
/// whose small codes belong to the command it runs).
pub fn code(e: &Error, run: bool) -> i32 {
    match e.primary() {
        Error::Command {
            cause: CommandCause::NotFound,
            ..
        } if run => NOT_FOUND,
        Error::Command {
            cause: CommandCause::NotExecutable,
            ..
        } if run => NOT_EXECUTABLE,
        _ if e.is_bad_input() => BAD_INPUT,
        _ if run => RUN_FAILED,
        _ => FAILED,
    }
}

/// Print `e` as one line on stderr (a closed stderr is not worth dying over).
pub fn report(e: Error) {
    let e = match ROOT.get() {
        Some(root) => crate::engine::name_store_error(e, root),
        None => e,
    };
    let msg = e.render(&flag).replace('\n', " ");
    let _ = writeln!(std::io::stderr(), "podnet: {msg}");
}

/// The CLI's name for a field an error concerns (the engine names fields, not flags).
pub fn flag(field: &str) -> Option<String> {
    if let Some(hint) = crate::model::cli_hint_text(field) {
        return Some(hint.to_owned());
    }
    let f = match field {
        "name" => "--name",
        "network" => "--network",
        "netns" => "--netns",
        "ip" => "--ip",
        "ip6" => "--ip6",
        "ipv6" => "--ipv6",
        "publish" => "-p",
        "subnet" => "--subnet",
        "gateway" => "--gateway",
        "mtu" => "--mtu",
        "bridge" => "--bridge",
        "vip" => "--vip",
        "backend" => "--backend",
        "node_port" => "--node-port",
        "run_dir" => "--run-dir",
        "root" => "--root",
        "alias" => "--network-alias",
        "hostname" => "--hostname",
        "dns" => "--dns",
        "dns_search" => "--dns-search",
        "add_host" => "--add-host",
        "driver" => "--driver",
        "internal" => "--internal",
        "parent" => "--parent",
        "ip_range" => "--ip-range",
        "macvlan_mode" => "--mode",
        "host_access" => "--host-access",
        "remove_foreign" => "`podnet gc --remove-foreign`",
        _ => return None,
    };
    Some(f.to_string())
}

/// A note on stderr that is not an error.
pub fn note(msg: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr(), "podnet: {msg}");
}

/// Report the failures of a command over `total` names, each on its own line; the exit code
/// as [`each`] says.
pub fn several(total: usize, failed: Vec<Error>) -> i32 {
    let done = total.saturating_sub(failed.len());
    let all_bad_input = failed.iter().all(Error::is_bad_input);
    let none_failed = failed.is_empty();
    for e in failed {
        report(e);
    }
    match (done, none_failed) {
        (_, true) => 0,
        (0, _) if all_bad_input => BAD_INPUT,
        (0, _) => FAILED,
        _ => PARTIAL,
    }
}

/// Do `f` for every name and report every failure on its own line. The exit code tells the
/// truth about the whole: 0 all done; 3 some done and some not; when none was done, 2 if every
/// failure was bad input (so nothing changed), else 1.
pub fn each(names: &[String], mut f: impl FnMut(&str) -> Result<()>) -> i32 {
    let failed: Vec<Error> = names.iter().filter_map(|n| f(n).err()).collect();
    several(names.len(), failed)
}
