//! Signing of IRP outputs as compact JWS, byte-compatible with NIC's shape.
//!
//! NIC signs both the `SignedInvoice` and the `SignedQRCode` with RS256
//! (RSASSA-PKCS1-v1_5, SHA-256, RSA-2048) under the protected header
//! `{"alg":"RS256","kid":"<SHA-1 thumbprint, upper hex>","typ":"JWT",
//! "x5t":"<same 20 bytes, base64url>"}` and the payload
//! `{"data":"<invoice JSON as a string>","iss":"NIC"}`.
//! [`Signer`] reproduces that byte for byte (key order, compact JSON, no
//! base64 padding); [`verify`] checks such tokens against a certificate.
//!
//! The key pair is parsed once and the header is encoded once, so a
//! signature costs one payload escape, one RSA operation and two base64
//! encodes. Key material is never logged or formatted.

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair, UnparsedPublicKey,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use x509_parser::oid_registry::{
    Oid, OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION, OID_SIG_ED25519,
};
use x509_parser::pem::Pem;

/// File name written by [`keygen`] for the private key.
pub const KEY_FILE: &str = "irp-signing-key.pem";
/// File name written by [`keygen`] for the self-signed certificate.
pub const CERT_FILE: &str = "irp-signing-cert.pem";

/// Decoder that accepts base64url with or without `=` padding, since
/// tokens pasted by hand from other tools sometimes carry it.
const B64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Errors from loading keys, signing, decoding and verifying.
#[derive(thiserror::Error, Debug)]
pub enum SignError {
    /// The private key file could not be read.
    #[error("cannot read private key {}: {source}", path.display())]
    KeyRead {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The private key file is not a usable key for the chosen algorithm.
    #[error("cannot parse private key {}: {reason}", path.display())]
    KeyParse { path: PathBuf, reason: String },
    /// The certificate file could not be read.
    #[error("cannot read certificate {}: {source}", path.display())]
    CertRead {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The certificate file is not a PEM X.509 certificate of the right kind.
    #[error("cannot parse certificate {}: {reason}", path.display())]
    CertParse { path: PathBuf, reason: String },
    /// The private key is not the one certified by the certificate.
    #[error(
        "private key {} does not match the public key of certificate {}",
        key.display(),
        cert.display()
    )]
    KeyCertMismatch { key: PathBuf, cert: PathBuf },
    /// [`keygen`] found a file it would otherwise overwrite.
    #[error("refusing to overwrite existing file {}", path.display())]
    Exists { path: PathBuf },
    /// [`keygen`] could not create or write an output file.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A cryptographic primitive failed (key generation, signing).
    #[error("crypto failure: {0}")]
    Crypto(String),
    /// A token is well formed but does not verify against the certificate.
    #[error("verification failed: {0}")]
    Verify(String),
    /// A token (or an in-memory certificate) is not well formed.
    #[error("malformed input: {0}")]
    Malformed(String),
}

/// JWS signature algorithm.
///
/// NIC signs with RS256 only, so only [`Algorithm::Rs256`] produces tokens
/// that NIC-compatible verifiers accept. ES256 and EdDSA are NOT
/// NIC-compatible; they are offered for operators who do not need NIC
/// compatibility and want smaller, faster signatures (and smaller QR codes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 over an RSA-2048 key (NIC's choice).
    #[default]
    Rs256,
    /// ECDSA over P-256 with SHA-256 (not NIC-compatible).
    Es256,
    /// Ed25519 (not NIC-compatible).
    EdDsa,
}

impl Algorithm {
    /// The JOSE `alg` name as written in the header.
    pub fn jose_name(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Es256 => "ES256",
            Algorithm::EdDsa => "EdDSA",
        }
    }

    fn from_jose_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Algorithm::Rs256),
            "ES256" => Some(Algorithm::Es256),
            "EdDSA" => Some(Algorithm::EdDsa),
            _ => None,
        }
    }
}

impl FromStr for Algorithm {
    type Err = SignError;

    /// Accepts the config spellings `rs256`, `es256`, `eddsa` (any case).
    fn from_str(s: &str) -> Result<Self, SignError> {
        match s.to_ascii_lowercase().as_str() {
            "rs256" => Ok(Algorithm::Rs256),
            "es256" => Ok(Algorithm::Es256),
            "eddsa" => Ok(Algorithm::EdDsa),
            _ => Err(SignError::Malformed(format!(
                "unknown signing algorithm {s:?} (expected rs256, es256 or eddsa)"
            ))),
        }
    }
}

