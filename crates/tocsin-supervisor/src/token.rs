//! Keys that expire (Prismer's 7-day JWTs): renewed over the provider's REST a day
//! before they run out, at every connect and while connected, and the new key is
//! saved to the keychain ([`crate::Connection::save_key`]). An expired key stops the
//! account with a message that says so and what to do.

use tocsin_model::now_ms;
use tocsin_secrets::Sensitive;

use crate::rest::rest_read;
use crate::Connection;

/// How long before its expiry a key is renewed.
pub const RENEW_BEFORE_MS: i64 = 24 * 3_600_000;

/// What the key's expiry means for connecting now.
pub(crate) enum KeyState {
    Usable(Sensitive<String>),
    Expired(String),
}

/// Renews `key` if it expires within [`RENEW_BEFORE_MS`]; says so if it has expired.
pub(crate) async fn check(conn: &Connection, http: &reqwest::Client, key: Sensitive<String>) -> KeyState {
    let Some(expires) = conn.adapter.key_expires_at(&key) else { return KeyState::Usable(key) };
    let now = now_ms();
    if expires <= now {
        return KeyState::Expired(format!(
            "the {} token expired on {}; get a new one from {} and store it with `tocsin key set {}` \
             (or in the Accounts window), then reconnect",
            conn.adapter.provider(),
            tocsin_model::format_rfc3339_ms(expires),
            conn.adapter.provider(),
            conn.account
        ));
    }
    if expires - now > RENEW_BEFORE_MS {
        return KeyState::Usable(key);
    }
    match renew(conn, http).await {
        Ok(new) => {
            tracing::info!(account = %conn.account, "renewed the token before it expired");
            if let Some(save) = &conn.save_key {
                if let Err(e) = save(&new) {
                    tracing::warn!(account = %conn.account, "the renewed token could not be saved to the keychain: {e}");
                }
            }
            KeyState::Usable(new)
        }
        Err(e) => {
            tracing::warn!(account = %conn.account, "the token expires soon and could not be renewed: {e}");
            KeyState::Usable(key)
        }
    }
}

async fn renew(conn: &Connection, http: &reqwest::Client) -> Result<Sensitive<String>, String> {
    let Some(path) = conn.adapter.refresh_path() else { return Err("the provider cannot renew keys".into()) };
    let body = rest_read(conn, http, reqwest::Method::POST, path, 1 << 20).await?;
    conn.adapter.parse_refresh(&body).map_err(|e| e.to_string())
}
