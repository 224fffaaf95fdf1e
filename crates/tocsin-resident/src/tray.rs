//! The tray: a StatusNotifierItem with a com.canonical.dbusmenu menu (ksni over zbus,
//! no GTK). An icon per aggregate state with the unread-urgent count as a badge, the
//! summary as tooltip (it says when alerts cannot be shown), and a menu with a status
//! line, one line per account, Open history, the pause choices (flat: no submenu,
//! which libdbusmenu-gtk3 hosts such as the Xfce panel show empty), Reconnect all
//! and Quit.
//!
//! Owns: the item on the session bus (registered with the StatusNotifierWatcher, and
//! again whenever a watcher appears), the decoded icons, and turning a [`Snapshot`]
//! into icon, tooltip and menu.
//!
//! Must not: act on a click itself. Clicks only send a [`TrayAction`] on the channel
//! (never blocking); the caller does the work and calls [`Tray::update`] with the new
//! snapshot. Must not link GTK or WebKit.

use std::sync::{LazyLock, Mutex};

use ksni::menu::StandardItem;
use ksni::{Icon, MenuItem, TrayMethods};
use tokio::sync::mpsc::UnboundedSender;
use tocsin_engine::settings::PauseChoice;
use tocsin_engine::{Snapshot, TrayState};

/// What a click on the tray asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayAction {
    /// Open (or raise) the history window: "Open history" or a left click on the icon.
    Open,
    /// A pause choice of the menu, "Resume notifications" included.
    Pause(PauseChoice),
    Reconnect,
    Quit,
}

#[derive(Debug, thiserror::Error)]
pub enum TrayError {
    /// No session bus, or the connection to it failed.
    #[error("no D-Bus session bus for the tray: {0}")]
    NoSessionBus(ksni::Error),
    /// The StatusNotifierWatcher answered the registration with an error.
    #[error("the tray item could not be registered: {0}")]
    Register(ksni::Error),
}

/// The running tray item.
pub struct Tray {
    handle: ksni::Handle<Model>,
    /// The snapshot last shown, to skip updates that change nothing.
    shown: Mutex<Snapshot>,
}

impl Tray {
    /// Registers the tray item on the session bus. With no StatusNotifierWatcher on the
    /// bus it still succeeds and registers when one appears; Err only when there is no
    /// session bus at all (or a watcher refuses the item).
    pub async fn start(snapshot: &Snapshot, actions: UnboundedSender<TrayAction>) -> Result<Tray, TrayError> {
        let model = Model::new(snapshot.clone(), actions);
        let handle = model.assume_sni_available(true).spawn().await.map_err(|e| match e {
            ksni::Error::Dbus(_) => TrayError::NoSessionBus(e),
            _ => TrayError::Register(e),
        })?;
        Ok(Tray { handle, shown: Mutex::new(snapshot.clone()) })
    }

    /// Brings icon, tooltip, title and menu in line with `snapshot` (nothing is sent
    /// on the bus when nothing changed).
    pub async fn update(&self, snapshot: &Snapshot) {
        {
            let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
            if *shown == *snapshot {
                return;
            }
            *shown = snapshot.clone();
        }
        let snapshot = snapshot.clone();
        if self.handle.update(move |model| model.show(snapshot)).await.is_none() {
            tracing::debug!("tray update skipped: the tray service has stopped");
        }
    }

    /// Removes the item from the bus.
    pub async fn shutdown(self) {
        self.hide().await;
    }

    /// [`shutdown`](Self::shutdown) for a shared tray: removes the item from the bus;
    /// later updates do nothing.
    pub async fn hide(&self) {
        self.handle.shutdown().await;
    }
}

/// What ksni reads the item's properties and menu from.
struct Model {
    snapshot: Snapshot,
    /// The badged icon for `snapshot` (recomputed only when state or count change).
    icon: Vec<Icon>,
    icon_key: (TrayState, u32),
    actions: UnboundedSender<TrayAction>,
}

