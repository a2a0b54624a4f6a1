//! End-to-end tests of `irp register` and `irp check`: the real binary on real files, a real
//! RocksDB registry and real signatures.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{copy_dir, SmallDisk};

const NOW: &str = "2025-06-20 11:30:00";

fn irp() -> Command {
    Command::new(env!("CARGO_BIN_EXE_irp"))
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("spawn irp");
    if !out.status.success() {
        panic!(
            "irp failed: {:?}\nstdout: {}\nstderr: {}",
            cmd,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// A work folder with a config that points the signing key at the committed test key.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "[signing]\nkey = {:?}\ncert = {:?}\ngenerate_dev_key = false\n",
            data("keys/test-key.pem"),
            data("keys/test-cert.pem")
        );
        std::fs::write(dir.path().join("irp.toml"), config).unwrap();
        Work { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn gen(&self, name: &str, count: u64, seed: u64, invalid: f64) -> PathBuf {
        let path = self.path(name);
        run(irp()
            .args([
                "gen",
                "--count",
                &count.to_string(),
                "--seed",
                &seed.to_string(),
            ])
            .args([
                "--invalid-share",
                &invalid.to_string(),
                "--now",
                NOW,
                "--out",
            ])
            .arg(&path));
        path
    }

    fn cmd(&self, sub: &str, out: &str) -> Command {
        let mut c = irp();
        c.arg(sub)
            .arg("--quiet")
            .arg("--config")
            .arg(self.path("irp.toml"))
            .arg("--now")
            .arg(NOW)
            .arg("--out")
            .arg(self.path(out));
        if sub == "register" {
            c.arg("--db").arg(self.path("db"));
        }
        c
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }
}

fn statuses(csv: &str) -> Vec<(String, String)> {
    csv.lines()
        .skip(1)
        .map(|l| {
            let cols: Vec<&str> = l.split(',').collect();
            (
                cols[5].to_owned(),
                cols.get(9).copied().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn summary(work: &Work, out: &str) -> serde_json::Value {
    serde_json::from_str(&work.read(&format!("{out}/summary.json"))).unwrap()
}

#[test]
fn register_then_duplicates_in_a_new_run() {
    let w = Work::new();
    let input = w.gen("bulk.json", 300, 7, 0.0);
    run(w.cmd("register", "out1").arg(&input));
    let s = summary(&w, "out1");
    assert_eq!(s["total"], 300);
    assert_eq!(s["accepted"], 300, "{s}");
    let results = w.read("out1/results.jsonl");
    let first: serde_json::Value = serde_json::from_str(results.lines().next().unwrap()).unwrap();
    assert_eq!(first["Status"], "ACT");
    assert_eq!(first["AckNo"].as_u64().unwrap().to_string().len(), 15);
    assert!(first["SignedInvoice"].as_str().unwrap().split('.').count() == 3);

    // The same file again, as a new run: every invoice is 2150 with DUPIRN.
    std::fs::copy(&input, w.path("again.json")).unwrap();
    run(w.cmd("register", "out2").arg(w.path("again.json")));
    let s = summary(&w, "out2");
    assert_eq!(s["rejected"], 300);
    assert_eq!(s["by_error_code"]["2150"], 300);
    let dup: serde_json::Value =
        serde_json::from_str(w.read("out2/results.jsonl").lines().next().unwrap()).unwrap();
    assert_eq!(dup["Status"], 0);
    assert_eq!(dup["ErrorDetails"][0]["ErrorCode"], "2150");
    assert_eq!(dup["InfoDtls"][0]["InfCd"], "DUPIRN");
    assert_eq!(dup["InfoDtls"][0]["Desc"]["AckNo"], first["AckNo"]);
    assert_eq!(dup["InfoDtls"][0]["Desc"]["Irn"], first["Irn"]);
}

#[test]
fn check_writes_nothing_and_finds_in_run_duplicates() {
    let w = Work::new();
    let input = w.gen("bulk.json", 200, 11, 0.3);
    run(w.cmd("check", "chk").arg(&input).arg(&input));
    let s = summary(&w, "chk");
    assert_eq!(s["total"], 400);
    // The second copy duplicates every valid invoice of the first.
    let st = statuses(&w.read("chk/status.csv"));
    let valid_first = st[..200].iter().filter(|(s, _)| s == "ACT").count();
    assert!(valid_first > 100);
    assert!(st[200..].iter().filter(|(_, c)| c.contains("2150")).count() >= valid_first);
    assert!(!w.path("db").exists(), "check must not create a registry");
}

#[test]
fn register_then_check_against_registry() {
    let w = Work::new();
    let input = w.gen("bulk.json", 50, 3, 0.0);
    run(w.cmd("register", "reg").arg(&input));
    run(w
        .cmd("check", "chk")
        .arg("--db")
        .arg(w.path("db"))
        .arg(&input));
    let s = summary(&w, "chk");
    assert_eq!(s["by_error_code"]["2150"], 50);
}

#[test]
fn bad_records_do_not_stop_the_others() {
    let w = Work::new();
    let good = std::fs::read_to_string(w.gen("one.json", 3, 5, 0.0)).unwrap();
    let records: Vec<&str> = good
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(",\n")
        .map(str::trim)
        .collect();
    assert_eq!(records.len(), 3);
    let broken = format!(
        "[{},\n{{\"Version\":\"1.1\",\"TranDtls\":}},\n{},\n42,\n{}\n",
        records[0], records[1], records[2]
    );
    let path = w.path("broken.json");
    std::fs::write(&path, broken).unwrap();
    run(w.cmd("check", "chk").arg(&path));
    let st = statuses(&w.read("chk/status.csv"));
    assert_eq!(st.len(), 5, "{st:?}");
    assert_eq!(st[0].0, "ACT");
    assert_eq!(st[1], ("ERR".to_owned(), "2140".to_owned()));
    assert_eq!(st[2].0, "ACT");
    assert_eq!(st[3].1, "2140");
    // The last record is cut off by the end of the file (no closing bracket needed).
    assert_eq!(st[4].0, "ACT");
    let s = summary(&w, "chk");
    assert!(s["inputs"][0]["warnings"][0]
        .as_str()
        .unwrap()
        .contains("closing ']'"));
}

#[test]
fn hostile_inputs_get_clear_results() {
    let w = Work::new();
    let cases: Vec<(&str, Vec<u8>, usize)> = vec![
        ("empty.json", Vec::new(), 0),
        ("notjson.json", b"this is not json".to_vec(), 1),
        (
            "truncated.json",
            b"[{\"Version\":\"1.1\",\"TranDtls\":{\"TaxSch\":\"G".to_vec(),
            1,
        ),
        ("utf8.json", b"[{\"Version\":\"\xff\xfe\"}]".to_vec(), 1),
        (
            "deep.json",
            format!("[{}{}]", "[".repeat(200_000), "]".repeat(200_000)).into_bytes(),
            1,
        ),
        (
            "huge.json",
            format!("[{{\"Version\":\"{}\"}}]", "x".repeat(50 << 20)).into_bytes(),
            1,
        ),
    ];
    for (name, bytes, n) in cases {
        let path = w.path(name);
        std::fs::write(&path, bytes).unwrap();
        let out = format!("out-{name}");
        run(w.cmd("check", &out).arg(&path));
        let st = statuses(&w.read(&format!("{out}/status.csv")));
        assert_eq!(st.len(), n, "{name}");
        // A record above max_record_bytes is NIC's 5002 (request body too large).
        let code = if name == "huge.json" { "5002" } else { "2140" };
        for (status, codes) in st {
            assert_eq!(status, "ERR", "{name}");
            assert_eq!(codes, code, "{name}");
        }
    }
}

#[test]
fn fatal_errors_name_the_file_and_exit_2() {
    let w = Work::new();
    let out = w
        .cmd("check", "x")
        .arg(w.path("missing.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.json"));

    // A configuration with an unknown key is a fatal error naming the file and the key.
    let input = w.gen("bulk.json", 5, 1, 0.0);
    let bad_cfg = w.path("bad.toml");
    std::fs::write(&bad_cfg, "[rules]\nnot_a_key = 1\n").unwrap();
    let out = irp()
        .args(["check", "--quiet", "--config"])
        .arg(&bad_cfg)
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("not_a_key"),
        "{err}"
    );
}

/// Spawns `register` on a large input, kills it mid-run, runs the same command again and
/// compares every output with an uninterrupted run of the same input on a fresh registry.
#[test]
fn kill_9_then_rerun_equals_uninterrupted_run() {
    let w = Work::new();
    let input = w.gen("big.json", 20000, 21, 0.1);

    // Reference: an uninterrupted run in its own folder.
    let reference = Work::new();
    std::fs::copy(&input, reference.path("big.json")).unwrap();
    run(reference
        .cmd("register", "out")
        .arg(reference.path("big.json"))
        .args(["--batch-size", "256"]));
    // Kill points by progress, not by time (a loaded machine must not let a run finish first):
    // when the results report has reached 10%, 40% and 70% of its full size. A line is
    // written only after its batch is committed, so each kill comes after some commits. The
    // results file (signed lines, tens of MB) grows in steps far below 10% of it, though its
    // writer buffers a MiB.
    let full_size = std::fs::metadata(reference.path("out/results.jsonl"))
        .unwrap()
        .len();
    let partial = w.path("out/results.jsonl.partial");

    let mut killed = 0;
    for share in [0.1, 0.4, 0.7] {
        let threshold = (full_size as f64 * share) as u64;
        // The last attempt's report must not count for this one.
        let _ = std::fs::remove_file(&partial);
        let mut child = w
            .cmd("register", "out")
            .arg(&input)
            .args(["--batch-size", "256"])
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            let size = std::fs::metadata(&partial).map_or(0, |m| m.len());
            if size >= threshold || started.elapsed() > std::time::Duration::from_secs(120) {
                child.kill().unwrap(); // SIGKILL
                killed += 1;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        child.wait().unwrap();
    }
    // Every attempt was killed before it finished, and some registrations were committed.
    assert_eq!(killed, 3);
    assert!(!w.path("out/summary.json").exists());
    run(w
        .cmd("register", "out")
        .arg(&input)
        .args(["--batch-size", "256"]));
    assert_eq!(w.read("out/status.csv"), reference.read("out/status.csv"));
    assert_eq!(
        w.read("out/results.jsonl"),
        reference.read("out/results.jsonl")
    );
    let s = summary(&w, "out");
    let r = summary(&reference, "out");
    assert_eq!(s["by_error_code"], r["by_error_code"]);
    assert_eq!(s["accepted"], r["accepted"]);
    assert_eq!(s["resumed"], true);
    assert_eq!(r["resumed"], false);
}

/// A full disk, under the registry and then under the outputs: the run stops with exit 2 and
/// a message naming the file, and once there is room the same command finishes the run with
/// exactly the outputs of an uninterrupted one (the registry was left consistent).
#[test]
fn full_disk_stops_naming_the_file_and_the_same_command_finishes() {
    let reference = Work::new();
    let input = reference.gen("in.json", 3000, 5, 0.1);
    run(reference.cmd("register", "out").arg(&input));
    let expected_status = reference.read("out/status.csv");
    let expected_results = reference.read("out/results.jsonl");

    // A fresh work folder holding the input, and what a run in it prints when `full` fills.
    let fresh = || {
        let w = Work::new();
        std::fs::copy(&input, w.path("in.json")).unwrap();
        w
    };
    let stopped = |w: &Work, full: &str| {
        let out = w
            .cmd("register", "out")
            .arg(w.path("in.json"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(err.contains("No space left on device"), "{err}");
        assert!(err.contains(&w.path(full).display().to_string()), "{err}");
        assert!(err.contains("run the same command again"), "{err}");
    };
    // Rerun with room again: the outputs of the uninterrupted run.
    let finishes = |w: &Work| {
        run(w.cmd("register", "out").arg(w.path("in.json")));
        assert_eq!(w.read("out/status.csv"), expected_status);
        assert_eq!(w.read("out/results.jsonl"), expected_results);
        assert_eq!(summary(w, "out")["resumed"], true);
    };

    // The registry's disk: full at the first commit (a batch's write-ahead log is megabytes).
    let w = fresh();
    let Some(disk) = SmallDisk::mount(&w.path("db"), "1m") else {
        eprintln!("skipped: cannot mount a tmpfs on this machine");
        return;
    };
    stopped(&w, "db");
    // The same registry files, on a disk with space.
    copy_dir(&w.path("db"), &w.path("db-saved"));
    drop(disk);
    std::fs::remove_dir_all(w.path("db")).unwrap();
    std::fs::rename(w.path("db-saved"), w.path("db")).unwrap();
    finishes(&w);

    // The outputs' disk: registrations are committed, then the report cannot be written.
    let w = fresh();
    let disk = SmallDisk::mount(&w.path("out"), "256k").expect("mounted once already");
    stopped(&w, "out");
    drop(disk);
    finishes(&w);
}

#[test]
fn golden_register_output() {
    let w = Work::new();
    let input = data("golden/sample_input.json");
    run(w.cmd("register", "out").arg(&input));
    for name in ["status.csv", "results.jsonl"] {
        let got = w.read(&format!("out/{name}"));
        let golden = data(&format!("golden/{name}"));
        if std::env::var_os("IRP_BLESS").is_some() {
            std::fs::write(&golden, &got).unwrap();
        }
        let expected = std::fs::read_to_string(&golden).unwrap();
        assert_eq!(
            got, expected,
            "{name} differs from the golden file (IRP_BLESS=1 to update)"
        );
    }
}

/// Asserts that each needle occurs in `text`, in the given order.
fn assert_in_order(text: &str, needles: &[&str]) {
    let mut from = 0;
    for needle in needles {
        let at = text[from..]
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} not in order in {text}"));
        from += at + needle.len();
    }
}

fn first_success(w: &Work, out: &str) -> serde_json::Value {
    w.read(&format!("{out}/results.jsonl"))
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["Status"] == "ACT")
        .expect("an accepted invoice")
}

#[test]
fn signed_invoice_verifies_with_the_certificate_only() {
    let w = Work::new();
    let input = w.gen("bulk.json", 5, 9, 0.0);
    run(w.cmd("register", "out").arg(&input));
    let ok = first_success(&w, "out");
    let jws = ok["SignedInvoice"].as_str().unwrap();
    let cert = data("keys/test-cert.pem");

    // irp verify accepts it and shows the embedded invoice, which starts with AckNo, AckDt, Irn.
    let out = irp()
        .args(["verify", "--cert"])
        .arg(&cert)
        .arg(jws)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\"alg\":\"RS256\"") && text.contains("VALID"),
        "{text}"
    );
    let data_line = text.lines().find(|l| l.starts_with("data: ")).unwrap();
    let embedded: serde_json::Value = serde_json::from_str(&data_line[6..]).unwrap();
    assert_eq!(embedded["AckNo"], ok["AckNo"]);
    assert_eq!(embedded["Irn"], ok["Irn"]);
    assert_in_order(
        &data_line[6..],
        &["{\"AckNo\":", "\"AckDt\":", "\"Irn\":", "\"Version\":"],
    );
    assert_eq!(embedded["ItemList"][0]["ItemNo"], 0);

    // A tampered payload byte is refused.
    let parts: Vec<&str> = jws.split('.').collect();
    let mut payload = parts[1].as_bytes().to_vec();
    payload[10] = if payload[10] == b'A' { b'B' } else { b'A' };
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        String::from_utf8(payload).unwrap(),
        parts[2]
    );
    let out = irp()
        .args(["verify", "--cert"])
        .arg(&cert)
        .arg(&tampered)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));

    // Without a certificate it only decodes, and says so.
    let out = irp()
        .args(["verify"])
        .arg(ok["SignedQRCode"].as_str().unwrap())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("NOT VERIFIED"), "{text}");
    let qr_line = text.lines().find(|l| l.starts_with("data: ")).unwrap();
    let qr: serde_json::Value = serde_json::from_str(&qr_line[6..]).unwrap();
    let names = [
        "SellerGstin",
        "BuyerGstin",
        "DocNo",
        "DocTyp",
        "DocDt",
        "TotInvVal",
        "ItemCnt",
        "MainHsnCode",
        "Irn",
        "IrnDt",
    ];
    assert_eq!(qr.as_object().unwrap().len(), names.len());
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\":")).collect();
    assert_in_order(
        &qr_line[6..],
        &quoted.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(qr["IrnDt"], ok["AckDt"]);

    // An independent verifier: the openssl command line with only the certificate.
    if Command::new("openssl").arg("version").output().is_ok() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let pubkey = Command::new("openssl")
            .args(["x509", "-pubkey", "-noout", "-in"])
            .arg(&cert)
            .output()
            .unwrap();
        std::fs::write(w.path("pub.pem"), &pubkey.stdout).unwrap();
        std::fs::write(w.path("sig.bin"), b64.decode(parts[2]).unwrap()).unwrap();
        let openssl_verifies = |signing_input: String| {
            std::fs::write(w.path("input.txt"), signing_input).unwrap();
            Command::new("openssl")
                .args(["dgst", "-sha256", "-verify"])
                .arg(w.path("pub.pem"))
                .arg("-signature")
                .arg(w.path("sig.bin"))
                .arg(w.path("input.txt"))
                .output()
                .unwrap()
                .status
                .success()
        };
        assert!(openssl_verifies(format!("{}.{}", parts[0], parts[1])));
        let tampered_payload = tampered.split('.').nth(1).unwrap();
        assert!(!openssl_verifies(format!(
            "{}.{}",
            parts[0], tampered_payload
        )));
    }
}

