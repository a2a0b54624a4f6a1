//! The registry: every registration ever made, in RocksDB. The only module that imports rocksdb.
//!
//! Column families:
//! - `irn`: IRN (32 bytes) → [`Registration`] (JSON). The duplicate key is the IRN.
//! - `period`: seller GSTIN (15) + `YYYYMM` of the document date (6) + IRN (32) → empty;
//!   the secondary index that makes a GSTR-1 export a prefix scan.
//! - `meta`: counters (`ack_seq`, `run_seq`).
//! - `runs`: run fingerprint (32) → [`RunRecord`]; lets a killed run resume as itself.
//!
//! Every commit is one atomic `WriteBatch` that holds the registrations of a batch, their
//! index entries and the new AckNo counter, so the registry is consistent after any crash.

use std::path::{Path, PathBuf};

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DBCompressionType, Direction, IteratorMode,
    Options, WriteBatch, WriteOptions, DB,
};
use serde::{Deserialize, Serialize};

use crate::config::RegistryConfig;
use crate::error::{Error, Result};
use crate::irn::Irn;

const CF_IRN: &str = "irn";
const CF_PERIOD: &str = "period";
const CF_META: &str = "meta";
const CF_RUNS: &str = "runs";
const KEY_ACK_SEQ: &[u8] = b"ack_seq";
const KEY_RUN_SEQ: &[u8] = b"run_seq";

/// Registration status: active or cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IrnStatus {
    #[serde(rename = "ACT")]
    Active,
    #[serde(rename = "CNL")]
    Cancelled,
}

impl IrnStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IrnStatus::Active => "ACT",
            IrnStatus::Cancelled => "CNL",
        }
    }
}

/// A cancellation as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    pub date: String,
    pub reason: String,
    pub remark: String,
    /// The cancel run and its sequence number, so a resumed cancel run recognises its own work.
    pub run: u64,
    pub seq: u64,
}

/// An e-way bill known to the registry (an IRN with an active one cannot be cancelled: 2230).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EwayBill {
    pub ewb_no: u64,
    pub ewb_dt: String,
    pub valid_till: String,
    pub active: bool,
}

/// One registration: everything needed to re-sign, cancel, look up and export it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Registration {
    pub ack_no: u64,
    pub ack_dt: String,
    pub status: IrnStatus,
    /// The run that registered it, and its position there.
    pub run: u64,
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<Cancellation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ewb: Option<EwayBill>,
    /// The accepted invoice, canonical compact JSON (as embedded in SignedInvoice).
    pub invoice: Box<serde_json::value::RawValue>,
}

impl Registration {
    /// Whether `gstin` is the seller of the registered invoice (NIC's owner rule, 2143): read
    /// from the stored invoice, compared without regard to case.
    pub fn is_owned_by(&self, gstin: &str) -> bool {
        #[derive(Deserialize)]
        struct Stored<'a> {
            #[serde(rename = "SellerDtls", borrow)]
            seller: Seller<'a>,
        }
        #[derive(Deserialize)]
        struct Seller<'a> {
            #[serde(rename = "Gstin", borrow)]
            gstin: std::borrow::Cow<'a, str>,
        }
        serde_json::from_str::<Stored<'_>>(self.invoice.get())
            .is_ok_and(|s| s.seller.gstin.eq_ignore_ascii_case(gstin.trim()))
    }
}

/// A run's identity and state, keyed by its fingerprint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: u64,
    pub complete: bool,
    pub command: String,
    /// When the run first started (IST `yyyy-MM-dd HH:mm:ss`): a resumed run judges dates
    /// against this clock, so a rerun after midnight gives the outcomes of the first start.
    #[serde(default)]
    pub started: String,
}

/// A new registration of a batch, with its secondary-index key parts.
pub struct NewRegistration<'a> {
    pub irn: Irn,
    pub seller_gstin: &'a str,
    /// `YYYYMM` of the document date.
    pub period: &'a str,
    pub registration: &'a Registration,
}

/// The open registry.
pub struct Registry {
    db: DB,
    path: PathBuf,
    sync: bool,
    read_only: bool,
    /// Bulk pre-fill: no WAL (the caller flushes at the end).
    bulk: bool,
    ack_seq: u64,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("path", &self.path)
            .finish()
    }
}

