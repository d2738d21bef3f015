//! The runtime's per-attachment requests: capabilities, `args.cni`, CNI_ARGS, precedence.

use serde_json::{json, Map, Value};

use crate::cni::args::{self, CniArgs};
use crate::cni::runtime::{parse, RequestedIp};
use crate::model::{PortMapping, Proto};

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn ip(a: &str, prefix: Option<u8>) -> RequestedIp {
    RequestedIp {
        addr: a.parse().unwrap(),
        prefix,
    }
}

#[test]
fn port_mappings_as_kubelet_and_podman_send_them() {
    let conf = obj(json!({"runtimeConfig": {"portMappings": [
        {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
        {"hostPort": 5353, "containerPort": 53, "protocol": "UDP", "hostIP": "127.0.0.1"},
        {"hostPort": 9000, "containerPort": 9000, "protocol": "sctp", "hostIP": ""},
        {"hostPort": 8443, "containerPort": 443, "hostIP": "0.0.0.0"},
        {"hostPort": 8444, "containerPort": 443, "hostIP": "::"},
        {"hostPort": 8445, "containerPort": 443, "hostIP": "::1"}
    ]}}));
    let r = parse(&conf, &CniArgs::default()).unwrap();
    let pm = |h: u16, c: u16, proto, ip: Option<&str>| PortMapping {
        host_ip: ip.map(|s| s.parse().unwrap()),
        host_port: h,
        container_port: c,
        proto,
    };
    assert_eq!(
        r.ports,
        vec![
            pm(8080, 80, Proto::Tcp, None),
            pm(5353, 53, Proto::Udp, Some("127.0.0.1")),
            pm(9000, 9000, Proto::Sctp, None),
            // A hostIP keeps the port to its family (the reference portmap plugin's rule).
            pm(8443, 443, Proto::Tcp, Some("0.0.0.0")),
            pm(8444, 443, Proto::Tcp, Some("::")),
            pm(8445, 443, Proto::Tcp, Some("::1")),
        ]
    );
}

#[test]
fn port_mappings_as_containerd_1_6_sends_them() {
    // go-cni's PortMapping has no JSON tags: the Go field names arrive.
    let conf = obj(json!({"runtimeConfig": {"portMappings": [
        {"HostPort": 18081, "ContainerPort": 8080, "Protocol": "tcp", "HostIP": ""},
        {"HostPort": 5353, "ContainerPort": 53, "Protocol": "udp", "HostIP": "127.0.0.1"}
    ]}}));
    let r = parse(&conf, &CniArgs::default()).unwrap();
    let want = vec![
        PortMapping {
            host_ip: None,
            host_port: 18081,
            container_port: 8080,
            proto: Proto::Tcp,
        },
        PortMapping {
            host_ip: Some("127.0.0.1".parse().unwrap()),
            host_port: 5353,
            container_port: 53,
            proto: Proto::Udp,
        },
    ];
    assert_eq!(r.ports, want);
}

#[test]
fn addresses_and_mac_follow_the_conventions_precedence() {
    let cargs = args::parse("IgnoreUnknown=1;IP=10.0.0.7;MAC=02:00:00:00:00:07").unwrap();
    let table: [(Value, Vec<RequestedIp>, &str); 5] = [
        (json!({}), vec![ip("10.0.0.7", None)], "02:00:00:00:00:07"),
        (
            json!({"args": {"cni": {"ips": ["10.0.0.8/24"]}}}),
            vec![ip("10.0.0.8", Some(24))],
            "02:00:00:00:00:07",
        ),
        (
            json!({"runtimeConfig": {"ips": ["10.0.0.9", "10.0.0.10/24"], "mac": "02:00:00:00:00:09"},
                   "args": {"cni": {"ips": ["10.0.0.8"]}}}),
            vec![ip("10.0.0.9", None), ip("10.0.0.10", Some(24))],
            "02:00:00:00:00:09",
        ),
        (
            json!({"runtimeConfig": {"ips": []}}),
            vec![],
            "02:00:00:00:00:07",
        ),
        (
            json!({"runtimeConfig": {"ips": ["fd00:91::9/64", "10.0.0.9"]}}),
            vec![ip("fd00:91::9", Some(64)), ip("10.0.0.9", None)],
            "02:00:00:00:00:07",
        ),
    ];
    for (conf, ips, mac) in table {
        let r = parse(&obj(conf.clone()), &cargs).unwrap();
        assert_eq!(r.ips, ips, "{conf}");
        assert_eq!(r.mac.unwrap().to_string(), mac, "{conf}");
    }
    // CNI_ARGS IP with both families (Podman 4's --ip and --ip6).
    let both = args::parse("IP=10.0.0.7,fd00:91::7/64").unwrap();
    let r = parse(&obj(json!({})), &both).unwrap();
    assert_eq!(
        r.ips,
        vec![ip("10.0.0.7", None), ip("fd00:91::7", Some(64))]
    );
}

#[test]
fn labels_pod_and_ignored_capabilities() {
    let cargs = args::parse("K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p").unwrap();
    let r = parse(
        &obj(json!({
            "args": {"cni": {"labels": [{"key": "app", "value": "web"}, {"key": "tier", "value": ""}]}, "other": 1},
            "runtimeConfig": {"aliases": {"lab": ["web"]}, "bandwidth": {"ingressRate": 1}}
        })),
        &cargs,
    )
    .unwrap();
    assert_eq!(
        r.labels,
        vec![("app".into(), "web".into()), ("tier".into(), String::new())]
    );
    assert_eq!(r.pod.namespace.as_deref(), Some("ns"));
    assert_eq!(r.pod.name.as_deref(), Some("p"));
    assert!(r.ports.is_empty() && r.ips.is_empty() && r.mac.is_none());
    // `args` that are not podnet's are ignored whatever their shape.
    for a in [json!("x"), json!([1]), json!({"cni": null})] {
        parse(&obj(json!({ "args": a })), &CniArgs::default()).unwrap();
    }
}

#[test]
fn bad_requests_name_their_source() {
    let table: [(Value, &str, u32, &str); 27] = [
        (json!({"runtimeConfig": []}), "", 7, "runtimeConfig"),
        (
            json!({"runtimeConfig": {"portMappings": [[8080, 80]]}}),
            "",
            7,
            "runtimeConfig.portMappings[0]",
        ),
        (json!({"args": {"cni": ["10.0.0.1"]}}), "", 7, "args.cni"),
        (
            json!({"runtimeConfig": {"portMappings": {}}}),
            "",
            7,
            "runtimeConfig.portMappings",
        ),
        (
            json!({"runtimeConfig": {"portMappings": [{"hostPort": 80}]}}),
            "",
            7,
            "runtimeConfig.portMappings[0]",
        ),
        (
            json!({"runtimeConfig": {"portMappings": [{"hostPort": 0, "containerPort": 80}]}}),
            "",
            7,
            "runtimeConfig.portMappings[0].hostPort",
        ),
        (
            json!({"runtimeConfig": {"portMappings": [{"hostPort": 70000, "containerPort": 80}]}}),
            "",
            7,
            "runtimeConfig.portMappings[0].hostPort",
        ),
        (
            json!({"runtimeConfig": {"portMappings": [{"hostPort": 80, "containerPort": "80"}]}}),
            "",
            7,
            "runtimeConfig.portMappings[0].containerPort",
        ),
        (
            json!({"runtimeConfig": {"portMappings": [{"hostPort": 80, "containerPort": 80, "protocol": "icmp"}]}}),
            "",
            7,
            "runtimeConfig.portMappings[0].protocol",
        ),
        (
            json!({"runtimeConfig": {"portMappings": [{"hostPort": 80, "containerPort": 80, "hostIP": "ff02::1"}]}}),
            "",
            7,
            "runtimeConfig.portMappings[0].hostIP",
        ),
        (
            json!({"runtimeConfig": {"portMappings": [{"hostPort": 80, "containerPort": 80, "hostIP": "::ffff:10.0.0.1"}]}}),
            "",
            7,
            "runtimeConfig.portMappings[0].hostIP",
        ),
        (
            json!({"runtimeConfig": {"portMappings": [{"hostPort": 80, "containerPort": 80, "hostIP": "[::1]"}]}}),
            "",
            7,
            "runtimeConfig.portMappings[0].hostIP",
        ),
        (
            json!({"runtimeConfig": {"portMappings": [{"hostPort": 80, "containerPort": 80, "hostIP": "localhost"}]}}),
            "",
            7,
            "runtimeConfig.portMappings[0].hostIP",
        ),
        (
            json!({"runtimeConfig": {"ips": ["10.0.0.1/33"]}}),
            "",
            7,
            "runtimeConfig.ips[0]",
        ),
        (
            json!({"runtimeConfig": {"ips": ["10.0.0.1", "fd00::1/129"]}}),
            "",
            7,
            "runtimeConfig.ips[1]",
        ),
        (
            json!({"runtimeConfig": {"ips": ["fe80::1"]}}),
            "",
            7,
            "runtimeConfig.ips[0]",
        ),
        (
            json!({"runtimeConfig": {"ips": ["ff02::1"]}}),
            "",
            7,
            "runtimeConfig.ips[0]",
        ),
        (
            json!({"runtimeConfig": {"ips": ["::"]}}),
            "",
            7,
            "runtimeConfig.ips[0]",
        ),
        (
            json!({"args": {"cni": {"ips": ["::ffff:10.0.0.1"]}}}),
            "",
            7,
            "args.cni.ips[0]",
        ),
        (
            json!({"runtimeConfig": {"mac": "01:00:5e:00:00:01"}}),
            "",
            7,
            "runtimeConfig.mac",
        ),
        (
            json!({"args": {"cni": {"ips": "10.0.0.1"}}}),
            "",
            7,
            "args.cni.ips",
        ),
        (
            json!({"args": {"cni": {"labels": [{"key": "a"}]}}}),
            "",
            7,
            "args.cni.labels[0]",
        ),
        (json!({}), "IP=10.0.0.x", 4, "CNI_ARGS"),
        (json!({}), "IP=10.0.0.1,fd00::x", 4, "CNI_ARGS"),
        (json!({}), "IP=fe80::1%eth0", 4, "CNI_ARGS"),
        (json!({}), "IP=::1", 4, "CNI_ARGS"),
        (json!({}), "MAC=zz", 4, "CNI_ARGS"),
    ];
    for (conf, cni_args, code, named) in table {
        let cargs = args::parse(cni_args).unwrap();
        let e = parse(&obj(conf.clone()), &cargs).unwrap_err();
        assert_eq!(e.code, code, "{conf} {cni_args}: {e:?}");
        assert!(
            e.msg.contains(named),
            "{conf} {cni_args}: want {named:?} in {e:?}"
        );
    }
}
