//! Synthetic bulk files for tests and benchmarks (`irp gen`).
//!
//! Every invoice is built as a typed [`Invoice`] and serialised with serde_json, so valid
//! invoices are schema-shaped by construction; their arithmetic is exact decimal arithmetic,
//! rounded half away from zero to 2 decimals, so they pass every rule of the reference
//! (section 2) under the default configuration.
//! A share of the invoices (`invalid_share`) carries exactly one defect from [`DEFECTS`], each
//! built to trigger one NIC error code.
//!
//! Determinism: a hand-written xoshiro256** generator, seeded per invoice from `(seed, index)`
//! with splitmix64, and integer-only random choices (no floating-point maths in the choices),
//! so the same options give byte-identical output on every platform. Memory is bounded: the
//! only state carried between invoices is a document-number counter per seller and a small
//! ring of recent valid invoices (the source of the duplicate defect).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io::{self, Write};

use chrono::{Datelike, Duration, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::clock;
use crate::gstin;
use crate::masters::{Masters, StateKind};
use crate::model::{
    BuyerDtls, DispDtls, DocDtls, ExpDtls, Int, Invoice, Item, Num, PayDtls, PrecDocDtls, RefDtls,
    SellerDtls, ShipDtls, TranDtls, ValDtls,
};

/// Sellers in the pool (fixed per seed, so a taxpayer master written for a seed fits any count).
pub const SELLERS: usize = 200;
/// Registered buyers in the pool; the first tenth are SEZ units.
pub const BUYERS: usize = 2000;

/// Options of one `irp gen` run.
#[derive(Clone, Debug, PartialEq)]
pub struct GenOptions {
    /// Records to write (a duplicate or malformed record counts as one).
    pub count: u64,
    pub seed: u64,
    /// Share of records carrying exactly one defect, 0.0..=1.0.
    pub invalid_share: f64,
    /// Document dates fall in the 20 days up to and including this date.
    pub today: NaiveDate,
    /// Items per invoice are 1..=max_items (skewed towards few).
    pub max_items: usize,
    /// One invoice per line instead of a JSON array.
    pub ndjson: bool,
}

impl GenOptions {
    /// Options with the defaults: no defects, at most 20 items, JSON array.
    pub fn new(count: u64, seed: u64, today: NaiveDate) -> GenOptions {
        GenOptions {
            count,
            seed,
            invalid_share: 0.0,
            today,
            max_items: 20,
            ndjson: false,
        }
    }
}

/// What a run wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenStats {
    /// Records written.
    pub invoices: u64,
    /// Records carrying a defect.
    pub invalid: u64,
    /// Records per defect name (names of [`DEFECTS`]).
    pub by_defect: BTreeMap<&'static str, u64>,
}

/// The defect catalogue: name and the NIC error code the defective record must trigger.
pub const DEFECTS: &[(&str, u16)] = &[
    ("bad_gstin_checksum", 3028),
    ("same_seller_buyer", 2211),
    ("future_date", 2218),
    ("impossible_date", 2225),
    ("duplicate_slno", 2233),
    ("invalid_gst_rate", 2240),
    ("unknown_hsn", 2176),
    ("bad_unit", 2177),
    ("tot_amt_mismatch", 2192),
    ("ass_amt_mismatch", 2193),
    ("item_val_mismatch", 2194),
    ("ass_val_mismatch", 2182),
    ("tot_inv_val_mismatch", 2189),
    ("igst_on_intra", 2172),
    ("cgst_on_inter", 2174),
    ("export_buyer_gstin", 2248),
    ("regrev_on_sez", 2162),
    ("seller_stcd_mismatch", 2258),
    ("pin_not_in_state", 2178),
    ("bad_port", 2201),
    ("missing_field", 2140),
    ("unknown_field", 2140),
    ("malformed_json", 2140),
    ("duplicate_invoice", 2150),
];

/// Writes `opts.count` records as a JSON array (one record per line between `[` and `]`) or as
/// NDJSON, streaming. Returns the per-defect counts.
///
/// # Errors
/// A write error of `out`; `InvalidInput` for an `invalid_share` outside 0..=1 or masters too
/// sparse to build invoices from (no goods HSN, SAC, UQC or port codes).
pub fn generate(
    opts: &GenOptions,
    masters: &Masters,
    out: &mut impl Write,
) -> io::Result<GenStats> {
    let mut generator = Generator::new(opts, masters)?;
    let mut stats = GenStats::default();
    let mut out = io::BufWriter::with_capacity(1 << 18, out);
    if !opts.ndjson {
        out.write_all(b"[\n")?;
    }
    for idx in 0..opts.count {
        let defect = generator.next_record();
        if !opts.ndjson && idx > 0 {
            out.write_all(b",\n")?;
        }
        out.write_all(&generator.text)?;
        if opts.ndjson {
            out.write_all(b"\n")?;
        }
        stats.invoices += 1;
        if let Some(name) = defect {
            stats.invalid += 1;
            *stats.by_defect.entry(name).or_insert(0) += 1;
        }
    }
    if !opts.ndjson {
        out.write_all(if opts.count > 0 { b"\n]\n" } else { b"]\n" })?;
    }
    out.flush()?;
    Ok(stats)
}

/// Writes the taxpayer master (`gstin,legal_name,state_code,status,aato_crore,type`) of the
/// seller and buyer pools of `opts.seed`, so runs with a taxpayer master accept generated
/// invoices (SEZ buyers are typed `SEZ`). Returns the number of rows.
///
/// # Errors
/// As [`generate`].
pub fn write_taxpayers(
    opts: &GenOptions,
    masters: &Masters,
    out: &mut impl Write,
) -> io::Result<u64> {
    let ctx = Ctx::new(opts.seed, masters)?;
    let mut rng = Rng::new(opts.seed, STREAM_TAXPAYERS);
    let mut out = io::BufWriter::new(out);
    writeln!(out, "gstin,legal_name,state_code,status,aato_crore,type")?;
    let mut rows = 0;
    for (party, seller) in ctx
        .sellers
        .iter()
        .map(|p| (p, true))
        .chain(ctx.buyers.iter().map(|p| (p, false)))
    {
        // Sellers are above the e-invoicing threshold (5 crore); buyers may be anything.
        let aato = if seller {
            5 + rng.below(2000)
        } else {
            1 + rng.below(500)
        };
        let kind = if party.sez { "SEZ" } else { "REG" };
        writeln!(
            out,
            "{},{},{:02},ACT,{aato},{kind}",
            party.gstin, party.lgl_nm, party.state
        )?;
        rows += 1;
    }
    out.flush()?;
    Ok(rows)
}

// ---------------------------------------------------------------------------------------------
// Random numbers

