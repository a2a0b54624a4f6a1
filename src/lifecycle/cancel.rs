//! `irp cancel`: bulk cancellation with NIC's rules and codes (reference section 5).
//!
//! Inputs are CSV with the header `irn,reason,remark`, or JSON (array or NDJSON) of NIC's
//! cancel request `{Irn, CnlRsn, CnlRem}`; the first non-blank byte of each input decides
//! (`[` or `{` is JSON). Requests are handled in input order, in batches: a batch's
//! cancellations are committed to the registry in one synced write before any of them is
//! written to the outputs, and the outputs are renamed into place only when the run is
//! complete.
//!
//! A run is identified by a fingerprint of its inputs and output folder. Each cancellation
//! records the run and the request's position (`Cancellation {run, seq}`), so a killed run,
//! run again, recognises its own cancellations and reports them exactly as the uninterrupted
//! run would have (CNL with the same date), while any other request for an IRN that is
//! already cancelled gets 9999. Nothing is cancelled twice and nothing is lost.
//!
//! Codes (NIC's, reference 2.1 and 5):
//! - 2142 a required member (Irn, CnlRsn, CnlRem) missing or blank;
//! - 2145 an Irn that is not 64 hexadecimal characters;
//! - 2140 a request not per NIC's cancel schema: CnlRsn not 1..4, CnlRem longer than
//!   `lifecycle.cancel_remark_max`, a record that is not a JSON object (NIC has no code of its
//!   own for these; 2140 is its code for a payload not per the schema);
//! - 2143 an IRN of another seller than `--gstin` (when given);
//! - 2148 an IRN the registry does not know ("Requested IRN data is not available", NIC's
//!   code for an operation on an IRN that is not in the e-invoice system);
//! - 9999 an IRN already cancelled (also the second request for one IRN in a run);
//! - 2270 more than `lifecycle.cancel_window_hours` after AckDt;
//! - 2230 an active e-way bill exists for the IRN;
//! - 5002 a request over 64 KiB (request body too large), skipped unread.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::Duration;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::clock;
use crate::config::{LifecycleConfig, RegistryConfig};
use crate::dedup::Clock;
use crate::error::{Error, Result, Violation};
use crate::irn::{self, Irn};
use crate::pipeline::{self, Input, Mode};
use crate::read::{Framed, FramedRecord, Framer};
use crate::registry::{Cancellation, IrnStatus, Registration, Registry};
use crate::sink::{push_csv, push_violations, Failure};

/// Header of `cancel_status.csv`.
pub const STATUS_HEADER: &str = "seq,irn,status,cancel_date,error_codes,error_messages";
/// Requests per registry batch (one multi-get and one synced write).
pub const BATCH: usize = 1024;
/// Largest JSON cancel request accepted (a real one is under 300 bytes).
const MAX_REQUEST_BYTES: usize = 64 << 10;
const READ_CHUNK_BYTES: usize = 1 << 20;
const TMP_SUFFIX: &str = ".partial";
const STATUS_FILE: &str = "cancel_status.csv";
const RESULTS_FILE: &str = "cancel_results.jsonl";
const SUMMARY_FILE: &str = "cancel_summary.json";

/// NIC codes used here.
pub mod codes {
    pub const SCHEMA: u16 = 2140;
    pub const INCOMPLETE: u16 = 2142;
    pub const BAD_IRN: u16 = 2145;
    pub const NOT_FOUND: u16 = 2148;
    pub const EWB_ACTIVE: u16 = 2230;
    pub const WINDOW: u16 = 2270;
    pub const NOT_ACTIVE: u16 = 9999;
}

/// Everything a cancel run needs.
pub struct CancelOptions {
    pub inputs: Vec<Input>,
    pub out_dir: PathBuf,
    pub db: PathBuf,
    pub registry: RegistryConfig,
    pub lifecycle: LifecycleConfig,
    pub clock: Clock,
    /// The GSTIN cancelling, when known: only the seller may cancel (2143).
    pub gstin: Option<String>,
}

/// Counts of one input.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct CancelInputCounts {
    pub path: String,
    pub format: &'static str,
    pub records: u64,
    pub cancelled: u64,
    pub rejected: u64,
    pub warnings: Vec<String>,
}

/// `cancel_summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct CancelSummary {
    pub command: &'static str,
    pub run_id: u64,
    pub resumed: bool,
    pub total: u64,
    pub cancelled: u64,
    pub rejected: u64,
    pub by_error_code: BTreeMap<String, u64>,
    pub inputs: Vec<CancelInputCounts>,
    pub wall_seconds: f64,
}

