//! [`Cluster`]: cluster nodes as network namespaces inside ONE [`Sandbox`], for the
//! multi-node tests of issue 11 (agents, CLI and containers as real processes).
//!
//! ```text
//!   sandbox netns: bridge sw0  198.18.0.1-3/24  (a 3-member etcd listens there)
//!        |-- node1 (netns /run/netns/node1, ul0 198.18.0.11/24, default via outside)
//!        |-- node2 ... nodeN (198.18.0.10+N)
//!        `-- outside (netns /run/netns/outside, ul0 198.18.0.254/24)
//! ```
//!
//! Each node has its own state root and run dir (`/run/nodes/NAME/{root,run}`): podnet puts
//! container namespaces under the run dir (`RUN/netns/NAME`), so two nodes' containers
//! never collide even with the same names. Commands run as a node enter only its network
//! namespace (`nsenter --net`), keeping the sandbox's mount and PID namespaces: namespace
//! mounts a node's podnet makes stay visible (and die with the sandbox), and agents are
//! killed by PID. Everything goes when the sandbox is dropped.

use super::{describe, Error, Etcd, Result, Sandbox};
use std::ffi::OsStr;
use std::process::{Command, Output};
use std::time::Duration;

/// The underlay's /24 (RFC 2544 benchmarking range, as [`super::Lab`]).
pub const UNDERLAY: &str = "198.18.0";
/// The underlay switch (a bridge in the sandbox's own namespace).
pub const SWITCH: &str = "sw0";
/// Each node's (and the outside machine's) underlay interface.
pub const UNDERLAY_IF: &str = "ul0";
/// The outside machine's underlay address.
pub const OUTSIDE_IP: &str = "198.18.0.254";

/// One node of a [`Cluster`].
#[derive(Debug, Clone)]
pub struct Node {
    /// `node1`, `node2` ...: the node's name, netns name and podnet `--node`.
    pub name: String,
    /// Its underlay address (`198.18.0.10+i`).
    pub ip: String,
    /// The agent's PID (inside the sandbox) while it runs.
    pub agent: Option<u32>,
}

impl Node {
    /// `/run/netns/NAME` (a path inside the sandbox).
    pub fn netns(&self) -> String {
        format!("/run/netns/{}", self.name)
    }

    /// The node's `PODNET_ROOT`.
    pub fn root(&self) -> String {
        format!("/run/nodes/{}/root", self.name)
    }

    /// The node's `PODNET_RUN_DIR` (its containers' namespaces live below it).
    pub fn run_dir(&self) -> String {
        format!("/run/nodes/{}/run", self.name)
    }

    /// Its agent's log (stdout and stderr, appended across restarts).
    pub fn log(&self) -> String {
        format!("/run/nodes/{}/agent.log", self.name)
    }
}

/// Nodes on an underlay switch with a 3-member etcd and an `outside` machine, in one
/// sandbox. See the [module docs](self).
pub struct Cluster<'a> {
    pub sb: &'a Sandbox,
    pub etcd: Etcd<'a>,
    nodes: Vec<Node>,
}

