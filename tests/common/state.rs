//! Setup and state snapshots for the bad-input tests.

use super::*;
use podnet::testbed::Sandbox;
use serde_json::{json, Value};

/// A host with a LAN route (10.231.0.0/16), network `netA` (10.210.0.0/24) and container
/// `c1` on it at 10.210.0.10.
pub fn setup() -> Sandbox {
    let sb = sandbox();
    sb.add_stub_link("hostlan0", "10.231.0.1/16").unwrap();
    podnet_ok(
        &sb,
        &["network", "create", "netA", "--subnet", "10.210.0.0/24"],
    );
    podnet_ok(
        &sb,
        &[
            "run",
            "-d",
            "--name",
            "c1",
            "--network",
            "netA",
            "--ip",
            "10.210.0.10",
            "--",
            "sleep",
            "infinity",
        ],
    );
    ok("plain file", sb.sh("echo hi > /run/testbed/plainfile"));
    settle_ipv6(&sb);
    sb
}

/// Waits until the kernel has given every link that is up its IPv6 link-local address and
/// finished duplicate address detection: otherwise those addresses (and their routes) appear
/// between two snapshots and look like a change the command made.
fn settle_ipv6(sb: &Sandbox) {
    let settled = || {
        let tentative = as_list(ip_json(sb, &["-6", "addr", "show", "tentative"]));
        let links = as_list(ip_json(sb, &["-6", "addr"]));
        let has_link_local = |name: &str| {
            links.iter().any(|l| {
                l["ifname"] == name
                    && as_list(l["addr_info"].clone())
                        .iter()
                        .any(|a| a["scope"] == "link")
            })
        };
        // netA's bridge gets its link-local once c1 gives it a carrier.
        tentative.is_empty()
            && has_link_local("hostlan0")
            && has_link_local("hostlan0p")
            && has_link_local("pn-netA")
    };
    sb.wait_until(
        "IPv6 link-local addresses",
        std::time::Duration::from_secs(30),
        settled,
    )
    .unwrap_or_else(|e| panic!("{e}: {}", ip_json(sb, &["-6", "addr"])));
}

/// Everything a failed command must leave as it was.
pub fn snapshot(sb: &Sandbox) -> Value {
    let links: Vec<Value> = as_list(ip_json(sb, &["link"]))
        .iter()
        .map(|l| json!([l["ifname"], l["master"], l["mtu"]]))
        .collect();
    let addrs: Vec<Value> = as_list(ip_json(sb, &["addr"]))
        .iter()
        .map(|l| {
            let a: Vec<Value> = as_list(l["addr_info"].clone())
                .iter()
                .map(|a| json!([a["local"], a["prefixlen"]]))
                .collect();
            json!([l["ifname"], a])
        })
        .collect();
    let routes: Vec<Value> = as_list(ip_json(sb, &["route", "show", "table", "all"]))
        .iter()
        .map(|r| json!([r["dst"], r["dev"], r["gateway"], r["table"]]))
        .collect();
    json!({
        "links": links,
        "addrs": addrs,
        "routes": routes,
        "netns": netns_leftovers(sb),
        "ps": ps(sb),
        "networks": networks(sb),
    })
}

pub fn check(sb: &Sandbox, args: &[&str], needle: &str) {
    let before = snapshot(sb);
    let what = format!("podnet {}", args.join(" "));
    let out = sb.podnet(args);
    assert_bad_input(&what, &out, needle);
    let after = snapshot(sb);
    for key in ["links", "addrs", "routes", "netns", "ps", "networks"] {
        assert_eq!(before[key], after[key], "{what} changed {key}");
    }
}

/// Like [`check`], for an error line that must say several things (the input and the reason).
pub fn check_says(sb: &Sandbox, args: &[&str], needles: &[&str]) {
    let before = snapshot(sb);
    let what = format!("podnet {}", args.join(" "));
    let out = sb.podnet(args);
    for needle in needles {
        assert_bad_input(&what, &out, needle);
    }
    let after = snapshot(sb);
    for key in ["links", "addrs", "routes", "netns", "ps", "networks"] {
        assert_eq!(before[key], after[key], "{what} changed {key}");
    }
}
