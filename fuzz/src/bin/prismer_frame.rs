//! AFL++ target `prismer_frame`: see `tocsin_fuzz::prismer_frame`.
fn main() {
    // Build the state kept between inputs before the fork server starts.
    tocsin_fuzz::warm_up(tocsin_fuzz::prismer_frame);
    afl::fuzz!(|data: &[u8]| tocsin_fuzz::prismer_frame(data));
}
