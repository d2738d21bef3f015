//! One structured error type for the whole engine. The variant says what kind of failure it
//! is, so each front end can map it its own way (the CLI to exit codes and one-line messages,
//! see `cli/exit.rs`); the Display text is the one line a person reads.

use std::fmt;
use std::path::{Path, PathBuf};

/// podnet's error. Every variant's text is one line that says what failed and what to do.
#[derive(Debug)]
pub enum Error {
    /// The user's input was wrong; nothing was changed. `field` names the input it concerns
    /// when known, in the engine's words (`subnet`, `ip`, `node_port`): each front end has
    /// its own name for it (the CLI a flag), and the message mentions it through
    /// [`mention`] so that each front end names it its own way (see [`Error::render`]).
    Input { field: Option<String>, msg: String },
    /// A named object (`kind`: container, network, service, command ...) does not exist.
    NotFound {
        kind: &'static str,
        name: String,
        msg: String,
    },
    /// The request conflicts with what exists (a name in use, a container running).
    Conflict { msg: String },
    /// There is no podnet state at `root`: commands that only read do not create it.
    NoState { root: PathBuf },
    /// The kernel refused an operation (`op`, innermost first) with `errno`. EPERM means the
    /// caller lacks CAP_NET_ADMIN, and the text then says so first.
    Kernel { op: String, errno: i32, msg: String },
    /// The state store failed. `path` is the database file when known; the text names the
    /// cause, never SQL.
    Store {
        path: Option<PathBuf>,
        cause: StoreCause,
        context: String,
    },
    /// The container's command could not be started.
    Command {
        program: String,
        cause: CommandCause,
        msg: String,
    },
    /// An operation failed and undoing its partial work failed too; `error` is the kind
    /// that counts.
    Undo { error: Box<Error>, undo: Box<Error> },
    /// Anything else that failed while doing the work.
    Failed(String),
}

/// Why the store failed, in words a user can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreCause {
    ReadOnlyFs,
    ReadOnly,
    Permission,
    /// The file is not a database, or it is corrupt.
    Corrupt,
    DiskFull,
    /// Another process held the store longer than the busy timeout.
    Busy,
    /// A path component is missing or is not a directory.
    CannotOpen,
    Io,
    /// A write conflicted with a record (a bug or a concurrent change podnet did not expect).
    Constraint,
    /// Content this podnet does not understand.
    Unexpected,
}

impl StoreCause {
    fn text(self) -> &'static str {
        match self {
            StoreCause::ReadOnlyFs => "its file system is read-only",
            StoreCause::ReadOnly => "it is read-only (file permissions): run podnet as root",
            StoreCause::Permission => "permission denied: run podnet as root",
            StoreCause::Corrupt => "it is not a podnet database or it is corrupt: move it away (podnet starts a new one) or restore a backup",
            StoreCause::DiskFull => "its file system is full: free space there",
            StoreCause::Busy => "another podnet process held it too long: retry",
            StoreCause::CannotOpen => "it cannot be opened (a directory on its path is missing or not a directory)",
            StoreCause::Io => "I/O error reading or writing it",
            StoreCause::Constraint => "a change conflicted with an existing record: retry, and report it if it persists",
            StoreCause::Unexpected => "it holds data this podnet does not understand (made by another version?)",
        }
    }
}

/// Why the container's command could not start (Docker's 127 and 126).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandCause {
    NotFound,
    NotExecutable,
    Other,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

const NEEDS_ROOT: &str = "podnet needs root (CAP_NET_ADMIN)";

mod mention;
pub use mention::{cli_hint, cli_hint_text, field, mention, neutral_name};
use mention::{first_mention, substitute};

impl Error {
    /// Bad input; the message names the input and says what to do. The first field the
    /// message [`mention`]s is the one it concerns.
    pub fn input(msg: impl Into<String>) -> Self {
        let msg = msg.into();
        Error::Input {
            field: first_mention(&msg),
            msg,
        }
    }
    /// Bad input concerning one field (`ip`, `NAME`); a [`mention`] is taken as its key.
    pub fn field(field: impl Into<String>, msg: impl Into<String>) -> Self {
        let field = field.into();
        Error::Input {
            field: Some(first_mention(&field).unwrap_or(field)),
            msg: msg.into(),
        }
    }

