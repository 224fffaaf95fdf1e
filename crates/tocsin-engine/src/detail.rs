//! One event in full, for the detail pane: headers, text, attachment metadata, a
//! link to the provider's web app, and the HTML body made safe.
//!
//! HTML from email is hostile by default. It is cleaned here, in Rust, by ammonia
//! (no scripts, event handlers, styles, forms, frames or `javascript:` links), then
//! wrapped in a document with its own Content-Security-Policy (`default-src 'none'`)
//! that the window shows in an `<iframe sandbox="">` (scripts off, opaque origin).
//! Remote images are removed unless the user allows them for that message; then they
//! are fetched here (size- and count-limited, images only) and inlined as `data:`
//! URIs, so the webview itself never loads anything remote.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tocsin_model::{Attachment, Event, HistoryItem};
use ts_rs::TS;

/// One header line of the detail pane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// A sanitised HTML body, ready for `<iframe sandbox="" srcdoc=...>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SafeHtml {
    /// A whole document: CSP `<meta>`, stylesheet link, cleaned body.
    pub document: String,
    /// How many remote images the message references.
    pub remote_images: u32,
    /// Whether they were fetched and inlined (the user allowed it).
    pub remote_loaded: bool,
}

/// Everything the detail pane shows about one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct EventDetail {
    pub item: HistoryItem,
    pub message_id: Option<String>,
    pub thread: Option<String>,
    pub topic: Option<String>,
    pub labels: Vec<String>,
    pub attachments: Vec<Attachment>,
    pub headers: Vec<Header>,
    pub text: Option<String>,
    pub html: Option<SafeHtml>,
    /// The event in the provider's web app (https only).
    pub web_url: Option<String>,
    /// The original frame, pretty-printed.
    pub raw: String,
}

/// Remote images fetched per message, at most.
const MAX_IMAGES: usize = 24;
/// Bytes per image, at most.
const MAX_IMAGE_BYTES: usize = 2 * 1024 * 1024;

/// The policy inside the body's document: nothing loads, nothing runs.
const FRAME_CSP: &str = "default-src 'none'; img-src data:; style-src 'self'; font-src 'none'; form-action 'none'; base-uri 'none'";

/// Builds the detail of `event` (stored as `item`). With `allow_remote_images`, the
/// message's remote images are fetched and inlined.
pub async fn detail(item: HistoryItem, event: Event, allow_remote_images: bool) -> EventDetail {
    let html = match event.html.as_deref().filter(|h| !h.trim().is_empty()) {
        None => None,
        Some(h) => {
            let remote = remote_images(h);
            let fetched = if allow_remote_images && !remote.is_empty() { fetch_images(&remote).await } else { HashMap::new() };
            Some(safe_html(h, &fetched, allow_remote_images && !remote.is_empty()))
        }
    };
    EventDetail {
        headers: headers(&event),
        web_url: web_url(&event.raw),
        raw: serde_json::to_string_pretty(&event.raw).unwrap_or_default(),
        message_id: event.message_id,
        thread: event.thread,
        topic: event.topic,
        labels: event.labels,
        attachments: event.attachments,
        text: event.text,
        html,
        item,
    }
}

fn cleaner<'a>() -> ammonia::Builder<'a> {
    let mut b = ammonia::Builder::default();
    b.url_schemes(HashSet::from(["http", "https", "mailto", "data"]))
        .link_rel(Some("noopener noreferrer nofollow"))
        .add_tag_attributes("img", ["width", "height"])
        .strip_comments(true);
    b
}

/// The distinct `http(s)` image URLs in `html`, in order, at most [`MAX_IMAGES`].
pub fn remote_images(html: &str) -> Vec<String> {
    let found = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = found.clone();
    let mut b = cleaner();
    b.attribute_filter(move |element, attribute, value| {
        if element == "img" && attribute == "src" && is_remote(value) {
            let mut f = sink.lock().unwrap();
            if !f.iter().any(|v| v == value) {
                f.push(value.to_owned());
            }
        }
        Some(value.into())
    });
    let _ = b.clean(html);
    drop(b);
    let mut v = std::mem::take(&mut *found.lock().unwrap());
    v.truncate(MAX_IMAGES);
    v
}

