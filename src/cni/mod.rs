//! Front end: podnet as a CNI plugin (spec 0.1.0 to 1.1.0; containerd/Kubernetes, Podman 4,
//! libcni). The runtime execs the binary with CNI_* variables and the network configuration
//! on stdin; podnet answers on stdout and with its exit code.
//!
//! This layer is the protocol only, pure and tested without a kernel: [`parse`] turns the
//! environment and stdin into one typed [`Call`] (or a [`Refusal`] with the spec's code);
//! [`result::add_result`] and [`result::render`] make ADD's answer in the request's version;
//! [`CniError`] maps podnet's errors. [`run`] is the whole plugin: `wire` serves each verb
//! through `engine::runtime`.

mod args;
mod conf;
mod delegated;
mod env;
mod error;
mod handoff;
mod ipam;
mod ipam_plugin;
mod request;
pub mod result;
mod runtime;
mod version;
mod wire;

#[cfg(test)]
mod tests;

pub use args::{CniArgs, PodRef};
pub use conf::{Attachment, NetConf, NetworkParams};
pub use env::{ifname_problem, Command, Env};
pub use error::{code, CniError};
pub use ipam::Ipam;
pub use request::{
    parse, AddRequest, Call, CheckRequest, DelRequest, GcRequest, Refusal, StatusRequest,
};
pub use result::CniResult;
pub use runtime::{RequestedIp, Requests};
pub use version::{Version, SUPPORTED};
pub use wire::Dirs;

use crate::engine::contexts::Contexts;
use std::io::{IsTerminal, Read, Write};

/// What the plugin prints and its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub stdout: Vec<u8>,
    pub code: i32,
}

impl Reply {
    /// Success: `body` (none for DEL, CHECK, GC and STATUS).
    pub fn ok(body: Option<&serde_json::Value>) -> Reply {
        Reply {
            stdout: body.map(line).unwrap_or_default(),
            code: 0,
        }
    }

    /// Failure: the error JSON, exit 1 (as libcni's skel exits).
    pub fn refused(r: &Refusal) -> Reply {
        Reply {
            stdout: line(&r.to_json()),
            code: 1,
        }
    }
}

fn line(v: &serde_json::Value) -> Vec<u8> {
    let mut s = serde_json::to_vec(v).unwrap_or_default();
    s.push(b'\n');
    s
}

/// The plugin: one call in, one reply out. `dirs`: podnet's directories when the
/// configuration names none.
pub fn run(env: &Env, stdin: &[u8], dirs: &Dirs) -> Reply {
    run_with(env, stdin, dirs, &mut Contexts::fresh())
}

/// [`run`] with the engine's contexts from `ctxs` (the agent keeps them open).
pub fn run_with(env: &Env, stdin: &[u8], dirs: &Dirs, ctxs: &mut Contexts) -> Reply {
    match parse(env, stdin) {
        Ok(call) => wire::serve(call, env, dirs, ctxs),
        Err(r) => Reply::refused(&r),
    }
}

/// Entry point of the binary in CNI mode: reads the process's environment and stdin, prints
/// the reply, returns the exit code.
pub fn main() -> i32 {
    let env = Env::from_process();
    let mut stdin = Vec::new();
    // VERSION needs no input; a terminal on stdin would only make it wait.
    let interactive = std::io::stdin().is_terminal();
    let read = if interactive && env.get("CNI_COMMAND") == Some("VERSION") {
        Ok(0)
    } else {
        std::io::stdin().read_to_end(&mut stdin)
    };
    let dirs = Dirs::from_process();
    let reply = match read {
        Ok(_) => handoff::to_agent(&env, &stdin, &dirs).unwrap_or_else(|| run(&env, &stdin, &dirs)),
        Err(e) => Reply::refused(&Refusal {
            version: Version::LATEST,
            error: CniError::new(
                code::IO,
                "cannot read stdin",
                format!("reading the network configuration from stdin failed: {e}"),
            ),
        }),
    };
    let mut out = std::io::stdout().lock();
    if out
        .write_all(&reply.stdout)
        .and_then(|_| out.flush())
        .is_err()
    {
        return 1;
    }
    reply.code
}
