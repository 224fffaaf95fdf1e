//! A tray host for tests: [`StatusNotifierWatcher`] owns `org.kde.StatusNotifierWatcher`
//! at `/StatusNotifierWatcher` on a [`PrivateBus`], so the resident's tray item (ksni:
//! a StatusNotifierItem and a com.canonical.dbusmenu over zbus) registers with it
//! exactly as with a desktop panel. [`TrayItem`] then reads the item's
//! `org.kde.StatusNotifierItem` properties and its `com.canonical.dbusmenu` menu, and
//! clicks menu entries.
//!
//! Registration forms accepted by `RegisterStatusNotifierItem(service)`:
//! - a bus name (KDE style; ksni sends its well-known name
//!   `org.kde.StatusNotifierItem-<pid>-<n>`, others a unique name): the item is (that
//!   name's owner, `/StatusNotifierItem`);
//! - an object path (libayatana-appindicator sends `/org/ayatana/NotificationItem/<id>`):
//!   the item is (sender's unique name, that path).
//!
//! The watcher says a host is registered (`IsStatusNotifierHostRegistered` = true) so
//! items never fall back to XEmbed, and drops items whose owner leaves the bus
//! (emitting `StatusNotifierItemUnregistered`). ksni watches the watcher's name
//! (`NameOwnerChanged`) and registers again whenever it gets an owner, so the watcher
//! may also start after the app.
//!
//! What the resident's tray looks like here (ksni 0.3): the item at
//! `/StatusNotifierItem` of the owner of `org.kde.StatusNotifierItem-<pid>-<n>`; `Id`
//! `"tocsin"`, `Title` `"Tocsin"`, `Category` `ApplicationStatus`; `IconName` is empty
//! and the icon is `IconPixmap` (`a(iiay)`: one ARGB32 image, network byte order, the
//! unread-urgent badge drawn into it), so compare its bytes between states; `ToolTip`
//! (`(sa(iiay)ss)`) has title `"Tocsin"` and the status summary as description; there
//! is no text next to the icon (no `XAyatanaLabel`). The menu is a dbusmenu at `Menu`
//! (`/MenuBar`); ksni numbers entries by position and renumbers them all when the
//! layout changes (an account added or removed), so find entries by label and read
//! the menu again after a change rather than keeping ids.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::{OwnedValue, Value};

use crate::bus::PrivateBus;

/// The watcher's well-known name.
pub const WATCHER_NAME: &str = "org.kde.StatusNotifierWatcher";
/// The watcher's object path.
pub const WATCHER_PATH: &str = "/StatusNotifierWatcher";
/// The item interface.
pub const ITEM_IFACE: &str = "org.kde.StatusNotifierItem";
/// The menu interface.
pub const MENU_IFACE: &str = "com.canonical.dbusmenu";

/// One registration, as the watcher recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The `service` argument, verbatim.
    pub service: String,
    /// Unique name of the item's owner.
    pub bus_name: String,
    /// Object path of the item.
    pub path: String,
}

impl Registration {
    /// How it appears in `RegisteredStatusNotifierItems` (`:1.5/StatusNotifierItem`).
    pub fn entry(&self) -> String {
        format!("{}{}", self.bus_name, self.path)
    }
}

#[derive(Default)]
struct State {
    items: Vec<Registration>,
    /// Every registration ever made (items that left stay here).
    history: Vec<Registration>,
    hosts: Vec<String>,
}

struct Watcher {
    state: Arc<Mutex<State>>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    async fn register_status_notifier_item(
        &self,
        service: String,
        #[zbus(header)] header: zbus::message::Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> zbus::fdo::Result<()> {
        let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
        let (bus_name, path) = if service.starts_with('/') {
            (sender, service.clone())
        } else if service.starts_with(':') {
            (service.clone(), "/StatusNotifierItem".to_owned())
        } else {
            let dbus = zbus::fdo::DBusProxy::new(conn).await?;
            let name = zbus::names::BusName::try_from(service.as_str())
                .map_err(|e| zbus::fdo::Error::InvalidArgs(format!("{service:?}: {e}")))?;
            let owner = dbus.get_name_owner(name).await?;
            (owner.to_string(), "/StatusNotifierItem".to_owned())
        };
        let reg = Registration { service, bus_name, path };
        let entry = reg.entry();
        {
            let mut state = self.state.lock().unwrap();
            state.items.retain(|r| r.entry() != entry);
            state.items.push(reg.clone());
            state.history.push(reg);
        }
        Self::status_notifier_item_registered(&emitter, &entry).await?;
        self.registered_status_notifier_items_changed(&emitter).await?;
        Ok(())
    }

