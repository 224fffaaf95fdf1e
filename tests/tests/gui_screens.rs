//! The window's screens in the real app (WebKitWebDriver under Xvfb): search with
//! highlighted matches, the detail pane with hostile HTML in its sandboxed frame,
//! remote images blocked until allowed, read/unread, the Accounts screen adding an
//! account and its key, and a screenshot of each screen.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tocsin_e2e::app::{require_display, resident_with_window};
use tocsin_e2e::bus::PrivateBus;
use tocsin_e2e::notifications::RecordingNotificationServer;
use tocsin_e2e::tray::StatusNotifierWatcher;
use tocsin_e2e::wait_for;
use tocsin_e2e::webdriver::{Session, WebDriver};
use tocsin_emulator::{Emulator, EmulatorConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const KEY: &str = "dm_live_gui_screens_key_7731";

/// Payloads that record themselves if they ever run, in the page or its frames.
const RUN: &str = "(window.top.__xss=(window.top.__xss||0)+1)";

fn hostile_corpus(pixel: &str) -> Vec<(String, String, String)> {
    let subjects = [
        format!("<img src=x onerror=\"{RUN}\">subject one"),
        format!("<script>{RUN}</script>subject two"),
        format!("<svg onload=\"{RUN}\"></svg>subject three"),
        format!("\"><iframe srcdoc=\"<script>{RUN}</script>\"></iframe>subject four"),
    ];
    let senders = [
        format!("\"<img src=x onerror={RUN}>\" <a@evil.example>"),
        format!("<script>{RUN}</script>@evil.example"),
        "javascript:alert(1)//@evil.example".to_owned(),
        format!("<a href=\"javascript:{RUN}\">x</a>"),
    ];
    let bodies = [
        format!("<p>Hello</p><script>{RUN}</script><img src=\"{pixel}\" alt=\"tracker\"><img src=x onerror=\"{RUN}\">"),
        format!("<a href=\"javascript:{RUN}\">click</a><svg><animate onbegin=\"{RUN}\" attributeName=x dur=1s></svg>"),
        format!("<iframe src=\"javascript:{RUN}\"></iframe><object data=\"javascript:{RUN}\"></object><embed src=x>"),
        format!("<details open ontoggle=\"{RUN}\"><summary>x</summary></details><body onload=\"{RUN}\"><meta http-equiv=refresh content=\"0;url=javascript:{RUN}\">"),
    ];
    subjects.into_iter().zip(senders).zip(bodies).map(|((s, f), b)| (s, f, b)).collect()
}

fn mail(id: &str, subject: &str, from: &str, text: &str, html: Option<&str>) -> Value {
    let mut m = json!({"id": format!("msg_{id}"), "inbox_id": "inbox_ops", "from": from, "subject": subject, "body": text,
                       "web_url": format!("https://mail.example.com/m/{id}")});
    if let Some(h) = html {
        m["html_body"] = json!(h);
    }
    json!({"event_id": id, "type": "message.received", "inbox_id": "inbox_ops", "payload": {"message": m}})
}

/// A tiny HTTP server on loopback that serves a 1×1 GIF and counts requests.
async fn pixel_server() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
        while let Ok((mut sock, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = sock.read(&mut buf).await;
                let head = format!("HTTP/1.1 200 OK\r\nContent-Type: image/gif\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", GIF.len());
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(GIF).await;
            });
        }
    });
    (format!("http://{addr}/pixel.gif"), hits)
}

async fn js(session: &Session, script: &str) -> Value {
    session.execute(script, vec![]).await
}

async fn set_input(session: &Session, css: &str, value: &str) {
    session
        .execute(
            "const e = document.querySelector(arguments[0]); e.focus(); e.value = arguments[1]; e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true}));",
            vec![json!(css), json!(value)],
        )
        .await;
}

async fn click_row(session: &Session, contains: &str) {
    let ok = session
        .execute(
            "const r = [...document.querySelectorAll('[data-testid=event-row]')].find(r => r.textContent.includes(arguments[0])); if (!r) return false; r.click(); return true;",
            vec![json!(contains)],
        )
        .await;
    assert_eq!(ok, json!(true), "no row contains {contains:?}");
}

/// No payload ran: nothing recorded, title intact, no dialog open.
async fn assert_nothing_ran(session: &Session, when: &str) {
    assert_eq!(js(session, "return window.__xss ?? 0").await, json!(0), "a payload ran ({when})");
    assert_eq!(js(session, "return document.title").await, json!("Tocsin"), "{when}");
    let alert = session.command("GET", "/alert/text", None).await;
    assert!(alert.is_err(), "a dialog is open ({when}): {alert:?}");
}

