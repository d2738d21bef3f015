//! The command lines of the detached containers tests and benchmarks start, in one place (the
//! benchmarks include this file through benches/common).

/// `run -d --name NAME --network NETWORK EXTRA... -- CMD...`
pub fn run_d<'a>(
    name: &'a str,
    network: &'a str,
    extra: &[&'a str],
    cmd: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["run", "-d", "--name", name, "--network", network];
    args.extend_from_slice(extra);
    args.push("--");
    args.extend_from_slice(cmd);
    args
}

/// A container that only waits: `run -d ... -- sleep infinity`.
pub fn run_d_sleeping<'a>(name: &'a str, network: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    run_d(name, network, extra, &["sleep", "infinity"])
}

/// A web server of directory `dir` on `port`: `run -d ... -- python3 -m http.server ...`.
pub fn run_d_http<'a>(
    name: &'a str,
    network: &'a str,
    extra: &[&'a str],
    dir: &'a str,
    port: &'a str,
) -> Vec<&'a str> {
    let cmd = ["python3", "-m", "http.server", "--directory", dir, port];
    run_d(name, network, extra, &cmd)
}
