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
use std::ops::Deref;
use std::sync::Arc;

use memchr::{memchr, memchr2};

/// A whole input held in memory, shared by the records framed out of it.
pub enum SharedInput {
    /// A regular file mapped read-only: framing reads the page cache in place, and a record
    /// is a range of the mapping instead of a copy (the copy and the `read(2)` copy into a
    /// chunk were 80% of the reader thread's time).
    Mapped(memmap2::Mmap),
    /// Bytes already in memory (tests, benches).
    Buffer(Vec<u8>),
}

impl std::fmt::Debug for SharedInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedInput({} bytes)", self.len())
    }
}

impl Deref for SharedInput {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            SharedInput::Mapped(map) => map,
            SharedInput::Buffer(bytes) => bytes,
        }
    }
}

/// The bytes of one framed record: its own copy, or a range of a shared input.
#[derive(Clone)]
pub struct RecordBytes {
    repr: Repr,
    /// See [`RecordBytes::is_plain`].
    plain: bool,
}

#[derive(Clone)]
enum Repr {
    Owned(Vec<u8>),
    Shared {
        input: Arc<SharedInput>,
        start: usize,
        end: usize,
    },
}

impl RecordBytes {
    /// Always in bounds: the framer only builds ranges it has scanned.
    fn shared(input: &Arc<SharedInput>, start: usize, end: usize, plain: bool) -> RecordBytes {
        debug_assert!(start <= end && end <= input.len());
        RecordBytes {
            repr: Repr::Shared {
                input: Arc::clone(input),
                start,
                end,
            },
            plain,
        }
    }

    /// True when framing saw that the record holds no backslash and no byte above 0x7F.
    /// Every string of such a record is then ASCII and holds no `"` or `\` (JSON can put
    /// those in a string only as escapes, which start with a backslash), so validation can
    /// skip those checks. False means "not known": framing gives up the fact conservatively
    /// (a block shared with the next record, a piece taken by the byte loop).
    pub fn is_plain(&self) -> bool {
        self.plain
    }
}

impl Deref for RecordBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.repr {
            Repr::Owned(bytes) => bytes,
            Repr::Shared { input, start, end } => input.get(*start..*end).unwrap_or_default(),
        }
    }
}

impl From<Vec<u8>> for RecordBytes {
    fn from(bytes: Vec<u8>) -> RecordBytes {
        RecordBytes {
            repr: Repr::Owned(bytes),
            plain: false,
        }
    }
}

impl PartialEq for RecordBytes {
    fn eq(&self, other: &RecordBytes) -> bool {
        **self == **other
    }
}

impl Eq for RecordBytes {}

impl std::fmt::Debug for RecordBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

/// What the framer hands on: one record's bytes or the reason it has none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Framed {
    /// The bytes of one top-level value.
    Json(RecordBytes),
    /// A record that cannot be parsed at all; the message says why and where.
    Bad(String),
    /// A record above `max_record_bytes`, skipped unread (NIC's 5002, request body too large).
    TooLarge(String),
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
    /// The last record's length: the next record's buffer starts that large, so a record
    /// is copied once instead of through a chain of doublings.
    size_hint: usize,
    /// Tests only: frame with the byte loop alone, the reference the block scan must match.
    block_scan_off: bool,
    /// The whole input, when it is in memory: records are ranges of it, nothing is copied,
    /// and the chunks pushed must be its bytes in order.
    shared: Option<Arc<SharedInput>>,
    /// The CPU has AVX2 and carry-less multiplication: blocks are classified 32 bytes at a
    /// time, and the string mask is one multiplication.
    avx2: bool,
    /// The current record is a container whose bytes so far were all seen by the block scan
    /// with no backslash and no byte above 0x7F (see [`RecordBytes::is_plain`]).
    plain: bool,
}

