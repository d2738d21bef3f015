//! The CNI_* environment: every verb's missing variables, invalid values, CNI_PATH.

use crate::cni::{parse, Call, Env};

const CONF: &[u8] = br#"{"cniVersion":"1.1.0","name":"lab","type":"podnet"}"#;

fn env_without(cmd: &str, drop: &[&str]) -> Env {
    env_with(cmd, drop, false)
}

/// Every variable set, except those in `missing`: left out, or set empty when `empty`.
fn env_with(cmd: &str, missing: &[&str], empty: bool) -> Env {
    let all = [
        ("CNI_COMMAND", cmd),
        ("CNI_CONTAINERID", "c1"),
        ("CNI_NETNS", "/run/netns/c1"),
        ("CNI_IFNAME", "eth0"),
        ("CNI_PATH", "/opt/cni/bin"),
    ];
    Env::from_pairs(
        all.into_iter()
            .filter_map(|(k, v)| match missing.contains(&k) {
                false => Some((k, v)),
                true if empty => Some((k, "")),
                true => None,
            }),
    )
}

/// Each verb with each required variable missing (and with all of them missing): code 4, all
/// missing names in `msg`. Empty counts as missing.
#[test]
fn every_missing_required_variable_is_code_4_naming_it() {
    let table: [(&str, &[&str]); 11] = [
        ("ADD", &["CNI_CONTAINERID"]),
        ("ADD", &["CNI_NETNS"]),
        ("ADD", &["CNI_IFNAME"]),
        ("ADD", &["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"]),
        ("CHECK", &["CNI_CONTAINERID"]),
        ("CHECK", &["CNI_NETNS"]),
        ("CHECK", &["CNI_IFNAME"]),
        ("DEL", &["CNI_CONTAINERID"]),
        ("DEL", &["CNI_IFNAME"]),
        ("DEL", &["CNI_CONTAINERID", "CNI_IFNAME"]),
        ("GC", &["CNI_PATH"]),
    ];
    for (cmd, missing) in table {
        for empty in [false, true] {
            let env = env_with(cmd, missing, empty);
            let r = parse(&env, CONF).unwrap_err();
            assert_eq!(r.error.code, 4, "{cmd} without {missing:?}: {r:?}");
            assert_eq!(
                r.error.msg,
                format!("required env variables [{}] missing", missing.join(",")),
                "{cmd}"
            );
        }
    }
}

#[test]
fn optional_variables_may_be_missing() {
    let table: [(&str, &[&str]); 5] = [
        ("ADD", &["CNI_PATH"]),
        ("CHECK", &["CNI_PATH"]),
        ("DEL", &["CNI_NETNS", "CNI_PATH"]),
        (
            "STATUS",
            &["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"],
        ),
        ("GC", &["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"]),
    ];
    let prev = br#"{"cniVersion":"1.1.0","name":"lab","type":"podnet","prevResult":{}}"#;
    for (cmd, missing) in table {
        let env = env_without(cmd, missing);
        let stdin: &[u8] = if cmd == "CHECK" { prev } else { CONF };
        parse(&env, stdin).unwrap_or_else(|r| panic!("{cmd} without {missing:?}: {r:?}"));
    }
    // DEL without a namespace (it is gone) says so in the request.
    match parse(&env_without("DEL", &["CNI_NETNS"]), CONF).unwrap() {
        Call::Del(d) => assert_eq!(d.netns, None),
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalid_values_are_code_4_naming_the_variable() {
    let table: [(&str, &str, &str); 14] = [
        ("CNI_COMMAND", "", "CNI_COMMAND"),
        ("CNI_COMMAND", "add", "CNI_COMMAND"),
        ("CNI_COMMAND", "DELETE", "CNI_COMMAND"),
        ("CNI_CONTAINERID", "-abc", "CNI_CONTAINERID"),
        ("CNI_CONTAINERID", "a b", "CNI_CONTAINERID"),
        ("CNI_CONTAINERID", "a/b", "CNI_CONTAINERID"),
        ("CNI_CONTAINERID", "_x", "CNI_CONTAINERID"),
        ("CNI_IFNAME", "eth0123456789012", "CNI_IFNAME"),
        ("CNI_IFNAME", "..", "CNI_IFNAME"),
        ("CNI_IFNAME", "eth/0", "CNI_IFNAME"),
        ("CNI_IFNAME", "eth:0", "CNI_IFNAME"),
        ("CNI_IFNAME", "eth 0", "CNI_IFNAME"),
        ("CNI_NETNS", "run/netns/c1", "CNI_NETNS"),
        ("CNI_ARGS", "K8S_POD_NAME", "CNI_ARGS"),
    ];
    for (var, val, named) in table {
        let mut pairs = vec![
            ("CNI_COMMAND", "ADD"),
            ("CNI_CONTAINERID", "c1"),
            ("CNI_NETNS", "/run/netns/c1"),
            ("CNI_IFNAME", "eth0"),
        ];
        pairs.retain(|(k, _)| *k != var);
        pairs.push((var, val));
        let r = parse(&Env::from_pairs(pairs), CONF).unwrap_err();
        assert_eq!(r.error.code, 4, "{var}={val:?}: {r:?}");
        assert!(
            r.error.msg.contains(named) || r.error.details.contains(named),
            "{var}={val:?}: {r:?}"
        );
    }
}

#[test]
fn container_ids_and_ifnames_runtimes_use_are_accepted() {
    let ids = [
        "c1",
        "752947ff91f961eb3cb47ffe9315016979f3ffbec09e4d96a4fae3fb03391697",
        "k8s_POD.default-1",
    ];
    for id in ids {
        for ifname in ["eth0", "net1", "123456789012345", "veth_a-b.c"] {
            let env = Env::from_pairs([
                ("CNI_COMMAND", "ADD"),
                ("CNI_CONTAINERID", id),
                ("CNI_NETNS", "/var/run/netns/cni-1"),
                ("CNI_IFNAME", ifname),
            ]);
            match parse(&env, CONF) {
                Ok(Call::Add(a)) => {
                    assert_eq!(a.attachment.container_id, id);
                    assert_eq!(a.attachment.ifname, ifname);
                }
                other => panic!("{id} {ifname}: {other:?}"),
            }
        }
    }
}

#[test]
fn cni_path_splits_on_colons_and_skips_empty_entries() {
    let env = Env::from_pairs([
        ("CNI_COMMAND", "ADD"),
        ("CNI_CONTAINERID", "c1"),
        ("CNI_NETNS", "/run/netns/c1"),
        ("CNI_IFNAME", "eth0"),
        ("CNI_PATH", "/opt/cni/bin::/usr/lib/cni:"),
    ]);
    match parse(&env, CONF).unwrap() {
        Call::Add(a) => assert_eq!(
            a.cni_path,
            vec![
                std::path::PathBuf::from("/opt/cni/bin"),
                std::path::PathBuf::from("/usr/lib/cni")
            ]
        ),
        other => panic!("{other:?}"),
    }
}
