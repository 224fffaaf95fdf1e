//! AFL++ target `rule_conditions`: see `tocsin_fuzz::rule_conditions`.
fn main() {
    // Build the state kept between inputs before the fork server starts.
    tocsin_fuzz::warm_up(tocsin_fuzz::rule_conditions);
    afl::fuzz!(|data: &[u8]| tocsin_fuzz::rule_conditions(data));
}
