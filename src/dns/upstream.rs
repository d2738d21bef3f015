//! The upstream resolvers: the host's, from a resolv.conf file, re-read when it changes.
//!
//! When every nameserver there is a loopback stub (systemd-resolved's 127.0.0.53, or a local
//! dnsmasq), the real upstreams are read from the stub's own list, where systemd-resolved
//! documents them (`/run/systemd/resolve/resolv.conf`), so that containers do not depend
//! on a cache that answers in the host's name. If that file is missing the stub is used as
//! it is (the server runs in the host's namespace, so it can reach it).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// At most this many upstreams are used, as glibc's resolver does (MAXNS).
pub const MAX_UPSTREAMS: usize = 3;
/// How often the files' modification times are looked at.
const RECHECK: Duration = Duration::from_secs(1);

/// The `nameserver` addresses of a resolv.conf text, in order, without scoped IPv6
/// addresses (`fe80::1%eth0`: no interface to pin them to here).
pub fn parse(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            match (w.next(), w.next()) {
                (Some("nameserver"), Some(a)) => a.parse().ok(),
                _ => None,
            }
        })
        .collect()
}

/// The upstreams a server uses, given the host's resolv.conf and the stub's file.
pub fn choose(resolv: &[IpAddr], stub_file: Option<&[IpAddr]>, ours: &[IpAddr]) -> Vec<IpAddr> {
    let usable = |list: &[IpAddr]| -> Vec<IpAddr> {
        let mut out: Vec<IpAddr> = Vec::new();
        for a in list {
            if !ours.contains(a) && !a.is_unspecified() && !out.contains(a) {
                out.push(*a);
            }
        }
        out
    };
    let from_host = usable(resolv);
    let only_loopback = !from_host.is_empty() && from_host.iter().all(|a| a.is_loopback());
    let mut list = match stub_file.map(usable) {
        Some(real) if only_loopback && !real.is_empty() => real,
        _ => from_host,
    };
    list.truncate(MAX_UPSTREAMS);
    list
}

/// The resolver list, cached and refreshed when either file changes.
pub struct Upstreams {
    resolv_conf: PathBuf,
    stub_conf: PathBuf,
    port: u16,
    state: Mutex<State>,
}

struct State {
    checked: Option<Instant>,
    stamps: (Option<SystemTime>, Option<SystemTime>),
    list: Arc<Vec<SocketAddr>>,
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn read(p: &Path) -> Option<Vec<IpAddr>> {
    std::fs::read_to_string(p).ok().map(|t| parse(&t))
}

impl Upstreams {
    /// Upstreams from `resolv_conf` (falling back to `stub_conf` as described above), asked
    /// on `port`.
    pub fn new(resolv_conf: PathBuf, stub_conf: PathBuf, port: u16) -> Upstreams {
        Upstreams {
            resolv_conf,
            stub_conf,
            port,
            state: Mutex::new(State {
                checked: None,
                stamps: (None, None),
                list: Arc::new(Vec::new()),
            }),
        }
    }

    /// The current list (at most [`MAX_UPSTREAMS`]), never including `ours`.
    pub fn current(&self, ours: &dyn Fn(IpAddr) -> bool) -> Arc<Vec<SocketAddr>> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if s.checked.is_some_and(|c| now.duration_since(c) < RECHECK) {
            return s.list.clone();
        }
        s.checked = Some(now);
        let stamps = (mtime(&self.resolv_conf), mtime(&self.stub_conf));
        if stamps == s.stamps && !s.list.is_empty() {
            return s.list.clone();
        }
        s.stamps = stamps;
        let host = read(&self.resolv_conf).unwrap_or_default();
        let stub = read(&self.stub_conf);
        let mine: Vec<IpAddr> = host
            .iter()
            .chain(stub.iter().flatten())
            .copied()
            .filter(|a| ours(*a))
            .collect();
        let list = choose(&host, stub.as_deref(), &mine);
        s.list = Arc::new(
            list.into_iter()
                .map(|a| SocketAddr::new(a, self.port))
                .collect(),
        );
        s.list.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(v: &[&str]) -> Vec<IpAddr> {
        v.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn resolv_conf_parsing() {
        let text = "# comment\nsearch corp\nnameserver 192.0.2.1\nnameserver  2001:db8::1 \n\
                    nameserver fe80::1%eth0\nnameserver bogus\noptions timeout:2\nnameserver 192.0.2.2";
        assert_eq!(parse(text), ips(&["192.0.2.1", "2001:db8::1", "192.0.2.2"]));
    }

    /// (what, host's resolv.conf, stub's file, chosen)
    type Case = (&'static str, Vec<IpAddr>, Option<Vec<IpAddr>>, Vec<IpAddr>);

    #[test]
    fn choosing_upstreams() {
        let ours = ips(&["10.89.0.1"]);
        let cases: Vec<Case> = vec![
            ("plain", ips(&["192.0.2.1"]), None, ips(&["192.0.2.1"])),
            (
                "at most three",
                ips(&["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]),
                None,
                ips(&["192.0.2.1", "192.0.2.2", "192.0.2.3"]),
            ),
            (
                "resolved stub → its real upstreams",
                ips(&["127.0.0.53"]),
                Some(ips(&["192.0.2.9", "2001:db8::9"])),
                ips(&["192.0.2.9", "2001:db8::9"]),
            ),
            (
                "stub without its file",
                ips(&["127.0.0.53"]),
                None,
                ips(&["127.0.0.53"]),
            ),
            (
                "stub file ignored when the host lists real servers",
                ips(&["192.0.2.1", "127.0.0.53"]),
                Some(ips(&["192.0.2.9"])),
                ips(&["192.0.2.1", "127.0.0.53"]),
            ),
            (
                "never ourselves",
                ips(&["10.89.0.1", "192.0.2.1"]),
                None,
                ips(&["192.0.2.1"]),
            ),
            ("none", vec![], Some(ips(&["192.0.2.9"])), vec![]),
        ];
        for (what, host, stub, want) in cases {
            assert_eq!(choose(&host, stub.as_deref(), &ours), want, "{what}");
        }
    }
}
