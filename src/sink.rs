//! Sink stage: `status.csv`, `results.jsonl`, QR images and the counts behind `summary.json`.
//! Files are written under temporary names and renamed only when the whole run succeeded,
//! so a killed run never leaves a partial report that looks complete.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result, Violation};
use crate::irn;
use crate::qr::QrFormat;
use crate::record::{Batch, DupInfo, Outcome, Processed};

/// Header of `status.csv` (fixed by the contract).
pub const STATUS_HEADER: &str =
    "seq,doc_type,doc_no,doc_date,seller_gstin,status,irn,ack_no,ack_dt,error_codes,error_messages";

const TMP_SUFFIX: &str = ".partial";

/// Counts of one input.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct InputCounts {
    pub path: String,
    pub records: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub duplicates: u64,
    pub bytes: u64,
    pub warnings: Vec<String>,
}

/// Counts of the whole run.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub total: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub duplicates: u64,
    pub by_status: BTreeMap<String, u64>,
    pub by_error_code: BTreeMap<String, u64>,
}

/// Writes the per-invoice outputs in input order.
pub struct Sink {
    dir: PathBuf,
    status: BufWriter<File>,
    results: BufWriter<File>,
    qr_format: QrFormat,
    pub counts: Counts,
    pub inputs: Vec<InputCounts>,
    line: Vec<u8>,
    /// One results.jsonl line, serialised here first: serde's many small writes cost less
    /// into a `Vec` than through the `BufWriter`.
    json: Vec<u8>,
}

fn create(path: &Path) -> Result<BufWriter<File>> {
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    Ok(BufWriter::with_capacity(1 << 20, file))
}

fn tmp(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}{TMP_SUFFIX}"))
}

impl Sink {
    /// Creates the output folder and the temporary output files.
    ///
    /// # Errors
    /// The folder or a file cannot be created.
    pub fn create(dir: &Path, inputs: &[String], qr_format: QrFormat) -> Result<Sink> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        if qr_format != QrFormat::None {
            let qr_dir = dir.join("qr");
            std::fs::create_dir_all(&qr_dir).map_err(|e| Error::io(&qr_dir, e))?;
        }
        // Outputs of an earlier run must not sit beside this run's as if they belonged together.
        for name in ["status.csv", "results.jsonl", "summary.json"] {
            let path = dir.join(name);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        let mut status = create(&tmp(dir, "status.csv"))?;
        let results = create(&tmp(dir, "results.jsonl"))?;
        writeln!(status, "{STATUS_HEADER}").map_err(|e| Error::io(tmp(dir, "status.csv"), e))?;
        Ok(Sink {
            dir: dir.to_owned(),
            status,
            results,
            qr_format,
            counts: Counts::default(),
            inputs: inputs
                .iter()
                .map(|p| InputCounts {
                    path: p.clone(),
                    ..InputCounts::default()
                })
                .collect(),
            line: Vec::with_capacity(4096),
            json: Vec::with_capacity(4096),
        })
    }

    /// Writes one batch.
    ///
    /// # Errors
    /// A write failure (e.g. disk full), naming the file.
    pub fn write_batch(&mut self, batch: &Batch<Processed>) -> Result<()> {
        for rec in &batch.records {
            self.write_record(rec)?;
        }
        Ok(())
    }

