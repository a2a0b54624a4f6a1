//! The run: wires the stages with bounded channels on named threads and joins them.
//!
//! ```text
//! irp-read ──▶ irp-transform ──▶ irp-registry ──▶ irp-sign ──▶ irp-write
//!  frame        rayon: parse,      dedup, AckNo,     rayon: JWS     status.csv,
//!  batches      validate, IRN      durable commit    (register)     results.jsonl
//! ```
//! Each stage handles batches strictly in order, so output order = input order without a
//! reorder buffer. The registry commit is the one durable point; everything after it can be
//! re-derived, which is what makes a killed run resumable.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Sender};
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::Settings;
use crate::dedup::{CheckStage, Clock, RegisterStage};
use crate::error::{Error, Result};
use crate::masters::{Masters, Taxpayers};
use crate::qr::QrFormat;
use crate::read::{Framer, SharedInput};
use crate::record::{Batch, Processed, RawRecord, BATCH_MAX_RECORDS};
use crate::registry::Registry;
use crate::sign::Signer;
use crate::sign_stage;
use crate::sink::{Counts, InputCounts, Sink};
use crate::telemetry::{self, Progress, ProgressMode};
use crate::transform::{self, TransformContext};
use crate::validate::Validator;

/// Bytes read from an input at a time. Large enough to amortise syscalls, small enough that
/// the reader's own buffer is negligible next to the batches in flight.
const READ_CHUNK_BYTES: usize = 1 << 20;

/// Most records one rayon job parses and validates without splitting. Left to itself rayon
/// cuts a batch into about two pieces per thread, so at the end of a batch one core idled
/// while the other finished its last piece of hundreds of invoices: on 2 cores `check` kept
/// 1.81-1.91 of them busy, 1.85 on average (perf sched: workers asleep for 1-4 ms at most
/// batch ends). Pieces of 16 (about 0.2 ms of work) bring that to 1.93-1.99 (1.95) for one
/// job per 16 invoices. The stage ceilings (`irp bench-stages`) split the same way.
pub const TRANSFORM_PIECE: usize = 16;

/// The same for signing: one registration (two RS256 signatures, about 1 ms) per job.
pub const SIGN_PIECE: usize = 1;

/// Which command runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Register,
    Check,
}

/// One input: a file, or standard input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    File(PathBuf),
    Stdin,
}

impl Input {
    pub fn display(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Stdin => "-".to_owned(),
        }
    }
}

/// Expands directories into their files in name order (a nightly inbox is one command).
///
/// # Errors
/// A missing input or an unreadable directory, naming it.
pub fn expand_inputs(args: &[String]) -> Result<Vec<Input>> {
    let mut out = Vec::new();
    for arg in args {
        if arg == "-" {
            out.push(Input::Stdin);
            continue;
        }
        let path = PathBuf::from(arg);
        let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        if meta.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
                .map_err(|e| Error::io(&path, e))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .filter(|p| {
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    !name.starts_with('.')
                })
                .collect();
            files.sort();
            out.extend(files.into_iter().map(Input::File));
        } else {
            out.push(Input::File(path));
        }
    }
    Ok(out)
}

/// Everything a run needs.
pub struct RunOptions {
    pub mode: Mode,
    pub inputs: Vec<Input>,
    pub out_dir: PathBuf,
    /// `register`: the registry to write; `check`: an optional registry to read.
    pub db: Option<PathBuf>,
    pub settings: Settings,
    pub masters: Arc<Masters>,
    pub taxpayers: Option<Arc<Taxpayers>>,
    pub clock: Clock,
    pub qr: QrFormat,
    pub signer: Option<Arc<Signer>>,
    pub progress: ProgressMode,
}

/// `summary.json`.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub command: Mode,
    pub run_id: Option<u64>,
    pub resumed: bool,
    #[serde(flatten)]
    pub counts: Counts,
    pub inputs: Vec<InputCounts>,
    pub wall_seconds: f64,
    pub invoices_per_second: f64,
    pub megabytes_per_second: f64,
    pub signing: Option<String>,
    /// Peak resident memory of the process (MB), from the kernel.
    pub peak_rss_mb: Option<f64>,
    /// CPU seconds (user + system) of the process.
    pub cpu_seconds: Option<f64>,
}

