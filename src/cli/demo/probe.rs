//! What the demo shows and proves: kernel state read over netlink, and real TCP exchanged
//! between namespaces (each socket opened on a thread that entered the right namespace).

use crate::kernel::{addr, link, netns, route, Rtnl};
use crate::model::{Error, Result};
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

/// `ip -br link; ip -4 -br addr; ip route` of a namespace (None: the sandbox's host).
pub fn describe(ns: Option<&Path>, indent: &str) -> Result<String> {
    let mut rtnl = match ns {
        Some(p) => netns::rtnl_in(&File::open(p)?)?,
        None => Rtnl::open()?,
    };
    let links = link::list(&mut rtnl)?;
    let addrs = addr::list(&mut rtnl)?;
    let name = |i: u32| {
        links
            .iter()
            .find(|l| l.index == i)
            .map(|l| l.name.clone())
            .unwrap_or_else(|| format!("#{i}"))
    };
    let mut out = String::new();
    for l in &links {
        let a: Vec<String> = addrs
            .iter()
            .filter(|a| a.0 == l.index)
            .map(|a| format!("{}/{}", a.1, a.2))
            .collect();
        let master = l
            .master
            .map(|m| format!(" master {}", name(m)))
            .unwrap_or_default();
        let kind = l
            .kind
            .as_deref()
            .map(|k| format!(" ({k})"))
            .unwrap_or_default();
        let state = if l.up { "UP" } else { "DOWN" };
        out += &format!(
            "{indent}link  {:<10}{kind:<9} {state:<4}{master} {}\n",
            l.name,
            a.join(" ")
        );
    }
    for r in route::list(&mut rtnl)? {
        let dst = if r.dst.prefix_len() == 0 {
            "default".to_string()
        } else {
            r.dst.to_string()
        };
        let via = r.gateway.map(|g| format!(" via {g}")).unwrap_or_default();
        let dev = r
            .oif
            .map(|i| format!(" dev {}", name(i)))
            .unwrap_or_default();
        out += &format!("{indent}route {dst}{via}{dev}\n");
    }
    Ok(out)
}

/// Run `f` on a thread inside namespace `ns` (None: stay in the sandbox's host namespace).
fn in_ns<T: Send + 'static>(
    ns: Option<&Path>,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> std::thread::JoinHandle<Result<T>> {
    let file = ns.map(File::open);
    std::thread::spawn(move || {
        let _inside = match file {
            Some(f) => Some(netns::enter(&f?)?),
            None => None,
        };
        f()
    })
}

/// A one-shot TCP server in `ns` on `ip:port` that answers `reply` to the first connection.
pub fn serve_once(
    ns: Option<&Path>,
    ip: Ipv4Addr,
    port: u16,
    reply: &'static str,
) -> Result<std::thread::JoinHandle<Result<String>>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = in_ns(ns, move || {
        let l = TcpListener::bind(SocketAddrV4::new(ip, port))?;
        let _ = tx.send(());
        let (mut s, peer) = l.accept()?;
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf)?;
        s.write_all(reply.as_bytes())?;
        Ok(format!(
            "{} (from {})",
            String::from_utf8_lossy(&buf[..n]),
            peer.ip()
        ))
    });
    rx.recv_timeout(Duration::from_secs(5))
        .map_err(|_| Error::failed("demo server did not start"))?;
    Ok(h)
}

/// Connect from `ns` to `ip:port`, send `msg`, return the answer.
pub fn ask(ns: Option<&Path>, ip: Ipv4Addr, port: u16, msg: &'static str) -> Result<String> {
    in_ns(ns, move || {
        let mut s =
            TcpStream::connect_timeout(&SocketAddrV4::new(ip, port).into(), Duration::from_secs(3))
                .map_err(|e| Error::failed(format!("connect to {ip}:{port}: {e}")))?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        s.write_all(msg.as_bytes())?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    })
    .join()
    .map_err(|_| Error::failed("demo client thread panicked"))?
}

/// Serve once in `server_ns`, ask from `client_ns`, return (what the server heard, the reply).
pub fn exchange(
    server_ns: Option<&Path>,
    client_ns: Option<&Path>,
    ip: Ipv4Addr,
    port: u16,
) -> Result<(String, String)> {
    let server = serve_once(server_ns, ip, port, "hello back")?;
    let reply = ask(client_ns, ip, port, "hello")?;
    let heard = server
        .join()
        .map_err(|_| Error::failed("demo server thread panicked"))??;
    Ok((heard, reply))
}
