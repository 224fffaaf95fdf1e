//! AFL++ target `search_query`: see `tocsin_fuzz::search_query`.
fn main() {
    // Build the state kept between inputs before the fork server starts.
    tocsin_fuzz::warm_up(tocsin_fuzz::search_query);
    afl::fuzz!(|data: &[u8]| tocsin_fuzz::search_query(data));
}
