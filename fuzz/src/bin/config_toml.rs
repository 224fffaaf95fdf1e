//! AFL++ target `config_toml`: see `tocsin_fuzz::config_toml`.
fn main() {
    // Build the state kept between inputs before the fork server starts.
    tocsin_fuzz::warm_up(tocsin_fuzz::config_toml);
    afl::fuzz!(|data: &[u8]| tocsin_fuzz::config_toml(data));
}
