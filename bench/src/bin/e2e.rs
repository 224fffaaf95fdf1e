//! The end-to-end benchmark: the emulator (in this process) → the release
//! `tocsin run --headless` → a recording notification server (in this process) on
//! a private session bus, against two baselines fed the same frames: the floor
//! (`floor`, a bare tokio-tungstenite client that only receives) and the Python
//! script a user would write (`bench/baseline/agentmail_notify.py`: the official
//! `agentmail` SDK + a D-Bus notification per urgent message).
//!
//!     e2e [--quick] [--parts startup,latency,ingest,idle,gui]
//!
//! Every part writes `artifacts/bench/e2e-<part>.json`; `report` turns them into the
//! table of BENCHMARKS.md. Nothing here asserts a timing.
//!
//! Clocks: send times are CLOCK_MONOTONIC taken by the publisher thread just before
//! the frame is handed to the emulator, written into the subject (`t=<ns>`); arrival
//! times are taken by the notification server in this process (Tocsin, Python) or
//! by the floor client on the same system-wide clock.
//!
//! Environment: `TOCSIN_BIN` (default target/release/tocsin), `TOCSIN_BENCH_PYTHON`
//! (default .venv-bench/bin/python), `DISPLAY` for the GUI part.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tocsin_bench::procfs::{self, Sample};
use tocsin_bench::recorder::LatencyRecorder;
use tocsin_bench::{mono_ns, stats, write_result, MailGen};
use tocsin_e2e::app::AppProcess;
use tocsin_e2e::bus::PrivateBus;
use tocsin_emulator::{Emulator, EmulatorConfig, Hub};
use tokio::io::{AsyncBufReadExt, BufReader};

const KEY: &str = "am_bench_0123456789abcdef";
const INBOX: &str = "agent@agentmail.to";
/// 20 digits, replaced by the send time in ns when the frame is published.
const T_PLACEHOLDER: &str = "99999999999999999999";
/// Replaced by the event's id (in event_id, message_id, thread_id, ...).
const ID_PLACEHOLDER: &str = "IDPLACEHOLDER";

#[derive(Clone)]
struct Opts {
    quick: bool,
    bin: PathBuf,
    floor: PathBuf,
    python: PathBuf,
    script: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let parts: Vec<String> = args
        .iter()
        .position(|a| a == "--parts")
        .and_then(|i| args.get(i + 1))
        .map(|p| p.split(',').map(str::to_owned).collect())
        .unwrap_or_else(|| ["startup", "latency", "ingest", "idle", "gui"].map(String::from).to_vec());
    let root = tocsin_bench::workspace_dir();
    let bin = std::env::var_os("TOCSIN_BIN").map(PathBuf::from).unwrap_or_else(|| tocsin_bench::target_dir().join("release/tocsin"));
    anyhow::ensure!(bin.exists(), "{} is missing: cargo build --release -p tocsin-resident -p tocsin-window (scripts/bench.sh does)", bin.display());
    let floor = std::env::current_exe()?.with_file_name("floor");
    anyhow::ensure!(floor.exists(), "{} is missing: cargo build --release -p tocsin-bench", floor.display());
    let python = std::env::var_os("TOCSIN_BENCH_PYTHON").map(PathBuf::from).unwrap_or_else(|| root.join(".venv-bench/bin/python"));
    let opts = Opts { quick, bin, floor, python, script: root.join("bench/baseline/agentmail_notify.py") };
    write_result("e2e-machine", &machine(&opts));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async move {
        for part in &parts {
            eprintln!("\n==> e2e part: {part}");
            let load_before = loadavg();
            let cpu_before = machine_cpu();
            let result = match part.as_str() {
                "startup" => startup(&opts).await,
                "latency" => latency(&opts).await,
                "ingest" => ingest(&opts).await,
                "idle" => idle(&opts).await,
                "gui" => gui(&opts).await,
                other => bail!("unknown part {other}"),
            };
            match result {
                Ok(mut v) => {
                    v["loadavg_before"] = json!(load_before);
                    v["loadavg_after"] = json!(loadavg());
                    // The machine's CPU use over the part, the part's own processes included
                    // (2 cores: 50 % is one core busy); other work on the machine shows here.
                    v["machine_cpu_busy_percent"] = json!(cpu_before.zip(machine_cpu()).map(|((b0, t0), (b1, t1))| (b1 - b0) as f64 / (t1 - t0).max(1) as f64 * 100.0));
                    write_result(&format!("e2e-{part}"), &v);
                }
                Err(e) => {
                    eprintln!("part {part} failed: {e:#}");
                    write_result(&format!("e2e-{part}"), &json!({"error": format!("{e:#}")}));
                }
            }
        }
        anyhow::Ok(())
    })
}

/// (busy, total) jiffies of all CPUs from the first line of `/proc/stat`.
fn machine_cpu() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    let total: u64 = fields.iter().take(8).sum();
    // idle + iowait
    let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// `/proc/loadavg` (the machine is shared: other work shows here).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim().to_owned()
}

