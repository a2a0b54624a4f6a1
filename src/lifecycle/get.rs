//! `irp get`: NIC's Get-IRN-details and Get-IRN-by-document responses, served from the
//! registry and re-signed on the spot.
//!
//! Nothing signed is stored: the registry keeps the canonical invoice, AckNo and AckDt, and
//! RS256 (PKCS#1 v1.5) is deterministic, so re-signing with the same key gives byte for byte
//! the SignedInvoice and SignedQRCode that `register` returned.

use chrono::{Duration, NaiveDateTime};

use crate::clock;
use crate::config::LifecycleConfig;
use crate::error::{Error, Result, Violation};
use crate::irn::{self, Irn};
use crate::lifecycle::StoredInvoice;
use crate::registry::{Registration, Registry};
use crate::sign::Signer;
use crate::sign_stage;
use crate::sink::{ErrorDetail, Failure, Success};

/// NIC 2148: the IRN is not in the registry.
pub const NOT_FOUND: u16 = 2148;
/// NIC 2283: the IRN is older than the lookup window.
pub const OUTSIDE_WINDOW: u16 = 2283;
/// NIC 2143: the IRN belongs to another GSTIN than the one asking.
pub const NOT_OWNER: u16 = 2143;

/// The IRN of a document: SHA-256 of seller GSTIN + financial year of the date + type +
/// number (upper-cased when `upper_case_doc_no`, as `register` keyed it).
///
/// # Errors
/// [`Error::Usage`] for a type other than INV/CRN/DBN, a date that is not a real
/// `dd/mm/yyyy` date, an empty number or a GSTIN of the wrong shape.
pub fn document_irn(
    gstin: &str,
    doc_type: &str,
    doc_no: &str,
    doc_date: &str,
    upper_case_doc_no: bool,
) -> Result<Irn> {
    let doc_type = doc_type.trim().to_ascii_uppercase();
    if !matches!(doc_type.as_str(), "INV" | "CRN" | "DBN") {
        return Err(Error::Usage(format!(
            "--doc-type {doc_type:?}: expected INV, CRN or DBN"
        )));
    }
    let date = clock::parse_doc_date(doc_date.trim()).ok_or_else(|| {
        Error::Usage(format!(
            "--doc-date {doc_date:?}: expected a date dd/mm/yyyy"
        ))
    })?;
    let doc_no = doc_no.trim();
    if doc_no.is_empty() {
        return Err(Error::Usage("--doc-no is empty".to_owned()));
    }
    let gstin = gstin.trim().to_ascii_uppercase();
    if !crate::gstin::shape_ok(&gstin) {
        return Err(Error::Usage(format!(
            "--gstin {gstin:?}: a GSTIN is 2 digits and 13 letters or digits"
        )));
    }
    Ok(irn::compute(
        &gstin,
        &clock::financial_year(date),
        &doc_type,
        &irn::key_doc_no(doc_no, upper_case_doc_no),
    ))
}

/// What a lookup finds.
#[derive(Debug)]
pub enum Lookup {
    /// The registration (active or cancelled).
    Found(Box<Registration>),
    /// NIC's refusal: 2148 not found, 2143 another seller's IRN, 2283 outside the window.
    Refused(Violation),
}

/// Looks an IRN up for `caller` (the GSTIN asking, when known: only the seller may fetch),
/// applying the lookup window (`lookup_window_days`, 0 = none): an IRN whose AckDt is more
/// than that many whole days (of 24 hours) before `now` is refused.
///
/// # Errors
/// A registry read failure or a corrupt record.
pub fn lookup(
    registry: &Registry,
    irn: &Irn,
    caller: Option<&str>,
    cfg: &LifecycleConfig,
    now: NaiveDateTime,
) -> Result<Lookup> {
    let Some(reg) = registry.get(irn)? else {
        return Ok(Lookup::Refused(Violation::new(
            NOT_FOUND,
            "Requested IRN data is not available",
        )));
    };
    if let Some(gstin) = caller.filter(|g| !reg.is_owned_by(g)) {
        return Ok(Lookup::Refused(not_owner(gstin)));
    }
    if cfg.lookup_window_days > 0 {
        let acked = clock::parse_ack(&reg.ack_dt);
        let limit = Duration::days(cfg.lookup_window_days);
        if acked.is_none_or(|t| now - t > limit) {
            return Ok(Lookup::Refused(Violation::new(
                OUTSIDE_WINDOW,
                format!(
                    "IRN details cannot be provided as it is generated more than {} days ago",
                    cfg.lookup_window_days
                ),
            )));
        }
    }
    Ok(Lookup::Found(Box::new(reg)))
}

