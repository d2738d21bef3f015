//! podnet as a runtime execs it as a CNI plugin: no arguments, CNI_* variables, the network
//! configuration on stdin (tests that drive it by hand rather than through a real runtime).

pub use super::agent::{agent_log, agent_pid};
use super::*;
use serde_json::{json, Value};
use std::io::Write;
use std::process::Stdio;

/// Every variable a CNI runtime may set: removed before each call so only the call's own
/// reach the plugin.
pub const CNI_VARS: [&str; 7] = [
    "CNI_COMMAND",
    "CNI_CONTAINERID",
    "CNI_NETNS",
    "CNI_IFNAME",
    "CNI_ARGS",
    "CNI_PATH",
    "CNI_NETNS_OVERRIDE",
];

/// What one call answered.
#[derive(Debug)]
pub struct Answer {
    /// stdout as JSON (Null when empty).
    pub json: Value,
    pub code: i32,
    pub stderr: String,
}

impl Answer {
    /// The spec error code (None on success).
    pub fn error_code(&self) -> Option<u64> {
        (self.code != 0).then(|| self.json["code"].as_u64().unwrap_or(0))
    }
    /// Panics unless the call succeeded; returns stdout's JSON.
    pub fn ok(self, what: &str) -> Value {
        assert_eq!(self.code, 0, "{what}: {} {}", self.json, self.stderr);
        self.json
    }
}

/// Runs `cmd` with `stdin` written to it and closed.
pub fn feed(mut cmd: Command, stdin: &[u8]) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// The plugin process for one call, not yet started (tests add PODNET_FAULT etc.).
pub fn cni_cmd(sb: &Sandbox, env: &[(&str, &str)]) -> Command {
    let mut cmd = sb.podnet_cmd::<[&str; 0], &str>([]);
    for v in CNI_VARS {
        cmd.env_remove(v);
    }
    cmd.envs(env.iter().copied());
    cmd
}

/// Reads a finished call's output.
pub fn answer(out: &Output) -> Answer {
    let text = String::from_utf8_lossy(&out.stdout);
    let json = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", testbed::describe(out)))
    };
    Answer {
        json,
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// One call with exactly the variables `env` and `stdin`.
pub fn cni_raw(sb: &Sandbox, env: &[(&str, &str)], stdin: &[u8]) -> Answer {
    answer(&feed(cni_cmd(sb, env), stdin))
}

/// A network configuration of the podnet plugin (`type: podnet`) with `extra` keys merged in.
pub fn conf(version: &str, name: &str, extra: Value) -> Value {
    let mut c = json!({"cniVersion": version, "name": name, "type": "podnet"});
    if let (Some(m), Some(e)) = (c.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            m.insert(k.clone(), v.clone());
        }
    }
    c
}

/// The variables of a verb on one attachment (`netns` may be empty: left out).
pub fn verb_env<'a>(
    verb: &'a str,
    id: &'a str,
    netns: &'a str,
    ifname: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("CNI_COMMAND", verb),
        ("CNI_CONTAINERID", id),
        ("CNI_IFNAME", ifname),
        ("CNI_PATH", "/usr/lib/cni"),
    ];
    if !netns.is_empty() {
        env.push(("CNI_NETNS", netns));
    }
    env
}

/// ADD, DEL or CHECK of (`id`, eth0) in `netns` with configuration `c`.
pub fn cni_verb(sb: &Sandbox, verb: &str, id: &str, netns: &str, c: &Value) -> Answer {
    cni_verb_args(sb, verb, id, netns, c, None)
}

/// [`cni_verb`] with CNI_ARGS.
pub fn cni_verb_args(
    sb: &Sandbox,
    verb: &str,
    id: &str,
    netns: &str,
    c: &Value,
    args: Option<&str>,
) -> Answer {
    let mut env = verb_env(verb, id, netns, "eth0");
    if let Some(a) = args {
        env.push(("CNI_ARGS", a));
    }
    cni_raw(sb, &env, c.to_string().as_bytes())
}

/// GC of network configuration `c` with `valid` as both attachment keys (None: no list).
pub fn cni_gc(sb: &Sandbox, c: &Value, valid: Option<&[(&str, &str)]>) -> Answer {
    let mut c = c.clone();
    if let Some(v) = valid {
        let list: Vec<Value> = v
            .iter()
            .map(|(id, ifname)| json!({"containerID": id, "ifname": ifname}))
            .collect();
        c["cni.dev/valid-attachments"] = json!(list);
    }
    cni_raw(
        sb,
        &[("CNI_COMMAND", "GC"), ("CNI_PATH", "/usr/lib/cni")],
        c.to_string().as_bytes(),
    )
}

/// The address (with prefix) ADD's result gives the sandbox interface `ifname`.
pub fn result_ip(result: &Value, ifname: &str) -> Ipv4Net {
    let ifaces = as_list(result["interfaces"].clone());
    let ips = as_list(result["ips"].clone());
    let ip = ips
        .iter()
        .find(|ip| {
            ip["interface"]
                .as_u64()
                .and_then(|i| ifaces.get(i as usize))
                .is_some_and(|i| i["name"] == ifname && i["sandbox"].is_string())
        })
        .unwrap_or_else(|| panic!("no address on {ifname} in {result}"));
    net(s(ip, "address"))
}

