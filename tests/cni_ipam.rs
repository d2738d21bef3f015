//! podnet's CNI plugin delegating IPAM to the reference `host-local` plugin (Debian's
//! containernetworking-plugins in /usr/lib/cni), in sandboxes: the address is host-local's
//! and carries traffic; DEL releases host-local's lease; a failing or unusable IPAM plugin is a
//! spec error leaving nothing in podnet or host-local; concurrent ADDs get distinct
//! addresses; GC and STATUS at 1.1.0; libcni (`cnitool`) with a host-local conflist.

mod common;

use common::cni::*;
use common::invariants::{assert_consistent, store_view};
use common::*;
use podnet::testbed::Sandbox;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

const SUBNET: &str = "10.66.0.0/24";
/// host-local's state, inside the sandbox's private /run.
const DATA: &str = "/run/host-local";

/// A podnet configuration whose `ipam` is host-local with `ipam` merged in.
fn hl(version: &str, name: &str, ipam: Value) -> Value {
    let mut i = json!({"type": "host-local", "dataDir": DATA, "ranges": [[{"subnet": SUBNET}]]});
    if let (Some(m), Some(e)) = (i.as_object_mut(), ipam.as_object()) {
        for (k, v) in e {
            m.insert(k.clone(), v.clone());
        }
    }
    conf(version, name, json!({ "ipam": i }))
}

/// host-local's leases of `network`: (address, container id), from its files.
fn leases(sb: &Sandbox, network: &str) -> Vec<(Ipv4Addr, String)> {
    let dir = format!("{DATA}/{network}");
    let out = ok(
        "list host-local leases",
        sb.sh(&format!(
            "[ -d {dir} ] || exit 0; for f in {dir}/*; do case ${{f##*/}} in *[!0-9.]*) ;; *) printf '%s %s\\n' ${{f##*/}} \"$(head -n1 $f | tr -d '\\r')\";; esac; done"
        )),
    );
    out.lines()
        .filter_map(|l| {
            let (ip, id) = l.split_once(' ')?;
            Some((ip.parse().ok()?, id.to_owned()))
        })
        .collect()
}

#[test]
fn host_local_gives_the_address_traffic_flows_and_del_releases_it() {
    let sb = sandbox();
    let c = hl("1.0.0", "pods", json!({}));
    let (nsa, nsb) = (netns(&sb, "a"), netns(&sb, "b"));
    let ra = cni_verb(&sb, "ADD", "a", &nsa, &c).ok("ADD a");
    let rb = cni_verb(&sb, "ADD", "b", &nsb, &c).ok("ADD b");
    let (ipa, ipb) = (result_ip(&ra, "eth0"), result_ip(&rb, "eth0"));
    // The addresses are host-local's: its lease files name them, for these containers.
    let held: BTreeSet<(Ipv4Addr, String)> = leases(&sb, "pods").into_iter().collect();
    let want: BTreeSet<(Ipv4Addr, String)> =
        [(ipa.addr(), "a".into()), (ipb.addr(), "b".into())].into();
    assert_eq!(held, want, "{ra} {rb}");
    // podnet recorded the same addresses as leases of its own (no second allocation).
    let recorded: BTreeSet<String> = store_view(&sb).leases.iter().map(|l| l.1.clone()).collect();
    let given: BTreeSet<String> = [ipa.addr().to_string(), ipb.addr().to_string()].into();
    assert_eq!(recorded, given);
    assert_eq!(
        v4_addrs(&ip_json_in(&sb, &nsa, &["addr"]), "eth0"),
        vec![ipa]
    );
    let mut srv = serve_in(&sb, &nsb, 7100, "pong");
    assert_eq!(
        tcp_reply(&sb, Some(&nsa), &ipb.addr().to_string(), 7100),
        "pong"
    );
    srv.stop();
    // CHECK asks host-local too: with a's lease file gone, CHECK fails.
    let mut chk = c.clone();
    chk["prevResult"] = ra.clone();
    cni_verb(&sb, "CHECK", "a", &nsa, &chk).ok("CHECK");
    let file = format!("{DATA}/pods/{}", ipa.addr());
    ok("hide a's lease", sb.sh(&format!("mv {file} {DATA}/aside")));
    let bad = cni_verb(&sb, "CHECK", "a", &nsa, &chk);
    assert!(
        bad.code != 0 && bad.json["details"].as_str().unwrap().contains("host-local"),
        "{bad:?}"
    );
    ok(
        "restore a's lease",
        sb.sh(&format!("mv {DATA}/aside {file}")),
    );
    cni_verb(&sb, "CHECK", "a", &nsa, &chk).ok("CHECK again");
    // ADD again of a key podnet has: the same address, host-local not asked for another.
    let again = cni_verb(&sb, "ADD", "a", &nsa, &c).ok("ADD a again");
    assert_eq!(result_ip(&again, "eth0"), ipa);
    assert_eq!(leases(&sb, "pods").len(), 2);
    assert_consistent(&sb, "after ADD");
    for (id, ns) in [("a", &nsa), ("b", &nsb)] {
        cni_verb(&sb, "DEL", id, ns, &c).ok("DEL");
        cni_verb(&sb, "DEL", id, ns, &c).ok("DEL again");
    }
    assert_eq!(leases(&sb, "pods"), vec![], "host-local's leases after DEL");
    assert_eq!(leftovers(&sb), Vec::<String>::new());
    // DEL of a key nobody has, with and without podnet state: success.
    cni_verb(&sb, "DEL", "never", "", &c).ok("DEL unknown");
    let fresh = sandbox();
    cni_verb(&fresh, "DEL", "never", "", &c).ok("DEL without podnet state");
    assert_consistent(&sb, "the end");
}

