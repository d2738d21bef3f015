//! [`Sandbox`]: one hermetic "host" (fresh net + mount + PID namespaces).

use super::cgroup::{self, CgroupTree};
use super::{python, Error, Result, SANDBOX_SCRATCH_DIR, SANDBOX_STATE_DIR};
use std::ffi::{CString, OsStr};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Runs as the holder: PID 1 of the sandbox. Reaps every orphan, as init does on a real
/// host, so exited detached containers do not linger as zombies.
const REAPER: &str = "import os, signal
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
while True:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass
    signal.sigwaitinfo({signal.SIGCHLD})
";

/// Setup run by `sh -c` inside the new namespaces; `$1` = python, `$2` = reaper source,
/// `$3` = more setup (private system dirs, cgroup mounts) run once `/sys` is the sandbox's.
const SETUP: &str = r#"set -e
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/testbed
mount -t sysfs sysfs /sys
eval "$3"
ip link set lo up
echo ready
if command -v "$1" >/dev/null 2>&1; then
  exec "$1" -c "$2" </dev/null >/dev/null 2>&1
fi
exec sleep infinity </dev/null >/dev/null 2>&1
"#;

/// How to build a [`Sandbox`].
#[derive(Clone, Debug, Default)]
pub struct SandboxConfig {
    /// The podnet binary that [`Sandbox::podnet`] runs. Default: env `PODNET_BIN`, else
    /// this executable when it is called `podnet`, else `podnet` beside (or one directory
    /// above) this executable, as cargo lays out `target/<profile>/{podnet,deps/*}`.
    pub podnet: Option<PathBuf>,
    /// Extra shell commands run inside the sandbox after the standard setup.
    pub extra_setup: Option<String>,
    /// Give the sandbox private copies of the machine's system directories: `/etc`,
    /// `/var/lib`, `/tmp` and `/var/tmp` become overlays whose writes land in a tmpfs (a
    /// tool still reads the machine's files, e.g. a cache under `/tmp`, and nothing it
    /// writes there survives the sandbox); `/etc/cni`, `/var/lib/cni`,
    /// `/var/lib/containers` and `/var/lib/containerd` are empty tmpfs (overlayfs cannot
    /// hold the runtimes' own overlay layers). Container runtimes write to these whatever
    /// their flags say (podman writes `/var/lib/containers/cache`).
    pub private_system_dirs: bool,
    /// Give the sandbox a cgroup subtree of its own (below this process's cgroups) and a
    /// cgroup namespace rooted there, with the hierarchies mounted under its
    /// `/sys/fs/cgroup`: whatever cgroups runc makes land in the subtree, which is removed
    /// when the sandbox is dropped (see `testbed/cgroup.rs`).
    pub own_cgroups: bool,
}

/// Shell commands that give a sandbox private system directories (see
/// [`SandboxConfig::private_system_dirs`]).
const PRIVATE_SYSTEM_DIRS: &str = r#"
mkdir -p /run/lock /run/netns
for d in etc var/lib tmp var/tmp; do
  o=/run/.system-dirs/$(echo "$d" | tr / _)
  mkdir -p "$o/upper" "$o/work"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$o/upper,workdir=$o/work" "/$d"
done
for d in /etc/cni /var/lib/cni /var/lib/containers /var/lib/containerd; do
  mkdir -p "$d" && mount -t tmpfs -o mode=0755 tmpfs "$d"
done
"#;

impl SandboxConfig {
    /// What container runtimes need (podman, containerd, netavark, CNI plugins):
    /// [`private_system_dirs`](Self::private_system_dirs) and
    /// [`own_cgroups`](Self::own_cgroups). See `testbed::clients`.
    pub fn for_clients() -> SandboxConfig {
        SandboxConfig {
            private_system_dirs: true,
            own_cgroups: true,
            ..SandboxConfig::default()
        }
    }
}

/// A hermetic host: a holder process in fresh network, mount and PID namespaces.
///
/// Dropping it kills the holder, and with it every process, link, namespace and nftables
/// table made inside. See the [module docs](super).
pub struct Sandbox {
    unshare: Child,
    holder: u32,
    podnet: PathBuf,
    pub(super) background: Mutex<Vec<(Child, Option<ChildStdout>)>>,
    /// The sandbox's own cgroups, if it has them; commands join them on entry.
    cgroup: Option<CgroupTree>,
    cgroup_procs: Vec<CString>,
}

impl Sandbox {
    /// A sandbox with the default [`SandboxConfig`].
    pub fn new() -> Result<Sandbox> {
        Sandbox::with_config(SandboxConfig::default())
    }

