//! Kernel tests of `kernel::nft::coexist` and `kernel::nft::query`: each runs
//! in its own network namespace, with iptables (nft backend) making the
//! foreign `ip filter FORWARD` chain the way Docker does.

use std::process::Command;

use podnet::kernel::nft::coexist::{sync_forward_accepts, Bridge, Outcome};
use podnet::kernel::nft::{query, Family, NftSocket, Policy};
use podnet::testbed::thread_netns::{in_netns, run};

#[path = "common/iptables_nft.rs"]
mod iptables_nft;
use iptables_nft::require_iptables_nft;

/// `iptables -S FORWARD`, asserting it printed no warning at all.
fn iptables_s() -> String {
    let out = Command::new("iptables")
        .args(["-S", "FORWARD"])
        .output()
        .expect("iptables");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "iptables -S failed: {err}");
    assert!(err.trim().is_empty(), "iptables warned: {err}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text.contains("incompatible") && !text.contains("unsupported") && !text.contains('#'),
        "{text}"
    );
    text
}

fn docker_like() {
    run("iptables", &["-P", "FORWARD", "DROP"]);
    run("iptables", &["-N", "DOCKER-USER"]);
    run("iptables", &["-A", "FORWARD", "-j", "DOCKER-USER"]);
    run(
        "iptables",
        &[
            "-A",
            "FORWARD",
            "-o",
            "docker0",
            "-m",
            "conntrack",
            "--ctstate",
            "RELATED,ESTABLISHED",
            "-j",
            "ACCEPT",
        ],
    );
    run(
        "iptables",
        &["-A", "FORWARD", "-i", "docker0", "-j", "ACCEPT"],
    );
}

const DOCKER: &str = "-A FORWARD -j DOCKER-USER\n\
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
-A FORWARD -i docker0 -j ACCEPT\n";

fn podnet_lines(bridges: &[&str]) -> String {
    bridges
        .iter()
        .flat_map(|b| {
            [
                format!("-A FORWARD -i {b} -m comment --comment podnet -j ACCEPT\n"),
                format!("-A FORWARD -o {b} -m comment --comment podnet -j ACCEPT\n"),
            ]
        })
        .collect()
}

fn sync(bridges: &[Bridge]) -> Outcome {
    let mut s = NftSocket::open().unwrap();
    sync_forward_accepts(&mut s, || Ok::<_, ()>(bridges.to_vec()))
        .unwrap()
        .unwrap()
}

/// What a sync under a FORWARD policy of accept did.
fn accepted(inserted: usize, deleted: usize) -> Outcome {
    Outcome::Synced {
        policy_drop: false,
        inserted,
        deleted,
    }
}

/// What a sync under a FORWARD policy of drop did.
fn synced(inserted: usize, deleted: usize) -> Outcome {
    Outcome::Synced {
        policy_drop: true,
        inserted,
        deleted,
    }
}

#[test]
fn podnet_rules_in_a_docker_forward_chain() {
    require_iptables_nft();
    in_netns(|| {
        docker_like();
        let two = [Bridge::open("podnet0"), Bridge::open("pn-web")];
        assert_eq!(sync(&two), synced(4, 0));
        let head = "-P FORWARD DROP\n";
        assert_eq!(
            iptables_s(),
            format!("{head}{}{DOCKER}", podnet_lines(&["podnet0", "pn-web"]))
        );
        // Idempotent: nothing to change, the generation stays.
        let mut s = NftSocket::open().unwrap();
        let g = query::generation(&mut s).unwrap();
        assert_eq!(sync(&two), synced(0, 0));
        assert_eq!(query::generation(&mut s).unwrap(), g);

        // One bridge left: exactly its two rules.
        assert_eq!(sync(&[Bridge::open("pn-web")]), synced(0, 2));
        assert_eq!(
            iptables_s(),
            format!("{head}{}{DOCKER}", podnet_lines(&["pn-web"]))
        );
        assert_eq!(sync(&[Bridge::open("pn-web")]), synced(0, 0));

        // Someone deletes one of them: it comes back at the top.
        run(
            "iptables",
            &[
                "-D",
                "FORWARD",
                "-o",
                "pn-web",
                "-m",
                "comment",
                "--comment",
                "podnet",
                "-j",
                "ACCEPT",
            ],
        );
        assert_eq!(sync(&[Bridge::open("pn-web")]), synced(1, 0));
        assert_eq!(
            iptables_s(),
            format!(
                "{head}-A FORWARD -o pn-web -m comment --comment podnet -j ACCEPT\n\
                 -A FORWARD -i pn-web -m comment --comment podnet -j ACCEPT\n{DOCKER}"
            )
        );

        // No bridges: none left, Docker's rules untouched.
        assert_eq!(sync(&[]), synced(0, 2));
        assert_eq!(iptables_s(), format!("{head}{DOCKER}"));
        assert_eq!(sync(&[]), synced(0, 0));
    });
}

