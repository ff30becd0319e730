//! The command line as Perl's aemp reads it, and how a command fails.
//!
//! An argument starting with `[`, `{` or `"` is JSON; a first argument starting with `[` is a
//! JSON array that replaces the whole argument list. clap parses the arguments' text; the
//! commands that take values (a message, a setting) take them from [`Line::values`], so a
//! number in the JSON list stays a number.

use aemp::config::{parse_json, to_json};
use aemp::Value;

/// Why a command failed, and the exit code: 2 for usage errors, 1 for the rest.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            message: message.into(),
        }
    }

    pub(crate) fn failed(message: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            message: message.into(),
        }
    }
}

/// The decoded command line: each argument's value and the text clap parses.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    /// What clap parses: the argument as given, or for the JSON list form, text that
    /// decodes back to the same value.
    pub(crate) texts: Vec<String>,
    /// Each argument's value.
    pub(crate) values: Vec<Value>,
    /// The whole list was one JSON array.
    pub(crate) json: bool,
}

impl Line {
    /// Decodes the arguments as Perl's aemp does.
    pub(crate) fn decode(raw: Vec<String>) -> Result<Line, Failure> {
        if raw.first().is_some_and(|a| a.starts_with('[')) {
            if raw.len() > 1 {
                return Err(Failure::usage(
                    "a first argument starting with `[` is a JSON array that replaces the whole \
                     argument list, so it must be the only argument",
                ));
            }
            let values = match parse_json(&raw[0]) {
                Ok(Value::Array(items)) => items,
                Ok(other) => {
                    return Err(Failure::usage(format!(
                        "the argument list must be a JSON array, not {}",
                        other.kind()
                    )))
                }
                Err(e) => return Err(Failure::usage(format!("the JSON argument list: {e}"))),
            };
            let texts = values.iter().map(text_of).collect();
            return Ok(Line {
                texts,
                values,
                json: true,
            });
        }
        let values = raw
            .iter()
            .enumerate()
            .map(|(i, a)| {
                if a.starts_with(['[', '{', '"']) {
                    parse_json(a).map_err(|e| {
                        Failure::usage(format!("argument {} ({a}) is not valid JSON: {e}", i + 1))
                    })
                } else {
                    Ok(Value::Text(a.clone()))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Line {
            texts: raw,
            values,
            json: false,
        })
    }
}

/// A value of the JSON list as an argument's text: strings as they are (JSON-quoted when
/// they would read as JSON), anything else as JSON.
fn text_of(v: &Value) -> String {
    match v.as_str() {
        Some(s) if !s.starts_with(['[', '{', '"']) => s.to_owned(),
        _ => to_json(v, false),
    }
}
