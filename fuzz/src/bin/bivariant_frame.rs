//! AFL++ target `bivariant_frame`: see `tocsin_fuzz::bivariant_frame`.
fn main() {
    // Build the state kept between inputs before the fork server starts.
    tocsin_fuzz::warm_up(tocsin_fuzz::bivariant_frame);
    afl::fuzz!(|data: &[u8]| tocsin_fuzz::bivariant_frame(data));
}
