//! Frame decoding per provider: one realistic message frame (built with the
//! emulator's frame builders, as the provider's server sends it) through the
//! provider's adapter, `Adapter::decode_in`, into an `Event`. Throughput in events/s.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use tocsin_bench::{adapter, frame, session, PROVIDERS};

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(1));
    let session = session();
    for provider in PROVIDERS {
        let adapter = adapter(provider);
        let text = frame(
            provider,
            42,
            "[URGENT] Primary database down in eu-west-1",
            "The primary database stopped answering at 03:12 UTC. Replication lag is 40 s and growing; \
             failover has not started. Runbook: https://runbooks.example.com/db/failover. Reply to acknowledge.",
            true,
        )
        .to_string();
        // Check once that it is an event, not a control frame.
        tocsin_bench::decode(adapter.as_ref(), &session, &text);
        group.bench_with_input(BenchmarkId::from_parameter(provider.as_str()), &text, |b, text| {
            b.iter(|| adapter.decode_in(&session, black_box(text), 1_773_657_045_123).unwrap())
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(3));
    targets = decode
}
criterion_main!(benches);
