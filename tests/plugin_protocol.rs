//! The built binary as runtimes exec it, in a sandbox: as a CNI plugin (CNI_* variables, the
//! configuration on stdin, no arguments) and as a netavark plugin (`podnet SUBCOMMAND`,
//! JSON on stdin). Checks stdout's JSON and the exit code; the protocol layer's details are
//! unit-tested in src/cni and src/netavark.

mod common;

use common::*;
use podnet::testbed::Sandbox;
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Output, Stdio};

/// CNI variables, stdin, and the error code the plugin must answer with.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a [u8], u64);

const CNI_VARS: [&str; 7] = [
    "CNI_COMMAND",
    "CNI_CONTAINERID",
    "CNI_NETNS",
    "CNI_IFNAME",
    "CNI_ARGS",
    "CNI_PATH",
    "CNI_NETNS_OVERRIDE",
];

/// Runs `cmd` with `stdin` written to it and closed.
fn feed(mut cmd: Command, stdin: &[u8]) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// `podnet` with no arguments and exactly the CNI variables `env`, as a runtime execs it.
fn cni(sb: &Sandbox, env: &[(&str, &str)], stdin: &[u8]) -> (Value, i32) {
    let mut cmd = sb.podnet_cmd::<[&str; 0], &str>([]);
    for v in CNI_VARS {
        cmd.env_remove(v);
    }
    cmd.envs(env.iter().copied());
    let out = feed(cmd, stdin);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            podnet::testbed::describe(&out)
        )
    });
    (v, out.status.code().unwrap_or(-1))
}

fn links(sb: &Sandbox) -> Vec<String> {
    names(&ip_json(sb, &["link", "show"]))
}

#[test]
fn cni_version_answers_every_supported_version() {
    let sb = sandbox();
    for asked in ["0.4.0", "1.0.0", "1.1.0"] {
        let stdin = json!({ "cniVersion": asked }).to_string();
        let (v, code) = cni(&sb, &[("CNI_COMMAND", "VERSION")], stdin.as_bytes());
        assert_eq!(code, 0, "{v}");
        assert_eq!(
            v,
            json!({"cniVersion": asked,
                   "supportedVersions": ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]})
        );
    }
}

#[test]
fn cni_malformed_calls_get_spec_errors_and_leave_nothing() {
    let sb = sandbox();
    let before = links(&sb);
    let add = [
        ("CNI_COMMAND", "ADD"),
        ("CNI_CONTAINERID", "c1"),
        ("CNI_NETNS", "/run/netns/c1"),
        ("CNI_IFNAME", "eth0"),
    ];
    let conf = br#"{"cniVersion":"1.0.0","name":"lab","type":"podnet","subnet":"10.91.0.0/24"}"#;
    let table: [Case; 6] = [
        (&add, b"{not json", 6),
        (&add, b"", 6),
        (&add[..3], conf, 4),
        (
            &add,
            br#"{"cniVersion":"9.0.0","name":"lab","type":"podnet"}"#,
            1,
        ),
        (
            &add,
            br#"{"cniVersion":"1.0.0","name":"lab","type":"podnet","mtu":"big"}"#,
            7,
        ),
        (&[("CNI_COMMAND", "SETUP")], conf, 4),
    ];
    for (env, stdin, want) in table {
        let (v, code) = cni(&sb, env, stdin);
        assert_eq!(code, 1, "{env:?}: {v}");
        assert_eq!(
            v["code"],
            json!(want),
            "{env:?} {}: {v}",
            String::from_utf8_lossy(stdin)
        );
        assert!(v["msg"].is_string() && v["details"].is_string(), "{v}");
        assert!(v["cniVersion"].is_string(), "{v}");
    }
    // A well-formed ADD whose CNI_NETNS is no namespace: code 4 naming it, nothing made.
    let (v, code) = cni(&sb, &add, conf);
    assert_eq!((code, v["code"].clone()), (1, json!(4)), "{v}");
    assert!(v["details"].as_str().unwrap().contains("CNI_NETNS"), "{v}");
    assert_eq!(links(&sb), before, "a refused call made links");
}

#[test]
fn netavark_info_and_a_malformed_setup() {
    let sb = sandbox();
    let out = feed(sb.podnet_cmd(["info"]), b"");
    assert!(out.status.success(), "{}", podnet::testbed::describe(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["api_version"], json!("1.0.0"));
    assert_eq!(v["version"], json!(env!("CARGO_PKG_VERSION")));
    for (args, stdin) in [
        (
            vec!["setup", "/run/netns/c1"],
            &b"{\"container_id\": 5}"[..],
        ),
        (vec!["setup"], &b"{}"[..]),
        (vec!["create"], &b"[]"[..]),
    ] {
        let out = feed(sb.podnet_cmd(&args), stdin);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["error"], "{args:?}: {v}");
    }
}
