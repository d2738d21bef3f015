//! The client sandbox itself: cgroups and system directories kept to itself.

use super::*;

/// The client sandbox itself: runc's cgroups land in the sandbox's own subtree (seen
/// from inside as the root), which is gone after drop even with a container still
/// running; writes to /etc and /var/lib stay inside; the machine's files are readable.
#[test]
fn client_sandbox_keeps_cgroups_and_system_dirs_to_itself() {
    let sb = client_sandbox();
    let dirs = sb.cgroup_dirs();
    assert!(dirs.len() >= 2, "one dir per hierarchy: {dirs:?}");
    let inside = ok("own cgroup", sb.sh("cat /proc/self/cgroup"));
    for line in inside.lines() {
        assert!(
            line.ends_with(":/"),
            "a sandbox process sees its cgroup as /: {line}"
        );
    }
    must(setup_podman(
        &sb,
        &PodmanCni::new("/run/p", "/etc/cni/net.d"),
    ));
    must(podman_ok(
        &sb,
        [
            "run",
            "-d",
            "--name",
            "idle",
            "--network",
            "none",
            BUSYBOX,
            "sleep",
            "1000",
        ],
    ));
    let memory = dirs
        .iter()
        .find(|d| d.to_string_lossy().contains("/memory/"))
        .unwrap_or_else(|| panic!("no memory hierarchy in {dirs:?}"));
    assert!(
        memory.join("libpod_parent").is_dir(),
        "runc's cgroup went elsewhere"
    );
    let machine_parent = memory.parent().unwrap().join("libpod_parent");
    assert!(
        !machine_parent.exists(),
        "{machine_parent:?} made outside the subtree"
    );

    let probes =
        ["/etc", "/var/lib", "/tmp", "/var/tmp"].map(|d| format!("{d}/podnet-harness-probe"));
    for p in &probes {
        ok("write system dirs", sb.sh(&format!("echo x > {p}")));
        assert!(
            !std::path::Path::new(p).exists(),
            "{p} leaked to the machine"
        );
    }
    // The machine's files stay readable, in /tmp too (a tools cache may live there).
    let host_file = tempfile_in_tmp();
    let seen = ok("read /tmp", sb.sh(&format!("cat {}", host_file.display())));
    std::fs::remove_file(&host_file).unwrap();
    assert_eq!(seen, "from the machine\n");
    let os = ok("read /etc", sb.sh("cat /etc/os-release"));
    assert_eq!(os, std::fs::read_to_string("/etc/os-release").unwrap());

    drop(sb); // the container is still running
    for d in &dirs {
        assert!(!d.exists(), "{d:?} left behind");
    }
}

fn tempfile_in_tmp() -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("podnet-harness-{}", std::process::id()));
    std::fs::write(&p, "from the machine\n").unwrap();
    p
}

/// A subtree left by a test process that was killed (its creator's PID and start time no
/// longer match a live process) is removed by the next client sandbox.
#[test]
fn client_sandbox_sweeps_subtrees_of_dead_creators() {
    let first = client_sandbox();
    let parents: Vec<_> = first
        .cgroup_dirs()
        .iter()
        .map(|d| d.parent().unwrap().to_path_buf())
        .collect();
    drop(first);
    // PID 4194304 is above the kernel's pid_max limit: no process has it.
    let stale: Vec<_> = parents
        .iter()
        .map(|p| p.join("podnet-sb-4194304-1-0"))
        .collect();
    for d in &stale {
        std::fs::create_dir(d).unwrap_or_else(|e| panic!("mkdir {d:?}: {e}"));
        std::fs::create_dir(d.join("libpod_parent")).unwrap();
    }
    let second = client_sandbox();
    for d in &stale {
        assert!(!d.exists(), "{d:?} not swept");
    }
    drop(second);
}
