//! Relaxed JSON, as JSON::XS's relaxed mode reads it (`#` comments, trailing commas), and
//! JSON written back as Perl's aemp writes it.

use aemp_transport::Value;

use crate::error::JsonError;
use crate::map::{key_text, map_set};

/// The deepest nesting the rc file may have.
pub(crate) const MAX_DEPTH: usize = 512;

// ---------------------------------------------------------------------------------------
// JSON, relaxed as JSON::XS's `relaxed` reads it, written as its `pretty` writes it.

/// Parses relaxed JSON (JSON::XS's relaxed mode: `#` comments to the end of the line,
/// a comma after the last element of an array or object, literal tabs in strings).
/// Duplicate keys: the last wins.
///
/// ```
/// use aemp_config::parse_json;
/// use aemp_transport::Value;
/// let v = parse_json("[1, \"two\", # a comment\n {\"three\": 3,},]").unwrap();
/// assert_eq!(v.as_array().unwrap().len(), 3);
/// let e = parse_json("{\n  \"a\": 1\n  \"b\": 2\n}").unwrap_err();
/// assert_eq!((e.line, e.column), (3, 3));
/// ```
pub fn parse_json(text: &str) -> Result<Value, JsonError> {
    let mut p = Parser {
        text,
        s: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    p.skip_ws();
    let v = p.value()?;
    p.skip_ws();
    if p.pos < p.s.len() {
        return Err(p.error("unexpected text after the JSON value"));
    }
    Ok(v)
}

/// Line and column (from 1; the column in characters) of byte offset `pos`.
pub(crate) fn position(text: &str, pos: usize) -> (usize, usize) {
    let before = &text[..pos.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

struct Parser<'a> {
    text: &'a str,
    s: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> JsonError {
        self.error_at(self.pos, message)
    }

    fn error_at(&self, pos: usize, message: impl Into<String>) -> JsonError {
        let (line, column) = position(self.text, pos);
        JsonError {
            line,
            column,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn found(&self) -> String {
        match self.text[self.pos..].chars().next() {
            None => "the end of the text".into(),
            Some(c) => format!("{c:?}"),
        }
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\n' | b'\r' => self.pos += 1,
                b'#' => {
                    while let Some(c) = self.peek() {
                        if c == b'\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn value(&mut self) -> Result<Value, JsonError> {
        match self.peek() {
            Some(b'{') => self.nested(Self::object),
            Some(b'[') => self.nested(Self::array),
            Some(b'"') => self.string().map(Value::Text),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            _ => Err(self.error(format!("expected a value, found {}", self.found()))),
        }
    }

    fn nested(&mut self, f: fn(&mut Self) -> Result<Value, JsonError>) -> Result<Value, JsonError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.depth += 1;
        let v = f(self);
        self.depth -= 1;
        v
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, JsonError> {
        if self.s[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.error(format!("expected a value, found {}", self.found())))
        }
    }

    fn object(&mut self) -> Result<Value, JsonError> {
        self.pos += 1;
        let mut m: Vec<(Value, Value)> = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Map(m));
                }
                Some(b'"') => {}
                _ => {
                    return Err(self.error(format!(
                        "expected a string key or '}}', found {}",
                        self.found()
                    )))
                }
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.error(format!("expected ':', found {}", self.found())));
            }
            self.pos += 1;
            self.skip_ws();
            let v = self.value()?;
            map_set(&mut m, &key, v);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => {
                    return Err(self.error(format!("expected ',' or '}}', found {}", self.found())))
                }
            }
        }
    }

    fn array(&mut self) -> Result<Value, JsonError> {
        self.pos += 1;
        let mut a = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(b']') {
                self.pos += 1;
                return Ok(Value::Array(a));
            }
            a.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {}
                _ => return Err(self.error(format!("expected ',' or ']', found {}", self.found()))),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .s
            .get(self.pos..self.pos + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error("expected four hex digits after \\u"))?;
        self.pos += 4;
        Ok(u32::from_str_radix(digits, 16).unwrap_or_default())
    }

    fn string(&mut self) -> Result<String, JsonError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run = self.pos;
            while let Some(c) = self.peek() {
                if c == b'"' || c == b'\\' || (c < 0x20 && c != b'\t') {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[run..self.pos]);
            match self.peek() {
                None => return Err(self.error_at(start, "unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let esc = self.peek();
                    self.pos += 1;
                    match esc {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => {
                            let at = self.pos - 2;
                            let mut c = self.hex4()?;
                            if (0xD800..0xDC00).contains(&c) {
                                if !self.s[self.pos..].starts_with(b"\\u") {
                                    return Err(self.error_at(at, "missing low surrogate"));
                                }
                                self.pos += 2;
                                let low = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return Err(self.error_at(at, "invalid surrogate pair"));
                                }
                                c = 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00);
                            }
                            out.push(
                                char::from_u32(c)
                                    .ok_or_else(|| self.error_at(at, "lone low surrogate"))?,
                            );
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.error_at(self.pos - 1, "invalid escape"));
                        }
                    }
                }
                Some(_) => {
                    return Err(self.error("control character in a string (write it as \\n etc.)"))
                }
            }
        }
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let from = p.pos;
            while matches!(p.peek(), Some(b'0'..=b'9')) {
                p.pos += 1;
            }
            p.pos - from
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        if digits(self) == 0 {
            return Err(self.error("malformed number: expected a digit"));
        }
        if self.s[int_start] == b'0' && self.pos - int_start > 1 {
            return Err(self.error_at(int_start, "malformed number: leading zero"));
        }
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            float = true;
            if digits(self) == 0 {
                return Err(self.error("malformed number: expected a digit after '.'"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            float = true;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("malformed number: expected a digit in the exponent"));
            }
        }
        let text = &self.text[start..self.pos];
        if !float {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Value::Int(i));
            }
            if let Ok(u) = text.parse::<u64>() {
                return Ok(Value::UInt(u));
            }
        }
        text.parse::<f64>()
            .map(Value::Float)
            .map_err(|_| self.error_at(start, "malformed number"))
    }
}

/// JSON text of `value`: compact, or in JSON::XS's `pretty` style (three spaces of
/// indentation, `"key" : value`). Byte strings become strings (UTF-8, else Latin-1, as Perl
/// reads them); NaN and infinities become `null`.
pub fn to_json(value: &Value, pretty: bool) -> String {
    let mut out = String::new();
    write_json(&mut out, value, pretty, 0);
    out
}

pub(crate) fn write_json(out: &mut String, v: &Value, pretty: bool, level: usize) {
    let newline = |out: &mut String, level: usize| {
        if pretty {
            out.push('\n');
            for _ in 0..level {
                out.push_str("   ");
            }
        }
    };
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::UInt(u) => out.push_str(&u.to_string()),
        Value::Float(f) if f.is_finite() => out.push_str(&f.to_string()),
        Value::Float(_) => out.push_str("null"),
        Value::Text(_) | Value::Bytes(_) => write_str(out, &v.to_text().unwrap_or_default()),
        Value::Array(a) if a.is_empty() => out.push_str("[]"),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                write_json(out, item, pretty, level + 1);
            }
            newline(out, level);
            out.push(']');
        }
        Value::Map(m) if m.is_empty() => out.push_str("{}"),
        Value::Map(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                write_str(out, &key_text(k));
                out.push_str(if pretty { " : " } else { ":" });
                write_json(out, item, pretty, level + 1);
            }
            newline(out, level);
            out.push('}');
        }
    }
}

pub(crate) fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}
