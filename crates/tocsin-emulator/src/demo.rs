//! Demo traffic: a realistic mix of events for every emulated provider, a few
//! seconds apart.
//!
//! daimon.email carries most of it: ordinary mail, some with `[URGENT]` in the
//! subject or the `priority` label, now and then a bounce or a complaint. AgentMail
//! mail (and the odd spam), Prismer chat messages, Chat SDK assistant replies and
//! topic-platform messages and notifications fill in the rest. Urgent events come
//! on a schedule, not by chance, so the first minute shows what Tocsin is for: the
//! first one [`DemoConfig::first_urgent_after`] the start (5 s), then one every
//! [`DemoConfig::urgent_every`] (a minute), mostly urgent mail and now and then a
//! failed task on the topic platform. Deterministic for a given seed.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::DaimonState;

/// How the demo generator paces itself.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Mean time between events (each gap is drawn between 0.5× and 1.5× of it).
    pub interval: Duration,
    pub seed: u64,
    /// Stop after this many events (None = forever).
    pub limit: Option<u64>,
    /// When the first urgent event comes, after the start.
    pub first_urgent_after: Duration,
    /// Then one urgent event this often.
    pub urgent_every: Duration,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            interval: Duration::from_secs(4),
            seed: 7,
            limit: None,
            first_urgent_after: Duration::from_secs(5),
            urgent_every: Duration::from_secs(60),
        }
    }
}

pub const DEMO_INBOXES: [&str; 3] = ["inbox_support", "inbox_ops", "inbox_billing"];

const SENDERS: [&str; 8] = [
    "Maya Chen <maya.chen@northwind.io>",
    "alerts@pagerduty.example.com",
    "Jonas Weber <jonas@kontor.de>",
    "billing@stripe.example.com",
    "Priya Raman <priya@lumen.dev>",
    "noreply@github.example.com",
    "Sam Okafor <sam.okafor@acme.co>",
    "Lena Novak <lena@fjord.no>",
];

const NORMAL: [(&str, &str); 8] = [
    ("Re: onboarding call next week", "Thanks for the notes. Tuesday 10:00 works for us; I'll bring the integration checklist."),
    ("Invoice INV-2291 for November", "Please find attached the invoice for November. Payment is due within 30 days."),
    ("Question about webhook retries", "We saw a few retries on our endpoint last night. Is there a way to see the delivery log?"),
    ("Weekly report: agent resolutions", "Resolved 412 conversations this week, median handling time 3m12s, CSAT 4.6."),
    ("Your export is ready", "The CSV export you requested is ready to download for the next 24 hours."),
    ("Can we move the demo?", "Something came up on our side. Would Thursday afternoon work instead?"),
    ("Feedback on the new inbox rules", "The new routing rules cut our triage time in half. Two small suggestions inside."),
    ("[support] Password reset not arriving", "A customer says the reset email never arrived. Could you check the logs for them?"),
];

const URGENT: [(&str, &str); 5] = [
    ("[URGENT] Production database failover", "Primary db-1 stopped answering at 09:41 UTC. Failover to db-2 is in progress; writes are paused."),
    ("[URGENT] Payment processing errors spiking", "Card authorisations are failing at 18% for EU customers since 10:05. Please acknowledge."),
    ("[URGENT] Certificate expires in 2 hours", "The TLS certificate for api.example.com expires today at 14:00 UTC and renewal failed."),
    ("Customer escalation: contract at risk", "Acme's CTO asked for a call today about the outage on Friday. Please respond within the hour."),
    ("Security: new sign-in from unknown device", "A new sign-in to the admin console from 203.0.113.7 was not recognised. Review it now."),
];

/// Where demo events go.
pub struct DemoTargets {
    pub daimon: Arc<DaimonState>,
    pub agentmail: Arc<crate::Hub>,
    pub prismer: Arc<crate::PrismerState>,
    pub divinci: Arc<crate::Hub>,
    pub bivariant: Arc<crate::Hub>,
    /// Makes ids unique across runs.
    pub id_prefix: String,
}

/// The Chat SDK thread and topic-platform org the demo streams to.
pub const DEMO_THREAD: &str = "thr_demo";

