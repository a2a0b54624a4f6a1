//! irp: a bulk engine for India's GST Invoice Registration Portal.
//!
//! It validates INV-01 invoices (NIC schema 1.1) with NIC's error codes, computes IRNs, refuses
//! duplicates against a RocksDB registry, assigns acknowledgement numbers, signs the invoice and
//! QR payload (RS256 JWS), and serves cancellation, lookups and GSTR-1 export. See
//! `ARCHITECTURE.md` for the pipeline and its invariants.

pub mod app;
pub mod bench;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dedup;
pub mod error;
pub mod gen;
pub mod gstin;
pub mod irn;
pub mod lifecycle;
pub mod masters;
pub mod model;
pub mod pipeline;
pub mod qr;
pub mod read;
pub mod record;
pub mod registry;
pub mod schema;
pub mod sign;
pub mod sign_stage;
pub mod sink;
pub mod telemetry;
pub mod transform;
pub mod validate;

pub use error::{Error, Result, Violation};
