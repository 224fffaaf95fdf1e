//! A private D-Bus session bus per test: its own `dbus-daemon` with a generated
//! minimal config (unix socket in a temporary directory, EXTERNAL auth, allow-all
//! policy) and NO service directories, so nothing is ever auto-activated. Only what
//! the test starts owns a name on it: a recording notification server, a tray
//! watcher, and the app itself (`DBUS_SESSION_BUS_ADDRESS` = [`PrivateBus::address`]).
//!
//! ```no_run
//! # async fn t() {
//! let bus = tocsin_e2e::bus::PrivateBus::start();
//! let conn = bus.connection().await;
//! assert!(conn.unique_name().is_some());
//! # }
//! ```

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running private bus. The daemon is killed when this is dropped.
pub struct PrivateBus {
    child: Child,
    address: String,
    dir: tempfile::TempDir,
}

impl PrivateBus {
    /// Starts `dbus-daemon --nofork --print-address=1` on a generated config and
    /// returns once it printed its address (it accepts connections from then on).
    pub fn start() -> PrivateBus {
        let dir = tempfile::Builder::new().prefix("tocsin-bus-").tempdir().expect("tempdir for the private bus");
        let config = dir.path().join("session.conf");
        std::fs::write(&config, config_xml(dir.path())).expect("write the bus config");
        let stderr = std::fs::File::create(dir.path().join("dbus-daemon.log")).expect("bus log file");
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .arg("--nofork")
            .arg("--nopidfile")
            .arg("--print-address=1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start dbus-daemon ({e}): install the `dbus` package (scripts/setup.sh --test does)"));
        let mut line = String::new();
        let read = BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line);
        let address = line.trim().to_owned();
        if read.is_err() || !address.starts_with("unix:") {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.path().join("dbus-daemon.log")).unwrap_or_default();
            panic!("dbus-daemon printed no address (got {address:?}); its log:\n{log}");
        }
        PrivateBus { child, address, dir }
    }

    /// The bus address, for `DBUS_SESSION_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// `("DBUS_SESSION_BUS_ADDRESS", address)`, ready for an env list.
    pub fn env(&self) -> (&'static str, &str) {
        ("DBUS_SESSION_BUS_ADDRESS", &self.address)
    }

    /// The temporary directory holding the socket, the config and the daemon's log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the daemon wrote to stderr so far.
    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("dbus-daemon.log")
    }

    /// A new connection to this bus (it has a unique name once this returns).
    pub async fn connection(&self) -> zbus::Connection {
        zbus::connection::Builder::address(self.address.as_str())
            .expect("a valid bus address")
            .build()
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the private bus {}: {e}", self.address))
    }

    /// Same as [`PrivateBus::connection`] (older name).
    pub async fn connect(&self) -> zbus::Connection {
        self.connection().await
    }

    /// Whether `name` has an owner right now (`NameHasOwner` never auto-starts anything).
    pub async fn name_has_owner(&self, name: &str) -> bool {
        let conn = self.connection().await;
        has_owner(&conn, name).await
    }

    /// Waits until `name` has an owner (for example the app's tray item or a
    /// well-known name it claims) and returns its unique name.
    pub async fn wait_for_name(&self, name: &str, timeout: Duration) -> String {
        let conn = self.connection().await;
        let dbus = zbus::fdo::DBusProxy::new(&conn).await.expect("org.freedesktop.DBus proxy");
        let bus_name: zbus::names::BusName<'_> = name.try_into().expect("a valid bus name");
        crate::wait_for(&format!("an owner of {name} on the private bus"), timeout, || {
            let dbus = dbus.clone();
            let bus_name = bus_name.clone();
            async move { dbus.get_name_owner(bus_name).await.ok().map(|o| o.to_string()) }
        })
        .await
    }
}

pub(crate) async fn has_owner(conn: &zbus::Connection, name: &str) -> bool {
    let dbus = zbus::fdo::DBusProxy::new(conn).await.expect("org.freedesktop.DBus proxy");
    let Ok(bus_name) = zbus::names::BusName::try_from(name) else { return false };
    dbus.name_has_owner(bus_name).await.unwrap_or(false)
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config_xml(dir: &Path) -> String {
    // Deliberately no <standard_session_servicedirs/> and no <servicedir>: a name nobody
    // owns stays unowned (no dunst, no portal, no a11y bus gets activated behind the test).
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:dir={dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        dir = xml_escape(&dir.display().to_string())
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
