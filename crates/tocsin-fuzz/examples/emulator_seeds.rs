//! Writes seed inputs that only Rust code can produce into `fuzz/seeds/<target>/`:
//! the emulator's real event frames (its flood frames and demo events, exactly as
//! it sends them), its Prismer JWTs, the default rule set and attention settings as
//! exported. Run by `fuzz/make-seeds.py`:
//!
//!     cargo run -p tocsin-fuzz --example emulator_seeds -- fuzz/seeds

use std::path::Path;

use rand::SeedableRng;
use tocsin_emulator::{bivariant, demo, divinci, flood_frame, prismer};

fn write(dir: &Path, target: &str, name: &str, data: &[u8]) {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).expect("seed dir");
    std::fs::write(d.join(name), data).expect("seed file");
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: emulator_seeds DIR");
    let dir = Path::new(&dir);
    for (provider, target) in [
        ("daimon", "daimon_frame"),
        ("agentmail", "agentmail_frame"),
        ("prismer", "prismer_frame"),
        ("divinci", "divinci_frame"),
        ("bivariant", "bivariant_frame"),
    ] {
        let f = flood_frame(provider).expect("every provider floods");
        write(dir, target, "emu_flood.json", f(7).as_bytes());
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(15);
    let mut seen = std::collections::HashSet::new();
    for n in 1..=60 {
        let e = demo::demo_event(&mut rng, n);
        let key = (e["type"].as_str().unwrap_or("").to_owned(), e.pointer("/payload/message/labels").map(|l| l.to_string()));
        if seen.insert(key) {
            write(dir, "daimon_frame", &format!("emu_demo_{n}.json"), e.to_string().as_bytes());
        }
    }
    write(dir, "prismer_frame", "emu_message_new.json",
        prismer::message_new("m_1", "conv_dm", "usr_other", "hello @you").to_string().as_bytes());
    write(dir, "divinci_frame", "emu_message_created.json",
        divinci::message_created("m_1", demo::DEMO_THREAD, "the answer").to_string().as_bytes());
    write(dir, "bivariant_frame", "emu_message_posted.json",
        bivariant::message_posted("e_1", "conv_1", "hi").to_string().as_bytes());
    // rest_bodies: selector 5 = Prismer token refresh, 8 = a bare JWT.
    let jwt = prismer::jwt("usr_self", 1_900_000_000, 1);
    let mut refresh = vec![5u8, 0];
    refresh.extend(serde_json::json!({"ok": true, "data": {"token": jwt}}).to_string().bytes());
    write(dir, "rest_bodies", "emu_refresh.json", &refresh);
    let mut bare = vec![8u8, 0];
    bare.extend(jwt.bytes());
    write(dir, "rest_bodies", "emu_jwt.txt", &bare);
    write(dir, "rules_toml", "defaults.toml",
        tocsin_model::rules::RuleSet::defaults().to_toml().expect("the defaults export").as_bytes());
    write(dir, "attention_toml", "defaults.toml",
        toml::to_string(&tocsin_engine::attention::AttentionSettings::default()).expect("export").as_bytes());
}
