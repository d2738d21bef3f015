//! The `podnet` binary: every front end (CLI, CNI plugin, netavark plugin) in one.
//!
//! `main` is the C entry point, not Rust's: Rust's start-up also finds the main thread's
//! stack guard, which glibc answers by reading /proc/self/maps, on every start of a process
//! that for a CNI or netavark call lives a few milliseconds. What of Rust's start-up
//! podnet relies on is done here: SIGPIPE ignored (a closed pipe is an error to report
//! quietly, not a signal), and a panic is exit code 101, not an abort.
#![cfg_attr(not(test), no_main)]

// The test build of this binary keeps libtest's own `main`.
#[cfg(not(test))]
#[no_mangle]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    // SAFETY: setting a signal's disposition to SIG_IGN has no memory effects.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    std::panic::catch_unwind(podnet::dispatch::main).unwrap_or(101)
}
