//! `podnet service` acceptance through the CLI, with real packets in a two-machine lab
//! (podnet on `host`, a LAN neighbour `outside`): even spread over three backends (TCP and
//! UDP), reachability from another podnet network, the host and a node port, ClientIP
//! affinity, refusal without backends, hairpin, selector membership following containers,
//! and `podnet gc` restoring every service after `nft flush ruleset`.

mod common;

use common::publish::*;
use common::service::*;
use common::*;

/// Three backends `w1..w3` labelled `app=web` and an idle client container `cl`.
fn three_backends(lab: &podnet::testbed::Lab) {
    for w in ["w1", "w2", "w3"] {
        backend(&lab.host, w, &["app=web", "tier=front"], &[]);
    }
    run_idle(&lab.host, "cl", &[]);
}

/// Acceptance 1: 600 new TCP connections and 600 UDP datagrams (each from a new socket) from
/// a container land 150–250 times on each of three backends.
#[test]
fn tcp_and_udp_spread_evenly_over_three_backends() {
    let lab = lab();
    three_backends(&lab);
    let svc = service(
        &lab.host,
        "web",
        &[
            "--port",
            "80:8080/tcp",
            "--port",
            "53:5353/udp",
            "--selector",
            "app=web",
        ],
    );
    let vip = vip(&svc);
    assert!(vip.starts_with("10.43."), "VIP {vip} not from 10.43.0.0/16");
    assert_eq!(
        backend_ips(&lab.host, "web").len(),
        3,
        "service inspect: {svc}"
    );
    let from = At::Container("cl");
    let m = spread(&lab, from, "tcp", &vip, 80, 600);
    assert_spread("600 TCP connections", &m, &["w1", "w2", "w3"], 150, 250);
    let u = spread(&lab, from, "udp", &vip, 53, 600);
    assert_spread("600 UDP datagrams", &u, &["w1", "w2", "w3"], 150, 250);
    println!("tcp {m:?}\nudp {u:?}");
}

/// Acceptance 2: the VIP answers a container on another podnet network and the host itself;
/// `--node-port` answers the outside machine at the host's LAN address (TCP and UDP), and
/// the backend sees the outside client's own address.
#[test]
fn reachable_from_another_network_the_host_and_a_node_port() {
    let lab = lab();
    three_backends(&lab);
    podnet_ok(&lab.host, &["network", "create", "other"]);
    run_idle(&lab.host, "far", &["--network", "other"]);
    let svc = service(
        &lab.host,
        "web",
        &[
            "--port",
            "80:8080",
            "--port",
            "53:5353/udp",
            "--selector",
            "app=web",
            "--node-port",
            "30080",
        ],
    );
    let vip = vip(&svc);
    let all = ["w1", "w2", "w3"];
    for (what, from) in [
        ("container on network 'other'", At::Container("far")),
        ("host", At::Host),
        ("container on the default network", At::Container("cl")),
    ] {
        for (proto, port) in [("tcp", 80), ("udp", 53)] {
            let m = spread(&lab, from, proto, &vip, port, 30);
            assert!(
                !m.contains_key(NO_REPLY) && answered(&m).iter().all(|n| all.contains(&&n[..])),
                "{proto} from the {what} to {vip}:{port}: {m:?}"
            );
        }
    }
    // The node port on the host's LAN address also answers the host itself and a container.
    for from in [At::Host, At::Container("cl"), At::Container("far")] {
        for proto in ["tcp", "udp"] {
            let m = spread(&lab, from, proto, HOST_IP, 30080, 10);
            assert!(
                !m.contains_key(NO_REPLY),
                "{proto} from {from:?} to node port {HOST_IP}:30080: {m:?}"
            );
        }
    }
    // Node port: same number for TCP and UDP (different protocols share it).
    for proto in ["tcp", "udp"] {
        let m = spread(&lab, At::Outside, proto, HOST_IP, 30080, 30);
        assert!(
            !m.contains_key(NO_REPLY) && m.len() >= 2,
            "{proto} from outside to node port {HOST_IP}:30080 (30 exchanges, 3 backends): {m:?}"
        );
        let reply = reply(&lab, At::Outside, proto, HOST_IP, 30080);
        assert!(
            reply.ends_with(&format!("/{OUTSIDE_IP}")),
            "{proto} via node port: backend should see the client {OUTSIDE_IP}: {reply}"
        );
    }
}

