//! A container's own `/etc/resolv.conf` and `/etc/hosts` (issue 10), as text: what the
//! flags ask for (`--hostname`, `--dns`, `--dns-search`, `--add-host`), checked once here, and
//! the files' contents. Pure: the engine decides where they go and mounts them.

use super::field::{ADD_HOST, DNS, DNS_SEARCH, HOSTNAME};
use super::{validate_dns_name, Error, Result};
use std::net::IpAddr;

/// The kernel's limit on a host name (HOST_NAME_MAX).
const HOST_NAME_MAX: usize = 64;

/// What `run` was asked for a container's name and resolver files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EtcSpec {
    /// The container's UTS name; None: its container name.
    pub hostname: Option<String>,
    /// Name servers; empty: the network's (or the host's).
    pub dns: Vec<IpAddr>,
    /// Search domains; empty: the host's when the host's servers are used.
    pub dns_search: Vec<String>,
    /// Extra `/etc/hosts` lines (name, address).
    pub add_hosts: Vec<(String, IpAddr)>,
}

impl EtcSpec {
    /// Parse the four flags' values.
    pub fn parse(
        hostname: Option<&str>,
        dns: &[String],
        dns_search: &[String],
        add_hosts: &[String],
    ) -> Result<EtcSpec> {
        if let Some(h) = hostname {
            validate_dns_name(HOSTNAME, h)?;
            if h.len() > HOST_NAME_MAX {
                return Err(Error::input(format!(
                    "{HOSTNAME} '{h}' is {} characters long: use at most {HOST_NAME_MAX}",
                    h.len()
                )));
            }
        }
        let dns = dns
            .iter()
            .map(|d| {
                d.parse::<IpAddr>().map_err(|_| {
                    Error::input(format!(
                        "{DNS} '{d}' is not an IP address: give a name server's address, e.g. 9.9.9.9"
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        for d in dns_search {
            validate_dns_name(DNS_SEARCH, d)?;
        }
        let add_hosts = add_hosts
            .iter()
            .map(|h| parse_add_host(h))
            .collect::<Result<Vec<_>>>()?;
        Ok(EtcSpec {
            hostname: hostname.map(str::to_string),
            dns,
            dns_search: dns_search.to_vec(),
            add_hosts,
        })
    }

    /// Whether anything was asked (only containers with a namespace of their own take it).
    pub fn is_empty(&self) -> bool {
        *self == EtcSpec::default()
    }
}

/// `NAME:ADDR` (an IPv6 address may be bracketed: `NAME:[::1]`, as Docker takes it).
fn parse_add_host(s: &str) -> Result<(String, IpAddr)> {
    let bad = |why: &str| {
        Err(Error::input(format!(
            "{ADD_HOST} '{s}' {why}: write NAME:ADDRESS, e.g. gw.local:10.0.0.1"
        )))
    };
    let Some((name, addr)) = s.split_once(':') else {
        return bad("has no ':'");
    };
    validate_dns_name(ADD_HOST, name)?;
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    match addr.parse::<IpAddr>() {
        Ok(a) => Ok((name.to_string(), a)),
        Err(_) => bad("has no valid IP address after the ':'"),
    }
}

/// The host's resolv.conf as far as a container's copy needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostResolv {
    pub nameservers: Vec<IpAddr>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

impl HostResolv {
    pub fn parse(text: &str) -> HostResolv {
        let mut r = HostResolv::default();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    // `fe80::1%eth0`: a zone names a host interface, meaningless inside.
                    if let Some(a) = words.next().and_then(|w| w.parse().ok()) {
                        r.nameservers.push(a);
                    }
                }
                // The last `search` (or `domain`) wins, as in glibc.
                Some("search") | Some("domain") => r.search = words.map(str::to_string).collect(),
                Some("options") => r.options.extend(words.map(str::to_string)),
                _ => {}
            }
        }
        r
    }
}

/// Docker's fallback when the host has only loopback resolvers (a local stub a container
/// cannot reach).
const FALLBACK: [IpAddr; 2] = [
    IpAddr::V4(std::net::Ipv4Addr::new(8, 8, 8, 8)),
    IpAddr::V4(std::net::Ipv4Addr::new(8, 8, 4, 4)),
];

/// The container's resolv.conf: `--dns` when given; else `network_dns` (the name servers of
/// its first network, when that network has DNS: `Network::dns_servers`); else the host's name servers without
/// loopback ones (Docker's rule, with its fallback when none is left). Search domains:
/// `--dns-search`, else the host's; the host's options come along with its servers.
pub fn resolv_conf(spec: &EtcSpec, network_dns: &[IpAddr], host: &HostResolv) -> String {
    let (servers, from_host): (Vec<IpAddr>, bool) = match (spec.dns.is_empty(), network_dns) {
        (false, _) => (spec.dns.clone(), false),
        (true, [_, ..]) => (network_dns.to_vec(), false),
        (true, []) => {
            let usable: Vec<IpAddr> = host
                .nameservers
                .iter()
                .copied()
                .filter(|a| !a.is_loopback())
                .collect();
            match usable.is_empty() {
                true => (FALLBACK.to_vec(), true),
                false => (usable, true),
            }
        }
    };
    let mut out = String::from("# Generated by podnet for this container\n");
    for s in servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    let search = match spec.dns_search.is_empty() {
        true => &host.search,
        false => &spec.dns_search,
    };
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if from_host && !host.options.is_empty() {
        out.push_str(&format!("options {}\n", host.options.join(" ")));
    }
    out
}

/// The container's /etc/hosts: localhost, its own names on each of its addresses, then the
/// `--add-host` lines.
pub fn hosts(spec: &EtcSpec, name: &str, addrs: &[IpAddr]) -> String {
    let hostname = spec.hostname.as_deref().unwrap_or(name);
    let own = match hostname == name {
        true => name.to_string(),
        false => format!("{hostname} {name}"),
    };
    let mut out = String::from(
        "# Generated by podnet for this container\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    );
    for a in addrs {
        out.push_str(&format!("{a}\t{own}\n"));
    }
    for (n, a) in &spec.add_hosts {
        out.push_str(&format!("{a}\t{n}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dns: &[&str], search: &[&str], hosts: &[&str]) -> EtcSpec {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        EtcSpec::parse(Some("h1"), &v(dns), &v(search), &v(hosts)).unwrap()
    }

    #[test]
    fn bad_flags_are_input_errors() {
        let cases: [(Option<&str>, &str, &str, &str); 8] = [
            (Some("a b"), "", "", ""),
            (Some(""), "", "", ""),
            (None, "nine", "", ""),
            (None, "", "corp..x", ""),
            (None, "", "", "gw.local"),
            (None, "", "", "gw.local:10.0.0.300"),
            (None, "", "", "bad name:10.0.0.1"),
            (None, "", "", ":10.0.0.1"),
        ];
        for (h, d, s, a) in cases {
            let one = |x: &str| match x {
                "" => vec![],
                x => vec![x.to_string()],
            };
            let e = EtcSpec::parse(h, &one(d), &one(s), &one(a)).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{h:?} {d} {s} {a}: {e}");
        }
    }

    #[test]
    fn add_host_takes_bracketed_ipv6() {
        let s = spec(&[], &[], &["gw:[fd00::1]", "db:10.0.0.2"]);
        assert_eq!(s.add_hosts[0].1, "fd00::1".parse::<IpAddr>().unwrap());
        let text = hosts(&s, "web", &["10.81.0.2".parse().unwrap()]);
        assert_eq!(
            text,
            "# Generated by podnet for this container\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.81.0.2\th1 web\nfd00::1\tgw\n10.0.0.2\tdb\n"
        );
    }

    #[test]
    fn resolvers_in_docker_order() {
        let host = HostResolv::parse(
            "nameserver 127.0.0.53\nnameserver 192.0.2.53\nnameserver ::1\nsearch lan\noptions edns0 trust-ad\n",
        );
        assert_eq!(host.nameservers.len(), 3);
        let none = EtcSpec::default();
        assert_eq!(
            resolv_conf(&none, &[], &host),
            "# Generated by podnet for this container\nnameserver 192.0.2.53\nsearch lan\noptions edns0 trust-ad\n"
        );
        let gw: IpAddr = "10.81.0.1".parse().unwrap();
        assert_eq!(
            resolv_conf(&none, &[gw], &host),
            "# Generated by podnet for this container\nnameserver 10.81.0.1\nsearch lan\n"
        );
        let flags = spec(&["9.9.9.9", "2620:fe::fe"], &["corp"], &[]);
        assert_eq!(
            resolv_conf(&flags, &[gw], &host),
            "# Generated by podnet for this container\nnameserver 9.9.9.9\nnameserver 2620:fe::fe\nsearch corp\n"
        );
        let stub_only = HostResolv::parse("nameserver 127.0.0.53\n");
        assert!(resolv_conf(&none, &[], &stub_only).contains("nameserver 8.8.8.8\n"));
    }
}
