//! The provider's REST API, with the account's key: commands (mark read, reply),
//! the ticket or token exchange before a connection, and the reads that catch-ups,
//! name lookups and token renewal make.
//!
//! Owns: the bearer header, answer size limits (a longer body is refused, not
//! buffered), and the words for a refused request.
//! Must not: log or return a URL with its query (it may hold a key), retry (the
//! caller decides), or decode provider data (the adapter does).

use tocsin_providers::{Adapter, TokenError, TokenRequest};
use tocsin_secrets::Sensitive;

use crate::driver::{Cause, Ended};
use crate::{tls, Connection};

/// The largest token, ticket or error answer read.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// A REST command with the account's key.
async fn rest_call(
    http: &reqwest::Client,
    method: &'static str,
    url: &str,
    key: &Sensitive<String>,
    body: serde_json::Value,
) -> Result<(), String> {
    let log_url = tocsin_secrets::redact_url(url);
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let mut request = http.request(method, url).bearer_auth(key.expose());
    if !body.is_null() {
        request = request.header("content-type", "application/json").body(body.to_string());
    }
    let response = request.send().await.map_err(|e| tls::describe_http(e, &log_url))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = read_capped(response, MAX_ANSWER_BYTES, &log_url).await.unwrap_or_default();
    let detail = serde_json::from_slice::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            ["message", "error", "name"].iter().find_map(|k| v.get(*k).and_then(|x| x.as_str()).map(str::to_owned))
        })
        .map(|d| format!(": {d}"))
        .unwrap_or_default();
    Err(format!("the server refused the request (HTTP {}{detail})", status.as_u16()))
}

/// Carries out a command the adapter sends over REST, in the background: the
/// answer goes to `reply`.
pub(crate) fn spawn_command(
    conn: &Connection,
    http: &reqwest::Client,
    plan: (&'static str, String, serde_json::Value),
    reply: tokio::sync::oneshot::Sender<Result<(), String>>,
) {
    let (method, path, body) = plan;
    let url = format!("{}{path}", conn.rest_base);
    let key = (conn.key)();
    let http = http.clone();
    tokio::spawn(async move {
        let result = match key {
            Ok(key) => rest_call(&http, method, &url, &key, body).await,
            Err(e) => Err(e),
        };
        let _ = reply.send(result);
    });
}

/// Runs the adapter's ticket or token exchange: the token, or how the attempt ends.
pub(crate) async fn fetch_token(
    http: &reqwest::Client,
    adapter: &dyn Adapter,
    request: &TokenRequest,
    key: &Sensitive<String>,
) -> Result<Sensitive<String>, Ended> {
    let log_url = tocsin_secrets::redact_url(&request.url);
    let response = http
        .post(&request.url)
        .bearer_auth(key.expose())
        .header("content-type", "application/json")
        .body(request.body.to_string())
        .send()
        .await
        .map_err(|e| Ended::from(tls::http_failure(e, &log_url)))?;
    let status = response.status().as_u16();
    let body = read_capped(response, MAX_ANSWER_BYTES, &log_url).await.map_err(|r| Ended::retry(Cause::Limit, r))?;
    adapter.parse_token(status, &body).map_err(|e| match e {
        TokenError::Fatal(reason) => Ended::fatal(Cause::Auth, reason),
        TokenError::Retry(reason) if (200..300).contains(&status) => Ended::retry(Cause::Protocol, reason),
        TokenError::Retry(reason) => Ended::retry(Cause::Http { status }, reason),
    })
}

/// A request with the account's key and no body (catch-up pages, name lookups,
/// token renewal): the body of a 2xx answer of at most `max` bytes, or why not.
pub(crate) async fn rest_read(
    conn: &Connection,
    http: &reqwest::Client,
    method: reqwest::Method,
    path: &str,
    max: usize,
) -> Result<Vec<u8>, String> {
    let key = (conn.key)()?;
    let url = format!("{}{path}", conn.rest_base);
    let log_url = tocsin_secrets::redact_url(&url);
    let response =
        http.request(method, &url).bearer_auth(key.expose()).send().await.map_err(|e| tls::describe_http(e, &log_url))?;
    match response.status().as_u16() {
        200..=299 => read_capped(response, max, &log_url).await,
        status @ (401 | 403) => Err(format!("{log_url} refused the key (HTTP {status})")),
        status => Err(format!("{log_url} answered HTTP {status}")),
    }
}

/// Reads an HTTP body of at most `max` bytes; a longer one is refused, not buffered.
pub(crate) async fn read_capped(mut response: reqwest::Response, max: usize, log_url: &str) -> Result<Vec<u8>, String> {
    let too_big = || format!("the answer from {log_url} is over the {} KiB limit; it was refused", max / 1024);
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|e| format!("the answer from {log_url} broke off: {}", e.without_url()))?
    {
        if body.len() + chunk.len() > max {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
