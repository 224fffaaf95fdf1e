//! Real notification servers from Debian 12 on a [`PrivateBus`], drawing on the
//! test's X display: dunst (its stock configuration, or with `markup = no`; `-print` writes every notification it receives to its
//! log; `dunstctl` acts on it, its context menu runs a scripted `dmenu` that picks
//! the entry the test asks for), xfce4-notifyd (with its own xfconfd, its
//! notification log switched on: `$XDG_CACHE_HOME/xfce4/notifyd/log`) and
//! notification-daemon (GNOME's). Each owns `org.freedesktop.Notifications` on the
//! bus like on a desktop; [`crate::monitor::BusMonitor`] records what it answered.
//!
//! Where their buttons are (for [`crate::x11::click`]) is measured on the Debian 12
//! versions with their default themes, relative to the bubble's bottom-right
//! corner: see [`ServerKind::button`].

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::bus::PrivateBus;
use crate::x11::Window;
use crate::xfconf::{self, Xfconfd};

pub const XFCE4_NOTIFYD: &str = "/usr/lib/x86_64-linux-gnu/xfce4/notifyd/xfce4-notifyd";
pub const NOTIFICATION_DAEMON: &str = "/usr/lib/notification-daemon/notification-daemon";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// dunst with Debian's stock configuration (`markup = full`).
    Dunst,
    /// dunst with `markup = no`: it then does not report `body-markup`.
    DunstNoMarkup,
    Xfce4Notifyd,
    NotificationDaemon,
}

/// A button of a bubble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    /// The action labelled "Open" (xfce4-notifyd draws the default action as a button).
    Open,
    MarkRead,
    /// Anywhere on the bubble's text (notification-daemon runs the default action).
    Body,
}

impl ServerKind {
    /// The name of its bubble windows (a regular expression for `xdotool search`).
    pub fn window_name(self) -> &'static str {
        match self {
            ServerKind::Dunst | ServerKind::DunstNoMarkup => "^Dunst$",
            ServerKind::Xfce4Notifyd => "^xfce4-notifyd$",
            ServerKind::NotificationDaemon => "^Notification$",
        }
    }

    /// Where to click `button` on `bubble`, or `None` where the server has no such
    /// button (dunst draws none: its actions are in its context menu).
    pub fn button(self, bubble: &Window, button: Button) -> Option<(i32, i32)> {
        match (self, button) {
            (ServerKind::Dunst | ServerKind::DunstNoMarkup, _) => None,
            // Buttons 85 px wide, 7 px apart, 14 px from the right edge, 14 from the bottom.
            (ServerKind::Xfce4Notifyd, Button::MarkRead) => Some(bubble.point(-57, -31)),
            (ServerKind::Xfce4Notifyd, Button::Open) => Some(bubble.point(-149, -31)),
            (ServerKind::Xfce4Notifyd, Button::Body) => Some(bubble.point(40, 22)),
            // Text buttons right-aligned 64 px from the right edge, 39 px from the bottom.
            (ServerKind::NotificationDaemon, Button::MarkRead) => Some(bubble.point(-95, -39)),
            (ServerKind::NotificationDaemon, Button::Open) => None,
            (ServerKind::NotificationDaemon, Button::Body) => Some(bubble.point(90, 30)),
        }
    }
}

/// A running server; killed when dropped.
pub struct RealServer {
    pub kind: ServerKind,
    child: Child,
    _xfconf: Option<Xfconfd>,
    dir: tempfile::TempDir,
    cache_home: PathBuf,
    bus_address: String,
}

