//! The node whose code runs on this thread: what typed references found in its messages are
//! bound to, and what an unbound one sends through.

use super::{Node, WeakNode};

scoped_tls::scoped_thread_local! {
    /// The node whose code runs on this thread (a handler, an actor, decoding a message it
    /// received): references deserialized here are bound to it, and unbound ones send
    /// through it. Scoped: setting it borrows the node (no reference count to touch on
    /// each poll of an actor), and the previous one is back when the scope ends, panics
    /// included.
    static CURRENT: WeakNode
}

/// Runs `f` as code of `node` (see `CURRENT`).
#[inline]
pub(crate) fn in_node<T>(node: &WeakNode, f: impl FnOnce() -> T) -> T {
    CURRENT.set(node, f)
}

pub(crate) fn current_node() -> Option<Node> {
    if CURRENT.is_set() {
        CURRENT.with(WeakNode::upgrade)
    } else {
        None
    }
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
    #[inline]
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let this = self.project();
        in_node(this.node, || this.fut.poll(cx))
    }
}
