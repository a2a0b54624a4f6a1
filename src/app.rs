//! The edge: turns parsed command-line arguments into settings and runs a command. This and
//! `main.rs` are the only places that use `anyhow`; the library below returns typed errors.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};

use crate::cli::{Cli, Command, CommonArgs, GenArgs, KeygenArgs, RunArgs, VerifyArgs};
use crate::clock;
use crate::config::Settings;
use crate::dedup::Clock;
use crate::masters::{Masters, Taxpayers};
use crate::pipeline::{self, Mode, RunOptions};
use crate::qr::QrFormat;
use crate::sign::{self, Algorithm, Signer};
use crate::telemetry::{self, ProgressMode};

/// Default registry folder.
pub const DEFAULT_DB: &str = "data/registry";

/// Runs one command; `Ok` carries the exit code.
///
/// # Errors
/// A fatal fault, with the file or resource it concerns.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Register(args) => run_pipeline(Mode::Register, args),
        Command::Check(args) => run_pipeline(Mode::Check, args),
        Command::Gen(args) => gen(args),
        Command::Keygen(args) => keygen(args),
        Command::Verify(args) => verify(args),
        Command::Cancel(args) => crate::lifecycle::cancel_command(args),
        Command::Get(args) => crate::lifecycle::get_command(args),
        Command::Gstr1(args) => crate::lifecycle::gstr1_command(args),
        Command::BenchStages(args) => bench_stages(args),
        Command::BenchPrefill(args) => {
            let settings = load_settings(&args.common)?;
            let masters = load_masters(&settings)?;
            let db = args
                .common
                .db
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DB));
            let (secs, compaction) =
                crate::bench::prefill(&db, &settings, &masters, args.count, args.seed)?;
            println!(
                "{{\"registrations\":{},\"seconds\":{secs:.3},\"per_second\":{:.0},\"compaction_wait_seconds\":{compaction:.3}}}",
                args.count,
                args.count as f64 / secs.max(1e-9)
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Loads the configuration named on the command line (the default path may be absent).
///
/// # Errors
/// An unreadable or invalid configuration file.
pub fn load_settings(common: &CommonArgs) -> anyhow::Result<Settings> {
    let explicit = common.config != Path::new("config/irp.toml");
    Ok(Settings::load(&common.config, explicit)?)
}

/// The clock: `--now` or the system clock (IST).
///
/// # Errors
/// A `--now` that is not `YYYY-MM-DD HH:MM:SS`.
pub fn parse_clock(now: Option<&str>) -> anyhow::Result<Clock> {
    match now {
        Some(text) => clock::parse_now(text)
            .map(Clock::Fixed)
            .ok_or_else(|| anyhow!("--now {text:?}: expected \"YYYY-MM-DD HH:MM:SS\"")),
        None => Ok(Clock::System),
    }
}

/// The masters: the configured folder, or the copies built into the binary.
///
/// # Errors
/// A missing or malformed master file.
pub fn load_masters(settings: &Settings) -> anyhow::Result<Masters> {
    Ok(match &settings.masters.dir {
        Some(dir) => Masters::from_dir(dir)?,
        None => Masters::embedded()?,
    })
}

fn algorithm(name: &str) -> anyhow::Result<Algorithm> {
    match name {
        "rs256" => Ok(Algorithm::Rs256),
        "es256" => Ok(Algorithm::Es256),
        "eddsa" => Ok(Algorithm::EdDsa),
        other => bail!("unknown signing algorithm {other:?} (rs256, es256, eddsa)"),
    }
}

/// Loads the signing key, making a development key first when configured and none exists.
///
/// # Errors
/// A missing or unreadable key or certificate, named in the message.
pub fn load_signer(settings: &Settings) -> anyhow::Result<Signer> {
    let cfg = &settings.signing;
    let alg = algorithm(&cfg.algorithm)?;
    if cfg.generate_dev_key && !cfg.key.exists() && !cfg.cert.exists() {
        let dir = cfg
            .key
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
        let (key, cert) = sign::keygen(dir, "irp development signing key", alg)?;
        if key != cfg.key || cert != cfg.cert {
            std::fs::rename(&key, &cfg.key).with_context(|| format!("{}", cfg.key.display()))?;
            std::fs::rename(&cert, &cfg.cert).with_context(|| format!("{}", cfg.cert.display()))?;
        }
        eprintln!(
            "irp: made a development signing key {} and certificate {} (self-signed: not for production)",
            cfg.key.display(),
            cfg.cert.display()
        );
    }
    Ok(Signer::from_pem_files(&cfg.key, &cfg.cert, alg, &cfg.iss)?)
}

fn run_pipeline(mode: Mode, args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut settings = load_settings(&args.common)?;
    if let Some(t) = args.threads {
        settings.pipeline.threads = t;
    }
    if let Some(b) = args.batch_size {
        if b == 0 {
            bail!("--batch-size must be at least 1");
        }
        settings.pipeline.batch_size = b;
    }
    let clock = parse_clock(args.common.now.as_deref())?;
    let masters = Arc::new(load_masters(&settings)?);
    let taxpayer_path = args
        .taxpayers
        .clone()
        .or(settings.masters.taxpayers.clone());
    let taxpayers = match &taxpayer_path {
        Some(path) => Some(Arc::new(Taxpayers::load(path)?)),
        None => None,
    };
    let qr: QrFormat = args
        .qr
        .parse()
        .map_err(|_| anyhow!("--qr {:?}: expected svg, png or none", args.qr))?;
    if let Some(addr) = &args.metrics_addr {
        telemetry::install_prometheus(addr).map_err(|e| anyhow!(e))?;
    }
    let signer = match mode {
        Mode::Register => Some(Arc::new(load_signer(&settings)?)),
        Mode::Check => None,
    };
    let db = match mode {
        Mode::Register => Some(
            args.common
                .db
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DB)),
        ),
        Mode::Check => args.common.db.clone(),
    };
    let inputs = pipeline::expand_inputs(&args.inputs)?;
    let progress = if args.quiet {
        ProgressMode::Quiet
    } else {
        ProgressMode::Auto
    };
    let summary = pipeline::run(RunOptions {
        mode,
        inputs,
        out_dir: args.out.clone(),
        db,
        settings,
        masters,
        taxpayers,
        clock,
        qr,
        signer,
        progress,
    })?;
    if !args.quiet {
        eprintln!("{}", summary.one_screen(&args.out));
    }
    Ok(ExitCode::SUCCESS)
}

