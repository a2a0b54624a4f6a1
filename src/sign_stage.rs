//! Signing stage: after the registry commit, signs each registration's invoice and QR payload
//! in parallel on the rayon pool. Signatures are deterministic (RS256 = PKCS#1 v1.5), so a
//! resumed run re-signs a registration from the registry to byte-identical output.

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::irn::{self, Irn};
use crate::model::Num;
use crate::qr::{self, QrFormat};
use crate::record::{Batch, Outcome, Processed, QrFacts, Registered};
use crate::sign::Signer;

/// The document fields the QR payload repeats.
pub struct QrDoc<'a> {
    pub seller_gstin: &'a str,
    pub doc_no: &'a str,
    pub doc_type: &'a str,
    pub doc_date: &'a str,
}

/// The SignedQRCode `data` claims, in NIC's order.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct QrClaims<'a> {
    seller_gstin: &'a str,
    buyer_gstin: &'a str,
    doc_no: &'a str,
    doc_typ: &'a str,
    doc_dt: &'a str,
    tot_inv_val: Num,
    item_cnt: usize,
    main_hsn_code: &'a str,
    irn: &'a str,
    irn_dt: &'a str,
}

/// The SignedInvoice `data`: AckNo, AckDt, Irn, then the accepted invoice's own members.
pub fn invoice_data(ack_no: u64, ack_dt: &str, irn: &Irn, canonical: &[u8]) -> String {
    let body = std::str::from_utf8(canonical).unwrap_or("{}");
    let rest = body.strip_prefix('{').unwrap_or(body);
    let mut out = String::with_capacity(body.len() + 128);
    out.push_str("{\"AckNo\":");
    out.push_str(&ack_no.to_string());
    out.push_str(",\"AckDt\":");
    // AckDt is digits, dashes, colons and a space: no escaping needed.
    out.push('"');
    out.push_str(ack_dt);
    out.push_str("\",\"Irn\":\"");
    out.push_str(&irn::to_hex(irn));
    out.push('"');
    if rest != "}" {
        out.push(',');
    }
    out.push_str(rest);
    out
}

/// The SignedQRCode `data` JSON.
pub fn qr_data(doc: &QrDoc<'_>, qr: &QrFacts, irn: &Irn, irn_dt: &str) -> String {
    let irn_hex = irn::to_hex(irn);
    let claims = QrClaims {
        seller_gstin: doc.seller_gstin,
        buyer_gstin: &qr.buyer_gstin,
        doc_no: doc.doc_no,
        doc_typ: doc.doc_type,
        doc_dt: doc.doc_date,
        tot_inv_val: qr.tot_inv_val,
        item_cnt: qr.item_cnt,
        main_hsn_code: &qr.main_hsn,
        irn: &irn_hex,
        irn_dt,
    };
    serde_json::to_string(&claims).unwrap_or_default()
}

/// Signs one registration in place.
///
/// # Errors
/// A signing failure (a broken key), which stops the run.
pub fn sign_registered(
    reg: &mut Registered,
    doc: &QrDoc<'_>,
    signer: &Signer,
    qr_format: QrFormat,
) -> Result<()> {
    let (Some(ack_no), Some(ack_dt)) = (reg.ack_no, reg.ack_dt.as_deref()) else {
        return Ok(());
    };
    let data = invoice_data(ack_no, ack_dt, &reg.irn, &reg.canonical);
    let signed_invoice = signer.sign_data(&data)?;
    let signed_qr = signer.sign_data(&qr_data(doc, &reg.qr, &reg.irn, ack_dt))?;
    reg.qr_image = qr::render(&signed_qr, qr_format).map_err(|e| Error::Stage {
        stage: "qr",
        message: e.to_string(),
    })?;
    reg.signed_invoice = Some(signed_invoice);
    reg.signed_qr = Some(signed_qr);
    reg.canonical = Vec::new();
    Ok(())
}

/// Signs every registration of a batch on the current rayon pool.
///
/// # Errors
/// The first signing failure.
pub fn sign_batch(
    batch: &mut Batch<Processed>,
    signer: &Signer,
    qr_format: QrFormat,
) -> Result<()> {
    batch
        .records
        .par_iter_mut()
        .with_max_len(crate::pipeline::SIGN_PIECE)
        .try_for_each(|rec| {
            let Processed { doc, outcome, .. } = rec;
            match outcome {
                Outcome::Registered(reg) => {
                    let qr_doc = QrDoc {
                        seller_gstin: &doc.seller_gstin,
                        doc_no: &doc.doc_no,
                        doc_type: &doc.doc_type,
                        doc_date: &doc.doc_date,
                    };
                    sign_registered(reg, &qr_doc, signer, qr_format)
                }
                _ => Ok(()),
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoice_data_prefixes_ack_fields() {
        let irn = [0xab; 32];
        let s = invoice_data(
            112510000000001,
            "2025-04-01 10:00:00",
            &irn,
            b"{\"Version\":\"1.1\"}",
        );
        assert!(s.starts_with(
            "{\"AckNo\":112510000000001,\"AckDt\":\"2025-04-01 10:00:00\",\"Irn\":\"abab"
        ));
        assert!(s.ends_with(",\"Version\":\"1.1\"}"));
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["Version"], "1.1");
    }
}
