//! Rule evaluation: 1000 decoded events (all five providers, 5 % urgent) through a
//! user rule set of 100 rules (every condition type; most events fall through to
//! the catch-all at the end), and through the built-in defaults for comparison.
//! Throughput in events/s.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use tocsin_bench::{events, hundred_rules_toml, PROVIDERS};
use tocsin_model::rules::{CompiledRuleSet, RuleSet};

fn rules(c: &mut Criterion) {
    let hundred = RuleSet::from_toml(&hundred_rules_toml()).expect("valid rules").compile().expect("compiles");
    assert_eq!(hundred.rule_set().rules.len(), 100);
    let sample: Vec<_> = PROVIDERS.iter().enumerate().flat_map(|(i, p)| events(*p, 200, "rules", i as u64)).collect();
    let mut group = c.benchmark_group("rules");
    group.throughput(Throughput::Elements(sample.len() as u64));
    group.bench_function("100 rules", |b| {
        b.iter(|| {
            for e in &sample {
                black_box(hundred.evaluate(black_box(e)));
            }
        })
    });
    let defaults = CompiledRuleSet::defaults();
    group.bench_function("defaults", |b| {
        b.iter(|| {
            for e in &sample {
                black_box(defaults.evaluate(black_box(e)));
            }
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(4));
    targets = rules
}
criterion_main!(benches);
