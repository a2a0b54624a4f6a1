//! Lookups and GSTR-1 export on a large registry.
//!
//! Builds (once, then reuses) a registry of `IRP_BENCH_REGISTRATIONS` registrations
//! (default 100,000; the issue's figure is 1,000,000) with `Registry::commit_bulk_unsynced`,
//! one seller holding up to 100,000 invoices in April 2025 and the rest spread over other
//! sellers and months, then measures on the open registry:
//! - `get/by_irn`: a lookup by IRN (read + decode, no signing);
//! - `get/by_document`: the same from document details (IRN computed first);
//! - `get/by_irn_resigned`: a lookup plus RS256 re-signing of invoice and QR (what `irp get`
//!   prints);
//! - `gstr1/one_seller`: the GSTR-1 export of the big seller, serialised.
//!
//! The registry is kept in `target/irp-bench-lookup-<N>` (or `IRP_BENCH_DIR`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use irp::clock;
use irp::config::{LifecycleConfig, RegistryConfig};
use irp::irn::{self, Irn};
use irp::lifecycle::{get, gstr1};
use irp::registry::{IrnStatus, NewRegistration, Registration, Registry};

const BIG_SELLER: &str = "29AAFCC9980M1ZR";
const BIG_SELLER_MAX: usize = 100_000;
const BUYER: &str = "27AABCU9603R1ZN";
const COMMIT_BATCH: usize = 10_000;