/// Everything a leak would leave: `pnv*` links, leases, ports, endpoint rows (as names) and
/// runtime rows. Empty lists when nothing is left.
pub fn leftovers(sb: &Sandbox) -> Vec<String> {
    let mut left: Vec<String> = pnv_links(sb)
        .into_iter()
        .map(|l| format!("link {l}"))
        .collect();
    let view = invariants::store_view(sb);
    left.extend(
        view.endpoints
            .iter()
            .map(|e| format!("endpoint {} ({})", e.name, e.state)),
    );
    left.extend(view.leases.iter().map(|l| format!("lease {}", l.1)));
    left.extend(view.ports.iter().map(|p| format!("port {}", p.2)));
    left.extend(
        view.runtime
            .iter()
            .map(|r| format!("runtime row {} {}", r.container_id, r.ifname)),
    );
    left
}

/// A nettool TCP server inside a namespace; stopped by [`Server::stop`] or on drop.
pub struct Server(std::process::Child, Command);

impl Server {
    /// Ends the server and whatever else runs in its namespace (the child is `nsenter`'s).
    pub fn stop(&mut self) {
        let _ = self.1.output();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts `nettool serve tcp PORT --reply REPLY` inside `netns`; returns once it listens.
pub fn serve_in(sb: &Sandbox, netns: &str, port: u16, reply: &str) -> Server {
    serve_bound_in(sb, netns, port, reply, "0.0.0.0")
}

/// [`serve_in`] bound to `bind` (`::` takes both families).
pub fn serve_bound_in(sb: &Sandbox, netns: &str, port: u16, reply: &str, bind: &str) -> Server {
    let ready = format!(
        "{}/serve-{}-{port}.ready",
        sb.scratch(),
        netns.replace('/', "_")
    );
    let mut c = nettool_in(sb, netns);
    c.args([
        "serve",
        "tcp",
        &port.to_string(),
        "--bind",
        bind,
        "--reply",
        reply,
        "--ready-file",
        &ready,
    ]);
    c.stdout(Stdio::null()).stderr(Stdio::null());
    let mut kill = sb.cmd("sh");
    kill.arg("-c").arg(format!(
        "for p in $(ip netns pids {}); do kill -9 $p; done",
        netns.rsplit('/').next().unwrap_or(netns)
    ));
    let server = Server(
        c.spawn().unwrap_or_else(|e| panic!("nettool serve: {e}")),
        kill,
    );
    let file = sb.host_path(&ready);
    sb.wait_until(
        &format!("server in {netns}"),
        std::time::Duration::from_secs(20),
        || file.exists(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    server
}

/// A network namespace `/run/netns/NAME` (`ip netns add`), as a runtime makes one.
pub fn netns(sb: &Sandbox, name: &str) -> String {
    ok("ip netns add", sb.sh(&format!("ip netns add {name}")));
    format!("/run/netns/{name}")
}

/// ADD of (`id`, eth0) in `netns` with configuration `conf`, started and not waited for
/// (`answer(&child.wait_with_output().unwrap())` reads it).
pub fn start_add(sb: &Sandbox, id: &str, netns: &str, conf: &str) -> std::process::Child {
    let mut cmd = cni_cmd(sb, &verb_env("ADD", id, netns, "eth0"));
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(conf.as_bytes())
        .unwrap();
    child
}

/// `n` ADDs of the configuration `conf` at once, as concurrent runtime calls: containers `p0`
/// .. `pN-1`, each in a namespace of its own. Returns the addresses given and the refusals.
pub fn concurrent_adds(
    sb: &Sandbox,
    conf: &str,
    n: usize,
) -> (std::collections::BTreeSet<Ipv4Net>, Vec<Answer>) {
    let mut children = Vec::new();
    for i in 0..n {
        let id = format!("p{i}");
        let ns = netns(sb, &id);
        children.push(start_add(sb, &id, &ns, conf));
    }
    let mut ips = std::collections::BTreeSet::new();
    let mut refused = Vec::new();
    for child in children {
        let a = answer(&child.wait_with_output().unwrap());
        if a.code == 0 {
            ips.insert(result_ip(&a.json, "eth0"));
        } else {
            refused.push(a);
        }
    }
    (ips, refused)
}

/// Who does a CNI call's work: the plugin's own process, or the host's agent that the plugin
/// hands the call to when one runs (`cni::handoff`). The plugin's tests run both ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worker {
    Plugin,
    Agent,
}

/// A fresh sandbox whose CNI calls `w` serves (for [`Worker::Agent`], with an agent started).
pub fn cni_sandbox(w: Worker) -> Sandbox {
    let sb = sandbox();
    if w == Worker::Agent {
        podnet_ok(&sb, &["agent"]);
        agent_pid(&sb).expect("the agent answers");
    }
    sb
}

/// The agent started by [`cni_sandbox`] is still the one running and declined no call, so
/// every handed-over call was served by it.
pub fn assert_agent_served(sb: &Sandbox, pid: u32) {
    assert_eq!(agent_pid(sb), Some(pid), "the agent died or was replaced");
    let log = agent_log(sb);
    assert!(!log.contains("declined"), "{log}");
}

/// Each body runs twice, as two tests: `$plugin` with the plugin alone, `$agent` through the
/// agent (which must have served every call).
#[macro_export]
macro_rules! cni_both_ways {
    ($($body:ident: $plugin:ident, $agent:ident;)+) => {$(
        #[test]
        fn $plugin() {
            $body(&cni_sandbox(Worker::Plugin));
        }
        #[test]
        fn $agent() {
            let sb = cni_sandbox(Worker::Agent);
            let pid = agent_pid(&sb).expect("agent");
            $body(&sb);
            assert_agent_served(&sb, pid);
        }
    )+};
}
