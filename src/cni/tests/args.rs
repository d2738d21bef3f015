//! CNI_ARGS as the runtimes send it, and its errors.

use crate::cni::args::{parse, CniArgs, PodRef};

fn pod(ns: Option<&str>, name: Option<&str>, infra: Option<&str>, uid: Option<&str>) -> PodRef {
    PodRef {
        namespace: ns.map(Into::into),
        name: name.map(Into::into),
        infra_container_id: infra.map(Into::into),
        uid: uid.map(Into::into),
    }
}

#[test]
fn what_podman_and_containerd_send() {
    // Podman 4 (README "What each client actually sent").
    let a = parse("IgnoreUnknown=1;K8S_POD_NAME=web").unwrap();
    assert_eq!(
        a,
        CniArgs {
            ignore_unknown: true,
            pod: pod(None, Some("web"), None, None),
            ..CniArgs::default()
        }
    );
    // containerd 1.6 CRI, in two of the orders seen.
    let want = pod(
        Some("default"),
        Some("nginx"),
        Some("abc123"),
        Some("0f1e-22"),
    );
    for s in [
        "K8S_POD_NAME=nginx;K8S_POD_NAMESPACE=default;K8S_POD_INFRA_CONTAINER_ID=abc123;K8S_POD_UID=0f1e-22;IgnoreUnknown=1",
        "IgnoreUnknown=1;K8S_POD_UID=0f1e-22;K8S_POD_NAMESPACE=default;K8S_POD_INFRA_CONTAINER_ID=abc123;K8S_POD_NAME=nginx",
    ] {
        let a = parse(s).unwrap();
        assert_eq!(a.pod, want, "{s}");
        assert!(a.ignore_unknown);
    }
    // Podman with --ip and --mac-address.
    let a = parse("IgnoreUnknown=1;K8S_POD_NAME=db;MAC=02:42:ac:11:00:09;IP=10.88.0.9").unwrap();
    assert_eq!(a.ips, vec!["10.88.0.9".to_owned()]);
    assert_eq!(a.mac.as_deref(), Some("02:42:ac:11:00:09"));
}

#[test]
fn parsing_rules() {
    let table: [(&str, CniArgs); 6] = [
        ("", CniArgs::default()),
        (
            "K8S_POD_NAME=a;",
            CniArgs {
                pod: pod(None, Some("a"), None, None),
                ..CniArgs::default()
            },
        ),
        (
            "K8S_POD_NAME=a;K8S_POD_NAME=b",
            CniArgs {
                pod: pod(None, Some("b"), None, None),
                ..CniArgs::default()
            },
        ),
        (
            "IP=10.0.0.5,10.0.0.6/24",
            CniArgs {
                ips: vec!["10.0.0.5".into(), "10.0.0.6/24".into()],
                ..CniArgs::default()
            },
        ),
        (
            "IgnoreUnknown=true;FOO=a=b",
            CniArgs {
                ignore_unknown: true,
                unknown: vec![("FOO".into(), "a=b".into())],
                ..CniArgs::default()
            },
        ),
        (
            "K8S_POD_NAMESPACE=;IgnoreUnknown=0",
            CniArgs {
                pod: pod(Some(""), None, None, None),
                ..CniArgs::default()
            },
        ),
    ];
    for (s, want) in table {
        assert_eq!(parse(s).unwrap(), want, "{s:?}");
    }
    for on in ["1", "true", "True", "TRUE"] {
        assert!(
            parse(&format!("IgnoreUnknown={on};X=1"))
                .unwrap()
                .ignore_unknown
        );
    }
}

#[test]
fn bad_cni_args_are_code_4_naming_cni_args() {
    let table: [(&str, &str); 6] = [
        ("K8S_POD_NAME", "not KEY=VALUE"),
        ("=x", "no key"),
        ("FOO=1", "FOO"),
        ("FOO=1;BAR=2;IgnoreUnknown=false", "FOO, BAR"),
        ("IgnoreUnknown=yes", "not a boolean"),
        ("IgnoreUnknown=1;;K8S_POD_NAME", "not KEY=VALUE"),
    ];
    for (s, says) in table {
        let e = parse(s).unwrap_err();
        assert_eq!(e.code, 4, "{s:?}: {e:?}");
        assert_eq!(e.msg, "invalid CNI_ARGS", "{s:?}");
        assert!(e.details.contains(says), "{s:?}: {e:?}");
    }
}
