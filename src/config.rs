//! Settings: `config/irp.toml`, every key optional, unknown keys rejected.
//!
//! The file shipped in `config/irp.toml` is exactly [`Settings::default`] (a test holds them
//! equal), so a missing file and the shipped file behave the same.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::model::Num;

/// The default configuration text, embedded so the binary runs anywhere.
pub const DEFAULT_TOML: &str = include_str!("../config/irp.toml");

/// All settings.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub pipeline: PipelineConfig,
    pub rules: RulesConfig,
    pub registry: RegistryConfig,
    pub signing: SigningConfig,
    pub lifecycle: LifecycleConfig,
    pub masters: MastersConfig,
}

/// Threads, batches and channel capacities.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Rayon worker threads for parse/validate/hash/sign; 0 = one per core.
    pub threads: usize,
    /// Invoices per batch: the unit of parallel work and of the registry commit.
    pub batch_size: usize,
    /// A batch is also closed when its raw bytes reach this size.
    pub batch_max_bytes: usize,
    /// Batches in flight on each channel between stages.
    pub channel_capacity_batches: usize,
    /// A record larger than this is rejected (5002, request body too large) without being
    /// buffered.
    pub max_record_bytes: usize,
    /// Map regular input files into memory instead of reading them (no copies).
    pub mmap: bool,
}

impl Default for PipelineConfig {
    fn default() -> PipelineConfig {
        PipelineConfig {
            threads: 0,
            batch_size: 2048,
            batch_max_bytes: 8 << 20,
            channel_capacity_batches: 4,
            max_record_bytes: 4 << 20,
            mmap: true,
        }
    }
}

/// Validation switches and limits.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    /// Enforce the GSTIN mod-36 check character (NIC's sandbox GSTINs fail it).
    pub gstin_checksum: bool,
    /// Tolerance in rupees on every arithmetic check.
    pub tolerance: f64,
    /// RndOffAmt must lie within ± this value.
    pub round_off_limit: f64,
    /// Allowed GstRt values (percent).
    pub allowed_gst_rates: Vec<f64>,
    /// Upper-case DocDtls.No before the IRN and the duplicate key (IRP practice since June 2025).
    pub upper_case_doc_no: bool,
    /// The day (`YYYY-MM-DD`, by the run's clock) from which `upper_case_doc_no` applies.
    pub upper_case_doc_no_from: String,
    /// Reporting window in days for sellers at or above the AATO threshold (needs a taxpayer master).
    pub reporting_window_days: i64,
    /// The day from which the reporting window applies at all (no window before it).
    pub reporting_window_from: String,
    /// AATO (crore) at or above which the window applies from `reporting_window_from`.
    pub reporting_window_initial_aato_crore: f64,
    /// The day from which `reporting_window_aato_crore` replaces the initial threshold.
    pub reporting_window_aato_from: String,
    /// AATO (crore) at or above which the reporting window applies from
    /// `reporting_window_aato_from`.
    pub reporting_window_aato_crore: f64,
    /// NIC code for the reporting-window rejection (2305 in ClearTax's list of NIC codes;
    /// unconfirmed in the reference).
    pub reporting_window_error_code: u16,
    /// The code of a payload not per the schema: 2140 (the reference) or 5002 (what NIC's
    /// responses show for field-level schema failures).
    pub schema_error_code: u16,
    /// Minimum HSN digits for sellers above `hsn_small_aato_crore` (and when the AATO is unknown).
    pub hsn_min_digits: usize,
    /// The day from which `hsn_min_digits` is enforced; before it every seller may use
    /// `hsn_min_digits_small`.
    pub hsn_min_digits_from: String,
    /// Minimum HSN digits for sellers with AATO at or below `hsn_small_aato_crore`.
    pub hsn_min_digits_small: usize,
    /// AATO (crore) up to which 4-digit HSN codes are allowed.
    pub hsn_small_aato_crore: f64,
    /// Reject CRN/DBN without PrecDocDtls (2191; unconfirmed whether NIC still does).
    pub require_preceding_doc_for_notes: bool,
    /// Reject an INV that carries PrecDocDtls (2210; off: current integrations send it freely).
    pub reject_preceding_doc_for_inv: bool,
    /// Check sum(item OthChrg) = ValDtls.OthChrg (2264; unconfirmed, off by default).
    pub item_oth_chrg_sum: bool,
    /// Require SEZ recipients to carry Stcd and Pos 96 (schema workbook rule 16; unconfirmed).
    pub sez_recipient_pos_96: bool,
    /// B2B: a ship-to state other than POS is 2245 (the reference's rule; NIC-signed
    /// bill-to-ship-to invoices break it, so off).
    pub ship_to_state_equals_pos: bool,
    /// A ship-to GSTIN equal to the recipient's is 2323 on documents dated on or after
    /// `ship_gstin_distinct_from` (GSTN advisory of 17 June 2026; NIC's sandbox answers 2323).
    pub ship_gstin_distinct: bool,
    /// The document date (`YYYY-MM-DD`) from which `ship_gstin_distinct` applies.
    pub ship_gstin_distinct_from: String,
    /// E-way bill problems reject the IRN (2251-2254) instead of riding on the accepted
    /// response as InfoDtls EWBERR (4xxx), which is what NIC-signed responses show.
    pub ewb_errors_reject_irn: bool,
    /// Check TotAmt = Qty x UnitPrice (2192; NIC's sandbox signed invoices that break it).
    pub tot_amt_qty_price: bool,
    /// Check PIN codes against the state's PIN prefix ranges (2178 / 3039).
    pub pin_state_check: bool,
    /// PIN errors with the codes NIC's responses show (3038 for a PIN in no state's ranges,
    /// 3039 for another state's PIN, any party) instead of the reference's 2178 / 3039.
    pub nic_pin_codes: bool,
    /// Maximum items per document (2173).
    pub max_items: usize,
    /// Accept the legacy state codes 25 and 28.
    pub legacy_state_codes: bool,
}

