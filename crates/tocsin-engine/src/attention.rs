//! The attention policy: which alerts reach the desktop, when, and in what form.
//!
//! Owns: the user's [`AttentionSettings`] (quiet hours per weekday, the tier that
//! still gets through them, burst coalescing, repeats for urgent events), the tray's
//! [`Pause`], the pure decision [`decide`], and the [`Attention`] scheduler, which
//! turns offered [`Alert`]s into [`Outgoing`] notifications: single alerts, one
//! [`Summary`] per burst, and marked repeats.
//!
//! Must not: do I/O, sleep, spawn tasks, read a clock (apart from [`Moment::now`], a
//! convenience for callers), or touch D-Bus, Tauri or the store. Every function takes
//! the time it is asked about. The pipeline shows what comes back, and calls
//! [`Attention::tick`] when [`Attention::next_deadline`] comes.
//!
//! Policy, in order:
//! 1. **Pause** holds every tier, urgent included: the user asked the tray for
//!    silence. Held alerts are dropped. They stay in the history and the tray's
//!    unread count, and they are not shown later.
//! 2. **Quiet hours** hold tiers below [`AttentionSettings::quiet_min_tier`] (by
//!    default only urgent gets through). A window belongs to the weekday it starts
//!    on. An `end` at or before its `start` runs past midnight into the next day, so
//!    `Fri 22:00–07:00` covers Saturday 03:00. `start == end` covers 24 hours.
//! 3. **Coalescing**: no more than `coalesce_max` (N) notifications start in any
//!    `coalesce_window_secs` (T) seconds. While there is room, alerts go out one by
//!    one. After that, alerts are collected and released as one [`Summary`]
//!    ("25 urgent emails in 3 inboxes") when the oldest notification in the window
//!    ages out. A summary of a single alert goes out as that alert. Singles,
//!    summaries and repeats all count towards N. A flood therefore gives N singles,
//!    then at most one summary per window.
//! 4. **Repeats** (optional): an urgent event that was shown is shown again, as
//!    [`Outgoing::Repeat`], every `repeat_urgent_secs` until [`Attention::resolved`]
//!    (read or dismissed). Repeats are held while paused and deferred while the
//!    window is full. If more repeats are due than the window has room for, they
//!    become one reminder summary ("Still unread: …").
//!
//! Guarantee: an event is shown at most once as a single alert or as part of a
//! summary. Only explicit repeats (and reminder summaries) show it again. The
//! duplicate guard remembers the last [`MAX_SEEN`] offered event ids. Every map is
//! bounded (see the `MAX_*` constants).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Datelike, Local, NaiveTime, TimeZone, Timelike, Weekday};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tocsin_model::Tier;

use crate::notifier::Alert;

/// How many offered event ids the duplicate guard remembers.
pub const MAX_SEEN: usize = 8192;
/// How many unresolved urgent events are repeated; beyond this the oldest stops.
pub const MAX_REPEATING: usize = 1024;
/// How many alerts a pending summary keeps in full (ids, and the alert itself when
/// the summary turns out to hold one); the rest are only counted.
pub const MAX_SUMMARY_ITEMS: usize = 1000;
/// How many distinct inboxes the counted rest of a summary tells apart.
pub const MAX_SUMMARY_INBOXES: usize = 256;

/// Largest `coalesce_max`.
pub const MAX_COALESCE: u32 = 100;
/// Largest `coalesce_window_secs` (one hour).
pub const MAX_COALESCE_WINDOW_SECS: u32 = 3600;
/// Smallest and largest `repeat_urgent_secs`.
pub const REPEAT_SECS_RANGE: (u32, u32) = (30, 86_400);

/// The local time "until tomorrow" pauses end at.
pub const TOMORROW_AT: NaiveTime = match NaiveTime::from_hms_opt(8, 0, 0) {
    Some(t) => t,
    None => panic!("valid time"),
};
/// Before this local hour a night is not over yet, so "until tomorrow" means this
/// morning's [`TOMORROW_AT`].
pub const NIGHT_ENDS_HOUR: u32 = 4;

/// Why an alert was held: the user paused notifications.
pub const HOLD_PAUSED: &str = "paused";
/// Why an alert was held: quiet hours, and the alert's tier is below the one that
/// gets through.
pub const HOLD_QUIET: &str = "quiet hours";

// ---------------------------------------------------------------------------------
// Settings

/// The user's attention settings. Serialised as it is stored and edited, for
/// example in TOML:
///
/// ```toml
/// quiet_min_tier = "urgent"
/// coalesce_max = 5
/// coalesce_window_secs = 30
/// repeat_urgent_secs = 300
/// [[quiet_hours]]
/// days = ["mon", "tue", "wed", "thu", "fri"]
/// start = "22:00"
/// end = "07:00"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(default, deny_unknown_fields)]
#[ts(export)]
pub struct AttentionSettings {
    /// When only [`quiet_min_tier`](Self::quiet_min_tier) and above get through.
    pub quiet_hours: Vec<QuietWindow>,
    /// The lowest tier that still gets through quiet hours. Default: urgent.
    pub quiet_min_tier: Tier,
    /// N: at most this many notifications start in any `coalesce_window_secs`.
    /// Default 5.
    pub coalesce_max: u32,
    /// T, in seconds. Default 30.
    pub coalesce_window_secs: u32,
    /// Repeat urgent events every this many seconds until read or dismissed.
    /// `None` (the default) turns repeats off.
    pub repeat_urgent_secs: Option<u32>,
    /// The master switch: off, events are stored and counted but no desktop
    /// notification is shown. Default on.
    pub notifications_enabled: bool,
    /// Whether alerts may play the sound a rule asks for. Default on.
    pub sound: bool,
}

impl Default for AttentionSettings {
    fn default() -> Self {
        AttentionSettings {
            quiet_hours: Vec::new(),
            quiet_min_tier: Tier::Urgent,
            coalesce_max: 5,
            coalesce_window_secs: 30,
            repeat_urgent_secs: None,
            notifications_enabled: true,
            sound: true,
        }
    }
}

/// One quiet-hours window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct QuietWindow {
    /// The days the window *starts* on (`"mon"`, `"monday"`, `"Mon"` are all
    /// accepted).
    #[ts(type = "Array<\"Mon\" | \"Tue\" | \"Wed\" | \"Thu\" | \"Fri\" | \"Sat\" | \"Sun\">")]
    pub days: Vec<Weekday>,
    /// Local time of day, `"HH:MM"` (`"H:MM"` is accepted too).
    pub start: String,
    /// Local time of day, `"HH:MM"`. At or before `start`, the window runs past
    /// midnight and ends on the next day. Equal to `start`, it lasts 24 hours.
    pub end: String,
}

/// A settings problem, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct AttentionError {
    /// For example `quiet_hours[2].start` (counted from 1) or `coalesce_max`.
    pub field: String,
    pub problem: String,
}

impl AttentionError {
    fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        AttentionError { field: field.into(), problem: problem.into() }
    }
}

