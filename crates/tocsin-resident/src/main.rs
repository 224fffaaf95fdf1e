fn main() -> std::process::ExitCode {
    tocsin_resident::cli::main()
}
