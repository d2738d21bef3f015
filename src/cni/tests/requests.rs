//! Whole calls: environment + stdin → typed request or refusal, and `run`'s replies.

use serde_json::{json, Value};
use std::path::PathBuf;

use crate::cni::{parse, run, Attachment, Call, Env, Version};

fn env(cmd: &str) -> Env {
    Env::from_pairs([
        ("CNI_COMMAND", cmd),
        ("CNI_CONTAINERID", "0123abc"),
        ("CNI_NETNS", "/var/run/netns/cni-1"),
        ("CNI_IFNAME", "eth0"),
        (
            "CNI_ARGS",
            "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;IgnoreUnknown=1",
        ),
        ("CNI_PATH", "/opt/cni/bin"),
    ])
}

fn stdin(v: Value) -> Vec<u8> {
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn add_carries_everything_the_engine_needs() {
    let conf = json!({
        "cniVersion": "1.0.0", "name": "k8s-pod-network", "type": "podnet",
        "subnet": "10.244.0.0/24",
        "runtimeConfig": {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]}
    });
    let Call::Add(a) = parse(&env("ADD"), &stdin(conf)).unwrap() else {
        panic!()
    };
    assert_eq!(a.version, Version::V1_0_0);
    assert_eq!(
        a.attachment,
        Attachment {
            container_id: "0123abc".into(),
            ifname: "eth0".into()
        }
    );
    assert_eq!(a.netns, PathBuf::from("/var/run/netns/cni-1"));
    assert_eq!(a.conf.name, "k8s-pod-network");
    assert_eq!(
        a.conf.network.subnet,
        Some("10.244.0.0/24".parse().unwrap())
    );
    assert_eq!(a.requests.pod.namespace.as_deref(), Some("default"));
    assert_eq!(a.requests.pod.name.as_deref(), Some("web"));
    assert_eq!(a.requests.ports.len(), 1);
    assert_eq!(a.prev_result, None);
    assert_eq!(a.cni_path, vec![PathBuf::from("/opt/cni/bin")]);
}

#[test]
fn del_and_check_carry_the_prev_result_in_any_version() {
    let prev = |v: &str| match v {
        "0.2.0" => json!({"cniVersion": v, "ip4": {"ip": "10.1.0.5/16"}}),
        "0.4.0" => json!({"cniVersion": v, "interfaces": [{"name": "eth0", "sandbox": "/x"}],
                           "ips": [{"version": "4", "address": "10.1.0.5/16", "interface": 0}]}),
        _ => json!({"cniVersion": v, "interfaces": [{"name": "eth0", "sandbox": "/x"}],
                    "ips": [{"address": "10.1.0.5/16", "interface": 0}]}),
    };
    for v in ["0.2.0", "0.4.0", "1.0.0", "1.1.0"] {
        let conf = json!({"cniVersion": v, "name": "lab", "type": "podnet", "prevResult": prev(v)});
        let Call::Del(d) = parse(&env("DEL"), &stdin(conf.clone())).unwrap() else {
            panic!()
        };
        let p = d.prev_result.unwrap();
        assert_eq!(p.ips[0].address, "10.1.0.5/16".parse().unwrap(), "{v}");
        if v != "0.2.0" {
            let Call::Check(c) = parse(&env("CHECK"), &stdin(conf)).unwrap() else {
                panic!()
            };
            assert_eq!(
                c.prev_result.sandbox_ips("eth0"),
                vec!["10.1.0.5/16".parse().unwrap()]
            );
        }
    }
}

