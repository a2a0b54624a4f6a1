//! Source stage: streams inputs and frames one invoice at a time, without parsing.
//!
//! Two layouts are recognised from the first non-blank byte of each input:
//! - `[`: a JSON array (NIC's bulk file); each top-level element is a record.
//! - `{`: NDJSON (one record per line), or, when the first object spans several lines,
//!   concatenated (pretty-printed) objects framed by brace depth.
//!
//! Framing tracks only strings, escapes and bracket depth, so it runs at memory speed and its
//! memory is bounded by `max_record_bytes`: a larger record is skipped, not buffered.
//! A record that cannot be framed (truncated, oversize, not JSON) still becomes a record, so
//! the status report keeps one line per input record.

use std::io::Read;

use memchr::{memchr, memchr2};

/// What the framer hands on: one record's bytes or the reason it has none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Framed {
    /// The bytes of one top-level value.
    Json(Vec<u8>),
    /// A record that cannot be parsed at all; the message says why and where.
    Bad(String),
}

/// One framed record with its byte offset in its input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FramedRecord {
    pub offset: u64,
    pub body: Framed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Nothing but blanks seen yet.
    Detect,
    /// Inside a top-level JSON array.
    Array,
    /// After the closing `]`.
    AfterArray,
    /// Objects at top level; `lines` once the first object proved to be one line.
    Objects { lines: Option<bool> },
    /// The input is not JSON; everything is skipped.
    Garbage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Value {
    /// Between values.
    Outside,
    /// Inside a container value at the given depth (>= 1).
    Container,
    /// Inside a top-level string value.
    TopString,
    /// Inside a top-level scalar (number, literal).
    Scalar,
}

/// Incremental framer: feed chunks with [`Framer::push`], then call [`Framer::finish`].
/// The records it emits do not depend on how the input is split into chunks.
#[derive(Debug)]
pub struct Framer {
    layout: Layout,
    value: Value,
    depth: u64,
    in_string: bool,
    escape: bool,
    /// Absolute offset of the next byte to be pushed.
    pos: u64,
    start: u64,
    started_line: bool,
    crossed_newline: bool,
    buf: Vec<u8>,
    oversize: bool,
    max_record_bytes: usize,
    /// Problems of the input as a whole (e.g. a missing closing bracket).
    pub warnings: Vec<String>,
    /// Whether the first bytes were a UTF-8 byte order mark still being skipped.
    bom_left: usize,
}

impl Framer {
    pub fn new(max_record_bytes: usize) -> Framer {
        Framer {
            layout: Layout::Detect,
            value: Value::Outside,
            depth: 0,
            in_string: false,
            escape: false,
            pos: 0,
            start: 0,
            started_line: false,
            crossed_newline: false,
            buf: Vec::new(),
            oversize: false,
            max_record_bytes,
            warnings: Vec::new(),
            bom_left: 3,
        }
    }

    fn begin(&mut self, at: u64) {
        self.start = at;
        self.buf.clear();
        self.oversize = false;
        self.crossed_newline = false;
    }

    fn keep(&mut self, bytes: &[u8]) {
        if self.oversize {
            return;
        }
        if self.buf.len() + bytes.len() > self.max_record_bytes {
            self.oversize = true;
            self.buf = Vec::new();
        } else {
            self.buf.extend_from_slice(bytes);
        }
    }

    fn emit(&mut self, out: &mut impl FnMut(FramedRecord)) {
        let len = self.pos - self.start;
        let body = if self.oversize {
            Framed::Bad(format!(
                "record at byte {} is {len} bytes, more than max_record_bytes ({})",
                self.start, self.max_record_bytes
            ))
        } else {
            Framed::Json(std::mem::take(&mut self.buf))
        };
        out(FramedRecord {
            offset: self.start,
            body,
        });
        self.value = Value::Outside;
        self.oversize = false;
    }

