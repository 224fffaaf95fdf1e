//! The real WebKit window, driven over W3C WebDriver: [`WebDriver::start`] spawns
//! `WebKitWebDriver --port=<free port>` (with `TAURI_WEBVIEW_AUTOMATION=true`, without
//! which session creation hangs) and waits until `/status` answers; a [`Session`]
//! launches the app through `webkitgtk:browserOptions` and finds, reads, clicks,
//! runs scripts and takes screenshots. Sessions are DELETEd on [`Session::close`] or
//! drop (and a failing test's session leaves a screenshot in the artifacts folder).
//!
//! The app inherits WebKitWebDriver's environment: pass per-driver variables to
//! [`WebDriver::start`] (for example `DBUS_SESSION_BUS_ADDRESS`, `TOCSIN_*`), or
//! per-session variables to [`WebDriver::new_session_with_env`], which launches the
//! binary through a small `exec env ...` wrapper script (same pid, so the driver's
//! bookkeeping is unaffected).
//!
//! The HTTP/1.1 client is a minimal blocking one over `std::net::TcpStream`
//! (`Connection: close`, Content-Length or chunked bodies), run on tokio's blocking
//! pool by the async methods.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

/// The W3C element reference key.
pub const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver error: HTTP status plus the `error`/`message` of the reply, or an I/O failure.
#[derive(Debug, Clone)]
pub struct WdError {
    pub status: u16,
    /// W3C error code such as `no such element`, `stale element reference`; `io` for transport errors.
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebDriver error {} ({}): {}", self.error, self.status, self.message)
    }
}

impl std::error::Error for WdError {}

fn io_error(e: impl std::fmt::Display) -> WdError {
    WdError { status: 0, error: "io".into(), message: e.to_string() }
}

/// One blocking HTTP/1.1 exchange; returns (status, JSON body or Null).
fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>, timeout: Duration) -> Result<(u16, Value), WdError> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(io_error)?;
    stream.set_read_timeout(Some(timeout)).map_err(io_error)?;
    stream.set_write_timeout(Some(Duration::from_secs(10))).map_err(io_error)?;
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\nConnection: close\r\n");
    if body.is_some() {
        req.push_str("Content-Type: application/json; charset=utf-8\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", payload.len()));
    stream.write_all(req.as_bytes()).map_err(io_error)?;
    stream.write_all(payload.as_bytes()).map_err(io_error)?;
    stream.flush().map_err(io_error)?;

    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let mut expected_len: Option<usize> = None;
    let mut header_end: Option<usize> = None;
    let mut chunked = false;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return Err(io_error(format!("no reply to {method} {path} within {timeout:?}")))
            }
            Err(e) => return Err(io_error(e)),
        };
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if header_end.is_none() {
            if let Some(pos) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                header_end = Some(pos + 4);
                let head = String::from_utf8_lossy(&raw[..pos]).to_ascii_lowercase();
                for line in head.lines().skip(1) {
                    if let Some(v) = line.strip_prefix("content-length:") {
                        expected_len = v.trim().parse().ok();
                    }
                    if line.starts_with("transfer-encoding:") && line.contains("chunked") {
                        chunked = true;
                    }
                }
            }
        }
        if let (Some(h), Some(len), false) = (header_end, expected_len, chunked) {
            if raw.len() >= h + len {
                break;
            }
        }
    }
    let h = header_end.ok_or_else(|| io_error(format!("malformed HTTP reply to {method} {path}: {:?}", String::from_utf8_lossy(&raw))))?;
    let status_line = String::from_utf8_lossy(&raw[..raw[..h].iter().position(|&b| b == b'\r').unwrap_or(0)]).into_owned();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io_error(format!("bad status line {status_line:?}")))?;
    let mut body_bytes = raw[h..].to_vec();
    if chunked {
        body_bytes = dechunk(&body_bytes).ok_or_else(|| io_error("bad chunked body"))?;
    } else if let Some(len) = expected_len {
        body_bytes.truncate(len);
    }
    let value = if body_bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&body_bytes)
            .map_err(|e| io_error(format!("reply to {method} {path} is not JSON ({e}): {}", String::from_utf8_lossy(&body_bytes))))?
    };
    Ok((status, value))
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_str = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_str.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// Checks a W3C reply and returns its `value`.
fn unwrap_reply((status, body): (u16, Value)) -> Result<Value, WdError> {
    let value = body.get("value").cloned().unwrap_or(Value::Null);
    if status >= 400 || value.get("error").is_some_and(|e| e.is_string()) {
        return Err(WdError {
            status,
            error: value.get("error").and_then(Value::as_str).unwrap_or("unknown error").to_owned(),
            message: value.get("message").and_then(Value::as_str).unwrap_or_default().to_owned(),
        });
    }
    Ok(value)
}

