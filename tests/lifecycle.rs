//! End-to-end tests of `irp cancel`, `irp get` and `irp gstr1` against the real binary:
//! generate a bulk file, register it, then cancel, look up and export from that registry.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::Value;

mod common;
use common::{copy_dir, SmallDisk};

const BIN: &str = env!("CARGO_BIN_EXE_irp");
/// The registration clock of every test.
const T0: &str = "2025-06-10 10:00:00";

/// A scratch folder in which the binary runs (keys and outputs stay inside it).
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        Work {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "irp {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        out
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }
}

/// One registered invoice as the tests see it.
#[derive(Clone, Debug)]
struct Registered {
    invoice: Value,
    irn: String,
    response: Value,
}

/// The register run of a generated file: every input invoice with its status line.
struct Fixture {
    accepted: Vec<Registered>,
}

fn invoices_of(text: &str) -> Vec<Value> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        serde_json::from_str(trimmed).unwrap()
    } else {
        serde_json::Deserializer::from_str(trimmed)
            .into_iter::<Value>()
            .map(Result::unwrap)
            .collect()
    }
}

/// `irp gen` + `irp register` into `db` (extra args go to register, e.g. a config).
fn generate_and_register(w: &Work, count: u64, seed: u64, extra: &[&str]) -> Fixture {
    let count = count.to_string();
    let seed = seed.to_string();
    w.ok(&[
        "gen",
        "--count",
        &count,
        "--seed",
        &seed,
        "--now",
        T0,
        "--max-items",
        "4",
        "--out",
        "inv.json",
    ]);
    let mut args = vec![
        "register", "inv.json", "--out", "reg", "--db", "db", "--now", T0, "-q",
    ];
    args.extend_from_slice(extra);
    w.ok(&args);
    let invoices = invoices_of(&w.read("inv.json"));
    let status = w.read("reg/status.csv");
    let results: Vec<Value> = w
        .read("reg/results.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut accepted = Vec::new();
    let mut rows = csv::Reader::from_reader(status.as_bytes());
    let header = rows.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (c_seq, c_status, c_irn) = (col("seq"), col("status"), col("irn"));
    for row in rows.records() {
        let row = row.unwrap();
        let seq: usize = row[c_seq].parse().unwrap();
        if &row[c_status] == "ACT" {
            accepted.push(Registered {
                invoice: invoices[seq - 1].clone(),
                irn: row[c_irn].to_owned(),
                response: results[seq - 1].clone(),
            });
        }
    }
    assert_eq!(results.len(), invoices.len());
    assert!(!accepted.is_empty(), "nothing was registered");
    Fixture { accepted }
}

fn cancel_status(w: &Work, out: &str) -> Vec<Vec<String>> {
    let text = w.read(&format!("{out}/cancel_status.csv"));
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        rows.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "seq",
            "irn",
            "status",
            "cancel_date",
            "error_codes",
            "error_messages"
        ]
    );
    rows.records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn cancel_results(w: &Work, out: &str) -> Vec<Value> {
    w.read(&format!("{out}/cancel_results.jsonl"))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn get_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

fn not_available() -> Value {
    serde_json::json!({"Status": 0, "ErrorDetails": [{"ErrorCode": "2148", "ErrorMessage": "Requested IRN data is not available"}], "InfoDtls": null})
}

#[test]
fn cancel_applies_nic_rules_and_codes() {
    let w = Work::new();
    let fx = generate_and_register(&w, 12, 7, &[]);
    assert!(fx.accepted.len() >= 8);
    let irn = |i: usize| fx.accepted[i].irn.clone();
    let long = "r".repeat(101);
    let csv = format!(
        "irn,reason,remark\n\
         {a},1,Duplicate entry\n\
         {a},2,again\n\
         {unknown},1,x\n\
         not-an-irn,1,x\n\
         {b},5,x\n\
         {b},1,{long}\n\
         {b},,x\n\
         {c},3,\"quoted, remark\"\n\
         {upper},4,upper-case IRN\n",
        a = irn(0),
        b = irn(1),
        c = irn(2),
        upper = irn(6).to_uppercase(),
        unknown = "0".repeat(64),
    );
    w.write("c1.csv", &csv);
    w.ok(&[
        "cancel",
        "c1.csv",
        "--out",
        "c1",
        "--db",
        "db",
        "--now",
        "2025-06-10 11:00:00",
        "-q",
    ]);
    let rows = cancel_status(&w, "c1");
    let outcome: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r[2].as_str(), r[4].as_str()))
        .collect();
    assert_eq!(
        outcome,
        [
            ("CNL", ""),
            ("ERR", "9999"),
            ("ERR", "2148"),
            ("ERR", "2145"),
            ("ERR", "2140"),
            ("ERR", "2140"),
            ("ERR", "2142"),
            ("CNL", ""),
            ("CNL", "")
        ]
    );
    assert_eq!(rows[0][3], "2025-06-10 11:00:00");
    assert_eq!(rows[3][1], "not-an-irn");
    assert_eq!(rows[8][1], irn(6), "the IRN is reported in lower case");
    assert!(rows[5][5].contains("101 characters"), "{}", rows[5][5]);
    let results = cancel_results(&w, "c1");
    assert_eq!(
        results[0],
        serde_json::json!({"Irn": irn(0), "CancelDate": "2025-06-10 11:00:00"})
    );
    assert_eq!(
        results[1],
        serde_json::json!({"Status": 0, "ErrorDetails": [{"ErrorCode": "9999", "ErrorMessage": "Invoice is not active"}], "InfoDtls": null})
    );
    assert_eq!(results[2], not_available());
    let summary: Value = serde_json::from_str(&w.read("c1/cancel_summary.json")).unwrap();
    assert_eq!(
        (
            summary["total"].as_u64(),
            summary["cancelled"].as_u64(),
            summary["rejected"].as_u64()
        ),
        (Some(9), Some(3), Some(6))
    );
    assert_eq!(summary["by_error_code"]["2140"], 2);

    // NDJSON a day later: after the 24-hour window (2270) and already cancelled (9999);
    // exactly 24 hours after AckDt is still allowed.
    let ndjson = format!(
        "{{\"Irn\":\"{}\",\"CnlRsn\":\"1\",\"CnlRem\":\"late\"}}\n{{\"Irn\":\"{}\",\"CnlRsn\":\"1\",\"CnlRem\":\"again\"}}\n",
        irn(3),
        irn(0)
    );
    w.write("c2.ndjson", &ndjson);
    w.ok(&[
        "cancel",
        "c2.ndjson",
        "--out",
        "c2",
        "--db",
        "db",
        "--now",
        "2025-06-11 10:00:01",
        "-q",
    ]);
    let rows = cancel_status(&w, "c2");
    assert_eq!((rows[0][2].as_str(), rows[0][4].as_str()), ("ERR", "2270"));
    assert_eq!((rows[1][2].as_str(), rows[1][4].as_str()), ("ERR", "9999"));
    // A JSON array with NIC's own sample quirks: CnlRsn with a trailing blank, or a number;
    // then a request over 64 KiB (5002, request body too large).
    let array = format!(
        "[{{\"Irn\":\"{}\",\"CnlRsn\":\"4 \",\"CnlRem\":\"on the dot\"}}, {{\"Irn\":\"{}\",\"CnlRsn\":2,\"CnlRem\":\"n\"}}, {{\"Irn\":\"{}\"}}, 42, {{\"Irn\":\"{}\",\"CnlRsn\":\"1\",\"CnlRem\":\"{}\"}}]",
        irn(4),
        irn(5),
        irn(7),
        irn(7),
        "x".repeat(70_000)
    );
    w.write("c3.json", &array);
    w.ok(&[
        "cancel",
        "c3.json",
        "--out",
        "c3",
        "--db",
        "db",
        "--now",
        "2025-06-11 10:00:00",
        "-q",
    ]);
    let rows = cancel_status(&w, "c3");
    let outcome: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r[2].as_str(), r[4].as_str()))
        .collect();
    assert_eq!(
        outcome,
        [
            ("CNL", ""),
            ("CNL", ""),
            ("ERR", "2142|2142"),
            ("ERR", "2140"),
            ("ERR", "5002")
        ]
    );

    // A cancelled document number can never be registered again (2150).
    w.ok(&[
        "register",
        "inv.json",
        "--out",
        "again",
        "--db",
        "db",
        "--now",
        "2025-06-10 12:00:00",
        "-q",
    ]);
    let again = w.read("again/status.csv");
    for cancelled in [irn(0), irn(2)] {
        let line = again
            .lines()
            .find(|l| l.contains(&cancelled))
            .expect("the cancelled IRN is reported");
        assert!(line.contains(",ERR,") && line.contains("2150"), "{line}");
    }

    // Bad inputs stop the run before anything changes, with a clear message.
    w.write("bad.csv", &format!("number,why\n{},1\n", irn(7)));
    let out = w.run(&[
        "cancel",
        "bad.csv",
        "--out",
        "bad",
        "--db",
        "db",
        "--now",
        "2025-06-10 11:00:00",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("irn,reason,remark"));
    let out = w.run(&[
        "get",
        "--irn",
        &irn(7),
        "--db",
        "db",
        "--now",
        "2025-06-10 11:00:00",
    ]);
    assert_eq!(get_json(&out)["Status"], "ACT");
    let out = w.run(&["cancel", "missing.csv", "--out", "bad", "--db", "db"]);
    assert_eq!(out.status.code(), Some(2));
    let out = w.run(&["cancel", "c1.csv", "--out", "bad", "--db", "no-such-db"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no registry"));
}

#[test]
fn get_by_irn_and_by_document_re_signs_identically() {
    let w = Work::new();
    let fx = generate_and_register(&w, 20, 11, &[]);
    for reg in fx.accepted.iter().take(6) {
        let out = w.ok(&["get", "--irn", &reg.irn, "--db", "db"]);
        let got = get_json(&out);
        for key in [
            "AckNo",
            "AckDt",
            "Irn",
            "SignedInvoice",
            "SignedQRCode",
            "Status",
        ] {
            assert_eq!(got[key], reg.response[key], "{key} of {}", reg.irn);
        }
        for key in ["EwbNo", "EwbDt", "EwbValidTill", "Remarks"] {
            assert!(got[key].is_null(), "{key}");
        }
        let doc = &reg.invoice["DocDtls"];
        let gstin = reg.invoice["SellerDtls"]["Gstin"].as_str().unwrap();
        let no = doc["No"].as_str().unwrap();
        let by_doc = w.ok(&[
            "get",
            "--doc-type",
            doc["Typ"].as_str().unwrap(),
            "--doc-no",
            no,
            "--doc-date",
            doc["Dt"].as_str().unwrap(),
            "--gstin",
            gstin,
            "--db",
            "db",
        ]);
        assert_eq!(get_json(&by_doc), got);
        // Document numbers are case-insensitive (upper-cased before the IRN).
        let lower = w.ok(&[
            "get",
            "--doc-type",
            &doc["Typ"].as_str().unwrap().to_lowercase(),
            "--doc-no",
            &no.to_lowercase(),
            "--doc-date",
            doc["Dt"].as_str().unwrap(),
            "--gstin",
            gstin,
            "--db",
            "db",
        ]);
        assert_eq!(get_json(&lower)["Irn"], got["Irn"]);
        // By IRN for a GSTIN: the seller gets it, anyone else 2143.
        let own = w.ok(&["get", "--irn", &reg.irn, "--gstin", gstin, "--db", "db"]);
        assert_eq!(get_json(&own), got);
        let other = if gstin == "29AAFCC9980M1ZR" {
            "27AABCU9603R1ZN"
        } else {
            "29AAFCC9980M1ZR"
        };
        let theirs = w.run(&["get", "--irn", &reg.irn, "--gstin", other, "--db", "db"]);
        assert_eq!(theirs.status.code(), Some(1));
        assert_eq!(get_json(&theirs)["ErrorDetails"][0]["ErrorCode"], "2143");
    }

    // The signature verifies with the development certificate.
    let first = &fx.accepted[0];
    let out = w.ok(&["get", "--irn", &first.irn, "--db", "db"]);
    let token = get_json(&out)["SignedInvoice"].as_str().unwrap().to_owned();
    let verified = w.ok(&["verify", &token, "--cert", "data/keys/irp-signing-cert.pem"]);
    assert!(String::from_utf8_lossy(&verified.stdout).contains("VALID"));

    // Cancelled: Status CNL, the same signed invoice.
    w.write(
        "c.csv",
        &format!("irn,reason,remark\n{},2,typo\n", first.irn),
    );
    w.ok(&[
        "cancel",
        "c.csv",
        "--out",
        "c",
        "--db",
        "db",
        "--now",
        "2025-06-10 12:00:00",
        "-q",
    ]);
    let cancelled = get_json(&w.ok(&["get", "--irn", &first.irn, "--db", "db"]));
    assert_eq!(cancelled["Status"], "CNL");
    assert_eq!(cancelled["SignedInvoice"], first.response["SignedInvoice"]);

    // Not found: NIC's 2148 on stdout, exit 1.
    for args in [
        vec!["get", "--irn", &"ab".repeat(32), "--db", "db"],
        vec![
            "get",
            "--doc-type",
            "INV",
            "--doc-no",
            "NO/SUCH/1",
            "--doc-date",
            "01/06/2025",
            "--gstin",
            "29AAFCC9980M1ZR",
            "--db",
            "db",
        ],
    ] {
        let out = w.run(&args);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(get_json(&out), not_available());
    }

    // The lookup window (2283), off by default, on in this configuration.
    w.write("window.toml", "[lifecycle]\nlookup_window_days = 2\n");
    let irn = &fx.accepted[1].irn;
    let within = w.run(&[
        "get",
        "--irn",
        irn,
        "--db",
        "db",
        "--config",
        "window.toml",
        "--now",
        "2025-06-12 10:00:00",
    ]);
    assert_eq!(within.status.code(), Some(0));
    let late = w.run(&[
        "get",
        "--irn",
        irn,
        "--db",
        "db",
        "--config",
        "window.toml",
        "--now",
        "2025-06-12 10:00:01",
    ]);
    assert_eq!(late.status.code(), Some(1));
    assert_eq!(get_json(&late)["ErrorDetails"][0]["ErrorCode"], "2283");

    // Bad arguments: a clear message and exit 2.
    for (args, message) in [
        (vec!["get", "--irn", "xyz", "--db", "db"], "64 hexadecimal"),
        (vec!["get", "--doc-type", "INV", "--db", "db"], "--doc-no"),
        (
            vec![
                "get",
                "--doc-type",
                "BIL",
                "--doc-no",
                "1",
                "--doc-date",
                "01/06/2025",
                "--gstin",
                "29AAFCC9980M1ZR",
                "--db",
                "db",
            ],
            "INV, CRN or DBN",
        ),
        (
            vec![
                "get",
                "--doc-type",
                "INV",
                "--doc-no",
                "1",
                "--doc-date",
                "2025-06-01",
                "--gstin",
                "29AAFCC9980M1ZR",
                "--db",
                "db",
            ],
            "dd/mm/yyyy",
        ),
        (
            vec!["get", "--irn", &"ab".repeat(32), "--db", "no-such-db"],
            "no registry",
        ),
    ] {
        let out = w.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(message),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn dec(v: &Value) -> Decimal {
    match v {
        Value::Number(n) => n.to_string().parse().unwrap(),
        Value::Null => Decimal::ZERO,
        other => panic!("not a number: {other}"),
    }
}

/// Totals of a set of documents, computed from the invoices or read back from the export.
#[derive(Debug, Default, PartialEq, Eq)]
struct Totals {
    docs: u64,
    /// Σ TotInvVal.
    val: Decimal,
    /// Σ AssAmt.
    txval: Decimal,
    /// Σ IgstAmt.
    iamt: Decimal,
    /// Σ CgstAmt + SgstAmt.
    camt_samt: Decimal,
    /// Σ CesAmt + CesNonAdvlAmt.
    csamt: Decimal,
}

fn section_of(inv: &Value) -> &'static str {
    let typ = inv["DocDtls"]["Typ"].as_str().unwrap();
    let export = matches!(inv["TranDtls"]["SupTyp"].as_str(), Some("EXPWP" | "EXPWOP"));
    match (typ, export) {
        ("INV", false) => "b2b",
        ("INV", true) => "exp",
        (_, false) => "cdnr",
        (_, true) => "cdnur",
    }
}

/// The GSTR-1 fields that follow from the invoice alone (reference 6), computed independently.
fn expected_mapping(inv: &Value) -> BTreeMap<&'static str, String> {
    let sup = inv["TranDtls"]["SupTyp"].as_str().unwrap();
    let typ = inv["DocDtls"]["Typ"].as_str().unwrap();
    let mut m = BTreeMap::new();
    let rchrg = if inv["TranDtls"]["RegRev"] == "Y" {
        "Y"
    } else {
        "N"
    };
    let inv_typ = match sup {
        "SEZWP" => "SEWP",
        "SEZWOP" => "SEWOP",
        "DEXP" => "DE",
        _ => "R",
    };
    let dashed = inv["DocDtls"]["Dt"].as_str().unwrap().replace('/', "-");
    match section_of(inv) {
        "b2b" => {
            m.insert("inum", inv["DocDtls"]["No"].as_str().unwrap().to_owned());
            m.insert("idt", dashed);
            m.insert("rchrg", rchrg.to_owned());
            m.insert("inv_typ", inv_typ.to_owned());
            m.insert("pos", inv["BuyerDtls"]["Pos"].as_str().unwrap().to_owned());
        }
        "exp" => {
            m.insert("inum", inv["DocDtls"]["No"].as_str().unwrap().to_owned());
            m.insert("idt", dashed);
            if let Some(port) = inv["ExpDtls"]["Port"].as_str() {
                m.insert("sbpcode", port.to_owned());
            }
        }
        section => {
            m.insert("ntty", if typ == "CRN" { "C" } else { "D" }.to_owned());
            m.insert("nt_num", inv["DocDtls"]["No"].as_str().unwrap().to_owned());
            m.insert("nt_dt", dashed);
            m.insert("pos", inv["BuyerDtls"]["Pos"].as_str().unwrap().to_owned());
            if section == "cdnr" {
                m.insert("rchrg", rchrg.to_owned());
                m.insert("inv_typ", inv_typ.to_owned());
            } else {
                m.insert("typ", sup.to_owned());
            }
        }
    }
    m
}

fn add_invoice(t: &mut Totals, inv: &Value) {
    t.docs += 1;
    t.val += dec(&inv["ValDtls"]["TotInvVal"]);
    for item in inv["ItemList"].as_array().unwrap() {
        t.txval += dec(&item["AssAmt"]);
        t.iamt += dec(&item["IgstAmt"]);
        t.camt_samt += dec(&item["CgstAmt"]) + dec(&item["SgstAmt"]);
        t.csamt += dec(&item["CesAmt"]) + dec(&item["CesNonAdvlAmt"]);
    }
}

/// Adds one exported document, checks its fields against its invoice and returns its section.
fn add_exported(
    t: &mut Totals,
    doc: &Value,
    section: &'static str,
    by_irn: &HashMap<&str, &Value>,
) {
    let irn = doc["irn"].as_str().unwrap();
    let inv = by_irn
        .get(irn)
        .unwrap_or_else(|| panic!("{irn} is not an active registration"));
    assert_eq!(section_of(inv), section, "{irn}");
    for (key, value) in expected_mapping(inv) {
        assert_eq!(doc[key].as_str(), Some(value.as_str()), "{key} of {irn}");
    }
    assert_eq!(doc["irngendate"], "10-06-2025");
    if section != "cdnur" || doc.get("srctyp").is_some() {
        assert_eq!(doc["srctyp"], "e-Invoice");
    }
    t.docs += 1;
    t.val += dec(&doc["val"]);
    let mut rates = Vec::new();
    for (num, it) in doc["itms"].as_array().unwrap().iter().enumerate() {
        let d = match it.get("itm_det") {
            Some(d) => {
                assert_eq!(it["num"], num + 1);
                d
            }
            None => it,
        };
        rates.push(dec(&d["rt"]));
        t.txval += dec(&d["txval"]);
        t.iamt += dec(&d["iamt"]);
        t.camt_samt +=
            dec(d.get("camt").unwrap_or(&Value::Null)) + dec(d.get("samt").unwrap_or(&Value::Null));
        t.csamt += dec(&d["csamt"]);
    }
    let mut distinct = rates.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(rates, distinct, "one line per rate, in rate order");
}

#[test]
fn gstr1_totals_match_the_registered_invoices() {
    let w = Work::new();
    w.write(
        "fast.toml",
        "[signing]\nalgorithm = \"eddsa\"\nkey = \"keys/ed.pem\"\ncert = \"keys/ed-cert.pem\"\n",
    );
    let fx = generate_and_register(&w, 3000, 3, &["--config", "fast.toml"]);
    // Cancel every fifth registration within the window.
    let cancelled: HashSet<&str> = fx
        .accepted
        .iter()
        .step_by(5)
        .map(|r| r.irn.as_str())
        .collect();
    let mut csv = String::from("irn,reason,remark\n");
    for irn in &cancelled {
        csv.push_str(&format!("{irn},3,order cancelled\n"));
    }
    w.write("c.csv", &csv);
    w.ok(&[
        "cancel",
        "c.csv",
        "--out",
        "c",
        "--db",
        "db",
        "--now",
        "2025-06-10 18:00:00",
        "-q",
    ]);
    let cancel_summary: Value = serde_json::from_str(&w.read("c/cancel_summary.json")).unwrap();
    assert_eq!(
        cancel_summary["cancelled"].as_u64(),
        Some(cancelled.len() as u64)
    );

    // Independent sums per seller, month and section, over the active registrations.
    let mut expected: BTreeMap<(String, String), BTreeMap<&str, Totals>> = BTreeMap::new();
    let mut by_irn: HashMap<&str, &Value> = HashMap::new();
    for reg in &fx.accepted {
        let inv = &reg.invoice;
        let dt = inv["DocDtls"]["Dt"].as_str().unwrap();
        let key = (
            inv["SellerDtls"]["Gstin"].as_str().unwrap().to_owned(),
            format!("{}{}", &dt[3..5], &dt[6..10]),
        );
        let sections = expected.entry(key).or_default();
        if cancelled.contains(reg.irn.as_str()) {
            continue;
        }
        add_invoice(sections.entry(section_of(inv)).or_default(), inv);
        by_irn.insert(&reg.irn, inv);
    }
    // Largest seller-months first, until every section has been seen (at least 12 exports).
    let mut order: Vec<_> = expected.iter().collect();
    order.sort_by_key(|(k, v)| {
        (
            std::cmp::Reverse(v.values().map(|t| t.docs).sum::<u64>()),
            (*k).clone(),
        )
    });
    let mut seen: HashSet<&str> = HashSet::new();
    let mut exports = 0;
    for ((gstin, fp), want) in order {
        if exports >= 12 && seen.len() == 4 {
            break;
        }
        exports += 1;
        let out = w.ok(&[
            "gstr1",
            "--gstin",
            gstin,
            "--period",
            fp,
            "--db",
            "db",
            "--out",
            "gstr1.json",
        ]);
        assert!(String::from_utf8_lossy(&out.stderr).contains("cancelled left out"));
        let text = w.read("gstr1.json");
        let export: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(export["gstin"], gstin.as_str());
        assert_eq!(export["fp"], fp.as_str());
        let mut got: BTreeMap<&str, Totals> = BTreeMap::new();
        for (section, docs_key) in [("b2b", "inv"), ("cdnr", "nt")] {
            let mut ctins = Vec::new();
            for party in export[section].as_array().into_iter().flatten() {
                let ctin = party["ctin"].as_str().unwrap();
                ctins.push(ctin.to_owned());
                let t = got.entry(section).or_default();
                for doc in party[docs_key].as_array().unwrap() {
                    assert_eq!(
                        by_irn[doc["irn"].as_str().unwrap()]["BuyerDtls"]["Gstin"],
                        ctin
                    );
                    add_exported(t, doc, section, &by_irn);
                }
            }
            let mut sorted = ctins.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(
                ctins, sorted,
                "{section} parties are sorted by GSTIN, once each"
            );
        }
        for group in export["exp"].as_array().into_iter().flatten() {
            let t = got.entry("exp").or_default();
            for doc in group["inv"].as_array().unwrap() {
                let sup = by_irn[doc["irn"].as_str().unwrap()]["TranDtls"]["SupTyp"]
                    .as_str()
                    .unwrap();
                let exp_typ = if sup == "EXPWP" { "WPAY" } else { "WOPAY" };
                assert_eq!(group["exp_typ"], exp_typ);
                add_exported(t, doc, "exp", &by_irn);
            }
        }
        for doc in export["cdnur"].as_array().into_iter().flatten() {
            add_exported(got.entry("cdnur").or_default(), doc, "cdnur", &by_irn);
        }
        assert_eq!(&got, want, "GSTR-1 of {gstin} {fp}");
        seen.extend(got.keys());
        // Money is written with exactly two decimals.
        for key in ["\"txval\":", "\"val\":", "\"iamt\":"] {
            for rest in text.split(key).skip(1) {
                let number: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
                    .collect();
                assert_eq!(
                    number.split('.').nth(1).map(str::len),
                    Some(2),
                    "{key}{number}"
                );
            }
        }
        // Cancelled registrations are left out.
        for irn in &cancelled {
            assert!(!text.contains(irn), "cancelled {irn} exported");
        }
    }
    eprintln!("{exports} exports checked; sections {seen:?}");
    assert_eq!(seen.len(), 4, "sections seen: {seen:?}");

    // The same export on stdout.
    let (gstin, fp) = expected.keys().next().unwrap();
    w.ok(&[
        "gstr1", "--gstin", gstin, "--period", fp, "--db", "db", "--out", "one.json",
    ]);
    let stdout = w.ok(&["gstr1", "--gstin", gstin, "--period", fp, "--db", "db"]);
    assert_eq!(String::from_utf8_lossy(&stdout.stdout), w.read("one.json"));

    // Bad arguments.
    for (args, message) in [
        (
            vec![
                "gstr1", "--gstin", gstin, "--period", "2025-06", "--db", "db",
            ],
            "MMYYYY",
        ),
        (
            vec![
                "gstr1", "--gstin", gstin, "--period", "132025", "--db", "db",
            ],
            "MMYYYY",
        ),
        (
            vec![
                "gstr1", "--gstin", "29-bad", "--period", "062025", "--db", "db",
            ],
            "GSTIN",
        ),
        (
            vec![
                "gstr1", "--gstin", gstin, "--period", "062025", "--db", "nodb",
            ],
            "no registry",
        ),
    ] {
        let out = w.run(&args);
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{stderr}");
    }
    // A period without documents: only gstin and fp.
    let empty = w.ok(&[
        "gstr1", "--gstin", gstin, "--period", "012020", "--db", "db",
    ]);
    let empty: Value = serde_json::from_slice(&empty.stdout).unwrap();
    assert_eq!(empty, serde_json::json!({"gstin": gstin, "fp": "012020"}));
}

/// Registers `count` generated invoices in `db` and copies the registry to `db-copy`, so a
/// cancel run can be compared with an uninterrupted one. EdDSA signs fast; signatures play no
/// part in cancellation.
fn two_registries(w: &Work, count: u64, seed: u64) -> Fixture {
    w.write(
        "fast.toml",
        "[signing]\nalgorithm = \"eddsa\"\nkey = \"keys/ed.pem\"\ncert = \"keys/ed-cert.pem\"\n",
    );
    let fx = generate_and_register(w, count, seed, &["--config", "fast.toml"]);
    copy_dir(&w.path("db"), &w.path("db-copy"));
    fx
}

#[test]
fn cancel_killed_and_rerun_matches_an_uninterrupted_run() {
    let w = Work::new();
    let fx = two_registries(&w, 3000, 5);

    // A long input: registered IRNs among many unknown ones (2148), some with a bad reason
    // (2140), some asked for twice (9999 the second time), so the run commits cancellations
    // all along. `expected` is what each line must get.
    let mut csv = String::from("irn,reason,remark\n");
    let mut expected: Vec<&str> = Vec::new();
    let mut line = 0u64;
    let mut cancelled: HashSet<String> = HashSet::new();
    for (i, reg) in fx.accepted.iter().enumerate() {
        for _ in 0..60 {
            line += 1;
            csv.push_str(&format!(
                "{:064x},1,unknown\n",
                u128::from(line) * 0x9E37_79B9_7F4A_7C15
            ));
        }
        expected.extend(std::iter::repeat_n("2148", 60));
        let good = i % 17 != 0;
        csv.push_str(&format!(
            "{},{},typo\n",
            reg.irn,
            if good { "2" } else { "7" }
        ));
        expected.push(if !good {
            "2140"
        } else if cancelled.insert(reg.irn.clone()) {
            "CNL"
        } else {
            "9999"
        });
        if i % 3 == 0 {
            let other = &fx.accepted[i / 2].irn;
            csv.push_str(&format!("{other},1,\"again, later\"\n"));
            expected.push(if cancelled.insert(other.clone()) {
                "CNL"
            } else {
                "9999"
            });
        }
    }
    w.write("cancel.csv", &csv);
    let now = "2025-06-10 20:00:00";

    // Uninterrupted, on the copy.
    w.ok(&[
        "cancel",
        "cancel.csv",
        "--out",
        "whole",
        "--db",
        "db-copy",
        "--now",
        now,
        "-q",
    ]);

    // Killed at growing depths, then run to the end: the same command each time.
    let args = [
        "cancel",
        "cancel.csv",
        "--out",
        "killed",
        "--db",
        "db",
        "--now",
        now,
        "-q",
    ];
    let partial = w.path("killed/cancel_status.csv.partial");
    let mut kills_mid_run = 0;
    for threshold in [1u64 << 20, 4 << 20, 9 << 20] {
        let mut child = Command::new(BIN)
            .args(args)
            .current_dir(w.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            let size = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
            if size >= threshold || started.elapsed() > Duration::from_secs(60) {
                child.kill().unwrap();
                kills_mid_run += 1;
                eprintln!(
                    "killed at {size} bytes of output after {:?}",
                    started.elapsed()
                );
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        child.wait().unwrap();
    }
    assert!(
        kills_mid_run >= 1,
        "the run finished before it could be killed"
    );
    w.ok(&args);
    let summary: Value = serde_json::from_str(&w.read("killed/cancel_summary.json")).unwrap();
    assert_eq!(summary["resumed"], true);

    let whole = w.read("whole/cancel_status.csv");
    let killed = w.read("killed/cancel_status.csv");
    assert_eq!(whole.lines().count(), killed.lines().count());
    assert!(
        whole == killed,
        "the resumed run reports differently from the uninterrupted one"
    );
    assert_eq!(
        w.read("whole/cancel_results.jsonl"),
        w.read("killed/cancel_results.jsonl")
    );

    // Each line got what NIC's rules give it; each registered IRN was cancelled at most once.
    let rows = cancel_status(&w, "killed");
    let got: Vec<&str> = rows
        .iter()
        .map(|r| if r[2] == "CNL" { "CNL" } else { r[4].as_str() })
        .collect();
    assert_eq!(got, expected);
    let mut cnl: HashMap<&str, usize> = HashMap::new();
    for row in rows.iter().filter(|r| r[2] == "CNL") {
        *cnl.entry(row[1].as_str()).or_default() += 1;
    }
    assert!(cnl.values().all(|&n| n == 1));
    assert_eq!(cnl.len(), cancelled.len());
}

/// A full disk under a cancel run's outputs: exit 2 with the file named and the way to finish,
/// then the same command, with room again, reports exactly what an uninterrupted run does.
#[test]
fn cancel_on_a_full_disk_stops_and_the_same_command_finishes() {
    let w = Work::new();
    let fx = two_registries(&w, 400, 9);
    // More requests than one batch (unknown IRNs between the registered ones): both batches
    // are committed before the buffered report reaches the full disk, so the rerun must
    // recognise cancellations of its own across batches.
    let mut csv = String::from("irn,reason,remark\n");
    for (i, reg) in fx.accepted.iter().enumerate() {
        csv.push_str(&format!("{},2,data entry mistake\n", reg.irn));
        for k in 0..4u128 {
            let unknown = (i as u128 * 4 + k + 1) * 0x9E37_79B9_7F4A_7C15;
            csv.push_str(&format!("{unknown:064x},1,unknown\n"));
        }
    }
    w.write("cancel.csv", &csv);
    let now = "2025-06-10 20:00:00";
    let args = |out: &'static str, db: &'static str| {
        [
            "cancel",
            "cancel.csv",
            "--out",
            out,
            "--db",
            db,
            "--now",
            now,
            "-q",
        ]
    };
    w.ok(&args("whole", "db-copy"));

    let Some(disk) = SmallDisk::mount(&w.path("part"), "8k") else {
        eprintln!("skipped: cannot mount a tmpfs on this machine");
        return;
    };
    let out = w.run(&args("part", "db"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("part/cancel_"), "{err}");
    assert!(err.contains("run the same command again"), "{err}");
    drop(disk);
    w.ok(&args("part", "db"));
    for name in ["cancel_status.csv", "cancel_results.jsonl"] {
        assert_eq!(
            w.read(&format!("part/{name}")),
            w.read(&format!("whole/{name}"))
        );
    }
    let summary: Value = serde_json::from_str(&w.read("part/cancel_summary.json")).unwrap();
    assert_eq!(summary["resumed"], true);
    assert_eq!(summary["cancelled"], fx.accepted.len());
}