/// Publishes demo events until `cancel` fires or the limit is reached.
pub async fn run(targets: DemoTargets, config: DemoConfig, cancel: CancellationToken) {
    let mut rng = StdRng::seed_from_u64(config.seed);
    // People have names (the Prismer client looks them up).
    for (id, name) in [("usr_maya", "Maya Okafor"), ("usr_jonas", "Jonas Berg"), ("usr_priya", "Priya Raman")] {
        targets.prismer.set_user_name(id, name);
    }
    let mut n: u64 = 0;
    let mut urgent_sent: u64 = 0;
    let mut urgent_at = tokio::time::Instant::now() + config.first_urgent_after;
    loop {
        if config.limit.is_some_and(|l| n >= l) {
            return;
        }
        let gap = config.interval.mul_f64(rng.random_range(0.5..1.5));
        let wake = (tokio::time::Instant::now() + gap).min(urgent_at);
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep_until(wake) => {}
        }
        n += 1;
        let id = format!("{}{n:06}", targets.id_prefix);
        if tokio::time::Instant::now() >= urgent_at {
            urgent_at += config.urgent_every;
            // Every third one a failed task on the topic platform, the rest urgent mail.
            if urgent_sent % 3 == 2 {
                targets.bivariant.publish(task_notification(&id, true));
            } else {
                targets.daimon.publish(urgent_event(n, urgent_sent));
            }
            urgent_sent += 1;
            continue;
        }
        match rng.random_range(0..100u32) {
            0..=54 => {
                targets.daimon.publish(demo_event(&mut rng, n));
            }
            55..=67 => targets.agentmail.publish(agentmail_event(&mut rng, &id)),
            68..=79 => targets.prismer.publish(prismer_event(&mut rng, &id)),
            80..=89 => targets.divinci.publish(crate::divinci::message_created(&id, DEMO_THREAD, pick(&mut rng, &ASSISTANT))),
            _ => targets.bivariant.publish(bivariant_event(&mut rng, &id)),
        }
    }
}

fn pick<'a>(rng: &mut impl Rng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

const ASSISTANT: [&str; 4] = [
    "I've drafted the refund email for order #4471; it's waiting for your approval.",
    "The nightly import finished: 12,408 rows, 3 rejected (see attached report).",
    "Summary of today's support queue: 38 new, 31 resolved, 2 escalated.",
    "I couldn't reach the billing API for the last 10 minutes; retrying with backoff.",
];

fn agentmail_event(rng: &mut impl Rng, id: &str) -> Value {
    let (subject, text) = NORMAL[rng.random_range(0..NORMAL.len())];
    let mut frame = crate::agentmail::message_received(id, "agent@agentmail.to", pick(rng, &SENDERS), subject, text, &["received", "unread"]);
    if rng.random_range(0..10) == 0 {
        frame["event_type"] = json!("message.received.spam");
        frame["message"]["subject"] = json!("You have won a gift card!!!");
    }
    frame
}

fn prismer_event(rng: &mut impl Rng, id: &str) -> Value {
    let lines = ["Deploy of api-gateway 2.14 finished in eu-west.", "Can someone review PR #812 before 3pm?",
                 "@tocsin the staging database is read-only again", "Standup moved to 10:15 today."];
    crate::prismer::message_new(id, "conv_ops_room", pick(rng, &["usr_maya", "usr_jonas", "usr_priya"]), pick(rng, &lines))
}

fn bivariant_event(rng: &mut impl Rng, id: &str) -> Value {
    if rng.random_range(0..3) == 0 {
        return task_notification(id, false);
    }
    let (sender_id, name) = CUSTOMERS[rng.random_range(0..CUSTOMERS.len())];
    crate::bivariant::message_posted_by(id, pick(rng, &["conv_support", "conv_sales"]), (sender_id, Some(name)), pick(rng, &[
        "Hi, my invoice shows the wrong VAT number.", "Is the Pro plan available for 3 seats?", "Thanks, that fixed it!"]))
}

/// The demo's topic-platform participants: id and display name.
const CUSTOMERS: [(&str, &str); 3] = [("part_ana", "Ana Lima"), ("part_tom", "Tom Becker"), ("part_yuki", "Yuki Sato")];

