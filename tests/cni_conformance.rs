//! podnet as a CNI plugin, driven through env+stdin as runtimes exec it, in sandboxes: every
//! verb of every spec version podnet speaks against real namespaces, links, nftables and
//! traffic; the spec's error codes for bad calls, each leaving nothing; DEL's idempotence;
//! ADD twice; 50 concurrent ADDs; GC's scope; STATUS before and after breaking the store.
//! The plugin's own verbs run twice: done by the plugin process, and handed to the agent.

mod common;

use common::cni::*;
use common::invariants::{assert_consistent, store_view};
use common::v6::{v6_addrs, v6_defaults};
use common::*;
use podnet::testbed::{Sandbox, SANDBOX_STATE_DIR};
use serde_json::{json, Value};

const SUBNET: &str = "10.77.0.0/24";

cni_both_ways! {
    every_verb_of_every_version:
        every_verb_of_every_version_against_the_kernel,
        every_verb_of_every_version_through_the_agent;
    bad_calls_get_spec_codes:
        bad_calls_get_spec_codes_and_leave_nothing,
        bad_calls_through_the_agent_get_spec_codes_and_leave_nothing;
    del_twice_and_add_twice:
        del_is_idempotent_and_add_twice_is_consistent,
        del_and_add_twice_through_the_agent;
    fifty_concurrent_adds:
        fifty_concurrent_adds_get_fifty_addresses,
        fifty_concurrent_adds_through_the_agent;
    capabilities:
        port_mappings_mac_and_ip_capabilities,
        capabilities_through_the_agent;
    dual_stack_add:
        dual_stack_add_answers_both_families_and_both_work,
        dual_stack_add_through_the_agent;
}

fn pods(version: &str) -> Value {
    conf(version, "pods", json!({"subnet": SUBNET}))
}

/// TCP from `from` to `ip:port`, answered by a nettool server in `server_ns`.
fn reaches(sb: &Sandbox, from: &str, server_ns: &str, ip: &str, port: u16) -> bool {
    let mut srv = serve_in(sb, server_ns, port, "pong");
    let reply = tcp_reply(sb, Some(from), ip, port);
    srv.stop();
    reply.contains("pong")
}

fn every_verb_of_every_version(sb: &Sandbox) {
    for (n, v) in ["0.4.0", "1.0.0", "1.1.0"].into_iter().enumerate() {
        let c = pods(v);
        let (a, b) = (format!("a{n}"), format!("b{n}"));
        let (nsa, nsb) = (netns(sb, &a), netns(sb, &b));
        let ra = cni_verb(sb, "ADD", &a, &nsa, &c).ok(&format!("ADD {v}"));
        let rb = cni_verb(sb, "ADD", &b, &nsb, &c).ok(&format!("ADD {v}"));
        assert_eq!(ra["cniVersion"], json!(v), "{ra}");
        let (ipa, ipb) = (result_ip(&ra, "eth0"), result_ip(&rb, "eth0"));
        assert!(
            net(SUBNET).contains(&ipa.addr()) && ipa.prefix_len() == 24,
            "{ra}"
        );
        assert_ne!(ipa.addr(), ipb.addr());
        // The kernel's view, not podnet's: the address is on eth0 inside, with the route.
        assert_eq!(
            v4_addrs(&ip_json_in(sb, &nsa, &["addr"]), "eth0"),
            vec![ipa]
        );
        let routes = as_list(ip_json_in(sb, &nsa, &["route"]));
        assert!(routes.iter().any(|r| r["dst"] == "default"), "{routes:?}");
        assert!(reaches(
            sb,
            &nsa,
            &nsb,
            &ipb.addr().to_string(),
            7000 + n as u16
        ));
        if v != "0.4.0" || n == 0 {
            let mut chk = c.clone();
            chk["prevResult"] = ra.clone();
            cni_verb(sb, "CHECK", &a, &nsa, &chk).ok(&format!("CHECK {v}"));
            // CHECK sees damage: the address removed from inside.
            ok(
                "ip addr del",
                sb.sh(&format!("ip -n {a} addr del {ipa} dev eth0")),
            );
            let bad = cni_verb(sb, "CHECK", &a, &nsa, &chk);
            assert!(
                bad.code != 0
                    && bad.json["details"]
                        .as_str()
                        .unwrap()
                        .contains("lost its address"),
                "{bad:?}"
            );
            ok(
                "ip addr add",
                sb.sh(&format!(
                    "ip -n {a} addr add {ipa} dev eth0 && ip -n {a} route add default via 10.77.0.1"
                )),
            );
        }
        if v == "1.1.0" {
            let st = cni_raw(sb, &[("CNI_COMMAND", "STATUS")], c.to_string().as_bytes());
            assert_eq!(st.code, 0, "{st:?}");
        }
        assert_consistent(sb, &format!("after ADD {v}"));
        for id in [&a, &b] {
            let mut del = c.clone();
            del["prevResult"] = ra.clone();
            cni_verb(sb, "DEL", id, &format!("/run/netns/{id}"), &del).ok("DEL");
            cni_verb(sb, "DEL", id, &format!("/run/netns/{id}"), &del).ok("DEL again");
        }
        assert_eq!(leftovers(sb), Vec::<String>::new(), "after DEL {v}");
        // DEL left the runtime's namespaces alone, without podnet's interface.
        assert_eq!(names(&ip_json_in(sb, &nsa, &["link"])), vec!["lo"]);
    }
    assert_consistent(sb, "the end");
}

