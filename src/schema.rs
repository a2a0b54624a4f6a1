//! The slow path for records the typed parse refused: every structural schema error (missing
//! required field, unknown field, duplicate field, wrong JSON type, not an object), found by
//! walking the record against a static table of the INV-01 objects (reference section 1).
//!
//! The table must agree with the serde structs of `model.rs`; a test walks a maximal invoice
//! with each field removed, renamed and retyped and checks both give the same verdict.

use std::fmt::Write as _;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::Violation;
use crate::model::{Invoice, Num};

const SCHEMA: u16 = 2140;
/// At most this many errors are reported for one record.
const MAX_ERRORS: usize = 50;

/// JSON kind a field must have.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    /// Any JSON number that fits the engine's decimal.
    Num,
    /// An integral number (Pin, Distance, CrDay).
    Int,
    Obj(&'static [Field]),
    ArrObj(&'static [Field]),
}

struct Field {
    name: &'static str,
    kind: Kind,
    required: bool,
}

const fn req(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: true,
    }
}

const fn opt(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: false,
    }
}

use Kind::{ArrObj, Int, Num as N, Obj, Str as S};

const TRAN_DTLS: &[Field] = &[
    req("TaxSch", S),
    req("SupTyp", S),
    opt("RegRev", S),
    opt("EcmGstin", S),
    opt("IgstOnIntra", S),
];
const DOC_DTLS: &[Field] = &[req("Typ", S), req("No", S), req("Dt", S)];
const SELLER_DTLS: &[Field] = &[
    req("Gstin", S),
    req("LglNm", S),
    opt("TrdNm", S),
    req("Addr1", S),
    opt("Addr2", S),
    req("Loc", S),
    req("Pin", Int),
    req("Stcd", S),
    opt("Ph", S),
    opt("Em", S),
];
const BUYER_DTLS: &[Field] = &[
    req("Gstin", S),
    req("LglNm", S),
    opt("TrdNm", S),
    req("Pos", S),
    req("Addr1", S),
    opt("Addr2", S),
    req("Loc", S),
    opt("Pin", Int),
    opt("Ph", S),
    opt("Em", S),
    req("Stcd", S),
];
const DISP_DTLS: &[Field] = &[
    req("Nm", S),
    req("Addr1", S),
    opt("Addr2", S),
    req("Loc", S),
    req("Pin", Int),
    req("Stcd", S),
];
const SHIP_DTLS: &[Field] = &[
    opt("Gstin", S),
    req("LglNm", S),
    opt("TrdNm", S),
    req("Addr1", S),
    opt("Addr2", S),
    req("Loc", S),
    req("Pin", Int),
    req("Stcd", S),
];
const BCH_DTLS: &[Field] = &[req("Nm", S), opt("ExpDt", S), opt("WrDt", S)];
const ATTRIB_DTLS: &[Field] = &[opt("Nm", S), opt("Val", S)];
const ITEM: &[Field] = &[
    req("SlNo", S),
    // In the order of the struct, NIC's signed-invoice order (see `model::Item`).
    req("IsServc", S),
    opt("PrdDesc", S),
    req("HsnCd", S),
    opt("Barcde", S),
    opt("Qty", N),
    opt("FreeQty", N),
    opt("Unit", S),
    req("UnitPrice", N),
    req("TotAmt", N),
    opt("Discount", N),
    opt("PreTaxVal", N),
    req("AssAmt", N),
    req("GstRt", N),
    opt("IgstAmt", N),
    opt("CgstAmt", N),
    opt("SgstAmt", N),
    opt("CesRt", N),
    opt("CesAmt", N),
    opt("CesNonAdvlAmt", N),
    opt("StateCesRt", N),
    opt("StateCesAmt", N),
    opt("StateCesNonAdvlAmt", N),
    opt("OthChrg", N),
    req("TotItemVal", N),
    opt("OrdLineRef", S),
    opt("OrgCntry", S),
    opt("PrdSlNo", S),
    opt("BchDtls", Obj(BCH_DTLS)),
    opt("AttribDtls", ArrObj(ATTRIB_DTLS)),
];
const VAL_DTLS: &[Field] = &[
    req("AssVal", N),
    opt("CgstVal", N),
    opt("SgstVal", N),
    opt("IgstVal", N),
    opt("CesVal", N),
    opt("StCesVal", N),
    opt("Discount", N),
    opt("OthChrg", N),
    opt("RndOffAmt", N),
    req("TotInvVal", N),
    opt("TotInvValFc", N),
];
const PAY_DTLS: &[Field] = &[
    opt("Nm", S),
    opt("AccDet", S),
    opt("Mode", S),
    opt("FinInsBr", S),
    opt("PayTerm", S),
    opt("PayInstr", S),
    opt("CrTrn", S),
    opt("DirDr", S),
    opt("CrDay", Int),
    opt("PaidAmt", N),
    opt("PaymtDue", N),
];
const DOC_PERD_DTLS: &[Field] = &[req("InvStDt", S), req("InvEndDt", S)];
const PREC_DOC_DTLS: &[Field] = &[req("InvNo", S), req("InvDt", S), opt("OthRefNo", S)];
const CONTR_DTLS: &[Field] = &[
    opt("RecAdvRefr", S),
    opt("RecAdvDt", S),
    opt("TendRefr", S),
    opt("ContrRefr", S),
    opt("ExtRefr", S),
    opt("ProjRefr", S),
    opt("PORefr", S),
    opt("PORefDt", S),
];
const REF_DTLS: &[Field] = &[
    opt("InvRm", S),
    opt("DocPerdDtls", Obj(DOC_PERD_DTLS)),
    opt("PrecDocDtls", ArrObj(PREC_DOC_DTLS)),
    opt("ContrDtls", ArrObj(CONTR_DTLS)),
];
const ADDL_DOC_DTLS: &[Field] = &[opt("Url", S), opt("Docs", S), opt("Info", S)];
const EXP_DTLS: &[Field] = &[
    opt("ShipBNo", S),
    opt("ShipBDt", S),
    opt("Port", S),
    opt("RefClm", S),
    opt("ForCur", S),
    opt("CntCode", S),
    opt("ExpDuty", N),
];
const EWB_DTLS: &[Field] = &[
    opt("TransId", S),
    opt("TransName", S),
    opt("TransMode", S),
    req("Distance", Int),
    opt("TransDocNo", S),
    opt("TransDocDt", S),
    opt("VehNo", S),
    opt("VehType", S),
];
const INVOICE: &[Field] = &[
    req("Version", S),
    opt("Irn", S),
    req("TranDtls", Obj(TRAN_DTLS)),
    req("DocDtls", Obj(DOC_DTLS)),
    req("SellerDtls", Obj(SELLER_DTLS)),
    req("BuyerDtls", Obj(BUYER_DTLS)),
    opt("DispDtls", Obj(DISP_DTLS)),
    opt("ShipDtls", Obj(SHIP_DTLS)),
    req("ItemList", ArrObj(ITEM)),
    req("ValDtls", Obj(VAL_DTLS)),
    opt("PayDtls", Obj(PAY_DTLS)),
    opt("RefDtls", Obj(REF_DTLS)),
    opt("AddlDocDtls", ArrObj(ADDL_DOC_DTLS)),
    opt("ExpDtls", Obj(EXP_DTLS)),
    opt("EwbDtls", Obj(EWB_DTLS)),
];

