//! AFL++ target `agentmail_frame`: see `tocsin_fuzz::agentmail_frame`.
fn main() {
    // Build the state kept between inputs before the fork server starts.
    tocsin_fuzz::warm_up(tocsin_fuzz::agentmail_frame);
    afl::fuzz!(|data: &[u8]| tocsin_fuzz::agentmail_frame(data));
}