impl CancelSummary {
    /// The end-of-run summary for a person.
    pub fn one_screen(&self, out: &Path) -> String {
        let mut s = format!(
            "irp cancel: {} requests in {:.2}s{}\n  cancelled (CNL): {}\n  rejected (ERR): {}\n",
            self.total,
            self.wall_seconds,
            if self.resumed { " [resumed run]" } else { "" },
            self.cancelled,
            self.rejected
        );
        let mut by_code: Vec<(&String, &u64)> = self.by_error_code.iter().collect();
        by_code.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (code, n) in by_code {
            s.push_str(&format!("    {code}: {n}\n"));
        }
        for input in &self.inputs {
            for w in &input.warnings {
                s.push_str(&format!("  warning: {}: {w}\n", input.path));
            }
        }
        s.push_str(&format!(
            "  outputs: {}/{{{STATUS_FILE},{RESULTS_FILE},{SUMMARY_FILE}}}",
            out.display()
        ));
        s
    }
}

/// A request's members as given (`None` = absent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Fields {
    irn: Option<String>,
    reason: Option<String>,
    remark: Option<String>,
}

/// A checked request.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Valid {
    irn: Irn,
    reason: String,
    remark: String,
}

/// One request of the run.
#[derive(Debug)]
struct Request {
    seq: u64,
    input: usize,
    /// The IRN as shown in the report (lower-case hex when valid, else as given).
    irn_text: String,
    checked: std::result::Result<Valid, Vec<Violation>>,
}

/// What happened to a request.
enum Outcome {
    Cancelled {
        irn: String,
        date: String,
    },
    Rejected {
        irn: String,
        violations: Vec<Violation>,
    },
}

/// Checks a request's members against NIC's cancel schema and the configured remark limit.
fn check(
    fields: Fields,
    remark_max: usize,
) -> (String, std::result::Result<Valid, Vec<Violation>>) {
    let mut violations = Vec::new();
    let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
    let irn_text = fields
        .irn
        .as_deref()
        .map(str::trim)
        .unwrap_or("")
        .to_owned();
    let mut irn = None;
    if blank(&fields.irn) {
        violations.push(Violation::new(
            codes::INCOMPLETE,
            "Incomplete request parameters: Irn is missing",
        ));
    } else {
        irn = irn::from_hex(&irn_text);
        if irn.is_none() {
            violations.push(Violation::new(
                codes::BAD_IRN,
                "IRN is not valid: an IRN is 64 hexadecimal characters",
            ));
        }
    }
    let reason = fields
        .reason
        .as_deref()
        .map(str::trim)
        .unwrap_or("")
        .to_owned();
    if blank(&fields.reason) {
        violations.push(Violation::new(
            codes::INCOMPLETE,
            "Incomplete request parameters: CnlRsn is missing",
        ));
    } else if !matches!(reason.as_str(), "1" | "2" | "3" | "4") {
        violations.push(Violation::new(
            codes::SCHEMA,
            format!(
                "Invalid CnlRsn {reason:?}: the cancel reason must be 1 (Duplicate), 2 (Data entry mistake), 3 (Order cancelled) or 4 (Others)"
            ),
        ));
    }
    let remark = fields
        .remark
        .as_deref()
        .map(str::trim)
        .unwrap_or("")
        .to_owned();
    if blank(&fields.remark) {
        violations.push(Violation::new(
            codes::INCOMPLETE,
            "Incomplete request parameters: CnlRem is missing",
        ));
    } else {
        let len = remark.chars().count();
        if len > remark_max {
            violations.push(Violation::new(
                codes::SCHEMA,
                format!("CnlRem is {len} characters long; at most {remark_max} are allowed"),
            ));
        }
    }
    let shown = match irn {
        Some(irn) => irn::to_hex(&irn),
        None => irn_text,
    };
    match (irn, violations.is_empty()) {
        (Some(irn), true) => (
            shown,
            Ok(Valid {
                irn,
                reason,
                remark,
            }),
        ),
        _ => (shown, Err(violations)),
    }
}

/// Reads the members of one JSON cancel request.
fn json_fields(bytes: &[u8]) -> std::result::Result<Fields, Violation> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        Violation::new(
            codes::SCHEMA,
            format!("invalid cancel request: not JSON: {e}"),
        )
    })?;
    let serde_json::Value::Object(map) = value else {
        return Err(Violation::new(
            codes::SCHEMA,
            "invalid cancel request: expected an object {Irn, CnlRsn, CnlRem}",
        ));
    };
    let member = |name: &str, numbers: bool| -> std::result::Result<Option<String>, Violation> {
        match map.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(serde_json::Value::Number(n)) if numbers => Ok(Some(n.to_string())),
            Some(_) => Err(Violation::new(
                codes::SCHEMA,
                format!("invalid cancel request: {name} must be a string"),
            )),
        }
    };
    Ok(Fields {
        irn: member("Irn", false)?,
        reason: member("CnlRsn", true)?,
        remark: member("CnlRem", false)?,
    })
}

