fn main() {
    // Each IPC command gets an `allow-<command>` permission; capabilities/main.json grants
    // exactly the ones the window uses, nothing else.
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(
        tauri_build::AppManifest::new().commands(&["history_list", "mark_read", "reply", "status", "set_paused", "take_focus", "autostart_enabled", "set_autostart",
            "rules_get", "rules_set", "rules_test", "attention_get", "attention_set",
            "history_query", "history_detail", "set_read", "open_external", "accounts_list", "account_save", "account_remove",
            "key_set", "key_remove", "key_test", "retention_get", "retention_set", "pause", "link_state"]),
    ))
    .expect("tauri build script failed");
}