/// A topic-platform task notification: a failed one is urgent.
fn task_notification(id: &str, failed: bool) -> Value {
    let (priority, title, body) = if failed {
        ("urgent", "Task failed: nightly billing export", "The flow run failed 3 times; customers will not be invoiced.")
    } else {
        ("normal", "Task completed: weekly digest", "Sent to 1,204 subscribers.")
    };
    json!({"type": "notification", "notification": {"id": id, "event": "task.completed",
        "topic": format!("events.{}.tasks.task.completed.task_{id}", crate::bivariant::ORG),
        "priority": priority, "title": title, "body": body, "createdAt": format_ms(now_ms())}})
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The `n`th demo event.
pub fn demo_event(rng: &mut impl Rng, n: u64) -> Value {
    let inbox = DEMO_INBOXES[rng.random_range(0..DEMO_INBOXES.len())];
    let roll: u32 = rng.random_range(0..100);
    if roll < 6 {
        return json!({"type": "message.bounced", "inbox_id": inbox,
            "payload": {"message_id": format!("msg_demo_out_{n}"), "inbox_id": inbox,
                        "recipient": "former.employee@closed-company.example", "bounce_type": "hard",
                        "reason": "550 5.1.1 mailbox does not exist"}});
    }
    if roll < 9 {
        return json!({"type": "message.complaint", "inbox_id": inbox,
            "payload": {"message_id": format!("msg_demo_out_{n}"), "inbox_id": inbox,
                        "recipient": "reader@example.org", "feedback_type": "abuse"}});
    }
    let (subject, body) = NORMAL[rng.random_range(0..NORMAL.len())];
    json!({"type": "message.received", "inbox_id": inbox, "account_id": "acc_demo",
        "payload": {"message": message(n, inbox, SENDERS[rng.random_range(0..SENDERS.len())], subject, body, &["received", "unread"])}})
}

/// The `k`th urgent demo mail (event `n`): `[URGENT]` in the subject, or the
/// `priority` label on mail that has no marker.
pub fn urgent_event(n: u64, k: u64) -> Value {
    let (subject, body) = URGENT[k as usize % URGENT.len()];
    let mut labels = vec!["received", "unread"];
    if !subject.starts_with("[URGENT]") {
        labels.push("priority");
    }
    let inbox = DEMO_INBOXES[k as usize % DEMO_INBOXES.len()];
    json!({"type": "message.received", "inbox_id": inbox, "account_id": "acc_demo",
        "payload": {"message": message(n, inbox, SENDERS[(k as usize * 3 + 1) % SENDERS.len()], subject, body, &labels)}})
}

/// A daimon `Message` object with both `id` and `message_id`, as PROTOCOLS.md proposes.
pub fn message(n: u64, inbox: &str, from: &str, subject: &str, body: &str, labels: &[&str]) -> Value {
    json!({
        "id": format!("msg_demo_{n}"), "message_id": format!("msg_demo_{n}"),
        "inbox_id": inbox, "thread_id": format!("thread_demo_{}", n / 3),
        "from": from, "to": [format!("{inbox}@agents.daimon.email")], "cc": [], "bcc": [],
        "subject": subject, "body": body,
        "html_body": format!("<p>{}</p>", body.replace('&', "&amp;").replace('<', "&lt;")),
        "labels": labels, "attachments": []
    })
}

/// Formats Unix milliseconds as RFC 3339 UTC.
pub fn format_ms(ms: i64) -> String {
    use chrono::{DateTime, SecondsFormat, Utc};
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_mix_has_every_kind() {
        let mut rng = StdRng::seed_from_u64(7);
        let events: Vec<Value> = (1..=200).map(|n| demo_event(&mut rng, n)).collect();
        let count = |f: &dyn Fn(&Value) -> bool| events.iter().filter(|e| f(e)).count();
        let subject = |e: &Value| e["payload"]["message"]["subject"].as_str().unwrap_or("").to_owned();
        assert!(count(&|e| e["type"] == "message.bounced") > 0);
        assert!(count(&|e| e["type"] == "message.complaint") > 0);
        assert_eq!(count(&|e| subject(e).contains("URGENT")), 0, "urgent mail comes on its schedule only");
        let normal = count(&|e| e["type"] == "message.received");
        assert!(normal > 150, "mostly ordinary mail, got {normal}");
        let urgent: Vec<Value> = (0..5).map(|k| urgent_event(k, k)).collect();
        assert!(urgent.iter().any(|e| e["payload"]["message"]["subject"].as_str().unwrap().starts_with("[URGENT]")));
        assert!(urgent.iter().any(|e| e["payload"]["message"]["labels"].to_string().contains("priority")));
    }

    /// The first minute: on tokio's paused clock, the first urgent event is
    /// published within 10 s of the start and the next ones about a minute apart.
    #[tokio::test(start_paused = true)]
    async fn the_first_urgent_event_comes_within_ten_seconds_then_one_a_minute() {
        let config = crate::EmulatorConfig::default();
        let cancel = CancellationToken::new();
        let daimon = Arc::new(DaimonState::new(&config, cancel.clone()));
        let hub = || crate::Hub::new(&[]);
        let prismer = crate::PrismerState::new(hub(), Duration::from_secs(5), Duration::from_secs(30));
        let bivariant = hub();
        let mut mail = daimon.live.subscribe();
        let (mut topics, _) = bivariant.subscribe();
        let targets = DemoTargets {
            daimon: daimon.clone(),
            agentmail: hub(),
            prismer,
            divinci: hub(),
            bivariant: bivariant.clone(),
            id_prefix: "t_".into(),
        };
        let start = tokio::time::Instant::now();
        tokio::spawn(run(targets, DemoConfig::default(), cancel.clone()));
        let mut urgent_at = Vec::new();
        while urgent_at.len() < 4 {
            let urgent = tokio::select! {
                m = mail.recv() => {
                    let f = &m.unwrap().frame;
                    let subject = f["payload"]["message"]["subject"].as_str().unwrap_or_default().to_owned();
                    subject.starts_with("[URGENT]") || f["payload"]["message"]["labels"].to_string().contains("priority")
                }
                t = topics.recv() => format!("{:?}", t.unwrap()).contains("urgent"),
            };
            if urgent {
                urgent_at.push(start.elapsed());
            }
        }
        cancel.cancel();
        assert!(urgent_at[0] <= Duration::from_secs(10), "first urgent at {:?}", urgent_at[0]);
        for pair in urgent_at.windows(2) {
            let gap = pair[1] - pair[0];
            assert!((Duration::from_secs(55)..=Duration::from_secs(65)).contains(&gap), "{urgent_at:?}");
        }
    }

    #[test]
    fn formats_epoch_times() {
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ms(1_773_657_045_123), "2026-03-16T10:30:45.123Z");
    }
}
