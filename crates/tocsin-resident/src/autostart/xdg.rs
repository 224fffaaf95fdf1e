//! The XDG autostart entry (`$XDG_CONFIG_HOME/autostart/tocsin.desktop`): where
//! it is, whether it is on, and writing it from the installed desktop entry (or,
//! when Tocsin is not installed, from this program's path).
//!
//! Owns: the entry's file and its contents. Every directory comes in through
//! [`Places`], so tests run on temporary ones.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::Status;

/// The autostart entry's and the installed desktop entry's file name.
pub const ENTRY: &str = "tocsin.desktop";
/// The name the auto-launch crate used before packaging (read as on, removed on change).
const LEGACY_ENTRY: &str = "Tocsin.desktop";
/// What the login item adds to the program: start in the tray.
const ARGS: &str = "--minimized";

#[derive(Debug, thiserror::Error)]
pub enum AutostartError {
    #[error("cannot find the home directory (HOME and XDG_CONFIG_HOME are unset)")]
    NoHome,
    #[error("cannot find Tocsin's program file: {0}")]
    Exe(#[source] std::io::Error),
    #[error("cannot read the installed desktop entry {}: {source}", path.display())]
    ReadInstalled { path: PathBuf, source: std::io::Error },
    #[error("cannot write the login item {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot remove the login item {}: {source}", path.display())]
    Remove { path: PathBuf, source: std::io::Error },
}

/// The directories the entry depends on.
#[derive(Debug, Clone)]
pub struct Places {
    /// `$XDG_CONFIG_HOME` (default `~/.config`): the entry goes in `autostart/` below it.
    pub config_home: PathBuf,
    /// Where installed desktop entries are looked for, in order: `$XDG_DATA_HOME`
    /// then `$XDG_DATA_DIRS` (default `/usr/local/share:/usr/share`).
    pub data_dirs: Vec<PathBuf>,
    /// `PATH`, to make the installed entry's `Exec` program absolute.
    pub path: Option<OsString>,
    /// This program (the entry's program when Tocsin is not installed).
    pub exe: PathBuf,
}

impl Places {
    /// From the environment, as the XDG Base Directory spec says.
    pub fn from_env() -> Result<Places, AutostartError> {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let home = var("HOME");
        let config_home = var("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config"))).ok_or(AutostartError::NoHome)?;
        let mut data_dirs: Vec<PathBuf> = var("XDG_DATA_HOME").or_else(|| home.as_ref().map(|h| h.join(".local/share"))).into_iter().collect();
        let system = std::env::var_os("XDG_DATA_DIRS").filter(|v| !v.is_empty()).unwrap_or_else(|| "/usr/local/share:/usr/share".into());
        data_dirs.extend(std::env::split_paths(&system).filter(|p| p.is_absolute()));
        let exe = std::env::current_exe().map_err(AutostartError::Exe)?;
        Ok(Places { config_home, data_dirs, path: std::env::var_os("PATH"), exe })
    }

    /// The autostart entry's path.
    pub fn entry_path(&self) -> PathBuf {
        self.config_home.join("autostart").join(ENTRY)
    }

    fn legacy_path(&self) -> PathBuf {
        self.config_home.join("autostart").join(LEGACY_ENTRY)
    }

    /// The installed desktop entry (`applications/tocsin.desktop`), the first found.
    pub fn installed_entry(&self) -> Option<PathBuf> {
        self.data_dirs.iter().map(|d| d.join("applications").join(ENTRY)).find(|p| p.is_file())
    }

    /// What is on disk now.
    pub fn status(&self) -> Status {
        let installed_entry = self.installed_entry();
        for path in [self.entry_path(), self.legacy_path()] {
            if let Ok(text) = std::fs::read_to_string(&path) {
                let enabled = is_on(&text);
                let exec = enabled.then(|| main_group_value(&text, "Exec")).flatten();
                return Status { enabled, path: Some(path), exec, installed_entry };
            }
        }
        Status { enabled: false, path: Some(self.entry_path()), exec: None, installed_entry }
    }

    /// The entry's contents: from the installed desktop entry, or Tocsin's own.
    pub fn entry_contents(&self) -> Result<String, AutostartError> {
        match self.installed_entry() {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|source| AutostartError::ReadInstalled { path, source })?;
                let program = main_group_value(&text, "Exec")
                    .and_then(|exec| first_word(&exec))
                    .and_then(|p| self.resolve(&p))
                    .unwrap_or_else(|| self.exe.clone());
                Ok(from_installed(&text, &exec_line(&program)))
            }
            None => Ok(format!(
                "[Desktop Entry]\nType=Application\nName=Tocsin\nComment=Alerts for agent email and messaging platforms, in the tray\n\
                 Exec={}\nIcon=tocsin\nTerminal=false\nX-GNOME-Autostart-enabled=true\n",
                exec_line(&self.exe)
            )),
        }
    }

    /// Writes the entry (atomically: a temporary file renamed over it).
    pub fn enable(&self) -> Result<(), AutostartError> {
        let contents = self.entry_contents()?;
        let path = self.entry_path();
        let err = |source| AutostartError::Write { path: path.clone(), source };
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(err)?;
        let mut tmp = tempfile_in(dir).map_err(err)?;
        tmp.1.write_all(contents.as_bytes()).and_then(|()| tmp.1.sync_all()).map_err(err)?;
        std::fs::rename(&tmp.0, &path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp.0);
            err(e)
        })?;
        remove_if_there(&self.legacy_path())
    }

    /// Removes the entry (and the old-named one).
    pub fn disable(&self) -> Result<(), AutostartError> {
        remove_if_there(&self.entry_path())?;
        remove_if_there(&self.legacy_path())
    }

    /// `program` made absolute: as is when it has a slash, else the first
    /// executable file of that name on `PATH`.
    fn resolve(&self, program: &str) -> Option<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let is_exe = |p: &Path| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
        if program.contains('/') {
            let p = PathBuf::from(program);
            return (p.is_absolute() && is_exe(&p)).then_some(p);
        }
        std::env::split_paths(self.path.as_deref()?).filter(|d| d.is_absolute()).map(|d| d.join(program)).find(|p| is_exe(p))
    }
}

