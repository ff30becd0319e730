//! [`Handlers`]: a handler port's handlers, by tag (the message's first element, matched
//! exactly) and a default. Generic over the handler type: the node decides what a handler is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aemp_transport::Value;

/// A handler, shared with the task running it (so that `rcv` may replace it meanwhile).
pub(crate) type Cell<H> = Arc<Mutex<H>>;

/// Handlers by tag.
type ByTag<H> = HashMap<Box<[u8]>, Cell<H>>;

/// The handlers of one port. Most ports have only a default handler: the tag table is
/// allocated with the first tag handler (an idle port stays small).
pub(crate) struct Handlers<H> {
    by_tag: Option<Box<ByTag<H>>>,
    default: Option<Cell<H>>,
}

impl<H> Default for Handlers<H> {
    fn default() -> Self {
        Handlers {
            by_tag: None,
            default: None,
        }
    }
}

impl<H> Handlers<H> {
    /// Sets (or with `None` removes) the handler of `tag`, or with no tag the default.
    pub(crate) fn set(&mut self, tag: Option<&str>, handler: Option<H>) {
        let cell = handler.map(|f| Arc::new(Mutex::new(f)));
        match (tag, cell) {
            (Some(tag), Some(cell)) => {
                self.by_tag
                    .get_or_insert_with(Box::default)
                    .insert(tag.as_bytes().into(), cell);
            }
            (Some(tag), None) => {
                if let Some(by_tag) = &mut self.by_tag {
                    by_tag.remove(tag.as_bytes());
                }
            }
            (None, cell) => self.default = cell,
        }
    }

    /// The default handler, when there are no tag handlers (so it takes every message).
    pub(crate) fn only_default(&self) -> Option<Cell<H>> {
        match &self.by_tag {
            Some(by_tag) if !by_tag.is_empty() => None,
            _ => self.default.clone(),
        }
    }

    /// The handler for `msg`, and whether it takes the message without its tag.
    pub(crate) fn lookup(&self, msg: &[Value]) -> Option<(Cell<H>, bool)> {
        // Most ports have only a default handler: no tag to hash then.
        let tagged = self
            .by_tag
            .as_ref()
            .filter(|t| !t.is_empty())
            .and_then(|by_tag| {
                msg.first()
                    .and_then(Value::as_string_bytes)
                    .and_then(|t| by_tag.get(t))
            });
        match (tagged, &self.default) {
            (Some(cell), _) => Some((cell.clone(), true)),
            (None, Some(cell)) => Some((cell.clone(), false)),
            (None, None) => None,
        }
    }
}
