//! `tocsin-generate man|completions DIR`: the packaging build's tool that writes
//! tocsin's man pages and shell completions from its clap definitions (see
//! `tocsin_resident::generate`). Not installed by the package.

fn main() -> std::process::ExitCode {
    tocsin_resident::generate::main()
}
