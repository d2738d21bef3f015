//! The client harness (issue 8): each real client a network plugin will face, driven in a
//! client sandbox against the CNI reference plugins (or, for netavark, a small plugin of
//! our own), with real traffic between two containers. These prove the test bed's
//! `testbed::clients` helpers; podnet's own plugin is tested with the same helpers.
//!
//! One module per client; the shared helpers are here.

#[path = "../common/mod.rs"]
mod common;

mod client_sandbox;
mod containerd_cri;
mod libcni;
mod netavark_plugin;
mod podman_cni;

use common::clients::*;
use common::*;
use podnet::testbed::clients::{
    self, cnitool, cri, cri_ok, link_reference_plugins, netavark, podman_ip, podman_ok,
    setup_podman, start_containerd, CniTool, ContainerdCni, PodmanCni, BUSYBOX,
};
use podnet::testbed::{self, Sandbox};
use serde_json::Value;

/// A CNI plugin of our own: appends one line per call (`CMD id=.. netns=.. args=..
/// path=..`) to `<its dir>/cni-log.log` and delegates to the reference bridge plugin. It
/// shows which calls a runtime makes and that it runs a plugin from the directory we gave.
const CNI_LOG_PLUGIN: &str = r#"#!/bin/sh
log="$(dirname "$0")/cni-log.log"
in=$(cat)
echo "$CNI_COMMAND id=$CNI_CONTAINERID netns=$CNI_NETNS if=$CNI_IFNAME args=$CNI_ARGS path=$CNI_PATH" >> "$log"
printf '%s' "$in" | /usr/lib/cni/bridge
"#;

fn install_log_plugin(sb: &Sandbox, dir: &str) {
    let mut c = sb.cmd("sh");
    c.arg("-c").arg(format!(
        "mkdir -p '{dir}' && cat > '{dir}/cni-log' && chmod +x '{dir}/cni-log'"
    ));
    ok(
        "install cni-log",
        clients::output_with_stdin(c, CNI_LOG_PLUGIN.as_bytes()),
    );
}

/// A conflist: `first` (a bridge-like plugin: bridge or cni-log) with host-local, then
/// portmap (its DNAT rules are what makes a published port reachable).
fn conflist(version: &str, name: &str, first: &str, bridge: &str, subnet: &str) -> String {
    serde_json::json!({
        "cniVersion": version,
        "name": name,
        "plugins": [
            {
                "type": first, "bridge": bridge, "isGateway": true, "ipMasq": false,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{ "subnet": subnet }]],
                    "routes": [{ "dst": "0.0.0.0/0" }]
                }
            },
            { "type": "portmap", "capabilities": { "portMappings": true } }
        ]
    })
    .to_string()
}

fn write(sb: &Sandbox, path: &str, text: &str) {
    must(clients::write_file(sb, path, text));
}

fn read(sb: &Sandbox, path: &str) -> String {
    ok(&format!("cat {path}"), sb.sh(&format!("cat '{path}'")))
}

/// host-local's leases of network `net` (files named by address).
fn leases(sb: &Sandbox, net: &str) -> Vec<String> {
    let out = ok(
        "ls leases",
        sb.sh(&format!(
            "ls /var/lib/cni/networks/{net} 2>/dev/null || true"
        )),
    );
    out.split_whitespace()
        .filter(|f| f.parse::<std::net::Ipv4Addr>().is_ok())
        .map(String::from)
        .collect()
}

/// Names of the links enslaved to `bridge`.
fn bridge_ports(sb: &Sandbox, bridge: &str) -> Vec<String> {
    names(&ip_json(sb, &["link", "show", "master", bridge]))
}

/// Lines of the cni-log plugin's log whose command is `cmd`.
fn logged<'a>(log: &'a str, cmd: &str) -> Vec<&'a str> {
    log.lines()
        .filter(|l| l.split(' ').next() == Some(cmd))
        .collect()
}
