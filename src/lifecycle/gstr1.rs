//! `irp gstr1`: the GSTR-1 JSON that e-invoice auto-population produces for one seller and
//! return period (reference section 6), built from the registry.
//!
//! The period index (`seller GSTIN + YYYYMM` of the document date → IRN) makes the export a
//! prefix scan followed by batched multi-gets, so its cost depends on the seller's documents in
//! that month, not on the size of the registry. Cancelled IRNs are left out, as GSTN deletes
//! them from the auto-populated return.
//!
//! Mapping (GSTN advisory v3):
//! - INV B2B → `b2b` (`inv_typ` R; `rchrg` Y when RegRev is Y), SEZWP/SEZWOP → `b2b` SEWP/SEWOP,
//!   DEXP → `b2b` DE; EXPWP/EXPWOP → `exp` WPAY/WOPAY.
//! - CRN/DBN → `cdnr` (`ntty` C/D, `inv_typ` as above) to registered recipients, `cdnur`
//!   (`typ` EXPWP/EXPWOP) on exports.
//! - Items are aggregated per GST rate with exact decimal sums; amounts are written as JSON
//!   numbers with exactly two decimals.
//! - Every document's items also feed Table 12, the HSN summary: one line per HSN, unit and
//!   rate, credit notes netted off, quantities to two decimals. The reference names the
//!   section, not its shape, so this follows GSTN: up to the April 2025 period one list,
//!   `hsn.data`; from the May 2025 period Table 12 is split into `hsn.hsn_b2b` (supplies to
//!   registered recipients: b2b, SEZ, deemed exports, their notes) and `hsn.hsn_b2c` (exports
//!   and their notes, the unregistered side).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rayon::prelude::*;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Serialize, Serializer};

use crate::clock;
use crate::error::{Error, Result};
use crate::irn::{self, Irn};
use crate::lifecycle::{StoredInvoice, StoredItem};
use crate::registry::{IrnStatus, Registry};

/// `srctyp` of every auto-populated document.
const SOURCE_E_INVOICE: &str = "e-Invoice";
/// IRNs fetched per multi-get.
const FETCH_CHUNK: usize = 4096;

/// A return period: `MMYYYY` as GSTN writes it, `YYYYMM` as the registry indexes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Period {
    pub mmyyyy: String,
    pub yyyymm: String,
}

impl Period {
    /// Parses `MMYYYY` (month 01..12).
    ///
    /// # Errors
    /// [`Error::Usage`] for anything else.
    pub fn parse(text: &str) -> Result<Period> {
        let text = text.trim();
        let ok = text.len() == 6
            && text.bytes().all(|b| b.is_ascii_digit())
            && matches!(text[..2].parse::<u32>(), Ok(1..=12));
        if !ok {
            return Err(Error::Usage(format!(
                "--period {text:?}: expected MMYYYY, e.g. 042025"
            )));
        }
        Ok(Period {
            mmyyyy: text.to_owned(),
            yyyymm: format!("{}{}", &text[2..], &text[..2]),
        })
    }
}

/// An amount in rupees, written as a JSON number with exactly two decimals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Money(pub Decimal);

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut value = self
            .0
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        value.rescale(2);
        raw_number(&value.to_string(), serializer)
    }
}

/// A GST rate in percent (18, 0.25), or a quantity: a JSON number without trailing zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate(pub Decimal);

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        raw_number(&self.0.normalize().to_string(), serializer)
    }
}

fn raw_number<S: Serializer>(text: &str, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    let raw = serde_json::value::RawValue::from_string(text.to_owned())
        .map_err(serde::ser::Error::custom)?;
    raw.serialize(serializer)
}

/// The GSTR-1 JSON (sections with no documents are left out).
#[derive(Debug, Serialize)]
pub struct Gstr1 {
    pub gstin: String,
    pub fp: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub b2b: Vec<B2bParty>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cdnr: Vec<CdnrParty>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exp: Vec<ExpGroup>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cdnur: Vec<CdnurNote>,
    /// Table 12: the HSN summary.
    #[serde(skip_serializing_if = "Hsn::is_empty")]
    pub hsn: Hsn,
}

/// The first return period (`YYYYMM`) whose Table 12 is split into B2B and B2C lists.
const HSN_SPLIT_FROM: &str = "202505";

/// Table 12 in GSTN's layout: `{"data": [...]}` before the split, `{"hsn_b2b": [...],
/// "hsn_b2c": [...]}` from it (both lists written once either has a line).
#[derive(Debug, Default, Serialize)]
pub struct Hsn {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Vec<HsnLine>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hsn_b2b: Option<Vec<HsnLine>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hsn_b2c: Option<Vec<HsnLine>>,
}