fn machine(opts: &Opts) -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).unwrap_or("?").trim().to_owned();
    let mhz = cpuinfo.lines().find(|l| l.starts_with("cpu MHz")).and_then(|l| l.split(':').nth(1)).unwrap_or("?").trim().to_owned();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = meminfo.lines().next().unwrap_or("").to_owned();
    let cmd = |c: &str, a: &[&str]| {
        std::process::Command::new(c).args(a).output().ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()).unwrap_or_default()
    };
    json!({
        "cpu": model,
        "cpu_mhz": mhz,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "memory": mem,
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "os": cmd("sh", &["-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "rustc": cmd("rustc", &["--version"]),
        "python": cmd(&opts.python.display().to_string(), &["--version"]),
        "commit": cmd("git", &["-C", &tocsin_bench::workspace_dir().display().to_string(), "rev-parse", "--short", "HEAD"]),
        "dirty": !cmd("git", &["-C", &tocsin_bench::workspace_dir().display().to_string(), "status", "--porcelain", "--untracked-files=no"]).is_empty(),
        "binary": opts.bin.display().to_string(),
        "quick": opts.quick,
        "date": cmd("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
    })
}

// ---------------------------------------------------------------------------------
// The emulator and frames

async fn emulator() -> anyhow::Result<Emulator> {
    let config = EmulatorConfig { keys: vec![KEY.into()], ..EmulatorConfig::default() };
    Ok(Emulator::bind(([127, 0, 0, 1], 0).into(), config).await?)
}

/// An AgentMail `message.received` frame as text with the id placeholder, and with
/// the time placeholder in the subject when `timed`.
fn template(gen: &mut MailGen, n: u64, urgent: bool, timed: bool, tag: &str) -> String {
    let (words, sender, body) = gen.mail(n);
    let mut subject = String::new();
    if urgent {
        subject.push_str("[URGENT] ");
    }
    subject.push_str(&format!("{tag} {words}"));
    if timed {
        subject.push_str(&format!(" t={T_PLACEHOLDER}"));
    }
    tocsin_emulator::agentmail::message_received(ID_PLACEHOLDER, INBOX, &sender, &subject, &body, &[]).to_string()
}

fn with_id(template: &str, id: &str) -> String {
    template.replace(ID_PLACEHOLDER, id)
}

fn stamped(frame: &str) -> String {
    frame.replace(T_PLACEHOLDER, &format!("{:020}", mono_ns()))
}

fn end_frame(id: &str) -> String {
    tocsin_emulator::agentmail::message_received(id, INBOX, "bench@example.com", "bench-end", "end of run", &[]).to_string()
}

/// Publishes `frames` (with the time placeholder stamped at send) at `rate` per
/// second on a dedicated thread, paced against absolute deadlines; then `end`.
fn publish_paced(hub: Arc<Hub>, frames: Vec<String>, rate: f64, end: String) -> std::thread::JoinHandle<Duration> {
    std::thread::spawn(move || {
        let start = Instant::now();
        for (i, f) in frames.iter().enumerate() {
            let target = start + Duration::from_secs_f64(i as f64 / rate);
            let now = Instant::now();
            if target > now {
                std::thread::sleep(target - now);
            }
            hub.publish_raw(&stamped(f));
        }
        std::thread::sleep(Duration::from_millis(50));
        hub.publish_raw(&end);
        start.elapsed()
    })
}

fn subscribes(hub: &Hub) -> usize {
    hub.commands().iter().filter(|c| c["type"] == "subscribe").count()
}

async fn wait_subscribes(hub: &Hub, n: usize, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while subscribes(hub) < n {
        if Instant::now() > deadline {
            bail!("no subscription within {timeout:?} ({} of {n})", subscribes(hub));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// The three consumers

/// A baseline process (floor or Python) and what its stdout said.
struct Baseline {
    child: tokio::process::Child,
    _subscribed: Arc<AtomicBool>,
    progress: Arc<AtomicU64>,
    done: Arc<Mutex<Vec<Value>>>,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Baseline {
    fn spawn(program: &Path, args: &[&str], envs: &[(&str, &str)]) -> anyhow::Result<Baseline> {
        let dir = tempfile::Builder::new().prefix("tocsin-bench-baseline-").tempdir()?;
        let stderr = dir.path().join("stderr.log");
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr)?)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawn {}", program.display()))?;
        let subscribed = Arc::new(AtomicBool::new(false));
        let progress = Arc::new(AtomicU64::new(0));
        let done = Arc::new(Mutex::new(Vec::new()));
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let (s, p, d) = (subscribed.clone(), progress.clone(), done.clone());
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if line == "subscribed" {
                    s.store(true, Ordering::SeqCst);
                } else if let Some(n) = line.strip_prefix("progress ") {
                    p.store(n.trim().parse().unwrap_or(0), Ordering::SeqCst);
                } else if let Some(j) = line.strip_prefix("done ") {
                    let v: Value = serde_json::from_str(j).unwrap_or(Value::Null);
                    if let Some(f) = v["frames"].as_u64() {
                        p.store(f, Ordering::SeqCst);
                    }
                    d.lock().unwrap().push(v);
                }
            }
        });
        Ok(Baseline { child, _subscribed: subscribed, progress, done, stderr, _dir: dir })
    }

    fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    async fn wait_done(&self, n: usize, timeout: Duration) -> anyhow::Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = self.done.lock().unwrap().get(n - 1) {
                return Ok(v.clone());
            }
            if Instant::now() > deadline {
                bail!("no end-of-run line within {timeout:?}; stderr: {}", std::fs::read_to_string(&self.stderr).unwrap_or_default());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

fn floor(opts: &Opts, emu: &Emulator) -> anyhow::Result<Baseline> {
    let url = emu.agentmail_url();
    Baseline::spawn(&opts.floor, &[&url, KEY], &[])
}

/// The floor that also sends one `Notify` per urgent frame on `bus`.
fn floor_notify(opts: &Opts, emu: &Emulator, bus: &PrivateBus) -> anyhow::Result<Baseline> {
    let url = emu.agentmail_url();
    Baseline::spawn(&opts.floor, &[&url, KEY, "--notify"], &[("DBUS_SESSION_BUS_ADDRESS", bus.address())])
}

fn python(opts: &Opts, emu: &Emulator, bus: &PrivateBus) -> anyhow::Result<Baseline> {
    let base = emu.http_base();
    let script = opts.script.display().to_string();
    Baseline::spawn(&opts.python, &[&script, &base, KEY, "--inbox", INBOX], &[("DBUS_SESSION_BUS_ADDRESS", bus.address())])
}

/// `tocsin run --headless` with one account per entry of `accounts` (or one
/// AgentMail account), attention set so every urgent event notifies singly.
struct Tocsin {
    app: AppProcess,
    dir: tempfile::TempDir,
}

impl Tocsin {
    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn prepare(opts: &Opts, emu: &Emulator, five: bool, dir: Option<tempfile::TempDir>, attention: bool) -> anyhow::Result<tempfile::TempDir> {
        let dir = match dir {
            Some(d) => d,
            None => tempfile::Builder::new().prefix("tocsin-bench-app-").tempdir()?,
        };
        let config = dir.path().join("config");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&config)?;
        std::fs::create_dir_all(&data)?;
        let mut toml = format!(
            "[[accounts]]\nname = \"bench\"\nprovider = \"agentmail\"\nurl = \"{}\"\ninboxes = [\"{INBOX}\"]\n",
            emu.agentmail_url()
        );
        if five {
            toml.push_str(&format!(
                "\n[[accounts]]\nname = \"mail\"\nprovider = \"daimon\"\nurl = \"{}\"\n\
                 \n[[accounts]]\nname = \"prism\"\nprovider = \"prismer\"\nurl = \"{}\"\nauth = \"query\"\n\
                 \n[[accounts]]\nname = \"chat\"\nprovider = \"divinci\"\nurl = \"{}\"\nauth = \"token\"\n\
                 \n[[accounts]]\nname = \"topics\"\nprovider = \"bivariant\"\nurl = \"{}\"\ntopics = [\"events.{}.>\"]\n",
                emu.daimon_url(),
                emu.prismer_url(),
                emu.divinci_chat_url(tocsin_emulator::demo::DEMO_THREAD),
                emu.bivariant_url(),
                tocsin_emulator::bivariant::ORG,
            ));
        }
        std::fs::write(config.join("config.toml"), toml)?;
        if attention && !data.join("history.db").exists() {
            // Every urgent event notifies on its own: 100 a second is the most the
            // attention policy allows (coalesce_max ≤ 100, window ≥ 1 s).
            let attention = dir.path().join("attention.toml");
            std::fs::write(&attention, "coalesce_max = 100\ncoalesce_window_secs = 1\n")?;
            let out = std::process::Command::new(&opts.bin)
                .args(["attention", "import"])
                .arg(&attention)
                .arg("--data-dir")
                .arg(&data)
                .output()?;
            anyhow::ensure!(out.status.success(), "tocsin attention import: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(dir)
    }

    fn spawn(opts: &Opts, dir: tempfile::TempDir, bus: &PrivateBus, extra_env: &[(&str, &str)]) -> Tocsin {
        let config = dir.path().join("config").display().to_string();
        let data = dir.path().join("data").display().to_string();
        let mut envs = vec![
            ("TOCSIN_KEY_BENCH", KEY),
            ("TOCSIN_KEY_MAIL", KEY),
            ("TOCSIN_KEY_PRISM", KEY),
            ("TOCSIN_KEY_CHAT", KEY),
            ("TOCSIN_KEY_TOPICS", KEY),
            ("TOCSIN_CONFIG_DIR", config.as_str()),
            ("TOCSIN_DATA_DIR", data.as_str()),
            ("DBUS_SESSION_BUS_ADDRESS", bus.address()),
            ("DISPLAY", ""),
        ];
        envs.extend_from_slice(extra_env);
        let app = AppProcess::spawn_binary(&opts.bin, &["run", "--headless"], &envs);
        Tocsin { app, dir }
    }

    async fn stop(mut self) -> tempfile::TempDir {
        let _ = self.app.stop("TERM", Duration::from_secs(30)).await;
        self.dir
    }
}

async fn open_db(path: &Path) -> anyhow::Result<sqlx::SqlitePool> {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path).read_only(true);
    Ok(sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect_with(options).await?)
}

async fn max_id(pool: &sqlx::SqlitePool) -> u64 {
    sqlx::query_scalar::<_, Option<i64>>("SELECT max(id) FROM events").fetch_one(pool).await.ok().flatten().unwrap_or(0) as u64
}

// ---------------------------------------------------------------------------------
// Part: start to subscribed

async fn startup(opts: &Opts) -> anyhow::Result<Value> {
    let emu = emulator().await?;
    let bus = PrivateBus::start();
    let _recorder = LatencyRecorder::start(bus.address()).await?;
    let hub = emu.agentmail().clone();
    let runs = if opts.quick { 3 } else { 10 };
    // Tocsin: the first start creates the history (cold), the others reopen it.
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    let mut dir = None;
    for i in 0..=runs {
        // No attention import: the first start finds no history at all.
        let d = Tocsin::prepare(opts, &emu, false, dir.take(), false)?;
        let before = subscribes(&hub);
        let started = Instant::now();
        let app = Tocsin::spawn(opts, d, &bus, &[]);
        wait_subscribes(&hub, before + 1, Duration::from_secs(20)).await?;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        if i == 0 { cold.push(ms) } else { warm.push(ms) }
        dir = Some(app.stop().await);
    }
    let mut floor_ms = Vec::new();
    for _ in 0..runs {
        let before = subscribes(&hub);
        let started = Instant::now();
        let f = floor(opts, &emu)?;
        wait_subscribes(&hub, before + 1, Duration::from_secs(20)).await?;
        floor_ms.push(started.elapsed().as_secs_f64() * 1e3);
        f.stop().await;
    }
    let mut python_ms = Vec::new();
    for _ in 0..runs.min(5) {
        let before = subscribes(&hub);
        let started = Instant::now();
        let p = python(opts, &emu, &bus)?;
        wait_subscribes(&hub, before + 1, Duration::from_secs(30)).await?;
        python_ms.push(started.elapsed().as_secs_f64() * 1e3);
        p.stop().await;
    }
    emu.shutdown().await;
    Ok(json!({
        "what": "spawn of the process to the emulator receiving its subscribe frame (ms), one AgentMail account, loopback",
        "tocsin_cold_ms": cold,
        "tocsin_warm_ms": stats(&mut warm),
        "floor_ms": stats(&mut floor_ms),
        "python_ms": stats(&mut python_ms),
    }))
}

// ---------------------------------------------------------------------------------
// Part: send-to-notification latency at a steady rate

struct Plan {
    events: usize,
    rate: f64,
    urgent_every: usize,
}

fn latency_frames(plan: &Plan, tag: &str, seed: u64) -> (Vec<String>, usize) {
    let mut gen = MailGen::new(seed);
    let mut urgent = 0;
    let frames = (0..plan.events)
        .map(|i| {
            let u = i % plan.urgent_every == 0;
            urgent += usize::from(u);
            with_id(&template(&mut gen, i as u64, u, true, &format!("{tag}{i:06}")), &format!("{tag}_{i}"))
        })
        .collect();
    (frames, urgent)
}

/// Latencies (ms) of the arrivals that carry a send time; and how many did not.
fn arrival_latencies(arrivals: &[tocsin_bench::recorder::Arrival], tag: &str) -> (Vec<f64>, usize) {
    let mut out = Vec::new();
    let mut other = 0;
    for a in arrivals {
        match a.sent_ns {
            Some(s) if a.summary.contains(tag) => out.push(a.arrived_ns.saturating_sub(s) as f64 / 1e6),
            _ => other += 1,
        }
    }
    (out, other)
}

async fn wait_count(recorder: &LatencyRecorder, n: u64, quiet: Duration) {
    let mut last = recorder.count();
    let mut since = Instant::now();
    while recorder.count() < n {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let c = recorder.count();
        if c != last {
            last = c;
            since = Instant::now();
        } else if since.elapsed() > quiet {
            break;
        }
    }
}

/// The app process's PSS split into anonymous and file-backed memory, and its 15
/// largest mappings (`procfs::pss_by_mapping`), in KiB.
fn memory_profile(pid: u32) -> Value {
    let top: Vec<Value> = procfs::pss_by_mapping(pid).into_iter().take(15).map(|(name, kib)| json!({"mapping": name, "pss_kib": kib})).collect();
    json!({
        "pss_anon_kib": procfs::rollup_kib(pid, "Pss_Anon:"),
        "pss_file_kib": procfs::rollup_kib(pid, "Pss_File:"),
        "threads": procfs::threads(pid),
        "top": top,
    })
}

/// Runs `plan` through `b`, a baseline that notifies on `recorder`'s bus (floor +
/// Notify, Python): a warm-up, then the frames tagged `tag`; `within` bounds each
/// wait for the baseline to see the end frame.
async fn notifying_baseline(
    b: Baseline,
    hub: &Arc<Hub>,
    recorder: &LatencyRecorder,
    plan: &Plan,
    warm: &Plan,
    tag: &str,
    within: Duration,
) -> anyhow::Result<Value> {
    let (wf, wu) = latency_frames(warm, "warm", 1);
    publish_paced(hub.clone(), wf, warm.rate, end_frame("warm_end")).join().unwrap();
    b.wait_done(1, within).await?;
    wait_count(recorder, wu as u64, Duration::from_secs(3)).await;
    recorder.take();
    let (frames, urgent) = latency_frames(plan, tag, 2);
    let cpu0 = Sample::take(b.pid());
    publish_paced(hub.clone(), frames, plan.rate, end_frame(&format!("{tag}_end"))).join().unwrap();
    let done = b.wait_done(2, within).await;
    wait_count(recorder, urgent as u64, Duration::from_secs(5)).await;
    let cpu1 = Sample::take(b.pid());
    let (mut lat, other) = arrival_latencies(&recorder.take(), tag);
    let cpu = cpu0.zip(cpu1).map(|(a, b)| a.rates(&b).1);
    b.stop().await;
    Ok(json!({"sent_urgent": urgent, "notified": lat.len(), "other_notifications": other, "finished": done.is_ok(),
              "cpu_percent": cpu, "ms": stats(&mut lat)}))
}

async fn latency(opts: &Opts) -> anyhow::Result<Value> {
    let plan = if opts.quick {
        Plan { events: 5_000, rate: 400.0, urgent_every: 5 }
    } else {
        Plan { events: 50_000, rate: 400.0, urgent_every: 5 }
    };
    let warm = Plan { events: 500, rate: 250.0, urgent_every: 5 };
    let emu = emulator().await?;
    let hub = emu.agentmail().clone();
    let bus = PrivateBus::start();
    let recorder = LatencyRecorder::start(bus.address()).await?;
    let mut out = serde_json::Map::new();
    out.insert(
        "what".into(),
        json!(format!(
            "{} AgentMail frames at {} /s steady, every {}th urgent ([URGENT] subject); latency = publish in the emulator → \
             Notify call dispatched in the recording server (Tocsin, Python) or frame received (floor); ms",
            plan.events, plan.rate, plan.urgent_every
        )),
    );

    // --- Tocsin: the history on this machine's disk (as users run it), then on
    // tmpfs (RAM), which separates what the disk costs from what the app does.
    for (key, tag) in [("tocsin", "tcsn"), ("tocsin_tmpfs", "tmpf")] {
        let base = if key == "tocsin" { std::env::temp_dir() } else { PathBuf::from("/dev/shm") };
        if !base.is_dir() {
            continue;
        }
        let before = subscribes(&hub);
        let dir = Tocsin::prepare(opts, &emu, false, Some(tempfile::Builder::new().prefix("tocsin-bench-app-").tempdir_in(&base)?), true)?;
        let app = Tocsin::spawn(opts, dir, &bus, &[]);
        wait_subscribes(&hub, before + 1, Duration::from_secs(20)).await?;
        let (wf, wu) = latency_frames(&warm, "warm", 1);
        publish_paced(hub.clone(), wf, warm.rate, end_frame("warm_end")).join().unwrap();
        wait_count(&recorder, wu as u64, Duration::from_secs(3)).await;
        recorder.take();
        let (frames, urgent) = latency_frames(&plan, tag, 2);
        let cpu0 = Sample::take(app.app.pid());
        let elapsed = publish_paced(hub.clone(), frames, plan.rate, end_frame(&format!("{tag}_end"))).join().unwrap();
        wait_count(&recorder, urgent as u64, Duration::from_secs(10)).await;
        let cpu1 = Sample::take(app.app.pid());
        let arrivals = recorder.take();
        let (mut lat, other) = arrival_latencies(&arrivals, tag);
        let db = open_db(&app.data_dir().join("history.db")).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE dedupe_key LIKE ?")
            .bind(format!("%{tag}%"))
            .fetch_one(&db)
            .await?;
        db.close().await;
        let cpu = cpu0.zip(cpu1).map(|(a, b)| a.rates(&b).1);
        out.insert(
            key.into(),
            json!({"sent_urgent": urgent, "notified": lat.len(), "other_notifications": other, "sent": plan.events,
                   "stored": stored, "publish_seconds": elapsed.as_secs_f64(), "cpu_percent": cpu, "ms": stats(&mut lat),
                   "history_dir": base.display().to_string()}),
        );
        eprintln!("{key}: {}", out[key]);
        app.stop().await;
    }

    // --- Floor
    {
        let before = subscribes(&hub);
        let f = floor(opts, &emu)?;
        wait_subscribes(&hub, before + 1, Duration::from_secs(20)).await?;
        let (wf, _) = latency_frames(&warm, "warm", 1);
        publish_paced(hub.clone(), wf, warm.rate, end_frame("warm_end")).join().unwrap();
        f.wait_done(1, Duration::from_secs(30)).await?;
        let (frames, urgent) = latency_frames(&plan, "flr", 2);
        let cpu0 = Sample::take(f.pid());
        publish_paced(hub.clone(), frames, plan.rate, end_frame("flr_end")).join().unwrap();
        let done = f.wait_done(2, Duration::from_secs(30)).await?;
        let cpu1 = Sample::take(f.pid());
        let mut all: Vec<f64> = done["latency_ns"].as_array().map(|a| a.iter().filter_map(Value::as_f64).map(|ns| ns / 1e6).collect()).unwrap_or_default();
        let cpu = cpu0.zip(cpu1).map(|(a, b)| a.rates(&b).1);
        out.insert("floor".into(), json!({"sent": plan.events, "sent_urgent": urgent, "received": all.len(), "cpu_percent": cpu, "ms": stats(&mut all)}));
        eprintln!("floor: {}", out["floor"]);
        f.stop().await;
    }

    // --- Floor + Notify, then Python: baselines that notify on the recorder's bus.
    for (key, tag) in [("floor_notify", "fntf"), ("python", "pyth")] {
        let before = subscribes(&hub);
        let (b, within) = if key == "python" {
            (python(opts, &emu, &bus)?, Duration::from_secs(300))
        } else {
            (floor_notify(opts, &emu, &bus)?, Duration::from_secs(30))
        };
        wait_subscribes(&hub, before + 1, Duration::from_secs(30)).await?;
        let v = notifying_baseline(b, &hub, &recorder, &plan, &warm, tag, within).await?;
        eprintln!("{key}: {v}");
        out.insert(key.into(), v);
    }
    emu.shutdown().await;
    Ok(Value::Object(out))
}

// ---------------------------------------------------------------------------------
// Part: sustained ingest into the history, with a loss check

/// Publishes `n` frames (cycling `templates`, ids `<tag>_<i>`) as fast as the
/// consumer takes them, never more than `window` ahead of `progress`.
fn publish_windowed(hub: Arc<Hub>, templates: Arc<Vec<String>>, n: u64, tag: String, window: u64, progress: Arc<AtomicU64>) -> std::thread::JoinHandle<Instant> {
    std::thread::spawn(move || {
        let started = Instant::now();
        let mut i = 0;
        while i < n {
            if i.saturating_sub(progress.load(Ordering::Relaxed)) >= window {
                std::thread::sleep(Duration::from_micros(200));
                continue;
            }
            for _ in 0..256.min(n - i) {
                hub.publish_raw(&with_id(&templates[i as usize % templates.len()], &format!("{tag}_{i}")));
                i += 1;
            }
        }
        started
    })
}

async fn wait_progress(progress: &AtomicU64, n: u64, timeout: Duration) -> Option<Instant> {
    let deadline = Instant::now() + timeout;
    while progress.load(Ordering::Relaxed) < n {
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Some(Instant::now())
}

async fn ingest(opts: &Opts) -> anyhow::Result<Value> {
    let n: u64 = if opts.quick { 50_000 } else { 300_000 };
    let n_python: u64 = if opts.quick { 5_000 } else { 20_000 };
    let window = 30_000;
    let emu = emulator().await?;
    let hub = emu.agentmail().clone();
    let bus = PrivateBus::start();
    let _recorder = LatencyRecorder::start(bus.address()).await?;
    let mut gen = MailGen::new(3);
    let templates: Arc<Vec<String>> = Arc::new((0..1000).map(|i| template(&mut gen, i, false, false, "ingest")).collect());
    let mut out = serde_json::Map::new();
    out.insert("what".into(), json!(format!(
        "non-urgent AgentMail frames published as fast as the consumer takes them (at most {window} ahead); \
         events/s from the first publish to the last event committed (Tocsin: polled max(id) in the history, every 2 ms) \
         or received (baselines)")));

    // --- Tocsin
    {
        let before = subscribes(&hub);
        let dir = Tocsin::prepare(opts, &emu, false, None, true)?;
        // Capacity, so the account's rate limit (2 000 events/s by default, which keeps
        // one flooding account from delaying the others' alerts) is off.
        let cfg = dir.path().join("config/config.toml");
        let text = std::fs::read_to_string(&cfg)?;
        std::fs::write(&cfg, text.replacen("name = \"bench\"\n", "name = \"bench\"\nmax_events_per_sec = 0\n", 1))?;
        let app = Tocsin::spawn(opts, dir, &bus, &[]);
        wait_subscribes(&hub, before + 1, Duration::from_secs(20)).await?;
        let connections_before = hub.total_connections();
        // The history exists once the app subscribed.
        let db = open_db(&app.data_dir().join("history.db")).await?;
        let base = max_id(&db).await;
        let progress = Arc::new(AtomicU64::new(0));
        let watcher = {
            let (db, progress) = (db.clone(), progress.clone());
            tokio::spawn(async move {
                loop {
                    progress.store(max_id(&db).await.saturating_sub(base), Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            })
        };
        let cpu0 = Sample::take(app.app.pid());
        let publisher = publish_windowed(hub.clone(), templates.clone(), n, "ing".into(), window, progress.clone());
        let finished = wait_progress(&progress, n, Duration::from_secs(600)).await;
        let started = publisher.join().unwrap();
        let cpu1 = Sample::take(app.app.pid());
        watcher.abort();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE dedupe_key LIKE '%<ing!_%' ESCAPE '!'").fetch_one(&db).await?;
        let fts: i64 = sqlx::query_scalar("SELECT count(*) FROM events_fts WHERE events_fts MATCH 'ingest'").fetch_one(&db).await?;
        db.close().await;
        let secs = finished.map(|f| f.duration_since(started).as_secs_f64());
        let cpu_s = cpu0.zip(cpu1).map(|(a, b)| b.cpu_s - a.cpu_s);
        let pss = procfs::pss_kib(app.app.pid());
        out.insert(
            "tocsin".into(),
            json!({"published": n, "stored": stored, "fts_indexed": fts, "lost": n as i64 - stored, "seconds": secs,
                   "events_per_s": secs.map(|s| n as f64 / s), "cpu_seconds": cpu_s,
                   "reconnects": hub.total_connections() - connections_before, "pss_kib_after": pss}),
        );
        eprintln!("tocsin: {}", out["tocsin"]);
        app.stop().await;
    }

    // --- Floor and Python
    for (name, count) in [("floor", n), ("python", n_python)] {
        let before = subscribes(&hub);
        let b = if name == "floor" { floor(opts, &emu)? } else { python(opts, &emu, &bus)? };
        wait_subscribes(&hub, before + 1, Duration::from_secs(30)).await?;
        let connections_before = hub.total_connections();
        let cpu0 = Sample::take(b.pid());
        let publisher = publish_windowed(hub.clone(), templates.clone(), count, format!("ing{name}"), window.min(count / 2), b.progress.clone());
        let finished = wait_progress(&b.progress, count, Duration::from_secs(600)).await;
        let started = publisher.join().unwrap();
        let cpu1 = Sample::take(b.pid());
        let secs = finished.map(|f| f.duration_since(started).as_secs_f64());
        let cpu_s = cpu0.zip(cpu1).map(|(a, b)| b.cpu_s - a.cpu_s);
        out.insert(
            name.into(),
            json!({"published": count, "received": b.progress.load(Ordering::Relaxed), "seconds": secs,
                   "events_per_s": secs.map(|s| count as f64 / s), "cpu_seconds": cpu_s,
                   "reconnects": hub.total_connections() - connections_before}),
        );
        eprintln!("{name}: {}", out[name]);
        b.stop().await;
    }
    emu.shutdown().await;
    Ok(Value::Object(out))
}

// ---------------------------------------------------------------------------------
// Part: idle wakeups and CPU

async fn idle(opts: &Opts) -> anyhow::Result<Value> {
    let secs = if opts.quick { 10 } else { 60 };
    let emu = emulator().await?;
    let hub = emu.agentmail().clone();
    let bus = PrivateBus::start();
    let _recorder = LatencyRecorder::start(bus.address()).await?;
    let t1 = Tocsin::spawn(opts, Tocsin::prepare(opts, &emu, false, None, true)?, &bus, &[]);
    let t5 = Tocsin::spawn(opts, Tocsin::prepare(opts, &emu, true, None, true)?, &bus, &[]);
    let f = floor(opts, &emu)?;
    let p = python(opts, &emu, &bus)?;
    // agentmail subscriptions: one per process (t5 has one AgentMail account too).
    wait_subscribes(&hub, 4, Duration::from_secs(30)).await?;
    // Let the five-account app connect everything, then settle.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let procs = [("tocsin_1_account", t1.app.pid()), ("tocsin_5_accounts", t5.app.pid()), ("floor", f.pid()), ("python", p.pid())];
    let before: Vec<Option<Sample>> = procs.iter().map(|(_, pid)| Sample::take(*pid)).collect();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let mut out = serde_json::Map::new();
    out.insert("what".into(), json!(format!(
        "connected, no traffic, {secs} s after a 5 s settle; wakeups = voluntary + involuntary context switches summed \
         over the process's threads (/proc/PID/task/*/status); CPU = utime + stime (/proc/PID/stat); emulator pings every 30 s")));
    out.insert("seconds".into(), json!(secs));
    for ((name, pid), b) in procs.iter().zip(before) {
        let a = Sample::take(*pid);
        let (wakeups, cpu) = b.zip(a).map(|(b, a)| b.rates(&a)).unzip();
        let mem = procfs::mem_kib(*pid);
        out.insert(
            (*name).into(),
            json!({"wakeups_per_s": wakeups, "cpu_percent": cpu, "threads": procfs::threads(*pid),
                   "pss_kib": mem.map(|m| m.pss), "rss_kib": mem.map(|m| m.rss), "uss_kib": mem.map(|m| m.uss)}),
        );
    }
    // The five-account app's connection states, as it logged them.
    out.insert("tocsin_5_accounts_log_tail".into(), json!(t5.app.log_tail(15)));
    // Memory of each Tocsin with no other Tocsin running: two at once share the
    // binary's and the libraries' pages, and PSS splits those between them. The
    // figures above (`*_concurrent`) are kept for comparison with older runs.
    for name in ["tocsin_1_account", "tocsin_5_accounts"] {
        for k in ["pss_kib", "rss_kib", "uss_kib"] {
            let v = out[name][k].clone();
            out[name][format!("{k}_concurrent")] = v;
        }
    }
    let t1_pid = t1.app.pid();
    let d5 = t5.stop().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let alone = |pid: u32, v: &mut Value| {
        let m = procfs::mem_kib(pid);
        v["pss_kib"] = json!(m.map(|m| m.pss));
        v["rss_kib"] = json!(m.map(|m| m.rss));
        v["uss_kib"] = json!(m.map(|m| m.uss));
        v["pss_anon_kib"] = json!(m.map(|m| m.pss_anon));
        v["pss_file_kib"] = json!(m.map(|m| m.pss_file));
    };
    alone(t1_pid, &mut out["tocsin_1_account"]);
    t1.stop().await;
    // The five-account app again, alone, on its history, after the same settle.
    let before = subscribes(&hub);
    let t5 = Tocsin::spawn(opts, d5, &bus, &[]);
    wait_subscribes(&hub, before + 1, Duration::from_secs(30)).await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    alone(t5.app.pid(), &mut out["tocsin_5_accounts"]);
    out.insert("memory_alone".into(), json!(
        "pss/rss/uss_kib of the Tocsin processes read with no other Tocsin running: 1 account at the end of the idle window \
         once the 5-account app was stopped (2 s later); 5 accounts restarted on its history, 5 s after it subscribed again"));
    eprintln!("{}", serde_json::to_string_pretty(&out)?);
    t5.stop().await;
    f.stop().await;
    p.stop().await;
    emu.shutdown().await;
    Ok(Value::Object(out))
}

// ---------------------------------------------------------------------------------
// Part: the GUI: the resident in the tray, the window process, click → list

/// KiB → MB (MiB, as every memory figure here).
fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn mem_json(m: &procfs::Mem) -> Value {
    json!({"pss_kib": m.pss, "rss_kib": m.rss, "uss_kib": m.uss, "pss_anon_kib": m.pss_anon, "pss_file_kib": m.pss_file,
           "anonymous_kib": m.anonymous, "swap_kib": m.swap, "pss_mb": mb(m.pss), "rss_mb": mb(m.rss), "uss_mb": mb(m.uss)})
}

/// A group of processes: their sum, and each one.
fn group_json(total: &procfs::Mem, each: &[(u32, String, procfs::Mem)]) -> Value {
    let mut v = mem_json(total);
    v["processes"] = each
        .iter()
        .map(|(p, c, m)| {
            let mut j = mem_json(m);
            j["pid"] = json!(p);
            j["comm"] = json!(c);
            j
        })
        .collect();
    v
}

/// Memory of `pid` and its descendants after `settle`: three readings 1 s apart,
/// the last kept (a page being loaded or a timer firing shows in the first).
async fn mem_settled(pid: u32, settle: Duration) -> (procfs::Mem, Vec<(u32, String, procfs::Mem)>) {
    tokio::time::sleep(settle).await;
    let mut last = procfs::tree_mem(pid);
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        last = procfs::tree_mem(pid);
    }
    last
}

/// Where a process's anonymous memory is: every anonymous mapping labelled
/// (`procfs::label_mapping`: which thread's stack, a glibc arena, the heap, a
/// mapping of its own), the 20 largest by RSS, and sums per kind; the threads by
/// name; and the PSS per mapped file (`memory_profile`).
fn anon_profile(pid: u32) -> Value {
    let maps = procfs::mappings(pid);
    let stacks = procfs::thread_stack_pointers(pid);
    let mut anon: Vec<(String, &procfs::Mapping)> = maps
        .iter()
        .enumerate()
        .filter(|(_, m)| m.anonymous > 0 || (m.path.is_empty() && m.rss > 0))
        .map(|(i, m)| (procfs::label_mapping(&maps, i, &stacks), m))
        .collect();
    anon.sort_by_key(|(_, m)| std::cmp::Reverse(m.rss));
    let mut kinds: std::collections::BTreeMap<String, (u64, u64, usize)> = std::collections::BTreeMap::new();
    for (label, m) in &anon {
        let kind = if label.starts_with("thread stack") {
            "thread stacks".to_owned()
        } else if label.starts_with("[anon]") || label.starts_with("malloc arena") || label.starts_with('[') {
            label.clone()
        } else {
            format!("{label} (anonymous pages of a file mapping: relocations, .data/.bss)")
        };
        let e = kinds.entry(kind).or_default();
        e.0 += m.rss;
        e.1 += m.anonymous;
        e.2 += 1;
    }
    let mut threads: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in dir.flatten() {
            let name = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default().trim().to_owned();
            *threads.entry(name).or_default() += 1;
        }
    }
    json!({
        "rollup": procfs::mem_kib(pid).map(|m| mem_json(&m)),
        "threads": threads,
        "stack_pointers_read": stacks.len(),
        "anonymous_by_kind": kinds.iter().map(|(k, (rss, a, n))| json!({"kind": k, "rss_kib": rss, "anonymous_kib": a, "mappings": n})).collect::<Vec<_>>(),
        "largest_anonymous": anon.iter().take(20).map(|(label, m)| json!({
            "start": format!("{:#x}", m.start), "perms": m.perms, "size_kib": m.size, "rss_kib": m.rss,
            "anonymous_kib": m.anonymous, "pss_kib": m.pss, "private_kib": m.private, "what": label})).collect::<Vec<_>>(),
        "pss_by_file": memory_profile(pid),
    })
}

fn has_webkit(pid: u32) -> bool {
    procfs::tree(pid).iter().any(|p| procfs::comm(*p).is_some_and(|c| c.starts_with("WebKit")))
}

/// Whether `pid` is a live (not zombie) process named `comm`.
fn alive(pid: u32, comm: &str) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    let state = stat.rfind(')').and_then(|i| stat[i + 1..].split_whitespace().next()).unwrap_or("");
    state != "Z" && procfs::comm(pid).is_some_and(|c| c == comm)
}

/// Seconds since boot (CLOCK_BOOTTIME, the clock of `/proc/PID/stat`'s start time).
fn boottime_s() -> f64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME).expect("CLOCK_BOOTTIME");
    t.tv_sec() as f64 + t.tv_nsec() as f64 / 1e9
}

/// When `pid` started, in seconds since boot (clock-tick resolution: 10 ms).
fn process_start_s(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    // Field 22 of stat (starttime) is index 19 after the command.
    let ticks: u64 = rest.split_whitespace().nth(19)?.parse().ok()?;
    Some(ticks as f64 / procfs::USER_HZ)
}

/// Wall-clock milliseconds since the epoch (what `performance.timeOrigin` counts in).
fn epoch_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64() * 1e3).unwrap_or(0.0)
}

