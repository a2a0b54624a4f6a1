//! QR rendering of the `SignedQRCode` JWT.
//!
//! NIC prints the whole compact JWT (about 700–1100 characters) as the QR
//! code. At error-correction level M in byte mode that needs version
//! 21–28; version 40-M holds 2331 bytes, so any realistic token fits.
//! A quiet zone of 4 modules is kept as ISO/IEC 18004 requires.

use std::str::FromStr;

use std::fmt::Write as _;

use fast_qr::qr::QRBuilder;
use fast_qr::{Mode, QRCode, ECL};

/// Quiet zone around the symbol, in modules.
const QUIET_ZONE: usize = 4;
/// PNG pixels per module: small files that phone cameras and rqrr decode.
const PNG_SCALE: usize = 4;

/// Which QR image, if any, to produce for each invoice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QrFormat {
    /// No image; the signed QR text alone is emitted.
    #[default]
    None,
    /// Scalable vector image (text, larger, prints crisply).
    Svg,
    /// 1-bit greyscale PNG at 4 pixels per module.
    Png,
}

impl QrFormat {
    /// File extension for written images, `None` when no image is made.
    pub fn extension(self) -> Option<&'static str> {
        match self {
            QrFormat::None => None,
            QrFormat::Svg => Some("svg"),
            QrFormat::Png => Some("png"),
        }
    }
}

impl FromStr for QrFormat {
    type Err = QrError;

    fn from_str(s: &str) -> Result<Self, QrError> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(QrFormat::None),
            "svg" => Ok(QrFormat::Svg),
            "png" => Ok(QrFormat::Png),
            _ => Err(QrError::UnknownFormat(s.to_string())),
        }
    }
}

/// Errors from QR rendering.
#[derive(thiserror::Error, Debug)]
pub enum QrError {
    /// The text exceeds the capacity of a version-40 symbol at level M.
    #[error("text of {len} bytes does not fit in a QR code at error correction level M")]
    TooLong { len: usize },
    /// The format name is not one of `none`, `svg`, `png`.
    #[error("unknown QR format {0:?} (expected none, svg or png)")]
    UnknownFormat(String),
}

/// Renders `text` as a QR image, or returns `None` for [`QrFormat::None`].
pub fn render(text: &str, fmt: QrFormat) -> Result<Option<Vec<u8>>, QrError> {
    if fmt == QrFormat::None {
        return Ok(None);
    }
    let qr = QRBuilder::new(text.as_bytes())
        .ecl(ECL::M)
        .mode(Mode::Byte)
        .build()
        .map_err(|_| QrError::TooLong { len: text.len() })?;
    Ok(Some(match fmt {
        QrFormat::Svg => svg(&qr).into_bytes(),
        QrFormat::Png | QrFormat::None => png(&qr),
    }))
}

/// Writes the module matrix as SVG, one rectangle per horizontal run.
///
/// fast_qr's own SVG converter emits a path segment per dark module
/// (84 KB for a 900-character token); merging runs halves that (45 KB).
fn svg(qr: &QRCode) -> String {
    let n = qr.size + 2 * QUIET_ZONE;
    let mut out = String::with_capacity(qr.size * qr.size * 4);
    // Writing to a String cannot fail, so results are ignored below.
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}" shape-rendering="crispEdges"><rect width="{n}" height="{n}" fill="#fff"/><path fill="#000" d=""##
    );
    for y in 0..qr.size {
        let row = &qr[y];
        let mut x = 0;
        while x < qr.size {
            if !row[x].value() {
                x += 1;
                continue;
            }
            let start = x;
            while x < qr.size && row[x].value() {
                x += 1;
            }
            let _ = write!(
                out,
                "M{} {}h{}v1H{}z",
                start + QUIET_ZONE,
                y + QUIET_ZONE,
                x - start,
                start + QUIET_ZONE
            );
        }
    }
    out.push_str(r#""/></svg>"#);
    out
}

