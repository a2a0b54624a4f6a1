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
/// memory at once; about 30 bytes an invoice on average (16-byte slots, 3/8 to 3/4 full).
///
/// Each shard is an open-addressing table of its own (linear probing, at most 3/4 full), so
/// the slot an IRN lands in is known before it is looked up: a batch's slots are prefetched
/// first, and its lookups then find them in cache instead of waiting on memory one by one.
///
/// The tables live on the system allocator: each outgrown table is a large block that
/// glibc hands straight back to the OS, where mimalloc (the binary's allocator, faster for
/// the per-invoice work) keeps it cached; peak RSS on a 10 GB input was 415 MB that way
/// (with the hash-map shards this table replaced). With these tables it is 237 MB on a
/// 9.8 GB input of 4.29 million invoices.
struct SeenSet {
    shards: Vec<SeenShard>,
}

/// Number of shards (indexed by a byte of the IRN outside the stored 96 bits).
const SEEN_SHARDS: usize = 256;

/// Slots of a shard's first table (1 KiB).
const SHARD_FIRST_SLOTS: usize = 64;

/// Stored for a run position beyond `u32`: the first occurrence is then reported unplaced.
const SEQ_UNKNOWN: u32 = u32::MAX;

/// One entry; `seq` 0 marks an empty slot (run positions start at 1).
#[derive(Clone, Copy, Default)]
#[repr(C, align(16))]
struct Slot {
    key: [u8; 12],
    seq: u32,
}

struct SeenShard {
    /// A power of two in length, or empty before the first insert.
    slots: allocator_api2::vec::Vec<Slot, allocator_api2::alloc::System>,
    len: usize,
}

impl SeenShard {
    fn new() -> SeenShard {
        SeenShard {
            slots: allocator_api2::vec::Vec::new_in(allocator_api2::alloc::System),
            len: 0,
        }
    }

    /// The slot to start probing at. IRNs are SHA-256 output, already uniform: their first
    /// 8 bytes serve as the hash.
    fn home(&self, key: &[u8; 12]) -> usize {
        let mut word = [0u8; 8];
        word.copy_from_slice(&key[..8]);
        // Truncating to `usize` keeps low bits, and the mask keeps fewer still.
        (u64::from_le_bytes(word) as usize) & self.slots.len().wrapping_sub(1)
    }

    fn first_or_insert(&mut self, key: [u8; 12], seq: u32) -> Option<u32> {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(&key);
        loop {
            let slot = &mut self.slots[i];
            if slot.seq == 0 {
                *slot = Slot { key, seq };
                self.len += 1;
                return None;
            }
            if slot.key == key {
                return Some(slot.seq);
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let n = (self.slots.len() * 2).max(SHARD_FIRST_SLOTS);
        let mut slots =
            allocator_api2::vec::Vec::with_capacity_in(n, allocator_api2::alloc::System);
        slots.resize(n, Slot::default());
        let old = std::mem::replace(&mut self.slots, slots);
        self.len = 0;
        for slot in old.iter().filter(|s| s.seq != 0) {
            self.first_or_insert(slot.key, slot.seq);
        }
    }

    /// Asks the CPU to bring the slot `key` starts at into cache (a hint; no effect on
    /// results).
    fn prefetch(&self, key: &[u8; 12]) {
        if self.slots.is_empty() {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let slot: *const Slot = &self.slots[self.home(key)];
            // SAFETY: SSE is part of the x86_64 baseline, and a prefetch only hints at an
            // address (here a valid one); it cannot fault or change memory.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(slot.cast::<i8>()) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = key;
    }
}

impl Default for SeenSet {
    fn default() -> SeenSet {
        SeenSet {
            shards: (0..SEEN_SHARDS).map(|_| SeenShard::new()).collect(),
        }
    }
}

impl SeenSet {
    fn split(irn: &Irn) -> (usize, [u8; 12]) {
        let mut key = [0u8; 12];
        key.copy_from_slice(&irn[..12]);
        (usize::from(irn[12]) % SEEN_SHARDS, key)
    }

    /// `None` if this IRN is new (it is recorded at `seq`); otherwise `Some` with the run
    /// position of its first occurrence, when that fits a `u32` (4.29 billion invoices).
    fn first_or_insert(&mut self, irn: &Irn, seq: u64) -> Option<Option<u64>> {
        let (shard, key) = SeenSet::split(irn);
        // Position 0 would read as an empty slot; runs count from 1, so it never comes.
        let seq = u32::try_from(seq)
            .ok()
            .filter(|&s| s != 0)
            .unwrap_or(SEQ_UNKNOWN);
        self.shards[shard]
            .first_or_insert(key, seq)
            .map(|first| (first != SEQ_UNKNOWN).then_some(u64::from(first)))
    }

    fn prefetch(&self, irn: &Irn) {
        let (shard, key) = SeenSet::split(irn);
        self.shards[shard].prefetch(&key);
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
        // Each lookup would otherwise wait on memory in turn: the table outgrows the cache.
        for rec in &batch.records {
            if let Outcome::Valid(accepted) = &rec.outcome {
                self.seen.prefetch(&accepted.irn);
            }
        }
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

    proptest::proptest! {
        /// The open-addressing shards answer as a map from IRN to first position does,
        /// through every growth, with IRNs that share a shard or a home slot.
        #[test]
        fn seen_set_agrees_with_a_map(
            picks in proptest::collection::vec((0u16..3000, 0u8..4), 1..4000),
        ) {
            let mut seen = SeenSet::default();
            let mut model: HashMap<Irn, u64> = HashMap::new();
            for (seq, (n, crowd)) in (1u64..).zip(&picks) {
                // crowd 0: a real IRN; 1: shard 7; 2: shard 7 and one home slot (differing
                // only in the stored bytes past the hash); 3: a real IRN again.
                let mut irn = irn::compute("29AAFCC9980M1ZR", "2025-26", "INV", &n.to_string());
                if *crowd == 1 || *crowd == 2 {
                    irn[12] = 7;
                }
                if *crowd == 2 {
                    irn[..8].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
                }
                seen.prefetch(&irn);
                let expected = model.get(&irn).map(|first| Some(*first));
                model.entry(irn).or_insert(seq);
                proptest::prop_assert_eq!(seen.first_or_insert(&irn, seq), expected);
            }
            let stored: usize = seen.shards.iter().map(|s| s.len).sum();
            proptest::prop_assert_eq!(stored, model.len());
            for s in &seen.shards {
                proptest::prop_assert!(s.len * 4 <= s.slots.len() * 3);
            }
        }
    }
}
