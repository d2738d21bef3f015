//! The pump: a process podnet forks (no exec) for each detached container. It reads the
//! command's stdout and stderr from a pipe and appends them to the container's log, rotating at
//! the size cap and keeping the newest files, so the log never exceeds `max_size * max_files`.
//!
//! It ends when the pipe closes (every process holding the command's output is gone), and also
//! when it finds its log removed (`rm`), so that it never writes a file back after removal:
//! the log directory is removed with the container, after which creating or renaming a file
//! in it fails.
//!
//! A forked copy of a multi-threaded process may only make async-signal-safe calls; podnet is
//! single-threaded here, but the child sticks to raw syscalls on memory prepared before the
//! fork anyway (no allocation, no locks).

use super::CURRENT;
use crate::model::{Error, LogConfig, Result};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// Bytes read from the pipe at a time.
const CHUNK: usize = 64 * 1024;

/// Everything the child needs, made before the fork.
struct Plan {
    dir: OwnedFd,
    read: OwnedFd,
    /// `container.log`, `container.log.1`, ... `container.log.{max_files-1}`.
    names: Vec<CString>,
    max_size: u64,
    buf: Vec<u8>,
}

/// Start the pump for the log directory `dir` (created here); returns the pipe's write end,
/// for the command's stdout and stderr. The pump holds a shared `flock` on the directory for
/// its whole life: `podnet logs -f` knows the output is complete when it can lock it.
pub fn start(dir: &Path, cfg: LogConfig) -> Result<OwnedFd> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::failed(format!("create log directory {}: {e}", dir.display())))?;
    let dir_fd = open_dir(dir)?;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(dir_fd.as_raw_fd(), libc::LOCK_SH) } != 0 {
        return Err(os_failed(&format!("lock {}", dir.display())));
    }
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own; O_CLOEXEC keeps the read end out of the
    // command (std dups the write end onto its stdout/stderr, clearing the flag on the copies).
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(os_failed("create log pipe"));
    }
    // SAFETY: both descriptors are fresh and owned by nothing else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let mut names = vec![CString::new(CURRENT).expect("no NUL")];
    for k in 1..cfg.max_files {
        names.push(CString::new(format!("{CURRENT}.{k}")).expect("no NUL"));
    }
    let plan = Plan {
        dir: dir_fd,
        read,
        names,
        max_size: cfg.max_size,
        buf: vec![0u8; CHUNK],
    };
    // SAFETY: fork in a single-threaded process; the child only runs `pump`, which makes raw
    // syscalls on memory prepared above and ends with _exit.
    match unsafe { libc::fork() } {
        -1 => Err(os_failed("start the log pump")),
        0 => {
            let keep = [plan.read.as_raw_fd(), plan.dir.as_raw_fd()];
            // SAFETY: in the forked child; see `detach`.
            unsafe { detach(keep) };
            pump(plan)
        }
        _ => Ok(write), // `plan` drops here: the parent keeps neither the read end nor the lock fd
    }
}

fn open_dir(dir: &Path) -> Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| Error::failed(format!("log directory {} has a NUL", dir.display())))?;
    // SAFETY: open on a NUL-terminated path; the result is checked.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(os_failed(&format!("open {}", dir.display())));
    }
    // SAFETY: a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn os_failed(what: &str) -> Error {
    Error::failed(format!("{what}: {}", std::io::Error::last_os_error()))
}

/// Leave podnet's session (no terminal signal reaches the pump, and podnet's caller is not
/// kept waiting on inherited pipes): stdio to /dev/null, every descriptor but `keep` closed.
///
/// # Safety
/// Only in the child right after fork; async-signal-safe calls only.
unsafe fn detach(keep: [RawFd; 2]) {
    libc::setsid();
    let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
    if null >= 0 {
        for fd in 0..3 {
            libc::dup2(null, fd);
        }
    }
    let (lo, hi) = (keep[0].min(keep[1]), keep[0].max(keep[1]));
    // Everything from 3 up except the two kept descriptors; the write end goes too, or the
    // pump would never see the end of its own input.
    close_range(3, lo - 1);
    close_range(lo + 1, hi - 1);
    close_range(hi + 1, RawFd::MAX);
    // The command's end of things: podnet blocks no signal on this path, but be sure.
    let mut none = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    libc::sigemptyset(none.as_mut_ptr());
    libc::pthread_sigmask(libc::SIG_SETMASK, none.as_ptr(), std::ptr::null_mut());
}

