//! The set-up every multi-node test repeated, as [`Cluster`] methods: a cluster made and
//! joined (`cluster init`, every agent started and its cluster network made), server and
//! client containers on a node, TCP connections from a container, a node's own namespace
//! or the outside machine, and a node's rendering of the cluster's services.
//!
//! Kept apart from `cluster.rs` (the topology: namespaces, switch, etcd, agents by PID) so
//! that each file has one job; everything here is built on its public methods.

use super::{describe, nettool_path, python, stdout, Cluster, Error, Result, Sandbox};
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

/// The pod CIDR [`Cluster::joined`] initialises the cluster with.
pub const POD_CIDR: &str = "10.244.0.0/16";
/// Agents' arguments in tests: a 2 s lease, so a killed node goes quickly.
pub const AGENT_ARGS: &str = "--lease-ttl 2";
/// How long a join, or a change reaching every node, may take on a busy machine before the
/// set-up gives up (readiness only, never asserted).
pub const PATIENCE: Duration = Duration::from_secs(30);
/// What an agent logs once it has made its node's cluster network (`podnet0`).
const JOINED: &str = "cluster network podnet0 on";
/// The cluster tests' service: `web`, port 80 to the backends' 8080, backends labelled
/// `app=web` (podnet arguments; append more).
pub const WEB_SERVICE: [&str; 7] = [
    "service",
    "create",
    "web",
    "--port",
    "80:8080",
    "--selector",
    "app=web",
];

impl<'a> Cluster<'a> {
    /// `n` nodes in a cluster with pod CIDR [`POD_CIDR`], each agent started with
    /// [`AGENT_ARGS`] and joined (its cluster network made).
    pub fn joined(sb: &'a Sandbox, n: usize) -> Result<Cluster<'a>> {
        let mut c = Cluster::new(sb, n)?;
        c.init(&["--pod-cidr", POD_CIDR])?;
        for i in 0..n {
            c.join(i, AGENT_ARGS)?;
        }
        Ok(c)
    }

    /// Starts node `i`'s agent with `agent_args` and waits until it has made its cluster
    /// network (an error with its log if it exits or does not within [`PATIENCE`]).
    pub fn join(&mut self, i: usize, agent_args: &str) -> Result<()> {
        let before = self.joins(i);
        self.start_agent(i, agent_args)?;
        let name = self.node(i).name.clone();
        self.wait_until(
            &format!("{name} to make its cluster network"),
            PATIENCE,
            || self.joins(i) > before || !self.agent_alive(i),
        )
        .map_err(|e| Error::new(e.step, format!("{}\n{}", e.detail, self.log(i))))?;
        if !self.agent_alive(i) {
            return Err(Error::new(
                format!("{name}'s agent"),
                format!("exited:\n{}", self.log(i)),
            ));
        }
        Ok(())
    }

    /// How often node `i`'s agents (its log spans restarts) made the cluster network.
    pub fn joins(&self, i: usize) -> usize {
        self.log(i).matches(JOINED).count()
    }

    /// A detached TCP server container `name` on node `i` (`podnet run -d -l LABEL...`),
    /// answering every connection on `port` with `reply` (nettool's `{peer}`: the client's
    /// address), listening when this returns; returns its pod address.
    pub fn serve(
        &self,
        i: usize,
        name: &str,
        labels: &[&str],
        port: u16,
        reply: &str,
    ) -> Result<String> {
        let (py, tool, port) = (py(), tool(), port.to_string());
        let mut args = vec!["run", "-d", "--name", name];
        for l in labels {
            args.extend(["-l", l]);
        }
        // Containers share the sandbox's file system: the ready file shows here.
        let ready = format!("{}/ready-{}-{name}", self.sb.scratch(), self.node(i).name);
        args.extend([
            "--",
            &py,
            &tool,
            "serve",
            "tcp",
            &port,
            "--reply",
            reply,
            "--ready-file",
            &ready,
        ]);
        self.podnet_ok(i, &args)?;
        self.wait_until(&format!("{name} to listen"), PATIENCE, || {
            self.sb.sh(&format!("test -f {ready}")).status.success()
        })?;
        self.ip_of(i, name)
    }

    /// A detached container `name` on node `i` that only sleeps (a client to exec in).
    pub fn sleeper(&self, i: usize, name: &str) -> Result<String> {
        self.podnet_ok(i, &["run", "-d", "--name", name, "--", "sleep", "infinity"])?;
        self.ip_of(i, name)
    }

    /// Container `name`'s pod address (`podnet inspect` on node `i`).
    pub fn ip_of(&self, i: usize, name: &str) -> Result<String> {
        let text = self.podnet_ok(i, &["inspect", name, "--format", "json"])?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::new(format!("inspect {name}"), format!("{e}: {text}")))?;
        v["ip"]
            .as_str()
            .map(String::from)
            .ok_or_else(|| Error::new(format!("inspect {name}"), format!("no ip: {text}")))
    }

