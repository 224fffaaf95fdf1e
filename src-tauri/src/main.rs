// Without a console window on Windows release builds.
#![cfg_attr(all(not(debug_assertions), target_os = "windows"), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    tocsin_window::main()
}