/// A parsed JSON value that keeps duplicate keys and only what the checks need.
enum Node {
    Null,
    Bool,
    /// `num_ok`: fits the engine's decimal; `int_ok`: integral as `model::Int` accepts.
    Number {
        num_ok: bool,
        int_ok: bool,
    },
    Str,
    Arr(Vec<Node>),
    Obj(Vec<(String, Node)>),
}

impl Node {
    fn kind_name(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool => "boolean",
            Node::Number { .. } => "number",
            Node::Str => "string",
            Node::Arr(_) => "array",
            Node::Obj(_) => "object",
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Bool)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Number {
            num_ok: true,
            int_ok: true,
        })
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Number {
            num_ok: true,
            int_ok: i64::try_from(v).is_ok(),
        })
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Number {
            num_ok: Num::from_f64(v).is_some(),
            int_ok: v.fract() == 0.0 && v.abs() < 1e15,
        })
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Str)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut v = Vec::new();
        while let Some(n) = seq.next_element()? {
            v.push(n);
        }
        Ok(Node::Arr(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut v = Vec::new();
        while let Some((k, n)) = map.next_entry::<String, Node>()? {
            v.push((k, n));
        }
        Ok(Node::Obj(v))
    }
}

/// Every structural schema error of one record (missing required, unknown field, wrong JSON
/// type, not an object), or a single 2140 "malformed JSON at byte N: ..." if it does not parse.
pub fn structure_errors(record: &[u8]) -> Vec<Violation> {
    let root: Node = match serde_json::from_slice(record) {
        Ok(n) => n,
        Err(e) => return vec![malformed(record, &e)],
    };
    let Node::Obj(fields) = &root else {
        return vec![Violation::new(SCHEMA, "invoice must be a JSON object")];
    };
    let mut w = Walker { out: Vec::new() };
    let mut path = String::from("#");
    w.object(&mut path, fields, INVOICE);
    if w.out.is_empty() {
        // Anything the table does not express (it should be nothing): the typed parse's own word.
        if let Err(e) = serde_json::from_slice::<Invoice>(record) {
            w.out.push(Violation::new(SCHEMA, format!("#: {e}")));
        }
    }
    w.out
}