/// A parsed private key; each variant is `Send + Sync` in aws-lc-rs.
enum Key {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// Signs payloads as compact JWS with a fixed key, certificate and issuer.
///
/// Cheap to share by reference or `Arc` across threads: signing takes
/// `&self` and touches no shared mutable state.
pub struct Signer {
    key: Key,
    alg: Algorithm,
    /// Random source for ECDSA; RSA PKCS#1 v1.5 and Ed25519 ignore it.
    rng: SystemRandom,
    /// `base64url(header)`, computed once.
    header_b64: String,
    /// `,"iss":"<iss>"}` with `iss` JSON-escaped, computed once.
    iss_tail: String,
    kid: String,
    x5t: String,
}

impl std::fmt::Debug for Signer {
    /// Shows identifiers only, never key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// What verification and key matching need from a certificate.
struct CertInfo {
    /// SHA-1 of the certificate DER: the source of `kid` and `x5t`.
    thumbprint: [u8; 20],
    key_alg: Oid<'static>,
    /// Curve OID for EC keys.
    curve: Option<Oid<'static>>,
    /// Contents of the SPKI BIT STRING: PKCS#1 `RSAPublicKey` DER for RSA,
    /// the uncompressed point for EC, 32 raw bytes for Ed25519.
    public_key: Vec<u8>,
}

impl CertInfo {
    /// Parses the first `CERTIFICATE` block of a PEM buffer.
    fn from_pem(pem: &[u8]) -> Result<CertInfo, String> {
        let der = Pem::iter_from_buffer(pem)
            .filter_map(Result::ok)
            .find(|p| p.label == "CERTIFICATE")
            .ok_or_else(|| "no PEM CERTIFICATE block found".to_string())?
            .contents;
        let (_, cert) = x509_parser::parse_x509_certificate(&der)
            .map_err(|e| format!("invalid X.509 DER: {e}"))?;
        let spki = cert.public_key();
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .map(|o| o.to_owned());
        let mut thumbprint = [0u8; 20];
        thumbprint
            .copy_from_slice(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &der).as_ref());
        Ok(CertInfo {
            thumbprint,
            key_alg: spki.algorithm.algorithm.to_owned(),
            curve,
            public_key: spki.subject_public_key.data.to_vec(),
        })
    }

    /// Explains why this certificate's key cannot be used with `alg`.
    fn check_alg(&self, alg: Algorithm) -> Result<(), String> {
        let ok = match alg {
            Algorithm::Rs256 => self.key_alg == OID_PKCS1_RSAENCRYPTION,
            Algorithm::Es256 => {
                self.key_alg == OID_KEY_TYPE_EC_PUBLIC_KEY
                    && self.curve.as_ref() == Some(&OID_EC_P256)
            }
            Algorithm::EdDsa => self.key_alg == OID_SIG_ED25519,
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "certificate key (algorithm {}) is not usable with {}",
                self.key_alg,
                alg.jose_name()
            ))
        }
    }
}

/// Upper-case hex, as NIC writes `kid`.
fn upper_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02X}");
    }
    s
}

