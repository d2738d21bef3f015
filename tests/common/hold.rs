//! Two podnet processes interleaved at an exact step (`PODNET_HOLD=OP:K@FILE`): a race made
//! deterministic. The held process creates FILE when it reaches the step and waits until the
//! test removes it. Waiting here is for readiness only; nothing is timed.

use super::*;
use podnet::testbed::{describe, Sandbox};
use std::path::PathBuf;
use std::process::{Child, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A podnet command started in the background with a hold point.
pub struct Held {
    what: String,
    child: Option<Child>,
    file: PathBuf,
}

/// Starts `podnet ARGS...` in `sb`, to stop right after step `step` (`OP:K`).
pub fn start_held(sb: &Sandbox, args: &[&str], step: &str) -> Held {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let inside = format!("{}/hold-{n}", sb.scratch());
    let mut c = sb.podnet_cmd(args);
    c.env("PODNET_HOLD", format!("{step}@{inside}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let what = format!("podnet {} (held at {step})", args.join(" "));
    let child = c.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    Held {
        what,
        child: Some(child),
        file: sb.host_path(&inside),
    }
}

/// Starts `podnet ARGS...` in `sb` in the background, without a hold point.
pub fn start(sb: &Sandbox, args: &[&str]) -> Held {
    let mut c = sb.podnet_cmd(args);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let what = format!("podnet {}", args.join(" "));
    let child = c.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    Held {
        what,
        child: Some(child),
        file: PathBuf::new(),
    }
}

impl Held {
    /// Waits until the process reached its hold point; panics if it ended instead.
    pub fn wait_held(&mut self, sb: &Sandbox) {
        let mut ended = None;
        let child = self.child.as_mut().expect("not finished");
        let file = self.file.clone();
        let _ = sb.wait_until(&self.what, Duration::from_secs(60), || {
            if file.exists() {
                return true;
            }
            if let Ok(Some(_)) = child.try_wait() {
                ended = Some(());
                return true;
            }
            false
        });
        if ended.is_some() || !file.exists() {
            let out = self.child.take().unwrap().wait_with_output().unwrap();
            panic!(
                "{} did not reach its hold point\n{}",
                self.what,
                describe(&out)
            );
        }
    }

    /// Lets the held process go on.
    pub fn release(&self) {
        let _ = std::fs::remove_file(&self.file);
    }

    /// Releases it (if held) and waits for it to end.
    pub fn finish(mut self) -> Output {
        self.release();
        self.child.take().unwrap().wait_with_output().unwrap()
    }

    /// [`Held::finish`], which must exit 0; its stdout.
    pub fn finish_ok(self) -> String {
        let what = self.what.clone();
        ok(&what, self.finish())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.release();
    }
}
