//! `Template::render`: the cost of one load-test body (a text message alone and in a batch of 100, and a
//! read receipt), against the reference of encoding the same message from a `serde_json::Value` with
//! `wire::encode`, which is what rendering avoids.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hookline_meta::wire;
use hookline_trigger::{Params, Template, find};

const NOW: u64 = 1_767_610_000_311;

fn template(name: &str, batch: usize) -> Template {
    let params = Params {
        batch,
        ..Params::default()
    };
    Template::new(find(name).unwrap(), &params).unwrap()
}

fn render(c: &mut Criterion) {
    for (name, batch) in [("message", 1), ("message", 100), ("read", 1)] {
        let template = template(name, batch);
        let mut out = Vec::with_capacity(template.len());
        let mut seq = 0u64;
        let label = format!("render {name} x{batch} ({} bytes)", template.len());
        c.bench_function(&label, |b| {
            b.iter(|| {
                seq += 1;
                template.render(black_box(seq), NOW, &mut out);
                black_box(&out);
            })
        });
    }
}

fn reference(c: &mut Criterion) {
    let mut body = Vec::new();
    template("message", 1).render(0, NOW, &mut body);
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    c.bench_function("reference: wire::encode message x1 from a Value", |b| {
        b.iter(|| black_box(wire::encode(black_box(&value))))
    });
}

criterion_group!(benches, render, reference);
criterion_main!(benches);