fn gen(args: GenArgs) -> anyhow::Result<ExitCode> {
    let clock = parse_clock(args.now.as_deref())?;
    if !(0.0..=1.0).contains(&args.invalid_share) {
        bail!("--invalid-share must be between 0 and 1");
    }
    let masters = Masters::embedded()?;
    let opts = crate::gen::GenOptions {
        count: args.count,
        seed: args.seed,
        invalid_share: args.invalid_share,
        today: clock.now().date(),
        max_items: args.max_items.clamp(1, 1000),
        ndjson: args.ndjson,
    };
    let stats = match &args.out {
        Some(path) => {
            let file =
                std::fs::File::create(path).with_context(|| format!("{}", path.display()))?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
            let stats = crate::gen::generate(&opts, &masters, &mut w)
                .with_context(|| format!("{}", path.display()))?;
            std::io::Write::flush(&mut w).with_context(|| format!("{}", path.display()))?;
            stats
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            let stats = crate::gen::generate(&opts, &masters, &mut w).context("stdout")?;
            std::io::Write::flush(&mut w).context("stdout")?;
            stats
        }
    };
    eprintln!(
        "irp gen: {} invoices ({} with a known defect)",
        stats.invoices, stats.invalid
    );
    Ok(ExitCode::SUCCESS)
}