/// What each test here starts: the emulator, scratch config and data directories,
/// and a private session bus with a notification server and a tray host on it.
struct Desk {
    emu: Emulator,
    dir: tempfile::TempDir,
    _notes: RecordingNotificationServer,
    _watcher: StatusNotifierWatcher,
    bus: PrivateBus,
}

impl Desk {
    async fn start() -> Desk {
        require_display();
        let emu = Emulator::bind(([127, 0, 0, 1], 0).into(), EmulatorConfig { keys: vec![KEY.into()], ..EmulatorConfig::default() })
            .await
            .unwrap();
        let bus = PrivateBus::start();
        let _notes = RecordingNotificationServer::start(&bus).await;
        let _watcher = StatusNotifierWatcher::start(&bus).await;
        Desk { emu, dir: tempfile::tempdir().unwrap(), _notes, _watcher, bus }
    }

    fn config(&self) -> String {
        self.dir.path().join("config").display().to_string()
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_detail_and_hostile_html_in_the_real_window() {
    let desk = Desk::start().await;
    let (emu, dir, bus, config, data) = (&desk.emu, &desk.dir, &desk.bus, desk.config(), desk.data());
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::write(
        dir.path().join("config/config.toml"),
        format!("[[accounts]]\nname = \"ops\"\nprovider = \"daimon\"\nurl = \"{}\"\n", emu.daimon_url()),
    )
    .unwrap();
    let (pixel, pixel_hits) = pixel_server().await;
    let env = [
        ("TOCSIN_KEY_OPS", KEY),
        ("TOCSIN_CONFIG_DIR", config.as_str()),
        ("TOCSIN_DATA_DIR", data.as_str()),
        ("DBUS_SESSION_BUS_ADDRESS", bus.address()),
    ];
    let driver = WebDriver::start(&env).await;
    let (_resident, session) = resident_with_window(&driver, &[], &env).await;
    session.wait_until("[data-testid=app]", |_| true, Duration::from_secs(30)).await;
    js(&session, "window.__xss = 0; return true").await;
    wait_for("the app to connect", Duration::from_secs(30), || async { (emu.daimon().connections() > 0).then_some(()) }).await;
    session.wait_for("[data-testid=account-status][data-state=subscribed]", Duration::from_secs(30)).await;

    // Ordinary mail, one with distinctive words, and the hostile corpus.
    for i in 0..40 {
        emu.daimon().publish(mail(&format!("n{i}"), &format!("Status update {i}"), "Ops Bot <bot@example.com>", "All systems nominal.", None));
    }
    emu.daimon().publish(mail(
        "zebra",
        "Quarterly zebra migration invoice",
        "Priya Raman <priya@lumen.dev>",
        "The zebra herd crossed the river; the invoice for the ferry is attached.",
        Some("<p>The <b>zebra</b> herd crossed.</p>"),
    ));
    let corpus = hostile_corpus(&pixel);
    for (i, (subject, from, html)) in corpus.iter().enumerate() {
        emu.daimon().publish(mail(&format!("x{i}"), subject, from, "hostile text", Some(html)));
    }
    let total = 41 + corpus.len();
    wait_for("every event stored and listed", Duration::from_secs(30), || async {
        let page = js(&session, "return window.__TAURI_INTERNALS__.invoke('history_query', {query: {limit: 1}})").await;
        let rows = js(&session, "return document.querySelectorAll('[data-testid=event-row]').length").await;
        (page["total"].as_u64() == Some(total as u64) && rows.as_u64().unwrap_or(0) > 5).then_some(())
    })
    .await;
    assert_nothing_ran(&session, "list").await;

    // Search: words find the event, the match is marked, the count is shown.
    set_input(&session, "[data-testid=search]", "zebra migration").await;
    session.wait_until("[data-testid=result-count]", |t| t.contains('1'), Duration::from_secs(10)).await;
    wait_for("one highlighted result", Duration::from_secs(10), || async {
        let rows = js(&session, "return document.querySelectorAll('[data-testid=event-row]').length").await;
        let marks = js(&session, "return [...document.querySelectorAll('[data-testid=event-row] mark')].map(m => m.textContent.toLowerCase())").await;
        let marks: Vec<String> = serde_json::from_value(marks).unwrap_or_default();
        (rows == json!(1) && marks.iter().any(|m| m == "zebra") && marks.iter().any(|m| m.starts_with("migr"))).then_some(())
    })
    .await;
    click_row(&session, "zebra").await;
    session.wait_until("[data-testid=detail-subject]", |t| t == "Quarterly zebra migration invoice", Duration::from_secs(10)).await;
    let headers = session.text(&session.find("[data-testid=detail-headers]").await).await;
    assert!(headers.contains("priya@lumen.dev"), "{headers}");
    assert!(session.try_find("[data-testid=open-external]").await.is_some(), "a web link is offered");
    tokio::time::sleep(Duration::from_millis(300)).await;
    session.save_screenshot("screen-history-detail").await;

    // Read and unread from the detail pane.
    let toggle = session.find("[data-testid=toggle-read]").await;
    let before = session.text(&toggle).await;
    session.click(&toggle).await;
    session.wait_until("[data-testid=toggle-read]", |t| t != before, Duration::from_secs(10)).await;
    let after = session.text(&session.find("[data-testid=toggle-read]").await).await;
    session.click_css("[data-testid=toggle-read]").await;
    session.wait_until("[data-testid=toggle-read]", |t| t != after, Duration::from_secs(10)).await;

    // Back to everything; open each hostile event: the HTML is in a sandboxed frame,
    // no payload runs, and the tracking pixel is not fetched.
    set_input(&session, "[data-testid=search]", "").await;
    wait_for("the full list again", Duration::from_secs(10), || async {
        let n = js(&session, "return document.querySelectorAll('[data-testid=event-row]').length").await;
        (n.as_u64().unwrap_or(0) > 1).then_some(())
    })
    .await;
    for (i, (subject, _, _)) in corpus.iter().enumerate() {
        let tail = subject.rsplit('>').next().unwrap();
        click_row(&session, tail).await;
        session.wait_until("[data-testid=detail-subject]", |t| t.ends_with(tail), Duration::from_secs(10)).await;
        // The HTML view, when the pane offers a choice.
        let _ = js(&session, "const b = document.querySelector('[data-testid=body-html]'); if (b) b.click(); return true").await;
        let frame = session.wait_for("[data-testid=detail-html]", Duration::from_secs(10)).await;
        assert_eq!(session.attribute(&frame, "sandbox").await.as_deref(), Some(""), "event {i}: the frame is sandboxed");
        let doc = session.attribute(&frame, "srcdoc").await.unwrap_or_default();
        let lower = doc.to_ascii_lowercase();
        for bad in ["<script", "onerror", "onload", "ontoggle", "onbegin", "javascript:", "<iframe", "<object", "<embed", "http-equiv=\"refresh"] {
            assert!(!lower.contains(bad), "event {i}: {bad} survived: {doc}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_nothing_ran(&session, &format!("hostile event {i}")).await;
    }
    assert_eq!(pixel_hits.load(Ordering::SeqCst), 0, "no remote image was fetched before the user allowed it");

    // The first hostile mail references the pixel: allow it for that message only.
    click_row(&session, corpus[0].0.rsplit('>').next().unwrap()).await;
    let _ = js(&session, "const b = document.querySelector('[data-testid=body-html]'); if (b) b.click(); return true").await;
    session.wait_until("[data-testid=remote-images]", |t| t.contains('1'), Duration::from_secs(10)).await;
    session.click_css("[data-testid=load-images]").await;
    wait_for("the pixel to be fetched by Tocsin", Duration::from_secs(10), || async {
        (pixel_hits.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    let frame = session.wait_for("[data-testid=detail-html]", Duration::from_secs(10)).await;
    wait_for("the image inlined as data:", Duration::from_secs(10), || async {
        let doc = session.attribute(&frame, "srcdoc").await.unwrap_or_default();
        (doc.contains("data:image/gif;base64,") && !doc.contains(&pixel)).then_some(())
    })
    .await;
    assert_nothing_ran(&session, "after loading images").await;

    // A screenshot of each other screen.
    for (tab, view, name) in [
        ("accounts-tab", "accounts-view", "screen-accounts"),
        ("rules-tab", "rules-view", "screen-rules"),
        ("settings-tab", "settings-view", "screen-settings"),
    ] {
        session.click_css(&format!("[data-testid={tab}]")).await;
        session.wait_for(&format!("[data-testid={view}]"), Duration::from_secs(10)).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        session.save_screenshot(name).await;
    }
    assert_nothing_ran(&session, "end").await;
    session.close().await;
    desk.emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_accounts_screen_adds_an_account_and_its_key() {
    let desk = Desk::start().await;
    let (emu, dir, bus, config, data) = (&desk.emu, &desk.dir, &desk.bus, desk.config(), desk.data());
    // No accounts: the app starts on the demo profile; the kernel keyring holds keys
    // (this bus has no Secret Service).
    let env = [
        ("TOCSIN_CONFIG_DIR", config.as_str()),
        ("TOCSIN_DATA_DIR", data.as_str()),
        ("TOCSIN_KEYCHAIN", "kernel"),
        ("DBUS_SESSION_BUS_ADDRESS", bus.address()),
    ];
    let driver = WebDriver::start(&env).await;
    let (_resident, session) = resident_with_window(&driver, &[], &env).await;
    session.wait_until("[data-testid=app]", |_| true, Duration::from_secs(30)).await;
    session.click_css("[data-testid=accounts-tab]").await;
    session.wait_for("[data-testid=accounts-view]", Duration::from_secs(10)).await;
    session.click_css("[data-testid=account-add]").await;
    session.wait_for("[data-testid=account-form]", Duration::from_secs(10)).await;
    let name = format!("gui-{}", std::process::id());
    set_input(&session, "[data-testid=field-name]", &name).await;
    js(&session, "const s = document.querySelector('[data-testid=field-provider]'); s.value = 'daimon'; s.dispatchEvent(new Event('change', {bubbles: true})); return true").await;
    // A refused URL is shown next to its field.
    set_input(&session, "[data-testid=field-url]", "https://not-a-socket.example").await;
    session.click_css("[data-testid=account-save]").await;
    session.wait_until("[data-testid=error-url]", |t| !t.is_empty(), Duration::from_secs(10)).await;
    set_input(&session, "[data-testid=field-url]", &emu.daimon_url()).await;
    session.click_settled("[data-testid=account-save]", Duration::from_secs(10)).await;
    // Saved: the engine restarts on the new account (no key yet).
    wait_for("the new account card", Duration::from_secs(30), || async {
        let v = session
            .execute("return [...document.querySelectorAll('[data-testid=account-card]')].some(c => c.textContent.includes(arguments[0]))", vec![json!(name)])
            .await;
        (v == json!(true)).then_some(())
    })
    .await;
    let saved = std::fs::read_to_string(dir.path().join("config/config.toml")).unwrap();
    assert!(saved.contains(&name) && saved.contains(&emu.daimon_url()), "{saved}");

    // The key: entered once, stored in the keychain, shown as its last four only.
    session.wait_for("[data-testid=key-input]", Duration::from_secs(10)).await;
    set_input(&session, "[data-testid=key-input]", KEY).await;
    session.click_settled("[data-testid=key-save]", Duration::from_secs(10)).await;
    wait_for("the key stored (or an error)", Duration::from_secs(10), || async {
        let error = js(&session, "return document.querySelector('[data-testid=key-error]')?.textContent ?? null").await;
        assert!(error.is_null(), "saving the key failed: {error}");
        let status = js(&session, "return document.querySelector('[data-testid=key-status]')?.textContent ?? ''").await;
        status.as_str().unwrap_or_default().contains("7731").then_some(())
    })
    .await;
    let value = js(&session, "return document.querySelector('[data-testid=key-input]')?.value ?? ''").await;
    assert_eq!(value, json!(""), "the input is cleared");
    let html = js(&session, "return document.documentElement.outerHTML").await;
    assert!(!html.as_str().unwrap().contains(KEY), "the key is nowhere in the page");
    session.click_settled("[data-testid=key-test]", Duration::from_secs(10)).await;
    session.wait_until("[data-testid=key-test-result]", |t| t.contains("accepted"), Duration::from_secs(20)).await;
    // And the account connects with it.
    session.click_css("[data-testid=history-tab]").await;
    session.wait_for("[data-testid=account-status][data-state=subscribed]", Duration::from_secs(30)).await;
    assert!(emu.daimon().connections() > 0);
    session.click_css("[data-testid=accounts-tab]").await;
    session.save_screenshot("screen-accounts-added").await;
    assert!(!std::fs::read_to_string(dir.path().join("config/config.toml")).unwrap().contains(KEY));
    let _ = js(&session, &format!("return window.__TAURI_INTERNALS__.invoke('key_remove', {{account: '{name}'}})")).await;
    session.close().await;
    desk.emu.shutdown().await;
}