/// The X display, to find a process's top-level windows by `_NET_WM_PID` and close
/// them the way a window manager's close button does (`WM_DELETE_WINDOW`).
struct XDisplay {
    conn: x11rb::rust_connection::RustConnection,
    root: u32,
    net_wm_pid: u32,
    wm_protocols: u32,
    wm_delete: u32,
}

impl XDisplay {
    fn connect() -> anyhow::Result<XDisplay> {
        use x11rb::connection::Connection;
        use x11rb::protocol::xproto::ConnectionExt;
        let (conn, screen) = x11rb::connect(None).context("connect to the X display")?;
        let root = conn.setup().roots[screen].root;
        let atom = |name: &[u8]| -> anyhow::Result<u32> { Ok(conn.intern_atom(false, name)?.reply()?.atom) };
        let (net_wm_pid, wm_protocols, wm_delete) = (atom(b"_NET_WM_PID")?, atom(b"WM_PROTOCOLS")?, atom(b"WM_DELETE_WINDOW")?);
        Ok(XDisplay { conn, root, net_wm_pid, wm_protocols, wm_delete })
    }

    /// `pid`'s top-level windows that are mapped (viewable).
    fn viewable_windows(&self, pid: u32) -> anyhow::Result<Vec<u32>> {
        use x11rb::protocol::xproto::{AtomEnum, ConnectionExt, MapState};
        let mut out = Vec::new();
        for w in self.conn.query_tree(self.root)?.reply()?.children {
            let prop = self.conn.get_property(false, w, self.net_wm_pid, AtomEnum::CARDINAL, 0, 1)?.reply()?;
            if prop.value32().and_then(|mut v| v.next()) != Some(pid) {
                continue;
            }
            if self.conn.get_window_attributes(w)?.reply()?.map_state == MapState::VIEWABLE {
                out.push(w);
            }
        }
        Ok(out)
    }

