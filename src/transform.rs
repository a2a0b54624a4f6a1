//! Transform stage: parse (simd-json into [`Invoice`]), validate, compute the IRN.
//! Pure functions run on the rayon pool; no I/O and no clock (the date comes in the context).

use std::cell::RefCell;

use rust_decimal::Decimal;

use crate::clock;
use crate::error::Violation;
use crate::irn;
use crate::model::Invoice;
use crate::read::Framed;
use crate::record::{Accepted, DocSummary, Outcome, Processed, QrFacts, RawRecord};
use crate::schema;
use crate::validate::codes::SCHEMA;
use crate::validate::Validator;

/// What the transform needs besides the record.
pub struct TransformContext<'a> {
    pub validator: &'a Validator,
    pub upper_case_doc_no: bool,
    /// The run registers: build what the registry and signing need (the canonical JSON, the
    /// QR facts, the GSTR-1 period). `check` needs none of them.
    pub registering: bool,
}

thread_local! {
    /// Per-thread simd-json scratch and a copy of the record (simd-json parses in place, and
    /// the slow path needs the original bytes).
    static SCRATCH: RefCell<(simd_json::Buffers, Vec<u8>)> =
        RefCell::new((simd_json::Buffers::default(), Vec::new()));
}

/// Parses one record into an [`Invoice`] with simd-json, reusing per-thread buffers.
///
/// # Errors
/// The simd-json error message.
pub fn parse(bytes: &[u8]) -> Result<Invoice, String> {
    SCRATCH.with(|cell| {
        let mut guard = cell.borrow_mut();
        let (buffers, copy) = &mut *guard;
        copy.clear();
        copy.extend_from_slice(bytes);
        Invoice::from_slice(copy, buffers).map_err(|e| e.to_string())
    })
}

/// Parses, validates and hashes one record.
pub fn process(raw: RawRecord, ctx: &TransformContext<'_>) -> Processed {
    let (doc, mut outcome) = match &raw.body {
        Framed::Bad(message) => (
            DocSummary::default(),
            rejected(vec![Violation::new(SCHEMA, message.clone())]),
        ),
        Framed::TooLarge(message) => (
            DocSummary::default(),
            rejected(vec![Violation::new(
                5002,
                format!("Request body too large: {message} (pipeline.max_record_bytes)"),
            )]),
        ),
        Framed::Json(bytes) => match parse(bytes) {
            Ok(invoice) => judge(invoice, ctx, bytes.is_plain()),
            Err(_) => {
                let mut violations = schema::structure_errors(bytes);
                for v in &mut violations {
                    if v.message.starts_with("malformed JSON") {
                        // Point into the input file, not only into the record.
                        let (head, tail) = v.message.split_once(':').unwrap_or((&v.message, ""));
                        v.message = format!(
                            "{head} of the record starting at byte {} of its input:{tail}",
                            raw.offset
                        );
                    }
                }
                if violations.is_empty() {
                    // The slow path found nothing: report simd-json's own complaint.
                    let detail = parse(bytes).err().unwrap_or_default();
                    violations.push(Violation::new(SCHEMA, format!("invalid invoice: {detail}")));
                }
                (summary_from_json(bytes), rejected(violations))
            }
        },
    };
    let schema_code = ctx.validator.schema_error_code();
    if let Outcome::Rejected { violations, .. } = &mut outcome {
        if schema_code != SCHEMA {
            for v in violations.iter_mut().filter(|v| v.code == SCHEMA) {
                v.code = schema_code;
            }
        }
    }
    Processed {
        seq: raw.seq,
        input: raw.input,
        offset: raw.offset,
        doc,
        outcome,
    }
}

fn rejected(violations: Vec<Violation>) -> Outcome {
    Outcome::Rejected {
        violations,
        dup: None,
    }
}