/// Parses `"HH:MM"` (or `"H:MM"`), 00:00 to 23:59, into minutes after midnight.
pub fn parse_time_of_day(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !(1..=2).contains(&h.len()) || m.len() != 2 || !digits(h) || !digits(m) {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

impl QuietWindow {
    /// A window starting on each of `days`.
    pub fn new(days: impl IntoIterator<Item = Weekday>, start: &str, end: &str) -> Self {
        QuietWindow { days: days.into_iter().collect(), start: start.to_owned(), end: end.to_owned() }
    }

    /// Start and end in minutes after midnight, if both parse.
    pub fn minutes(&self) -> Option<(u16, u16)> {
        Some((parse_time_of_day(&self.start)?, parse_time_of_day(&self.end)?))
    }

    /// Whether local `weekday` at `minute_of_day` (0..1440) falls in this window.
    /// A window that does not parse covers nothing (validation reports it).
    pub fn covers(&self, weekday: Weekday, minute_of_day: u16) -> bool {
        let Some((start, end)) = self.minutes() else { return false };
        if end > start {
            self.days.contains(&weekday) && (start..end).contains(&minute_of_day)
        } else {
            // Runs past midnight: the evening of a listed day, or the morning after it.
            (self.days.contains(&weekday) && minute_of_day >= start) || (self.days.contains(&weekday.pred()) && minute_of_day < end)
        }
    }

    fn validate(&self, index: usize) -> Result<(), AttentionError> {
        let field = |name: &str| format!("quiet_hours[{index}].{name}");
        if self.days.is_empty() {
            return Err(AttentionError::new(field("days"), "choose at least one day the quiet hours start on"));
        }
        for (name, value) in [("start", &self.start), ("end", &self.end)] {
            if parse_time_of_day(value).is_none() {
                return Err(AttentionError::new(
                    field(name),
                    format!("\"{value}\" is not a time of day; use HH:MM from 00:00 to 23:59 (an end of 00:00 is midnight)"),
                ));
            }
        }
        Ok(())
    }
}

impl AttentionSettings {
    /// Checks every field. Returns the first problem found.
    pub fn validate(&self) -> Result<(), AttentionError> {
        for (i, w) in self.quiet_hours.iter().enumerate() {
            w.validate(i + 1)?;
        }
        if !(1..=MAX_COALESCE).contains(&self.coalesce_max) {
            return Err(AttentionError::new(
                "coalesce_max",
                format!("{} is out of range; allow 1 to {MAX_COALESCE} notifications before they are summarised", self.coalesce_max),
            ));
        }
        if !(1..=MAX_COALESCE_WINDOW_SECS).contains(&self.coalesce_window_secs) {
            return Err(AttentionError::new(
                "coalesce_window_secs",
                format!("{} is out of range; use 1 to {MAX_COALESCE_WINDOW_SECS} seconds", self.coalesce_window_secs),
            ));
        }
        if let Some(secs) = self.repeat_urgent_secs {
            let (lo, hi) = REPEAT_SECS_RANGE;
            if !(lo..=hi).contains(&secs) {
                return Err(AttentionError::new(
                    "repeat_urgent_secs",
                    format!("{secs} is out of range; repeat every {lo} to {hi} seconds, or leave it out to turn repeats off"),
                ));
            }
        }
        Ok(())
    }

    /// Whether any quiet-hours window covers local `weekday` at `minute_of_day`.
    pub fn quiet_at(&self, weekday: Weekday, minute_of_day: u16) -> bool {
        self.quiet_hours.iter().any(|w| w.covers(weekday, minute_of_day))
    }

    fn max(&self) -> usize {
        self.coalesce_max.max(1) as usize
    }

    fn window(&self) -> Duration {
        Duration::from_secs(u64::from(self.coalesce_window_secs.max(1)))
    }

    fn repeat_every(&self) -> Option<Duration> {
        self.repeat_urgent_secs.map(|s| Duration::from_secs(u64::from(s.max(1))))
    }
}

// ---------------------------------------------------------------------------------
// Pause

/// The tray's pause. `Until` is a Unix time in milliseconds. Serialised as
/// `{"mode": "off"}`, `{"mode": "until", "until_ms": 1700000000000}` or
/// `{"mode": "forever"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "mode", content = "until_ms", rename_all = "lowercase")]
pub enum Pause {
    #[default]
    Off,
    Until(i64),
    /// Until resumed.
    Forever,
}

impl Pause {
    /// Whether the pause holds alerts at Unix time `now_ms`.
    pub fn is_active(&self, now_ms: i64) -> bool {
        match *self {
            Pause::Off => false,
            Pause::Until(end) => now_ms < end,
            Pause::Forever => true,
        }
    }

    /// This pause as of `now_ms`: an `Until` that has passed becomes `Off`.
    pub fn current(self, now_ms: i64) -> Pause {
        if self.is_active(now_ms) {
            self
        } else {
            Pause::Off
        }
    }
}

/// "Pause for 1 hour": until `now` + 60 minutes.
pub fn pause_for_hour<Tz: TimeZone>(now: &DateTime<Tz>) -> Pause {
    Pause::Until(now.timestamp_millis() + 3_600_000)
}

/// "Pause until tomorrow": until [`TOMORROW_AT`] (08:00) local time, in `now`'s
/// time zone, on the day after `now`. Between midnight and [`NIGHT_ENDS_HOUR`]
/// (04:00) the night is not over, so the pause ends at 08:00 the same morning.
/// If 08:00 does not exist that day (a DST gap), the pause ends an hour later.
pub fn pause_until_tomorrow<Tz: TimeZone>(now: &DateTime<Tz>) -> Pause {
    let local = now.naive_local();
    let day = if local.hour() < NIGHT_ENDS_HOUR { Some(local.date()) } else { local.date().succ_opt() };
    let tz = now.timezone();
    let end = day.and_then(|d| {
        let target = d.and_time(TOMORROW_AT);
        tz.from_local_datetime(&target)
            .earliest()
            .or_else(|| tz.from_local_datetime(&(target + chrono::Duration::hours(1))).earliest())
    });
    Pause::Until(end.map_or(now.timestamp_millis() + 24 * 3_600_000, |t| t.timestamp_millis()))
}

/// "Resume": no pause.
pub fn resume() -> Pause {
    Pause::Off
}

// ---------------------------------------------------------------------------------
// The decision

/// Whether an alert may be shown now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Deliver,
    /// [`HOLD_PAUSED`] or [`HOLD_QUIET`].
    Hold(&'static str),
}

/// Decides for an alert of `tier` at local time `now` (its weekday and time of day
/// in its own time zone; its instant for the pause). Pure.
pub fn decide<Tz: TimeZone>(settings: &AttentionSettings, pause: &Pause, tier: Tier, now: &DateTime<Tz>) -> Decision {
    decide_at(settings, pause.is_active(now.timestamp_millis()), tier, now.weekday(), minute_of_day(now))
}

/// [`decide`] from parts: whether the pause is active, and the local weekday and
/// minute of the day (0..1440).
pub fn decide_at(settings: &AttentionSettings, paused: bool, tier: Tier, weekday: Weekday, minute_of_day: u16) -> Decision {
    if paused {
        Decision::Hold(HOLD_PAUSED)
    } else if tier < settings.quiet_min_tier && settings.quiet_at(weekday, minute_of_day) {
        Decision::Hold(HOLD_QUIET)
    } else {
        Decision::Deliver
    }
}

/// Minutes after local midnight.
pub fn minute_of_day<Tz: TimeZone>(t: &DateTime<Tz>) -> u16 {
    (t.hour() * 60 + t.minute()) as u16
}

// ---------------------------------------------------------------------------------
// The scheduler

/// A point in time, as both clocks see it. `instant` drives windows and repeats
/// (tokio's clock, so tests can pause it), and `local` drives quiet hours and the
/// pause.
#[derive(Debug, Clone)]
pub struct Moment<Tz: TimeZone = Local> {
    pub instant: Instant,
    pub local: DateTime<Tz>,
}

impl Moment<Local> {
    /// Now, by tokio's clock and the local wall clock.
    pub fn now() -> Self {
        Moment { instant: Instant::now(), local: Local::now() }
    }
}

impl<Tz: TimeZone> Moment<Tz> {
    pub fn new(instant: Instant, local: DateTime<Tz>) -> Self {
        Moment { instant, local }
    }

    /// This moment plus `d`, on both clocks.
    pub fn after(&self, d: Duration) -> Self {
        let local = self.local.clone() + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        Moment { instant: self.instant + d, local }
    }
}

/// Something to show now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// An alert shown for the first time.
    Single(Alert),
    /// An urgent alert shown again, because it is still unread. The notifier should
    /// replace the earlier notification of the same event (`replaces_id`), not add
    /// one.
    Repeat(Alert),
    /// Several alerts, shown as one.
    Summary(Summary),
}

impl Outgoing {
    /// The events this notification is about.
    pub fn event_ids(&self) -> Vec<i64> {
        match self {
            Outgoing::Single(a) | Outgoing::Repeat(a) => vec![a.event_id],
            Outgoing::Summary(s) => s.event_ids.clone(),
        }
    }
}

/// Several alerts shown as one notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// How many alerts it stands for.
    pub count: usize,
    /// The highest tier among them.
    pub tier: Tier,
    /// How many distinct inboxes they came from (in a flood past
    /// [`MAX_SUMMARY_ITEMS`] alerts and [`MAX_SUMMARY_INBOXES`] inboxes, a lower bound).
    pub inboxes: usize,
    /// For people: "25 urgent emails in 3 inboxes", "12 emails in 2 inboxes
    /// (3 urgent)", "Still unread: 4 urgent emails in 1 inbox".
    pub text: String,
    /// The events, oldest first. At most [`MAX_SUMMARY_ITEMS`] of them: in a larger
    /// flood the rest are only counted.
    pub event_ids: Vec<i64>,
    /// A reminder of still-unread urgent events (repeats), not new ones.
    pub reminder: bool,
}