struct Shared {
    progress: Arc<Progress>,
    /// Set by a failing stage so the reader stops early.
    abort: AtomicBool,
}

/// Runs `register` or `check` to completion.
///
/// # Errors
/// A fatal fault: unreadable input, locked registry, write failure. Per-invoice problems are
/// never errors; they are in the report.
pub fn run(opts: RunOptions) -> Result<Summary> {
    let started = Instant::now();
    let settings = &opts.settings;
    let threads = if settings.pipeline.threads == 0 {
        thread::available_parallelism().map_or(2, usize::from)
    } else {
        settings.pipeline.threads
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("irp-worker-{i}"))
        .build()
        .map_err(|e| Error::Stage {
            stage: "pool",
            message: e.to_string(),
        })?;
    let input_names: Vec<String> = opts.inputs.iter().map(Input::display).collect();
    let total_bytes: u64 = opts
        .inputs
        .iter()
        .map(|i| match i {
            Input::File(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            Input::Stdin => 0,
        })
        .sum();

    std::fs::create_dir_all(&opts.out_dir).map_err(|e| Error::io(&opts.out_dir, e))?;
    // The registry stage, opened before anything is read: a locked registry stops here.
    let mut fingerprint = None;
    let mut today = opts.clock.now().date();
    let mut resumed = false;
    let mut run_id = None;
    enum Stage {
        Register(RegisterStage),
        Check(CheckStage),
    }
    let stage = match opts.mode {
        Mode::Register => {
            let path = opts
                .db
                .clone()
                .unwrap_or_else(|| PathBuf::from("data/registry"));
            let mut registry = Registry::open(&path, &settings.registry)?;
            let fp = run_fingerprint(opts.mode, &opts.inputs, &opts.out_dir)?;
            let now = opts.clock.now();
            let (id, was_resumed, started) =
                registry.begin_run_at(&fp, "register", &crate::clock::format_ack(&now))?;
            // A resumed run judges dates by the clock of its first start.
            today = crate::clock::parse_ack(&started).unwrap_or(now).date();
            fingerprint = Some(fp);
            resumed = was_resumed;
            run_id = Some(id);
            Stage::Register(RegisterStage {
                registry,
                run_id: id,
                ack_prefix: settings.registry.ack_prefix,
                clock: opts.clock,
            })
        }
        Mode::Check => {
            let registry = match &opts.db {
                Some(path) => Some(Registry::open_read_only(path, &settings.registry)?),
                None => None,
            };
            Stage::Check(CheckStage::new(registry))
        }
    };
    let validator = Validator::new(
        &settings.rules,
        Arc::clone(&opts.masters),
        opts.taxpayers.clone(),
        today,
    );
    // From here on a `register` run is recorded as begun: a fault says how to finish it.
    let stopped = |e: Error| match opts.mode {
        Mode::Register => Error::Interrupted {
            command: "register",
            source: Box::new(e),
        },
        Mode::Check => e,
    };
    let mut sink = Sink::create(&opts.out_dir, &input_names, opts.qr).map_err(stopped)?;

    let shared = Arc::new(Shared {
        progress: Arc::new(Progress::new(total_bytes)),
        abort: AtomicBool::new(false),
    });
    let cap = settings.pipeline.channel_capacity_batches;
    let (raw_tx, raw_rx) = bounded::<Batch<RawRecord>>(cap);
    let (proc_tx, proc_rx) = bounded::<Batch<Processed>>(cap);
    let (reg_tx, reg_rx) = bounded::<Batch<Processed>>(cap);
    let (signed_tx, signed_rx) = bounded::<Batch<Processed>>(cap);

    let reporter = telemetry::spawn_reporter(opts.progress, Arc::clone(&shared.progress));

    let result = thread::scope(|scope| -> Result<(Option<Stage>, Vec<Vec<String>>)> {
        let reader = spawn(scope, "irp-read", {
            let shared = Arc::clone(&shared);
            let inputs = opts.inputs.clone();
            let pipeline = settings.pipeline.clone();
            move || read_stage(&inputs, &pipeline, raw_tx, &shared)
        })?;
        let transformer = spawn(scope, "irp-transform", {
            let shared = Arc::clone(&shared);
            let pool = &pool;
            let ctx = TransformContext {
                validator: &validator,
                upper_case_doc_no: settings.rules.upper_case_doc_no_on(today),
                registering: opts.mode == Mode::Register,
            };
            move || -> Result<()> {
                for batch in raw_rx {
                    let started = Instant::now();
                    let n_records = batch.records.len();
                    let bytes = batch.bytes;
                    let records = pool.install(|| {
                        batch
                            .records
                            .into_par_iter()
                            .with_max_len(TRANSFORM_PIECE)
                            .map(|raw| transform::process(raw, &ctx))
                            .collect()
                    });
                    telemetry::stage_busy("transform", started, n_records);
                    if proc_tx.send(Batch { records, bytes }).is_err() {
                        shared.abort.store(true, Ordering::Relaxed);
                        break;
                    }
                }
                Ok(())
            }
        })?;
        let registrar = spawn(scope, "irp-registry", {
            let shared = Arc::clone(&shared);
            move || -> Result<Option<Stage>> {
                let mut stage = stage;
                for mut batch in proc_rx {
                    let started = Instant::now();
                    let res = match &mut stage {
                        Stage::Register(s) => s.process(&mut batch),
                        Stage::Check(s) => s.process(&mut batch),
                    };
                    if let Err(e) = res {
                        shared.abort.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                    telemetry::stage_busy("registry", started, batch.records.len());
                    if reg_tx.send(batch).is_err() {
                        break;
                    }
                }
                Ok(Some(stage))
            }
        })?;
        let signer_thread = spawn(scope, "irp-sign", {
            let pool = &pool;
            let signer = opts.signer.clone();
            let qr_format = opts.qr;
            let shared = Arc::clone(&shared);
            move || -> Result<()> {
                for mut batch in reg_rx {
                    let started = Instant::now();
                    if let Some(signer) = &signer {
                        if let Err(e) =
                            pool.install(|| sign_stage::sign_batch(&mut batch, signer, qr_format))
                        {
                            shared.abort.store(true, Ordering::Relaxed);
                            return Err(e);
                        }
                    }
                    telemetry::stage_busy("sign", started, batch.records.len());
                    if signed_tx.send(batch).is_err() {
                        break;
                    }
                }
                Ok(())
            }
        })?;
        let writer = spawn(scope, "irp-write", {
            let shared = Arc::clone(&shared);
            let sink = &mut sink;
            move || -> Result<()> {
                for batch in signed_rx {
                    let started = Instant::now();
                    if let Err(e) = sink.write_batch(&batch) {
                        shared.abort.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                    telemetry::stage_busy("write", started, batch.records.len());
                    telemetry::batch_written(&batch);
                    shared.progress.add_records(batch.records.len() as u64);
                }
                Ok(())
            }
        })?;
        // Join in pipeline order; the first error wins, as the root cause comes first.
        let warnings = join(reader, "read")?;
        join(transformer, "transform")?;
        let stage = join(registrar, "registry")?;
        join(signer_thread, "sign")?;
        join(writer, "write")?;
        Ok((stage, warnings))
    });
    telemetry::stop_reporter(reporter, &shared.progress);
    let (stage, warnings) = result.map_err(stopped)?;

    for (counts, w) in sink.inputs.iter_mut().zip(warnings) {
        counts.warnings = w;
    }
    let bytes = shared.progress.bytes();
    for (counts, input) in sink.inputs.iter_mut().zip(&opts.inputs) {
        if let Input::File(p) = input {
            counts.bytes = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let summary = Summary {
        command: opts.mode,
        run_id,
        resumed,
        counts: sink.counts.clone(),
        inputs: sink.inputs.clone(),
        wall_seconds: wall,
        invoices_per_second: sink.counts.total as f64 / wall.max(1e-9),
        megabytes_per_second: bytes as f64 / 1e6 / wall.max(1e-9),
        signing: opts
            .signer
            .as_ref()
            .map(|s| s.algorithm().jose_name().to_owned()),
        peak_rss_mb: crate::bench::peak_rss_mb(),
        cpu_seconds: crate::bench::cpu_seconds(),
    };
    sink.finish(&summary).map_err(stopped)?;
    // Outputs are in place: only now is the run complete. A crash before this line resumes.
    if let (Some(Stage::Register(mut s)), Some(fp), Some(id)) = (stage, fingerprint, run_id) {
        s.registry
            .finish_run(&fp, id, "register")
            .map_err(stopped)?;
    }
    Ok(summary)
}

fn spawn<'scope, 'env, T: Send + 'scope>(
    scope: &'scope thread::Scope<'scope, 'env>,
    name: &str,
    f: impl FnOnce() -> Result<T> + Send + 'scope,
) -> Result<thread::ScopedJoinHandle<'scope, Result<T>>> {
    thread::Builder::new()
        .name(name.to_owned())
        .spawn_scoped(scope, f)
        .map_err(|e| Error::Stage {
            stage: "spawn",
            message: e.to_string(),
        })
}

fn join<T>(handle: thread::ScopedJoinHandle<'_, Result<T>>, stage: &'static str) -> Result<T> {
    match handle.join() {
        Ok(res) => res,
        Err(panic) => Err(Error::Stage {
            stage,
            message: panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panicked".to_owned()),
        }),
    }
}

/// Reads every input in order, frames records and sends batches. Returns per-input warnings.
fn read_stage(
    inputs: &[Input],
    cfg: &crate::config::PipelineConfig,
    tx: Sender<Batch<RawRecord>>,
    shared: &Shared,
) -> Result<Vec<Vec<String>>> {
    let batch_size = cfg.batch_size.min(BATCH_MAX_RECORDS);
    let mut seq = 0u64;
    let mut batch = Batch {
        records: Vec::with_capacity(batch_size),
        bytes: 0,
    };
    let mut all_warnings = Vec::with_capacity(inputs.len());
    let mut chunk = Vec::new();
    let closed = std::cell::Cell::new(false);
    let mut sent = 0u64;
    for (input_idx, input) in inputs.iter().enumerate() {
        let source = open_input(input, cfg.mmap)?;
        let (mut framer, mut release) = match &source {
            Source::Shared(map) => (
                Framer::over(Arc::clone(map), cfg.max_record_bytes),
                // The capacity of the channel the argument rests on, not a copy of the config.
                Release::new(Arc::clone(map), tx.capacity().unwrap_or(1)),
            ),
            Source::Stream(_) => (Framer::new(cfg.max_record_bytes), Release::default()),
        };
        let mut emit = |rec: crate::read::FramedRecord| {
            seq += 1;
            let len = match &rec.body {
                crate::read::Framed::Json(b) => b.len() as u64,
                crate::read::Framed::Bad(_) | crate::read::Framed::TooLarge(_) => 0,
            };
            let end = rec.offset + len;
            batch.bytes += len;
            batch.records.push(RawRecord {
                seq,
                input: input_idx,
                offset: rec.offset,
                body: rec.body,
            });
            if batch.records.len() >= batch_size || batch.bytes >= cfg.batch_max_bytes as u64 {
                let full = std::mem::replace(
                    &mut batch,
                    Batch {
                        records: Vec::with_capacity(batch_size),
                        bytes: 0,
                    },
                );
                if tx.send(full).is_err() {
                    closed.set(true);
                } else {
                    sent += 1;
                    release.sent(sent, end);
                }
            }
        };
        match source {
            Source::Shared(map) => {
                for (k, piece) in map.chunks(READ_CHUNK_BYTES).enumerate() {
                    if closed.get() || shared.abort.load(Ordering::Relaxed) {
                        return Ok(all_warnings);
                    }
                    if k % READ_AHEAD_CHUNKS == 0 {
                        read_ahead(&map, k * READ_CHUNK_BYTES);
                    }
                    shared.progress.add_bytes(piece.len() as u64);
                    framer.push(piece, &mut emit);
                }
            }
            Source::Stream(mut reader) => {
                chunk.resize(READ_CHUNK_BYTES, 0);
                loop {
                    if closed.get() || shared.abort.load(Ordering::Relaxed) {
                        return Ok(all_warnings);
                    }
                    let n = match reader.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(Error::io(input.display(), e)),
                    };
                    shared.progress.add_bytes(n as u64);
                    framer.push(&chunk[..n], &mut emit);
                }
            }
        }
        framer.finish(&mut emit);
        all_warnings.push(std::mem::take(&mut framer.warnings));
    }
    if !batch.records.is_empty() {
        let _ = tx.send(batch);
    }
    Ok(all_warnings)
}

/// The read-ahead window, in chunks (64 MiB; 64-128 MiB is requested ahead of the framer at
/// any time): far enough that the disk works while the parsers do, so a file not in the page
/// cache does not stall them. On a cold 466 MB input, 64 MiB windows ran `check` at 128k
/// invoices/s and 16 MiB at 118k (three interleaved pairs).
const READ_AHEAD_CHUNKS: usize = 64;

/// Asks the kernel to start reading the window after the one the framer is entering into the
/// page cache, asynchronously (see [`read_ahead_range`]). The pages are not mapped, so RSS
/// does not grow. Interleaved runs of `check` on 200k invoices (16 MiB windows, means of
/// 7 pairs): 112k -> 145k invoices/s with the file out of the page cache; 150k -> 164k and
/// 166k -> 174k in two series with it cached.
fn read_ahead(map: &SharedInput, at: usize) {
    let SharedInput::Mapped(m) = map else { return };
    if let Some((from, len)) = read_ahead_range(m.len(), at) {
        // Only a hint: reading is correct without it.
        let _ = m.advise_range(memmap2::Advice::WillNeed, from, len);
    }
}

/// The range to read ahead when the framer enters offset `at` of a `total`-byte input: the
/// window after the current one, or the first two windows at the start.
fn read_ahead_range(total: usize, at: usize) -> Option<(usize, usize)> {
    let window = READ_AHEAD_CHUNKS * READ_CHUNK_BYTES;
    let (from, span) = if at == 0 {
        (0, 2 * window)
    } else {
        (at.checked_add(window)?, window)
    };
    let len = total.checked_sub(from)?.min(span);
    (len > 0).then_some((from, len))
}

/// Drops the pages of `map[from..from + len]` from this process; they stay in the page cache.
fn release_pages(map: &memmap2::Mmap, from: usize, len: usize) -> std::io::Result<()> {
    // SAFETY: this is a read-only shared file mapping, so MADV_DONTNEED only unmaps pages and
    // a later read faults the same file bytes back in; nothing is lost. That holds even for the
    // page the range is widened to at its ends, which may still hold a record being parsed.
    unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, len) }
}