#[test]
fn gc_takes_both_attachment_keys_and_status_needs_no_attachment() {
    let conf = json!({
        "cniVersion": "1.1.0", "name": "lab", "type": "podnet",
        "cni.dev/valid-attachments": [{"containerID": "a", "ifname": "eth0"}, {"containerID": "b", "ifname": "eth0"}],
        "cni.dev/attachments": [{"containerID": "a", "ifname": "eth0"}, {"containerID": "c", "ifname": "net1"}]
    });
    let Call::Gc(g) = parse(
        &Env::from_pairs([("CNI_COMMAND", "GC"), ("CNI_PATH", "/x")]),
        &stdin(conf),
    )
    .unwrap() else {
        panic!()
    };
    let ids: Vec<(&str, &str)> = g
        .valid
        .as_ref()
        .unwrap()
        .iter()
        .map(|a| (a.container_id.as_str(), a.ifname.as_str()))
        .collect();
    assert_eq!(ids, [("a", "eth0"), ("b", "eth0"), ("c", "net1")]);
    let table: [(Value, Option<usize>); 3] = [
        (json!({}), None),
        (json!({"cni.dev/valid-attachments": null}), Some(0)),
        (json!({"cni.dev/attachments": []}), Some(0)),
    ];
    for (extra, want) in table {
        let mut conf = json!({"cniVersion": "1.1.0", "name": "lab", "type": "podnet"});
        conf.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let Call::Gc(g) = parse(
            &Env::from_pairs([("CNI_COMMAND", "GC"), ("CNI_PATH", "/x")]),
            &stdin(conf),
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(g.valid.map(|v| v.len()), want, "{extra}");
    }
    for entry in [
        json!({"containerID": "a"}),
        json!(["a", "eth0"]),
        json!({"containerID": "a", "ifname": 0}),
    ] {
        let bad = json!({"cniVersion": "1.1.0", "name": "lab", "type": "podnet",
                         "cni.dev/valid-attachments": [entry]});
        let r = parse(
            &Env::from_pairs([("CNI_COMMAND", "GC"), ("CNI_PATH", "/x")]),
            &stdin(bad),
        )
        .unwrap_err();
        assert_eq!(r.error.code, 7);
        assert!(
            r.error.msg.contains("cni.dev/valid-attachments[0]"),
            "{r:?}"
        );
    }
    let status = json!({"cniVersion": "1.1.0", "name": "lab", "type": "podnet"});
    assert!(matches!(
        parse(
            &Env::from_pairs([("CNI_COMMAND", "STATUS")]),
            &stdin(status)
        ),
        Ok(Call::Status(_))
    ));
}

/// The conformance table of bad calls: each one's code and the version the error carries.
#[test]
fn refusals_carry_the_right_code_and_version() {
    let ok = |v: &str| json!({"cniVersion": v, "name": "lab", "type": "podnet"});
    let table: [(&str, Vec<u8>, u32, &str); 14] = [
        ("ADD", b"".to_vec(), 6, "1.1.0"),
        ("ADD", b"  \n".to_vec(), 6, "1.1.0"),
        ("ADD", b"{\"cniVersion\":".to_vec(), 6, "1.1.0"),
        ("ADD", b"[1,2]".to_vec(), 6, "1.1.0"),
        ("ADD", stdin(ok("2.0.0")), 1, "1.1.0"),
        ("ADD", stdin(ok("1.0")), 6, "1.1.0"),
        ("CHECK", stdin(ok("0.3.1")), 1, "0.3.1"),
        ("GC", stdin(ok("1.0.0")), 1, "1.0.0"),
        ("STATUS", stdin(ok("0.4.0")), 1, "0.4.0"),
        ("CHECK", stdin(ok("1.0.0")), 7, "1.0.0"),
        (
            "ADD",
            stdin(json!({"cniVersion": "0.4.0", "type": "podnet"})),
            7,
            "0.4.0",
        ),
        (
            "ADD",
            stdin(
                json!({"cniVersion": "1.0.0", "name": "lab", "type": "podnet", "prevResult": {"ips": 1}}),
            ),
            6,
            "1.0.0",
        ),
        (
            "ADD",
            stdin(json!({"cniVersion": "1.0.0", "name": "lab", "type": "podnet", "mtu": "x"})),
            7,
            "1.0.0",
        ),
        (
            "ADD",
            stdin(
                json!({"cniVersion": "0.4.0", "name": "lab", "type": "podnet", "runtimeConfig": {"mac": 5}}),
            ),
            7,
            "0.4.0",
        ),
    ];
    for (cmd, input, code, version) in table {
        let r = parse(&env(cmd), &input).unwrap_err();
        assert_eq!(
            r.error.code,
            code,
            "{cmd} {}: {r:?}",
            String::from_utf8_lossy(&input)
        );
        assert_eq!(r.to_json()["cniVersion"], json!(version), "{cmd}");
    }
    // The environment is checked before stdin is read.
    let r = parse(&Env::from_pairs([("CNI_COMMAND", "ADD")]), b"not json").unwrap_err();
    assert_eq!(r.error.code, 4);
    // CNI_ARGS is checked only for verbs with an attachment.
    let bad_args = Env::from_pairs([("CNI_COMMAND", "STATUS"), ("CNI_ARGS", "FOO=1")]);
    parse(&bad_args, &stdin(ok("1.1.0"))).unwrap();
}

#[test]
fn run_answers_version_without_touching_state() {
    // Directories that cannot exist: VERSION must not need them.
    let dirs = crate::cni::Dirs {
        root: "/nonexistent/podnet-root".into(),
        run_dir: "/nonexistent/podnet-run".into(),
    };
    let r = run(
        &Env::from_pairs([("CNI_COMMAND", "VERSION")]),
        br#"{"cniVersion":"0.4.0"}"#,
        &dirs,
    );
    assert_eq!(r.code, 0);
    let v: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["cniVersion"], json!("0.4.0"));
    assert_eq!(v["supportedVersions"].as_array().unwrap().len(), 7);
    assert!(!std::path::Path::new("/nonexistent/podnet-root").exists());
}

