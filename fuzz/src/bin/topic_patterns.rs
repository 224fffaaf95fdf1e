//! AFL++ target `topic_patterns`: see `tocsin_fuzz::topic_patterns`.
fn main() {
    // Build the state kept between inputs before the fork server starts.
    tocsin_fuzz::warm_up(tocsin_fuzz::topic_patterns);
    afl::fuzz!(|data: &[u8]| tocsin_fuzz::topic_patterns(data));
}