impl Default for RulesConfig {
    fn default() -> RulesConfig {
        RulesConfig {
            gstin_checksum: true,
            tolerance: 1.0,
            round_off_limit: 99.99,
            allowed_gst_rates: vec![
                0.0, 0.1, 0.25, 0.5, 1.0, 1.5, 3.0, 5.0, 6.0, 7.5, 12.0, 18.0, 28.0, 40.0,
            ],
            upper_case_doc_no: true,
            upper_case_doc_no_from: "2025-06-01".to_owned(),
            reporting_window_days: 30,
            reporting_window_from: "2023-11-01".to_owned(),
            reporting_window_initial_aato_crore: 100.0,
            reporting_window_aato_from: "2025-04-01".to_owned(),
            reporting_window_aato_crore: 10.0,
            reporting_window_error_code: 2305,
            schema_error_code: 2140,
            hsn_min_digits: 6,
            hsn_min_digits_from: "2023-12-15".to_owned(),
            hsn_min_digits_small: 4,
            hsn_small_aato_crore: 5.0,
            require_preceding_doc_for_notes: false,
            reject_preceding_doc_for_inv: false,
            item_oth_chrg_sum: false,
            sez_recipient_pos_96: false,
            ship_to_state_equals_pos: false,
            ship_gstin_distinct: true,
            ship_gstin_distinct_from: "2026-08-01".to_owned(),
            ewb_errors_reject_irn: false,
            tot_amt_qty_price: true,
            pin_state_check: true,
            nic_pin_codes: false,
            max_items: 1000,
            legacy_state_codes: false,
        }
    }
}

impl RulesConfig {
    /// Whether DocDtls.No is upper-cased for the IRN and duplicate key on `today`.
    pub fn upper_case_doc_no_on(&self, today: NaiveDate) -> bool {
        self.upper_case_doc_no && on_or_after(today, &self.upper_case_doc_no_from)
    }

    /// The AATO (crore) at or above which the reporting window applies on `today`; `None`
    /// before the window existed.
    pub fn reporting_window_aato_on(&self, today: NaiveDate) -> Option<f64> {
        if !on_or_after(today, &self.reporting_window_from) {
            None
        } else if on_or_after(today, &self.reporting_window_aato_from) {
            Some(self.reporting_window_aato_crore)
        } else {
            Some(self.reporting_window_initial_aato_crore)
        }
    }

    /// The minimum HSN digits for a seller above the small-taxpayer AATO on `today`.
    pub fn hsn_min_digits_on(&self, today: NaiveDate) -> usize {
        if on_or_after(today, &self.hsn_min_digits_from) {
            self.hsn_min_digits
        } else {
            self.hsn_min_digits_small
        }
    }

    /// Whether a ship-to GSTIN must differ from the recipient's on a document dated `doc_date`.
    pub fn ship_gstin_distinct_for(&self, doc_date: NaiveDate) -> bool {
        self.ship_gstin_distinct && on_or_after(doc_date, &self.ship_gstin_distinct_from)
    }