    /// The one-line text with every mentioned field named by `name` (a front end's name for
    /// it, e.g. the CLI's flag), or by its neutral name where `name` has none.
    pub fn render(&self, name: &dyn Fn(&str) -> Option<String>) -> String {
        substitute(&Raw(self).to_string(), name)
    }
    pub fn not_found(kind: &'static str, name: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::NotFound {
            kind,
            name: name.into(),
            msg: msg.into(),
        }
    }
    pub fn conflict(msg: impl Into<String>) -> Self {
        Error::Conflict { msg: msg.into() }
    }
    pub fn failed(msg: impl Into<String>) -> Self {
        Error::Failed(msg.into())
    }
    pub fn no_state(root: &Path) -> Self {
        Error::NoState {
            root: root.to_path_buf(),
        }
    }
    /// The kernel refused `op` with `errno` (positive).
    pub fn kernel(op: impl Into<String>, errno: i32) -> Self {
        let op = op.into();
        let msg = format!("{op}: {}", std::io::Error::from_raw_os_error(errno));
        Error::Kernel { op, errno, msg }
    }
    /// Like [`Error::kernel`] with a text of the caller's own.
    pub fn kernel_msg(op: impl Into<String>, errno: i32, msg: impl Into<String>) -> Self {
        Error::Kernel {
            op: op.into(),
            errno,
            msg: msg.into(),
        }
    }
    /// The caller lacks CAP_NET_ADMIN for `what` (found before trying).
    pub fn needs_root(what: impl Into<String>) -> Self {
        let what = what.into();
        Error::Kernel {
            op: what.clone(),
            errno: libc::EPERM,
            msg: what,
        }
    }
    pub fn store(cause: StoreCause) -> Self {
        Error::Store {
            path: None,
            cause,
            context: String::new(),
        }
    }
    pub fn command(
        program: impl Into<String>,
        cause: CommandCause,
        msg: impl Into<String>,
    ) -> Self {
        Error::Command {
            program: program.into(),
            cause,
            msg: msg.into(),
        }
    }

    /// Prefix the message with what was being done, keeping the variant.
    pub fn context(self, what: impl fmt::Display) -> Self {
        match self {
            Error::Input { field, msg } => Error::Input {
                field,
                msg: format!("{what}: {msg}"),
            },
            Error::NotFound { kind, name, msg } => Error::NotFound {
                kind,
                name,
                msg: format!("{what}: {msg}"),
            },
            Error::Conflict { msg } => Error::Conflict {
                msg: format!("{what}: {msg}"),
            },
            e @ Error::NoState { .. } => e,
            Error::Kernel { op, errno, msg } => Error::Kernel {
                op,
                errno,
                msg: format!("{what}: {msg}"),
            },
            Error::Store {
                path,
                cause,
                context,
            } => Error::Store {
                path,
                cause,
                context: format!("{what}: {context}"),
            },
            Error::Command {
                program,
                cause,
                msg,
            } => Error::Command {
                program,
                cause,
                msg: format!("{what}: {msg}"),
            },
            Error::Undo { error, undo } => Error::Undo {
                error: Box::new(error.context(what)),
                undo,
            },
            Error::Failed(m) => Error::Failed(format!("{what}: {m}")),
        }
    }

    /// This failure, after which undoing the partial work failed with `undo`.
    pub fn undo_failed(self, undo: Error) -> Self {
        Error::Undo {
            error: Box::new(self),
            undo: Box::new(undo),
        }
    }

    /// The failure that decides the kind (through undo wrappers).
    pub fn primary(&self) -> &Error {
        match self {
            Error::Undo { error, .. } => error.primary(),
            e => e,
        }
    }

    /// Whether this is the user's mistake (input, a missing name, a conflict, a wrong root):
    /// nothing was changed.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self.primary(),
            Error::Input { .. }
                | Error::NotFound { .. }
                | Error::Conflict { .. }
                | Error::NoState { .. }
        )
    }

    /// Whether the kernel refused for lack of privilege (anywhere in the chain).
    pub fn lacks_root(&self) -> bool {
        match self {
            Error::Kernel { errno, .. } => *errno == libc::EPERM,
            Error::Undo { error, undo } => error.lacks_root() || undo.lacks_root(),
            _ => false,
        }
    }

    /// 2 for bad input, 1 for a failure: the class, for tests. The CLI's full mapping (`run`,
    /// several names) is `cli::exit`.
    pub fn exit_code(&self) -> i32 {
        if self.is_bad_input() {
            2
        } else {
            1
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&|_| None))
    }
}

/// The text with its field mentions still marked.
struct Raw<'a>(&'a Error);

