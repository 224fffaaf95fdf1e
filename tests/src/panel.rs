//! A real tray host: xfce4-panel 4.18 (Debian 12) with only its notification-area
//! plugin (`systray`, which hosts StatusNotifierItems and is the
//! `org.kde.StatusNotifierWatcher`; the plugin runs in the panel's `wrapper-2.0`
//! process) on a [`PrivateBus`] and the Xvfb display: one 32-px panel across the
//! top of the screen, started on its own xfconfd with that layout preset (so no
//! first-run dialog). Items show as icons in the panel; a left click activates
//! one, a right click opens its dbusmenu as a GTK menu.

use std::process::{Child, Stdio};
use std::time::Duration;

use crate::bus::PrivateBus;
use crate::x11::Window;
use crate::xfconf::{self, Xfconfd};

/// Height of the panel (and the largest icon it shows).
pub const PANEL_SIZE: i32 = 32;

pub struct XfcePanel {
    child: Child,
    xfconf: Xfconfd,
    conn: zbus::Connection,
}

impl XfcePanel {
    /// Starts the panel and returns once its notification area owns the watcher.
    pub async fn start(bus: &PrivateBus) -> XfcePanel {
        crate::app::require_display();
        let layout = format!(
            r#"  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=6;x=0;y=0"/>
      <property name="length" type="uint" value="100"/>
      <property name="position-locked" type="bool" value="true"/>
      <property name="size" type="uint" value="{PANEL_SIZE}"/>
      <property name="plugin-ids" type="array">
        <value type="int" value="1"/>
      </property>
    </property>
  </property>
  <property name="plugins" type="empty">
    <property name="plugin-1" type="string" value="systray"/>
  </property>"#
        );
        let xfconf = Xfconfd::start(bus, &[("xfce4-panel", xfconf::channel("xfce4-panel", &layout))]).await;
        let log = std::fs::File::create(xfconf.dir().join("panel.log")).expect("panel log");
        let child = xfconf
            .command("xfce4-panel")
            .arg("--disable-wm-check")
            .stdout(log.try_clone().expect("dup"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start xfce4-panel ({e}): scripts/setup.sh --test installs it"));
        bus.wait_for_name(crate::tray::WATCHER_NAME, Duration::from_secs(30)).await;
        let conn = bus.connection().await;
        XfcePanel { child, xfconf, conn }
    }

    /// The panel's window.
    pub async fn window(&self) -> Window {
        crate::x11::wait_for_window("^xfce4-panel$", Duration::from_secs(20)).await
    }

    /// `RegisteredStatusNotifierItems` of the panel's watcher.
    pub async fn registered_items(&self) -> Vec<String> {
        let proxy = zbus::fdo::PropertiesProxy::builder(&self.conn)
            .destination(crate::tray::WATCHER_NAME)
            .expect("name")
            .path(crate::tray::WATCHER_PATH)
            .expect("path")
            .build()
            .await
            .expect("properties proxy");
        let iface = zbus::names::InterfaceName::try_from(crate::tray::WATCHER_NAME).expect("interface");
        match proxy.get(iface, "RegisteredStatusNotifierItems").await {
            Ok(v) => Vec::<String>::try_from(v).unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }

    /// What the panel and its plugin wrote to stderr.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.xfconf.dir().join("panel.log")).unwrap_or_default()
    }
}

impl Drop for XfcePanel {
    fn drop(&mut self) {
        // --quit asks the running panel (and its plugin wrappers) to stop.
        let _ = self.xfconf.command("xfce4-panel").arg("--quit").stdout(Stdio::null()).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