/// Acceptance 2, the other way round: backends on two networks serve one service, reached
/// from either network and from the host.
#[test]
fn backends_on_two_networks_serve_one_service() {
    let lab = lab();
    podnet_ok(&lab.host, &["network", "create", "other"]);
    backend(&lab.host, "near", &["app=web"], &[]);
    backend(&lab.host, "far", &["app=web"], &["--network", "other"]);
    run_idle(&lab.host, "cl", &[]);
    run_idle(&lab.host, "cl2", &["--network", "other"]);
    let svc = service(
        &lab.host,
        "web",
        &[
            "--port",
            "80:8080",
            "--port",
            "53:5353/udp",
            "--selector",
            "app=web",
        ],
    );
    let v = vip(&svc);
    for from in [At::Container("cl"), At::Container("cl2"), At::Host] {
        for (proto, port) in [("tcp", 80), ("udp", 53)] {
            let m = spread(&lab, from, proto, &v, port, 40);
            assert_spread(
                &format!("40 {proto} exchanges from {from:?}"),
                &m,
                &["far", "near"],
                1,
                40,
            );
        }
    }
}

/// Acceptance 3: with `--affinity client-ip`, 50 connections from one client all reach one
/// backend; another client (another container, and the host) is pinned on its own (maybe
/// elsewhere). Pinning is per service port, as in Kubernetes: TCP and UDP are pinned each on
/// its own. The same clients to a service without affinity over the same backends are spread.
#[test]
fn client_ip_affinity_pins_each_client_independently() {
    let lab = lab();
    three_backends(&lab);
    run_idle(&lab.host, "cl2", &[]);
    let sticky = service(
        &lab.host,
        "sticky",
        &[
            "--port",
            "80:8080",
            "--port",
            "53:5353/udp",
            "--selector",
            "app=web",
            "--affinity",
            "client-ip",
            "--affinity-timeout",
            "600",
        ],
    );
    assert_eq!(sticky["affinity_timeout"], 600, "inspect: {sticky}");
    let free = service(
        &lab.host,
        "free",
        &["--port", "80:8080", "--selector", "app=web"],
    );
    let (sv, fv) = (vip(&sticky), vip(&free));
    let mut pinned = vec![];
    for from in [At::Container("cl"), At::Container("cl2"), At::Host] {
        let m = spread(&lab, from, "tcp", &sv, 80, 50);
        assert!(
            m.len() == 1 && !m.contains_key(NO_REPLY),
            "50 TCP connections from {from:?} with affinity must all reach one backend: {m:?}"
        );
        let u = spread(&lab, from, "udp", &sv, 53, 20);
        assert!(
            u.len() == 1 && !u.contains_key(NO_REPLY),
            "20 UDP datagrams from {from:?} with affinity must all reach one backend: {u:?}"
        );
        pinned.push((format!("{from:?}"), m.keys().next().cloned()));
        // Control: without affinity the same client is spread.
        let f = spread(&lab, from, "tcp", &fv, 80, 60);
        assert!(
            f.len() >= 2 && !f.contains_key(NO_REPLY),
            "60 connections from {from:?} without affinity should reach several backends: {f:?}"
        );
    }
    println!("pinned: {pinned:?}");
}

