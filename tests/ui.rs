//! Issue 12, acceptance 5: `podnet ui` in headless Chromium (inside the test's sandbox, so
//! 127.0.0.1 is the sandbox's): the page loads with no console errors, shows every
//! container of the scene, follows a `podnet run` without a reload, and a trace asked from
//! the page follows the same path as `podnet trace` from the CLI. Screenshots go to the test's target dir
//! (`docs/ui.png` is one of them).

mod common;

use common::browser::{self, Page};
use common::graph::{scene, CONTAINERS};
use common::*;
use podnet::testbed::Sandbox;
use std::process::Stdio;
use std::time::{Duration, Instant};

const URL: &str = "http://127.0.0.1:7070/";

/// Starts `podnet ui` in the sandbox; returns once it serves.
fn serve(sb: &Sandbox) {
    let log = std::env::temp_dir().join(format!("podnet-ui-{}.log", std::process::id()));
    let mut c = sb.podnet_cmd(["ui", "--listen", "127.0.0.1:7070"]);
    c.stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    sb.spawn(c).expect("start podnet ui");
    sb.wait_until("podnet ui to listen", Duration::from_secs(10), || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("http://127.0.0.1:7070/"))
    })
    .unwrap_or_else(|e| panic!("{e}: {}", std::fs::read_to_string(&log).unwrap_or_default()));
}

/// The containers a `podnet-graph` console line lists.
fn containers(line: &str) -> Vec<String> {
    line.split_once("containers=")
        .map(|(_, c)| {
            c.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn page_shows_the_scene_live_without_console_errors() {
    let sb = sandbox();
    scene(&sb);
    serve(&sb);

    // Without running a script: the first picture is in the page itself.
    let dom = browser::dump_dom(&sb, URL);
    for c in CONTAINERS {
        assert!(
            dom.contains(&format!("data-id=\"container:{c}\"")),
            "{c} not on the page"
        );
    }
    let shot = browser::screenshot(&sb, URL, "1400,900");
    assert!(shot.starts_with(b"\x89PNG"), "not a PNG");
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(dir.join("ui.png"), &shot).unwrap();

    // A page left open: its first picture lists every container.
    let page = Page::open(&sb, URL);
    sb.wait_until("the page's first picture", Duration::from_secs(20), || {
        !page.said("podnet-graph").is_empty()
    })
    .unwrap_or_else(|e| panic!("{e}: {:?}", page.console()));
    let first = page.said("podnet-graph")[0].clone();
    let mut shown = containers(&first);
    shown.sort();
    let mut want: Vec<String> = CONTAINERS.iter().map(|c| c.to_string()).collect();
    want.sort();
    assert_eq!(shown, want, "{first}");

    // A change: the open page draws it with no reload. How long it took is printed (the
    // bench measures it: no timed assertion here).
    podnet_ok(
        &sb,
        &[
            "run",
            "-d",
            "--name",
            "late",
            "--network",
            "db",
            "--",
            "sleep",
            "infinity",
        ],
    );
    let ran = Instant::now();
    sb.wait_until("the page to show late", Duration::from_secs(20), || {
        page.said("podnet-graph")
            .iter()
            .any(|l| containers(l).contains(&"late".to_string()))
    })
    .unwrap_or_else(|e| panic!("{e}: {:?}", page.console()));
    println!(
        "page showed the new container {:?} after `podnet run` returned",
        ran.elapsed()
    );
    assert_eq!(
        page.errors("http://127.0.0.1:7070"),
        Vec::<String>::new(),
        "console errors"
    );
    let shot = browser::screenshot(&sb, URL, "1400,1000");
    std::fs::write(dir.join("ui-after-run.png"), &shot).unwrap();
}

#[test]
fn a_trace_from_the_page_answers_as_the_engine_does() {
    let sb = sandbox();
    scene(&sb);
    serve(&sb);
    let page = Page::open(&sb, &format!("{URL}?from=api1&to=web:80/tcp"));
    sb.wait_until("the page's trace", Duration::from_secs(30), || {
        !page.said("podnet-trace").is_empty()
    })
    .unwrap_or_else(|e| panic!("{e}: {:?}", page.console()));
    let said = page.said("podnet-trace")[0].clone();
    let report = parse("the page's trace", said.trim_start_matches("podnet-trace "));
    // The same trace from the CLI: the same path, hook by hook, and the same verdict (to a
    // container: a service would pick a backend at random).
    let cli = podnet_json(&sb, &["trace", "api1", "web:80/tcp"]);
    assert!(report.get("error").is_none(), "{report}");
    // Each probe has its own source port: compare the path, not the packets' headers.
    let path = |r: &serde_json::Value| -> Vec<String> {
        r["hops"]
            .as_array()
            .unwrap_or_else(|| panic!("no hops in {r}"))
            .iter()
            .map(|h| {
                format!(
                    "{} {} {} {} {}",
                    h["namespace"], h["hook"], h["chain"], h["verdict"], h["object"]
                )
            })
            .collect()
    };
    assert_eq!(path(&report), path(&cli), "page {report:#}\ncli {cli:#}");
    assert_eq!(
        report["outcome"], cli["outcome"],
        "page {report:#}\ncli {cli:#}"
    );
    assert!(!path(&cli).is_empty(), "{cli:#}");
    assert_eq!(
        page.errors("http://127.0.0.1:7070"),
        Vec::<String>::new(),
        "console errors"
    );
}