    /// `count` TCP connections from container `name` on node `i` to `host:port`; the reply
    /// of each. An error unless every one was answered (none refused or timed out, 3 s each).
    pub fn connect_from(
        &self,
        i: usize,
        name: &str,
        host: &str,
        port: u16,
        count: usize,
    ) -> Result<Vec<String>> {
        let mut c = self.cmd(i, self.sb.podnet_bin());
        c.args(["exec", name, "--", &py()]);
        connect(c, &format!("{name} on node {}", i + 1), host, port, count)
    }

    /// The same from node `i`'s own network namespace (a process of the node, not a pod).
    pub fn connect_on_node(
        &self,
        i: usize,
        host: &str,
        port: u16,
        count: usize,
    ) -> Result<Vec<String>> {
        let c = self.cmd(i, python());
        connect(c, &format!("node {}", i + 1), host, port, count)
    }

    /// The same from the outside machine.
    pub fn connect_outside(&self, host: &str, port: u16, count: usize) -> Result<Vec<String>> {
        connect(self.outside(python()), "outside", host, port, count)
    }

    /// The backend addresses node `i` renders for the cluster's services (the `eps` map of
    /// `ip podnet-csvc`; empty without the table).
    pub fn csvc_backends(&self, i: usize) -> BTreeSet<String> {
        let out = self.sh(i, EPS_JSON);
        eps_backends(&stdout(&out)).unwrap_or_default()
    }

    /// What every node has, for a failure message: links, routes, neighbours, FDB entries
    /// with a remote, the whole ruleset, and its agent's log.
    pub fn dump(&self) -> String {
        (0..self.nodes().len())
            .map(|k| {
                format!(
                    "--- node{} ---\n{}\n{}\n",
                    k + 1,
                    stdout(&self.sh(
                        k,
                        "ip -br link; ip route; ip neigh; bridge fdb show | grep dst; \
                         nft list ruleset"
                    )),
                    self.log(k)
                )
            })
            .collect()
    }

    /// Waits until every node in `nodes` renders exactly the backends `want`.
    pub fn wait_csvc_backends(&self, nodes: &[usize], want: &BTreeSet<String>) -> Result<()> {
        for &i in nodes {
            self.wait_until(
                &format!("node {} to render backends {want:?}", i + 1),
                PATIENCE,
                || self.csvc_backends(i) == *want,
            )
            .map_err(|e| {
                Error::new(
                    e.step,
                    format!("has {:?}\n{}", self.csvc_backends(i), self.log(i)),
                )
            })?;
        }
        Ok(())
    }
}

/// The command that lists the `eps` map of `ip podnet-csvc` as JSON (read by [`eps_backends`]).
pub const EPS_JSON: &str = "nft -j list map ip podnet-csvc eps";

/// The backend addresses in [`EPS_JSON`]'s output (the `eps` map's values), or None when it
/// is not nft's JSON (e.g. no such table).
pub fn eps_backends(nft_json: &str) -> Option<BTreeSet<String>> {
    let v: serde_json::Value = serde_json::from_str(nft_json).ok()?;
    let mut ips = BTreeSet::new();
    for item in v["nftables"].as_array()? {
        for e in item["map"]["elem"].as_array().into_iter().flatten() {
            // [key, {"concat": [ip, port]}]
            if let Some(ip) = e[1]["concat"][0].as_str() {
                ips.insert(ip.to_string());
            }
        }
    }
    Some(ips)
}

fn py() -> String {
    python().display().to_string()
}

fn tool() -> String {
    nettool_path().display().to_string()
}

/// Runs `nettool connect tcp HOST PORT --count N` with `cmd` (a python interpreter, however
/// entered); every reply, or an error unless there are exactly `count`.
fn connect(
    mut cmd: Command,
    from: &str,
    host: &str,
    port: u16,
    count: usize,
) -> Result<Vec<String>> {
    cmd.arg(tool()).args([
        "connect",
        "tcp",
        host,
        &port.to_string(),
        "--count",
        &count.to_string(),
        "--timeout",
        "3",
    ]);
    let what = format!("{from}: {count} connections to {host}:{port}");
    let out = cmd.output().map_err(|e| Error::new(&what, e))?;
    let got: Vec<String> = stdout(&out)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect();
    if !out.status.success() || got.len() != count {
        return Err(Error::new(what, describe(&out)));
    }
    Ok(got)
}
