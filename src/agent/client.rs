//! The CLI's side of the agent: tell it the store changed (and wait, bounded, until it
//! serves the change), start it when it is needed and not running.
//!
//! Nothing here fails a command: the store is the truth and the agent follows it; a caller
//! gets an error to report as a warning.

use super::wire::{self, Request, Response};
use std::io;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a command waits for the agent: to start, and to confirm a change. Starting is
/// a few milliseconds; this bounds a wedged agent.
pub const WAIT: Duration = Duration::from_secs(3);

/// The agent's socket, in the runtime dir (gone with a reboot, like the agent).
pub fn socket_path(run_dir: &Path) -> PathBuf {
    run_dir.join("agent.sock")
}

/// The lock one agent per runtime dir holds (with its pid inside).
pub fn lock_path(run_dir: &Path) -> PathBuf {
    run_dir.join("agent.lock")
}

/// Where a detached agent writes what it has to say.
pub fn log_path(root: &Path) -> PathBuf {
    root.join("agent.log")
}

/// What telling the agent came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Told {
    /// It is not running and was not asked to start: nothing serves names to tell.
    Down,
    /// It confirmed the change is served (its pid).
    Synced(u32),
}

/// Tell the agent the store changed and wait until it serves the change. With `start`, an
/// agent that is not running is started first (detached) and then told. `container`: the one
/// container whose names changed, if that is all (see [`Request::Sync`]).
pub fn sync(root: &Path, run_dir: &Path, start: bool, container: Option<i64>) -> io::Result<Told> {
    let deadline = Instant::now() + WAIT;
    let path = socket_path(run_dir);
    let stream = match UnixStream::connect(&path) {
        Ok(s) => s,
        Err(_) if !start => return Ok(Told::Down),
        Err(_) => {
            spawn(root, run_dir)?;
            connect_by(&path, deadline)?
        }
    };
    let r = ask(stream, &Request::Sync { container }, deadline)?;
    match (r.ok, r.pid) {
        (true, Some(pid)) => Ok(Told::Synced(pid)),
        _ => Err(io::Error::other(
            r.error.unwrap_or_else(|| "the agent refused".into()),
        )),
    }
}

/// The engine's [`Announce`](crate::engine::names::Announce) for the commands and plugins:
/// changed names are told to the agent of this state (`sync`, bounded), which is started
/// when a container joins a DNS-enabled network.
pub struct Announcer {
    root: PathBuf,
    run_dir: PathBuf,
}

/// What front ends hand to `Ctx::announce_names`.
pub fn announcer(root: &Path, run_dir: &Path) -> Box<Announcer> {
    Box::new(Announcer {
        root: root.to_path_buf(),
        run_dir: run_dir.to_path_buf(),
    })
}

impl crate::engine::names::Announce for Announcer {
    fn changed(&self, start: bool, container: Option<i64>) -> Result<(), String> {
        match sync(&self.root, &self.run_dir, start, container) {
            Ok(Told::Synced(_) | Told::Down) => Ok(()),
            Err(e) => Err(format!(
                "the agent did not confirm the change of names: {e}; names follow once it runs (`podnet agent`, log in {})",
                log_path(&self.root).display()
            )),
        }
    }

    /// Only a cluster node's agent publishes containers: on a single host this is one
    /// `stat` (no `cluster.json`). Failures are silent: the agent's resync (5 s) publishes
    /// what it missed, and a node without a running agent has nothing to publish with.
    fn backends_changed(&self) {
        if self.root.join(crate::cluster::local::FILE).exists() {
            let _ = publish(&self.run_dir);
        }
    }
}

/// Ask the agent to publish this node's containers to the cluster (`Request::Publish`);
/// answered as soon as it is received. `Told::Down` when no agent runs.
pub fn publish(run_dir: &Path) -> io::Result<Told> {
    let Ok(stream) = UnixStream::connect(socket_path(run_dir)) else {
        return Ok(Told::Down);
    };
    let r = ask(stream, &Request::Publish, Instant::now() + WAIT)?;
    match (r.ok, r.pid) {
        (true, Some(pid)) => Ok(Told::Synced(pid)),
        _ => Err(io::Error::other(
            r.error.unwrap_or_else(|| "the agent refused".into()),
        )),
    }
}

/// The running agent's pid, if one answers.
pub fn ping(run_dir: &Path) -> Option<u32> {
    let stream = UnixStream::connect(socket_path(run_dir)).ok()?;
    let r = ask(stream, &Request::Ping, Instant::now() + WAIT).ok()?;
    r.ok.then_some(r.pid).flatten()
}

/// Hand CNI call `call` to the agent of its run dir and wait up to `patience` for the
/// reply: `Ok(None)` when no agent runs there or it declined the call.
pub fn cni(call: wire::CniCall, patience: Duration) -> io::Result<Option<wire::CniReply>> {
    let Ok(stream) = UnixStream::connect(socket_path(&call.run_dir)) else {
        return Ok(None);
    };
    let agent = wire::peer(&stream)
        .ok()
        .and_then(|(pid, _)| crate::engine::proc::identity(pid));
    let r = match ask(stream, &Request::Cni(call), Instant::now() + patience) {
        Ok(r) => r,
        Err(e) => {
            // The agent died mid-call: its half-made records are a dead call's (which the
            // plugin's own call then finishes) only once the process is gone — its socket
            // closes while it is still exiting.
            if let (Some(id), false) = (agent, is_timeout(&e)) {
                crate::engine::proc::wait_gone(id, WAIT);
            }
            return Err(e);
        }
    };
    match (r.ok, r.body) {
        (true, Some(body)) => serde_json::from_value(body)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
        _ => Ok(None),
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Connect to `path`, retrying until `deadline` (an agent just started binds it shortly).
pub fn connect_by(path: &Path, deadline: Instant) -> io::Result<UnixStream> {
    loop {
        match UnixStream::connect(path) {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() >= deadline => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("the agent did not come up at {}: {e}", path.display()),
                ))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// One request and its response, within `deadline`.
fn ask(mut stream: UnixStream, req: &Request, deadline: Instant) -> io::Result<Response> {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    stream.set_read_timeout(Some(left))?;
    stream.set_write_timeout(Some(left))?;
    wire::send(&mut stream, req)?;
    wire::recv_response(&mut stream)
}

/// Start `podnet agent --foreground` detached: its own session, stdin from /dev/null, its
/// output appended to the log in the state dir. A second agent started meanwhile by
/// another command finds the lock taken and exits; the first serves both.
pub fn spawn(root: &Path, run_dir: &Path) -> io::Result<u32> {
    std::fs::create_dir_all(root)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(root))?;
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("--root")
        .arg(root)
        .arg("--run-dir")
        .arg(run_dir)
        .args(["agent", "--foreground"])
        .env_remove("CNI_COMMAND")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: between fork and exec, only async-signal-safe calls: setsid, sigprocmask with
    // an empty set on the stack, signal.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            Ok(())
        });
    }
    // Not waited for: it outlives this command and is re-parented when this one exits.
    Ok(cmd.spawn()?.id())
}
