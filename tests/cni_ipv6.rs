//! Issue 9's CNI items beyond ADD's answer, through env+stdin with real namespaces: CHECK
//! compares the IPv6 address too; IPv6 in the `ips` capability and in CNI_ARGS `IP=` (both
//! families, and a bad-input table leaving nothing); delegated IPAM returning IPv6 (the real
//! host-local with an IPv6 range). Issue 8's delegated networks: a network first used by a
//! delegated ADD takes no podnet-allocated attachment (CLI or CNI), and a delegated ADD is
//! refused on a network whose containers have podnet's addresses (table, nothing half-made).

mod common;

use common::cni::*;
use common::invariants::assert_consistent;
use common::v6::v6_addrs;
use common::*;
use podnet::testbed::Sandbox;
use serde_json::{json, Value};

const SUBNET: &str = "10.79.0.0/24";
const SUBNET6: &str = "fd00:79::/64";
/// host-local's state, inside the sandbox's private /run.
const DATA: &str = "/run/host-local";

fn dual(version: &str, name: &str) -> Value {
    conf(
        version,
        name,
        json!({"subnet": SUBNET, "subnet6": SUBNET6, "capabilities": {"ips": true}}),
    )
}

/// The result's addresses on `eth0`, IPv4 first.
fn addresses(r: &Value) -> Vec<String> {
    as_list(r["ips"].clone())
        .iter()
        .map(|i| s(i, "address").to_owned())
        .collect()
}

/// The IPv6 addresses on `eth0` inside `ns` (link-local ones aside), `ADDR/LEN`.
fn inside6(sb: &Sandbox, ns: &str) -> Vec<String> {
    v6_addrs(&ip_json_in(sb, ns, &["addr"]), "eth0")
        .into_iter()
        .filter(|(a, _, _)| !a.starts_with("fe80:"))
        .map(|(a, l, _)| format!("{a}/{l}"))
        .collect()
}

/// CHECK fails (podnet's code 999, saying so) when the IPv6 address is gone from inside,
/// and when the runtime's prevResult names another IPv6 address; passes again once restored.
#[test]
fn check_compares_the_ipv6_address_too() {
    let sb = sandbox();
    let c = dual("1.1.0", "dual");
    let ns = netns(&sb, "a");
    let r = cni_verb(&sb, "ADD", "a", &ns, &c).ok("ADD");
    let ips = addresses(&r);
    assert_eq!(ips.len(), 2, "{r}");
    let mut chk = c.clone();
    chk["prevResult"] = r.clone();
    cni_verb(&sb, "CHECK", "a", &ns, &chk).ok("CHECK");
    assert_consistent(&sb, "dual-stack ADD");
    ok(
        "remove the IPv6 address",
        sb.sh(&format!("ip -n a -6 addr del {} dev eth0", ips[1])),
    );
    let bad = cni_verb(&sb, "CHECK", "a", &ns, &chk);
    assert_eq!(bad.error_code(), Some(999), "{bad:?}");
    let details = bad.json["details"].as_str().unwrap_or_default();
    assert!(
        details.contains(&format!("lost its address {}", ips[1])),
        "{bad:?}"
    );
    ok(
        "restore it",
        sb.sh(&format!(
            "ip -n a -6 addr add {} dev eth0 nodad && ip -n a -6 route replace default via fd00:79::1 dev eth0",
            ips[1]
        )),
    );
    cni_verb(&sb, "CHECK", "a", &ns, &chk).ok("CHECK restored");
    // The runtime was told another IPv6 address: CHECK says which differs.
    let mut other = chk.clone();
    other["prevResult"]["ips"][1]["address"] = json!("fd00:79::77/64");
    let bad = cni_verb(&sb, "CHECK", "a", &ns, &other);
    assert_eq!(bad.error_code(), Some(999), "{bad:?}");
    assert!(
        bad.json["details"]
            .as_str()
            .unwrap_or_default()
            .contains("the runtime says fd00:79::77"),
        "{bad:?}"
    );
    cni_verb(&sb, "DEL", "a", &ns, &c).ok("DEL");
    assert_eq!(leftovers(&sb), Vec::<String>::new());
}

