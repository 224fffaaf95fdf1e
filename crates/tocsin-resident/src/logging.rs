//! Logging with tracing: to stderr and, for the app itself (tray and `run
//! --headless`; not `tocsin emulator`), to daily-rotated files `tocsin.YYYY-MM-DD.log`
//! of which the last 7 are kept.
//!
//! Where the files go: `TOCSIN_LOG_DIR`; else `logs/` in the data directory when one
//! is given (`--data-dir` or `TOCSIN_DATA_DIR`); else the platform's state directory
//! (`~/.local/state/tocsin/logs` on Linux, the local data directory elsewhere). The
//! directory is private to the user (0700 on Unix). If it cannot be written, the app
//! logs to stderr only and says so.
//!
//! `TOCSIN_LOG` sets the filter (default `info`). At the default level no line holds
//! a message body, subject or sender (the supervisor logs ids, counts and reasons;
//! the log-only notifier's alert lines are held back to `warn`), keys never appear
//! (they travel in `Sensitive`), and URLs are logged through
//! `tocsin_secrets::redact_url`. Keys stay out at every level, `trace` included: the
//! libraries whose trace output dumps raw handshakes and frames (tungstenite's
//! upgrade request carries `?key=` or the `Authorization` header; async-nats prints
//! its CONNECT with the token) are capped at `debug`, whatever `TOCSIN_LOG` says.

use std::path::PathBuf;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The filter when `TOCSIN_LOG` is not set.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn,tungstenite=warn,tokio_tungstenite=warn,zbus=warn,tao=warn,wry=warn,\
                                  tocsin_engine::notifier=warn";

/// Targets never logged below `debug`: their `trace` lines hold credentials.
const CAPPED_AT_DEBUG: [&str; 3] = ["tungstenite", "tokio_tungstenite", "async_nats"];

/// Log files kept (one a day).
pub const KEEP_FILES: usize = 7;

pub fn init() {
    // An empty TOCSIN_LOG is the same as none.
    let filter = std::env::var("TOCSIN_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(DEFAULT_FILTER));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (subcommand, data_dir) = scan_args(&args);
    let files = if subcommand.as_deref() == Some("emulator") {
        None
    } else {
        log_dir(data_dir).map(|dir| (open_files(&dir), dir))
    };
    let (appender, problem) = match files {
        Some((Ok(appender), _)) => (Some(appender), None),
        Some((Err(e), dir)) => (None, Some(format!("cannot write log files in {}: {e}; logging to stderr only", dir.display()))),
        None => (None, None),
    };
    let file_layer = appender.map(|a| tracing_subscriber::fmt::layer().with_ansi(false).with_writer(a));
    let stderr_layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let cap = CAPPED_AT_DEBUG.iter().fold(
        tracing_subscriber::filter::Targets::new().with_default(tracing::level_filters::LevelFilter::TRACE),
        |t, target| t.with_target(*target, tracing::level_filters::LevelFilter::DEBUG),
    );
    let _ = tracing_subscriber::registry().with(filter).with(cap).with(stderr_layer).with(file_layer).try_init();
    if let Some(problem) = problem {
        tracing::warn!("{problem}");
    }
}

/// The subcommand (first positional argument) and `--data-dir`, from the command
/// line as clap will read it (the global options may come before or after it).
fn scan_args(args: &[String]) -> (Option<String>, Option<PathBuf>) {
    let mut subcommand = None;
    let mut data_dir = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" {
            break;
        } else if a == "--data-dir" {
            data_dir = args.get(i + 1).map(PathBuf::from);
            i += 1;
        } else if let Some(d) = a.strip_prefix("--data-dir=") {
            data_dir = Some(PathBuf::from(d));
        } else if a == "--config-dir" {
            i += 1;
        } else if !a.starts_with('-') && subcommand.is_none() {
            subcommand = Some(a.to_owned());
        }
        i += 1;
    }
    (subcommand, data_dir)
}

fn non_empty_env(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// Where the log files go (see the module documentation).
fn log_dir(data_dir: Option<PathBuf>) -> Option<PathBuf> {
    if let Some(dir) = non_empty_env("TOCSIN_LOG_DIR") {
        return Some(dir);
    }
    if let Some(data) = data_dir.or_else(|| non_empty_env("TOCSIN_DATA_DIR")) {
        return Some(data.join("logs"));
    }
    let project = directories::ProjectDirs::from("app", "tocsin", "tocsin")?;
    let base = project.state_dir().unwrap_or_else(|| project.data_local_dir());
    Some(base.join("logs"))
}

fn open_files(dir: &std::path::Path) -> Result<tracing_appender::rolling::RollingFileAppender, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    tracing_appender::rolling::RollingFileAppender::builder()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("tocsin")
        .filename_suffix("log")
        .max_log_files(KEEP_FILES)
        .build(dir)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn the_subcommand_and_data_dir_are_found_wherever_they_are() {
        assert_eq!(scan_args(&args("run --headless --data-dir /d")), (Some("run".into()), Some("/d".into())));
        assert_eq!(scan_args(&args("--config-dir /c --data-dir=/d emulator --port 0")).0.as_deref(), Some("emulator"));
        assert_eq!(scan_args(&args("--config-dir /c --data-dir=/d emulator")).1, Some(PathBuf::from("/d")));
        assert_eq!(scan_args(&args("--minimized")), (None, None));
    }

    #[test]
    fn files_rotate_daily_and_land_in_the_directory() {
        let dir = std::env::temp_dir().join(format!("tocsin-logging-{}", std::process::id()));
        let appender = open_files(&dir).unwrap();
        drop(appender);
        assert!(dir.is_dir());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