    /// Feeds the next chunk; complete records are passed to `out` in order.
    pub fn push(&mut self, chunk: &[u8], out: &mut impl FnMut(FramedRecord)) {
        let mut idx = 0;
        // Offsets count every byte of the input, the byte order mark included.
        let base = self.pos;
        // Skip a UTF-8 byte order mark at the very start (it may arrive split across chunks).
        while self.bom_left > 0 && idx < chunk.len() {
            let expected = [0xEF, 0xBB, 0xBF][3 - self.bom_left];
            if chunk[idx] == expected {
                self.bom_left -= 1;
                idx += 1;
            } else {
                // Not a BOM (a partial one only a broken file has): the rest is read normally.
                self.bom_left = 0;
            }
        }
        while idx < chunk.len() {
            match self.value {
                Value::Outside => {
                    let c = chunk[idx];
                    let at = base + idx as u64;
                    idx += 1;
                    self.pos = base + idx as u64;
                    self.outside_byte(c, at, out);
                }
                Value::Container | Value::TopString => {
                    let consumed = self.scan_value(&chunk[idx..]);
                    let done = consumed.1;
                    let piece = &chunk[idx..idx + consumed.0];
                    self.keep(piece);
                    idx += consumed.0;
                    self.pos = base + idx as u64;
                    if done {
                        self.value_done(out);
                    }
                }
                Value::Scalar => {
                    let rest = &chunk[idx..];
                    let end = rest
                        .iter()
                        .position(|c| matches!(c, b',' | b']' | b' ' | b'\t' | b'\r' | b'\n'))
                        .unwrap_or(rest.len());
                    self.keep(&rest[..end]);
                    idx += end;
                    self.pos = base + idx as u64;
                    if end < rest.len() {
                        self.value_done(out);
                    }
                }
            }
        }
        self.pos = base + chunk.len() as u64;
    }

    /// Scans inside a value; returns (bytes consumed, value complete).
    fn scan_value(&mut self, bytes: &[u8]) -> (usize, bool) {
        let mut idx = 0;
        let lines_mode = self.layout == Layout::Objects { lines: Some(true) };
        while idx < bytes.len() {
            if self.in_string {
                if self.escape {
                    self.escape = false;
                    if lines_mode && bytes[idx] == b'\n' {
                        // A backslash at the end of an NDJSON line does not escape the newline.
                        return (idx, true);
                    }
                    idx += 1;
                    continue;
                }
                match memchr2(b'"', b'\\', &bytes[idx..]) {
                    None => {
                        if lines_mode {
                            if let Some(nl) = memchr(b'\n', &bytes[idx..]) {
                                // A string never spans lines in NDJSON: the record ends here.
                                return (idx + nl, true);
                            }
                        }
                        return (bytes.len(), false);
                    }
                    Some(off) => {
                        if lines_mode {
                            if let Some(nl) = memchr(b'\n', &bytes[idx..idx + off]) {
                                return (idx + nl, true);
                            }
                        }
                        idx += off;
                        if bytes[idx] == b'\\' {
                            self.escape = true;
                        } else {
                            self.in_string = false;
                            if self.value == Value::TopString {
                                return (idx + 1, true);
                            }
                        }
                        idx += 1;
                    }
                }
                continue;
            }
            let c = bytes[idx];
            match c {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return (idx + 1, true);
                    }
                }
                b'\n' => {
                    if lines_mode {
                        return (idx, true);
                    }
                    self.crossed_newline = true;
                }
                _ => {}
            }
            idx += 1;
        }
        (bytes.len(), false)
    }

    fn value_done(&mut self, out: &mut impl FnMut(FramedRecord)) {
        if let Layout::Objects { lines: None } = self.layout {
            self.layout = Layout::Objects {
                lines: Some(!self.crossed_newline),
            };
        }
        self.in_string = false;
        self.escape = false;
        self.depth = 0;
        self.emit(out);
    }

    fn start_value(&mut self, c: u8, at: u64) {
        self.begin(at);
        self.keep(&[c]);
        match c {
            b'{' | b'[' => {
                self.value = Value::Container;
                self.depth = 1;
            }
            b'"' => {
                self.value = Value::TopString;
                self.in_string = true;
            }
            _ => self.value = Value::Scalar,
        }
    }

    fn outside_byte(&mut self, c: u8, at: u64, out: &mut impl FnMut(FramedRecord)) {
        let blank = matches!(c, b' ' | b'\t' | b'\r' | b'\n');
        match self.layout {
            Layout::Detect => {
                if blank {
                    return;
                }
                match c {
                    b'[' => self.layout = Layout::Array,
                    b'{' => {
                        self.layout = Layout::Objects { lines: None };
                        self.start_value(c, at);
                    }
                    _ => {
                        self.layout = Layout::Garbage;
                        out(FramedRecord {
                            offset: at,
                            body: Framed::Bad(format!(
                                "input is not JSON: expected '[' or '{{' at byte {at}, found {}",
                                describe(c)
                            )),
                        });
                    }
                }
            }
            Layout::Array => {
                if blank || c == b',' {
                    return;
                }
                if c == b']' {
                    self.layout = Layout::AfterArray;
                    return;
                }
                self.start_value(c, at);
            }
            Layout::AfterArray => {
                if blank {
                    return;
                }
                if c == b'[' {
                    // Concatenated arrays: frame the next one too.
                    self.layout = Layout::Array;
                    return;
                }
                self.layout = Layout::Garbage;
                self.warnings.push(format!(
                    "unexpected data after the closing ']' at byte {at}; ignored"
                ));
            }
            Layout::Objects { .. } => {
                if blank || c == b',' {
                    return;
                }
                self.start_value(c, at);
            }
            Layout::Garbage => {}
        }
        self.started_line = c == b'\n';
    }

    /// Ends the input: a record cut off by the end becomes a `Bad` record.
    pub fn finish(&mut self, out: &mut impl FnMut(FramedRecord)) {
        match self.value {
            Value::Outside => {}
            Value::Scalar => self.emit(out),
            Value::Container | Value::TopString => {
                if self.layout == (Layout::Objects { lines: Some(true) }) && !self.in_string {
                    // An NDJSON line without its closing brace: hand it to the parser, which
                    // reports exactly where it is broken.
                    self.emit(out);
                } else {
                    let start = self.start;
                    out(FramedRecord {
                        offset: start,
                        body: Framed::Bad(format!(
                            "truncated record at byte {start}: the input ends inside it"
                        )),
                    });
                    self.value = Value::Outside;
                }
            }
        }
        if self.layout == Layout::Array {
            self.warnings
                .push("input ends before the closing ']' of the array".to_owned());
        }
        self.in_string = false;
        self.escape = false;
        self.depth = 0;
    }
}