/// Where the reader takes an input's bytes from.
enum Source {
    /// A regular file, mapped: records are ranges of the mapping.
    Shared(Arc<SharedInput>),
    /// Standard input, a pipe, or a file that cannot be mapped: read in chunks and copied.
    Stream(Box<dyn Read>),
}

fn open_input(input: &Input, mmap: bool) -> Result<Source> {
    let path = match input {
        Input::Stdin => return Ok(Source::Stream(Box::new(std::io::stdin().lock()))),
        Input::File(path) => path,
    };
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if mmap && meta.is_file() && meta.len() > 0 {
        // SAFETY: the mapping is read-only, but shared with the file: if another process
        // modifies the file during the run, records may change under the parser, and if it
        // truncates the file (or the disk fails) a read faults with SIGBUS instead of an I/O
        // error. That is the trade ripgrep makes for input files; `pipeline.mmap = false`
        // reads with read(2) instead.
        if let Ok(map) = unsafe { memmap2::Mmap::map(&file) } {
            // Only a hint for read-ahead; framing is correct without it.
            let _ = map.advise(memmap2::Advice::Sequential);
            return Ok(Source::Shared(Arc::new(SharedInput::Mapped(map))));
        }
    }
    Ok(Source::Stream(Box::new(file)))
}

/// Keeps a mapped input's resident pages bounded: once every record of a sent batch has
/// been parsed, its pages are dropped from this process (they stay in the page cache), so
/// peak RSS does not grow with the file.
///
/// The transform stage takes batches one at a time, in order, and drops each record when
/// parsed. After batch `k` is sent, at most `capacity` batches wait in the channel, so the
/// transform has taken batch `k - capacity` and therefore finished every batch before it.
#[derive(Default)]
struct Release {
    map: Option<Arc<SharedInput>>,
    capacity: u64,
    /// (batch number, end offset of its last record), oldest first.
    pending: std::collections::VecDeque<(u64, u64)>,
    /// Everything below this offset has been released.
    done: u64,
}