/// Column positions of a CSV cancel input.
#[derive(Clone, Copy, Debug)]
struct Columns {
    irn: usize,
    reason: usize,
    remark: Option<usize>,
}

fn csv_columns(header: &csv::ByteRecord, path: &str) -> Result<Columns> {
    let mut irn = None;
    let mut reason = None;
    let mut remark = None;
    for (idx, name) in header.iter().enumerate() {
        let name = String::from_utf8_lossy(name).trim().to_ascii_lowercase();
        match name.trim_start_matches('\u{feff}') {
            "irn" => irn = irn.or(Some(idx)),
            "reason" | "cnlrsn" => reason = reason.or(Some(idx)),
            "remark" | "cnlrem" => remark = remark.or(Some(idx)),
            _ => {}
        }
    }
    let found = header
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect::<Vec<_>>()
        .join(",");
    match (irn, reason) {
        (Some(irn), Some(reason)) => Ok(Columns {
            irn,
            reason,
            remark,
        }),
        _ => Err(Error::Usage(format!(
            "{path}: a CSV cancel input starts with the header irn,reason,remark (found {found:?})"
        ))),
    }
}

/// The layout of an input, from its first non-blank byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
        }
    }
}

/// Peeks at the first non-blank byte (after a UTF-8 byte order mark) without consuming it.
fn detect(reader: &mut impl BufRead, name: &str) -> Result<Option<Format>> {
    let mut first = true;
    loop {
        let buf = reader.fill_buf().map_err(|e| Error::io(name, e))?;
        if buf.is_empty() {
            return Ok(None);
        }
        let mut skip = 0;
        if first && buf.starts_with(b"\xEF\xBB\xBF") {
            skip = 3;
        }
        first = false;
        match buf[skip..].iter().position(|b| !b.is_ascii_whitespace()) {
            Some(pos) => {
                let format = if matches!(buf[skip + pos], b'[' | b'{') {
                    Format::Json
                } else {
                    Format::Csv
                };
                reader.consume(skip);
                return Ok(Some(format));
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    }
}

fn open(input: &Input) -> Result<Box<dyn BufRead>> {
    Ok(match input {
        Input::File(path) => Box::new(BufReader::with_capacity(
            READ_CHUNK_BYTES,
            File::open(path).map_err(|e| Error::io(path, e))?,
        )),
        Input::Stdin => Box::new(BufReader::with_capacity(
            READ_CHUNK_BYTES,
            std::io::stdin().lock(),
        )),
    })
}

/// Checks every file input's layout (and a CSV's header) before anything is cancelled, so a
/// bad file stops the run before it has changed the registry.
fn precheck(inputs: &[Input]) -> Result<()> {
    for input in inputs {
        if let Input::File(_) = input {
            let name = input.display();
            let mut reader = open(input)?;
            if detect(&mut reader, &name)? == Some(Format::Csv) {
                let mut csv = csv_reader(reader);
                let header = csv.byte_headers().map_err(|e| csv_error(&name, e))?;
                csv_columns(header, &name)?;
            }
        }
    }
    Ok(())
}

fn csv_reader(reader: impl Read) -> csv::Reader<impl Read> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(reader)
}

fn csv_error(name: &str, e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::io(name, io),
        other => Error::Usage(format!("{name}: unreadable CSV: {other:?}")),
    }
}

/// The running cancel: registry, outputs and the batch being collected.
struct Run {
    registry: Registry,
    caller: Option<String>,
    run_id: u64,
    clock: Clock,
    window: Duration,
    remark_max: usize,
    pending: Vec<Request>,
    seq: u64,
    status: BufWriter<File>,
    results: BufWriter<File>,
    out_dir: PathBuf,
    summary: CancelSummary,
    line: Vec<u8>,
}

fn tmp(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}{TMP_SUFFIX}"))
}

fn create(path: &Path) -> Result<BufWriter<File>> {
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    Ok(BufWriter::with_capacity(1 << 20, file))
}