/// Whether the block scan may use AVX2 (detected once per framer; std caches the answer).
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
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
            size_hint: 0,
            block_scan_off: false,
            shared: None,
            avx2: has_avx2(),
            plain: false,
        }
    }

    /// A framer over an input held whole in memory; push its bytes in order, from the start,
    /// in pieces of any size (see [`frame_shared`]).
    pub fn over(input: Arc<SharedInput>, max_record_bytes: usize) -> Framer {
        Framer {
            shared: Some(input),
            ..Framer::new(max_record_bytes)
        }
    }

    fn begin(&mut self, at: u64) {
        self.start = at;
        self.oversize = false;
        self.crossed_newline = false;
        if self.shared.is_some() {
            return;
        }
        self.buf.clear();
        self.buf
            .reserve(self.size_hint.min(self.max_record_bytes).saturating_add(64));
    }

    fn keep(&mut self, bytes: &[u8]) {
        if self.oversize || self.shared.is_some() {
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
        if let Some(input) = &self.shared {
            self.oversize = len > self.max_record_bytes as u64;
            if !self.oversize {
                // Offsets are positions in the shared input (it is pushed from its start).
                let (start, end) = (self.start as usize, self.pos as usize);
                out(FramedRecord {
                    offset: self.start,
                    body: Framed::Json(RecordBytes::shared(input, start, end, self.plain)),
                });
                self.value = Value::Outside;
                return;
            }
        }
        let body = if self.oversize {
            Framed::TooLarge(format!(
                "record at byte {} is {len} bytes, over the {}-byte limit for one record",
                self.start, self.max_record_bytes
            ))
        } else {
            self.size_hint = self.buf.len();
            Framed::Json(RecordBytes {
                repr: Repr::Owned(std::mem::take(&mut self.buf)),
                plain: self.plain,
            })
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
    ///
    /// Inside a container, whole 64-byte blocks are classified at once (see [`Block`]); a block
    /// that holds a backslash, and the tail of the chunk, go through the byte loop.
    fn scan_value(&mut self, bytes: &[u8]) -> (usize, bool) {
        let lines_mode = self.layout == Layout::Objects { lines: Some(true) };
        // Newlines matter in NDJSON, and while the first object tells whether the input is
        // NDJSON; everywhere else (an array, the usual bulk file, or objects known to span
        // lines) the block scan skips them.
        let newlines = lines_mode || self.layout == Layout::Objects { lines: None };
        let mut idx = 0;
        loop {
            if self.value == Value::Container && !self.block_scan_off {
                let scanned = if self.avx2 {
                    // SAFETY: `avx2` is set only when the CPU was detected to have AVX2 and
                    // PCLMULQDQ.
                    unsafe { self.scan_blocks_avx2(bytes, idx, lines_mode, newlines) }
                } else {
                    self.scan_blocks(bytes, idx, lines_mode, Block::classify, prefix_xor)
                };
                match scanned {
                    Ok(next) => idx = next,
                    Err(consumed) => return (consumed, true),
                }
            }
            if idx >= bytes.len() {
                return (bytes.len(), false);
            }
            let end = (idx + 64).min(bytes.len());
            if let Some(at) = self.scan_bytes(&bytes[idx..end], lines_mode) {
                return (idx + at, true);
            }
            idx = end;
        }
    }

    /// Whole 64-byte blocks from `idx`, while no escape is pending: `Ok(next index)` when the
    /// whole blocks run out or one holds a backslash, `Err(bytes consumed)` when the value ends.
    #[inline(always)]
    fn scan_blocks(
        &mut self,
        bytes: &[u8],
        mut idx: usize,
        lines_mode: bool,
        classify: impl Fn(&[u8; 64]) -> Block,
        in_string_mask: impl Fn(u64) -> u64,
    ) -> Result<usize, usize> {
        while !self.escape {
            let Some(block) = bytes.get(idx..idx + 64) else {
                break;
            };
            let Ok(block) = <&[u8; 64]>::try_from(block) else {
                break;
            };
            match self.scan_block(&classify(block), lines_mode, &in_string_mask) {
                BlockScan::Done(at) => return Err(idx + at),
                BlockScan::Open => idx += 64,
                BlockScan::Escapes => break,
            }
        }
        Ok(idx)
    }

    /// [`Framer::scan_blocks`] compiled for AVX2 and PCLMULQDQ: one compare per 32 bytes
    /// instead of 16, newlines looked for only when `newlines`, and the string mask in one
    /// carry-less multiplication (elsewhere than x86_64, the portable forms).
    ///
    /// # Safety
    /// The CPU must support AVX2 and PCLMULQDQ.
    #[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,pclmulqdq"))]
    unsafe fn scan_blocks_avx2(
        &mut self,
        bytes: &[u8],
        idx: usize,
        lines_mode: bool,
        newlines: bool,
    ) -> Result<usize, usize> {
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY (both closures): this function runs only on a CPU with AVX2 and
            // PCLMULQDQ (the caller's contract).
            let pxor = |x: u64| unsafe { prefix_xor_clmul(x) };
            if newlines {
                let classify = |b: &[u8; 64]| unsafe { Block::classify_avx2::<true>(b) };
                self.scan_blocks(bytes, idx, lines_mode, classify, pxor)
            } else {
                let classify = |b: &[u8; 64]| unsafe { Block::classify_avx2::<false>(b) };
                self.scan_blocks(bytes, idx, lines_mode, classify, pxor)
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = newlines;
            self.scan_blocks(bytes, idx, lines_mode, Block::classify, prefix_xor)
        }
    }

    /// One block without escapes, inside a container: the string mask is the prefix XOR of the
    /// quotes, and only brackets outside strings move the depth.
    #[inline(always)]
    fn scan_block(
        &mut self,
        m: &Block,
        lines_mode: bool,
        in_string_mask: impl Fn(u64) -> u64,
    ) -> BlockScan {
        // The whole block counts, even bytes past the record's end: conservative.
        if m.backslash | m.high != 0 {
            self.plain = false;
        }
        if m.backslash != 0 {
            return BlockScan::Escapes;
        }
        // Bit i set: byte i is inside a string (opening quote included, closing one not).
        let mut in_str = in_string_mask(m.quote);
        if self.in_string {
            in_str = !in_str;
        }
        // In NDJSON a line ends its record, inside a string or not.
        let limit = if lines_mode && m.newline != 0 {
            m.newline.trailing_zeros()
        } else {
            64
        };
        let below_limit = low_bits(limit);
        let mut brackets = (m.open | m.close) & !in_str & below_limit;
        // Most blocks sit deep inside a record: when there are fewer closing brackets than
        // levels, the value cannot end here, and the depth moves by a count, not bit by bit.
        let closes = u64::from((m.close & brackets).count_ones());
        if self.depth > closes {
            self.depth = self.depth + u64::from((m.open & brackets).count_ones()) - closes;
            brackets = 0;
        }
        while brackets != 0 {
            let i = brackets.trailing_zeros();
            brackets &= brackets - 1;
            if m.open & (1 << i) != 0 {
                self.depth += 1;
            } else {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    if m.newline & !in_str & low_bits(i) != 0 {
                        self.crossed_newline = true;
                    }
                    return BlockScan::Done(i as usize + 1);
                }
            }
        }
        if limit < 64 {
            return BlockScan::Done(limit as usize);
        }
        if m.newline & !in_str != 0 {
            self.crossed_newline = true;
        }
        self.in_string = in_str >> 63 == 1;
        BlockScan::Open
    }

    /// The byte loop: any bytes, escapes included. `Some(consumed)` when the value ends.
    fn scan_bytes(&mut self, bytes: &[u8], lines_mode: bool) -> Option<usize> {
        // The byte loop does not look for bytes above 0x7F: the record is not known plain.
        self.plain = false;
        let mut idx = 0;
        while idx < bytes.len() {
            if self.in_string {
                if self.escape {
                    self.escape = false;
                    if lines_mode && bytes[idx] == b'\n' {
                        // A backslash at the end of an NDJSON line does not escape the newline.
                        return Some(idx);
                    }
                    idx += 1;
                    continue;
                }
                match memchr2(b'"', b'\\', &bytes[idx..]) {
                    None => {
                        if lines_mode {
                            if let Some(nl) = memchr(b'\n', &bytes[idx..]) {
                                // A string never spans lines in NDJSON: the record ends here.
                                return Some(idx + nl);
                            }
                        }
                        return None;
                    }
                    Some(off) => {
                        if lines_mode {
                            if let Some(nl) = memchr(b'\n', &bytes[idx..idx + off]) {
                                return Some(idx + nl);
                            }
                        }
                        idx += off;
                        if bytes[idx] == b'\\' {
                            self.escape = true;
                        } else {
                            self.in_string = false;
                            if self.value == Value::TopString {
                                return Some(idx + 1);
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
                        return Some(idx + 1);
                    }
                }
                b'\n' => {
                    if lines_mode {
                        return Some(idx);
                    }
                    self.crossed_newline = true;
                }
                _ => {}
            }
            idx += 1;
        }
        None
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
        // Only the block scan (containers) establishes the fact.
        self.plain = matches!(c, b'{' | b'[');
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

/// What one 64-byte block did to the value being scanned.
enum BlockScan {
    /// The value ends after this many bytes of the block.
    Done(usize),
    /// The value goes on past the block.
    Open,
    /// The block holds a backslash: the byte loop must take it.
    Escapes,
}

/// The bytes of one block that framing cares about, one bit per byte (bit i = byte i).
#[derive(Default)]
struct Block {
    quote: u64,
    backslash: u64,
    open: u64,
    close: u64,
    newline: u64,
    /// Bytes above 0x7F (non-ASCII).
    high: u64,
}

impl Block {
    /// SSE2 is part of every x86_64 CPU, so this needs no runtime detection.
    #[cfg(target_arch = "x86_64")]
    #[inline]
    fn classify(block: &[u8; 64]) -> Block {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8,
        };
        // SAFETY (every block below): SSE2 is part of the x86_64 baseline, so its intrinsics
        // are always available; they only compare and move bits.
        let mask = |v: __m128i, c: u8| -> u64 {
            // `as i8`: the intrinsic takes the byte's bits as a signed byte; movemask fills the
            // low 16 bits only, and the `u16` cast keeps exactly those.
            let bits = unsafe { _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8))) };
            u64::from(bits as u16)
        };
        let mut m = Block::default();
        for (k, lane) in block.chunks_exact(16).enumerate() {
            // SAFETY: `lane` is 16 readable bytes, and `loadu` has no alignment requirement.
            let v = unsafe { _mm_loadu_si128(lane.as_ptr().cast::<__m128i>()) };
            // '[' 0x5B and '{' 0x7B differ only in bit 5; so do ']' 0x5D and '}' 0x7D.
            let folded = unsafe { _mm_or_si128(v, _mm_set1_epi8(0x20)) };
            let shift = 16 * k;
            m.quote |= mask(v, b'"') << shift;
            m.backslash |= mask(v, b'\\') << shift;
            m.open |= mask(folded, b'{') << shift;
            m.close |= mask(folded, b'}') << shift;
            m.newline |= mask(v, b'\n') << shift;
            // The sign bits are the high bits: movemask of the bytes themselves.
            m.high |= u64::from(unsafe { _mm_movemask_epi8(v) } as u16) << shift;
        }
        m
    }

    /// The same classification with AVX2, two 32-byte lanes.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn classify_avx2<const NEWLINES: bool>(block: &[u8; 64]) -> Block {
        use std::arch::x86_64::{
            __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
            _mm256_set1_epi8,
        };
        // A macro, not a closure: the compares must be compiled with this function's AVX2.
        macro_rules! bits {
            ($v:expr, $c:expr) => {
                // `as u32`: movemask's 32 bits, one per byte, reinterpreted.
                u64::from(
                    _mm256_movemask_epi8(_mm256_cmpeq_epi8($v, _mm256_set1_epi8($c as i8))) as u32,
                )
            };
        }
        let mut m = Block::default();
        for (k, lane) in block.chunks_exact(32).enumerate() {
            // SAFETY: `lane` is 32 readable bytes, and `loadu` has no alignment requirement.
            let v = unsafe { _mm256_loadu_si256(lane.as_ptr().cast::<__m256i>()) };
            let folded = _mm256_or_si256(v, _mm256_set1_epi8(0x20));
            let shift = 32 * k;
            m.quote |= bits!(v, b'"') << shift;
            m.backslash |= bits!(v, b'\\') << shift;
            m.open |= bits!(folded, b'{') << shift;
            m.close |= bits!(folded, b'}') << shift;
            if NEWLINES {
                m.newline |= bits!(v, b'\n') << shift;
            }
            m.high |= u64::from(_mm256_movemask_epi8(v) as u32) << shift;
        }
        m
    }

    /// The portable form of the same classification.
    #[cfg(not(target_arch = "x86_64"))]
    #[inline]
    fn classify(block: &[u8; 64]) -> Block {
        let mut m = Block::default();
        for (i, &c) in block.iter().enumerate() {
            m.quote |= u64::from(c == b'"') << i;
            m.backslash |= u64::from(c == b'\\') << i;
            m.open |= u64::from((c | 0x20) == b'{') << i;
            m.close |= u64::from((c | 0x20) == b'}') << i;
            m.newline |= u64::from(c == b'\n') << i;
            m.high |= u64::from(c >= 0x80) << i;
        }
        m
    }
}

