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