impl Release {
    fn new(map: Arc<SharedInput>, capacity: usize) -> Release {
        Release {
            map: Some(map),
            capacity: capacity as u64,
            ..Release::default()
        }
    }

    fn sent(&mut self, batch_no: u64, end: u64) {
        let Some(input) = &self.map else { return };
        self.pending.push_back((batch_no, end));
        let mut upto = self.done;
        while let Some(&(no, end)) = self.pending.front() {
            if no + self.capacity + 1 > batch_no {
                break;
            }
            upto = end;
            self.pending.pop_front();
        }
        if upto > self.done {
            if let SharedInput::Mapped(map) = &**input {
                let released = release_pages(map, self.done as usize, (upto - self.done) as usize);
                // Failing is harmless (the pages stay resident) but would let RSS grow.
                debug_assert!(released.is_ok(), "madvise: {released:?}");
            }
            self.done = upto;
        }
    }
}

/// Identifies "the same command again": the command, the output folder and each input's
/// path, size and modification time. A killed run with the same fingerprint resumes.
///
/// # Errors
/// An input whose metadata cannot be read.
pub fn run_fingerprint(mode: Mode, inputs: &[Input], out_dir: &Path) -> Result<[u8; 32]> {
    let mut h = Sha256::new();
    h.update(format!("{mode:?}\0").as_bytes());
    let out = std::fs::canonicalize(out_dir).unwrap_or_else(|_| out_dir.to_owned());
    h.update(out.to_string_lossy().as_bytes());
    for input in inputs {
        match input {
            Input::File(p) => {
                let meta = std::fs::metadata(p).map_err(|e| Error::io(p, e))?;
                let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
                let mtime = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .unwrap_or(Duration::ZERO);
                h.update(
                    format!("\0{}\0{}\0{}", abs.display(), meta.len(), mtime.as_nanos()).as_bytes(),
                );
            }
            Input::Stdin => {
                // Standard input has no identity: a killed `register -` resumes when the same
                // data is piped again; an invoice is recognised by its IRN at its position.
                h.update(b"\0-");
            }
        }
    }
    Ok(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_are_mapped_and_the_rest_streamed() {
        let dir = tempfile::tempdir().unwrap();
        let full = dir.path().join("full.json");
        std::fs::write(&full, vec![b' '; 3 << 20]).unwrap();
        let empty = dir.path().join("empty.json");
        std::fs::write(&empty, b"").unwrap();
        let mapped = |path: &PathBuf, mmap: bool| {
            matches!(
                open_input(&Input::File(path.clone()), mmap).unwrap(),
                Source::Shared(_)
            )
        };
        assert!(mapped(&full, true));
        assert!(!mapped(&full, false));
        assert!(!mapped(&empty, true));
        // A real mapping accepts the release, unaligned ends included.
        let Source::Shared(input) = open_input(&Input::File(full), true).unwrap() else {
            panic!("not mapped");
        };
        let SharedInput::Mapped(map) = &*input else {
            panic!("not a mapping");
        };
        assert_eq!(map.iter().filter(|&&b| b == b' ').count(), 3 << 20);
        release_pages(map, 100, (1 << 20) + 5).unwrap();
        // Released pages read back from the page cache.
        assert!(map[..2 << 20].iter().all(|&b| b == b' '));
    }

    #[test]
    fn read_ahead_covers_each_window_once_and_stays_in_the_file() {
        let w = READ_AHEAD_CHUNKS * READ_CHUNK_BYTES;
        let total = 3 * w + 10;
        assert_eq!(read_ahead_range(total, 0), Some((0, 2 * w)));
        assert_eq!(read_ahead_range(total, w), Some((2 * w, w)));
        assert_eq!(read_ahead_range(total, 2 * w), Some((3 * w, 10)));
        assert_eq!(read_ahead_range(total, 3 * w), None);
        assert_eq!(read_ahead_range(100, 0), Some((0, 100)));
        assert_eq!(read_ahead_range(0, 0), None);
        assert_eq!(read_ahead_range(usize::MAX, usize::MAX - 1), None);
    }

    #[test]
    fn release_waits_until_the_transform_must_be_past_a_batch() {
        let input = Arc::new(SharedInput::Buffer(vec![b' '; 1000]));
        let mut r = Release::new(input, 1);
        r.sent(1, 100);
        r.sent(2, 200);
        // Batch 2 may still be in the channel and batch 1 in the transform.
        assert_eq!(r.done, 0);
        r.sent(3, 300);
        // Batch 3 in the channel, batch 2 taken: batch 1 is finished.
        assert_eq!(r.done, 100);
        r.sent(4, 450);
        assert_eq!(r.done, 200);
        assert_eq!(r.pending.len(), 2);
    }
}
