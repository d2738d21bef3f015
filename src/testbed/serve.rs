//! [`Sandbox::serve`]: a nettool server inside a sandbox, ready when the call returns.

use super::{python, Error, Result, Sandbox};
use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};

static SERVER_SEQ: AtomicU64 = AtomicU64::new(0);

impl Sandbox {
    /// Starts `nettool serve PROTO PORT --bind BIND --reply REPLY` inside the sandbox, in
    /// the network namespace `netns` (a path inside the sandbox) or the sandbox's own when
    /// `None`, and returns once the socket is bound (the tool prints `listening`).
    pub fn serve(
        &self,
        netns: Option<&str>,
        proto: &str,
        bind: &str,
        port: u16,
        reply: &str,
    ) -> Result<()> {
        let mut cmd = match netns {
            Some(ns) => self.in_netns(ns, python()),
            None => self.cmd(python()),
        };
        cmd.arg(super::nettool_path())
            .args([
                "serve",
                proto,
                &port.to_string(),
                "--bind",
                bind,
                "--reply",
                reply,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| Error::new("spawn nettool", e))?;
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        if !line.starts_with("listening") {
            let _ = child.kill();
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            let _ = child.wait();
            let n = SERVER_SEQ.fetch_add(1, Ordering::Relaxed);
            return Err(Error::new(
                format!("nettool server #{n} {proto}/{bind}:{port}"),
                format!("did not start: {line}{err}"),
            ));
        }
        drop(child.stderr.take());
        let stdout = stdout.into_inner();
        self.background.lock().unwrap().push((child, Some(stdout)));
        Ok(())
    }

    /// Makes a link `ifname` (up, carrier on) holding `cidr`, so the sandbox's routing
    /// table has a connected route for that range, like a host on a LAN. This kernel may
    /// lack the `dummy` driver, so it is a veth pair (`ifname` and `ifname` + "p", both
    /// up); `ifname` must be at most 14 bytes.
    pub fn add_stub_link(&self, ifname: &str, cidr: &str) -> Result<()> {
        self.sh_ok(&format!(
            "ip link add {i} type veth peer name {i}p && ip link set {i}p up && \
             ip link set {i} up && ip addr add {cidr} dev {i}",
            i = ifname
        ))
        .map(|_| ())
    }
}
