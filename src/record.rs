//! The values that flow between stages: a record is born in `read`, judged in `transform`,
//! registered in `dedup`, signed in `sign_stage` and written by `sink`. Per-invoice failures
//! travel as data in [`Outcome::Rejected`]; they never stop the run.

use crate::error::Violation;
use crate::irn::Irn;
use crate::model::Num;
use crate::read::Framed;

/// Upper bound on invoices per batch; the configured batch size is capped by it.
pub const BATCH_MAX_RECORDS: usize = 65_536;

/// One framed input record.
#[derive(Debug)]
pub struct RawRecord {
    /// 1-based position in the run (across all inputs).
    pub seq: u64,
    /// Index of the input it came from.
    pub input: usize,
    /// Byte offset of the record in its input.
    pub offset: u64,
    pub body: Framed,
}

/// The document identity shown in the status report (empty where unreadable).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DocSummary {
    pub doc_type: String,
    pub doc_no: String,
    pub doc_date: String,
    pub seller_gstin: String,
}

/// The QR claims that come from the invoice (reference 4, SignedQRCode).
#[derive(Clone, Debug, PartialEq)]
pub struct QrFacts {
    pub buyer_gstin: String,
    pub tot_inv_val: Num,
    pub item_cnt: usize,
    pub main_hsn: String,
}

impl QrFacts {
    /// No claims: what `check` carries, as it signs nothing.
    pub fn none() -> QrFacts {
        QrFacts {
            buyer_gstin: String::new(),
            tot_inv_val: Num {
                value: rust_decimal::Decimal::ZERO,
                raw: 0.0,
            },
            item_cnt: 0,
            main_hsn: String::new(),
        }
    }
}

/// A valid invoice ready for the registry.
#[derive(Debug)]
pub struct Accepted {
    pub irn: Irn,
    /// The IRN of the document number as sent, when upper-casing changed it: registrations
    /// from before upper-casing began were keyed that way, and are the same document.
    pub as_sent_irn: Option<Irn>,
    /// `YYYYMM` of the document date, for the GSTR-1 index.
    pub period: String,
    /// Canonical JSON of the invoice (empty for `check`, which stores nothing).
    pub canonical: Vec<u8>,
    pub qr: QrFacts,
    /// Why EwbDtls makes no e-way bill (NIC's InfoDtls EWBERR on the accepted IRN).
    pub ewb_errors: Vec<Violation>,
}

/// The original registration a duplicate points to (NIC's InfoDtls DUPIRN).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DupInfo {
    pub ack_no: Option<u64>,
    pub ack_dt: Option<String>,
    pub irn: String,
    /// For `check`: the run position of the first occurrence.
    pub first_seq: Option<u64>,
}

/// What happened to one invoice.
#[derive(Debug)]
pub enum Outcome {
    /// Valid, waiting for the registry stage.
    Valid(Box<Accepted>),
    /// Registered (or, for `check`, would be): the response fields.
    Registered(Box<Registered>),
    /// Refused: every violation, and for a duplicate the original.
    Rejected {
        violations: Vec<Violation>,
        dup: Option<DupInfo>,
    },
}

/// A registration as reported.
#[derive(Debug)]
pub struct Registered {
    pub irn: Irn,
    /// `None` for `check`.
    pub ack_no: Option<u64>,
    pub ack_dt: Option<String>,
    pub signed_invoice: Option<String>,
    pub signed_qr: Option<String>,
    /// The rendered QR image of `signed_qr` (`--qr svg|png`), made on the rayon pool.
    pub qr_image: Option<Vec<u8>>,
    /// Kept until signing, then dropped.
    pub canonical: Vec<u8>,
    pub qr: QrFacts,
    /// InfoDtls EWBERR of the response (see [`Accepted::ewb_errors`]).
    pub ewb_errors: Vec<Violation>,
}

/// One record after the transform stage.
#[derive(Debug)]
pub struct Processed {
    pub seq: u64,
    pub input: usize,
    pub offset: u64,
    pub doc: DocSummary,
    pub outcome: Outcome,
}

/// A batch of consecutive records; batches travel in input order.
#[derive(Debug, Default)]
pub struct Batch<T> {
    pub records: Vec<T>,
    /// Raw bytes of the batch, for throughput figures.
    pub bytes: u64,
}
