//! Batched history inserts with the full-text index: `Store::insert_batch` of 1024
//! new events (the engine's largest batch) and of 1 event (what a quiet stream
//! commits), into a WAL database on disk with its FTS5 index (one INSERT … SELECT a batch). The
//! database grows across iterations, as a real history does. Throughput in events/s.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tocsin_bench::{adapter, history_event, session, MailGen};
use tocsin_model::Provider;
use tocsin_store::{NewEvent, Store};

fn store(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let dir = tempfile::Builder::new().prefix("tocsin-bench-store-").tempdir_in(tocsin_bench::target_dir()).unwrap();
    let store = rt.block_on(Store::open(&dir.path().join("history.db"))).unwrap();
    let adapter = adapter(Provider::AgentMail);
    let session = session();
    let mut gen = MailGen::new(7);
    let template: Vec<NewEvent> = (0..1024).map(|i| history_event(&mut gen, adapter.as_ref(), &session, i)).collect();
    let mut next: u64 = 0;
    let mut group = c.benchmark_group("store");
    for size in [1024usize, 1] {
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::new("insert_batch", size), &size, |b, &size| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let batch: Vec<NewEvent> = template[..size]
                        .iter()
                        .map(|e| {
                            next += 1;
                            let mut e = e.clone();
                            e.event.dedupe_key = format!("agentmail:bench{next}");
                            e.event.provider_event_id = Some(format!("bench{next}"));
                            e
                        })
                        .collect();
                    let started = Instant::now();
                    let out = rt.block_on(store.insert_batch(&batch)).unwrap();
                    total += started.elapsed();
                    assert!(out.iter().all(Option::is_some));
                }
                total
            })
        });
    }
    group.finish();
    rt.block_on(store.close());
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(8));
    targets = store
}
criterion_main!(benches);
