//! The tray icon: an icon per aggregate state, the unread-urgent count in the title,
//! and a menu with a status line, Open history, Pause notifications and Quit.

use tauri::image::Image;
use tauri::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};
use tocsin_engine::TrayState;
use tocsin_engine::Snapshot;

use crate::gui::AppState;

pub const TRAY_ID: &str = "tocsin";
const STATUS_ITEM: &str = "status";
const OPEN_ITEM: &str = "open";
const PAUSE_HOUR: &str = "pause-hour";
const PAUSE_TOMORROW: &str = "pause-tomorrow";
const PAUSE_FOREVER: &str = "pause-forever";
const RESUME_ITEM: &str = "resume";
const RECONNECT_ITEM: &str = "reconnect";
const QUIT_ITEM: &str = "quit";

/// The tray icon for `state`, with the unread-urgent count as a badge.
fn badged_icon(state: TrayState, unread: u32) -> Image<'static> {
    let base = icon(state);
    if unread == 0 {
        return base;
    }
    let (w, h) = (base.width(), base.height());
    let mut rgba = base.rgba().to_vec();
    crate::badge::draw(&mut rgba, w, h, unread);
    Image::new_owned(rgba, w, h)
}

fn icon(state: TrayState) -> Image<'static> {
    let bytes: &'static [u8] = match state {
        TrayState::Connected => include_bytes!("../../icons/tray-connected.png"),
        TrayState::Reconnecting => include_bytes!("../../icons/tray-reconnecting.png"),
        TrayState::Offline => include_bytes!("../../icons/tray-offline.png"),
        TrayState::Error => include_bytes!("../../icons/tray-error.png"),
        TrayState::Paused => include_bytes!("../../icons/tray-paused.png"),
        TrayState::UnreadUrgent => include_bytes!("../../icons/tray-urgent.png"),
    };
    Image::from_bytes(bytes).expect("tray icons are valid PNGs")
}

/// The text next to the icon: the unread-urgent count, or nothing.
fn title(s: &Snapshot) -> String {
    if s.unread_urgent > 0 {
        s.unread_urgent.to_string()
    } else {
        String::new()
    }
}

/// Menu items kept to update them in place.
struct TrayMenu<R: Runtime> {
    status: MenuItem<R>,
    accounts: Vec<MenuItem<R>>,
    resume: MenuItem<R>,
}

/// One account's line: "ops (daimon): connected".
fn account_line(a: &tocsin_engine::AccountStatus) -> String {
    format!("{} ({}): {}", a.account, a.provider, a.state.describe())
}