impl Hsn {
    /// Before the split everything is in `b2b`, which becomes `data`.
    fn new(split: bool, b2b: HsnMap, b2c: HsnMap) -> Hsn {
        if !split {
            let data = hsn_lines(b2b);
            return Hsn {
                data: (!data.is_empty()).then_some(data),
                ..Hsn::default()
            };
        }
        if b2b.is_empty() && b2c.is_empty() {
            return Hsn::default();
        }
        Hsn {
            data: None,
            hsn_b2b: Some(hsn_lines(b2b)),
            hsn_b2c: Some(hsn_lines(b2c)),
        }
    }

    fn is_empty(&self) -> bool {
        self.data.is_none() && self.hsn_b2b.is_none() && self.hsn_b2c.is_none()
    }
}

/// One line of the HSN summary: every item of the period with this HSN, unit and rate.
/// Credit notes count negative, as Table 12 reports values net of them; services carry
/// the unit `NA`, as GSTN asks.
#[derive(Debug, Serialize)]
pub struct HsnLine {
    pub num: u32,
    pub hsn_sc: String,
    pub uqc: String,
    /// Rounded to two decimals (GSTN's limit), written like a rate: no trailing zeros.
    pub qty: Rate,
    pub rt: Rate,
    pub txval: Money,
    pub iamt: Money,
    pub camt: Money,
    pub samt: Money,
    pub csamt: Money,
}

#[derive(Debug, Serialize)]
pub struct B2bParty {
    pub ctin: String,
    pub inv: Vec<B2bInvoice>,
}

#[derive(Debug, Serialize)]
pub struct B2bInvoice {
    pub inum: String,
    pub idt: String,
    pub val: Money,
    pub pos: String,
    pub rchrg: &'static str,
    pub inv_typ: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etin: Option<String>,
    pub srctyp: &'static str,
    pub irn: String,
    pub irngendate: String,
    pub itms: Vec<RateLine>,
}

#[derive(Debug, Serialize)]
pub struct CdnrParty {
    pub ctin: String,
    pub nt: Vec<CdnrNote>,
}

#[derive(Debug, Serialize)]
pub struct CdnrNote {
    pub ntty: &'static str,
    pub nt_num: String,
    pub nt_dt: String,
    pub val: Money,
    pub pos: String,
    pub rchrg: &'static str,
    pub inv_typ: &'static str,
    pub srctyp: &'static str,
    pub irn: String,
    pub irngendate: String,
    pub itms: Vec<RateLine>,
}

#[derive(Debug, Serialize)]
pub struct ExpGroup {
    pub exp_typ: &'static str,
    pub inv: Vec<ExpInvoice>,
}

#[derive(Debug, Serialize)]
pub struct ExpInvoice {
    pub inum: String,
    pub idt: String,
    pub val: Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sbpcode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sbnum: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sbdt: Option<String>,
    pub srctyp: &'static str,
    pub irn: String,
    pub irngendate: String,
    pub itms: Vec<ExpLine>,
}

/// A credit or debit note on an export (unregistered recipient). The reference lists
/// `typ, ntty, nt_num, nt_dt, val, pos, itms`; `srctyp`, `irn` and `irngendate` are added as
/// for every other auto-populated document.
#[derive(Debug, Serialize)]
pub struct CdnurNote {
    pub typ: &'static str,
    pub ntty: &'static str,
    pub nt_num: String,
    pub nt_dt: String,
    pub val: Money,
    pub pos: String,
    pub srctyp: &'static str,
    pub irn: String,
    pub irngendate: String,
    pub itms: Vec<RateLine>,
}

/// One rate line of `b2b`, `cdnr` and `cdnur`.
///
/// `num` is a running index 1, 2, … in rate order: the value GSTN's auto-population puts
/// there (some returns show rate-based numbers such as 1801) is unconfirmed (reference 6).
#[derive(Debug, Serialize)]
pub struct RateLine {
    pub num: u32,
    pub itm_det: ItemDetail,
}

#[derive(Debug, Serialize)]
pub struct ItemDetail {
    pub rt: Rate,
    pub txval: Money,
    pub iamt: Money,
    pub camt: Money,
    pub samt: Money,
    pub csamt: Money,
}

/// One rate line of `exp`.
#[derive(Debug, Serialize)]
pub struct ExpLine {
    pub txval: Money,
    pub rt: Rate,
    pub iamt: Money,
    pub csamt: Money,
}

/// What an export contained.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Gstr1Counts {
    /// Registrations of the seller in the period (active and cancelled).
    pub registrations: u64,
    /// Cancelled registrations left out.
    pub cancelled: u64,
    pub b2b: u64,
    pub cdnr: u64,
    pub exp: u64,
    pub cdnur: u64,
}

impl Gstr1Counts {
    /// A one-line account for the terminal.
    pub fn one_line(&self, gstin: &str, period: &str) -> String {
        format!(
            "irp gstr1 {gstin} {period}: {} documents (b2b {}, cdnr {}, exp {}, cdnur {}); {} cancelled left out",
            self.b2b + self.cdnr + self.exp + self.cdnur,
            self.b2b,
            self.cdnr,
            self.exp,
            self.cdnur,
            self.cancelled
        )
    }
}

