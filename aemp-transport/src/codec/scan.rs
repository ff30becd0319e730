//! Resumable scanners that find where an incomplete item will end.
//!
//! Decoding is attempted on the whole buffer first (the fast path: small messages arrive
//! whole). When the buffer ends inside an item, the decoder switches to a scanner that
//! walks only the bytes that arrived since its last call and reports the item's end once it
//! is buffered; only then is the item decoded, once. Without this, a large message arriving
//! in many reads would be re-parsed from its start on every read (quadratic time).

use super::cbor::{head, Head, Malformed, INDEFINITE};

/// What a scan found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Scan {
    /// The item ends at this offset: decode it.
    Complete(usize),
    /// More bytes are needed.
    Incomplete,
    /// The scanner cannot tell (a malformed or unusual item): decode to find out.
    Decode,
}

/// A scanner for one framing.
#[derive(Debug)]
pub(super) enum Scanner {
    Cbor(CborScan),
    Json(JsonScan),
}

impl Scanner {
    pub(super) fn advance(&mut self, buf: &[u8]) -> Scan {
        match self {
            Scanner::Cbor(s) => s.advance(buf),
            Scanner::Json(s) => s.advance(buf),
        }
    }
}

/// Walks CBOR headers without building values. Keeps, per open array or map, how many
/// items are still to come (`None`: indefinite length, ended by a break).
#[derive(Debug, Default)]
pub(super) struct CborScan {
    pos: usize,
    open: Vec<Option<u64>>,
}

impl CborScan {
    fn advance(&mut self, buf: &[u8]) -> Scan {
        loop {
            let Head {
                major,
                info,
                arg,
                size: header,
            } = match head(buf, self.pos) {
                Ok(Some(h)) => h,
                Ok(None) => return Scan::Incomplete,
                Err(Malformed) => return Scan::Decode,
            };
            if info == INDEFINITE {
                self.pos += 1;
                if major != 7 {
                    // An indefinite-length array, map or string opens.
                    self.open.push(None);
                    continue;
                }
                // A break.
                match self.open.pop() {
                    Some(None) => {
                        if let Some(end) = self.item_done() {
                            return Scan::Complete(end);
                        }
                        continue;
                    }
                    _ => return Scan::Decode,
                }
            }
            match major {
                2 | 3 => {
                    let Some(end) = usize::try_from(arg)
                        .ok()
                        .and_then(|n| (self.pos + header).checked_add(n))
                    else {
                        return Scan::Decode;
                    };
                    if end > buf.len() {
                        return Scan::Incomplete;
                    }
                    self.pos = end;
                }
                4 | 5 => {
                    self.pos += header;
                    let items = if major == 4 {
                        Some(arg)
                    } else {
                        arg.checked_mul(2)
                    };
                    match items {
                        Some(0) => {}
                        Some(n) => {
                            self.open.push(Some(n));
                            continue;
                        }
                        None => return Scan::Decode,
                    }
                }
                6 => {
                    // A tag belongs to the item after it.
                    self.pos += header;
                    continue;
                }
                _ => self.pos += header,
            }
            if let Some(end) = self.item_done() {
                return Scan::Complete(end);
            }
        }
    }

    /// One item finished: count it against the innermost open container, closing those that
    /// are full. Returns the end of the top-level item once it is complete.
    fn item_done(&mut self) -> Option<usize> {
        loop {
            match self.open.last_mut() {
                None => return Some(self.pos),
                Some(None) => return None,
                Some(Some(n)) => {
                    *n -= 1;
                    if *n > 0 {
                        return None;
                    }
                    self.open.pop();
                }
            }
        }
    }
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