impl Run {
    fn push(&mut self, input: usize, fields: std::result::Result<Fields, Violation>) -> Result<()> {
        self.seq += 1;
        let (irn_text, checked) = match fields {
            Ok(fields) => check(fields, self.remark_max),
            Err(v) => (String::new(), Err(vec![v])),
        };
        self.pending.push(Request {
            seq: self.seq,
            input,
            irn_text,
            checked,
        });
        if self.pending.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Decides, commits and reports the pending batch.
    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let requests = std::mem::take(&mut self.pending);
        let irns: Vec<Irn> = requests
            .iter()
            .filter_map(|r| r.checked.as_ref().ok().map(|v| v.irn))
            .collect();
        let mut found = self.registry.get_many(&irns)?.into_iter();
        let now = self.clock.now();
        let date = clock::format_ack(&now);
        // IRNs cancelled by an earlier request of this batch (waiting for the commit).
        let mut cancelled_here: HashSet<Irn> = HashSet::new();
        let mut updates: Vec<(Irn, Registration)> = Vec::new();
        let mut outcomes = Vec::with_capacity(requests.len());
        for req in &requests {
            let valid = match &req.checked {
                Ok(valid) => valid,
                Err(violations) => {
                    outcomes.push(Outcome::Rejected {
                        irn: req.irn_text.clone(),
                        violations: violations.clone(),
                    });
                    continue;
                }
            };
            let registration = found.next().flatten();
            let reject = |code: u16, message: String| Outcome::Rejected {
                irn: req.irn_text.clone(),
                violations: vec![Violation::new(code, message)],
            };
            let outcome = if cancelled_here.contains(&valid.irn) {
                reject(codes::NOT_ACTIVE, "Invoice is not active".to_owned())
            } else {
                match registration {
                    None => reject(
                        codes::NOT_FOUND,
                        "Requested IRN data is not available".to_owned(),
                    ),
                    Some(mut reg) => match &reg.cancel {
                        // Cancelled by this very request before the run was interrupted.
                        Some(c) if c.run == self.run_id && c.seq == req.seq => Outcome::Cancelled {
                            irn: req.irn_text.clone(),
                            date: c.date.clone(),
                        },
                        _ if self.caller.as_deref().is_some_and(|g| !reg.is_owned_by(g)) => {
                            let caller = self.caller.as_deref().unwrap_or_default();
                            Outcome::Rejected {
                                irn: req.irn_text.clone(),
                                violations: vec![crate::lifecycle::get::not_owner(caller)],
                            }
                        }
                        _ if reg.status == IrnStatus::Cancelled => {
                            reject(codes::NOT_ACTIVE, "Invoice is not active".to_owned())
                        }
                        _ => {
                            let violations = self.rules(&reg, now);
                            if violations.is_empty() {
                                reg.status = IrnStatus::Cancelled;
                                reg.cancel = Some(Cancellation {
                                    date: date.clone(),
                                    reason: valid.reason.clone(),
                                    remark: valid.remark.clone(),
                                    run: self.run_id,
                                    seq: req.seq,
                                });
                                cancelled_here.insert(valid.irn);
                                updates.push((valid.irn, reg));
                                Outcome::Cancelled {
                                    irn: req.irn_text.clone(),
                                    date: date.clone(),
                                }
                            } else {
                                Outcome::Rejected {
                                    irn: req.irn_text.clone(),
                                    violations,
                                }
                            }
                        }
                    },
                }
            };
            outcomes.push(outcome);
        }
        if !updates.is_empty() {
            let refs: Vec<(Irn, &Registration)> = updates.iter().map(|(i, r)| (*i, r)).collect();
            // Durable before reported: the synced write comes before any output line.
            self.registry.update(&refs)?;
        }
        for (req, outcome) in requests.iter().zip(&outcomes) {
            self.report(req, outcome)?;
        }
        Ok(())
    }

    /// The time rules of an active registration: 2270 and 2230 (both reported when both apply).
    fn rules(&self, reg: &Registration, now: chrono::NaiveDateTime) -> Vec<Violation> {
        let mut violations = Vec::new();
        let acked = clock::parse_ack(&reg.ack_dt);
        if acked.is_none_or(|t| now - t > self.window) {
            violations.push(Violation::new(
                codes::WINDOW,
                format!(
                    "The allowed cancellation time limit is crossed, you cannot cancel the IRN (more than {} hours after {})",
                    self.window.num_hours(),
                    reg.ack_dt
                ),
            ));
        }
        if reg.ewb.as_ref().is_some_and(|e| e.active) {
            violations.push(Violation::new(
                codes::EWB_ACTIVE,
                "This IRN cannot be cancelled because e-way bill has been generated for this and it is active; cancel the e-way bill first",
            ));
        }
        violations
    }