/// A running `WebKitWebDriver`. Killed on drop (after its sessions).
pub struct WebDriver {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl WebDriver {
    /// Starts `WebKitWebDriver` on a free loopback port with `envs` added to its
    /// environment (inherited by every app it launches) and waits for `/status`.
    pub async fn start(envs: &[(&str, &str)]) -> WebDriver {
        let dir = tempfile::Builder::new().prefix("tocsin-webdriver-").tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let log = std::fs::File::create(dir.path().join("webdriver.log")).expect("webdriver log");
        let child = Command::new("WebKitWebDriver")
            .arg(format!("--port={port}"))
            .env("TAURI_WEBVIEW_AUTOMATION", "true")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start WebKitWebDriver ({e}): install webkit2gtk-driver (scripts/setup.sh --test)"));
        let mut wd = WebDriver { child, addr: SocketAddr::from(([127, 0, 0, 1], port)), dir };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let addr = wd.addr;
            let ready = tokio::task::spawn_blocking(move || http(addr, "GET", "/status", None, Duration::from_secs(2)))
                .await
                .expect("join");
            if let Ok((200, v)) = ready {
                if v["value"]["ready"].as_bool() == Some(true) {
                    return wd;
                }
            }
            if let Ok(Some(status)) = wd.child.try_wait() {
                panic!("WebKitWebDriver exited ({status}) before answering /status; log:\n{}", wd.log());
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("WebKitWebDriver did not answer /status on {addr} within 20 s; log:\n{}", wd.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The driver's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What the driver (and the apps it launched) wrote to stdout/stderr.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("webdriver.log")).unwrap_or_default()
    }

    /// Launches `binary ARGS` and opens a session on its webview.
    pub async fn new_session(&self, binary: &Path, args: &[String]) -> Session {
        self.create_session(binary.to_path_buf(), args).await
    }

    /// Like [`WebDriver::new_session`] with extra environment for this launch only.
    pub async fn new_session_with_env(&self, binary: &Path, args: &[String], envs: &[(&str, &str)]) -> Session {
        if envs.is_empty() {
            return self.new_session(binary, args).await;
        }
        let n = std::fs::read_dir(self.dir.path()).map(|d| d.count()).unwrap_or(0);
        let wrapper = self.dir.path().join(format!("launch-{n}.sh"));
        let mut script = String::from("#!/bin/sh\nexec env");
        for (k, v) in envs {
            script.push(' ');
            script.push_str(&shell_quote(&format!("{k}={v}")));
        }
        script.push(' ');
        script.push_str(&shell_quote(&binary.display().to_string()));
        script.push_str(" \"$@\"\n");
        std::fs::write(&wrapper, script).expect("write the launch wrapper");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod the launch wrapper");
        self.create_session(wrapper, args).await
    }

    async fn create_session(&self, binary: PathBuf, args: &[String]) -> Session {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "webkitgtk:browserOptions": {"binary": binary.display().to_string(), "args": args}
        }}});
        let addr = self.addr;
        // Launching the app and its web process takes about a second; a hang here
        // means the app did not enable automation (TAURI_WEBVIEW_AUTOMATION).
        let reply = tokio::task::spawn_blocking(move || http(addr, "POST", "/session", Some(&caps), Duration::from_secs(60)))
            .await
            .expect("join")
            .and_then(unwrap_reply);
        let value = reply.unwrap_or_else(|e| {
            panic!("new WebDriver session for {} failed: {e}\nWebKitWebDriver log:\n{}", binary.display(), self.log())
        });
        let id = value["sessionId"].as_str().unwrap_or_else(|| panic!("no sessionId in {value}")).to_owned();
        Session { addr, id, closed: false, capabilities: value["capabilities"].clone() }
    }
}

impl Drop for WebDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().collect();
            eprintln!("---- WebKitWebDriver log tail ----\n{}\n---- end ----", tail[tail.len().saturating_sub(60)..].join("\n"));
        }
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// An element reference, valid until the DOM node goes away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub id: String,
}

impl Element {
    fn json(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }
}

/// A WebDriver session on the launched app's webview.
pub struct Session {
    addr: SocketAddr,
    id: String,
    closed: bool,
    capabilities: Value,
}

impl Session {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The capabilities the driver returned.
    pub fn capabilities(&self) -> &Value {
        &self.capabilities
    }