    /// Sends WM_DELETE_WINDOW to every mapped top-level window of `pid` that takes
    /// it. Returns how many windows were asked to close.
    fn close_windows(&self, pid: u32) -> anyhow::Result<usize> {
        use x11rb::connection::Connection;
        use x11rb::protocol::xproto::{AtomEnum, ClientMessageEvent, ConnectionExt, EventMask};
        let mut closed = 0;
        for w in self.viewable_windows(pid)? {
            let protocols = self.conn.get_property(false, w, self.wm_protocols, AtomEnum::ATOM, 0, 32)?.reply()?;
            if !protocols.value32().is_some_and(|mut v| v.any(|a| a == self.wm_delete)) {
                continue;
            }
            let event = ClientMessageEvent::new(32, w, self.wm_protocols, [self.wm_delete, 0, 0, 0, 0]);
            self.conn.send_event(false, w, EventMask::NO_EVENT, event)?;
            closed += 1;
        }
        self.conn.flush()?;
        Ok(closed)
    }
}

/// `tocsin ARGS` (the resident) with a config, data and control-socket directory
/// of its own, on the harness's session bus, under the harness's X display.
struct GuiResident {
    app: AppProcess,
    env: Vec<(String, String)>,
    runtime: PathBuf,
    data: PathBuf,
    _dir: tempfile::TempDir,
}

