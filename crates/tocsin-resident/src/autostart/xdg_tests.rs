//! The autostart entry on real temporary directories: a config home, a data dir
//! standing in for /usr/share (with or without the installed desktop entry) and
//! a PATH directory with an executable `tocsin`.

use super::*;

const INSTALLED: &str = "[Desktop Entry]\nType=Application\nName=Tocsin\nName[de]=Tocsin\nExec=tocsin\nTryExec=tocsin\nIcon=tocsin\n\
                         Categories=Network;Email;\nActions=open;\n\n[Desktop Action open]\nName=Open\nExec=tocsin open\n";

struct Fixture {
    _dir: tempfile::TempDir,
    places: Places,
    bin: PathBuf,
}

fn fixture(installed: bool) -> Fixture {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().join("share");
    std::fs::create_dir_all(share.join("applications")).unwrap();
    if installed {
        std::fs::write(share.join("applications").join(ENTRY), INSTALLED).unwrap();
    }
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("tocsin"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(bin.join("tocsin"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let places = Places {
        config_home: dir.path().join("config"),
        data_dirs: vec![dir.path().join("data-home"), share],
        path: Some(std::env::join_paths([dir.path().join("empty"), bin.clone()]).unwrap()),
        exe: dir.path().join("build dir/tocsin"),
    };
    Fixture { _dir: dir, places, bin }
}

#[test]
fn from_the_installed_entry_exec_is_the_program_on_path() {
    let f = fixture(true);
    let p = &f.places;
    assert!(!p.status().enabled);
    p.enable().unwrap();
    let st = p.status();
    assert!(st.enabled);
    assert_eq!(st.path.as_deref(), Some(p.entry_path().as_path()));
    assert_eq!(st.installed_entry, Some(p.data_dirs[1].join("applications").join(ENTRY)));
    let want = format!("{} --minimized", f.bin.join("tocsin").display());
    assert_eq!(st.exec.as_deref(), Some(want.as_str()));
    let text = std::fs::read_to_string(p.entry_path()).unwrap();
    assert!(text.contains("Name[de]=Tocsin\n") && text.contains("Icon=tocsin\n"), "{text}");
    assert!(text.contains("X-GNOME-Autostart-enabled=true\n"), "{text}");
    assert!(!text.contains("TryExec") && !text.contains("Desktop Action") && !text.contains("Actions="), "{text}");
    assert_eq!(text.matches("Exec=").count(), 1, "{text}");
    p.disable().unwrap();
    assert!(!p.entry_path().exists());
    assert!(!p.status().enabled);
}

#[test]
fn the_installed_entry_in_data_home_comes_first() {
    let f = fixture(true);
    let home_apps = f.places.data_dirs[0].join("applications");
    std::fs::create_dir_all(&home_apps).unwrap();
    std::fs::write(home_apps.join(ENTRY), "[Desktop Entry]\nName=Mine\nExec=/opt/t/tocsin --x\n").unwrap();
    assert_eq!(f.places.installed_entry(), Some(home_apps.join(ENTRY)));
    // /opt/t/tocsin does not exist: the entry falls back to this program.
    let text = f.places.entry_contents().unwrap();
    assert!(text.contains("Name=Mine\n"), "{text}");
    assert!(text.contains("Exec=\"") && text.contains("build dir/tocsin\" --minimized\n"), "{text}");
}

#[test]
fn without_an_installed_entry_exec_is_this_program() {
    let f = fixture(false);
    let p = &f.places;
    assert_eq!(p.installed_entry(), None);
    p.enable().unwrap();
    let st = p.status();
    assert!(st.enabled);
    let want = format!("\"{}\" --minimized", p.exe.display());
    assert_eq!(st.exec.as_deref(), Some(want.as_str()));
    // Enabling twice is fine; the directory holds only the entry (no temporary files left).
    p.enable().unwrap();
    let names: Vec<_> = std::fs::read_dir(p.config_home.join("autostart")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, [std::ffi::OsString::from(ENTRY)]);
    p.disable().unwrap();
    p.disable().unwrap();
    assert!(!p.status().enabled);
}

#[test]
fn an_entry_switched_off_by_the_desktop_reads_as_off() {
    let f = fixture(true);
    let p = &f.places;
    p.enable().unwrap();
    let text = std::fs::read_to_string(p.entry_path()).unwrap();
    std::fs::write(p.entry_path(), text.replace("X-GNOME-Autostart-enabled=true", "X-GNOME-Autostart-enabled=false")).unwrap();
    assert!(!p.status().enabled);
    std::fs::write(p.entry_path(), format!("{text}Hidden=true\n")).unwrap();
    assert!(!p.status().enabled);
    // Turning it on again writes a fresh entry.
    p.enable().unwrap();
    assert!(p.status().enabled);
}

#[test]
fn the_old_named_entry_reads_as_on_and_is_replaced() {
    let f = fixture(true);
    let p = &f.places;
    let dir = p.config_home.join("autostart");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(LEGACY_ENTRY), "[Desktop Entry]\nType=Application\nName=Tocsin\nExec=/old/tocsin --minimized\n").unwrap();
    let st = p.status();
    assert!(st.enabled);
    assert_eq!(st.exec.as_deref(), Some("/old/tocsin --minimized"));
    p.enable().unwrap();
    assert!(!dir.join(LEGACY_ENTRY).exists());
    assert!(p.entry_path().exists());
    std::fs::write(dir.join(LEGACY_ENTRY), "[Desktop Entry]\nExec=/old/tocsin\n").unwrap();
    p.disable().unwrap();
    assert!(!dir.join(LEGACY_ENTRY).exists() && !p.entry_path().exists());
    assert!(!p.status().enabled);
}

#[test]
fn exec_quoting_and_first_word() {
    assert_eq!(exec_line(Path::new("/usr/bin/tocsin")), "/usr/bin/tocsin --minimized");
    assert_eq!(exec_line(Path::new("/a b/$x\"%")), "\"/a b/\\$x\\\"%%\" --minimized");
    assert_eq!(first_word("tocsin --x").as_deref(), Some("tocsin"));
    assert_eq!(first_word("\"/a b/\\$x\" --minimized").as_deref(), Some("/a b/$x"));
    assert_eq!(first_word("\"unterminated"), None);
}
