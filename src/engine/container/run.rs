//! `run` (a process in a namespace podnet sets up, foreground or detached) and `exec`.

use super::{find, is_running, RunOutcome, RunSpec};
use crate::engine::setup::{self, EndpointSpec, Netns};
use crate::engine::{detach, foreground, logs, proc, Ctx};
use crate::kernel::netns;
use crate::model::field::NETWORK;
use crate::model::{validate_name, CommandCause, Endpoint, Error, Mode, Result};
use nix::sched::{setns, CloneFlags};
use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn generated_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("c{:x}{:04x}", std::process::id(), nanos & 0xffff)
}

pub fn run(ctx: &mut Ctx, spec: RunSpec) -> Result<RunOutcome> {
    if spec.argv.is_empty() {
        return Err(Error::input(
            "no command given: write it after `--`, e.g. `podnet run -- sleep 60`",
        ));
    }
    // From here on, a signal to a foreground podnet waits until the command can receive it.
    let signals = (!spec.detach).then(foreground::Signals::block);
    let name = spec.name.clone().unwrap_or_else(generated_name);
    validate_name("container", &name)?;
    let mode = spec.network.clone();
    super::check_aliases(&spec.aliases)?;
    if !spec.etc.is_empty() && matches!(mode, Mode::Host | Mode::Container(_)) {
        return Err(Error::input(format!(
            "--hostname, --dns, --dns-search and --add-host need a namespace of the container's own: not with {NETWORK} host or container:NAME"
        )));
    }
    for (i, n) in spec.more_networks.iter().enumerate() {
        if matches!(&mode, Mode::Bridge(first) if first == n) || spec.more_networks[..i].contains(n)
        {
            return Err(Error::input(format!(
                "{NETWORK} {n} is given twice: name each network once"
            )));
        }
        if n != crate::engine::DEFAULT_NETWORK && ctx.store.network(n)?.is_none() {
            return Err(Error::input(format!(
                "network '{n}' does not exist{}",
                crate::model::cli_hint(&format!(
                    ": create it with `podnet network create {n}` or see `podnet network ls`"
                ))
            )));
        }
    }
    if !spec.more_networks.is_empty() && !matches!(mode, Mode::Bridge(_)) {
        return Err(Error::input(format!(
            "{NETWORK} given several times: only bridge networks can be combined (not host, none or container:NAME)"
        )));
    }
    let ns = match &mode {
        Mode::Bridge(_) | Mode::None => Netns::Create,
        Mode::Host => Netns::Host,
        Mode::Container(other) => {
            let o = find(ctx, other).map_err(|_| {
                Error::input(format!(
                    "{NETWORK} container:{other}: no container named '{other}': see `podnet ps`"
                ))
            })?;
            if !is_running(&o) {
                return Err(Error::input(format!(
                    "{NETWORK} container:{other}: '{other}' is not running: start it first"
                )));
            }
            match o.netns {
                Some(p) => Netns::Existing(PathBuf::from(p)),
                None => return Err(Error::input(format!("{NETWORK} container:{other}: '{other}' uses the host's namespace: use {NETWORK} host"))),
            }
        }
    };
    let ep = setup::attach(
        ctx,
        &EndpointSpec {
            name: &name,
            mode,
            netns: ns,
            ip: spec.ip,
            ip6: spec.ip6,
            ports: &spec.ports,
            labels: &spec.labels,
            owned_by_caller: !spec.detach,
            ifname: None,
            mac: None,
            runtime: None,
            member_of: None,
            aliases: &spec.aliases,
            delegated: false,
        },
    )?;
    // Its later networks, before its command starts (which sees them all at once).
    for net in &spec.more_networks {
        let made = super::networks::add(ctx, &ep, net, None, None, &spec.aliases).and_then(|m| {
            match setup::mark_ready(ctx, &m, false)? {
                true => Ok(()),
                false => Err(setup::taken_over(&m.name)),
            }
        });
        if let Err(e) = made {
            return Err(match detach::undo_own(ctx, ep.id) {
                Ok(()) => e,
                Err(u) => e.undo_failed(u),
            });
        }
    }
    if let Some(sig) = signals.as_ref().and_then(|s| s.take_pending()) {
        // Told to stop before the command started: do not start it.
        detach::undo_own(ctx, ep.id)?;
        return Ok(RunOutcome {
            endpoint: ep,
            exit_code: Some(128 + sig),
        });
    }
    // Its own /etc/resolv.conf, /etc/hosts and host name (not in the host's namespaces).
    let enter = match &ep.mode {
        Mode::Bridge(_) | Mode::None => match super::etc::prepare(ctx, &ep, &spec.etc) {
            Ok(e) => Some(e),
            Err(e) => {
                let _ = detach::undo_own(ctx, ep.id);
                return Err(e);
            }
        },
        _ => None,
    };
    let mut child = match spawn(ctx, &ep, &spec, enter.as_ref()) {
        Ok(c) => c,
        Err(e) => {
            let _ = detach::undo_own(ctx, ep.id);
            return Err(e);
        }
    };
    crate::fault::step("run", 1);
    if let Err(e) = record(ctx, &ep, &child, !spec.detach) {
        // The process must never outlive its record: a row taken over meanwhile (`rm -f`,
        // `gc`) is torn down by whoever took it, and only this process knows the child.
        stop_child(&mut child);
        let _ = detach::undo_own(ctx, ep.id);
        return Err(e);
    }
    let ep = find(ctx, &name)?;
    if spec.detach {
        return Ok(RunOutcome {
            endpoint: ep,
            exit_code: None,
        });
    }
    let code = signals
        .expect("a foreground run blocked its signals")
        .wait(&mut child)?;
    // The command is done; whatever it left running in its namespace goes with it — unless a
    // `rm -f` took the container over meanwhile (it tears it down).
    let me = proc::me();
    detach::teardown_if(ctx, ep.id, true, &mut |_, e| Ok(e.owner == Some(me)))?;
    Ok(RunOutcome {
        endpoint: ep,
        exit_code: Some(code),
    })
}