const TIERS: [Tier; 4] = [Tier::Low, Tier::Normal, Tier::High, Tier::Urgent];

fn tier_index(t: Tier) -> usize {
    TIERS.iter().position(|x| *x == t).unwrap_or(0)
}

/// Counts per tier (indexed like [`TIERS`]).
type TierCounts = [usize; 4];

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// The summary text for `counts` alerts from `inboxes` inboxes.
fn summary_text(counts: &TierCounts, inboxes: usize, reminder: bool) -> String {
    let total: usize = counts.iter().sum();
    let top = (0..4).rev().find(|&i| counts[i] > 0).unwrap_or(0);
    let mixed = counts.iter().filter(|&&c| c > 0).count() > 1;
    let noun = plural(total, "email", "emails");
    let places = format!("{inboxes} {}", plural(inboxes, "inbox", "inboxes"));
    let text = if mixed {
        format!("{total} {noun} in {places} ({} {})", counts[top], TIERS[top].as_str())
    } else {
        format!("{total} {} {noun} in {places}", TIERS[top].as_str())
    };
    if reminder {
        format!("Still unread: {text}")
    } else {
        text
    }
}

fn summary(counts: TierCounts, inboxes: usize, event_ids: Vec<i64>, reminder: bool) -> Summary {
    let top = (0..4).rev().find(|&i| counts[i] > 0).unwrap_or(0);
    Summary {
        count: counts.iter().sum(),
        tier: TIERS[top],
        inboxes,
        text: summary_text(&counts, inboxes, reminder),
        event_ids,
        reminder,
    }
}

#[derive(Debug, Clone)]
struct Item {
    alert: Alert,
    inbox: String,
}

/// Alerts waiting for the window to have room, to go out as one summary.
#[derive(Debug)]
struct Batch {
    flush_at: Instant,
    /// The first [`MAX_SUMMARY_ITEMS`], in full.
    items: Vec<Item>,
    /// The rest, counted per inbox and tier. Inboxes beyond [`MAX_SUMMARY_INBOXES`]
    /// share the `None` key, which the inbox count leaves out (it never says more
    /// inboxes than there were).
    overflow: HashMap<Option<String>, TierCounts>,
}

impl Batch {
    fn add(&mut self, item: Item) {
        if self.items.len() < MAX_SUMMARY_ITEMS {
            self.items.push(item);
            return;
        }
        let key = Some(item.inbox);
        let key = if self.overflow.contains_key(&key) || self.overflow.len() < MAX_SUMMARY_INBOXES { key } else { None };
        self.overflow.entry(key).or_default()[tier_index(item.alert.tier)] += 1;
    }
}

#[derive(Debug, Clone)]
struct Repeating {
    alert: Alert,
    inbox: String,
    next_at: Instant,
}

/// The stateful scheduler: feed it alerts with [`offer`](Self::offer), call
/// [`tick`](Self::tick) at [`next_deadline`](Self::next_deadline), and show what
/// either returns, in order.
#[derive(Debug)]
pub struct Attention {
    settings: AttentionSettings,
    pause: Pause,
    /// When each notification in the current window started, oldest first.
    sent: VecDeque<Instant>,
    batch: Option<Batch>,
    /// Shown, unresolved urgent events, by event id (oldest first).
    repeating: BTreeMap<i64, Repeating>,
    seen: HashSet<i64>,
    seen_order: VecDeque<i64>,
}

impl Attention {
    /// A scheduler with `settings` (meant to be validated; out-of-range numbers are
    /// clamped rather than trusted) and no pause.
    pub fn new(settings: AttentionSettings) -> Self {
        Attention {
            settings,
            pause: Pause::Off,
            sent: VecDeque::new(),
            batch: None,
            repeating: BTreeMap::new(),
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
        }
    }

    pub fn settings(&self) -> &AttentionSettings {
        &self.settings
    }

    /// Validates and applies new settings. A pending summary keeps its release time.
    /// Turning repeats off forgets every repeat.
    pub fn set_settings(&mut self, settings: AttentionSettings) -> Result<(), AttentionError> {
        settings.validate()?;
        if settings.repeat_urgent_secs.is_none() {
            self.repeating.clear();
        }
        self.settings = settings;
        Ok(())
    }

    /// The pause as set (an `Until` in the past still shows until the next
    /// [`tick`](Self::tick); use [`Pause::current`] for display).
    pub fn pause(&self) -> Pause {
        self.pause
    }

    /// Sets the pause ([`pause_for_hour`], [`pause_until_tomorrow`], [`resume`],
    /// [`Pause::Forever`]).
    pub fn set_pause(&mut self, pause: Pause) {
        self.pause = pause;
    }

    /// [`decide`] with this scheduler's settings and pause.
    pub fn decide<Tz: TimeZone>(&self, tier: Tier, now: &DateTime<Tz>) -> Decision {
        decide(&self.settings, &self.pause, tier, now)
    }

    /// Offers a new alert, counted as coming from the inbox `alert.account`. Returns
    /// what to show now, in order: anything [`tick`](Self::tick) had due, then this
    /// alert if it goes out on its own. A held alert or an event id already offered
    /// returns nothing for it.
    pub fn offer<Tz: TimeZone>(&mut self, alert: Alert, now: &Moment<Tz>) -> Vec<Outgoing> {
        self.offer_in(alert, None, now)
    }

