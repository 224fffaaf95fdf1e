//! The figures table: reads criterion's estimates (`target/criterion/**/new/`) and
//! the harness's `artifacts/bench/*.json`, and prints the Markdown table that
//! BENCHMARKS.md reports (also written to `artifacts/bench/figures.md`), with the
//! ratios to the baselines and each target. It compares; it asserts nothing.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

fn read(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// full_id → (median ns per iteration, elements per iteration).
fn criterion_results(dir: &Path, out: &mut BTreeMap<String, (f64, Option<f64>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "new") {
                if let (Some(b), Some(est)) = (read(&p.join("benchmark.json")), read(&p.join("estimates.json"))) {
                    let id = b["full_id"].as_str().unwrap_or("").to_owned();
                    let median = est["median"]["point_estimate"].as_f64().unwrap_or(f64::NAN);
                    let elements = b["throughput"]["Elements"].as_f64();
                    out.insert(id, (median, elements));
                }
            } else {
                criterion_results(&p, out);
            }
        }
    }
}

fn f(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn num(x: Option<f64>, digits: usize) -> String {
    match x {
        Some(v) if v.is_finite() => {
            if v >= 10_000.0 {
                // Thousands separated with a thin space, as BENCHMARKS.md writes them.
                let s = format!("{:.0}", v);
                let mut out = String::new();
                for (i, c) in s.chars().enumerate() {
                    if i > 0 && (s.len() - i) % 3 == 0 {
                        out.push(' ');
                    }
                    out.push(c);
                }
                out
            } else {
                format!("{v:.digits$}")
            }
        }
        _ => "—".into(),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 && a.is_finite() => format!("{:.2}×", a / b),
        _ => "—".into(),
    }
}

fn verdict(v: Option<f64>, target: f64, at_most: bool) -> &'static str {
    match v {
        Some(v) if v.is_finite() => {
            if (at_most && v <= target) || (!at_most && v >= target) {
                "met"
            } else {
                "**missed**"
            }
        }
        _ => "not measured",
    }
}