/// Bit i of the result is the XOR of bits 0..=i of `x`.
#[inline]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// [`prefix_xor`] as one carry-less multiplication by all ones.
///
/// # Safety
/// The CPU must support PCLMULQDQ.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
#[inline]
unsafe fn prefix_xor_clmul(x: u64) -> u64 {
    use std::arch::x86_64::{_mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x};
    // `as i64` / `as u64`: the same 64 bits, as the intrinsics type them.
    let product = _mm_clmulepi64_si128(_mm_set_epi64x(0, x as i64), _mm_set_epi64x(0, -1), 0);
    _mm_cvtsi128_si64(product) as u64
}

/// The `n` lowest bits set (`n` <= 64).
#[inline]
fn low_bits(n: u32) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

fn describe(c: u8) -> String {
    if c.is_ascii_graphic() {
        format!("'{}'", char::from(c))
    } else {
        format!("byte 0x{c:02x}")
    }
}

/// Frames an input held whole in memory, in pieces of `piece` bytes, without copying records.
pub fn frame_shared(
    input: Arc<SharedInput>,
    max_record_bytes: usize,
    piece: usize,
    mut out: impl FnMut(FramedRecord),
) -> Vec<String> {
    let mut framer = Framer::over(Arc::clone(&input), max_record_bytes);
    for bytes in input.chunks(piece.max(1)) {
        framer.push(bytes, &mut out);
    }
    framer.finish(&mut out);
    framer.warnings
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
            Framed::Bad(m) | Framed::TooLarge(m) => panic!("bad: {m}"),
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
        assert!(matches!(&v[0].body, Framed::TooLarge(m) if m.contains("1000-byte limit")));
        assert_eq!(json(&v[1]), "{\"b\":1}");
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let deep = format!("[{}{}]", "[".repeat(100_000), "]".repeat(100_000));
        let (r, _) = frame(deep.as_bytes(), 4096);
        assert_eq!(r.len(), 1);
    }

    /// Frames an in-memory shared input, as the pipeline frames a mapped file.
    fn frame_shared_by(input: &[u8], max: usize, piece: usize) -> (Vec<FramedRecord>, Vec<String>) {
        let mut v = Vec::new();
        let shared = Arc::new(SharedInput::Buffer(input.to_vec()));
        let w = frame_shared(shared, max, piece, |r| v.push(r));
        (v, w)
    }

    /// Frames with the 64-byte block scan on or off (off: the byte loop alone).
    fn frame_by(input: &[u8], chunk: usize, block_scan: bool) -> (Vec<FramedRecord>, Vec<String>) {
        frame_with(input, chunk, block_scan, has_avx2())
    }

    /// `avx2 = false` forces the SSE2 block scan on a CPU that has AVX2.
    fn frame_with(
        input: &[u8],
        chunk: usize,
        block_scan: bool,
        avx2: bool,
    ) -> (Vec<FramedRecord>, Vec<String>) {
        let mut framer = Framer::new(1 << 20);
        framer.block_scan_off = !block_scan;
        // Never AVX2 on a CPU without it, whatever the caller asks.
        framer.avx2 = avx2 && has_avx2();
        let mut v = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            framer.push(piece, &mut |r| v.push(r));
        }
        framer.finish(&mut |r| v.push(r));
        (v, framer.warnings)
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_and_sse2_classify_blocks_alike() {
        if !has_avx2() {
            eprintln!("skipped: this CPU has no AVX2 or PCLMULQDQ");
            return;
        }
        // Every framing byte at every position, over a deterministic pseudo-random filler.
        let alphabet = b"{}[]\"\\\n,:a {[}]\x80\xc3\xa9\xff";
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for round in 0..2000 {
            let mut block = [0u8; 64];
            for b in &mut block {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *b = alphabet[(state % alphabet.len() as u64) as usize];
            }
            block[round % 64] = [b'{', b'}', b'"', b'\\', b'\n', b'[', b']'][round % 7];
            let sse2 = Block::classify(&block);
            // SAFETY: the CPU has AVX2 and PCLMULQDQ (checked above).
            let avx2 = unsafe { Block::classify_avx2::<true>(&block) };
            // Without newlines: the same masks, and no newline bits.
            // SAFETY: as above.
            let no_nl = unsafe { Block::classify_avx2::<false>(&block) };
            assert_eq!(
                (
                    no_nl.quote,
                    no_nl.backslash,
                    no_nl.open,
                    no_nl.close,
                    no_nl.newline
                ),
                (avx2.quote, avx2.backslash, avx2.open, avx2.close, 0)
            );
            assert_eq!(no_nl.high, avx2.high);
            assert_eq!(
                // SAFETY: the CPU has PCLMULQDQ (checked above).
                unsafe { prefix_xor_clmul(sse2.quote ^ state) },
                prefix_xor(sse2.quote ^ state)
            );
            assert_eq!(
                (
                    sse2.quote,
                    sse2.backslash,
                    sse2.open,
                    sse2.close,
                    sse2.newline,
                    sse2.high
                ),
                (
                    avx2.quote,
                    avx2.backslash,
                    avx2.open,
                    avx2.close,
                    avx2.newline,
                    avx2.high
                ),
                "block {block:?}"
            );
        }
    }

    /// The records a plain-record claim is checked on: every framing path.
    fn all_framings(input: &[u8], chunk: usize) -> Vec<FramedRecord> {
        let mut all = frame_by(input, chunk, true).0;
        all.extend(frame_by(input, input.len(), true).0);
        all.extend(frame_with(input, chunk, true, false).0);
        all.extend(frame_shared_by(input, 1 << 20, chunk).0);
        all
    }

    /// Which records of an input framed whole are claimed plain.
    fn plain_claims(input: &str) -> Vec<bool> {
        let (r, _) = frame_shared_by(input.as_bytes(), 1 << 20, input.len());
        r.iter()
            .map(|r| matches!(&r.body, Framed::Json(b) if b.is_plain()))
            .collect()
    }

    #[test]
    fn plain_records_are_known_plain() {
        // ASCII without backslashes, framed whole by the block scan: the fact is established.
        let rec = format!("{{\"a\":\"{}\",\"b\":[1,2]}}", "x".repeat(150));
        // The last record's tail is shorter than a block: the byte loop takes it, and it is
        // not claimed plain.
        assert_eq!(
            plain_claims(&format!("[{rec},{rec},{rec}]")),
            [true, true, false]
        );
        // A backslash, or a byte above 0x7F, in the first record: it is not claimed plain (the
        // second, `rec`, ends the input, so its tail takes the byte loop either way).
        for odd in ["\\\"", "\\u00e9", "é"] {
            let other = format!("{{\"a\":\"{odd}\"}}");
            assert_eq!(
                plain_claims(&format!("[{other},{rec}]")),
                [false, false],
                "{odd}"
            );
        }
        // NDJSON: a newline ends each record, and the records before the last are plain.
        assert_eq!(
            plain_claims(&format!("{rec}\n{rec}\n{rec}\n")),
            [true, true, false]
        );
        // Records made from owned bytes claim nothing.
        assert!(!RecordBytes::from(b"{}".to_vec()).is_plain());
    }

    #[test]
    fn block_scan_crosses_blocks_inside_strings() {
        // A string that opens in one 64-byte block and closes in the next, with brackets in it.
        let long = format!("{{\"a\":\"{}{{[\",\"b\":[1]}}", "x".repeat(60));
        let input = format!("[{long},{long}]");
        let (r, _) = frame_by(input.as_bytes(), input.len(), true);
        assert_eq!(r.len(), 2);
        assert_eq!(json(&r[1]), long);
    }

    /// Arbitrary input for framing: a layout's first bytes (array, objects, not JSON), then
    /// single structural or plain bytes (escapes, newlines and bytes above 0x7F among them)
    /// and whole strings, long enough to cross blocks, with brackets inside.
    fn framing_input() -> impl Strategy<Value = Vec<u8>> {
        let head = prop::sample::select(vec![&b"["[..], b"{", b" \n[", b"x"]);
        let tokens = proptest::collection::vec(
            prop_oneof![
                prop::sample::select(b"{}[]\"\\\n,:a 1\xc3\xa9\x80".to_vec()).prop_map(|c| vec![c]),
                "[a-z{}\\[\\] ]{0,90}".prop_map(|s| format!("\"{s}\"").into_bytes()),
            ],
            0..120,
        );
        (head, tokens).prop_map(|(head, tokens)| [head, &tokens.concat()[..]].concat())
    }

    proptest! {
        /// A record claimed plain has no backslash and no byte above 0x7F, on any bytes cut
        /// into any chunks (validation skips checks on the strength of the claim).
        #[test]
        fn a_plain_claim_holds(input in framing_input(), chunk in 1usize..300) {
            for r in all_framings(&input, chunk) {
                if let Framed::Json(b) = &r.body {
                    if b.is_plain() {
                        prop_assert!(b.is_ascii() && !b.contains(&b'\\'), "{:?}", b);
                    }
                }
            }
        }

        /// The block scan is an optimisation of the byte loop: on any bytes, in any layout, cut
        /// into any chunks, both frame the same records with the same warnings.
        #[test]
        fn block_scan_matches_the_byte_loop(input in framing_input(), chunk in 1usize..300) {
            let reference = frame_by(&input, input.len(), false);
            prop_assert_eq!(&frame_by(&input, chunk, true), &reference);
            prop_assert_eq!(&frame_by(&input, input.len(), true), &reference);
            // Both block classifiers, whichever the CPU picks by default.
            prop_assert_eq!(&frame_with(&input, chunk, true, false), &reference);
        }

        /// Records framed as ranges of a shared input are the records framed as copies: same
        /// bytes, offsets, warnings and oversize rejections, a byte order mark included.
        #[test]
        fn shared_input_frames_what_the_copies_frame(
            head in prop::sample::select(vec![&b"["[..], b"{", b"\xEF\xBB\xBF[", b"\xEF\xBB{", b"x"]),
            tokens in proptest::collection::vec(
                prop_oneof![
                    prop::sample::select(b"{}[]\"\\\n,:a 1".to_vec()).prop_map(|c| vec![c]),
                    "[a-z{}\\[\\] ]{0,90}".prop_map(|s| format!("\"{s}\"").into_bytes()),
                ],
                0..120,
            ),
            max in prop::sample::select(vec![8usize, 40, 200, 1 << 20]),
            piece in 1usize..300,
        ) {
            let input = [head, &tokens.concat()[..]].concat();
            let mut copies = Vec::new();
            let warnings = frame_reader(&input[..], max, piece, |r| copies.push(r)).unwrap();
            prop_assert_eq!(frame_shared_by(&input, max, piece), (copies, warnings));
        }

        #[test]
        fn framing_does_not_depend_on_chunking(
            objs in proptest::collection::vec("[a-z\\\\\"{}\\[\\],: ]{0,90}", 0..8),
            ndjson in any::<bool>(),
            chunk in 1usize..200,
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