    /// [`offer`](Self::offer), naming the inbox the alert came from (`None`: its
    /// account), for summaries' "in 3 inboxes".
    pub fn offer_in<Tz: TimeZone>(&mut self, alert: Alert, inbox: Option<&str>, now: &Moment<Tz>) -> Vec<Outgoing> {
        let mut out = self.tick(now);
        if !self.remember(alert.event_id) {
            tracing::debug!(event = alert.event_id, "already offered; not notifying again");
            return out;
        }
        if let Decision::Hold(reason) = self.decide(alert.tier, &now.local) {
            tracing::debug!(event = alert.event_id, reason, "alert held");
            return out;
        }
        let item = Item { inbox: inbox.unwrap_or(&alert.account).to_owned(), alert };
        self.prune(now.instant);
        if self.batch.is_none() && self.sent.len() < self.settings.max() {
            self.sent.push_back(now.instant);
            self.track(&item, now.instant);
            out.push(Outgoing::Single(item.alert));
        } else {
            let flush_at = self.room_at(now.instant);
            self.batch
                .get_or_insert_with(|| Batch { flush_at, items: Vec::new(), overflow: HashMap::new() })
                .add(item);
        }
        out
    }

    /// Releases a summary whose window has ended, and repeats that are due. Returns
    /// what to show now, in order.
    pub fn tick<Tz: TimeZone>(&mut self, now: &Moment<Tz>) -> Vec<Outgoing> {
        self.pause = self.pause.current(now.local.timestamp_millis());
        self.prune(now.instant);
        let mut out = Vec::new();
        if self.batch.as_ref().is_some_and(|b| b.flush_at <= now.instant) {
            let batch = self.batch.take().expect("checked");
            out.extend(self.flush(batch, now));
        }
        out.extend(self.repeats(now));
        out
    }

