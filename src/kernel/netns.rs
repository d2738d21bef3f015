//! Network namespaces: create one and pin it with a bind mount, enter one for a while, tell
//! whether a path is one, remove one.

use crate::model::field::NETNS;
use crate::model::{Error, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::path::Path;

/// Magic number of nsfs (the filesystem of /proc/*/ns/* and their bind mounts).
const NSFS_MAGIC: i64 = 0x6e73_6673;
/// ioctl NS_GET_NSTYPE: which kind of namespace an nsfs file is.
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// Create a new network namespace and bind-mount it at `path` (like `ip netns add`).
///
/// The unshare happens on a short-lived thread so that the calling thread never changes
/// namespace: the new namespace lives on through the bind mount after the thread ends.
pub fn create(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    File::options()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::failed(format!("create namespace file {}: {e}", path.display())))?;
    let target = path.to_path_buf();
    let res = std::thread::spawn(move || -> Result<()> {
        unshare(CloneFlags::CLONE_NEWNET)
            .map_err(|e| Error::kernel("unshare network namespace", e as i32))?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| {
            Error::kernel(
                format!("bind-mount namespace at {}", target.display()),
                e as i32,
            )
        })
    })
    .join()
    .map_err(|_| Error::failed("namespace thread panicked"))?;
    if res.is_err() {
        let _ = fs::remove_file(path);
    }
    res
}

/// Pin the network namespace of process `pid` at `path` again (like `ip netns attach`): what
/// repairs a namespace whose mount was removed while its process still runs in it. Refuses a
/// process in the caller's own namespace (that would pin the host's).
pub fn pin(path: &Path, pid: i32) -> Result<()> {
    let source = format!("/proc/{pid}/ns/net");
    let own = identity(Path::new("/proc/thread-self/ns/net"));
    if identity(Path::new(&source)).is_none() || identity(Path::new(&source)) == own {
        return Err(Error::failed(format!(
            "process {pid} has no network namespace of its own"
        )));
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    // The file may still be there (only the mount went); a mount point needs one.
    File::options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::failed(format!("create namespace file {}: {e}", path.display())))?;
    mount(
        Some(source.as_str()),
        path,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| {
        Error::kernel(
            format!("bind-mount {source} at {}", path.display()),
            e as i32,
        )
    })
}

/// Unmount and remove a namespace pinned at `path`. Idempotent: a missing path is success.
/// The kernel destroys the namespace (and the devices in it) asynchronously once nothing else
/// holds it, which is why this returns in microseconds where deleting a veth takes ~17 ms.
pub fn remove(path: &Path) -> Result<()> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => {}
        Err(e) => {
            return Err(Error::kernel(
                format!("unmount namespace {}", path.display()),
                e as i32,
            ))
        }
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::failed(format!("remove {}: {e}", path.display()))),
    }
}

/// Open `path` if it is a network namespace, with an input error saying what it is otherwise.
pub fn open(path: &Path) -> Result<File> {
    let f = File::open(path).map_err(|e| {
        Error::input(format!("{NETNS} {}: {e}: give the path of a network namespace (e.g. /run/netns/NAME or /proc/PID/ns/net)", path.display()))
    })?;
    // SAFETY: fstatfs writes into a zeroed statfs we own; the fd is valid for the call.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let is_nsfs =
        unsafe { libc::fstatfs(f.as_raw_fd(), &mut st) } == 0 && st.f_type as i64 == NSFS_MAGIC;
    // SAFETY: NS_GET_NSTYPE takes no argument and only reads the fd.
    let is_net =
        is_nsfs && unsafe { libc::ioctl(f.as_raw_fd(), NS_GET_NSTYPE) } == libc::CLONE_NEWNET;
    if !is_net {
        return Err(Error::input(format!(
            "{NETNS} {} is not a network namespace: give the path of one (e.g. /run/netns/NAME or /proc/PID/ns/net)",
            path.display()
        )));
    }
    Ok(f)
}

/// Identity of a namespace file (device, inode), to tell whether a path still names the same
/// namespace it named when recorded.
pub fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let f = open(path).ok()?;
    let m = f.metadata().ok()?;
    Some((m.dev(), m.ino()))
}

/// While alive, the calling thread is inside another network namespace; dropping it returns.
pub struct Entered {
    home: File,
}

/// Enter the network namespace `ns` on the calling thread until the guard drops.
pub fn enter(ns: &File) -> Result<Entered> {
    let home = File::open("/proc/thread-self/ns/net")?;
    setns(ns, CloneFlags::CLONE_NEWNET).map_err(|e| Error::kernel("enter namespace", e as i32))?;
    Ok(Entered { home })
}

impl Drop for Entered {
    fn drop(&mut self) {
        // Returning home cannot reasonably fail (we came from there); if it did, continuing in
        // the wrong namespace would be worse than stopping.
        if let Err(e) = setns(&self.home, CloneFlags::CLONE_NEWNET) {
            eprintln!("podnet: cannot return to the original network namespace: {e}");
            std::process::abort();
        }
    }
}

/// Move the calling thread into the network namespace `ns` for good (no way back). Only for
/// a thread made for the purpose, which reads namespaces one after another and then ends
/// (`engine/graph`'s readers): it saves the round trip home [`enter`] makes each time.
pub fn move_thread_into(ns: &File) -> Result<()> {
    setns(ns, CloneFlags::CLONE_NEWNET).map_err(|e| Error::kernel("enter namespace", e as i32))
}

/// Open an rtnetlink socket inside the namespace `ns` (the socket stays bound to it).
pub fn rtnl_in(ns: &File) -> Result<super::Rtnl> {
    let _inside = enter(ns)?;
    super::Rtnl::open()
}
