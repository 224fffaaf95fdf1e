//! A wall-clock jump, as after a suspend: the wall clock moves two hours while the
//! monotonic clock does not. The real binary runs under libfaketime (Debian package
//! `faketime`) with `FAKETIME_DONT_FAKE_MONOTONIC=1`, its offset read from a file
//! this test rewrites; the supervisor compares the two clocks (`Clocks::slept`) and
//! must reconnect by itself. The time from the jump to the new connection is a figure.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::desk::Desk;

const LIBFAKETIME: [&str; 2] =
    ["/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"];

pub async fn wall_clock_jump() {
    let test = "wall-clock-jump";
    let Some(lib) = LIBFAKETIME.iter().find(|p| std::path::Path::new(p).exists()) else {
        return skipped(test, "libfaketime is not installed (Debian package faketime; scripts/setup.sh --test installs it)");
    };
    let desk = Desk::start(|emu| vec![("sleepy".into(), P::Daimon.account_toml(emu, "sleepy", 1000, 5000))]).await;
    let offset = desk.dir.path().join("faketime");
    std::fs::write(&offset, "+0\n").unwrap();
    let offset_path = offset.display().to_string();
    let mut app = desk.spawn(&[
        ("LD_PRELOAD", *lib),
        ("FAKETIME_TIMESTAMP_FILE", offset_path.as_str()),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
        ("FAKETIME_CACHE_DURATION", "1"),
    ]);
    desk.wait_subscribed(&mut app).await;
    P::Daimon.publish(&desk.emu, "s", 1);
    wait_until("the first event", Duration::from_secs(20), || desk.newest("sleepy").is_some()).await;
    let before = desk.emu.daimon().total_connections();
    std::fs::write(&offset, "+7200\n").unwrap();
    let jumped = Instant::now();
    wait_until("a new connection after the jump", Duration::from_secs(90), || desk.emu.daimon().total_connections() > before).await;
    let took = jumped.elapsed();
    desk.wait_subscribed(&mut app).await;
    let log = app.log();
    let woke = log.contains("the computer woke from sleep");
    P::Daimon.publish(&desk.emu, "s", 2);
    wait_until("an event after the jump", Duration::from_secs(20), || {
        desk.newest("sleepy").and_then(|e| e["subject"].as_str().and_then(seq_of)) == Some(2)
    })
    .await;
    figure(
        test,
        &format!(
            "wall clock +2 h, monotonic unchanged: reconnected {:.1} s after the jump (idle wake check every 30 s); \
             logged as a wake from sleep: {woke}",
            took.as_secs_f64()
        ),
    );
    assert!(woke, "the reconnect is the sleep detection's, not a heartbeat timeout:\n{}", app.log_tail(30));
    assert!(app.stop("TERM", Duration::from_secs(20)).await.success());
}