    fn report(&mut self, req: &Request, outcome: &Outcome) -> Result<()> {
        let summary = &mut self.summary;
        summary.total += 1;
        let input = summary.inputs.get_mut(req.input);
        let line = &mut self.line;
        line.clear();
        line.extend_from_slice(req.seq.to_string().as_bytes());
        line.push(b',');
        let results_path = || tmp(&self.out_dir, RESULTS_FILE);
        match outcome {
            Outcome::Cancelled { irn, date } => {
                summary.cancelled += 1;
                if let Some(i) = input {
                    i.records += 1;
                    i.cancelled += 1;
                }
                push_csv(line, irn);
                line.extend_from_slice(b",CNL,");
                push_csv(line, date);
                line.extend_from_slice(b",,\n");
                #[derive(Serialize)]
                #[serde(rename_all = "PascalCase")]
                struct Cancelled<'a> {
                    irn: &'a str,
                    cancel_date: &'a str,
                }
                serde_json::to_writer(
                    &mut self.results,
                    &Cancelled {
                        irn,
                        cancel_date: date,
                    },
                )
                .map_err(|e| Error::io(results_path(), e.into()))?;
            }
            Outcome::Rejected { irn, violations } => {
                summary.rejected += 1;
                if let Some(i) = input {
                    i.records += 1;
                    i.rejected += 1;
                }
                for v in violations {
                    *summary.by_error_code.entry(v.code.to_string()).or_default() += 1;
                }
                push_csv(line, irn);
                line.extend_from_slice(b",ERR,,");
                push_violations(line, violations);
                let response = Failure::new(violations, None);
                serde_json::to_writer(&mut self.results, &response)
                    .map_err(|e| Error::io(results_path(), e.into()))?;
            }
        }
        self.results
            .write_all(b"\n")
            .map_err(|e| Error::io(results_path(), e))?;
        self.status
            .write_all(&self.line)
            .map_err(|e| Error::io(tmp(&self.out_dir, STATUS_FILE), e))
    }

    fn read_input(&mut self, idx: usize, input: &Input) -> Result<()> {
        let name = input.display();
        let mut reader = open(input)?;
        let format = detect(&mut reader, &name)?;
        if let Some(counts) = self.summary.inputs.get_mut(idx) {
            counts.format = format.map_or("empty", Format::name);
        }
        match format {
            None => Ok(()),
            Some(Format::Csv) => self.read_csv(idx, reader, &name),
            Some(Format::Json) => self.read_json(idx, reader, &name),
        }
    }

    fn read_csv(&mut self, idx: usize, reader: impl Read, name: &str) -> Result<()> {
        let mut csv = csv_reader(reader);
        let columns = csv_columns(csv.byte_headers().map_err(|e| csv_error(name, e))?, name)?;
        let mut record = csv::ByteRecord::new();
        while csv
            .read_byte_record(&mut record)
            .map_err(|e| csv_error(name, e))?
        {
            let fields = csv_fields(&record, columns);
            self.push(idx, fields)?;
        }
        Ok(())
    }

    fn read_json(&mut self, idx: usize, mut reader: impl Read, name: &str) -> Result<()> {
        let mut framer = Framer::new(MAX_REQUEST_BYTES);
        let mut chunk = vec![0u8; READ_CHUNK_BYTES];
        let mut framed: Vec<FramedRecord> = Vec::new();
        loop {
            let n = match reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(name, e)),
            };
            framer.push(&chunk[..n], &mut |r| framed.push(r));
            for rec in framed.drain(..) {
                let fields = framed_fields(rec);
                self.push(idx, fields)?;
            }
        }
        framer.finish(&mut |r| framed.push(r));
        for rec in framed.drain(..) {
            let fields = framed_fields(rec);
            self.push(idx, fields)?;
        }
        if let Some(counts) = self.summary.inputs.get_mut(idx) {
            counts.warnings.append(&mut framer.warnings);
        }
        Ok(())
    }

    /// Flushes, syncs and renames the outputs, then writes the summary.
    fn finish(mut self, started: Instant) -> Result<(Registry, CancelSummary)> {
        self.flush()?;
        self.summary.wall_seconds = started.elapsed().as_secs_f64();
        let dir = self.out_dir.clone();
        for (writer, name) in [(self.status, STATUS_FILE), (self.results, RESULTS_FILE)] {
            let path = tmp(&dir, name);
            let file = writer
                .into_inner()
                .map_err(|e| Error::io(&path, e.into_error()))?;
            file.sync_all().map_err(|e| Error::io(&path, e))?;
            std::fs::rename(&path, dir.join(name)).map_err(|e| Error::io(&path, e))?;
        }
        let mut text = serde_json::to_vec_pretty(&self.summary).map_err(|e| Error::Stage {
            stage: "cancel",
            message: e.to_string(),
        })?;
        text.push(b'\n');
        let path = tmp(&dir, SUMMARY_FILE);
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
        std::fs::rename(&path, dir.join(SUMMARY_FILE)).map_err(|e| Error::io(&path, e))?;
        Ok((self.registry, self.summary))
    }
}