/// RocksDB's open error, with the usual cause said first: its lock message ("While lock
/// file: …/LOCK: Resource temporarily unavailable") does not tell an operator that another
/// process is using the registry.
fn open_message(rocks: &str) -> String {
    if rocks.contains("LOCK") && (rocks.contains("lock file") || rocks.contains("lock hold")) {
        format!("in use: another process (or another handle in this one) holds its lock (RocksDB: {rocks})")
    } else {
        rocks.to_owned()
    }
}

impl Registry {
    /// Opens (creating if needed) the registry for writing. Fails when another process holds it.
    ///
    /// # Errors
    /// RocksDB open errors (locked, corrupt, unreadable), naming the path.
    pub fn open(path: &Path, cfg: &RegistryConfig) -> Result<Registry> {
        Registry::open_mode(path, cfg, false)
    }

    /// Opens an existing registry read-only (no lock taken; `irp check --db`, `get`, `gstr1`).
    ///
    /// # Errors
    /// A missing or unreadable registry, naming the path.
    pub fn open_read_only(path: &Path, cfg: &RegistryConfig) -> Result<Registry> {
        Registry::open_mode(path, cfg, true)
    }

    fn open_mode(path: &Path, cfg: &RegistryConfig, read_only: bool) -> Result<Registry> {
        let err = |e: rocksdb::Error| Error::Registry {
            path: path.to_owned(),
            message: open_message(e.as_ref()),
        };
        if read_only && !path.join("CURRENT").exists() {
            return Err(Error::Registry {
                path: path.to_owned(),
                message: "no registry here (run `irp register` first)".to_owned(),
            });
        }
        if !read_only {
            std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))?;
        }
        let cache = Cache::new_lru_cache(cfg.block_cache_mb.max(1) << 20);
        let compression = match cfg.compression.as_str() {
            "none" => DBCompressionType::None,
            "zstd" => DBCompressionType::Zstd,
            _ => DBCompressionType::Lz4,
        };
        let cf_opts = |bloom: bool| {
            let mut block = BlockBasedOptions::default();
            block.set_block_cache(&cache);
            block.set_block_size(cfg.block_size_kb.max(1) << 10);
            if bloom && cfg.bloom_bits_per_key > 0.0 {
                block.set_bloom_filter(cfg.bloom_bits_per_key, false);
            }
            block.set_cache_index_and_filter_blocks(true);
            block.set_pin_l0_filter_and_index_blocks_in_cache(true);
            let mut opts = Options::default();
            opts.set_block_based_table_factory(&block);
            opts.set_compression_type(compression);
            opts.set_bottommost_compression_type(if compression == DBCompressionType::None {
                DBCompressionType::None
            } else {
                DBCompressionType::Zstd
            });
            opts.set_write_buffer_size(cfg.write_buffer_mb.max(1) << 20);
            opts
        };
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.set_max_background_jobs(2);
        db_opts.set_keep_log_file_num(4);
        let cfs = vec![
            ColumnFamilyDescriptor::new(CF_IRN, cf_opts(true)),
            ColumnFamilyDescriptor::new(CF_PERIOD, cf_opts(false)),
            ColumnFamilyDescriptor::new(CF_META, cf_opts(false)),
            ColumnFamilyDescriptor::new(CF_RUNS, cf_opts(false)),
        ];
        let db = if read_only {
            DB::open_cf_descriptors_read_only(&db_opts, path, cfs, false).map_err(err)?
        } else {
            DB::open_cf_descriptors(&db_opts, path, cfs).map_err(err)?
        };
        let mut registry = Registry {
            db,
            path: path.to_owned(),
            sync: cfg.sync_per_batch,
            read_only,
            bulk: false,
            ack_seq: 0,
        };
        registry.ack_seq = registry.counter(KEY_ACK_SEQ)?;
        Ok(registry)
    }

    /// The registry's folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fail(&self, e: impl std::fmt::Display) -> Error {
        Error::Registry {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| self.fail(format!("column family {name} missing")))
    }

    fn counter(&self, key: &[u8]) -> Result<u64> {
        let cf = self.cf(CF_META)?;
        match self.db.get_cf(cf, key).map_err(|e| self.fail(e))? {
            Some(v) if v.len() == 8 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&v);
                Ok(u64::from_be_bytes(b))
            }
            Some(_) => Err(self.fail(format!("corrupt counter {}", String::from_utf8_lossy(key)))),
            None => Ok(0),
        }
    }

    /// The last AckNo sequence number committed (0 for an empty registry).
    pub fn ack_seq(&self) -> u64 {
        self.ack_seq
    }

    /// Looks up many IRNs at once (one RocksDB multi-get).
    ///
    /// # Errors
    /// RocksDB read errors or a corrupt record.
    pub fn get_many(&self, irns: &[Irn]) -> Result<Vec<Option<Registration>>> {
        let cf = self.cf(CF_IRN)?;
        let keys = irns.iter().map(|irn| (cf, irn.as_slice()));
        self.db
            .multi_get_cf(keys)
            .into_iter()
            .map(|res| match res.map_err(|e| self.fail(e))? {
                Some(bytes) => self.decode(&bytes).map(Some),
                None => Ok(None),
            })
            .collect()
    }

    /// Looks up one IRN.
    ///
    /// # Errors
    /// RocksDB read errors or a corrupt record.
    pub fn get(&self, irn: &Irn) -> Result<Option<Registration>> {
        let cf = self.cf(CF_IRN)?;
        match self.db.get_pinned_cf(cf, irn).map_err(|e| self.fail(e))? {
            Some(bytes) => self.decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    fn decode(&self, bytes: &[u8]) -> Result<Registration> {
        serde_json::from_slice(bytes).map_err(|e| self.fail(format!("corrupt registration: {e}")))
    }

    /// Durably commits a batch of new registrations, their index entries and the AckNo
    /// counter `new_ack_seq` in one atomic write. Nothing is reported before this returns.
    ///
    /// # Errors
    /// A failed write (disk full, I/O error); the registry keeps its previous state.
    pub fn commit(&mut self, regs: &[NewRegistration<'_>], new_ack_seq: u64) -> Result<()> {
        let mut batch = WriteBatch::default();
        let cf_irn = self.cf(CF_IRN)?;
        let cf_period = self.cf(CF_PERIOD)?;
        let cf_meta = self.cf(CF_META)?;
        let mut key = Vec::with_capacity(53);
        for reg in regs {
            let value = serde_json::to_vec(reg.registration).map_err(|e| self.fail(e))?;
            batch.put_cf(cf_irn, reg.irn, value);
            key.clear();
            key.extend_from_slice(reg.seller_gstin.as_bytes());
            key.extend_from_slice(reg.period.as_bytes());
            key.extend_from_slice(&reg.irn);
            batch.put_cf(cf_period, &key, []);
        }
        batch.put_cf(cf_meta, KEY_ACK_SEQ, new_ack_seq.to_be_bytes());
        self.write(batch)?;
        self.ack_seq = new_ack_seq;
        Ok(())
    }

    /// Durably replaces existing registrations (cancellation).
    ///
    /// # Errors
    /// A failed write.
    pub fn update(&mut self, regs: &[(Irn, &Registration)]) -> Result<()> {
        let mut batch = WriteBatch::default();
        let cf_irn = self.cf(CF_IRN)?;
        for (irn, reg) in regs {
            let value = serde_json::to_vec(reg).map_err(|e| self.fail(e))?;
            batch.put_cf(cf_irn, irn, value);
        }
        self.write(batch)
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        if self.read_only {
            return Err(self.fail("opened read-only"));
        }
        let mut opts = WriteOptions::default();
        opts.set_sync(self.sync);
        opts.disable_wal(self.bulk);
        self.db.write_opt(batch, &opts).map_err(|e| self.fail(e))
    }

    /// Starts or resumes a run. A fingerprint with an unfinished run resumes it (same run id);
    /// otherwise a new run id is issued and recorded durably before any registration.
    ///
    /// # Errors
    /// Registry read/write errors.
    pub fn begin_run(&mut self, fingerprint: &[u8; 32], command: &str) -> Result<(u64, bool)> {
        let (run_id, resumed, _) = self.begin_run_at(fingerprint, command, "")?;
        Ok((run_id, resumed))
    }

    /// [`Registry::begin_run`] that also records the start time `started`, and on resume
    /// returns the time the run first started.
    ///
    /// # Errors
    /// Registry read/write errors.
    pub fn begin_run_at(
        &mut self,
        fingerprint: &[u8; 32],
        command: &str,
        started: &str,
    ) -> Result<(u64, bool, String)> {
        let cf_runs = self.cf(CF_RUNS)?;
        if let Some(bytes) = self
            .db
            .get_cf(cf_runs, fingerprint)
            .map_err(|e| self.fail(e))?
        {
            let run: RunRecord = serde_json::from_slice(&bytes)
                .map_err(|e| self.fail(format!("corrupt run: {e}")))?;
            if !run.complete {
                return Ok((run.run_id, true, run.started));
            }
        }
        let run_id = self.counter(KEY_RUN_SEQ)? + 1;
        let record = RunRecord {
            run_id,
            complete: false,
            command: command.to_owned(),
            started: started.to_owned(),
        };
        let mut batch = WriteBatch::default();
        batch.put_cf(
            cf_runs,
            fingerprint,
            serde_json::to_vec(&record).map_err(|e| self.fail(e))?,
        );
        batch.put_cf(self.cf(CF_META)?, KEY_RUN_SEQ, run_id.to_be_bytes());
        self.write(batch)?;
        Ok((run_id, false, started.to_owned()))
    }

    /// Marks a run complete: running the same command again is then a new run.
    ///
    /// # Errors
    /// Registry write errors.
    pub fn finish_run(&mut self, fingerprint: &[u8; 32], run_id: u64, command: &str) -> Result<()> {
        let record = RunRecord {
            run_id,
            complete: true,
            command: command.to_owned(),
            started: String::new(),
        };
        let mut batch = WriteBatch::default();
        batch.put_cf(
            self.cf(CF_RUNS)?,
            fingerprint,
            serde_json::to_vec(&record).map_err(|e| self.fail(e))?,
        );
        self.write(batch)
    }

    /// IRNs of one seller in one period (`YYYYMM`), in IRN order.
    ///
    /// # Errors
    /// Registry read errors.
    pub fn irns_for_period(&self, seller_gstin: &str, period: &str) -> Result<Vec<Irn>> {
        let cf = self.cf(CF_PERIOD)?;
        let mut prefix = Vec::with_capacity(21);
        prefix.extend_from_slice(seller_gstin.as_bytes());
        prefix.extend_from_slice(period.as_bytes());
        let mut out = Vec::new();
        let iter = self
            .db
            .iterator_cf(cf, IteratorMode::From(&prefix, Direction::Forward));
        for item in iter {
            let (key, _) = item.map_err(|e| self.fail(e))?;
            if !key.starts_with(&prefix) {
                break;
            }
            let mut irn = [0u8; 32];
            if key.len() == prefix.len() + 32 {
                irn.copy_from_slice(&key[prefix.len()..]);
                out.push(irn);
            }
        }
        Ok(out)
    }

    /// Writes without fsync and without the WAL: for bulk pre-filling a benchmark registry.
    /// Call [`Registry::flush`] at the end; a crash before it loses the unflushed part.
    ///
    /// # Errors
    /// Registry write errors.
    pub fn commit_bulk_unsynced(
        &mut self,
        regs: &[NewRegistration<'_>],
        new_ack_seq: u64,
    ) -> Result<()> {
        let saved = self.sync;
        self.sync = false;
        self.bulk = true;
        let res = self.commit(regs, new_ack_seq);
        self.sync = saved;
        self.bulk = false;
        res
    }

    /// Waits until RocksDB has no compaction pending or running (after a bulk load, so a
    /// benchmark measures a registry in its steady state), or until `timeout`. Returns the time
    /// waited.
    ///
    /// # Errors
    /// Registry property read errors.
    pub fn wait_for_compactions(
        &self,
        timeout: std::time::Duration,
    ) -> Result<std::time::Duration> {
        let started = std::time::Instant::now();
        loop {
            let mut busy = false;
            for name in [CF_IRN, CF_PERIOD] {
                let cf = self.cf(name)?;
                for prop in [
                    "rocksdb.compaction-pending",
                    "rocksdb.num-running-compactions",
                ] {
                    let value = self
                        .db
                        .property_int_value_cf(cf, prop)
                        .map_err(|e| self.fail(e))?
                        .unwrap_or(0);
                    busy |= value > 0;
                }
            }
            if !busy || started.elapsed() >= timeout {
                return Ok(started.elapsed());
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }

    /// Flushes memtables to disk (after a bulk load).
    ///
    /// # Errors
    /// Registry flush errors.
    pub fn flush(&self) -> Result<()> {
        for name in [CF_IRN, CF_PERIOD, CF_META, CF_RUNS] {
            self.db.flush_cf(self.cf(name)?).map_err(|e| self.fail(e))?;
        }
        Ok(())
    }
}

/// AckNo from the sequence: prefix (2 digits) + AckDt year (2) + `1` + sequence (10 digits),
/// the structure seen in NIC's samples (an inference: treated as opaque but unique).
pub fn ack_no(prefix: u8, year: i32, seq: u64) -> u64 {
    u64::from(prefix) * 10_000_000_000_000
        + (year.rem_euclid(100) as u64) * 100_000_000_000
        + 10_000_000_000
        + seq % 10_000_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(ack: u64, run: u64, seq: u64) -> Registration {
        Registration {
            ack_no: ack,
            ack_dt: "2025-01-01 10:00:00".into(),
            status: IrnStatus::Active,
            run,
            seq,
            cancel: None,
            ewb: None,
            invoice: serde_json::value::RawValue::from_string("{\"Version\":\"1.1\"}".into())
                .unwrap(),
        }
    }

    #[test]
    fn resumed_run_keeps_its_first_start_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Registry::open(dir.path(), &RegistryConfig::default()).unwrap();
        let first = r
            .begin_run_at(&[4; 32], "register", "2025-06-30 23:55:00")
            .unwrap();
        assert_eq!(first, (1, false, "2025-06-30 23:55:00".to_owned()));
        // Killed, rerun after midnight: the run resumes with the clock of its first start.
        let again = r
            .begin_run_at(&[4; 32], "register", "2025-07-01 00:05:00")
            .unwrap();
        assert_eq!(again, (1, true, "2025-06-30 23:55:00".to_owned()));
    }

    #[test]
    fn a_held_registry_is_named_as_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = RegistryConfig::default();
        let _held = Registry::open(dir.path(), &cfg).unwrap();
        let e = Registry::open(dir.path(), &cfg).unwrap_err().to_string();
        assert!(e.contains("in use: another process"), "{e}");
        assert!(e.contains(&dir.path().display().to_string()), "{e}");
        // Other open errors pass through as RocksDB words them.
        assert_eq!(
            open_message("Corruption: bad block"),
            "Corruption: bad block"
        );
    }

    #[test]
    fn ack_no_shape() {
        assert_eq!(ack_no(11, 2025, 1), 112510000000001);
        assert_eq!(ack_no(11, 2025, 1).to_string().len(), 15);
    }

    #[test]
    fn commit_get_reopen_runs_and_period_index() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = RegistryConfig::default();
        let irn_a = [1u8; 32];
        let irn_b = [2u8; 32];
        {
            let mut r = Registry::open(dir.path(), &cfg).unwrap();
            let (run, resumed) = r.begin_run(&[9; 32], "register").unwrap();
            assert_eq!((run, resumed), (1, false));
            let (a, b) = (reg(11, run, 1), reg(12, run, 2));
            r.commit(
                &[
                    NewRegistration {
                        irn: irn_a,
                        seller_gstin: "29AAFCC9980M1ZR",
                        period: "202501",
                        registration: &a,
                    },
                    NewRegistration {
                        irn: irn_b,
                        seller_gstin: "29AAFCC9980M1ZR",
                        period: "202502",
                        registration: &b,
                    },
                ],
                2,
            )
            .unwrap();
            // A second writer is refused while the first holds the lock.
            assert!(Registry::open(dir.path(), &cfg).is_err());
        }
        let mut r = Registry::open(dir.path(), &cfg).unwrap();
        assert_eq!(r.ack_seq(), 2);
        assert_eq!(r.begin_run(&[9; 32], "register").unwrap(), (1, true));
        r.finish_run(&[9; 32], 1, "register").unwrap();
        assert_eq!(r.begin_run(&[9; 32], "register").unwrap(), (2, false));
        let got = r.get_many(&[irn_a, [3; 32], irn_b]).unwrap();
        assert_eq!(got[0].as_ref().unwrap().ack_no, 11);
        assert!(got[1].is_none());
        assert_eq!(got[2].as_ref().unwrap().seq, 2);
        assert_eq!(
            r.irns_for_period("29AAFCC9980M1ZR", "202501").unwrap(),
            vec![irn_a]
        );
        drop(r);
        let ro = Registry::open_read_only(dir.path(), &cfg).unwrap();
        assert!(ro.get(&irn_b).unwrap().is_some());
    }
}
