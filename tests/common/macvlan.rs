//! The macvlan LAN lab (issue 13): the outside machine is the LAN — a bridge `lan` holding its
//! address (the LAN's router, 198.18.0.2) with the host's uplink `lan0` (a veth from the
//! podnet host) on it. Containers on a macvlan network sit on `lan0` with their own MACs.

use super::*;
use podnet::testbed::Lab;

pub const LAN: &str = "198.18.0.0/24";
/// The outside machine: the LAN's router, the networks' gateway.
pub const ROUTER: &str = "198.18.0.2";
/// The host's own address on the LAN (on `lan0`, the parent).
pub const HOST: &str = "198.18.0.1";
pub const PARENT: &str = "lan0";

/// The two-machine lab with the outside's end of the uplink moved onto a LAN bridge.
pub fn lan_lab() -> Lab {
    let lab = lab();
    lab.outside
        .sh_ok(&format!(
            "ip addr flush dev lan0 && ip link add lan type bridge && ip link set lan0 master lan \
             && ip link set lan up && ip addr add {ROUTER}/24 dev lan"
        ))
        .unwrap();
    lab
}

/// `podnet network create NAME --driver macvlan --parent lan0 --subnet LAN --gateway ROUTER
/// --ip-range RANGE EXTRA...`.
pub fn create_lan(sb: &Sandbox, name: &str, range: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "--format",
        "json",
        "network",
        "create",
        name,
        "--driver",
        "macvlan",
        "--parent",
        PARENT,
        "--subnet",
        LAN,
        "--gateway",
        ROUTER,
        "--ip-range",
        range,
    ];
    args.extend_from_slice(extra);
    parse("network create", &podnet_ok(sb, &args))
}

/// TCP connect from inside container `name` (`podnet exec`); the reply line, or None when
/// no connection was made within `secs`.
pub fn tcp_from_container(
    sb: &Sandbox,
    name: &str,
    host: &str,
    port: u16,
    secs: &str,
) -> Option<String> {
    let mut args: Vec<String> = vec!["exec".into(), name.into(), "--".into()];
    args.extend(nettool_argv());
    args.extend(tcp_connect_args(host, port, secs, Some("1")));
    reply_if_ok(&sb.podnet(&args))
}

/// TCP connect from the sandbox's root namespace with a short deadline: the reply or None.
pub fn tcp_try(sb: &Sandbox, host: &str, port: u16, secs: &str) -> Option<String> {
    let mut c = nettool(sb);
    c.args(tcp_connect_args(host, port, secs, Some("1")));
    reply_if_ok(&output(c))
}
