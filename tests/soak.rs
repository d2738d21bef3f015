//! Randomized soak: 4 workers issue 500 random operations at once against one host (run,
//! rm, stop, label, service create/rm, gc), some of them killed with SIGKILL at a random
//! moment. Then `podnet gc` must leave store and kernel in agreement (see
//! `common::invariants` for what is compared), and tearing everything down must leave
//! nothing. The seed is printed; `PODNET_SOAK_SEED=N` replays a run's choices (the
//! interleaving is the machine's).

mod common;

use common::invariants::{assert_consistent, violations};
use common::*;
use podnet::testbed::{describe, Sandbox};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

const WORKERS: u64 = 4;
const OPS: u64 = 500;
/// Container names shared by all workers, so that they contend for the same records.
const NAMES: u64 = 12;
const SERVICES: u64 = 3;

/// The messages of a race lost to another podnet process (exit 1, or 125 from `run`).
const RACES_LOST: [&str; 2] = [
    "while it was being created",
    "is already being removed by another podnet process",
];

/// xorshift64*: small, seedable, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len() as u64) as usize]
    }
}

/// One random operation's arguments, and whether to kill it midway.
fn operation(rng: &mut Rng) -> (Vec<String>, bool) {
    let name = format!("c{}", rng.below(NAMES));
    let svc = format!("s{}", rng.below(SERVICES));
    let roll = rng.below(100);
    let mut args: Vec<String> = match roll {
        0..=34 => {
            let mut a: Vec<String> = vec!["run".into(), "-d".into(), "--name".into(), name];
            a.extend(["--network".into(), rng.pick(&["a", "b", "bridge"]).into()]);
            if rng.below(2) == 0 {
                let proto = rng.pick(&["", "/udp"]);
                a.extend(["-p".into(), format!("{}:80{proto}", 20000 + rng.below(6))]);
            }
            if rng.below(3) != 0 {
                a.extend(["-l".into(), format!("app={}", rng.pick(&["x", "y"]))]);
            }
            a.extend(["--", "sleep", "1000"].map(String::from));
            a
        }
        35..=54 => vec!["rm".into(), "-f".into(), name],
        55..=59 => vec!["stop".into(), "-t".into(), "0".into(), name],
        60..=69 => {
            let change = rng.pick(&["app=x", "app=y", "app-"]);
            vec!["label".into(), name, change.into()]
        }
        70..=76 => {
            let sel = format!("app={}", rng.pick(&["x", "y"]));
            [
                "service",
                "create",
                &svc,
                "--port",
                "80",
                "--selector",
                &sel,
            ]
            .map(String::from)
            .to_vec()
        }
        77..=81 => vec!["service".into(), "rm".into(), svc],
        _ => vec!["gc".into()],
    };
    let kill = rng.below(100) < 15;
    if args[0] == "run" && kill {
        // Sometimes die inside attach/detach instead of at a random time.
        if rng.below(2) == 0 {
            args.insert(0, format!("fault=attach:{}", 1 + rng.below(6)));
        }
    }
    (args, kill)
}