/// The `ips` capability and CNI_ARGS `IP=` with an address of each family: the attachment
/// gets exactly those (result and kernel); bad ones are refused with their code and leave
/// nothing.
#[test]
fn ipv6_in_the_ips_capability_and_cni_args() {
    let sb = sandbox();
    let c = dual("1.0.0", "dual");
    let ns = netns(&sb, "a");
    let mut with_ips = c.clone();
    with_ips["runtimeConfig"] = json!({"ips": ["10.79.0.9/24", "fd00:79::9/64"]});
    let r = cni_verb(&sb, "ADD", "a", &ns, &with_ips).ok("ADD with ips");
    assert_eq!(addresses(&r), ["10.79.0.9/24", "fd00:79::9/64"], "{r}");
    assert_eq!(inside6(&sb, &ns), ["fd00:79::9/64"]);
    let nsb = netns(&sb, "b");
    let r = cni_verb_args(
        &sb,
        "ADD",
        "b",
        &nsb,
        &c,
        Some("IgnoreUnknown=1;IP=10.79.0.10,fd00:79::10"),
    )
    .ok("ADD with CNI_ARGS IP");
    assert_eq!(addresses(&r), ["10.79.0.10/24", "fd00:79::10/64"], "{r}");
    assert_eq!(inside6(&sb, &nsb), ["fd00:79::10/64"]);
    // Only an IPv6 address asked for: podnet picks the IPv4 one.
    let nsc = netns(&sb, "c");
    let r = cni_verb_args(&sb, "ADD", "c", &nsc, &c, Some("IP=fd00:79::11"))
        .ok("ADD with an IPv6 IP only");
    assert_eq!(addresses(&r)[1], "fd00:79::11/64", "{r}");
    assert_consistent(&sb, "addresses asked for");
    let v4only = conf("1.0.0", "v4only", json!({"subnet": "10.80.0.0/24"}));
    let ips = |list: Value| {
        let mut x = c.clone();
        x["runtimeConfig"] = json!({ "ips": list });
        x
    };
    // (configuration, CNI_ARGS, code, what the details say)
    let table: Vec<(Value, &str, u64, &str)> = vec![
        (
            ips(json!(["fd00:79::20", "fd00:79::21"])),
            "",
            2,
            "one IPv6 address",
        ),
        (ips(json!(["fd00:79::20/80"])), "", 7, "another prefix"),
        (ips(json!(["fd00:80::20"])), "", 7, "fd00:80::20"),
        (ips(json!(["fd00:79::1"])), "", 7, "gateway"),
        (ips(json!(["fd00:79::9"])), "", 7, "already taken"),
        (ips(json!(["fe80::9"])), "", 7, "link-local"),
        (ips(json!(["fd00:79::x"])), "", 7, "ADDRESS[/PREFIX]"),
        (c.clone(), "IP=10.79.0.30,fd00:79::x", 4, "CNI_ARGS IP"),
        (c.clone(), "IP=ff02::1", 4, "multicast"),
        (v4only.clone(), "IP=fd00:79::30", 7, "IPv4-only"),
    ];
    for (n, (conf, args, code, says)) in table.into_iter().enumerate() {
        let id = format!("bad{n}");
        let ns = netns(&sb, &id);
        let a = cni_verb_args(
            &sb,
            "ADD",
            &id,
            &ns,
            &conf,
            Some(args).filter(|a| !a.is_empty()),
        );
        assert_eq!(a.error_code(), Some(code), "{conf} {args}: {a:?}");
        assert!(
            a.json["details"].as_str().is_some_and(|d| d.contains(says)),
            "{conf} {args}: want {says:?} in {a:?}"
        );
        assert_eq!(names(&ip_json_in(&sb, &ns, &["link"])), vec!["lo"], "{n}");
        cni_verb(&sb, "DEL", &id, &ns, &conf).ok("DEL after a refused ADD");
    }
    assert_consistent(&sb, "after the refusals");
    for (id, ns) in [("a", &ns), ("b", &nsb), ("c", &nsc)] {
        cni_verb(&sb, "DEL", id, ns, &c).ok("DEL");
    }
    assert_eq!(leftovers(&sb), Vec::<String>::new());
}