fn malformed(record: &[u8], e: &serde_json::Error) -> Violation {
    let text = e.to_string();
    if text.starts_with("recursion limit exceeded") {
        return Violation::new(SCHEMA, "nesting too deep");
    }
    let offset = if e.is_eof() {
        record.len()
    } else {
        byte_offset(record, e.line(), e.column())
    };
    // serde_json appends " at line L column C"; the byte offset replaces it.
    let reason = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(r, _)| r);
    Violation::new(SCHEMA, format!("malformed JSON at byte {offset}: {reason}"))
}

/// The 0-based byte offset of serde_json's (1-based line, 1-based byte column) position.
fn byte_offset(record: &[u8], line: usize, column: usize) -> usize {
    let start = if line <= 1 {
        0
    } else {
        record
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'\n')
            .nth(line - 2)
            .map_or(record.len(), |(i, _)| i + 1)
    };
    // The column is 1-based and points at the offending byte (0 before any byte is read).
    (start + column.saturating_sub(1)).min(record.len())
}

struct Walker {
    out: Vec<Violation>,
}

impl Walker {
    fn push(&mut self, message: String) {
        if self.out.len() < MAX_ERRORS {
            self.out.push(Violation::new(SCHEMA, message));
        }
    }

    fn full(&self) -> bool {
        self.out.len() >= MAX_ERRORS
    }

    fn object(&mut self, path: &mut String, fields: &[(String, Node)], table: &'static [Field]) {
        let base = path.len();
        for (idx, (key, node)) in fields.iter().enumerate() {
            if self.full() {
                return;
            }
            push_key(path, key);
            match table.iter().find(|f| f.name == key) {
                None => self.push(format!("{path}: unknown field")),
                Some(_) if fields[..idx].iter().any(|(k, _)| k == key) => {
                    self.push(format!("{path}: duplicate field"));
                }
                Some(f) => self.value(path, node, f),
            }
            path.truncate(base);
        }
        for f in table.iter().filter(|f| f.required) {
            if !fields.iter().any(|(k, _)| k == f.name) {
                self.push(format!("{path}/{}: required field is missing", f.name));
            }
        }
    }