/// Converts a hex `kid` (SHA-1 thumbprint) to the matching `x5t`, e.g. to
/// check a published NIC certificate against a token header.
pub fn x5t_from_kid(kid: &str) -> Result<String, SignError> {
    let kid = kid.trim();
    if kid.len() != 40 || !kid.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SignError::Malformed(format!(
            "kid {kid:?} is not 40 hex digits"
        )));
    }
    let bytes: Vec<u8> = (0..20)
        .map(|i| u8::from_str_radix(&kid[2 * i..2 * i + 2], 16))
        .collect::<Result<_, _>>()
        .map_err(|e| SignError::Malformed(format!("kid {kid:?}: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Finds the first private-key PEM block and returns its label and DER.
fn read_key_pem(pem: &[u8]) -> Result<(String, Vec<u8>), String> {
    let block = Pem::iter_from_buffer(pem)
        .filter_map(Result::ok)
        .find(|p| p.label.ends_with("PRIVATE KEY"))
        .ok_or_else(|| "no PEM PRIVATE KEY block found".to_string())?;
    if block.label == "ENCRYPTED PRIVATE KEY" {
        return Err("encrypted private keys are not supported; decrypt it first".into());
    }
    Ok((block.label, block.contents))
}

/// Parses a private key DER for `alg`; `label` selects PKCS#1/SEC1 forms.
fn parse_key(alg: Algorithm, label: &str, der: &[u8]) -> Result<Key, String> {
    let reject = |e: aws_lc_rs::error::KeyRejected| {
        format!("not a valid {} private key ({e})", alg.jose_name())
    };
    match (alg, label) {
        (Algorithm::Rs256, "PRIVATE KEY") => RsaKeyPair::from_pkcs8(der).map(Key::Rsa),
        (Algorithm::Rs256, "RSA PRIVATE KEY") => RsaKeyPair::from_der(der).map(Key::Rsa),
        (Algorithm::Es256, "PRIVATE KEY" | "EC PRIVATE KEY") => {
            EcdsaKeyPair::from_private_key_der(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                .map(Key::Ec)
        }
        (Algorithm::EdDsa, "PRIVATE KEY") => Ed25519KeyPair::from_pkcs8(der).map(Key::Ed),
        _ => {
            return Err(format!(
                "PEM label {label:?} is not a supported key form for {}",
                alg.jose_name()
            ))
        }
    }
    .map_err(reject)
}

impl Key {
    fn public_key(&self) -> &[u8] {
        match self {
            Key::Rsa(k) => k.public_key().as_ref(),
            Key::Ec(k) => k.public_key().as_ref(),
            Key::Ed(k) => k.public_key().as_ref(),
        }
    }
}

impl Signer {
    /// Loads a PEM private key and PEM certificate and prepares the header.
    ///
    /// The key may be PKCS#8 (`PRIVATE KEY`) for every algorithm, PKCS#1
    /// (`RSA PRIVATE KEY`) for RS256 or SEC1 (`EC PRIVATE KEY`) for ES256.
    /// Fails if the key is not the one in the certificate, because tokens
    /// whose `kid` names a different key would never verify.
    pub fn from_pem_files(
        key: &Path,
        cert: &Path,
        alg: Algorithm,
        iss: &str,
    ) -> Result<Signer, SignError> {
        let key_pem = fs::read(key).map_err(|source| SignError::KeyRead {
            path: key.to_path_buf(),
            source,
        })?;
        let cert_pem = fs::read(cert).map_err(|source| SignError::CertRead {
            path: cert.to_path_buf(),
            source,
        })?;
        let key_err = |reason: String| SignError::KeyParse {
            path: key.to_path_buf(),
            reason,
        };
        let (label, der) = read_key_pem(&key_pem).map_err(key_err)?;
        let parsed = parse_key(alg, &label, &der).map_err(key_err)?;
        let info = CertInfo::from_pem(&cert_pem)
            .and_then(|i| i.check_alg(alg).map(|()| i))
            .map_err(|reason| SignError::CertParse {
                path: cert.to_path_buf(),
                reason,
            })?;
        if parsed.public_key() != info.public_key.as_slice() {
            return Err(SignError::KeyCertMismatch {
                key: key.to_path_buf(),
                cert: cert.to_path_buf(),
            });
        }
        Ok(Signer::new(parsed, alg, &info.thumbprint, iss))
    }

    fn new(key: Key, alg: Algorithm, thumbprint: &[u8; 20], iss: &str) -> Signer {
        let kid = upper_hex(thumbprint);
        let x5t = URL_SAFE_NO_PAD.encode(thumbprint);
        let header = format!(
            r#"{{"alg":"{}","kid":"{kid}","typ":"JWT","x5t":"{x5t}"}}"#,
            alg.jose_name()
        );
        // Serialising a &str to JSON cannot fail.
        let iss_json = serde_json::to_string(iss).unwrap_or_default();
        Signer {
            key,
            alg,
            rng: SystemRandom::new(),
            header_b64: URL_SAFE_NO_PAD.encode(header),
            iss_tail: format!(r#","iss":{iss_json}}}"#),
            kid,
            x5t,
        }
    }

    /// Signs `data_json` as the `data` string of `{"data":…,"iss":…}` and
    /// returns the compact JWS. RS256 output is deterministic.
    pub fn sign_data(&self, data_json: &str) -> Result<String, SignError> {
        // Escaping grows the text by a few percent for typical invoices.
        let mut payload = Vec::with_capacity(data_json.len() + data_json.len() / 8 + 64);
        payload.extend_from_slice(br#"{"data":"#);
        serde_json::to_writer(&mut payload, data_json)
            .map_err(|e| SignError::Malformed(format!("cannot escape data: {e}")))?;
        payload.extend_from_slice(self.iss_tail.as_bytes());

        let sig_len = match &self.key {
            Key::Rsa(k) => k.public_modulus_len(),
            // ES256 (r || s) and Ed25519 signatures are both 64 bytes.
            Key::Ec(_) | Key::Ed(_) => 64,
        };
        let b64_len = |n: usize| n.div_ceil(3) * 4;
        let mut out = String::with_capacity(
            self.header_b64.len() + b64_len(payload.len()) + b64_len(sig_len) + 2,
        );
        out.push_str(&self.header_b64);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut out);

        let crypto = |what: &str| SignError::Crypto(format!("{} {what}", self.alg.jose_name()));
        match &self.key {
            Key::Rsa(k) => {
                let mut sig = vec![0u8; sig_len];
                k.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &self.rng,
                    out.as_bytes(),
                    &mut sig,
                )
                .map_err(|_| crypto("signing failed"))?;
                out.push('.');
                URL_SAFE_NO_PAD.encode_string(&sig, &mut out);
            }
            Key::Ec(k) => {
                let sig = k
                    .sign(&self.rng, out.as_bytes())
                    .map_err(|_| crypto("signing failed"))?;
                out.push('.');
                URL_SAFE_NO_PAD.encode_string(sig.as_ref(), &mut out);
            }
            Key::Ed(k) => {
                let sig = k.sign(out.as_bytes());
                out.push('.');
                URL_SAFE_NO_PAD.encode_string(sig.as_ref(), &mut out);
            }
        }
        Ok(out)
    }

    /// Upper-case hex SHA-1 thumbprint of the certificate (header `kid`).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Base64url of the same thumbprint (header `x5t`).
    pub fn x5t(&self) -> &str {
        &self.x5t
    }

    /// The algorithm this signer produces.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

/// Converts days since 1970-01-01 to a (year, month, day) civil date.
///
/// Howard Hinnant's `civil_from_days`; avoids a date-library dependency
/// just to stamp a certificate.
fn civil_from_days(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // Ranges are guaranteed by the algorithm for any realistic clock.
    (y as i32, m as u8, d as u8)
}

/// Generates a key pair and self-signed certificate in `out_dir`.
///
/// Writes [`KEY_FILE`] (PKCS#8 PEM, mode 0600 on unix) and [`CERT_FILE`]
/// (valid from today for ten years) and returns their paths. Refuses to
/// overwrite either file, so an operator cannot lose a key by accident.
pub fn keygen(
    out_dir: &Path,
    common_name: &str,
    alg: Algorithm,
) -> Result<(PathBuf, PathBuf), SignError> {
    let key_path = out_dir.join(KEY_FILE);
    let cert_path = out_dir.join(CERT_FILE);
    for p in [&key_path, &cert_path] {
        if p.exists() {
            return Err(SignError::Exists { path: p.clone() });
        }
    }
    let crypto = |what: &str| SignError::Crypto(format!("{} {what}", alg.jose_name()));
    let pkcs8: Vec<u8> = match alg {
        Algorithm::Rs256 => signature::RsaKeyPair::generate(KeySize::Rsa2048)
            .and_then(|k| k.as_der())
            .map(|d| d.as_ref().to_vec()),
        Algorithm::Es256 => EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
            .and_then(|k| k.to_pkcs8v1())
            .map(|d| d.as_ref().to_vec()),
        Algorithm::EdDsa => Ed25519KeyPair::generate()
            .and_then(|k| k.to_pkcs8v1())
            .map(|d| d.as_ref().to_vec()),
    }
    .map_err(|_| crypto("key generation failed"))?;
    let rcgen_alg = match alg {
        Algorithm::Rs256 => &rcgen::PKCS_RSA_SHA256,
        Algorithm::Es256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        Algorithm::EdDsa => &rcgen::PKCS_ED25519,
    };
    let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8.into(), rcgen_alg)
        .map_err(|e| crypto(&format!("key import failed: {e}")))?;

    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
        .map_err(|e| crypto(&format!("certificate parameters rejected: {e}")))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| crypto(&format!("system clock before 1970: {e}")))?;
    let (y, m, d) = civil_from_days((now.as_secs() / 86_400) as i64);
    // 29 February has no counterpart ten years later in most cases.
    let d_end = if m == 2 && d == 29 { 28 } else { d };
    params.not_before = rcgen::date_time_ymd(y, m, d);
    params.not_after = rcgen::date_time_ymd(y + 10, m, d_end);
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    let cert = params
        .self_signed(&key_pair)
        .map_err(|e| crypto(&format!("self-signing failed: {e}")))?;

    fs::create_dir_all(out_dir).map_err(|source| SignError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;
    write_new(&key_path, key_pair.serialize_pem().as_bytes(), true)?;
    write_new(&cert_path, cert.pem().as_bytes(), false)?;
    Ok((key_path, cert_path))
}

/// Creates `path` exclusively (never overwriting) and writes `bytes`.
fn write_new(path: &Path, bytes: &[u8], secret: bool) -> Result<(), SignError> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut f = opts.open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            SignError::Exists {
                path: path.to_path_buf(),
            }
        } else {
            SignError::Write {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|source| SignError::Write {
            path: path.to_path_buf(),
            source,
        })
}

/// A compact JWS split into its decoded parts (not verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The protected header as JSON text.
    pub header_json: String,
    /// The payload as JSON text.
    pub payload_json: String,
    /// The payload's `data` member if it is a string (NIC's invoice or QR JSON).
    pub data: Option<String>,
    /// Length of `header.payload`, the bytes the signature covers.
    pub signing_input_len: usize,
}

/// Splits and decodes a compact JWS without verifying it.
pub fn decode(jws: &str) -> Result<Decoded, SignError> {
    decode_parts(jws).map(|p| p.decoded)
}

/// A decoded token plus what verification needs.
struct Parts<'a> {
    decoded: Decoded,
    header: serde_json::Value,
    signing_input: &'a str,
    signature: Vec<u8>,
}

/// Decodes a token and also returns the parsed header, signing input and
/// signature bytes.
fn decode_parts(jws: &str) -> Result<Parts<'_>, SignError> {
    let jws = jws.trim();
    let mut parts = jws.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SignError::Malformed(format!(
            "a compact JWS has 3 dot-separated segments, found {}",
            jws.split('.').count()
        )));
    };
    let b64 = |seg: &str, name: &str| {
        B64_LENIENT
            .decode(seg)
            .map_err(|e| SignError::Malformed(format!("{name} is not valid base64url: {e}")))
    };
    let json_text =
        |bytes: Vec<u8>, name: &str| -> Result<(String, serde_json::Value), SignError> {
            let text = String::from_utf8(bytes)
                .map_err(|_| SignError::Malformed(format!("{name} is not UTF-8")))?;
            let value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| SignError::Malformed(format!("{name} is not JSON: {e}")))?;
            if !value.is_object() {
                return Err(SignError::Malformed(format!("{name} is not a JSON object")));
            }
            Ok((text, value))
        };
    let (header_json, header) = json_text(b64(h, "header")?, "header")?;
    let (payload_json, payload) = json_text(b64(p, "payload")?, "payload")?;
    let signature = b64(s, "signature")?;
    let data = payload
        .get("data")
        .and_then(|d| d.as_str())
        .map(str::to_owned);
    let signing_input_len = h.len() + 1 + p.len();
    let decoded = Decoded {
        header_json,
        payload_json,
        data,
        signing_input_len,
    };
    Ok(Parts {
        decoded,
        header,
        signing_input: &jws[..signing_input_len],
        signature,
    })
}

