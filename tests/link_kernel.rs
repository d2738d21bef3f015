//! Kernel tests of podnet's link layer, each in a network namespace of its own thread.

use podnet::kernel::{link, Rtnl};
use podnet::testbed::thread_netns::in_netns;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// A podnet bridge is never visible under its name without its store mark: a concurrent
/// podnet of the same store that finds it unmarked takes it for someone else's and refuses
/// (seen as "bridge podnet0 … exists without a store mark" in 50 concurrent first uses).
#[test]
fn a_new_bridge_is_never_seen_unmarked() {
    let (unmarked, seen) = in_netns(|| {
        let done = Arc::new(AtomicBool::new(false));
        let unmarked = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(AtomicUsize::new(0));
        let watcher = {
            let (done, unmarked, seen) = (done.clone(), unmarked.clone(), seen.clone());
            // Spawned from a thread inside the namespace: it starts in the same one.
            std::thread::spawn(move || {
                let mut rtnl = Rtnl::open().expect("rtnetlink");
                while !done.load(Ordering::Relaxed) {
                    if let Some(l) = link::get(&mut rtnl, "pn-race").expect("get") {
                        seen.fetch_add(1, Ordering::Relaxed);
                        if l.alias.is_none() {
                            unmarked.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        };
        let mut rtnl = Rtnl::open().expect("rtnetlink");
        for _ in 0..100 {
            let b = link::ensure_bridge(&mut rtnl, "pn-race", 1500, "podnet:test").expect("bridge");
            assert!(b.created && b.link.up, "{b:?}");
            assert_eq!(b.link.alias.as_deref(), Some("podnet:test"));
            link::delete(&mut rtnl, "pn-race").expect("delete");
        }
        done.store(true, Ordering::Relaxed);
        watcher.join().unwrap();
        let names: Vec<String> = link::list(&mut rtnl)
            .unwrap()
            .into_iter()
            .map(|l| l.name)
            .collect();
        assert_eq!(names, vec!["lo".to_string()], "temporary links left");
        (
            unmarked.load(Ordering::Relaxed),
            seen.load(Ordering::Relaxed),
        )
    });
    assert!(
        seen > 0,
        "the watcher never saw the bridge: the test proves nothing"
    );
    assert_eq!(unmarked, 0, "seen unmarked {unmarked} times of {seen}");
}

/// A name someone else holds is left alone and reported as found, not created.
#[test]
fn an_existing_link_is_found_not_replaced() {
    in_netns(|| {
        let mut rtnl = Rtnl::open().expect("rtnetlink");
        let first = link::ensure_bridge(&mut rtnl, "pn-x", 1500, "podnet:a").unwrap();
        assert!(first.created);
        let again = link::ensure_bridge(&mut rtnl, "pn-x", 1500, "podnet:b").unwrap();
        assert!(!again.created);
        assert_eq!(again.link.alias.as_deref(), Some("podnet:a"));
        assert_eq!(again.link.index, first.link.index);
    });
}

/// gc marks unmarked links its records name; one may vanish between gc's listing and the mark
/// (its container is being removed). That is not an error: there is nothing left to mark
/// (seen in the soak as gc failing with "set alias of pnv43: No such device").
#[test]
fn marking_a_link_that_vanished_is_not_an_error() {
    in_netns(|| {
        let mut rtnl = Rtnl::open().expect("rtnetlink");
        let gone = link::set_alias(&mut rtnl, "pnv-gone", "podnet:test").expect("mark");
        assert!(!gone, "a missing link reported as marked");
        let b = link::ensure_bridge(&mut rtnl, "pn-here", 1500, "podnet:a").expect("bridge");
        assert!(b.created);
        assert!(link::set_alias(&mut rtnl, "pn-here", "podnet:b").expect("mark"));
        let l = link::get(&mut rtnl, "pn-here").unwrap().unwrap();
        assert_eq!(l.alias.as_deref(), Some("podnet:b"));
    });
}

/// The host end of a container's veth comes up as a hairpin port of its bridge in one
/// message; `ip -d link` (not podnet's own reading) sees both. A link on no bridge is refused.
#[test]
fn a_veth_comes_up_as_a_hairpin_port_in_one_message() {
    in_netns(|| {
        let mut rtnl = Rtnl::open().expect("rtnetlink");
        let br = link::ensure_bridge(&mut rtnl, "pn-hp", 1500, "podnet:a").expect("bridge");
        let ns = std::fs::File::open("/proc/thread-self/ns/net").expect("own netns");
        use std::os::fd::AsFd;
        link::create_veth(
            &mut rtnl,
            "pnv-hp",
            Some(br.link.index),
            1500,
            "pnc-hp",
            ns.as_fd(),
            None,
        )
        .expect("veth");
        let shown = |name: &str| -> serde_json::Value {
            // A child of this thread starts in its namespace.
            let out = std::process::Command::new("ip")
                .args(["-j", "-d", "link", "show", name])
                .output()
                .expect("ip");
            assert!(out.status.success(), "{out:?}");
            serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json")[0].clone()
        };
        let before = shown("pnv-hp");
        assert_eq!(
            before["linkinfo"]["info_slave_data"]["hairpin"], false,
            "{before}"
        );
        assert!(
            !before["flags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == "UP"),
            "{before}"
        );
        link::set_up_hairpin(&mut rtnl, "pnv-hp").expect("up with hairpin");
        let after = shown("pnv-hp");
        assert_eq!(
            after["linkinfo"]["info_slave_data"]["hairpin"], true,
            "{after}"
        );
        assert!(
            after["flags"].as_array().unwrap().iter().any(|f| f == "UP"),
            "{after}"
        );
        assert!(
            link::set_up_hairpin(&mut rtnl, "pnc-hp").is_err(),
            "a port of no bridge"
        );
    });
}
