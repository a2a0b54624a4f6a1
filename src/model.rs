//! The INV-01 invoice (NIC e-invoice schema 1.1) as typed structs.
//!
//! Field names are the schema's, so serde maps them with `rename_all = "PascalCase"`
//! plus explicit renames where NIC's spelling is not PascalCase of a Rust name.
//! Every struct rejects unknown fields, as the IRP does.
//! Optional fields are `Option` and are dropped on output, as in NIC's signed invoice.
//!
//! Numbers are [`Num`]: the exact decimal for arithmetic plus the `f64` it was read as, so the
//! signed output re-renders a number the way NIC's Java stack does (`100.0`, `12.5`).

use std::fmt;

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A JSON number of the invoice: exact decimal value plus the binary value it was parsed as.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Num {
    /// Exact value, used by every rule and by the GSTR-1 sums. Its scale is 0 exactly when
    /// the input wrote an integer (`100`, not `100.0`), which is how it is written back.
    pub value: Decimal,
    /// The number as parsed; re-serialised with the shortest round-trip form.
    pub raw: f64,
}

impl Num {
    /// Builds a number from a decimal (used by the generator and by tests).
    pub fn from_decimal(value: Decimal) -> Num {
        let raw = value.to_string().parse::<f64>().unwrap_or(0.0);
        Num { value, raw }
    }

    /// Converts a parsed `f64` exactly as written in the input, for the usual case of at most
    /// three decimals, and through its shortest round-trip text otherwise.
    pub fn from_f64(raw: f64) -> Option<Num> {
        if !raw.is_finite() {
            return None;
        }
        // Fast path: money has 2 and rates/quantities 3 decimals. Below 2^53/1000 the scaled
        // value is an exact integer whenever the input had at most 3 decimals.
        if raw.abs() < 9.0e12 {
            let scaled = (raw * 1000.0).round();
            if scaled / 1000.0 == raw {
                return Some(Num {
                    value: Decimal::new(scaled as i64, 3),
                    raw,
                });
            }
        }
        let mut buf = ryu::Buffer::new();
        let text = buf.format_finite(raw);
        let mut value = if text.contains(['e', 'E']) {
            Decimal::from_scientific(text).ok()?
        } else {
            text.parse::<Decimal>().ok()?
        };
        if value.scale() == 0 {
            // Written with a point or an exponent: scale 0 is kept for integer literals.
            value.rescale(1);
        }
        Some(Num { value, raw })
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Num, D::Error> {
        struct NumVisitor;
        impl Visitor<'_> for NumVisitor {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                Num::from_f64(v).ok_or_else(|| E::custom("number out of range"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(Num {
                    value: Decimal::from(v),
                    raw: v as f64,
                })
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num {
                    value: Decimal::from(v),
                    raw: v as f64,
                })
            }
        }
        deserializer.deserialize_any(NumVisitor)
    }
}

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // As NIC writes numbers back in a signed invoice: an integer as an integer (`0`), a
        // number written with a point in its shortest form with at least one decimal (`100.0`,
        // `12.5`). A real NIC SignedInvoice shows both: "Discount":0 and "AssAmt":100.0.
        if self.value.scale() == 0 {
            if let Ok(n) = i64::try_from(self.value.mantissa()) {
                return serializer.serialize_i64(n);
            }
        }
        serializer.serialize_f64(self.raw)
    }
}

/// An integral JSON number (PIN, distance, credit days): rejects fractions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Int(pub i64);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Int, D::Error> {
        struct IntVisitor;
        impl Visitor<'_> for IntVisitor {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Int, E> {
                if v.fract() == 0.0 && v.abs() < 1e15 {
                    Ok(Int(v as i64))
                } else {
                    Err(E::custom(format!("{v} is not an integer")))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int, E> {
                Ok(Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int, E> {
                i64::try_from(v)
                    .map(Int)
                    .map_err(|_| E::custom("integer out of range"))
            }
        }
        deserializer.deserialize_any(IntVisitor)
    }
}