#[test]
fn qr_png_decodes_back_to_the_signed_qr_code() {
    let w = Work::new();
    let input = w.gen("bulk.json", 3, 13, 0.0);
    run(w.cmd("register", "out").arg(&input).args(["--qr", "png"]));
    let ok = first_success(&w, "out");
    let irn = ok["Irn"].as_str().unwrap();
    let png = image::open(w.path(&format!("out/qr/{irn}.png")))
        .unwrap()
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(png);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_, content) = grids[0].decode().unwrap();
    assert_eq!(content, ok["SignedQRCode"].as_str().unwrap());
}

#[test]
fn directory_input_in_name_order_with_per_file_counts() {
    let w = Work::new();
    std::fs::create_dir(w.path("inbox")).unwrap();
    let b = w.gen("inbox/b.json", 4, 31, 0.0);
    let a = w.gen("inbox/a.json", 6, 32, 0.0);
    assert!(a.exists() && b.exists());
    run(w.cmd("check", "out").arg(w.path("inbox")));
    let s = summary(&w, "out");
    assert_eq!(s["total"], 10);
    assert!(s["inputs"][0]["path"].as_str().unwrap().ends_with("a.json"));
    assert_eq!(s["inputs"][0]["records"], 6);
    assert_eq!(s["inputs"][1]["records"], 4);
}

