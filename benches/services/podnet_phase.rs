//! The podnet sandbox: its state, populating the levels, and the phase's driver.

use crate::bench::{ip_of, podnet_json, run_out, sandbox_setup, timed, Recorder};
use crate::common::{netns_inode, stats};
use crate::opts::Opts;
use crate::podnet_bin;
use crate::traffic::{backends_and_client, connects};
use podnet::kernel::netns;
use podnet::kernel::nft::NftSocket;
use podnet::model::{Backend, Proto, Service, ServicePort};
use podnet::plan::services as plan;
use serde_json::{json, Value};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub(crate) fn svc(name: &str, vip: Ipv4Addr) -> Service {
    Service {
        name: name.into(),
        vip,
        ports: vec![ServicePort {
            port: 80,
            target_port: 8080,
            proto: Proto::Tcp,
            node_port: None,
        }],
        affinity_timeout: None,
    }
}

pub(crate) struct Podnet {
    pub(crate) podnet: &'static str,
    pub(crate) seq: usize,
    pub(crate) rec: Recorder,
    pub(crate) backend_ips: Vec<Ipv4Addr>,
    pub(crate) backend_args: Vec<String>,
    pub(crate) probe_ips: Vec<Ipv4Addr>,
    pub(crate) probe_vip: Ipv4Addr,
    /// VIPs of the bulk services s0, s1, ... in creation order.
    pub(crate) vips: Vec<Ipv4Addr>,
    pub(crate) client: PathBuf,
    pub(crate) dir: PathBuf,
}

pub(crate) const SETTLE: Duration = Duration::from_millis(10);

impl Podnet {
    pub(crate) fn next(&mut self) -> usize {
        self.seq += 1;
        self.seq
    }

    /// Services present: the probe service + the bulk ones.
    pub(crate) fn count(&self) -> usize {
        1 + self.vips.len()
    }

    pub(crate) fn create_bulk(&mut self) -> f64 {
        let name = format!("s{}", self.vips.len());
        let mut argv: Vec<&str> = vec![
            self.podnet,
            "service",
            "create",
            &name,
            "--port",
            "80:8080/tcp",
            "--format",
            "json",
        ];
        argv.extend(self.backend_args.iter().map(String::as_str));
        let (ms, out) = run_out(&argv);
        let v: Value = serde_json::from_slice(&out).expect("service create prints JSON");
        let vip = v["vip"].as_str().and_then(|s| s.parse().ok()).expect("vip");
        self.vips.push(vip);
        ms
    }

    /// Reach `n` services with podnet's own store functions in one transaction (the same rows
    /// `service create` writes, VIPs allocated the same way), then `podnet gc` programs them.
    pub(crate) fn populate_store(&mut self, n: usize) {
        let t0 = Instant::now();
        let from = self.count();
        let root = PathBuf::from(std::env::var("PODNET_ROOT").expect("PODNET_ROOT"));
        let mut store = podnet::store::Store::open(&root).expect("open podnet store");
        let explicit: Vec<(String, Option<u16>)> = (0..self.backend_ips.len())
            .map(|k| (format!("b{k}"), None))
            .collect();
        let range = podnet::model::service::default_service_range();
        let (lo, hi) = (
            std::net::Ipv4Addr::from(u32::from(range.network()) + 1).into(),
            std::net::Ipv4Addr::from(u32::from(range.broadcast()) - 1).into(),
        );
        let vips = store
            .write(|tx| {
                let mut vips = Vec::new();
                for i in self.vips.len()..n - 1 {
                    let vip = match tx.vip_after_highest(lo, hi)? {
                        Some(std::net::IpAddr::V4(v)) => v,
                        _ => panic!("service range full"),
                    };
                    tx.insert_service(&svc(&format!("s{i}"), vip).into(), None, &explicit)?;
                    vips.push(vip);
                }
                Ok(vips)
            })
            .expect("insert services");
        drop(store);
        self.vips.extend(vips);
        let ins = t0.elapsed().as_secs_f64();
        let gc = timed(&[self.podnet, "gc"]);
        eprintln!(
            "level n={n}: {} services ({} inserted through podnet::store in {ins:.1} s, then podnet gc {gc:.0} ms)",
            self.count(),
            self.count() - from
        );
    }