/// A podnet configuration delegating IPAM to host-local with `ranges`.
fn hl(name: &str, ranges: Value) -> Value {
    conf(
        "1.0.0",
        name,
        json!({"ipam": {"type": "host-local", "dataDir": DATA, "ranges": ranges}}),
    )
}

/// host-local's lease files of `network` (addresses of both families).
fn hl_leases(sb: &Sandbox, network: &str) -> Vec<String> {
    let out = ok(
        "host-local leases",
        sb.sh(&format!(
            "[ -d {DATA}/{network} ] || exit 0; cd {DATA}/{network} && ls | grep -v -e '^last_reserved' -e '^lock$' || true"
        )),
    );
    let mut v: Vec<String> = out.lines().map(str::to_owned).collect();
    v.sort();
    v
}

/// The real host-local with an IPv4 and an IPv6 range: the network becomes dual-stack with the
/// plugin's IPv6 subnet, the attachment has both of host-local's addresses (result, kernel,
/// podnet's leases), IPv6 TCP works between two, DEL releases both of host-local's leases.
#[test]
fn host_local_with_an_ipv6_range_gives_both_addresses() {
    let sb = sandbox();
    let c = hl("hl6", json!([[{"subnet": SUBNET}], [{"subnet": SUBNET6}]]));
    let (nsa, nsb) = (netns(&sb, "a"), netns(&sb, "b"));
    let ra = cni_verb(&sb, "ADD", "a", &nsa, &c).ok("ADD a");
    let rb = cni_verb(&sb, "ADD", "b", &nsb, &c).ok("ADD b");
    let (a, b) = (addresses(&ra), addresses(&rb));
    assert_eq!((a.len(), b.len()), (2, 2), "{ra} {rb}");
    assert!(
        a[1].starts_with("fd00:79::") && a[1].ends_with("/64"),
        "{ra}"
    );
    assert_eq!(ra["ips"][1]["gateway"], "fd00:79::1", "{ra}");
    let mut held = hl_leases(&sb, "hl6");
    let mut want: Vec<String> = [&a, &b]
        .iter()
        .flat_map(|x| x.iter().map(|i| i.split('/').next().unwrap().to_owned()))
        .collect();
    want.sort();
    held.sort();
    assert_eq!(held, want, "host-local holds exactly the four addresses");
    assert_eq!(inside6(&sb, &nsa), vec![a[1].clone()]);
    let net = net_inspect(&sb, "hl6");
    assert_eq!(net["subnet6"], SUBNET6, "{net}");
    assert_eq!(net["delegated"], true, "{net}");
    let b6 = b[1].split('/').next().unwrap();
    let mut srv = serve_bound_in(&sb, &nsb, 7200, "pong6", "::");
    assert_eq!(tcp_reply(&sb, Some(&nsa), b6, 7200), "pong6");
    srv.stop();
    let mut chk = c.clone();
    chk["prevResult"] = ra.clone();
    cni_verb(&sb, "CHECK", "a", &nsa, &chk).ok("CHECK");
    assert_consistent(&sb, "host-local dual-stack");
    for (id, ns) in [("a", &nsa), ("b", &nsb)] {
        cni_verb(&sb, "DEL", id, ns, &c).ok("DEL");
    }
    assert_eq!(hl_leases(&sb, "hl6"), Vec::<String>::new());
    assert_eq!(leftovers(&sb), Vec::<String>::new());
}

/// How an attachment reaches a network in the delegated-network table.
enum By {
    /// `podnet run -d --network NET`.
    Run,
    /// `podnet attach --netns ... --network NET`.
    Attach,
    /// A CNI ADD with podnet's IPAM.
    Podnet,
    /// A CNI ADD delegating IPAM to host-local.
    Delegated,
}

