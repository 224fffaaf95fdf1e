//! AFL++ target `rest_bodies`: see `tocsin_fuzz::rest_bodies`.
fn main() {
    // Build the state kept between inputs before the fork server starts.
    tocsin_fuzz::warm_up(tocsin_fuzz::rest_bodies);
    afl::fuzz!(|data: &[u8]| tocsin_fuzz::rest_bodies(data));
}
