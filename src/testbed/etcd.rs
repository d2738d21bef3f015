//! [`Etcd`]: a real etcd (Debian's etcd-server, 3.4) of 1 or 3 members inside a
//! [`Sandbox`], for the cluster tests. Members listen on the sandbox's loopback (or on
//! given addresses), keep their data in the sandbox's scratch tmpfs and die with it; one is
//! killed by its PID (inside the sandbox), never by name.

use super::{describe, Error, Result, Sandbox};
use std::time::{Duration, Instant};

/// etcd's own timing, shortened (heartbeat 50 ms, election 500 ms) so a cluster is healthy
/// and elects a new leader in well under a second.
const TUNING: [&str; 4] = ["--heartbeat-interval", "50", "--election-timeout", "500"];

struct Member {
    name: String,
    client: String,
    peer: String,
    /// PID inside the sandbox while running.
    pid: Option<u32>,
}

/// An etcd cluster running in a sandbox.
pub struct Etcd<'a> {
    sb: &'a Sandbox,
    members: Vec<Member>,
    dir: String,
}

impl<'a> Etcd<'a> {
    /// `n` members on the sandbox's loopback (client ports 2379, 12379, 22379 ...), healthy
    /// when this returns.
    pub fn start(sb: &'a Sandbox, n: usize) -> Result<Etcd<'a>> {
        let addrs: Vec<(String, String)> = (0..n)
            .map(|i| {
                let base = 2379 + 10000 * i;
                (
                    format!("http://127.0.0.1:{base}"),
                    format!("http://127.0.0.1:{}", base + 1),
                )
            })
            .collect();
        Self::start_with(sb, addrs)
    }

    /// One member per address (client port 2379, peer 2380 on each), healthy when this
    /// returns. The addresses must already be on the sandbox's links.
    pub fn start_on(sb: &'a Sandbox, addrs: &[&str]) -> Result<Etcd<'a>> {
        let urls = addrs
            .iter()
            .map(|a| (format!("http://{a}:2379"), format!("http://{a}:2380")))
            .collect();
        Self::start_with(sb, urls)
    }

    fn start_with(sb: &'a Sandbox, urls: Vec<(String, String)>) -> Result<Etcd<'a>> {
        let members = urls
            .into_iter()
            .enumerate()
            .map(|(i, (client, peer))| Member {
                name: format!("m{}", i + 1),
                client,
                peer,
                pid: None,
            })
            .collect();
        let mut e = Etcd {
            sb,
            members,
            dir: format!("{}/etcd", sb.scratch()),
        };
        e.start_all()?;
        Ok(e)
    }

    /// The client URLs, comma-separated (what `--etcd` takes).
    pub fn endpoints(&self) -> String {
        self.urls().join(",")
    }

    pub fn urls(&self) -> Vec<String> {
        self.members.iter().map(|m| m.client.clone()).collect()
    }

    /// PID (inside the sandbox) of member `i`, while it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.members[i].pid
    }

    fn initial_cluster(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Starts member `i` (with its old data when it ran before) without waiting.
    fn spawn(&mut self, i: usize) -> Result<()> {
        let cluster = self.initial_cluster();
        let m = &self.members[i];
        let data = format!("{}/{}", self.dir, m.name);
        let script = format!(
            "mkdir -p {data} && etcd --name {name} --data-dir {data} \
             --listen-client-urls {c} --advertise-client-urls {c} \
             --listen-peer-urls {p} --initial-advertise-peer-urls {p} \
             --initial-cluster {cluster} --initial-cluster-state new \
             --initial-cluster-token podnet-test {tuning} \
             --log-outputs {data}.log --logger zap >/dev/null 2>&1 & echo $!",
            name = m.name,
            c = m.client,
            p = m.peer,
            tuning = TUNING.join(" "),
        );
        let out = self.sb.sh_ok(&script)?;
        let pid = out
            .trim()
            .parse()
            .map_err(|_| Error::new("start etcd", format!("no PID in {out:?}")))?;
        self.members[i].pid = Some(pid);
        Ok(())
    }

    /// Starts every member not running and waits until the running ones are healthy.
    pub fn start_all(&mut self) -> Result<()> {
        for i in 0..self.members.len() {
            if self.members[i].pid.is_none() {
                self.spawn(i)?;
            }
        }
        self.wait_healthy()
    }

    /// Starts member `i` again and waits until it is healthy.
    pub fn start_member(&mut self, i: usize) -> Result<()> {
        if self.members[i].pid.is_none() {
            self.spawn(i)?;
        }
        self.wait_healthy()
    }

    /// SIGKILLs member `i` by its PID and waits until it is gone.
    pub fn kill(&mut self, i: usize) -> Result<()> {
        let Some(pid) = self.members[i].pid.take() else {
            return Ok(());
        };
        self.sb.sh_ok(&format!(
            "kill -9 {pid}; while kill -0 {pid} 2>/dev/null; do sleep 0.02; done"
        ))?;
        Ok(())
    }

    /// SIGKILLs every member.
    pub fn stop_all(&mut self) -> Result<()> {
        for i in 0..self.members.len() {
            self.kill(i)?;
        }
        Ok(())
    }

    /// Waits (up to 30 s) until every running member reports healthy (which needs a quorum).
    pub fn wait_healthy(&self) -> Result<()> {
        let live: Vec<&str> = self
            .members
            .iter()
            .filter(|m| m.pid.is_some())
            .map(|m| m.client.as_str())
            .collect();
        let eps = live.join(",");
        let start = Instant::now();
        loop {
            let out = self.etcdctl(&["--endpoints", &eps, "endpoint", "health"]);
            if out.status.success() {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(30) {
                return Err(Error::new("etcd healthy", describe(&out)));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `etcdctl ARGS` (API v3; the running members as endpoints unless ARGS give
    /// `--endpoints`: etcdctl 3.4 keeps retrying a dead first endpoint).
    pub fn etcdctl(&self, args: &[&str]) -> std::process::Output {
        let mut c = self.sb.cmd("etcdctl");
        c.env("ETCDCTL_API", "3");
        if !args.contains(&"--endpoints") {
            let live: Vec<&str> = self
                .members
                .iter()
                .filter(|m| m.pid.is_some())
                .map(|m| m.client.as_str())
                .collect();
            let eps = if live.is_empty() {
                self.endpoints()
            } else {
                live.join(",")
            };
            c.arg(format!("--endpoints={eps}"));
        }
        c.args(["--dial-timeout", "1s", "--command-timeout", "3s"]);
        c.args(args);
        c.output()
            .unwrap_or_else(|e| panic!("testbed: cannot run etcdctl: {e}"))
    }

    /// `etcdctl ARGS`; Ok(stdout) when it exits 0.
    pub fn etcdctl_ok(&self, args: &[&str]) -> Result<String> {
        let out = self.etcdctl(args);
        if out.status.success() {
            Ok(super::stdout(&out))
        } else {
            Err(Error::new(format!("etcdctl {args:?}"), describe(&out)))
        }
    }
}