fn csv_fields(
    record: &csv::ByteRecord,
    columns: Columns,
) -> std::result::Result<Fields, Violation> {
    let field = |i: Option<usize>| -> std::result::Result<Option<String>, Violation> {
        match i.and_then(|i| record.get(i)) {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes.to_vec()).map(Some).map_err(|_| {
                Violation::new(codes::SCHEMA, "invalid cancel request: not UTF-8 text")
            }),
        }
    };
    Ok(Fields {
        irn: field(Some(columns.irn))?,
        reason: field(Some(columns.reason))?,
        remark: field(columns.remark)?,
    })
}

fn framed_fields(rec: FramedRecord) -> std::result::Result<Fields, Violation> {
    match rec.body {
        Framed::Json(bytes) => json_fields(&bytes),
        Framed::Bad(message) => Err(Violation::new(
            codes::SCHEMA,
            format!("invalid cancel request: {message}"),
        )),
        Framed::TooLarge(message) => Err(Violation::new(
            5002,
            format!("Request body too large: {message}"),
        )),
    }
}

/// The run fingerprint: `register`'s (inputs' paths, sizes and times, output folder) under a
/// distinct tag, so a cancel run never resumes a register run or the reverse.
/// The run's identity: inputs, output folder and the GSTIN cancelling (the owner rule is part
/// of "the same command").
fn fingerprint(inputs: &[Input], out_dir: &Path, gstin: Option<&str>) -> Result<[u8; 32]> {
    let base = pipeline::run_fingerprint(Mode::Register, inputs, out_dir)?;
    let mut h = Sha256::new();
    h.update(b"cancel\0");
    h.update(base);
    if let Some(g) = gstin {
        h.update(b"gstin\0");
        h.update(g.trim().to_ascii_uppercase().as_bytes());
    }
    Ok(h.finalize().into())
}

/// Runs a bulk cancellation to completion.
///
/// # Errors
/// A fatal fault: a missing or locked registry, an unreadable input, a CSV input without the
/// `irn,reason,remark` header, a failed write. Per-request problems are never errors; they
/// are in the report.
pub fn run(opts: CancelOptions) -> Result<CancelSummary> {
    let started = Instant::now();
    if !opts.db.join("CURRENT").exists() {
        return Err(Error::Registry {
            path: opts.db.clone(),
            message: "no registry here (run `irp register` first)".to_owned(),
        });
    }
    precheck(&opts.inputs)?;
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| Error::io(&opts.out_dir, e))?;
    let mut registry = Registry::open(&opts.db, &opts.registry)?;
    let fp = fingerprint(&opts.inputs, &opts.out_dir, opts.gstin.as_deref())?;
    let (run_id, resumed) = registry.begin_run(&fp, "cancel")?;
    // From here on the run is recorded as begun: a fault says how to finish it.
    continue_run(opts, started, registry, &fp, run_id, resumed).map_err(|e| Error::Interrupted {
        command: "cancel",
        source: Box::new(e),
    })
}

