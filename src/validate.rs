//! Validation of a parsed invoice (reference sections 1 and 2): the schema constraints serde
//! cannot express (lengths, patterns, ranges, enumerations) and NIC's business rules, each
//! reported with its NIC error code.
//!
//! The validator is on the hot path: every check is a hand-written byte test or exact
//! [`Decimal`] arithmetic, and nothing is allocated for a valid invoice (messages are built only
//! when a rule fails).
//!
//! Choices where the reference leaves room (see the module tests for one case per code):
//! - `SupTyp` and `DocDtls.Typ` are accepted case-insensitively (the schema's `(?i)` pattern);
//!   later stages must upper-case them before hashing or de-duplicating.
//! - A bad `DocDtls.Dt` (pattern or calendar) is 2225; other bad dates are 2140.
//! - State codes, HSN, unit, country, currency and port codes that fail their pattern get the
//!   specific master code (2259/2260/2243/2200, 2176, 2177, 2202, 2203, 2201), not 2140.
//! - HSN shorter than the seller's minimum digits is 2176; IsServc contradicting the `99`
//!   prefix is 2199; buyer PIN outside the buyer state is 3039 (seller, dispatch, ship: 2178);
//!   `rules.nic_pin_codes` answers as NIC's responses do instead: 3038 for a PIN in no state,
//!   3039 for another state's, any party.
//! - Port, country and currency codes are checked against their masters (2201-2203) only on
//!   exports.
//! - Dispatch from PIN 999999 is 2273 (NIC's answer; goods leave from India). A ship-to GSTIN
//!   in the taxpayer master that is not active is 3029, as NIC answers.
//! - Export POS not 96 is 2232; SEZ POS not 96 (only with `sez_recipient_pos_96`) is 2229.
//! - E-way bill problems do not reject the IRN by default: NIC accepts the invoice and answers
//!   EWBERR with the e-way bill code ([`Validator::ewb_errors`]). With
//!   `ewb_errors_reject_irn`, services only is 2251, CRN/DBN 2252, Part B incomplete 2253/2254,
//!   an export's ship-to missing, abroad or at PIN 999999 (4031-4033) 2236: an export's e-way
//!   bill runs to the Indian port the goods leave from (NIC's FAQ 28).
//! - Ship-to state other than POS on B2B (2245) only with `ship_to_state_equals_pos`: invoices
//!   NIC signed carry bill-to-ship-to across states.
//! - A CesVal that differs from the items' cess total is 2186, or 2188 when it equals the
//!   ad-valorem cess alone (the items' non-advol cess was left out).
//! - Under reverse charge TotItemVal may be AssAmt + all taxes + OthChrg, or exclude GST, or
//!   exclude all taxes.
//! - The reporting window rejects a document once `today >= Dt + reporting_window_days`
//!   (the advisory: dated 1 April, refused after 30 April).
//! - Rules that came into force on a date follow the run's clock (`today`), as the IRP
//!   applied them: no reporting window before 1 Nov 2023, AATO >= 100 crore until
//!   31 Mar 2025, >= 10 crore from 1 Apr 2025; 6-digit HSN from 15 Dec 2023. The one
//!   exception is 2323 (a ship-to GSTIN equal to the buyer's), keyed on the document date
//!   (from 1 Aug 2026), because NIC signed that shape for years before.
//! - Goods and services together where IGST is charged within the supplier's own state
//!   (IgstOnIntra, or an SEZ buyer in the same state) is 2249.
//! - `Unit` fails the schema (2140) unless it is 3-8 letters, before the UQC master's 2177.
//! - Every schema failure is 2140 here; `rules.schema_error_code = 5002` renames them in the
//!   transform stage (NIC's responses use 5002 for field-level schema failures).

use std::fmt;
use std::sync::Arc;

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::clock;
use crate::config::RulesConfig;
use crate::error::Violation;
use crate::gstin;
use crate::masters::{Masters, StateKind, TaxpayerStatus, Taxpayers};
use crate::model::{Invoice, Item, Num};

/// NIC error codes emitted by the validator.
pub mod codes {
    pub const SCHEMA: u16 = 2140;
    pub const REG_REV: u16 = 2159;
    pub const DOC_TYPE: u16 = 2161;
    pub const RCM_B2B_ONLY: u16 = 2162;
    pub const DEXP_URP: u16 = 2171;
    pub const INTRA_IGST: u16 = 2172;
    pub const TOO_MANY_ITEMS: u16 = 2173;
    pub const INTER_CGST_SGST: u16 = 2174;
    pub const HSN: u16 = 2176;
    pub const UNIT: u16 = 2177;
    pub const PIN_STATE: u16 = 2178;
    pub const EXPORT_CGST_SGST: u16 = 2180;
    pub const ASS_VAL: u16 = 2182;
    pub const SGST_VAL: u16 = 2183;
    pub const CGST_VAL: u16 = 2184;
    pub const IGST_VAL: u16 = 2185;
    pub const CES_VAL: u16 = 2186;
    pub const ST_CES_VAL: u16 = 2187;
    pub const CES_NON_ADVL_VAL: u16 = 2188;
    pub const TOT_INV_VAL: u16 = 2189;
    pub const PREC_DOC_REQUIRED: u16 = 2191;
    pub const TOT_AMT: u16 = 2192;
    pub const ASS_AMT: u16 = 2193;
    pub const TOT_ITEM_VAL: u16 = 2194;
    pub const ECM_TCS: u16 = 2195;
    pub const HSN_SERVICE: u16 = 2199;
    pub const DISP_SHIP_STATE: u16 = 2200;
    pub const PORT: u16 = 2201;
    pub const COUNTRY: u16 = 2202;
    pub const CURRENCY: u16 = 2203;
    pub const EXP_DTLS_REQUIRED: u16 = 2208;
    pub const PREC_DOC_FOR_INV: u16 = 2210;
    pub const SAME_GSTIN: u16 = 2211;
    pub const BUYER_URP: u16 = 2212;
    pub const SELLER_URP: u16 = 2213;
    pub const FUTURE_DATE: u16 = 2218;
    pub const PERIOD_DATES: u16 = 2219;
    pub const DISCOUNT: u16 = 2220;
    pub const DOC_DATE_FORMAT: u16 = 2225;
    pub const CGST_NE_SGST: u16 = 2227;
    pub const NO_ITEMS: u16 = 2228;
    pub const SEZ_POS_96: u16 = 2229;
    pub const SELLER_SEZ: u16 = 2231;
    pub const EXPORT_POS_96: u16 = 2232;
    pub const DUP_SL_NO: u16 = 2233;
    pub const CGST_SGST_AMT: u16 = 2234;
    pub const IGST_AMT: u16 = 2235;
    pub const EXPORT_SHIP_TO_PORT: u16 = 2236;
    pub const SEZ_CGST_SGST: u16 = 2237;
    pub const QTY_REQUIRED: u16 = 2238;
    pub const UNIT_REQUIRED: u16 = 2239;
    pub const GST_RATE: u16 = 2240;
    pub const INTRA_CGST_SGST_REQUIRED: u16 = 2241;
    pub const POS_96_NOT_ALLOWED: u16 = 2242;
    pub const POS_INVALID: u16 = 2243;
    pub const SHIP_STATE_POS: u16 = 2245;
    pub const BUYER_SEZ: u16 = 2246;
    pub const BUYER_NOT_SEZ: u16 = 2247;
    pub const EXPORT_URP: u16 = 2248;
    pub const GOODS_SERVICE_MIX: u16 = 2249;
    pub const EWB_GOODS: u16 = 2251;
    pub const EWB_DOC_TYPE: u16 = 2252;
    pub const EWB_ROAD: u16 = 2253;
    pub const EWB_NON_ROAD: u16 = 2254;
    pub const SELLER_STATE_GSTIN: u16 = 2258;
    pub const SELLER_STATE: u16 = 2259;
    pub const BUYER_STATE: u16 = 2260;
    pub const EXPORT_BUYER_STATE_96: u16 = 2261;
    pub const IGST_ON_INTRA_POS: u16 = 2262;
    pub const IGST_ON_INTRA: u16 = 2263;
    pub const OTH_CHRG_SUM: u16 = 2264;
    pub const BUYER_STATE_GSTIN: u16 = 2265;
    pub const CESS_AMT: u16 = 2266;
    pub const STATE_CESS_AMT: u16 = 2267;
    pub const DISP_PIN_FOREIGN: u16 = 2273;
    pub const SHIP_GSTIN_IS_BUYER: u16 = 2323;
    pub const GSTIN_INVALID: u16 = 3028;
    pub const GSTIN_INACTIVE: u16 = 3029;
    pub const BUYER_PIN_STATE: u16 = 3039;
    /// A PIN in no state's ranges, with `rules.nic_pin_codes` (NIC's responses; not in the
    /// reference's catalogue).
    pub const PIN_UNKNOWN: u16 = 3038;
}

use codes::*;

/// An upper bound: exact, plus an `f64` safely below it under which no exact check is needed.
#[derive(Clone, Copy)]
struct Max {
    exact: Decimal,
    fast: f64,
}

const QTY: Max = Max {
    exact: QTY_MAX,
    fast: 9.99e9,
};
const PRICE: Max = Max {
    exact: PRICE_MAX,
    fast: 9.99e11,
};
const AMT: Max = Max {
    exact: AMT_MAX,
    fast: 9.99e11,
};
const RATE: Max = Max {
    exact: RATE_MAX,
    fast: 999.0,
};
const VAL: Max = Max {
    exact: VAL_MAX,
    fast: 9.99e13,
};

const QTY_MAX: Decimal = Decimal::from_parts(1_316_134_911, 2_328, 0, false, 3); // 9999999999.999
const PRICE_MAX: Decimal = Decimal::from_parts(2_764_472_319, 232_830, 0, false, 3); // 999999999999.999
const AMT_MAX: Decimal = Decimal::from_parts(276_447_231, 23_283, 0, false, 2); // 999999999999.99
const RATE_MAX: Decimal = Decimal::from_parts(999_999, 0, 0, false, 3); // 999.999
const VAL_MAX: Decimal = Decimal::from_parts(1_874_919_423, 2_328_306, 0, false, 2); // 99999999999999.99

const FOREIGN: u8 = 96;

/// The invoice validator: rules, masters and the day it validates for, precomputed once.
pub struct Validator {
    rules: RulesConfig,
    tolerance: Decimal,
    round_off: Decimal,
    /// Allowed GST rates in thousandths of a percent.
    rates: Vec<i64>,
    /// The tolerance at scales 0..=6, so comparisons need no rescaling; `None` at a scale
    /// too small to hold it exactly (0.5 at scale 0 would round to 1).
    tolerances: [Option<Decimal>; 7],
    /// The tolerance in thousandths, for the fixed-point path (`None`: it has more decimals
    /// or does not fit in `i64`, and every check takes the decimal path).
    tolerance_milli: Option<i64>,
    /// The reporting window's AATO threshold on `today` (`None`: no window yet).
    reporting_window_aato: Option<f64>,
    /// The minimum HSN digits on `today` for sellers above the small-taxpayer AATO.
    hsn_min_digits: usize,
    masters: Arc<Masters>,
    taxpayers: Option<Arc<Taxpayers>>,
    today: NaiveDate,
}

/// Where a field sits, rendered as a JSON pointer only when a message is built.
#[derive(Clone, Copy)]
enum Path {
    /// `#/{0}`
    F(&'static str),
    /// `#/ItemList/{0}/{1}`
    Item(usize, &'static str),
    /// `#/ItemList/{0}/{1}/{2}/{3}`
    ItemArr(usize, &'static str, usize, &'static str),
    /// `#/{0}/{1}/{2}`
    Arr(&'static str, usize, &'static str),
}

impl Path {
    fn item(self) -> Option<usize> {
        match self {
            Path::Item(i, _) | Path::ItemArr(i, ..) => Some(i),
            Path::F(_) | Path::Arr(..) => None,
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Path::F(p) => write!(f, "#/{p}"),
            Path::Item(i, p) => write!(f, "#/ItemList/{i}/{p}"),
            Path::ItemArr(i, a, j, p) => write!(f, "#/ItemList/{i}/{a}/{j}/{p}"),
            Path::Arr(a, j, p) => write!(f, "#/{a}/{j}/{p}"),
        }
    }
}

/// A value shown in a message: quoted and cut to 40 characters.
struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (text, cut) = match self.0.char_indices().nth(40) {
            Some((at, _)) => (&self.0[..at], "..."),
            None => (self.0, ""),
        };
        let plain = !text.is_empty()
            && text
                .bytes()
                .all(|c| c.is_ascii_graphic() && c != b'"' && c != b'\\');
        if plain {
            write!(f, "{text}{cut}")
        } else {
            write!(f, "{text:?}{cut}")
        }
    }
}

/// Collects violations; an item gets at most one violation per code.
#[derive(Default)]
struct Sink {
    out: Vec<Violation>,
    seen: Vec<(u16, usize)>,
    /// Every string of the invoice is ASCII without `"` or `\` (see
    /// [`Validator::validate_record`]): text checks need only the length.
    plain: bool,
}

impl Sink {
    fn push(&mut self, code: u16, item: Option<usize>, message: impl FnOnce() -> String) {
        if let Some(i) = item {
            if self.seen.contains(&(code, i)) {
                return;
            }
            self.seen.push((code, i));
        }
        self.out.push(Violation::new(code, message()));
    }
}

/// String patterns of section 1 (lengths are checked separately).
#[derive(Clone, Copy)]
enum Pat {
    /// No pattern beyond the length.
    Any,
    /// NOQ: no `"` and no `\`.
    Noq,
    /// Digits only.
    Digits,
    /// `[0-9]{2}[0-9A-Z]{13}`.
    Gstin,
    /// A GSTIN or `URP`.
    GstinOrUrp,
    /// `[a-zA-Z1-9][a-zA-Z0-9/-]*` (DocDtls.No, PrecDocDtls.InvNo).
    DocNo,
    /// `[a-zA-Z0-9/-]+` (TransDocNo).
    TransDocNo,
    /// `[A-Za-z0-9]+` (VehNo).
    Alnum,
    /// `[A-Za-z]+` (Unit).
    Letters,
    /// `[a-zA-Z0-9+_.-]+@[a-zA-Z0-9.-]+`.
    Email,
}

impl Pat {
    fn ok(self, s: &str) -> bool {
        let b = s.as_bytes();
        match self {
            Pat::Any => true,
            // memchr2 scans 16 or 32 bytes per step; names and addresses run to 100.
            Pat::Noq => memchr::memchr2(b'"', b'\\', b).is_none(),
            Pat::Digits => b.iter().all(u8::is_ascii_digit),
            Pat::Gstin => gstin::shape_ok(s),
            Pat::GstinOrUrp => s == "URP" || gstin::shape_ok(s),
            Pat::DocNo => doc_no_ok(b),
            Pat::TransDocNo => b
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || c == b'/' || c == b'-'),
            Pat::Alnum => b.iter().all(u8::is_ascii_alphanumeric),
            Pat::Letters => b.iter().all(u8::is_ascii_alphabetic),
            Pat::Email => email_ok(b),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Pat::Any => "any text",
            Pat::Noq => "text without double quotes or backslashes",
            Pat::Digits => "digits only",
            Pat::Gstin => "a GSTIN ^([0-9]{2}[0-9A-Z]{13})$",
            Pat::GstinOrUrp => "a GSTIN or URP ^(([0-9]{2}[0-9A-Z]{13})|URP)$",
            Pat::DocNo => "^([a-zA-Z1-9]{1}[a-zA-Z0-9/-]{0,15})$",
            Pat::TransDocNo => "^([a-zA-Z0-9/-]{1,15})$",
            Pat::Alnum => "letters and digits only",
            Pat::Letters => "letters only",
            Pat::Email => "an e-mail address ^[a-zA-Z0-9+_.-]+@[a-zA-Z0-9.-]+$",
        }
    }
}

fn doc_no_ok(b: &[u8]) -> bool {
    match b.split_first() {
        Some((first, rest)) => {
            (first.is_ascii_alphabetic() || (b'1'..=b'9').contains(first))
                && rest
                    .iter()
                    .all(|&c| c.is_ascii_alphanumeric() || c == b'/' || c == b'-')
        }
        None => false,
    }
}

fn email_ok(b: &[u8]) -> bool {
    let Some(at) = b.iter().position(|&c| c == b'@') else {
        return false;
    };
    let (local, domain) = (&b[..at], &b[at + 1..]);
    !local.is_empty()
        && !domain.is_empty()
        && local
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'_' | b'.' | b'-'))
        && domain
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-'))
}

/// `s` packed with its length into a `u64` when it has at most 7 bytes: equal keys are equal
/// strings.
fn short_key(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() > 7 {
        return None;
    }
    let mut buf = [0u8; 8];
    buf[0] = b.len() as u8;
    buf[1..=b.len()].copy_from_slice(b);
    Some(u64::from_le_bytes(buf))
}

/// The code as a number when it matches `^(?!0+$)([0-9]{4}|[0-9]{6}|[0-9]{8})$`.
fn hsn_number(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    if !matches!(b.len(), 4 | 6 | 8) {
        return None;
    }
    let mut n = 0u32;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + u32::from(d);
    }
    (n != 0).then_some(n)
}

/// `^(?!0+$)([0-9]{1,2})$` as a number.
fn state_code(s: &str) -> Option<u8> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 2 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = b.iter().fold(0u8, |acc, &c| acc * 10 + (c - b'0'));
    (n != 0).then_some(n)
}

/// Letters only, `min..=max` of them.
fn letters(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_alphabetic())
}

fn round2(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// `a × b / 10^shift`, without a division.
fn mul_shift(a: Decimal, b: Decimal, shift: u32) -> Decimal {
    let mut p = a.saturating_mul(b);
    let scale = p.scale() + shift;
    if scale <= 28 && p.set_scale(scale).is_ok() {
        p
    } else {
        // Beyond 28 decimals: fall back to a division (never reached with schema-range inputs).
        a.saturating_mul(b)
            .checked_div(Decimal::from(10u64.pow(shift)))
            .unwrap_or_default()
    }
}

/// `AssAmt × rate / 100`, rounded to paise.
fn percent(base: Decimal, rate: Decimal) -> Decimal {
    round2(mul_shift(base, rate, 2))
}

/// `AssAmt × rate / 200` (each of CGST and SGST), rounded to paise.
fn half_percent(base: Decimal, rate: Decimal) -> Decimal {
    round2(mul_shift(base, rate.saturating_mul(Decimal::from(5)), 3))
}

/// A rate in thousandths (18.5 → 18500) when it has at most 3 decimals.
fn thousandths(d: Decimal) -> Option<i64> {
    if d.scale() > 3 {
        let n = d.normalize();
        return (n.scale() <= 3).then(|| to_milli(n)).flatten();
    }
    to_milli(d)
}

/// `d` in thousandths when its scale is at most 3 and the result fits `i64`. Integers
/// (scale 0, as `GstRt: 18` parses) are common, so the factor is a table, not a power.
#[inline]
fn to_milli(d: Decimal) -> Option<i64> {
    const FACTOR: [i64; 4] = [1000, 100, 10, 1];
    let factor = *FACTOR.get(d.scale() as usize)?;
    i64::try_from(d.mantissa()).ok()?.checked_mul(factor)
}

fn val(n: Option<Num>) -> Decimal {
    n.map_or(Decimal::ZERO, |n| n.value)
}

/// Supply type (case-insensitive, as the schema's `(?i)` pattern).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SupTyp {
    B2b,
    SezWp,
    SezWop,
    ExpWp,
    ExpWop,
    Dexp,
}

impl SupTyp {
    fn parse(s: &str) -> Option<SupTyp> {
        const ALL: [(&str, SupTyp); 6] = [
            ("B2B", SupTyp::B2b),
            ("SEZWP", SupTyp::SezWp),
            ("SEZWOP", SupTyp::SezWop),
            ("EXPWP", SupTyp::ExpWp),
            ("EXPWOP", SupTyp::ExpWop),
            ("DEXP", SupTyp::Dexp),
        ];
        ALL.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, t)| *t)
    }

    fn is_export(self) -> bool {
        matches!(self, SupTyp::ExpWp | SupTyp::ExpWop)
    }

    fn is_sez(self) -> bool {
        matches!(self, SupTyp::SezWp | SupTyp::SezWop)
    }

    fn name(self) -> &'static str {
        match self {
            SupTyp::B2b => "B2B",
            SupTyp::SezWp => "SEZWP",
            SupTyp::SezWop => "SEZWOP",
            SupTyp::ExpWp => "EXPWP",
            SupTyp::ExpWop => "EXPWOP",
            SupTyp::Dexp => "DEXP",
        }
    }
}

/// How tax is charged on the items.
#[derive(Clone, Copy)]
enum Regime {
    /// CGST + SGST.
    Intra,
    /// IGST only; CGST/SGST get `cs_code`; `zero` = without payment of tax (IGST must be 0).
    Igst { cs_code: u16, zero: bool },
    /// POS or seller state unusable: the split is not checked.
    Unknown,
}

/// Running invoice totals (saturating, so out-of-range input cannot overflow).
#[derive(Default)]
struct Sums {
    ass: Decimal,
    cgst: Decimal,
    sgst: Decimal,
    igst: Decimal,
    ces: Decimal,
    st_ces: Decimal,
    item_val: Decimal,
    oth: Decimal,
    /// The same sums, in thousandths, for items the fixed-point path accepted.
    fast: [i128; 8],
    fast_items: usize,
}

impl Sums {
    /// Adds an item's contributions from the fixed-point path (thousandths).
    fn add_fast(&mut self, fast: &[i64; 8]) {
        self.fast_items += 1;
        for (acc, v) in self.fast.iter_mut().zip(fast) {
            *acc += i128::from(*v);
        }
    }

    /// Folds the fixed-point sums into the decimal ones (once, before the totals).
    fn settle(&mut self) {
        if self.fast_items == 0 {
            return;
        }
        let fields = [
            &mut self.ass,
            &mut self.cgst,
            &mut self.sgst,
            &mut self.igst,
            &mut self.ces,
            &mut self.st_ces,
            &mut self.item_val,
            &mut self.oth,
        ];
        for (acc, v) in fields.into_iter().zip(self.fast) {
            // Each item adds below 2 x 10^17 thousandths and a record holds at most a few
            // hundred thousand items, far inside a decimal's 96 bits; saturate as `add` does
            // anyway.
            let d = Decimal::try_from_i128_with_scale(v, 3).unwrap_or(if v < 0 {
                Decimal::MIN
            } else {
                Decimal::MAX
            });
            add(acc, d);
        }
        self.fast = [0; 8];
        self.fast_items = 0;
    }
}