/// `url` as a URL parser reads it (WHATWG, as WebKit and the `url` crate do):
/// leading and trailing C0 controls and spaces dropped, tabs and newlines removed
/// wherever they are, lowercased. So `"\x01data:"` and `"da&#9;ta:"` are `data:`
/// here too, as they are to the webview.
fn as_parsed(url: &str) -> String {
    url.trim_matches(|c: char| c <= ' ').chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect::<String>().to_ascii_lowercase()
}

fn is_remote(url: &str) -> bool {
    let u = as_parsed(url);
    u.starts_with("http://") || u.starts_with("https://") || u.starts_with("//")
}

fn is_data_image(url: &str) -> bool {
    let u = as_parsed(url);
    ["data:image/png", "data:image/gif", "data:image/jpeg", "data:image/webp"].iter().any(|p| u.starts_with(p))
}

/// Cleans `html` and wraps it in the frame document. Remote images become their
/// `fetched` data URI when there is one and are removed otherwise; `data:` URIs
/// survive only as raster images in `<img src>`.
pub fn safe_html(html: &str, fetched: &HashMap<String, String>, loaded: bool) -> SafeHtml {
    let mut remote = 0u32;
    let counted = Arc::new(Mutex::new(HashSet::<String>::new()));
    let sink = counted.clone();
    let fetched = fetched.clone();
    let mut b = cleaner();
    b.attribute_filter(move |element, attribute, value| {
        let is_src = element == "img" && attribute == "src";
        if is_src && is_remote(value) {
            sink.lock().unwrap().insert(value.to_owned());
            return fetched.get(value).map(|d| d.clone().into());
        }
        if is_src {
            return is_data_image(value).then(|| value.into());
        }
        // data: only ever as an image source.
        if as_parsed(value).starts_with("data:") {
            return None;
        }
        Some(value.into())
    });
    let body = b.clean(html).to_string();
    drop(b);
    remote += counted.lock().unwrap().len() as u32;
    let document = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{FRAME_CSP}\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <link rel=\"stylesheet\" href=\"/email-frame.css\"></head><body>{body}</body></html>"
    );
    SafeHtml { document, remote_images: remote, remote_loaded: loaded }
}

/// Fetches `urls` as images (at most [`MAX_IMAGE_BYTES`] each, 5 s each, images
/// only) and returns their data URIs by URL. Failures are left out: the image
/// stays blocked.
pub async fn fetch_images(urls: &[String]) -> HashMap<String, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::limited(3))
        .referer(false)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("cannot fetch remote images: {e}");
            return HashMap::new();
        }
    };
    let fetches = urls.iter().take(MAX_IMAGES).cloned().map(|url| {
        let client = client.clone();
        async move {
            let full = if url.starts_with("//") { format!("https:{url}") } else { url.clone() };
            let mut resp = client.get(&full).send().await.ok()?.error_for_status().ok()?;
            let kind = resp.headers().get(reqwest::header::CONTENT_TYPE)?.to_str().ok()?.split(';').next()?.trim().to_ascii_lowercase();
            if !["image/png", "image/gif", "image/jpeg", "image/webp"].contains(&kind.as_str()) {
                return None;
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = resp.chunk().await.ok()? {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > MAX_IMAGE_BYTES {
                    return None;
                }
            }
            Some((url, format!("data:{kind};base64,{}", base64::engine::general_purpose::STANDARD.encode(&bytes))))
        }
    });
    let results = futures_join_all(fetches).await;
    results.into_iter().flatten().collect()
}

async fn futures_join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: Send + 'static,
    F::Output: Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for (i, f) in futures.enumerate() {
        set.spawn(async move { (i, f.await) });
    }
    let mut out: Vec<(usize, F::Output)> = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Ok(v) = r {
            out.push(v);
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, v)| v).collect()
}