    /// When [`tick`](Self::tick) next has something to do (a summary to release or a
    /// repeat due), if ever.
    pub fn next_deadline(&self) -> Option<Instant> {
        let flush = self.batch.as_ref().map(|b| b.flush_at);
        let repeat = if self.settings.repeat_urgent_secs.is_some() { self.repeating.values().map(|r| r.next_at).min() } else { None };
        match (flush, repeat) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The user read or dismissed `event_id`: stop repeating it, and leave it out of
    /// a summary not yet shown. Returns whether it was being tracked.
    pub fn resolved(&mut self, event_id: i64) -> bool {
        let repeated = self.repeating.remove(&event_id).is_some();
        let mut pending = false;
        if let Some(batch) = &mut self.batch {
            let before = batch.items.len();
            batch.items.retain(|i| i.alert.event_id != event_id);
            pending = batch.items.len() != before;
        }
        repeated || pending
    }

    /// Drops every trace of `event_id`, including the duplicate guard, for when the
    /// event left the history (its id may be used again).
    pub fn forget(&mut self, event_id: i64) {
        self.resolved(event_id);
        if self.seen.remove(&event_id) {
            self.seen_order.retain(|&id| id != event_id);
        }
    }

    /// How many urgent events are being repeated.
    pub fn repeating(&self) -> usize {
        self.repeating.len()
    }

    /// How many alerts wait for the next summary.
    pub fn pending(&self) -> usize {
        self.batch.as_ref().map_or(0, |b| b.items.len() + b.overflow.values().flatten().sum::<usize>())
    }

    /// Records `event_id` as offered. Returns false if it already was.
    fn remember(&mut self, event_id: i64) -> bool {
        if !self.seen.insert(event_id) {
            return false;
        }
        self.seen_order.push_back(event_id);
        while self.seen_order.len() > MAX_SEEN {
            if let Some(old) = self.seen_order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }

    /// Drops notifications older than the window.
    fn prune(&mut self, now: Instant) {
        let window = self.settings.window();
        while self.sent.front().is_some_and(|&t| t + window <= now) {
            self.sent.pop_front();
        }
        // Bounded even if N shrank: only the newest N matter.
        while self.sent.len() > self.settings.max().max(1) * 2 {
            self.sent.pop_front();
        }
    }

    /// How many more notifications the window takes now (0 while a summary waits).
    fn room(&self) -> usize {
        if self.batch.is_some() {
            0
        } else {
            self.settings.max().saturating_sub(self.sent.len())
        }
    }

    /// When the window next has room: the oldest notification in it ages out.
    fn room_at(&self, now: Instant) -> Instant {
        match self.batch.as_ref() {
            Some(b) => b.flush_at,
            None => self.sent.front().map_or(now, |&t| t + self.settings.window()),
        }
    }

    /// Starts repeating `item` if it is urgent and repeats are on.
    fn track(&mut self, item: &Item, now: Instant) {
        let Some(every) = self.settings.repeat_every() else { return };
        if item.alert.tier != Tier::Urgent {
            return;
        }
        self.repeating
            .insert(item.alert.event_id, Repeating { alert: item.alert.clone(), inbox: item.inbox.clone(), next_at: now + every });
        while self.repeating.len() > MAX_REPEATING {
            self.repeating.pop_first();
        }
    }

    /// Releases `batch`, minus what would be held now.
    fn flush<Tz: TimeZone>(&mut self, mut batch: Batch, now: &Moment<Tz>) -> Option<Outgoing> {
        let deliver: [bool; 4] = TIERS.map(|t| self.decide(t, &now.local) == Decision::Deliver);
        batch.items.retain(|i| deliver[tier_index(i.alert.tier)]);
        let mut counts: TierCounts = [0; 4];
        let mut inboxes: HashSet<Option<&str>> = HashSet::new();
        for i in &batch.items {
            counts[tier_index(i.alert.tier)] += 1;
            inboxes.insert(Some(&i.inbox));
        }
        for (inbox, c) in &batch.overflow {
            let mut any = false;
            for t in 0..4 {
                if deliver[t] && c[t] > 0 {
                    counts[t] += c[t];
                    any = true;
                }
            }
            if any && inbox.is_some() {
                inboxes.insert(inbox.as_deref());
            }
        }
        let inbox_count = inboxes.len();
        drop(inboxes);
        let total: usize = counts.iter().sum();
        if total == 0 {
            return None;
        }
        self.sent.push_back(now.instant);
        if total == 1 && batch.items.len() == 1 {
            let item = batch.items.pop().expect("one item");
            self.track(&item, now.instant);
            return Some(Outgoing::Single(item.alert));
        }
        let event_ids = batch.items.iter().map(|i| i.alert.event_id).collect();
        for item in &batch.items {
            self.track(item, now.instant);
        }
        Some(Outgoing::Summary(summary(counts, inbox_count, event_ids, false)))
    }

    /// Repeats that are due, as room allows.
    fn repeats<Tz: TimeZone>(&mut self, now: &Moment<Tz>) -> Vec<Outgoing> {
        let Some(every) = self.settings.repeat_every() else {
            self.repeating.clear();
            return Vec::new();
        };
        let due: Vec<i64> = self.repeating.iter().filter(|(_, r)| r.next_at <= now.instant).map(|(&id, _)| id).collect();
        if due.is_empty() {
            return Vec::new();
        }
        let later = if self.decide(Tier::Urgent, &now.local) != Decision::Deliver {
            // Paused: skip this round.
            Some(now.instant + every)
        } else if self.room() == 0 {
            // The window is full: wait until it has room.
            Some(self.room_at(now.instant))
        } else {
            None
        };
        if let Some(at) = later {
            for id in &due {
                if let Some(r) = self.repeating.get_mut(id) {
                    r.next_at = at.max(now.instant + Duration::from_millis(1));
                }
            }
            return Vec::new();
        }
        let room = self.room();
        for id in &due {
            if let Some(r) = self.repeating.get_mut(id) {
                r.next_at = now.instant + every;
            }
        }
        let due: Vec<&Repeating> = due.iter().filter_map(|id| self.repeating.get(id)).collect();
        if due.len() <= room {
            let out: Vec<Outgoing> = due.iter().map(|r| Outgoing::Repeat(r.alert.clone())).collect();
            self.sent.extend(std::iter::repeat_n(now.instant, out.len()));
            out
        } else {
            let mut counts: TierCounts = [0; 4];
            counts[tier_index(Tier::Urgent)] = due.len();
            let inboxes = due.iter().map(|r| r.inbox.as_str()).collect::<HashSet<_>>().len();
            let ids = due.iter().map(|r| r.alert.event_id).collect();
            self.sent.push_back(now.instant);
            vec![Outgoing::Summary(summary(counts, inboxes, ids, true))]
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Deliver => f.write_str("deliver"),
            Decision::Hold(reason) => write!(f, "hold ({reason})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, Utc};
    use Weekday::*;

    fn alert(id: i64, account: &str, tier: Tier) -> Alert {
        Alert { event_id: id, account: account.into(), tier, summary: format!("subject {id}"), body: String::new(), sound: None }
    }

    /// 2025-01-03 is a Friday.
    fn local(day: u32, h: u32, m: u32) -> DateTime<FixedOffset> {
        FixedOffset::east_opt(2 * 3600).unwrap().with_ymd_and_hms(2025, 1, day, h, m, 0).unwrap()
    }

    fn quiet(windows: Vec<QuietWindow>) -> AttentionSettings {
        AttentionSettings { quiet_hours: windows, ..AttentionSettings::default() }
    }

    fn d(settings: &AttentionSettings, tier: Tier, at: DateTime<FixedOffset>) -> Decision {
        decide(settings, &Pause::Off, tier, &at)
    }

    const HELD: Decision = Decision::Hold(HOLD_QUIET);

    #[test]
    fn a_window_spanning_midnight_belongs_to_the_day_it_starts() {
        let s = quiet(vec![QuietWindow::new([Fri], "22:00", "07:00")]);
        assert_eq!(local(3, 0, 0).weekday(), Fri);
        assert_eq!(d(&s, Tier::Normal, local(3, 21, 59)), Decision::Deliver);
        assert_eq!(d(&s, Tier::Normal, local(3, 22, 0)), HELD);
        assert_eq!(d(&s, Tier::Normal, local(3, 23, 59)), HELD);
        assert_eq!(d(&s, Tier::Normal, local(4, 3, 0)), HELD, "Saturday 03:00 is in Friday's window");
        assert_eq!(d(&s, Tier::High, local(4, 6, 59)), HELD);
        assert_eq!(d(&s, Tier::Normal, local(4, 7, 0)), Decision::Deliver, "the end is exclusive");
        assert_eq!(d(&s, Tier::Normal, local(4, 23, 0)), Decision::Deliver, "no window starts on Saturday");
        assert_eq!(d(&s, Tier::Normal, local(3, 3, 0)), Decision::Deliver, "Friday morning belongs to Thursday");
        assert_eq!(d(&s, Tier::Urgent, local(4, 3, 0)), Decision::Deliver, "urgent gets through by default");
    }

    #[test]
    fn windows_apply_per_weekday() {
        let s = quiet(vec![QuietWindow::new([Mon, Wed], "12:00", "13:30"), QuietWindow::new([Sun], "00:00", "23:59")]);
        // 2025-01-06 is a Monday.
        assert_eq!(d(&s, Tier::Low, local(6, 12, 0)), HELD);
        assert_eq!(d(&s, Tier::Low, local(6, 13, 29)), HELD);
        assert_eq!(d(&s, Tier::Low, local(6, 13, 30)), Decision::Deliver);
        assert_eq!(d(&s, Tier::Low, local(7, 12, 30)), Decision::Deliver, "Tuesday");
        assert_eq!(d(&s, Tier::Low, local(8, 12, 30)), HELD, "Wednesday");
        assert_eq!(d(&s, Tier::Low, local(5, 15, 0)), HELD, "Sunday");
        assert_eq!(d(&s, Tier::Low, local(6, 0, 0)), Decision::Deliver, "a same-day window does not spill into Monday");
    }

    #[test]
    fn equal_start_and_end_is_a_whole_day() {
        let s = quiet(vec![QuietWindow::new([Fri], "09:00", "09:00")]);
        assert_eq!(d(&s, Tier::Low, local(3, 8, 59)), Decision::Deliver);
        assert_eq!(d(&s, Tier::Low, local(3, 9, 0)), HELD);
        assert_eq!(d(&s, Tier::Low, local(4, 8, 59)), HELD);
        assert_eq!(d(&s, Tier::Low, local(4, 9, 0)), Decision::Deliver);
    }

    #[test]
    fn the_minimum_tier_gets_through_quiet_hours() {
        let mut s = quiet(vec![QuietWindow::new([Fri], "20:00", "00:00")]);
        s.quiet_min_tier = Tier::High;
        let at = local(3, 23, 0);
        assert_eq!(d(&s, Tier::Urgent, at), Decision::Deliver);
        assert_eq!(d(&s, Tier::High, at), Decision::Deliver);
        assert_eq!(d(&s, Tier::Normal, at), HELD);
        assert_eq!(d(&s, Tier::Low, at), HELD);
        assert_eq!(d(&s, Tier::Low, local(4, 0, 0)), Decision::Deliver, "an end of 00:00 is midnight");
        s.quiet_min_tier = Tier::Low;
        assert_eq!(d(&s, Tier::Low, at), Decision::Deliver);
    }

    #[test]
    fn quiet_hours_use_the_local_clock_of_the_date_time_given() {
        let s = quiet(vec![QuietWindow::new([Fri], "22:00", "07:00")]);
        // 21:30 UTC on Friday is 23:30 at UTC+2: quiet there, not at UTC.
        let utc = Utc.with_ymd_and_hms(2025, 1, 3, 21, 30, 0).unwrap();
        assert_eq!(decide(&s, &Pause::Off, Tier::Normal, &utc), Decision::Deliver);
        assert_eq!(decide(&s, &Pause::Off, Tier::Normal, &utc.with_timezone(&FixedOffset::east_opt(7200).unwrap())), HELD);
        assert_eq!(decide_at(&s, false, Tier::Normal, Sat, 6 * 60), HELD);
        assert_eq!(decide_at(&s, true, Tier::Urgent, Tue, 12 * 60), Decision::Hold(HOLD_PAUSED));
    }

    #[test]
    fn pause_holds_every_tier_and_wins_over_quiet_hours() {
        let s = quiet(vec![QuietWindow::new([Fri], "22:00", "07:00")]);
        let now = local(3, 23, 0);
        let ms = now.timestamp_millis();
        for tier in TIERS {
            assert_eq!(decide(&s, &Pause::Forever, tier, &now), Decision::Hold(HOLD_PAUSED));
            assert_eq!(decide(&s, &Pause::Until(ms + 1), tier, &now), Decision::Hold(HOLD_PAUSED));
        }
        assert_eq!(decide(&s, &Pause::Until(ms), Tier::Urgent, &now), Decision::Deliver, "an Until that has come is over");
        assert_eq!(decide(&s, &resume(), Tier::Urgent, &now), Decision::Deliver);
        assert_eq!(Pause::Until(ms).current(ms), Pause::Off);
        assert_eq!(Pause::Until(ms + 1).current(ms), Pause::Until(ms + 1));
        assert_eq!(Pause::Forever.current(ms), Pause::Forever);
    }

    #[test]
    fn pause_helpers() {
        let now = local(3, 15, 20);
        assert_eq!(pause_for_hour(&now), Pause::Until(now.timestamp_millis() + 3_600_000));
        assert_eq!(pause_until_tomorrow(&now), Pause::Until(local(4, 8, 0).timestamp_millis()));
        // At 02:30 the night is not over: this morning at 08:00.
        assert_eq!(pause_until_tomorrow(&local(4, 2, 30)), Pause::Until(local(4, 8, 0).timestamp_millis()));
        assert_eq!(pause_until_tomorrow(&local(4, 4, 0)), Pause::Until(local(5, 8, 0).timestamp_millis()));
        assert_eq!(pause_until_tomorrow(&local(4, 23, 59)), Pause::Until(local(5, 8, 0).timestamp_millis()));
        // Month ends roll over.
        let last = FixedOffset::east_opt(0).unwrap().with_ymd_and_hms(2025, 1, 31, 12, 0, 0).unwrap();
        let next = FixedOffset::east_opt(0).unwrap().with_ymd_and_hms(2025, 2, 1, 8, 0, 0).unwrap();
        assert_eq!(pause_until_tomorrow(&last), Pause::Until(next.timestamp_millis()));
        assert_eq!(resume(), Pause::Off);
    }

    #[test]
    fn pause_serialises() {
        for p in [Pause::Off, Pause::Until(1_700_000_000_000), Pause::Forever] {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(serde_json::from_str::<Pause>(&json).unwrap(), p);
        }
        assert_eq!(serde_json::to_string(&Pause::Until(5)).unwrap(), r#"{"mode":"until","until_ms":5}"#);
        assert_eq!(serde_json::from_str::<Pause>(r#"{"mode":"forever"}"#).unwrap(), Pause::Forever);
    }

    #[test]
    fn settings_serialise_and_default() {
        let s: AttentionSettings = toml::from_str(
            r#"
            quiet_min_tier = "high"
            repeat_urgent_secs = 300
            [[quiet_hours]]
            days = ["mon", "Friday", "Sat"]
            start = "22:00"
            end = "7:00"
            "#,
        )
        .unwrap();
        s.validate().unwrap();
        assert_eq!(s.quiet_hours[0].days, vec![Mon, Fri, Sat]);
        assert_eq!(s.quiet_hours[0].minutes(), Some((22 * 60, 7 * 60)));
        assert_eq!((s.coalesce_max, s.coalesce_window_secs, s.quiet_min_tier), (5, 30, Tier::High));
        let back: AttentionSettings = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        let d = AttentionSettings::default();
        d.validate().unwrap();
        assert_eq!(d.quiet_min_tier, Tier::Urgent);
        assert_eq!(d.repeat_urgent_secs, None);
        assert_eq!(toml::from_str::<AttentionSettings>("").unwrap(), d);
        assert!(toml::from_str::<AttentionSettings>("coalesce = 3").is_err(), "unknown fields are refused");
    }

    #[test]
    fn validation_names_the_field_and_the_fix() {
        let bad = |f: &dyn Fn(&mut AttentionSettings)| {
            let mut s = quiet(vec![QuietWindow::new([Mon], "22:00", "07:00"), QuietWindow::new([Tue], "09:00", "10:00")]);
            f(&mut s);
            s.validate().unwrap_err().to_string()
        };
        assert_eq!(
            bad(&|s| s.quiet_hours[1].start = "25:00".into()),
            "quiet_hours[2].start: \"25:00\" is not a time of day; use HH:MM from 00:00 to 23:59 (an end of 00:00 is midnight)"
        );
        for t in ["7pm", "24:00", "12:60", "12:5", "", "1:2:3", "+1:00", "123:00"] {
            assert!(bad(&|s| s.quiet_hours[0].end = t.into()).starts_with("quiet_hours[1].end: "), "{t}");
        }
        assert_eq!(bad(&|s| s.quiet_hours[0].days.clear()), "quiet_hours[1].days: choose at least one day the quiet hours start on");
        assert!(bad(&|s| s.coalesce_max = 0).starts_with("coalesce_max: 0 is out of range"));
        assert!(bad(&|s| s.coalesce_window_secs = 0).starts_with("coalesce_window_secs: 0 is out of range"));
        assert_eq!(
            bad(&|s| s.repeat_urgent_secs = Some(5)),
            "repeat_urgent_secs: 5 is out of range; repeat every 30 to 86400 seconds, or leave it out to turn repeats off"
        );
        assert_eq!(parse_time_of_day("07:05"), Some(425));
        assert_eq!(parse_time_of_day("7:05"), Some(425));
        assert_eq!(parse_time_of_day("23:59"), Some(1439));
    }

    #[test]
    fn summary_text_pluralises() {
        let urgent = |n| {
            let mut c = [0; 4];
            c[3] = n;
            c
        };
        assert_eq!(summary_text(&urgent(1), 1, false), "1 urgent email in 1 inbox");
        assert_eq!(summary_text(&urgent(25), 3, false), "25 urgent emails in 3 inboxes");
        assert_eq!(summary_text(&urgent(2), 1, false), "2 urgent emails in 1 inbox");
        assert_eq!(summary_text(&[0, 7, 0, 0], 2, false), "7 normal emails in 2 inboxes");
        assert_eq!(summary_text(&[1, 8, 0, 3], 3, false), "12 emails in 3 inboxes (3 urgent)");
        assert_eq!(summary_text(&urgent(4), 1, true), "Still unread: 4 urgent emails in 1 inbox");
        let s = summary([0, 2, 1, 0], 1, vec![1, 2, 3], false);
        assert_eq!((s.count, s.tier, s.inboxes), (3, Tier::High, 1));
    }

    // --- the scheduler ------------------------------------------------------------

    fn start() -> Moment<FixedOffset> {
        Moment::new(Instant::now(), local(3, 12, 0))
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn singles(out: &[Outgoing]) -> Vec<i64> {
        out.iter().filter_map(|o| if let Outgoing::Single(a) = o { Some(a.event_id) } else { None }).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_gives_n_singles_then_one_summary() {
        let mut a = Attention::new(AttentionSettings::default());
        let t0 = start();
        let mut out = Vec::new();
        for id in 1..=30 {
            let inbox = ["ops", "sales", "home"][(id % 3) as usize];
            out.extend(a.offer(alert(id, inbox, Tier::Urgent), &t0));
        }
        assert_eq!(singles(&out), vec![1, 2, 3, 4, 5]);
        assert_eq!(out.len(), 5);
        assert_eq!(a.pending(), 25);
        assert_eq!(a.next_deadline(), Some(t0.instant + secs(30)));
        assert!(a.tick(&t0.after(secs(29))).is_empty());

        tokio::time::sleep_until(a.next_deadline().unwrap()).await;
        let now = Moment::new(Instant::now(), t0.local + chrono::Duration::seconds(30));
        let out = a.tick(&now);
        let [Outgoing::Summary(s)] = out.as_slice() else { panic!("{out:?}") };
        assert_eq!(s.text, "25 urgent emails in 3 inboxes");
        assert_eq!((s.count, s.tier, s.inboxes, s.reminder), (25, Tier::Urgent, 3, false));
        assert_eq!(s.event_ids, (6..=30).collect::<Vec<_>>());
        assert_eq!(a.pending(), 0);
        assert_eq!(a.next_deadline(), None);
        // The summary took one place in the new window: four more go out singly.
        let mut out = Vec::new();
        for id in 31..=36 {
            out.extend(a.offer(alert(id, "ops", Tier::Normal), &now.after(secs(1))));
        }
        assert_eq!(singles(&out), vec![31, 32, 33, 34]);
        assert_eq!(a.pending(), 2);
    }

    #[test]
    fn a_summary_of_one_goes_out_as_that_alert() {
        let mut a = Attention::new(AttentionSettings { coalesce_max: 2, ..AttentionSettings::default() });
        let t0 = start();
        assert_eq!(singles(&a.offer(alert(1, "x", Tier::Urgent), &t0)), vec![1]);
        assert_eq!(singles(&a.offer(alert(2, "x", Tier::Urgent), &t0.after(secs(10)))), vec![2]);
        assert!(a.offer(alert(3, "x", Tier::Urgent), &t0.after(secs(20))).is_empty());
        // Room comes when alert 1 ages out, at 30 s, not 30 s after the burst began.
        assert_eq!(a.next_deadline(), Some(t0.instant + secs(30)));
        assert_eq!(a.tick(&t0.after(secs(30))), vec![Outgoing::Single(alert(3, "x", Tier::Urgent))]);
    }

    #[test]
    fn a_late_tick_is_done_by_the_next_offer_first() {
        let mut a = Attention::new(AttentionSettings { coalesce_max: 1, ..AttentionSettings::default() });
        let t0 = start();
        a.offer(alert(1, "x", Tier::Urgent), &t0);
        a.offer(alert(2, "x", Tier::Urgent), &t0);
        a.offer(alert(3, "y", Tier::Urgent), &t0);
        let out = a.offer(alert(4, "x", Tier::Urgent), &t0.after(secs(45)));
        assert_eq!(out.len(), 1, "the summary; 4 waits as the window is full again");
        assert!(matches!(&out[0], Outgoing::Summary(s) if s.event_ids == vec![2, 3] && s.inboxes == 2));
        assert_eq!(a.pending(), 1);
        assert_eq!(a.next_deadline(), Some(t0.instant + secs(75)));
    }

    #[test]
    fn a_flood_never_exceeds_n_per_window_and_shows_each_event_once() {
        let settings = AttentionSettings { coalesce_max: 4, coalesce_window_secs: 10, ..AttentionSettings::default() };
        let (n, window) = (4, secs(10));
        let mut a = Attention::new(settings);
        let t0 = start();
        let mut shown: Vec<(Instant, Outgoing)> = Vec::new();
        let mut offered = 0;
        // Irregular arrivals over 200 s, with quiet stretches.
        let mut ms = 0u64;
        let mut id = 0;
        while ms < 200_000 {
            let now = t0.after(Duration::from_millis(ms));
            if (ms / 20_000) % 3 != 2 {
                id += 1;
                offered += 1;
                for o in a.offer(alert(id, ["a", "b", "c", "d"][(id % 4) as usize], Tier::High), &now) {
                    shown.push((now.instant, o));
                }
            }
            for o in a.tick(&now) {
                shown.push((now.instant, o));
            }
            ms += 37 + (ms * 7919) % 450;
        }
        let end = t0.after(secs(300));
        shown.extend(a.tick(&end).into_iter().map(|o| (end.instant, o)));
        for (i, (t, _)) in shown.iter().enumerate() {
            let in_window = shown[i..].iter().take_while(|(u, _)| *u < *t + window).count();
            assert!(in_window <= n, "{in_window} notifications within {window:?} of {t:?}");
        }
        let mut ids: Vec<i64> = shown.iter().flat_map(|(_, o)| o.event_ids()).collect();
        let total: usize = shown.iter().map(|(_, o)| if let Outgoing::Summary(s) = o { s.count } else { 1 }).sum();
        assert_eq!(total, offered, "every event is shown, in a summary or alone");
        let before = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), before, "no event is shown twice");
        assert!(shown.len() < offered / 4, "{} notifications for {offered} events", shown.len());
    }

    #[test]
    fn the_same_event_offered_twice_is_shown_once() {
        let mut a = Attention::new(AttentionSettings { coalesce_max: 1, ..AttentionSettings::default() });
        let t0 = start();
        assert_eq!(singles(&a.offer(alert(7, "x", Tier::Urgent), &t0)), vec![7]);
        assert!(a.offer(alert(7, "x", Tier::Urgent), &t0.after(secs(60))).is_empty());
        // Also while it waits in a summary.
        a.offer(alert(8, "x", Tier::Urgent), &t0.after(secs(61)));
        a.offer(alert(9, "x", Tier::Urgent), &t0.after(secs(61)));
        a.offer(alert(9, "x", Tier::Urgent), &t0.after(secs(62)));
        assert_eq!(a.pending(), 1);
        // A held event was decided: it does not come back later either.
        a.set_pause(Pause::Forever);
        assert!(a.offer(alert(10, "x", Tier::Urgent), &t0.after(secs(200))).is_empty());
        a.set_pause(resume());
        assert!(a.offer(alert(10, "x", Tier::Urgent), &t0.after(secs(300))).is_empty());
        // Forgotten (it left the history), an id may be shown again.
        a.forget(7);
        assert_eq!(singles(&a.offer(alert(7, "x", Tier::Urgent), &t0.after(secs(400)))), vec![7]);
    }

    #[tokio::test(start_paused = true)]
    async fn urgent_events_repeat_until_resolved() {
        let settings = AttentionSettings { repeat_urgent_secs: Some(60), ..AttentionSettings::default() };
        let mut a = Attention::new(settings);
        let t0 = start();
        let urgent = alert(1, "ops", Tier::Urgent);
        assert_eq!(a.offer(urgent.clone(), &t0), vec![Outgoing::Single(urgent.clone())]);
        assert_eq!(a.offer(alert(2, "ops", Tier::High), &t0), vec![Outgoing::Single(alert(2, "ops", Tier::High))]);
        assert_eq!(a.repeating(), 1, "only urgent events repeat");
        assert!(a.tick(&t0.after(secs(59))).is_empty());
        let mut repeats = Vec::new();
        for _ in 0..3 {
            let deadline = a.next_deadline().unwrap();
            tokio::time::sleep_until(deadline).await;
            let now = Moment::new(Instant::now(), t0.local + chrono::Duration::from_std(Instant::now() - t0.instant).unwrap());
            repeats.push((now.instant - t0.instant, a.tick(&now)));
        }
        assert_eq!(
            repeats,
            vec![
                (secs(60), vec![Outgoing::Repeat(urgent.clone())]),
                (secs(120), vec![Outgoing::Repeat(urgent.clone())]),
                (secs(180), vec![Outgoing::Repeat(urgent.clone())]),
            ]
        );
        assert!(a.resolved(1));
        assert!(!a.resolved(1));
        assert_eq!(a.next_deadline(), None);
        assert!(a.tick(&t0.after(secs(600))).is_empty());
    }

    #[test]
    fn repeats_are_held_while_paused_and_resume_after() {
        let settings = AttentionSettings { repeat_urgent_secs: Some(60), ..AttentionSettings::default() };
        let mut a = Attention::new(settings);
        let t0 = start();
        a.offer(alert(1, "ops", Tier::Urgent), &t0);
        a.set_pause(pause_for_hour(&t0.after(secs(30)).local));
        assert!(a.tick(&t0.after(secs(60))).is_empty());
        assert!(a.tick(&t0.after(secs(3600))).is_empty(), "still paused until 3630 s");
        assert_eq!(a.next_deadline(), Some(t0.instant + secs(3660)));
        assert_eq!(a.tick(&t0.after(secs(3660))), vec![Outgoing::Repeat(alert(1, "ops", Tier::Urgent))]);
        assert_eq!(a.pause(), Pause::Off, "the hour is over");
    }

    #[test]
    fn many_due_repeats_become_one_reminder() {
        let settings = AttentionSettings { repeat_urgent_secs: Some(300), ..AttentionSettings::default() };
        let mut a = Attention::new(settings);
        let t0 = start();
        for id in 1..=12 {
            a.offer(alert(id, if id % 2 == 0 { "a" } else { "b" }, Tier::Urgent), &t0);
        }
        let out = a.tick(&t0.after(secs(30)));
        assert!(matches!(&out[..], [Outgoing::Summary(s)] if s.count == 7));
        assert!(a.resolved(12));
        // Singles 1–5 are due at 300 s; the summarised 6–11 at 330 s.
        let out = a.tick(&t0.after(secs(300)));
        assert_eq!(out.iter().filter(|o| matches!(o, Outgoing::Repeat(_))).count(), 5);
        let out = a.tick(&t0.after(secs(330)));
        let [Outgoing::Summary(s)] = out.as_slice() else { panic!("{out:?}") };
        assert!(s.reminder);
        assert_eq!(s.text, "Still unread: 6 urgent emails in 2 inboxes");
        assert_eq!(s.event_ids, (6..=11).collect::<Vec<_>>());
    }

    #[test]
    fn repeats_wait_for_room_in_the_window() {
        let settings = AttentionSettings { coalesce_max: 2, repeat_urgent_secs: Some(30), ..AttentionSettings::default() };
        let mut a = Attention::new(settings);
        let t0 = start();
        a.offer(alert(1, "a", Tier::Urgent), &t0);
        let t1 = t0.after(secs(25));
        a.offer(alert(2, "a", Tier::Normal), &t1);
        a.offer(alert(3, "a", Tier::Normal), &t1);
        // At 30 s alert 1's repeat is due, and the summary of 3 takes the room first.
        let out = a.tick(&t0.after(secs(30)));
        assert_eq!(out, vec![Outgoing::Single(alert(3, "a", Tier::Normal))]);
        assert_eq!(a.next_deadline(), Some(t0.instant + secs(55)), "the repeat waits for alert 2 to age out");
        assert_eq!(a.tick(&t0.after(secs(55))), vec![Outgoing::Repeat(alert(1, "a", Tier::Urgent))]);
    }

    #[test]
    fn quiet_hours_in_the_scheduler() {
        let settings = quiet(vec![QuietWindow::new([Fri], "22:00", "07:00")]);
        let mut a = Attention::new(settings);
        let night = Moment::new(Instant::now(), local(3, 23, 0));
        assert!(a.offer(alert(1, "a", Tier::High), &night).is_empty());
        assert_eq!(singles(&a.offer(alert(2, "a", Tier::Urgent), &night)), vec![2]);
        // A summary that comes due in quiet hours shows only what gets through.
        let mut a = Attention::new(AttentionSettings { coalesce_max: 1, ..a.settings().clone() });
        let evening = Moment::new(Instant::now(), local(3, 21, 59));
        a.offer(alert(3, "a", Tier::Low), &evening);
        a.offer(alert(4, "a", Tier::Low), &evening);
        a.offer(alert(5, "b", Tier::Urgent), &evening);
        a.offer(alert(6, "c", Tier::Normal), &evening);
        let out = a.tick(&evening.after(secs(60)));
        assert_eq!(out, vec![Outgoing::Single(alert(5, "b", Tier::Urgent))]);
    }

    #[test]
    fn resolved_events_leave_a_pending_summary() {
        let mut a = Attention::new(AttentionSettings { coalesce_max: 1, ..AttentionSettings::default() });
        let t0 = start();
        for id in 1..=4 {
            a.offer(alert(id, "a", Tier::Urgent), &t0);
        }
        assert!(a.resolved(3));
        let out = a.tick(&t0.after(secs(30)));
        assert!(matches!(&out[..], [Outgoing::Summary(s)] if s.event_ids == vec![2, 4] && s.text == "2 urgent emails in 1 inbox"));
    }

    #[test]
    fn offer_in_counts_inboxes() {
        let mut a = Attention::new(AttentionSettings { coalesce_max: 1, ..AttentionSettings::default() });
        let t0 = start();
        for (id, inbox) in [(1, "x"), (2, "x"), (3, "y"), (4, "z")] {
            a.offer_in(alert(id, "one-account", Tier::Normal), Some(inbox), &t0);
        }
        let out = a.tick(&t0.after(secs(30)));
        assert!(matches!(&out[..], [Outgoing::Summary(s)] if s.text == "3 normal emails in 3 inboxes"));
    }

    #[test]
    fn state_stays_bounded_in_a_huge_flood() {
        let settings = AttentionSettings { repeat_urgent_secs: Some(60), ..AttentionSettings::default() };
        let mut a = Attention::new(settings);
        let t0 = start();
        let n = 20_000;
        for id in 1..=n {
            a.offer(alert(id, &format!("inbox{}", id % 400), Tier::Urgent), &t0);
        }
        assert_eq!(a.pending(), n as usize - 5);
        let b = a.batch.as_ref().unwrap();
        assert_eq!(b.items.len(), MAX_SUMMARY_ITEMS);
        assert!(b.overflow.len() <= MAX_SUMMARY_INBOXES + 1);
        assert_eq!(a.seen.len(), MAX_SEEN);
        assert_eq!(a.seen_order.len(), MAX_SEEN);
        let out = a.tick(&t0.after(secs(30)));
        let [Outgoing::Summary(s)] = out.as_slice() else { panic!("{out:?}") };
        assert_eq!(s.count, n as usize - 5);
        assert_eq!(s.event_ids.len(), MAX_SUMMARY_ITEMS);
        // The 400 inboxes are all among the alerts kept in full.
        assert_eq!(s.inboxes, 400);
        assert!(a.repeating() <= MAX_REPEATING);
        assert!(a.sent.len() <= 10);
    }

    #[test]
    fn turning_repeats_off_forgets_them() {
        let mut a = Attention::new(AttentionSettings { repeat_urgent_secs: Some(60), ..AttentionSettings::default() });
        let t0 = start();
        a.offer(alert(1, "a", Tier::Urgent), &t0);
        assert_eq!(a.repeating(), 1);
        assert!(a.set_settings(AttentionSettings { coalesce_max: 0, ..AttentionSettings::default() }).is_err());
        assert_eq!(a.repeating(), 1, "invalid settings change nothing");
        a.set_settings(AttentionSettings::default()).unwrap();
        assert_eq!(a.repeating(), 0);
        assert!(a.tick(&t0.after(secs(60))).is_empty());
    }
}
