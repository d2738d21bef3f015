//! The `podnet` binary is linked statically against glibc (no dynamic loader at start).
//!
//! Every CNI and netavark call is a fresh process, so its start is on the hot path: the
//! dynamic loader (mapping libgcc_s, libm and libc, binding their symbols, libgcc_s's CPU
//! probe) took ~0.4 ms of the ~4 ms CPU of a CNI ADD, and ~0.35 of `podnet --version`'s 0.9
//! (docs/decisions/2026-12-01-cni-speed.md). `-C target-feature=+crt-static` would say it
//! directly, but without `--target` cargo applies RUSTFLAGS to proc-macros too, which cannot
//! be built that way; so only the binary's link line changes here: `-static -no-pie`, the
//! static unwinder (`gcc_eh`) in place of `libgcc_s`, and a directory searched before the
//! system's that holds only static archives for the libraries rustc names (`-lc`, `-lm`, ...,
//! after its own `-Bdynamic`; an empty archive answers `-lgcc_s`), so the linker finds no
//! shared library to prefer. Test and bench binaries stay dynamic. Where glibc's static
//! libraries are missing, the binary stays dynamic too (it only starts slower).

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.ends_with("-linux-gnu") || std::env::var_os("PODNET_DYNAMIC").is_some() {
        return;
    }
    println!("cargo:rerun-if-env-changed=PODNET_DYNAMIC");
    let Some(libc_a) = static_libc() else {
        println!("cargo:warning=no static glibc (libc.a): podnet is linked dynamically");
        return;
    };
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let dir = Path::new(&out).join("static-libs");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("make the static library directory");
    for lib in ["c", "m", "pthread", "dl", "rt", "util"] {
        let a = libc_a.join(format!("lib{lib}.a"));
        if a.exists() {
            std::os::unix::fs::symlink(&a, dir.join(format!("lib{lib}.a")))
                .expect("link a static library");
        }
    }
    std::fs::write(dir.join("libgcc_s.a"), b"!<arch>\n").expect("write the libgcc_s stand-in");
    for arg in [
        format!("-L{}", dir.display()),
        "-static".into(),
        "-no-pie".into(),
        "-Wl,--start-group".into(),
        "-lgcc_eh".into(),
        "-lgcc".into(),
        "-lc".into(),
        "-Wl,--end-group".into(),
    ] {
        println!("cargo:rustc-link-arg-bin=podnet={arg}");
    }
}

/// The directory holding glibc's `libc.a`, if it is installed.
fn static_libc() -> Option<std::path::PathBuf> {
    let out = std::process::Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .arg("-print-file-name=libc.a")
        .output()
        .ok()?;
    let p = std::path::PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    // `cc` echoes the bare name when it finds no such file.
    (p.is_absolute() && p.exists()).then(|| p.parent().map(Path::to_path_buf))?
}
