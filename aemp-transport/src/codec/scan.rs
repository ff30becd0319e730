//! Resumable scanners that find where an incomplete item will end.
//!
//! Decoding is attempted on the whole buffer first (the fast path: small messages arrive
//! whole). When the buffer ends inside an item, the decoder switches to a scanner that
//! walks only the bytes that arrived since its last call and reports the item's end once it
//! is buffered; only then is the item decoded, once. Without this, a large message arriving
//! in many reads would be re-parsed from its start on every read (quadratic time).

use super::cbor::{head, Head, Malformed, INDEFINITE};
use super::MAX_DEPTH;

/// What a scan found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Scan {
    /// The item ends at this offset.
    Complete(usize),
    /// More bytes are needed.
    Incomplete,
    /// The scanner cannot tell (an unusual item): decode to find out.
    Decode,
    /// The stream is not well formed: it cannot be read any further.
    Corrupt(String),
}

/// A scanner for one framing.
#[derive(Debug)]
pub(super) enum Scanner {
    Cbor(CborScan),
    Json(JsonScan),
}

impl Scanner {
    pub(super) fn new(framing: crate::Framing, max: usize) -> Scanner {
        match framing {
            crate::Framing::Cbor => Scanner::Cbor(CborScan::new(max)),
            crate::Framing::Json => Scanner::Json(JsonScan::default()),
        }
    }

    pub(super) fn advance(&mut self, buf: &[u8]) -> Scan {
        match self {
            Scanner::Cbor(s) => s.advance(buf),
            Scanner::Json(s) => s.advance(buf),
        }
    }

    /// After [`Scan::Complete`]: what the item looks like. Ready for the next item.
    pub(super) fn finish(&mut self, item: &[u8]) -> Shape {
        match self {
            Scanner::Cbor(s) => {
                let shape = s.shape;
                *s = CborScan::new(s.max);
                shape
            }
            Scanner::Json(s) => {
                *s = JsonScan::default();
                json_shape(item)
            }
        }
    }

    /// Forgets a partly scanned item.
    pub(super) fn reset(&mut self) {
        match self {
            Scanner::Cbor(s) => *s = CborScan::new(s.max),
            Scanner::Json(s) => *s = JsonScan::default(),
        }
    }
}

/// What a scanned message looks like, found on the way: enough to route it undecoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Shape {
    /// The item is an array.
    pub(crate) array: bool,
    /// The number of elements of a definite-length (CBOR) array.
    pub(crate) count: Option<usize>,
    /// Where the first element's content lies, when it is a definite-length string.
    pub(crate) dest: Option<(usize, usize)>,
    /// Where the second element starts (CBOR, when `dest` is known).
    pub(crate) body_at: usize,
    /// The array is empty (`[]`, the keepalive).
    pub(crate) empty: bool,
}

/// One open container of a CBOR scan.
#[derive(Clone, Copy, Debug)]
enum Open {
    /// An array or map with this many items still to come.
    Items(u64),
    /// An indefinite-length array or map, ended by a break (for a map, only after a value:
    /// `odd` while a key waits for its value).
    Indefinite { map: bool, odd: bool },
    /// A tag: one item to come.
    Tag,
    /// An indefinite-length string of this major type: definite chunks of it up to a break.
    Chunks(u8),
}

/// Walks CBOR headers without building values, checking everything that makes a stream
/// unreadable (as the decoder would find it: reserved headers, misplaced breaks, bad chunks,
/// nesting, strings over the limit), so that a message it passes can be decoded later, by
/// whoever handles it, without a fatal error. Keeps the open containers between calls.
#[derive(Debug)]
pub(super) struct CborScan {
    pos: usize,
    open: Vec<Open>,
    /// Containers and tags open (chunked strings do not nest).
    depth: usize,
    max: usize,
    shape: Shape,
    /// The message's first element has been passed.
    first_seen: bool,
}

impl CborScan {
    fn new(max: usize) -> CborScan {
        CborScan {
            pos: 0,
            open: Vec::new(),
            depth: 0,
            max,
            shape: Shape::default(),
            first_seen: false,
        }
    }