/// What the call is, its variables, its stdin and the spec code it must get.
type BadCall<'a> = (&'a str, Vec<(&'a str, &'a str)>, String, u64);

fn bad_calls_get_spec_codes(sb: &Sandbox) {
    let ns = netns(sb, "c1");
    let good = pods("1.0.0").to_string();
    let base = verb_env("ADD", "c1", &ns, "eth0");
    let without =
        |k: &str| -> Vec<(&str, &str)> { base.iter().copied().filter(|(n, _)| *n != k).collect() };
    let with = |k: &'static str, v: &'static str| -> Vec<(&str, &str)> {
        let mut e = base.clone();
        e.retain(|(n, _)| *n != k);
        e.push((k, v));
        e
    };
    let unknown_v = pods("1.0.0").to_string().replace("1.0.0", "7.0.0");
    let bad_subnet = conf("1.0.0", "pods", json!({"subnet": "10.77.0.0/33"})).to_string();
    let table: Vec<BadCall> = vec![
        ("not JSON", base.clone(), "{nope".into(), 6),
        ("empty stdin", base.clone(), "".into(), 6),
        ("JSON but no object", base.clone(), "[1,2]".into(), 6),
        ("unknown cniVersion", base.clone(), unknown_v, 1),
        ("no CNI_NETNS", without("CNI_NETNS"), good.clone(), 4),
        (
            "no CNI_CONTAINERID",
            without("CNI_CONTAINERID"),
            good.clone(),
            4,
        ),
        ("no CNI_IFNAME", without("CNI_IFNAME"), good.clone(), 4),
        (
            "netns is a file",
            with("CNI_NETNS", "/etc/hostname"),
            good.clone(),
            4,
        ),
        (
            "netns missing",
            with("CNI_NETNS", "/run/netns/nope"),
            good.clone(),
            4,
        ),
        (
            "unknown CNI_ARGS key",
            with("CNI_ARGS", "FOO=1"),
            good.clone(),
            4,
        ),
        ("bad subnet", base.clone(), bad_subnet, 7),
        (
            "IPv6 subnet",
            base.clone(),
            conf("1.0.0", "pods", json!({"subnet": "fd00::/64"})).to_string(),
            2,
        ),
    ];
    for (what, env, stdin, want) in &table {
        let a = cni_raw(sb, env, stdin.as_bytes());
        assert_eq!(a.code, 1, "{what}: {a:?}");
        assert_eq!(a.error_code(), Some(*want), "{what}: {a:?}");
        for k in ["cniVersion", "msg", "details"] {
            assert!(a.json[k].is_string(), "{what}: {k} in {}", a.json);
        }
        assert_eq!(leftovers(sb), Vec::<String>::new(), "{what}");
    }
    // Unknown configuration keys and IgnoreUnknown'd CNI_ARGS keys are accepted.
    let mut extra = pods("1.0.0");
    extra["someRuntimeKey"] = json!({"x": 1});
    let a = cni_verb_args(sb, "ADD", "c1", &ns, &extra, Some("IgnoreUnknown=1;FOO=1"));
    a.ok("unknown fields");
    // The same network with other settings: code 7 naming the setting, nothing made.
    let ns2 = netns(sb, "c2");
    let other = conf("1.0.0", "pods", json!({"subnet": "10.78.0.0/24"}));
    let a = cni_verb(sb, "ADD", "c2", &ns2, &other);
    assert_eq!(a.error_code(), Some(7), "{a:?}");
    assert!(a.json["msg"].as_str().unwrap().contains("subnet"), "{a:?}");
    assert_eq!(store_view(sb).endpoints.len(), 1);
    cni_verb(sb, "DEL", "c1", &ns, &extra).ok("DEL");
    assert_eq!(leftovers(sb), Vec::<String>::new());
}

