//! Master data: states, UQC units, PIN ranges, HSN/SAC, countries, currencies, ports, and the
//! optional taxpayer master. The CSVs in `config/masters/` are built into the binary; a folder
//! named in the config replaces them.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// What a state code stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateKind {
    /// An Indian state or union territory.
    State,
    /// 96: other countries.
    Foreign,
    /// 97: other territory (domestic).
    OtherTerritory,
}

/// All master tables, loaded once per run and shared read-only by the workers.
/// The tables the per-item rules consult (states, units, HSN, PIN ranges) are arrays and
/// bitsets indexed by the code itself: lookups on the hot path hash nothing.
#[derive(Debug)]
pub struct Masters {
    /// Indexed by the numeric state code (0..=99).
    states: [Option<StateKind>; 100],
    /// Sorted upper-case UQC codes (about 45: a binary search beats hashing).
    uqc: Vec<String>,
    /// The same codes as packed integers ([`uqc_key`]): a lookup compares words, not strings.
    uqc_keys: Vec<u64>,
    /// First-3-digit PIN ranges, indexed by state code; a state without rows is not checked.
    pin_ranges: Vec<Vec<(u16, u16)>>,
    /// Bit per 4-digit heading (0..10^4) and per 6-digit subheading (0..10^6).
    hsn4: Vec<u64>,
    hsn6: Vec<u64>,
    countries: HashSet<String>,
    currencies: HashSet<String>,
    ports: HashSet<String>,
}

const EMBEDDED: [(&str, &str); 7] = [
    ("states.csv", include_str!("../config/masters/states.csv")),
    ("uqc.csv", include_str!("../config/masters/uqc.csv")),
    (
        "pin_ranges.csv",
        include_str!("../config/masters/pin_ranges.csv"),
    ),
    ("hsn.csv", include_str!("../config/masters/hsn.csv")),
    (
        "countries.csv",
        include_str!("../config/masters/countries.csv"),
    ),
    (
        "currencies.csv",
        include_str!("../config/masters/currencies.csv"),
    ),
    ("ports.csv", include_str!("../config/masters/ports.csv")),
];

impl Default for Masters {
    fn default() -> Masters {
        Masters {
            states: [None; 100],
            uqc: Vec::new(),
            uqc_keys: Vec::new(),
            pin_ranges: vec![Vec::new(); 100],
            hsn4: vec![0; 10_000 / 64 + 1],
            hsn6: vec![0; 1_000_000 / 64 + 1],
            countries: HashSet::new(),
            currencies: HashSet::new(),
            ports: HashSet::new(),
        }
    }
}

fn bit_set(bits: &mut [u64], n: u32) {
    if let Some(word) = bits.get_mut((n / 64) as usize) {
        *word |= 1 << (n % 64);
    }
}

fn bit_get(bits: &[u64], n: u32) -> bool {
    bits.get((n / 64) as usize)
        .is_some_and(|word| word & (1 << (n % 64)) != 0)
}