impl GuiResident {
    fn spawn(opts: &Opts, bus: &PrivateBus, args: &[&str], dir: Option<tempfile::TempDir>, extra: &[(&str, &str)]) -> anyhow::Result<GuiResident> {
        let dir = match dir {
            Some(d) => d,
            None => tempfile::Builder::new().prefix("tocsin-bench-gui-").tempdir()?,
        };
        let p = |s: &str| dir.path().join(s);
        let (config, data, runtime) = (p("config"), p("data"), p("run"));
        let mut env: Vec<(String, String)> = vec![
            ("DBUS_SESSION_BUS_ADDRESS".into(), bus.address().to_owned()),
            ("TOCSIN_CONFIG_DIR".into(), config.display().to_string()),
            ("TOCSIN_DATA_DIR".into(), data.display().to_string()),
            ("TOCSIN_RUNTIME_DIR".into(), runtime.display().to_string()),
        ];
        for account in ["BENCH", "MAIL", "PRISM", "CHAT", "TOPICS"] {
            env.push((format!("TOCSIN_KEY_{account}"), KEY.into()));
        }
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let app = AppProcess::spawn_binary(&opts.bin, args, &refs);
        Ok(GuiResident { app, env, runtime, data, _dir: dir })
    }

    fn pid(&self) -> u32 {
        self.app.pid()
    }