    fn value(&mut self, path: &mut String, node: &Node, f: &Field) {
        if matches!(node, Node::Null) && !f.required {
            return; // serde reads null as an absent optional field
        }
        match (f.kind, node) {
            (Kind::Str, Node::Str) => {}
            (Kind::Num, Node::Number { num_ok, .. }) => {
                if !num_ok {
                    self.push(format!("{path}: number out of range"));
                }
            }
            (Kind::Int, Node::Number { int_ok, .. }) => {
                if !int_ok {
                    self.push(format!(
                        "{path}: expected an integer, found a fractional or too large number"
                    ));
                }
            }
            (Kind::Obj(t), Node::Obj(fields)) => self.object(path, fields, t),
            (Kind::ArrObj(t), Node::Arr(items)) => {
                let base = path.len();
                for (i, item) in items.iter().enumerate() {
                    if self.full() {
                        return;
                    }
                    let _ = write!(path, "/{i}");
                    match item {
                        Node::Obj(fields) => self.object(path, fields, t),
                        other => self.push(format!(
                            "{path}: expected object, found {}",
                            other.kind_name()
                        )),
                    }
                    path.truncate(base);
                }
            }
            (kind, other) => {
                let expected = match kind {
                    Kind::Str => "string",
                    Kind::Num => "number",
                    Kind::Int => "integer",
                    Kind::Obj(_) => "object",
                    Kind::ArrObj(_) => "array",
                };
                self.push(format!(
                    "{path}: expected {expected}, found {}",
                    other.kind_name()
                ));
            }
        }
    }
}