fn del_twice_and_add_twice(sb: &Sandbox) {
    let c = pods("1.1.0");
    // DEL of what was never added, with and without a namespace, with no state at all.
    cni_verb(sb, "DEL", "never", "", &c).ok("DEL without state");
    let ns = netns(sb, "c1");
    cni_verb(sb, "DEL", "never", &ns, &c).ok("DEL never added");
    // ADD twice in the same namespace: the same attachment, nothing more.
    let first = cni_verb(sb, "ADD", "c1", &ns, &c).ok("ADD");
    let again = cni_verb(sb, "ADD", "c1", &ns, &c).ok("ADD again");
    assert_eq!(result_ip(&first, "eth0"), result_ip(&again, "eth0"));
    assert_eq!(store_view(sb).endpoints.len(), 1);
    // The same key from another namespace: a conflict, nothing made.
    let ns2 = netns(sb, "c2");
    let clash = cni_verb(sb, "ADD", "c1", &ns2, &c);
    assert_eq!(clash.error_code(), Some(7), "{clash:?}");
    assert_eq!(names(&ip_json_in(sb, &ns2, &["link"])), vec!["lo"]);
    // Another interface of the same container is another attachment.
    let mut env = verb_env("ADD", "c1", &ns, "net1");
    env.push((
        "CNI_ARGS",
        "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web;IgnoreUnknown=1",
    ));
    let net1 = answer(&feed(cni_cmd(sb, &env), c.to_string().as_bytes())).ok("ADD net1");
    assert_ne!(result_ip(&net1, "net1"), result_ip(&first, "eth0"));
    assert_consistent(sb, "two interfaces");
    let ps = ps(sb);
    let pod: Vec<&Value> = ps
        .iter()
        .filter(|r| r["runtime"]["k8s_name"] == "web")
        .collect();
    assert_eq!(pod.len(), 1, "{ps:?}");
    assert_eq!(pod[0]["runtime"]["k8s_namespace"], "shop");
    assert_eq!(pod[0]["runtime"]["ifname"], "net1");
    let table = podnet_ok(sb, &["ps"]);
    assert!(table.contains("shop/web"), "{table}");
    // The namespace goes first (a runtime that removed it), then DEL, twice.
    ok("ip netns del", sb.sh("ip netns del c1"));
    for _ in 0..2 {
        cni_verb(sb, "DEL", "c1", "", &c).ok("DEL without netns");
        let mut e = verb_env("DEL", "c1", &ns, "net1");
        e.retain(|(k, _)| *k != "CNI_NETNS");
        answer(&feed(cni_cmd(sb, &e), c.to_string().as_bytes())).ok("DEL net1");
    }
    assert_eq!(leftovers(sb), Vec::<String>::new());
    assert_consistent(sb, "after DEL");
}

fn fifty_concurrent_adds(sb: &Sandbox) {
    let c = pods("1.0.0").to_string();
    let n = 50;
    let (ips, errors) = concurrent_adds(sb, &c, n);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(ips.len(), n);
    assert_eq!(store_view(sb).leases.len(), n);
    assert_consistent(sb, "50 concurrent ADDs");
}

#[test]
fn gc_removes_exactly_the_unlisted_attachments_of_its_network() {
    let sb = sandbox();
    let c = pods("1.1.0");
    let other = conf("1.1.0", "other", json!({"subnet": "10.79.0.0/24"}));
    for id in ["k1", "k2", "k3"] {
        let ns = netns(&sb, id);
        cni_verb(&sb, "ADD", id, &ns, &c).ok("ADD");
    }
    let ns = netns(&sb, "o1");
    cni_verb(&sb, "ADD", "k1", &ns, &other).ok("ADD other");
    // podnet's own containers on the same network are never a runtime's to collect.
    podnet_ok(
        &sb,
        &[
            "run",
            "-d",
            "--name",
            "mine",
            "--network",
            "pods",
            "--",
            "sleep",
            "1d",
        ],
    );
    ok("ip netns add", sb.sh("ip netns add att"));
    podnet_ok(
        &sb,
        &[
            "attach",
            "--netns",
            "/run/netns/att",
            "--name",
            "att",
            "--network",
            "pods",
        ],
    );
    // No list: nothing is removed. An empty GC of another network: nothing of this one.
    cni_gc(&sb, &c, None).ok("GC without a list");
    assert_eq!(store_view(&sb).runtime.len(), 4);
    // The older key alone counts too.
    let mut old = c.clone();
    old["cni.dev/attachments"] =
        json!([{"containerID": "k1", "ifname": "eth0"}, {"containerID": "k2", "ifname": "eth0"}]);
    // As libcni 1.2 sends GC: the attachment variables present but empty.
    let gc_env = [
        ("CNI_COMMAND", "GC"),
        ("CNI_PATH", "/usr/lib/cni"),
        ("CNI_CONTAINERID", ""),
        ("CNI_NETNS", ""),
        ("CNI_IFNAME", ""),
    ];
    cni_raw(&sb, &gc_env, old.to_string().as_bytes()).ok("GC old key");
    let left: Vec<(String, i64)> = store_view(&sb)
        .runtime
        .iter()
        .map(|r| (r.container_id.clone(), r.network_id))
        .collect();
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(!left.iter().any(|(id, _)| id == "k3"), "{left:?}");
    cni_gc(&sb, &c, Some(&[("k2", "eth0")])).ok("GC");
    let rows = store_view(&sb).runtime;
    let ids: Vec<&str> = rows.iter().map(|r| r.container_id.as_str()).collect();
    assert_eq!(ids, ["k2", "k1"], "k2 on pods, k1 on other");
    let view = store_view(&sb);
    let names: Vec<&str> = view.endpoints.iter().map(|e| e.name.as_str()).collect();
    assert!(
        names.contains(&"mine") && names.contains(&"att"),
        "{names:?}"
    );
    assert_consistent(&sb, "after GC");
}