    async fn register_status_notifier_host(
        &self,
        service: String,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> zbus::fdo::Result<()> {
        self.state.lock().unwrap().hosts.push(service);
        Self::status_notifier_host_registered(&emitter).await?;
        Ok(())
    }

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.state.lock().unwrap().items.iter().map(Registration::entry).collect()
    }

    /// Always true: the test is the host.
    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }

    #[zbus(signal)]
    async fn status_notifier_item_registered(emitter: &SignalEmitter<'_>, service: &str) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn status_notifier_item_unregistered(emitter: &SignalEmitter<'_>, service: &str) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn status_notifier_host_registered(emitter: &SignalEmitter<'_>) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn status_notifier_host_unregistered(emitter: &SignalEmitter<'_>) -> zbus::Result<()>;
}

/// The watcher. Releases the name (and stops tracking) when dropped.
pub struct StatusNotifierWatcher {
    state: Arc<Mutex<State>>,
    conn: zbus::Connection,
    reaper: tokio::task::JoinHandle<()>,
}

impl StatusNotifierWatcher {
    /// Serves the watcher on `bus` and owns `org.kde.StatusNotifierWatcher`.
    pub async fn start(bus: &PrivateBus) -> StatusNotifierWatcher {
        let state = Arc::new(Mutex::new(State::default()));
        let conn = zbus::connection::Builder::address(bus.address())
            .expect("bus address")
            .serve_at(WATCHER_PATH, Watcher { state: state.clone() })
            .expect("serve the watcher")
            .build()
            .await
            .expect("connect the watcher to the private bus");
        // Subscribe to owner changes before owning the name, so no departure is missed.
        let dbus = zbus::fdo::DBusProxy::new(&conn).await.expect("org.freedesktop.DBus proxy");
        let mut changes = dbus.receive_name_owner_changed().await.expect("subscribe to NameOwnerChanged");
        let reply = conn
            .request_name_with_flags(WATCHER_NAME, zbus::fdo::RequestNameFlags::DoNotQueue.into())
            .await
            .unwrap_or_else(|e| panic!("cannot own {WATCHER_NAME}: {e}"));
        assert_eq!(reply, zbus::fdo::RequestNameReply::PrimaryOwner, "{WATCHER_NAME} is already owned on this bus");

        let reaper_state = state.clone();
        let reaper_conn = conn.clone();
        let reaper = tokio::spawn(async move {
            while let Some(signal) = changes.next().await {
                let Ok(args) = signal.args() else { continue };
                if args.new_owner().is_some() {
                    continue;
                }
                let gone = args.name().to_string();
                let removed: Vec<Registration> = {
                    let mut st = reaper_state.lock().unwrap();
                    let (gone_items, kept): (Vec<_>, Vec<_>) = st.items.drain(..).partition(|r| r.bus_name == gone);
                    st.items = kept;
                    gone_items
                };
                if removed.is_empty() {
                    continue;
                }
                let Ok(emitter) = SignalEmitter::new(&reaper_conn, WATCHER_PATH) else { continue };
                for r in removed {
                    let _ = Watcher::status_notifier_item_unregistered(&emitter, &r.entry()).await;
                }
                if let Ok(iface) = reaper_conn.object_server().interface::<_, Watcher>(WATCHER_PATH).await {
                    let _ = iface.get().await.registered_status_notifier_items_changed(&emitter).await;
                }
            }
        });
        StatusNotifierWatcher { state, conn, reaper }
    }