impl fmt::Display for Raw<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Error::Input { msg, .. }
            | Error::NotFound { msg, .. }
            | Error::Conflict { msg }
            | Error::Command { msg, .. }
            | Error::Failed(msg) => f.write_str(msg),
            Error::NoState { root } => write!(
                f,
                "no podnet state at {}: nothing was ever created there (check {} or PODNET_ROOT)",
                root.display(),
                field::ROOT
            ),
            Error::Kernel { errno, msg, .. } if *errno == libc::EPERM => {
                write!(f, "{NEEDS_ROOT}: {msg}")
            }
            Error::Kernel { msg, .. } => f.write_str(msg),
            Error::Store {
                path,
                cause,
                context,
            } => {
                write!(f, "{context}state store")?;
                if let Some(p) = path {
                    write!(f, " {}", p.display())?;
                }
                write!(f, ": {}", cause.text())
            }
            // Lack of root is the cause to fix first, whichever step hit it.
            Error::Undo { error, undo } => match (error.lacks_root(), undo.lacks_root()) {
                (true, true) => write!(f, "{}", Raw(error)),
                (false, true) => write!(f, "{} (while undoing after: {})", Raw(undo), Raw(error)),
                _ => write!(
                    f,
                    "{} (and undoing it failed too: {})",
                    Raw(error),
                    Raw(undo)
                ),
            },
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Failed(e.to_string())
    }
}

impl From<nix::Error> for Error {
    fn from(e: nix::Error) -> Self {
        let errno = e as i32;
        Error::kernel_msg("", errno, e.desc())
    }
}

#[cfg(test)]
mod tests {

    /// The engine names a field by its key; the CLI shows its flag, other front ends their
    /// own word or the neutral one, and the error carries the key as its field.
    #[test]
    fn a_mentioned_field_is_named_by_each_front_end() {
        use super::field::{IP, SUBNET};
        let e = Error::input(format!(
            "{IP} 10.0.0.1 is not in {SUBNET} 10.1.0.0/24: pick another"
        ));
        assert!(matches!(&e, Error::Input { field: Some(f), .. } if f == "ip"));
        assert_eq!(
            e.to_string(),
            "ip 10.0.0.1 is not in subnet 10.1.0.0/24: pick another"
        );
        let flags = |k: &str| Some(format!("--{k}"));
        assert_eq!(
            e.render(&flags),
            "--ip 10.0.0.1 is not in --subnet 10.1.0.0/24: pick another"
        );
        let wrapped = Error::failed("x").undo_failed(e.context("attach"));
        assert!(
            !wrapped.render(&flags).contains('\u{1}'),
            "{}",
            wrapped.render(&flags)
        );
        assert!(wrapped.render(&flags).contains("attach: --ip 10.0.0.1"));
        assert!(matches!(Error::field(IP, "m"), Error::Input { field: Some(f), .. } if f == "ip"));
    }

    /// A command to run is shown by the CLI only: CNI and netavark users get the message
    /// without it, and it is never the field the error concerns.
    #[test]
    fn a_cli_hint_is_shown_by_the_cli_only() {
        use super::field::NAME;
        let e = Error::input(format!(
            "container name 'web' is in use{}: choose another {NAME}",
            cli_hint(" (`podnet rm -f web`)")
        ));
        assert!(
            matches!(&e, Error::Input { field: Some(f), .. } if f == "name"),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "container name 'web' is in use: choose another name"
        );
        let cli = |k: &str| {
            cli_hint_text(k)
                .map(str::to_owned)
                .or(Some(format!("--{k}")))
        };
        assert_eq!(
            e.render(&cli),
            "container name 'web' is in use (`podnet rm -f web`): choose another --name"
        );
        let netavark = |k: &str| (k == "name").then(|| "container_name".to_owned());
        assert_eq!(
            e.render(&netavark),
            "container name 'web' is in use: choose another container_name"
        );
        let none = Error::no_state(Path::new("/x"));
        assert!(!none.to_string().contains("--"), "{none}");
        assert!(
            none.render(&cli).contains("check --root or PODNET_ROOT"),
            "{}",
            none.render(&cli)
        );
    }

    use super::*;

    #[test]
    fn permission_comes_first_even_after_a_failed_undo() {
        let e = Error::kernel("create bridge pn-x", libc::EPERM)
            .undo_failed(Error::kernel("delete link pn-x", libc::EPERM));
        let s = e.to_string();
        assert!(s.starts_with(NEEDS_ROOT), "{s}");
        assert!(!s.contains("undoing"), "{s}");
        let e = Error::failed("x").undo_failed(Error::kernel("delete", libc::EPERM));
        assert!(e.to_string().starts_with(NEEDS_ROOT), "{e}");
        assert!(!e.is_bad_input());
    }

    #[test]
    fn context_keeps_the_kind() {
        let e = Error::not_found("container", "a", "no container named 'a'").context("rm");
        assert!(e.is_bad_input());
        assert_eq!(e.to_string(), "rm: no container named 'a'");
        let e = Error::kernel("add address", libc::EEXIST).context("attach x");
        assert!(!e.is_bad_input());
        assert!(e.to_string().starts_with("attach x: add address: "), "{e}");
    }
}
