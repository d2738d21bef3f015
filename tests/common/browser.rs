//! Headless Chromium (Debian's `chromium`) inside a test's sandbox, so that 127.0.0.1 is
//! the sandbox's loopback. Each run gets a fresh profile; nothing reaches the network.

use podnet::testbed::Sandbox;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

static PROFILES: AtomicUsize = AtomicUsize::new(0);

/// `chromium --headless` with the flags that keep it quiet and offline, a fresh profile.
pub fn chromium(sb: &Sandbox) -> Command {
    let n = PROFILES.fetch_add(1, Ordering::SeqCst);
    let profile = format!("{}/chromium-{n}", sb.scratch());
    let mut c = sb.cmd("chromium");
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ])
    .arg(format!("--user-data-dir={profile}"));
    c
}

/// The DOM after the page loaded (`--dump-dom`).
pub fn dump_dom(sb: &Sandbox, url: &str) -> String {
    let mut c = chromium(sb);
    c.args(["--dump-dom", url]);
    super::ok("chromium --dump-dom", super::output(c))
}

/// A screenshot of the page, as PNG bytes.
pub fn screenshot(sb: &Sandbox, url: &str, size: &str) -> Vec<u8> {
    let n = PROFILES.fetch_add(1, Ordering::SeqCst);
    let inside = format!("{}/shot-{n}.png", sb.scratch());
    let mut c = chromium(sb);
    c.arg(format!("--screenshot={inside}"))
        .arg(format!("--window-size={size}"))
        .arg(url);
    let out: Output = super::output(c);
    assert!(
        out.status.success(),
        "chromium --screenshot: {}",
        podnet::testbed::describe(&out)
    );
    std::fs::read(sb.host_path(&inside)).expect("the screenshot")
}

/// A page left open: its console lines arrive in a log file the test reads as it goes.
pub struct Page {
    log: PathBuf,
}

impl Page {
    /// Opens `url` in a headless Chromium kept running (the sandbox ends it).
    pub fn open(sb: &Sandbox, url: &str) -> Page {
        let n = PROFILES.fetch_add(1, Ordering::SeqCst);
        let log = std::env::temp_dir().join(format!("podnet-page-{}-{n}.log", std::process::id()));
        let file = std::fs::File::create(&log).expect("page log");
        let mut c = chromium(sb);
        c.args(["--enable-logging=stderr", "--v=0", url])
            .stdout(Stdio::null())
            .stderr(file);
        sb.spawn(c).expect("start chromium");
        Page { log }
    }

    /// The page's console messages so far (Chromium logs each as `...:LEVEL:CONSOLE...`).
    pub fn console(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("CONSOLE"))
            .map(str::to_string)
            .collect()
    }

    /// Every console message of the page at `origin` that is not one of its own `podnet-`
    /// lines: Chromium logs `console.error`, uncaught exceptions and failed loads all at the
    /// same level as `console.info`, so anything else the page says counts as an error.
    pub fn errors(&self, origin: &str) -> Vec<String> {
        self.console()
            .into_iter()
            .filter(|l| l.contains(&format!("source: {origin}")) || l.contains("Uncaught"))
            .filter(|l| !l.contains("] \"podnet-"))
            .collect()
    }

    /// The messages the page logs with `prefix` (its own, between the quotes).
    pub fn said(&self, prefix: &str) -> Vec<String> {
        self.console()
            .iter()
            .filter_map(|l| {
                let start = l.find(&format!("\"{prefix}"))? + 1;
                let end = l.rfind("\", source:")?;
                Some(l[start..end].to_string())
            })
            .collect()
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.log);
    }
}
