//! One daimon account against the emulator: the setup most end-to-end tests
//! start from. [`OneAccount::start`] binds the emulator on 127.0.0.1:0 with one
//! accepted key and writes a `config.toml` naming account `ops` in a temporary
//! directory that also holds the data directory and the control socket's
//! directory; [`OneAccount::env`] is the environment that points Tocsin (the
//! resident, the window and the CLI alike) at them, with the key in
//! `TOCSIN_KEY_OPS`.

use std::path::PathBuf;

use tocsin_emulator::{Emulator, EmulatorConfig};

pub struct OneAccount {
    pub emu: Emulator,
    pub dir: tempfile::TempDir,
    pub key: String,
}

impl OneAccount {
    /// The emulator accepting `key`, and account `ops` with `extra` config lines
    /// (for example `inboxes = ["inbox_ops"]`).
    pub async fn start(key: &str, extra: &str) -> OneAccount {
        let config = EmulatorConfig { keys: vec![key.into()], ..EmulatorConfig::default() };
        let emu = Emulator::bind(([127, 0, 0, 1], 0).into(), config).await.expect("bind the emulator");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("config")).expect("config dir");
        std::fs::write(
            dir.path().join("config/config.toml"),
            format!("[[accounts]]\nname = \"ops\"\nprovider = \"daimon\"\nurl = \"{}\"\n{extra}", emu.daimon_url()),
        )
        .expect("write config.toml");
        OneAccount { emu, dir, key: key.to_owned() }
    }

    /// A path under the temporary directory, as a string.
    pub fn path(&self, p: &str) -> String {
        self.dir.path().join(p).display().to_string()
    }

    /// Where the resident's control socket is.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("run/control.sock")
    }

    /// The key, config, data and runtime directories.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("TOCSIN_KEY_OPS".into(), self.key.clone()),
            ("TOCSIN_CONFIG_DIR".into(), self.path("config")),
            ("TOCSIN_DATA_DIR".into(), self.path("data")),
            ("TOCSIN_RUNTIME_DIR".into(), self.path("run")),
        ]
    }
}

/// `&[(String, String)]` as the `&[(&str, &str)]` the spawners take.
pub fn refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}