/// NIC 2143 for a request by `gstin` on another seller's IRN (get and cancel).
pub fn not_owner(gstin: &str) -> Violation {
    Violation::new(
        NOT_OWNER,
        format!(
            "Invoice/IRN does not belong to the user GSTIN {}",
            gstin.trim()
        ),
    )
}

/// A Get-IRN response with owned fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetResponse {
    pub ack_no: u64,
    pub ack_dt: String,
    pub irn: String,
    pub signed_invoice: String,
    pub signed_qr_code: String,
    pub status: &'static str,
    pub ewb_no: Option<u64>,
    pub ewb_dt: Option<String>,
    pub ewb_valid_till: Option<String>,
}

impl GetResponse {
    /// NIC's response shape (the same members as Generate IRN).
    pub fn as_success(&self) -> Success<'_> {
        Success {
            ack_no: Some(self.ack_no),
            ack_dt: Some(&self.ack_dt),
            irn: self.irn.clone(),
            signed_invoice: Some(&self.signed_invoice),
            signed_qr_code: Some(&self.signed_qr_code),
            status: self.status,
            ewb_no: self.ewb_no,
            ewb_dt: self.ewb_dt.as_deref(),
            ewb_valid_till: self.ewb_valid_till.as_deref(),
            remarks: None,
        }
    }
}

/// Re-signs a registration into NIC's Get-IRN response.
///
/// # Errors
/// A corrupt stored invoice or a signing failure.
pub fn respond(
    registry: &Registry,
    irn: &Irn,
    reg: &Registration,
    signer: &Signer,
) -> Result<GetResponse> {
    let stored = StoredInvoice::parse(registry, irn, reg)?;
    let data = sign_stage::invoice_data(reg.ack_no, &reg.ack_dt, irn, reg.invoice.get().as_bytes());
    let signed_invoice = signer.sign_data(&data)?;
    let qr = sign_stage::qr_data(&stored.qr_doc(), &stored.qr_facts(), irn, &reg.ack_dt);
    let signed_qr_code = signer.sign_data(&qr)?;
    let ewb = reg.ewb.as_ref();
    Ok(GetResponse {
        ack_no: reg.ack_no,
        ack_dt: reg.ack_dt.clone(),
        irn: irn::to_hex(irn),
        signed_invoice,
        signed_qr_code,
        status: reg.status.as_str(),
        ewb_no: ewb.map(|e| e.ewb_no),
        ewb_dt: ewb.map(|e| e.ewb_dt.clone()),
        ewb_valid_till: ewb.map(|e| e.valid_till.clone()),
    })
}

/// NIC's error response for a refused lookup.
pub fn failure(violation: &Violation) -> Failure<'_> {
    Failure {
        status: 0,
        error_details: vec![ErrorDetail {
            error_code: violation.code.to_string(),
            error_message: &violation.message,
        }],
        info_dtls: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_irn_matches_nic_example_and_rejects_bad_args() {
        // GSTZen's example (reference 3), with the number as sent.
        let irn = document_irn(
            "29AAFCC9980M1ZR",
            "inv",
            "2019-20/KA/1",
            "03/01/2020",
            false,
        )
        .unwrap();
        assert_eq!(
            irn::to_hex(&irn),
            "23f498ee41441ecad30f72ba5b9907506c3df70a17b0e0dff46b76a786400662"
        );
        assert_eq!(
            document_irn("29AAFCC9980M1ZR", "INV", "abc/1", "03/01/2020", true).unwrap(),
            document_irn("29AAFCC9980M1ZR", "INV", "ABC/1", "03/01/2020", true).unwrap()
        );
        for (gstin, typ, no, dt) in [
            ("29AAFCC9980M1ZR", "BIL", "1", "03/01/2020"),
            ("29AAFCC9980M1ZR", "INV", "1", "2020-01-03"),
            ("29AAFCC9980M1ZR", "INV", "1", "31/02/2020"),
            ("29AAFCC9980M1ZR", "INV", " ", "03/01/2020"),
            ("29AAFCC9980M1Z", "INV", "1", "03/01/2020"),
        ] {
            assert!(matches!(
                document_irn(gstin, typ, no, dt, true),
                Err(Error::Usage(_))
            ));
        }
    }
}