    /// A sandbox built as `config` says. Blocks until the sandbox is ready.
    pub fn with_config(config: SandboxConfig) -> Result<Sandbox> {
        let podnet = match config.podnet {
            Some(p) => p,
            None => default_podnet_bin(),
        };
        let parent = std::process::id();
        let cgroup = if config.own_cgroups {
            Some(CgroupTree::create()?)
        } else {
            None
        };
        let cgroup_procs = cgroup.as_ref().map_or(Vec::new(), |c| c.procs_files());
        let mut more = String::new();
        if config.private_system_dirs {
            more.push_str(PRIVATE_SYSTEM_DIRS);
        }
        if let Some(c) = &cgroup {
            more.push_str(&c.mount_script());
        }
        let mut cmd = Command::new("unshare");
        if cgroup.is_some() {
            // The namespace is rooted at the cgroup the process is in when it is made,
            // which is the sandbox's own (joined in pre_exec below).
            cmd.arg("--cgroup");
        }
        cmd.args([
            "--net",
            "--mount",
            "--pid",
            "--fork",
            "--mount-proc",
            "--propagation",
            "private",
            "--kill-child",
            "--",
            "sh",
            "-c",
            SETUP,
            "sh",
        ])
        .arg(python())
        .arg(REAPER)
        .arg(more)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let join = cgroup_procs.clone();
        // SAFETY: only async-signal-safe calls (prctl, getppid, open/write/close) between
        // fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                cgroup::join(&join)?;
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died before prctl took effect.
                if libc::getppid() as u32 != parent {
                    return Err(std::io::Error::other("parent exited"));
                }
                Ok(())
            });
        }
        let mut unshare = cmd.spawn().map_err(|e| Error::new("spawn unshare", e))?;
        let mut line = String::new();
        let stdout = unshare.stdout.take().expect("piped stdout");
        let read = BufReader::new(stdout).read_line(&mut line);
        if read.is_err() || line.trim() != "ready" {
            let _ = unshare.kill();
            let mut err = String::new();
            if let Some(mut e) = unshare.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            let status = unshare.wait();
            return Err(Error::new(
                "sandbox setup",
                format!(
                    "{status:?}: {err}{}",
                    read.err().map_or(String::new(), |e| e.to_string())
                ),
            ));
        }
        drop(unshare.stderr.take());
        let children = format!("/proc/{0}/task/{0}/children", unshare.id());
        let holder = std::fs::read_to_string(&children)
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse().ok()));
        let Some(holder) = holder else {
            let _ = unshare.kill();
            let _ = unshare.wait();
            return Err(Error::new(
                "find holder pid",
                format!("nothing in {children}"),
            ));
        };
        let sb = Sandbox {
            unshare,
            holder,
            podnet,
            background: Mutex::new(Vec::new()),
            cgroup,
            cgroup_procs,
        };
        if let Some(extra) = config.extra_setup {
            sb.sh_ok(&extra)?;
        }
        Ok(sb)
    }

    /// Host PID of the holder (PID 1 inside the sandbox).
    pub fn holder_pid(&self) -> u32 {
        self.holder
    }

    /// The sandbox's network namespace as seen from outside (`/proc/PID/ns/net`).
    pub fn netns_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/net", self.holder))
    }

    /// Where a path inside the sandbox's mount namespace is readable from outside.
    pub fn host_path(&self, inside: impl AsRef<Path>) -> PathBuf {
        let inside = inside.as_ref();
        let rel = inside.strip_prefix("/").unwrap_or(inside);
        PathBuf::from(format!("/proc/{}/root", self.holder)).join(rel)
    }

    /// The sandbox's own cgroup directories as the machine sees them (one per hierarchy),
    /// when it has them ([`SandboxConfig::own_cgroups`]); they are removed on drop.
    pub fn cgroup_dirs(&self) -> Vec<PathBuf> {
        self.cgroup
            .as_ref()
            .map_or(Vec::new(), |c| c.dirs().to_vec())
    }

    /// The podnet binary this sandbox runs.
    pub fn podnet_bin(&self) -> &Path {
        &self.podnet
    }

    /// A command that runs `program` inside the sandbox (all three namespaces, and the
    /// sandbox's cgroups when it has its own), with `PODNET_ROOT` set to the sandbox's
    /// state dir and `PODNET_FAULT`/`PODNET_RUN_DIR` cleared. Working directory `/`.
    pub fn cmd(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new("nsenter");
        c.arg("-t").arg(self.holder.to_string());
        if !self.cgroup_procs.is_empty() {
            let join = self.cgroup_procs.clone();
            // SAFETY: only open/write/close between fork and exec.
            unsafe {
                c.pre_exec(move || cgroup::join(&join));
            }
            c.arg("-C");
        }
        c.args(["-n", "-m", "-p", "--"])
            .arg(program)
            .current_dir("/")
            .env("PODNET_ROOT", SANDBOX_STATE_DIR)
            .env_remove("PODNET_FAULT")
            .env_remove("PODNET_HOLD")
            .env_remove("PODNET_RUN_DIR")
            .stdin(Stdio::null());
        c
    }

    /// A command in the sandbox's *network* namespace only: the machine's mount and PID
    /// namespaces (so host PIDs, e.g. [`Sandbox::holder_pid`] of another sandbox, resolve).
    pub fn cmd_net_only(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new("nsenter");
        c.arg("-t")
            .arg(self.holder.to_string())
            .args(["-n", "--"])
            .arg(program)
            .stdin(Stdio::null());
        c
    }

    /// A command run inside the sandbox and inside the network namespace at `netns` (a
    /// path as seen inside the sandbox, e.g. `/run/podnet/netns/a` or `/proc/7/ns/net`).
    pub fn in_netns(&self, netns: impl AsRef<OsStr>, program: impl AsRef<OsStr>) -> Command {
        let mut net = std::ffi::OsString::from("--net=");
        net.push(netns.as_ref());
        let mut c = self.cmd("nsenter");
        c.arg(net).arg("--").arg(program);
        c
    }

    /// `podnet ARGS...` inside the sandbox, as a command to adjust (env, stdio) and run.
    pub fn podnet_cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = self.cmd(&self.podnet);
        c.args(args);
        c
    }

    /// Runs `podnet ARGS...` inside the sandbox and returns its output.
    /// Panics only if `nsenter` cannot be started at all.
    pub fn podnet<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        output(self.podnet_cmd(args))
    }

    /// Runs `podnet ARGS...`; Ok(stdout) if it exited 0, else an error with its output.
    pub fn podnet_ok<I, S>(&self, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let out = self.podnet(&args);
        checked(&format!("podnet {args:?}"), out)
    }

    /// Runs `sh -c SCRIPT` inside the sandbox. Panics only if `nsenter` cannot start.
    pub fn sh(&self, script: &str) -> Output {
        let mut c = self.cmd("sh");
        c.arg("-c").arg(script);
        output(c)
    }

    /// Runs `sh -c SCRIPT`; Ok(stdout) if it exited 0, else an error with its output.
    pub fn sh_ok(&self, script: &str) -> Result<String> {
        checked(&format!("sh -c {script:?}"), self.sh(script))
    }

    /// Spawns `cmd` (normally made by [`Sandbox::cmd`]) in the background. The sandbox
    /// keeps the child and kills and reaps it on drop. Returns its host PID.
    pub fn spawn(&self, mut cmd: Command) -> Result<u32> {
        let child = cmd.spawn().map_err(|e| Error::new("spawn", e))?;
        let pid = child.id();
        self.background.lock().unwrap().push((child, None));
        Ok(pid)
    }

    /// Scratch directory inside the sandbox for test files.
    pub fn scratch(&self) -> &'static str {
        SANDBOX_SCRATCH_DIR
    }

    /// Polls `check` every 20 ms until it returns true; an error naming `what` after
    /// `limit`. For readiness only (a server came up, a process exited), never to assert
    /// on how long something took.
    pub fn wait_until(
        &self,
        what: &str,
        limit: Duration,
        mut check: impl FnMut() -> bool,
    ) -> Result<()> {
        let start = Instant::now();
        loop {
            if check() {
                return Ok(());
            }
            if start.elapsed() > limit {
                return Err(Error::new("wait", format!("gave up waiting for {what}")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // SAFETY: plain kill(2). The holder is unshare's child and unshare is ours and not
        // yet reaped, so neither PID can have been reused.
        unsafe {
            libc::kill(self.holder as libc::pid_t, libc::SIGKILL);
        }
        // unshare reaps the holder (whose exit first kills the whole PID namespace), then
        // exits; waiting for it means the sandbox's processes are gone when drop returns.
        let _ = self.unshare.wait();
        let mut bg = self.background.lock().unwrap_or_else(|e| e.into_inner());
        for (child, _) in bg.iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        bg.clear();
        drop(bg);
        // Last: the cgroups are empty only once every process above is gone.
        if let Some(mut cg) = self.cgroup.take() {
            if let Err(e) = cg.remove() {
                eprintln!("testbed: sandbox cgroups left behind: {e}");
            }
        }
    }
}

fn output(mut cmd: Command) -> Output {
    match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!("testbed: cannot run {cmd:?}: {e}"),
    }
}

fn checked(what: &str, out: Output) -> Result<String> {
    if out.status.success() {
        Ok(super::stdout(&out))
    } else {
        Err(Error::new(what, super::describe(&out)))
    }
}

fn default_podnet_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("PODNET_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("podnet"));
    if exe.file_name() == Some(OsStr::new("podnet")) {
        return exe;
    }
    let dir = exe.parent().unwrap_or(Path::new("."));
    for cand in [dir.join("podnet"), dir.join("../podnet")] {
        if cand.exists() {
            return cand;
        }
    }
    PathBuf::from("podnet")
}
