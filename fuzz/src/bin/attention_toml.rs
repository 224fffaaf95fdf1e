//! AFL++ target `attention_toml`: see `tocsin_fuzz::attention_toml`.
fn main() {
    // Build the state kept between inputs before the fork server starts.
    tocsin_fuzz::warm_up(tocsin_fuzz::attention_toml);
    afl::fuzz!(|data: &[u8]| tocsin_fuzz::attention_toml(data));
}