/// Verifies a compact JWS against a PEM certificate and returns its parts.
///
/// The algorithm comes from the header and must be RS256, ES256 or EdDSA
/// and agree with the certificate's key type (`none` and anything else is
/// rejected). RS256 requires an RSA key of at least 2048 bits. A `kid` or
/// `x5t` in the header must match the certificate's SHA-1 thumbprint.
pub fn verify(jws: &str, cert_pem: &[u8]) -> Result<Decoded, SignError> {
    let Parts {
        decoded,
        header,
        signing_input,
        signature: sig,
    } = decode_parts(jws)?;
    let alg_name = header
        .get("alg")
        .and_then(|a| a.as_str())
        .ok_or_else(|| SignError::Verify("header has no string alg".into()))?;
    let alg = Algorithm::from_jose_name(alg_name)
        .ok_or_else(|| SignError::Verify(format!("algorithm {alg_name:?} is not accepted")))?;
    let info = CertInfo::from_pem(cert_pem)
        .map_err(|e| SignError::Malformed(format!("certificate: {e}")))?;
    info.check_alg(alg).map_err(SignError::Verify)?;

    if let Some(kid) = header.get("kid") {
        let want = upper_hex(&info.thumbprint);
        if !kid.as_str().is_some_and(|k| k.eq_ignore_ascii_case(&want)) {
            return Err(SignError::Verify(format!(
                "header kid {kid} does not match certificate thumbprint {want}"
            )));
        }
    }
    if let Some(x5t) = header.get("x5t") {
        let want = URL_SAFE_NO_PAD.encode(info.thumbprint);
        if x5t.as_str() != Some(want.as_str()) {
            return Err(SignError::Verify(format!(
                "header x5t {x5t} does not match certificate thumbprint {want}"
            )));
        }
    }

    let verifier: &'static dyn signature::VerificationAlgorithm = match alg {
        Algorithm::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
        Algorithm::EdDsa => &signature::ED25519,
    };
    UnparsedPublicKey::new(verifier, &info.public_key)
        .verify(signing_input.as_bytes(), &sig)
        .map_err(|_| {
            SignError::Verify(format!(
                "{} signature does not match the certificate's key",
                alg.jose_name()
            ))
        })?;
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    fn signer(alg: Algorithm) -> (tempfile::TempDir, Signer, Vec<u8>) {
        let dir = tmpdir();
        let (k, c) = keygen(dir.path(), "irp test", alg).unwrap();
        let s = Signer::from_pem_files(&k, &c, alg, "NIC").unwrap();
        let cert = fs::read(&c).unwrap();
        (dir, s, cert)
    }

    const INVOICE: &str = r#"{"AckNo":112010000002315,"AckDt":"2022-09-16 19:29:00","Irn":"706daeccda0ef6f818da78f3a2a05a1288731057373002289b46c3229289a2e7","Version":"1.1","DocDtls":{"Typ":"INV","No":"SINV/CFY\\00067","Dt":"16/09/2022"},"Note":"line\nbreak \"q\" é ₹"}"#;

    #[test]
    fn kid_to_x5t_matches_reference_pairs() {
        assert_eq!(
            x5t_from_kid("EDC57DE1358B300BA9F79340A6696831F3C85047").unwrap(),
            "7cV94TWLMAup95NApmloMfPIUEc"
        );
        assert_eq!(
            x5t_from_kid("1513B821EE46C749A63B86E318BF711099287D1F").unwrap(),
            "FRO4Ie5Gx0mmO4bjGL9xEJkofR8"
        );
        assert!(x5t_from_kid("EDC5").is_err());
        assert!(x5t_from_kid("ZZC57DE1358B300BA9F79340A6696831F3C85047").is_err());
    }

    #[test]
    fn header_has_nic_shape_and_thumbprint_relation() {
        let (_d, s, cert) = signer(Algorithm::Rs256);
        let jws = s.sign_data("{}").unwrap();
        let d = decode(&jws).unwrap();
        assert_eq!(
            d.header_json,
            format!(
                r#"{{"alg":"RS256","kid":"{}","typ":"JWT","x5t":"{}"}}"#,
                s.kid(),
                s.x5t()
            )
        );
        assert_eq!(s.kid().len(), 40);
        assert!(s
            .kid()
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)));
        assert_eq!(s.x5t().len(), 27);
        assert_eq!(x5t_from_kid(s.kid()).unwrap(), s.x5t());
        // kid really is the SHA-1 of the certificate DER.
        let der = Pem::iter_from_buffer(&cert)
            .next()
            .unwrap()
            .unwrap()
            .contents;
        let sha1 = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
        assert_eq!(s.kid(), upper_hex(sha1.as_ref()));
        assert_eq!(d.payload_json, r#"{"data":"{}","iss":"NIC"}"#);
        assert_eq!(s.algorithm(), Algorithm::Rs256);
    }

    #[test]
    fn payload_is_data_string_then_iss() {
        let (_d, s, _) = signer(Algorithm::Rs256);
        let d = decode(&s.sign_data(INVOICE).unwrap()).unwrap();
        let expected = format!(
            r#"{{"data":{},"iss":"NIC"}}"#,
            serde_json::to_string(INVOICE).unwrap()
        );
        assert_eq!(d.payload_json, expected);
        assert_eq!(d.data.as_deref(), Some(INVOICE));
    }

    #[test]
    fn round_trip_all_algorithms() {
        for alg in [Algorithm::Rs256, Algorithm::Es256, Algorithm::EdDsa] {
            let (_d, s, cert) = signer(alg);
            let jws = s.sign_data(INVOICE).unwrap();
            let d = verify(&jws, &cert).unwrap();
            assert_eq!(d.data.as_deref(), Some(INVOICE), "{alg:?}");
            assert!(d.header_json.contains(alg.jose_name()));
            // Surrounding whitespace is tolerated.
            verify(&format!("\n {jws}\r\n"), &cert).unwrap();
        }
    }

    #[test]
    fn tampering_fails_for_all_algorithms() {
        for alg in [Algorithm::Rs256, Algorithm::Es256, Algorithm::EdDsa] {
            let (_d, s, cert) = signer(alg);
            let jws = s.sign_data(INVOICE).unwrap();
            let dots: Vec<usize> = jws.match_indices('.').map(|(i, _)| i).collect();
            // One byte in the payload, one in the signature, one in the header.
            for pos in [dots[0] + 5, dots[1] + 5, 3] {
                let mut b = jws.clone().into_bytes();
                b[pos] = if b[pos] == b'A' { b'B' } else { b'A' };
                let t = String::from_utf8(b).unwrap();
                assert!(verify(&t, &cert).is_err(), "{alg:?} pos {pos}");
            }
            // Last signature character changed in its significant bits.
            let mut b = jws.clone().into_bytes();
            let last = b.len() - 1;
            b[last] = if b[last] == b'g' { b'w' } else { b'g' };
            let t = String::from_utf8(b).unwrap();
            assert!(verify(&t, &cert).is_err(), "{alg:?} last");
        }
    }

    #[test]
    fn rs256_is_deterministic() {
        let (_d, s, _) = signer(Algorithm::Rs256);
        assert_eq!(s.sign_data(INVOICE).unwrap(), s.sign_data(INVOICE).unwrap());
    }

    #[test]
    fn wrong_certificate_or_kid_is_rejected() {
        let (_d1, s1, _) = signer(Algorithm::Rs256);
        let (_d2, _s2, cert2) = signer(Algorithm::Rs256);
        let jws = s1.sign_data("{}").unwrap();
        let err = verify(&jws, &cert2).unwrap_err().to_string();
        assert!(err.contains("kid"), "{err}");
        // ES256 token against an RSA certificate: key type mismatch.
        let (_d3, s3, _) = signer(Algorithm::Es256);
        assert!(verify(&s3.sign_data("{}").unwrap(), &cert2).is_err());
    }

    #[test]
    fn none_and_unknown_algs_are_rejected() {
        let (_d, _s, cert) = signer(Algorithm::Rs256);
        for alg in ["none", "HS256", "RS512"] {
            let h = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
            let p = URL_SAFE_NO_PAD.encode(r#"{"data":"{}","iss":"NIC"}"#);
            let err = verify(&format!("{h}.{p}."), &cert).unwrap_err();
            assert!(matches!(err, SignError::Verify(_)), "{alg}: {err}");
        }
    }

    #[test]
    fn key_must_match_certificate() {
        let (d1, _, _) = signer(Algorithm::Rs256);
        let (d2, _, _) = signer(Algorithm::Rs256);
        let err = Signer::from_pem_files(
            &d1.path().join(KEY_FILE),
            &d2.path().join(CERT_FILE),
            Algorithm::Rs256,
            "NIC",
        )
        .unwrap_err();
        assert!(matches!(err, SignError::KeyCertMismatch { .. }), "{err}");
        // An RSA key loaded as ES256 names the key file.
        let err = Signer::from_pem_files(
            &d1.path().join(KEY_FILE),
            &d1.path().join(CERT_FILE),
            Algorithm::Es256,
            "NIC",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains(KEY_FILE), "{err}");
        let missing = d1.path().join("nope.pem");
        let err = Signer::from_pem_files(
            &missing,
            &d1.path().join(CERT_FILE),
            Algorithm::Rs256,
            "NIC",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("cannot read private key") && err.contains("nope.pem"));
    }

    #[test]
    fn pkcs1_rsa_key_is_accepted() {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::pkcs8::DecodePrivateKey;
        let (d, s, _) = signer(Algorithm::Rs256);
        let pkcs8_pem = fs::read_to_string(d.path().join(KEY_FILE)).unwrap();
        let k = rsa::RsaPrivateKey::from_pkcs8_pem(&pkcs8_pem).unwrap();
        let pkcs1 = k.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let p = d.path().join("pkcs1.pem");
        fs::write(&p, pkcs1.as_bytes()).unwrap();
        let s1 =
            Signer::from_pem_files(&p, &d.path().join(CERT_FILE), Algorithm::Rs256, "NIC").unwrap();
        assert_eq!(
            s1.sign_data(INVOICE).unwrap(),
            s.sign_data(INVOICE).unwrap()
        );
    }

    #[test]
    fn independent_rsa_crate_verifies() {
        use rsa::pkcs1::DecodeRsaPublicKey;
        use rsa::signature::Verifier;
        let (_d, s, cert) = signer(Algorithm::Rs256);
        let jws = s.sign_data(INVOICE).unwrap();
        let info = CertInfo::from_pem(&cert).unwrap();
        let pk = rsa::RsaPublicKey::from_pkcs1_der(&info.public_key).unwrap();
        let vk = rsa::pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::new(pk);
        let (input, sig) = jws.rsplit_once('.').unwrap();
        let sig =
            rsa::pkcs1v15::Signature::try_from(URL_SAFE_NO_PAD.decode(sig).unwrap().as_slice())
                .unwrap();
        vk.verify(input.as_bytes(), &sig).unwrap();
        assert!(vk.verify(b"other input", &sig).is_err());
    }

    #[test]
    fn openssl_cli_verifies() {
        use std::process::Command;
        let have = Command::new("openssl")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !have {
            eprintln!("openssl CLI not found; skipping openssl_cli_verifies");
            return;
        }
        let (d, s, _) = signer(Algorithm::Rs256);
        let jws = s.sign_data(INVOICE).unwrap();
        let (input, sig) = jws.rsplit_once('.').unwrap();
        let dir = d.path();
        fs::write(dir.join("input.txt"), input).unwrap();
        fs::write(dir.join("sig.bin"), URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap();
        let pubkey = Command::new("openssl")
            .args(["x509", "-pubkey", "-noout", "-in"])
            .arg(dir.join(CERT_FILE))
            .output()
            .unwrap();
        assert!(pubkey.status.success());
        fs::write(dir.join("pubkey.pem"), &pubkey.stdout).unwrap();
        let run = |file: &str| {
            Command::new("openssl")
                .args(["dgst", "-sha256", "-verify"])
                .arg(dir.join("pubkey.pem"))
                .arg("-signature")
                .arg(dir.join("sig.bin"))
                .arg(dir.join(file))
                .output()
                .unwrap()
        };
        let ok = run("input.txt");
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stdout)
        );
        assert!(String::from_utf8_lossy(&ok.stdout).contains("Verified OK"));
        fs::write(dir.join("bad.txt"), format!("{input}x")).unwrap();
        assert!(!run("bad.txt").status.success());
    }

    #[test]
    fn keygen_writes_files_and_refuses_overwrite() {
        let dir = tmpdir();
        let out = dir.path().join("keys");
        let (k, c) = keygen(&out, "IRP", Algorithm::EdDsa).unwrap();
        assert_eq!(k, out.join(KEY_FILE));
        assert_eq!(c, out.join(CERT_FILE));
        let key = fs::read_to_string(&k).unwrap();
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(fs::read_to_string(&c)
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&k).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let err = keygen(&out, "IRP", Algorithm::EdDsa).unwrap_err();
        assert!(
            matches!(&err, SignError::Exists { path } if path == &k),
            "{err}"
        );
        assert!(err.to_string().contains(KEY_FILE));
        assert_eq!(fs::read_to_string(&k).unwrap(), key);
        // Only the certificate left: still refused, naming the certificate.
        fs::remove_file(&k).unwrap();
        let err = keygen(&out, "IRP", Algorithm::EdDsa)
            .unwrap_err()
            .to_string();
        assert!(err.contains(CERT_FILE), "{err}");
    }

    #[test]
    fn certificate_is_valid_for_ten_years() {
        let (d, _, _) = signer(Algorithm::Es256);
        let pem = fs::read(d.path().join(CERT_FILE)).unwrap();
        let block = Pem::iter_from_buffer(&pem).next().unwrap().unwrap();
        let cert = block.parse_x509().unwrap();
        let v = cert.validity();
        let years = (v.not_after.timestamp() - v.not_before.timestamp()) / (365 * 86_400);
        assert_eq!(years, 10);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!(v.not_before.timestamp() <= now && now - v.not_before.timestamp() < 86_400);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
    }

    /// A token shaped like NIC's sandbox SignedQRCode (reference section 4):
    /// header with the published kid/x5t pair, `data` holding the QR JSON,
    /// a 256-byte (RSA-2048) signature.
    const NIC_QR_TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6IkVEQzU3REUxMzU4QjMwMEJBOUY3OTM0MEE2Njk2ODMxRjNDODUwNDciLCJ0eXAiOiJKV1QiLCJ4NXQiOiI3Y1Y5NFRXTE1BdXA5NU5BcG1sb01mUElVRWMifQ.eyJkYXRhIjoie1wiU2VsbGVyR3N0aW5cIjpcIjAxQU1CUEc3NzczTTAwMlwiLFwiQnV5ZXJHc3RpblwiOlwiMzZBTUJQRzc3NzNNMDAyXCIsXCJEb2NOb1wiOlwiU0lOVi1DRlktMDAwNjdcIixcIkRvY1R5cFwiOlwiSU5WXCIsXCJEb2NEdFwiOlwiMTYvMDkvMjAyMlwiLFwiVG90SW52VmFsXCI6MTAwLjAsXCJJdGVtQ250XCI6MSxcIk1haW5Ic25Db2RlXCI6XCI2MTE0OTA5MFwiLFwiSXJuXCI6XCI3MDZkYWVjY2RhMGVmNmY4MThkYTc4ZjNhMmEwNWExMjg4NzMxMDU3MzczMDAyMjg5YjQ2YzMyMjkyODlhMmU3XCIsXCJJcm5EdFwiOlwiMjAyMi0wOS0xNiAxOToyOTowMFwifSIsImlzcyI6Ik5JQyBTYW5kYm94In0.";

    #[test]
    fn decode_nic_shaped_token() {
        let sig = URL_SAFE_NO_PAD.encode([0x5au8; 256]);
        let token = format!("{NIC_QR_TOKEN}{sig}\n");
        let d = decode(&token).unwrap();
        assert_eq!(
            d.header_json,
            r#"{"alg":"RS256","kid":"EDC57DE1358B300BA9F79340A6696831F3C85047","typ":"JWT","x5t":"7cV94TWLMAup95NApmloMfPIUEc"}"#
        );
        let data = d.data.unwrap();
        assert!(
            data.starts_with(r#"{"SellerGstin":"01AMBPG7773M002","BuyerGstin":"36AMBPG7773M002""#)
        );
        assert!(data.ends_with(r#""IrnDt":"2022-09-16 19:29:00"}"#));
        let v: serde_json::Value = serde_json::from_str(&d.payload_json).unwrap();
        assert_eq!(v["iss"], "NIC Sandbox");
        assert_eq!(d.signing_input_len, NIC_QR_TOKEN.len() - 1);
    }

    #[test]
    fn decode_errors_are_clear() {
        let e = decode("a.b").unwrap_err().to_string();
        assert!(e.contains("3 dot-separated segments, found 2"), "{e}");
        let e = decode("a.b.c.d").unwrap_err().to_string();
        assert!(e.contains("found 4"), "{e}");
        let e = decode("e30.@@@.").unwrap_err().to_string();
        assert!(e.contains("payload is not valid base64url"), "{e}");
        let e = decode("bm90anNvbg.e30.").unwrap_err().to_string();
        assert!(e.contains("header is not JSON"), "{e}");
        let ok = decode("e30.e30.").unwrap();
        assert_eq!(ok.data, None);
        assert_eq!(ok.signing_input_len, 7);
    }

    #[test]
    fn algorithm_parsing() {
        assert_eq!(Algorithm::default(), Algorithm::Rs256);
        assert_eq!("EdDSA".parse::<Algorithm>().unwrap(), Algorithm::EdDsa);
        assert!("hs256".parse::<Algorithm>().is_err());
        let a: Algorithm = serde_json::from_str(r#""es256""#).unwrap();
        assert_eq!(a, Algorithm::Es256);
        assert!(serde_json::from_str::<Algorithm>(r#""ES256""#).is_err());
    }

    #[test]
    fn signer_is_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Signer>();
    }
}