impl Masters {
    /// The masters built into the binary.
    ///
    /// # Errors
    /// Only if the embedded files are malformed (a test guards against it).
    pub fn embedded() -> Result<Masters> {
        Masters::build(|name| {
            EMBEDDED
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, text)| {
                    (
                        (*text).to_owned(),
                        PathBuf::from("config/masters").join(name),
                    )
                })
                .ok_or_else(|| Error::Usage(format!("no embedded master {name}")))
        })
    }

    /// Masters read from a folder.
    ///
    /// # Errors
    /// A missing or malformed file, named in the error.
    pub fn from_dir(dir: &Path) -> Result<Masters> {
        Masters::build(|name| {
            let path = dir.join(name);
            std::fs::read_to_string(&path)
                .map(|text| (text, path.clone()))
                .map_err(|e| Error::io(&path, e))
        })
    }

    fn build(read: impl Fn(&str) -> Result<(String, PathBuf)>) -> Result<Masters> {
        let mut m = Masters::default();
        let (text, path) = read("states.csv")?;
        for row in rows(&text, &path, 3)? {
            let code = parse_num::<u8>(&row[0], &path)?;
            let kind = match row[2].as_str() {
                "state" => StateKind::State,
                "foreign" => StateKind::Foreign,
                "other_territory" => StateKind::OtherTerritory,
                other => return Err(bad(&path, format!("unknown state kind {other}"))),
            };
            match m.states.get_mut(usize::from(code)) {
                Some(slot) => *slot = Some(kind),
                None => return Err(bad(&path, format!("state code {code} above 99"))),
            }
        }
        let (text, path) = read("uqc.csv")?;
        m.uqc = rows(&text, &path, 1)?
            .into_iter()
            .map(|r| r[0].to_ascii_uppercase())
            .collect();
        m.uqc.sort();
        m.uqc.dedup();
        m.uqc_keys = m.uqc.iter().filter_map(|u| uqc_key(u)).collect();
        m.uqc_keys.sort_unstable();
        let (text, path) = read("pin_ranges.csv")?;
        for row in rows(&text, &path, 3)? {
            let state = parse_num::<u8>(&row[0], &path)?;
            let from = parse_num::<u16>(&row[1], &path)?;
            let to = parse_num::<u16>(&row[2], &path)?;
            match m.pin_ranges.get_mut(usize::from(state)) {
                Some(ranges) => ranges.push((from, to)),
                None => return Err(bad(&path, format!("state code {state} above 99"))),
            }
        }
        let (text, path) = read("hsn.csv")?;
        for row in rows(&text, &path, 1)? {
            let n = parse_num::<u32>(&row[0], &path)?;
            match row[0].len() {
                4 => bit_set(&mut m.hsn4, n),
                6 => bit_set(&mut m.hsn6, n),
                _ => return Err(bad(&path, format!("HSN {} is not 4 or 6 digits", row[0]))),
            }
        }
        for (name, set) in [
            ("countries.csv", &mut m.countries),
            ("currencies.csv", &mut m.currencies),
            ("ports.csv", &mut m.ports),
        ] {
            let (text, path) = read(name)?;
            *set = rows(&text, &path, 1)?
                .into_iter()
                .map(|r| r[0].to_ascii_uppercase())
                .collect();
        }
        Ok(m)
    }

    /// The kind of a state code given as text ("7", "07", "96"), or `None` if it is unknown.
    pub fn state(&self, code: &str) -> Option<StateKind> {
        let n: u8 = code.parse().ok()?;
        self.states.get(usize::from(n)).copied().flatten()
    }

    /// True when the unit is a UQC code (case-insensitive, as the schema pattern allows a-z).
    pub fn uqc_ok(&self, unit: &str) -> bool {
        uqc_key(unit).is_some_and(|k| self.uqc_keys.binary_search(&k).is_ok())
    }

    /// True when the HSN/SAC code exists: a 4-digit heading, a 6-digit subheading, or an
    /// 8-digit tariff item whose 6-digit subheading exists.
    pub fn hsn_ok(&self, code: &str) -> bool {
        code.parse::<u32>()
            .is_ok_and(|n| self.hsn_known(n, code.len()))
    }

    /// [`Self::hsn_ok`] for a code already read as its number `n` and its digit count.
    pub fn hsn_known(&self, n: u32, digits: usize) -> bool {
        match digits {
            4 => bit_get(&self.hsn4, n),
            6 => bit_get(&self.hsn6, n),
            8 => bit_get(&self.hsn6, n / 100),
            _ => false,
        }
    }

    /// `Some(false)` when no state's PIN ranges hold the PIN's 3-digit prefix (no such PIN),
    /// `None` when the masters carry no PIN ranges at all.
    pub fn pin_known(&self, pin: i64) -> Option<bool> {
        let first3 = u16::try_from(pin / 1000).ok()?;
        let mut any = false;
        for ranges in &self.pin_ranges {
            any |= !ranges.is_empty();
            if ranges
                .iter()
                .any(|(from, to)| (*from..=*to).contains(&first3))
            {
                return Some(true);
            }
        }
        any.then_some(false)
    }

    /// `Some(true/false)` when the state has PIN ranges, `None` when it cannot be checked.
    pub fn pin_in_state(&self, pin: i64, state: &str) -> Option<bool> {
        let n: u8 = state.parse().ok()?;
        let ranges = self
            .pin_ranges
            .get(usize::from(n))
            .filter(|r| !r.is_empty())?;
        let first3 = u16::try_from(pin / 1000).ok()?;
        Some(
            ranges
                .iter()
                .any(|(from, to)| (*from..=*to).contains(&first3)),
        )
    }

    pub fn country_ok(&self, code: &str) -> bool {
        contains_upper(&self.countries, code)
    }

    pub fn currency_ok(&self, code: &str) -> bool {
        contains_upper(&self.currencies, code)
    }

    pub fn port_ok(&self, code: &str) -> bool {
        contains_upper(&self.ports, code)
    }

    /// HSN codes of the master, for the synthetic generator (goods first, sorted).
    pub fn hsn_codes(&self) -> Vec<u32> {
        let four = (0..10_000u32).filter(|n| bit_get(&self.hsn4, *n));
        let six = (0..1_000_000u32).filter(|n| bit_get(&self.hsn6, *n));
        let mut v: Vec<u32> = four.chain(six).collect();
        v.sort_unstable();
        v
    }

    /// The PIN ranges of a state, for the generator.
    pub fn pin_ranges_of(&self, state: u8) -> &[(u16, u16)] {
        self.pin_ranges
            .get(usize::from(state))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// All state codes of a kind, sorted.
    pub fn states_of(&self, kind: StateKind) -> Vec<u8> {
        (0..100u8)
            .filter(|c| self.states[usize::from(*c)] == Some(kind))
            .collect()
    }

    /// UQC codes, sorted.
    pub fn uqc_codes(&self) -> Vec<String> {
        self.uqc.clone()
    }

    /// Port codes, sorted.
    pub fn port_codes(&self) -> Vec<String> {
        let mut v: Vec<String> = self.ports.iter().cloned().collect();
        v.sort();
        v
    }
}