    /// A raw command: `METHOD /session/{id}{suffix}` with an optional JSON body.
    pub async fn command(&self, method: &'static str, suffix: &str, body: Option<Value>) -> Result<Value, WdError> {
        let addr = self.addr;
        let path = format!("/session/{}{suffix}", self.id);
        tokio::task::spawn_blocking(move || http(addr, method, &path, body.as_ref(), Duration::from_secs(60)))
            .await
            .expect("join")
            .and_then(unwrap_reply)
    }

    /// Navigates to `url` (the Tauri app is already on its page; this is for other browsers).
    pub async fn goto(&self, url: &str) {
        self.command("POST", "/url", Some(json!({"url": url}))).await.unwrap_or_else(|e| panic!("navigate to {url}: {e}"));
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.command("GET", "/url", None).await.expect("current URL").as_str().unwrap_or_default().to_owned()
    }

    /// The document title.
    pub async fn title(&self) -> String {
        self.command("GET", "/title", None).await.expect("title").as_str().unwrap_or_default().to_owned()
    }

    /// The page source (for failure messages).
    pub async fn source(&self) -> String {
        self.command("GET", "/source", None).await.map(|v| v.as_str().unwrap_or_default().to_owned()).unwrap_or_default()
    }

    /// The first element matching `css`, or `None`.
    pub async fn try_find(&self, css: &str) -> Option<Element> {
        match self.command("POST", "/element", Some(json!({"using": "css selector", "value": css}))).await {
            Ok(v) => Some(element_from(&v)),
            Err(e) if e.error == "no such element" => None,
            Err(e) => panic!("find {css:?}: {e}"),
        }
    }

    /// The first element matching `css`; panics if there is none.
    pub async fn find(&self, css: &str) -> Element {
        match self.try_find(css).await {
            Some(e) => e,
            None => panic!("no element matches {css:?}"),
        }
    }

