//! What one alert looks like on the wire for a given notification server: the
//! server's capabilities ([`Caps`], from `GetCapabilities`) decide the body's
//! escaping and whether actions are offered. Pure logic, unit-tested here; the
//! calls are in `bus.rs`.
//!
//! The choices, per capability (measured against dunst 1.9, xfce4-notifyd 0.7.3 and
//! notification-daemon 3.20 on Debian 12; see tests/tests/notify_servers.rs):
//! - `body-markup`: the body is escaped (`&`, `<`, `>`), so a sender or excerpt with
//!   `<b>` shows literally; without it the body is sent as plain text. The summary is
//!   plain text on every server (the specification says so, and all three escape it
//!   themselves), so it is never escaped.
//! - `actions`: two actions, `default` labelled "Open" and `mark_read` "Mark read".
//!   No separate `open` key: xfce4-notifyd draws every action as a button, the
//!   default one included (a click on its bubble only dismisses it), so "Open" is its
//!   button; notification-daemon hides the default action and runs it on a click on
//!   the bubble; dunst runs it on a middle click or `dunstctl action`, and lists both
//!   in its context menu. Without `actions` nothing is offered (the specification
//!   says a server without it will not send `ActionInvoked`), and the body ends with
//!   where to act instead: the tray icon, or `tocsin open`.
//! - `persistence` and `sound` are read and logged, and change nothing sent: urgent
//!   alerts never expire (timeout 0) on every server, and the sound hint is ignored
//!   by servers that cannot play it.

use tocsin_engine::Alert;
use tocsin_model::Tier;

/// The capabilities Tocsin acts on (the rest are kept for the log).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Caps {
    pub actions: bool,
    pub body_markup: bool,
    pub persistence: bool,
    pub sound: bool,
    /// Every capability as the server named it.
    pub all: Vec<String>,
}

impl Caps {
    pub fn from_list(list: Vec<String>) -> Caps {
        let has = |name: &str| list.iter().any(|c| c == name);
        Caps { actions: has("actions"), body_markup: has("body-markup"), persistence: has("persistence"), sound: has("sound"), all: list }
    }
}

/// The action keys Tocsin sends and understands.
pub const ACTION_OPEN: &str = "default";
pub const ACTION_MARK_READ: &str = "mark_read";

/// The last line of the body when the server offers no actions.
pub const NO_ACTIONS_HINT: &str = "Open it from the Tocsin tray icon, or with `tocsin open`.";

/// One `Notify` call's arguments that depend on the alert and the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub summary: String,
    pub body: String,
    /// Flat `[key, label, ...]`.
    pub actions: Vec<&'static str>,
    /// 0 low, 1 normal, 2 critical.
    pub urgency: u8,
    /// 0 = never expires; -1 = the server's default.
    pub timeout: i32,
    /// A freedesktop sound name the user's rule asked for.
    pub sound: Option<String>,
}

impl Message {
    pub fn new(alert: &Alert, caps: &Caps) -> Message {
        let mut body = alert.body.clone();
        let actions = if caps.actions {
            vec![ACTION_OPEN, "Open", ACTION_MARK_READ, "Mark read"]
        } else {
            if !body.is_empty() {
                body.push('\n');
            }
            body.push_str(NO_ACTIONS_HINT);
            Vec::new()
        };
        if caps.body_markup {
            body = escape_markup(&body);
        }
        let urgency = match alert.tier {
            Tier::Urgent => 2,
            Tier::High | Tier::Normal => 1,
            Tier::Low => 0,
        };
        let timeout = if alert.tier == Tier::Urgent { 0 } else { -1 };
        Message { summary: alert.summary.clone(), body, actions, urgency, timeout, sound: alert.sound.clone() }
    }
}

/// Escapes text for a body-markup server (a subset of HTML/Pango markup).
pub fn escape_markup(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(tier: Tier) -> Alert {
        Alert {
            event_id: 7,
            account: "ops".into(),
            tier,
            summary: "[URGENT] <b>Deploy</b> & rollback".into(),
            body: "From Ops <b>Bot</b> & Co <bot@example.com>".into(),
            sound: None,
        }
    }

    #[test]
    fn markup_servers_get_an_escaped_body_and_a_plain_summary() {
        let caps = Caps::from_list(vec!["actions".into(), "body".into(), "body-markup".into()]);
        let m = Message::new(&alert(Tier::Urgent), &caps);
        assert_eq!(m.summary, "[URGENT] <b>Deploy</b> & rollback");
        assert_eq!(m.body, "From Ops &lt;b&gt;Bot&lt;/b&gt; &amp; Co &lt;bot@example.com&gt;");
        assert_eq!(m.actions, ["default", "Open", "mark_read", "Mark read"]);
        assert_eq!((m.urgency, m.timeout), (2, 0));
    }

    #[test]
    fn plain_servers_without_actions_get_the_text_as_is_and_where_to_act() {
        let caps = Caps::from_list(vec!["body".into()]);
        let m = Message::new(&alert(Tier::High), &caps);
        assert_eq!(m.body, format!("From Ops <b>Bot</b> & Co <bot@example.com>\n{NO_ACTIONS_HINT}"));
        assert!(m.actions.is_empty());
        assert_eq!((m.urgency, m.timeout), (1, -1));
    }

    #[test]
    fn the_hint_is_escaped_like_the_rest_on_a_markup_server_without_actions() {
        let caps = Caps::from_list(vec!["body-markup".into()]);
        let m = Message::new(&Alert { body: String::new(), ..alert(Tier::Low) }, &caps);
        assert_eq!(m.body, NO_ACTIONS_HINT);
        assert_eq!(m.urgency, 0);
    }
}