/// A unit code of 1 to 8 non-NUL bytes, upper-cased and packed into a word (injective on
/// such codes: no byte is zero). `None` for anything else, which no master code is.
fn uqc_key(unit: &str) -> Option<u64> {
    if unit.is_empty() || unit.len() > 8 {
        return None;
    }
    unit.bytes().try_fold(0u64, |k, b| {
        (b != 0).then(|| (k << 8) | u64::from(b.to_ascii_uppercase()))
    })
}

/// Case-insensitive lookup in a set of upper-case codes; allocates only for lower-case input.
fn contains_upper(set: &HashSet<String>, code: &str) -> bool {
    if code.bytes().any(|b| b.is_ascii_lowercase()) {
        set.contains(&code.to_ascii_uppercase())
    } else {
        set.contains(code)
    }
}

fn bad(path: &Path, message: String) -> Error {
    Error::Master {
        path: path.to_owned(),
        message,
    }
}

fn parse_num<T: std::str::FromStr>(text: &str, path: &Path) -> Result<T> {
    text.trim()
        .parse()
        .map_err(|_| bad(path, format!("not a number: {text:?}")))
}

/// Data rows of a CSV with a header, each with at least `min_cols` columns.
fn rows(text: &str, path: &Path, min_cols: usize) -> Result<Vec<Vec<String>>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for (idx, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| bad(path, format!("row {}: {e}", idx + 2)))?;
        if rec.len() < min_cols {
            return Err(bad(
                path,
                format!("row {}: expected {min_cols} columns", idx + 2),
            ));
        }
        out.push(rec.iter().map(|f| f.trim().to_owned()).collect());
    }
    Ok(out)
}

/// Registration status in the taxpayer master.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaxpayerStatus {
    Active,
    Cancelled,
    Inactive,
    Suspended,
}

/// One taxpayer of the master.
#[derive(Clone, Debug, PartialEq)]
pub struct Taxpayer {
    pub legal_name: String,
    pub state_code: String,
    pub status: TaxpayerStatus,
    /// Aggregate annual turnover in crore rupees.
    pub aato_crore: f64,
    /// REG, SEZ, TCS, UN, NRI, OIDAR or GOVT.
    pub kind: String,
}

/// The taxpayer master: GSTIN → registration, as the IRP learns it from the GST registry.
#[derive(Debug, Default)]
pub struct Taxpayers {
    by_gstin: HashMap<String, Taxpayer>,
}