    pub(crate) fn populate(&mut self, n: usize) {
        let t0 = Instant::now();
        let mut times = Vec::new();
        while self.count() < n {
            times.push(self.create_bulk());
            if times.len() % 1000 == 0 {
                let last = &times[times.len() - 1000..];
                eprintln!(
                    "  populating: {} services, last 1000 creates median {:.2} ms",
                    self.count(),
                    stats(last).median
                );
            }
        }
        eprintln!(
            "level n={n}: {} services (populating took {:.1} s)",
            self.count(),
            t0.elapsed().as_secs_f64()
        );
        let from = n - times.len();
        self.rec.record(
            "podnet",
            "create_populate",
            n,
            "ms",
            &times,
            json!({"from_n": from}),
        );
    }

    /// Every service as podnet programs it, for the in-process floor.
    pub(crate) fn all_services(&self) -> Vec<(Service, Vec<Backend>)> {
        let be = |ips: &[Ipv4Addr]| {
            plan::canonical(&ips.iter().map(|ip| Backend::new(*ip)).collect::<Vec<_>>())
        };
        let mut out = vec![(svc("probe", self.probe_vip), be(&self.probe_ips))];
        for (i, vip) in self.vips.iter().enumerate() {
            out.push((svc(&format!("s{i}"), *vip), be(&self.backend_ips)));
        }
        out
    }

    pub(crate) fn delete_table(&self) {
        let mut s = NftSocket::open().expect("nft socket");
        s.apply(&plan::delete_all()).expect("delete ip podnet-svc");
    }

    /// One VIP connection must work (sanity after a re-load).
    pub(crate) fn check_traffic(&self) {
        let (v, _, fv, _) = connects(
            &self.client,
            &self.vips[..1],
            &self.backend_ips,
            3,
            self.seq as u64,
        );
        assert!(fv == 0 && v.len() == 3, "VIP traffic fails after a re-load");
    }
}

pub(crate) fn inner_podnet(opts: &Opts) {
    let inside = sandbox_setup();
    let podnet: &'static str = Box::leak(podnet_bin(opts).into_boxed_str());
    eprintln!(
        "podnet sandbox ready (netns inode {}), podnet = {podnet}",
        netns_inode()
    );
    let (backend_ips, client) = backends_and_client(podnet, opts.backends);
    // The probe service: selector app=probe over its own containers (no servers needed), the
    // one service that the endpoint-change ops touch.
    let mut probe_ips = Vec::new();
    for k in 0..opts.backends {
        let name = format!("p{k}");
        let ns = format!("/run/netns/{name}");
        netns::create(Path::new(&ns)).expect("netns");
        timed(&[
            podnet,
            "attach",
            "--netns",
            &ns,
            "--name",
            &name,
            "-l",
            "app=probe",
        ]);
        probe_ips.push(ip_of(podnet, &name));
    }
    let v = podnet_json(
        podnet,
        &[
            "service",
            "create",
            "probe",
            "--port",
            "80:8080/tcp",
            "--selector",
            "app=probe",
        ],
    );
    let probe_vip = v["vip"].as_str().unwrap().parse().unwrap();
    let backend_args = (0..opts.backends)
        .flat_map(|k| ["--backend".to_string(), format!("b{k}")])
        .collect();
    let mut pn = Podnet {
        podnet,
        seq: 0,
        rec: Recorder::new(&inside.records),
        backend_ips,
        backend_args,
        probe_ips,
        probe_vip,
        vips: Vec::new(),
        client,
        dir: inside.dir().to_path_buf(),
    };
    let top = *opts.levels.last().unwrap();
    for &n in &opts.levels {
        if n >= opts.populate_store {
            pn.populate_store(n);
        } else {
            pn.populate(n);
        }
        std::thread::sleep(Duration::from_millis(300));
        pn.traffic(n, opts.conns);
        pn.changes(n, opts.trials, opts.warmup);
        pn.full_load(n, opts.load_trials);
        if opts.strace {
            pn.strace(n);
        }
        if opts.perf && n == top {
            pn.perf(n);
        }
    }
}
