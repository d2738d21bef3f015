//! Client sandboxes (real runtimes as podnet's callers): one definition for every client test.

use super::*;

/// A client sandbox (`SandboxConfig::for_clients`) running the podnet binary under test.
pub fn client_config() -> SandboxConfig {
    SandboxConfig {
        podnet: Some(env!("CARGO_BIN_EXE_podnet").into()),
        ..SandboxConfig::for_clients()
    }
}

pub fn client_sandbox() -> Sandbox {
    Sandbox::with_config(client_config()).unwrap_or_else(|e| panic!("{e}"))
}

/// A lab whose host runs the clients; `outside` is a LAN neighbour for published ports.
pub fn client_lab() -> Lab {
    Lab::with_config(LabConfig {
        sandbox: client_config(),
        ..LabConfig::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// A test bed result or the test fails with its message.
pub fn must<T>(r: podnet::testbed::Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// An HTTP server on port 8080 in a busybox container, answering `hello from HOSTNAME`.
/// busybox 1.35's static `wget -T` dies of SIGSEGV: every wget here runs under `timeout`.
pub const HTTPD: &str =
    "echo \"hello from $(hostname)\" > /tmp/index.html && exec httpd -f -p 8080 -h /tmp";

/// `GET /index.html` over TCP from `from`'s root namespace, with busybox's wget.
pub fn http_from(from: &Sandbox, host: &str, port: u16) -> String {
    let url = format!("http://{host}:{port}/index.html");
    ok(
        &format!("wget {url}"),
        from.sh(&format!("timeout 10 busybox wget -qO- {url}")),
    )
}

/// A pod started through CRI as the kubelet starts one: sandbox `name` in Kubernetes
/// namespace `shop` (uid `uid-NAME`) with the port mapping `port` (`HOST:CONTAINER`), then
/// [`HTTPD`] in its container `httpd`. Returns (pod id, pod IP, container id).
pub fn cri_http_pod(sb: &Sandbox, name: &str, port: &str) -> (String, String, String) {
    use podnet::testbed::clients::{cri_ok, BUSYBOX};
    let uid = format!("uid-{name}");
    let pod = must(cri_ok(
        sb,
        [
            "runp",
            "--name",
            name,
            "--namespace",
            "shop",
            "--uid",
            &uid,
            "--port",
            port,
        ],
    ));
    let ip = must(cri_ok(sb, ["podip", &pod]));
    let ctr = must(cri_ok(
        sb,
        [
            "run", &pod, "--name", "httpd", "--image", BUSYBOX, "--", "sh", "-c", HTTPD,
        ],
    ));
    (pod, ip, ctr)
}