/// Acceptance 4: a service with no backend refuses at once (RST / ICMP port unreachable, not
/// a timeout), TCP and UDP, at its VIP and at its node port; so does an explicit-backend
/// service whose only backend is gone.
#[test]
fn zero_backends_are_refused_not_timed_out() {
    let lab = lab();
    run_idle(&lab.host, "cl", &[]);
    let empty = service(
        &lab.host,
        "empty",
        &[
            "--port",
            "80:8080",
            "--port",
            "53:5353/udp",
            "--selector",
            "app=nobody",
            "--node-port",
            "30090",
        ],
    );
    assert!(
        backend_ips(&lab.host, "empty").is_empty(),
        "inspect: {empty}"
    );
    let ev = vip(&empty);
    assert_refused(&lab, At::Container("cl"), "tcp", &ev, 80);
    assert_refused(&lab, At::Container("cl"), "udp", &ev, 53);
    assert_refused(&lab, At::Host, "tcp", &ev, 80);
    assert_refused(&lab, At::Outside, "tcp", HOST_IP, 30090);
    assert_refused(&lab, At::Outside, "udp", HOST_IP, 30090);

    // An explicit backend that goes away leaves the service empty: refused too.
    backend(&lab.host, "only", &[], &[]);
    let solo = service(
        &lab.host,
        "solo",
        &[
            "--port",
            "80:8080",
            "--port",
            "53:5353/udp",
            "--backend",
            "only",
        ],
    );
    let so = vip(&solo);
    assert!(
        reply(&lab, At::Container("cl"), "tcp", &so, 80).starts_with("only/"),
        "solo answers while its backend runs"
    );
    podnet_ok(&lab.host, &["rm", "-f", "only"]);
    assert!(backend_ips(&lab.host, "solo").is_empty());
    assert_refused(&lab, At::Container("cl"), "tcp", &so, 80);
    assert_refused(&lab, At::Container("cl"), "udp", &so, 53);
}

/// Acceptance 5: hairpin — a backend reaches its own service's VIP and gets an answer, from
/// itself when it is the only backend, and from each backend (itself included) otherwise.
#[test]
fn hairpin_a_backend_reaches_its_own_service() {
    let lab = lab();
    three_backends(&lab);
    let solo = service(
        &lab.host,
        "solo",
        &[
            "--port",
            "80:8080",
            "--port",
            "53:5353/udp",
            "--backend",
            "w1",
        ],
    );
    let web = service(
        &lab.host,
        "web",
        &[
            "--port",
            "80:8080",
            "--port",
            "53:5353/udp",
            "--selector",
            "app=web",
        ],
    );
    for proto in ["tcp", "udp"] {
        let port = if proto == "tcp" { 80 } else { 53 };
        let got = reply(&lab, At::Container("w1"), proto, &vip(&solo), port);
        assert!(
            got.starts_with(&format!("w1/{proto}/")),
            "{proto}: w1 to its own one-backend service must be answered by w1: {got}"
        );
        let m = spread(&lab, At::Container("w1"), proto, &vip(&web), port, 60);
        assert_spread(
            &format!("60 {proto} exchanges from backend w1 to its service"),
            &m,
            &["w1", "w2", "w3"],
            1,
            60,
        );
    }
}

/// Acceptance 7: a selector service follows its containers: a 4th matching container starts
/// receiving connections; a removed one receives none of the next 100; a container that
/// does not match the whole selector never receives any, until `podnet label` completes it.
#[test]
fn selector_membership_follows_containers() {
    let lab = lab();
    three_backends(&lab);
    let svc = service(
        &lab.host,
        "web",
        &["--port", "80:8080", "--selector", "app=web,tier=front"],
    );
    let vip = vip(&svc);
    // Matches only part of the selector: never a backend.
    backend(&lab.host, "half", &["app=web"], &[]);
    let m = spread(&lab, At::Container("cl"), "tcp", &vip, 80, 90);
    assert_spread("before w4", &m, &["w1", "w2", "w3"], 1, 90);

    let w4 = backend(&lab.host, "w4", &["app=web", "tier=front"], &[]);
    assert!(
        backend_ips(&lab.host, "web").contains(&s(&w4, "ip").to_string()),
        "w4's address must be a backend now"
    );
    let m = spread(&lab, At::Container("cl"), "tcp", &vip, 80, 200);
    // Expected 50 each; 20..=80 is about five standard deviations either way.
    assert_spread(
        "200 connections after starting w4",
        &m,
        &["w1", "w2", "w3", "w4"],
        20,
        80,
    );

    let w2_ip = s(&inspect(&lab.host, "w2"), "ip").to_string();
    podnet_ok(&lab.host, &["rm", "-f", "w2"]);
    assert!(
        !backend_ips(&lab.host, "web").contains(&w2_ip),
        "w2's address must no longer be a backend"
    );
    let m = spread(&lab, At::Container("cl"), "tcp", &vip, 80, 100);
    assert_spread(
        "100 connections after removing w2",
        &m,
        &["w1", "w3", "w4"],
        1,
        100,
    );

    // Relabelling: `half` gains the missing label and joins; w1 loses one and leaves.
    podnet_ok(&lab.host, &["label", "half", "tier=front"]);
    podnet_ok(&lab.host, &["label", "w1", "tier=back"]);
    let m = spread(&lab, At::Container("cl"), "tcp", &vip, 80, 100);
    assert_spread(
        "100 connections after relabelling half and w1",
        &m,
        &["half", "w3", "w4"],
        1,
        100,
    );
}

