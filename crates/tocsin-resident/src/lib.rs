//! Tocsin's resident process and command line: the `tocsin` binary.
//!
//! Owns: the command line ([`cli`]); the resident process ([`resident`]: the
//! engine, the control socket's handler, the window launcher), its tray
//! ([`tray`], a StatusNotifierItem over D-Bus), the desktop notifier
//! ([`notifier`]), the live CLI that talks to a running resident ([`live`]) and
//! the offline subcommands (history, rules, accounts, keys, the emulator).
//!
//! Must not: link WebKit or GTK. The history window is another process
//! (`tocsin-window`, in `src-tauri/`), started on demand and talking to this one
//! through the control socket (`tocsin-control`). Headless mode is this process
//! without a tray: one code path.
//!
//! Layout:
//! - `cli.rs`: clap definitions and dispatch; `live.rs`: subcommands through the socket
//! - `resident.rs`: start, the engine, restarts, the control handler; `window.rs`: the window process
//! - `tray.rs` + `badge.rs`; `notifier.rs`; `autostart.rs`
//! - `history.rs`, `accounts_cli.rs`, `rules.rs`, `emulator.rs`: offline subcommands
//! - `generate.rs`: man pages and shell completions from the `cli.rs` definitions
//! - `paths.rs`, `logging.rs`, `signals.rs`

pub mod accounts_cli;
pub mod autostart;
pub mod badge;
pub mod cli;
mod emulator;
pub mod generate;
pub mod history;
pub mod live;
pub mod logging;
pub mod notifier;
pub mod paths;
pub mod resident;
mod rules;
mod signals;
pub mod tray;
pub mod window;