/// The export and its counts.
#[derive(Debug)]
pub struct Export {
    pub gstr1: Gstr1,
    pub counts: Gstr1Counts,
}

/// Per-rate sums of one document.
#[derive(Default)]
struct RateSums {
    txval: Decimal,
    iamt: Decimal,
    camt: Decimal,
    samt: Decimal,
    csamt: Decimal,
}

impl RateSums {
    /// Adds an item's taxable value and taxes, times `sign` (-1 nets a credit note off).
    fn add(&mut self, item: &StoredItem, sign: Decimal) {
        self.txval += sign * item.ass_amt.value;
        self.iamt += sign * amount(item.igst_amt.as_ref());
        self.camt += sign * amount(item.cgst_amt.as_ref());
        self.samt += sign * amount(item.sgst_amt.as_ref());
        self.csamt +=
            sign * (amount(item.ces_amt.as_ref()) + amount(item.ces_non_advl_amt.as_ref()));
    }
}

fn amount(n: Option<&crate::model::Num>) -> Decimal {
    n.map(|n| n.value).unwrap_or_default()
}

/// Items aggregated per rate, in ascending rate order.
fn per_rate(items: &[StoredItem]) -> Vec<(Decimal, RateSums)> {
    let mut by_rate: BTreeMap<Decimal, RateSums> = BTreeMap::new();
    for item in items {
        by_rate
            .entry(item.gst_rt.value.normalize())
            .or_default()
            .add(item, Decimal::ONE);
    }
    by_rate.into_iter().collect()
}

fn rate_lines(items: &[StoredItem]) -> Vec<RateLine> {
    per_rate(items)
        .into_iter()
        .zip(1u32..)
        .map(|((rate, s), num)| RateLine {
            num,
            itm_det: ItemDetail {
                rt: Rate(rate),
                txval: Money(s.txval),
                iamt: Money(s.iamt),
                camt: Money(s.camt),
                samt: Money(s.samt),
                csamt: Money(s.csamt),
            },
        })
        .collect()
}

/// Sums of one HSN-summary line.
#[derive(Default)]
struct HsnSums {
    qty: Decimal,
    rates: RateSums,
}

/// HSN-summary lines by HSN, unit and rate.
type HsnMap = BTreeMap<(String, String, Decimal), HsnSums>;

/// Adds a document's items to the HSN summary, negated for a credit note.
fn add_to_hsn(hsn: &mut HsnMap, items: &[StoredItem], credit: bool) {
    let sign = if credit { -Decimal::ONE } else { Decimal::ONE };
    for item in items {
        let service = item.is_servc.eq_ignore_ascii_case("Y") || item.hsn_cd.starts_with("99");
        let uqc = match &item.unit {
            Some(unit) if !service && !unit.is_empty() => unit.to_ascii_uppercase(),
            _ => "NA".to_owned(),
        };
        let key = (item.hsn_cd.clone(), uqc, item.gst_rt.value.normalize());
        let sums = hsn.entry(key).or_default();
        if !service {
            sums.qty += sign * amount(item.qty.as_ref());
        }
        sums.rates.add(item, sign);
    }
}

fn hsn_lines(hsn: HsnMap) -> Vec<HsnLine> {
    hsn.into_iter()
        .zip(1u32..)
        .map(|(((hsn_sc, uqc, rate), s), num)| HsnLine {
            num,
            hsn_sc,
            uqc,
            qty: Rate(
                s.qty
                    .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero),
            ),
            rt: Rate(rate),
            txval: Money(s.rates.txval),
            iamt: Money(s.rates.iamt),
            camt: Money(s.rates.camt),
            samt: Money(s.rates.samt),
            csamt: Money(s.rates.csamt),
        })
        .collect()
}

fn exp_lines(items: &[StoredItem]) -> Vec<ExpLine> {
    per_rate(items)
        .into_iter()
        .map(|(rate, s)| ExpLine {
            txval: Money(s.txval),
            rt: Rate(rate),
            iamt: Money(s.iamt),
            csamt: Money(s.csamt),
        })
        .collect()
}

/// `dd/mm/yyyy` → `dd-mm-yyyy`.
fn dashed(date: &str) -> String {
    date.replace('/', "-")
}

/// AckDt `yyyy-MM-dd HH:mm:ss` → `dd-mm-yyyy`.
fn gen_date(ack_dt: &str) -> String {
    clock::parse_ack(ack_dt)
        .map(|t| t.format("%d-%m-%Y").to_string())
        .unwrap_or_default()
}

/// `inv_typ` of a domestic supply type (B2B and anything unknown → R).
fn inv_typ(sup_typ: &str) -> &'static str {
    match sup_typ {
        "SEZWP" => "SEWP",
        "SEZWOP" => "SEWOP",
        "DEXP" => "DE",
        _ => "R",
    }
}