    fn write_record(&mut self, rec: &Processed) -> Result<()> {
        let counts = &mut self.counts;
        counts.total += 1;
        let input = self.inputs.get_mut(rec.input);
        let line = &mut self.line;
        line.clear();
        push_num(line, rec.seq);
        for field in [
            &rec.doc.doc_type,
            &rec.doc.doc_no,
            &rec.doc.doc_date,
            &rec.doc.seller_gstin,
        ] {
            line.push(b',');
            push_csv(line, field);
        }
        match &rec.outcome {
            Outcome::Registered(reg) => {
                counts.accepted += 1;
                bump(&mut counts.by_status, "ACT");
                if let Some(i) = input {
                    i.records += 1;
                    i.accepted += 1;
                }
                let irn_hex = irn::to_hex(&reg.irn);
                line.extend_from_slice(b",ACT,");
                line.extend_from_slice(irn_hex.as_bytes());
                line.push(b',');
                if let Some(ack) = reg.ack_no {
                    push_num(line, ack);
                }
                line.push(b',');
                if let Some(dt) = &reg.ack_dt {
                    push_csv(line, dt);
                }
                line.extend_from_slice(b",,\n");
                let json = &mut self.json;
                json.clear();
                push_success(
                    json,
                    reg.ack_no,
                    reg.ack_dt.as_deref(),
                    &irn_hex,
                    reg.signed_invoice.as_deref(),
                    reg.signed_qr.as_deref(),
                );
                push_ewb_info(json, &reg.ewb_errors);
                write_result_line(&mut self.results, json, &self.dir)?;
                if let (Some(bytes), Some(ext)) = (&reg.qr_image, self.qr_format.extension()) {
                    let path = self.dir.join("qr").join(format!("{irn_hex}.{ext}"));
                    std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
                }
            }
            Outcome::Rejected { violations, dup } => {
                counts.rejected += 1;
                bump(&mut counts.by_status, "ERR");
                let is_dup = dup.is_some();
                if is_dup {
                    counts.duplicates += 1;
                }
                for v in violations {
                    *counts.by_error_code.entry(v.code.to_string()).or_default() += 1;
                }
                if let Some(i) = input {
                    i.records += 1;
                    i.rejected += 1;
                    i.duplicates += u64::from(is_dup);
                }
                line.extend_from_slice(b",ERR,");
                if let Some(d) = dup {
                    line.extend_from_slice(d.irn.as_bytes());
                }
                line.extend_from_slice(b",,,");
                push_violations(line, violations);
                let response =
                    Failure::new(violations, dup.as_ref().map(|d| vec![DupIrnInfo::new(d)]));
                write_json(&mut self.results, &mut self.json, &response, &self.dir)?;
            }
            Outcome::Valid(_) => {
                return Err(Error::Stage {
                    stage: "write",
                    message: format!("record {} reached the writer unregistered", rec.seq),
                })
            }
        }
        self.status
            .write_all(&self.line)
            .map_err(|e| Error::io(tmp(&self.dir, "status.csv"), e))
    }

    /// Flushes, fsyncs and renames the outputs into place; writes `summary.json`.
    ///
    /// # Errors
    /// A write, sync or rename failure.
    pub fn finish(self, summary: &impl Serialize) -> Result<()> {
        let dir = self.dir.clone();
        for (writer, name) in [(self.status, "status.csv"), (self.results, "results.jsonl")] {
            let path = tmp(&dir, name);
            let file = writer
                .into_inner()
                .map_err(|e| Error::io(&path, e.into_error()))?;
            file.sync_all().map_err(|e| Error::io(&path, e))?;
            std::fs::rename(&path, dir.join(name)).map_err(|e| Error::io(&path, e))?;
        }
        let path = tmp(&dir, "summary.json");
        let mut text = serde_json::to_vec_pretty(summary).map_err(|e| Error::Stage {
            stage: "write",
            message: e.to_string(),
        })?;
        text.push(b'\n');
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
        std::fs::rename(&path, dir.join("summary.json")).map_err(|e| Error::io(&path, e))?;
        Ok(())
    }
}

fn write_json(
    out: &mut BufWriter<File>,
    buf: &mut Vec<u8>,
    value: &impl Serialize,
    dir: &Path,
) -> Result<()> {
    buf.clear();
    serde_json::to_writer(&mut *buf, value)
        .map_err(|e| Error::io(tmp(dir, "results.jsonl"), e.into()))?;
    buf.push(b'\n');
    write_result_line(out, buf, dir)
}

/// Appends one finished line to `results.jsonl` (its temporary name until the run ends).
fn write_result_line(out: &mut BufWriter<File>, line: &[u8], dir: &Path) -> Result<()> {
    out.write_all(line)
        .map_err(|e| Error::io(tmp(dir, "results.jsonl"), e))
}

/// One `results.jsonl` success line (with its newline), byte for byte what serde_json makes of
/// [`Success`] with the e-way bill fields and remarks null. Written by hand because this is the
/// line of nearly every record: serde_json passed each constant key through its escape table,
/// about 2,700 instructions a line (callgrind), more than the line's own values need.
fn push_success(
    line: &mut Vec<u8>,
    ack_no: Option<u64>,
    ack_dt: Option<&str>,
    irn: &str,
    signed_invoice: Option<&str>,
    signed_qr: Option<&str>,
) {
    line.extend_from_slice(b"{\"AckNo\":");
    match ack_no {
        Some(n) => push_num(line, n),
        None => line.extend_from_slice(b"null"),
    }
    for (key, value) in [
        (&b",\"AckDt\":"[..], ack_dt),
        (b",\"Irn\":", Some(irn)),
        (b",\"SignedInvoice\":", signed_invoice),
        (b",\"SignedQRCode\":", signed_qr),
    ] {
        line.extend_from_slice(key);
        match value {
            Some(v) => push_json_str(line, v),
            None => line.extend_from_slice(b"null"),
        }
    }
    line.extend_from_slice(
        b",\"Status\":\"ACT\",\"EwbNo\":null,\"EwbDt\":null,\"EwbValidTill\":null,\"Remarks\":null}\n",
    );
}