fn judge(mut invoice: Invoice, ctx: &TransformContext<'_>, plain: bool) -> (DocSummary, Outcome) {
    // The schema admits SupTyp and Typ in any case; the registry keeps NIC's upper-case forms.
    invoice.tran_dtls.sup_typ.make_ascii_uppercase();
    invoice.doc_dtls.typ.make_ascii_uppercase();
    let violations = ctx.validator.validate_record(&invoice, plain);
    if !violations.is_empty() {
        return (take_doc(&mut invoice), rejected(violations));
    }
    let inv = &invoice;
    // A valid invoice has a real date (the validator checked it).
    let Some(date) = clock::parse_doc_date(&inv.doc_dtls.dt) else {
        return (
            take_doc(&mut invoice),
            rejected(vec![Violation::new(
                2225,
                "Incorrect date format in document details",
            )]),
        );
    };
    let doc_type = &inv.doc_dtls.typ;
    let doc_no = irn::key_doc_no(&inv.doc_dtls.no, ctx.upper_case_doc_no);
    let fy = clock::financial_year(date);
    let irn = irn::compute(&inv.seller_dtls.gstin, &fy, doc_type, &doc_no);
    // A number with lower case may have been registered as sent, before upper-casing began.
    let as_sent_irn = matches!(doc_no, std::borrow::Cow::Owned(_))
        .then(|| irn::compute(&inv.seller_dtls.gstin, &fy, doc_type, &inv.doc_dtls.no));
    let ewb_errors = ctx.validator.ewb_errors(inv);
    let (canonical, qr, period) = if ctx.registering {
        let canonical = inv.to_canonical_json();
        // The invoice is done with (its canonical form is made): its strings move into the
        // record instead of being copied.
        let main = main_hsn_index(inv.item_list.iter().map(|i| i.ass_amt.value));
        let qr = QrFacts {
            buyer_gstin: std::mem::take(&mut invoice.buyer_dtls.gstin),
            tot_inv_val: invoice.val_dtls.tot_inv_val,
            item_cnt: invoice.item_list.len(),
            main_hsn: main
                .and_then(|k| invoice.item_list.get_mut(k))
                .map(|it| std::mem::take(&mut it.hsn_cd))
                .unwrap_or_default(),
        };
        (canonical, qr, clock::year_month(date))
    } else {
        (Vec::new(), QrFacts::none(), String::new())
    };
    let accepted = Accepted {
        irn,
        as_sent_irn,
        period,
        canonical,
        qr,
        ewb_errors,
    };
    (take_doc(&mut invoice), Outcome::Valid(Box::new(accepted)))
}

/// The status report's identity of an invoice, moved out of it.
fn take_doc(inv: &mut Invoice) -> DocSummary {
    DocSummary {
        doc_type: std::mem::take(&mut inv.doc_dtls.typ),
        doc_no: std::mem::take(&mut inv.doc_dtls.no),
        doc_date: std::mem::take(&mut inv.doc_dtls.dt),
        seller_gstin: std::mem::take(&mut inv.seller_dtls.gstin),
    }
}

/// The invoice's QR claims.
pub fn qr_facts(inv: &Invoice) -> QrFacts {
    QrFacts {
        buyer_gstin: inv.buyer_dtls.gstin.clone(),
        tot_inv_val: inv.val_dtls.tot_inv_val,
        item_cnt: inv.item_list.len(),
        main_hsn: main_hsn_index(inv.item_list.iter().map(|i| i.ass_amt.value))
            .and_then(|k| inv.item_list.get(k))
            .map(|it| it.hsn_cd.clone())
            .unwrap_or_default(),
    }
}

/// MainHsnCode: the HSN of the item with the highest taxable value (the first such item on a
/// tie). Shared by registration and by re-signing from the registry, so both agree.
pub fn main_hsn<'a>(items: impl IntoIterator<Item = (&'a str, Decimal)>) -> String {
    main_item(items).map(str::to_owned).unwrap_or_default()
}

/// The position of the main item (see [`main_hsn`]).
fn main_hsn_index(values: impl IntoIterator<Item = Decimal>) -> Option<usize> {
    main_item(values.into_iter().enumerate())
}

/// The tag of the item with the highest value, the first one on a tie: the one rule behind
/// [`main_hsn`] and [`main_hsn_index`].
fn main_item<T>(items: impl IntoIterator<Item = (T, Decimal)>) -> Option<T> {
    let mut best: Option<(T, Decimal)> = None;
    for (tag, value) in items {
        if best.as_ref().is_none_or(|(_, v)| value > *v) {
            best = Some((tag, value));
        }
    }
    best.map(|(tag, _)| tag)
}

