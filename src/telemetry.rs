//! What an operator sees: progress on standard error, per-stage metrics through the `metrics`
//! crate (optionally served to Prometheus), emitted once per batch, never per invoice.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::record::{Batch, Outcome, Processed};

/// Metric names (`irp_<noun>_<unit>_total`).
pub const METRIC_INVOICES: &str = "irp_invoices_total";
pub const METRIC_ERRORS: &str = "irp_invoice_errors_total";
pub const METRIC_BATCHES: &str = "irp_batches_written_total";
pub const METRIC_BYTES: &str = "irp_input_bytes_total";
pub const METRIC_STAGE_BUSY: &str = "irp_stage_busy_microseconds_total";
pub const METRIC_STAGE_RECORDS: &str = "irp_stage_records_total";

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar on a terminal, plain periodic lines otherwise.
    Auto,
    /// Nothing (`--quiet`).
    Quiet,
}

/// Counters shared by the stages and the reporter.
#[derive(Debug)]
pub struct Progress {
    started: Instant,
    total_bytes: u64,
    bytes: AtomicU64,
    records: AtomicU64,
}

impl Progress {
    pub fn new(total_bytes: u64) -> Progress {
        Progress {
            started: Instant::now(),
            total_bytes,
            bytes: AtomicU64::new(0),
            records: AtomicU64::new(0),
        }
    }

    pub fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
        metrics::counter!(METRIC_BYTES).increment(n);
    }

    pub fn add_records(&self, n: u64) {
        self.records.fetch_add(n, Ordering::Relaxed);
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    /// One status line: records, rate, bytes, ETA.
    pub fn line(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let records = self.records();
        let bytes = self.bytes();
        let rate = records as f64 / secs;
        let eta = if self.total_bytes > 0 && bytes > 0 && bytes < self.total_bytes {
            let left = (self.total_bytes - bytes) as f64 / (bytes as f64 / secs);
            format!(", ETA {}", format_secs(left))
        } else {
            String::new()
        };
        let pct = if self.total_bytes > 0 {
            format!(" ({:.1}%)", 100.0 * bytes as f64 / self.total_bytes as f64)
        } else {
            String::new()
        };
        format!(
            "irp: {records} invoices, {rate:.0}/s, {:.1} MB read{pct}, elapsed {}{eta}",
            bytes as f64 / 1e6,
            format_secs(secs)
        )
    }
}

fn format_secs(s: f64) -> String {
    let s = s as u64;
    format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// A running reporter thread.
pub struct Reporter {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<()>,
    bar: Option<indicatif::ProgressBar>,
}

/// Starts the progress reporter: an indicatif bar on a terminal, a line every 10 s otherwise.
pub fn spawn_reporter(mode: ProgressMode, progress: Arc<Progress>) -> Option<Reporter> {
    if mode == ProgressMode::Quiet {
        return None;
    }
    let tty = std::io::stderr().is_terminal();
    let bar = tty.then(|| {
        let bar = indicatif::ProgressBar::new(progress.total_bytes.max(1));
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {bytes}/{total_bytes} {msg} ETA {eta}",
        ) {
            bar.set_style(style);
        }
        bar
    });
    let stop = Arc::new(AtomicBool::new(false));
    let handle = thread::Builder::new()
        .name("irp-progress".to_owned())
        .spawn({
            let stop = Arc::clone(&stop);
            let bar = bar.clone();
            move || {
                let period = if bar.is_some() {
                    Duration::from_millis(200)
                } else {
                    Duration::from_secs(10)
                };
                let mut last = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    thread::sleep(Duration::from_millis(100));
                    if last.elapsed() < period {
                        continue;
                    }
                    last = Instant::now();
                    match &bar {
                        Some(bar) => {
                            bar.set_position(progress.bytes());
                            let secs = progress.started.elapsed().as_secs_f64().max(1e-9);
                            bar.set_message(format!(
                                "{} invoices {:.0}/s",
                                progress.records(),
                                progress.records() as f64 / secs
                            ));
                        }
                        None => eprintln!("{}", progress.line()),
                    }
                }
            }
        });
    handle.ok().map(|handle| Reporter { stop, handle, bar })
}

/// Stops the reporter and clears its bar.
pub fn stop_reporter(reporter: Option<Reporter>, _progress: &Progress) {
    if let Some(r) = reporter {
        r.stop.store(true, Ordering::Relaxed);
        let _ = r.handle.join();
        if let Some(bar) = r.bar {
            bar.finish_and_clear();
        }
    }
}

/// Time a stage spent on one batch, and its records: busy time over wall time per stage
/// shows the bottleneck on a graph. Called once per batch per stage.
pub fn stage_busy(stage: &'static str, started: Instant, n_records: usize) {
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    metrics::counter!(METRIC_STAGE_BUSY, "stage" => stage).increment(micros);
    metrics::counter!(METRIC_STAGE_RECORDS, "stage" => stage).increment(n_records as u64);
}

/// Emits the per-batch metrics of a written batch.
pub fn batch_written(batch: &Batch<Processed>) {
    let mut accepted = 0u64;
    let mut rejected = 0u64;
    for rec in &batch.records {
        match &rec.outcome {
            Outcome::Rejected { violations, .. } => {
                rejected += 1;
                for v in violations {
                    metrics::counter!(METRIC_ERRORS, "code" => v.code.to_string()).increment(1);
                }
            }
            _ => accepted += 1,
        }
    }
    metrics::counter!(METRIC_INVOICES, "status" => "ACT").increment(accepted);
    metrics::counter!(METRIC_INVOICES, "status" => "ERR").increment(rejected);
    metrics::counter!(METRIC_BATCHES).increment(1);
}

/// Serves the metrics for Prometheus at `addr` (e.g. `127.0.0.1:9184`) for the life of the
/// process.
///
/// # Errors
/// The address cannot be parsed or bound.
pub fn install_prometheus(addr: &str) -> Result<(), String> {
    let socket: std::net::SocketAddr = addr
        .parse()
        .map_err(|e| format!("--metrics-addr {addr}: {e}"))?;
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(socket)
        .install()
        .map_err(|e| format!("--metrics-addr {addr}: {e}"))
}
