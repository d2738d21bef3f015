//! The dual-stack half of [`ThreadLab`]: IPv6 on the LAN, the bridges and the containers,
//! and IPv6-only servers beside the IPv4 ones.

use super::ThreadLab;

/// The LAN's IPv6 addresses ([`ThreadLab::with_ipv6`]).
pub const HOST_LAN6: &str = "2001:db8:50::1";
pub const OUT_LAN6: &str = "2001:db8:50::2";

impl ThreadLab {
    /// Dual-stack, as a host with two dual-stack podnet networks: `pn0` fd00:88::1/64 (c1
    /// ::2, c2 ::3), `pn1` fd00:89::1/64 (c3 ::2, c4 ::3), the LAN 2001:db8:50::/64; IPv6
    /// forwarding, br_netfilter for IPv6 as for IPv4, and `local ::1` on both bridges, as
    /// the engine sets them. Addresses skip DAD; each eth0 is re-upped so that its link-local
    /// address (EUI-64 of its MAC) is usable at once too.
    pub fn with_ipv6(self, br_netfilter: bool) -> ThreadLab {
        let mut host = vec![
            "sysctl -qw net.ipv6.conf.all.forwarding=1".to_string(),
            format!(
                "sysctl -qw net.bridge.bridge-nf-call-ip6tables={}",
                u8::from(br_netfilter)
            ),
        ];
        // A router solicits a neighbour for forwarded traffic from its link-local address
        // and sends nothing while that is tentative: re-up the host's links without DAD
        // (as podnet makes its bridges) so that their link-local addresses are usable now.
        // (Down drops IPv6 addresses: they are added after.)
        for dev in ["lan0", "pn0", "pn1"] {
            host.push(format!(
                "sysctl -qw net.ipv6.conf.{dev}.accept_dad=0 && ip link set {dev} down && ip link set {dev} up"
            ));
        }
        host.push(format!("ip addr add {HOST_LAN6}/64 dev lan0 nodad"));
        for (br, gw) in [("pn0", "fd00:88::1/64"), ("pn1", "fd00:89::1/64")] {
            host.push(format!("ip addr add {gw} dev {br} nodad"));
            host.push(format!(
                "ip -6 route append local ::1 dev {br} table local metric 1024"
            ));
        }
        self.sh("host", &host.join(" && "));
        for (c, addr, gw, gw4) in [
            ("c1", "fd00:88::2", "fd00:88::1", "10.88.0.1"),
            ("c2", "fd00:88::3", "fd00:88::1", "10.88.0.1"),
            ("c3", "fd00:89::2", "fd00:89::1", "10.89.0.1"),
            ("c4", "fd00:89::3", "fd00:89::1", "10.89.0.1"),
        ] {
            // Down and up again drops the IPv4 default route: put it back.
            self.sh(
                c,
                &format!(
                    "sysctl -qw net.ipv6.conf.eth0.accept_dad=0 && ip link set eth0 down \
                     && ip link set eth0 up && ip addr add {addr}/64 dev eth0 nodad \
                     && ip -6 route add default via {gw} && ip route replace default via {gw4}"
                ),
            );
        }
        self.sh(
            "out",
            &format!(
                "sysctl -qw net.ipv6.conf.lan.accept_dad=0 && ip link set lan down \
                 && ip link set lan up && ip addr add {OUT_LAN6}/64 dev lan nodad"
            ),
        );
        // A veth gets its link-local address when its carrier comes (linkwatch, later).
        for (ns, devs) in [
            ("host", &["lan0", "pn0", "pn1"][..]),
            ("out", &["lan"]),
            ("c1", &["eth0"]),
            ("c2", &["eth0"]),
            ("c3", &["eth0"]),
            ("c4", &["eth0"]),
        ] {
            for dev in devs {
                self.sh(ns, &link_local_ready(dev));
            }
        }
        self
    }
}

/// A shell loop that waits (up to 3 s) until `dev` has a link-local address that is not
/// tentative, and fails otherwise.
fn link_local_ready(dev: &str) -> String {
    format!(
        "for i in $(seq 100); do a=$(ip -6 addr show dev {dev} scope link); \
         case \"$a\" in *inet6*) case \"$a\" in *tentative*) ;; *) exit 0;; esac;; esac; \
         sleep 0.03; done; echo \"{dev}: no link-local address\" >&2; exit 1"
    )
}

/// A socket bound to `[::]:port` with IPV6_V6ONLY (std's `bind` cannot set it first), so
/// that an IPv6 server and an IPv4 one share a port, as separate programs would.
fn v6only_socket(kind: libc::c_int, port: u16) -> std::os::fd::OwnedFd {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: socket() has no memory effects; the fd is owned (and closed) by OwnedFd.
    let raw = unsafe { libc::socket(libc::AF_INET6, kind | libc::SOCK_CLOEXEC, 0) };
    assert!(raw >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: raw is a fresh descriptor owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let one: libc::c_int = 1;
    for opt in [
        (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY),
        (libc::SOL_SOCKET, libc::SO_REUSEADDR),
    ] {
        // SAFETY: a valid int option value and its size, living across the call.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                opt.0,
                opt.1,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
    }
    let addr = libc::sockaddr_in6 {
        sin6_family: libc::AF_INET6 as libc::sa_family_t,
        sin6_port: port.to_be(),
        sin6_flowinfo: 0,
        sin6_addr: libc::in6_addr { s6_addr: [0; 16] },
        sin6_scope_id: 0,
    };
    // SAFETY: addr is a valid sockaddr_in6 of the size given, living across the call.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_in6).cast(),
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "bind [::]:{port}: {}",
        std::io::Error::last_os_error()
    );
    fd
}

pub(super) fn tcp_listener(v6: bool, port: u16) -> std::net::TcpListener {
    if !v6 {
        return std::net::TcpListener::bind(("0.0.0.0", port)).expect("bind");
    }
    let fd = v6only_socket(libc::SOCK_STREAM, port);
    // SAFETY: listen() on a descriptor this function owns.
    assert_eq!(
        unsafe { libc::listen(std::os::fd::AsRawFd::as_raw_fd(&fd), 64) },
        0
    );
    std::net::TcpListener::from(fd)
}

pub(super) fn udp_socket(v6: bool, port: u16) -> std::net::UdpSocket {
    if !v6 {
        return std::net::UdpSocket::bind(("0.0.0.0", port)).expect("bind");
    }
    std::net::UdpSocket::from(v6only_socket(libc::SOCK_DGRAM, port))
}