/// Best-effort document identity of a record that failed to parse as an invoice.
fn summary_from_json(bytes: &[u8]) -> DocSummary {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return DocSummary::default();
    };
    let text = |ptr: &str| {
        value
            .pointer(ptr)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    DocSummary {
        doc_type: text("/DocDtls/Typ"),
        doc_no: text("/DocDtls/No"),
        doc_date: text("/DocDtls/Dt"),
        seller_gstin: text("/SellerDtls/Gstin"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::RulesConfig;
    use crate::masters::Masters;
    use crate::read::Framed;

    /// A bulk file from `irp gen` (a JSON array), dated 20 June 2025.
    fn generated(count: u64, seed: u64, invalid_share: f64) -> Vec<u8> {
        let masters = Masters::embedded().unwrap();
        let today = chrono::NaiveDate::from_ymd_opt(2025, 6, 20).unwrap();
        let opts = crate::gen::GenOptions {
            invalid_share,
            ..crate::gen::GenOptions::new(count, seed, today)
        };
        let mut text = Vec::new();
        crate::gen::generate(&opts, &masters, &mut text).unwrap();
        text
    }

    fn outcome_codes(body: Framed, schema_error_code: u16) -> Vec<u16> {
        let rules = RulesConfig {
            schema_error_code,
            ..RulesConfig::default()
        };
        let masters = Arc::new(Masters::embedded().unwrap());
        let today = chrono::NaiveDate::from_ymd_opt(2025, 6, 20).unwrap();
        let validator = Validator::new(&rules, masters, None, today);
        let ctx = TransformContext {
            validator: &validator,
            upper_case_doc_no: true,
            registering: false,
        };
        let raw = RawRecord {
            seq: 1,
            input: 0,
            offset: 0,
            body,
        };
        match process(raw, &ctx).outcome {
            Outcome::Rejected { violations, .. } => violations.iter().map(|v| v.code).collect(),
            _ => Vec::new(),
        }
    }

    /// `rules.schema_error_code` renames every schema failure (typed checks, structure errors,
    /// malformed JSON) and nothing else.
    #[test]
    fn schema_failures_take_the_configured_code() {
        let unknown_field = br#"{"Version":"1.1","Nope":1}"#.to_vec();
        let bad = |code| outcome_codes(Framed::Json(unknown_field.clone().into()), code);
        assert!(bad(2140).iter().all(|c| *c == 2140) && !bad(2140).is_empty());
        assert!(bad(5002).iter().all(|c| *c == 5002) && !bad(5002).is_empty());
        let broken = |code| outcome_codes(Framed::Bad("truncated".to_owned()), code);
        assert_eq!(broken(5002), vec![5002]);
        // The size limit keeps its own code.
        let too_large = |code| outcome_codes(Framed::TooLarge("huge".to_owned()), code);
        assert_eq!(too_large(2140), vec![5002]);
        assert_eq!(too_large(5002), vec![5002]);
    }

    mod mutated {
        //! Any edit of a real invoice, structural or byte-level, ends as exactly one outcome:
        //! accepted, or rejected with NIC codes and words, never a panic ("bad input gets a
        //! clear per-invoice error"). Run in a debug build too, where arithmetic overflow
        //! panics.
        use std::sync::OnceLock;

        use proptest::prelude::*;
        use serde_json::{json, Value};

        use super::*;

        /// Generated invoices, every supply type and defect kind, as JSON trees.
        fn bases() -> &'static [Value] {
            static BASES: OnceLock<Vec<Value>> = OnceLock::new();
            BASES.get_or_init(|| serde_json::from_slice(&generated(80, 11, 0.3)).unwrap())
        }

        /// JSON pointers of every node, root first.
        fn pointers(v: &Value, at: &str, out: &mut Vec<String>) {
            out.push(at.to_owned());
            match v {
                Value::Object(m) => m
                    .iter()
                    .for_each(|(k, c)| pointers(c, &format!("{at}/{k}"), out)),
                Value::Array(a) => a
                    .iter()
                    .enumerate()
                    .for_each(|(i, c)| pointers(c, &format!("{at}/{i}"), out)),
                _ => {}
            }
        }

        #[derive(Clone, Debug)]
        enum Edit {
            /// A number for a number, a string for a string: reaches the business rules.
            Retype {
                number: Value,
                text: Value,
            },
            Replace(Value),
            Remove,
            AddKey(String, Value),
        }

        fn apply(doc: &mut Value, node: usize, edit: &Edit) {
            let mut all = Vec::new();
            pointers(doc, "", &mut all);
            let at = &all[node % all.len()];
            match edit {
                Edit::Retype { number, text } => match doc.pointer_mut(at) {
                    Some(slot @ Value::Number(_)) => *slot = number.clone(),
                    Some(slot @ Value::String(_)) => *slot = text.clone(),
                    _ => {}
                },
                Edit::Replace(v) => {
                    if let Some(slot) = doc.pointer_mut(at) {
                        *slot = v.clone();
                    }
                }
                Edit::Remove => {
                    let Some((parent, last)) = at.rsplit_once('/') else {
                        return;
                    };
                    match doc.pointer_mut(parent) {
                        Some(Value::Object(m)) => {
                            m.remove(last);
                        }
                        Some(Value::Array(a)) => {
                            if let Ok(i) = last.parse::<usize>() {
                                a.remove(i);
                            }
                        }
                        _ => {}
                    }
                }
                Edit::AddKey(k, v) => {
                    if let Some(Value::Object(m)) = doc.pointer_mut(at) {
                        m.insert(k.clone(), v.clone());
                    }
                }
            }
        }

        /// Numbers as the arithmetic rules read them: exact decimals with up to 6 places.
        fn decimal() -> impl Strategy<Value = Value> {
            (-100_000_000_000i64..100_000_000_000, 0u32..7).prop_map(|(m, s)| {
                let d = rust_decimal::Decimal::new(m, s);
                serde_json::from_str(&d.to_string()).unwrap_or(Value::Null)
            })
        }

        /// Values the rules single out (codes, dates, special GSTINs and PINs, edge numbers).
        const WORDS: &[&str] = &[
            "",
            "URP",
            "96",
            "97",
            "99",
            "Y",
            "N",
            "y",
            "31/02/2025",
            "29/02/2024",
            "01/01/1900",
            "20/06/2025",
            "B2B",
            "EXPWP",
            "SEZWOP",
            "DEXP",
            "CRN",
            "DBN",
            "INV",
            "NOS",
            "OTH",
            "0",
            "-1",
            "1e400",
            "99999999999999999999",
            "\u{0}\u{7f}\u{202e}",
            "29AAGCB1286Q000",
            "27AAACR5055K1Z7",
            "07AAACR5055K1ZZ",
            "560001",
            "999999",
        ];

        fn value() -> impl Strategy<Value = Value> {
            prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                (-1e16f64..1e16).prop_map(Value::from),
                decimal(),
                ".{0,40}".prop_map(Value::from),
                "[0-9A-Z/-]{0,16}".prop_map(Value::from),
                prop::sample::select(WORDS).prop_map(Value::from),
                Just(json!([])),
                Just(json!({})),
                Just(json!([{}])),
                Just(json!({"Nm": "x"})),
            ]
        }

        fn edit() -> impl Strategy<Value = Edit> {
            let text = prop_oneof![
                "[0-9A-Za-z /-]{1,16}".prop_map(Value::from),
                prop::sample::select(WORDS).prop_map(Value::from),
            ];
            let number = prop_oneof![decimal(), (0u32..30).prop_map(Value::from)];
            prop_oneof![
                6 => (number, text).prop_map(|(number, text)| Edit::Retype { number, text }),
                3 => value().prop_map(Edit::Replace),
                2 => Just(Edit::Remove),
                1 => ("[A-Za-z]{1,8}", value()).prop_map(|(k, v)| Edit::AddKey(k, v)),
            ]
        }

        /// A byte-level change after serialising: truncate, insert, overwrite or delete.
        fn bytes_edit() -> impl Strategy<Value = Option<(usize, u8, u8)>> {
            proptest::option::weighted(0.3, (any::<usize>(), 0u8..4, any::<u8>()))
        }

        fn judge_bytes(bytes: Vec<u8>, registering: bool) -> Outcome {
            static VALIDATOR: OnceLock<Validator> = OnceLock::new();
            let validator = VALIDATOR.get_or_init(|| {
                let masters = Arc::new(Masters::embedded().unwrap());
                let today = chrono::NaiveDate::from_ymd_opt(2025, 6, 20).unwrap();
                Validator::new(&RulesConfig::default(), masters, None, today)
            });
            let ctx = TransformContext {
                validator,
                upper_case_doc_no: true,
                registering,
            };
            let raw = RawRecord {
                seq: 1,
                input: 0,
                offset: 0,
                body: Framed::Json(bytes.into()),
            };
            process(raw, &ctx).outcome
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1500))]
            #[test]
            fn any_edit_gets_one_clear_outcome(
                base in 0usize..80,
                edits in prop::collection::vec((any::<usize>(), edit()), 1..4),
                raw_edit in bytes_edit(),
                registering in any::<bool>(),
            ) {
                let mut doc = bases()[base % bases().len()].clone();
                for (node, e) in &edits {
                    apply(&mut doc, *node, e);
                }
                let mut bytes = serde_json::to_vec(&doc).unwrap();
                if let Some((at, kind, b)) = raw_edit {
                    let at = at % (bytes.len() + 1);
                    match kind {
                        0 => bytes.truncate(at),
                        1 => bytes.insert(at, b),
                        2 if at < bytes.len() => bytes[at] = b,
                        _ if at < bytes.len() => {
                            bytes.remove(at);
                        }
                        _ => {}
                    }
                }
                match judge_bytes(bytes.clone(), registering) {
                    Outcome::Valid(a) => {
                        // Accepted: what the registry and signing need (canonical JSON, QR
                        // facts, GSTR-1 period) is built exactly when registering.
                        prop_assert_eq!(a.canonical.is_empty(), !registering);
                        prop_assert_eq!(a.period.is_empty(), !registering);
                        prop_assert_eq!(a.qr.item_cnt == 0, !registering);
                        if registering {
                            prop_assert!(serde_json::from_slice::<Value>(&a.canonical).is_ok());
                            prop_assert_eq!(a.period.len(), 6);
                        }
                    }
                    Outcome::Rejected { violations, dup } => {
                        prop_assert!(dup.is_none());
                        prop_assert!(!violations.is_empty());
                        for v in &violations {
                            prop_assert!((1000..10_000).contains(&v.code), "{:?}", v);
                            prop_assert!(!v.message.trim().is_empty(), "{:?}", v);
                        }
                    }
                    Outcome::Registered(_) => prop_assert!(false, "registered before the registry"),
                }
            }
        }
    }

    /// Validation told a record is plain gives what full validation gives, on generated
    /// invoices with every kind of defect; and framing does find most of them plain.
    #[test]
    fn plain_records_validate_alike() {
        let masters = Arc::new(Masters::embedded().unwrap());
        let today = chrono::NaiveDate::from_ymd_opt(2025, 6, 20).unwrap();
        let text = generated(600, 7, 0.4);
        // Names with quotes and backslashes in the first half, non-ASCII places in the second
        // (each kind on invoices of its own): never claimed plain.
        let text = String::from_utf8(text).unwrap();
        // Cut at a line break (an ASCII byte, so a character boundary) near the middle.
        let half = text.len() / 2;
        let mid = text.as_bytes()[half..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(text.len(), |k| half + k);
        let (first, second) = text.split_at(mid);
        let text = [
            first.replacen("\"LglNm\":\"", "\"LglNm\":\"\\\"Q\\\" ", 50),
            second.replacen("\"Loc\":\"", "\"Loc\":\"Bengaluru \u{0bae} ", 50),
        ]
        .concat()
        .into_bytes();
        let validator = Validator::new(&RulesConfig::default(), masters, None, today);
        let shared = Arc::new(crate::read::SharedInput::Buffer(text));
        let (mut plain, mut parsed, mut rejected) = (0, 0, 0);
        crate::read::frame_shared(shared, 1 << 20, 1 << 16, |r| {
            let Framed::Json(bytes) = &r.body else { return };
            let Ok(inv) = parse(bytes) else { return };
            parsed += 1;
            plain += usize::from(bytes.is_plain());
            let full = validator.validate(&inv);
            rejected += usize::from(!full.is_empty());
            assert_eq!(validator.validate_record(&inv, bytes.is_plain()), full);
        });
        assert!(parsed > 550, "{parsed}");
        assert!(rejected > 150, "{rejected}");
        assert!(plain > 350 && plain < parsed - 30, "{plain} of {parsed}");
    }
}
