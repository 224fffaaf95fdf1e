//! AFL++ target `html_sanitiser`: see `tocsin_fuzz::html_sanitiser`.
fn main() {
    // Build the state kept between inputs before the fork server starts.
    tocsin_fuzz::warm_up(tocsin_fuzz::html_sanitiser);
    afl::fuzz!(|data: &[u8]| tocsin_fuzz::html_sanitiser(data));
}
