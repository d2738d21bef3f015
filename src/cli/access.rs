//! Which commands only read state and which change it: reads never create a store (a mistyped
//! root says there is no state there), changes need CAP_NET_ADMIN.

use super::args::{Command, NetworkCmd, ServiceCmd};
use crate::engine::Access;

/// How a command uses state: reads never create a store, changes need CAP_NET_ADMIN.
pub(super) fn access(cmd: &Command) -> Access {
    match cmd {
        Command::Ps { .. }
        | Command::Graph { .. }
        | Command::Ui { .. }
        | Command::Inspect { .. }
        | Command::Ports { .. }
        | Command::Exec { .. }
        | Command::Logs { .. }
        | Command::Network(NetworkCmd::Ls | NetworkCmd::Inspect { .. })
        | Command::Service(ServiceCmd::Ls | ServiceCmd::Inspect { .. }) => Access::Read,
        Command::Detach { .. }
        | Command::Stop { .. }
        | Command::Rm { .. }
        | Command::Label { .. }
        | Command::Trace { .. }
        | Command::Network(
            NetworkCmd::Rm { .. } | NetworkCmd::Prune | NetworkCmd::Disconnect { .. },
        )
        | Command::Service(ServiceCmd::Rm { .. }) => Access::Change,
        _ => Access::Create,
    }
}

/// Listings, which show an empty list (with a note) where there is no state.
pub(super) fn is_listing(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::Ps { .. }
            | Command::Graph { .. }
            | Command::Network(NetworkCmd::Ls)
            | Command::Service(ServiceCmd::Ls)
    )
}
