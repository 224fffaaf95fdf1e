//! Per-connection rate limits: a token bucket that paces reading a socket, so a
//! flooding server cannot starve the rest of the app (governor's GCRA on tokio's
//! clock), and a limiter for repeated warnings, so a hostile server cannot fill
//! the log.
//!
//! Nothing is dropped: when the bucket is empty the supervisor stops reading the
//! socket until a token is back (the kernel's buffers fill, then TCP flow control
//! slows the server), so every frame already received is still delivered.

use std::time::Duration;

use tokio::time::Instant;

/// How fast one connection may deliver frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained frames per second (0 = no limit).
    pub per_sec: u32,
    /// Frames that may arrive back to back before pacing starts.
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit { per_sec: 2_000, burst: 5_000 }
    }
}

impl RateLimit {
    /// What the status says while reading is slowed.
    pub fn flooding_note(&self) -> String {
        format!("the server is flooding: reading slowed to {} events/s", self.per_sec)
    }
}

/// governor's clock for tokio's time (so `tokio::time::pause` drives it in tests).
#[derive(Debug, Clone, Copy, Default)]
struct TokioClock;

impl governor::clock::Clock for TokioClock {
    type Instant = std::time::Instant;

    fn now(&self) -> std::time::Instant {
        Instant::now().into_std()
    }
}

type Limiter = governor::RateLimiter<governor::state::NotKeyed, governor::state::InMemoryState, TokioClock>;

/// A token bucket for one connection: `governor`'s GCRA limiter, plus when the
/// flood started and ended (for the status note), which governor does not tell.
pub(crate) struct Bucket {
    limit: RateLimit,
    /// `None`: no limit.
    limiter: Option<Limiter>,
    /// A token is held for the next frame (taken before the read, spent by it).
    granted: bool,
    /// When the last token was granted.
    last_grant: Instant,
    /// Reading has been slowed since the bucket last ran dry (and not refilled).
    throttled: bool,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket").field("limit", &self.limit).field("throttled", &self.throttled).finish()
    }
}

impl Bucket {
    pub(crate) fn new(limit: RateLimit, now: Instant) -> Bucket {
        let limiter = std::num::NonZeroU32::new(limit.per_sec).map(|per_sec| {
            let burst = std::num::NonZeroU32::new(limit.burst.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
            governor::RateLimiter::direct_with_clock(governor::Quota::per_second(per_sec).allow_burst(burst), TokioClock)
        });
        Bucket { limit, limiter, granted: false, last_grant: now, throttled: false }
    }

    /// `None` when a frame may be read now; otherwise when the next one may be.
    /// The first time the bucket runs dry, [`Bucket::became_throttled`] turns true.
    pub(crate) fn wait(&mut self, now: Instant) -> Option<Instant> {
        let limiter = self.limiter.as_ref()?;
        if self.granted {
            return None;
        }
        match limiter.check() {
            Ok(()) => {
                self.granted = true;
                self.last_grant = now;
                None
            }
            // At least a millisecond: the timer's resolution, and a natural batch.
            Err(not_until) => Some(Instant::from_std(not_until.earliest_possible()).max(now + Duration::from_millis(1))),
        }
    }

    /// Counts one frame read.
    pub(crate) fn take(&mut self, now: Instant) {
        if self.limiter.is_some() && !self.granted {
            // Read without asking first: take its token now.
            let _ = self.wait(now);
        }
        self.granted = false;
    }

    /// Reports the switch into throttling once: true the first time reading has to
    /// wait since the last [`Bucket::recovered`].
    pub(crate) fn became_throttled(&mut self, now: Instant) -> bool {
        if self.throttled || self.wait(now).is_none() {
            return false;
        }
        self.throttled = true;
        true
    }

    /// True once after throttling, when the bucket is full again (the flood is
    /// over): no token was needed for as long as a whole burst takes to refill.
    pub(crate) fn recovered(&mut self, now: Instant) -> bool {
        if !self.throttled {
            return false;
        }
        let refill = Duration::from_secs_f64(f64::from(self.limit.burst.max(1)) / f64::from(self.limit.per_sec.max(1)));
        if now.saturating_duration_since(self.last_grant) >= refill {
            self.throttled = false;
            return true;
        }
        false
    }
}

/// Lets a repeated warning through at most once per `every`, counting the rest.
#[derive(Debug)]
pub(crate) struct LogLimiter {
    every: Duration,
    next: Option<Instant>,
    suppressed: u64,
}

impl LogLimiter {
    pub(crate) fn new(every: Duration) -> LogLimiter {
        LogLimiter { every, next: None, suppressed: 0 }
    }