fn main() {
    let out_dir = tocsin_bench::out_dir();
    let mut crit = BTreeMap::new();
    criterion_results(&tocsin_bench::target_dir().join("criterion"), &mut crit);
    let load = |name: &str| read(&out_dir.join(format!("{name}.json"))).unwrap_or(Value::Null);
    let (machine, search, lat, ing, start, idle, gui) =
        (load("e2e-machine"), load("search"), load("e2e-latency"), load("e2e-ingest"), load("e2e-startup"), load("e2e-idle"), load("e2e-gui"));
    let ceiling = load("sqlite-ceiling");

    let mut md = String::new();
    md.push_str(&format!(
        "Machine: {} ({} CPUs), {}, {}, {}; commit {}{}; {}{}.\n\n",
        machine["cpu"].as_str().unwrap_or("?"),
        machine["cpus"],
        machine["memory"].as_str().unwrap_or("?").replace("MemTotal:", "RAM").split_whitespace().collect::<Vec<_>>().join(" "),
        machine["os"].as_str().unwrap_or("?"),
        machine["rustc"].as_str().unwrap_or("?"),
        machine["commit"].as_str().unwrap_or("?"),
        if machine["dirty"] == true { " (+ uncommitted changes)" } else { "" },
        machine["date"].as_str().unwrap_or("?"),
        if machine["quick"] == true { ", QUICK run (smaller counts)" } else { "" },
    ));

    md.push_str("### Micro-benchmarks (criterion, median)\n\n| Benchmark | Result | Target | |\n|---|---:|---|---|\n");
    let per_s = |id: &str| crit.get(id).and_then(|(ns, el)| el.map(|e| e / (ns / 1e9)));
    for p in tocsin_bench::PROVIDERS {
        md.push_str(&format!("| decode one {} frame | {} events/s | | |\n", p.as_str(), num(per_s(&format!("decode/{}", p.as_str())), 0)));
    }
    md.push_str(&format!("| rules: 100 user rules | {} events/s | | |\n", num(per_s("rules/100 rules"), 0)));
    md.push_str(&format!("| rules: built-in defaults | {} events/s | | |\n", num(per_s("rules/defaults"), 0)));
    md.push_str(&format!("| history insert, batches of 1024, FTS5 | {} events/s | | |\n", num(per_s("store/insert_batch/1024"), 0)));
    md.push_str(&format!("| history insert, 1 event a transaction | {} events/s | | |\n", num(per_s("store/insert_batch/1"), 0)));
    let q = &search["store_query_ms"];
    md.push_str(&format!(
        "| search, {} events, `Store::query` (what the window runs): p50 / p95 / max over the 7 kinds | {} / {} / {} ms | p95 ≤ 20 ms | {} |\n",
        num(f(&search["events"]), 0),
        num(f(&q["p50"]), 2),
        num(f(&q["p95"]), 2),
        num(f(&q["max"]), 2),
        verdict(f(&q["p95"]), 20.0, true)
    ));
    md.push_str(&format!(
        "| search, newest 50 matches by raw SQL (no highlight, no total): p50 / p95 / max | {} / {} / {} ms | | |\n",
        num(f(&search["ms"]["p50"]), 2),
        num(f(&search["ms"]["p95"]), 2),
        num(f(&search["ms"]["max"]), 2)
    ));
    if let Some(per) = search["per_query"].as_object() {
        for (k, v) in per {
            let w = &search["store_query_per_kind"][k.as_str()];
            md.push_str(&format!(
                "| &nbsp;&nbsp;search `{}` ({} matches): `Store::query` p50 / p95; raw SQL p50 / p95 | {} / {} ms; {} / {} ms | | |\n",
                v["query"].as_str().unwrap_or(k),
                num(f(&v["matches"]), 0),
                num(f(&w["p50"]), 2),
                num(f(&w["p95"]), 2),
                num(f(&v["ms"]["p50"]), 2),
                num(f(&v["ms"]["p95"]), 2)
            ));
        }
    }

    md.push_str("\n### End to end (release build, loopback)\n\n| Figure | Tocsin | Floor | Python SDK | Tocsin / floor | Tocsin / Python | Target | |\n|---|---:|---:|---:|---:|---:|---|---|\n");
    let (t, fl, py) = (&lat["tocsin"], &lat["floor"], &lat["python"]);
    for (label, key) in [("p50", "p50"), ("p99", "p99"), ("max", "max")] {
        let (a, b, c) = (f(&t["ms"][key]), f(&fl["ms"][key]), f(&py["ms"][key]));
        let (target, met) = match key {
            "p99" => (
                "≤ 2 ms and ≤ 1.5× floor",
                match (a, b) {
                    (Some(a), Some(b)) => {
                        if a <= 2.0 && a <= 1.5 * b {
                            "met"
                        } else {
                            "**missed**"
                        }
                    }
                    _ => "not measured",
                },
            ),
            _ => ("", ""),
        };
        md.push_str(&format!(
            "| send → notification latency, {label} (ms) | {} | {} | {} | {} | {} | {target} | {met} |\n",
            num(a, 3),
            num(b, 3),
            num(c, 3),
            ratio(a, b),
            ratio(a, c)
        ));
    }
    let tt = &lat["tocsin_tmpfs"];
    md.push_str(&format!(
        "| &nbsp;&nbsp;Tocsin with its history on tmpfs (RAM, no disk): p50 / p99 / max (ms) | {} / {} / {} | | | p99: {} | p99: {} | p99 ≤ 2 ms | {} |\n",
        num(f(&tt["ms"]["p50"]), 3),
        num(f(&tt["ms"]["p99"]), 3),
        num(f(&tt["ms"]["max"]), 3),
        ratio(f(&tt["ms"]["p99"]), f(&fl["ms"]["p99"])),
        ratio(f(&tt["ms"]["p99"]), f(&py["ms"]["p99"])),
        verdict(f(&tt["ms"]["p99"]), 2.0, true)
    ));
    let fnt = &lat["floor_notify"];
    md.push_str(&format!(
        "| &nbsp;&nbsp;floor + one D-Bus `Notify` per urgent frame: p50 / p99 / max (ms) | | {} / {} / {} | | Tocsin p99 ÷ this p99: {} | | | |\n",
        num(f(&fnt["ms"]["p50"]), 3),
        num(f(&fnt["ms"]["p99"]), 3),
        num(f(&fnt["ms"]["max"]), 3),
        ratio(f(&t["ms"]["p99"]), f(&fnt["ms"]["p99"]))
    ));
    md.push_str(&format!(
        "| &nbsp;&nbsp;notifications received / urgent sent | {} / {} | {} / {} frames | {} / {} | | | | |\n",
        num(f(&t["notified"]), 0),
        num(f(&t["sent_urgent"]), 0),
        num(f(&fl["received"]), 0),
        num(f(&fl["sent"]), 0),
        num(f(&py["notified"]), 0),
        num(f(&py["sent_urgent"]), 0)
    ));
    md.push_str(&format!(
        "| &nbsp;&nbsp;CPU during the latency run (% of a core) | {} | {} | {} | {} | {} | | |\n",
        num(f(&t["cpu_percent"]), 1),
        num(f(&fl["cpu_percent"]), 1),
        num(f(&py["cpu_percent"]), 1),
        ratio(f(&t["cpu_percent"]), f(&fl["cpu_percent"])),
        ratio(f(&t["cpu_percent"]), f(&py["cpu_percent"]))
    ));
    let (ti, fi, pi) = (&ing["tocsin"], &ing["floor"], &ing["python"]);
    let (a, b, c) = (f(&ti["events_per_s"]), f(&fi["events_per_s"]), f(&pi["events_per_s"]));
    let lost = f(&ti["lost"]);
    md.push_str(&format!(
        "| sustained ingest (events/s; Tocsin into the history) | {} | {} | {} | {} | {} | ≥ 50 000, none lost | {} |\n",
        num(a, 0),
        num(b, 0),
        num(c, 0),
        ratio(a, b),
        ratio(a, c),
        match (a, lost) {
            (Some(a), Some(l)) if a >= 50_000.0 && l == 0.0 => "met",
            (Some(_), Some(_)) => "**missed**",
            _ => "not measured",
        }
    ));
    md.push_str(&format!(
        "| &nbsp;&nbsp;events published / stored (lost) | {} / {} ({}) | {} / {} received | {} / {} received | | | | |\n",
        num(f(&ti["published"]), 0),
        num(f(&ti["stored"]), 0),
        num(lost, 0),
        num(f(&fi["published"]), 0),
        num(f(&fi["received"]), 0),
        num(f(&pi["published"]), 0),
        num(f(&pi["received"]), 0)
    ));
    let full = f(&ceiling["events_per_s"]["full"]);
    md.push_str(&format!(
        "| &nbsp;&nbsp;SQLite alone, same schema and statements (Python sqlite3 {}): full / no FTS / FTS only (events/s) | {} / {} / {} | | | Tocsin ÷ SQLite alone: {} | | | |\n",
        ceiling["sqlite_version"].as_str().unwrap_or("?"),
        num(full, 0),
        num(f(&ceiling["events_per_s"]["no_fts"]), 0),
        num(f(&ceiling["events_per_s"]["fts_only"]), 0),
        ratio(a, full)
    ));
    let per100k = |v: &Value| f(&v["cpu_seconds"]).zip(f(&v["published"])).map(|(c, n)| c / n * 100_000.0);
    md.push_str(&format!(
        "| &nbsp;&nbsp;CPU seconds per 100 000 events | {} | {} | {} | {} | {} | | |\n",
        num(per100k(ti), 2),
        num(per100k(fi), 2),
        num(per100k(pi), 2),
        ratio(per100k(ti), per100k(fi)),
        ratio(per100k(ti), per100k(pi))
    ));
    let (a, b, c) = (f(&start["tocsin_warm_ms"]["p50"]), f(&start["floor_ms"]["p50"]), f(&start["python_ms"]["p50"]));
    md.push_str(&format!(
        "| start → subscribed, headless, median (ms) | {} | {} | {} | {} | {} | ≤ 300 ms | {} |\n",
        num(a, 1),
        num(b, 1),
        num(c, 1),
        ratio(a, b),
        ratio(a, c),
        verdict(f(&start["tocsin_warm_ms"]["max"]).or(a), 300.0, true)
    ));
    md.push_str(&format!(
        "| &nbsp;&nbsp;max of the runs; first start (new history) (ms) | {}; {} | {} | {} | | | | |\n",
        num(f(&start["tocsin_warm_ms"]["max"]), 1),
        num(start["tocsin_cold_ms"].get(0).and_then(Value::as_f64), 1),
        num(f(&start["floor_ms"]["max"]), 1),
        num(f(&start["python_ms"]["max"]), 1)
    ));
    let (t1, t5, fl, py) = (&idle["tocsin_1_account"], &idle["tocsin_5_accounts"], &idle["floor"], &idle["python"]);
    for (label, key, digits) in [("idle wakeups per second", "wakeups_per_s", 2), ("idle CPU (% of a core)", "cpu_percent", 3)] {
        let (a, a5, b, c) = (f(&t1[key]), f(&t5[key]), f(&fl[key]), f(&py[key]));
        let (target, met) = if key == "wakeups_per_s" {
            ("≤ 1 /s", verdict(match (a, a5) { (Some(x), Some(y)) => Some(x.max(y)), (x, y) => x.or(y) }, 1.0, true))
        } else {
            ("", "")
        };
        md.push_str(&format!(
            "| {label}: 1 account (5 accounts) | {} ({}) | {} | {} | {} | {} | {target} | {met} |\n",
            num(a, digits),
            num(a5, digits),
            num(b, digits),
            num(c, digits),
            ratio(a, b),
            ratio(a, c)
        ));
    }
    let mb = |v: &Value| f(v).map(|k| k / 1024.0);
    let (a, a5, b, c) = (mb(&t1["pss_kib"]), mb(&t5["pss_kib"]), mb(&fl["pss_kib"]), mb(&py["pss_kib"]));
    md.push_str(&format!(
        "| headless PSS when idle, one Tocsin alone (MB): 1 account (5 accounts) | {} ({}) | {} | {} | {} | {} | | |\n",
        num(a, 1),
        num(a5, 1),
        num(b, 1),
        num(c, 1),
        ratio(a, b),
        ratio(a, c)
    ));
    let ru = |v: &Value| format!("{} / {}", num(mb(&v["rss_kib"]), 1), num(mb(&v["uss_kib"]), 1));
    md.push_str(&format!(
        "| &nbsp;&nbsp;RSS / USS when idle (MB): 1 account; 5 accounts | {}; {} | {} | {} | | | | |\n",
        ru(t1),
        ru(t5),
        ru(fl),
        ru(py)
    ));
    if let Some(e) = gui["error"].as_str() {
        md.push_str(&format!("| GUI | {e} | | | | | ≤ 30 / ≤ 250 MB, ≤ 500 ms | not measured |\n"));
    } else {
        let (tr, cl, op, rep) = (&gui["tray_only"], &gui["window_closed"], &gui["window_open"], &gui["after_repeated_opens"]);
        let pss = |v: &Value| f(&v["pss_mb"]);
        let rss_uss = |v: &Value| format!("{} / {}", num(f(&v["rss_mb"]), 1), num(f(&v["uss_mb"]), 1));
        let nproc = |v: &Value| v["processes"].as_array().map(|a| a.len()).unwrap_or(0);
        md.push_str(&format!(
            "| GUI: the resident alone in the tray (`tocsin --demo --minimized`), PSS (MB) | {} | | | {} | {} | ≤ 30 MB | {} |\n",
            num(pss(tr), 1),
            ratio(pss(tr), b),
            ratio(pss(tr), c),
            verdict(pss(tr), 30.0, true)
        ));
        md.push_str(&format!(
            "| &nbsp;&nbsp;RSS / USS (MB); processes | {}; {} | | | | | | |\n",
            rss_uss(tr),
            nproc(tr)
        ));
        let grew = pss(cl).zip(pss(tr)).map(|(x, y)| x - y);
        md.push_str(&format!(
            "| GUI: the resident after the window was opened and closed, PSS (MB) | {} ({}{} MB) | | | {} | {} | ≤ tray + 3 MB | {} |\n",
            num(pss(cl), 1),
            if grew.unwrap_or(0.0) >= 0.0 { "+" } else { "" },
            num(grew, 1),
            ratio(pss(cl), b),
            ratio(pss(cl), c),
            verdict(grew, 3.0, true)
        ));
        md.push_str(&format!(
            "| &nbsp;&nbsp;RSS / USS (MB); processes; PSS after {} opens and closes (MB) | {}; {}; {} | | | | | | |\n",
            rep["opens_so_far"],
            rss_uss(cl),
            nproc(cl),
            num(pss(rep), 1)
        ));
        md.push_str(&format!(
            "| GUI: window open, resident + tocsin-window + WebKit, PSS (MB) | {} | | | {} | {} | ≤ 250 MB | {} |\n",
            num(pss(op), 1),
            ratio(pss(op), b),
            ratio(pss(op), c),
            verdict(pss(op), 250.0, true)
        ));
        md.push_str(&format!("| &nbsp;&nbsp;RSS / USS, summed (MB) | {} | | | | | | |\n", rss_uss(op)));
        if let Some(ps) = op["processes"].as_array() {
            let parts: Vec<String> = ps
                .iter()
                .map(|p| format!("{} {} / {} / {}", p["comm"].as_str().unwrap_or("?"), num(f(&p["pss_mb"]), 1), num(f(&p["rss_mb"]), 1), num(f(&p["uss_mb"]), 1)))
                .collect();
            md.push_str(&format!("| &nbsp;&nbsp;window open, per process: PSS / RSS / USS (MB) | {} | | | | | | |\n", parts.join("; ")));
        }
        let ex = &gui["experiments"];
        let gl = &ex["window_open_gdk_gl_disable"];
        if let Some(ps) = gl["processes"].as_array() {
            let parts: Vec<String> = ps.iter().map(|p| format!("{} {}", p["comm"].as_str().unwrap_or("?"), num(f(&p["pss_mb"]), 1))).collect();
            md.push_str(&format!(
                "| &nbsp;&nbsp;window open with `GDK_GL=disable` (an experiment, not what users run): PSS (MB), per process | {} ({}) | | | | | | |\n",
                num(pss(gl), 1),
                parts.join(", ")
            ));
        }
        md.push_str(&format!(
            "| &nbsp;&nbsp;the resident in the tray, PSS (MB): `MALLOC_ARENA_MAX=2`; 5 accounts, no demo (no in-process emulator); both | {}; {}; {} | | | | | | |\n",
            num(pss(&ex["demo_malloc_arena_max_2"]), 1),
            num(pss(&ex["five_accounts_no_demo"]), 1),
            num(pss(&ex["five_accounts_no_demo_malloc_arena_max_2"]), 1)
        ));
        let o = &gui["open_to_rows"];
        let painted = f(&o["rows_painted_ms"]["p50"]);
        md.push_str(&format!(
            "| GUI: open → first event row painted, median of {} (ms; launched by WebKitWebDriver) | {} | | | | | ≤ 500 ms | {} |\n",
            o["rows_painted_ms"]["n"],
            num(painted, 0),
            verdict(painted, 500.0, true)
        ));
        let mm = |k: &str| format!("{} ({})", num(f(&o[k]["p50"]), 0), num(f(&o[k]["max"]), 0));
        md.push_str(&format!(
            "| &nbsp;&nbsp;median (max) from the session request (ms): session answered; page's time origin; first contentful paint; rows in the DOM | {}; {}; {}; {} | | | | | | |\n",
            mm("session_ms"),
            mm("page_origin_ms"),
            mm("first_contentful_paint_ms"),
            mm("rows_in_dom_ms")
        ));
        let oc = &gui["open_to_rows_compositing_on"];
        md.push_str(&format!(
            "| &nbsp;&nbsp;the same with WebKit's compositing on (`WEBKIT_DISABLE_COMPOSITING_MODE=0`): first event row painted, median (max) (ms) | {} ({}) | | | | | | |\n",
            num(f(&oc["rows_painted_ms"]["p50"]), 0),
            num(f(&oc["rows_painted_ms"]["max"]), 0)
        ));
        let rp = &gui["open_real_path"];
        md.push_str(&format!(
            "| &nbsp;&nbsp;`Request::OpenWindow` (as `tocsin open`) → window mapped; → window connected to the resident: median (max) (ms) | {} ({}); {} ({}) | | | | | | |\n",
            num(f(&rp["mapped_ms"]["p50"]), 0),
            num(f(&rp["mapped_ms"]["max"]), 0),
            num(f(&rp["connected_ms"]["p50"]), 0),
            num(f(&rp["connected_ms"]["max"]), 0)
        ));
    }
    std::fs::write(out_dir.join("figures.md"), &md).expect("write figures.md");
    print!("{md}");
}