/// Appends NIC's `InfoDtls` EWBERR to a success line when the invoice's EwbDtls made no e-way
/// bill: the IRN stands, and the response says why there is no EwbNo.
fn push_ewb_info(line: &mut Vec<u8>, errors: &[Violation]) {
    if errors.is_empty() || !line.ends_with(b"}\n") {
        return;
    }
    line.truncate(line.len() - 2);
    let info = [EwbErrInfo {
        inf_cd: "EWBERR",
        desc: errors
            .iter()
            .map(|v| ErrorDetail {
                error_code: v.code.to_string(),
                error_message: &v.message,
            })
            .collect(),
    }];
    line.extend_from_slice(b",\"InfoDtls\":");
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *line, &info);
    line.extend_from_slice(b"}\n");
}

/// A JSON string: copied as it is when nothing in it needs escaping (an IRN, a date, a JWS),
/// else escaped by serde_json, so the two ways cannot differ.
fn push_json_str(line: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        line.push(b'"');
        line.extend_from_slice(s.as_bytes());
        line.push(b'"');
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *line, s);
    }
}

fn push_num(line: &mut Vec<u8>, n: u64) {
    let _ = write!(line, "{n}");
}

/// Appends the `error_codes,error_messages` columns (each joined with `|`) and the newline.
pub fn push_violations(line: &mut Vec<u8>, violations: &[crate::error::Violation]) {
    let codes: Vec<String> = violations.iter().map(|v| v.code.to_string()).collect();
    push_csv(line, &codes.join("|"));
    line.push(b',');
    let messages: Vec<&str> = violations.iter().map(|v| v.message.as_str()).collect();
    push_csv(line, &messages.join("|"));
    line.push(b'\n');
}

/// Counts one record under `key`, allocating the key only the first time.
fn bump(counts: &mut BTreeMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_owned(), 1);
        }
    }
}

/// Appends a field with RFC 4180 quoting.
pub fn push_csv(line: &mut Vec<u8>, field: &str) {
    if field
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        line.push(b'"');
        for b in field.bytes() {
            if b == b'"' {
                line.push(b'"');
            }
            line.push(b);
        }
        line.push(b'"');
    } else {
        line.extend_from_slice(field.as_bytes());
    }
}

/// NIC's Generate-IRN success response.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Success<'a> {
    pub ack_no: Option<u64>,
    pub ack_dt: Option<&'a str>,
    pub irn: String,
    pub signed_invoice: Option<&'a str>,
    #[serde(rename = "SignedQRCode")]
    pub signed_qr_code: Option<&'a str>,
    pub status: &'a str,
    pub ewb_no: Option<u64>,
    pub ewb_dt: Option<&'a str>,
    pub ewb_valid_till: Option<&'a str>,
    pub remarks: Option<&'a str>,
}

/// NIC's error response.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Failure<'a> {
    pub status: u8,
    pub error_details: Vec<ErrorDetail<'a>>,
    pub info_dtls: Option<Vec<DupIrnInfo>>,
}

impl<'a> Failure<'a> {
    /// NIC's error response for these violations.
    pub fn new(
        violations: &'a [crate::error::Violation],
        info_dtls: Option<Vec<DupIrnInfo>>,
    ) -> Failure<'a> {
        Failure {
            status: 0,
            error_details: violations
                .iter()
                .map(|v| ErrorDetail {
                    error_code: v.code.to_string(),
                    error_message: &v.message,
                })
                .collect(),
            info_dtls,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorDetail<'a> {
    pub error_code: String,
    pub error_message: &'a str,
}

/// `InfoDtls` entry `EWBERR`: why no e-way bill was made for an accepted IRN.
#[derive(Serialize)]
struct EwbErrInfo<'a> {
    #[serde(rename = "InfCd")]
    inf_cd: &'static str,
    #[serde(rename = "Desc")]
    desc: Vec<ErrorDetail<'a>>,
}