/// A mapped file, the same file read with read(2), and the same bytes piped on standard input
/// give byte-identical reports. The input spans several of the reader's 1 MiB pieces, and tiny
/// batches make the reader release mapped pages while later records are still being framed.
/// (A release too early would not change any output: released pages read back from the page
/// cache. The release rule has its own unit test.)
#[test]
fn mapped_read_and_piped_inputs_agree() {
    let w = Work::new();
    let good = std::fs::read_to_string(w.gen("mixed.json", 600, 9, 0.2)).unwrap();
    assert!(good.len() > 1 << 20, "{} bytes", good.len());
    // Append a malformed record and a cut-off one to the array.
    let body = good.trim_end().trim_end_matches(']');
    let input = format!("{body},\n{{\"Version\":\"1.1\",\"TranDtls\":}},\n{{\"Version\":\"1.");
    let path = w.path("input.json");
    std::fs::write(&path, &input).unwrap();
    let base = w.read("irp.toml");
    for (name, mmap) in [("map.toml", true), ("read.toml", false)] {
        let extra =
            format!("[pipeline]\nmmap = {mmap}\nbatch_size = 16\nchannel_capacity_batches = 1\n");
        std::fs::write(w.path(name), format!("{extra}{base}")).unwrap();
    }
    let mut reports = Vec::new();
    for (out, config, stdin) in [
        ("o-map", "map.toml", false),
        ("o-read", "read.toml", false),
        ("o-pipe", "map.toml", true),
    ] {
        let mut cmd = irp();
        cmd.args(["check", "--quiet", "--now", NOW, "--config"])
            .arg(w.path(config))
            .arg("--out")
            .arg(w.path(out));
        if stdin {
            cmd.arg("-").stdin(std::fs::File::open(&path).unwrap());
        } else {
            cmd.arg(&path);
        }
        run(&mut cmd);
        reports.push((
            w.read(&format!("{out}/status.csv")),
            w.read(&format!("{out}/results.jsonl")),
        ));
    }
    let st = statuses(&reports[0].0);
    assert_eq!(st.len(), 602);
    assert!(st.iter().filter(|s| s.0 == "ERR").count() > 60, "{st:?}");
    assert_eq!(st[600], ("ERR".to_owned(), "2140".to_owned()));
    assert_eq!(st[601], ("ERR".to_owned(), "2140".to_owned()));
    assert_eq!(reports[0], reports[1], "mapped vs read(2)");
    assert_eq!(reports[0], reports[2], "mapped vs standard input");
}