#[test]
fn status_answers_zero_until_the_store_is_broken() {
    let sb = sandbox();
    let c = pods("1.1.0");
    let st = || cni_raw(&sb, &[("CNI_COMMAND", "STATUS")], c.to_string().as_bytes());
    assert_eq!(st().code, 0, "{:?}", st());
    let ns = netns(&sb, "s1");
    cni_verb(&sb, "ADD", "s1", &ns, &c).ok("ADD");
    assert_eq!(st().code, 0);
    ok(
        "break the store",
        sb.sh(&format!(
            "rm -f {SANDBOX_STATE_DIR}/podnet.db-wal {SANDBOX_STATE_DIR}/podnet.db-shm; \
             head -c 8192 /dev/urandom > {SANDBOX_STATE_DIR}/podnet.db"
        )),
    );
    let broken = st();
    assert_eq!(broken.error_code(), Some(50), "{broken:?}");
    assert!(
        broken.json["details"]
            .as_str()
            .unwrap()
            .contains("podnet.db"),
        "{broken:?}"
    );
    // An ADD now fails with a spec error, and makes nothing.
    let ns2 = netns(&sb, "s2");
    let a = cni_verb(&sb, "ADD", "s2", &ns2, &c);
    assert_eq!(a.code, 1, "{a:?}");
    assert_eq!(names(&ip_json_in(&sb, &ns2, &["link"])), vec!["lo"]);
}

fn capabilities(sb: &Sandbox) {
    let mut c = pods("1.0.0");
    c["capabilities"] = json!({"portMappings": true, "ips": true, "mac": true});
    c["runtimeConfig"] = json!({
        "portMappings": [{"hostPort": 18080, "containerPort": 80, "protocol": "tcp"}],
        "ips": ["10.77.0.42/24"],
        "mac": "02:42:0a:4d:00:99"
    });
    let ns = netns(sb, "w");
    let r = cni_verb(sb, "ADD", "w", &ns, &c).ok("ADD");
    assert_eq!(result_ip(&r, "eth0").to_string(), "10.77.0.42/24");
    let link = as_list(ip_json_in(sb, &ns, &["link", "show", "eth0"]));
    assert_eq!(link[0]["address"], "02:42:0a:4d:00:99");
    // The published port answers from the host namespace, through podnet's nftables.
    let mut srv = serve_in(sb, &ns, 80, "web");
    let reply = tcp_reply(sb, None, "10.77.0.1", 18080);
    srv.stop();
    assert!(reply.contains("web"), "{reply}");
    assert_consistent(sb, "published");
    cni_verb(sb, "DEL", "w", &ns, &c).ok("DEL");
    assert_eq!(leftovers(sb), Vec::<String>::new());
    assert_consistent(sb, "after DEL");
}

