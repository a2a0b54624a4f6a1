//! Stage ceilings for `scripts/bench.sh`: each stage's own rate on the same input, measured
//! in the same run as the end-to-end commands, so results are ratios, not bare numbers.
//!
//! Parallel stages (parse, validate, IRN, sign, QR) use every core, as in the pipeline; read and
//! frame are single-threaded (one reader thread), and the registry commit is one thread with a
//! synced write per batch, as in the pipeline.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::Serialize;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::masters::Masters;
use crate::model::Invoice;
use crate::read::{frame_reader, Framed, RecordBytes};
use crate::registry::{IrnStatus, NewRegistration, Registration, Registry};
use crate::sign::Signer;
use crate::validate::Validator;

/// One stage's measured ceiling.
#[derive(Debug, Serialize)]
pub struct StageRate {
    pub stage: &'static str,
    pub invoices: u64,
    pub seconds: f64,
    pub invoices_per_second: f64,
    pub megabytes_per_second: f64,
    pub threads: usize,
}

fn rate(
    stage: &'static str,
    invoices: u64,
    bytes: u64,
    started: Instant,
    threads: usize,
) -> StageRate {
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    StageRate {
        stage,
        invoices,
        seconds,
        invoices_per_second: invoices as f64 / seconds,
        megabytes_per_second: bytes as f64 / 1e6 / seconds,
        threads,
    }
}

/// What to measure besides the always-measured CPU stages.
pub struct CeilingOptions<'a> {
    pub signer: Option<&'a Signer>,
    /// Invoices to sign / render (signing is slow: a subset keeps the run short).
    pub sign_sample: usize,
    pub qr: bool,
    /// A scratch folder for the registry-commit stage; `None` skips it.
    pub scratch_registry: Option<&'a Path>,
}

/// Stage timers accumulated batch by batch.
#[derive(Default)]
struct Timers {
    parse: Duration,
    parse_kept: Duration,
    validate: Duration,
    irn: Duration,
    canonical: Duration,
    commit: Duration,
    sign: Duration,
    qr: Duration,
    n_parsed: u64,
    n_signed: u64,
    n_qr: u64,
    n_committed: u64,
}

fn timed<T>(acc: &mut Duration, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    *acc += started.elapsed();
    out
}

fn rate_of(stage: &'static str, invoices: u64, spent: Duration, threads: usize) -> StageRate {
    let seconds = spent.as_secs_f64().max(1e-9);
    StageRate {
        stage,
        invoices,
        seconds,
        invoices_per_second: invoices as f64 / seconds,
        megabytes_per_second: 0.0,
        threads,
    }
}