    /// Every element matching `css` (possibly none).
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let v = self
            .command("POST", "/elements", Some(json!({"using": "css selector", "value": css})))
            .await
            .unwrap_or_else(|e| panic!("find all {css:?}: {e}"));
        v.as_array().map(|a| a.iter().map(element_from).collect()).unwrap_or_default()
    }

    /// Rendered text of `el` (`innerText` semantics: hidden text is excluded).
    pub async fn text(&self, el: &Element) -> String {
        self.try_text(el).await.unwrap_or_else(|e| panic!("text of {el:?}: {e}"))
    }

    async fn try_text(&self, el: &Element) -> Result<String, WdError> {
        // WebKitWebDriver's "Get Element Text" answers "" for visible elements of a
        // window under Xvfb with no window manager; innerText through a script is
        // the same definition and works.
        let v = self
            .command(
                "POST",
                "/execute/sync",
                Some(json!({"script": "return arguments[0].innerText", "args": [el.json()]})),
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// The texts of every element matching `css`.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let mut out = Vec::new();
        for el in self.find_all(css).await {
            out.push(self.text(&el).await);
        }
        out
    }

    /// An HTML attribute of `el`, `None` when absent.
    pub async fn attribute(&self, el: &Element, name: &str) -> Option<String> {
        let v = self
            .command("GET", &format!("/element/{}/attribute/{name}", el.id), None)
            .await
            .unwrap_or_else(|e| panic!("attribute {name} of {el:?}: {e}"));
        v.as_str().map(str::to_owned)
    }

    /// A DOM property of `el` (such as `value` or `checked`).
    pub async fn property(&self, el: &Element, name: &str) -> Value {
        self.command("GET", &format!("/element/{}/property/{name}", el.id), None)
            .await
            .unwrap_or_else(|e| panic!("property {name} of {el:?}: {e}"))
    }

    /// Clicks `el` (scrolls it into view first, as the driver does).
    pub async fn click(&self, el: &Element) {
        self.command("POST", &format!("/element/{}/click", el.id), Some(json!({})))
            .await
            .unwrap_or_else(|e| panic!("click {el:?}: {e}"));
    }

    /// Clicks the first element matching `css` once it is enabled and still (see
    /// [`Session::click_settled`]): a click in a window that is still laying out can
    /// land beside its target, on a slow machine more often than on a fast one.
    pub async fn click_css(&self, css: &str) {
        self.click_settled(css, Duration::from_secs(20)).await;
    }

    /// Clicks the first element matching `css` once it is enabled and has stopped
    /// moving (the same box in two reads 100 ms apart). The driver computes a click's
    /// point first and dispatches it after, so a click racing a layout change lands
    /// on whatever moved under that point.
    pub async fn click_settled(&self, css: &str, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last = Value::Null;
        loop {
            let rect = self
                .execute(
                    "const e = document.querySelector(arguments[0]); if (!e || e.disabled) return null; \
                     const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height];",
                    vec![json!(css)],
                )
                .await;
            if !rect.is_null() && rect == last {
                let el = self.find(css).await;
                self.click(&el).await;
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("timed out after {timeout:?} waiting for {css:?} to be enabled and still (last box: {rect})");
            }
            last = rect;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clears a text field.
    pub async fn clear(&self, el: &Element) {
        self.command("POST", &format!("/element/{}/clear", el.id), Some(json!({})))
            .await
            .unwrap_or_else(|e| panic!("clear {el:?}: {e}"));
    }

    /// Types `text` into `el`.
    pub async fn send_keys(&self, el: &Element, text: &str) {
        self.command("POST", &format!("/element/{}/value", el.id), Some(json!({"text": text})))
            .await
            .unwrap_or_else(|e| panic!("type into {el:?}: {e}"));
    }

    /// Runs `script` synchronously in the page (`return ...;` gives the result);
    /// `args` are available as `arguments[i]` (elements: pass `el.json()` via [`Session::element_arg`]).
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.command("POST", "/execute/sync", Some(json!({"script": script, "args": args})))
            .await
            .unwrap_or_else(|e| panic!("execute script failed: {e}\nscript: {script}"))
    }

    /// `el` as a script argument.
    pub fn element_arg(el: &Element) -> Value {
        el.json()
    }

    /// A PNG screenshot of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let v = self.command("GET", "/screenshot", None).await.unwrap_or_else(|e| panic!("screenshot: {e}"));
        base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or_default()).expect("screenshot is base64")
    }

    /// Saves a screenshot as `<artifacts>/<name>.png` and returns the path. Waits 300 ms
    /// first so a just-changed DOM is painted.
    pub async fn save_screenshot(&self, name: &str) -> PathBuf {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let png = self.screenshot().await;
        let path = crate::artifacts_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        eprintln!("screenshot: {}", path.display());
        path
    }

    /// Polls (every 100 ms) until an element matching `css` exists.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        self.wait_until(css, |_| true, timeout).await
    }

    /// Polls (every 100 ms) until the first element matching `css` has a text for
    /// which `pred` is true; returns that element. Stale or missing elements are retried.
    pub async fn wait_until<F: FnMut(&str) -> bool>(&self, css: &str, mut pred: F, timeout: Duration) -> Element {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last = None;
        loop {
            if let Some(el) = self.try_find(css).await {
                match self.try_text(&el).await {
                    Ok(text) => {
                        if pred(&text) {
                            return el;
                        }
                        last = Some(text);
                    }
                    Err(e) if e.error == "stale element reference" || e.error == "no such element" => {}
                    Err(e) => panic!("text of {css:?}: {e}"),
                }
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("timed out after {timeout:?} waiting for {css:?} (last text: {last:?})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls until `count(css)` satisfies `pred`; returns the elements.
    pub async fn wait_for_count<F: FnMut(usize) -> bool>(&self, css: &str, mut pred: F, timeout: Duration) -> Vec<Element> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let all = self.find_all(css).await;
            if pred(all.len()) {
                return all;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("timed out after {timeout:?} waiting on the count of {css:?} (last: {})", all.len());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ends the session (the driver closes the app's window and ends the launched process).
    pub async fn close(mut self) {
        self.closed = true;
        let addr = self.addr;
        let path = format!("/session/{}", self.id);
        let _ = tokio::task::spawn_blocking(move || http(addr, "DELETE", &path, None, Duration::from_secs(20))).await;
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        if std::thread::panicking() {
            let shot = http(self.addr, "GET", &format!("/session/{}/screenshot", self.id), None, Duration::from_secs(10))
                .and_then(unwrap_reply)
                .ok()
                .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or_default()).ok());
            if let (Some(png), Some(dir)) = (shot, crate::artifacts_dir_no_panic()) {
                let path = dir.join(format!("failure-{}.png", self.id));
                if std::fs::write(&path, png).is_ok() {
                    eprintln!("failure screenshot: {}", path.display());
                }
            }
        }
        // Blocking is fine here: the driver answers DELETE within a second.
        let _ = http(self.addr, "DELETE", &format!("/session/{}", self.id), None, Duration::from_secs(20));
    }
}

fn element_from(v: &Value) -> Element {
    Element { id: v[ELEMENT_KEY].as_str().unwrap_or_else(|| panic!("not an element reference: {v}")).to_owned() }
}
