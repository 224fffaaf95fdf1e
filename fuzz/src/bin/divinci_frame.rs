//! AFL++ target `divinci_frame`: see `tocsin_fuzz::divinci_frame`.
fn main() {
    // Build the state kept between inputs before the fork server starts.
    tocsin_fuzz::warm_up(tocsin_fuzz::divinci_frame);
    afl::fuzz!(|data: &[u8]| tocsin_fuzz::divinci_frame(data));
}
