//! Xfce's settings daemon (`xfconfd`) on a [`PrivateBus`], with its own
//! `XDG_CONFIG_HOME` and `XDG_CACHE_HOME` in a temporary directory: the channels
//! given are written as xfconf XML before it starts. xfce4-notifyd and
//! xfce4-panel read their settings from it (nothing activates it on the private
//! bus, so a test that runs them starts it first).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::bus::PrivateBus;

/// Where Debian 12 installs it (package `xfconf`).
pub const XFCONFD: &str = "/usr/lib/x86_64-linux-gnu/xfce4/xfconf/xfconfd";

/// A running xfconfd and the directories of the programs that use it.
pub struct Xfconfd {
    child: Child,
    dir: tempfile::TempDir,
    bus_address: String,
}

impl Xfconfd {
    /// Writes `channels` (name, XML) and starts xfconfd on `bus`; returns once it
    /// owns `org.xfce.Xfconf`.
    pub async fn start(bus: &PrivateBus, channels: &[(&str, String)]) -> Xfconfd {
        let dir = tempfile::Builder::new().prefix("tocsin-xfce-").tempdir().expect("tempdir");
        let xml_dir = dir.path().join("config/xfce4/xfconf/xfce-perchannel-xml");
        std::fs::create_dir_all(&xml_dir).expect("xfconf dir");
        std::fs::create_dir_all(dir.path().join("cache")).expect("cache dir");
        for (name, xml) in channels {
            std::fs::write(xml_dir.join(format!("{name}.xml")), xml).expect("write a channel");
        }
        let child = command_in(dir.path(), bus.address(), XFCONFD)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {XFCONFD} ({e}): install xfconf (scripts/setup.sh --test does)"));
        let xfconf = Xfconfd { child, dir, bus_address: bus.address().to_owned() };
        bus.wait_for_name("org.xfce.Xfconf", Duration::from_secs(20)).await;
        xfconf
    }

    /// A command for `program` with this bus, these XDG directories, the display
    /// and no accessibility bridge.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        command_in(self.dir.path(), &self.bus_address, program)
    }

    pub fn config_home(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub fn cache_home(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    /// The temporary directory (logs of the programs started from here go in it).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Xfconfd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command_in(dir: &Path, bus_address: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new(program);
    c.env("DBUS_SESSION_BUS_ADDRESS", bus_address)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env("NO_AT_BRIDGE", "1")
        .env("GSETTINGS_BACKEND", "memory")
        .stdin(Stdio::null());
    c
}

/// An xfconf channel file with `body` (property elements) inside.
pub fn channel(name: &str, body: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<channel name=\"{name}\" version=\"1.0\">\n{body}\n</channel>\n")
}