fn add(acc: &mut Decimal, v: Decimal) {
    *acc = acc.saturating_add(v);
}

/// Exact fixed-point arithmetic in thousandths, for the common case of the item checks.
///
/// A number parsed with at most three decimals is an integer count of thousandths. The
/// arithmetic is `i64` with checked products: an overflow returns `None` and the item takes
/// the decimal path. Everything that fits stays far below 2^96, where the decimal path is
/// exact too, so both paths compute the same values. (With `i128`, `Validator::business`
/// ran 27% more instructions, callgrind, for headroom only amounts beyond any real invoice
/// use.)
mod fixed {
    use crate::model::Num;

    /// 10^14 rupees in thousandths: far above the schema's largest amount, and low enough
    /// that the sum of ten such values stays within `i64`.
    const LIMIT: u64 = 100_000_000_000_000_000;

    pub(super) fn milli(n: Num) -> Option<i64> {
        super::to_milli(n.value).filter(|m| m.unsigned_abs() < LIMIT)
    }

    /// An absent number counts as zero, as in the decimal path.
    pub(super) fn opt_milli(n: Option<Num>) -> Option<i64> {
        n.map_or(Some(0), milli)
    }

    /// The exact product, or `None` when it leaves `i64`.
    pub(super) fn product(factors: &[i64]) -> Option<i64> {
        factors.iter().try_fold(1i64, |p, &f| p.checked_mul(f))
    }

    /// `x / 10^DROP` rounded to an integer, half away from zero (the decimal path's
    /// `round2`, when `x` has `DROP + 2` decimals), returned in thousandths.
    pub(super) fn paise_to_milli<const DROP: u32>(x: i64) -> i64 {
        // A division by a constant, which compiles to a multiply.
        let d = 10i64.pow(DROP);
        let (q, r) = (x / d, x % d);
        let rounded = if 2 * r.abs() >= d { q + x.signum() } else { q };
        rounded * 10
    }
}

impl Validator {
    pub fn new(
        rules: &RulesConfig,
        masters: Arc<Masters>,
        taxpayers: Option<Arc<Taxpayers>>,
        today: NaiveDate,
    ) -> Validator {
        Validator {
            rules: rules.clone(),
            reporting_window_aato: rules.reporting_window_aato_on(today),
            hsn_min_digits: rules.hsn_min_digits_on(today),
            tolerance: rules.tolerance_decimal(),
            round_off: rules.round_off_decimal(),
            rates: rules
                .allowed_rates_decimal()
                .into_iter()
                .filter_map(thousandths)
                .collect(),
            tolerance_milli: {
                let t = rules.tolerance_decimal();
                (t.scale() <= 3)
                    .then(|| t.mantissa() * 10i128.pow(3 - t.scale()))
                    .and_then(|m| i64::try_from(m).ok())
            },
            tolerances: std::array::from_fn(|scale| {
                let exact = rules.tolerance_decimal();
                let mut t = exact;
                t.rescale(scale as u32);
                (t == exact).then_some(t)
            }),
            masters,
            taxpayers,
            today,
        }
    }

    /// The code reported for a payload not per the schema (`rules.schema_error_code`); the
    /// validator itself always says 2140, and the transform stage maps it.
    pub fn schema_error_code(&self) -> u16 {
        self.rules.schema_error_code
    }

    /// Every rule the invoice breaks, in a stable order (schema first, then business rules);
    /// empty = valid.
    pub fn validate(&self, inv: &Invoice) -> Vec<Violation> {
        self.validate_record(inv, false)
    }

    /// [`Self::validate`], told whether the record the invoice was parsed from is plain
    /// ([`crate::read::RecordBytes::is_plain`]: no backslash, no byte above 0x7F). Its strings
    /// are then ASCII and hold no `"` or `\`, so the text checks skip scanning for them; the
    /// violations are the same either way.
    pub fn validate_record(&self, inv: &Invoice, plain: bool) -> Vec<Violation> {
        let mut sink = Sink {
            plain,
            ..Sink::default()
        };
        self.schema(inv, &mut sink);
        self.business(inv, &mut sink);
        sink.out
    }

    // ----- schema (section 1) -----

    fn schema(&self, inv: &Invoice, s: &mut Sink) {
        text(s, Path::F("Version"), &inv.version, 1, 6, Pat::Any);
        if let Some(irn) = &inv.irn {
            text(s, Path::F("Irn"), irn, 64, 64, Pat::Any);
        }

        let t = &inv.tran_dtls;
        if t.tax_sch != "GST" {
            s.push(SCHEMA, None, || {
                format!("#/TranDtls/TaxSch: {} is not GST", Shown(&t.tax_sch))
            });
        }
        if SupTyp::parse(&t.sup_typ).is_none() {
            s.push(SCHEMA, None, || {
                format!(
                    "#/TranDtls/SupTyp: {} is not one of B2B, SEZWP, SEZWOP, EXPWP, EXPWOP, DEXP",
                    Shown(&t.sup_typ)
                )
            });
        }
        if let Some(r) = &t.reg_rev {
            if r != "Y" && r != "N" {
                s.push(REG_REV, None, || {
                    format!(
                        "Invalid value {} for reverse charge; it should be Y or N",
                        Shown(r)
                    )
                });
            }
        }
        if let Some(e) = &t.ecm_gstin {
            text(s, Path::F("TranDtls/EcmGstin"), e, 15, 15, Pat::Gstin);
        }
        if let Some(r) = &t.igst_on_intra {
            if r != "Y" && r != "N" {
                s.push(IGST_ON_INTRA, None, || {
                    format!(
                        "Invalid value {} for IgstOnIntra; it should be Y or N",
                        Shown(r)
                    )
                });
            }
        }

        let d = &inv.doc_dtls;
        if !["INV", "CRN", "DBN"]
            .iter()
            .any(|x| x.eq_ignore_ascii_case(&d.typ))
        {
            s.push(DOC_TYPE, None, || {
                format!(
                    "Invalid document type {}; it should be INV, CRN or DBN",
                    Shown(&d.typ)
                )
            });
        }
        text(s, Path::F("DocDtls/No"), &d.no, 1, 16, Pat::DocNo);
        if clock::valid_doc_date(&d.dt).is_none() {
            s.push(DOC_DATE_FORMAT, None, || {
                format!(
                    "Incorrect date format {} in document details; it should be a valid dd/mm/yyyy date",
                    Shown(&d.dt)
                )
            });
        }

        let sd = &inv.seller_dtls;
        if sd.gstin.eq_ignore_ascii_case("URP") {
            s.push(SELLER_URP, None, || {
                "Supplier GSTIN cannot be URP".to_owned()
            });
        } else {
            text(
                s,
                Path::F("SellerDtls/Gstin"),
                &sd.gstin,
                15,
                15,
                Pat::Gstin,
            );
        }
        text(s, Path::F("SellerDtls/LglNm"), &sd.lgl_nm, 3, 100, Pat::Noq);
        opt_text(s, Path::F("SellerDtls/TrdNm"), &sd.trd_nm, 3, 100, Pat::Noq);
        text(s, Path::F("SellerDtls/Addr1"), &sd.addr1, 1, 100, Pat::Noq);
        opt_text(s, Path::F("SellerDtls/Addr2"), &sd.addr2, 3, 100, Pat::Noq);
        text(s, Path::F("SellerDtls/Loc"), &sd.loc, 3, 50, Pat::Noq);
        pin(s, Path::F("SellerDtls/Pin"), sd.pin.0);
        opt_text(s, Path::F("SellerDtls/Ph"), &sd.ph, 6, 12, Pat::Digits);
        opt_text(s, Path::F("SellerDtls/Em"), &sd.em, 6, 100, Pat::Email);

        let b = &inv.buyer_dtls;
        text(
            s,
            Path::F("BuyerDtls/Gstin"),
            &b.gstin,
            3,
            15,
            Pat::GstinOrUrp,
        );
        text(s, Path::F("BuyerDtls/LglNm"), &b.lgl_nm, 3, 100, Pat::Noq);
        opt_text(s, Path::F("BuyerDtls/TrdNm"), &b.trd_nm, 3, 100, Pat::Noq);
        text(s, Path::F("BuyerDtls/Addr1"), &b.addr1, 1, 100, Pat::Noq);
        opt_text(s, Path::F("BuyerDtls/Addr2"), &b.addr2, 3, 100, Pat::Noq);
        text(s, Path::F("BuyerDtls/Loc"), &b.loc, 3, 100, Pat::Noq);
        if let Some(p) = b.pin {
            pin(s, Path::F("BuyerDtls/Pin"), p.0);
        }
        opt_text(s, Path::F("BuyerDtls/Ph"), &b.ph, 6, 12, Pat::Digits);
        opt_text(s, Path::F("BuyerDtls/Em"), &b.em, 6, 100, Pat::Email);

        if let Some(dd) = &inv.disp_dtls {
            text(s, Path::F("DispDtls/Nm"), &dd.nm, 3, 100, Pat::Noq);
            text(s, Path::F("DispDtls/Addr1"), &dd.addr1, 1, 100, Pat::Noq);
            opt_text(s, Path::F("DispDtls/Addr2"), &dd.addr2, 3, 100, Pat::Noq);
            text(s, Path::F("DispDtls/Loc"), &dd.loc, 3, 100, Pat::Noq);
            pin(s, Path::F("DispDtls/Pin"), dd.pin.0);
        }
        if let Some(sh) = &inv.ship_dtls {
            opt_text(
                s,
                Path::F("ShipDtls/Gstin"),
                &sh.gstin,
                3,
                15,
                Pat::GstinOrUrp,
            );
            text(s, Path::F("ShipDtls/LglNm"), &sh.lgl_nm, 3, 100, Pat::Noq);
            opt_text(s, Path::F("ShipDtls/TrdNm"), &sh.trd_nm, 3, 100, Pat::Noq);
            text(s, Path::F("ShipDtls/Addr1"), &sh.addr1, 1, 100, Pat::Noq);
            opt_text(s, Path::F("ShipDtls/Addr2"), &sh.addr2, 3, 100, Pat::Noq);
            text(s, Path::F("ShipDtls/Loc"), &sh.loc, 3, 100, Pat::Noq);
            pin(s, Path::F("ShipDtls/Pin"), sh.pin.0);
        }

        let n = inv.item_list.len();
        if n == 0 {
            s.push(NO_ITEMS, None, || "Item list cannot be empty".to_owned());
        } else if n > self.rules.max_items {
            s.push(TOO_MANY_ITEMS, None, || {
                format!(
                    "Exceeded the limit of number of items: {n} items, at most {} are allowed",
                    self.rules.max_items
                )
            });
        }
        for (i, it) in inv.item_list.iter().enumerate() {
            item_schema(s, i, it);
        }

        let v = &inv.val_dtls;
        num(s, Path::F("ValDtls/AssVal"), v.ass_val, VAL);
        opt_num(s, Path::F("ValDtls/CgstVal"), v.cgst_val, VAL);
        opt_num(s, Path::F("ValDtls/SgstVal"), v.sgst_val, VAL);
        opt_num(s, Path::F("ValDtls/IgstVal"), v.igst_val, VAL);
        opt_num(s, Path::F("ValDtls/CesVal"), v.ces_val, VAL);
        opt_num(s, Path::F("ValDtls/StCesVal"), v.st_ces_val, VAL);
        opt_num(s, Path::F("ValDtls/Discount"), v.discount, VAL);
        opt_num(s, Path::F("ValDtls/OthChrg"), v.oth_chrg, VAL);
        if let Some(r) = v.rnd_off_amt {
            if r.value.abs() > self.round_off {
                s.push(SCHEMA, None, || {
                    format!(
                        "#/ValDtls/RndOffAmt: {} is outside the allowed round-off range -{limit}..{limit}",
                        r.value.normalize(),
                        limit = self.round_off.normalize()
                    )
                });
            }
        }
        num(s, Path::F("ValDtls/TotInvVal"), v.tot_inv_val, VAL);
        opt_num(s, Path::F("ValDtls/TotInvValFc"), v.tot_inv_val_fc, VAL);

        if let Some(p) = &inv.pay_dtls {
            opt_text(s, Path::F("PayDtls/Nm"), &p.nm, 1, 100, Pat::Noq);
            opt_text(s, Path::F("PayDtls/AccDet"), &p.acc_det, 1, 18, Pat::Noq);
            opt_text(s, Path::F("PayDtls/Mode"), &p.mode, 1, 18, Pat::Noq);
            opt_text(
                s,
                Path::F("PayDtls/FinInsBr"),
                &p.fin_ins_br,
                1,
                11,
                Pat::Noq,
            );
            opt_text(s, Path::F("PayDtls/PayTerm"), &p.pay_term, 1, 100, Pat::Noq);
            opt_text(
                s,
                Path::F("PayDtls/PayInstr"),
                &p.pay_instr,
                1,
                100,
                Pat::Noq,
            );
            opt_text(s, Path::F("PayDtls/CrTrn"), &p.cr_trn, 1, 100, Pat::Noq);
            opt_text(s, Path::F("PayDtls/DirDr"), &p.dir_dr, 1, 100, Pat::Noq);
            if let Some(c) = p.cr_day {
                int_range(s, Path::F("PayDtls/CrDay"), c.0, 0, 9999);
            }
            opt_num(s, Path::F("PayDtls/PaidAmt"), p.paid_amt, VAL);
            opt_num(s, Path::F("PayDtls/PaymtDue"), p.paymt_due, VAL);
        }

        if let Some(r) = &inv.ref_dtls {
            opt_text(s, Path::F("RefDtls/InvRm"), &r.inv_rm, 3, 100, Pat::Noq);
            if let Some(p) = &r.doc_perd_dtls {
                date(s, Path::F("RefDtls/DocPerdDtls/InvStDt"), &p.inv_st_dt);
                date(s, Path::F("RefDtls/DocPerdDtls/InvEndDt"), &p.inv_end_dt);
            }
            for (j, p) in r.prec_doc_dtls.iter().flatten().enumerate() {
                const A: &str = "RefDtls/PrecDocDtls";
                // The schema copy demands 2+ characters here; 1 is accepted, as for DocDtls.No.
                text(s, Path::Arr(A, j, "InvNo"), &p.inv_no, 1, 16, Pat::DocNo);
                date(s, Path::Arr(A, j, "InvDt"), &p.inv_dt);
                opt_text(
                    s,
                    Path::Arr(A, j, "OthRefNo"),
                    &p.oth_ref_no,
                    1,
                    20,
                    Pat::Noq,
                );
            }
            for (j, c) in r.contr_dtls.iter().flatten().enumerate() {
                const A: &str = "RefDtls/ContrDtls";
                opt_text(
                    s,
                    Path::Arr(A, j, "RecAdvRefr"),
                    &c.rec_adv_refr,
                    1,
                    20,
                    Pat::Noq,
                );
                opt_date(s, Path::Arr(A, j, "RecAdvDt"), &c.rec_adv_dt);
                opt_text(
                    s,
                    Path::Arr(A, j, "TendRefr"),
                    &c.tend_refr,
                    1,
                    20,
                    Pat::Noq,
                );
                opt_text(
                    s,
                    Path::Arr(A, j, "ContrRefr"),
                    &c.contr_refr,
                    1,
                    20,
                    Pat::Noq,
                );
                opt_text(s, Path::Arr(A, j, "ExtRefr"), &c.ext_refr, 1, 20, Pat::Noq);
                opt_text(
                    s,
                    Path::Arr(A, j, "ProjRefr"),
                    &c.proj_refr,
                    1,
                    20,
                    Pat::Noq,
                );
                opt_text(s, Path::Arr(A, j, "PORefr"), &c.po_refr, 1, 16, Pat::Noq);
                opt_date(s, Path::Arr(A, j, "PORefDt"), &c.po_ref_dt);
            }
        }

        for (j, a) in inv.addl_doc_dtls.iter().flatten().enumerate() {
            const A: &str = "AddlDocDtls";
            opt_text(s, Path::Arr(A, j, "Url"), &a.url, 3, 100, Pat::Noq);
            opt_text(s, Path::Arr(A, j, "Docs"), &a.docs, 3, 1000, Pat::Noq);
            opt_text(s, Path::Arr(A, j, "Info"), &a.info, 3, 1000, Pat::Noq);
        }

        if let Some(e) = &inv.exp_dtls {
            opt_text(s, Path::F("ExpDtls/ShipBNo"), &e.ship_b_no, 1, 20, Pat::Noq);
            opt_date(s, Path::F("ExpDtls/ShipBDt"), &e.ship_b_dt);
            if let Some(r) = &e.ref_clm {
                flag(s, Path::F("ExpDtls/RefClm"), r, &["Y", "N"]);
            }
            opt_num(s, Path::F("ExpDtls/ExpDuty"), e.exp_duty, AMT);
        }

        if let Some(e) = &inv.ewb_dtls {
            opt_text(
                s,
                Path::F("EwbDtls/TransId"),
                &e.trans_id,
                15,
                15,
                Pat::Gstin,
            );
            opt_text(
                s,
                Path::F("EwbDtls/TransName"),
                &e.trans_name,
                3,
                100,
                Pat::Noq,
            );
            if let Some(m) = &e.trans_mode {
                flag(s, Path::F("EwbDtls/TransMode"), m, &["1", "2", "3", "4"]);
            }
            int_range(s, Path::F("EwbDtls/Distance"), e.distance.0, 0, 4000);
            opt_text(
                s,
                Path::F("EwbDtls/TransDocNo"),
                &e.trans_doc_no,
                1,
                15,
                Pat::TransDocNo,
            );
            opt_date(s, Path::F("EwbDtls/TransDocDt"), &e.trans_doc_dt);
            opt_text(s, Path::F("EwbDtls/VehNo"), &e.veh_no, 4, 20, Pat::Alnum);
            if let Some(t) = &e.veh_type {
                flag(s, Path::F("EwbDtls/VehType"), t, &["O", "R"]);
            }
        }
    }

    // ----- business rules (section 2) -----

    fn state(&self, code: &str) -> Option<(u8, StateKind)> {
        let n = state_code(code)?;
        match self.masters.state(code) {
            Some(kind) => Some((n, kind)),
            None if self.rules.legacy_state_codes && (n == 25 || n == 28) => {
                Some((n, StateKind::State))
            }
            None => None,
        }
    }

    fn pin_check(
        &self,
        s: &mut Sink,
        code: u16,
        party: &str,
        pin: i64,
        stcd: Option<(u8, StateKind)>,
        raw: &str,
    ) {
        let Some((n, _)) = stcd else { return };
        if !self.rules.pin_state_check
            || !(100_000..=999_999).contains(&pin)
            || (pin == 999_999 && (n == FOREIGN || n == 97))
        {
            return;
        }
        if self.rules.nic_pin_codes {
            // NIC's wording for the seller ("Seller details Details:Pincode-101301 does not
            // exists", "Seller Details:Pincode-560009 does not belong to the state-1"); the
            // buyer's is "Buyer" by analogy, dispatch and ship-to keep irp's party names.
            let nic_party = match party {
                "Supplier" => "Seller",
                "Recipient" => "Buyer",
                other => other,
            };
            // Only where the state has PIN ranges, as on the default path (not 96 or 97).
            match self.masters.pin_in_state(pin, raw) {
                Some(false) if self.masters.pin_known(pin) == Some(false) => {
                    s.push(PIN_UNKNOWN, None, || {
                        format!("{nic_party} details Details:Pincode-{pin} does not exists")
                    });
                }
                Some(false) => s.push(BUYER_PIN_STATE, None, || {
                    format!("{nic_party} Details:Pincode-{pin} does not belong to the state-{n}")
                }),
                _ => {}
            }
            return;
        }
        if self.masters.pin_in_state(pin, raw) == Some(false) {
            s.push(code, None, || {
                format!("{party} PIN code {pin} does not belong to the state {raw}")
            });
        }
    }