impl Model {
    fn new(snapshot: Snapshot, actions: UnboundedSender<TrayAction>) -> Model {
        let key = (snapshot.tray_state(), snapshot.unread_urgent);
        Model { icon: vec![badged_icon(key.0, key.1)], icon_key: key, snapshot, actions }
    }

    fn show(&mut self, snapshot: Snapshot) {
        let key = (snapshot.tray_state(), snapshot.unread_urgent);
        if key != self.icon_key {
            self.icon = vec![badged_icon(key.0, key.1)];
            self.icon_key = key;
        }
        self.snapshot = snapshot;
    }

    fn send(&self, action: TrayAction) {
        if self.actions.send(action).is_err() {
            tracing::debug!("tray click {action:?} dropped: nobody listens any more");
        }
    }
}

/// A menu entry that sends `action` when clicked.
fn action(label: &str, enabled: bool, action: TrayAction) -> MenuItem<Model> {
    let activate = Box::new(move |m: &mut Model| m.send(action));
    StandardItem { label: label.into(), enabled, activate, ..Default::default() }.into()
}

/// A line of information (disabled, no action). dbusmenu labels mark mnemonics with
/// `_`: an account named `ops_eu` must show as such, so `_` is doubled.
fn info(text: &str) -> MenuItem<Model> {
    StandardItem { label: text.replace('_', "__"), enabled: false, ..Default::default() }.into()
}

/// One account's line: "ops (daimon): connected".
fn account_line(a: &tocsin_engine::AccountStatus) -> String {
    format!("{} ({}): {}", a.account, a.provider, a.state.describe())
}

impl ksni::Tray for Model {
    fn id(&self) -> String {
        "tocsin".into()
    }

    fn title(&self) -> String {
        "Tocsin".into()
    }

    fn category(&self) -> ksni::Category {
        ksni::Category::ApplicationStatus
    }

    fn status(&self) -> ksni::Status {
        if self.icon_key.0 == TrayState::UnreadUrgent {
            ksni::Status::NeedsAttention
        } else {
            ksni::Status::Active
        }
    }

    fn icon_pixmap(&self) -> Vec<Icon> {
        self.icon.clone()
    }

    /// Hosts that show the attention icon for NeedsAttention show the same badged icon.
    fn attention_icon_pixmap(&self) -> Vec<Icon> {
        if self.icon_key.0 == TrayState::UnreadUrgent {
            self.icon.clone()
        } else {
            Vec::new()
        }
    }

    fn tool_tip(&self) -> ksni::ToolTip {
        ksni::ToolTip { title: "Tocsin".into(), description: self.snapshot.summary(), ..Default::default() }
    }

    /// A left click opens the history.
    fn activate(&mut self, _x: i32, _y: i32) {
        self.send(TrayAction::Open);
    }

    fn menu(&self) -> Vec<MenuItem<Model>> {
        let s = &self.snapshot;
        let mut items = vec![info(&s.summary())];
        items.extend(s.accounts.iter().map(|a| info(&account_line(a))));
        items.push(MenuItem::Separator);
        items.push(action("Open history", true, TrayAction::Open));
        // No submenu: hosts that render the menu with libdbusmenu-gtk3 (the Xfce panel,
        // and Cinnamon, MATE, Budgie) show ksni's submenus empty; seen on xfce4-panel
        // 4.18 (tests/tests/tray_host.rs). The pause choices are top-level entries.
        items.push(action("Pause for 1 hour", true, TrayAction::Pause(PauseChoice::Hour)));
        items.push(action("Pause until tomorrow morning", true, TrayAction::Pause(PauseChoice::Tomorrow)));
        items.push(action("Pause until I resume", true, TrayAction::Pause(PauseChoice::Forever)));
        items.push(action("Resume notifications", s.paused, TrayAction::Pause(PauseChoice::Resume)));
        items.push(action("Reconnect all", true, TrayAction::Reconnect));
        items.push(MenuItem::Separator);
        items.push(action("Quit", true, TrayAction::Quit));
        items
    }