#[test]
fn del_releases_the_lease_when_podnet_has_no_record() {
    // host-local holds a lease podnet never recorded (an ADD that died between the two): DEL
    // still releases it.
    let sb = sandbox();
    let c = hl("1.0.0", "pods", json!({}));
    let ns = netns(&sb, "x");
    let env = verb_env("ADD", "x", &ns, "eth0");
    let out = feed(
        {
            let mut cmd = sb.cmd("/usr/lib/cni/host-local");
            for v in CNI_VARS {
                cmd.env_remove(v);
            }
            cmd.envs(env.iter().copied());
            cmd
        },
        c.to_string().as_bytes(),
    );
    assert!(out.status.success(), "{}", podnet::testbed::describe(&out));
    assert_eq!(leases(&sb, "pods").len(), 1);
    cni_verb(&sb, "DEL", "x", &ns, &c).ok("DEL");
    assert_eq!(leases(&sb, "pods"), vec![]);
}

/// What the IPAM configuration is, and the code its ADD must get.
type BadIpam<'a> = (&'a str, Value, u64, &'a str);

#[test]
fn a_failing_ipam_plugin_is_a_spec_error_and_leaves_nothing() {
    let sb = sandbox();
    let table: Vec<BadIpam> = vec![
        (
            "missing binary",
            json!({"type": "no-such-ipam"}),
            7,
            "not in CNI_PATH",
        ),
        (
            "range outside the subnet",
            json!({"ranges": [[{"subnet": "10.67.0.0/24"}]]}),
            7,
            "not a host address of network 'bad1''s subnet 10.66.0.0/24",
        ),
        (
            "a route podnet does not install",
            json!({"routes": [{"dst": "192.168.0.0/16"}]}),
            2,
            "asks for route 192.168.0.0/16",
        ),
        (
            "host-local refuses its range",
            json!({"ranges": [[{"subnet": "10.66.0.0/24", "rangeStart": "10.66.1.5"}]]}),
            999,
            "RangeStart 10.66.1.5 not in network",
        ),
        (
            "two IPv6 ranges",
            json!({"ranges": [[{"subnet": SUBNET}], [{"subnet": "fd00:66::/64"}], [{"subnet": "fd00:67::/64"}]]}),
            2,
            "gave 2 IPv6 addresses",
        ),
        (
            "an IPv6 range only",
            json!({"ranges": [[{"subnet": "fd00:66::/64"}]]}),
            2,
            "gave no IPv4 address",
        ),
        (
            "an IPv6 gateway that is not podnet's",
            json!({"ranges": [[{"subnet": SUBNET}], [{"subnet": "fd00:66::/64", "gateway": "fd00:66::fe"}]]}),
            7,
            "gives IPv6 gateway fd00:66::fe",
        ),
    ];
    for (n, (what, ipam, code, says)) in table.into_iter().enumerate() {
        let mut c = hl("1.0.0", &format!("bad{n}"), ipam);
        if what == "range outside the subnet" {
            c["subnet"] = json!(SUBNET);
        }
        let id = format!("c{n}");
        let ns = netns(&sb, &id);
        let a = cni_verb(&sb, "ADD", &id, &ns, &c);
        assert_eq!(a.error_code(), Some(code), "{what}: {a:?}");
        assert!(
            a.json["details"].as_str().is_some_and(|d| d.contains(says)),
            "{what}: {a:?}"
        );
        assert_eq!(
            leases(&sb, &format!("bad{n}")),
            vec![],
            "{what}: host-local"
        );
        assert_eq!(leftovers(&sb), Vec::<String>::new(), "{what}: podnet");
        assert_eq!(
            names(&ip_json_in(&sb, &ns, &["link"])),
            vec!["lo"],
            "{what}"
        );
        // The runtime's DEL after the failed ADD succeeds, but where host-local refuses the
        // configuration for DEL too: then its error is DEL's.
        let d = cni_verb(&sb, "DEL", &id, &ns, &c);
        let del_code = (what == "host-local refuses its range").then_some(999);
        assert_eq!(d.error_code(), del_code, "{what}: {d:?}");
    }
    assert_consistent(&sb, "after the failures");
}