impl Taxpayers {
    /// Reads `gstin,legal_name,state_code,status,aato_crore,type`.
    ///
    /// # Errors
    /// An unreadable file, a wrong header or a malformed row, naming the file and row.
    pub fn load(path: &Path) -> Result<Taxpayers> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Taxpayers::parse(&text, path)
    }

    /// Parses taxpayer master text.
    ///
    /// # Errors
    /// A wrong header or a malformed row.
    pub fn parse(text: &str, path: &Path) -> Result<Taxpayers> {
        let header = text.lines().next().unwrap_or("").trim();
        if header != "gstin,legal_name,state_code,status,aato_crore,type" {
            return Err(bad(
                path,
                "header must be gstin,legal_name,state_code,status,aato_crore,type".into(),
            ));
        }
        let mut by_gstin = HashMap::new();
        for (idx, row) in rows(text, path, 6)?.into_iter().enumerate() {
            let line = idx + 2;
            let status = match row[3].as_str() {
                "ACT" => TaxpayerStatus::Active,
                "CNL" => TaxpayerStatus::Cancelled,
                "INA" => TaxpayerStatus::Inactive,
                "SUS" => TaxpayerStatus::Suspended,
                other => return Err(bad(path, format!("row {line}: unknown status {other}"))),
            };
            let kind = row[5].to_ascii_uppercase();
            if !["REG", "SEZ", "TCS", "UN", "NRI", "OIDAR", "GOVT"].contains(&kind.as_str()) {
                return Err(bad(path, format!("row {line}: unknown type {kind}")));
            }
            let aato_crore = row[4]
                .parse::<f64>()
                .map_err(|_| bad(path, format!("row {line}: aato_crore {:?}", row[4])))?;
            by_gstin.insert(
                row[0].to_ascii_uppercase(),
                Taxpayer {
                    legal_name: row[1].clone(),
                    state_code: row[2].clone(),
                    status,
                    aato_crore,
                    kind,
                },
            );
        }
        Ok(Taxpayers { by_gstin })
    }

    pub fn get(&self, gstin: &str) -> Option<&Taxpayer> {
        self.by_gstin.get(gstin)
    }

    pub fn len(&self) -> usize {
        self.by_gstin.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_gstin.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_masters_load() {
        let m = Masters::embedded().unwrap();
        assert_eq!(m.state("29"), Some(StateKind::State));
        assert_eq!(m.state("7"), Some(StateKind::State));
        assert_eq!(m.state("96"), Some(StateKind::Foreign));
        assert_eq!(m.state("25"), None);
        assert!(m.uqc_ok("NOS") && m.uqc_ok("kgs") && !m.uqc_ok("XYZ"));
        // 101xxx is in no state's ranges (NIC: "Pincode-101301 does not exists").
        assert_eq!(m.pin_known(101_301), Some(false));
        assert_eq!(m.pin_known(560_001), Some(true));
        assert_eq!(m.pin_in_state(560_001, "29"), Some(true));
        // Packing must not let a longer or NUL-padded code alias a master code.
        assert!(!m.uqc_ok("\0NOS") && !m.uqc_ok("NOSNOSNOS") && !m.uqc_ok(""));
        assert!(m.uqc_codes().iter().all(|u| m.uqc_ok(u)));
        assert!(m.hsn_ok("998313") && m.hsn_ok("9983"));
        assert!(m.hsn_ok("61149090") && m.hsn_ok("611490"));
        assert!(!m.hsn_ok("000000") && !m.hsn_ok("12345"));
        assert_eq!(m.pin_in_state(560001, "29"), Some(true));
        assert_eq!(m.pin_in_state(110001, "29"), Some(false));
        assert!(m.country_ok("US") && m.currency_ok("USD") && !m.country_ok("XX"));
    }

    #[test]
    fn taxpayers_parse() {
        let text = "gstin,legal_name,state_code,status,aato_crore,type\n29AAFCC9980M1ZR,Acme,29,ACT,120,REG\n";
        let t = Taxpayers::parse(text, Path::new("t.csv")).unwrap();
        let tp = t.get("29AAFCC9980M1ZR").unwrap();
        assert_eq!(tp.status, TaxpayerStatus::Active);
        assert_eq!(tp.aato_crore, 120.0);
        let err = Taxpayers::parse("a,b\n", Path::new("t.csv")).unwrap_err();
        assert!(err.to_string().contains("t.csv"));
    }
}
