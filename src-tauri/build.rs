fn main() {
    // Each IPC command gets an `allow-<command>` permission; capabilities/main.json grants
    // exactly the ones the window uses, nothing else.
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(
        tauri_build::AppManifest::new().commands(&["history_list", "mark_read", "reply", "status", "set_paused", "take_focus", "autostart_enabled", "set_autostart",
            "rules_get", "rules_set", "rules_test", "attention_get", "attention_set"]),
    ))
    .expect("tauri build script failed");
}