    /// The date keys, named, for the load-time check.
    fn dates(&self) -> [(&'static str, &str); 5] {
        [
            ("upper_case_doc_no_from", &self.upper_case_doc_no_from),
            ("reporting_window_from", &self.reporting_window_from),
            (
                "reporting_window_aato_from",
                &self.reporting_window_aato_from,
            ),
            ("hsn_min_digits_from", &self.hsn_min_digits_from),
            ("ship_gstin_distinct_from", &self.ship_gstin_distinct_from),
        ]
    }

    /// The tolerance as an exact decimal.
    pub fn tolerance_decimal(&self) -> Decimal {
        to_decimal(self.tolerance)
    }

    /// The round-off bound as an exact decimal.
    pub fn round_off_decimal(&self) -> Decimal {
        to_decimal(self.round_off_limit)
    }

    /// The allowed rates as exact decimals.
    pub fn allowed_rates_decimal(&self) -> Vec<Decimal> {
        self.allowed_gst_rates
            .iter()
            .map(|r| to_decimal(*r))
            .collect()
    }
}

/// A `YYYY-MM-DD` config date; the load-time check rejects any other form.
fn config_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// `today` is on or after the config date `from` (always true for a date that does not
/// parse, which `Settings::check` has already refused).
fn on_or_after(today: NaiveDate, from: &str) -> bool {
    config_date(from).is_none_or(|from| today >= from)
}

fn to_decimal(value: f64) -> Decimal {
    Num::from_f64(value).map(|n| n.value).unwrap_or_default()
}

/// RocksDB registry settings.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryConfig {
    /// fsync the write-ahead log on every batch commit (durable before reported).
    pub sync_per_batch: bool,
    /// Block cache in MiB (shared by all column families).
    pub block_cache_mb: usize,
    /// Bloom filter bits per key on the IRN column family (0 = none).
    pub bloom_bits_per_key: f64,
    /// Compression of the registration records: "none", "lz4" or "zstd".
    pub compression: String,
    /// Write buffer (memtable) size in MiB.
    pub write_buffer_mb: usize,
    /// Data block size in KiB: larger blocks compress registrations better.
    pub block_size_kb: usize,
    /// The first two digits of every AckNo (identifies this IRP instance; 10..99).
    pub ack_prefix: u8,
}

impl Default for RegistryConfig {
    fn default() -> RegistryConfig {
        RegistryConfig {
            sync_per_batch: true,
            block_cache_mb: 64,
            bloom_bits_per_key: 10.0,
            compression: "lz4".to_owned(),
            write_buffer_mb: 64,
            block_size_kb: 16,
            ack_prefix: 11,
        }
    }
}

/// Signing settings.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SigningConfig {
    /// "rs256" (NIC), or the faster, not NIC-compatible "es256" / "eddsa".
    pub algorithm: String,
    /// PKCS#8 PEM private key.
    pub key: PathBuf,
    /// PEM X.509 certificate of the key.
    pub cert: PathBuf,
    /// Make a development key and certificate at `key`/`cert` when both are missing.
    pub generate_dev_key: bool,
    /// The `iss` claim: "NIC" in production, "NIC Sandbox" on the sandbox.
    pub iss: String,
}

impl Default for SigningConfig {
    fn default() -> SigningConfig {
        SigningConfig {
            algorithm: "rs256".to_owned(),
            key: PathBuf::from("data/keys/irp-signing-key.pem"),
            cert: PathBuf::from("data/keys/irp-signing-cert.pem"),
            generate_dev_key: true,
            iss: "NIC".to_owned(),
        }
    }
}

/// Cancellation and lookup windows.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LifecycleConfig {
    /// Hours after AckDt within which an IRN may be cancelled (2270).
    pub cancel_window_hours: i64,
    /// Maximum CnlRem length.
    pub cancel_remark_max: usize,
    /// Days after AckDt within which `get` serves an IRN (2283); 0 = no window.
    pub lookup_window_days: i64,
}

impl Default for LifecycleConfig {
    fn default() -> LifecycleConfig {
        LifecycleConfig {
            cancel_window_hours: 24,
            cancel_remark_max: 100,
            lookup_window_days: 0,
        }
    }
}

/// Where the master data and the taxpayer master come from.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MastersConfig {
    /// A folder with states.csv, uqc.csv, pin_ranges.csv, hsn.csv, countries.csv,
    /// currencies.csv, ports.csv; empty = the copies built into the binary.
    pub dir: Option<PathBuf>,
    /// Taxpayer master CSV (`gstin,legal_name,state_code,status,aato_crore,type`); empty = none.
    pub taxpayers: Option<PathBuf>,
}

