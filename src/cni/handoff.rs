//! Handing a call to the agent: when the host's agent answers on its socket, ADD, DEL and
//! CHECK run there, on a store and sockets it keeps open, and this process only relays
//! stdin and the reply (docs/decisions/2026-12-02-cni-through-the-agent.md). The agent is
//! never required: no agent, an agent that refuses (another root, another namespace, an
//! older agent without this request), or one that dies mid-call, and the call runs here,
//! in-process, as it always could — every step is idempotent and crash-safe, so a call the
//! agent began and did not finish is finished here.

use super::ipam::Ipam;
use super::request::Call;
use super::{parse, Dirs, Env, Reply};
use crate::agent::client;
use crate::agent::wire::CniCall;
use std::time::Duration;

/// Set to `0` to keep every call in-process (benchmarks compare both paths).
pub const SWITCH: &str = "PODNET_CNI_AGENT";

/// How long a call waits for the agent before doing the work itself. An ADD takes
/// milliseconds; this bounds a wedged agent, never a busy one.
const PATIENCE: Duration = Duration::from_secs(30);

/// The agent's reply to this call, or `None` to run it in-process.
pub fn to_agent(env: &Env, stdin: &[u8], dirs: &Dirs) -> Option<Reply> {
    if std::env::var_os(SWITCH).is_some_and(|v| v == "0") || crate::fault::any_switch() {
        return None;
    }
    // Only the verbs the engine serves alone: a delegated IPAM plugin is exec'd with the
    // runtime's environment, which is this process's, not the agent's.
    let conf = match parse(env, stdin).ok()? {
        Call::Add(r) => r.conf,
        Call::Del(r) => r.conf,
        Call::Check(r) => r.conf,
        Call::Version(_) | Call::Status(_) | Call::Gc(_) => return None,
    };
    if !matches!(conf.ipam, Ipam::Podnet) {
        return None;
    }
    let (root, run_dir) = dirs.for_conf(&conf);
    let call = CniCall {
        build: crate::agent::wire::build(),
        env: env
            .vars()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        stdin: String::from_utf8(stdin.to_vec()).ok()?,
        root,
        run_dir,
    };
    let reply = client::cni(call, PATIENCE).ok()??;
    Some(Reply {
        stdout: reply.stdout.into_bytes(),
        code: reply.code,
    })
}