/// Runs one operation; returns a line describing anything unacceptable about its outcome.
fn perform(sb: &Sandbox, rng: &mut Rng, args: Vec<String>, kill: bool) -> Option<String> {
    let (fault, args): (Option<String>, Vec<String>) = match args[0].strip_prefix("fault=") {
        Some(f) => (Some(f.to_string()), args[1..].to_vec()),
        None => (None, args),
    };
    let mut cmd = sb.podnet_cmd(&args);
    if let Some(f) = &fault {
        cmd.env("PODNET_FAULT", f);
    }
    // Its own process group: nsenter and the podnet under it die together.
    cmd.process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn podnet");
    let pgid = child.id() as i32;
    if kill && fault.is_none() {
        std::thread::sleep(Duration::from_micros(rng.below(25_000)));
        // SAFETY: kill(2) of the process group we just created; our child leads it and is
        // not reaped yet, so the id cannot have been reused.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
    let out = child.wait_with_output().expect("wait podnet");
    let err = String::from_utf8_lossy(&out.stderr);
    let killed =
        out.status.signal() == Some(9) || (fault.is_some() && out.status.code() == Some(137));
    if err.contains("panicked") {
        return Some(format!("{args:?} panicked: {err}"));
    }
    match out.status.code() {
        _ if killed || (kill && fault.is_none()) => None,
        Some(0) | Some(2) => None,
        // Losing a race to another process is a failure worth reporting, and these are the
        // two ways to lose one: the row was taken over while being made, or someone else is
        // already removing it.
        Some(1) | Some(125) if RACES_LOST.iter().any(|m| err.contains(m)) => None,
        // The fault switch kills podnet under nsenter, which reports it as 128+9.
        Some(137) if fault.is_some() => None,
        _ => Some(format!("{args:?} (fault {fault:?}): {}", describe(&out))),
    }
}

#[test]
fn random_operations_with_kills_leave_store_and_kernel_in_agreement() {
    let seed: u64 = std::env::var("PODNET_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("soak seed: PODNET_SOAK_SEED={seed}");
    let sb = sandbox();
    podnet_ok(
        &sb,
        &["network", "create", "a", "--subnet", "10.240.0.0/24"],
    );
    podnet_ok(
        &sb,
        &[
            "network",
            "create",
            "b",
            "--subnet",
            "10.241.0.0/24",
            "--icc=false",
        ],
    );
    let problems = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for w in 0..WORKERS {
            let (sb, problems) = (&sb, &problems);
            scope.spawn(move || {
                let mut rng = Rng(seed.wrapping_add(w.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
                for _ in 0..OPS / WORKERS {
                    let (args, kill) = operation(&mut rng);
                    if let Some(p) = perform(sb, &mut rng, args, kill) {
                        problems.lock().unwrap().push(p);
                    }
                }
            });
        }
    });
    let problems = problems.into_inner().unwrap();
    if std::env::var("SOAK_EXPLORE").is_ok() {
        eprintln!("PROBLEMS:\n{}", problems.join("\n"));
    } else {
        assert!(
            problems.is_empty(),
            "seed {seed}: {} operations ended badly:\n{}",
            problems.len(),
            problems.join("\n")
        );
    }

    ok("gc after the soak", sb.podnet(["gc"]));
    let v = violations(&sb);
    assert!(
        v.is_empty(),
        "seed {seed}: after gc, store and kernel disagree:\n  {}",
        v.join("\n  ")
    );

    // Everything podnet made goes with it.
    for i in 0..NAMES {
        let _ = sb.podnet(["rm", "-f", &format!("c{i}")]);
    }
    for i in 0..SERVICES {
        let _ = sb.podnet(["service", "rm", &format!("s{i}")]);
    }
    ok("network rm", sb.podnet(["network", "rm", "a", "b"]));
    ok("final gc", sb.podnet(["gc"]));
    assert_consistent(&sb, &format!("seed {seed}: after removing everything"));
    assert!(
        ps(&sb).is_empty(),
        "seed {seed}: containers left: {:?}",
        ps(&sb)
    );
    assert!(
        pnv_links(&sb).is_empty(),
        "seed {seed}: veths left: {:?}",
        pnv_links(&sb)
    );
}

/// `podnet label` racing `rm -f` of the same container: the label either lands or finds no
/// container; it never fails inside the store (it read the container, then wrote labels for
/// a row that was gone: "FOREIGN KEY constraint failed", found by the soak above).
#[test]
fn label_racing_rm_finds_the_container_or_none_never_a_store_error() {
    let sb = sandbox();
    for round in 0..25 {
        let name = format!("l{round}");
        podnet_ok(&sb, &["run", "-d", "--name", &name, "--", "sleep", "1000"]);
        let mut labels: Vec<_> = (0..12)
            .map(|i| {
                let mut c = sb.podnet_cmd(["label", &name, &format!("k{i}=v")]);
                c.stdout(Stdio::null()).stderr(Stdio::piped());
                c.spawn().expect("spawn label")
            })
            .collect();
        let rm = sb.podnet_cmd(["rm", "-f", &name]).output().expect("rm");
        assert!(rm.status.success(), "{}", describe(&rm));
        for c in labels.drain(..) {
            let out = c.wait_with_output().expect("wait label");
            let err = String::from_utf8_lossy(&out.stderr);
            let fine = out.status.success()
                || (out.status.code() == Some(2) && err.contains("no container named"));
            assert!(fine, "label racing rm: {}", describe(&out));
        }
    }
}
