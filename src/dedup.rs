//! Registry stage: the one owner of the registry during a run. Refuses duplicates (against the
//! registry and earlier invoices of the run), assigns AckNo/AckDt in input order, and commits
//! each batch durably before handing it on. Nothing downstream sees a registration that is
//! not yet committed.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDateTime};
use serde_json::value::RawValue;

use crate::clock;
use crate::error::{Error, Result, Violation};
use crate::irn::{self, Irn};
use crate::record::{Batch, DupInfo, Outcome, Processed, Registered};
use crate::registry::{self, IrnStatus, NewRegistration, Registration, Registry};

/// Where AckDt comes from: a fixed `--now`, or the system clock at each commit.
#[derive(Clone, Copy, Debug)]
pub enum Clock {
    Fixed(NaiveDateTime),
    System,
}

impl Clock {
    pub fn now(&self) -> NaiveDateTime {
        match self {
            Clock::Fixed(t) => *t,
            Clock::System => clock::now_ist(),
        }
    }
}

/// The registry stage of `register`.
pub struct RegisterStage {
    pub registry: Registry,
    pub run_id: u64,
    pub ack_prefix: u8,
    pub clock: Clock,
}

/// The duplicate stage of `check`: nothing is written.
pub struct CheckStage {
    pub registry: Option<Registry>,
    seen: SeenSet,
}

impl CheckStage {
    pub fn new(registry: Option<Registry>) -> CheckStage {
        CheckStage {
            registry,
            seen: SeenSet::default(),
        }
    }
}

/// Shards of the IRNs seen in a `check` run: the one structure that grows with the input.
/// An entry is 16 bytes: 96 bits of the IRN and the run position as `u32`. With the shard
/// byte, 104 bits of SHA-256 identify an IRN (a collision among 10^10 IRNs has odds below
/// 10^-11). Sharding keeps each table small, so growing one never doubles the whole set's
/// memory at once; about 25 bytes an invoice on average.
///
/// The tables live on the system allocator: each outgrown table is a large block that
/// glibc hands straight back to the OS, where mimalloc (the binary's allocator, faster for
/// the per-invoice work) keeps it cached; peak RSS on a 10 GB input was 415 MB that way.
struct SeenSet {
    shards: Vec<hashbrown::HashMap<[u8; 12], u32, IrnHash, allocator_api2::alloc::System>>,
}

/// Number of shards (indexed by a byte of the IRN outside the stored 96 bits).
const SEEN_SHARDS: usize = 256;

/// Stored for a run position beyond `u32`: the first occurrence is then reported unplaced.
const SEQ_UNKNOWN: u32 = u32::MAX;

impl Default for SeenSet {
    fn default() -> SeenSet {
        SeenSet {
            shards: (0..SEEN_SHARDS)
                .map(|_| hashbrown::HashMap::with_hasher_in(IrnHash, allocator_api2::alloc::System))
                .collect(),
        }
    }
}

impl SeenSet {
    /// `None` if this IRN is new (it is recorded at `seq`); otherwise `Some` with the run
    /// position of its first occurrence, when that fits a `u32` (4.29 billion invoices).
    fn first_or_insert(&mut self, irn: &Irn, seq: u64) -> Option<Option<u64>> {
        let mut key = [0u8; 12];
        key.copy_from_slice(&irn[..12]);
        let shard = &mut self.shards[usize::from(irn[12]) % SEEN_SHARDS];
        match shard.entry(key) {
            hashbrown::hash_map::Entry::Occupied(e) => {
                Some((*e.get() != SEQ_UNKNOWN).then_some(u64::from(*e.get())))
            }
            hashbrown::hash_map::Entry::Vacant(e) => {
                e.insert(u32::try_from(seq).unwrap_or(SEQ_UNKNOWN));
                None
            }
        }
    }
}

/// IRNs are SHA-256 output, already uniform: their first 8 bytes are the hash.
#[derive(Clone, Copy, Default)]
struct IrnHash;

impl std::hash::BuildHasher for IrnHash {
    type Hasher = IrnHasher;
    fn build_hasher(&self) -> IrnHasher {
        IrnHasher(0)
    }
}

struct IrnHasher(u64);