#[test]
fn internal_bridge_gets_one_same_bridge_rule() {
    require_iptables_nft();
    in_netns(|| {
        run("iptables", &["-P", "FORWARD", "DROP"]);
        assert_eq!(sync(&[Bridge::internal("pn-int")]), synced(1, 0));
        assert_eq!(
            iptables_s(),
            "-P FORWARD DROP\n-A FORWARD -i pn-int -o pn-int -m comment --comment podnet -j ACCEPT\n"
        );
        // Turning it into an open network swaps the rules in one batch.
        assert_eq!(sync(&[Bridge::open("pn-int")]), synced(2, 1));
        assert_eq!(
            iptables_s(),
            format!("-P FORWARD DROP\n{}", podnet_lines(&["pn-int"]))
        );
    });
}

#[test]
fn accept_policy_or_no_chain_means_no_rules() {
    require_iptables_nft();
    in_netns(|| {
        // No table at all.
        assert_eq!(sync(&[Bridge::open("podnet0")]), Outcome::NoChain);
        assert_eq!(run("nft", &["list", "ruleset"]), "");
        // Chain with policy accept: nothing added.
        run(
            "iptables",
            &["-A", "FORWARD", "-i", "docker0", "-j", "ACCEPT"],
        );
        let out = sync(&[Bridge::open("podnet0")]);
        assert_eq!(out, accepted(0, 0));
        // DROP is set later: the next sync adds; ACCEPT again: the next removes.
        run("iptables", &["-P", "FORWARD", "DROP"]);
        assert_eq!(sync(&[Bridge::open("podnet0")]), synced(2, 0));
        run("iptables", &["-P", "FORWARD", "ACCEPT"]);
        let out = sync(&[Bridge::open("podnet0")]);
        assert_eq!(out, accepted(0, 2));
        assert_eq!(
            iptables_s(),
            "-P FORWARD ACCEPT\n-A FORWARD -i docker0 -j ACCEPT\n"
        );
    });
}

#[test]
fn query_reads_chain_and_rules() {
    require_iptables_nft();
    in_netns(|| {
        run("iptables", &["-P", "FORWARD", "DROP"]);
        run(
            "iptables",
            &[
                "-A",
                "FORWARD",
                "-i",
                "eth0",
                "-m",
                "comment",
                "--comment",
                "hello",
                "-j",
                "ACCEPT",
            ],
        );
        run(
            "nft",
            &[
                "add",
                "rule",
                "ip",
                "filter",
                "FORWARD",
                "oifname",
                "\"x\"",
                "counter",
                "accept",
                "comment",
                "\"tagged\"",
            ],
        );
        let mut s = NftSocket::open().unwrap();
        let c = query::get_chain(&mut s, Family::Ip, "filter", "FORWARD")
            .unwrap()
            .unwrap();
        assert_eq!(c.policy, Some(Policy::Drop));
        assert_eq!(c.hook, Some((2, 0)));
        assert_eq!(c.kind.as_deref(), Some("filter"));
        assert_eq!(
            query::get_chain(&mut s, Family::Ip, "filter", "NOPE").unwrap(),
            None
        );
        assert_eq!(
            query::get_chain(&mut s, Family::Ip, "nope", "FORWARD").unwrap(),
            None
        );
        let rules = query::list_rules(&mut s, Family::Ip, "filter", "FORWARD").unwrap();
        assert_eq!(rules.len(), 2, "{rules:?}");
        // iptables 1.8.9 writes -m comment as an xt match: opaque to podnet.
        assert_eq!(rules[0].opaque, vec!["match".to_string()]);
        assert_eq!(rules[1].comment().as_deref(), Some("tagged"));
        assert!(rules[1].opaque.is_empty());
        assert!(rules[0].handle != rules[1].handle);
        assert!(query::list_rules(&mut s, Family::Ip, "filter", "INPUT")
            .unwrap()
            .is_empty());
        assert!(query::list_rules(&mut s, Family::Ip, "nope", "x")
            .unwrap()
            .is_empty());
    });
}

/// A batch bound to a generation is refused whole (ERESTART) once anything
/// else committed a change; bound to the current one it goes in.
#[test]
fn genid_bound_batch_refused_after_a_change() {
    require_iptables_nft();
    in_netns(|| {
        run("iptables", &["-P", "FORWARD", "DROP"]);
        let mut s = NftSocket::open().unwrap();
        let old = query::generation(&mut s).unwrap();
        run("iptables", &["-A", "FORWARD", "-i", "eth0", "-j", "ACCEPT"]);
        let mut b = podnet::kernel::nft::coexist::Plan {
            insert: podnet::kernel::nft::coexist::desired(&[Bridge::open("br0")]),
            delete: vec![],
        }
        .batch();
        b.set_genid(old);
        match s.apply(&b) {
            Err(podnet::kernel::nft::NftError::Rejected(e)) => {
                assert!(e.iter().all(|e| e.errno == libc::ERESTART), "{e:?}")
            }
            other => panic!("expected ERESTART, got {other:?}"),
        }
        assert_eq!(
            iptables_s(),
            "-P FORWARD DROP\n-A FORWARD -i eth0 -j ACCEPT\n"
        );
        b.set_genid(query::generation(&mut s).unwrap());
        s.apply(&b).unwrap();
        assert_eq!(iptables_s().lines().count(), 4);
    });
}
