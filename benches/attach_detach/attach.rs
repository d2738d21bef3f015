//! The attach phase: podnet's attach/detach and run/rm at each level, beside the floors.

use crate::bench::{attach_argv, host_veth_of, ms_since, timed, timed_with, Bench};
use crate::common::reap;
use crate::floors::network_facts;
use crate::opts::Opts;
use podnet::kernel::{link, netns};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Published ports of the measured operations (the populated containers use 20000 + i).
pub(crate) const TRIAL_PORT_ATTACH: &str = "10001:80";
pub(crate) const TRIAL_PORT_RUN: &str = "10002:80";
/// Host port of the measured CNI ADD (its `portMappings` capability).
pub(crate) const TRIAL_PORT_CNI: u16 = 10004;
pub(crate) const FILL_PORT_BASE: usize = 20000;

impl Bench {
    /// `podnet attach` of a fresh namespace (with `-p SPEC` when `publish` is given) then
    /// `podnet detach`; returns (attach, detach) ms.
    pub(crate) fn podnet_attach_detach(&mut self, publish: Option<&str>) -> (f64, f64) {
        let extra: Vec<&str> = publish.into_iter().flat_map(|p| ["-p", p]).collect();
        self.attach_detach_fresh("a", &extra, timed)
    }

    /// podnet as a CNI plugin, exec'd as a runtime does (env + config on stdin): ADD of a
    /// fresh namespace to the network the CLI made, one port mapping, then DEL; returns (ADD,
    /// DEL) ms. The peers' "CNI ADD br+pm+fw" is the same call to the reference chain.
    /// `agent`: the plugin hands the calls to the agent (which runs through the whole
    /// phase); otherwise it does them itself (`PODNET_CNI_AGENT=0`).
    pub(crate) fn podnet_cni_add_del(&mut self, agent: bool) -> (f64, f64) {
        let ns = self.new_netns("c");
        let id = format!("bench{}", self.next());
        let ns_s = ns.to_string_lossy().into_owned();
        let conf = json!({
            "cniVersion": "1.0.0",
            "name": "podnet0",
            "type": "podnet",
            "capabilities": {"portMappings": true},
            "runtimeConfig": {"portMappings": [
                {"hostPort": TRIAL_PORT_CNI, "containerPort": 80, "protocol": "tcp"}
            ]},
        })
        .to_string();
        let dir = std::path::Path::new(self.podnet)
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let env = |cmd: &'static str| {
            [
                ("CNI_COMMAND", cmd),
                ("CNI_CONTAINERID", id.as_str()),
                ("CNI_NETNS", ns_s.as_str()),
                ("CNI_IFNAME", "eth0"),
                ("CNI_PATH", dir.as_str()),
                ("PODNET_CNI_AGENT", if agent { "1" } else { "0" }),
            ]
        };
        let add = timed_with(&[self.podnet], &env("ADD"), Some(conf.as_bytes()));
        self.settle();
        let del = timed_with(&[self.podnet], &env("DEL"), Some(conf.as_bytes()));
        netns::remove(&ns).expect("remove netns");
        self.settle();
        (add, del)
    }

    /// `podnet run -d [-p SPEC] … sleep infinity` then `podnet rm -f`; returns (run, rm, veth
    /// gone) ms: the last is from the start of `rm` until the kernel removed the host veth
    /// (async).
    pub(crate) fn podnet_run_rm(&mut self, publish: Option<&str>) -> (f64, f64, f64) {
        let name = format!("r{}", self.next());
        let mut argv = vec![self.podnet, "run", "-d", "--name", &name];
        if let Some(p) = publish {
            argv.extend(["-p", p]);
        }
        argv.extend(["--", "sleep", "infinity"]);
        let run = timed(&argv);
        // The host veth of the newest endpoint: read it back from podnet's record.
        let veth = host_veth_of(self.podnet, &name);
        self.settle();
        let t0 = Instant::now();
        let rm = timed(&[self.podnet, "rm", "-f", &name]);
        // Wait for the kernel to finish destroying the namespace's veth (deterministic settle).
        let deadline = Instant::now() + Duration::from_secs(10);
        while link::get(&mut self.host, &veth)
            .expect("get link")
            .is_some()
        {
            assert!(
                Instant::now() < deadline,
                "veth {veth} still there 10 s after rm"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        let gone = ms_since(t0);
        reap();
        self.settle();
        (run, rm, gone)
    }

    pub(crate) fn strace(&mut self, n: usize) {
        let Some(dir) = self.strace_dir.clone() else {
            return;
        };
        let st = |file: &str, argv: &[&str]| {
            let out = dir.join(format!("strace-{file}-n{n}.txt"));
            let o = out.to_string_lossy().into_owned();
            // -b execve: follow podnet's threads but not the container process it starts.
            let mut full = vec!["strace", "-f", "-b", "execve", "-tt", "-T", "-o", &o];
            full.extend_from_slice(argv);
            timed(&full);
        };
        for (suffix, publish) in [("", None), ("-p", Some(TRIAL_PORT_ATTACH))] {
            let ns = self.new_netns("s");
            let ns_s = ns.to_string_lossy().into_owned();
            let name = format!("s{}", self.next());
            let extra: Vec<&str> = publish.into_iter().flat_map(|p| ["-p", p]).collect();
            st(
                &format!("attach{suffix}"),
                &attach_argv(self.podnet, &ns_s, &name, &extra),
            );
            st(&format!("detach{suffix}"), &[self.podnet, "detach", &name]);
            netns::remove(&ns).expect("remove netns");
            let name = format!("s{}", self.next());
            let mut argv = vec![self.podnet, "run", "-d", "--name", &name];
            if let Some(p) = publish {
                argv.extend(["-p", p]);
            }
            argv.extend(["--", "sleep", "infinity"]);
            st(&format!("run{suffix}"), &argv);
            st(&format!("rm{suffix}"), &[self.podnet, "rm", "-f", &name]);
        }
        reap();
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn attach_phase(bench: &mut Bench, opts: &Opts) {
    // First use creates the default network: timed once, reported apart.
    let ns = bench.new_netns("first");
    let ns_s = ns.to_string_lossy().into_owned();
    let first = timed(&[bench.podnet, "attach", "--netns", &ns_s, "--name", "first"]);
    timed(&[bench.podnet, "detach", "first"]);
    netns::remove(&ns).expect("remove netns");
    bench.record("podnet", "attach_first_use", 0, &[first], json!({}));
    let net = network_facts(bench.podnet, &mut bench.host);
    // The host's agent, as under systemd: the CNI calls handed to it are measured beside the
    // plugin doing them itself (it dies with the bench's sandbox).
    timed(&[bench.podnet, "agent"]);

    let mut attached = 0usize;
    for &n in &opts.levels {
        // Populate (untimed): podnet attach of pre-created namespaces, each with its own port.
        let t0 = Instant::now();
        while attached < n {
            let ns = PathBuf::from(format!("/run/netns/fill{attached}"));
            netns::create(&ns).expect("create netns");
            let ns_s = ns.to_string_lossy().into_owned();
            let name = format!("fill{attached}");
            let port = format!("{}:80", FILL_PORT_BASE + attached);
            let extra: &[&str] = if opts.fill_ports { &["-p", &port] } else { &[] };
            timed(&attach_argv(bench.podnet, &ns_s, &name, extra));
            attached += 1;
        }
        eprintln!(
            "level n={n}: {attached} containers attached{} (populating took {:.1} s)",
            if opts.fill_ports {
                ", one published port each"
            } else {
                ""
            },
            t0.elapsed().as_secs_f64()
        );
        std::thread::sleep(Duration::from_millis(200));

        let mut v: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for trial in 0..opts.warmup + opts.trials {
            let keep = trial >= opts.warmup;
            // One of each, interleaved, so slow drifts of the machine hit every op alike.
            let (a, d) = bench.podnet_attach_detach(None);
            let (ap, dp) = bench.podnet_attach_detach(Some(TRIAL_PORT_ATTACH));
            let (run, rm, gone) = bench.podnet_run_rm(None);
            let (runp, rmp, gonep) = bench.podnet_run_rm(Some(TRIAL_PORT_RUN));
            let (cni_add, cni_del) = bench.podnet_cni_add_del(false);
            let (cni_add_agent, cni_del_agent) = bench.podnet_cni_add_del(true);
            let (ka, kd) = bench.floor_veth(&net);
            let kf = bench.floor_attach_full(&net);
            let fp = bench.floor_attach_full_p(&net);
            let (na, nd) = bench.floor_netns(&net);
            let t = timed(&["/bin/true"]);
            let ver = timed(&[bench.podnet, "--version"]);
            if keep {
                for (k, x) in [
                    ("attach", a),
                    ("detach", d),
                    ("attach_p", ap),
                    ("detach_p", dp),
                    ("run", run),
                    ("rm", rm),
                    ("rm_veth_gone", gone),
                    ("run_p", runp),
                    ("rm_p", rmp),
                    ("rm_p_veth_gone", gonep),
                    ("cni_add_p", cni_add),
                    ("cni_del_p", cni_del),
                    ("cni_add_p_agent", cni_add_agent),
                    ("cni_del_p_agent", cni_del_agent),
                    ("kernel_veth_add", ka),
                    ("kernel_veth_del", kd),
                    ("kernel_attach_full", kf),
                    ("kernel_attach_full_p", fp.full),
                    ("kernel_nft_port_add", fp.nft_add),
                    ("kernel_nft_close_after_add", fp.add_close),
                    ("kernel_nft_port_del", fp.nft_del),
                    ("kernel_nft_close_after_del", fp.del_close),
                    ("kernel_detach_p", fp.detach),
                    ("kernel_netns_add", na),
                    ("kernel_netns_del", nd),
                    ("proc_spawn_true", t),
                    ("version", ver),
                ] {
                    v.entry(k).or_default().push(x);
                }
            }
        }
        for (k, xs) in &v {
            let tool = if k.starts_with("kernel_") || k.starts_with("proc_") {
                "floor"
            } else {
                "podnet"
            };
            bench.record(
                tool,
                k,
                n,
                xs,
                json!({"settle_ms": opts.settle_ms, "fill_ports": opts.fill_ports}),
            );
        }
        bench.strace(n);
    }
}