    fn socket(&self) -> PathBuf {
        self.runtime.join(tocsin_control::path::SOCKET_NAME)
    }

    async fn wait_log(&mut self, needle: &str, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        while !self.app.log().contains(needle) {
            if !self.app.running() {
                bail!("tocsin exited before logging {needle:?}; log:\n{}", self.app.log_tail(40));
            }
            if Instant::now() > deadline {
                bail!("tocsin did not log {needle:?} within {timeout:?}; log:\n{}", self.app.log_tail(40));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }

    /// The pids of the windows it started, from its log ("started the history window pid=N").
    fn started_windows(&self) -> Vec<u32> {
        self.app
            .log()
            .lines()
            .filter(|l| l.contains("started the history window"))
            .filter_map(|l| l.split("pid=").nth(1)?.split_whitespace().next()?.parse().ok())
            .collect()
    }

    fn windows_connected(&self) -> usize {
        self.app.log().matches("the history window connected").count()
    }

    /// Rows in the history (read-only), to know the window has something to list.
    async fn history_rows(&self) -> i64 {
        let Ok(db) = open_db(&self.data.join("history.db")).await else { return 0 };
        let n = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events").fetch_one(&db).await.unwrap_or(0);
        db.close().await;
        n
    }

    async fn stop(mut self) {
        let _ = self.app.stop("TERM", Duration::from_secs(20)).await;
    }
}

/// `Request::OpenWindow` on a new control connection, as `tocsin open` sends it.
async fn open_window(socket: &Path) -> anyhow::Result<()> {
    let (client, _) = tocsin_control::Client::connect(socket, tocsin_control::Role::Cli).await.map_err(|e| anyhow::anyhow!("connect: {e}"))?;
    client.call::<()>(tocsin_control::Request::OpenWindow { event: None }).await.map_err(|e| anyhow::anyhow!("open_window: {e}"))?;
    Ok(())
}

/// The window the resident started last, once its WebKit processes run: its pid.
async fn wait_new_window(r: &GuiResident, before: usize, timeout: Duration) -> anyhow::Result<u32> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(pid) = r.started_windows().get(before).copied() {
            if has_webkit(pid) {
                return Ok(pid);
            }
        }
        if Instant::now() > deadline {
            bail!("no window with WebKit processes within {timeout:?}; log:\n{}", r.app.log_tail(40));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Closes `window`'s X windows and waits until it and its WebKit processes are gone.
/// Returns (windows asked to close, everything gone, seconds it took).
async fn close_and_wait(x: &XDisplay, window: u32, timeout: Duration) -> anyhow::Result<(usize, bool, f64)> {
    let webkit: Vec<(u32, String)> = procfs::tree(window)
        .into_iter()
        .skip(1)
        .filter_map(|p| procfs::comm(p).filter(|c| c.starts_with("WebKit")).map(|c| (p, c)))
        .collect();
    let asked = x.close_windows(window)?;
    let started = Instant::now();
    let gone = || !alive(window, "tocsin-window") && webkit.iter().all(|(p, c)| !alive(*p, c));
    while !gone() && started.elapsed() < timeout {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((asked, gone(), started.elapsed().as_secs_f64()))
}

/// Pids of `tocsin-window` processes whose environment names `runtime` (the
/// windows WebKitWebDriver launched for this resident).
fn windows_for(runtime: &Path) -> Vec<u32> {
    let needle = format!("TOCSIN_RUNTIME_DIR={}", runtime.display());
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            alive(*pid, "tocsin-window") && env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes())
        })
        .collect()
}

/// Installed by the first probe: a MutationObserver that notes (in the page's own
/// clock, epoch ms) when the first event row enters the DOM, and the next two
/// animation frames after it (the second runs once the frame with the rows is
/// drawn). Returns what it knows so far.
const PAINT_PROBE: &str = r#"
const sel = '[data-testid=event-row]';
const now = () => performance.timeOrigin + performance.now();
if (!window.__tocsinBench) {
  const b = window.__tocsinBench = {installed: now(), rows: null, frame1: null, frame2: null, preexisting: false};
  const mark = () => {
    if (b.rows === null && document.querySelector(sel)) {
      b.rows = now();
      requestAnimationFrame(() => { b.frame1 = now(); requestAnimationFrame(() => { b.frame2 = now(); }); });
    }
  };
  mark();
  b.preexisting = b.rows !== null;
  if (b.rows === null) new MutationObserver(mark).observe(document, {childList: true, subtree: true});
}
const fcp = performance.getEntriesByName('first-contentful-paint')[0];
const b = window.__tocsinBench;
const nav = performance.getEntriesByType('navigation')[0];
return {n: document.querySelectorAll(sel).length, installed: b.installed, rows: b.rows, frame1: b.frame1, frame2: b.frame2,
        preexisting: b.preexisting, origin: performance.timeOrigin, fcp: fcp ? fcp.startTime : null, url: location.href, now: now(),
        dom_content_loaded: nav ? nav.domContentLoadedEventEnd : null, load: nav ? nav.loadEventEnd : null};
"#;

/// How many times the resident logged a window's hello.
fn connections_logged(log: &Path) -> usize {
    std::fs::read_to_string(log).unwrap_or_default().matches("the history window connected").count()
}

/// One WebDriver launch of the window: times (ms) from just before the session
/// request to each step.
async fn driven_open(driver: &tocsin_e2e::WebDriver, window_bin: &Path, env: &[(String, String)], runtime: &Path, resident_log: &Path) -> anyhow::Result<Value> {
    let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let connected_before = connections_logged(resident_log);
    let (t0_wall, t0_boot, t0) = (epoch_ms(), boottime_s(), Instant::now());
    // While the session request blocks: when the resident logs the window's hello.
    let watcher = {
        let log = resident_log.to_path_buf();
        tokio::spawn(async move {
            while t0.elapsed() < Duration::from_secs(20) {
                if connections_logged(&log) > connected_before {
                    return Some(t0.elapsed().as_secs_f64() * 1e3);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            None
        })
    };
    let session = driver.new_session_with_env(window_bin, &[], &refs).await;
    let session_ms = t0.elapsed().as_secs_f64() * 1e3;
    let window = windows_for(runtime).first().copied();
    let process_start_ms = window.and_then(process_start_s).map(|s| (s - t0_boot) * 1e3);
    let started_ms = |comm: &str| {
        window.and_then(|w| {
            procfs::tree(w).into_iter().find(|p| procfs::comm(*p).is_some_and(|c| c == comm)).and_then(process_start_s).map(|s| (s - t0_boot) * 1e3)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut probe = Value::Null;
    let mut probes = 0;
    let mut first_probe_ms = None;
    while Instant::now() < deadline {
        match session.command("POST", "/execute/sync", Some(json!({"script": PAINT_PROBE, "args": []}))).await {
            Ok(v) => {
                first_probe_ms.get_or_insert(t0.elapsed().as_secs_f64() * 1e3);
                probes += 1;
                let done = v["frame2"].is_number();
                probe = v;
                if done {
                    break;
                }
            }
            Err(e) => probe = json!({"error": e.to_string()}),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seen_ms = t0.elapsed().as_secs_f64() * 1e3;
    let rel = |k: &str| probe[k].as_f64().map(|t| t - t0_wall);
    let origin = probe["origin"].as_f64();
    let page_rel = |k: &str| probe[k].as_f64().zip(origin).map(|(t, o)| o + t - t0_wall);
    let out = json!({
        "session_ms": session_ms,
        "process_start_ms": process_start_ms,
        "web_process_start_ms": started_ms("WebKitWebProces"),
        "network_process_start_ms": started_ms("WebKitNetworkPr"),
        "window_connected_logged_ms": watcher.await.ok().flatten(),
        "page_origin_ms": rel("origin"),
        "dom_content_loaded_ms": page_rel("dom_content_loaded"),
        "first_contentful_paint_ms": page_rel("fcp"),
        "first_probe_answered_ms": first_probe_ms,
        "probe_installed_ms": rel("installed"),
        "rows_in_dom_ms": rel("rows"),
        "rows_frame_ms": rel("frame1"),
        "rows_painted_ms": rel("frame2"),
        "rows_were_there_at_first_probe": probe["preexisting"],
        "rows": probe["n"],
        "probes": probes,
        "harness_saw_it_ms": seen_ms,
        "window_pid": window,
        "last_probe": probe,
    });
    session.close().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !windows_for(runtime).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::ensure!(windows_for(runtime).is_empty(), "the driven window did not exit within 20 s");
    Ok(out)
}

/// One open through the resident's real path: `Request::OpenWindow` on a new
/// control connection → the resident starts `tocsin-window` (its log) → the
/// window's X window is mapped → the window connects back. Then closes it.
async fn real_open(r: &GuiResident, x: &XDisplay) -> anyhow::Result<Value> {
    let before = r.started_windows().len();
    let connected_before = r.windows_connected();
    let t0 = Instant::now();
    open_window(&r.socket()).await?;
    let replied_ms = t0.elapsed().as_secs_f64() * 1e3;
    let (mut started_ms, mut mapped_ms, mut connected_ms, mut pid) = (None, None, None, None);
    let deadline = Instant::now() + Duration::from_secs(30);
    while (mapped_ms.is_none() || connected_ms.is_none()) && Instant::now() < deadline {
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        if pid.is_none() {
            pid = r.started_windows().get(before).copied();
            if pid.is_some() {
                started_ms = Some(ms);
            }
        }
        if let (Some(p), None) = (pid, mapped_ms) {
            if !x.viewable_windows(p)?.is_empty() {
                mapped_ms = Some(ms);
            }
        }
        if connected_ms.is_none() && r.windows_connected() > connected_before {
            connected_ms = Some(ms);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let pid = pid.context("the resident did not start a window")?;
    // Let the page load before closing, as a user would look at it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (asked, gone, close_s) = close_and_wait(x, pid, Duration::from_secs(20)).await?;
    Ok(json!({"replied_ms": replied_ms, "started_logged_ms": started_ms, "mapped_ms": mapped_ms, "connected_logged_ms": connected_ms,
              "window_pid": pid, "asked_to_close": asked, "gone": gone, "close_seconds": close_s}))
}

fn collect(runs: &[Value], key: &str) -> tocsin_bench::Stats {
    let mut v: Vec<f64> = runs.iter().filter_map(|r| r[key].as_f64()).collect();
    stats(&mut v)
}

async fn gui(opts: &Opts) -> anyhow::Result<Value> {
    if !tocsin_e2e::display_available() {
        bail!("not measured: no X display (run under scripts/bench.sh, which provides Xvfb)");
    }
    let window_bin = opts.bin.with_file_name("tocsin-window");
    anyhow::ensure!(window_bin.exists(), "{} is missing: cargo build --release -p tocsin-window", window_bin.display());
    let runs = if opts.quick { 5 } else { 15 };
    let bus = PrivateBus::start();
    let _recorder = LatencyRecorder::start(bus.address()).await?;
    let tray = tocsin_e2e::StatusNotifierWatcher::start(&bus).await;
    let x = XDisplay::connect()?;
    let mut out = serde_json::Map::new();
    out.insert("what".into(), json!(
        "the resident `tocsin --demo --minimized` (all five providers against the in-process emulator, an event every 4 s, \
         a StatusNotifierWatcher on the private bus) under Xvfb, no other Tocsin process running; memory from \
         /proc/PID/smaps_rollup per process (PSS, RSS, USS = Private_Clean + Private_Dirty), summed over the resident and \
         its descendants (tocsin-window and its WebKitWebProcess, WebKitNetworkProcess). Readings: the last of three 1 s \
         apart after a settle"));
    out.insert("runs".into(), json!(runs));

    // 1. The resident alone, in the tray; 3. the window opened through the control
    // socket (as `tocsin open`); 2. the resident after that window closed; then the
    // real open path timed, and the resident again after those opens.
    {
        let mut r = GuiResident::spawn(opts, &bus, &["--demo", "--minimized"], None, &[])?;
        r.wait_log("tocsin running", Duration::from_secs(60)).await?;
        let pid = r.pid();
        let (total, each) = mem_settled(pid, Duration::from_secs(8)).await;
        let mut v = group_json(&total, &each);
        v["tray_items"] = json!(tray.items().len());
        v["profile"] = anon_profile(pid);
        out.insert("tray_only".into(), v);
        let tray_pss = total.pss;

        let before = r.started_windows().len();
        open_window(&r.socket()).await?;
        let window = wait_new_window(&r, before, Duration::from_secs(30)).await?;
        r.wait_log("the history window connected", Duration::from_secs(30)).await?;
        let (total, each) = mem_settled(pid, Duration::from_secs(10)).await;
        let mut v = group_json(&total, &each);
        v["window_profile"] = memory_profile(window);
        for (key, comm) in [("web_process_profile", "WebKitWebProces"), ("network_process_profile", "WebKitNetworkPr")] {
            if let Some((p, _, _)) = each.iter().find(|(_, c, _)| c == comm) {
                v[key] = memory_profile(*p);
            }
        }
        out.insert("window_open".into(), v);

        let (asked, gone, secs) = close_and_wait(&x, window, Duration::from_secs(20)).await?;
        let (total, each) = mem_settled(pid, Duration::from_secs(5)).await;
        let mut v = group_json(&total, &each);
        v["windows_asked_to_close"] = json!(asked);
        v["window_and_webkit_gone"] = json!(gone);
        v["seconds_to_exit"] = json!(secs);
        v["resident_running"] = json!(r.app.running());
        v["pss_minus_tray_only_kib"] = json!(total.pss as i64 - tray_pss as i64);
        v["profile"] = anon_profile(pid);
        out.insert("window_closed".into(), v);

        let mut real = Vec::new();
        for i in 0..runs {
            match real_open(&r, &x).await {
                Ok(v) => {
                    eprintln!("open {i} (real path): {v}");
                    real.push(v);
                }
                Err(e) => {
                    eprintln!("open {i} (real path) failed: {e:#}");
                    real.push(json!({"error": format!("{e:#}")}));
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        out.insert(
            "open_real_path".into(),
            json!({"what": "Request::OpenWindow on a new control connection (connect + hello + call, as `tocsin open`) → the \
                    resident logged 'started the history window' → an X window with _NET_WM_PID = that pid is viewable → the \
                    resident logged 'the history window connected'; polled every 5 ms; ms from just before the connect. \
                    Each window is closed (WM_DELETE_WINDOW) 1.5 s after it connected",
                   "replied_ms": collect(&real, "replied_ms"), "started_ms": collect(&real, "started_logged_ms"),
                   "mapped_ms": collect(&real, "mapped_ms"), "connected_ms": collect(&real, "connected_logged_ms"), "runs": real}),
        );
        let (total, each) = mem_settled(pid, Duration::from_secs(5)).await;
        let mut v = group_json(&total, &each);
        v["opens_so_far"] = json!(r.started_windows().len());
        v["pss_minus_tray_only_kib"] = json!(total.pss as i64 - tray_pss as i64);
        out.insert("after_repeated_opens".into(), v);
        r.stop().await;
    }

    // Experiments on the resident alone in the tray: glibc's arenas capped, and the
    // same five accounts against an emulator in the harness instead of the demo's
    // in-process one (what the demo itself costs).
    {
        let emu = emulator().await?;
        let mut experiments = serde_json::Map::new();
        for (name, demo, env) in [
            ("demo_malloc_arena_max_2", true, vec![("MALLOC_ARENA_MAX", "2")]),
            ("five_accounts_no_demo", false, vec![]),
            ("five_accounts_no_demo_malloc_arena_max_2", false, vec![("MALLOC_ARENA_MAX", "2")]),
        ] {
            let (args, dir): (&[&str], _) = if demo {
                (&["--demo", "--minimized"], None)
            } else {
                (&["--minimized"], Some(Tocsin::prepare(opts, &emu, true, None, false)?))
            };
            let mut r = GuiResident::spawn(opts, &bus, args, dir, &env)?;
            r.wait_log("tocsin running", Duration::from_secs(60)).await?;
            let (total, each) = mem_settled(r.pid(), Duration::from_secs(8)).await;
            let mut v = group_json(&total, &each);
            v["env"] = json!(env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>());
            v["profile"] = anon_profile(r.pid());
            eprintln!("{name}: PSS {:.1} MB, RSS {:.1} MB, USS {:.1} MB", mb(total.pss), mb(total.rss), mb(total.uss));
            experiments.insert(name.into(), v);
            r.stop().await;
        }
        emu.shutdown().await;
        // The window with GTK's GL off (`GDK_GL=disable`, inherited from the resident):
        // how much of the window's cost is Mesa and LLVM. Not what users run.
        let mut r = GuiResident::spawn(opts, &bus, &["--demo", "--minimized"], None, &[("GDK_GL", "disable")])?;
        r.wait_log("tocsin running", Duration::from_secs(60)).await?;
        open_window(&r.socket()).await?;
        let window = wait_new_window(&r, 0, Duration::from_secs(30)).await?;
        r.wait_log("the history window connected", Duration::from_secs(30)).await?;
        let (total, each) = mem_settled(r.pid(), Duration::from_secs(10)).await;
        let mut v = group_json(&total, &each);
        v["env"] = json!(["GDK_GL=disable"]);
        eprintln!("window open with GDK_GL=disable: PSS {:.1} MB", mb(total.pss));
        let _ = close_and_wait(&x, window, Duration::from_secs(20)).await?;
        experiments.insert("window_open_gdk_gl_disable".into(), v);
        r.stop().await;
        out.insert("experiments".into(), Value::Object(experiments));
    }

    // 4. Open → first event row painted, through WebKitWebDriver (it launches
    // tocsin-window itself; the resident is the same as a user's).
    {
        let mut r = GuiResident::spawn(opts, &bus, &["--demo", "--minimized"], None, &[])?;
        r.wait_log("tocsin running", Duration::from_secs(60)).await?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while r.history_rows().await < 3 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let history_rows = r.history_rows().await;
        let env = r.env.clone();
        let (runtime, bin, log) = (r.runtime.clone(), window_bin.clone(), r.app.log_path().to_path_buf());
        // The WebDriver client panics on failure (it is the tests' client): run it in
        // a task so a failure is this result's error, not the harness's end.
        // Two windows in turn: as shipped (WebKit's compositing off), and with
        // compositing on (WEBKIT_DISABLE_COMPOSITING_MODE=0, what WebDriver's
        // screenshots in the tests need): what that setting does to the time.
        let variants: [(&str, Option<(&str, &str)>); 2] = [("shipped", None), ("compositing_on", Some(("WEBKIT_DISABLE_COMPOSITING_MODE", "0")))];
        let task = tokio::spawn(async move {
            let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let driver = tocsin_e2e::WebDriver::start(&refs).await;
            let mut all: Vec<Vec<Value>> = vec![Vec::new(), Vec::new()];
            'runs: for i in 0..runs + 1 {
                for (j, (name, extra)) in variants.iter().enumerate() {
                    let mut env = env.clone();
                    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
                    let v = match driven_open(&driver, &bin, &env, &runtime, &log).await {
                        Ok(v) => v,
                        Err(e) => json!({"error": format!("{e:#}")}),
                    };
                    eprintln!("open {i} (WebDriver, {name}): {v}");
                    let failed = v.get("error").is_some();
                    all[j].push(v);
                    if failed {
                        break 'runs;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
            all
        });
        let driven = task.await.map_err(|e| anyhow::anyhow!("the WebDriver runs panicked: {e}"));
        r.stop().await;
        let mut driven = driven?;
        let summary = |mut driven: Vec<Value>| {
            // The first launch of each kind is kept apart (WebKitWebDriver's first session).
            let first = if driven.is_empty() { Value::Null } else { driven.remove(0) };
            json!({"what": "WebKitWebDriver launches tocsin-window (a new session; the resident `tocsin --demo --minimized` \
                    already running with the history holding rows); ms from just before POST /session to: the session \
                    answered, the window process and its web process started (/proc start times, 10 ms resolution, rounded \
                    down), the resident logged the window's hello, the page's time origin, DOMContentLoaded, first \
                    contentful paint, the first [data-testid=event-row] in the DOM (a MutationObserver installed by \
                    the first script the driver runs) and the second animation frame after it (the frame with the rows \
                    drawn): rows_painted_ms, the figure. Page times are the page's performance.timeOrigin + now() against \
                    the harness's wall clock. One launch first, not counted",
                   "history_rows_at_start": history_rows,
                   "session_ms": collect(&driven, "session_ms"),
                   "process_start_ms": collect(&driven, "process_start_ms"),
                   "web_process_start_ms": collect(&driven, "web_process_start_ms"),
                   "window_connected_logged_ms": collect(&driven, "window_connected_logged_ms"),
                   "page_origin_ms": collect(&driven, "page_origin_ms"),
                   "dom_content_loaded_ms": collect(&driven, "dom_content_loaded_ms"),
                   "first_contentful_paint_ms": collect(&driven, "first_contentful_paint_ms"),
                   "rows_in_dom_ms": collect(&driven, "rows_in_dom_ms"),
                   "rows_painted_ms": collect(&driven, "rows_painted_ms"),
                   "harness_saw_it_ms": collect(&driven, "harness_saw_it_ms"),
                   "rows_already_there_at_first_probe": driven.iter().filter(|v| v["rows_were_there_at_first_probe"] == true).count(),
                   "first_launch": first,
                   "runs": driven})
        };
        let on = driven.pop().unwrap_or_default();
        let shipped = driven.pop().unwrap_or_default();
        out.insert("open_to_rows".into(), summary(shipped));
        out.insert("open_to_rows_compositing_on".into(), summary(on));
    }
    eprintln!("{}", serde_json::to_string_pretty(&out)?);
    Ok(Value::Object(out))
}