impl Settings {
    /// Reads a configuration file; a missing file at the default path gives the defaults.
    ///
    /// # Errors
    /// An unreadable file, a missing explicitly named file, or invalid TOML / unknown keys.
    pub fn load(path: &Path, explicit: bool) -> Result<Settings> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                DEFAULT_TOML.to_owned()
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        Settings::parse(&text, path)
    }

    /// Parses configuration text.
    ///
    /// # Errors
    /// Invalid TOML, unknown keys or invalid values.
    pub fn parse(text: &str, path: &Path) -> Result<Settings> {
        let settings: Settings = toml::from_str(text).map_err(|e| Error::Config {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        settings.check().map_err(|message| Error::Config {
            path: path.to_owned(),
            message,
        })?;
        Ok(settings)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.pipeline.batch_size == 0 || self.pipeline.channel_capacity_batches == 0 {
            return Err(
                "pipeline.batch_size and channel_capacity_batches must be at least 1".into(),
            );
        }
        if !(10..=99).contains(&self.registry.ack_prefix) {
            return Err("registry.ack_prefix must be 10..99".into());
        }
        if !["none", "lz4", "zstd"].contains(&self.registry.compression.as_str()) {
            return Err("registry.compression must be none, lz4 or zstd".into());
        }
        if !["rs256", "es256", "eddsa"].contains(&self.signing.algorithm.as_str()) {
            return Err("signing.algorithm must be rs256, es256 or eddsa".into());
        }
        if ![2140, 5002].contains(&self.rules.schema_error_code) {
            return Err(format!(
                "rules.schema_error_code must be 2140 or 5002, not {}",
                self.rules.schema_error_code
            ));
        }
        for (key, value) in self.rules.dates() {
            if config_date(value).is_none() {
                return Err(format!(
                    "rules.{key} must be a date YYYY-MM-DD, not {value:?}"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_equals_defaults() {
        let parsed = Settings::parse(DEFAULT_TOML, Path::new("config/irp.toml")).unwrap();
        assert_eq!(parsed, Settings::default());
    }

    #[test]
    fn rules_follow_their_start_dates() {
        let r = RulesConfig::default();
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(r.reporting_window_aato_on(day(2023, 10, 31)), None);
        assert_eq!(r.reporting_window_aato_on(day(2023, 11, 1)), Some(100.0));
        assert_eq!(r.reporting_window_aato_on(day(2025, 3, 31)), Some(100.0));
        assert_eq!(r.reporting_window_aato_on(day(2025, 4, 1)), Some(10.0));
        assert_eq!(r.hsn_min_digits_on(day(2023, 12, 14)), 4);
        assert_eq!(r.hsn_min_digits_on(day(2023, 12, 15)), 6);
        assert!(!r.upper_case_doc_no_on(day(2025, 5, 31)));
        assert!(r.upper_case_doc_no_on(day(2025, 6, 1)));
        // By the document's date, not the run's clock.
        assert!(!r.ship_gstin_distinct_for(day(2026, 7, 31)));
        assert!(r.ship_gstin_distinct_for(day(2026, 8, 1)));
        let off = RulesConfig {
            upper_case_doc_no: false,
            ..RulesConfig::default()
        };
        assert!(!off.upper_case_doc_no_on(day(2026, 1, 1)));
    }

    #[test]
    fn a_config_date_must_be_a_date() {
        let err = Settings::parse(
            "[rules]\nreporting_window_from = \"1/11/2023\"\n",
            Path::new("x.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("reporting_window_from"), "{err}");
    }

    #[test]
    fn the_schema_code_is_2140_or_5002() {
        let ok = Settings::parse("[rules]\nschema_error_code = 5002\n", Path::new("x.toml"));
        assert_eq!(ok.map(|s| s.rules.schema_error_code).ok(), Some(5002));
        let err = Settings::parse("[rules]\nschema_error_code = 2150\n", Path::new("x.toml"))
            .unwrap_err();
        assert!(err.to_string().contains("schema_error_code"), "{err}");
    }

    #[test]
    fn unknown_keys_rejected() {
        let err = Settings::parse("[rules]\nno_such_key = 1\n", Path::new("x.toml")).unwrap_err();
        assert!(err.to_string().contains("no_such_key"), "{err}");
    }
}
