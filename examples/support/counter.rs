//! The typed counter the benches ask and tell (shared by `bench_hot` and `bench_ask`).

use aemp::{actor, Message};

/// The typed counter's messages.
#[derive(Debug, Clone, Message)]
pub(crate) enum Count {
    /// `["tag", i, payload]`
    Tag(u64, String),
    /// `["get"]`: the count.
    #[message(reply = u64)]
    Get,
}

/// Counts the tagged messages it gets; answers `get` with the count.
#[derive(Default)]
pub(crate) struct Counter(u64);

#[actor(msg = Count)]
impl Counter {
    async fn tag(&mut self, _i: u64, payload: String) {
        std::hint::black_box(payload);
        self.0 += 1;
    }

    async fn get(&mut self) -> u64 {
        self.0
    }
}