#[test]
fn twenty_concurrent_adds_get_twenty_host_local_addresses() {
    let sb = sandbox();
    let c = hl("1.0.0", "pods", json!({})).to_string();
    let n = 20;
    let (given, errors) = concurrent_adds(&sb, &c, n);
    let ips: BTreeSet<Ipv4Addr> = given.iter().map(|i| i.addr()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(ips.len(), n);
    let held: BTreeSet<Ipv4Addr> = leases(&sb, "pods").into_iter().map(|l| l.0).collect();
    assert_eq!(held, ips, "host-local's leases are the addresses given");
    assert_eq!(store_view(&sb).leases.len(), n);
    assert_consistent(&sb, "20 concurrent ADDs");
}

#[test]
fn gc_and_status_at_1_1_0_release_host_local_leases() {
    // host-local 1.1.1 speaks up to 1.0.0: attachments made at 1.0.0, then a runtime at 1.1.0
    // sends GC and STATUS. podnet does not send host-local verbs it does not know; GC's
    // removals are released with IPAM DEL each.
    let sb = sandbox();
    let c = hl("1.0.0", "pods", json!({}));
    let (nsa, nsb) = (netns(&sb, "a"), netns(&sb, "b"));
    cni_verb(&sb, "ADD", "a", &nsa, &c).ok("ADD a");
    let rb = cni_verb(&sb, "ADD", "b", &nsb, &c).ok("ADD b");
    let c11 = hl("1.1.0", "pods", json!({}));
    let st = cni_raw(
        &sb,
        &[("CNI_COMMAND", "STATUS"), ("CNI_PATH", "/usr/lib/cni")],
        c11.to_string().as_bytes(),
    );
    assert_eq!(st.code, 0, "{st:?}");
    cni_gc(&sb, &c11, Some(&[("b", "eth0")])).ok("GC");
    assert_eq!(
        leases(&sb, "pods"),
        vec![(result_ip(&rb, "eth0").addr(), "b".to_owned())]
    );
    let rows: Vec<String> = store_view(&sb)
        .runtime
        .iter()
        .map(|r| r.container_id.clone())
        .collect();
    assert_eq!(rows, ["b"]);
    // STATUS with the plugin missing: 50, naming it.
    let gone = hl("1.1.0", "pods", json!({"type": "no-such-ipam"}));
    let st = cni_raw(
        &sb,
        &[("CNI_COMMAND", "STATUS"), ("CNI_PATH", "/usr/lib/cni")],
        gone.to_string().as_bytes(),
    );
    assert_eq!(st.error_code(), Some(50), "{st:?}");
    assert!(
        st.json["details"]
            .as_str()
            .unwrap()
            .contains("no-such-ipam"),
        "{st:?}"
    );
    assert_consistent(&sb, "after GC");
}

#[test]
fn libcni_with_a_host_local_conflist_at_1_0_0() {
    use podnet::testbed::clients::{self, cnitool, CniTool};
    use podnet::testbed::{SandboxConfig, SANDBOX_STATE_DIR};
    let sb = Sandbox::with_config(SandboxConfig {
        podnet: Some(env!("CARGO_BIN_EXE_podnet").into()),
        ..SandboxConfig::for_clients()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let bin = "/run/cni-bin";
    ok(
        "install podnet",
        sb.sh(&format!(
            "mkdir -p {bin} && ln -sf '{}' {bin}/podnet",
            env!("CARGO_BIN_EXE_podnet")
        )),
    );
    let conf_dir = "/run/cni-conf";
    let list = json!({
        "cniVersion": "1.0.0",
        "name": "hl",
        "plugins": [{
            "type": "podnet", "root": SANDBOX_STATE_DIR,
            "ipam": {"type": "host-local", "dataDir": DATA, "ranges": [[{"subnet": "10.68.0.0/24"}]]}
        }]
    });
    clients::write_file(
        &sb,
        &format!("{conf_dir}/10-hl.conflist"),
        &list.to_string(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let tool = |id: &str| CniTool {
        conf_dir: conf_dir.into(),
        // podnet in one directory, host-local in another: CNI_PATH finds both.
        path: vec![bin.into(), "/usr/lib/cni".into()],
        container_id: Some(id.into()),
        ..CniTool::default()
    };
    let mut ips = Vec::new();
    for id in ["a", "b"] {
        let ns = netns(&sb, id);
        let out = ok(
            &format!("cnitool add {id}"),
            cnitool(&sb, &tool(id), ["add", "hl", &ns]),
        );
        let result: Value = parse("cnitool add", &out);
        assert_eq!(result["cniVersion"], "1.0.0", "{result}");
        let ip = result_ip(&result, "eth0");
        assert_eq!(v4_addrs(&ip_json_in(&sb, &ns, &["addr"]), "eth0"), vec![ip]);
        ips.push(ip.addr());
    }
    let held: Vec<Ipv4Addr> = leases(&sb, "hl").into_iter().map(|l| l.0).collect();
    assert_eq!(held.iter().collect::<BTreeSet<_>>(), ips.iter().collect());
    let mut srv = serve_in(&sb, "/run/netns/b", 7200, "b");
    assert_eq!(
        tcp_reply(&sb, Some("/run/netns/a"), &ips[1].to_string(), 7200),
        "b"
    );
    srv.stop();
    for id in ["a", "b"] {
        let ns = format!("/run/netns/{id}");
        ok(
            "cnitool check",
            cnitool(&sb, &tool(id), ["check", "hl", &ns]),
        );
        ok("cnitool del", cnitool(&sb, &tool(id), ["del", "hl", &ns]));
        ok(
            "cnitool del again",
            cnitool(&sb, &tool(id), ["del", "hl", &ns]),
        );
    }
    assert_eq!(leases(&sb, "hl"), vec![]);
    assert_eq!(leftovers(&sb), Vec::<String>::new());
    assert_consistent(&sb, "libcni with host-local");
}