#[test]
fn doc_numbers_are_hashed_as_sent_before_june_2025_and_upper_cased_after() {
    use sha2::{Digest, Sha256};
    let w = Work::new();
    let early = "2025-05-15 10:00:00";
    let generated = w.gen("gen.json", 1, 5, 0.0);
    let mut invs: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(generated).unwrap()).unwrap();
    invs[0]["DocDtls"]["No"] = serde_json::json!("ab/1");
    invs[0]["DocDtls"]["Dt"] = serde_json::json!("10/05/2025");
    std::fs::write(w.path("lower.json"), serde_json::to_string(&invs).unwrap()).unwrap();
    let seller = invs[0]["SellerDtls"]["Gstin"].as_str().unwrap();
    let typ = invs[0]["DocDtls"]["Typ"].as_str().unwrap();
    for (now, hashed) in [(early, "ab/1"), (NOW, "AB/1")] {
        let out = format!("out-{}", &now[..10]);
        run(irp()
            .args(["check", "--quiet", "--config"])
            .arg(w.path("irp.toml"))
            .args(["--now", now, "--out"])
            .arg(w.path(&out))
            .arg(w.path("lower.json")));
        let status = w.read(&format!("{out}/status.csv"));
        let cols: Vec<&str> = status.lines().nth(1).unwrap().split(',').collect();
        assert_eq!(cols[5], "ACT", "{status}");
        let digest = Sha256::digest(format!("{seller}2025-26{typ}{hashed}"));
        let expected: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(cols[6], expected, "at {now} the IRN hashes {hashed}");
    }
    // Registered before the switch (as sent), the same number after it is the same document:
    // 2150, pointing at the registration under the as-sent IRN.
    run(irp()
        .args(["register", "--quiet", "--config"])
        .arg(w.path("irp.toml"))
        .args(["--now", early, "--db"])
        .arg(w.path("db"))
        .arg("--out")
        .arg(w.path("reg-early"))
        .arg(w.path("lower.json")));
    let early_irn = w
        .read("reg-early/status.csv")
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(6)
        .unwrap()
        .to_owned();
    run(w.cmd("register", "reg-late").arg(w.path("lower.json")));
    let st = statuses(&w.read("reg-late/status.csv"));
    assert_eq!(st, [("ERR".to_owned(), "2150".to_owned())]);
    let line = w.read("reg-late/results.jsonl");
    let dup: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(
        dup["InfoDtls"][0]["Desc"]["Irn"],
        early_irn.as_str(),
        "{line}"
    );
    // A lookup by document details finds it on either side of the switch.
    for now in [early, NOW] {
        let out = run(irp()
            .args(["get", "--config"])
            .arg(w.path("irp.toml"))
            .args(["--now", now, "--db"])
            .arg(w.path("db"))
            .args([
                "--doc-type",
                typ,
                "--doc-no",
                "ab/1",
                "--doc-date",
                "10/05/2025",
            ])
            .args(["--gstin", seller]));
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(got["Irn"], early_irn.as_str(), "get at {now}");
    }
}