/// DEL goes past what ADD refuses (the runtime repeats a failed DEL, and sends one after a
/// refused ADD), keeping what it needs to find the attachment; only an unusable name or type
/// refuses it.
#[test]
fn del_goes_past_what_add_refuses() {
    let base =
        json!({"cniVersion": "1.1.0", "name": "lab", "type": "podnet", "root": "/var/lib/pk"});
    let table: [(Value, &str, u32); 6] = [
        (json!({"subnet": "fd00::/64"}), "", 2),
        (
            json!({"subnet": "bogus", "ipam": {"type": "host-local"}}),
            "",
            7,
        ),
        (json!({"isGateway": false}), "", 2),
        (
            json!({"runtimeConfig": {"portMappings": [{"hostPort": 80, "containerPort": 80, "hostIP": "ff02::1"}]}}),
            "",
            7,
        ),
        (json!({"prevResult": {"ips": 1}}), "", 6),
        (json!({}), "FOO=1", 4),
    ];
    for (extra, cni_args, add_code) in table {
        let mut conf = base.clone();
        conf.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let env_for = |cmd| {
            Env::from_pairs([
                ("CNI_COMMAND", cmd),
                ("CNI_CONTAINERID", "c1"),
                ("CNI_IFNAME", "eth0"),
                ("CNI_NETNS", "/run/netns/c1"),
                ("CNI_ARGS", cni_args),
            ])
        };
        let r = parse(&env_for("ADD"), &stdin(conf.clone())).unwrap_err();
        assert_eq!(r.error.code, add_code, "ADD {extra} {cni_args}: {r:?}");
        let Call::Del(d) = parse(&env_for("DEL"), &stdin(conf)).unwrap() else {
            panic!()
        };
        assert_eq!(d.ignored, vec![r.error], "DEL {extra} {cni_args}");
        assert_eq!(d.conf.name, "lab");
        assert_eq!(d.conf.root, Some(PathBuf::from("/var/lib/pk")));
        assert_eq!(d.attachment.container_id, "c1");
        assert!(d.requests.ports.is_empty() && d.prev_result.is_none());
    }
    // The IPAM plugin to delegate DEL to survives a configuration that does not parse.
    let conf = json!({"cniVersion": "1.1.0", "name": "lab", "type": "podnet", "mtu": "x",
                      "ipam": {"type": "host-local"}});
    let Call::Del(d) = parse(&env("DEL"), &stdin(conf)).unwrap() else {
        panic!()
    };
    assert_eq!(
        d.conf.ipam,
        crate::cni::Ipam::Delegate {
            plugin: "host-local".into()
        }
    );
    for bad in [
        json!({"cniVersion": "1.1.0", "type": "podnet", "subnet": "x"}),
        json!({"cniVersion": "1.1.0", "name": "a b", "type": "podnet"}),
        json!({"cniVersion": "1.1.0", "name": "lab"}),
    ] {
        let r = parse(&env("DEL"), &stdin(bad.clone())).unwrap_err();
        assert_eq!(r.error.code, 7, "{bad}: {r:?}");
    }
}