/// The menu for `snapshot`: status, one line per account, actions.
fn build_menu<R: Runtime>(app: &AppHandle<R>, snapshot: &Snapshot) -> tauri::Result<(Menu<R>, TrayMenu<R>)> {
    let status = MenuItem::with_id(app, STATUS_ITEM, snapshot.summary(), false, None::<&str>)?;
    let accounts = snapshot
        .accounts
        .iter()
        .enumerate()
        .map(|(i, a)| MenuItem::with_id(app, format!("account-{i}"), account_line(a), false, None::<&str>))
        .collect::<tauri::Result<Vec<_>>>()?;
    let open = MenuItem::with_id(app, OPEN_ITEM, "Open history", true, None::<&str>)?;
    let resume = MenuItem::with_id(app, RESUME_ITEM, "Resume notifications", snapshot.paused, None::<&str>)?;
    let pause = Submenu::with_items(
        app,
        "Pause notifications",
        true,
        &[
            &MenuItem::with_id(app, PAUSE_HOUR, "For 1 hour", true, None::<&str>)?,
            &MenuItem::with_id(app, PAUSE_TOMORROW, "Until tomorrow morning", true, None::<&str>)?,
            &MenuItem::with_id(app, PAUSE_FOREVER, "Until I resume", true, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            &resume,
        ],
    )?;
    let reconnect = MenuItem::with_id(app, RECONNECT_ITEM, "Reconnect all", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, QUIT_ITEM, "Quit", true, None::<&str>)?;
    let separator_a = PredefinedMenuItem::separator(app)?;
    let separator_b = PredefinedMenuItem::separator(app)?;
    let mut items: Vec<&dyn tauri::menu::IsMenuItem<R>> = vec![&status];
    for a in &accounts {
        items.push(a);
    }
    items.extend([&separator_a as &dyn tauri::menu::IsMenuItem<R>, &open, &pause, &reconnect, &separator_b]);
    items.push(&quit);
    let menu = Menu::with_items(app, &items)?;
    Ok((menu, TrayMenu { status, accounts, resume }))
}

/// The menu items of the current menu (replaced when the accounts change).
struct TrayMenus<R: Runtime>(std::sync::Mutex<TrayMenu<R>>);

pub fn create<R: Runtime>(app: &AppHandle<R>, snapshot: &Snapshot) -> tauri::Result<()> {
    let (menu, items) = build_menu(app, snapshot)?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(badged_icon(snapshot.tray_state(), snapshot.unread_urgent))
        .title(title(snapshot))
        .tooltip(format!("Tocsin: {}", snapshot.summary()))
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu)
        .build(app)?;
    app.manage(TrayMenus(std::sync::Mutex::new(items)));
    Ok(())
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    match event.id().as_ref() {
        OPEN_ITEM => {
            if let Err(e) = crate::window::open(app) {
                tracing::error!("cannot open the window: {e}");
            }
        }
        PAUSE_HOUR | PAUSE_TOMORROW | PAUSE_FOREVER | RESUME_ITEM => {
            use tocsin_engine::attention::{pause_for_hour, pause_until_tomorrow, Pause};
            let now = chrono::Local::now();
            let pause = match event.id().as_ref() {
                PAUSE_HOUR => pause_for_hour(&now),
                PAUSE_TOMORROW => pause_until_tomorrow(&now),
                PAUSE_FOREVER => Pause::Forever,
                _ => Pause::Off,
            };
            let state = app.state::<AppState>();
            let snapshot = state.engine().set_pause(pause);
            update(app, &snapshot);
        }
        RECONNECT_ITEM => app.state::<AppState>().engine().reconnect_all(),
        QUIT_ITEM => app.exit(0),
        _ => {}
    }
}

/// Brings the tray in line with `snapshot`, on the main thread. Tray and menu calls
/// made from another thread each wait for the main thread; made while holding the
/// menu lock, that wait deadlocked against a menu click (handled on the main thread,
/// which updates the tray too and so waited for the lock). So every update runs there.
pub fn update<R: Runtime>(app: &AppHandle<R>, snapshot: &Snapshot) {
    let (handle, snapshot) = (app.clone(), snapshot.clone());
    if let Err(e) = app.run_on_main_thread(move || apply(&handle, &snapshot)) {
        tracing::debug!("tray update skipped: {e}");
    }
}

fn apply<R: Runtime>(app: &AppHandle<R>, snapshot: &Snapshot) {
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let _ = tray.set_icon(Some(badged_icon(snapshot.tray_state(), snapshot.unread_urgent)));
        let _ = tray.set_title(Some(title(snapshot)));
        let _ = tray.set_tooltip(Some(format!("Tocsin: {}", snapshot.summary())));
    }
    if let Some(menus) = app.try_state::<TrayMenus<R>>() {
        let mut menu = menus.0.lock().unwrap();
        if menu.accounts.len() != snapshot.accounts.len() {
            // Accounts were added or removed (the engine restarted): a new menu.
            match (build_menu(app, snapshot), app.tray_by_id(TRAY_ID)) {
                (Ok((new_menu, items)), Some(tray)) => {
                    let _ = tray.set_menu(Some(new_menu));
                    *menu = items;
                }
                (Err(e), _) => tracing::warn!("cannot rebuild the tray menu: {e}"),
                _ => {}
            }
            return;
        }
        let _ = menu.status.set_text(snapshot.summary());
        for (item, account) in menu.accounts.iter().zip(&snapshot.accounts) {
            let _ = item.set_text(account_line(account));
        }
        let _ = menu.resume.set_enabled(snapshot.paused);
    }
}
