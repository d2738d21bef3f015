//! What is measured at each level in the podnet sandbox: the full re-load, the change ops
//! beside their controls and floors, connect() latency, and the optional strace/perf.

use crate::bench::{ms_since, podnet_json, timed};
use crate::common::reap;
use crate::podnet_phase::{svc, Podnet, SETTLE};
use crate::traffic::connects;
use podnet::kernel::netns;
use podnet::kernel::nft::NftSocket;
use podnet::model::Backend;
use podnet::plan::services as plan;
use serde_json::json;
use std::collections::BTreeSet;
use std::fs;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

impl Podnet {
    pub(crate) fn full_load(&mut self, n: usize, trials: usize) {
        let all = self.all_services();
        let (mut gc0, mut gc1, mut floor) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..trials {
            self.delete_table();
            std::thread::sleep(Duration::from_millis(50));
            gc0.push(timed(&[self.podnet, "gc"]));
            self.check_traffic();
            std::thread::sleep(Duration::from_millis(50));
            gc1.push(timed(&[self.podnet, "gc"]));
            std::thread::sleep(Duration::from_millis(50));
            self.delete_table();
            std::thread::sleep(Duration::from_millis(50));
            let b = plan::full(&all);
            let mut s = NftSocket::open().expect("nft socket");
            let t0 = Instant::now();
            s.apply(&b).expect("apply full");
            floor.push(ms_since(t0));
            drop(s);
            // Leave the kernel as podnet itself programmed it.
            timed(&[self.podnet, "gc"]);
            std::thread::sleep(Duration::from_millis(50));
        }
        self.rec
            .record("podnet", "gc_from_nothing", n, "ms", &gc0, json!({}));
        self.rec
            .record("podnet", "gc_present", n, "ms", &gc1, json!({}));
        self.rec.record(
            "floor",
            "full_inprocess",
            n,
            "ms",
            &floor,
            json!({"elements": all.len() * 11}),
        );
    }

    pub(crate) fn probe_backends(&self) -> usize {
        podnet_json(self.podnet, &["service", "inspect", "probe"])["backends"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0)
    }

    pub(crate) fn changes(&mut self, n: usize, trials: usize, warmup: usize) {
        let mut ops: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
        let p = self.podnet;
        let sizes: BTreeSet<usize> = [self.backend_ips.len(), self.probe_ips.len()].into();
        let tmp_backends: Vec<Backend> =
            self.backend_ips.iter().map(|i| Backend::new(*i)).collect();
        for trial in 0..warmup + trials {
            let keep = trial >= warmup;
            let mut m: Vec<(&str, f64)> = Vec::new();
            // Add and remove one service (same backends as the bulk ones).
            let name = format!("tmp{}", self.next());
            let mut argv: Vec<&str> = vec![p, "service", "create", &name, "--port", "80:8080/tcp"];
            argv.extend(self.backend_args.iter().map(String::as_str));
            m.push(("svc_add", timed(&argv)));
            std::thread::sleep(SETTLE);
            m.push(("svc_rm", timed(&[p, "service", "rm", &name])));
            std::thread::sleep(SETTLE);
            // One endpoint of exactly one service (probe: selector app=probe) comes and goes;
            // the control does the same container work with a label no service selects.
            for (label, add, del) in [
                ("app=probe", "ep_add_attach", "ep_del_detach"),
                ("app=none", "ctl_attach", "ctl_detach"),
            ] {
                let c = format!("q{}", self.next());
                let ns = PathBuf::from(format!("/run/netns/{c}"));
                netns::create(&ns).expect("netns");
                let ns_s = ns.to_string_lossy().into_owned();
                m.push((
                    add,
                    timed(&[p, "attach", "--netns", &ns_s, "--name", &c, "-l", label]),
                ));
                if trial == 0 && label == "app=probe" {
                    assert_eq!(self.probe_backends(), self.probe_ips.len() + 1);
                }
                std::thread::sleep(SETTLE);
                m.push((del, timed(&[p, "detach", &c])));
                netns::remove(&ns).expect("remove netns");
                std::thread::sleep(SETTLE);
            }
            for (label, add, del) in [
                ("app=probe", "ep_add_run", "ep_del_rm"),
                ("app=none", "ctl_run", "ctl_rm"),
            ] {
                let c = format!("r{}", self.next());
                m.push((
                    add,
                    timed(&[
                        p, "run", "-d", "--name", &c, "-l", label, "--", "sleep", "infinity",
                    ]),
                ));
                if trial == 0 && label == "app=probe" {
                    assert_eq!(self.probe_backends(), self.probe_ips.len() + 1);
                }
                std::thread::sleep(SETTLE);
                m.push((del, timed(&[p, "rm", "-f", &c])));
                reap();
                std::thread::sleep(SETTLE);
            }
            if trial == 0 {
                assert_eq!(self.probe_backends(), self.probe_ips.len());
            }
            // In-process floor of the add/remove transactions (a VIP no service uses).
            {
                let s = svc("floor", Ipv4Addr::new(10, 43, 255, 250));
                let mut sock = NftSocket::open().expect("nft socket");
                let b = plan::add_service(&s, &tmp_backends, &sizes);
                let t0 = Instant::now();
                sock.apply(&b).expect("floor add");
                m.push(("add_inprocess", ms_since(t0)));
                let b = plan::remove_service(&s, &tmp_backends);
                let t0 = Instant::now();
                sock.apply(&b).expect("floor rm");
                m.push(("rm_inprocess", ms_since(t0)));
            }
            m.push(("version", timed(&[p, "--version"])));
            m.push(("true", timed(&["/bin/true"])));
            std::thread::sleep(SETTLE);
            if keep {
                for (k, x) in m {
                    ops.entry(k).or_default().push(x);
                }
            }
        }
        for (k, xs) in &ops {
            let tool = if k.ends_with("inprocess") || *k == "version" || *k == "true" {
                "floor"
            } else {
                "podnet"
            };
            self.rec.record(tool, k, n, "ms", xs, json!({}));
        }
    }