fn describe(c: u8) -> String {
    if c.is_ascii_graphic() {
        format!("'{}'", char::from(c))
    } else {
        format!("byte 0x{c:02x}")
    }
}

/// Frames a whole reader with a fixed chunk size (used by tests, benches and the reader).
///
/// # Errors
/// An I/O error of the reader.
pub fn frame_reader(
    mut reader: impl Read,
    max_record_bytes: usize,
    chunk_size: usize,
    mut out: impl FnMut(FramedRecord),
) -> std::io::Result<Vec<String>> {
    let mut framer = Framer::new(max_record_bytes);
    let mut chunk = vec![0u8; chunk_size.max(1)];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        framer.push(&chunk[..n], &mut out);
    }
    framer.finish(&mut out);
    Ok(framer.warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(input: &[u8], chunk: usize) -> (Vec<FramedRecord>, Vec<String>) {
        let mut v = Vec::new();
        let w = frame_reader(input, 1 << 20, chunk, |r| v.push(r)).unwrap();
        (v, w)
    }

    fn json(r: &FramedRecord) -> &str {
        match &r.body {
            Framed::Json(b) => std::str::from_utf8(b).unwrap(),
            Framed::Bad(m) => panic!("bad: {m}"),
        }
    }

    #[test]
    fn array() {
        let (r, w) = frame(br#" [ {"a":"x}]\"{"}, {"b":[1,{"c":2}]} ,3, "s" ] "#, 7);
        assert_eq!(r.len(), 4);
        assert_eq!(json(&r[0]), r#"{"a":"x}]\"{"}"#);
        assert_eq!(r[0].offset, 3);
        assert_eq!(json(&r[1]), r#"{"b":[1,{"c":2}]}"#);
        assert_eq!(json(&r[2]), "3");
        assert_eq!(json(&r[3]), r#""s""#);
        assert!(w.is_empty());
    }

    #[test]
    fn ndjson_with_broken_line() {
        let input = b"{\"a\":1}\n{\"b\":\"cut\n{\"c\":3}\n\n{\"d\":{}}\n";
        let (r, _) = frame(input, 3);
        assert_eq!(r.len(), 4);
        assert_eq!(json(&r[1]), "{\"b\":\"cut");
        assert_eq!(json(&r[2]), "{\"c\":3}");
        assert_eq!(r[2].offset, 18);
        assert_eq!(json(&r[3]), "{\"d\":{}}");
    }

    #[test]
    fn ndjson_line_ending_in_a_backslash_stays_one_record() {
        let (r, _) = frame(b"{\"a\":1}\n{\"No\":\"A\\\n{\"b\":1}\n", 2);
        assert_eq!(r.len(), 3);
        assert_eq!(json(&r[1]), "{\"No\":\"A\\");
        assert_eq!(json(&r[2]), "{\"b\":1}");
    }

    #[test]
    fn bom_split_across_chunks() {
        let (r, _) = frame(b"\xEF\xBB\xBF[{\"a\":1}]", 1);
        assert_eq!(json(&r[0]), "{\"a\":1}");
        assert_eq!(r[0].offset, 4);
    }

    #[test]
    fn pretty_objects() {
        let input = b"{\n \"a\": 1\n}\n{\n \"b\": 2\n}";
        let (r, _) = frame(input, 4);
        assert_eq!(r.len(), 2);
        assert_eq!(json(&r[1]), "{\n \"b\": 2\n}");
    }

    #[test]
    fn not_json_truncated_empty_bom() {
        let (r, _) = frame(b"hello", 2);
        assert_eq!(r.len(), 1);
        assert!(matches!(&r[0].body, Framed::Bad(m) if m.contains("not JSON")));
        let (r, w) = frame(b"[{\"a\":1},{\"b\":", 5);
        assert_eq!(r.len(), 2);
        assert!(matches!(&r[1].body, Framed::Bad(m) if m.contains("truncated")));
        assert_eq!(w.len(), 1);
        let (r, w) = frame(b"", 5);
        assert!(r.is_empty() && w.is_empty());
        let (r, _) = frame(b"\xEF\xBB\xBF[{\"a\":1}]", 2);
        assert_eq!(json(&r[0]), "{\"a\":1}");
        assert_eq!(r[0].offset, 4);
    }

    #[test]
    fn oversize_is_skipped_not_buffered() {
        let big = format!("[{{\"a\":\"{}\"}},{{\"b\":1}}]", "x".repeat(5000));
        let mut v = Vec::new();
        frame_reader(big.as_bytes(), 1000, 64, |r| v.push(r)).unwrap();
        assert_eq!(v.len(), 2);
        assert!(matches!(&v[0].body, Framed::Bad(m) if m.contains("max_record_bytes")));
        assert_eq!(json(&v[1]), "{\"b\":1}");
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let deep = format!("[{}{}]", "[".repeat(100_000), "]".repeat(100_000));
        let (r, _) = frame(deep.as_bytes(), 4096);
        assert_eq!(r.len(), 1);
    }

    proptest! {
        #[test]
        fn framing_does_not_depend_on_chunking(
            objs in proptest::collection::vec("[a-z\\\\\"{}\\[\\],: ]{0,12}", 0..8),
            ndjson in any::<bool>(),
            chunk in 1usize..40,
        ) {
            let items: Vec<String> = objs
                .iter()
                .map(|s| serde_json::json!({ "k": s, "n": [1, {"x": s}] }).to_string())
                .collect();
            let input = if ndjson { items.join("\n") } else { format!("[{}]", items.join(",\n")) };
            let (whole, _) = frame(input.as_bytes(), input.len().max(1));
            let (parts, _) = frame(input.as_bytes(), chunk);
            prop_assert_eq!(&whole, &parts);
            prop_assert_eq!(whole.len(), items.len());
            for (r, item) in whole.iter().zip(&items) {
                prop_assert_eq!(json(r), item.as_str());
            }
        }
    }
}