/// Attach `id` to network `net` (subnet `subnet`) `how`; Err: the one-line refusal.
fn by(sb: &Sandbox, how: &By, net: &str, subnet: &str, id: &str) -> Result<(), String> {
    let ns = netns(sb, id);
    if matches!(how, By::Run | By::Attach)
        && sb.podnet(["network", "inspect", net]).status.code() != Some(0)
    {
        podnet_ok(sb, &["network", "create", net, "--subnet", subnet]);
    }
    let result = match how {
        By::Run | By::Attach => {
            let args: Vec<String> = match how {
                By::Run => [
                    "run",
                    "-d",
                    "--name",
                    id,
                    "--network",
                    net,
                    "--",
                    "sleep",
                    "600",
                ]
                .map(String::from)
                .to_vec(),
                _ => ["attach", "--name", id, "--netns", &ns, "--network", net]
                    .map(String::from)
                    .to_vec(),
            };
            let out = sb.podnet(&args);
            match out.status.code() {
                Some(0) => Ok(()),
                Some(2) => Err(podnet::testbed::stderr(&out)),
                other => panic!("{id}: exit {other:?}: {}", podnet::testbed::describe(&out)),
            }
        }
        By::Podnet | By::Delegated => {
            let c = match how {
                By::Podnet => conf("1.0.0", net, json!({"subnet": subnet})),
                _ => hl(net, json!([[{"subnet": subnet}]])),
            };
            let a = cni_verb(sb, "ADD", id, &ns, &c);
            match a.error_code() {
                None => Ok(()),
                Some(7) => Err(format!("{} {}", a.json["msg"], a.json["details"])),
                other => panic!("{id}: code {other:?}: {a:?}"),
            }
        }
    };
    if result.is_err() && !matches!(how, By::Run) {
        assert_eq!(names(&ip_json_in(sb, &ns, &["link"])), vec!["lo"], "{id}");
    }
    result
}

/// Issue 8: a network first used by a delegated ADD is marked delegated; podnet-allocated
/// attachments there (run, attach, CNI ADD with podnet's IPAM) are refused naming the field
/// (`--network` for the CLI, `ipam` for CNI), and a delegated ADD on a network with
/// podnet-allocated containers is refused before host-local hands out anything. Each refusal
/// leaves nothing; a delegated ADD on an empty podnet network marks it.
#[test]
fn delegated_networks_do_not_mix_with_podnet_allocation() {
    let sb = sandbox();
    // (first attachment, second attachment, the refusal names)
    let table: [(By, By, Option<&str>); 6] = [
        (By::Delegated, By::Run, Some("--network")),
        (By::Delegated, By::Attach, Some("--network")),
        (By::Delegated, By::Podnet, Some("invalid request: ipam")),
        (By::Run, By::Delegated, Some("invalid request: ipam")),
        (By::Podnet, By::Delegated, Some("invalid request: ipam")),
        (By::Delegated, By::Delegated, None),
    ];
    for (n, (first, second, refused)) in table.iter().enumerate() {
        let net = format!("mix{n}");
        let subnet = format!("10.81.{n}.0/24");
        by(&sb, first, &net, &subnet, &format!("f{n}"))
            .unwrap_or_else(|e| panic!("{n}: first: {e}"));
        let before = leftovers(&sb);
        let leases_before = hl_leases(&sb, &net);
        match (by(&sb, second, &net, &subnet, &format!("s{n}")), refused) {
            (Ok(()), None) => {}
            (Err(e), Some(says)) => {
                assert!(e.contains(says), "{n}: want {says:?} in {e}");
                assert!(
                    e.contains("podnet allocat") && e.contains("another"),
                    "{n}: says what to do: {e}"
                );
                assert_eq!(e.trim().lines().count(), 1, "{n}: one line: {e}");
                assert_eq!(leftovers(&sb), before, "{n}: nothing half-made");
                assert_eq!(hl_leases(&sb, &net), leases_before, "{n}: host-local");
            }
            (got, want) => panic!("{n}: got {got:?}, want refusal {want:?}"),
        }
        let delegated = matches!(first, By::Delegated);
        assert_eq!(
            net_inspect(&sb, &net)["delegated"]
                .as_bool()
                .unwrap_or(false),
            delegated,
            "{n}"
        );
    }
    // An empty podnet network (made by the CLI) is marked by its first delegated ADD.
    podnet_ok(
        &sb,
        &["network", "create", "empty", "--subnet", "10.81.9.0/24"],
    );
    assert_eq!(net_inspect(&sb, "empty")["delegated"], Value::Null);
    by(&sb, &By::Delegated, "empty", "10.81.9.0/24", "e1").unwrap();
    assert_eq!(net_inspect(&sb, "empty")["delegated"], true);
    assert_consistent(&sb, "the end");
}