fn rchrg(inv: &StoredInvoice) -> &'static str {
    if inv
        .tran_dtls
        .reg_rev
        .as_deref()
        .is_some_and(|r| r.eq_ignore_ascii_case("Y"))
    {
        "Y"
    } else {
        "N"
    }
}

/// A document with its sort key (document date, number, IRN).
struct Doc {
    date: NaiveDate,
    irn: Irn,
    ack_dt: String,
    inv: StoredInvoice,
}

/// Builds the GSTR-1 of `gstin` for `period` from the registry.
///
/// # Errors
/// A registry read failure or a corrupt stored invoice.
pub fn export(registry: &Registry, gstin: &str, period: &Period) -> Result<Export> {
    let irns = registry.irns_for_period(gstin, &period.yyyymm)?;
    let mut counts = Gstr1Counts {
        registrations: irns.len() as u64,
        ..Gstr1Counts::default()
    };
    let mut docs: Vec<Doc> = Vec::with_capacity(irns.len());
    for chunk in irns.chunks(FETCH_CHUNK) {
        let regs = registry.get_many(chunk)?;
        let parsed: Vec<Option<Doc>> = chunk
            .par_iter()
            .zip(regs.into_par_iter())
            .map(|(irn, reg)| -> Result<Option<Doc>> {
                let Some(reg) = reg else {
                    return Err(Error::Registry {
                        path: registry.path().to_owned(),
                        message: format!(
                            "period index names {} but it is not registered",
                            irn::to_hex(irn)
                        ),
                    });
                };
                if reg.status == IrnStatus::Cancelled {
                    return Ok(None);
                }
                let inv = StoredInvoice::parse(registry, irn, &reg)?;
                Ok(Some(Doc {
                    date: clock::parse_doc_date(&inv.doc_dtls.dt).unwrap_or(NaiveDate::MIN),
                    irn: *irn,
                    ack_dt: reg.ack_dt,
                    inv,
                }))
            })
            .collect::<Result<_>>()?;
        for doc in parsed {
            match doc {
                Some(d) => docs.push(d),
                None => counts.cancelled += 1,
            }
        }
    }
    docs.sort_by(|a, b| {
        (a.date, &a.inv.doc_dtls.no, a.irn).cmp(&(b.date, &b.inv.doc_dtls.no, b.irn))
    });

    let mut b2b: BTreeMap<String, Vec<B2bInvoice>> = BTreeMap::new();
    let mut cdnr: BTreeMap<String, Vec<CdnrNote>> = BTreeMap::new();
    let mut exp: BTreeMap<&'static str, Vec<ExpInvoice>> = BTreeMap::new();
    let mut cdnur: Vec<CdnurNote> = Vec::new();
    // Table 12's two sides: registered recipients, and exports (the unregistered side).
    let split = period.yyyymm.as_str() >= HSN_SPLIT_FROM;
    let mut hsn_b2b = HsnMap::new();
    let mut hsn_b2c = HsnMap::new();
    for doc in docs {
        let inv = doc.inv;
        let irn = irn::to_hex(&doc.irn);
        let irngendate = gen_date(&doc.ack_dt);
        let val = Money(inv.val_dtls.tot_inv_val.value);
        let export_typ = match inv.tran_dtls.sup_typ.as_str() {
            "EXPWP" => Some(("WPAY", "EXPWP")),
            "EXPWOP" => Some(("WOPAY", "EXPWOP")),
            _ => None,
        };
        let note = match inv.doc_dtls.typ.to_ascii_uppercase().as_str() {
            "CRN" => Some("C"),
            "DBN" => Some("D"),
            _ => None,
        };
        let side = if split && export_typ.is_some() {
            &mut hsn_b2c
        } else {
            &mut hsn_b2b
        };
        add_to_hsn(side, &inv.item_list, note == Some("C"));
        match (note, export_typ) {
            (None, None) => {
                counts.b2b += 1;
                let entry = B2bInvoice {
                    inum: inv.doc_dtls.no.clone(),
                    idt: dashed(&inv.doc_dtls.dt),
                    val,
                    pos: format!("{:0>2}", inv.buyer_dtls.pos),
                    rchrg: rchrg(&inv),
                    inv_typ: inv_typ(&inv.tran_dtls.sup_typ),
                    etin: inv.tran_dtls.ecm_gstin.clone(),
                    srctyp: SOURCE_E_INVOICE,
                    irn,
                    irngendate,
                    itms: rate_lines(&inv.item_list),
                };
                b2b.entry(inv.buyer_dtls.gstin).or_default().push(entry);
            }
            (None, Some((exp_typ, _))) => {
                counts.exp += 1;
                let ship = inv.exp_dtls.as_ref();
                exp.entry(exp_typ).or_default().push(ExpInvoice {
                    inum: inv.doc_dtls.no.clone(),
                    idt: dashed(&inv.doc_dtls.dt),
                    val,
                    sbpcode: ship.and_then(|e| e.port.clone()),
                    sbnum: ship.and_then(|e| e.ship_b_no.clone()),
                    sbdt: ship.and_then(|e| e.ship_b_dt.as_deref().map(dashed)),
                    srctyp: SOURCE_E_INVOICE,
                    irn,
                    irngendate,
                    itms: exp_lines(&inv.item_list),
                });
            }
            (Some(ntty), None) => {
                counts.cdnr += 1;
                let entry = CdnrNote {
                    ntty,
                    nt_num: inv.doc_dtls.no.clone(),
                    nt_dt: dashed(&inv.doc_dtls.dt),
                    val,
                    pos: format!("{:0>2}", inv.buyer_dtls.pos),
                    rchrg: rchrg(&inv),
                    inv_typ: inv_typ(&inv.tran_dtls.sup_typ),
                    srctyp: SOURCE_E_INVOICE,
                    irn,
                    irngendate,
                    itms: rate_lines(&inv.item_list),
                };
                cdnr.entry(inv.buyer_dtls.gstin).or_default().push(entry);
            }
            (Some(ntty), Some((_, typ))) => {
                counts.cdnur += 1;
                cdnur.push(CdnurNote {
                    typ,
                    ntty,
                    nt_num: inv.doc_dtls.no.clone(),
                    nt_dt: dashed(&inv.doc_dtls.dt),
                    val,
                    pos: format!("{:0>2}", inv.buyer_dtls.pos),
                    srctyp: SOURCE_E_INVOICE,
                    irn,
                    irngendate,
                    itms: rate_lines(&inv.item_list),
                });
            }
        }
    }
    // WPAY before WOPAY, as GSTN lists them.
    let mut exp_groups: Vec<ExpGroup> = exp
        .into_iter()
        .map(|(exp_typ, inv)| ExpGroup { exp_typ, inv })
        .collect();
    exp_groups.sort_by_key(|g| g.exp_typ != "WPAY");
    Ok(Export {
        gstr1: Gstr1 {
            gstin: gstin.to_owned(),
            fp: period.mmyyyy.clone(),
            b2b: b2b
                .into_iter()
                .map(|(ctin, inv)| B2bParty { ctin, inv })
                .collect(),
            cdnr: cdnr
                .into_iter()
                .map(|(ctin, nt)| CdnrParty { ctin, nt })
                .collect(),
            exp: exp_groups,
            cdnur,
            hsn: Hsn::new(split, hsn_b2b, hsn_b2c),
        },
        counts,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::config::RegistryConfig;
    use crate::lifecycle::testutil::{invoice, register};

    const S: &str = "29AAFCC9980M1ZR";
    const B1: &str = "27AABCU9603R1ZN";
    const B2: &str = "07AAACR5055K1Z9";
    const SEZ: &str = "33AAACI4798L1Z5";
    const DE: &str = "24AAACJ3770E2ZV";
    const KA: &str = "29AABCU9603R1ZX";

    #[test]
    fn period_parsing() {
        assert_eq!(Period::parse("042025").unwrap().yyyymm, "202504");
        for bad in ["42025", "132025", "002025", "2025-04", "04202a"] {
            assert!(matches!(Period::parse(bad), Err(Error::Usage(_))), "{bad}");
        }
    }

    #[test]
    fn money_has_two_decimals_and_rates_none_extra() {
        let v = serde_json::to_string(&(
            Money(Decimal::new(3005, 1)),
            Rate(Decimal::new(18000, 3)),
            Money(Decimal::new(12345, 3)),
        ))
        .unwrap();
        assert_eq!(v, "[300.50,18,12.35]");
    }

    #[test]
    fn sections_mapping_order_and_sums() {
        let dir = tempfile::tempdir().unwrap();
        let mut registry = Registry::open(dir.path(), &RegistryConfig::default()).unwrap();
        let ack = "2025-04-06 10:00:00";
        let exp_inv = |no: &str, sup: &str, typ: &str, line: crate::lifecycle::testutil::Line| {
            let mut v = invoice(S, sup, typ, no, "03/04/2025", "URP", "96", false, &[line]);
            v["ExpDtls"] = serde_json::json!({"ShipBNo": "1234567", "ShipBDt": "03/04/2025", "Port": "INMAA1", "CntCode": "US"});
            v
        };
        let docs = vec![
            (
                invoice(
                    S,
                    "B2B",
                    "INV",
                    "INV/2",
                    "05/04/2025",
                    B1,
                    "27",
                    false,
                    &[
                        (18.0, 100.0, 18.0, 0.0, 0.0, 0.0),
                        (18.0, 200.5, 36.09, 0.0, 0.0, 1.5),
                        (5.0, 50.0, 2.5, 0.0, 0.0, 0.0),
                    ],
                ),
                ack,
            ),
            (
                invoice(
                    S,
                    "B2B",
                    "INV",
                    "INV/1",
                    "05/04/2025",
                    B1,
                    "27",
                    false,
                    &[(12.0, 1000.0, 120.0, 0.0, 0.0, 0.0)],
                ),
                ack,
            ),
            (
                invoice(
                    S,
                    "B2B",
                    "INV",
                    "INV/3",
                    "01/04/2025",
                    B2,
                    "07",
                    true,
                    &[(18.0, 10.0, 1.8, 0.0, 0.0, 0.0)],
                ),
                ack,
            ),
            (
                invoice(
                    S,
                    "B2B",
                    "INV",
                    "INV/4",
                    "06/04/2025",
                    KA,
                    "29",
                    false,
                    &[(18.0, 100.0, 0.0, 9.0, 9.0, 0.0)],
                ),
                ack,
            ),
            (
                invoice(
                    S,
                    "SEZWP",
                    "INV",
                    "SEZ/1",
                    "02/04/2025",
                    SEZ,
                    "33",
                    false,
                    &[(18.0, 100.0, 18.0, 0.0, 0.0, 0.0)],
                ),
                ack,
            ),
            (
                invoice(
                    S,
                    "SEZWOP",
                    "INV",
                    "SEZ/2",
                    "02/04/2025",
                    SEZ,
                    "33",
                    false,
                    &[(18.0, 100.0, 0.0, 0.0, 0.0, 0.0)],
                ),
                ack,
            ),
            (
                invoice(
                    S,
                    "DEXP",
                    "INV",
                    "DE/1",
                    "02/04/2025",
                    DE,
                    "24",
                    false,
                    &[(18.0, 100.0, 18.0, 0.0, 0.0, 0.0)],
                ),
                ack,
            ),
            (
                exp_inv("EXP/2", "EXPWOP", "INV", (0.0, 500.0, 0.0, 0.0, 0.0, 0.0)),
                ack,
            ),
            (
                exp_inv(
                    "EXP/1",
                    "EXPWP",
                    "INV",
                    (18.0, 1000.0, 180.0, 0.0, 0.0, 0.0),
                ),
                ack,
            ),
            (
                invoice(
                    S,
                    "B2B",
                    "CRN",
                    "CN/1",
                    "07/04/2025",
                    B1,
                    "27",
                    false,
                    &[(18.0, 50.0, 9.0, 0.0, 0.0, 0.0)],
                ),
                ack,
            ),
            (
                invoice(
                    S,
                    "SEZWP",
                    "DBN",
                    "DN/1",
                    "07/04/2025",
                    SEZ,
                    "33",
                    false,
                    &[(18.0, 20.0, 3.6, 0.0, 0.0, 0.0)],
                ),
                ack,
            ),
            (
                exp_inv("CN/2", "EXPWP", "CRN", (18.0, 10.0, 1.8, 0.0, 0.0, 0.0)),
                ack,
            ),
            (
                invoice(
                    S,
                    "B2B",
                    "INV",
                    "INV/9",
                    "05/04/2025",
                    B1,
                    "27",
                    false,
                    &[(18.0, 1.0, 0.18, 0.0, 0.0, 0.0)],
                ),
                ack,
            ),
            // Another period and another seller: not in the export.
            (
                invoice(
                    S,
                    "B2B",
                    "INV",
                    "INV/10",
                    "01/05/2025",
                    B1,
                    "27",
                    false,
                    &[(18.0, 1.0, 0.18, 0.0, 0.0, 0.0)],
                ),
                ack,
            ),
            (
                invoice(
                    B1,
                    "B2B",
                    "INV",
                    "X/1",
                    "05/04/2025",
                    S,
                    "29",
                    false,
                    &[(18.0, 1.0, 0.18, 0.0, 0.0, 0.0)],
                ),
                ack,
            ),
        ];
        let irns = register(&mut registry, &docs);
        let cancelled = irns[12];
        let mut reg = registry.get(&cancelled).unwrap().unwrap();
        reg.status = IrnStatus::Cancelled;
        registry.update(&[(cancelled, &reg)]).unwrap();

        let exported = export(&registry, S, &Period::parse("042025").unwrap()).unwrap();
        assert_eq!(
            exported.counts,
            Gstr1Counts {
                registrations: 13,
                cancelled: 1,
                b2b: 7,
                cdnr: 2,
                exp: 2,
                cdnur: 1
            }
        );
        let text = serde_json::to_string(&exported.gstr1).unwrap();
        assert!(
            text.contains(r#""txval":300.50,"iamt":54.09,"camt":0.00,"samt":0.00,"csamt":1.50"#),
            "{text}"
        );
        assert!(!text.contains(&irn::to_hex(&cancelled)));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["gstin"], S);
        assert_eq!(v["fp"], "042025");
        let ctins: Vec<&str> = v["b2b"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["ctin"].as_str().unwrap())
            .collect();
        assert_eq!(ctins, [B2, DE, B1, KA, SEZ]);
        let b1 = &v["b2b"][2]["inv"];
        assert_eq!(b1[0]["inum"], "INV/1");
        assert_eq!(b1[1]["inum"], "INV/2");
        assert_eq!(b1[1]["idt"], "05-04-2025");
        assert_eq!(b1[1]["irngendate"], "06-04-2025");
        assert_eq!(b1[1]["val"].as_f64(), Some(408.59));
        assert_eq!(b1[1]["srctyp"], "e-Invoice");
        assert_eq!(b1[1]["inv_typ"], "R");
        assert_eq!(b1[1]["rchrg"], "N");
        assert_eq!(b1[1]["irn"], irn::to_hex(&irns[0]));
        assert_eq!(b1[1]["itms"][0]["num"], 1);
        assert_eq!(b1[1]["itms"][0]["itm_det"]["rt"], 5);
        assert_eq!(b1[1]["itms"][1]["num"], 2);
        assert_eq!(b1[1]["itms"][1]["itm_det"]["rt"], 18);
        assert_eq!(v["b2b"][0]["inv"][0]["rchrg"], "Y");
        assert_eq!(v["b2b"][1]["inv"][0]["inv_typ"], "DE");
        assert_eq!(
            v["b2b"][3]["inv"][0]["itms"][0]["itm_det"]["camt"].as_f64(),
            Some(9.0)
        );
        let sez = &v["b2b"][4]["inv"];
        assert_eq!(
            (sez[0]["inv_typ"].as_str(), sez[1]["inv_typ"].as_str()),
            (Some("SEWP"), Some("SEWOP"))
        );
        assert_eq!(v["exp"][0]["exp_typ"], "WPAY");
        assert_eq!(v["exp"][1]["exp_typ"], "WOPAY");
        let e = &v["exp"][0]["inv"][0];
        assert_eq!(
            (
                e["inum"].as_str(),
                e["sbpcode"].as_str(),
                e["sbnum"].as_str(),
                e["sbdt"].as_str()
            ),
            (
                Some("EXP/1"),
                Some("INMAA1"),
                Some("1234567"),
                Some("03-04-2025")
            )
        );
        assert_eq!(e["itms"][0]["txval"].as_f64(), Some(1000.0));
        assert_eq!(e["itms"][0]["iamt"].as_f64(), Some(180.0));
        let ctins: Vec<&str> = v["cdnr"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["ctin"].as_str().unwrap())
            .collect();
        assert_eq!(ctins, [B1, SEZ]);
        assert_eq!(v["cdnr"][0]["nt"][0]["ntty"], "C");
        assert_eq!(v["cdnr"][0]["nt"][0]["nt_num"], "CN/1");
        assert_eq!(v["cdnr"][1]["nt"][0]["ntty"], "D");
        assert_eq!(v["cdnr"][1]["nt"][0]["inv_typ"], "SEWP");
        assert_eq!(v["cdnur"][0]["typ"], "EXPWP");
        assert_eq!(v["cdnur"][0]["ntty"], "C");
        assert_eq!(v["cdnur"][0]["pos"], "96");

        // A period with nothing: only gstin and fp.
        let empty = export(&registry, S, &Period::parse("062025").unwrap()).unwrap();
        assert_eq!(
            serde_json::to_string(&empty.gstr1).unwrap(),
            format!(r#"{{"gstin":"{S}","fp":"062025"}}"#)
        );
    }

    #[test]
    fn hsn_summary_nets_credit_notes_per_hsn_unit_and_rate() {
        let dir = tempfile::tempdir().unwrap();
        let mut registry = Registry::open(dir.path(), &RegistryConfig::default()).unwrap();
        let ack = "2025-04-06 10:00:00";
        // A B2B document of seller S on `dt` whose first item has `unit` and `qty`.
        let doc = |typ, no, dt, (buyer, pos), lines: &[_], (unit, qty): (&str, u32)| {
            let mut v = invoice(S, "B2B", typ, no, dt, buyer, pos, false, lines);
            v["ItemList"][0]["Unit"] = serde_json::json!(unit);
            v["ItemList"][0]["Qty"] = serde_json::json!(qty);
            v
        };
        let lines = [
            (18.0, 100.0, 18.0, 0.0, 0.0, 0.0),
            (5.0, 50.0, 2.5, 0.0, 0.0, 0.0),
        ];
        let inv = doc("INV", "H/1", "05/04/2025", (B1, "27"), &lines, ("nos", 4));
        let credit = [(18.0, 10.0, 1.8, 0.0, 0.0, 0.0)];
        let crn = doc("CRN", "HC/1", "06/04/2025", (B1, "27"), &credit, ("NOS", 1));
        let service = [(18.0, 200.0, 0.0, 18.0, 18.0, 0.0)];
        let mut svc = doc("INV", "H/2", "07/04/2025", (KA, "29"), &service, ("NOS", 3));
        svc["ItemList"][0]["IsServc"] = serde_json::json!("Y");
        svc["ItemList"][0]["HsnCd"] = serde_json::json!("998313");
        register(&mut registry, &[(inv, ack), (crn, ack), (svc, ack)]);
        let exported = export(&registry, S, &Period::parse("042025").unwrap()).unwrap();
        let text = serde_json::to_string(&exported.gstr1).unwrap();
        let lines = [
            // 4 - 1 units, 100 - 10 taxable: the credit note nets off.
            r#"{"num":1,"hsn_sc":"847100","uqc":"NOS","qty":3,"rt":18,"txval":90.00,"iamt":16.20,"camt":0.00,"samt":0.00,"csamt":0.00}"#,
            // Goods without a unit, and a service whatever its unit: NA, no quantity.
            r#"{"num":2,"hsn_sc":"847101","uqc":"NA","qty":0,"rt":5,"txval":50.00,"iamt":2.50,"camt":0.00,"samt":0.00,"csamt":0.00}"#,
            r#"{"num":3,"hsn_sc":"998313","uqc":"NA","qty":0,"rt":18,"txval":200.00,"iamt":0.00,"camt":18.00,"samt":18.00,"csamt":0.00}"#,
        ];
        assert!(
            text.ends_with(&format!(r#""hsn":{{"data":[{}]}}}}"#, lines.join(","))),
            "{text}"
        );
    }

    #[test]
    fn hsn_summary_splits_b2b_and_b2c_from_may_2025_with_quantities_to_two_decimals() {
        let dir = tempfile::tempdir().unwrap();
        let mut registry = Registry::open(dir.path(), &RegistryConfig::default()).unwrap();
        let ack = "2025-06-06 10:00:00";
        let with_qty = |mut v: Value, qty: f64| {
            v["ItemList"][0]["Unit"] = serde_json::json!("KGS");
            v["ItemList"][0]["Qty"] = serde_json::json!(qty);
            v
        };
        let line = [(18.0, 100.0, 18.0, 0.0, 0.0, 0.0)];
        let b2b = |no, dt, qty| {
            with_qty(
                invoice(S, "B2B", "INV", no, dt, B1, "27", false, &line),
                qty,
            )
        };
        let export_doc = |typ, no, lines: &[crate::lifecycle::testutil::Line], qty| {
            let mut v = with_qty(
                invoice(S, "EXPWP", typ, no, "05/06/2025", "URP", "96", false, lines),
                qty,
            );
            v["ExpDtls"] = serde_json::json!({"CntCode": "US"});
            v
        };
        let shipped = export_doc("INV", "E/1", &line, 7.5);
        // A credit note on the export nets off on the B2C side.
        let returned = export_doc("CRN", "EC/1", &[(18.0, 40.0, 7.2, 0.0, 0.0, 0.0)], 2.5);
        register(
            &mut registry,
            &[
                (b2b("B/1", "05/06/2025", 2.345), ack),
                (b2b("B/2", "05/06/2025", 1.001), ack),
                (shipped, ack),
                (returned, ack),
                (b2b("B/3", "05/04/2025", 1.0), ack),
                (b2b("B/4", "05/07/2025", 1.0), "2025-07-06 10:00:00"),
            ],
        );
        let line_of = |qty: &str, txval: &str, iamt: &str| {
            format!(
                r#"{{"num":1,"hsn_sc":"847100","uqc":"KGS","qty":{qty},"rt":18,"txval":{txval},"iamt":{iamt},"camt":0.00,"samt":0.00,"csamt":0.00}}"#
            )
        };
        let june = export(&registry, S, &Period::parse("062025").unwrap()).unwrap();
        let text = serde_json::to_string(&june.gstr1).unwrap();
        // 2.345 + 1.001 = 3.346 units, reported as 3.35; the export (less its credit note)
        // is on the B2C side.
        let b2b_line = line_of("3.35", "200.00", "36.00");
        let b2c_line = line_of("5", "60.00", "10.80");
        assert!(
            text.ends_with(&format!(
                r#""hsn":{{"hsn_b2b":[{b2b_line}],"hsn_b2c":[{b2c_line}]}}}}"#
            )),
            "{text}"
        );
        // July 2025: B2B only; the B2C list is written, empty.
        let july = export(&registry, S, &Period::parse("072025").unwrap()).unwrap();
        let text = serde_json::to_string(&july.gstr1).unwrap();
        let line = line_of("1", "100.00", "18.00");
        assert!(
            text.ends_with(&format!(r#""hsn":{{"hsn_b2b":[{line}],"hsn_b2c":[]}}}}"#)),
            "{text}"
        );
        // April 2025, before the split: one list.
        let april = export(&registry, S, &Period::parse("042025").unwrap()).unwrap();
        let text = serde_json::to_string(&april.gstr1).unwrap();
        let line = line_of("1", "100.00", "18.00");
        assert!(
            text.ends_with(&format!(r#""hsn":{{"data":[{line}]}}}}"#)),
            "{text}"
        );
    }
}