/// The header lines: what the event says about itself.
pub fn headers(e: &Event) -> Vec<Header> {
    let mut out = Vec::new();
    let mut push = |name: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
            out.push(Header { name: name.to_owned(), value: v });
        }
    };
    push("From", e.sender.clone());
    push("To", address_list(&e.raw, &["to", "recipients"]));
    push("Cc", address_list(&e.raw, &["cc"]));
    push("Subject", e.subject.clone());
    push("Date", e.occurred_at_ms.map(tocsin_store_iso));
    push("Received", Some(tocsin_store_iso(e.received_at_ms)));
    push("Inbox", e.inbox.clone());
    push("Topic", e.topic.clone());
    push("Type", Some(e.provider_type.clone()));
    push("Priority", e.priority.clone());
    push("Message-ID", e.message_id.clone());
    out
}

fn tocsin_store_iso(ms: i64) -> String {
    tocsin_store::iso8601(ms)
}

/// Where a provider frame keeps its message: the frame, or its `message`, `data`,
/// `payload` or `email` object.
fn containers(raw: &serde_json::Value) -> Vec<&serde_json::Value> {
    let mut out = vec![raw];
    for key in ["message", "data", "payload", "email", "event"] {
        if let Some(v) = raw.get(key).filter(|v| v.is_object()) {
            out.push(v);
            for inner in ["message", "email"] {
                if let Some(w) = v.get(inner).filter(|w| w.is_object()) {
                    out.push(w);
                }
            }
        }
    }
    out
}

fn address_list(raw: &serde_json::Value, keys: &[&str]) -> Option<String> {
    for c in containers(raw) {
        for key in keys {
            match c.get(*key) {
                Some(serde_json::Value::String(s)) => return Some(s.clone()),
                Some(serde_json::Value::Array(a)) => {
                    let parts: Vec<String> = a
                        .iter()
                        .filter_map(|v| match v {
                            serde_json::Value::String(s) => Some(s.clone()),
                            serde_json::Value::Object(o) => {
                                o.get("email").or_else(|| o.get("address")).and_then(|x| x.as_str()).map(str::to_owned)
                            }
                            _ => None,
                        })
                        .collect();
                    if !parts.is_empty() {
                        return Some(parts.join(", "));
                    }
                }
                _ => {}
            }
        }
    }
    None
}

