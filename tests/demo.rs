//! `podnet demo` (the guided tour), run inside a test sandbox (it makes its own nested one):
//! every check the tour makes passes, and it ends as issue 12 acceptance 6 asks, with the
//! graph of its own scene and one real trace of each kind the scene allows.

mod common;

use common::*;

#[test]
fn the_tour_ends_with_its_graph_and_a_trace_of_each_kind() {
    let sb = sandbox();
    let out = podnet_ok(&sb, &["demo"]);
    // Each step's checks print `ok:`; a failed check fails the command.
    assert!(!out.contains("demo check failed"), "{out}");
    let at = |needle: &str| {
        out.find(needle)
            .unwrap_or_else(|| panic!("no '{needle}' in the demo's output:\n{out}"))
    };
    // The graph of the demo's own scene, before any trace, with nothing flagged.
    let graph = at("podnet graph");
    for line in [
        "network podnet0: bridge podnet0",
        "network db: bridge pn-db",
        "container web (running)",
        "published 0.0.0.0:8080/tcp -> ",
        "service api ",
        "shared by container sidecar",
        "ok: the kernel holds exactly what podnet recorded (no flags)",
    ] {
        assert!(
            at(line) > graph,
            "'{line}' is not in the graph section:\n{out}"
        );
    }
    // One trace of each kind, each with its verdict and the object that decided it.
    let traces = at("$ podnet trace a b:8080");
    assert!(traces > graph, "{out}");
    for line in [
        "REACHED: the packet reached container b",
        "-> network podnet0: its containers talk to each other",
        "$ podnet trace web 198.18.0.2:9000",
        "LEFT THE HOST: the packet left the host through lan0 as 198.18.0.1:",
        "$ podnet trace host 127.0.0.1:8080",
        "dnat in host: 127.0.0.1:8080 -> ",
        "REACHED: the packet reached container web",
        "$ podnet trace a api:80",
        "-> service api, backend b",
        "$ podnet trace a d:80",
        "-> isolation between networks podnet0 and db",
        "DROPPED: networks podnet0 and db are isolated",
    ] {
        assert!(
            at(line) > traces,
            "'{line}' is not in the traces section:\n{out}"
        );
    }
    assert!(at("Done.") > at("DROPPED:"), "{out}");
}