impl std::hash::Hasher for IrnHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut word = [0u8; 8];
        let n = bytes.len().min(8);
        word[..n].copy_from_slice(&bytes[..n]);
        self.0 ^= u64::from_le_bytes(word);
    }
}

fn duplicate(dup: DupInfo) -> Outcome {
    Outcome::Rejected {
        violations: vec![Violation::new(2150, "Duplicate IRN")],
        dup: Some(dup),
    }
}

fn dup_of(reg: &Registration, irn: &Irn) -> DupInfo {
    DupInfo {
        ack_no: Some(reg.ack_no),
        ack_dt: Some(reg.ack_dt.clone()),
        irn: irn::to_hex(irn),
        first_seq: None,
    }
}

/// The registration each valid record of the batch collides with, in record order, with the
/// IRN it is registered under: the record's IRN, or else the IRN of its number as sent (how
/// registrations from before upper-casing began were keyed; the same document since).
fn registered_matches(
    registry: &Registry,
    batch: &Batch<Processed>,
) -> Result<Vec<Option<(Irn, Registration)>>> {
    let valid: Vec<&crate::record::Accepted> = batch
        .records
        .iter()
        .filter_map(|p| match &p.outcome {
            Outcome::Valid(a) => Some(&**a),
            _ => None,
        })
        .collect();
    let irns: Vec<Irn> = valid.iter().map(|a| a.irn).collect();
    let mut found: Vec<Option<(Irn, Registration)>> = registry
        .get_many(&irns)?
        .into_iter()
        .zip(&irns)
        .map(|(reg, irn)| reg.map(|reg| (*irn, reg)))
        .collect();
    // Rare (a lower-case number): a second multi-get for those only.
    let retry: Vec<(usize, Irn)> = valid
        .iter()
        .zip(&found)
        .enumerate()
        .filter(|(_, (_, hit))| hit.is_none())
        .filter_map(|(k, (a, _))| a.as_sent_irn.map(|irn| (k, irn)))
        .collect();
    if !retry.is_empty() {
        let alt: Vec<Irn> = retry.iter().map(|(_, irn)| *irn).collect();
        for ((k, irn), reg) in retry.into_iter().zip(registry.get_many(&alt)?) {
            if let (Some(reg), Some(slot)) = (reg, found.get_mut(k)) {
                *slot = Some((irn, reg));
            }
        }
    }
    Ok(found)
}

impl RegisterStage {
    /// Registers the valid invoices of a batch and commits them in one durable write.
    ///
    /// # Errors
    /// A registry read or write failure; the batch is then not committed at all.
    pub fn process(&mut self, batch: &mut Batch<Processed>) -> Result<()> {
        let existing = registered_matches(&self.registry, batch)?;
        let now = self.clock.now();
        let ack_dt = clock::format_ack(&now);
        let mut ack_seq = self.registry.ack_seq();
        // IRN → index into `fresh` of its first registration in this batch.
        let mut in_batch: HashMap<Irn, usize> = HashMap::new();
        let mut fresh: Vec<(usize, Registration)> = Vec::new();
        let mut lookups = existing.into_iter();
        for (idx, rec) in batch.records.iter_mut().enumerate() {
            let Outcome::Valid(accepted) = &mut rec.outcome else {
                continue;
            };
            let found = lookups.next().flatten();
            let irn = accepted.irn;
            let outcome = if let Some((found_irn, reg)) = found {
                if found_irn == irn && reg.run == self.run_id && reg.seq == rec.seq {
                    // Committed by this run before a crash: report it as registered, as the
                    // uninterrupted run did.
                    registered(accepted, Some(reg.ack_no), Some(reg.ack_dt))
                } else {
                    duplicate(dup_of(&reg, &found_irn))
                }
            } else if let Some(&first) = in_batch.get(&irn) {
                duplicate(dup_of(&fresh[first].1, &irn))
            } else {
                ack_seq += 1;
                let canonical = std::mem::take(&mut accepted.canonical);
                let text = String::from_utf8(canonical).map_err(|e| Error::Stage {
                    stage: "registry",
                    message: e.to_string(),
                })?;
                let invoice = RawValue::from_string(text).map_err(|e| Error::Stage {
                    stage: "registry",
                    message: e.to_string(),
                })?;
                let reg = Registration {
                    ack_no: registry::ack_no(self.ack_prefix, now.year(), ack_seq),
                    ack_dt: ack_dt.clone(),
                    status: IrnStatus::Active,
                    run: self.run_id,
                    seq: rec.seq,
                    cancel: None,
                    ewb: None,
                    invoice,
                };
                in_batch.insert(irn, fresh.len());
                fresh.push((idx, reg));
                // Filled in after the commit below.
                continue;
            };
            rec.outcome = outcome;
        }
        let new_regs: Vec<NewRegistration<'_>> = fresh
            .iter()
            .filter_map(|(idx, reg)| {
                let rec = &batch.records[*idx];
                match &rec.outcome {
                    Outcome::Valid(a) => Some(NewRegistration {
                        irn: a.irn,
                        seller_gstin: &rec.doc.seller_gstin,
                        period: &a.period,
                        registration: reg,
                    }),
                    _ => None,
                }
            })
            .collect();
        if !new_regs.is_empty() {
            self.registry.commit(&new_regs, ack_seq)?;
        }
        drop(new_regs);
        for (idx, reg) in fresh {
            let rec = &mut batch.records[idx];
            if let Outcome::Valid(accepted) = &mut rec.outcome {
                // The canonical JSON moved into the registration; signing needs it back
                // (moved again, not copied).
                let text: Box<str> = reg.invoice.into();
                accepted.canonical = text.into_string().into_bytes();
                rec.outcome = registered(accepted, Some(reg.ack_no), Some(reg.ack_dt));
            }
        }
        Ok(())
    }
}