    fn business(&self, inv: &Invoice, s: &mut Sink) {
        let sup = SupTyp::parse(&inv.tran_dtls.sup_typ);
        let sd = &inv.seller_dtls;
        let bd = &inv.buyer_dtls;
        let rcm = inv.tran_dtls.reg_rev.as_deref() == Some("Y");
        let igst_on_intra = inv.tran_dtls.igst_on_intra.as_deref() == Some("Y");
        let export = sup.is_some_and(SupTyp::is_export);
        let sez = sup.is_some_and(SupTyp::is_sez);

        // --- GSTINs ---
        let seller_shape = gstin::shape_ok(&sd.gstin);
        let buyer_urp = bd.gstin == "URP";
        let buyer_shape = !buyer_urp && gstin::shape_ok(&bd.gstin);
        let check = self.rules.gstin_checksum;
        let seller_valid = seller_shape && (!check || gstin::checksum_ok(&sd.gstin));
        let buyer_valid = buyer_shape && (!check || gstin::checksum_ok(&bd.gstin));
        if seller_shape && !seller_valid {
            s.push(GSTIN_INVALID, None, || {
                format!("Supplier GSTIN {} is invalid", sd.gstin)
            });
        }
        if buyer_shape && !buyer_valid {
            s.push(GSTIN_INVALID, None, || {
                format!("Recipient GSTIN {} is invalid", bd.gstin)
            });
        }
        if let Some(g) = inv.ship_dtls.as_ref().and_then(|x| x.gstin.as_deref()) {
            if check && g != "URP" && gstin::shape_ok(g) && !gstin::checksum_ok(g) {
                s.push(GSTIN_INVALID, None, || {
                    format!("Ship-to GSTIN {g} is invalid")
                });
            }
            // Bill-to-ship-to needs a consignee distinct from the buyer (GSTN advisory of 17
            // June 2026). Keyed on the document date, so documents NIC signed before still pass.
            if g != "URP"
                && g.eq_ignore_ascii_case(&bd.gstin)
                && clock::valid_doc_date(&inv.doc_dtls.dt)
                    .is_some_and(|d| self.rules.ship_gstin_distinct_for(d))
            {
                s.push(SHIP_GSTIN_IS_BUYER, None, || {
                    format!("Ship-to GSTIN {g} cannot be the same as the recipient GSTIN")
                });
            }
        }
        if let Some(e) = &inv.tran_dtls.ecm_gstin {
            if gstin::shape_ok(e) {
                if !gstin::is_tcs(e) {
                    s.push(ECM_TCS, None, || {
                        format!("E-commerce GSTIN {e} should be a TCS GSTIN")
                    });
                } else if check && !gstin::checksum_ok(e) {
                    s.push(GSTIN_INVALID, None, || {
                        format!("E-commerce GSTIN {e} is invalid")
                    });
                }
            }
        }
        if seller_shape && buyer_shape && sd.gstin == bd.gstin {
            s.push(SAME_GSTIN, None, || {
                format!(
                    "Supplier and recipient GSTIN {} must not be the same",
                    sd.gstin
                )
            });
        }

        let mut seller_aato = None;
        if let Some(tps) = &self.taxpayers {
            if seller_valid {
                match tps.get(&sd.gstin) {
                    None => s.push(GSTIN_INVALID, None, || {
                        format!(
                            "Supplier GSTIN {} is not present in the invoice system",
                            sd.gstin
                        )
                    }),
                    Some(t) => {
                        seller_aato = Some(t.aato_crore);
                        if t.status != TaxpayerStatus::Active {
                            s.push(GSTIN_INACTIVE, None, || {
                                // NIC's wording for any party (a real 2025 response).
                                format!("GSTIN -{} is inactive or cancelled", sd.gstin)
                            });
                        }
                        if t.kind == "SEZ" {
                            s.push(SELLER_SEZ, None, || {
                                format!(
                                    "Cannot generate e-Invoice as the supplier GSTIN - {} is SEZ",
                                    sd.gstin
                                )
                            });
                        }
                    }
                }
            }
            if buyer_valid {
                match tps.get(&bd.gstin) {
                    None => s.push(GSTIN_INVALID, None, || {
                        format!(
                            "Recipient GSTIN {} is not present in the invoice system",
                            bd.gstin
                        )
                    }),
                    Some(t) => {
                        if t.status != TaxpayerStatus::Active {
                            s.push(GSTIN_INACTIVE, None, || {
                                format!("GSTIN -{} is inactive or cancelled", bd.gstin)
                            });
                        }
                        let buyer_sez = t.kind == "SEZ";
                        match sup {
                            Some(x) if buyer_sez && !x.is_sez() => {
                                s.push(BUYER_SEZ, None, || {
                                    format!("Recipient GSTIN {} is an SEZ unit: it cannot be the recipient for supply type {}", bd.gstin, x.name())
                                });
                            }
                            Some(x) if !buyer_sez && x.is_sez() => {
                                s.push(BUYER_NOT_SEZ, None, || {
                                    format!("Recipient GSTIN {} should be an SEZ unit for supply type {}", bd.gstin, x.name())
                                });
                            }
                            _ => {}
                        }
                    }
                }
            }
            // A ship-to GSTIN the master knows must be active too (NIC answers 3029 for a
            // cancelled one; one the master lacks is let through, as the reference names
            // only the seller and the buyer for 3028).
            let ship_gstin = inv.ship_dtls.as_ref().and_then(|d| d.gstin.as_deref());
            if let Some(g) = ship_gstin.filter(|g| *g != "URP" && *g != bd.gstin) {
                if tps
                    .get(g)
                    .is_some_and(|t| t.status != TaxpayerStatus::Active)
                {
                    s.push(GSTIN_INACTIVE, None, || {
                        format!("GSTIN -{g} is inactive or cancelled")
                    });
                }
            }
        }

        // --- states and PINs ---
        let seller_st = self.state(&sd.stcd);
        if !matches!(
            seller_st,
            Some((_, StateKind::State | StateKind::OtherTerritory))
        ) {
            s.push(SELLER_STATE, None, || {
                format!("Invalid supplier state code {}", Shown(&sd.stcd))
            });
        }
        let seller_prefix = if seller_shape {
            state_code(gstin::state_prefix(&sd.gstin))
        } else {
            None
        };
        if let (Some(p), Some((n, _))) = (seller_prefix, seller_st) {
            if p != n {
                s.push(SELLER_STATE_GSTIN, None, || {
                    format!(
                        "Supplier GSTIN {} state code does not match the supplier state code {}",
                        sd.gstin, sd.stcd
                    )
                });
            }
        }
        let buyer_st = self.state(&bd.stcd);
        if buyer_st.is_none() {
            s.push(BUYER_STATE, None, || {
                format!("Invalid recipient state code {}", Shown(&bd.stcd))
            });
        }
        if let (true, Some((n, _))) = (buyer_shape, buyer_st) {
            let exempt = (export || sez) && n == FOREIGN;
            if !exempt && state_code(gstin::state_prefix(&bd.gstin)) != Some(n) {
                s.push(BUYER_STATE_GSTIN, None, || {
                    format!(
                        "Recipient GSTIN {} state code does not match the recipient state code {}",
                        bd.gstin, bd.stcd
                    )
                });
            }
        }
        let pos = self.state(&bd.pos);
        if pos.is_none() {
            s.push(POS_INVALID, None, || {
                format!("POS {} should be a valid state code", Shown(&bd.pos))
            });
        }
        let disp_st = inv.disp_dtls.as_ref().map(|d| (d, self.state(&d.stcd)));
        if let Some((d, None)) = &disp_st {
            s.push(DISP_SHIP_STATE, None, || {
                format!("Invalid state code {} in dispatch details", Shown(&d.stcd))
            });
        }
        let ship_st = inv.ship_dtls.as_ref().map(|d| (d, self.state(&d.stcd)));
        if let Some((d, None)) = &ship_st {
            s.push(DISP_SHIP_STATE, None, || {
                format!("Invalid state code {} in ship details", Shown(&d.stcd))
            });
        }
        self.pin_check(s, PIN_STATE, "Supplier", sd.pin.0, seller_st, &sd.stcd);
        if let Some(p) = bd.pin {
            self.pin_check(s, BUYER_PIN_STATE, "Recipient", p.0, buyer_st, &bd.stcd);
        }
        if let Some((d, st)) = disp_st {
            // Goods are dispatched from India: NIC refuses the foreign PIN here (Other
            // Territory, 97, keeps it, as everywhere).
            if d.pin.0 == 999_999 && st.is_none_or(|(n, _)| n != 97) {
                s.push(DISP_PIN_FOREIGN, None, || {
                    "Dispatch from PIN code cannot be 999999".to_owned()
                });
            } else {
                self.pin_check(s, PIN_STATE, "Dispatch", d.pin.0, st, &d.stcd);
            }
        }
        if let Some((d, st)) = ship_st {
            self.pin_check(s, PIN_STATE, "Ship-to", d.pin.0, st, &d.stcd);
        }

        // --- export details against the masters ---
        if let Some(e) = &inv.exp_dtls {
            if let Some(p) = &e.port {
                let shape =
                    (2..=10).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_alphanumeric());
                // The masters decide only for exports: NIC signed B2B invoices whose ExpDtls
                // carried a port code outside the port master.
                if !shape || (export && !self.masters.port_ok(p)) {
                    s.push(PORT, None, || format!("Invalid port code {}", Shown(p)));
                }
            }
            // Country and currency likewise: NIC's sandbox signed a B2B invoice whose ExpDtls
            // had CntCode "29".
            if let Some(c) = e.cnt_code.as_ref().filter(|_| export) {
                let shape = c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase());
                if !shape || !self.masters.country_ok(c) {
                    s.push(COUNTRY, None, || {
                        format!("Invalid country code {}", Shown(c))
                    });
                }
            }
            if let Some(c) = e.for_cur.as_ref().filter(|_| export) {
                if !letters(c, 3, 16) || !self.masters.currency_ok(c) {
                    s.push(CURRENCY, None, || {
                        format!("Invalid foreign currency code {}", Shown(c))
                    });
                }
            }
        }

        // --- supply types ---
        let pos_n = pos.map(|p| p.0);
        let seller_state = seller_prefix.or(seller_st.map(|x| x.0));
        if let Some(x) = sup {
            let name = x.name();
            if export {
                if !buyer_urp {
                    s.push(EXPORT_URP, None, || {
                        format!("Recipient GSTIN should be URP for supply type {name}")
                    });
                }
                if pos_n.is_some_and(|p| p != FOREIGN) {
                    s.push(EXPORT_POS_96, None, || {
                        format!("POS should be other country (96) for {name} transaction")
                    });
                }
                if buyer_st.is_some_and(|b| b.0 != FOREIGN) {
                    s.push(EXPORT_BUYER_STATE_96, None, || {
                        format!("Recipient state code should be 96 for {name}")
                    });
                }
                if inv.exp_dtls.is_none() {
                    s.push(EXP_DTLS_REQUIRED, None, || {
                        format!("Export details are required for supply type {name}")
                    });
                }
            } else {
                if buyer_urp {
                    if x == SupTyp::Dexp {
                        s.push(DEXP_URP, None, || {
                            "Recipient GSTIN cannot be URP for deemed exports".to_owned()
                        });
                    } else {
                        s.push(BUYER_URP, None, || {
                            format!("Recipient GSTIN cannot be URP for supply type {name}")
                        });
                    }
                }
                if sez && self.rules.sez_recipient_pos_96 {
                    if pos_n.is_some_and(|p| p != FOREIGN) {
                        s.push(SEZ_POS_96, None, || {
                            format!(
                                "Recipient POS must be other country (96) for transaction {name}"
                            )
                        });
                    }
                    if buyer_st.is_some_and(|b| b.0 != FOREIGN) {
                        s.push(EXPORT_BUYER_STATE_96, None, || {
                            format!("Recipient state code should be 96 for {name}")
                        });
                    }
                }
                let transport_only = !inv.item_list.is_empty()
                    && inv
                        .item_list
                        .iter()
                        .all(|it| it.hsn_cd.starts_with("9965") || it.hsn_cd.starts_with("9968"));
                if !sez && pos_n == Some(FOREIGN) && !transport_only {
                    s.push(POS_96_NOT_ALLOWED, None, || {
                        format!("POS must not be 96 (other country) for transaction type {name}")
                    });
                }
            }
            if rcm && x != SupTyp::B2b {
                s.push(RCM_B2B_ONLY, None, || {
                    format!("Reverse charge is applicable only for B2B, not {name}")
                });
            }
            if x == SupTyp::B2b && self.rules.ship_to_state_equals_pos {
                if let (Some((d, Some((n, _)))), Some(p)) = (&ship_st, pos_n) {
                    if *n != p {
                        s.push(SHIP_STATE_POS, None, || {
                            format!(
                                "Ship-to state code {} must be equal to POS {} for B2B",
                                d.stcd, bd.pos
                            )
                        });
                    }
                }
            }
        }
        if igst_on_intra {
            if let (Some(a), Some(p)) = (seller_state, pos_n) {
                if a != p {
                    s.push(IGST_ON_INTRA_POS, None, || {
                        format!(
                            "IgstOnIntra is Y: the supplier state code must be equal to POS {}",
                            bd.pos
                        )
                    });
                }
            }
        }

        let regime = match sup {
            None => Regime::Unknown,
            Some(x) if x.is_export() => Regime::Igst {
                cs_code: EXPORT_CGST_SGST,
                zero: x == SupTyp::ExpWop,
            },
            Some(x) if x.is_sez() => Regime::Igst {
                cs_code: SEZ_CGST_SGST,
                zero: x == SupTyp::SezWop,
            },
            Some(_) if igst_on_intra => Regime::Igst {
                cs_code: INTER_CGST_SGST,
                zero: false,
            },
            Some(_) => match (seller_state, pos_n) {
                (Some(a), Some(p)) if a == p => Regime::Intra,
                (Some(_), Some(_)) => Regime::Igst {
                    cs_code: INTER_CGST_SGST,
                    zero: false,
                },
                _ => Regime::Unknown,
            },
        };

        // --- items ---
        let min_digits = match seller_aato {
            Some(a) if a <= self.rules.hsn_small_aato_crore => self.rules.hsn_min_digits_small,
            _ => self.hsn_min_digits,
        };
        let mut sums = Sums::default();
        let (mut any_goods, mut any_service) = (false, false);
        for (i, it) in inv.item_list.iter().enumerate() {
            any_goods |= it.is_servc != "Y";
            any_service |= it.is_servc == "Y";
            self.item_rules(s, i, it, min_digits, regime, rcm, &mut sums);
        }
        // IGST with POS in the supplier's own state (IgstOnIntra, or SEZ in the same state):
        // goods and services may not share the invoice.
        if any_goods && any_service && matches!(regime, Regime::Igst { .. }) {
            if let (Some(a), Some(p)) = (seller_state, pos_n) {
                if a == p {
                    s.push(GOODS_SERVICE_MIX, None, || {
                        "Combination of goods and service items are not allowed for inter state transaction with POS same as the supplier state".to_owned()
                    });
                }
            }
        }
        self.sl_no_unique(s, &inv.item_list);

        // --- invoice totals (meaningless without items: 2228 says it all) ---
        if !inv.item_list.is_empty() {
            // Proved in fixed point when every item was; otherwise the decimal path decides.
            let proved =
                sums.fast_items == inv.item_list.len() && self.totals_pass_fast(inv, &sums);
            if !proved {
                sums.settle();
                self.totals(inv, &sums, s);
            }
        }

        // --- dates ---
        let d = &inv.doc_dtls;
        if let Some(dt) = clock::valid_doc_date(&d.dt) {
            if dt > self.today {
                s.push(FUTURE_DATE, None, || {
                    format!("Document date {} cannot be a future date", d.dt)
                });
            }
            if let (Some(aato), Some(threshold)) = (seller_aato, self.reporting_window_aato) {
                if aato >= threshold {
                    let days = (self.today - dt).num_days();
                    if days >= self.rules.reporting_window_days {
                        s.push(self.rules.reporting_window_error_code, None, || {
                            format!(
                                "IRN cannot be generated with document date {} prior to {} days from today for suppliers with AATO of {} crore or more",
                                d.dt, self.rules.reporting_window_days, threshold
                            )
                        });
                    }
                }
            }
        }

        // The invoice period (RefDtls.DocPerdDtls): the one from/to pair of INV-01.
        if let Some(p) = inv.ref_dtls.as_ref().and_then(|r| r.doc_perd_dtls.as_ref()) {
            let (from, to) = (
                clock::valid_doc_date(&p.inv_st_dt),
                clock::valid_doc_date(&p.inv_end_dt),
            );
            if let (Some(from), Some(to)) = (from, to) {
                if from > to {
                    s.push(PERIOD_DATES, None, || {
                        format!(
                            "Invoice period start date {} is after its end date {}",
                            p.inv_st_dt, p.inv_end_dt
                        )
                    });
                }
            }
        }

        // --- credit / debit notes ---
        let is_inv = d.typ.eq_ignore_ascii_case("INV");
        let is_note = d.typ.eq_ignore_ascii_case("CRN") || d.typ.eq_ignore_ascii_case("DBN");
        let has_prec = inv
            .ref_dtls
            .as_ref()
            .and_then(|r| r.prec_doc_dtls.as_ref())
            .is_some_and(|p| !p.is_empty());
        if is_note && !has_prec && self.rules.require_preceding_doc_for_notes {
            s.push(PREC_DOC_REQUIRED, None, || {
                format!(
                    "Original invoice number is required for document type {}",
                    d.typ
                )
            });
        }
        if is_inv && has_prec && self.rules.reject_preceding_doc_for_inv {
            s.push(PREC_DOC_FOR_INV, None, || {
                "Original invoice number is not required for document type INV".to_owned()
            });
        }

        // --- e-way bill ---
        if self.rules.ewb_errors_reject_irn {
            for p in ewb_problems(inv, any_goods, self.today, self.rules.gstin_checksum) {
                if let Some(code) = p.irn_code {
                    s.push(code, None, move || p.message);
                }
            }
        }
    }

    /// The e-way bill errors of an accepted invoice whose EwbDtls cannot make an e-way bill,
    /// as NIC reports them on the IRN (InfoDtls EWBERR, 4xxx): the first one only, as in
    /// NIC's responses (`EwbDtls {Distance: 0}` on a CRN of services gets 4019 alone). When
    /// those problems reject the IRN instead (`rules.ewb_errors_reject_irn`), only the ones
    /// without a rejection code (4014, 4016, 4018, 4019, 4021, 4024, 4032-4033 outside
    /// exports, 4034-4036) are left to report here.
    pub fn ewb_errors(&self, inv: &Invoice) -> Vec<Violation> {
        if inv.ewb_dtls.is_none() {
            return Vec::new();
        }
        let reject = self.rules.ewb_errors_reject_irn;
        let any_goods = inv.item_list.iter().any(|it| it.is_servc != "Y");
        ewb_problems(inv, any_goods, self.today, self.rules.gstin_checksum)
            .into_iter()
            .filter(|p| !reject || p.irn_code.is_none())
            .take(1)
            .map(|p| Violation::new(p.ewb_code, p.message))
            .collect()
    }

    /// True when every check of [`Self::totals`] passes, decided in exact thousandths from
    /// the items' fixed-point sums (every item took the fixed-point path). `false` means
    /// "not proven": the decimal `totals` then decides and words the messages.
    fn totals_pass_fast(&self, inv: &Invoice, sums: &Sums) -> bool {
        use fixed::{milli, opt_milli};
        let v = &inv.val_dtls;
        let Some(tol) = self.tolerance_milli.map(i128::from) else {
            return false;
        };
        let given = |n: Option<Num>| opt_milli(n).map(i128::from);
        let (Some(ass), Some(tot_inv)) = (milli(v.ass_val), milli(v.tot_inv_val)) else {
            return false;
        };
        let (Some(sgst), Some(cgst), Some(igst), Some(ces), Some(st_ces)) = (
            given(v.sgst_val),
            given(v.cgst_val),
            given(v.igst_val),
            given(v.ces_val),
            given(v.st_ces_val),
        ) else {
            return false;
        };
        let (Some(oth), Some(discount), Some(rnd_off)) =
            (given(v.oth_chrg), given(v.discount), given(v.rnd_off_amt))
        else {
            return false;
        };
        let [s_ass, s_cgst, s_sgst, s_igst, s_ces, s_st_ces, s_item_val, s_oth] = sums.fast;
        let near = |given: i128, expected: i128| (given - expected).abs() <= tol;
        near(i128::from(ass), s_ass)
            && near(sgst, s_sgst)
            && near(cgst, s_cgst)
            && near(igst, s_igst)
            && near(ces, s_ces)
            && near(st_ces, s_st_ces)
            && near(i128::from(tot_inv), s_item_val + oth - discount + rnd_off)
            && !(discount > 0 && discount >= i128::from(tot_inv))
            && (!self.rules.item_oth_chrg_sum || near(oth, s_oth))
    }

    /// Invoice-level sums and totals (2182-2189, 2220, 2264).
    fn totals(&self, inv: &Invoice, sums: &Sums, s: &mut Sink) {
        let v = &inv.val_dtls;
        let off = |given: Decimal, expected: Decimal| self.off(given, expected);
        let total_check =
            |s: &mut Sink, code: u16, given: Decimal, expected: Decimal, what: &str| {
                if off(given, expected) {
                    s.push(code, None, || {
                        format!(
                            "{what} {} does not match the sum of the items {}",
                            given.normalize(),
                            expected.normalize()
                        )
                    });
                }
            };
        total_check(
            s,
            ASS_VAL,
            v.ass_val.value,
            sums.ass,
            "Total taxable value (AssVal)",
        );
        total_check(
            s,
            SGST_VAL,
            val(v.sgst_val),
            sums.sgst,
            "Total SGST value (SgstVal)",
        );
        total_check(
            s,
            CGST_VAL,
            val(v.cgst_val),
            sums.cgst,
            "Total CGST value (CgstVal)",
        );
        total_check(
            s,
            IGST_VAL,
            val(v.igst_val),
            sums.igst,
            "Total IGST value (IgstVal)",
        );
        // CesVal covers ad-valorem and non-ad-valorem cess (reference 2.7). When it matches
        // the items' ad-valorem cess alone, the non-advol part is what is wrong: 2188.
        let ces_val = val(v.ces_val);
        if off(ces_val, sums.ces) {
            let non_advl = inv.item_list.iter().fold(Decimal::ZERO, |a, it| {
                a.saturating_add(val(it.ces_non_advl_amt))
            });
            let (code, what) =
                if !non_advl.is_zero() && !off(ces_val, sums.ces.saturating_sub(non_advl)) {
                    (
                        CES_NON_ADVL_VAL,
                        "Total cess value (CesVal), which must include the non-ad-valorem cess,",
                    )
                } else {
                    (CES_VAL, "Total cess value (CesVal)")
                };
            total_check(s, code, ces_val, sums.ces, what);
        }
        total_check(
            s,
            ST_CES_VAL,
            val(v.st_ces_val),
            sums.st_ces,
            "Total state cess value (StCesVal)",
        );
        let discount = val(v.discount);
        let expected_total = sums
            .item_val
            .saturating_add(val(v.oth_chrg))
            .saturating_sub(discount)
            .saturating_add(val(v.rnd_off_amt));
        if off(v.tot_inv_val.value, expected_total) {
            s.push(TOT_INV_VAL, None, || {
                format!(
                    "Invalid total invoice value {}: expected {} (item values + other charges - discount + round-off)",
                    v.tot_inv_val.value.normalize(),
                    expected_total.normalize()
                )
            });
        }
        if discount > Decimal::ZERO && discount >= v.tot_inv_val.value {
            s.push(DISCOUNT, None, || {
                format!(
                    "Total discount {} cannot be more than or equal to the total invoice value",
                    discount.normalize()
                )
            });
        }
        if self.rules.item_oth_chrg_sum {
            total_check(
                s,
                OTH_CHRG_SUM,
                val(v.oth_chrg),
                sums.oth,
                "Other charges (OthChrg)",
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn item_rules(
        &self,
        s: &mut Sink,
        i: usize,
        it: &Item,
        min_digits: usize,
        regime: Regime,
        rcm: bool,
        sums: &mut Sums,
    ) {
        let sl = &it.sl_no;
        let hsn = &it.hsn_cd;
        let at = Some(i);

        // HSN, IsServc, quantity, unit, origin country, rate.
        let hsn_n = hsn_number(hsn);
        let hsn_pattern = hsn_n.is_some();
        if !hsn_n.is_some_and(|n| self.masters.hsn_known(n, hsn.len())) {
            // NIC's wording in its 2025 responses ("HSN code(s)-391520 is invalid"); its
            // published list has "Invalid HSN code(s)-{0}".
            s.push(HSN, at, || format!("HSN code(s)-{} is invalid", Shown(hsn)));
        } else if hsn.len() < min_digits {
            s.push(HSN, at, || {
                format!("HSN code(s)-{hsn} is invalid: at least {min_digits} digits are required (item {sl})")
            });
        }
        let service = it.is_servc == "Y";
        let goods = it.is_servc == "N";
        if hsn_pattern {
            let sac = hsn.starts_with("99");
            if service && !sac {
                s.push(HSN_SERVICE, at, || {
                    format!("HSN {hsn} of item {sl} is a goods code but IsServc is Y")
                });
            } else if goods && sac {
                s.push(HSN_SERVICE, at, || {
                    format!("HSN {hsn} of item {sl} is a service (SAC) code but IsServc is N")
                });
            }
        }
        if goods {
            if it.qty.is_none() {
                s.push(QTY_REQUIRED, at, || {
                    format!("Quantity is required for HSN {hsn} (item {sl}, goods)")
                });
            }
            if it.unit.is_none() {
                s.push(UNIT_REQUIRED, at, || {
                    format!("Unit is required for HSN {hsn} (item {sl}, goods)")
                });
            }
        }
        if let Some(u) = &it.unit {
            if !self.unit_ok(u) {
                s.push(UNIT, at, || {
                    format!("Invalid item unit code(s)-{}", Shown(u))
                });
            }
        }
        if let Some(c) = &it.org_cntry {
            if !letters(c, 2, 2) || !self.masters.country_ok(c) {
                s.push(COUNTRY, at, || {
                    format!(
                        "Invalid country code {} (origin country of item {sl})",
                        Shown(c)
                    )
                });
            }
        }
        let rate = it.gst_rt.value;
        if !thousandths(rate).is_some_and(|r| self.rates.contains(&r)) {
            s.push(GST_RATE, at, || {
                format!(
                    "Invalid GST rate {} for HSN {hsn} (item {sl})",
                    rate.normalize()
                )
            });
        }

        // Arithmetic. The exact fixed-point path proves the common, passing case; anything
        // else takes the decimal path, which applies the same rules and words the messages.
        match self.item_arith_fast(it, regime, rcm) {
            Some(fast) => sums.add_fast(&fast),
            None => self.item_arith(s, i, it, regime, rcm, sums),
        }
    }

    /// The item arithmetic rules (2182-2194 on items) in exact decimals.
    fn item_arith(
        &self,
        s: &mut Sink,
        i: usize,
        it: &Item,
        regime: Regime,
        rcm: bool,
        sums: &mut Sums,
    ) {
        let sl = &it.sl_no;
        let hsn = &it.hsn_cd;
        let at = Some(i);
        let rate = it.gst_rt.value;
        let off = |given: Decimal, expected: Decimal| self.off(given, expected);
        let ass = it.ass_amt.value;
        if let Some(q) = it.qty.filter(|_| self.rules.tot_amt_qty_price) {
            let expected = round2(q.value.saturating_mul(it.unit_price.value));
            if off(it.tot_amt.value, expected) {
                s.push(TOT_AMT, at, || {
                    format!(
                        "Invalid total amount {} for HSN {hsn} (item {sl}): Qty x UnitPrice is {}",
                        it.tot_amt.value.normalize(),
                        expected.normalize()
                    )
                });
            }
        }
        let expected_ass = it.tot_amt.value.saturating_sub(val(it.discount));
        if off(ass, expected_ass) {
            s.push(ASS_AMT, at, || {
                format!(
                    "Invalid taxable value {} for HSN {hsn} (item {sl}): TotAmt - Discount is {}",
                    ass.normalize(),
                    expected_ass.normalize()
                )
            });
        }
        let igst = val(it.igst_amt);
        let cgst = val(it.cgst_amt);
        let sgst = val(it.sgst_amt);
        match regime {
            Regime::Intra => {
                if igst > Decimal::ZERO {
                    s.push(INTRA_IGST, at, || {
                        format!("Intra-state supply: IGST is not applicable for item {sl} (HSN {hsn}), only CGST and SGST")
                    });
                }
                if rate > Decimal::ZERO
                    && ass > Decimal::ZERO
                    && (it.cgst_amt.is_none() || it.sgst_amt.is_none())
                {
                    s.push(INTRA_CGST_SGST_REQUIRED, at, || {
                        format!("CGST and SGST amounts are required for intra-state supply for HSN {hsn} (item {sl})")
                    });
                } else {
                    let half = half_percent(ass, rate);
                    // Each half, and the two together (the IRP's check is on the item's total
                    // tax: two halves each a rupee off make two rupees). The total is held to
                    // twice the rounded half, not to the rounded whole: with no tolerance,
                    // 333.33 at 5% is 8.33 + 8.33 = 16.66, a correct invoice, where the whole
                    // rounds to 16.67.
                    if off(cgst, half)
                        || off(sgst, half)
                        || off(cgst.saturating_add(sgst), half.saturating_add(half))
                    {
                        s.push(CGST_SGST_AMT, at, || {
                            format!("Invalid SGST and CGST amounts for HSN {hsn} (item {sl}): expected {} each", half.normalize())
                        });
                    }
                    if cgst != sgst {
                        s.push(CGST_NE_SGST, at, || {
                            format!("SGST and CGST amounts must be equal for HSN {hsn} (item {sl})")
                        });
                    }
                }
            }
            Regime::Igst { cs_code, zero } => {
                if cgst > Decimal::ZERO || sgst > Decimal::ZERO {
                    s.push(cs_code, at, || {
                        format!(
                            "CGST and SGST are not applicable for item {sl} (HSN {hsn}), only IGST"
                        )
                    });
                }
                if zero {
                    if igst > Decimal::ZERO {
                        s.push(IGST_AMT, at, || {
                            format!("Invalid IGST amount for HSN {hsn} (item {sl}): supply without payment of tax must carry no IGST")
                        });
                    }
                } else {
                    let expected = percent(ass, rate);
                    if off(igst, expected) {
                        s.push(IGST_AMT, at, || {
                            format!(
                                "Invalid IGST amount {} for HSN {hsn} (item {sl}): expected {}",
                                igst.normalize(),
                                expected.normalize()
                            )
                        });
                    }
                }
            }
            Regime::Unknown => {}
        }
        let ces = val(it.ces_amt);
        let expected_ces = percent(ass, val(it.ces_rt));
        if off(ces, expected_ces) {
            s.push(CESS_AMT, at, || {
                format!(
                    "Invalid cess amount {} for HSN {hsn} (item {sl}): expected {}",
                    ces.normalize(),
                    expected_ces.normalize()
                )
            });
        }
        let st_ces = val(it.state_ces_amt);
        let expected_st_ces = percent(ass, val(it.state_ces_rt));
        if off(st_ces, expected_st_ces) {
            s.push(STATE_CESS_AMT, at, || {
                format!(
                    "Invalid state cess amount {} for HSN {hsn} (item {sl}): expected {}",
                    st_ces.normalize(),
                    expected_st_ces.normalize()
                )
            });
        }
        let ces_non = val(it.ces_non_advl_amt);
        let st_ces_non = val(it.state_ces_non_advl_amt);
        let oth = val(it.oth_chrg);
        let gst = igst.saturating_add(cgst).saturating_add(sgst);
        let cess_all = ces
            .saturating_add(ces_non)
            .saturating_add(st_ces)
            .saturating_add(st_ces_non);
        let without_gst = ass.saturating_add(cess_all).saturating_add(oth);
        let full = without_gst.saturating_add(gst);
        let tiv = it.tot_item_val.value;
        let tiv_ok = !off(tiv, full)
            || (rcm && (!off(tiv, without_gst) || !off(tiv, ass.saturating_add(oth))));
        if !tiv_ok {
            s.push(TOT_ITEM_VAL, at, || {
                format!(
                    "Invalid total item value {} for HSN {hsn} (item {sl}): expected {}",
                    tiv.normalize(),
                    full.normalize()
                )
            });
        }

        add(&mut sums.ass, ass);
        add(&mut sums.cgst, cgst);
        add(&mut sums.sgst, sgst);
        add(&mut sums.igst, igst);
        add(&mut sums.ces, ces.saturating_add(ces_non));
        add(&mut sums.st_ces, st_ces.saturating_add(st_ces_non));
        add(&mut sums.item_val, tiv);
        add(&mut sums.oth, oth);
    }

    /// [`Validator::item_arith`] in thousandths (`fixed`): `Some` with the item's
    /// contributions to the invoice sums when every rule holds, `None` when one fails or a
    /// number lies outside the fixed-point domain. It never accepts what the decimal path
    /// rejects: a property test below holds the two equal.
    fn item_arith_fast(&self, it: &Item, regime: Regime, rcm: bool) -> Option<[i64; 8]> {
        use fixed::{milli, opt_milli, paise_to_milli, product};
        let tol = self.tolerance_milli?;
        let off = |given: i64, expected: i64| (given - expected).abs() > tol;
        let ass = milli(it.ass_amt)?;
        let rate = milli(it.gst_rt)?;
        let tot = milli(it.tot_amt)?;
        if let Some(q) = it.qty.filter(|_| self.rules.tot_amt_qty_price) {
            // round2(Qty x UnitPrice): thousandths squared, rounded to paise.
            let expected = paise_to_milli::<4>(product(&[milli(q)?, milli(it.unit_price)?])?);
            if off(tot, expected) {
                return None;
            }
        }
        if off(ass, tot - opt_milli(it.discount)?) {
            return None;
        }
        let igst = opt_milli(it.igst_amt)?;
        let cgst = opt_milli(it.cgst_amt)?;
        let sgst = opt_milli(it.sgst_amt)?;
        // round2(AssAmt x rate / 100): the product has 6 decimals, the percent 8.
        let percent =
            |rate: i64| -> Option<i64> { Some(paise_to_milli::<6>(product(&[ass, rate])?)) };
        match regime {
            Regime::Intra => {
                if igst > 0 {
                    return None;
                }
                if rate > 0 && ass > 0 && (it.cgst_amt.is_none() || it.sgst_amt.is_none()) {
                    return None;
                }
                // round2(AssAmt x rate x 5 / 1000): 9 decimals.
                let half = paise_to_milli::<7>(product(&[ass, rate, 5])?);
                if off(cgst, half) || off(sgst, half) || off(cgst + sgst, 2 * half) || cgst != sgst
                {
                    return None;
                }
            }
            Regime::Igst { zero, .. } => {
                if cgst > 0 || sgst > 0 {
                    return None;
                }
                if zero {
                    if igst > 0 {
                        return None;
                    }
                } else if off(igst, percent(rate)?) {
                    return None;
                }
            }
            Regime::Unknown => {}
        }
        let ces = opt_milli(it.ces_amt)?;
        if off(ces, percent(opt_milli(it.ces_rt)?)?) {
            return None;
        }
        let st_ces = opt_milli(it.state_ces_amt)?;
        if off(st_ces, percent(opt_milli(it.state_ces_rt)?)?) {
            return None;
        }
        let ces_non = opt_milli(it.ces_non_advl_amt)?;
        let st_ces_non = opt_milli(it.state_ces_non_advl_amt)?;
        let oth = opt_milli(it.oth_chrg)?;
        let without_gst = ass + ces + ces_non + st_ces + st_ces_non + oth;
        let full = without_gst + igst + cgst + sgst;
        let tiv = milli(it.tot_item_val)?;
        let tiv_ok = !off(tiv, full) || (rcm && (!off(tiv, without_gst) || !off(tiv, ass + oth)));
        if !tiv_ok {
            return None;
        }
        Some([
            ass,
            cgst,
            sgst,
            igst,
            ces + ces_non,
            st_ces + st_ces_non,
            tiv,
            oth,
        ])
    }

    /// True when `given` differs from `expected` by more than the tolerance.
    fn off(&self, given: Decimal, expected: Decimal) -> bool {
        let diff = given.saturating_sub(expected).abs();
        match self.tolerances.get(diff.scale() as usize) {
            Some(Some(t)) => diff > *t,
            _ => diff > self.tolerance,
        }
    }

    /// Unit in the UQC master, case-insensitively, without allocating.
    fn unit_ok(&self, unit: &str) -> bool {
        letters(unit, 3, 8) && self.masters.uqc_ok(unit)
    }

    /// 2233: one violation listing the repeated serial numbers.
    fn sl_no_unique(&self, s: &mut Sink, items: &[Item]) {
        const SMALL: usize = 64;
        // Serial numbers are short (the schema allows 6 digits): packed into one `u64` each,
        // a pair is one comparison instead of a call to compare bytes.
        let mut keys = [0u64; SMALL];
        let packed = items.len() <= SMALL
            && items
                .iter()
                .zip(keys.iter_mut())
                .all(|(it, k)| short_key(&it.sl_no).map(|key| *k = key).is_some());
        let dup = if packed {
            let keys = &keys[..items.len()];
            keys.iter()
                .enumerate()
                .any(|(i, a)| keys[i + 1..].contains(a))
        } else {
            let mut v: Vec<&str> = items.iter().map(|it| it.sl_no.as_str()).collect();
            v.sort_unstable();
            v.windows(2).any(|w| w[0] == w[1])
        };
        if dup {
            s.push(DUP_SL_NO, None, || {
                let mut v: Vec<&str> = items.iter().map(|it| it.sl_no.as_str()).collect();
                v.sort_unstable();
                let mut d: Vec<&str> = v
                    .windows(2)
                    .filter(|w| w[0] == w[1])
                    .map(|w| w[0])
                    .collect();
                d.dedup();
                format!(
                    "Duplicate SlNo value(s) {} are not allowed in the item list",
                    d.join(", ")
                )
            });
        }
    }
}

/// One reason EwbDtls cannot make an e-way bill: the code that rejects the IRN (2251-2254,
/// 2236 for an export's ship-to; none for 4014, 4016, 4018, 4019, 4021, 4024, 4032-4033
/// outside exports and 4034-4036) and the e-way bill system's own (4xxx).
struct EwbProblem {
    irn_code: Option<u16>,
    ewb_code: u16,
    message: String,
}

/// What stops the invoice's EwbDtls from making an e-way bill, in NIC's order: Part A first
/// (no transporter, a transporter id failing the GSTIN checksum when `checksum` is on, a
/// ship-to place abroad or missing on an export, a distance NIC cannot compute, a dispatch
/// place abroad), then the document type, goods,
/// Part B (what is missing, then the vehicle number's format and ODC), and the transport
/// document's date.
fn ewb_problems(
    inv: &Invoice,
    any_goods: bool,
    today: NaiveDate,
    checksum: bool,
) -> Vec<EwbProblem> {
    let Some(e) = &inv.ewb_dtls else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut add = |irn_code, ewb_code, message: String| {
        out.push(EwbProblem {
            irn_code,
            ewb_code,
            message,
        });
    };
    if e.trans_mode.is_none() && e.trans_id.is_none() {
        add(
            None,
            4019,
            "Provide Transporter ID in order to generate Part A of e-Way Bill".to_owned(),
        );
    }
    // A transporter id is a GSTIN or a TRANSIN, both with the GSTIN check character; the
    // schema checked the shape. NIC's e-way bill system answers 4018 (no IRN code is known).
    if let Some(t) = e.trans_id.as_deref() {
        if checksum && gstin::shape_ok(t) && !gstin::checksum_ok(t) {
            add(None, 4018, "Invalid Transporter ID".to_owned());
        }
    }
    // The e-way bill's ship-to is a place in India: for an export, the port or place the goods
    // leave from (NIC's FAQ 28 on Generate IRN), so an export needs ShipDtls. NIC's e-way bill
    // codes are 4031-4033; an export's IRN-side code is 2236 ("the 'Ship-To' address should be
    // of the place or port from where the goods are being exported").
    let export = SupTyp::parse(&inv.tran_dtls.sup_typ).is_some_and(SupTyp::is_export);
    let port_code = export.then_some(EXPORT_SHIP_TO_PORT);
    match &inv.ship_dtls {
        None if export => add(
            port_code,
            4031,
            "Ship to details are mandatory for export transactions to generate e-Way Bill."
                .to_owned(),
        ),
        Some(d) if state_code(&d.stcd) == Some(96) => add(
            port_code,
            4032,
            "Ship to state code cannot be other country code(96) for e-Way Bill generation"
                .to_owned(),
        ),
        Some(d) if d.pin.0 == 999_999 => add(
            port_code,
            4033,
            "Ship to PIN code cannot be 999999 for e-Way Bill generation".to_owned(),
        ),
        _ => {}
    }
    // Distance 0 asks NIC to compute the PIN-to-PIN distance, which a foreign PIN (999999) at
    // either end rules out. The ends are the e-way bill's: dispatch-from, else the supplier;
    // ship-to, else the recipient. (NIC's message names all four parties; an export shipped
    // to a port in India has a computable distance, so only the ends are checked.)
    let from = inv
        .disp_dtls
        .as_ref()
        .map_or(inv.seller_dtls.pin, |d| d.pin);
    let to = inv.ship_dtls.as_ref().map(|d| d.pin).or(inv.buyer_dtls.pin);
    if e.distance.0 == 0 && (from.0 == 999_999 || to.is_some_and(|p| p.0 == 999_999)) {
        add(
            None,
            4034,
            "Since the you passed Supplier/Recepient/Dispatch from/Ship to Pincode as 999999, distance cannot be 0".to_owned(),
        );
    }
    // An e-way bill moves goods from a place in India. (A dispatch PIN of 999999 outside Other
    // Territory already rejects the IRN, 2273.)
    if let Some(d) = &inv.disp_dtls {
        if state_code(&d.stcd) == Some(96) {
            add(
                None,
                4035,
                "Dispatch state code cannot be other country code(96) for e-Way Bill generation"
                    .to_owned(),
            );
        } else if d.pin.0 == 999_999 {
            add(
                None,
                4036,
                "Dispatch PIN code cannot be 999999 for e-Way Bill generation".to_owned(),
            );
        }
    }
    let typ = &inv.doc_dtls.typ;
    if typ.eq_ignore_ascii_case("CRN") || typ.eq_ignore_ascii_case("DBN") {
        add(
            Some(EWB_DOC_TYPE),
            4010,
            format!("E-way bill cannot be generated for document type {typ}"),
        );
    }
    if !any_goods && !inv.item_list.is_empty() {
        add(
            Some(EWB_GOODS),
            4009,
            "E-way bill needs at least one goods item (non-service HSN)".to_owned(),
        );
    }
    // Part B, with NIC's e-way bill codes: the number first (4011/4012), then the vehicle
    // type or the document date (4022/4023); the IRN's rejection code is one per mode.
    match e.trans_mode.as_deref() {
        Some("1") if e.veh_no.is_none() => add(
            Some(EWB_ROAD),
            4011,
            "Vehicle number should be passed in case of transportation mode is Road.".to_owned(),
        ),
        Some("1") if e.veh_type.is_none() => add(
            Some(EWB_ROAD),
            4022,
            "Vehicle type should be passed in case of transportation mode is Road.".to_owned(),
        ),
        Some("2" | "3" | "4") if e.trans_doc_no.is_none() => add(
            Some(EWB_NON_ROAD),
            4012,
            "The transport document number should be passed in case of transportation mode is other than Road.".to_owned(),
        ),
        Some("2" | "3" | "4") if e.trans_doc_dt.is_none() => add(
            Some(EWB_NON_ROAD),
            4023,
            "The transport document date should be passed in case of transportation mode is other than Road.".to_owned(),
        ),
        _ => {}
    }
    // NIC's master of vehicle number formats (4014); only for road, where Part B needs one.
    if e.trans_mode.as_deref() == Some("1")
        && e.veh_no.as_deref().is_some_and(|v| !vehicle_no_ok(v))
    {
        add(None, 4014, "Invalid Vehicle Number".to_owned());
    }
    // Over-dimensional cargo moves by road or ship only (NIC's newer list; its older one
    // said road only).
    if matches!(e.trans_mode.as_deref(), Some("2" | "3")) && e.veh_type.as_deref() == Some("O") {
        add(
            None,
            4024,
            "Vehicle type should not be ODC when transmode is other than road and ship".to_owned(),
        );
    }
    // The transport document's date against the invoice's (NIC answers 4021) and today (4016).
    if let (Some(trans), Some(doc)) = (
        e.trans_doc_dt.as_deref().and_then(clock::valid_doc_date),
        clock::valid_doc_date(&inv.doc_dtls.dt),
    ) {
        if trans < doc {
            add(
                None,
                4021,
                "Transporter document date cannot be earlier than the invoice date.".to_owned(),
            );
        }
        if trans > today {
            add(
                None,
                4016,
                "Transporter document date cannot be a future date.".to_owned(),
            );
        }
    }
    out
}

/// A vehicle number in one of the formats of NIC's general master ("Valid Formats of Vehicle
/// Numbers", e-invoice portal), upper or lower case: a state's two letters then `12 1234`,
/// `12 A 1234`, `12 AB 1234`, `123 A 1234` or `12 ABC 1234`; `ABC1234`; defence `DF` and at
/// least six more; temporary (`TM`), Bhutan (`BP`) and Nepal (`NP`) numbers of at least 7
/// characters. The e-way bill API takes at most 15 characters for a vehicle number, the
/// upper bound of the prefixed kinds (the master's examples are 8 and 15 long).
fn vehicle_no_ok(v: &str) -> bool {
    let b = v.as_bytes();
    if !b.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let prefix = |p: &str| b.len() >= 2 && b[..2].eq_ignore_ascii_case(p.as_bytes());
    if (prefix("DF") && (8..=15).contains(&b.len()))
        || ((prefix("TM") || prefix("BP") || prefix("NP")) && (7..=15).contains(&b.len()))
    {
        return true;
    }
    // Otherwise one of the standard formats (`DFA1234` is an `ABC1234`).
    // The runs of letters and of digits, e.g. `KA01AB1234` is L2 D2 L2 D4; every format has
    // at most four.
    let mut runs = [(false, 0usize); 4];
    let mut len = 0;
    for c in b {
        let letter = c.is_ascii_alphabetic();
        if len > 0 && runs[len - 1].0 == letter {
            runs[len - 1].1 += 1;
        } else if len < runs.len() {
            runs[len] = (letter, 1);
            len += 1;
        } else {
            return false;
        }
    }
    matches!(
        &runs[..len],
        [(true, 2), (false, 6)]
            | [(true, 2), (false, 2), (true, 1..=3), (false, 4)]
            | [(true, 2), (false, 3), (true, 1), (false, 4)]
            | [(true, 3), (false, 4)]
    )
}

fn item_schema(s: &mut Sink, i: usize, it: &Item) {
    text(s, Path::Item(i, "SlNo"), &it.sl_no, 1, 6, Pat::Digits);
    opt_text(s, Path::Item(i, "PrdDesc"), &it.prd_desc, 3, 300, Pat::Noq);
    flag(s, Path::Item(i, "IsServc"), &it.is_servc, &["Y", "N"]);
    opt_text(s, Path::Item(i, "Barcde"), &it.barcde, 3, 30, Pat::Noq);
    opt_num(s, Path::Item(i, "Qty"), it.qty, QTY);
    opt_num(s, Path::Item(i, "FreeQty"), it.free_qty, QTY);
    // The schema's `^[A-Za-z]{3,8}$`; the UQC master (2177) is checked as a business rule.
    opt_text(s, Path::Item(i, "Unit"), &it.unit, 3, 8, Pat::Letters);
    num(s, Path::Item(i, "UnitPrice"), it.unit_price, PRICE);
    num(s, Path::Item(i, "TotAmt"), it.tot_amt, AMT);
    opt_num(s, Path::Item(i, "Discount"), it.discount, AMT);
    opt_num(s, Path::Item(i, "PreTaxVal"), it.pre_tax_val, AMT);
    num(s, Path::Item(i, "AssAmt"), it.ass_amt, AMT);
    num(s, Path::Item(i, "GstRt"), it.gst_rt, RATE);
    opt_num(s, Path::Item(i, "IgstAmt"), it.igst_amt, AMT);
    opt_num(s, Path::Item(i, "CgstAmt"), it.cgst_amt, AMT);
    opt_num(s, Path::Item(i, "SgstAmt"), it.sgst_amt, AMT);
    opt_num(s, Path::Item(i, "CesRt"), it.ces_rt, RATE);
    opt_num(s, Path::Item(i, "CesAmt"), it.ces_amt, AMT);
    opt_num(s, Path::Item(i, "CesNonAdvlAmt"), it.ces_non_advl_amt, AMT);
    opt_num(s, Path::Item(i, "StateCesRt"), it.state_ces_rt, RATE);
    opt_num(s, Path::Item(i, "StateCesAmt"), it.state_ces_amt, AMT);
    opt_num(
        s,
        Path::Item(i, "StateCesNonAdvlAmt"),
        it.state_ces_non_advl_amt,
        AMT,
    );
    opt_num(s, Path::Item(i, "OthChrg"), it.oth_chrg, AMT);
    num(s, Path::Item(i, "TotItemVal"), it.tot_item_val, AMT);
    opt_text(
        s,
        Path::Item(i, "OrdLineRef"),
        &it.ord_line_ref,
        1,
        50,
        Pat::Noq,
    );
    opt_text(s, Path::Item(i, "PrdSlNo"), &it.prd_sl_no, 1, 20, Pat::Noq);
    if let Some(b) = &it.bch_dtls {
        text(s, Path::Item(i, "BchDtls/Nm"), &b.nm, 3, 20, Pat::Noq);
        opt_date(s, Path::Item(i, "BchDtls/ExpDt"), &b.exp_dt);
        opt_date(s, Path::Item(i, "BchDtls/WrDt"), &b.wr_dt);
    }
    for (j, a) in it.attrib_dtls.iter().flatten().enumerate() {
        opt_text(
            s,
            Path::ItemArr(i, "AttribDtls", j, "Nm"),
            &a.nm,
            1,
            100,
            Pat::Noq,
        );
        opt_text(
            s,
            Path::ItemArr(i, "AttribDtls", j, "Val"),
            &a.val,
            1,
            100,
            Pat::Noq,
        );
    }
}

/// Length (in characters) and pattern of a string field; 2140 on failure.
/// The passing case is inlined where the bounds and pattern are constants; the failing case
/// (which measures again and words the message) stays out of line.
#[inline]
fn text(s: &mut Sink, path: Path, v: &str, min: usize, max: usize, pat: Pat) {
    debug_assert!(
        !s.plain || (v.is_ascii() && Pat::Noq.ok(v)),
        "plain record: {v:?}"
    );
    // Byte length bounds the character count from above: ASCII is the common case.
    let ok = if s.plain || v.is_ascii() {
        (min..=max).contains(&v.len()) && ((s.plain && matches!(pat, Pat::Noq)) || pat.ok(v))
    } else {
        (min..=max).contains(&v.chars().count()) && pat.ok(v)
    };
    if !ok {
        text_failed(s, path, v, min, max, pat);
    }
}

#[cold]
#[inline(never)]
fn text_failed(s: &mut Sink, path: Path, v: &str, min: usize, max: usize, pat: Pat) {
    let len = v.chars().count();
    if len < min {
        s.push(SCHEMA, path.item(), || {
            format!("{path}: length {len} is below the minimum {min}")
        });
    } else if len > max {
        s.push(SCHEMA, path.item(), || {
            format!("{path}: length {len} is above the maximum {max}")
        });
    } else if !pat.ok(v) {
        s.push(SCHEMA, path.item(), || {
            format!(
                "{path}: {} does not match the pattern ({})",
                Shown(v),
                pat.describe()
            )
        });
    }
}

#[inline]
fn opt_text(s: &mut Sink, path: Path, v: &Option<String>, min: usize, max: usize, pat: Pat) {
    if let Some(v) = v {
        text(s, path, v, min, max, pat);
    }
}

#[inline]
fn flag(s: &mut Sink, path: Path, v: &str, allowed: &[&str]) {
    if !allowed.contains(&v) {
        flag_failed(s, path, v, allowed);
    }
}

#[cold]
#[inline(never)]
fn flag_failed(s: &mut Sink, path: Path, v: &str, allowed: &[&str]) {
    s.push(SCHEMA, path.item(), || {
        format!("{path}: {} is not one of {}", Shown(v), allowed.join(", "))
    });
}

fn date(s: &mut Sink, path: Path, v: &str) {
    if clock::valid_doc_date(v).is_none() {
        s.push(SCHEMA, path.item(), || {
            format!("{path}: {} is not a valid dd/mm/yyyy date", Shown(v))
        });
    }
}

fn opt_date(s: &mut Sink, path: Path, v: &Option<String>) {
    if let Some(v) = v {
        date(s, path, v);
    }
}

/// 0..=max on a number; 2140 on failure. `raw` carries the value's sign and its magnitude to
/// within `Max::fast`, so the passing case needs no decimal work; the exact checks run only
/// when it cannot rule them out.
#[inline]
fn num(s: &mut Sink, path: Path, n: Num, max: Max) {
    if n.raw < 0.0 || n.raw >= max.fast {
        num_exact(s, path, n, max);
    }
}

#[cold]
#[inline(never)]
fn num_exact(s: &mut Sink, path: Path, n: Num, max: Max) {
    if n.value.is_sign_negative() && !n.value.is_zero() {
        s.push(SCHEMA, path.item(), || {
            format!("{path}: {} is below the minimum 0", n.value.normalize())
        });
    } else if n.raw >= max.fast && n.value > max.exact {
        s.push(SCHEMA, path.item(), || {
            format!(
                "{path}: {} is above the maximum {}",
                n.value.normalize(),
                max.exact
            )
        });
    }
}

#[inline]
fn opt_num(s: &mut Sink, path: Path, n: Option<Num>, max: Max) {
    if let Some(n) = n {
        num(s, path, n, max);
    }
}

fn int_range(s: &mut Sink, path: Path, v: i64, min: i64, max: i64) {
    if v < min {
        s.push(SCHEMA, path.item(), || {
            format!("{path}: {v} is below the minimum {min}")
        });
    } else if v > max {
        s.push(SCHEMA, path.item(), || {
            format!("{path}: {v} is above the maximum {max}")
        });
    }
}

fn pin(s: &mut Sink, path: Path, v: i64) {
    int_range(s, path, v, 100_000, 999_999);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const SELLER: &str = "29AAFCC9980M1ZR";
    const INTER_BUYER: &str = "27AABCU9603R1ZN";
    const SEZ_BUYER: &str = "33AAACI4798L1Z5";
    const TCS: &str = "29AABCF8078M1C";

    fn g(first14: &str) -> String {
        gstin::with_check(first14).unwrap()
    }

    fn intra_buyer() -> String {
        g("29AABCU9603R1Z")
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 6, 15).unwrap()
    }

    fn masters() -> Arc<Masters> {
        use std::sync::OnceLock;
        static M: OnceLock<Arc<Masters>> = OnceLock::new();
        M.get_or_init(|| Arc::new(Masters::embedded().unwrap()))
            .clone()
    }

    fn taxpayers() -> Arc<Taxpayers> {
        let text = format!(
            "gstin,legal_name,state_code,status,aato_crore,type\n\
             {SELLER},Acme,29,ACT,120,REG\n\
             {},Buyer Intra,29,ACT,50,REG\n\
             {INTER_BUYER},Buyer Inter,27,ACT,50,REG\n\
             {SEZ_BUYER},Sez Unit,33,ACT,50,SEZ\n\
             {},Cancelled,29,CNL,50,REG\n\
             {},Sez Seller,29,ACT,50,SEZ\n\
             {},Small Seller,29,ACT,3,REG\n",
            intra_buyer(),
            g("29AAACX1111A1Z"),
            g("29AAACS2222B1Z"),
            g("29AAACM3333C1Z"),
        );
        Arc::new(Taxpayers::parse(&text, std::path::Path::new("t.csv")).unwrap())
    }

    /// Intra-state B2B in Karnataka: a laptop line (goods) and an IT consulting line (service).
    fn intra() -> Value {
        json!({
            "Version": "1.1",
            "TranDtls": {"TaxSch": "GST", "SupTyp": "B2B", "RegRev": "N", "IgstOnIntra": "N"},
            "DocDtls": {"Typ": "INV", "No": "INV/2025/001", "Dt": "10/06/2025"},
            "SellerDtls": {"Gstin": SELLER, "LglNm": "Acme Private Limited", "Addr1": "12 MG Road",
                "Loc": "Bengaluru", "Pin": 560001, "Stcd": "29", "Ph": "9876543210", "Em": "billing@acme.in"},
            "BuyerDtls": {"Gstin": intra_buyer(), "LglNm": "Buyer Limited", "Pos": "29", "Addr1": "5 Residency Road",
                "Loc": "Bengaluru", "Pin": 560034, "Stcd": "29"},
            "ItemList": [
                {"SlNo": "1", "PrdDesc": "Laptop", "IsServc": "N", "HsnCd": "847130", "Qty": 2, "Unit": "NOS",
                 "UnitPrice": 50000, "TotAmt": 100000, "Discount": 0, "AssAmt": 100000, "GstRt": 18,
                 "IgstAmt": 0, "CgstAmt": 9000, "SgstAmt": 9000, "TotItemVal": 118000},
                {"SlNo": "2", "PrdDesc": "IT consulting", "IsServc": "Y", "HsnCd": "998313",
                 "UnitPrice": 20000, "TotAmt": 20000, "AssAmt": 20000, "GstRt": 18,
                 "CgstAmt": 1800, "SgstAmt": 1800, "TotItemVal": 23600}
            ],
            "ValDtls": {"AssVal": 120000, "CgstVal": 10800, "SgstVal": 10800, "IgstVal": 0, "TotInvVal": 141600}
        })
    }

    fn to_igst(v: &mut Value) {
        for (i, igst) in [(0, 18000), (1, 3600)] {
            let it = &mut v["ItemList"][i];
            it["IgstAmt"] = json!(igst);
            it["CgstAmt"] = json!(0);
            it["SgstAmt"] = json!(0);
        }
        v["ValDtls"]["CgstVal"] = json!(0);
        v["ValDtls"]["SgstVal"] = json!(0);
        v["ValDtls"]["IgstVal"] = json!(21600);
    }

    fn inter() -> Value {
        let mut v = intra();
        v["BuyerDtls"]["Gstin"] = json!(INTER_BUYER);
        v["BuyerDtls"]["Pos"] = json!("27");
        v["BuyerDtls"]["Stcd"] = json!("27");
        v["BuyerDtls"]["Pin"] = json!(400001);
        to_igst(&mut v);
        v
    }

    fn export() -> Value {
        let mut v = inter();
        v["TranDtls"]["SupTyp"] = json!("EXPWP");
        v["BuyerDtls"] = json!({"Gstin": "URP", "LglNm": "Foreign Buyer Inc", "Pos": "96",
            "Addr1": "1 Main Street", "Loc": "New York", "Pin": 999999, "Stcd": "96"});
        v["ExpDtls"] = json!({"ShipBNo": "1234567", "ShipBDt": "12/06/2025", "Port": "INMAA1",
            "RefClm": "N", "ForCur": "USD", "CntCode": "US"});
        v
    }

    fn export_wop() -> Value {
        let mut v = export();
        v["TranDtls"]["SupTyp"] = json!("EXPWOP");
        for i in 0..2 {
            v["ItemList"][i]["IgstAmt"] = json!(0);
        }
        v["ItemList"][0]["TotItemVal"] = json!(100000);
        v["ItemList"][1]["TotItemVal"] = json!(20000);
        v["ValDtls"]["IgstVal"] = json!(0);
        v["ValDtls"]["TotInvVal"] = json!(120000);
        v
    }

    fn sez() -> Value {
        let mut v = inter();
        v["TranDtls"]["SupTyp"] = json!("SEZWP");
        v["BuyerDtls"]["Gstin"] = json!(SEZ_BUYER);
        v["BuyerDtls"]["Pos"] = json!("33");
        v["BuyerDtls"]["Stcd"] = json!("33");
        v["BuyerDtls"]["Pin"] = json!(600001);
        v
    }

    fn dexp() -> Value {
        let mut v = inter();
        v["TranDtls"]["SupTyp"] = json!("DEXP");
        v
    }

    fn crn() -> Value {
        let mut v = intra();
        v["DocDtls"] = json!({"Typ": "CRN", "No": "CN/2025/7", "Dt": "12/06/2025"});
        v["RefDtls"] = json!({"PrecDocDtls": [{"InvNo": "INV/2025/001", "InvDt": "10/06/2025"}]});
        v
    }

    fn ewb() -> Value {
        let mut v = intra();
        v["EwbDtls"] =
            json!({"TransMode": "1", "Distance": 12, "VehNo": "KA01AB1234", "VehType": "R"});
        v
    }

    fn ecm() -> Value {
        let mut v = intra();
        v["TranDtls"]["EcmGstin"] = json!(g(TCS));
        v
    }

    /// Reverse charge with TotItemVal excluding GST, as India Compliance reports it.
    fn rcm() -> Value {
        let mut v = intra();
        v["TranDtls"]["RegRev"] = json!("Y");
        v["ItemList"][0]["TotItemVal"] = json!(100000);
        v["ItemList"][1]["TotItemVal"] = json!(20000);
        v["ValDtls"]["TotInvVal"] = json!(120000);
        v
    }

    /// Goods only: IGST within the supplier's state may not mix goods and services (2249).
    fn igst_on_intra() -> Value {
        let mut v = igst_on_intra_mixed();
        goods_only(&mut v);
        v
    }

    fn igst_on_intra_mixed() -> Value {
        let mut v = intra();
        v["TranDtls"]["IgstOnIntra"] = json!("Y");
        to_igst(&mut v);
        v
    }

    /// Drops the service item (item 2) and its IGST from the totals.
    fn goods_only(v: &mut Value) {
        if let Some(items) = v["ItemList"].as_array_mut() {
            items.truncate(1);
        }
        v["ValDtls"]["AssVal"] = json!(100000);
        v["ValDtls"]["IgstVal"] = json!(18000);
        v["ValDtls"]["TotInvVal"] = json!(118000);
    }

    /// Courier service to a foreign POS from a domestic supplier (Jan 2023 rule).
    fn transport_pos_96() -> Value {
        let mut v = inter();
        v["BuyerDtls"]["Pos"] = json!("96");
        v["ItemList"] = json!([{"SlNo": "1", "IsServc": "Y", "HsnCd": "996812", "UnitPrice": 1000,
            "TotAmt": 1000, "AssAmt": 1000, "GstRt": 18, "IgstAmt": 180, "TotItemVal": 1180}]);
        v["ValDtls"] = json!({"AssVal": 1000, "IgstVal": 180, "TotInvVal": 1180});
        v
    }

    /// Every optional object present and valid.
    fn full() -> Value {
        let mut v = intra();
        v["DispDtls"] = json!({"Nm": "Acme Warehouse", "Addr1": "Plot 4", "Addr2": "Peenya",
            "Loc": "Bengaluru", "Pin": 560058, "Stcd": "29"});
        v["ShipDtls"] = json!({"Gstin": intra_buyer(), "LglNm": "Buyer Limited", "Addr1": "Site 9",
            "Loc": "Mysuru", "Pin": 570001, "Stcd": "29"});
        v["PayDtls"] = json!({"Nm": "Buyer Limited", "Mode": "Credit", "CrDay": 30, "PaidAmt": 0, "PaymtDue": 141600});
        v["RefDtls"] = json!({"InvRm": "Thanks", "DocPerdDtls": {"InvStDt": "01/06/2025", "InvEndDt": "30/06/2025"},
            "ContrDtls": [{"PORefr": "PO-77", "PORefDt": "01/06/2025"}]});
        v["AddlDocDtls"] = json!([{"Url": "https://acme.in/x", "Info": "terms"}]);
        v["ItemList"][0]["BchDtls"] = json!({"Nm": "BATCH1", "ExpDt": "01/01/2028"});
        v["ItemList"][0]["AttribDtls"] = json!([{"Nm": "colour", "Val": "black"}]);
        v["ItemList"][0]["OrgCntry"] = json!("IN");
        v["EwbDtls"] = json!({"TransId": intra_buyer(), "TransName": "Fast Movers", "TransMode": "1",
            "Distance": 150, "VehNo": "KA01AB1234", "VehType": "R"});
        v
    }

    fn validator(rules: &RulesConfig, with_tp: bool) -> Validator {
        Validator::new(rules, masters(), with_tp.then(taxpayers), today())
    }

    fn run(v: &Value, rules: &RulesConfig, with_tp: bool) -> Vec<Violation> {
        let inv: Invoice = serde_json::from_value(v.clone()).expect("test invoice parses");
        validator(rules, with_tp).validate(&inv)
    }

    fn set(v: &mut Value, ptr: &str, x: Value) {
        if let Some(slot) = v.pointer_mut(ptr) {
            *slot = x;
            return;
        }
        let (parent, key) = ptr.rsplit_once('/').unwrap();
        let obj = v.pointer_mut(parent).and_then(Value::as_object_mut);
        obj.unwrap_or_else(|| panic!("no {parent}"))
            .insert(key.to_owned(), x);
    }

    fn del(v: &mut Value, ptr: &str) {
        let (parent, key) = ptr.rsplit_once('/').unwrap();
        v.pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(key)
            .unwrap();
    }

    #[test]
    fn baselines_are_valid() {
        let rules = RulesConfig::default();
        for (name, v) in [
            ("intra", intra()),
            ("inter", inter()),
            ("export", export()),
            ("export_wop", export_wop()),
            ("sez", sez()),
            ("dexp", dexp()),
            ("crn", crn()),
            ("ewb", ewb()),
            ("ecm", ecm()),
            ("rcm", rcm()),
            ("igst_on_intra", igst_on_intra()),
            ("transport_pos_96", transport_pos_96()),
            ("full", full()),
        ] {
            for tp in [false, true] {
                let got = run(&v, &rules, tp);
                assert!(got.is_empty(), "{name} (taxpayers {tp}): {got:?}");
            }
        }
    }

    #[test]
    fn validator_is_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<Validator>();
    }

    #[test]
    fn decimal_limits() {
        assert_eq!(QTY_MAX.to_string(), "9999999999.999");
        assert_eq!(PRICE_MAX.to_string(), "999999999999.999");
        assert_eq!(AMT_MAX.to_string(), "999999999999.99");
        assert_eq!(RATE_MAX.to_string(), "999.999");
        assert_eq!(VAL_MAX.to_string(), "99999999999999.99");
        assert_eq!(
            percent(Decimal::new(10001, 2), Decimal::from(18)).to_string(),
            "18.00"
        );
        assert_eq!(
            half_percent(Decimal::new(333, 0), Decimal::from(5)).to_string(),
            "8.33"
        );
        assert_eq!(
            half_percent(Decimal::new(1, 1), Decimal::from(5)).to_string(),
            "0.00"
        );
        assert_eq!(
            percent(Decimal::new(10, 0), Decimal::new(125, 3)).to_string(),
            "0.01"
        );
    }

    type Mutation = fn(&mut Value);
    type RulesTweak = fn(&mut RulesConfig);

    struct Case {
        name: &'static str,
        base: fn() -> Value,
        mutate: Mutation,
        rules: RulesTweak,
        taxpayers: bool,
        code: u16,
    }

    fn no_tweak(_: &mut RulesConfig) {}

    fn ewb_reject(r: &mut RulesConfig) {
        r.ewb_errors_reject_irn = true;
    }

    /// Bill-to-ship-to: the goods go to another state than the POS.
    fn ship_elsewhere(v: &mut Value) {
        set(v, "/ShipDtls/Stcd", json!("27"));
        set(v, "/ShipDtls/Pin", json!(400001));
    }

    const fn case(name: &'static str, base: fn() -> Value, mutate: Mutation, code: u16) -> Case {
        Case {
            name,
            base,
            mutate,
            rules: no_tweak,
            taxpayers: false,
            code,
        }
    }

    const fn tp_case(name: &'static str, base: fn() -> Value, mutate: Mutation, code: u16) -> Case {
        Case {
            name,
            base,
            mutate,
            rules: no_tweak,
            taxpayers: true,
            code,
        }
    }

    const fn rule_case(
        name: &'static str,
        base: fn() -> Value,
        mutate: Mutation,
        rules: RulesTweak,
        code: u16,
    ) -> Case {
        Case {
            name,
            base,
            mutate,
            rules,
            taxpayers: false,
            code,
        }
    }

    fn cases() -> Vec<Case> {
        vec![
            // schema
            case(
                "version too long",
                intra,
                |v| set(v, "/Version", json!("1.1.1.1.1")),
                2140,
            ),
            case(
                "irn wrong length",
                intra,
                |v| set(v, "/Irn", json!("abc")),
                2140,
            ),
            case(
                "tax scheme",
                intra,
                |v| set(v, "/TranDtls/TaxSch", json!("VAT")),
                2140,
            ),
            case(
                "supply type",
                intra,
                |v| set(v, "/TranDtls/SupTyp", json!("B2C")),
                2140,
            ),
            case(
                "reg rev value",
                intra,
                |v| set(v, "/TranDtls/RegRev", json!("X")),
                2159,
            ),
            case(
                "ecm gstin shape",
                intra,
                |v| set(v, "/TranDtls/EcmGstin", json!("29abc")),
                2140,
            ),
            case(
                "igst on intra value",
                intra,
                |v| set(v, "/TranDtls/IgstOnIntra", json!("y")),
                2263,
            ),
            case(
                "doc type",
                intra,
                |v| set(v, "/DocDtls/Typ", json!("BIL")),
                2161,
            ),
            case(
                "doc no leading zero",
                intra,
                |v| set(v, "/DocDtls/No", json!("0INV1")),
                2140,
            ),
            case(
                "doc no too long",
                intra,
                |v| set(v, "/DocDtls/No", json!("A2345678901234567")),
                2140,
            ),
            case(
                "doc no bad char",
                intra,
                |v| set(v, "/DocDtls/No", json!("INV_1")),
                2140,
            ),
            case(
                "doc date format",
                intra,
                |v| set(v, "/DocDtls/Dt", json!("2025-06-10")),
                2225,
            ),
            case(
                "doc date calendar",
                intra,
                |v| set(v, "/DocDtls/Dt", json!("31/02/2025")),
                2225,
            ),
            case(
                "seller urp",
                intra,
                |v| set(v, "/SellerDtls/Gstin", json!("URP")),
                2213,
            ),
            case(
                "seller gstin shape",
                intra,
                |v| set(v, "/SellerDtls/Gstin", json!("29aafcc9980m1zr")),
                2140,
            ),
            case(
                "seller name short",
                intra,
                |v| set(v, "/SellerDtls/LglNm", json!("Ac")),
                2140,
            ),
            case(
                "seller name quote",
                intra,
                |v| set(v, "/SellerDtls/LglNm", json!("Acme \"Best\"")),
                2140,
            ),
            case(
                "seller addr2 short",
                intra,
                |v| set(v, "/SellerDtls/Addr2", json!("ab")),
                2140,
            ),
            case(
                "seller loc too long",
                intra,
                |v| set(v, "/SellerDtls/Loc", json!("x".repeat(51))),
                2140,
            ),
            case(
                "seller pin range",
                intra,
                |v| set(v, "/SellerDtls/Pin", json!(56001)),
                2140,
            ),
            case(
                "seller phone",
                intra,
                |v| set(v, "/SellerDtls/Ph", json!("98765-4321")),
                2140,
            ),
            case(
                "seller email",
                intra,
                |v| set(v, "/SellerDtls/Em", json!("billing.acme.in")),
                2140,
            ),
            case(
                "buyer gstin shape",
                intra,
                |v| set(v, "/BuyerDtls/Gstin", json!("ABC")),
                2140,
            ),
            case(
                "buyer backslash",
                intra,
                |v| set(v, "/BuyerDtls/Addr1", json!("a\\b")),
                2140,
            ),
            case(
                "buyer pin range",
                intra,
                |v| set(v, "/BuyerDtls/Pin", json!(1000000)),
                2140,
            ),
            case(
                "disp name short",
                full,
                |v| set(v, "/DispDtls/Nm", json!("W")),
                2140,
            ),
            case(
                "ship gstin shape",
                full,
                |v| set(v, "/ShipDtls/Gstin", json!("29-123")),
                2140,
            ),
            case("no items", intra, |v| set(v, "/ItemList", json!([])), 2228),
            rule_case("too many items", intra, |_| {}, |r| r.max_items = 1, 2173),
            case(
                "sl no pattern",
                intra,
                |v| set(v, "/ItemList/0/SlNo", json!("1a")),
                2140,
            ),
            case(
                "prd desc short",
                intra,
                |v| set(v, "/ItemList/0/PrdDesc", json!("PC")),
                2140,
            ),
            case(
                "is servc value",
                intra,
                |v| set(v, "/ItemList/0/IsServc", json!("X")),
                2140,
            ),
            case(
                "negative amount",
                intra,
                |v| set(v, "/ItemList/0/Discount", json!(-1)),
                2140,
            ),
            case(
                "rate too large",
                intra,
                |v| set(v, "/ItemList/0/CesRt", json!(1000)),
                2140,
            ),
            case(
                "qty too large",
                intra,
                |v| set(v, "/ItemList/0/FreeQty", json!(1e11)),
                2140,
            ),
            case(
                "batch name long",
                full,
                |v| set(v, "/ItemList/0/BchDtls/Nm", json!("x".repeat(21))),
                2140,
            ),
            case(
                "batch date",
                full,
                |v| set(v, "/ItemList/0/BchDtls/ExpDt", json!("31/13/2027")),
                2140,
            ),
            case(
                "attrib empty",
                full,
                |v| set(v, "/ItemList/0/AttribDtls/0/Val", json!("")),
                2140,
            ),
            case(
                "round off",
                intra,
                |v| set(v, "/ValDtls/RndOffAmt", json!(100)),
                2140,
            ),
            case(
                "val too large",
                intra,
                |v| set(v, "/ValDtls/TotInvValFc", json!(1e15)),
                2140,
            ),
            case(
                "cr day",
                full,
                |v| set(v, "/PayDtls/CrDay", json!(10000)),
                2140,
            ),
            case(
                "ifsc too long",
                full,
                |v| set(v, "/PayDtls/FinInsBr", json!("HDFC00001234")),
                2140,
            ),
            case(
                "doc period date",
                full,
                |v| set(v, "/RefDtls/DocPerdDtls/InvEndDt", json!("30/06/2035")),
                2140,
            ),
            case(
                "prec inv no",
                crn,
                |v| set(v, "/RefDtls/PrecDocDtls/0/InvNo", json!("/1")),
                2140,
            ),
            case(
                "prec inv date",
                crn,
                |v| set(v, "/RefDtls/PrecDocDtls/0/InvDt", json!("29/02/2025")),
                2140,
            ),
            case(
                "po ref date",
                full,
                |v| set(v, "/RefDtls/ContrDtls/0/PORefDt", json!("1/6/2025")),
                2140,
            ),
            case(
                "addl url short",
                full,
                |v| set(v, "/AddlDocDtls/0/Url", json!("x")),
                2140,
            ),
            case(
                "ship bill date",
                export,
                |v| set(v, "/ExpDtls/ShipBDt", json!("00/06/2025")),
                2140,
            ),
            case(
                "ref clm",
                export,
                |v| set(v, "/ExpDtls/RefClm", json!("YES")),
                2140,
            ),
            case(
                "trans id",
                full,
                |v| set(v, "/EwbDtls/TransId", json!("TRANS1")),
                2140,
            ),
            case(
                "trans mode",
                ewb,
                |v| set(v, "/EwbDtls/TransMode", json!("5")),
                2140,
            ),
            case(
                "distance",
                ewb,
                |v| set(v, "/EwbDtls/Distance", json!(4001)),
                2140,
            ),
            case(
                "veh no",
                ewb,
                |v| set(v, "/EwbDtls/VehNo", json!("KA 01")),
                2140,
            ),
            case(
                "veh type",
                ewb,
                |v| set(v, "/EwbDtls/VehType", json!("X")),
                2140,
            ),
            case(
                "trans doc no",
                ewb,
                |v| set(v, "/EwbDtls/TransDocNo", json!("LR 1")),
                2140,
            ),
            // GSTINs
            case(
                "seller checksum",
                intra,
                |v| set(v, "/SellerDtls/Gstin", json!("29AAFCC9980M1ZA")),
                3028,
            ),
            case(
                "buyer checksum",
                intra,
                |v| set(v, "/BuyerDtls/Gstin", json!("29AABCU9603R1ZA")),
                3028,
            ),
            case(
                "seller state mismatch",
                intra,
                |v| set(v, "/SellerDtls/Gstin", json!(INTER_BUYER)),
                2258,
            ),
            case(
                "buyer state mismatch",
                intra,
                |v| set(v, "/BuyerDtls/Gstin", json!(INTER_BUYER)),
                2265,
            ),
            case(
                "same gstin",
                intra,
                |v| set(v, "/BuyerDtls/Gstin", json!(SELLER)),
                2211,
            ),
            case(
                "ecm not tcs",
                intra,
                |v| set(v, "/TranDtls/EcmGstin", json!(INTER_BUYER)),
                2195,
            ),
            tp_case(
                "seller unknown",
                intra,
                |v| set(v, "/SellerDtls/Gstin", json!(g("29AAACZ9999Z1Z"))),
                3028,
            ),
            tp_case(
                "buyer unknown",
                intra,
                |v| set(v, "/BuyerDtls/Gstin", json!(g("29AAACZ9999Z1Z"))),
                3028,
            ),
            tp_case(
                "buyer cancelled",
                intra,
                |v| set(v, "/BuyerDtls/Gstin", json!(g("29AAACX1111A1Z"))),
                3029,
            ),
            tp_case(
                "ship-to gstin cancelled",
                full,
                |v| set(v, "/ShipDtls/Gstin", json!(g("29AAACX1111A1Z"))),
                3029,
            ),
            tp_case(
                "seller sez",
                intra,
                |v| set(v, "/SellerDtls/Gstin", json!(g("29AAACS2222B1Z"))),
                2231,
            ),
            tp_case(
                "b2b to sez",
                inter,
                |v| {
                    set(v, "/BuyerDtls/Gstin", json!(SEZ_BUYER));
                    set(v, "/BuyerDtls/Pos", json!("33"));
                    set(v, "/BuyerDtls/Stcd", json!("33"));
                    set(v, "/BuyerDtls/Pin", json!(600001));
                },
                2246,
            ),
            tp_case(
                "sez to non sez",
                inter,
                |v| set(v, "/TranDtls/SupTyp", json!("SEZWP")),
                2247,
            ),
            // states and PINs
            case(
                "seller state",
                intra,
                |v| set(v, "/SellerDtls/Stcd", json!("99")),
                2259,
            ),
            case(
                "seller state zero",
                intra,
                |v| set(v, "/SellerDtls/Stcd", json!("00")),
                2259,
            ),
            case(
                "buyer state",
                intra,
                |v| set(v, "/BuyerDtls/Stcd", json!("25")),
                2260,
            ),
            case(
                "pos invalid",
                intra,
                |v| set(v, "/BuyerDtls/Pos", json!("X")),
                2243,
            ),
            case(
                "dispatch state",
                full,
                |v| set(v, "/DispDtls/Stcd", json!("98")),
                2200,
            ),
            case(
                "ship state",
                full,
                |v| set(v, "/ShipDtls/Stcd", json!("0")),
                2200,
            ),
            case(
                "seller pin state",
                intra,
                |v| set(v, "/SellerDtls/Pin", json!(110001)),
                2178,
            ),
            case(
                "dispatch pin state",
                full,
                |v| set(v, "/DispDtls/Pin", json!(400001)),
                2178,
            ),
            case(
                "dispatch pin foreign",
                full,
                |v| set(v, "/DispDtls/Pin", json!(999999)),
                2273,
            ),
            case(
                "buyer pin state",
                intra,
                |v| set(v, "/BuyerDtls/Pin", json!(400001)),
                3039,
            ),
            rule_case(
                "seller pin in no state, NIC's codes",
                intra,
                |v| set(v, "/SellerDtls/Pin", json!(101301)),
                |r| r.nic_pin_codes = true,
                3038,
            ),
            rule_case(
                "seller pin of another state, NIC's codes",
                intra,
                |v| set(v, "/SellerDtls/Pin", json!(400001)),
                |r| r.nic_pin_codes = true,
                3039,
            ),
            // supply types
            case(
                "export buyer not urp",
                export,
                |v| {
                    set(v, "/BuyerDtls/Gstin", json!(INTER_BUYER));
                },
                2248,
            ),
            case(
                "export pos",
                export,
                |v| set(v, "/BuyerDtls/Pos", json!("27")),
                2232,
            ),
            case(
                "export buyer state",
                export,
                |v| set(v, "/BuyerDtls/Stcd", json!("27")),
                2261,
            ),
            case(
                "export cgst",
                export,
                |v| set(v, "/ItemList/0/CgstAmt", json!(10)),
                2180,
            ),
            case(
                "export details missing",
                export,
                |v| del(v, "/ExpDtls"),
                2208,
            ),
            case(
                "export wop igst",
                export_wop,
                |v| set(v, "/ItemList/0/IgstAmt", json!(18000)),
                2235,
            ),
            case(
                "export port",
                export,
                |v| set(v, "/ExpDtls/Port", json!("XXABC9")),
                2201,
            ),
            case(
                "export country",
                export,
                |v| set(v, "/ExpDtls/CntCode", json!("us")),
                2202,
            ),
            case(
                "export currency",
                export,
                |v| set(v, "/ExpDtls/ForCur", json!("XYZ")),
                2203,
            ),
            case(
                "b2b urp",
                intra,
                |v| set(v, "/BuyerDtls/Gstin", json!("URP")),
                2212,
            ),
            case(
                "sez urp",
                sez,
                |v| set(v, "/BuyerDtls/Gstin", json!("URP")),
                2212,
            ),
            case(
                "dexp urp",
                dexp,
                |v| set(v, "/BuyerDtls/Gstin", json!("URP")),
                2171,
            ),
            case(
                "b2b pos 96",
                inter,
                |v| set(v, "/BuyerDtls/Pos", json!("96")),
                2242,
            ),
            case(
                "sez cgst",
                sez,
                |v| set(v, "/ItemList/1/SgstAmt", json!(5)),
                2237,
            ),
            rule_case(
                "sez pos 96 rule",
                sez,
                |_| {},
                |r| r.sez_recipient_pos_96 = true,
                2229,
            ),
            rule_case(
                "sez stcd 96 rule",
                sez,
                |_| {},
                |r| r.sez_recipient_pos_96 = true,
                2261,
            ),
            case(
                "rcm for export",
                export,
                |v| set(v, "/TranDtls/RegRev", json!("Y")),
                2162,
            ),
            case(
                "ship-to gstin is the buyer's, after the advisory",
                full,
                |v| set(v, "/DocDtls/Dt", json!("10/08/2026")),
                2323,
            ),
            case(
                "unit of two letters",
                intra,
                |v| set(v, "/ItemList/0/Unit", json!("NO")),
                2140,
            ),
            case(
                "goods and services under igst on intra",
                intra,
                |v| {
                    set(v, "/TranDtls/IgstOnIntra", json!("Y"));
                    to_igst(v);
                },
                2249,
            ),
            case(
                "goods and services to an sez in the supplier's state",
                sez,
                |v| set(v, "/BuyerDtls/Pos", json!("29")),
                2249,
            ),
            case(
                "igst on intra pos",
                inter,
                |v| set(v, "/TranDtls/IgstOnIntra", json!("Y")),
                2262,
            ),
            case(
                "intra igst",
                intra,
                |v| set(v, "/ItemList/0/IgstAmt", json!(1)),
                2172,
            ),
            case(
                "intra cgst missing",
                intra,
                |v| del(v, "/ItemList/0/CgstAmt"),
                2241,
            ),
            case(
                "inter cgst",
                inter,
                |v| set(v, "/ItemList/0/CgstAmt", json!(9000)),
                2174,
            ),
            case(
                "igst on intra cgst",
                intra,
                |v| set(v, "/TranDtls/IgstOnIntra", json!("Y")),
                2174,
            ),
            rule_case(
                "ship state not pos",
                full,
                ship_elsewhere,
                |r| r.ship_to_state_equals_pos = true,
                2245,
            ),
            case(
                "cgst ne sgst",
                intra,
                |v| set(v, "/ItemList/0/CgstAmt", json!(9000.5)),
                2227,
            ),
            // items
            case(
                "hsn not in master",
                intra,
                |v| set(v, "/ItemList/0/HsnCd", json!("847199")),
                2176,
            ),
            case(
                "hsn pattern",
                intra,
                |v| set(v, "/ItemList/0/HsnCd", json!("0000")),
                2176,
            ),
            case(
                "hsn 4 digits",
                intra,
                |v| set(v, "/ItemList/0/HsnCd", json!("8471")),
                2176,
            ),
            case(
                "service with goods hsn",
                intra,
                |v| set(v, "/ItemList/1/IsServc", json!("N")),
                2199,
            ),
            case(
                "goods with sac",
                intra,
                |v| set(v, "/ItemList/0/IsServc", json!("Y")),
                2199,
            ),
            case(
                "goods qty missing",
                intra,
                |v| del(v, "/ItemList/0/Qty"),
                2238,
            ),
            case(
                "goods unit missing",
                intra,
                |v| del(v, "/ItemList/0/Unit"),
                2239,
            ),
            case(
                "unit not uqc",
                intra,
                |v| set(v, "/ItemList/0/Unit", json!("PIECES")),
                2177,
            ),
            case(
                "unit pattern",
                intra,
                |v| set(v, "/ItemList/0/Unit", json!("N0S")),
                2177,
            ),
            case(
                "origin country",
                full,
                |v| set(v, "/ItemList/0/OrgCntry", json!("XX")),
                2202,
            ),
            case(
                "gst rate",
                intra,
                |v| set(v, "/ItemList/0/GstRt", json!(17)),
                2240,
            ),
            case(
                "duplicate sl no",
                intra,
                |v| set(v, "/ItemList/1/SlNo", json!("1")),
                2233,
            ),
            // arithmetic
            case(
                "tot amt",
                intra,
                |v| set(v, "/ItemList/0/Qty", json!(3)),
                2192,
            ),
            case(
                "ass amt",
                intra,
                |v| set(v, "/ItemList/0/Discount", json!(500)),
                2193,
            ),
            case(
                "igst amount",
                inter,
                |v| set(v, "/ItemList/0/IgstAmt", json!(17000)),
                2235,
            ),
            case(
                "cgst sgst amount",
                intra,
                |v| {
                    set(v, "/ItemList/0/CgstAmt", json!(8000));
                    set(v, "/ItemList/0/SgstAmt", json!(8000));
                },
                2234,
            ),
            case(
                "cess amount",
                intra,
                |v| set(v, "/ItemList/0/CesRt", json!(1)),
                2266,
            ),
            case(
                "state cess amount",
                intra,
                |v| set(v, "/ItemList/0/StateCesAmt", json!(50)),
                2267,
            ),
            case(
                "tot item val",
                intra,
                |v| set(v, "/ItemList/0/TotItemVal", json!(117000)),
                2194,
            ),
            case(
                "ass val",
                intra,
                |v| set(v, "/ValDtls/AssVal", json!(119000)),
                2182,
            ),
            case(
                "sgst val",
                intra,
                |v| set(v, "/ValDtls/SgstVal", json!(10000)),
                2183,
            ),
            case(
                "cgst val",
                intra,
                |v| set(v, "/ValDtls/CgstVal", json!(10000)),
                2184,
            ),
            case(
                "igst val",
                inter,
                |v| set(v, "/ValDtls/IgstVal", json!(20000)),
                2185,
            ),
            case(
                "ces val",
                intra,
                |v| set(v, "/ValDtls/CesVal", json!(5)),
                2186,
            ),
            case(
                "non-advol ces val",
                intra,
                |v| {
                    // The item carries non-advol cess, CesVal leaves it out.
                    set(v, "/ItemList/0/CesNonAdvlAmt", json!(50));
                    set(v, "/ItemList/0/TotItemVal", json!(118050));
                    set(v, "/ValDtls/CesVal", json!(0));
                    set(v, "/ValDtls/TotInvVal", json!(141650));
                },
                2188,
            ),
            case(
                "st ces val",
                intra,
                |v| set(v, "/ValDtls/StCesVal", json!(5)),
                2187,
            ),
            case(
                "tot inv val",
                intra,
                |v| set(v, "/ValDtls/TotInvVal", json!(141000)),
                2189,
            ),
            case(
                "discount too big",
                intra,
                |v| {
                    set(v, "/ValDtls/Discount", json!(141600));
                    set(v, "/ValDtls/TotInvVal", json!(0));
                },
                2220,
            ),
            rule_case(
                "item oth chrg sum",
                intra,
                |v| set(v, "/ValDtls/OthChrg", json!(10)),
                |r| r.item_oth_chrg_sum = true,
                2264,
            ),
            // dates
            case(
                "future date",
                intra,
                |v| set(v, "/DocDtls/Dt", json!("16/06/2025")),
                2218,
            ),
            case(
                "invoice period reversed",
                intra,
                |v| {
                    v["RefDtls"] =
                        json!({"DocPerdDtls": {"InvStDt": "30/06/2025", "InvEndDt": "01/06/2025"}})
                },
                2219,
            ),
            tp_case(
                "reporting window",
                intra,
                |v| set(v, "/DocDtls/Dt", json!("16/05/2025")),
                2305,
            ),
            // notes
            rule_case(
                "note without original",
                crn,
                |v| del(v, "/RefDtls"),
                |r| r.require_preceding_doc_for_notes = true,
                2191,
            ),
            rule_case(
                "inv with original",
                crn,
                |v| set(v, "/DocDtls/Typ", json!("INV")),
                |r| r.reject_preceding_doc_for_inv = true,
                2210,
            ),
            // e-way bill
            rule_case(
                "ewb on crn",
                ewb,
                |v| set(v, "/DocDtls/Typ", json!("CRN")),
                ewb_reject,
                2252,
            ),
            rule_case(
                "ewb services only",
                ewb,
                |v| {
                    let items = v["ItemList"].as_array_mut().unwrap();
                    items.remove(0);
                    set(
                        v,
                        "/ValDtls",
                        json!({"AssVal": 20000, "CgstVal": 1800, "SgstVal": 1800, "TotInvVal": 23600}),
                    );
                },
                ewb_reject,
                2251,
            ),
            rule_case(
                "ewb road without vehicle",
                ewb,
                |v| del(v, "/EwbDtls/VehNo"),
                ewb_reject,
                2253,
            ),
            rule_case(
                "ewb rail without doc",
                ewb,
                |v| set(v, "/EwbDtls/TransMode", json!("2")),
                ewb_reject,
                2254,
            ),
        ]
    }

    #[test]
    fn every_code_is_triggered() {
        let mut failures = Vec::new();
        for c in cases() {
            let mut v = (c.base)();
            (c.mutate)(&mut v);
            let mut rules = RulesConfig::default();
            (c.rules)(&mut rules);
            let got = run(&v, &rules, c.taxpayers);
            if !got.iter().any(|x| x.code == c.code) {
                failures.push(format!("{}: expected {}, got {got:?}", c.name, c.code));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// 2323 from the document date of the advisory on, and only for the buyer's own GSTIN.
    #[test]
    fn ship_to_gstin_must_differ_from_the_buyer_from_august_2026() {
        let codes = |v: &Value, rules: &RulesConfig| -> Vec<u16> {
            let today = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
            let inv: Invoice = serde_json::from_value(v.clone()).unwrap();
            Validator::new(rules, masters(), None, today)
                .validate(&inv)
                .iter()
                .map(|x| x.code)
                .collect()
        };
        let rules = RulesConfig::default();
        let mut v = full();
        set(&mut v, "/DocDtls/Dt", json!("01/08/2026"));
        assert_eq!(codes(&v, &rules), vec![2323]);
        set(
            &mut v,
            "/ShipDtls/Gstin",
            json!(intra_buyer().to_lowercase()),
        );
        // Lower case also breaks the GSTIN pattern (2140); it is still the buyer's GSTIN.
        assert_eq!(codes(&v, &rules), vec![2140, 2323], "case-insensitive");
        set(&mut v, "/ShipDtls/Gstin", json!(intra_buyer()));
        set(&mut v, "/DocDtls/Dt", json!("31/07/2026"));
        assert_eq!(
            codes(&v, &rules),
            Vec::<u16>::new(),
            "dated before the advisory"
        );
        set(&mut v, "/DocDtls/Dt", json!("01/08/2026"));
        set(&mut v, "/ShipDtls/Gstin", json!("URP"));
        assert_eq!(
            codes(&v, &rules),
            Vec::<u16>::new(),
            "unregistered consignee"
        );
        set(&mut v, "/ShipDtls/Gstin", json!(intra_buyer()));
        let off = RulesConfig {
            ship_gstin_distinct: false,
            ..RulesConfig::default()
        };
        assert_eq!(codes(&v, &off), Vec::<u16>::new(), "switched off");
    }

    /// 2249 only where IGST is charged within the supplier's own state: the same mix is fine
    /// intra-state, inter-state and to an SEZ elsewhere, and one kind of item is fine anywhere.
    #[test]
    fn goods_and_services_mix_only_under_igst_within_the_supplier_state() {
        let rules = RulesConfig::default();
        let codes =
            |v: &Value| -> Vec<u16> { run(v, &rules, false).iter().map(|x| x.code).collect() };
        assert_eq!(codes(&igst_on_intra_mixed()), vec![2249]);
        for (name, v) in [
            ("intra", intra()),
            ("inter", inter()),
            ("sez", sez()),
            ("igst on intra", igst_on_intra()),
        ] {
            assert_eq!(codes(&v), Vec::<u16>::new(), "{name}");
        }
        let mut services = igst_on_intra_mixed();
        services["ItemList"].as_array_mut().unwrap().remove(0);
        set(&mut services, "/ItemList/0/SlNo", json!("1"));
        set(&mut services, "/ValDtls/AssVal", json!(20000));
        set(&mut services, "/ValDtls/IgstVal", json!(3600));
        set(&mut services, "/ValDtls/TotInvVal", json!(23600));
        assert_eq!(codes(&services), Vec::<u16>::new(), "services only");
    }

    /// By default an e-way bill problem does not cost the IRN: the invoice is accepted and the
    /// e-way bill system's code (the first one, as NIC answers) rides on the response.
    #[test]
    fn ewb_problems_ride_on_the_accepted_irn_by_default() {
        let rules = RulesConfig::default();
        fn services_only(v: &mut Value) {
            v["ItemList"].as_array_mut().unwrap().remove(0);
            set(
                v,
                "/ValDtls",
                json!({"AssVal": 20000, "CgstVal": 1800, "SgstVal": 1800, "TotInvVal": 23600}),
            );
        }
        // The codes that ride on the accepted IRN under `rules`.
        let ewb_codes = |rules: &RulesConfig, v: Value| -> Vec<u16> {
            let inv: Invoice = serde_json::from_value(v).unwrap();
            validator(rules, false)
                .ewb_errors(&inv)
                .iter()
                .map(|x| x.code)
                .collect()
        };
        let cases: [(&str, Mutation, Option<u16>); 15] = [
            ("complete", |_| {}, None),
            (
                "credit note",
                |v| set(v, "/DocDtls/Typ", json!("CRN")),
                Some(4010),
            ),
            (
                "transport document before the invoice",
                |v| {
                    set(v, "/EwbDtls/TransDocNo", json!("LR/1"));
                    set(v, "/EwbDtls/TransDocDt", json!("01/01/2025"));
                },
                Some(4021),
            ),
            (
                "distance only",
                |v| set(v, "/EwbDtls", json!({"Distance": 0})),
                Some(4019),
            ),
            (
                "road without vehicle",
                |v| del(v, "/EwbDtls/VehNo"),
                Some(4011),
            ),
            (
                "road without vehicle type",
                |v| del(v, "/EwbDtls/VehType"),
                Some(4022),
            ),
            (
                "rail without doc",
                |v| set(v, "/EwbDtls/TransMode", json!("2")),
                Some(4012),
            ),
            (
                "rail with a doc number but no date",
                |v| {
                    set(v, "/EwbDtls/TransMode", json!("2"));
                    set(v, "/EwbDtls/TransDocNo", json!("RR/7"));
                },
                Some(4023),
            ),
            (
                "valid transporter id",
                |v| set(v, "/EwbDtls/TransId", json!(g("29AAACT1234A1Z"))),
                None,
            ),
            (
                "transporter id failing the checksum",
                |v| {
                    let good = g("29AAACT1234A1Z");
                    let last = if good.ends_with('A') { "B" } else { "A" };
                    set(
                        v,
                        "/EwbDtls/TransId",
                        json!(format!("{}{last}", &good[..14])),
                    );
                },
                Some(4018),
            ),
            (
                "road with a vehicle number in no format of NIC's master",
                |v| set(v, "/EwbDtls/VehNo", json!("KA1234")),
                Some(4014),
            ),
            (
                "ODC by air",
                |v| {
                    set(v, "/EwbDtls/TransMode", json!("3"));
                    set(v, "/EwbDtls/TransDocNo", json!("AWB1"));
                    let dt = v["DocDtls"]["Dt"].clone();
                    set(v, "/EwbDtls/TransDocDt", dt);
                    set(v, "/EwbDtls/VehType", json!("O"));
                },
                Some(4024),
            ),
            (
                "ODC by ship",
                |v| {
                    set(v, "/EwbDtls/TransMode", json!("4"));
                    set(v, "/EwbDtls/TransDocNo", json!("BL1"));
                    let dt = v["DocDtls"]["Dt"].clone();
                    set(v, "/EwbDtls/TransDocDt", dt);
                    set(v, "/EwbDtls/VehType", json!("O"));
                },
                None,
            ),
            ("services only", services_only, Some(4009)),
            // NIC's order: the missing transporter comes before the services-only rule.
            (
                "services only, distance only",
                |v| {
                    services_only(v);
                    set(v, "/EwbDtls", json!({"Distance": 0}));
                },
                Some(4019),
            ),
        ];
        for (name, mutate, expected) in cases {
            let mut v = ewb();
            mutate(&mut v);
            assert_eq!(run(&v, &rules, false), Vec::new(), "{name}");
            let codes = ewb_codes(&rules, v);
            assert_eq!(codes, expected.into_iter().collect::<Vec<_>>(), "{name}");
        }
        // Rejecting instead: a Part B problem is 2254 and nothing rides on the response; a
        // missing transporter has no rejection code, so it still rides as 4019.
        let mut reject = RulesConfig::default();
        ewb_reject(&mut reject);
        let mut rail = ewb();
        set(&mut rail, "/EwbDtls/TransMode", json!("2"));
        assert_eq!(run(&rail, &reject, false)[0].code, 2254);
        assert!(ewb_codes(&reject, rail).is_empty());
        let mut part_a = ewb();
        set(&mut part_a, "/EwbDtls", json!({"Distance": 0}));
        assert_eq!(run(&part_a, &reject, false), Vec::new());
        assert_eq!(ewb_codes(&reject, part_a), [4019]);
        // A transporter id failing the checksum rides as 4018 in either mode, and not at all
        // when the checksum is not enforced (NIC's sandbox ids fail it).
        let good = g("29AAACT1234A1Z");
        let bad = format!(
            "{}{}",
            &good[..14],
            if good.ends_with('A') { 'B' } else { 'A' }
        );
        let mut transporter = ewb();
        set(&mut transporter, "/EwbDtls/TransId", json!(bad));
        assert_eq!(run(&transporter, &reject, false), Vec::new());
        assert_eq!(ewb_codes(&reject, transporter.clone()), [4018]);
        let lax = RulesConfig {
            gstin_checksum: false,
            ..RulesConfig::default()
        };
        assert!(ewb_codes(&lax, transporter).is_empty());
        // A recipient in Other Territory (PIN 999999) and no ship-to: NIC cannot compute the
        // distance (Distance 0), 4034; a given distance is fine.
        let mut far = inter();
        far["BuyerDtls"] = json!({"Gstin": g("97AABCU9603R1Z"), "LglNm": "Buyer Limited",
            "Pos": "97", "Addr1": "Plot 5", "Loc": "Offshore", "Pin": 999999, "Stcd": "97"});
        far["EwbDtls"] =
            json!({"TransMode": "1", "Distance": 0, "VehNo": "KA01AB1234", "VehType": "R"});
        assert_eq!(run(&far, &rules, false), Vec::new());
        assert_eq!(ewb_codes(&rules, far.clone()), [4034]);
        far["EwbDtls"]["Distance"] = json!(420);
        assert!(ewb_codes(&rules, far).is_empty());
        // An export's e-way bill needs a ship-to in India, the port the goods leave from (NIC's
        // FAQ 28): none 4031, abroad 4032, PIN 999999 4033. Rejecting instead, all are 2236.
        let mut export = export();
        export["EwbDtls"] =
            json!({"TransMode": "1", "Distance": 420, "VehNo": "KA01AB1234", "VehType": "R"});
        let abroad = json!({"LglNm": "Crescent FZE", "Addr1": "Jebel Ali", "Loc": "Dubai",
            "Pin": 999999, "Stcd": "96"});
        let territory = json!({"LglNm": "Rig 7", "Addr1": "Block 12", "Loc": "Offshore",
            "Pin": 999999, "Stcd": "97"});
        for (ship, code) in [
            (None, 4031),
            (Some(&abroad), 4032),
            (Some(&territory), 4033),
        ] {
            let mut v = export.clone();
            if let Some(ship) = ship {
                v["ShipDtls"] = ship.clone();
            }
            assert_eq!(run(&v, &rules, false), Vec::new(), "{code}");
            assert_eq!(ewb_codes(&rules, v.clone()), [code]);
            let refused: Vec<u16> = run(&v, &reject, false).iter().map(|x| x.code).collect();
            assert_eq!(refused, [2236], "{code}");
            assert!(ewb_codes(&reject, v).is_empty(), "{code}");
        }
        // Outside exports a ship-to abroad still cannot make an e-way bill, but no IRN code
        // is known for it: it rides as 4032 in either mode.
        let mut b2b = ewb();
        b2b["ShipDtls"] = abroad;
        assert_eq!(run(&b2b, &reject, false), Vec::new());
        assert_eq!(ewb_codes(&reject, b2b.clone()), [4032]);
        assert_eq!(ewb_codes(&rules, b2b), [4032]);
        // Dispatched from abroad (4035) or from Other Territory's PIN 999999 (4036): the IRN
        // stands, the e-way bill cannot be made.
        for (stcd, pin, code) in [("96", 110001, 4035), ("97", 999999, 4036)] {
            let mut v = ewb();
            v["DispDtls"] = json!({"Nm": "Depot", "Addr1": "Dock 4", "Loc": "Port Area",
                "Pin": pin, "Stcd": stcd});
            assert_eq!(run(&v, &rules, false), Vec::new(), "{stcd}");
            assert_eq!(ewb_codes(&rules, v), [code], "{stcd}");
        }
        // Shipped to a port in India: the e-way bill can be made, even for Distance 0.
        export["EwbDtls"]["Distance"] = json!(0);
        export["ShipDtls"] = json!({"LglNm": "Chennai Port", "Addr1": "Rajaji Salai",
            "Loc": "Chennai", "Pin": 600001, "Stcd": "33"});
        assert_eq!(run(&export, &rules, false), Vec::new());
        assert!(ewb_codes(&rules, export).is_empty());
    }

    #[test]
    fn nic_pin_codes_word_the_party_as_nic_does() {
        let nic = RulesConfig {
            nic_pin_codes: true,
            ..RulesConfig::default()
        };
        let mut v = intra();
        set(&mut v, "/SellerDtls/Pin", json!(101301));
        set(&mut v, "/BuyerDtls/Pin", json!(400001));
        let got = run(&v, &nic, false);
        let pairs: Vec<(u16, &str)> = got.iter().map(|x| (x.code, x.message.as_str())).collect();
        assert_eq!(
            pairs,
            [
                (
                    3038,
                    "Seller details Details:Pincode-101301 does not exists"
                ),
                (
                    3039,
                    "Buyer Details:Pincode-400001 does not belong to the state-29"
                ),
            ]
        );
        // The reference's codes by default: the unknown prefix is outside the state too.
        let codes: Vec<u16> = run(&v, &RulesConfig::default(), false)
            .iter()
            .map(|x| x.code)
            .collect();
        assert_eq!(codes, [2178, 3039]);
    }

    #[test]
    fn serial_numbers_repeat_only_when_equal_strings() {
        let v = Validator::new(&RulesConfig::default(), masters(), None, today());
        let items = |sl: &[&str]| -> Vec<Item> {
            let base = intra()["ItemList"][1].clone();
            sl.iter()
                .map(|n| {
                    let mut it = base.clone();
                    it["SlNo"] = json!(n);
                    serde_json::from_value(it).unwrap()
                })
                .collect()
        };
        let dup = |sl: &[&str]| {
            let mut sink = Sink::default();
            v.sl_no_unique(&mut sink, &items(sl));
            sink.out.iter().any(|x| x.code == DUP_SL_NO)
        };
        // Packed keys: "1" and "01" differ, as strings do.
        assert!(!dup(&["1", "01", "10", "100"]));
        assert!(dup(&["1", "2", "1"]));
        // Longer than a packed key (the schema refuses them, the check still runs).
        assert!(!dup(&["12345678", "12345679", "1"]));
        assert!(dup(&["12345678", "2", "12345678"]));
        // More items than the quadratic path takes.
        let many: Vec<String> = (1..=70).map(|n| n.to_string()).collect();
        let mut many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(!dup(&many));
        many.push("7");
        assert!(dup(&many));
    }

    #[test]
    fn hsn_numbers() {
        assert_eq!(hsn_number("998313"), Some(998_313));
        assert_eq!(hsn_number("0101"), Some(101));
        assert_eq!(hsn_number("61149090"), Some(61_149_090));
        for bad in [
            "",
            "123",
            "12345",
            "1234567",
            "123456789",
            "0000",
            "00000000",
            "12a4",
            "+123",
        ] {
            assert_eq!(hsn_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn vehicle_numbers_follow_nic_formats() {
        for ok in [
            "KA011234",
            "KA01A1234",
            "ka01ab1234",
            "ABC1234",
            "KA123A1234",
            "DL01ABC1234",
            "DF123456",
            "DF12345678",
            "TM12345",
            "TMAB1234567890X",
            "BP12345",
            "NP1234567",
            "DFA1234",
        ] {
            assert!(vehicle_no_ok(ok), "{ok}");
        }
        for bad in [
            "KA1234",           // too short for any format
            "KA1A1234",         // one-digit district (NIC asks for DL01..., not DL1...)
            "KA01ABCD1234",     // four series letters
            "KA01AB123",        // three-digit number
            "1234KA01",         // digits first
            "DF12345",          // defence, too short
            "DF1234567890ABCD", // defence, over 15
            "TM1234",           // temporary, under 7
            "TM12345678901234", // temporary, over 15
            "KA01-AB1234",      // not alphanumeric
        ] {
            assert!(!vehicle_no_ok(bad), "{bad}");
        }
    }

    /// 2273 is for PIN 999999 on a dispatch from an Indian state; Other Territory keeps it.
    #[test]
    fn dispatch_from_other_territory_keeps_pin_999999() {
        let mut v = full();
        set(&mut v, "/DispDtls/Pin", json!(999999));
        set(&mut v, "/DispDtls/Stcd", json!("97"));
        assert!(run(&v, &RulesConfig::default(), false)
            .iter()
            .all(|x| x.code != 2273));
    }

    /// With `tot_amt_qty_price` off, TotAmt is not held to Qty x UnitPrice (the sandbox's
    /// reading); the rest of the item arithmetic still is.
    #[test]
    fn tot_amt_check_can_be_switched_off() {
        let rules = RulesConfig {
            tot_amt_qty_price: false,
            ..RulesConfig::default()
        };
        let mut v = intra();
        set(&mut v, "/ItemList/0/Qty", json!(3));
        assert_eq!(run(&v, &rules, false), Vec::new());
        set(&mut v, "/ItemList/0/AssAmt", json!(1));
        assert!(run(&v, &rules, false).iter().any(|x| x.code == 2193));
    }

    /// Outside exports the port, country and currency masters do not decide (NIC signed such
    /// B2B invoices: Port "12", CntCode "29").
    #[test]
    fn export_details_outside_the_masters_on_a_b2b_invoice_are_accepted() {
        let mut v = intra();
        v["ExpDtls"] = json!({"Port": "12", "CntCode": "29", "ForCur": "INR"});
        assert_eq!(run(&v, &RulesConfig::default(), false), Vec::new());
    }

    /// A ship-to GSTIN the master does not know is not 3028 (only seller and buyer are).
    #[test]
    fn ship_to_gstin_unknown_to_the_master_is_let_through() {
        let mut v = full();
        set(&mut v, "/ShipDtls/Gstin", json!(g("29AAACZ9999Z1Z")));
        assert_eq!(run(&v, &RulesConfig::default(), true), Vec::new());
    }

    /// Bill-to-ship-to across states is accepted unless 2245 is switched on.
    #[test]
    fn ship_to_state_other_than_pos_is_accepted_by_default() {
        let mut v = full();
        ship_elsewhere(&mut v);
        assert!(run(&v, &RulesConfig::default(), false)
            .iter()
            .all(|x| x.code != 2245));
    }

    #[test]
    fn cess_totals_split_2186_and_2188() {
        let codes = |v: &Value| -> Vec<u16> {
            run(v, &RulesConfig::default(), false)
                .iter()
                .map(|x| x.code)
                .collect()
        };
        let mut v = intra();
        set(&mut v, "/ItemList/0/CesNonAdvlAmt", json!(50));
        set(&mut v, "/ItemList/0/TotItemVal", json!(118050));
        set(&mut v, "/ValDtls/TotInvVal", json!(141650));
        // CesVal includes the non-advol cess: valid.
        set(&mut v, "/ValDtls/CesVal", json!(50));
        assert_eq!(codes(&v), Vec::<u16>::new());
        // CesVal leaves it out: 2188 alone.
        set(&mut v, "/ValDtls/CesVal", json!(0));
        assert_eq!(codes(&v), vec![2188]);
        // CesVal matches neither: 2186.
        set(&mut v, "/ValDtls/CesVal", json!(20));
        assert_eq!(codes(&v), vec![2186]);
    }

    #[test]
    fn one_violation_per_code_per_item() {
        let mut v = intra();
        // Three 2140 problems and two 2176-worthy problems on item 0.
        set(&mut v, "/ItemList/0/PrdDesc", json!("x"));
        set(&mut v, "/ItemList/0/Barcde", json!("y"));
        set(&mut v, "/ItemList/0/SlNo", json!("z"));
        set(&mut v, "/ItemList/0/HsnCd", json!("8471"));
        let got = run(&v, &RulesConfig::default(), false);
        let count = |code| got.iter().filter(|x| x.code == code).count();
        assert_eq!(count(2140), 1, "{got:?}");
        assert_eq!(count(2176), 1, "{got:?}");
        // Header-level schema errors are one per field.
        let mut v = intra();
        set(&mut v, "/SellerDtls/LglNm", json!("x"));
        set(&mut v, "/BuyerDtls/LglNm", json!("y"));
        assert_eq!(run(&v, &RulesConfig::default(), false).len(), 2);
    }

    #[test]
    fn messages_name_the_item() {
        let mut v = intra();
        set(&mut v, "/ItemList/1/HsnCd", json!("123456"));
        let got = run(&v, &RulesConfig::default(), false);
        assert_eq!(got[0].message, "HSN code(s)-123456 is invalid");
        let mut v = intra();
        set(&mut v, "/SellerDtls/LglNm", json!("Ac"));
        let got = run(&v, &RulesConfig::default(), false);
        assert_eq!(
            got[0].message,
            "#/SellerDtls/LglNm: length 2 is below the minimum 3"
        );
    }

    #[test]
    fn tolerance_is_inclusive() {
        let rules = RulesConfig::default();
        let mut v = intra();
        set(&mut v, "/ValDtls/TotInvVal", json!(141601));
        assert!(run(&v, &rules, false).is_empty());
        set(&mut v, "/ValDtls/TotInvVal", json!(141601.01));
        assert_eq!(run(&v, &rules, false)[0].code, 2189);
        let mut v = intra();
        set(&mut v, "/ValDtls/RndOffAmt", json!(-0.4));
        set(&mut v, "/ValDtls/TotInvVal", json!(141599.6));
        assert!(run(&v, &rules, false).is_empty());
        let strict = RulesConfig {
            tolerance: 0.0,
            ..RulesConfig::default()
        };
        let mut v = intra();
        set(&mut v, "/ValDtls/TotInvVal", json!(141600.01));
        assert_eq!(run(&v, &strict, false)[0].code, 2189);
    }

    #[test]
    fn a_fractional_tolerance_is_not_rounded_to_the_amounts_scale() {
        // Whole-rupee amounts differ by 1 at scale 0: above a 0.5 tolerance, however it is
        // written, on the decimal path (TotInvVal) as on the fixed-point one (TotAmt).
        let half = RulesConfig {
            tolerance: 0.5,
            ..RulesConfig::default()
        };
        let mut v = intra();
        set(&mut v, "/ValDtls/TotInvVal", json!(141601));
        assert_eq!(run(&v, &half, false)[0].code, 2189);
        set(&mut v, "/ValDtls/TotInvVal", json!(141600.5));
        assert!(run(&v, &half, false).is_empty());
        let v0 = intra();
        let mut v = v0.clone();
        let tot = v0["ItemList"][0]["TotAmt"].as_f64().unwrap_or_default();
        set(&mut v, "/ItemList/0/TotAmt", json!(tot + 1.0));
        assert!(run(&v, &half, false).iter().any(|x| x.code == 2192));
    }

    #[test]
    fn intra_tax_is_checked_as_a_total_too() {
        // 20000 x 18% = 3600, 1800 each. 1800.8 each is within a rupee of its half but 1.60
        // over in total (the fixed-point path); so is 1800.8001 each, whose 4th decimal sends
        // it down the decimal path.
        let rules = RulesConfig::default();
        for each in [json!(1800.8), json!(1800.8001)] {
            let mut v = intra();
            set(&mut v, "/ItemList/1/CgstAmt", each.clone());
            set(&mut v, "/ItemList/1/SgstAmt", each);
            let got = run(&v, &rules, false);
            assert!(got.iter().any(|x| x.code == 2234), "{got:?}");
        }
        // 0.4 each (0.8 in total) is within the tolerance.
        let mut v = intra();
        set(&mut v, "/ItemList/1/CgstAmt", json!(1800.4));
        set(&mut v, "/ItemList/1/SgstAmt", json!(1800.4));
        set(&mut v, "/ItemList/1/TotItemVal", json!(23600.8));
        set(&mut v, "/ValDtls/CgstVal", json!(10800.4));
        set(&mut v, "/ValDtls/SgstVal", json!(10800.4));
        set(&mut v, "/ValDtls/TotInvVal", json!(141600.8));
        assert!(run(&v, &rules, false).is_empty());
    }

    #[test]
    fn paise_rounding() {
        // 333.33 x 5% / 2 = 8.33325 -> 8.33 each; IGST 16.67 (16.6665 rounds half away from zero).
        let mut v = intra();
        v["ItemList"] = json!([{"SlNo": "1", "IsServc": "Y", "HsnCd": "998313", "UnitPrice": 333.33,
            "TotAmt": 333.33, "AssAmt": 333.33, "GstRt": 5, "CgstAmt": 8.33, "SgstAmt": 8.33, "TotItemVal": 349.99}]);
        v["ValDtls"] =
            json!({"AssVal": 333.33, "CgstVal": 8.33, "SgstVal": 8.33, "TotInvVal": 349.99});
        let strict = RulesConfig {
            tolerance: 0.0,
            ..RulesConfig::default()
        };
        assert!(run(&v, &strict, false).is_empty());
    }

    #[test]
    fn switches() {
        let mut v = intra();
        set(&mut v, "/BuyerDtls/Gstin", json!("29AABCU9603R1ZA"));
        let off = RulesConfig {
            gstin_checksum: false,
            ..RulesConfig::default()
        };
        assert!(run(&v, &off, false).is_empty());

        let mut v = intra();
        set(&mut v, "/BuyerDtls/Pin", json!(400001));
        let off = RulesConfig {
            pin_state_check: false,
            ..RulesConfig::default()
        };
        assert!(run(&v, &off, false).is_empty());

        let mut v = intra();
        set(
            &mut v,
            "/DispDtls",
            json!({"Nm": "Old depot", "Addr1": "x", "Loc": "Daman", "Pin": 396210, "Stcd": "25"}),
        );
        assert_eq!(run(&v, &RulesConfig::default(), false)[0].code, 2200);
        let legacy = RulesConfig {
            legacy_state_codes: true,
            ..RulesConfig::default()
        };
        assert!(run(&v, &legacy, false).is_empty());

        // Notes without PrecDocDtls and invoices with it pass by default.
        let mut v = crn();
        del(&mut v, "/RefDtls");
        assert!(run(&v, &RulesConfig::default(), false).is_empty());
        let mut v = crn();
        set(&mut v, "/DocDtls/Typ", json!("INV"));
        assert!(run(&v, &RulesConfig::default(), false).is_empty());
    }

    #[test]
    fn case_insensitive_enums_and_units() {
        let mut v = intra();
        set(&mut v, "/TranDtls/SupTyp", json!("b2b"));
        set(&mut v, "/DocDtls/Typ", json!("inv"));
        set(&mut v, "/ItemList/0/Unit", json!("nos"));
        set(&mut v, "/DocDtls/No", json!("inv/2025/001"));
        assert!(run(&v, &RulesConfig::default(), false).is_empty());
    }

    #[test]
    fn reporting_window_boundary_and_small_sellers() {
        let rules = RulesConfig::default();
        let mut v = intra();
        set(&mut v, "/DocDtls/Dt", json!("17/05/2025")); // 29 days before 15/06/2025
        assert!(run(&v, &rules, true).is_empty());
        set(&mut v, "/DocDtls/Dt", json!("16/05/2025")); // 30 days
        assert_eq!(run(&v, &rules, true)[0].code, 2305);
        assert!(
            run(&v, &rules, false).is_empty(),
            "no window without a taxpayer master"
        );
        // A seller below the AATO threshold has no window and may use 4-digit HSN.
        set(&mut v, "/SellerDtls/Gstin", json!(g("29AAACM3333C1Z")));
        set(&mut v, "/ItemList/0/HsnCd", json!("8471"));
        assert!(run(&v, &rules, true).is_empty());
        // Today itself is fine.
        let mut v = intra();
        set(&mut v, "/DocDtls/Dt", json!("15/06/2025"));
        assert!(run(&v, &rules, true).is_empty());
    }

    #[test]
    fn date_rules_follow_the_clock() {
        let rules = RulesConfig::default();
        let on = |v: &Value, y, m, d, with_tp: bool| {
            let inv: Invoice = serde_json::from_value(v.clone()).expect("test invoice parses");
            let day = NaiveDate::from_ymd_opt(y, m, d).expect("a real day");
            Validator::new(&rules, masters(), with_tp.then(taxpayers), day).validate(&inv)
        };
        // A 50-crore seller: no window before 1 April 2025 (100 crore and up only), 30 days after.
        let mut v = intra();
        set(&mut v, "/SellerDtls/Gstin", json!(intra_buyer()));
        set(&mut v, "/BuyerDtls/Gstin", json!(SELLER));
        set(&mut v, "/DocDtls/Dt", json!("01/02/2025"));
        assert!(on(&v, 2025, 3, 15, true).is_empty());
        set(&mut v, "/DocDtls/Dt", json!("01/03/2025"));
        assert_eq!(on(&v, 2025, 4, 5, true)[0].code, 2305);
        // A 120-crore seller: the window from 1 November 2023, none before.
        let mut v = intra();
        set(&mut v, "/DocDtls/Dt", json!("01/08/2023"));
        assert!(on(&v, 2023, 10, 20, true).is_empty());
        set(&mut v, "/DocDtls/Dt", json!("01/10/2023"));
        assert_eq!(on(&v, 2023, 11, 5, true)[0].code, 2305);
        // 4-digit HSN: accepted from everyone before 15 December 2023, not after.
        let mut v = intra();
        set(&mut v, "/DocDtls/Dt", json!("01/12/2023"));
        set(&mut v, "/ItemList/0/HsnCd", json!("8471"));
        assert!(on(&v, 2023, 12, 14, false).is_empty());
        assert_eq!(on(&v, 2023, 12, 15, false)[0].code, 2176);
    }

    #[test]
    fn reverse_charge_item_values() {
        let rules = RulesConfig::default();
        let mut v = rcm();
        assert!(run(&v, &rules, false).is_empty());
        // Tax-inclusive values are accepted too.
        set(&mut v, "/ItemList/0/TotItemVal", json!(118000));
        set(&mut v, "/ItemList/1/TotItemVal", json!(23600));
        set(&mut v, "/ValDtls/TotInvVal", json!(141600));
        assert!(run(&v, &rules, false).is_empty());
        // Without reverse charge the exclusive value is wrong.
        let mut v = rcm();
        set(&mut v, "/TranDtls/RegRev", json!("N"));
        assert!(run(&v, &rules, false).iter().any(|x| x.code == 2194));
    }

    #[test]
    fn many_items_duplicates() {
        let rules = RulesConfig::default();
        let item = |n: usize| {
            json!({"SlNo": n.to_string(), "IsServc": "Y", "HsnCd": "998313", "UnitPrice": 100,
                "TotAmt": 100, "AssAmt": 100, "GstRt": 18, "CgstAmt": 9, "SgstAmt": 9, "TotItemVal": 118})
        };
        let mut v = intra();
        v["ItemList"] = Value::Array((1..=100).map(item).collect());
        v["ValDtls"] = json!({"AssVal": 10000, "CgstVal": 900, "SgstVal": 900, "TotInvVal": 11800});
        assert!(run(&v, &rules, false).is_empty());
        set(&mut v, "/ItemList/99/SlNo", json!("7"));
        set(&mut v, "/ItemList/98/SlNo", json!("7"));
        let got = run(&v, &rules, false);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(
            got[0].message,
            "Duplicate SlNo value(s) 7 are not allowed in the item list"
        );
    }

    #[test]
    fn taxpayer_rules_need_the_master() {
        // SEZ supply to a GSTIN the master does not know: no 2247 without the master.
        let mut v = sez();
        set(&mut v, "/BuyerDtls/Gstin", json!(INTER_BUYER));
        set(&mut v, "/BuyerDtls/Pos", json!("27"));
        set(&mut v, "/BuyerDtls/Stcd", json!("27"));
        set(&mut v, "/BuyerDtls/Pin", json!(400001));
        assert!(run(&v, &RulesConfig::default(), false).is_empty());
    }

    mod alloc_count {
        use std::alloc::{GlobalAlloc, Layout, System};
        use std::cell::Cell;

        pub struct Counting;

        thread_local! {
            pub static COUNT: Cell<usize> = const { Cell::new(0) };
        }

        unsafe impl GlobalAlloc for Counting {
            unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
                let _ = COUNT.try_with(|c| c.set(c.get() + 1));
                unsafe { System.alloc(layout) }
            }
            unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
                unsafe { System.dealloc(ptr, layout) }
            }
        }

        #[global_allocator]
        static GLOBAL: Counting = Counting;

        pub fn count() -> usize {
            COUNT.with(Cell::get)
        }
    }

    #[test]
    fn valid_invoice_does_not_allocate() {
        let rules = RulesConfig::default();
        for (name, v, tp) in [
            ("full", full(), true),
            ("export", export(), false),
            ("sez", sez(), true),
        ] {
            let inv: Invoice = serde_json::from_value(v).unwrap();
            let val = validator(&rules, tp);
            let before = alloc_count::count();
            let got = val.validate(&inv);
            let after = alloc_count::count();
            assert!(got.is_empty());
            assert_eq!(after - before, 0, "{name}: validate allocated");
        }
    }

    #[test]
    fn order_and_empty_items() {
        let rules = RulesConfig::default();
        let mut v = intra();
        set(&mut v, "/ItemList", json!([]));
        let codes: Vec<u16> = run(&v, &rules, false).iter().map(|x| x.code).collect();
        assert_eq!(codes, vec![2228]);
        // Schema violations come before business rules whatever the field order.
        let mut v = intra();
        set(&mut v, "/ItemList/0/HsnCd", json!("123456"));
        set(&mut v, "/EwbDtls", json!({"Distance": 5000}));
        let codes: Vec<u16> = run(&v, &rules, false).iter().map(|x| x.code).collect();
        assert_eq!(codes, vec![2140, 2176]);
    }

    mod fixed_point {
        use super::*;
        use proptest::prelude::*;

        /// Thousandths to a JSON number (exact: every value here is below 2^53 / 1000).
        fn n(milli: i128) -> Value {
            json!(milli as f64 / 1000.0)
        }

        /// round2 of `x` with `drop + 2` decimals, in thousandths (test-side arithmetic).
        fn r2(x: i128, drop: u32) -> i128 {
            let d = 10i128.pow(drop);
            let (q, r) = (x / d, x % d);
            (if 2 * r.abs() >= d { q + x.signum() } else { q }) * 10
        }

        /// Near `i64`'s edge: a product that still fits is proved by the fixed-point path with
        /// the decimal path's sums; one that leaves `i64` falls back, and the decimal path
        /// decides.
        #[test]
        fn large_amounts_fit_or_fall_back() {
            let v = Validator::new(&RulesConfig::default(), masters(), None, today());
            let regime = Regime::Igst {
                cs_code: 2176,
                zero: false,
            };
            // (AssAmt, IGST at 28%, TotItemVal, valid, fits in i64)
            // 28% of 99,999,999,999.99 is 27,999,999,999.9972 → 28,000,000,000.00: the product
            // in thousandths is 2.8e18. Ten times the amount makes it 2.8e19.
            for (ass, igst, tiv, valid, fits) in [
                (
                    99_999_999_999.99,
                    28_000_000_000.0,
                    127_999_999_999.99,
                    true,
                    true,
                ),
                (
                    99_999_999_999.99,
                    28_000_000_002.0,
                    128_000_000_001.99,
                    false,
                    true,
                ),
                (
                    999_999_999_999.99,
                    280_000_000_000.0,
                    1_279_999_999_999.99,
                    true,
                    false,
                ),
                (
                    999_999_999_999.99,
                    280_000_000_002.0,
                    1_280_000_000_001.99,
                    false,
                    false,
                ),
            ] {
                let it: Item = serde_json::from_value(json!({
                    "SlNo": "1", "IsServc": "N", "HsnCd": "847130", "Qty": 1,
                    "UnitPrice": ass, "TotAmt": ass, "AssAmt": ass, "GstRt": 28,
                    "IgstAmt": igst, "TotItemVal": tiv,
                }))
                .unwrap();
                let mut sink = Sink::default();
                let mut exact = Sums::default();
                v.item_arith(&mut sink, 0, &it, regime, false, &mut exact);
                assert_eq!(sink.out.is_empty(), valid, "{ass} {igst}: {:?}", sink.out);
                match v.item_arith_fast(&it, regime, false) {
                    Some(fast) => {
                        assert!(fits && valid, "{ass} {igst}: the fast path accepted");
                        let mut sums = Sums::default();
                        sums.add_fast(&fast);
                        sums.settle();
                        assert_eq!(
                            (sums.ass, sums.igst, sums.item_val),
                            (exact.ass, exact.igst, exact.item_val)
                        );
                    }
                    None => assert!(!fits || !valid, "{ass} {igst}: the fast path refused"),
                }
            }
        }

        /// Offsets around the ₹1.00 tolerance (thousandths), and some at random.
        fn delta() -> impl Strategy<Value = i128> {
            prop_oneof![
                prop::sample::select(vec![0i128, 5, -5, 999, -999, 1000, -1000, 1001, -1001, 10]),
                -3000i128..3000,
            ]
        }

        prop_compose! {
            fn item_and_regime()(
                // Whole quantities and prices ending in half a paisa make rounding midpoints.
                qty in prop::option::of(prop_oneof![0i128..10_000_000, (0i128..10_000).prop_map(|q| q * 1000)]),
                price in prop_oneof![0i128..100_000_000, (0i128..10_000_000).prop_map(|p| p * 10 + 5)],
                disc in prop::option::of(0i128..5_000_000),
                rate in prop::sample::select(vec![0i128, 100, 250, 3000, 5000, 12000, 18000, 28000, 40000, 7500, 17999]),
                ces_rt in prop::option::of(prop::sample::select(vec![0i128, 1000, 12000, 15500])),
                st_ces_rt in prop::option::of(prop::sample::select(vec![0i128, 1000, 2500])),
                non_advl in prop::option::of(0i128..1_000_000),
                oth in prop::option::of(0i128..1_000_000),
                present in prop::array::uniform3(any::<bool>()),
                d in prop::array::uniform8(delta()),
                regime in 0u8..4,
                rcm in any::<bool>(),
            ) -> (Value, u8, bool) {
                let tot = match qty { Some(q) => r2(q * price, 4) + d[0], None => price + d[0] };
                let ass = tot - disc.unwrap_or(0) + d[1];
                let half = r2(ass * rate * 5, 7);
                let full = r2(ass * rate, 6);
                let (igst, cgst, sgst) = match regime {
                    0 => (0, half + d[2], half + d[3]),
                    1 => (full + d[2], 0, 0),
                    2 => (d[2].max(0), 0, 0),
                    _ => (full, half, half + d[3]),
                };
                let ces = ces_rt.map(|r| r2(ass * r, 6) + d[4]);
                let st_ces = st_ces_rt.map(|r| r2(ass * r, 6) + d[5]);
                let sum = ass + igst + cgst + sgst + ces.unwrap_or(0) + st_ces.unwrap_or(0)
                    + non_advl.unwrap_or(0) + oth.unwrap_or(0);
                let tiv = if rcm && d[6] > 0 { sum - igst - cgst - sgst } else { sum } + d[7];
                let mut it = json!({
                    "SlNo": "1", "IsServc": "N", "HsnCd": "847130", "UnitPrice": n(price),
                    "TotAmt": n(tot), "AssAmt": n(ass), "GstRt": n(rate), "TotItemVal": n(tiv),
                });
                let o = it.as_object_mut().unwrap();
                let mut opt = |k: &str, v: Option<i128>| { if let Some(v) = v { o.insert(k.into(), n(v)); } };
                opt("Qty", qty);
                opt("Discount", disc);
                opt("IgstAmt", present[0].then_some(igst));
                opt("CgstAmt", (present[1] || regime == 0).then_some(cgst));
                opt("SgstAmt", (present[2] || regime == 0).then_some(sgst));
                opt("CesRt", ces_rt);
                opt("CesAmt", ces);
                opt("StateCesRt", st_ces_rt);
                opt("StateCesAmt", st_ces);
                opt("CesNonAdvlAmt", non_advl);
                opt("OthChrg", oth);
                (it, regime, rcm)
            }
        }

        /// The invoice totals of `intra()` with each ValDtls amount moved by a delta: the
        /// fixed-point totals pass exactly when the decimal `totals` finds nothing.
        fn totals_agree(
            deltas: [i128; 8],
            tolerance: f64,
            oth_sum: bool,
        ) -> Result<(), TestCaseError> {
            let mut v = intra();
            // Other charges, a discount and a round-off make every total non-trivial.
            v["ItemList"][0]["OthChrg"] = json!(250.5);
            v["ItemList"][0]["TotItemVal"] = json!(118250.5);
            let base: [(&str, i128); 8] = [
                ("AssVal", 120_000_000),
                ("CgstVal", 10_800_000),
                ("SgstVal", 10_800_000),
                ("IgstVal", 0),
                ("CesVal", 0),
                ("OthChrg", 250_500),
                ("Discount", 1_000),
                ("RndOffAmt", -500),
            ];
            let mut tot_inv = 141_600_000 + 250_500;
            for ((field, milli), d) in base.iter().zip(deltas) {
                v["ValDtls"][field] = n(milli + d);
                match *field {
                    "OthChrg" | "RndOffAmt" => tot_inv += milli,
                    "Discount" => tot_inv -= milli,
                    _ => {}
                }
            }
            v["ValDtls"]["TotInvVal"] = n(tot_inv);
            let inv: Invoice = serde_json::from_value(v).unwrap();
            let rules = RulesConfig {
                tolerance,
                item_oth_chrg_sum: oth_sum,
                ..RulesConfig::default()
            };
            let val = Validator::new(&rules, masters(), None, today());
            let mut sums = Sums::default();
            for it in &inv.item_list {
                let fast = val.item_arith_fast(it, Regime::Intra, false);
                prop_assert!(fast.is_some());
                sums.add_fast(&fast.unwrap());
            }
            let fast = val.totals_pass_fast(&inv, &sums);
            sums.settle();
            let mut sink = Sink::default();
            val.totals(&inv, &sums, &mut sink);
            prop_assert_eq!(fast, sink.out.is_empty(), "{:?}", sink.out);
            Ok(())
        }

        #[test]
        fn fast_totals_agree_at_the_tolerance_edges() {
            // On the edge (1.00 passes, 1.001 fails), one field at a time.
            for field in 0..8 {
                for d in [-1_001, -1_000, -999, 0, 999, 1_000, 1_001] {
                    let mut deltas = [0; 8];
                    deltas[field] = d;
                    totals_agree(deltas, 1.0, true).unwrap();
                    totals_agree(deltas, 1.0, false).unwrap();
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]
            #[test]
            fn fast_totals_agree_with_decimals(
                deltas in prop::array::uniform8(-2_500i128..2_500),
                tolerance in prop::sample::select(vec![1.0, 0.5, 0.25, 0.0, 2.0]),
                oth_sum in any::<bool>(),
            ) {
                totals_agree(deltas, tolerance, oth_sum)?;
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4000))]
            /// The fixed-point path accepts exactly the items the decimal path accepts, with
            /// the same sums; the decimal path stays the reference.
            #[test]
            fn fast_path_agrees_with_decimals(
                (json, regime, rcm) in item_and_regime(),
                // Fractional tolerances too: the decimal path's per-scale table must not round them.
                tolerance in prop::sample::select(vec![1.0, 0.5, 0.25, 0.0, 2.0]),
            ) {
                let it: Item = serde_json::from_value(json).unwrap();
                let regime = match regime {
                    0 => Regime::Intra,
                    1 => Regime::Igst { cs_code: 2176, zero: false },
                    2 => Regime::Igst { cs_code: 2176, zero: true },
                    _ => Regime::Unknown,
                };
                let rules = RulesConfig { tolerance, ..RulesConfig::default() };
                let v = Validator::new(&rules, masters(), None, today());
                let mut sink = Sink::default();
                let mut exact = Sums::default();
                v.item_arith(&mut sink, 0, &it, regime, rcm, &mut exact);
                match v.item_arith_fast(&it, regime, rcm) {
                    Some(fast) => {
                        prop_assert!(sink.out.is_empty(), "fast path accepted {:?}", sink.out);
                        let mut sums = Sums::default();
                        sums.add_fast(&fast);
                        sums.settle();
                        let pairs = [(sums.ass, exact.ass), (sums.cgst, exact.cgst),
                            (sums.sgst, exact.sgst), (sums.igst, exact.igst), (sums.ces, exact.ces),
                            (sums.st_ces, exact.st_ces), (sums.item_val, exact.item_val),
                            (sums.oth, exact.oth)];
                        for (f, e) in pairs {
                            prop_assert_eq!(f, e);
                        }
                    }
                    None => prop_assert!(!sink.out.is_empty(), "fast path refused a valid item"),
                }
            }
        }
    }
}
