//! Helpers for dual-stack tests through the CLI: the two-machine lab with IPv6 on its LAN,
//! and backend containers whose servers take both families.

use super::publish::run_servers_on;
use super::service::{TCP_TARGET, UDP_TARGET};
use super::*;
use podnet::testbed::{Lab, Sandbox};
use serde_json::Value;
use std::time::Duration;

/// The host's IPv6 address on the lab's LAN.
pub const HOST6: &str = "fd00:18::1";
/// The outside machine's IPv6 address on the lab's LAN.
pub const OUTSIDE6: &str = "fd00:18::2";

/// The lab with IPv6 on its LAN, once no address on it is tentative (DAD on the
/// link-local addresses otherwise loses the first packet to neighbour discovery).
pub fn lab6() -> Lab {
    let lab = lab();
    lab.host
        .sh_ok(&format!("ip -6 addr add {HOST6}/64 dev lan0 nodad"))
        .unwrap();
    lab.outside
        .sh_ok(&format!("ip -6 addr add {OUTSIDE6}/64 dev lan0 nodad"))
        .unwrap();
    for sb in [&lab.host, &lab.outside] {
        sb.wait_until("no tentative IPv6 address", Duration::from_secs(10), || {
            podnet::testbed::stdout(&sb.sh("ip -6 addr show tentative"))
                .trim()
                .is_empty()
        })
        .unwrap();
    }
    lab
}

/// [`super::service::backend`] whose servers (tcp 8080, udp 5353) are bound to `::`, so
/// they answer over both families.
pub fn backend6(sb: &Sandbox, name: &str, labels: &[&str], extra: &[&str]) -> Value {
    let mut args: Vec<&str> = vec![];
    for l in labels {
        args.extend(["-l", l]);
    }
    args.extend(extra);
    run_servers_on(
        sb,
        name,
        &args,
        &[("tcp", TCP_TARGET), ("udp", UDP_TARGET)],
        "::",
    )
}

/// The `ip6` of a `podnet inspect`, which must have one.
pub fn ip6_of(info: &Value) -> String {
    info["ip6"]
        .as_str()
        .unwrap_or_else(|| panic!("no ip6 in {info}"))
        .to_string()
}