    pub(crate) fn traffic(&mut self, n: usize, conns: usize) {
        let (v, d, fv, fd) = connects(&self.client, &self.vips, &self.backend_ips, conns, 42);
        self.rec.record(
            "podnet",
            "connect_vip",
            n,
            "µs",
            &v,
            json!({"failures": fv, "vips": self.vips.len()}),
        );
        self.rec.record(
            "podnet",
            "connect_direct",
            n,
            "µs",
            &d,
            json!({"failures": fd}),
        );
    }

    pub(crate) fn strace(&mut self, n: usize) {
        let p = self.podnet;
        let dir = self.dir.clone();
        let st = |file: &str, mode: &str, argv: &[&str]| {
            let out = dir.join(format!("svc-strace-{file}-{mode}-n{n}.txt"));
            let o = out.to_string_lossy().into_owned();
            // -b execve: follow podnet's threads and forks, not the container command it starts
            // (`sleep infinity` would keep strace waiting forever).
            let mut full = vec!["strace", "-f", "-b", "execve", "-o", &o];
            if mode == "c" {
                full.extend_from_slice(&["-c", "-w"]);
            } else {
                full.extend_from_slice(&["-tt", "-T"]);
            }
            full.extend_from_slice(argv);
            timed(&full);
        };
        for mode in ["c", "T"] {
            self.delete_table();
            st("gc-from-nothing", mode, &[p, "gc"]);
            let name = format!("tmp{}", self.next());
            let mut argv: Vec<&str> = vec![p, "service", "create", &name, "--port", "80:8080/tcp"];
            argv.extend(self.backend_args.iter().map(String::as_str));
            st("svc-add", mode, &argv);
            st("svc-rm", mode, &[p, "service", "rm", &name]);
            let c = format!("r{}", self.next());
            st(
                "ep-add-run",
                mode,
                &[
                    p,
                    "run",
                    "-d",
                    "--name",
                    &c,
                    "-l",
                    "app=probe",
                    "--",
                    "sleep",
                    "infinity",
                ],
            );
            st("ep-del-rm", mode, &[p, "rm", "-f", &c]);
            reap();
        }
    }

    pub(crate) fn perf(&mut self, n: usize) {
        let data = self.dir.join(format!("svc-perf-gc-n{n}.data"));
        let d = data.to_string_lossy().into_owned();
        self.delete_table();
        let r = Command::new("perf")
            .args([
                "record",
                "-F",
                "4999",
                "-g",
                "-o",
                &d,
                "--",
                self.podnet,
                "gc",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !matches!(r, Ok(s) if s.success()) {
            eprintln!("perf record failed: {r:?}");
            timed(&[self.podnet, "gc"]);
            return;
        }
        let txt = self.dir.join(format!("svc-perf-gc-n{n}.txt"));
        for (suffix, extra) in [
            ("", vec!["--no-children", "--sort", "dso,symbol"]),
            ("-children", vec!["--children", "--sort", "symbol"]),
        ] {
            let out = Command::new("perf")
                .args([
                    "report",
                    "--stdio",
                    "-i",
                    &d,
                    "-g",
                    "none",
                    "--percent-limit",
                    "0.5",
                ])
                .args(&extra)
                .output();
            if let Ok(o) = out {
                let f = txt.with_extension(format!("txt{suffix}"));
                let _ = fs::write(&f, &o.stdout);
                eprintln!("perf report: {}", f.display());
            }
        }
    }
}