fn registered(
    accepted: &mut crate::record::Accepted,
    ack_no: Option<u64>,
    ack_dt: Option<String>,
) -> Outcome {
    Outcome::Registered(Box::new(Registered {
        irn: accepted.irn,
        ack_no,
        ack_dt,
        signed_invoice: None,
        signed_qr: None,
        qr_image: None,
        canonical: std::mem::take(&mut accepted.canonical),
        ewb_errors: std::mem::take(&mut accepted.ewb_errors),
        // The outcome replaces `accepted`: its strings move rather than copy.
        qr: crate::record::QrFacts {
            buyer_gstin: std::mem::take(&mut accepted.qr.buyer_gstin),
            main_hsn: std::mem::take(&mut accepted.qr.main_hsn),
            ..accepted.qr
        },
    }))
}

impl CheckStage {
    /// Marks duplicates against the registry (if given) and earlier invoices of the run.
    ///
    /// # Errors
    /// A registry read failure.
    pub fn process(&mut self, batch: &mut Batch<Processed>) -> Result<()> {
        let existing = match &self.registry {
            Some(r) => registered_matches(r, batch)?,
            None => Vec::new(),
        };
        let mut lookups = existing.into_iter();
        for rec in &mut batch.records {
            let Outcome::Valid(accepted) = &mut rec.outcome else {
                continue;
            };
            let irn = accepted.irn;
            let found = lookups.next().flatten();
            rec.outcome = if let Some((found_irn, reg)) = found {
                duplicate(dup_of(&reg, &found_irn))
            } else if let Some(first) = self.seen.first_or_insert(&irn, rec.seq) {
                duplicate(DupInfo {
                    ack_no: None,
                    ack_dt: None,
                    irn: irn::to_hex(&irn),
                    first_seq: first,
                })
            } else {
                registered(accepted, None, None)
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_set_reports_the_first_position() {
        let mut seen = SeenSet::default();
        let a = irn::compute("29AAFCC9980M1ZR", "2025-26", "INV", "1");
        let b = irn::compute("29AAFCC9980M1ZR", "2025-26", "INV", "2");
        assert_eq!(seen.first_or_insert(&a, 1), None);
        assert_eq!(seen.first_or_insert(&b, 2), None);
        assert_eq!(seen.first_or_insert(&a, 3), Some(Some(1)));
        assert_eq!(seen.first_or_insert(&b, 4), Some(Some(2)));
        // Beyond u32 the duplicate is still caught; only its first position is unknown.
        let c = irn::compute("29AAFCC9980M1ZR", "2025-26", "INV", "3");
        assert_eq!(seen.first_or_insert(&c, 1 << 40), None);
        assert_eq!(seen.first_or_insert(&c, (1 << 40) + 1), Some(None));
    }
}