/// `InfoDtls` entry `DUPIRN` with the original registration.
#[derive(Serialize)]
pub struct DupIrnInfo {
    #[serde(rename = "InfCd")]
    pub inf_cd: &'static str,
    #[serde(rename = "Desc")]
    pub desc: DupDesc,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DupDesc {
    pub ack_no: Option<u64>,
    pub ack_dt: Option<String>,
    pub irn: String,
    /// `check` only: the run position of the first occurrence (not a NIC field).
    #[serde(skip_serializing_if = "Option::is_none", rename = "FirstSeq")]
    pub first_seq: Option<u64>,
}

impl DupIrnInfo {
    pub fn new(d: &DupInfo) -> DupIrnInfo {
        DupIrnInfo {
            inf_cd: "DUPIRN",
            desc: DupDesc {
                ack_no: d.ack_no,
                ack_dt: d.ack_dt.clone(),
                irn: d.irn.clone(),
                first_seq: d.first_seq,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn via_serde(
        ack_no: Option<u64>,
        ack_dt: Option<&str>,
        irn: &str,
        signed_invoice: Option<&str>,
        signed_qr: Option<&str>,
    ) -> Vec<u8> {
        let mut v = serde_json::to_vec(&Success {
            ack_no,
            ack_dt,
            irn: irn.to_owned(),
            signed_invoice,
            signed_qr_code: signed_qr,
            status: "ACT",
            ewb_no: None,
            ewb_dt: None,
            ewb_valid_till: None,
            remarks: None,
        })
        .unwrap();
        v.push(b'\n');
        v
    }

    #[test]
    fn success_line_is_what_serde_writes() {
        let irn = "a".repeat(64);
        // (AckNo, AckDt, SignedInvoice, SignedQRCode)
        type Case<'a> = (
            Option<u64>,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
        );
        let cases: [Case; 4] = [
            (None, None, None, None),
            (
                Some(112_010_000_000_001),
                Some("2026-11-22 10:00:00"),
                Some("eyJh.eyJi.c2ln"),
                Some("eyJh.eyJx.c2ln"),
            ),
            (Some(0), Some("tab\there \"q\" \\ \u{1}"), Some("ä€"), None),
            (Some(u64::MAX), Some(""), None, Some("\n")),
        ];
        for (ack_no, ack_dt, si, sq) in cases {
            let mut line = Vec::new();
            push_success(&mut line, ack_no, ack_dt, &irn, si, sq);
            assert_eq!(
                String::from_utf8(line).unwrap(),
                String::from_utf8(via_serde(ack_no, ack_dt, &irn, si, sq)).unwrap()
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn success_line_matches_serde_on_any_text(
            ack in proptest::option::of(proptest::num::u64::ANY),
            dt in proptest::option::of(".{0,30}"),
            irn in ".{0,70}",
            si in proptest::option::of(".{0,60}"),
            sq in proptest::option::of(".{0,60}"),
        ) {
            let mut line = Vec::new();
            push_success(&mut line, ack, dt.as_deref(), &irn, si.as_deref(), sq.as_deref());
            proptest::prop_assert_eq!(line, via_serde(ack, dt.as_deref(), &irn, si.as_deref(), sq.as_deref()));
        }
    }

    #[test]
    fn ewb_errors_ride_on_the_success_line_as_info_dtls() {
        let mut line = Vec::new();
        push_success(
            &mut line,
            Some(1),
            Some("2025-06-20 11:30:00"),
            "ab",
            None,
            None,
        );
        let plain = line.clone();
        push_ewb_info(&mut line, &[]);
        assert_eq!(line, plain);
        let why = Violation::new(4019, "Provide Transporter ID \"A\"");
        push_ewb_info(&mut line, &[why]);
        assert!(line.ends_with(b"}\n"));
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["Status"], "ACT");
        assert_eq!(v["EwbNo"], serde_json::Value::Null);
        assert_eq!(
            v["InfoDtls"],
            serde_json::json!([{"InfCd": "EWBERR", "Desc": [
                {"ErrorCode": "4019", "ErrorMessage": "Provide Transporter ID \"A\""}
            ]}])
        );
    }

    #[test]
    fn csv_quoting() {
        let mut v = Vec::new();
        push_csv(&mut v, "a,\"b\"\nc");
        assert_eq!(v, b"\"a,\"\"b\"\"\nc\"");
        v.clear();
        push_csv(&mut v, "plain");
        assert_eq!(v, b"plain");
    }
}