    fn watcher_online(&self) {
        tracing::info!("a StatusNotifierWatcher appeared: the tray icon is registered with it");
    }

    /// Keep the item on the bus: it registers again when a watcher comes (back).
    fn watcher_offline(&self, reason: ksni::OfflineReason) -> bool {
        tracing::info!("no StatusNotifierWatcher ({reason:?}): the tray icon shows when one appears");
        true
    }
}

/// A decoded tray icon: RGBA8 pixels.
struct Rgba {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

/// The base icons, decoded once, in the order of [`icon_index`].
static ICONS: LazyLock<[Rgba; 6]> = LazyLock::new(|| {
    [
        decode(include_bytes!("../../../icons/tray-connected.png")),
        decode(include_bytes!("../../../icons/tray-reconnecting.png")),
        decode(include_bytes!("../../../icons/tray-offline.png")),
        decode(include_bytes!("../../../icons/tray-error.png")),
        decode(include_bytes!("../../../icons/tray-paused.png")),
        decode(include_bytes!("../../../icons/tray-urgent.png")),
    ]
});

fn icon_index(state: TrayState) -> usize {
    match state {
        TrayState::Connected => 0,
        TrayState::Reconnecting => 1,
        TrayState::Offline => 2,
        TrayState::Error => 3,
        TrayState::Paused => 4,
        TrayState::UnreadUrgent => 5,
    }
}

/// The icon for `state` with `unread` as a badge, as ksni wants it: ARGB32, network
/// byte order (A, R, G, B per pixel).
fn badged_icon(state: TrayState, unread: u32) -> Icon {
    let base = &ICONS[icon_index(state)];
    let mut data = base.pixels.clone();
    crate::badge::draw(&mut data, base.width, base.height, unread);
    for px in data.chunks_exact_mut(4) {
        px.rotate_right(1);
    }
    Icon { width: base.width as i32, height: base.height as i32, data }
}

/// Decodes a PNG to RGBA8. The icons are built in, so a bad one is a build bug.
fn decode(bytes: &[u8]) -> Rgba {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("tray icons are valid PNGs");
    let mut buf = vec![0; reader.output_buffer_size().expect("tray icons are small")];
    let info = reader.next_frame(&mut buf).expect("tray icons are valid PNGs");
    buf.truncate(info.buffer_size());
    let pixels = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
        png::ColorType::GrayscaleAlpha => buf.chunks_exact(2).flat_map(|p| [p[0], p[0], p[0], p[1]]).collect(),
        png::ColorType::Grayscale => buf.iter().flat_map(|&g| [g, g, g, 255]).collect(),
        png::ColorType::Indexed => unreachable!("EXPAND turns palettes into RGB(A)"),
    };
    Rgba { width: info.width, height: info.height, pixels }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_icon_decodes_and_badges_change_pixels_only() {
        for (i, icon) in ICONS.iter().enumerate() {
            assert_eq!(icon.pixels.len(), (icon.width * icon.height * 4) as usize, "icon {i}");
        }
        let plain = badged_icon(TrayState::UnreadUrgent, 0);
        let badged = badged_icon(TrayState::UnreadUrgent, 3);
        assert_eq!((plain.width, plain.height, plain.data.len()), (badged.width, badged.height, badged.data.len()));
        assert_ne!(plain.data, badged.data);
        assert_ne!(badged_icon(TrayState::Connected, 0).data, plain.data);
        // ARGB: the first byte of each pixel is the PNG's alpha.
        let base = &ICONS[icon_index(TrayState::Connected)];
        assert_eq!(badged_icon(TrayState::Connected, 0).data[..4], [base.pixels[3], base.pixels[0], base.pixels[1], base.pixels[2]]);
    }
}