/// Measures every stage on `file`. The file is streamed batch by batch, as the pipeline does,
/// so each stage's timer covers the same work on the same memory footprint: a ceiling measured
/// on everything held in memory at once would be slower than the pipeline itself.
///
/// # Errors
/// The file cannot be read, or the scratch registry fails.
pub fn stage_ceilings(
    file: &Path,
    settings: &Settings,
    masters: Arc<Masters>,
    today: chrono::NaiveDate,
    opts: &CeilingOptions<'_>,
) -> Result<Vec<StageRate>> {
    let threads = rayon::current_num_threads();
    let mut out = Vec::new();

    let started = Instant::now();
    let bytes = std::fs::read(file).map_err(|e| Error::io(file, e))?;
    let n_bytes = bytes.len() as u64;
    out.push(rate("read", 0, n_bytes, started, 1));

    let started = Instant::now();
    let mut n_records = 0u64;
    frame_reader(
        bytes.as_slice(),
        settings.pipeline.max_record_bytes,
        1 << 20,
        |_| {
            n_records += 1;
        },
    )
    .map_err(|e| Error::io(file, e))?;
    out.push(rate("frame", n_records, n_bytes, started, 1));

    let validator = Validator::new(&settings.rules, masters, None, today);
    let upper_case = settings.rules.upper_case_doc_no_on(today);
    let mut registry = match opts.scratch_registry {
        Some(dir) => Some(Registry::open(dir, &settings.registry)?),
        None => None,
    };
    let batch_size = settings.pipeline.batch_size.max(1);
    let mut timers = Timers::default();
    let mut chunk: Vec<RecordBytes> = Vec::with_capacity(batch_size);
    let mut failure: Option<Error> = None;
    let mut run_batch = |chunk: &mut Vec<RecordBytes>, timers: &mut Timers| -> Result<()> {
        // The baseline the issue names: bare simd-json parsing into the same structs. Each
        // invoice is parsed and dropped, as the pipeline does, on records fresh from framing:
        // keeping a batch of invoices alive instead costs 10-40% more (cold memory), a ceiling
        // that would flatter `check`.
        let n_ok = timed(&mut timers.parse, || {
            chunk
                .par_iter()
                .with_max_len(crate::pipeline::TRANSFORM_PIECE)
                .filter(|r| crate::transform::parse(r).is_ok())
                .count()
        });
        std::hint::black_box(n_ok);
        // The later stages need the invoices: parse again, keeping the batch (shown for
        // comparison as `parse_kept`; it is not the ceiling).
        let kept: Vec<(Invoice, bool)> = timed(&mut timers.parse_kept, || {
            chunk
                .par_iter()
                .with_max_len(crate::pipeline::TRANSFORM_PIECE)
                .filter_map(|r| Some((crate::transform::parse(r).ok()?, r.is_plain())))
                .collect()
        });
        chunk.clear();
        let (invoices, plain): (Vec<Invoice>, Vec<bool>) = kept.into_iter().unzip();
        timers.n_parsed += invoices.len() as u64;
        // As the transform validates: told whether framing found each record plain.
        let n_violations: usize = timed(&mut timers.validate, || {
            invoices
                .par_iter()
                .zip(&plain)
                .with_max_len(crate::pipeline::TRANSFORM_PIECE)
                .map(|(i, p)| validator.validate_record(i, *p).len())
                .sum()
        });
        std::hint::black_box(n_violations);
        let irns: Vec<[u8; 32]> = timed(&mut timers.irn, || {
            invoices
                .par_iter()
                .with_max_len(crate::pipeline::TRANSFORM_PIECE)
                .map(|i| {
                    let date = crate::clock::parse_doc_date(&i.doc_dtls.dt).unwrap_or(today);
                    crate::irn::compute(
                        &i.seller_dtls.gstin,
                        &crate::clock::financial_year(date),
                        &i.doc_dtls.typ,
                        &crate::irn::key_doc_no(&i.doc_dtls.no, upper_case),
                    )
                })
                .collect()
        });
        let canonical: Vec<String> = timed(&mut timers.canonical, || {
            invoices
                .par_iter()
                .with_max_len(crate::pipeline::TRANSFORM_PIECE)
                .map(|i| String::from_utf8_lossy(&i.to_canonical_json()).into_owned())
                .collect()
        });
        if let Some(registry) = registry.as_mut() {
            let base = timers.n_committed;
            timed(&mut timers.commit, || -> Result<()> {
                let regs: Vec<Registration> = canonical
                    .iter()
                    .enumerate()
                    .map(|(k, c)| Registration {
                        ack_no: base + 1 + k as u64,
                        ack_dt: "2025-06-20 11:30:00".to_owned(),
                        status: IrnStatus::Active,
                        run: 1,
                        seq: base + 1 + k as u64,
                        cancel: None,
                        ewb: None,
                        invoice: serde_json::value::RawValue::from_string(c.clone())
                            .unwrap_or_default(),
                    })
                    .collect();
                let news: Vec<NewRegistration<'_>> = regs
                    .iter()
                    .zip(&irns)
                    .zip(&invoices)
                    .map(|((r, irn), inv)| NewRegistration {
                        irn: *irn,
                        seller_gstin: &inv.seller_dtls.gstin,
                        period: "202506",
                        registration: r,
                    })
                    .collect();
                // Look the batch up first, as the registry stage does, then commit it.
                std::hint::black_box(registry.get_many(&irns)?);
                registry.commit(&news, base + news.len() as u64)
            })?;
            timers.n_committed += canonical.len() as u64;
        }
        if let Some(signer) = opts.signer {
            let room = opts.sign_sample.saturating_sub(timers.n_signed as usize);
            let take = room.min(invoices.len());
            if take > 0 {
                let tokens: Vec<String> = timed(&mut timers.sign, || {
                    invoices[..take]
                        .par_iter()
                        .with_max_len(crate::pipeline::SIGN_PIECE)
                        .zip(&canonical[..take])
                        .zip(&irns[..take])
                        .map(|((inv, c), irn)| {
                            let data = crate::sign_stage::invoice_data(
                                1,
                                "2025-06-20 11:30:00",
                                irn,
                                c.as_bytes(),
                            );
                            let a = signer.sign_data(&data).unwrap_or_default();
                            std::hint::black_box(a);
                            let qr = crate::sign_stage::qr_data(
                                &crate::sign_stage::QrDoc {
                                    seller_gstin: &inv.seller_dtls.gstin,
                                    doc_no: &inv.doc_dtls.no,
                                    doc_type: &inv.doc_dtls.typ,
                                    doc_date: &inv.doc_dtls.dt,
                                },
                                &crate::transform::qr_facts(inv),
                                irn,
                                "2025-06-20 11:30:00",
                            );
                            signer.sign_data(&qr).unwrap_or_default()
                        })
                        .collect()
                });
                timers.n_signed += take as u64;
                if opts.qr {
                    let n_images = timed(&mut timers.qr, || {
                        tokens
                            .par_iter()
                            .with_max_len(crate::pipeline::SIGN_PIECE)
                            .filter(|t| crate::qr::render(t, crate::qr::QrFormat::Png).is_ok())
                            .count()
                    });
                    timers.n_qr += n_images as u64;
                }
            }
        }
        Ok(())
    };
    frame_reader(
        bytes.as_slice(),
        settings.pipeline.max_record_bytes,
        1 << 20,
        |r| {
            if let Framed::Json(b) = r.body {
                chunk.push(b);
            }
            if chunk.len() >= batch_size && failure.is_none() {
                if let Err(e) = run_batch(&mut chunk, &mut timers) {
                    failure = Some(e);
                }
            }
        },
    )
    .map_err(|e| Error::io(file, e))?;
    if !chunk.is_empty() && failure.is_none() {
        if let Err(e) = run_batch(&mut chunk, &mut timers) {
            failure = Some(e);
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let mut parse = rate_of("parse", timers.n_parsed, timers.parse, threads);
    parse.megabytes_per_second = n_bytes as f64 / 1e6 / parse.seconds;
    out.push(parse);
    out.push(rate_of(
        "parse_kept",
        timers.n_parsed,
        timers.parse_kept,
        threads,
    ));
    out.push(rate_of(
        "validate",
        timers.n_parsed,
        timers.validate,
        threads,
    ));
    out.push(rate_of("irn", timers.n_parsed, timers.irn, threads));
    out.push(rate_of(
        "canonical_json",
        timers.n_parsed,
        timers.canonical,
        threads,
    ));
    if opts.scratch_registry.is_some() {
        out.push(rate_of(
            "registry_commit",
            timers.n_committed,
            timers.commit,
            1,
        ));
    }
    if opts.signer.is_some() {
        out.push(rate_of(
            "sign_2x_rs256",
            timers.n_signed,
            timers.sign,
            threads,
        ));
        if opts.qr {
            out.push(rate_of("qr_png", timers.n_qr, timers.qr, threads));
        }
    }
    Ok(out)
}

/// Peak resident memory of this process in MB (Linux `VmHWM`), if known.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// CPU seconds (user + system) used by this process so far (Linux), if known.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // The kernel reports clock ticks; USER_HZ is 100 on every Linux platform Rust supports.
    Some((utime + stime) / 100.0)
}

/// Fills a registry with `count` registrations for the scale benchmark, on the bulk path
/// (no signing, no WAL, flushed at the end). Invoices cycle through a pool of real generated
/// invoices; each registration gets a distinct IRN and AckNo, and the period index is filled
/// as `register` fills it.
///
/// # Errors
/// Registry failures.
pub fn prefill(
    db: &Path,
    settings: &Settings,
    masters: &Masters,
    count: u64,
    seed: u64,
) -> Result<(f64, f64)> {
    use sha2::{Digest, Sha256};
    const POOL: u64 = 4096;
    const BATCH: usize = 20_000;
    let today = chrono::NaiveDate::from_ymd_opt(2025, 6, 20).unwrap_or_default();
    let mut text = Vec::new();
    let opts = crate::gen::GenOptions {
        count: POOL,
        seed,
        invalid_share: 0.0,
        today,
        max_items: 20,
        ndjson: true,
    };
    crate::gen::generate(&opts, masters, &mut text).map_err(|e| Error::io(db, e))?;
    let mut pool = Vec::new();
    frame_reader(text.as_slice(), 1 << 24, 1 << 20, |r| {
        if let Framed::Json(b) = r.body {
            if let Ok(inv) = crate::transform::parse(&b) {
                pool.push((inv.seller_dtls.gstin.clone(), inv.to_canonical_json()));
            }
        }
    })
    .map_err(|e| Error::io(db, e))?;
    if pool.is_empty() {
        return Ok((0.0, 0.0));
    }
    let mut registry = Registry::open(db, &settings.registry)?;
    let started = Instant::now();
    let mut ack = registry.ack_seq();
    let mut done = 0u64;
    while done < count {
        let n = BATCH.min((count - done) as usize);
        let regs: Vec<(crate::irn::Irn, usize, Registration)> = (0..n)
            .map(|k| {
                let idx = done + k as u64;
                let irn: [u8; 32] =
                    Sha256::digest(format!("prefill-{seed}-{idx}").as_bytes()).into();
                let which = (idx % pool.len() as u64) as usize;
                let reg = Registration {
                    ack_no: crate::registry::ack_no(
                        settings.registry.ack_prefix,
                        2025,
                        ack + 1 + k as u64,
                    ),
                    ack_dt: "2025-06-20 11:30:00".to_owned(),
                    status: IrnStatus::Active,
                    run: 0,
                    seq: idx + 1,
                    cancel: None,
                    ewb: None,
                    invoice: serde_json::value::RawValue::from_string(
                        String::from_utf8_lossy(&pool[which].1).into_owned(),
                    )
                    .unwrap_or_default(),
                };
                (irn, which, reg)
            })
            .collect();
        let news: Vec<NewRegistration<'_>> = regs
            .iter()
            .map(|(irn, which, reg)| NewRegistration {
                irn: *irn,
                seller_gstin: &pool[*which].0,
                period: "202506",
                registration: reg,
            })
            .collect();
        ack += n as u64;
        registry.commit_bulk_unsynced(&news, ack)?;
        done += n as u64;
    }
    registry.flush()?;
    let loaded = started.elapsed().as_secs_f64();
    // Let background compaction finish: a registry that has held 10 million registrations for
    // a while is compacted; measuring during the load's own compaction would not be fair.
    let waited = registry.wait_for_compactions(std::time::Duration::from_secs(1800))?;
    Ok((loaded, waited.as_secs_f64()))
}