const STREAM_POOL: u64 = u64::MAX;
const STREAM_TAXPAYERS: u64 = u64::MAX - 1;

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256**: small, fast, and defined bit for bit, so streams match across platforms.
struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// An independent stream for `(seed, stream)`.
    fn new(seed: u64, stream: u64) -> Rng {
        let mut sm = seed;
        let base = splitmix64(&mut sm);
        let mut state = base ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let mut s = [0u64; 4];
        for slot in &mut s {
            *slot = splitmix64(&mut state);
        }
        if s == [0; 4] {
            s[0] = 1;
        }
        Rng { s }
    }

    fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (`n > 0`), by the multiply-high method.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// A random element; `items` is never empty (checked where the lists are built).
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// An index drawn with the given integer weights (not all zero).
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
        let mut roll = self.below(total.max(1));
        for (idx, w) in weights.iter().enumerate() {
            if roll < u64::from(*w) {
                return idx;
            }
            roll -= u64::from(*w);
        }
        0
    }

    fn upper(&mut self) -> char {
        char::from(b'A' + self.below(26) as u8)
    }

    fn digits(&mut self, n: usize, s: &mut String) {
        for _ in 0..n {
            s.push(char::from(b'0' + self.below(10) as u8));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Word lists

#[rustfmt::skip]
const NAME_FIRST: &[&str] = &[
    "Shree", "Sai", "Ganesh", "Lakshmi", "Bharat", "Hindustan", "Apex", "Sunrise", "Navkar",
    "Krishna", "Balaji", "Amar", "Vijay", "Mahalaxmi", "Sri", "Kaveri", "Ganga", "Himalaya",
    "Deccan", "Coastal", "Royal", "Supreme", "Pioneer", "Galaxy", "Zenith", "Everest", "Orient",
    "Prime", "Tirupati", "Saraswati", "Annapurna", "Vishwa", "Rajdhani", "Shakti", "Narmada",
];
#[rustfmt::skip]
const NAME_TRADE: &[&str] = &[
    "Agro", "Steel", "Textiles", "Pharma", "Electricals", "Chemicals", "Polymers", "Foods",
    "Logistics", "Infotech", "Engineering", "Motors", "Paper", "Plastics", "Traders", "Exports",
    "Industries", "Enterprises", "Fabrics", "Auto Components", "Cements", "Packaging", "Solutions",
    "Builders", "Spices", "Castings", "Garments", "Ceramics", "Tools", "Appliances",
];
/// Company suffixes (PAN holder type `C`) and firm suffixes (type `F`).
#[rustfmt::skip]
const NAME_COMPANY: &[&str] = &[
    "Private Limited", "Pvt Ltd", "Limited", "India Private Limited",
];
const NAME_FIRM: &[&str] = &["LLP", "& Co", "and Sons", "Trading Company", "Agencies"];
#[rustfmt::skip]
const ADDR_KIND: &[&str] = &[
    "Plot No", "Shop No", "Unit", "Gala No", "Door No", "Survey No", "Block",
];
#[rustfmt::skip]
const ADDR_AREA: &[&str] = &[
    "Industrial Area", "MIDC", "Industrial Estate", "Tech Park", "Market Yard", "GIDC Estate",
    "Commercial Complex", "Trade Centre", "Business Park", "SIDCO Estate", "Transport Nagar",
];
#[rustfmt::skip]
const ADDR_ROAD: &[&str] = &[
    "MG Road", "Station Road", "Ring Road", "Link Road", "Main Road", "NH 48", "Mill Road",
    "Gandhi Marg", "Nehru Street", "Market Road", "Bypass Road", "Canal Road",
];
#[rustfmt::skip]
const LANDMARKS: &[&str] = &[
    "Near Bus Stand", "Opp Railway Station", "Behind City Mall", "Near Water Tank", "Phase 2",
    "Sector 5", "Near Toll Plaza", "Opp Police Station", "2nd Floor", "Ground Floor",
];
#[rustfmt::skip]
const GOODS_DESC: &[&str] = &[
    "Steel Rod", "Cotton Fabric", "Plastic Granules", "LED Bulb", "Ball Bearing", "Copper Wire",
    "Paper Roll", "Ceramic Tile", "Engine Oil", "Printed Carton", "Spice Mix", "Basmati Rice",
    "Tablets Strip", "Cement Bag", "PVC Pipe", "Aluminium Sheet", "Rubber Gasket", "Glass Bottle",
    "Leather Belt", "Wooden Pallet", "Hydraulic Valve", "Denim Fabric", "Motor Winding Wire",
];
#[rustfmt::skip]
const GOODS_GRADE: &[&str] = &[
    "Grade A", "12mm", "Premium", "Standard", "Type II", "500 ml", "1 kg", "Export Quality",
];
#[rustfmt::skip]
const SERVICE_DESC: &[&str] = &[
    "Consulting Services", "Software Development", "Freight Charges", "Annual Maintenance",
    "Legal Services", "Advertising Services", "Cloud Hosting", "Security Services",
    "Manpower Supply", "Testing and Certification", "Repair Services", "Commission",
];
const COMMON_UNITS: &[&str] = &[
    "NOS", "PCS", "KGS", "BOX", "LTR", "MTR", "SET", "BAG", "CTN", "PAC", "MTS", "DOZ",
];
/// Units whose quantities are commonly fractional.
const FRACTIONAL_UNITS: &[&str] = &[
    "KGS", "LTR", "MTR", "MTS", "QTL", "SQM", "SQF", "TON", "KLR", "CBM", "GMS",
];
#[rustfmt::skip]
const FOREIGN_FIRST: &[&str] = &[
    "Atlas", "Pacific", "Northstar", "Emirates", "Harbor", "Summit", "Meridian", "Crescent",
    "Orion", "Blue Ocean",
];
#[rustfmt::skip]
const FOREIGN_TRADE: &[&str] = &[
    "Trading", "Imports", "Distribution", "Retail", "Supplies", "Commodities",
];
const FOREIGN_SUFFIX: &[&str] = &["LLC", "Inc", "Ltd", "GmbH", "FZE", "Pte Ltd"];
#[rustfmt::skip]
const FOREIGN_STREET: &[&str] = &[
    "Harbour Street", "Main Avenue", "Industrial Road", "Park Lane", "Commerce Drive", "Dock Road",
];
/// (country, currency, cities, value of one unit of the currency in paise).
const EXPORT_MARKETS: &[(&str, &str, &[&str], i64)] = &[
    (
        "US",
        "USD",
        &["New York", "Houston", "Los Angeles", "Chicago"],
        8325,
    ),
    ("AE", "AED", &["Dubai", "Sharjah", "Abu Dhabi"], 2267),
    ("GB", "GBP", &["London", "Manchester", "Birmingham"], 10540),
    ("DE", "EUR", &["Hamburg", "Frankfurt", "Munich"], 9010),
    ("SG", "SGD", &["Singapore"], 6180),
    ("BD", "BDT", &["Dhaka", "Chittagong"], 70),
    ("JP", "JPY", &["Tokyo", "Osaka"], 56),
];
const INVALID_UNITS: &[&str] = &[
    "PIECES", "KILO", "LITRE", "NUMBERS", "BOXES", "UNITX", "PKT", "MTRS",
];
const UNKNOWN_FIELDS: &[&str] = &[
    "Remarks",
    "InvRemarks",
    "Narration",
    "CustomerCode",
    "BranchId",
];

/// A few cities per state code (Loc); a code without an entry gets a generic name.
fn cities(state: u8) -> &'static [&'static str] {
    match state {
        1 => &["Srinagar", "Jammu", "Anantnag"],
        2 => &["Shimla", "Solan", "Baddi"],
        3 => &["Ludhiana", "Amritsar", "Jalandhar"],
        4 => &["Chandigarh"],
        5 => &["Dehradun", "Haridwar", "Rudrapur"],
        6 => &["Gurugram", "Faridabad", "Panipat"],
        7 => &["New Delhi", "Delhi"],
        8 => &["Jaipur", "Jodhpur", "Udaipur"],
        9 => &["Noida", "Lucknow", "Kanpur", "Agra"],
        10 => &["Patna", "Gaya", "Muzaffarpur"],
        11 => &["Gangtok"],
        12 => &["Itanagar"],
        13 => &["Kohima", "Dimapur"],
        14 => &["Imphal"],
        15 => &["Aizawl"],
        16 => &["Agartala"],
        17 => &["Shillong"],
        18 => &["Guwahati", "Dibrugarh"],
        19 => &["Kolkata", "Howrah", "Durgapur"],
        20 => &["Ranchi", "Jamshedpur", "Dhanbad"],
        21 => &["Bhubaneswar", "Cuttack", "Rourkela"],
        22 => &["Raipur", "Bhilai"],
        23 => &["Indore", "Bhopal", "Jabalpur"],
        24 => &["Ahmedabad", "Surat", "Vadodara", "Rajkot"],
        26 => &["Silvassa", "Daman"],
        27 => &["Mumbai", "Pune", "Nagpur", "Nashik", "Thane"],
        29 => &["Bengaluru", "Mysuru", "Hubballi"],
        30 => &["Panaji", "Margao", "Vasco"],
        31 => &["Kavaratti"],
        32 => &["Kochi", "Thiruvananthapuram", "Kozhikode"],
        33 => &["Chennai", "Coimbatore", "Madurai", "Tiruppur"],
        34 => &["Puducherry"],
        35 => &["Port Blair"],
        36 => &["Hyderabad", "Warangal"],
        37 => &["Visakhapatnam", "Vijayawada", "Guntur"],
        38 => &["Leh", "Kargil"],
        _ => &["Central City"],
    }
}

/// Relative share of sellers and buyers per state (bigger economies get more).
fn state_weight(state: u8) -> u32 {
    match state {
        27 => 16,
        29 | 33 | 24 => 9,
        7 | 9 => 7,
        6 | 36 => 5,
        19 => 4,
        8 | 23 | 32 | 37 | 3 => 3,
        _ => 1,
    }
}

// ---------------------------------------------------------------------------------------------
// Pools

/// A registered party (seller or buyer).
#[derive(Clone, Debug)]
struct Party {
    gstin: String,
    lgl_nm: String,
    trd_nm: Option<String>,
    addr1: String,
    addr2: Option<String>,
    loc: String,
    pin: i64,
    state: u8,
    ph: Option<String>,
    em: Option<String>,
    sez: bool,
    /// Two-letter code used in document numbers.
    code: String,
}

/// Everything derived from the masters and the seed, fixed for a run.
struct Ctx<'m> {
    masters: &'m Masters,
    /// 6-digit goods subheadings (not 99).
    goods_hsn: Vec<u32>,
    /// 6-digit SAC codes (99xxxx).
    sac: Vec<u32>,
    common_units: Vec<String>,
    units: Vec<String>,
    ports: Vec<String>,
    /// States with PIN ranges, and their weights.
    states: Vec<u8>,
    weights: Vec<u32>,
    markets: Vec<(&'static str, &'static str, &'static [&'static str], i64)>,
    sellers: Vec<Party>,
    /// Registered buyers; `sez` marks the SEZ units.
    buyers: Vec<Party>,
    /// Non-SEZ buyer indices per state code.
    buyers_by_state: Vec<Vec<usize>>,
    regular_buyers: Vec<usize>,
    sez_buyers: Vec<usize>,
}

fn invalid_input(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("gen: {message}"))
}