    /// Items registered now (owners still on the bus), oldest first.
    pub fn items(&self) -> Vec<Registration> {
        self.state.lock().unwrap().items.clone()
    }

    /// Every registration made so far, including items that left.
    pub fn registrations(&self) -> Vec<Registration> {
        self.state.lock().unwrap().history.clone()
    }

    /// Services that called `RegisterStatusNotifierHost`.
    pub fn hosts(&self) -> Vec<String> {
        self.state.lock().unwrap().hosts.clone()
    }

    /// Waits until an item is registered and returns the first one.
    pub async fn wait_for_item(&self, timeout: Duration) -> TrayItem {
        self.wait_for_item_matching(|_| true, timeout).await
    }

    /// Waits until an item matching `pred` is registered.
    pub async fn wait_for_item_matching<F: FnMut(&Registration) -> bool>(&self, mut pred: F, timeout: Duration) -> TrayItem {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(reg) = self.items().into_iter().find(|r| pred(r)) {
                return TrayItem { conn: self.conn.clone(), registration: reg };
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "no tray item registered with {WATCHER_NAME} within {timeout:?} (registrations so far: {:?})",
                    self.registrations()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until no item is registered any more (the app quit or removed its icon).
    pub async fn wait_for_no_items(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.items().is_empty() {
            if tokio::time::Instant::now() >= deadline {
                panic!("tray items still registered after {timeout:?}: {:?}", self.items());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The watcher's connection.
    pub fn connection(&self) -> &zbus::Connection {
        &self.conn
    }
}

impl Drop for StatusNotifierWatcher {
    fn drop(&mut self) {
        self.reaper.abort();
    }
}

/// One image of `IconPixmap` (or of a tooltip's pixmaps): ARGB32 in network byte order
/// (A, R, G, B per pixel), `width * height * 4` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pixmap {
    pub width: i32,
    pub height: i32,
    pub argb: Vec<u8>,
}

/// The `ToolTip` property: (icon name, icon pixmaps, title, description).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolTip {
    pub icon_name: String,
    pub icon_pixmap_count: usize,
    pub title: String,
    pub description: String,
}

/// One entry of the dbusmenu layout.
#[derive(Debug, Clone, PartialEq)]
pub struct MenuEntry {
    pub id: i32,
    /// The label with mnemonic underscores removed (`_Quit` → `Quit`, `__` → `_`).
    pub label: String,
    /// `enabled` (default true).
    pub enabled: bool,
    /// `visible` (default true).
    pub visible: bool,
    /// `type` (`standard` unless `separator`).
    pub kind: String,
    /// `toggle-type`: `checkmark`, `radio` or empty.
    pub toggle_type: String,
    /// `toggle-state`: 0 off, 1 on, -1 indeterminate; `None` when not sent.
    pub toggle_state: Option<i32>,
    pub children: Vec<MenuEntry>,
}

impl MenuEntry {
    pub fn is_separator(&self) -> bool {
        self.kind == "separator"
    }

    /// This entry and all its descendants, depth first.
    pub fn flatten(&self) -> Vec<&MenuEntry> {
        let mut out = vec![self];
        for c in &self.children {
            out.extend(c.flatten());
        }
        out
    }
}

/// Flattens a menu (depth first).
pub fn flatten(menu: &[MenuEntry]) -> Vec<&MenuEntry> {
    menu.iter().flat_map(MenuEntry::flatten).collect()
}

/// A registered tray item, read over D-Bus.
#[derive(Clone)]
pub struct TrayItem {
    conn: zbus::Connection,
    registration: Registration,
}

impl std::fmt::Debug for TrayItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrayItem").field("registration", &self.registration).finish()
    }
}

impl TrayItem {
    /// A tray item at (bus name, path), without a watcher.
    pub fn new(conn: zbus::Connection, bus_name: &str, path: &str) -> TrayItem {
        TrayItem {
            conn,
            registration: Registration { service: path.to_owned(), bus_name: bus_name.to_owned(), path: path.to_owned() },
        }
    }

    pub fn registration(&self) -> &Registration {
        &self.registration
    }

    /// Unique name of the item's owner.
    pub fn bus_name(&self) -> &str {
        &self.registration.bus_name
    }