fn remove_if_there(path: &Path) -> Result<(), AutostartError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(AutostartError::Remove { path: path.to_owned(), source: e }),
        _ => Ok(()),
    }
}

/// A new file in `dir` with a name of its own (create_new, so nothing is overwritten).
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let mut n = 0u32;
    loop {
        let p = dir.join(format!(".{ENTRY}.{}.{n}.tmp", std::process::id()));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&p) {
            Ok(f) => return Ok((p, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 100 => n += 1,
            Err(e) => return Err(e),
        }
    }
}

/// The `Exec` value that starts `program --minimized`, quoted as the Desktop
/// Entry spec says when the path needs it.
fn exec_line(program: &Path) -> String {
    let p = program.display().to_string();
    let plain = !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+,@:".contains(c));
    if plain {
        format!("{p} {ARGS}")
    } else {
        let mut q = String::from('"');
        for c in p.chars() {
            if matches!(c, '"' | '`' | '$' | '\\') {
                q.push('\\');
            }
            q.push(c);
        }
        // A literal % must be doubled in Exec, quoted or not.
        format!("{}\" {ARGS}", q.replace('%', "%%"))
    }
}

/// The first word of an `Exec` value, unquoted.
fn first_word(exec: &str) -> Option<String> {
    let exec = exec.trim_start();
    if let Some(rest) = exec.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(out),
                '\\' => out.push(chars.next()?),
                c => out.push(c),
            }
        }
        None
    } else {
        exec.split_whitespace().next().map(str::to_owned)
    }
}

/// The value of `key` in the `[Desktop Entry]` group.
fn main_group_value(text: &str, key: &str) -> Option<String> {
    let mut in_main = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_main = line == "[Desktop Entry]";
        } else if in_main {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == key {
                    return Some(v.trim().to_owned());
                }
            }
        }
    }
    None
}

/// Whether an autostart entry is on (desktops switch one off with `Hidden=true`
/// or `X-GNOME-Autostart-enabled=false`).
fn is_on(text: &str) -> bool {
    let yes = |k| main_group_value(text, k).is_some_and(|v| v == "true");
    let no = |k| main_group_value(text, k).is_some_and(|v| v == "false");
    !yes("Hidden") && !no("X-GNOME-Autostart-enabled")
}

/// The installed entry, with `Exec` replaced, `TryExec`, `Hidden`, `DBusActivatable`
/// and any autostart switch dropped, `X-GNOME-Autostart-enabled=true` added, and
/// the other groups (desktop actions) left out: a login item runs one command.
fn from_installed(text: &str, exec: &str) -> String {
    let mut out = String::new();
    let mut in_main = false;
    let mut seen_main = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            if in_main {
                out.push_str("X-GNOME-Autostart-enabled=true\n");
            }
            in_main = t == "[Desktop Entry]" && !seen_main;
            seen_main |= in_main;
            if in_main {
                out.push_str("[Desktop Entry]\n");
            }
            continue;
        }
        if !in_main {
            continue;
        }
        let key = t.split_once('=').map(|(k, _)| k.trim());
        match key {
            Some("Exec") => {
                out.push_str("Exec=");
                out.push_str(exec);
                out.push('\n');
            }
            Some("TryExec" | "Hidden" | "DBusActivatable" | "X-GNOME-Autostart-enabled" | "Actions") => {}
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if in_main {
        out.push_str("X-GNOME-Autostart-enabled=true\n");
    }
    out
}

#[cfg(test)]
#[path = "xdg_tests.rs"]
mod tests;
