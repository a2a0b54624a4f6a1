//! The command line as typed. `app` turns it into validated settings and runs the command.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A bulk engine for India's GST Invoice Registration Portal (IRP).
#[derive(Debug, Parser)]
#[command(name = "irp", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate, deduplicate, register and sign bulk INV-01 invoices.
    Register(RunArgs),
    /// Validate and check duplicates without registering anything (ERP pre-flight).
    Check(RunArgs),
    /// Write a deterministic synthetic bulk file (stdout, or --out FILE).
    Gen(GenArgs),
    /// Make an RSA-2048 signing key and a self-signed certificate (PEM).
    Keygen(KeygenArgs),
    /// Verify (with --cert) or decode a SignedInvoice / SignedQRCode JWS.
    Verify(VerifyArgs),
    /// Cancel registered IRNs in bulk (CSV irn,reason,remark or JSON {Irn,CnlRsn,CnlRem}).
    Cancel(CancelArgs),
    /// Fetch a registration by IRN or by document details (NIC's Get IRN response).
    Get(GetArgs),
    /// Export the GSTR-1 JSON of a seller and return period from the registry.
    Gstr1(Gstr1Args),
    /// Measure each stage's own rate on a file (used by scripts/bench.sh); prints JSON.
    #[command(hide = true)]
    BenchStages(BenchStagesArgs),
    /// Fill a registry with N registrations on the bulk path (scale benchmark); no signing.
    #[command(hide = true)]
    BenchPrefill(BenchPrefillArgs),
}

#[derive(Debug, Args)]
pub struct BenchPrefillArgs {
    /// Registrations to add.
    #[arg(long)]
    pub count: u64,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct BenchStagesArgs {
    /// A bulk file (JSON array or NDJSON).
    pub input: PathBuf,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Invoices to sign twice each (RS256 with the configured key); 0 skips signing.
    #[arg(long, default_value_t = 20_000)]
    pub sign_sample: usize,
    /// Also render the signed QR codes as PNG.
    #[arg(long)]
    pub qr: bool,
    /// A scratch registry folder for the commit stage (must not exist).
    #[arg(long, value_name = "DIR")]
    pub scratch_registry: Option<PathBuf>,
}

/// Options shared by the commands that read the configuration and the registry.
#[derive(Debug, Args, Clone)]
pub struct CommonArgs {
    /// The registry (RocksDB folder).
    #[arg(long, value_name = "DIR")]
    pub db: Option<PathBuf>,
    /// Configuration file.
    #[arg(long, value_name = "FILE", default_value = "config/irp.toml")]
    pub config: PathBuf,
    /// The clock (IST) for date rules, AckDt and windows: "YYYY-MM-DD HH:MM:SS".
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// JSON array or NDJSON files, directories (their files in name order), or - for stdin.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Output folder.
    #[arg(long, value_name = "DIR", default_value = "out")]
    pub out: PathBuf,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Taxpayer master CSV (gstin,legal_name,state_code,status,aato_crore,type).
    #[arg(long, value_name = "FILE")]
    pub taxpayers: Option<PathBuf>,
    /// Write QR images of SignedQRCode to DIR/qr/<irn>.<ext> (register only).
    #[arg(long, value_name = "FORMAT", default_value = "none")]
    pub qr: String,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
    /// Serve Prometheus metrics at this address (e.g. 127.0.0.1:9184) during the run.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<String>,
    /// Rayon worker threads (overrides pipeline.threads).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Invoices per batch (overrides pipeline.batch_size).
    #[arg(long)]
    pub batch_size: Option<usize>,
}

#[derive(Debug, Args)]
pub struct GenArgs {
    /// Number of invoices.
    #[arg(long)]
    pub count: u64,
    /// Seed: the same seed gives the same file.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Share of invoices (0..1) that carry one known defect.
    #[arg(long, default_value_t = 0.0)]
    pub invalid_share: f64,
    /// Output file (default stdout).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// NDJSON instead of a JSON array.
    #[arg(long)]
    pub ndjson: bool,
    /// Most items per invoice.
    #[arg(long, default_value_t = 20)]
    pub max_items: usize,
    /// "Today" for document dates ("YYYY-MM-DD HH:MM:SS", IST); default: the system clock.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Folder for irp-signing-key.pem and irp-signing-cert.pem.
    #[arg(long, value_name = "DIR", default_value = "data/keys")]
    pub out: PathBuf,
    /// rs256 (NIC), es256 or eddsa.
    #[arg(long, default_value = "rs256")]
    pub algorithm: String,
    /// Certificate common name.
    #[arg(long, default_value = "irp development signing key")]
    pub common_name: String,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A compact JWS, or a file holding one.
    pub token: String,
    /// The signer's PEM certificate; without it the token is only decoded.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// CSV (irn,reason,remark) or JSON/NDJSON ({Irn,CnlRsn,CnlRem}) files, or - for stdin.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Output folder.
    #[arg(long, value_name = "DIR", default_value = "out")]
    pub out: PathBuf,
    /// The GSTIN cancelling (NIC's authenticated GSTIN): another seller's IRN gets 2143.
    #[arg(long)]
    pub gstin: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The IRN (64 hex characters).
    #[arg(long, conflicts_with_all = ["doc_type", "doc_no", "doc_date"])]
    pub irn: Option<String>,
    /// Document type INV, CRN or DBN.
    #[arg(long)]
    pub doc_type: Option<String>,
    /// Document number.
    #[arg(long)]
    pub doc_no: Option<String>,
    /// Document date dd/mm/yyyy.
    #[arg(long)]
    pub doc_date: Option<String>,
    /// Seller GSTIN; with --irn, the GSTIN asking (another seller's IRN gets 2143).
    #[arg(long)]
    pub gstin: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct Gstr1Args {
    /// Seller GSTIN.
    #[arg(long)]
    pub gstin: String,
    /// Return period MMYYYY.
    #[arg(long)]
    pub period: String,
    /// Output file (default stdout).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}