    /// Object path of the item.
    pub fn path(&self) -> &str {
        &self.registration.path
    }

    async fn properties(&self, path: &str) -> zbus::fdo::PropertiesProxy<'static> {
        zbus::fdo::PropertiesProxy::builder(&self.conn)
            .destination(self.registration.bus_name.clone())
            .expect("bus name")
            .path(path.to_owned())
            .expect("object path")
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .expect("properties proxy")
    }

    /// Reads an `org.kde.StatusNotifierItem` property (fresh, never cached).
    pub async fn property(&self, name: &str) -> zbus::Result<OwnedValue> {
        let props = self.properties(&self.registration.path).await;
        let iface = zbus::names::InterfaceName::from_static_str(ITEM_IFACE).expect("interface name");
        Ok(props.get(iface, name).await?)
    }

    /// Every `org.kde.StatusNotifierItem` property, values rendered as text.
    pub async fn all_properties(&self) -> HashMap<String, String> {
        let props = self.properties(&self.registration.path).await;
        let iface = zbus::names::InterfaceName::from_static_str(ITEM_IFACE).expect("interface name");
        let all = props.get_all(iface).await.unwrap_or_else(|e| panic!("GetAll on {self:?}: {e}"));
        all.into_iter().map(|(k, v)| (k, v.to_string())).collect()
    }

    async fn string_property(&self, name: &str) -> Option<String> {
        let v = self.property(name).await.ok()?;
        String::try_from(v).ok()
    }

    async fn required_string(&self, name: &str) -> String {
        let v = self.property(name).await.unwrap_or_else(|e| panic!("reading {name} of {self:?}: {e}"));
        String::try_from(v).unwrap_or_else(|e| panic!("{name} of {self:?} is not a string: {e}"))
    }

    /// `Id`.
    pub async fn id(&self) -> String {
        self.required_string("Id").await
    }

    /// `Title`.
    pub async fn title(&self) -> String {
        self.required_string("Title").await
    }

    /// `Status`: `Passive`, `Active` or `NeedsAttention`.
    pub async fn status(&self) -> String {
        self.required_string("Status").await
    }

    /// `Category`.
    pub async fn category(&self) -> Option<String> {
        self.string_property("Category").await
    }

    /// `IconName`: a theme icon name or a file (empty for the resident's tray, whose
    /// icon is an [`IconPixmap`](Self::icon_pixmap)).
    pub async fn icon_name(&self) -> Option<String> {
        self.string_property("IconName").await
    }

    /// `IconThemePath` (an Ayatana/KDE extension).
    pub async fn icon_theme_path(&self) -> Option<String> {
        self.string_property("IconThemePath").await
    }

    /// The icon as a file, when `IconName` points at one (an absolute path, or a name
    /// found as `<IconThemePath>/<name>.png`; libayatana-appindicator items do that).
    /// `None` for the resident's tray: read [`icon_pixmap`](Self::icon_pixmap).
    pub async fn icon_file(&self) -> Option<std::path::PathBuf> {
        let name = self.icon_name().await.filter(|n| !n.is_empty())?;
        let path = std::path::PathBuf::from(&name);
        if path.is_absolute() {
            return Some(path);
        }
        let theme = self.icon_theme_path().await.filter(|t| !t.is_empty())?;
        let candidate = std::path::Path::new(&theme).join(format!("{name}.png"));
        candidate.exists().then_some(candidate)
    }