/// One INV-01 invoice, credit note or debit note, in schema order.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Invoice {
    pub version: String,
    /// NIC's rule 3: the IRN should not be sent; kept only to be ignored on output.
    #[serde(default, skip_serializing)]
    pub irn: Option<String>,
    pub tran_dtls: TranDtls,
    pub doc_dtls: DocDtls,
    pub seller_dtls: SellerDtls,
    pub buyer_dtls: BuyerDtls,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disp_dtls: Option<DispDtls>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_dtls: Option<ShipDtls>,
    pub item_list: Vec<Item>,
    pub val_dtls: ValDtls,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_dtls: Option<PayDtls>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_dtls: Option<RefDtls>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addl_doc_dtls: Option<Vec<AddlDocDtls>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp_dtls: Option<ExpDtls>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ewb_dtls: Option<EwbDtls>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TranDtls {
    pub tax_sch: String,
    pub sup_typ: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reg_rev: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecm_gstin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub igst_on_intra: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DocDtls {
    pub typ: String,
    pub no: String,
    pub dt: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SellerDtls {
    pub gstin: String,
    pub lgl_nm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trd_nm: Option<String>,
    pub addr1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr2: Option<String>,
    pub loc: String,
    pub pin: Int,
    pub stcd: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ph: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub em: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct BuyerDtls {
    pub gstin: String,
    pub lgl_nm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trd_nm: Option<String>,
    pub pos: String,
    pub addr1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr2: Option<String>,
    pub loc: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<Int>,
    // NIC's signed invoices put the buyer's Stcd last, after Ph and Em (unlike the seller's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ph: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub em: Option<String>,
    pub stcd: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DispDtls {
    pub nm: String,
    pub addr1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr2: Option<String>,
    pub loc: String,
    pub pin: Int,
    pub stcd: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ShipDtls {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gstin: Option<String>,
    pub lgl_nm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trd_nm: Option<String>,
    pub addr1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr2: Option<String>,
    pub loc: String,
    pub pin: Int,
    pub stcd: String,
}

/// One line of `ItemList`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Item {
    /// Not part of the input schema (an input carrying it is rejected as an unknown field);
    /// the IRP inserts it before `SlNo` in the signed invoice, always 0 in NIC's samples.
    #[serde(skip_deserializing)]
    pub item_no: i64,
    pub sl_no: String,
    // IsServc before PrdDesc, unlike the schema: the order of NIC's signed invoices (a real
    // one, decoded: ItemNo, SlNo, IsServc, PrdDesc, HsnCd, Qty, Unit, UnitPrice, ...).
    pub is_servc: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prd_desc: Option<String>,
    pub hsn_cd: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub barcde: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qty: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_qty: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub unit_price: Num,
    pub tot_amt: Num,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_tax_val: Option<Num>,
    pub ass_amt: Num,
    pub gst_rt: Num,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub igst_amt: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgst_amt: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sgst_amt: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ces_rt: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ces_amt: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ces_non_advl_amt: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_ces_rt: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_ces_amt: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_ces_non_advl_amt: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oth_chrg: Option<Num>,
    pub tot_item_val: Num,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ord_line_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_cntry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prd_sl_no: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bch_dtls: Option<BchDtls>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attrib_dtls: Option<Vec<AttribDtls>>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct BchDtls {
    pub nm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp_dt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wr_dt: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AttribDtls {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ValDtls {
    pub ass_val: Num,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgst_val: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sgst_val: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub igst_val: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ces_val: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub st_ces_val: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oth_chrg: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rnd_off_amt: Option<Num>,
    pub tot_inv_val: Num,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tot_inv_val_fc: Option<Num>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PayDtls {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acc_det: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fin_ins_br: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_term: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_instr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cr_trn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir_dr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cr_day: Option<Int>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_amt: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paymt_due: Option<Num>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RefDtls {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inv_rm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc_perd_dtls: Option<DocPerdDtls>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prec_doc_dtls: Option<Vec<PrecDocDtls>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contr_dtls: Option<Vec<ContrDtls>>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DocPerdDtls {
    pub inv_st_dt: String,
    pub inv_end_dt: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PrecDocDtls {
    pub inv_no: String,
    pub inv_dt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oth_ref_no: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ContrDtls {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rec_adv_refr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rec_adv_dt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tend_refr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contr_refr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_refr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proj_refr: Option<String>,
    #[serde(default, rename = "PORefr", skip_serializing_if = "Option::is_none")]
    pub po_refr: Option<String>,
    #[serde(default, rename = "PORefDt", skip_serializing_if = "Option::is_none")]
    pub po_ref_dt: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AddlDocDtls {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docs: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ExpDtls {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_b_no: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_b_dt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_clm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_cur: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnt_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp_duty: Option<Num>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct EwbDtls {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trans_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trans_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trans_mode: Option<String>,
    pub distance: Int,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trans_doc_no: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trans_doc_dt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub veh_no: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub veh_type: Option<String>,
}

impl Invoice {
    /// Parses one invoice with simd-json (the input buffer is modified in place).
    ///
    /// # Errors
    /// The simd-json error of the first structural problem; callers that need every problem
    /// use `schema::structure_errors` on the same bytes.
    pub fn from_slice(
        bytes: &mut [u8],
        buffers: &mut simd_json::Buffers,
    ) -> simd_json::Result<Self> {
        simd_json::serde::from_slice_with_buffers(bytes, buffers)
    }

    /// The canonical compact JSON of the accepted invoice, as stored in the registry and as
    /// embedded (after AckNo, AckDt, Irn) in the SignedInvoice.
    pub fn to_canonical_json(&self) -> Vec<u8> {
        // Serialising plain structs of strings and finite numbers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn num_keeps_exact_decimals() {
        let n = Num::from_f64(0.1).unwrap();
        assert_eq!(n.value.to_string(), "0.100");
        let n = Num::from_f64(1234567.89).unwrap();
        assert_eq!(n.value.normalize().to_string(), "1234567.89");
        let n = Num::from_f64(0.12345).unwrap();
        assert_eq!(n.value.to_string(), "0.12345");
        let n = Num::from_f64(99999999999999.99).unwrap();
        assert!(n.value > Decimal::from(99_999_999_999_999i64));
    }

    #[test]
    fn num_renders_like_nic() {
        let n = Num::from_f64(100.0).unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "100.0");
        let n = Num::from_f64(12.5).unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "12.5");
        // An integer literal stays an integer; a large number written with a point does not
        // become one.
        let back = |json: &str| {
            let n: Num = serde_json::from_str(json).unwrap();
            serde_json::to_string(&n).unwrap()
        };
        assert_eq!(back("0"), "0");
        assert_eq!(back("118000"), "118000");
        assert_eq!(back("0.0"), "0.0");
        assert_eq!(back("118000.0"), "118000.0");
        assert_eq!(back("10000000000000.0"), "10000000000000.0");
        assert_eq!(back("1e13"), "10000000000000.0");
    }
}