    fn advance(&mut self, buf: &[u8]) -> Scan {
        if self.pos == 0 {
            if let Some(end) = self.flat_array(buf) {
                return Scan::Complete(end);
            }
        }
        loop {
            let start = self.pos;
            let Head {
                major,
                info,
                arg,
                size: header,
            } = match head(buf, start) {
                Ok(Some(h)) => h,
                Ok(None) => return Scan::Incomplete,
                Err(Malformed) => {
                    return Scan::Corrupt(format!("invalid CBOR header at byte {start}"))
                }
            };
            if let Some(&Open::Chunks(string)) = self.open.last() {
                if major == 7 && info == INDEFINITE {
                    self.pos += 1;
                    self.open.pop();
                    if let Some(end) = self.item_done(None) {
                        return Scan::Complete(end);
                    }
                    continue;
                }
                if major != string || info == INDEFINITE {
                    return Scan::Corrupt("invalid chunk in indefinite-length CBOR string".into());
                }
                match self.string(buf, arg, header) {
                    Ok(true) => continue,
                    Ok(false) => return Scan::Incomplete,
                    Err(reason) => return Scan::Corrupt(reason),
                }
            }
            if start == 0 && major == 4 {
                self.shape.array = true;
                self.shape.count = usize::try_from(arg).ok().filter(|_| info != INDEFINITE);
                self.shape.empty = self.shape.count == Some(0);
            }
            if info == INDEFINITE {
                self.pos += 1;
                match major {
                    2 | 3 => self.open.push(Open::Chunks(major)),
                    4 | 5 => {
                        if let Err(reason) = self.nest() {
                            return Scan::Corrupt(reason);
                        }
                        self.open.push(Open::Indefinite {
                            map: major == 5,
                            odd: false,
                        });
                    }
                    // A break.
                    _ => {
                        if !matches!(
                            self.open.pop(),
                            Some(
                                Open::Indefinite { map: false, .. }
                                    | Open::Indefinite { odd: false, .. }
                            )
                        ) {
                            return Scan::Corrupt(format!("unexpected CBOR break at byte {start}"));
                        }
                        self.depth -= 1;
                        if start == 1 {
                            self.shape.empty = true;
                        }
                        if let Some(end) = self.item_done(None) {
                            return Scan::Complete(end);
                        }
                    }
                }
                continue;
            }
            match major {
                2 | 3 => match self.string(buf, arg, header) {
                    Ok(true) => {
                        if let Some(end) = self.item_done(Some((start + header, self.pos))) {
                            return Scan::Complete(end);
                        }
                        continue;
                    }
                    Ok(false) => return Scan::Incomplete,
                    Err(reason) => return Scan::Corrupt(reason),
                },
                4 | 5 => {
                    if let Err(reason) = self.nest() {
                        return Scan::Corrupt(reason);
                    }
                    self.pos += header;
                    let items = if major == 4 {
                        Some(arg)
                    } else {
                        arg.checked_mul(2)
                    };
                    match items {
                        Some(0) => self.depth -= 1,
                        Some(n) => {
                            self.open.push(Open::Items(n));
                            continue;
                        }
                        None => {
                            return Scan::Corrupt(format!("invalid CBOR header at byte {start}"))
                        }
                    }
                }
                6 => {
                    self.pos += header;
                    // Self-describe is a marker without meaning; other tags nest.
                    if arg != super::cbor::TAG_SELF_DESCRIBE {
                        if let Err(reason) = self.nest() {
                            return Scan::Corrupt(reason);
                        }
                        self.open.push(Open::Tag);
                    }
                    continue;
                }
                _ => self.pos += header,
            }
            if let Some(end) = self.item_done(None) {
                return Scan::Complete(end);
            }
        }
    }

    /// The common message, framed in one pass: a definite-length array, all arrived, whose
    /// elements are plain (numbers, simple values, definite-length strings). Its end, with
    /// the shape noted as the general walk notes it; `None` for anything else (nested or
    /// tagged elements, indefinite lengths, a string over the limit, a bad header, an item
    /// not all arrived), which the general walk takes from the start.
    fn flat_array(&mut self, buf: &[u8]) -> Option<usize> {
        let array = head(buf, 0).ok()??;
        if array.major != 4 || array.info == INDEFINITE {
            return None;
        }
        // (Every element takes a byte at least: a longer count has not all arrived.)
        let count = usize::try_from(array.arg)
            .ok()
            .filter(|&n| n <= buf.len())?;
        let mut pos = array.size;
        let mut shape = Shape {
            array: true,
            count: Some(count),
            empty: count == 0,
            ..Shape::default()
        };
        for i in 0..count {
            let item = head(buf, pos).ok()??;
            if item.info == INDEFINITE {
                return None;
            }
            let mut string = None;
            match item.major {
                0 | 1 | 7 => pos += item.size,
                2 | 3 => {
                    let len = usize::try_from(item.arg).ok().filter(|&n| n <= self.max)?;
                    let end = (pos + item.size).checked_add(len)?;
                    if end > buf.len() {
                        return None;
                    }
                    string = Some((pos + item.size, end));
                    pos = end;
                }
                _ => return None,
            }
            if i == 0 {
                shape.body_at = pos;
                shape.dest = string;
            }
        }
        self.shape = shape;
        self.pos = pos;
        Some(pos)
    }

