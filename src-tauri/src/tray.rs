//! The tray icon: an icon per aggregate state, the unread-urgent count in the title,
//! and a menu with a status line, Open history, Pause notifications and Quit.

use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};
use tocsin_engine::TrayState;
use tocsin_engine::Snapshot;

use crate::gui::AppState;

pub const TRAY_ID: &str = "tocsin";
const STATUS_ITEM: &str = "status";
const OPEN_ITEM: &str = "open";
const PAUSE_ITEM: &str = "pause";
const QUIT_ITEM: &str = "quit";

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
    pause: CheckMenuItem<R>,
}

/// One account's line: "ops (daimon): connected".
fn account_line(a: &tocsin_engine::AccountStatus) -> String {
    format!("{} ({}): {}", a.account, a.provider, a.state.describe())
}

pub fn create<R: Runtime>(app: &AppHandle<R>, snapshot: &Snapshot) -> tauri::Result<()> {
    let status = MenuItem::with_id(app, STATUS_ITEM, snapshot.summary(), false, None::<&str>)?;
    let accounts = snapshot
        .accounts
        .iter()
        .enumerate()
        .map(|(i, a)| MenuItem::with_id(app, format!("account-{i}"), account_line(a), false, None::<&str>))
        .collect::<tauri::Result<Vec<_>>>()?;
    let open = MenuItem::with_id(app, OPEN_ITEM, "Open history", true, None::<&str>)?;
    let pause = CheckMenuItem::with_id(app, PAUSE_ITEM, "Pause notifications", true, snapshot.paused, None::<&str>)?;
    let quit = MenuItem::with_id(app, QUIT_ITEM, "Quit", true, None::<&str>)?;
    let separator_a = PredefinedMenuItem::separator(app)?;
    let separator_b = PredefinedMenuItem::separator(app)?;
    let mut items: Vec<&dyn tauri::menu::IsMenuItem<R>> = vec![&status];
    for a in &accounts {
        items.push(a);
    }
    items.extend([&separator_a as &dyn tauri::menu::IsMenuItem<R>, &open, &pause, &separator_b]);
    items.push(&quit);
    let menu = Menu::with_items(app, &items)?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(snapshot.tray_state()))
        .title(title(snapshot))
        .tooltip(format!("Tocsin: {}", snapshot.summary()))
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu)
        .build(app)?;
    app.manage(TrayMenu { status, accounts, pause });
    Ok(())
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    match event.id().as_ref() {
        OPEN_ITEM => {
            if let Err(e) = crate::window::open(app) {
                tracing::error!("cannot open the window: {e}");
            }
        }
        PAUSE_ITEM => {
            let state = app.state::<AppState>();
            let paused = !state.engine.snapshot().paused;
            let snapshot = state.engine.set_paused(paused);
            update(app, &snapshot);
        }
        QUIT_ITEM => app.exit(0),
        _ => {}
    }
}

/// Brings the tray in line with `snapshot`.
pub fn update<R: Runtime>(app: &AppHandle<R>, snapshot: &Snapshot) {
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let _ = tray.set_icon(Some(icon(snapshot.tray_state())));
        let _ = tray.set_title(Some(title(snapshot)));
        let _ = tray.set_tooltip(Some(format!("Tocsin: {}", snapshot.summary())));
    }
    if let Some(menu) = app.try_state::<TrayMenu<R>>() {
        let _ = menu.status.set_text(snapshot.summary());
        for (item, account) in menu.accounts.iter().zip(&snapshot.accounts) {
            let _ = item.set_text(account_line(account));
        }
        let _ = menu.pause.set_checked(snapshot.paused);
    }
}