/// The part of [`run`] after the run is recorded as begun.
fn continue_run(
    opts: CancelOptions,
    started: Instant,
    registry: Registry,
    fp: &[u8; 32],
    run_id: u64,
    resumed: bool,
) -> Result<CancelSummary> {
    let mut status = create(&tmp(&opts.out_dir, STATUS_FILE))?;
    writeln!(status, "{STATUS_HEADER}")
        .map_err(|e| Error::io(tmp(&opts.out_dir, STATUS_FILE), e))?;
    let results = create(&tmp(&opts.out_dir, RESULTS_FILE))?;
    let mut run = Run {
        registry,
        caller: opts.gstin.clone(),
        run_id,
        clock: opts.clock,
        window: Duration::hours(opts.lifecycle.cancel_window_hours),
        remark_max: opts.lifecycle.cancel_remark_max,
        pending: Vec::with_capacity(BATCH),
        seq: 0,
        status,
        results,
        out_dir: opts.out_dir.clone(),
        summary: CancelSummary {
            command: "cancel",
            run_id,
            resumed,
            total: 0,
            cancelled: 0,
            rejected: 0,
            by_error_code: BTreeMap::new(),
            inputs: opts
                .inputs
                .iter()
                .map(|i| CancelInputCounts {
                    path: i.display(),
                    ..CancelInputCounts::default()
                })
                .collect(),
            wall_seconds: 0.0,
        },
        line: Vec::with_capacity(512),
    };
    for (idx, input) in opts.inputs.iter().enumerate() {
        run.read_input(idx, input)?;
    }
    let (mut registry, summary) = run.finish(started)?;
    // Outputs are in place: only now is the run complete. A crash before this line resumes.
    registry.finish_run(fp, run_id, "cancel")?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::testutil::{invoice, register};
    use crate::registry::EwayBill;

    const S: &str = "29AAFCC9980M1ZR";
    const B: &str = "27AABCU9603R1ZN";

    fn options(dir: &Path, input: &Path, now: &str) -> CancelOptions {
        CancelOptions {
            inputs: vec![Input::File(input.to_owned())],
            out_dir: dir.join("out"),
            db: dir.join("db"),
            registry: RegistryConfig::default(),
            lifecycle: LifecycleConfig::default(),
            clock: Clock::Fixed(clock::parse_now(now).unwrap()),
            gstin: None,
        }
    }

    fn status_lines(dir: &Path) -> Vec<String> {
        std::fs::read_to_string(dir.join("out").join(STATUS_FILE))
            .unwrap()
            .lines()
            .skip(1)
            .map(str::to_owned)
            .collect()
    }

    fn setup(dir: &Path, n: usize) -> Vec<Irn> {
        let mut registry = Registry::open(&dir.join("db"), &RegistryConfig::default()).unwrap();
        let docs: Vec<_> = (0..n)
            .map(|i| {
                let inv = invoice(
                    S,
                    "B2B",
                    "INV",
                    &format!("T/{i}"),
                    "05/04/2025",
                    B,
                    "27",
                    false,
                    &[(18.0, 100.0, 18.0, 0.0, 0.0, 0.0)],
                );
                (inv, "2025-04-06 10:00:00")
            })
            .collect();
        register(&mut registry, &docs)
    }

    #[test]
    fn request_checks() {
        let f = |irn: Option<&str>, rsn: Option<&str>, rem: Option<&str>| {
            let fields = Fields {
                irn: irn.map(str::to_owned),
                reason: rsn.map(str::to_owned),
                remark: rem.map(str::to_owned),
            };
            match check(fields, 10).1 {
                Ok(_) => vec![],
                Err(v) => v.into_iter().map(|v| v.code).collect::<Vec<_>>(),
            }
        };
        let irn = "ab".repeat(32);
        assert_eq!(f(Some(&irn), Some(" 1 "), Some("ok")), Vec::<u16>::new());
        assert_eq!(
            f(Some(&irn.to_uppercase()), Some("4"), Some("ok")),
            Vec::<u16>::new()
        );
        assert_eq!(f(None, Some("1"), Some("ok")), [2142]);
        assert_eq!(f(Some("abc"), Some("1"), Some("ok")), [2145]);
        assert_eq!(f(Some(&irn), Some("5"), Some("ok")), [2140]);
        assert_eq!(f(Some(&irn), Some(""), Some("ok")), [2142]);
        assert_eq!(f(Some(&irn), Some("1"), Some("ééééééééééé")), [2140]);
        assert_eq!(
            f(Some(&irn), Some("1"), Some("éééééééééé")),
            Vec::<u16>::new()
        );
        assert_eq!(f(Some(&irn), Some("1"), None), [2142]);
        assert_eq!(f(Some("x"), Some("0"), Some(" ")), [2145, 2140, 2142]);
        assert!(
            json_fields(br#"{"Irn":"a","CnlRsn":2,"CnlRem":"r"}"#)
                .unwrap()
                .reason
                .as_deref()
                == Some("2")
        );
        assert_eq!(json_fields(br#"{"Irn":1}"#).unwrap_err().code, 2140);
        assert_eq!(json_fields(b"[1]").unwrap_err().code, 2140);
    }

    #[test]
    fn only_the_seller_may_cancel_2143() {
        let dir = tempfile::tempdir().unwrap();
        let irns = setup(dir.path(), 1);
        let input = dir.path().join("c.csv");
        let text = format!("irn,reason,remark\n{},1,x\n", irn::to_hex(&irns[0]));
        std::fs::write(&input, &text).unwrap();
        let as_gstin = |gstin: &str| CancelOptions {
            gstin: Some(gstin.to_owned()),
            ..options(dir.path(), &input, "2025-04-06 12:00:00")
        };
        run(as_gstin(B)).unwrap();
        let lines = status_lines(dir.path());
        assert!(
            lines[0].contains(&format!(
                ",ERR,,2143,Invoice/IRN does not belong to the user GSTIN {B}"
            )),
            "{}",
            lines[0]
        );
        // The seller, in any case, may.
        std::fs::remove_dir_all(dir.path().join("out")).unwrap();
        run(as_gstin(&S.to_ascii_lowercase())).unwrap();
        assert!(status_lines(dir.path())[0].contains(",CNL,"));
    }

    #[test]
    fn active_eway_bill_blocks_cancellation_2230() {
        let dir = tempfile::tempdir().unwrap();
        let irns = setup(dir.path(), 2);
        {
            let mut registry =
                Registry::open(&dir.path().join("db"), &RegistryConfig::default()).unwrap();
            for (irn, active) in [(irns[0], true), (irns[1], false)] {
                let mut reg = registry.get(&irn).unwrap().unwrap();
                reg.ewb = Some(EwayBill {
                    ewb_no: 181001234567,
                    ewb_dt: "2025-04-06 10:05:00".into(),
                    valid_till: "2025-04-07 23:59:00".into(),
                    active,
                });
                registry.update(&[(irn, &reg)]).unwrap();
            }
        }
        let input = dir.path().join("c.csv");
        let text = format!(
            "irn,reason,remark\n{},1,x\n{},1,x\n",
            irn::to_hex(&irns[0]),
            irn::to_hex(&irns[1])
        );
        std::fs::write(&input, &text).unwrap();
        run(options(dir.path(), &input, "2025-04-06 12:00:00")).unwrap();
        let lines = status_lines(dir.path());
        assert!(lines[0].contains(",ERR,,2230,"), "{}", lines[0]);
        assert!(
            lines[1].contains(",CNL,2025-04-06 12:00:00,"),
            "{}",
            lines[1]
        );
        // Too late and an active e-way bill: both reasons are given.
        let input2 = dir.path().join("c2.csv");
        std::fs::write(
            &input2,
            format!("irn,reason,remark\n{},1,x\n", irn::to_hex(&irns[0])),
        )
        .unwrap();
        run(options(dir.path(), &input2, "2025-04-08 12:00:00")).unwrap();
        assert!(status_lines(dir.path())[0].contains(",ERR,,2270|2230,"));
    }

    #[test]
    fn resumed_run_reports_its_own_cancellations_again() {
        let dir = tempfile::tempdir().unwrap();
        let irns = setup(dir.path(), 2);
        let input = dir.path().join("c.csv");
        let x = irn::to_hex(&irns[0]);
        let y = irn::to_hex(&irns[1]);
        std::fs::write(
            &input,
            format!("irn,reason,remark\n{y},9,x\n{x},2,typo\n{x},2,again\n{y},1,x\n"),
        )
        .unwrap();
        let opts = options(dir.path(), &input, "2025-04-06 12:00:00");
        std::fs::create_dir_all(&opts.out_dir).unwrap();
        // A run that was killed after committing the cancellation of line 2 at 11:00.
        {
            let mut registry = Registry::open(&opts.db, &opts.registry).unwrap();
            let fp = fingerprint(&opts.inputs, &opts.out_dir, None).unwrap();
            let (run_id, resumed) = registry.begin_run(&fp, "cancel").unwrap();
            assert!(!resumed);
            let mut reg = registry.get(&irns[0]).unwrap().unwrap();
            reg.status = IrnStatus::Cancelled;
            reg.cancel = Some(Cancellation {
                date: "2025-04-06 11:00:00".into(),
                reason: "2".into(),
                remark: "typo".into(),
                run: run_id,
                seq: 2,
            });
            registry.update(&[(irns[0], &reg)]).unwrap();
        }
        let summary = run(opts).unwrap();
        assert!(summary.resumed);
        let lines = status_lines(dir.path());
        assert_eq!(lines[0], format!("1,{y},ERR,,2140,\"Invalid CnlRsn \"\"9\"\": the cancel reason must be 1 (Duplicate), 2 (Data entry mistake), 3 (Order cancelled) or 4 (Others)\""));
        assert_eq!(lines[1], format!("2,{x},CNL,2025-04-06 11:00:00,,"));
        assert_eq!(lines[2], format!("3,{x},ERR,,9999,Invoice is not active"));
        assert_eq!(lines[3], format!("4,{y},CNL,2025-04-06 12:00:00,,"));
        let results = std::fs::read_to_string(dir.path().join("out").join(RESULTS_FILE)).unwrap();
        let first: serde_json::Value =
            serde_json::from_str(results.lines().nth(1).unwrap()).unwrap();
        assert_eq!(
            first,
            serde_json::json!({"Irn": x, "CancelDate": "2025-04-06 11:00:00"})
        );
        let third: serde_json::Value =
            serde_json::from_str(results.lines().nth(2).unwrap()).unwrap();
        assert_eq!(
            third,
            serde_json::json!({"Status": 0, "ErrorDetails": [{"ErrorCode": "9999", "ErrorMessage": "Invoice is not active"}], "InfoDtls": null})
        );
    }
}