/// An invoice whose EwbDtls cannot make an e-way bill is registered, and its response carries
/// NIC's InfoDtls EWBERR; `check` says the same, and a later run still calls it a duplicate.
#[test]
fn ewb_errors_ride_on_the_registered_irn() {
    let w = Work::new();
    let generated = w.gen("gen.json", 2, 8, 0.0);
    let mut invs: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(generated).unwrap()).unwrap();
    invs[0]["EwbDtls"] = serde_json::json!({"Distance": 0});
    std::fs::write(w.path("ewb.json"), serde_json::to_string(&invs).unwrap()).unwrap();
    let lines = |out: &str| -> Vec<serde_json::Value> {
        w.read(&format!("{out}/results.jsonl"))
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let ewberr = serde_json::json!([{"InfCd": "EWBERR", "Desc": [{"ErrorCode": "4019",
        "ErrorMessage": "Provide Transporter ID in order to generate Part A of e-Way Bill"}]}]);
    for sub in ["check", "register"] {
        run(w.cmd(sub, sub).arg(w.path("ewb.json")));
        let got = lines(sub);
        assert_eq!(got[0]["Status"], "ACT", "{sub}: {}", got[0]);
        assert_eq!(got[0]["EwbNo"], serde_json::Value::Null);
        assert_eq!(got[0]["InfoDtls"], ewberr, "{sub}");
        assert_eq!(got[1]["Status"], "ACT", "{sub}: {}", got[1]);
        assert!(got[1].get("InfoDtls").is_none(), "{sub}: {}", got[1]);
    }
    run(w.cmd("register", "again").arg(w.path("ewb.json")));
    assert_eq!(lines("again")[0]["ErrorDetails"][0]["ErrorCode"], "2150");
}
