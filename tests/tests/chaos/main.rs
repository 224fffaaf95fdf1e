//! Chaos at volume (issue 15, "Proof under fire"): forced disconnects, SIGKILL in a
//! burst, a full and a read-only history, half-open connections and sleep, and a
//! hostile server next to a healthy account, each counted in the real SQLite
//! history against the real emulator over real sockets.
//!
//! Short versions run in CI (`cargo test -p tocsin-e2e --test chaos`); they wait for
//! conditions, never for fixed times, and assert counts, never timings (timings are
//! printed as figures, `CHAOS <test>: ...`). The long versions run with
//! `TOCSIN_CHAOS_LONG=1` (`scripts/chaos.sh`, which also collects the figures):
//!
//! | knob | CI | long |
//! |---|---|---|
//! | `TOCSIN_CHAOS_ROUNDS` (forced disconnects per provider) | 50 | 1 000 |
//! | `TOCSIN_CHAOS_KILLS` (SIGKILLs during the burst) | 3 | 20 |
//! | `TOCSIN_CHAOS_BURST` (events per provider in that burst) | 2 000 | 10 000 |
//! | `TOCSIN_CHAOS_FULL` (events sent while the history cannot be written) | 300 | 5 000 |
//! | `TOCSIN_CHAOS_FLOOD` (flood events in the hostile case) | 20 000 | 200 000 |
//! | half-open detection | tokio's paused clock | real time |
//!
//! `TOCSIN_CHAOS_SEED` repeats a run's random moments (each test prints its seed).
//! Cases the machine cannot stage (a tmpfs needs CAP_SYS_ADMIN, `chattr +i` an
//! ext2/3/4-like file system, the sleep case libfaketime) print `SKIPPED: <why>`.

mod common;
mod desk;
mod disk;
mod drops;
mod halfopen;
mod hostile;
mod kill;
mod nats;
mod sleep;

use common::P;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_disconnects_daimon() {
    drops::forced_disconnects(P::Daimon).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_disconnects_agentmail() {
    drops::forced_disconnects(P::AgentMail).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_disconnects_prismer() {
    drops::forced_disconnects(P::Prismer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_disconnects_divinci() {
    drops::forced_disconnects(P::Divinci).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_disconnects_bivariant() {
    drops::forced_disconnects(P::Bivariant).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_disconnects_direct_nats() {
    nats::forced_disconnects().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_burst() {
    kill::sigkill_during_a_burst().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_during_a_stream() {
    disk::full_disk().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_history_during_a_stream() {
    disk::read_only().await;
}

/// Current-thread: the CI version pauses tokio's clock.
#[tokio::test]
async fn half_open_connections_are_detected_within_two_heartbeats() {
    halfopen::half_open().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wall_clock_jump_reconnects() {
    sleep::wall_clock_jump().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_server_beside_a_healthy_account() {
    hostile::hostile_beside_healthy().await;
}