    /// Moves past a definite-length string (or chunk) whose header is at the position: false
    /// if it has not all arrived.
    fn string(&mut self, buf: &[u8], len: u64, header: usize) -> Result<bool, String> {
        let n = usize::try_from(len).unwrap_or(usize::MAX);
        if n > self.max {
            return Err(format!(
                "CBOR string of {n} bytes exceeds the message limit of {} bytes",
                self.max
            ));
        }
        let end = self.pos + header + n;
        if end > buf.len() {
            return Ok(false);
        }
        self.pos = end;
        Ok(true)
    }

    fn nest(&mut self) -> Result<(), String> {
        if self.depth >= MAX_DEPTH {
            return Err(format!("nesting deeper than {MAX_DEPTH}"));
        }
        self.depth += 1;
        Ok(())
    }

    /// An item is complete (`string`: the content of a definite-length string): note the
    /// message's first element, count the item against the innermost open container, closing
    /// those that are full. Returns the end of the top-level item once it is complete.
    fn item_done(&mut self, mut string: Option<(usize, usize)>) -> Option<usize> {
        loop {
            if self.shape.array && self.open.len() == 1 && !self.first_seen {
                // The message's first element: its name, and where the body starts.
                self.first_seen = true;
                self.shape.body_at = self.pos;
                self.shape.dest = string;
            }
            // Items counted further up are containers, not strings.
            string = None;
            match self.open.last_mut() {
                None => return Some(self.pos),
                Some(Open::Indefinite { map, odd }) => {
                    if *map {
                        *odd = !*odd;
                    }
                    return None;
                }
                Some(Open::Chunks(_)) => return None,
                Some(Open::Tag) => {
                    self.open.pop();
                    self.depth -= 1;
                }
                Some(Open::Items(n)) => {
                    *n -= 1;
                    if *n > 0 {
                        return None;
                    }
                    self.open.pop();
                    self.depth -= 1;
                }
            }
        }
    }
}

/// The shape of a whole JSON message: an array, empty or not, and its first element's
/// content when it is a string without escapes.
fn json_shape(item: &[u8]) -> Shape {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let mut shape = Shape::default();
    let Some(open) = item.iter().position(|b| !ws(b)) else {
        return shape;
    };
    if item[open] != b'[' {
        return shape;
    }
    shape.array = true;
    let Some(first) = item[open + 1..]
        .iter()
        .position(|b| !ws(b))
        .map(|p| p + open + 1)
    else {
        return shape;
    };
    match item[first] {
        b']' => shape.empty = true,
        b'"' => {
            let content = first + 1;
            if let Some(len) = item[content..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\')
            {
                if item[content + len] == b'"' {
                    shape.dest = Some((content, content + len));
                    shape.body_at = content + len + 1;
                }
            }
        }
        _ => {}
    }
    shape
}

/// Tracks JSON nesting and strings to find where a top-level array or object ends.
#[derive(Debug, Default)]
pub(super) struct JsonScan {
    pos: usize,
    depth: usize,
    started: bool,
    in_string: bool,
    escaped: bool,
}

impl JsonScan {
    fn advance(&mut self, buf: &[u8]) -> Scan {
        while let Some(&b) = buf.get(self.pos) {
            self.pos += 1;
            if !self.started {
                match b {
                    b' ' | b'\t' | b'\n' | b'\r' => continue,
                    b'[' | b'{' => {
                        self.started = true;
                        self.depth = 1;
                        continue;
                    }
                    _ => return Scan::Decode,
                }
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'[' | b'{' => self.depth += 1,
                b']' | b'}' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        return Scan::Complete(self.pos);
                    }
                }
                _ => {}
            }
        }
        Scan::Incomplete
    }
}

#[cfg(test)]
mod tests;