/// # Safety
/// Closes descriptors by number: only where nothing else uses them (the forked child).
unsafe fn close_range(first: RawFd, last: RawFd) {
    if first <= last {
        libc::syscall(libc::SYS_close_range, first as u32, last as u32, 0u32);
    }
}

/// The child's whole life: copy the pipe into the log until the pipe ends. Never returns.
fn pump(mut p: Plan) -> ! {
    let dir = p.dir.as_raw_fd();
    let read = p.read.as_raw_fd();
    let mut file = open_current(dir, &p.names[0]);
    let mut size = file_size(file);
    loop {
        // SAFETY: read into a buffer we own, at most its length.
        let n = unsafe { libc::read(read, p.buf.as_mut_ptr().cast(), p.buf.len()) };
        if n == 0 {
            break;
        }
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        let mut data = &p.buf[..n as usize];
        while !data.is_empty() {
            if size >= p.max_size {
                match rotate(dir, file, &p.names) {
                    Some(f) => file = f,
                    None => exit(), // the log was removed: the container is gone
                }
                size = 0;
            }
            let room = (p.max_size - size).min(data.len() as u64) as usize;
            // A failed write (disk full) drops the data rather than stopping the pump, which
            // would block or kill the command.
            write_all(file, &data[..room]);
            size += room as u64;
            data = &data[room..];
        }
    }
    exit()
}

fn exit() -> ! {
    // SAFETY: _exit skips podnet's destructors and atexit handlers, which belong to the parent.
    unsafe { libc::_exit(0) }
}

fn open_current(dir: RawFd, name: &CString) -> RawFd {
    // SAFETY: openat on a NUL-terminated name relative to a directory descriptor we hold.
    unsafe {
        libc::openat(
            dir,
            name.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC,
            0o640,
        )
    }
}

fn file_size(fd: RawFd) -> u64 {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat fills `st` when it returns 0.
    if fd >= 0 && unsafe { libc::fstat(fd, st.as_mut_ptr()) } == 0 {
        // SAFETY: initialised by the successful fstat.
        unsafe { st.assume_init() }.st_size as u64
    } else {
        0
    }
}

fn links(fd: RawFd) -> u64 {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: as in `file_size`.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } == 0 {
        // SAFETY: initialised by the successful fstat.
        unsafe { st.assume_init() }.st_nlink
    } else {
        0
    }
}

/// Start a new current file: the oldest goes, the others move up one, the current becomes
/// `.1`. With one file kept, the current one starts over instead. None when the log is gone.
fn rotate(dir: RawFd, file: RawFd, names: &[CString]) -> Option<RawFd> {
    if file < 0 || links(file) == 0 {
        return None;
    }
    if names.len() == 1 {
        // SAFETY: ftruncate on our own descriptor (O_APPEND writes go to the new end).
        unsafe { libc::ftruncate(file, 0) };
        return Some(file);
    }
    // SAFETY: unlinkat/renameat/close on names and descriptors we own; failures are checked
    // where they matter (the directory being gone).
    unsafe {
        libc::unlinkat(dir, names[names.len() - 1].as_ptr(), 0);
        for k in (1..names.len() - 1).rev() {
            libc::renameat(dir, names[k].as_ptr(), dir, names[k + 1].as_ptr());
        }
        if libc::renameat(dir, names[0].as_ptr(), dir, names[1].as_ptr()) != 0 {
            return None;
        }
        libc::close(file);
    }
    let f = open_current(dir, &names[0]);
    (f >= 0).then_some(f)
}

fn write_all(fd: RawFd, mut data: &[u8]) {
    while !data.is_empty() {
        // SAFETY: write from a slice we own, at most its length.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if n <= 0 {
            return;
        }
        data = &data[n as usize..];
    }
}
