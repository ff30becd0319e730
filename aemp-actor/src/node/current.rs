//! The node whose code runs on this thread: what typed references found in its messages are
//! bound to, and what an unbound one sends through.

use std::cell::RefCell;

use super::{Node, WeakNode};

thread_local! {
    /// The node whose code runs on this thread (a handler, an actor, decoding a message it
    /// received): references deserialized here are bound to it, and unbound ones send
    /// through it.
    static CURRENT: RefCell<Option<WeakNode>> = const { RefCell::new(None) };
}

/// Runs `f` as code of `node` (see `CURRENT`).
pub(crate) fn in_node<T>(node: &WeakNode, f: impl FnOnce() -> T) -> T {
    let before = CURRENT.with(|d| d.replace(Some(node.clone())));
    let out = f();
    CURRENT.with(|d| *d.borrow_mut() = before);
    out
}

pub(crate) fn current_node() -> Option<Node> {
    CURRENT.with(|n| n.borrow().as_ref().and_then(WeakNode::upgrade))
}

pin_project_lite::pin_project! {
    /// A future run as code of a node: every poll inside [`in_node`].
    pub(crate) struct InNode<F> {
        node: WeakNode,
        #[pin]
        fut: F,
    }
}

impl<F> InNode<F> {
    pub(crate) fn new(node: WeakNode, fut: F) -> Self {
        InNode { node, fut }
    }
}

impl<F: std::future::Future> std::future::Future for InNode<F> {
    type Output = F::Output;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let this = self.project();
        in_node(this.node, || this.fut.poll(cx))
    }
}