impl RealServer {
    /// Starts `kind` on `bus` (and the X display) and returns once it owns
    /// `org.freedesktop.Notifications`.
    pub async fn start(kind: ServerKind, bus: &PrivateBus) -> RealServer {
        crate::app::require_display();
        let dir = tempfile::Builder::new().prefix("tocsin-server-").tempdir().expect("tempdir");
        let log = std::fs::File::create(dir.path().join("server.log")).expect("server log");
        let mut xfconf = None;
        let (mut command, cache_home) = match kind {
            ServerKind::Dunst | ServerKind::DunstNoMarkup => {
                let dmenu = dir.path().join("dmenu.sh");
                // dunst's context menu pipes "#Label (summary) [id,key]" lines to dmenu and
                // runs what it prints: pick the line holding the text the test chose.
                std::fs::write(
                    &dmenu,
                    format!("#!/bin/sh\ncat > '{d}/dmenu-in.txt'\ngrep -m1 -F -f '{d}/dmenu-choice' '{d}/dmenu-in.txt'\n", d = dir.path().display()),
                )
                .expect("write the dmenu script");
                std::fs::set_permissions(&dmenu, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
                let rc = dir.path().join("dunstrc");
                // Debian's stock configuration with the scripted dmenu (and markup off for DunstNoMarkup).
                let stock = std::fs::read_to_string("/etc/xdg/dunst/dunstrc").expect("dunst's stock /etc/xdg/dunst/dunstrc");
                let markup = if kind == ServerKind::DunstNoMarkup { "no" } else { "full" };
                let config: String = stock
                    .lines()
                    .map(|l| match l.trim_start() {
                        t if t.starts_with("dmenu =") => format!("    dmenu = {}", dmenu.display()),
                        t if t.starts_with("markup =") => format!("    markup = {markup}"),
                        _ => l.to_owned(),
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                std::fs::write(&rc, config).expect("write dunstrc");
                let mut c = Command::new("dunst");
                c.arg("-config").arg(&rc).arg("-print");
                (c, dir.path().join("cache"))
            }
            ServerKind::Xfce4Notifyd => {
                let props = "  <property name=\"notification-log\" type=\"bool\" value=\"true\"/>\n  \
                             <property name=\"log-level\" type=\"uint\" value=\"1\"/>\n  \
                             <property name=\"log-level-apps\" type=\"uint\" value=\"0\"/>";
                let x = Xfconfd::start(bus, &[("xfce4-notifyd", xfconf::channel("xfce4-notifyd", props))]).await;
                let c = x.command(XFCE4_NOTIFYD);
                let cache = x.cache_home();
                xfconf = Some(x);
                (c, cache)
            }
            ServerKind::NotificationDaemon => (Command::new(NOTIFICATION_DAEMON), dir.path().join("cache")),
        };
        let child = command
            .env("DBUS_SESSION_BUS_ADDRESS", bus.address())
            .env("NO_AT_BRIDGE", "1")
            .env("GSETTINGS_BACKEND", "memory")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {kind:?} ({e}): scripts/setup.sh --test installs it"));
        let server = RealServer { kind, child, _xfconf: xfconf, dir, cache_home, bus_address: bus.address().to_owned() };
        bus.wait_for_name(crate::notifications::NAME, Duration::from_secs(20)).await;
        server
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server printed (for dunst, `-print`: every notification it received).
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// xfce4-notifyd's notification log (empty for the others).
    pub fn notification_log(&self) -> String {
        std::fs::read_to_string(self.cache_home.join("xfce4/notifyd/log")).unwrap_or_default()
    }

    /// `dunstctl ARGS` on this bus; its stdout.
    pub fn dunstctl(&self, args: &[&str]) -> String {
        let out = Command::new("dunstctl").args(args).env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address).output().expect("run dunstctl");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Opens dunst's context menu (`dunstctl context`), whose dmenu picks the first
    /// entry containing `entry` (for example `[3,mark_read]`). Returns the entries it
    /// offered.
    pub async fn dunst_context_choose(&self, entry: &str) -> String {
        let offered = self.dir.path().join("dmenu-in.txt");
        let _ = std::fs::remove_file(&offered);
        std::fs::write(self.dir.path().join("dmenu-choice"), format!("{entry}\n")).expect("write the choice");
        self.dunstctl(&["context"]);
        crate::wait_for("dunst to run its context menu", Duration::from_secs(10), || async {
            std::fs::read_to_string(&offered).ok().filter(|s| !s.is_empty())
        })
        .await
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GetCapabilities` and `GetServerInformation` of whatever serves notifications on `bus`.
pub async fn capabilities(bus: &PrivateBus) -> (Vec<String>, (String, String, String, String)) {
    let conn = bus.connection().await;
    let call = |method: &'static str| {
        let conn = conn.clone();
        async move {
            conn.call_method(Some(crate::notifications::NAME), crate::notifications::PATH, Some(crate::notifications::NAME), method, &())
                .await
                .unwrap_or_else(|e| panic!("{method}: {e}"))
        }
    };
    let caps: Vec<String> = call("GetCapabilities").await.body().deserialize().expect("as");
    let info = call("GetServerInformation").await.body().deserialize().expect("(ssss)");
    (caps, info)
}
