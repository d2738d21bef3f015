//! Fairness: per-client and total caps on work that waits (forwarded UDP queries, TCP
//! connections), so that one client cannot hold everything (CVE-2024-8418, where one TCP
//! client stopped aardvark-dns answering anyone). Answers from the table never wait and are
//! never capped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The caps. Defaults suit a host with hundreds of containers; tests lower them.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Forwarded UDP queries awaiting an upstream, per client address.
    pub udp_per_client: u32,
    /// ... and in all.
    pub udp_total: u32,
    /// Open TCP connections per client address.
    pub tcp_per_client: u32,
    /// ... and in all.
    pub tcp_total: u32,
    /// A TCP connection is closed when no complete query arrives for this long.
    pub tcp_idle: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            udp_per_client: 256,
            udp_total: 2048,
            tcp_per_client: 16,
            tcp_total: 256,
            tcp_idle: Duration::from_secs(10),
        }
    }
}

/// Counts holders per client; a [`Permit`] gives its place back when dropped.
pub struct Gate {
    per_client: u32,
    total: u32,
    held: Mutex<(u32, HashMap<IpAddr, u32>)>,
}

impl Gate {
    pub fn new(per_client: u32, total: u32) -> Arc<Gate> {
        Arc::new(Gate {
            per_client,
            total,
            held: Mutex::new((0, HashMap::new())),
        })
    }

    /// A place for `client`, or `None` when it (or everyone together) holds the maximum.
    pub fn enter(self: &Arc<Gate>, client: IpAddr) -> Option<Permit> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let (total, map) = &mut *held;
        let mine = map.entry(client).or_insert(0);
        if *mine >= self.per_client || *total >= self.total {
            if *mine == 0 {
                map.remove(&client);
            }
            return None;
        }
        *mine += 1;
        *total += 1;
        Some(Permit {
            gate: self.clone(),
            client,
        })
    }

    /// Places held by everyone.
    #[cfg(test)]
    pub fn held(&self) -> u32 {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).0
    }
}

/// One place in a [`Gate`].
pub struct Permit {
    gate: Arc<Gate>,
    client: IpAddr,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut held = self.gate.held.lock().unwrap_or_else(|p| p.into_inner());
        let (total, map) = &mut *held;
        *total -= 1;
        if let Some(n) = map.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_client_cannot_take_every_place() {
        let g = Gate::new(2, 3);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let p1 = g.enter(a).unwrap();
        let _p2 = g.enter(a).unwrap();
        assert!(g.enter(a).is_none(), "per-client cap");
        let _p3 = g.enter(b).unwrap();
        assert!(g.enter(b).is_none(), "total cap");
        drop(p1);
        assert!(g.enter(b).is_some(), "a dropped permit frees its place");
        assert_eq!(g.held(), 2);
    }
}
