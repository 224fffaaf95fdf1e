//! The `tocsin` binary: a thin shell over the engine.
//!
//! Owns: the command line ([`cli`]), the tray app (Tauri: [`gui`], [`tray`],
//! [`window`], IPC [`commands`]), the headless mode ([`headless`]), the
//! notify-rust desktop notifier ([`notifier`]), directory resolution ([`paths`]) and
//! logging ([`logging`]).
//!
//! Must not: hold logic the engine could hold. Everything here adapts the engine to
//! a front end. The headless, emulator and history paths never initialise GTK, so
//! they run on servers without a display.
//!
//! Layout:
//! - `cli.rs`: clap definitions and dispatch
//! - `gui.rs`: Tauri builder and run loop; `tray.rs`; `window.rs`; `commands/` (one file per domain)
//! - `headless.rs`, `history.rs`, `accounts_cli.rs`, `rules.rs`, `emulator.rs`: the non-GUI subcommands
//! - `notifier.rs`, `paths.rs`, `logging.rs`

pub mod accounts_cli;
pub mod badge;
pub mod cli;
pub mod commands;
mod emulator;
pub mod gui;
mod headless;
pub mod history;
mod rules;
pub mod logging;
pub mod notifier;
pub mod paths;
mod signals;
pub mod tray;
pub mod window;
