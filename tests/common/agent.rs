//! The per-host agent seen from outside: its pid (from its lock, when it answers on its
//! socket), and `dig` from a podnet container's namespace.

use super::dns::{dig_at, Dug};
use super::{NETNS_DIR, RUN_DIR};
use podnet::testbed::Sandbox;
use std::time::Duration;

/// A podnet container's namespace, as the sandbox names it.
pub fn netns(name: &str) -> String {
    format!("{NETNS_DIR}/{name}")
}

/// `dig @server ARGS...` from container `from`.
pub fn dig_from(sb: &Sandbox, from: &str, server: &str, args: &[&str]) -> Dug {
    let mut all = vec![format!("@{server}")];
    all.extend(args.iter().map(|a| a.to_string()));
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    dig_at(sb, &netns(from), &refs)
}

/// The pid the agent's lock file names, if an agent answers on its socket.
pub fn agent_pid(sb: &Sandbox) -> Option<u32> {
    let out = sb.sh(&format!(
        "test -S {RUN_DIR}/agent.sock && cat {RUN_DIR}/agent.lock"
    ));
    out.status
        .success()
        .then(|| podnet::testbed::stdout(&out).trim().parse().ok())
        .flatten()
}

/// The agent's log (empty when it has none).
pub fn agent_log(sb: &Sandbox) -> String {
    podnet::testbed::stdout(&sb.sh(&format!(
        "cat {}/agent.log 2>/dev/null",
        podnet::testbed::SANDBOX_STATE_DIR
    )))
}

/// SIGKILL the agent `pid` and wait until it is gone (or a zombie: the sandbox's init
/// reaps it on its own time).
pub fn kill_agent(sb: &Sandbox, pid: u32) {
    sb.sh_ok(&format!("kill -9 {pid}")).unwrap();
    sb.wait_until("the agent gone", Duration::from_secs(10), || {
        let stat = sb.sh(&format!("cat /proc/{pid}/stat 2>/dev/null"));
        !stat.status.success() || podnet::testbed::stdout(&stat).contains(") Z ")
    })
    .unwrap();
}