fn bench_stages(args: crate::cli::BenchStagesArgs) -> anyhow::Result<ExitCode> {
    let settings = load_settings(&args.common)?;
    let today = parse_clock(args.common.now.as_deref())?.now().date();
    let masters = Arc::new(load_masters(&settings)?);
    let signer = if args.sign_sample > 0 {
        Some(load_signer(&settings)?)
    } else {
        None
    };
    if let Some(dir) = &args.scratch_registry {
        if dir.exists() {
            bail!("{}: the scratch registry must not exist", dir.display());
        }
    }
    let rates = crate::bench::stage_ceilings(
        &args.input,
        &settings,
        masters,
        today,
        &crate::bench::CeilingOptions {
            signer: signer.as_ref(),
            sign_sample: args.sign_sample,
            qr: args.qr,
            scratch_registry: args.scratch_registry.as_deref(),
        },
    )?;
    if let Some(dir) = &args.scratch_registry {
        std::fs::remove_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    }
    println!("{}", serde_json::to_string_pretty(&rates)?);
    Ok(ExitCode::SUCCESS)
}

fn keygen(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    let alg = algorithm(&args.algorithm)?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("{}", args.out.display()))?;
    let (key, cert) = sign::keygen(&args.out, &args.common_name, alg)?;
    println!("key:  {}\ncert: {}", key.display(), cert.display());
    Ok(ExitCode::SUCCESS)
}

fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let token = if Path::new(&args.token).is_file() {
        std::fs::read_to_string(&args.token).with_context(|| args.token.clone())?
    } else {
        args.token.clone()
    };
    let token = token.trim();
    let (decoded, verified) = match &args.cert {
        Some(cert_path) => {
            let pem =
                std::fs::read(cert_path).with_context(|| format!("{}", cert_path.display()))?;
            match sign::verify(token, &pem) {
                Ok(d) => (d, true),
                Err(e) => {
                    println!("INVALID: {e}");
                    return Ok(ExitCode::from(1));
                }
            }
        }
        None => (sign::decode(token)?, false),
    };
    println!("header: {}", decoded.header_json);
    match &decoded.data {
        Some(data) => println!("data: {data}"),
        None => println!("payload: {}", decoded.payload_json),
    }
    if verified {
        println!(
            "VALID: signature verified with {}",
            args.cert.as_deref().unwrap_or(Path::new("")).display()
        );
    } else {
        println!("NOT VERIFIED: decoded only (give --cert FILE to check the signature)");
    }
    Ok(ExitCode::SUCCESS)
}

impl pipeline::Summary {
    /// The end-of-run summary for a person: accepted, rejected by code, duplicates, rate.
    pub fn one_screen(&self, out: &Path) -> String {
        let mut s = format!(
            "irp {}: {} invoices in {:.2}s ({:.0}/s, {:.1} MB/s){}\n  accepted (ACT): {}\n  rejected (ERR): {} (of which duplicates 2150: {})\n",
            match self.command {
                Mode::Register => "register",
                Mode::Check => "check",
            },
            self.counts.total,
            self.wall_seconds,
            self.invoices_per_second,
            self.megabytes_per_second,
            if self.resumed { " [resumed run]" } else { "" },
            self.counts.accepted,
            self.counts.rejected,
            self.counts.duplicates,
        );
        let mut codes: Vec<(&String, &u64)> = self.counts.by_error_code.iter().collect();
        codes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (code, n) in codes.iter().take(12) {
            s.push_str(&format!("    {code}: {n}\n"));
        }
        if codes.len() > 12 {
            s.push_str(&format!(
                "    ... {} more codes in summary.json\n",
                codes.len() - 12
            ));
        }
        for input in &self.inputs {
            for w in &input.warnings {
                s.push_str(&format!("  warning: {}: {w}\n", input.path));
            }
        }
        let dir = out.display().to_string();
        s.push_str(&format!(
            "  outputs: {}/{{status.csv,results.jsonl,summary.json}}",
            dir.trim_end_matches('/')
        ));
        s
    }
}