fn sorted_lines(text: &str) -> Vec<String> {
    let mut l: Vec<String> = text.lines().map(|l| l.trim().to_string()).collect();
    l.sort();
    l
}

/// Acceptance 8: after `nft flush ruleset` the services are gone from the kernel; `podnet gc`
/// restores every one of them (selector and explicit backends, affinity, node port, the
/// empty service's refusal) with the same table as before.
#[test]
fn gc_restores_every_service_after_a_ruleset_flush() {
    let lab = lab();
    three_backends(&lab);
    let web = service(
        &lab.host,
        "web",
        &[
            "--port",
            "80:8080",
            "--port",
            "53:5353/udp",
            "--selector",
            "app=web",
            "--node-port",
            "30080",
        ],
    );
    let sticky = service(
        &lab.host,
        "sticky",
        &[
            "--port",
            "80:8080",
            "--backend",
            "w1",
            "--backend",
            "w2",
            "--affinity",
            "client-ip",
        ],
    );
    let empty = service(
        &lab.host,
        "empty",
        &["--port", "80:8080", "--selector", "app=nobody"],
    );
    let (wv, sv, ev) = (vip(&web), vip(&sticky), vip(&empty));
    let table_before = svc_table(&lab.host);
    assert!(table_before.ends_with("rc=0\n"), "{table_before}");
    // Works before.
    reply(&lab, At::Container("cl"), "tcp", &wv, 80);

    ok("nft flush ruleset", lab.host.sh("nft flush ruleset"));
    no_answer(&lab, At::Container("cl"), "tcp", &wv, 80);

    podnet_ok(&lab.host, &["gc"]);
    // The same maps, elements, chains and rules (chains may come in another order).
    assert_eq!(
        sorted_lines(&svc_table(&lab.host)),
        sorted_lines(&table_before),
        "podnet gc must restore the services table as it was:\n{table_before}"
    );
    let m = spread(&lab, At::Container("cl"), "tcp", &wv, 80, 60);
    assert_spread("web tcp after gc", &m, &["w1", "w2", "w3"], 1, 60);
    let u = spread(&lab, At::Container("cl"), "udp", &wv, 53, 60);
    assert_spread("web udp after gc", &u, &["w1", "w2", "w3"], 1, 60);
    let h = spread(&lab, At::Host, "tcp", &wv, 80, 30);
    assert!(
        !h.contains_key(NO_REPLY),
        "web from the host after gc: {h:?}"
    );
    let o = spread(&lab, At::Outside, "tcp", HOST_IP, 30080, 30);
    assert!(
        !o.contains_key(NO_REPLY),
        "web's node port from outside after gc: {o:?}"
    );
    let p = spread(&lab, At::Container("cl"), "tcp", &sv, 80, 30);
    assert!(
        p.len() == 1 && (p.contains_key("w1") || p.contains_key("w2")),
        "sticky after gc: pinned on w1 or w2: {p:?}"
    );
    assert_refused(&lab, At::Container("cl"), "tcp", &ev, 80);
}
