//! The page: one self-contained HTML document (inline CSS and JS, no external asset). The
//! first picture is inline, so the page shows the graph before any script runs; the script
//! then long-polls `/events` and swaps in each new picture, logging one console line per
//! picture drawn (`podnet-graph vN containers=a,b,...`: what the browser tests read).

use super::live::Picture;

/// What `/events` answers: the version, the SVG, the graph's JSON and any drawing error.
pub fn event(p: &Picture) -> String {
    let json = if p.json.is_empty() { "null" } else { &p.json };
    format!(
        r#"{{"version":{},"error":{},"svg":{},"graph":{}}}"#,
        p.version,
        serde_json::to_string(&p.error).unwrap_or_else(|_| "null".into()),
        serde_json::to_string(&p.svg).unwrap_or_else(|_| "\"\"".into()),
        json
    )
}

pub fn html(p: &Picture) -> String {
    // Inside <script>, `<` could end the element: JSON lets it be written \u003c.
    let initial = event(p).replace('<', "\\u003c");
    PAGE.replace("{{SVG}}", &p.svg)
        .replace("{{INITIAL}}", &initial)
}

const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>podnet</title>
<link rel="icon" href="data:,">
<style>
  body { margin: 0; font-family: sans-serif; font-size: 14px; color: #223; background: #f6f7f9; }
  header { padding: 10px 16px; background: #24324a; color: #fff; display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  #status { font-size: 12px; opacity: .85; }
  main { display: flex; gap: 12px; padding: 12px; align-items: flex-start; }
  #graph svg { max-width: 100%; height: auto; }
  #graph { flex: 1; overflow: auto; background: #fff; border: 1px solid #d6dae1; border-radius: 6px; min-height: 200px; }
  aside { width: 360px; background: #fff; border: 1px solid #d6dae1; border-radius: 6px; padding: 12px; }
  aside h2 { font-size: 15px; margin: 0 0 8px; }
  label { display: block; font-size: 12px; margin-top: 8px; }
  input { width: 100%; box-sizing: border-box; padding: 5px; font: inherit; }
  button { margin-top: 10px; padding: 6px 14px; font: inherit; }
  pre { white-space: pre-wrap; font-size: 12px; background: #f3f4f6; padding: 8px; border-radius: 4px; max-height: 60vh; overflow: auto; }
  .error { color: #b00020; }
</style>
</head>
<body>
<header><h1>podnet</h1><span id="status">live</span></header>
<main>
  <div id="graph">{{SVG}}</div>
  <aside>
    <h2>Trace a packet</h2>
    <form id="trace">
      <label>From (container, service, host or address)<input name="from" required placeholder="web"></label>
      <label>To (TARGET:PORT[/tcp|udp])<input name="to" required placeholder="api:80/tcp"></label>
      <button type="submit">Trace</button>
    </form>
    <pre id="trace-out">The path, hook by hook, appears here.</pre>
  </aside>
</main>
<script id="initial" type="application/json">{{INITIAL}}</script>
<script>
"use strict";
let version = 0;
const status = document.getElementById("status");

function show(ev) {
  const graph = document.getElementById("graph");
  if (ev.version !== version && ev.svg) {
    graph.innerHTML = ev.svg;
  }
  version = ev.version;
  const nodes = ev.graph ? ev.graph.nodes : [];
  const names = nodes.filter(n => n.kind === "container").map(n => n.name);
  const flags = ev.graph ? ev.graph.flags.length : 0;
  status.textContent = "live · version " + version + " · " + names.length + " containers · " +
    flags + " flags · " + new Date().toLocaleTimeString() + (ev.error ? " · " + ev.error : "");
  console.info("podnet-graph v" + version + " containers=" + names.join(","));
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

async function follow() {
  for (;;) {
    try {
      const r = await fetch("/events?since=" + version, { cache: "no-store" });
      if (!r.ok) { await sleep(1000); continue; }
      show(await r.json());
    } catch (e) {
      status.textContent = "disconnected: retrying";
      await sleep(1000);
    }
  }
}

async function trace(from, to) {
  const out = document.getElementById("trace-out");
  out.className = "";
  out.textContent = "tracing…";
  try {
    const r = await fetch("/trace", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ from: from, to: to }),
    });
    const report = await r.json();
    if (report.error) {
      out.className = "error";
      out.textContent = report.error;
    } else {
      out.textContent = report.text || JSON.stringify(report, null, 2);
    }
    console.info("podnet-trace " + JSON.stringify(report));
  } catch (err) {
    out.className = "error";
    out.textContent = String(err);
  }
}

document.getElementById("trace").addEventListener("submit", e => {
  e.preventDefault();
  const f = new FormData(e.target);
  trace(f.get("from"), f.get("to"));
});

// A link can carry a trace to run on load: /?from=web&to=api:80/tcp.
const asked = new URLSearchParams(location.search);
if (asked.get("from") && asked.get("to")) {
  const form = document.getElementById("trace");
  form.from.value = asked.get("from");
  form.to.value = asked.get("to");
  trace(asked.get("from"), asked.get("to"));
}

show(JSON.parse(document.getElementById("initial").textContent));
follow();
</script>
</body>
</html>
"##;