    /// `Some(n)` when this occurrence should be logged, `n` being how many were
    /// left out since the last one logged.
    pub(crate) fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.next {
            Some(next) if now < next => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.next = Some(now + self.every);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// Whether `text` (JSON, or anything) nests brackets deeper than `limit` outside
/// strings. A cheap scan done before decoding, so the decoder's own recursion is
/// never what stands between a hostile frame and the stack.
pub(crate) fn nests_deeper_than(text: impl AsRef<[u8]>, limit: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in text.as_ref() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// At most `max` characters of `s` (for log lines built from server input).
pub(crate) fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}… ({} bytes)", &s[..i], s.len()),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_bucket_allows_a_burst_then_paces_to_the_rate() {
        let limit = RateLimit { per_sec: 2_000, burst: 5_000 };
        let start = Instant::now();
        let mut b = Bucket::new(limit, start);
        // The burst goes through at once.
        for _ in 0..5_000 {
            assert_eq!(b.wait(Instant::now()), None);
            b.take(Instant::now());
        }
        let wait = b.wait(Instant::now()).expect("empty after the burst");
        assert!(b.became_throttled(Instant::now()));
        assert!(!b.became_throttled(Instant::now()), "reported once");
        assert_eq!(wait - Instant::now(), Duration::from_millis(1));
        // Read as fast as allowed for 2 s of (paused, virtual) time: about 4 000 more.
        let mut read = 0u32;
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            match b.wait(Instant::now()) {
                None => {
                    b.take(Instant::now());
                    read += 1;
                }
                Some(at) => tokio::time::sleep_until(at).await,
            }
        }
        assert!((3_990..=4_010).contains(&read), "{read} frames in 2 s at 2 000/s");
        assert!(!b.recovered(Instant::now()));
        // Quiet for the time it takes to refill: the flood is over.
        tokio::time::advance(Duration::from_millis(2_500)).await;
        assert!(b.recovered(Instant::now()));
        assert!(!b.recovered(Instant::now()), "reported once");
        assert_eq!(Instant::now() - start, Duration::from_millis(4_500));
    }

    #[tokio::test(start_paused = true)]
    async fn zero_means_no_limit() {
        let mut b = Bucket::new(RateLimit { per_sec: 0, burst: 0 }, Instant::now());
        for _ in 0..100_000 {
            assert_eq!(b.wait(Instant::now()), None);
            b.take(Instant::now());
        }
        assert!(!b.became_throttled(Instant::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn repeated_warnings_are_logged_once_per_period_with_a_count() {
        let mut l = LogLimiter::new(Duration::from_secs(10));
        assert_eq!(l.allow(Instant::now()), Some(0));
        for _ in 0..999 {
            assert_eq!(l.allow(Instant::now()), None);
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(l.allow(Instant::now()), Some(999));
    }

    #[test]
    fn nesting_is_measured_outside_strings() {
        assert!(!nests_deeper_than(r#"{"a":[1,[2,{"b":3}]]}"#, 4));
        assert!(nests_deeper_than(r#"{"a":[1,[2,{"b":[3]}]]}"#, 4));
        assert!(!nests_deeper_than(r#"{"a":"[[[[[[[[[[\"[[[["}"#, 2));
        assert!(nests_deeper_than("[".repeat(100_000), 128));
        assert!(!nests_deeper_than(format!("{}{}", "[".repeat(128), "]".repeat(128)), 128));
    }

    #[test]
    fn clip_keeps_log_lines_short() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip(&"é".repeat(20), 3), "ééé… (40 bytes)");
    }
}
