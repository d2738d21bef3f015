//! Front end: podnet as a netavark plugin (plugin API 1.0.0; netavark ≥ 1.9, Podman 5). A
//! network with `driver: "podnet"` makes netavark run `<plugin dir>/podnet SUBCOMMAND [NETNS]`
//! with JSON on stdin: `info`, `create`, `setup NETNS`, `teardown NETNS`. Errors are
//! `{"error": "..."}` on stdout with exit status 1.
//!
//! [`parse`] makes one typed [`Call`] (the protocol only); [`reply`] builds the answers;
//! `wire` carries the calls out on podnet's engine. [`run`] is the whole plugin.

mod attach;
mod network;
mod reply;
mod request;
pub mod types;
mod wire;

#[cfg(test)]
mod tests;

pub use reply::{created, error, info, status_block, DnsBlock, Settled, API_VERSION, IPAM_DRIVER};
pub use request::{parse, spec, Call, CreateRequest, NetworkSpec, SetupRequest};

use std::io::{Read, Write};

/// What the plugin prints and its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub stdout: Vec<u8>,
    pub code: i32,
}

impl Reply {
    /// Success with `body` (teardown prints nothing).
    pub fn ok<T: serde::Serialize>(body: Option<&T>) -> Reply {
        let stdout = body
            .map(|b| {
                let mut v = serde_json::to_vec(b).unwrap_or_default();
                v.push(b'\n');
                v
            })
            .unwrap_or_default();
        Reply { stdout, code: 0 }
    }

    pub fn failed(msg: impl Into<String>) -> Reply {
        let mut stdout = serde_json::to_vec(&error(msg)).unwrap_or_default();
        stdout.push(b'\n');
        Reply { stdout, code: 1 }
    }
}

/// The plugin: `args` are the arguments after the program name.
pub fn run(args: &[String], stdin: &[u8]) -> Reply {
    match parse(args, stdin) {
        Err(msg) => Reply::failed(format!("podnet: {msg}")),
        Ok(Call::Info) => Reply::ok(Some(&info())),
        Ok(Call::Create(req)) => wire::create(&req),
        Ok(Call::Setup(req)) => attach::setup(&req),
        Ok(Call::Teardown(req)) => attach::teardown(&req),
    }
}

/// Entry point of the binary in netavark mode.
pub fn main(args: &[String]) -> i32 {
    let mut stdin = Vec::new();
    // info and no subcommand read nothing; the others need their JSON.
    let needs_input = matches!(
        args.first().map(String::as_str),
        Some("create" | "setup" | "teardown")
    );
    let reply = match needs_input.then(|| std::io::stdin().read_to_end(&mut stdin)) {
        Some(Err(e)) => Reply::failed(format!("podnet: reading stdin failed: {e}")),
        _ => run(args, &stdin),
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
