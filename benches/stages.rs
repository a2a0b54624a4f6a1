//! Criterion benchmarks of each pipeline stage on the same generated invoices:
//! frame, parse (simd-json into the typed structs), validate, IRN, canonical JSON, sign, QR.
//! Throughput is reported per invoice (elements) so stages compare directly.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use irp::config::RulesConfig;
use irp::masters::Masters;
use irp::model::Invoice;
use irp::read::{frame_reader, Framed};
use irp::validate::Validator;

const N_INVOICES: u64 = 2_000;

fn corpus() -> (Vec<u8>, Vec<Vec<u8>>) {
    let masters = Masters::embedded().expect("masters");
    let today = chrono::NaiveDate::from_ymd_opt(2025, 6, 20).expect("date");
    let opts = irp::gen::GenOptions {
        count: N_INVOICES,
        seed: 42,
        invalid_share: 0.0,
        today,
        max_items: 20,
        ndjson: false,
    };
    let mut file = Vec::new();
    irp::gen::generate(&opts, &masters, &mut file).expect("gen");
    let mut records = Vec::new();
    frame_reader(file.as_slice(), 1 << 24, 1 << 20, |r| {
        if let Framed::Json(b) = r.body {
            records.push(b.to_vec());
        }
    })
    .expect("frame");
    (file, records)
}

fn stages(c: &mut Criterion) {
    let (file, records) = corpus();
    let masters = Arc::new(Masters::embedded().expect("masters"));
    let today = chrono::NaiveDate::from_ymd_opt(2025, 6, 20).expect("date");
    let validator = Validator::new(&RulesConfig::default(), masters, None, today);
    let invoices: Vec<Invoice> = records
        .iter()
        .map(|r| irp::transform::parse(r).expect("parse"))
        .collect();

    let mut g = c.benchmark_group("stage");
    g.throughput(Throughput::Elements(records.len() as u64));
    g.bench_function("frame", |b| {
        b.iter(|| {
            let mut n = 0usize;
            frame_reader(file.as_slice(), 1 << 24, 1 << 20, |_| n += 1).expect("frame");
            n
        })
    });
    g.bench_function("parse", |b| {
        b.iter(|| {
            records
                .iter()
                .filter(|r| irp::transform::parse(r).is_ok())
                .count()
        })
    });
    g.bench_function("validate", |b| {
        b.iter(|| {
            invoices
                .iter()
                .map(|i| validator.validate(i).len())
                .sum::<usize>()
        })
    });
    g.bench_function("irn", |b| {
        b.iter(|| {
            invoices
                .iter()
                .map(|i| {
                    irp::irn::compute(
                        &i.seller_dtls.gstin,
                        "2025-26",
                        &i.doc_dtls.typ,
                        &i.doc_dtls.no,
                    )[0]
                })
                .fold(0u8, |a, x| a ^ x)
        })
    });
    g.bench_function("canonical_json", |b| {
        b.iter(|| {
            invoices
                .iter()
                .map(|i| i.to_canonical_json().len())
                .sum::<usize>()
        })
    });
    g.finish();

    let dir = tempfile::tempdir().expect("tempdir");
    let (key, cert) =
        irp::sign::keygen(dir.path(), "bench", irp::sign::Algorithm::Rs256).expect("keygen");
    let signer = irp::sign::Signer::from_pem_files(&key, &cert, irp::sign::Algorithm::Rs256, "NIC")
        .expect("signer");
    let data: Vec<String> = invoices
        .iter()
        .take(200)
        .map(|i| String::from_utf8(i.to_canonical_json()).expect("utf8"))
        .collect();
    let mut g = c.benchmark_group("sign");
    g.sample_size(10);
    g.throughput(Throughput::Elements(data.len() as u64));
    g.bench_function("rs256_invoice_and_qr", |b| {
        b.iter(|| {
            for d in &data {
                let s1 = signer.sign_data(d).expect("sign");
                let s2 = signer.sign_data(&d[..d.len().min(300)]).expect("sign");
                std::hint::black_box((s1, s2));
            }
        })
    });
    let token = signer
        .sign_data(&data[0][..300.min(data[0].len())])
        .expect("sign");
    g.bench_function("qr_png", |b| {
        b.iter(|| irp::qr::render(&token, irp::qr::QrFormat::Png).expect("qr"))
    });
    g.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
