//! The peers (netavark, CNI plugins): their own scripts, each in a sandbox of its own.

use crate::opts::{die, Opts};
use serde_json::{json, Value};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

pub(crate) fn run_peer(opts: &Opts, peer: &str, dir: &Path, mode: &str) -> Vec<Value> {
    let installed = match peer {
        "netavark" => Path::new("/usr/lib/podman/netavark").exists(),
        "cni" => Path::new("/usr/lib/cni/bridge").exists(),
        _ => die(&format!("--peers: unknown peer '{peer}' (netavark, cni)")),
    };
    let script = opts.peers_dir.join(format!("{peer}_bench.sh"));
    if !installed || !script.exists() {
        eprintln!(
            "peer {peer}: not installed or no {} — skipped",
            script.display()
        );
        return vec![json!({"tool": peer, "op": "skipped", "reason": "not installed"})];
    }
    let out = dir.join(format!("peer-{peer}-{mode}.jsonl"));
    let _ = fs::remove_file(&out);
    let levels = opts
        .peer_levels
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let peer_args: Vec<String> = if mode == "datapath" {
        vec![
            "--mode".into(),
            "datapath".into(),
            "--seconds".into(),
            opts.seconds.to_string(),
            "--repeat".into(),
            opts.repeat.to_string(),
        ]
    } else {
        vec![
            "--levels".into(),
            levels,
            "--trials".into(),
            opts.peer_trials.to_string(),
        ]
    };
    eprintln!("peer {peer}: {} {}", script.display(), peer_args.join(" "));
    let status = Command::new(&script)
        .args(&peer_args)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .expect("run peer script");
    if !status.success() {
        eprintln!("peer {peer}: script failed ({status}); its partial records are kept");
    }
    fs::read_to_string(&out)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}