impl<'m> Ctx<'m> {
    fn new(seed: u64, masters: &'m Masters) -> io::Result<Ctx<'m>> {
        let codes = masters.hsn_codes();
        // Values of 5+ digits are 6-digit codes (a 4-digit heading is at most 9999).
        let goods_hsn: Vec<u32> = codes
            .iter()
            .copied()
            .filter(|c| (10_000..990_000).contains(c))
            .collect();
        let sac: Vec<u32> = codes
            .iter()
            .copied()
            .filter(|c| (990_000..=999_999).contains(c))
            .collect();
        let units = masters.uqc_codes();
        let mut common_units: Vec<String> = COMMON_UNITS
            .iter()
            .filter(|u| masters.uqc_ok(u))
            .map(|u| (*u).to_owned())
            .collect();
        if common_units.is_empty() {
            common_units.clone_from(&units);
        }
        let ports = masters.port_codes();
        let states: Vec<u8> = masters
            .states_of(StateKind::State)
            .into_iter()
            .filter(|s| !masters.pin_ranges_of(*s).is_empty())
            .collect();
        let markets: Vec<_> = EXPORT_MARKETS
            .iter()
            .copied()
            .filter(|(c, cur, _, _)| masters.country_ok(c) && masters.currency_ok(cur))
            .collect();
        if goods_hsn.is_empty() || sac.is_empty() || units.is_empty() || ports.is_empty() {
            return Err(invalid_input(
                "masters need goods HSN, SAC, UQC and port codes",
            ));
        }
        if states.len() < 3 || markets.is_empty() {
            return Err(invalid_input(
                "masters need 3 states with PIN ranges and an export country with its currency",
            ));
        }
        let weights = states.iter().map(|s| state_weight(*s)).collect();
        let mut ctx = Ctx {
            masters,
            goods_hsn,
            sac,
            common_units,
            units,
            ports,
            states,
            weights,
            markets,
            sellers: Vec::with_capacity(SELLERS),
            buyers: Vec::with_capacity(BUYERS),
            buyers_by_state: vec![Vec::new(); 256],
            regular_buyers: Vec::new(),
            sez_buyers: Vec::new(),
        };
        let mut rng = Rng::new(seed, STREAM_POOL);
        let mut seen = HashSet::new();
        for _ in 0..SELLERS {
            let party = ctx.make_party(&mut rng, &mut seen, false);
            ctx.sellers.push(party);
        }
        for idx in 0..BUYERS {
            let party = ctx.make_party(&mut rng, &mut seen, idx < BUYERS / 10);
            if party.sez {
                ctx.sez_buyers.push(idx);
            } else {
                ctx.regular_buyers.push(idx);
                ctx.buyers_by_state[usize::from(party.state)].push(idx);
            }
            ctx.buyers.push(party);
        }
        Ok(ctx)
    }

    fn pick_state(&self, rng: &mut Rng) -> u8 {
        self.states[rng.weighted(&self.weights)]
    }

    /// A PIN inside one of the state's ranges (`state` has ranges).
    fn pin_of(&self, rng: &mut Rng, state: u8) -> i64 {
        let ranges = self.masters.pin_ranges_of(state);
        let Some(&(from, to)) = ranges.get(rng.index(ranges.len().max(1))) else {
            return 999_999;
        };
        let first3 = rng.range(u64::from(from), u64::from(to.max(from)));
        (first3 * 1000 + rng.below(1000)) as i64
    }

    fn make_party(&self, rng: &mut Rng, seen: &mut HashSet<String>, sez: bool) -> Party {
        let state = self.pick_state(rng);
        let first = *rng.pick(NAME_FIRST);
        let trade = *rng.pick(NAME_TRADE);
        let company = rng.chance(75);
        let suffix = if company {
            *rng.pick(NAME_COMPANY)
        } else {
            *rng.pick(NAME_FIRM)
        };
        let lgl_nm = if sez {
            format!("{first} {trade} SEZ Unit {suffix}")
        } else {
            format!("{first} {trade} {suffix}")
        };
        let gstin = loop {
            let mut g = format!("{state:02}");
            for _ in 0..3 {
                g.push(rng.upper());
            }
            g.push(if company { 'C' } else { 'F' });
            g.push_str(&first[..1]);
            rng.digits(4, &mut g);
            g.push(rng.upper());
            g.push(if rng.chance(85) {
                '1'
            } else {
                char::from(b'2' + rng.below(8) as u8)
            });
            g.push('Z');
            if let Some(full) = gstin::with_check(&g) {
                if seen.insert(full.clone()) {
                    break full;
                }
            }
        };
        let kind = *rng.pick(ADDR_KIND);
        let number = rng.range(1, 450);
        let streets = if rng.chance(50) { ADDR_AREA } else { ADDR_ROAD };
        let street = *rng.pick(streets);
        let addr1 = format!("{kind} {number}, {street}");
        let addr2 = rng.chance(60).then(|| (*rng.pick(LANDMARKS)).to_owned());
        let loc = (*rng.pick(cities(state))).to_owned();
        let pin = self.pin_of(rng, state);
        let ph = rng.chance(50).then(|| {
            let mut p = String::from(*rng.pick(&["9", "8", "7"]));
            rng.digits(9, &mut p);
            p
        });
        let em = rng.chance(40).then(|| {
            format!(
                "{}@{}{}.in",
                rng.pick(&["accounts", "billing", "gst", "finance"]),
                first.to_ascii_lowercase(),
                trade.replace(' ', "").to_ascii_lowercase()
            )
        });
        let trd_nm = rng.chance(40).then(|| format!("{first} {trade}"));
        let code = format!("{}{}", &first[..1], &trade[..1]);
        Party {
            gstin,
            lgl_nm,
            trd_nm,
            addr1,
            addr2,
            loc,
            pin,
            state,
            ph,
            em,
            sez,
            code,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Invoice drafts

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sup {
    B2b,
    SezWp,
    SezWop,
    ExpWp,
    ExpWop,
    Dexp,
}

impl Sup {
    fn code(self) -> &'static str {
        match self {
            Sup::B2b => "B2B",
            Sup::SezWp => "SEZWP",
            Sup::SezWop => "SEZWOP",
            Sup::ExpWp => "EXPWP",
            Sup::ExpWop => "EXPWOP",
            Sup::Dexp => "DEXP",
        }
    }

    fn is_export(self) -> bool {
        matches!(self, Sup::ExpWp | Sup::ExpWop)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Regime {
    /// CGST + SGST.
    Intra,
    /// IGST.
    Inter,
    /// Without payment of tax: GstRt 0, IGST 0.
    Zero,
}

/// The inputs of one item line; amounts are derived by [`Draft::render`].
#[derive(Clone, Debug)]
struct Line {
    servc: bool,
    hsn: String,
    desc: String,
    qty: Option<Decimal>,
    unit: Option<String>,
    unit_price: Decimal,
    /// Discount in basis points of TotAmt.
    discount_bp: u32,
    rate: Decimal,
    ces_rt: Option<Decimal>,
    oth_chrg: Option<Decimal>,
    barcode: Option<String>,
    free_qty: Option<Decimal>,
    // Defect knobs.
    tot_amt_bump: Decimal,
    ass_amt_bump: Decimal,
    item_val_bump: Decimal,
    extra_igst: bool,
    extra_cgst: bool,
}

/// Shape requirements a defect puts on the invoice it is built into.
#[derive(Clone, Copy, Debug, Default)]
struct Shape {
    sup: Option<Sup>,
    /// Force intra-state (Some(true)) or inter-state (Some(false)); B2B/DEXP only.
    intra: Option<bool>,
    inv_only: bool,
    min_items: usize,
    /// First item must be goods.
    goods_first: bool,
    /// No IgstOnIntra, no RegRev.
    plain: bool,
}

struct Draft {
    sup: Sup,
    regime: Regime,
    reg_rev: Option<&'static str>,
    igst_on_intra: Option<&'static str>,
    typ: &'static str,
    no: String,
    dt: String,
    seller: Party,
    buyer: BuyerDtls,
    disp: Option<DispDtls>,
    ship: Option<ShipDtls>,
    lines: Vec<Line>,
    explicit_zeros: bool,
    inv_discount_bp: u32,
    inv_oth_chrg: Option<Decimal>,
    round_off: bool,
    pay: bool,
    prec: Option<PrecDocDtls>,
    inv_rm: Option<String>,
    exp: Option<ExpDtls>,
    fx_paise: i64,
}

fn r2(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Exact powers of ten as `f64` (all below 2^53 up to 10^15).
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// [`Num::from_decimal`] without the text round trip: when the mantissa and `10^scale` are
/// exact `f64`s, their IEEE quotient is the correctly rounded value, the same `f64` that
/// parsing the decimal text gives.
fn num(d: Decimal) -> Num {
    let mantissa = d.mantissa();
    match POW10.get(d.scale() as usize) {
        Some(pow) if mantissa.unsigned_abs() < 1u128 << 53 => Num {
            value: d,
            raw: mantissa as f64 / pow,
        },
        _ => Num::from_decimal(d),
    }
}

fn fmt_date(d: NaiveDate) -> String {
    format!("{:02}/{:02}/{:04}", d.day(), d.month(), d.year())
}

impl Draft {
    /// The typed invoice with every amount derived from the line inputs.
    fn render(&self) -> Invoice {
        let zero = Decimal::ZERO;
        let mut items = Vec::with_capacity(self.lines.len());
        let (mut ass_val, mut cgst_val, mut sgst_val, mut igst_val, mut ces_val, mut items_val) =
            (zero, zero, zero, zero, zero, zero);
        let hundred = Decimal::from(100);
        for (idx, line) in self.lines.iter().enumerate() {
            let tot_amt =
                r2(line.qty.unwrap_or(Decimal::ONE) * line.unit_price) + line.tot_amt_bump;
            let discount = r2(tot_amt * Decimal::from(line.discount_bp) / Decimal::from(10_000));
            let ass_amt = tot_amt - discount + line.ass_amt_bump;
            let half = r2(ass_amt * line.rate / Decimal::from(200));
            let full = r2(ass_amt * line.rate / hundred);
            let (mut igst, mut cgst, mut sgst) = match self.regime {
                Regime::Intra => (zero, half, half),
                Regime::Inter => (full, zero, zero),
                Regime::Zero => (zero, zero, zero),
            };
            if line.extra_igst {
                igst = full;
            }
            if line.extra_cgst {
                cgst = half;
                sgst = half;
            }
            let ces_amt = line.ces_rt.map(|rt| r2(ass_amt * rt / hundred));
            let oth = line.oth_chrg.unwrap_or(zero);
            let tot_item_val =
                ass_amt + igst + cgst + sgst + ces_amt.unwrap_or(zero) + oth + line.item_val_bump;
            ass_val += ass_amt;
            cgst_val += cgst;
            sgst_val += sgst;
            igst_val += igst;
            ces_val += ces_amt.unwrap_or(zero);
            items_val += tot_item_val;
            let shown =
                |v: Decimal| -> Option<Num> { (v != zero || self.explicit_zeros).then(|| num(v)) };
            items.push(Item {
                item_no: 0,
                sl_no: (idx + 1).to_string(),
                prd_desc: Some(line.desc.clone()),
                is_servc: if line.servc { "Y" } else { "N" }.to_owned(),
                hsn_cd: line.hsn.clone(),
                barcde: line.barcode.clone(),
                qty: line.qty.map(num),
                free_qty: line.free_qty.map(num),
                unit: line.unit.clone(),
                unit_price: num(line.unit_price),
                tot_amt: num(tot_amt),
                discount: (discount != zero).then(|| num(discount)),
                pre_tax_val: None,
                ass_amt: num(ass_amt),
                gst_rt: num(line.rate),
                igst_amt: if self.regime == Regime::Intra && !line.extra_igst {
                    shown(igst)
                } else {
                    Some(num(igst))
                },
                cgst_amt: if self.regime == Regime::Intra || line.extra_cgst {
                    Some(num(cgst))
                } else {
                    shown(cgst)
                },
                sgst_amt: if self.regime == Regime::Intra || line.extra_cgst {
                    Some(num(sgst))
                } else {
                    shown(sgst)
                },
                ces_rt: line.ces_rt.map(num),
                ces_amt: ces_amt.map(num),
                ces_non_advl_amt: None,
                state_ces_rt: None,
                state_ces_amt: None,
                state_ces_non_advl_amt: None,
                oth_chrg: line.oth_chrg.map(num),
                tot_item_val: num(tot_item_val),
                ord_line_ref: None,
                org_cntry: None,
                prd_sl_no: None,
                bch_dtls: None,
                attrib_dtls: None,
            });
        }
        let oth = self.inv_oth_chrg.unwrap_or(zero);
        let discount = r2(items_val * Decimal::from(self.inv_discount_bp) / Decimal::from(10_000));
        let raw = items_val + oth - discount;
        let rnd = if self.round_off {
            raw.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero) - raw
        } else {
            zero
        };
        let tot_inv_val = raw + rnd;
        let tot_inv_val_fc = (self.sup.is_export() && self.fx_paise > 0)
            .then(|| num(r2(tot_inv_val * hundred / Decimal::from(self.fx_paise))));
        let val_dtls = ValDtls {
            ass_val: num(ass_val),
            cgst_val: Some(num(cgst_val)),
            sgst_val: Some(num(sgst_val)),
            igst_val: Some(num(igst_val)),
            ces_val: (ces_val != zero || self.explicit_zeros).then(|| num(ces_val)),
            st_ces_val: self.explicit_zeros.then(|| num(zero)),
            discount: (discount != zero).then(|| num(discount)),
            oth_chrg: self.inv_oth_chrg.map(num),
            rnd_off_amt: (rnd != zero).then(|| num(rnd)),
            tot_inv_val: num(tot_inv_val),
            tot_inv_val_fc,
        };
        let pay_dtls = self.pay.then(|| PayDtls {
            nm: Some(self.seller.lgl_nm.clone()),
            acc_det: Some(format!(
                "50200{}",
                self.seller.gstin.get(7..11).unwrap_or("1234")
            )),
            mode: Some("Credit".to_owned()),
            fin_ins_br: Some(format!(
                "HDFC000{}",
                self.seller.gstin.get(7..11).unwrap_or("1234")
            )),
            pay_term: None,
            pay_instr: None,
            cr_trn: None,
            dir_dr: None,
            cr_day: Some(Int(30)),
            paid_amt: None,
            paymt_due: Some(num(tot_inv_val)),
        });
        let ref_dtls = (self.prec.is_some() || self.inv_rm.is_some()).then(|| RefDtls {
            inv_rm: self.inv_rm.clone(),
            doc_perd_dtls: None,
            prec_doc_dtls: self.prec.clone().map(|p| vec![p]),
            contr_dtls: None,
        });
        let s = &self.seller;
        Invoice {
            version: "1.1".to_owned(),
            irn: None,
            tran_dtls: TranDtls {
                tax_sch: "GST".to_owned(),
                sup_typ: self.sup.code().to_owned(),
                reg_rev: self.reg_rev.map(str::to_owned),
                ecm_gstin: None,
                igst_on_intra: self.igst_on_intra.map(str::to_owned),
            },
            doc_dtls: DocDtls {
                typ: self.typ.to_owned(),
                no: self.no.clone(),
                dt: self.dt.clone(),
            },
            seller_dtls: SellerDtls {
                gstin: s.gstin.clone(),
                lgl_nm: s.lgl_nm.clone(),
                trd_nm: s.trd_nm.clone(),
                addr1: s.addr1.clone(),
                addr2: s.addr2.clone(),
                loc: s.loc.clone(),
                pin: Int(s.pin),
                stcd: format!("{:02}", s.state),
                ph: s.ph.clone(),
                em: s.em.clone(),
            },
            buyer_dtls: self.buyer.clone(),
            disp_dtls: self.disp.clone(),
            ship_dtls: self.ship.clone(),
            item_list: items,
            val_dtls,
            pay_dtls,
            ref_dtls,
            addl_doc_dtls: None,
            exp_dtls: self.exp.clone(),
            ewb_dtls: None,
        }
    }
}

/// A document number `[type][seller code][FY]/[seq]`, without the FY when that exceeds 16 chars.
fn doc_no(type_pfx: &str, code: &str, fy4: &str, seq: u64) -> String {
    let no = format!("{type_pfx}{code}{fy4}/{seq}");
    if no.len() <= 16 {
        no
    } else {
        format!("{type_pfx}{code}{seq}")
    }
}

/// A registered party as the recipient; the place of supply is the party's state.
fn buyer_dtls(p: &Party) -> BuyerDtls {
    BuyerDtls {
        gstin: p.gstin.clone(),
        lgl_nm: p.lgl_nm.clone(),
        trd_nm: p.trd_nm.clone(),
        pos: format!("{:02}", p.state),
        addr1: p.addr1.clone(),
        addr2: p.addr2.clone(),
        loc: p.loc.clone(),
        pin: Some(Int(p.pin)),
        stcd: format!("{:02}", p.state),
        ph: p.ph.clone(),
        em: p.em.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// The generator

/// Valid invoices kept for the duplicate defect.
const RING: usize = 32;
/// Draws before a search for a value with some property gives up (with the default masters
/// every search succeeds within a few draws; the bound only guards odd custom masters).
const RETRIES: usize = 10_000;

struct Generator<'m> {
    ctx: Ctx<'m>,
    seed: u64,
    today: NaiveDate,
    max_items: usize,
    /// `invalid_share` as a threshold on 53-bit draws.
    threshold: u64,
    next: u64,
    /// Next document sequence per seller and type (INV, CRN, DBN).
    seq: Vec<[u64; 3]>,
    ring: VecDeque<Vec<u8>>,
    /// The current record's JSON text.
    text: Vec<u8>,
}

impl<'m> Generator<'m> {
    fn new(opts: &GenOptions, masters: &'m Masters) -> io::Result<Generator<'m>> {
        if !(0.0..=1.0).contains(&opts.invalid_share) {
            return Err(invalid_input("invalid share must be within 0..=1"));
        }
        let ctx = Ctx::new(opts.seed, masters)?;
        Ok(Generator {
            seq: vec![[0; 3]; ctx.sellers.len()],
            ctx,
            seed: opts.seed,
            today: opts.today,
            max_items: opts.max_items.clamp(1, 1000),
            threshold: (opts.invalid_share * (1u64 << 53) as f64) as u64,
            next: 0,
            ring: VecDeque::with_capacity(RING),
            text: Vec::with_capacity(16 << 10),
        })
    }

    /// Builds the next record into `self.text`; returns its defect, if any.
    fn next_record(&mut self) -> Option<&'static str> {
        let idx = self.next;
        self.next += 1;
        let mut rng = Rng::new(self.seed, idx);
        let mut defect =
            ((rng.next_u64() >> 11) < self.threshold).then(|| rng.index(DEFECTS.len()));
        if let Some(d) = defect {
            if DEFECTS[d].0 == "duplicate_invoice" {
                if self.ring.is_empty() {
                    // Nothing valid to repeat yet: take the next defect of the catalogue.
                    defect = Some((d + 1) % DEFECTS.len());
                } else {
                    let src = rng.index(self.ring.len());
                    self.text.clear();
                    self.text.extend_from_slice(&self.ring[src]);
                    return Some(DEFECTS[d].0);
                }
            }
        }
        let name = defect.map(|d| DEFECTS[d].0);
        let shape = name.map(shape_of).unwrap_or_default();
        let mut draft = self.draft(&mut rng, shape);
        if let Some(name) = name {
            self.break_draft(&mut rng, &mut draft, name);
        }
        let mut invoice = draft.render();
        if let Some(name) = name {
            break_invoice(&mut invoice, name, &mut rng);
        }
        self.text.clear();
        // Serialising plain structs of strings and finite numbers cannot fail.
        if serde_json::to_writer(&mut self.text, &invoice).is_err() {
            self.text.clear();
        }
        strip_item_no(&mut self.text);
        match name {
            Some(name) => break_text(&mut self.text, name, &mut rng),
            // Every fourth valid record is kept: enough variety, a quarter of the copying.
            None if idx % 4 == 0 => {
                let mut slot = if self.ring.len() == RING {
                    self.ring.pop_front().unwrap_or_default()
                } else {
                    Vec::new()
                };
                slot.clear();
                slot.extend_from_slice(&self.text);
                self.ring.push_back(slot);
            }
            None => {}
        }
        name
    }

    fn draft(&mut self, rng: &mut Rng, shape: Shape) -> Draft {
        // A forced intra-state invoice needs a seller whose state has buyers.
        let mut seller_idx = rng.index(self.ctx.sellers.len());
        for _ in 0..RETRIES {
            let state = usize::from(self.ctx.sellers[seller_idx].state);
            if shape.intra != Some(true) || !self.ctx.buyers_by_state[state].is_empty() {
                break;
            }
            seller_idx = rng.index(self.ctx.sellers.len());
        }
        let seller = self.ctx.sellers[seller_idx].clone();
        let sup = shape.sup.unwrap_or_else(|| {
            [
                Sup::B2b,
                Sup::SezWp,
                Sup::SezWop,
                Sup::ExpWp,
                Sup::ExpWop,
                Sup::Dexp,
            ][rng.weighted(&[72, 6, 4, 7, 5, 6])]
        });
        let typ_idx = if shape.inv_only {
            0
        } else {
            rng.weighted(&[88, 8, 4])
        };
        let typ = ["INV", "CRN", "DBN"][typ_idx];
        let date = self.today - Duration::days(rng.below(20) as i64);

        // Document number: unique per seller and type within the file.
        let seq = {
            let slot = &mut self.seq[seller_idx][typ_idx];
            *slot += 1;
            *slot
        };
        let fy = clock::financial_year(date);
        let fy4 = format!(
            "{}{}",
            fy.get(2..4).unwrap_or("00"),
            fy.get(5..7).unwrap_or("00")
        );
        let type_pfx = ["", "CN", "DN"][typ_idx];
        let no = doc_no(type_pfx, &seller.code, &fy4, seq);
        let ctx = &self.ctx;

        let mut reg_rev = None;
        let mut igst_on_intra = None;
        // Exports: one market gives the buyer's city, the country and the currency.
        let market = sup.is_export().then(|| *rng.pick(&ctx.markets));
        let (buyer, regime) = match sup {
            Sup::B2b | Sup::Dexp => {
                let intra = shape.intra.unwrap_or_else(|| rng.chance(45));
                let same_state = &ctx.buyers_by_state[usize::from(seller.state)];
                let mut b = *rng.pick(&ctx.regular_buyers);
                if intra && !same_state.is_empty() {
                    b = *rng.pick(same_state);
                } else if shape.intra == Some(false) {
                    for _ in 0..RETRIES {
                        if ctx.buyers[b].state != seller.state {
                            break;
                        }
                        b = *rng.pick(&ctx.regular_buyers);
                    }
                }
                let party = &ctx.buyers[b];
                let is_intra = party.state == seller.state;
                let mut regime = if is_intra {
                    Regime::Intra
                } else {
                    Regime::Inter
                };
                if sup == Sup::B2b && !shape.plain {
                    if rng.chance(5) {
                        reg_rev = Some("Y");
                    } else if rng.chance(30) {
                        reg_rev = Some("N");
                    }
                    if is_intra && rng.chance(2) {
                        igst_on_intra = Some("Y");
                        regime = Regime::Inter;
                    }
                }
                (buyer_dtls(party), regime)
            }
            Sup::SezWp | Sup::SezWop => {
                let party = &ctx.buyers[*rng.pick(&ctx.sez_buyers)];
                let regime = if sup == Sup::SezWp {
                    Regime::Inter
                } else {
                    Regime::Zero
                };
                (buyer_dtls(party), regime)
            }
            Sup::ExpWp | Sup::ExpWop => {
                let towns = market.map_or(&["Overseas"][..], |m| m.2);
                let buyer = BuyerDtls {
                    gstin: "URP".to_owned(),
                    lgl_nm: format!(
                        "{} {} {}",
                        rng.pick(FOREIGN_FIRST),
                        rng.pick(FOREIGN_TRADE),
                        rng.pick(FOREIGN_SUFFIX)
                    ),
                    trd_nm: None,
                    pos: "96".to_owned(),
                    addr1: format!("{} {}", rng.range(1, 999), rng.pick(FOREIGN_STREET)),
                    addr2: None,
                    loc: (*rng.pick(towns)).to_owned(),
                    pin: Some(Int(999_999)),
                    stcd: "96".to_owned(),
                    ph: None,
                    em: None,
                };
                let regime = if sup == Sup::ExpWp {
                    Regime::Inter
                } else {
                    Regime::Zero
                };
                (buyer, regime)
            }
        };
        let exp = market.map(|(cnt, cur, _, _)| {
            let mut ship_b_no = String::new();
            rng.digits(7, &mut ship_b_no);
            ExpDtls {
                ship_b_no: Some(ship_b_no),
                ship_b_dt: Some(fmt_date(date)),
                port: Some(rng.pick(&ctx.ports).clone()),
                ref_clm: Some(if rng.chance(50) { "Y" } else { "N" }.to_owned()),
                for_cur: Some(cur.to_owned()),
                cnt_code: Some(cnt.to_owned()),
                exp_duty: None,
            }
        });
        let fx_paise = market.map_or(0, |m| m.3);

        let pos: u8 = buyer.pos.parse().unwrap_or(96);
        let ship = (matches!(sup, Sup::B2b | Sup::Dexp) && rng.chance(8)).then(|| ShipDtls {
            gstin: None,
            lgl_nm: format!(
                "{} Warehouse",
                buyer.lgl_nm.chars().take(80).collect::<String>()
            ),
            trd_nm: None,
            addr1: format!(
                "{} {}, {}",
                rng.pick(ADDR_KIND),
                rng.range(1, 300),
                rng.pick(ADDR_AREA)
            ),
            addr2: None,
            loc: (*rng.pick(cities(pos))).to_owned(),
            pin: Int(ctx.pin_of(rng, pos)),
            stcd: format!("{pos:02}"),
        });
        let disp = (!sup.is_export() && rng.chance(5)).then(|| DispDtls {
            nm: format!(
                "{} Depot",
                seller.trd_nm.as_deref().unwrap_or(&seller.lgl_nm)
            ),
            addr1: format!(
                "{} {}, {}",
                rng.pick(ADDR_KIND),
                rng.range(1, 300),
                rng.pick(ADDR_ROAD)
            ),
            addr2: None,
            loc: (*rng.pick(cities(seller.state))).to_owned(),
            pin: Int(ctx.pin_of(rng, seller.state)),
            stcd: format!("{:02}", seller.state),
        });

        // Items.
        let n = (1 + rng.index(self.max_items).min(rng.index(self.max_items))).max(shape.min_items);
        // Goods only, services only, or a mix: never mixed where IGST is charged within the
        // seller's state (IgstOnIntra, or an SEZ buyer in the seller's state; rule 2249).
        let igst_in_own_state = igst_on_intra.is_some()
            || (matches!(sup, Sup::SezWp | Sup::SezWop) && pos == seller.state);
        let mix = if igst_in_own_state {
            0
        } else {
            rng.weighted(&[60, 25, 15])
        };
        let mut lines = Vec::with_capacity(n);
        for k in 0..n {
            let servc = match mix {
                0 => false,
                1 => true,
                _ => rng.chance(50),
            } && !(k == 0 && shape.goods_first);
            lines.push(self.line(rng, servc, regime));
        }

        let prec = (typ != "INV").then(|| {
            let back = Duration::days(rng.range(1, 90) as i64);
            let orig = date - back;
            PrecDocDtls {
                inv_no: doc_no("", &seller.code, &fy4, 1 + rng.below(seq * 4 + 10)),
                inv_dt: fmt_date(orig),
                oth_ref_no: None,
            }
        });
        let inv_rm = match typ {
            "CRN" => Some(
                (*rng.pick(&["Goods returned", "Rate difference", "Post-sale discount"]))
                    .to_owned(),
            ),
            "DBN" => Some(
                (*rng.pick(&["Price revision", "Short billing", "Freight recovery"])).to_owned(),
            ),
            _ => rng
                .chance(5)
                .then(|| format!("PO {}", rng.range(1000, 99_999))),
        };
        Draft {
            sup,
            regime,
            reg_rev,
            igst_on_intra,
            typ,
            no,
            dt: fmt_date(date),
            seller,
            buyer,
            disp,
            ship,
            lines,
            explicit_zeros: rng.chance(50),
            inv_discount_bp: if rng.chance(5) {
                rng.range(10, 300) as u32
            } else {
                0
            },
            inv_oth_chrg: rng
                .chance(6)
                .then(|| Decimal::new(rng.range(50, 2500) as i64 * 100 + rng.below(100) as i64, 2)),
            round_off: rng.chance(40),
            pay: rng.chance(15),
            prec,
            inv_rm,
            exp,
            fx_paise,
        }
    }

    fn line(&self, rng: &mut Rng, servc: bool, regime: Regime) -> Line {
        let ctx = &self.ctx;
        // Unit price: one to five rupee digits, paise half the time. Dear items sell in small
        // quantities, so line values stay mostly in the thousands to lakhs.
        let tier = rng.weighted(&[10, 30, 30, 20, 10]);
        let magnitude = [1u64, 10, 100, 1000, 10_000][tier];
        let rupees = rng.range(magnitude, magnitude * 10 - 1);
        let paise = if rng.chance(50) { rng.below(100) } else { 0 };
        let unit_price = Decimal::new((rupees * 100 + paise) as i64, 2);
        let max_qty = [5000u64, 1000, 200, 20, 5][tier];
        let (hsn, desc, qty, unit, rate) = if servc {
            let code = *rng.pick(&ctx.sac);
            let with_qty = rng.chance(40);
            let rate = [18, 12, 5, 0][rng.weighted(&[80, 8, 10, 2])];
            (
                format!("{code:06}"),
                (*rng.pick(SERVICE_DESC)).to_owned(),
                with_qty.then(|| Decimal::from(rng.range(1, 12))),
                with_qty.then(|| {
                    if ctx.masters.uqc_ok("OTH") {
                        "OTH"
                    } else {
                        "NOS"
                    }
                    .to_owned()
                }),
                Decimal::from(rate),
            )
        } else {
            let code = *rng.pick(&ctx.goods_hsn);
            let unit = if rng.chance(85) {
                rng.pick(&ctx.common_units).clone()
            } else {
                rng.pick(&ctx.units).clone()
            };
            let qty = if FRACTIONAL_UNITS.contains(&unit.as_str()) && rng.chance(60) {
                Decimal::new(
                    (rng.range(0, max_qty.min(2000)) * 1000 + rng.range(1, 999)) as i64,
                    3,
                )
            } else if rng.chance(70) {
                Decimal::from(rng.range(1, max_qty.min(50)))
            } else {
                Decimal::from(rng.range(1, max_qty))
            };
            let rate = match rng.weighted(&[4, 20, 18, 40, 10, 2, 3, 3]) {
                0 => Decimal::ZERO,
                1 => Decimal::from(5),
                2 => Decimal::from(12),
                3 => Decimal::from(18),
                4 => Decimal::from(28),
                5 => Decimal::new(25, 2),
                6 => Decimal::from(3),
                _ => Decimal::new(15, 1),
            };
            (
                format!("{code:06}{:02}", rng.below(100)),
                format!("{} {}", rng.pick(GOODS_DESC), rng.pick(GOODS_GRADE)),
                Some(qty),
                Some(unit),
                rate,
            )
        };
        let zero_rated = regime == Regime::Zero;
        let ces_rt = (!zero_rated && !servc && rate == Decimal::from(28) && rng.chance(30))
            .then(|| Decimal::from(*rng.pick(&[1u32, 3, 12, 15, 22])));
        Line {
            servc,
            hsn,
            desc,
            qty,
            unit,
            unit_price,
            discount_bp: if rng.chance(20) {
                rng.range(50, 1500) as u32
            } else {
                0
            },
            rate: if zero_rated { Decimal::ZERO } else { rate },
            ces_rt,
            oth_chrg: rng
                .chance(3)
                .then(|| Decimal::new(rng.range(10, 500) as i64 * 100, 2)),
            barcode: (!servc && rng.chance(10)).then(|| {
                let mut b = String::from("890");
                rng.digits(10, &mut b);
                b
            }),
            free_qty: (!servc && rng.chance(3)).then(|| Decimal::from(rng.range(1, 5))),
            tot_amt_bump: Decimal::ZERO,
            ass_amt_bump: Decimal::ZERO,
            item_val_bump: Decimal::ZERO,
            extra_igst: false,
            extra_cgst: false,
        }
    }

    /// Defects applied to the draft, so every derived amount stays consistent around them.
    fn break_draft(&self, rng: &mut Rng, d: &mut Draft, name: &str) {
        let ctx = &self.ctx;
        let bump = Decimal::new(rng.range(500, 50_000) as i64, 2);
        match name {
            "bad_gstin_checksum" => {
                let mut g = d.buyer.gstin.clone().into_bytes();
                if let Some(last) = g.last_mut() {
                    let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
                    let pos = alphabet.iter().position(|c| c == last).unwrap_or(0);
                    *last = alphabet[(pos + 1 + rng.index(35)) % 36];
                }
                d.buyer.gstin = String::from_utf8(g).unwrap_or_default();
            }
            "same_seller_buyer" => {
                let s = d.seller.clone();
                d.buyer = buyer_dtls(&s);
                d.ship = None;
            }
            "future_date" => {
                d.dt = fmt_date(self.today + Duration::days(rng.range(1, 30) as i64));
            }
            "impossible_date" => {
                let year = self.today.year().clamp(2010, 2029);
                d.dt = format!("{}/02/{year}", rng.pick(&["30", "31"]));
            }
            "duplicate_slno" => {} // after rendering
            "invalid_gst_rate" => {
                d.lines[0].rate = Decimal::from(17);
                d.lines[0].ces_rt = None;
            }
            "unknown_hsn" => {
                for _ in 0..RETRIES {
                    let code = format!("{:06}{:02}", rng.range(10_000, 979_999), rng.below(100));
                    if !ctx.masters.hsn_ok(&code) {
                        d.lines[0].hsn = code;
                        break;
                    }
                }
            }
            "bad_unit" => {
                let unit = rng.pick(INVALID_UNITS);
                if !ctx.masters.uqc_ok(unit) {
                    d.lines[0].unit = Some((*unit).to_owned());
                } else {
                    d.lines[0].unit = Some("XYZQ".to_owned());
                }
            }
            "tot_amt_mismatch" => d.lines[0].tot_amt_bump = bump,
            "ass_amt_mismatch" => d.lines[0].ass_amt_bump = bump,
            "item_val_mismatch" => d.lines[0].item_val_bump = bump,
            "igst_on_intra" => {
                d.lines[0].rate = Decimal::from(18);
                d.lines[0].extra_igst = true;
            }
            "cgst_on_inter" => {
                d.lines[0].rate = Decimal::from(18);
                d.lines[0].extra_cgst = true;
            }
            "export_buyer_gstin" => {
                let p = &ctx.buyers[*rng.pick(&ctx.regular_buyers)];
                d.buyer.gstin = p.gstin.clone();
            }
            "regrev_on_sez" => d.reg_rev = Some("Y"),
            "seller_stcd_mismatch" => {
                let pos: u8 = d.buyer.pos.parse().unwrap_or(0);
                let mut other = d.seller.state;
                for _ in 0..RETRIES {
                    other = ctx.pick_state(rng);
                    if other != d.seller.state && other != pos {
                        break;
                    }
                }
                d.seller.state = other;
                d.seller.pin = ctx.pin_of(rng, other);
                d.seller.loc = (*rng.pick(cities(other))).to_owned();
                d.disp = None;
            }
            "pin_not_in_state" => {
                let home = format!("{:02}", d.seller.state);
                for _ in 0..RETRIES {
                    let other = ctx.pick_state(rng);
                    let pin = ctx.pin_of(rng, other);
                    if ctx.masters.pin_in_state(pin, &home) == Some(false) {
                        d.seller.pin = pin;
                        break;
                    }
                }
            }
            "bad_port" => {
                if let Some(exp) = d.exp.as_mut() {
                    for _ in 0..RETRIES {
                        let mut port = String::from("IN");
                        for _ in 0..3 {
                            port.push(rng.upper());
                        }
                        port.push(char::from(b'1' + rng.below(9) as u8));
                        if !ctx.masters.port_ok(&port) {
                            exp.port = Some(port);
                            break;
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// The invoice shape each defect needs (so that it triggers its code and no other).
fn shape_of(name: &str) -> Shape {
    let b2b = Shape {
        sup: Some(Sup::B2b),
        inv_only: true,
        plain: true,
        ..Shape::default()
    };
    match name {
        "bad_gstin_checksum"
        | "ass_val_mismatch"
        | "tot_inv_val_mismatch"
        | "item_val_mismatch"
        | "ass_amt_mismatch"
        | "missing_field"
        | "unknown_field"
        | "malformed_json" => b2b,
        "same_seller_buyer" | "igst_on_intra" => Shape {
            intra: Some(true),
            ..b2b
        },
        "cgst_on_inter" | "seller_stcd_mismatch" => Shape {
            intra: Some(false),
            ..b2b
        },
        "future_date" | "impossible_date" | "pin_not_in_state" => Shape {
            inv_only: true,
            plain: true,
            ..Shape::default()
        },
        "duplicate_slno" => Shape {
            min_items: 2,
            ..b2b
        },
        "invalid_gst_rate" | "unknown_hsn" | "bad_unit" | "tot_amt_mismatch" => Shape {
            goods_first: true,
            ..b2b
        },
        "export_buyer_gstin" | "bad_port" => Shape {
            sup: Some(Sup::ExpWp),
            inv_only: true,
            ..Shape::default()
        },
        "regrev_on_sez" => Shape {
            sup: Some(Sup::SezWp),
            inv_only: true,
            ..Shape::default()
        },
        _ => Shape::default(),
    }
}

/// Defects applied to the rendered invoice.
fn break_invoice(inv: &mut Invoice, name: &str, rng: &mut Rng) {
    let bump = Decimal::new(rng.range(500, 100_000) as i64, 2);
    match name {
        // The shape gives this defect at least two items.
        "duplicate_slno" if inv.item_list.len() >= 2 => {
            let k = 1 + rng.index(inv.item_list.len() - 1);
            inv.item_list[k].sl_no = inv.item_list[rng.index(k)].sl_no.clone();
        }
        "ass_val_mismatch" => {
            let v = inv.val_dtls.ass_val.value + bump;
            inv.val_dtls.ass_val = num(v);
        }
        "tot_inv_val_mismatch" => {
            let v = inv.val_dtls.tot_inv_val.value + bump;
            inv.val_dtls.tot_inv_val = num(v);
            if let Some(pay) = inv.pay_dtls.as_mut() {
                pay.paymt_due = Some(num(v));
            }
        }
        _ => {}
    }
}

/// Defects applied to the JSON text (schema and syntax errors: 2140).
fn break_text(text: &mut Vec<u8>, name: &str, rng: &mut Rng) {
    match name {
        "missing_field" => {
            let (anchor, key) = *rng.pick(&[
                ("\"SellerDtls\":{", "\"LglNm\":"),
                ("\"BuyerDtls\":{", "\"Loc\":"),
                ("\"TranDtls\":{", "\"SupTyp\":"),
                ("\"ItemList\":[{", "\"HsnCd\":"),
                ("\"ItemList\":[{", "\"TotItemVal\":"),
                ("\"ValDtls\":{", "\"TotInvVal\":"),
                ("\"ValDtls\":{", "\"AssVal\":"),
            ]);
            remove_field(text, anchor, key);
        }
        "unknown_field" => {
            let field = rng.pick(UNKNOWN_FIELDS);
            let anchor = *rng.pick(&[
                "{\"Version\":\"1.1\",",
                "\"TranDtls\":{",
                "\"ItemList\":[{",
                "\"ValDtls\":{",
            ]);
            let insert = format!("\"{field}\":\"X{}\",", rng.range(100, 999));
            if let Some(at) = find(text, anchor.as_bytes(), 0) {
                let at = at + anchor.len();
                text.splice(at..at, insert.bytes());
            }
        }
        "malformed_json" => match rng.below(3) {
            0 => {
                text.clear();
                text.extend_from_slice(b"{\"Version\":\"1.1\",\"TranDtls\":}");
            }
            1 => {
                // A missing comma between two members.
                if let Some(at) = find(text, b"\"GST\",\"SupTyp\"", 0) {
                    text.remove(at + 5);
                }
            }
            _ => {
                // An unquoted string value.
                if let Some(at) = find(text, b"\"TaxSch\":\"GST\"", 0) {
                    text.splice(at + 9..at + 14, b"GST".iter().copied());
                }
            }
        },
        _ => {}
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Removes the first `key` member after `anchor`, with its scalar value and one comma.
/// Strings in generated invoices never hold `"` or `\`, so a value ends at the next quote.
fn remove_field(text: &mut Vec<u8>, anchor: &str, key: &str) {
    let Some(a) = find(text, anchor.as_bytes(), 0) else {
        return;
    };
    let Some(start) = find(text, key.as_bytes(), a) else {
        return;
    };
    let value = start + key.len();
    let mut end = if text.get(value) == Some(&b'"') {
        match find(text, b"\"", value + 1) {
            Some(q) => q + 1,
            None => return,
        }
    } else {
        let mut e = value;
        while e < text.len() && !matches!(text[e], b',' | b'}' | b']') {
            e += 1;
        }
        e
    };
    let mut start = start;
    if text.get(end) == Some(&b',') {
        end += 1;
    } else if start > 0 && text[start - 1] == b',' {
        start -= 1;
    }
    text.drain(start..end);
}

/// Drops the `"ItemNo":0,` members that `Item`'s serialisation (the signed-output form) adds:
/// the input schema has no ItemNo, and the parser rejects it as an unknown field.
fn strip_item_no(text: &mut Vec<u8>) {
    const PAT: &[u8] = b"\"ItemNo\":0,";
    let mut read = 0;
    let mut write = 0;
    while read < text.len() {
        if text[read] == b'"' && text[read..].starts_with(PAT) {
            read += PAT.len();
            continue;
        }
        text[write] = text[read];
        write += 1;
        read += 1;
    }
    text.truncate(write);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use super::*;
    use crate::config::RulesConfig;
    use crate::schema;
    use crate::validate::Validator;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 4, 10).unwrap()
    }

    fn masters() -> Masters {
        Masters::embedded().unwrap()
    }

    fn validator() -> Validator {
        Validator::new(&RulesConfig::default(), Arc::new(masters()), None, today())
    }

    fn bytes(opts: &GenOptions) -> (Vec<u8>, GenStats) {
        let mut out = Vec::new();
        let stats = generate(opts, &masters(), &mut out).unwrap();
        (out, stats)
    }

    /// Every record with the defect it carries.
    fn records(opts: &GenOptions) -> Vec<(Option<&'static str>, Vec<u8>)> {
        let m = masters();
        let mut generator = Generator::new(opts, &m).unwrap();
        (0..opts.count)
            .map(|_| {
                let defect = generator.next_record();
                (defect, generator.text.clone())
            })
            .collect()
    }

    fn parse(text: &[u8]) -> Option<Invoice> {
        let mut buf = text.to_vec();
        simd_json::serde::from_slice::<Invoice>(&mut buf).ok()
    }

    /// The NIC codes the engine gives a record (default config, no taxpayer master): the
    /// validator's for a parsable record, the structural errors otherwise.
    fn codes(text: &[u8], validator: &Validator) -> BTreeSet<u16> {
        match parse(text) {
            Some(inv) => validator.validate(&inv).iter().map(|v| v.code).collect(),
            None => schema::structure_errors(text)
                .iter()
                .map(|v| v.code)
                .collect(),
        }
    }

    fn dec(n: &Option<Num>) -> Decimal {
        n.map(|n| n.value).unwrap_or_default()
    }

    /// Recomputes the arithmetic independently: item amounts exact to the paisa, ValDtls sums
    /// exact, TotInvVal within one rupee.
    fn check_arithmetic(inv: &Invoice) {
        let zero = Decimal::ZERO;
        let sup = inv.tran_dtls.sup_typ.as_str();
        let wop = matches!(sup, "SEZWOP" | "EXPWOP");
        let intra = matches!(sup, "B2B" | "DEXP")
            && inv.tran_dtls.igst_on_intra.as_deref() != Some("Y")
            && gstin::state_prefix(&inv.seller_dtls.gstin) == inv.buyer_dtls.pos;
        let [mut ass, mut cgst, mut sgst, mut igst, mut ces, mut items] = [zero; 6];
        for it in &inv.item_list {
            let qty = it.qty.map_or(Decimal::ONE, |q| q.value);
            assert_eq!(it.tot_amt.value, r2(qty * it.unit_price.value));
            let a = it.ass_amt.value;
            assert_eq!(a, it.tot_amt.value - dec(&it.discount));
            let rt = it.gst_rt.value;
            let taxes = (dec(&it.igst_amt), dec(&it.cgst_amt), dec(&it.sgst_amt));
            if wop {
                assert_eq!((rt, taxes), (zero, (zero, zero, zero)));
            } else if intra {
                let half = r2(a * rt / Decimal::from(200));
                assert_eq!(taxes, (zero, half, half));
            } else {
                assert_eq!(taxes, (r2(a * rt / Decimal::from(100)), zero, zero));
            }
            let ce = dec(&it.ces_amt);
            assert_eq!(ce, r2(a * dec(&it.ces_rt) / Decimal::from(100)));
            let (i, c, g) = taxes;
            assert_eq!(
                it.tot_item_val.value,
                a + i + c + g + ce + dec(&it.oth_chrg)
            );
            assert!(it.unit_price.value.normalize().scale() <= 2);
            assert!(it.qty.is_none_or(|q| q.value.normalize().scale() <= 3));
            ass += a;
            cgst += c;
            sgst += g;
            igst += i;
            ces += ce;
            items += it.tot_item_val.value;
        }
        let v = &inv.val_dtls;
        assert_eq!(v.ass_val.value, ass);
        assert_eq!(
            (
                dec(&v.cgst_val),
                dec(&v.sgst_val),
                dec(&v.igst_val),
                dec(&v.ces_val)
            ),
            (cgst, sgst, igst, ces)
        );
        let want = items + dec(&v.oth_chrg) - dec(&v.discount) + dec(&v.rnd_off_amt);
        assert!((v.tot_inv_val.value - want).abs() <= Decimal::ONE);
        assert!(dec(&v.rnd_off_amt).abs() < Decimal::ONE);
        assert!(dec(&v.discount) < v.tot_inv_val.value);
    }

    #[test]
    fn fast_num_matches_text_round_trip() {
        let mut rng = Rng::new(1, 2);
        for _ in 0..100_000 {
            let scale = rng.below(4) as u32;
            let d = Decimal::new(rng.below(1 << 50) as i64 >> rng.below(40), scale);
            assert_eq!(
                num(d).raw.to_bits(),
                Num::from_decimal(d).raw.to_bits(),
                "{d}"
            );
        }
        let big = Decimal::new(9_999_999_999_999_999, 2);
        assert_eq!(num(big).raw.to_bits(), Num::from_decimal(big).raw.to_bits());
    }

    #[test]
    fn deterministic() {
        let mut opts = GenOptions::new(300, 7, today());
        opts.invalid_share = 0.2;
        let (a, sa) = bytes(&opts);
        let (b, sb) = bytes(&opts);
        assert_eq!(a, b);
        assert_eq!(sa, sb);
        opts.seed = 8;
        let (c, _) = bytes(&opts);
        assert_ne!(a, c);
        opts.ndjson = true;
        let (d, _) = bytes(&opts);
        assert_eq!(d.iter().filter(|c| **c == b'\n').count(), 300);
        // A fixed fingerprint guards against platform- or version-dependent output.
        let fnv = a.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, c| {
            (h ^ u64::from(*c)).wrapping_mul(0x100_0000_01b3)
        });
        assert_eq!(
            fnv, 16_038_557_631_697_474_386,
            "output changed; update if intended"
        );
    }

    #[test]
    fn valid_invoices_pass_every_rule() {
        let validator = validator();
        let opts = GenOptions::new(1000, 42, today());
        let mut sup = BTreeMap::new();
        let mut typ = BTreeMap::new();
        let mut keys = HashSet::new();
        let mut flags = BTreeSet::new();
        for (defect, text) in &records(&opts) {
            assert!(defect.is_none());
            let shown = String::from_utf8_lossy(text);
            let inv = parse(text).unwrap_or_else(|| panic!("{shown}"));
            let bad = codes(text, &validator);
            assert!(bad.is_empty(), "{bad:?} in {shown}");
            check_arithmetic(&inv);
            assert!(gstin::checksum_ok(&inv.seller_dtls.gstin));
            assert!(inv.buyer_dtls.gstin == "URP" || gstin::checksum_ok(&inv.buyer_dtls.gstin));
            let date = clock::parse_doc_date(&inv.doc_dtls.dt).unwrap();
            assert!(date <= today() && date > today() - Duration::days(20));
            let key = (
                inv.seller_dtls.gstin.clone(),
                clock::financial_year(date),
                inv.doc_dtls.typ.clone(),
                inv.doc_dtls.no.to_ascii_uppercase(),
            );
            assert!(keys.insert(key), "duplicate document number");
            assert!((1..=20).contains(&inv.item_list.len()));
            assert!(text.len() < 20_000);
            if let Some(exp) = &inv.exp_dtls {
                let market = EXPORT_MARKETS
                    .iter()
                    .find(|m| Some(m.0) == exp.cnt_code.as_deref())
                    .unwrap();
                assert!(market.2.contains(&inv.buyer_dtls.loc.as_str()));
                assert_eq!(exp.for_cur.as_deref(), Some(market.1));
            }
            *sup.entry(inv.tran_dtls.sup_typ.clone()).or_insert(0) += 1;
            *typ.entry(inv.doc_dtls.typ.clone()).or_insert(0) += 1;
            let features = [
                ("regrev", inv.tran_dtls.reg_rev.as_deref() == Some("Y")),
                ("igst_on_intra", inv.tran_dtls.igst_on_intra.is_some()),
                ("rndoff", inv.val_dtls.rnd_off_amt.is_some()),
                ("cess", inv.item_list.iter().any(|i| i.ces_amt.is_some())),
                (
                    "discount",
                    inv.item_list.iter().any(|i| i.discount.is_some()),
                ),
                ("service", inv.item_list.iter().any(|i| i.is_servc == "Y")),
                ("ship", inv.ship_dtls.is_some()),
                ("disp", inv.disp_dtls.is_some()),
                (
                    "prec",
                    inv.ref_dtls
                        .as_ref()
                        .is_some_and(|r| r.prec_doc_dtls.is_some()),
                ),
            ];
            flags.extend(features.iter().filter(|f| f.1).map(|f| f.0));
            if inv.tran_dtls.sup_typ == "B2B" {
                let intra = gstin::state_prefix(&inv.seller_dtls.gstin) == inv.buyer_dtls.pos;
                flags.insert(if intra { "intra" } else { "inter" });
            }
        }
        for s in ["B2B", "SEZWP", "SEZWOP", "EXPWP", "EXPWOP", "DEXP"] {
            assert!(sup.get(s).copied().unwrap_or(0) >= 10, "{s}: {sup:?}");
        }
        for t in ["INV", "CRN", "DBN"] {
            assert!(typ.contains_key(t), "{typ:?}");
        }
        assert_eq!(flags.len(), 11, "{flags:?}");
        // The array form is one valid JSON array of the same records.
        let (out, stats) = bytes(&opts);
        let all: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
        assert_eq!(all.len(), 1000);
        assert_eq!((stats.invoices, stats.invalid), (1000, 0));
    }

    #[test]
    fn each_defect_triggers_its_code() {
        let validator = validator();
        let mut opts = GenOptions::new(3000, 5, today());
        opts.invalid_share = 0.9;
        let recs = records(&opts);
        let mut seen = BTreeMap::new();
        for (idx, (defect, text)) in recs.iter().enumerate() {
            let Some(name) = *defect else {
                continue;
            };
            let code = DEFECTS.iter().find(|d| d.0 == name).unwrap().1;
            *seen.entry(name).or_insert(0) += 1;
            let shown = String::from_utf8_lossy(text);
            let got = codes(text, &validator);
            if name == "duplicate_invoice" {
                // A verbatim repeat of an earlier valid record: the registry's 2150, not a rule.
                assert!(recs[..idx].iter().any(|(d, t)| d.is_none() && t == text));
                assert!(got.is_empty(), "{got:?}: {shown}");
                continue;
            }
            assert_eq!(got, BTreeSet::from([code]), "{name}: {shown}");
            if code == 2140 {
                // Schema and syntax errors stay one balanced record on one line.
                assert!(parse(text).is_none(), "{name} parsed: {shown}");
                assert!(!text.contains(&b'\n'));
                let depth = text.iter().fold(0i64, |d, c| match c {
                    b'{' | b'[' => d + 1,
                    b'}' | b']' => d - 1,
                    _ => d,
                });
                assert_eq!(depth, 0, "{shown}");
            }
        }
        for (name, _) in DEFECTS {
            assert!(
                seen.get(name).copied().unwrap_or(0) > 40,
                "{name}: {seen:?}"
            );
        }
    }

    #[test]
    fn defect_share_matches() {
        let mut opts = GenOptions::new(5000, 3, today());
        opts.invalid_share = 0.1;
        let (out, stats) = bytes(&opts);
        assert_eq!(stats.invoices, 5000);
        assert!((400..=600).contains(&stats.invalid), "{}", stats.invalid);
        assert_eq!(stats.by_defect.values().sum::<u64>(), stats.invalid);
        // Array framing stays valid around broken records: one record per line.
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5002);
        assert_eq!((lines[0], lines[5001]), ("[", "]"));
        assert!(lines[1..5000].iter().all(|l| l.ends_with(',')));
        assert!(!lines[5000].ends_with(','));
    }

    #[test]
    fn edge_options() {
        let (out, stats) = bytes(&GenOptions::new(0, 1, today()));
        assert_eq!(out, b"[\n]\n");
        assert_eq!(stats.invoices, 0);
        let mut opts = GenOptions::new(200, 1, today());
        opts.max_items = 1;
        opts.invalid_share = 1.0;
        for (defect, text) in records(&opts) {
            let items = parse(&text).map_or(0, |inv| inv.item_list.len());
            if defect == Some("duplicate_slno") {
                assert_eq!(items, 2);
            } else if items > 0 {
                assert_eq!(items, 1);
            }
        }
        opts.invalid_share = 1.5;
        assert!(generate(&opts, &masters(), &mut Vec::new()).is_err());
    }

    #[test]
    fn taxpayer_master_covers_the_pools() {
        let opts = GenOptions::new(300, 11, today());
        let mut csv = Vec::new();
        let rows = write_taxpayers(&opts, &masters(), &mut csv).unwrap();
        assert_eq!(rows as usize, SELLERS + BUYERS);
        let text = String::from_utf8(csv).unwrap();
        let tp = crate::masters::Taxpayers::parse(&text, std::path::Path::new("t.csv")).unwrap();
        assert_eq!(tp.len(), SELLERS + BUYERS);
        let validator = Validator::new(
            &RulesConfig::default(),
            Arc::new(masters()),
            Some(Arc::new(tp)),
            today(),
        );
        for (_, text) in records(&opts) {
            let bad = codes(&text, &validator);
            assert!(
                bad.is_empty(),
                "{bad:?}: {}",
                String::from_utf8_lossy(&text)
            );
        }
    }
}
