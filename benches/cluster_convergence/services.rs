//! The services phase: a change made with the CLI on node 1 until all 3 nodes'
//! `ip podnet-csvc` holds it, beside etcd's own watch latency (the floor).

use super::etcd_log::EtcdLog;
use super::join::join_sims;
use super::nft_events::Maps;
use super::{cell, die, jitter, start, subnet_of, Opts, PATIENCE};
use podnet::cluster::config;
use podnet::cluster::etcd::Etcd;
use podnet::testbed::cluster::UNDERLAY;
use podnet::testbed::SimNodes;
use podnet::testbed::{self, Cluster};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The random pause before each change: more than `agent::services::PUBLISH_EVERY`, so a
/// change lands anywhere in the agents' publishing period.
const JITTER: Duration = Duration::from_millis(400);

/// One change's timings, from just before its CLI command started.
#[derive(Default)]
struct Samples {
    /// Until the last node's kernel held it.
    all: Vec<Duration>,
    /// Until the first node's kernel held it.
    first: Vec<Duration>,
    /// The CLI command's own run time.
    cli: Vec<Duration>,
    /// Until its key reached the watcher on member 2.
    key: Vec<Duration>,
    /// From then until the last node's kernel held it.
    after_key: Vec<Duration>,
}

const KINDS: [&str; 4] = [
    "service create",
    "backend added",
    "backend removed",
    "service rm",
];

struct Step<'a> {
    kind: &'a str,
    args: Vec<String>,
    goal: fn(&Maps, Ipv4Addr) -> bool,
    target: Ipv4Addr,
    /// Put (true) or delete of the key ending so.
    key: (bool, String),
}

fn step(c: &Cluster, w: &super::Watchers, log: &EtcdLog, s: &Step, out: &mut Samples) {
    let mut goals = Vec::new();
    for (i, n) in w.nft.iter().enumerate() {
        n.clear_goals();
        let (goal, target) = (s.goal, s.target);
        let g = n
            .set_goal(move |m| goal(m, target))
            .unwrap_or_else(|e| die(&format!("{} on node {}: {e}", s.kind, i + 1)));
        goals.push(g);
    }
    let args: Vec<&str> = s.args.iter().map(String::as_str).collect();
    jitter(JITTER);
    let t0 = Instant::now();
    c.podnet_ok(0, &args)
        .unwrap_or_else(|e| die(&e.to_string()));
    let cli = t0.elapsed();
    let mut hits = Vec::new();
    for (i, n) in w.nft.iter().enumerate() {
        let at = n.wait(goals[i], PATIENCE).unwrap_or_else(|e| {
            die(&format!(
                "{} ({:?}) on node {}: {e}\n{}",
                s.kind,
                s.args,
                i + 1,
                c.log(i)
            ))
        });
        hits.push(at);
        n.clear_goals();
    }
    let last = *hits.iter().max().unwrap();
    let first = *hits.iter().min().unwrap();
    out.all.push(last - t0);
    out.first.push(first - t0);
    out.cli.push(cli);
    let suffix = s.key.1.clone();
    if let Some(k) = log.first(
        t0,
        s.key.0,
        |k| k.ends_with(&suffix),
        Duration::from_secs(2),
    ) {
        out.key.push(k - t0);
        out.after_key.push(last.saturating_duration_since(k));
    }
}

/// The backends node `i`'s `ip podnet-csvc` holds, listed by nft (the mirror's check).
fn listed(c: &Cluster, i: usize) -> Vec<Ipv4Addr> {
    let out = c.sh(i, "nft -j list map ip podnet-csvc eps");
    let v: Value = serde_json::from_str(&testbed::stdout(&out)).unwrap_or(Value::Null);
    let mut ips = Vec::new();
    for item in v["nftables"].as_array().into_iter().flatten() {
        for e in item["map"]["elem"].as_array().into_iter().flatten() {
            if let Some(ip) = e[1]["concat"][0].as_str().and_then(|s| s.parse().ok()) {
                ips.push(ip);
            }
        }
    }
    ips.sort();
    ips.dedup();
    ips
}

fn check_mirrors(c: &Cluster, w: &super::Watchers) {
    for (i, n) in w.nft.iter().enumerate() {
        let mirror: Vec<Ipv4Addr> = n.with(|m| m.backends().into_iter().collect());
        let real = listed(c, i);
        if mirror != real {
            die(&format!(
                "node {}: the notification mirror holds {mirror:?}, nft lists {real:?}",
                i + 1
            ));
        }
    }
}