/// Appends `/key` as a JSON-pointer token (`~` → `~0`, `/` → `~1`), cut to 64 characters.
fn push_key(path: &mut String, key: &str) {
    path.push('/');
    for c in key.chars().take(64) {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};

    /// A value of the right JSON kind for every field of a table, every optional field included.
    fn maximal(table: &'static [Field]) -> Value {
        let mut m = Map::new();
        for f in table {
            m.insert(f.name.to_owned(), sample(f.kind));
        }
        Value::Object(m)
    }

    fn sample(kind: Kind) -> Value {
        match kind {
            Kind::Str => json!("ABC"),
            Kind::Num => json!(12.5),
            Kind::Int => json!(560001),
            Kind::Obj(t) => maximal(t),
            Kind::ArrObj(t) => json!([maximal(t)]),
        }
    }

    /// A value of a wrong JSON kind.
    fn wrong(kind: Kind) -> Value {
        match kind {
            Kind::Str => json!(7),
            Kind::Num | Kind::Int | Kind::Obj(_) | Kind::ArrObj(_) => json!("7"),
        }
    }

    /// Every (JSON pointer, field) of the maximal invoice, arrays through their first element.
    fn fields(table: &'static [Field], prefix: &str, out: &mut Vec<(String, &'static Field)>) {
        for f in table {
            let path = format!("{prefix}/{}", f.name);
            out.push((path.clone(), f));
            match f.kind {
                Kind::Obj(t) => fields(t, &path, out),
                Kind::ArrObj(t) => fields(t, &format!("{path}/0"), out),
                _ => {}
            }
        }
    }

    /// Every object pointer of the maximal invoice.
    fn objects(table: &'static [Field], prefix: &str, out: &mut Vec<(String, &'static [Field])>) {
        out.push((prefix.to_owned(), table));
        for f in table {
            match f.kind {
                Kind::Obj(t) => objects(t, &format!("{prefix}/{}", f.name), out),
                Kind::ArrObj(t) => objects(t, &format!("{prefix}/{}/0", f.name), out),
                _ => {}
            }
        }
    }

    /// Whether the production parser (simd-json) and serde_json accept the record as an Invoice.
    fn typed_ok(bytes: &[u8]) -> bool {
        let serde_ok = serde_json::from_slice::<Invoice>(bytes).is_ok();
        let mut copy = bytes.to_vec();
        let simd_ok = Invoice::from_slice(&mut copy, &mut simd_json::Buffers::default()).is_ok();
        assert_eq!(
            serde_ok,
            simd_ok,
            "serde_json and simd-json disagree on {}",
            String::from_utf8_lossy(bytes)
        );
        serde_ok
    }

    fn errors(v: &Value) -> (bool, Vec<String>) {
        let bytes = serde_json::to_vec(v).unwrap();
        let errs = structure_errors(&bytes);
        assert!(errs.iter().all(|e| e.code == 2140));
        (
            typed_ok(&bytes),
            errs.into_iter().map(|e| e.message).collect(),
        )
    }

    fn split(ptr: &str) -> (&str, &str) {
        ptr.rsplit_once('/').unwrap()
    }

    fn pointer_path(ptr: &str) -> String {
        format!("#{ptr}")
    }

    #[test]
    fn maximal_invoice_is_clean() {
        let v = maximal(INVOICE);
        let (ok, errs) = errors(&v);
        assert!(ok, "maximal invoice must parse into Invoice");
        assert!(errs.is_empty(), "{errs:?}");
    }

    #[test]
    fn field_names_match_the_structs() {
        // serde's unknown-field error lists every field the struct knows.
        let mut objs = Vec::new();
        objects(INVOICE, "", &mut objs);
        for (ptr, table) in objs {
            let mut v = maximal(INVOICE);
            let target = if ptr.is_empty() {
                &mut v
            } else {
                v.pointer_mut(&ptr).unwrap()
            };
            target
                .as_object_mut()
                .unwrap()
                .insert("Zz".into(), json!(1));
            let err = serde_json::from_value::<Invoice>(v.clone())
                .unwrap_err()
                .to_string();
            let expected = err
                .split("expected ")
                .nth(1)
                .unwrap_or_else(|| panic!("{ptr}: {err}"));
            let listed: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            let names: Vec<&str> = table.iter().map(|f| f.name).collect();
            assert_eq!(listed, names, "fields of {ptr:?}");
            let (_, errs) = errors(&v);
            assert_eq!(
                errs,
                vec![format!("{}/Zz: unknown field", pointer_path(&ptr))]
            );
        }
    }

    #[test]
    fn every_field_removed_renamed_retyped_nulled() {
        let mut all = Vec::new();
        fields(INVOICE, "", &mut all);
        assert_eq!(all.len(), 150);
        for (ptr, f) in &all {
            let (parent, name) = split(ptr);
            let path = pointer_path(ptr);

            // Removed.
            let mut v = maximal(INVOICE);
            v.pointer_mut(parent)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove(name);
            let (ok, errs) = errors(&v);
            assert_eq!(ok, !f.required, "{ptr}: typed parse after removal");
            if f.required {
                assert_eq!(errs, vec![format!("{path}: required field is missing")]);
            } else {
                assert!(errs.is_empty(), "{ptr}: {errs:?}");
            }

            // Renamed (unknown + possibly missing).
            let mut v = maximal(INVOICE);
            let obj = v.pointer_mut(parent).unwrap().as_object_mut().unwrap();
            let x = obj.remove(name).unwrap();
            obj.insert(format!("{name}X"), x);
            let (ok, errs) = errors(&v);
            assert!(!ok, "{ptr}: renamed field must fail the typed parse");
            assert!(
                errs.contains(&format!("{path}X: unknown field")),
                "{ptr}: {errs:?}"
            );

            // Wrong JSON kind.
            let mut v = maximal(INVOICE);
            *v.pointer_mut(ptr).unwrap() = wrong(f.kind);
            let (ok, errs) = errors(&v);
            assert!(!ok, "{ptr}: wrong kind must fail the typed parse");
            assert_eq!(errs.len(), 1, "{ptr}: {errs:?}");
            assert!(
                errs[0].starts_with(&format!("{path}: expected ")),
                "{ptr}: {errs:?}"
            );

            // Null: an absent optional field to serde, a type error for a required one.
            let mut v = maximal(INVOICE);
            *v.pointer_mut(ptr).unwrap() = Value::Null;
            let (ok, errs) = errors(&v);
            assert_eq!(ok, !f.required, "{ptr}: null");
            assert_eq!(errs.is_empty(), ok, "{ptr}: {errs:?}");
        }
    }

    #[test]
    fn messages() {
        let mut v = maximal(INVOICE);
        v["ItemList"][0]["UnitPrice"] = json!("100");
        v["ItemList"][0]["ItemNo"] = json!(0);
        v["SellerDtls"]["Pin"] = json!(560001.5);
        v["BuyerDtls"]["Pin"] = json!(560001.0);
        v["ValDtls"]["TotInvVal"] = json!(true);
        v["ItemList"].as_array_mut().unwrap().push(json!(5));
        let (ok, errs) = errors(&v);
        assert!(!ok);
        assert_eq!(
            errs,
            vec![
                // serde_json's map is sorted, so the record's keys are in alphabetical order.
                "#/ItemList/0/ItemNo: unknown field",
                "#/ItemList/0/UnitPrice: expected number, found string",
                "#/ItemList/1: expected object, found number",
                "#/SellerDtls/Pin: expected an integer, found a fractional or too large number",
                "#/ValDtls/TotInvVal: expected number, found boolean",
            ]
        );
    }

    #[test]
    fn not_an_object_and_malformed() {
        let one = |s: &str| {
            let e = structure_errors(s.as_bytes());
            assert_eq!(e.len(), 1, "{s}: {e:?}");
            assert_eq!(e[0].code, 2140);
            e[0].message.clone()
        };
        assert_eq!(one("[1, 2]"), "invoice must be a JSON object");
        assert_eq!(one("\"x\""), "invoice must be a JSON object");
        assert_eq!(
            one("{\"Version\": }"),
            "malformed JSON at byte 12: expected value"
        );
        assert_eq!(
            one("{\n  \"Version\": \"1.1\",\n  x\n}"),
            "malformed JSON at byte 24: key must be a string"
        );
        assert!(one("{\"Version\": \"1.1\"").starts_with("malformed JSON at byte 17: EOF"));
        assert!(one("{} x").starts_with("malformed JSON at byte 3: trailing characters"));
        assert!(one("").starts_with("malformed JSON at byte 0: EOF"));
        let deep = format!("{{\"Version\": {}{}}}", "[".repeat(200), "]".repeat(200));
        assert_eq!(one(&deep), "nesting too deep");
    }

    #[test]
    fn duplicates_and_ranges() {
        let text = serde_json::to_string(&maximal(INVOICE)).unwrap();
        let dup = text.replacen(
            "\"Version\":\"ABC\"",
            "\"Version\":\"ABC\",\"Version\":\"1.1\"",
            1,
        );
        assert!(!typed_ok(dup.as_bytes()));
        let e = structure_errors(dup.as_bytes());
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].message, "#/Version: duplicate field");

        let big = text.replacen("\"AssVal\":12.5", "\"AssVal\":1e300", 1);
        assert!(!typed_ok(big.as_bytes()));
        assert_eq!(
            structure_errors(big.as_bytes())[0].message,
            "#/ValDtls/AssVal: number out of range"
        );

        let big_pin = text.replacen("\"Pin\":560001", "\"Pin\":18446744073709551615", 1);
        assert!(!typed_ok(big_pin.as_bytes()));
        assert_eq!(structure_errors(big_pin.as_bytes()).len(), 1);
    }

    #[test]
    fn errors_are_capped() {
        let mut v = maximal(INVOICE);
        let items: Vec<Value> = (0..100).map(|_| json!({"Bad": 1})).collect();
        v["ItemList"] = Value::Array(items);
        let e = structure_errors(&serde_json::to_vec(&v).unwrap());
        assert_eq!(e.len(), MAX_ERRORS);
    }
}