fn registrations() -> usize {
    std::env::var("IRP_BENCH_REGISTRATIONS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(100_000)
}

/// Document `i`: (seller, doc no, doc date dd/mm/yyyy, YYYYMM).
fn document(i: usize) -> (String, String, String, String) {
    if i < BIG_SELLER_MAX {
        let day = i % 30 + 1;
        (
            BIG_SELLER.to_owned(),
            format!("KA/{i}"),
            format!("{day:02}/04/2025"),
            "202504".to_owned(),
        )
    } else {
        let seller = format!("{:02}AABCS{:04}R1Z5", 10 + i % 20, i % 997);
        let month = i % 12 + 1;
        let year = if month >= 4 { 2025 } else { 2026 };
        let day = i % 28 + 1;
        (
            seller,
            format!("S/{i}"),
            format!("{day:02}/{month:02}/{year}"),
            format!("{year}{month:02}"),
        )
    }
}

fn invoice_json(i: usize, seller: &str, no: &str, dt: &str) -> String {
    let items: Vec<String> = (0..4)
        .map(|k| {
            let ass = 100 + (i * 7 + k * 13) % 900;
            let rate = [5, 12, 18, 28][(i + k) % 4];
            let igst = ass * rate;
            format!(
                r#"{{"ItemNo":0,"SlNo":"{}","PrdDesc":"Item {k}","IsServc":"N","HsnCd":"8471{:02}","Qty":1.0,"Unit":"NOS","UnitPrice":{ass}.0,"TotAmt":{ass}.0,"AssAmt":{ass}.0,"GstRt":{rate}.0,"IgstAmt":{}.{:02},"CgstAmt":0.0,"SgstAmt":0.0,"TotItemVal":{}.{:02}}}"#,
                k + 1,
                30 + k,
                igst / 100,
                igst % 100,
                ass + igst / 100,
                igst % 100
            )
        })
        .collect();
    format!(
        r#"{{"Version":"1.1","TranDtls":{{"TaxSch":"GST","SupTyp":"B2B"}},"DocDtls":{{"Typ":"INV","No":"{no}","Dt":"{dt}"}},"SellerDtls":{{"Gstin":"{seller}","LglNm":"Seller {i}","Addr1":"1 MG Road","Loc":"Bengaluru","Pin":560001,"Stcd":"{}"}},"BuyerDtls":{{"Gstin":"{BUYER}","LglNm":"Buyer","Pos":"27","Addr1":"2 Marine Drive","Loc":"Mumbai","Pin":400001,"Stcd":"27"}},"ItemList":[{}],"ValDtls":{{"AssVal":1.0,"IgstVal":1.0,"TotInvVal":1000.0}}}}"#,
        &seller[..2],
        items.join(",")
    )
}

fn irn_of(seller: &str, no: &str, dt: &str) -> Irn {
    let date = clock::parse_doc_date(dt).expect("bench date");
    irn::compute(seller, &clock::financial_year(date), "INV", no)
}

fn build(dir: &Path, n: usize) {
    let marker = dir.join("BENCH_COMPLETE");
    if marker.exists() {
        return;
    }
    let _ = std::fs::remove_dir_all(dir);
    let started = Instant::now();
    let mut registry =
        Registry::open(dir, &RegistryConfig::default()).expect("open bench registry");
    let mut seq = 0u64;
    let mut start = 0;
    while start < n {
        let end = (start + COMMIT_BATCH).min(n);
        let regs: Vec<(Irn, String, String, Registration)> = (start..end)
            .map(|i| {
                let (seller, no, dt, period) = document(i);
                let text = invoice_json(i, &seller, &no, &dt);
                let reg = Registration {
                    ack_no: 112510000000000 + i as u64 + 1,
                    ack_dt: "2025-04-30 10:00:00".to_owned(),
                    status: if i % 50 == 49 {
                        IrnStatus::Cancelled
                    } else {
                        IrnStatus::Active
                    },
                    run: 1,
                    seq: i as u64 + 1,
                    cancel: None,
                    ewb: None,
                    invoice: serde_json::value::RawValue::from_string(text).expect("bench json"),
                };
                (irn_of(&seller, &no, &dt), seller, period, reg)
            })
            .collect();
        let new: Vec<NewRegistration<'_>> = regs
            .iter()
            .map(|(irn, seller, period, reg)| NewRegistration {
                irn: *irn,
                seller_gstin: seller,
                period,
                registration: reg,
            })
            .collect();
        seq += new.len() as u64;
        registry
            .commit_bulk_unsynced(&new, seq)
            .expect("bench commit");
        start = end;
    }
    registry.flush().expect("bench flush");
    drop(registry);
    std::fs::write(&marker, n.to_string()).expect("bench marker");
    eprintln!(
        "built a registry of {n} registrations in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

fn bench_dir(n: usize) -> PathBuf {
    match std::env::var_os("IRP_BENCH_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join(format!("irp-bench-lookup-{n}")),
    }
}

fn lookups(c: &mut Criterion) {
    let n = registrations();
    let dir = bench_dir(n);
    build(&dir, n);
    let registry = Registry::open_read_only(&dir, &RegistryConfig::default()).expect("open");
    let cfg = LifecycleConfig::default();
    let now = clock::parse_now("2025-05-01 10:00:00").expect("now");
    // Spread the probes over the whole registry (a prime stride).
    let probes: Vec<(String, String, String)> = (0..4096)
        .map(|k| {
            let (seller, no, dt, _) = document((k * 7919 + 13) % n);
            (seller, no, dt)
        })
        .collect();
    let probe_irns: Vec<Irn> = probes.iter().map(|(s, no, dt)| irn_of(s, no, dt)).collect();

    let mut group = c.benchmark_group("get");
    let mut k = 0;
    group.bench_function("by_irn", |b| {
        b.iter(|| {
            k = (k + 1) % probe_irns.len();
            let found = get::lookup(&registry, &probe_irns[k], None, &cfg, now).expect("lookup");
            black_box(matches!(found, get::Lookup::Found(_)))
        })
    });
    group.bench_function("by_document", |b| {
        b.iter(|| {
            k = (k + 1) % probes.len();
            let (seller, no, dt) = &probes[k];
            let irn = get::document_irn(seller, "INV", no, dt, true).expect("doc irn");
            let found = get::lookup(&registry, &irn, None, &cfg, now).expect("lookup");
            black_box(matches!(found, get::Lookup::Found(_)))
        })
    });
    let keys = tempfile::tempdir().expect("tempdir");
    let (key, cert) =
        irp::sign::keygen(keys.path(), "bench", irp::sign::Algorithm::Rs256).expect("keygen");
    let signer = irp::sign::Signer::from_pem_files(&key, &cert, irp::sign::Algorithm::Rs256, "NIC")
        .expect("signer");
    group.bench_function("by_irn_resigned", |b| {
        b.iter(|| {
            k = (k + 1) % probe_irns.len();
            let irn = &probe_irns[k];
            if let get::Lookup::Found(reg) =
                get::lookup(&registry, irn, None, &cfg, now).expect("lookup")
            {
                black_box(get::respond(&registry, irn, &reg, &signer).expect("respond"));
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("gstr1");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    let period = gstr1::Period::parse("042025").expect("period");
    group.bench_function(
        format!("one_seller_{}_invoices", n.min(BIG_SELLER_MAX)),
        |b| {
            b.iter(|| {
                let export = gstr1::export(&registry, BIG_SELLER, &period).expect("export");
                black_box(serde_json::to_vec(&export.gstr1).expect("json").len())
            })
        },
    );
    group.finish();
}

criterion_group!(benches, lookups);
criterion_main!(benches);