pub fn run(mut c: Cluster, o: &Opts) {
    let w = start(&mut c, o, 3);
    for i in 0..3 {
        c.podnet_ok(
            i,
            &[
                "run",
                "-d",
                "--name",
                &format!("b{i}"),
                "-l",
                "app=web",
                "--",
                "sleep",
                "infinity",
            ],
        )
        .unwrap_or_else(|e| die(&e.to_string()));
    }
    // A service that stays, so the table does too; every node renders it with 3 backends.
    c.podnet_ok(
        0,
        &[
            "service",
            "create",
            "keep",
            "--port",
            "80",
            "--selector",
            "app=web",
            "--vip",
            "10.43.0.10",
        ],
    )
    .unwrap_or_else(|e| die(&e.to_string()));
    for (i, n) in w.nft.iter().enumerate() {
        n.until(|m| m.backends().len() == 3, PATIENCE)
            .unwrap_or_else(|e| die(&format!("node {}: keep's 3 backends: {e}", i + 1)));
    }
    check_mirrors(&c, &w);
    let writer = Etcd::new(&[format!("http://{UNDERLAY}.1:2379")]).unwrap();
    let log = EtcdLog::start(&format!("http://{UNDERLAY}.2:2379")).unwrap_or_else(|e| die(&e));
    let subnet = subnet_of(&writer, "node1").unwrap_or_else(|| die("node1 has no subnet"));
    let urls: Vec<String> = (1..=3)
        .map(|m| format!("http://{UNDERLAY}.{m}:2379"))
        .collect();
    let etcd = Arc::new(Etcd::new(&urls).unwrap());
    let ccfg = config::load(&etcd).unwrap_or_else(|e| die(&format!("cluster config: {e:?}")));
    // As in the join phase (lease TTL 30 s; see there).
    let sims = SimNodes::new(etcd.clone(), ccfg, 30);
    for (round, &n) in o.sim.iter().enumerate() {
        let bulk = join_sims(&sims, &etcd, &w, n);
        let mut floor = Vec::new();
        let mut put_rtt = Vec::new();
        let mut by: BTreeMap<&str, Samples> = BTreeMap::new();
        for k in 1..=o.trials {
            // The floor: a put on member 1 until member 2's watch delivers it.
            let key = format!("/bench/floor/{round}/{k}");
            let t0 = Instant::now();
            writer
                .put(&key, b"x", 0)
                .unwrap_or_else(|e| die(&format!("floor put: {e:?}")));
            put_rtt.push(t0.elapsed());
            let seen = log
                .first(t0, true, |x| x == key, PATIENCE)
                .unwrap_or_else(|| die("the floor's put never reached the watch"));
            floor.push(seen - t0);

            let name = format!("s{k}");
            let vip = Ipv4Addr::new(10, 43, round as u8 + 1, k as u8);
            let backend = format!("x{k}");
            let ip = Ipv4Addr::from(u32::from(subnet.network()) + 200 + k as u32);
            let steps = [
                Step {
                    kind: KINDS[0],
                    args: [
                        "service",
                        "create",
                        &name,
                        "--port",
                        "80",
                        "--selector",
                        "app=web",
                        "--vip",
                        &vip.to_string(),
                    ]
                    .map(String::from)
                    .to_vec(),
                    goal: Maps::has_vip,
                    target: vip,
                    key: (true, format!("/services/{name}")),
                },
                Step {
                    kind: KINDS[1],
                    args: [
                        "run",
                        "-d",
                        "--name",
                        &backend,
                        "-l",
                        "app=web",
                        "--ip",
                        &ip.to_string(),
                        "--",
                        "sleep",
                        "infinity",
                    ]
                    .map(String::from)
                    .to_vec(),
                    goal: Maps::has_backend,
                    target: ip,
                    key: (true, format!("/endpoints/node1/{backend}")),
                },
                Step {
                    kind: KINDS[2],
                    args: ["rm", "-f", &backend].map(String::from).to_vec(),
                    goal: |m, ip| !m.has_backend(ip),
                    target: ip,
                    key: (false, format!("/endpoints/node1/{backend}")),
                },
                Step {
                    kind: KINDS[3],
                    args: ["service", "rm", &name].map(String::from).to_vec(),
                    goal: |m, vip| !m.has_vip(vip),
                    target: vip,
                    key: (false, format!("/services/{name}")),
                },
            ];
            for s in &steps {
                step(&c, &w, &log, s, by.entry(s.kind).or_default());
                if s.kind == KINDS[1] || s.kind == KINDS[2] {
                    check_mirrors(&c, &w);
                }
            }
        }
        println!(
            "services: 3 nodes (podnet agent each, lease TTL {} s), 3-member etcd 3.4, {n} \
             simulated nodes (joined in {bulk} s), {} trials; changes made on node 1 with the \
             CLI; ms, median / p90 / max",
            o.ttl, o.trials
        );
        println!(
            "{:<36} | {:>16} | {:>16} | {:>16} | {:>16} | {:>16}",
            "change",
            "→ all 3 kernels",
            "→ first kernel",
            "CLI run time",
            "→ key on m2",
            "key → all 3"
        );
        for kind in KINDS {
            let s = &by[kind];
            println!(
                "{kind:<36} | {:>16} | {:>16} | {:>16} | {:>16} | {:>16}",
                cell(&s.all),
                cell(&s.first),
                cell(&s.cli),
                cell(&s.key),
                cell(&s.after_key)
            );
        }
        println!(
            "{:<36} | {:>16} | {:>16} | {:>16} | {:>16} | {:>16}",
            "floor: etcd put m1 → watch on m2",
            cell(&floor),
            "",
            cell(&put_rtt),
            "",
            ""
        );
    }
}