/// Issue 9: ADD on a dual-stack configuration (`subnet6`) answers both addresses on the
/// container's interface with both gateways and both default routes, in 1.1.0, 1.0.0 and
/// 0.4.0; the kernel has them; IPv6 TCP works between two ADDed namespaces and with the
/// IPv6 gateway; CHECK accepts the result; DEL frees the IPv6 lease.
fn dual_stack_add(sb: &Sandbox) {
    for (n, v) in ["1.1.0", "1.0.0", "0.4.0"].into_iter().enumerate() {
        let c = conf(
            v,
            "dual",
            json!({"subnet": "10.78.0.0/24", "subnet6": "fd00:91::/64"}),
        );
        let (a, b) = (format!("d{n}"), format!("e{n}"));
        let (nsa, nsb) = (netns(sb, &a), netns(sb, &b));
        let ra = cni_verb(sb, "ADD", &a, &nsa, &c).ok(&format!("ADD {v}"));
        let rb = cni_verb(sb, "ADD", &b, &nsb, &c).ok(&format!("ADD {v}"));
        let eth0 = as_list(ra["interfaces"].clone())
            .iter()
            .position(|i| i["name"] == "eth0" && i["sandbox"] == json!(nsa))
            .expect("eth0 in the result");
        let ips = as_list(ra["ips"].clone());
        assert_eq!(ips.len(), 2, "{ra}");
        let ip4 = s(&ips[0], "address").to_string();
        let ip6 = s(&ips[1], "address").to_string();
        assert!(ip4.starts_with("10.78.0.") && ip4.ends_with("/24"), "{ra}");
        assert!(ip6.starts_with("fd00:91::") && ip6.ends_with("/64"), "{ra}");
        assert_eq!(ips[0]["gateway"], "10.78.0.1", "{ra}");
        assert_eq!(ips[1]["gateway"], "fd00:91::1", "{ra}");
        for ip in &ips {
            assert_eq!(ip["interface"], json!(eth0), "{ra}");
        }
        if v == "0.4.0" {
            assert_eq!(
                (&ips[0]["version"], &ips[1]["version"]),
                (&json!("4"), &json!("6"))
            );
        }
        let routes: Vec<(String, String)> = as_list(ra["routes"].clone())
            .iter()
            .map(|r| (s(r, "dst").to_string(), s(r, "gw").to_string()))
            .collect();
        assert_eq!(
            routes,
            vec![
                ("0.0.0.0/0".to_string(), "10.78.0.1".to_string()),
                ("::/0".to_string(), "fd00:91::1".to_string())
            ],
            "{ra}"
        );
        // The kernel's view: the IPv6 address on eth0 inside, the IPv6 default route.
        let (addr6, len6) = ip6.split_once('/').unwrap();
        let have = v6_addrs(&ip_json_in(sb, &nsa, &["addr"]), "eth0");
        assert!(
            have.iter()
                .any(|(a, l, _)| a == addr6 && l.to_string() == len6),
            "{have:?}"
        );
        let defaults = v6_defaults(&ip_json_in(sb, &nsa, &["-6", "route"]));
        assert_eq!(defaults.len(), 1, "{defaults:?}");
        assert_eq!(
            (&defaults[0].0[..], &defaults[0].1[..]),
            ("fd00:91::1", "eth0")
        );
        // IPv6 TCP: namespace to namespace, and the gateway's address to the namespace.
        let b6 = s(&as_list(rb["ips"].clone())[1], "address")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let port = 7100 + n as u16;
        let mut srv = serve_bound_in(sb, &nsb, port, "pong6", "::");
        assert_eq!(tcp_reply(sb, Some(&nsa), &b6, port), "pong6");
        srv.stop();
        let mut srv = serve_bound_in(sb, &nsa, port, "from-gw", "::");
        let mut from_gw = nettool(sb);
        from_gw.args([
            "connect",
            "tcp",
            addr6,
            &port.to_string(),
            "--source",
            "fd00:91::1",
            "--retry-for",
            "10",
        ]);
        assert_eq!(
            ok("tcp from the gateway", output(from_gw)).trim(),
            "from-gw"
        );
        srv.stop();
        let mut chk = c.clone();
        chk["prevResult"] = ra.clone();
        cni_verb(sb, "CHECK", &a, &nsa, &chk).ok(&format!("CHECK {v}"));
        assert_consistent(sb, &format!("dual-stack ADD {v}"));
        for (id, r) in [(&a, &ra), (&b, &rb)] {
            let mut del = c.clone();
            del["prevResult"] = r.clone();
            cni_verb(sb, "DEL", id, &format!("/run/netns/{id}"), &del).ok("DEL");
        }
        // No IPv6 lease left: the network has no member, and the address is free for `--ip6`.
        assert_eq!(net_inspect(sb, "dual")["containers"], json!([]));
        let probe = format!("probe{n}");
        ok(
            "the runtime's IPv6 address is free again",
            sb.podnet([
                "run",
                "-d",
                "--name",
                &probe,
                "--network",
                "dual",
                "--ip6",
                addr6,
                "--",
                "sleep",
                "infinity",
            ]),
        );
        podnet_ok(sb, &["rm", "-f", &probe]);
    }
}