/// Encodes the module matrix as a 1-bit greyscale PNG.
///
/// Hand-written rather than rasterising fast_qr's SVG: its `image`
/// converter goes through resvg (a large dependency tree), renders an
/// antialiased RGBA pixmap and panics on internal failure; measured 12x
/// slower with 5x larger files. The QR is already a bitmap, so packing
/// bits and a tiny deflate is faster and panic-free. Each module row becomes
/// `PNG_SCALE` identical pixel rows; rows 2..n use the PNG "Up" filter so
/// they are all zero and compress to almost nothing.
fn png(qr: &QRCode) -> Vec<u8> {
    let modules = qr.size + 2 * QUIET_ZONE;
    let width = modules * PNG_SCALE;
    let row_bytes = width.div_ceil(8);

    // Raw scanlines: filter byte + packed bits (1 = white, as greyscale).
    let mut raw = Vec::with_capacity((row_bytes + 1) * width);
    let mut first = vec![0u8; row_bytes];
    for my in 0..modules {
        first.iter_mut().for_each(|b| *b = 0);
        for mx in 0..modules {
            let dark = my >= QUIET_ZONE
                && mx >= QUIET_ZONE
                && my < QUIET_ZONE + qr.size
                && mx < QUIET_ZONE + qr.size
                && qr[my - QUIET_ZONE][mx - QUIET_ZONE].value();
            if !dark {
                for px in mx * PNG_SCALE..(mx + 1) * PNG_SCALE {
                    first[px / 8] |= 0x80 >> (px % 8);
                }
            }
        }
        // Padding bits past the width stay 0; decoders ignore them.
        raw.push(0); // filter None
        raw.extend_from_slice(&first);
        for _ in 1..PNG_SCALE {
            raw.push(2); // filter Up: identical row encodes as zeros
            raw.resize(raw.len() + row_bytes, 0);
        }
    }

    let idat = zlib_rle(&raw);
    let mut out = Vec::with_capacity(idat.len() + 64);
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = [0u8; 13];
    ihdr[..4].copy_from_slice(&(width as u32).to_be_bytes());
    ihdr[4..8].copy_from_slice(&(width as u32).to_be_bytes());
    ihdr[8] = 1; // bit depth
    ihdr[9] = 0; // greyscale; compression, filter, interlace all 0
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// Appends a PNG chunk with its CRC.
fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// CRC-32 (IEEE) as PNG requires; bitwise table built at compile time.
fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c = TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    c ^ 0xFFFF_FFFF
}

/// Little-endian bit writer for deflate.
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u32, len: u32) {
        self.acc |= u64::from(value) << self.n;
        self.n += len;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// Huffman codes are stored most-significant bit first.
    fn put_rev(&mut self, code: u32, len: u32) {
        self.put(code.reverse_bits() >> (32 - len), len);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// Writes a literal/length symbol with the fixed Huffman code (RFC 1951 3.2.6).
fn put_litlen(bits: &mut Bits, sym: u32) {
    match sym {
        0..=143 => bits.put_rev(0x30 + sym, 8),
        144..=255 => bits.put_rev(0x190 + sym - 144, 9),
        256..=279 => bits.put_rev(sym - 256, 7),
        _ => bits.put_rev(0xC0 + sym - 280, 8),
    }
}

/// Writes a match of `len` (3..=258) bytes at distance 1.
fn put_run(bits: &mut Bits, len: u32) {
    // Length base values for symbols 257..=285 (RFC 1951 3.2.5).
    const BASE: [u32; 29] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115,
        131, 163, 195, 227, 258,
    ];
    const EXTRA: [u32; 29] = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
    ];
    let i = BASE.iter().rposition(|&b| b <= len).unwrap_or(0);
    put_litlen(bits, 257 + i as u32);
    bits.put(len - BASE[i], EXTRA[i]);
    bits.put_rev(0, 5); // distance code 0 = distance 1
}

