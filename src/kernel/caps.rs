//! Whether the calling process may change network state (CAP_NET_ADMIN), asked before any work
//! so that a user without it is told at once, with nothing recorded or half-made.

/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const CAP_VERSION_3: u32 = 0x2008_0522;
/// Bit of CAP_NET_ADMIN in the capability sets.
const CAP_NET_ADMIN: u32 = 12;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Whether CAP_NET_ADMIN is in the calling thread's effective set (in its own user namespace,
/// which is the one that owns a namespace podnet may be run in). One syscall, ~1 µs.
pub fn has_net_admin() -> bool {
    // If the kernel cannot tell us, let the operation itself find out.
    net_admin_of(0).unwrap_or(true)
}

/// Whether process `pid` (0: the calling thread) has CAP_NET_ADMIN in its effective set;
/// `None` when the kernel cannot tell (e.g. no such process).
pub fn net_admin_of(pid: i32) -> Option<bool> {
    let mut hdr = CapHeader {
        version: CAP_VERSION_3,
        pid,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget reads the header and writes two CapData words we own; both are laid out
    // as the kernel's __user_cap_header_struct/__user_cap_data_struct.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut hdr, data.as_mut_ptr()) };
    (rc == 0).then_some(data[0].effective & (1 << CAP_NET_ADMIN) != 0)
}
