//! AFL++ target `rules_toml`: see `tocsin_fuzz::rules_toml`.
fn main() {
    // Build the state kept between inputs before the fork server starts.
    tocsin_fuzz::warm_up(tocsin_fuzz::rules_toml);
    afl::fuzz!(|data: &[u8]| tocsin_fuzz::rules_toml(data));
}
