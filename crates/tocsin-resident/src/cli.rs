//! The command line: `tocsin` (the resident process in the tray), `tocsin run
//! --headless`, the live commands for a running Tocsin (`status`, `pause`,
//! `resume`, `reconnect`, `open`, `quit`), `tocsin emulator`, `tocsin history
//! list|search|export`, `tocsin rules ...`, `tocsin attention ...`, `tocsin
//! account add|list|edit|remove`, `tocsin key set|rotate|test|remove`,
//! `tocsin autostart on|off|status`. The man pages and shell completions are made
//! from these definitions (`generate.rs`, run by the `tocsin-generate` build tool):
//! this `Cli` is their one source.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Tocsin: desktop alerts for agent email and messaging platforms.
#[derive(Debug, Parser)]
#[command(name = "tocsin", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every subcommand accepts.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Directory of config.toml (default: the platform's config directory).
    #[arg(long, global = true, env = "TOCSIN_CONFIG_DIR")]
    pub config_dir: Option<PathBuf>,
    /// Directory of the history database (default: the platform's data directory).
    #[arg(long, global = true, env = "TOCSIN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Run the built-in demo profile, even if accounts are configured.
    #[arg(long, global = true)]
    pub demo: bool,
    /// Start in the tray without opening the window.
    #[arg(long, global = true)]
    pub minimized: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the engine.
    Run(RunArgs),
    /// The running Tocsin's accounts, their states, unread urgent and the pause.
    Status {
        /// The snapshot as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Pause notifications: 1h, tomorrow (08:00) or forever (until `tocsin resume`).
    Pause {
        #[arg(value_parser = parse_pause)]
        how_long: tocsin_engine::settings::PauseChoice,
    },
    /// Resume notifications.
    Resume,
    /// Every account of the running Tocsin reconnects now.
    Reconnect,
    /// Show the history window, at event ID if given.
    Open { event: Option<i64> },
    /// Stop the running Tocsin (after it commits what it received).
    Quit,
    /// Run the provider emulator on 127.0.0.1.
    Emulator(EmulatorArgs),
    /// Read the event history.
    History {
        #[command(subcommand)]
        command: HistoryCommand,
    },
    /// The urgency rules, as TOML.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Quiet hours, burst coalescing and repeats, as TOML.
    Attention {
        #[command(subcommand)]
        command: AttentionCommand,
    },
    /// Add, list, edit and remove accounts (config.toml; never a key).
    Account {
        #[command(subcommand)]
        command: crate::accounts_cli::AccountCommand,
    },
    /// Account keys in the OS keychain.
    Key {
        #[command(subcommand)]
        command: crate::accounts_cli::KeyCommand,
    },
    /// Start at login (in the tray): on, off, or show the login item (the default).
    Autostart {
        #[command(subcommand)]
        command: Option<AutostartCommand>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AutostartCommand {
    /// Whether Tocsin starts at login, and the entry that says so.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Start Tocsin in the tray when you log in.
    On,
    /// Do not start Tocsin at login.
    Off,
}

#[derive(Debug, Subcommand)]
pub enum AttentionCommand {
    /// Print the attention settings.
    Export,
    /// Replace them with a TOML file (`-` for stdin), after checking it.
    Import { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Print the rule set (the defaults until rules are imported).
    Export,
    /// Replace the rule set with a TOML file (`-` for stdin), after checking it.
    Import { file: PathBuf },
    /// Show which rule decides stored event ID, and what it decides.
    Test { id: i64 },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// No window, tray or GTK: for servers, tests and benchmarks.
    #[arg(long)]
    pub headless: bool,
}

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Port to listen on (0 = any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// An API key the daimon endpoint accepts (repeatable). Default: dm_live_emulator.
    #[arg(long = "key")]
    pub keys: Vec<String>,
    /// Stream demo events.
    #[arg(long = "demo-traffic")]
    pub demo_traffic: bool,
    /// Mean gap between demo events, in milliseconds.
    #[arg(long, default_value_t = 4000)]
    pub interval_ms: u64,
}

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Stored events, newest first.
    List {
        /// One JSON array, for scripts.
        #[arg(long)]
        json: bool,
        /// At most this many events.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        filters: HistoryFilters,
    },
    /// Events whose subject, sender or text has all these words, newest first.
    Search {
        /// Words to find (whole words; `word*` for words starting with it).
        #[arg(required = true)]
        words: Vec<String>,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        filters: HistoryFilters,
    },
    /// Every matching event, oldest first, as JSON Lines or CSV.
    Export {
        /// jsonl or csv.
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Only events with all these words.
        #[arg(long)]
        search: Option<String>,
        #[command(flatten)]
        filters: HistoryFilters,
    },
}

/// Filters shared by `history list|search|export`.
#[derive(Debug, Clone, Args)]
pub struct HistoryFilters {
    /// Only this account (repeatable).
    #[arg(long = "account")]
    pub accounts: Vec<String>,
    /// Only this provider: daimon, agentmail, divinci, prismer, bivariant (repeatable).
    #[arg(long = "provider")]
    pub providers: Vec<String>,
    /// Only this kind, e.g. message_received (repeatable).
    #[arg(long = "kind")]
    pub kinds: Vec<String>,
    /// Only this tier: urgent, high, normal, low (repeatable).
    #[arg(long = "tier")]
    pub tiers: Vec<String>,
    /// Only unread events.
    #[arg(long, conflicts_with = "read")]
    pub unread: bool,
    /// Only read events.
    #[arg(long)]
    pub read: bool,
    /// Received at or after: RFC 3339 (2026-11-01T00:00:00Z), a date (2026-11-01), or an age (2h, 7d).
    #[arg(long)]
    pub since: Option<String>,
    /// Received before (same forms as --since).
    #[arg(long)]
    pub until: Option<String>,
}

fn parse_pause(s: &str) -> Result<tocsin_engine::settings::PauseChoice, String> {
    match tocsin_engine::settings::PauseChoice::parse(s) {
        Some(tocsin_engine::settings::PauseChoice::Resume) | None => Err("use 1h, tomorrow or forever (and `tocsin resume` to resume)".into()),
        Some(c) => Ok(c),
    }
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None | Some(Command::Run(RunArgs { headless: false })) => {
            crate::logging::init();
            crate::resident::run(&cli.global, crate::resident::Mode::Tray { open_window: !cli.global.minimized })
        }
        Some(Command::Run(RunArgs { headless: true })) => {
            crate::logging::init();
            crate::resident::run(&cli.global, crate::resident::Mode::Headless)
        }
        Some(Command::Status { json }) => crate::live::status(json),
        Some(Command::Pause { how_long }) => crate::live::pause(how_long),
        Some(Command::Resume) => crate::live::pause(tocsin_engine::settings::PauseChoice::Resume),
        Some(Command::Reconnect) => crate::live::reconnect(),
        Some(Command::Open { event }) => crate::live::open(event),
        Some(Command::Quit) => crate::live::quit(),
        Some(Command::Emulator(ref args)) => {
            crate::logging::init();
            crate::emulator::run(args)
        }
        Some(Command::History { ref command }) => crate::history::run(&cli.global, command),
        Some(Command::Account { ref command }) => crate::accounts_cli::account(&cli.global, command),
        Some(Command::Key { ref command }) => crate::accounts_cli::key(&cli.global, command),
        Some(Command::Rules { ref command }) => crate::rules::run(&cli.global, command),
        Some(Command::Attention { ref command }) => crate::rules::attention(&cli.global, command),
        Some(Command::Autostart { ref command }) => crate::autostart::cli(command.as_ref().unwrap_or(&AutostartCommand::Status { json: false })),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tocsin: {e:#}");
            ExitCode::FAILURE
        }
    }
}

impl GlobalArgs {
    /// Engine options from these arguments: the config file (validated), the data
    /// directory, and the demo pacing (`TOCSIN_DEMO_INTERVAL_MS`, default 4000).
    pub fn engine_options(&self) -> anyhow::Result<tocsin_engine::EngineOptions> {
        let config_dir = crate::paths::config_dir(self)?;
        let config = tocsin_engine::Config::load(&config_dir)?;
        let interval_ms = std::env::var("TOCSIN_DEMO_INTERVAL_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(4000);
        Ok(tocsin_engine::EngineOptions {
            config,
            data_dir: crate::paths::data_dir(self)?,
            force_demo: self.demo,
            demo_interval: std::time::Duration::from_millis(interval_ms),
        })
    }
}