impl<'a> Cluster<'a> {
    /// `n` nodes (no agents yet), the switch, the outside machine and a healthy 3-member
    /// etcd on 198.18.0.1-3.
    pub fn new(sb: &'a Sandbox, n: usize) -> Result<Cluster<'a>> {
        sb.sh_ok(&format!(
            "ip link add {SWITCH} type bridge && ip link set {SWITCH} up && \
             ip addr add {UNDERLAY}.1/24 dev {SWITCH} && \
             ip addr add {UNDERLAY}.2/24 dev {SWITCH} && \
             ip addr add {UNDERLAY}.3/24 dev {SWITCH} && \
             mkdir -p /run/netns"
        ))?;
        plug(sb, "outside", OUTSIDE_IP, None)?;
        let etcd = Etcd::start_on(
            sb,
            &[
                &format!("{UNDERLAY}.1"),
                &format!("{UNDERLAY}.2"),
                &format!("{UNDERLAY}.3"),
            ],
        )?;
        let mut c = Cluster {
            sb,
            etcd,
            nodes: Vec::new(),
        };
        for _ in 0..n {
            c.add_node()?;
        }
        Ok(c)
    }

    /// Adds the next node (`node<N+1>` at 198.18.0.<11+N>) on the switch; returns its index.
    pub fn add_node(&mut self) -> Result<usize> {
        let i = self.nodes.len();
        if i >= 200 {
            return Err(Error::new("add node", "the underlay /24 holds 200 nodes"));
        }
        let node = Node {
            name: format!("node{}", i + 1),
            ip: format!("{UNDERLAY}.{}", 11 + i),
            agent: None,
        };
        plug(self.sb, &node.name, &node.ip, Some(OUTSIDE_IP))?;
        self.sb
            .sh_ok(&format!("mkdir -p {} {}", node.root(), node.run_dir()))?;
        self.nodes.push(node);
        Ok(i)
    }

    /// The nodes, in order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    /// A command running `program` in the outside machine's network namespace.
    pub fn outside(&self, program: impl AsRef<OsStr>) -> Command {
        self.sb.in_netns("/run/netns/outside", program)
    }

    /// A command running `program` as node `i`: in its network namespace, with its state
    /// root and run dir.
    pub fn cmd(&self, i: usize, program: impl AsRef<OsStr>) -> Command {
        let n = &self.nodes[i];
        let mut c = self.sb.in_netns(n.netns(), program);
        c.env("PODNET_ROOT", n.root())
            .env("PODNET_RUN_DIR", n.run_dir());
        c
    }

    /// `sh -c SCRIPT` as node `i`.
    pub fn sh(&self, i: usize, script: &str) -> Output {
        let mut c = self.cmd(i, "sh");
        c.arg("-c").arg(script);
        run(c)
    }

    /// `sh -c SCRIPT` as node `i`; Ok(stdout) when it exits 0.
    pub fn sh_ok(&self, i: usize, script: &str) -> Result<String> {
        checked(
            &format!("{}: sh -c {script:?}", self.nodes[i].name),
            self.sh(i, script),
        )
    }

    /// `podnet ARGS` as node `i`.
    pub fn podnet<I, S>(&self, i: usize, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = self.cmd(i, self.sb.podnet_bin());
        c.args(args);
        run(c)
    }

    /// `podnet ARGS` as node `i`; Ok(stdout) when it exits 0.
    pub fn podnet_ok(&self, i: usize, args: &[&str]) -> Result<String> {
        let what = format!("{}: podnet {args:?}", self.nodes[i].name);
        checked(&what, self.podnet(i, args))
    }

    /// `podnet cluster init --etcd ENDPOINTS ARGS` (as node 1; any node may do it).
    pub fn init(&self, args: &[&str]) -> Result<String> {
        let eps = self.etcd.endpoints();
        let mut all = vec!["cluster", "init", "--etcd", eps.as_str()];
        all.extend_from_slice(args);
        self.podnet_ok(0, &all)
    }

    /// Starts node `i`'s agent in the background (`podnet agent --foreground --etcd ...
    /// --node NAME --underlay ul0 EXTRA`), its output appended to [`Node::log`]; returns
    /// its PID (inside the sandbox) without waiting for the join.
    pub fn start_agent(&mut self, i: usize, extra: &str) -> Result<u32> {
        let n = &self.nodes[i];
        let script = format!(
            "PODNET_ROOT={r} PODNET_RUN_DIR={d} nsenter --net={ns} -- {bin} agent --foreground \
             --etcd {eps} --node {name} --underlay {UNDERLAY_IF} {extra} >>{log} 2>&1 & echo $!",
            r = n.root(),
            d = n.run_dir(),
            ns = n.netns(),
            bin = self.sb.podnet_bin().display(),
            eps = self.etcd.endpoints(),
            name = n.name,
            log = n.log(),
        );
        let out = self.sb.sh_ok(&script)?;
        let pid: u32 = out
            .trim()
            .parse()
            .map_err(|_| Error::new("start agent", format!("no PID in {out:?}")))?;
        self.nodes[i].agent = Some(pid);
        Ok(pid)
    }

    /// Whether node `i`'s agent still runs (a zombie counts as gone).
    pub fn agent_alive(&self, i: usize) -> bool {
        let Some(pid) = self.nodes[i].agent else {
            return false;
        };
        self.sb
            .sh(&format!(
                "test -d /proc/{pid} && ! grep -q '^State:.*Z' /proc/{pid}/status"
            ))
            .status
            .success()
    }

    /// SIGKILLs node `i`'s agent by its PID and waits until it is gone.
    pub fn kill_agent(&mut self, i: usize) -> Result<()> {
        let Some(pid) = self.nodes[i].agent.take() else {
            return Ok(());
        };
        self.sb.sh_ok(&format!(
            "kill -9 {pid}; while kill -0 {pid} 2>/dev/null && ! grep -q '^State:.*Z' /proc/{pid}/status; do sleep 0.02; done"
        ))?;
        Ok(())
    }

    /// Node `i`'s agent log.
    pub fn log(&self, i: usize) -> String {
        super::stdout(
            &self
                .sb
                .sh(&format!("cat {} 2>/dev/null", self.nodes[i].log())),
        )
    }

    /// Polls `check` until true (readiness only, never an assertion on time).
    pub fn wait_until(
        &self,
        what: &str,
        limit: Duration,
        check: impl FnMut() -> bool,
    ) -> Result<()> {
        self.sb.wait_until(what, limit, check)
    }
}

// --- A node's reboot (hostile tests) ------------------------------------------------

impl Cluster<'_> {
    /// Node `i` reboots: its agent and every process in its network namespace or its
    /// containers' die, its kernel state (the node's namespace, the container namespaces
    /// and every link, table and route in them) and its run dir go, while its state root
    /// (the store, `cluster.json`: `/var/lib` on a real machine) stays. It comes back on the
    /// same underlay address, with no agent.
    pub fn reboot_node(&mut self, i: usize) -> Result<()> {
        self.kill_agent(i)?;
        let n = self.nodes[i].clone();
        // The machine's NIC keeps its MAC across a reboot (peers' ARP caches stay right).
        let mac = self.sb.sh_ok(&format!(
            "ip -n {} -o link show {UNDERLAY_IF} | sed 's/.*link\\/ether \\([^ ]*\\).*/\\1/'",
            n.name
        ))?;
        // Every process whose network namespace is the node's or one of its containers'.
        self.sb.sh_ok(&format!(
            "for ns in {ns} {run}/netns/*; do \
               [ -e \"$ns\" ] || continue; ino=$(stat -L -c %i \"$ns\"); \
               for p in /proc/[0-9]*; do \
                 [ \"$(stat -L -c %i $p/ns/net 2>/dev/null)\" = \"$ino\" ] && kill -9 ${{p#/proc/}} 2>/dev/null; \
               done; \
             done; true",
            ns = n.netns(),
            run = n.run_dir(),
        ))?;
        // /run is a tmpfs: the namespace mounts and everything else in it go.
        self.sb.sh_ok(&format!(
            "for f in {run}/netns/*; do umount \"$f\" 2>/dev/null; done; \
             rm -rf {run} && mkdir -p {run} && ip netns del {name}",
            run = n.run_dir(),
            name = n.name,
        ))?;
        // The kernel destroys the namespace (and the switch's end of its cable) once the
        // last reference is gone.
        let port = format!("sw-{}", n.name);
        self.sb.wait_until(
            &format!("{} gone from the switch", n.name),
            Duration::from_secs(10),
            || !self.sb.sh(&format!("ip link show {port}")).status.success(),
        )?;
        plug(self.sb, &n.name, &n.ip, Some(OUTSIDE_IP))?;
        self.sb.sh_ok(&format!(
            "ip -n {} link set {UNDERLAY_IF} address {}",
            n.name,
            mac.trim()
        ))?;
        Ok(())
    }
}

/// A network namespace `name` in the sandbox with `ul0` on the switch at `ip`/24 (and a
/// default route via `gw`).
fn plug(sb: &Sandbox, name: &str, ip: &str, gw: Option<&str>) -> Result<()> {
    let port = format!("sw-{name}");
    let route = gw.map_or(String::new(), |g| {
        format!(" && ip -n {name} route add default via {g}")
    });
    sb.sh_ok(&format!(
        "ip netns add {name} && \
         ip link add {port} type veth peer name {UNDERLAY_IF} netns {name} && \
         ip link set {port} master {SWITCH} up && \
         ip -n {name} link set lo up && \
         ip -n {name} addr add {ip}/24 dev {UNDERLAY_IF} && \
         ip -n {name} link set {UNDERLAY_IF} up{route}"
    ))?;
    Ok(())
}

fn run(mut c: Command) -> Output {
    c.output()
        .unwrap_or_else(|e| panic!("testbed: cannot run {c:?}: {e}"))
}

fn checked(what: &str, out: Output) -> Result<String> {
    if out.status.success() {
        Ok(super::stdout(&out))
    } else {
        Err(Error::new(what, describe(&out)))
    }
}