    /// Polls (every 100 ms) a string property (`Title`, `IconName`, `Status`...) until
    /// `pred` accepts it; returns the value.
    pub async fn wait_for_string_property<F: FnMut(&str) -> bool>(&self, name: &str, mut pred: F, timeout: Duration) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let value = self.string_property(name).await;
            if let Some(v) = value.as_deref() {
                if pred(v) {
                    return v.to_owned();
                }
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("tray property {name} did not reach the expected value within {timeout:?}; last: {value:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `AttentionIconName`.
    pub async fn attention_icon_name(&self) -> Option<String> {
        self.string_property("AttentionIconName").await
    }

    /// `IconPixmap` (`a(iiay)`), empty when the item has none or it is not of that type.
    pub async fn icon_pixmap(&self) -> Vec<Pixmap> {
        match self.property("IconPixmap").await {
            Ok(v) => <Vec<(i32, i32, Vec<u8>)>>::try_from(v)
                .map(|p| p.into_iter().map(|(width, height, argb)| Pixmap { width, height, argb }).collect())
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }

    /// Whether `IconPixmap` is present and non-empty.
    pub async fn has_icon_pixmap(&self) -> bool {
        !self.icon_pixmap().await.is_empty()
    }

    /// Polls (every 100 ms) `IconPixmap` until `pred` accepts it; returns it.
    pub async fn wait_for_icon_pixmap<F: FnMut(&[Pixmap]) -> bool>(&self, mut pred: F, timeout: Duration) -> Vec<Pixmap> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let pixmap = self.icon_pixmap().await;
            if pred(&pixmap) {
                return pixmap;
            }
            if tokio::time::Instant::now() >= deadline {
                let sizes: Vec<(i32, i32)> = pixmap.iter().map(|p| (p.width, p.height)).collect();
                panic!("tray IconPixmap did not reach the expected state within {timeout:?}; last: sizes {sizes:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `ToolTip` (`(sa(iiay)ss)`), when the item has one.
    pub async fn tool_tip(&self) -> Option<ToolTip> {
        let v = self.property("ToolTip").await.ok()?;
        let (icon_name, pixmaps, title, description) =
            <(String, Vec<(i32, i32, Vec<u8>)>, String, String)>::try_from(v).ok()?;
        Some(ToolTip { icon_name, icon_pixmap_count: pixmaps.len(), title, description })
    }

    /// Polls (every 100 ms) `ToolTip` until `pred` accepts it; returns it.
    pub async fn wait_for_tool_tip<F: FnMut(&ToolTip) -> bool>(&self, mut pred: F, timeout: Duration) -> ToolTip {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let tip = self.tool_tip().await;
            if let Some(t) = &tip {
                if pred(t) {
                    return t.clone();
                }
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("tray ToolTip did not reach the expected value within {timeout:?}; last: {tip:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `XAyatanaLabel` (libayatana-appindicator's text next to the icon), when set. The
    /// resident's tray (ksni) has none: its count is a badge drawn into the icon.
    pub async fn label(&self) -> Option<String> {
        self.string_property("XAyatanaLabel").await
    }

    /// The `Menu` object path.
    pub async fn menu_path(&self) -> String {
        let v = self.property("Menu").await.unwrap_or_else(|e| panic!("reading Menu of {self:?}: {e}"));
        let path = zbus::zvariant::OwnedObjectPath::try_from(v).unwrap_or_else(|e| panic!("Menu is not an object path: {e}"));
        path.to_string()
    }

    /// The whole menu: `GetLayout(0, -1, [])`, the root's children.
    pub async fn menu(&self) -> Vec<MenuEntry> {
        let path = self.menu_path().await;
        let reply = self
            .conn
            .call_method(
                Some(self.registration.bus_name.as_str()),
                path.as_str(),
                Some(MENU_IFACE),
                "GetLayout",
                &(0i32, -1i32, Vec::<String>::new()),
            )
            .await
            .unwrap_or_else(|e| panic!("GetLayout on {path}: {e}"));
        let (_revision, (id, props, children)): (u32, LayoutNode) = reply.body().deserialize().unwrap_or_else(|e| panic!("GetLayout reply of {path}: {e}"));
        entry_from_parts(id, &props, &children).children
    }

    /// Sends `Event(id, "clicked", 0, now)` to the menu, as a panel does on a click.
    pub async fn click(&self, id: i32) {
        self.menu_event(id, "clicked").await;
    }

    /// Sends a dbusmenu event (`clicked`, `hovered`, `opened`, `closed`).
    pub async fn menu_event(&self, id: i32, event: &str) {
        let path = self.menu_path().await;
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(0);
        let reply = self
            .conn
            .call_method(
                Some(self.registration.bus_name.as_str()),
                path.as_str(),
                Some(MENU_IFACE),
                "Event",
                &(id, event, Value::I32(0), timestamp),
            )
            .await;
        match reply {
            Ok(_) => {}
            // The event was delivered and the app exited before replying (a click on
            // "Quit" does that): the click happened.
            Err(zbus::Error::MethodError(name, _, _)) if name.as_str() == "org.freedesktop.DBus.Error.NoReply" => {}
            Err(e) => panic!("Event({id}, {event:?}) on {path}: {e}"),
        }
    }

    /// Finds the entry labelled `label` (mnemonics stripped, anywhere in the tree).
    pub async fn find_label(&self, label: &str) -> MenuEntry {
        let menu = self.menu().await;
        let found = flatten(&menu).into_iter().find(|e| e.label == label).cloned();
        found.unwrap_or_else(|| {
            let labels: Vec<&str> = flatten(&menu).into_iter().map(|e| e.label.as_str()).collect();
            panic!("no tray menu entry labelled {label:?}; labels: {labels:?}")
        })
    }

    /// Clicks the entry labelled `label`; panics if missing or disabled.
    pub async fn click_label(&self, label: &str) {
        let entry = self.find_label(label).await;
        assert!(entry.enabled, "tray menu entry {label:?} is disabled");
        self.click(entry.id).await;
    }

    /// Waits until the menu satisfies `pred` (menus change as the app's state does).
    pub async fn wait_for_menu<F: FnMut(&[MenuEntry]) -> bool>(&self, mut pred: F, timeout: Duration) -> Vec<MenuEntry> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let menu = self.menu().await;
            if pred(&menu) {
                return menu;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("the tray menu did not reach the expected state within {timeout:?}; last: {menu:#?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A dbusmenu layout node on the wire: `(ia{sv}av)`.
type LayoutNode = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);

/// Removes GTK mnemonic markers: `_Open` → `Open`, `Save __as` → `Save _as`.
pub fn strip_mnemonic(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    let mut chars = label.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '_' {
            if chars.peek() == Some(&'_') {
                chars.next();
                out.push('_');
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn entry_from_parts(id: i32, props: &HashMap<String, OwnedValue>, children: &[OwnedValue]) -> MenuEntry {
    let string = |k: &str| props.get(k).and_then(|v| <&str>::try_from(v).ok()).map(str::to_owned);
    let boolean = |k: &str| props.get(k).and_then(|v| bool::try_from(v).ok());
    MenuEntry {
        id,
        label: string("label").map(|l| strip_mnemonic(&l)).unwrap_or_default(),
        enabled: boolean("enabled").unwrap_or(true),
        visible: boolean("visible").unwrap_or(true),
        kind: string("type").unwrap_or_else(|| "standard".to_owned()),
        toggle_type: string("toggle-type").unwrap_or_default(),
        toggle_state: props.get("toggle-state").and_then(|v| i32::try_from(v).ok()),
        children: children.iter().map(|c| entry_from_value(c)).collect(),
    }
}

fn entry_from_value(v: &Value<'_>) -> MenuEntry {
    let v = match v {
        Value::Value(inner) => inner.as_ref(),
        other => other,
    };
    let Value::Structure(s) = v else { panic!("a dbusmenu child is not a (ia{{sv}}av) structure: {v:?}") };
    let fields = s.fields();
    assert_eq!(fields.len(), 3, "a dbusmenu child has 3 fields: {v:?}");
    let Value::I32(id) = fields[0] else { panic!("dbusmenu child id is not an int32: {v:?}") };
    let props: HashMap<String, OwnedValue> = HashMap::try_from(
        fields[1].try_to_owned().expect("owned properties"),
    )
    .unwrap_or_else(|e| panic!("dbusmenu child properties of {id}: {e}"));
    let Value::Array(children) = &fields[2] else { panic!("dbusmenu children of {id} are not an array: {v:?}") };
    let children: Vec<OwnedValue> =
        children.iter().map(|c| c.try_to_owned().expect("owned child")).collect();
    entry_from_parts(id, &props, &children)
}