/// zlib stream using one fixed-Huffman deflate block with run-length
/// matches only (distance 1). QR scanlines are long runs of identical
/// bytes, so this gets most of what a general compressor would.
fn zlib_rle(data: &[u8]) -> Vec<u8> {
    let mut bits = Bits {
        out: Vec::with_capacity(data.len() / 8 + 64),
        acc: 0,
        n: 0,
    };
    bits.out.extend_from_slice(&[0x78, 0x01]); // deflate, 32K window, no dict
    bits.put(1, 1); // BFINAL
    bits.put(1, 2); // BTYPE = fixed Huffman
    let mut i = 0;
    while i < data.len() {
        let b = data[i];
        put_litlen(&mut bits, u32::from(b));
        i += 1;
        let run = data[i..].iter().take(258).take_while(|&&x| x == b).count();
        if run >= 3 {
            put_run(&mut bits, run as u32);
            i += run;
        }
    }
    put_litlen(&mut bits, 256); // end of block
    let mut out = bits.finish();
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

/// Adler-32 checksum closing a zlib stream.
fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    // 5552 is the largest block for which the sums cannot overflow u32.
    for block in data.chunks(5552) {
        for &x in block {
            a += u32::from(x);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JWS-like text of `n` characters over the base64url alphabet plus dots.
    fn jws_like(n: usize) -> String {
        const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        (0..n)
            .map(|i| {
                if i == 120 || i == 600 {
                    '.'
                } else {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    ALPHA[(x % 64) as usize] as char
                }
            })
            .collect()
    }

    fn decode_png(png: &[u8]) -> String {
        let img = image::load_from_memory_with_format(png, image::ImageFormat::Png)
            .unwrap()
            .to_luma8();
        let mut prep = rqrr::PreparedImage::prepare(img);
        let grids = prep.detect_grids();
        assert_eq!(grids.len(), 1);
        grids[0].decode().unwrap().1
    }

    #[test]
    fn png_round_trips_through_rqrr() {
        for n in [20, 700, 900, 1100] {
            let text = jws_like(n);
            let png = render(&text, QrFormat::Png).unwrap().unwrap();
            assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
            assert_eq!(decode_png(&png), text, "length {n}");
        }
    }

    #[test]
    fn png_is_small() {
        let png = render(&jws_like(900), QrFormat::Png).unwrap().unwrap();
        assert!(png.len() < 12_000, "{} bytes", png.len());
    }

    #[test]
    fn svg_output() {
        let svg = render(&jws_like(900), QrFormat::Svg).unwrap().unwrap();
        assert!(svg.len() < 60_000, "{} bytes", svg.len());
        let s = String::from_utf8(svg).unwrap();
        assert!(s.starts_with("<svg") || s.starts_with("<?xml"));
        assert!(s.ends_with("</svg>"));
    }

    /// Rasterises our SVG paths by hand and compares with the PNG pixels,
    /// so both renderers draw the same modules.
    #[test]
    fn svg_matches_png_modules() {
        let text = jws_like(700);
        let svg = String::from_utf8(render(&text, QrFormat::Svg).unwrap().unwrap()).unwrap();
        let png = render(&text, QrFormat::Png).unwrap().unwrap();
        let img = image::load_from_memory(&png).unwrap().to_luma8();
        let n = img.width() as usize / PNG_SCALE;
        let mut dark = vec![false; n * n];
        let d = svg
            .split(r#"d=""#)
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        for seg in d.split('M').filter(|s| !s.is_empty()) {
            let (xy, rest) = seg.split_once('h').unwrap();
            let (x, y) = xy.split_once(' ').unwrap();
            let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
            let len: usize = rest.split_once('v').unwrap().0.parse().unwrap();
            for i in x..x + len {
                dark[y * n + i] = true;
            }
        }
        for my in 0..n {
            for mx in 0..n {
                let px = img.get_pixel((mx * PNG_SCALE) as u32, (my * PNG_SCALE) as u32)[0];
                assert_eq!(px == 0, dark[my * n + mx], "module {mx},{my}");
            }
        }
    }

    #[test]
    fn none_renders_nothing() {
        assert_eq!(render("x", QrFormat::None).unwrap(), None);
    }

    #[test]
    fn too_long_is_an_error() {
        let err = render(&"a".repeat(2332), QrFormat::Png).unwrap_err();
        assert!(matches!(err, QrError::TooLong { len: 2332 }));
        // Version 40-M capacity in byte mode is exactly 2331.
        assert!(render(&"a".repeat(2331), QrFormat::Svg).is_ok());
    }

    #[test]
    fn format_parsing() {
        assert_eq!("png".parse::<QrFormat>().unwrap(), QrFormat::Png);
        assert_eq!("SVG".parse::<QrFormat>().unwrap(), QrFormat::Svg);
        assert_eq!("none".parse::<QrFormat>().unwrap(), QrFormat::None);
        assert!("jpeg".parse::<QrFormat>().is_err());
        assert_eq!(QrFormat::Png.extension(), Some("png"));
    }

    #[test]
    fn checksums_match_known_values() {
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn zlib_stream_inflates() {
        // Wrap arbitrary bytes as one 8-bit greyscale scanline so the png
        // crate (an independent inflater) checks our deflate and Adler-32.
        let mut data = vec![7u8; 1000];
        data.extend((0..=255u8).cycle().take(3000));
        data.extend(std::iter::repeat_n(0u8, 5000));
        let mut raw = vec![0u8];
        raw.extend_from_slice(&data);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = [0u8; 13];
        ihdr[..4].copy_from_slice(&(data.len() as u32).to_be_bytes());
        ihdr[4..8].copy_from_slice(&1u32.to_be_bytes());
        ihdr[8] = 8;
        chunk(&mut png, b"IHDR", &ihdr);
        chunk(&mut png, b"IDAT", &zlib_rle(&raw));
        chunk(&mut png, b"IEND", &[]);
        let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
            .unwrap()
            .to_luma8();
        assert_eq!(img.into_raw(), data);
    }
}
