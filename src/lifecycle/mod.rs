//! The invoice's life after registration, all served from the registry that `irp register`
//! writes: bulk cancellation ([`cancel`]), lookups by IRN or by document ([`get`]) and the
//! GSTR-1 auto-population export ([`gstr1`]).
//!
//! The library functions return typed [`crate::Error`]s; the `*_command` functions below are
//! the only places that use `anyhow`, turn arguments into settings and pick exit codes
//! (0 done, 1 a lookup found nothing, 2 bad arguments or a fatal fault).

pub mod cancel;
pub mod get;
pub mod gstr1;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::app::{self, DEFAULT_DB};
use crate::cli::{CancelArgs, CommonArgs, GetArgs, Gstr1Args};
use crate::error::{Error, Result};
use crate::irn::{self, Irn};
use crate::model::Num;
use crate::pipeline;
use crate::record::QrFacts;
use crate::registry::{Registration, Registry};
use crate::sign_stage::QrDoc;

/// The parts of a stored (canonical) invoice that lookups and GSTR-1 need.
///
/// Deliberately not [`crate::model::Invoice`]: that type rejects unknown fields and the stored
/// form carries `ItemNo`, which the input schema does not have; a narrow view is also cheaper
/// to parse when a GSTR-1 export reads a hundred thousand invoices.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoredInvoice {
    pub tran_dtls: StoredTran,
    pub doc_dtls: StoredDoc,
    pub seller_dtls: StoredSeller,
    pub buyer_dtls: StoredBuyer,
    pub item_list: Vec<StoredItem>,
    pub val_dtls: StoredVal,
    #[serde(default)]
    pub exp_dtls: Option<StoredExp>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoredTran {
    pub sup_typ: String,
    #[serde(default)]
    pub reg_rev: Option<String>,
    #[serde(default)]
    pub ecm_gstin: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoredDoc {
    pub typ: String,
    pub no: String,
    pub dt: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoredSeller {
    pub gstin: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoredBuyer {
    pub gstin: String,
    pub pos: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoredItem {
    pub hsn_cd: String,
    #[serde(default)]
    pub is_servc: String,
    #[serde(default)]
    pub qty: Option<Num>,
    #[serde(default)]
    pub unit: Option<String>,
    pub ass_amt: Num,
    pub gst_rt: Num,
    #[serde(default)]
    pub igst_amt: Option<Num>,
    #[serde(default)]
    pub cgst_amt: Option<Num>,
    #[serde(default)]
    pub sgst_amt: Option<Num>,
    #[serde(default)]
    pub ces_amt: Option<Num>,
    #[serde(default)]
    pub ces_non_advl_amt: Option<Num>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoredVal {
    pub tot_inv_val: Num,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoredExp {
    #[serde(default)]
    pub ship_b_no: Option<String>,
    #[serde(default)]
    pub ship_b_dt: Option<String>,
    #[serde(default)]
    pub port: Option<String>,
}

impl StoredInvoice {
    /// Parses the canonical invoice of a registration.
    ///
    /// # Errors
    /// A stored invoice that is not the JSON `register` wrote (a corrupt registry).
    pub fn parse(registry: &Registry, irn: &Irn, reg: &Registration) -> Result<StoredInvoice> {
        serde_json::from_str(reg.invoice.get()).map_err(|e| Error::Registry {
            path: registry.path().to_owned(),
            message: format!("registration {}: unreadable invoice: {e}", irn::to_hex(irn)),
        })
    }

    /// The QR claims, derived exactly as `register` derived them (the first item with the
    /// highest taxable value gives MainHsnCode), so re-signing is byte-identical.
    pub fn qr_facts(&self) -> QrFacts {
        let items = self
            .item_list
            .iter()
            .map(|i| (i.hsn_cd.as_str(), i.ass_amt.value));
        QrFacts {
            buyer_gstin: self.buyer_dtls.gstin.clone(),
            tot_inv_val: self.val_dtls.tot_inv_val,
            item_cnt: self.item_list.len(),
            main_hsn: crate::transform::main_hsn(items),
        }
    }

    /// The document fields the QR payload repeats, as submitted.
    pub fn qr_doc(&self) -> QrDoc<'_> {
        QrDoc {
            seller_gstin: &self.seller_dtls.gstin,
            doc_no: &self.doc_dtls.no,
            doc_type: &self.doc_dtls.typ,
            doc_date: &self.doc_dtls.dt,
        }
    }
}

/// A blank `--gstin` would make every IRN someone else's (2143): refuse it as a usage error.
fn caller_gstin(gstin: Option<&str>) -> anyhow::Result<()> {
    if gstin.is_some_and(|g| g.trim().is_empty()) {
        bail!("--gstin: give a GSTIN, or leave the option out");
    }
    Ok(())
}

fn db_path(common: &CommonArgs) -> PathBuf {
    common
        .db
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DB))
}

/// `irp cancel`: bulk cancellation; the per-line outcomes are in `--out`.
///
/// # Errors
/// Bad options, an unreadable input or a CSV without the `irn,reason,remark` header, a
/// missing or locked registry, a failed write.
pub fn cancel_command(args: CancelArgs) -> anyhow::Result<ExitCode> {
    caller_gstin(args.gstin.as_deref())?;
    let settings = app::load_settings(&args.common)?;
    let clock = app::parse_clock(args.common.now.as_deref())?;
    let inputs = pipeline::expand_inputs(&args.inputs)?;
    let summary = cancel::run(cancel::CancelOptions {
        inputs,
        out_dir: args.out.clone(),
        db: db_path(&args.common),
        registry: settings.registry,
        lifecycle: settings.lifecycle,
        clock,
        gstin: args.gstin.clone(),
    })?;
    if !args.quiet {
        eprintln!("{}", summary.one_screen(&args.out));
    }
    Ok(ExitCode::SUCCESS)
}

/// `irp get`: NIC's Get-IRN response on stdout; exit 1 with NIC's error response when the
/// registry has no such IRN (2148) or it is outside the lookup window (2283).
///
/// # Errors
/// Bad or incomplete arguments, a missing registry, an unusable signing key.
pub fn get_command(args: GetArgs) -> anyhow::Result<ExitCode> {
    caller_gstin(args.gstin.as_deref())?;
    let settings = app::load_settings(&args.common)?;
    let clock = app::parse_clock(args.common.now.as_deref())?;
    let keys = match (
        &args.irn,
        &args.doc_type,
        &args.doc_no,
        &args.doc_date,
        &args.gstin,
    ) {
        // With --irn, --gstin is the GSTIN asking: only the seller may fetch (2143).
        (Some(text), None, None, None, _) => {
            vec![irn::from_hex(text.trim()).ok_or_else(|| {
                anyhow::anyhow!("--irn {text:?}: an IRN is 64 hexadecimal characters")
            })?]
        }
        (None, Some(doc_type), Some(doc_no), Some(doc_date), Some(gstin)) => {
            // The key of the clock's day first (the upper-cased number from the advisory's
            // start date, the number as sent before it), then the other one: a registry
            // holds registrations from both sides of the date.
            let upper_now = settings.rules.upper_case_doc_no_on(clock.now().date());
            let mut keys = Vec::with_capacity(2);
            for upper in [upper_now, !upper_now && settings.rules.upper_case_doc_no] {
                let key = get::document_irn(gstin, doc_type, doc_no, doc_date, upper)?;
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            keys
        }
        (None, ..) => {
            bail!("give either --irn IRN, or all of --doc-type, --doc-no, --doc-date and --gstin")
        }
        _ => bail!("--irn cannot be combined with the document options"),
    };
    let registry = Registry::open_read_only(&db_path(&args.common), &settings.registry)?;
    let Some(&first) = keys.first() else {
        bail!("no IRN to look up")
    };
    let mut key = first;
    let caller = args.gstin.as_deref();
    let mut found = get::lookup(&registry, &key, caller, &settings.lifecycle, clock.now())?;
    for next in keys.iter().skip(1) {
        if !matches!(&found, get::Lookup::Refused(v) if v.code == get::NOT_FOUND) {
            break;
        }
        key = *next;
        found = get::lookup(&registry, &key, caller, &settings.lifecycle, clock.now())?;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let code = match found {
        get::Lookup::Found(reg) => {
            let signer = app::load_signer(&settings)?;
            let response = get::respond(&registry, &key, &reg, &signer)?;
            serde_json::to_writer(&mut out, &response.as_success()).context("stdout")?;
            ExitCode::SUCCESS
        }
        get::Lookup::Refused(violation) => {
            serde_json::to_writer(&mut out, &get::failure(&violation)).context("stdout")?;
            ExitCode::from(1)
        }
    };
    out.write_all(b"\n").context("stdout")?;
    out.flush().context("stdout")?;
    Ok(code)
}

/// `irp gstr1`: the GSTR-1 JSON of a seller and return period, to `--out FILE` or stdout.
///
/// # Errors
/// A bad GSTIN or period, a missing registry, a failed write.
pub fn gstr1_command(args: Gstr1Args) -> anyhow::Result<ExitCode> {
    let settings = app::load_settings(&args.common)?;
    let period = gstr1::Period::parse(&args.period)?;
    let gstin = args.gstin.trim().to_ascii_uppercase();
    if !crate::gstin::shape_ok(&gstin) {
        bail!(
            "--gstin {:?}: a GSTIN is 2 digits and 13 letters or digits",
            args.gstin
        );
    }
    let registry = Registry::open_read_only(&db_path(&args.common), &settings.registry)?;
    let export = gstr1::export(&registry, &gstin, &period)?;
    let mut text = serde_json::to_vec(&export.gstr1).context("GSTR-1 JSON")?;
    text.push(b'\n');
    match &args.out {
        Some(path) => {
            let mut tmp = path.as_os_str().to_owned();
            tmp.push(".partial");
            let tmp = PathBuf::from(tmp);
            std::fs::write(&tmp, &text).with_context(|| format!("{}", tmp.display()))?;
            std::fs::rename(&tmp, path).with_context(|| format!("{}", path.display()))?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            out.write_all(&text).context("stdout")?;
            out.flush().context("stdout")?;
        }
    }
    eprintln!("{}", export.counts.one_line(&gstin, &args.period));
    Ok(ExitCode::SUCCESS)
}

/// Registries built by hand for the unit tests of the lifecycle commands.
#[cfg(test)]
pub(crate) mod testutil {
    use serde_json::json;

    use crate::clock;
    use crate::irn::{self, Irn};
    use crate::registry::{IrnStatus, NewRegistration, Registration, Registry};

    /// An item: (rate, taxable value, IGST, CGST, SGST, cess).
    pub type Line = (f64, f64, f64, f64, f64, f64);

    /// A minimal stored invoice with the members the lifecycle commands read.
    #[allow(clippy::too_many_arguments)]
    pub fn invoice(
        seller: &str,
        sup_typ: &str,
        typ: &str,
        no: &str,
        dt: &str,
        buyer: &str,
        pos: &str,
        reg_rev: bool,
        lines: &[Line],
    ) -> serde_json::Value {
        let items: Vec<serde_json::Value> = lines
            .iter()
            .enumerate()
            .map(|(i, &(rt, ass, igst, cgst, sgst, ces))| {
                json!({"ItemNo": 0, "SlNo": (i + 1).to_string(), "IsServc": "N", "HsnCd": format!("8471{i:02}"),
                       "UnitPrice": ass, "TotAmt": ass, "AssAmt": ass, "GstRt": rt, "IgstAmt": igst,
                       "CgstAmt": cgst, "SgstAmt": sgst, "CesAmt": ces,
                       "TotItemVal": ass + igst + cgst + sgst + ces})
            })
            .collect();
        let total: f64 = lines.iter().map(|l| l.1 + l.2 + l.3 + l.4 + l.5).sum();
        let mut tran = json!({"TaxSch": "GST", "SupTyp": sup_typ});
        if reg_rev {
            tran["RegRev"] = json!("Y");
        }
        json!({
            "Version": "1.1",
            "TranDtls": tran,
            "DocDtls": {"Typ": typ, "No": no, "Dt": dt},
            "SellerDtls": {"Gstin": seller, "LglNm": "Seller", "Addr1": "A", "Loc": "L", "Pin": 560001, "Stcd": &seller[..2]},
            "BuyerDtls": {"Gstin": buyer, "LglNm": "Buyer", "Pos": pos, "Addr1": "B", "Loc": "L", "Stcd": pos},
            "ItemList": items,
            "ValDtls": {"AssVal": lines.iter().map(|l| l.1).sum::<f64>(), "TotInvVal": (total * 100.0).round() / 100.0}
        })
    }

    /// Registers the invoices (as `register` would key them) and returns their IRNs.
    pub fn register(registry: &mut Registry, docs: &[(serde_json::Value, &str)]) -> Vec<Irn> {
        let mut irns = Vec::new();
        let mut regs = Vec::new();
        for (i, (inv, ack_dt)) in docs.iter().enumerate() {
            let seller = inv["SellerDtls"]["Gstin"].as_str().unwrap().to_owned();
            let dt = inv["DocDtls"]["Dt"].as_str().unwrap();
            let date = clock::parse_doc_date(dt).unwrap();
            let typ = inv["DocDtls"]["Typ"].as_str().unwrap();
            let no = inv["DocDtls"]["No"].as_str().unwrap();
            let irn = irn::compute(&seller, &clock::financial_year(date), typ, no);
            let reg = Registration {
                ack_no: 112510000000001 + i as u64,
                ack_dt: (*ack_dt).to_owned(),
                status: IrnStatus::Active,
                run: 1,
                seq: i as u64 + 1,
                cancel: None,
                ewb: None,
                invoice: serde_json::value::RawValue::from_string(inv.to_string()).unwrap(),
            };
            irns.push(irn);
            regs.push((irn, seller, date.format("%Y%m").to_string(), reg));
        }
        let new: Vec<NewRegistration<'_>> = regs
            .iter()
            .map(|(irn, seller, period, reg)| NewRegistration {
                irn: *irn,
                seller_gstin: seller,
                period,
                registration: reg,
            })
            .collect();
        let seq = registry.ack_seq() + new.len() as u64;
        registry.commit(&new, seq).unwrap();
        irns
    }
}