/// Record the started process and mark the container ready, each a compare-and-set on the row
/// this process is creating.
fn record(
    ctx: &mut Ctx,
    ep: &Endpoint,
    child: &std::process::Child,
    keep_owner: bool,
) -> Result<()> {
    let pid = proc::identity(child.id() as i32).unwrap_or((child.id() as i32, 0));
    let me = proc::me();
    // The namespace's identity goes in the same write: `attach --netns` refuses it by that.
    let ns_id = ep
        .netns
        .as_deref()
        .filter(|_| ep.netns_owned)
        .and_then(|p| netns::identity(p.as_ref()));
    if !ctx.store.write(|tx| {
        let recorded = tx.set_pid(ep.id, pid, me)?;
        if let (true, Some(ns)) = (recorded, ns_id) {
            tx.set_netns_identity(ep.id, ns)?;
        }
        Ok(recorded)
    })? {
        return Err(setup::taken_over(&ep.name));
    }
    crate::fault::step("run", 2);
    if !setup::mark_ready(ctx, ep, keep_owner)? {
        return Err(setup::taken_over(&ep.name));
    }
    Ok(())
}

/// Kill a child this process started (with its process group when it leads one) and reap it.
fn stop_child(child: &mut std::process::Child) {
    if let Some(id) = proc::identity(child.id() as i32) {
        detach::kill(id);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Start the container's process inside its namespace.
fn spawn(
    ctx: &Ctx,
    ep: &Endpoint,
    spec: &RunSpec,
    enter: Option<&super::etc::Enter>,
) -> Result<std::process::Child> {
    let ns = ep.netns.as_deref().map(File::open).transpose()?;
    let mut cmd = Command::new(&spec.argv[0]);
    cmd.args(&spec.argv[1..]);
    if spec.detach {
        // Output goes through a pipe to the log pump, which bounds it (see `logs`).
        let out = File::from(logs::start(&logs::dir(ctx, &ep.name), spec.log)?);
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
    }
    let ns_fd = ns.as_ref().map(|f| f.as_raw_fd());
    let detach = spec.detach;
    let enter = enter.cloned();
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe calls
    // (setns, unshare, mount, sethostname, setsid, signal, sigprocmask) on an fd that stays
    // open in the parent until spawn returns, and on strings prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(fd) = ns_fd {
                setns(BorrowedFd::borrow_raw(fd), CloneFlags::CLONE_NEWNET)?;
            }
            if let Some(e) = &enter {
                e.apply()?;
            }
            if detach {
                libc::setsid();
            }
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGQUIT, libc::SIG_DFL);
            foreground::unblock();
            Ok(())
        });
    }
    cmd.spawn().map_err(|e| cannot_exec(&spec.argv[0], e))
}

/// Replace this process with `argv` run inside the container's namespace.
pub fn exec(ctx: &Ctx, name: &str, argv: &[String]) -> Result<()> {
    let ep = find(ctx, name)?;
    if argv.is_empty() {
        return Err(Error::input(
            "no command given: write it after `--`, e.g. `podnet exec web -- ip addr`",
        ));
    }
    if !is_running(&ep) {
        return Err(Error::input(format!("container '{name}' is not running")));
    }
    // The container's own mount and UTS namespaces (its /etc files, its host name), when
    // `run` gave it some: entered before the network one, through its process.
    if let (true, Some(pid)) = (ep.netns_owned, ep.pid) {
        if super::etc::dir(ctx, name).exists() {
            for (ns, flag) in [
                ("uts", CloneFlags::CLONE_NEWUTS),
                ("mnt", CloneFlags::CLONE_NEWNS),
            ] {
                let f = File::open(format!("/proc/{}/ns/{ns}", pid.0))
                    .map_err(|e| Error::failed(format!("enter '{name}': {ns} namespace: {e}")))?;
                setns(&f, flag).map_err(|e| {
                    Error::failed(format!("enter '{name}': {ns} namespace: {}", e.desc()))
                })?;
            }
        }
    }
    if let Some(p) = &ep.netns {
        let ns = netns::open(p.as_ref())?;
        setns(&ns, CloneFlags::CLONE_NEWNET)
            .map_err(|e| Error::failed(format!("enter '{name}': {}", e.desc())))?;
    }
    let e = Command::new(&argv[0]).args(&argv[1..]).exec();
    Err(cannot_exec(&argv[0], e))
}

/// Why a command could not be started, in the kinds shells and Docker tell apart.
fn cannot_exec(what: &str, e: std::io::Error) -> Error {
    match (e.kind(), e.raw_os_error()) {
        (std::io::ErrorKind::NotFound, _) => Error::command(
            what,
            CommandCause::NotFound,
            format!("command '{what}' not found: give a program on PATH or a full path"),
        ),
        (std::io::ErrorKind::PermissionDenied, _) | (_, Some(libc::ENOEXEC)) => Error::command(
            what,
            CommandCause::NotExecutable,
            format!("command '{what}' cannot be executed: {e}"),
        ),
        _ => Error::command(what, CommandCause::Other, format!("start '{what}': {e}")),
    }
}