/// The event's page in the provider's web app, when the frame links one: an
/// `https://` URL under `web_url`, `webUrl`, `html_url`, `permalink`, `url` or
/// `link`. Anything else (other schemes, credentials in the URL) is ignored.
pub fn web_url(raw: &serde_json::Value) -> Option<String> {
    for c in containers(raw) {
        for key in ["web_url", "webUrl", "html_url", "permalink", "url", "link"] {
            if let Some(s) = c.get(key).and_then(|v| v.as_str()) {
                let s = s.trim();
                let Some(rest) = s.strip_prefix("https://") else { continue };
                let host = rest.split(['/', '?', '#']).next().unwrap_or("");
                if !host.is_empty() && !host.contains('@') && !s.chars().any(|c| c.is_control() || c.is_whitespace()) {
                    return Some(s.to_owned());
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(html: &str) -> SafeHtml {
        safe_html(html, &HashMap::new(), false)
    }

    #[test]
    fn scripts_handlers_styles_and_javascript_links_are_gone() {
        let corpus = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<svg onload=alert(1)>",
            "<iframe src=\"https://evil\"></iframe>",
            "<div style=\"background:url(https://track/p.gif)\">x</div>",
            "<style>@import 'https://evil/x.css'</style>",
            "<form action=https://evil><input name=p></form>",
            "<a href=\"data:text/html,<script>alert(1)</script>\">d</a>",
            "<math><mi xlink:href=\"javascript:alert(1)\">m</mi></math>",
            "<object data=x></object><embed src=x>",
            "<meta http-equiv=refresh content=\"0;url=https://evil\">",
            "<base href=\"https://evil/\">",
            "<body onload=alert(1)>",
            "<img src=\"data:image/svg+xml,<svg onload=alert(1)>\">",
        ];
        for h in corpus {
            let out = clean(h).document;
            let body = out.split("<body>").nth(1).unwrap();
            let lower = body.to_ascii_lowercase();
            for bad in ["<script", "onerror", "onload", "javascript:", "<iframe", "style=", "<style", "<form", "data:text", "<object", "<embed", "http-equiv", "<base", "svg+xml"] {
                assert!(!lower.contains(bad), "{h} → {body}");
            }
        }
    }

    #[test]
    fn remote_images_are_blocked_counted_and_inlined_when_fetched() {
        let h = "<p>Hi</p><img src=\"https://track.example/p.gif\"><img src=\"https://track.example/p.gif\"><img src=\"//cdn.example/a.png\"><img src=\"data:image/png;base64,AAAA\">";
        assert_eq!(remote_images(h), ["https://track.example/p.gif", "//cdn.example/a.png"]);
        let blocked = clean(h);
        assert_eq!(blocked.remote_images, 2);
        assert!(!blocked.remote_loaded);
        assert!(!blocked.document.contains("track.example"));
        assert!(blocked.document.contains("data:image/png;base64,AAAA"));
        let fetched = HashMap::from([("https://track.example/p.gif".to_owned(), "data:image/gif;base64,R0lG".to_owned())]);
        let loaded = safe_html(h, &fetched, true);
        assert!(loaded.document.contains("data:image/gif;base64,R0lG"));
        assert!(!loaded.document.contains("cdn.example"), "unfetched stays blocked");
        assert!(loaded.document.contains("default-src 'none'"));
    }

    /// Found by the html_sanitiser fuzz target: a URL parser drops leading controls
    /// and inner tabs, so `data:` hidden behind them must be refused too.
    #[test]
    fn data_urls_behind_controls_or_tabs_are_refused() {
        for h in [
            "<a href=\"\u{1}data:text/html,<script>alert(1)</script>\">x</a>",
            "<a href=\"da&#9;ta:text/html;base64,PHNjcmlwdD4=\">x</a>",
            "<a href=\" \n\tDATA:text/html,x\">x</a>",
            "<img src=\"\u{2}data:text/html,x\">",
        ] {
            let body = clean(h).document.to_ascii_lowercase();
            assert!(!body.replace(['\t', '\n', '\r'], "").contains("data:text"), "{h} → {body}");
        }
        let ok = clean("<img src=\"\u{1}data:image/png;base64,AAAA\">").document;
        assert!(ok.contains("base64,AAAA"), "a raster data image stays: {ok}");
    }

    #[test]
    fn links_keep_working_but_cannot_reach_back() {
        let out = clean("<a href=\"https://example.com/x\">x</a>").document;
        assert!(out.contains("href=\"https://example.com/x\""));
        assert!(out.contains("noopener noreferrer"));
    }

    #[test]
    fn web_urls_are_https_only() {
        use serde_json::json;
        assert_eq!(web_url(&json!({"message": {"web_url": "https://app.example/m/1"}})).as_deref(), Some("https://app.example/m/1"));
        assert_eq!(web_url(&json!({"url": "javascript:alert(1)"})), None);
        assert_eq!(web_url(&json!({"url": "http://plain/x"})), None);
        assert_eq!(web_url(&json!({"url": "https://user:pw@evil/x"})), None);
        assert_eq!(web_url(&json!({"data": {"link": "https://x/\nEvil"}})), None);
    }

    #[test]
    fn headers_read_recipients_from_the_frame() {
        let raw = serde_json::json!({"message": {"to": [{"email": "a@x"}, "b@x"], "cc": "c@x"}});
        assert_eq!(address_list(&raw, &["to"]).as_deref(), Some("a@x, b@x"));
        assert_eq!(address_list(&raw, &["cc"]).as_deref(), Some("c@x"));
    }
}
