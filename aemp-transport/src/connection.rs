//! An authenticated connection and its two halves: [`Sender`] and [`Receiver`].

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;

use crate::receiver::Traffic;
use crate::stream::{BoxRead, BoxWrite};
use crate::{
    AuthMethod, Config, Decoder, Encoder, Error, Framing, Greeting, RawMessage, Receiver, Value,
};

/// What the handshake established about the peer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PeerInfo {
    /// The peer's node id.
    pub node_id: String,
    /// `aemp`, or the `aemp-WORD` sub-protocol the peer asked for.
    pub protocol: String,
    /// The peer's first greeting line, parsed (its keys: `provider`, `peeraddr`, ...).
    pub greeting: Greeting,
    /// Our first greeting line.
    pub local_greeting: Greeting,
    /// The peer's socket address, if known.
    pub peer_addr: Option<SocketAddr>,
    /// The framing we send in.
    pub send_framing: Framing,
    /// The framing the peer sends in.
    pub recv_framing: Framing,
    /// The auth method we authenticated with.
    pub send_auth: AuthMethod,
    /// The auth method the peer authenticated with.
    pub peer_auth: AuthMethod,
    /// Whether the connection runs over TLS.
    pub tls: bool,
    /// False when the peer used `tls_anon` (AnyEvent::MP marks such peers `untrusted`).
    pub trusted: bool,
    /// How long the handshake took.
    pub handshake_time: Duration,
}

/// An authenticated connection, ready for the data phase.
pub struct Connection {
    info: PeerInfo,
    reader: BoxRead,
    writer: BoxWrite,
    leftover: BytesMut,
    max_message_size: usize,
    send_buffer_limit: usize,
    /// How long a write may make no progress before the connection is given up.
    write_stall: std::time::Duration,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl Connection {
    pub(crate) fn new(
        info: PeerInfo,
        (reader, writer): (BoxRead, BoxWrite),
        leftover: BytesMut,
        config: &Config,
    ) -> Self {
        Connection {
            info,
            reader,
            writer,
            leftover,
            max_message_size: config.max_message_size,
            send_buffer_limit: config.send_buffer_limit,
            write_stall: config.monitor_timeout,
        }
    }

    /// What the handshake established.
    pub fn info(&self) -> &PeerInfo {
        &self.info
    }

    /// Splits into a sender (cloneable; its writer task runs on the current tokio runtime)
    /// and a receiver.
    pub fn split(self) -> (Sender, Receiver) {
        let mut decoder = Decoder::with_limit(self.info.recv_framing, self.max_message_size);
        decoder.extend(&self.leftover);
        let sender = Sender::start(
            self.writer,
            Encoder::new(self.info.send_framing),
            self.send_buffer_limit,
            self.write_stall,
        );
        let buffered = self.leftover.len();
        (sender, Receiver::new(self.reader, decoder, buffered))
    }
}

/// Sends messages to the peer. Cloneable; all clones share one buffer and one writer task.
///
/// Messages are encoded straight into the shared buffer; the writer task takes the whole
/// buffer at once, so under load many messages go out in one write, and an idle connection
/// writes a message as soon as it is queued. The buffer is bounded
/// ([`Config::send_buffer_limit`]): [`Sender::send`] waits for room, [`Sender::try_send`]
/// refuses. When the last clone is dropped, or on [`Sender::close`], what is queued is
/// written and the write side is shut down.
#[derive(Clone)]
pub struct Sender {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("framing", &self.handle.shared.encoder.framing())
            .finish_non_exhaustive()
    }
}

struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.wake_writer.notify_one();
    }
}

struct Shared {
    state: Mutex<State>,
    wake_writer: Notify,
    room: Notify,
    done: Notify,
    encoder: Encoder,
    limit: usize,
}

/// Why the writer stopped: what it was doing, and the socket's error.
#[derive(Clone, Debug)]
struct WriteFailure {
    during: &'static str,
    source: Arc<std::io::Error>,
}

impl WriteFailure {
    fn error(&self) -> Error {
        Error::Closed {
            during: Some(self.during),
            source: Some(self.source.clone()),
        }
    }
}

#[derive(Default)]
struct State {
    buf: Vec<u8>,
    /// What was queued for sending, all told.
    queued: Traffic,
    closing: bool,
    /// Set when the writer stopped: the failure, or `None` for a clean close.
    finished: Option<Option<WriteFailure>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The lock is never held across an await or user code; poisoning cannot leave the
        // state inconsistent (every update is a single assignment or append).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Sender {
    fn start(
        writer: BoxWrite,
        encoder: Encoder,
        limit: usize,
        stall: std::time::Duration,
    ) -> Sender {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queued: Traffic::default(),
                buf: Vec::with_capacity(64 * 1024),
                ..State::default()
            }),
            wake_writer: Notify::new(),
            room: Notify::new(),
            done: Notify::new(),
            encoder,
            limit,
        });
        tokio::spawn(write_loop(writer, shared.clone(), stall));
        Sender {
            handle: Arc::new(Handle { shared }),
        }
    }

    /// The framing messages are sent in.
    pub fn framing(&self) -> Framing {
        self.handle.shared.encoder.framing()
    }

    /// Queues a whole message (destination port name first), waiting while the buffer is full.
    pub async fn send(&self, msg: &[Value]) -> Result<(), Error> {
        self.send_with(|enc, out| enc.encode(msg, out)).await
    }

    /// Queues the message `[dest, body...]`, waiting while the buffer is full.
    pub async fn send_to(&self, dest: &str, body: &[Value]) -> Result<(), Error> {
        self.send_with(|enc, out| enc.encode_message(dest, body, out))
            .await
    }

    /// Queues a message as it was received (forwarding it, say), waiting while the buffer is
    /// full: its bytes unchanged when it arrived in this connection's framing, re-encoded
    /// otherwise (an error if it holds what this framing cannot carry).
    ///
    /// ```no_run
    /// # async fn forward(rx: &mut aemp_transport::Receiver, tx: &aemp_transport::Sender) -> Result<(), aemp_transport::Error> {
    /// while let Some(msg) = rx.recv_raw().await? {
    ///     tx.send_raw(&msg).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn send_raw(&self, msg: &RawMessage) -> Result<(), Error> {
        self.send_with(|enc, out| {
            if enc.framing() == msg.framing() {
                out.extend_from_slice(msg.as_bytes());
                Ok(())
            } else {
                enc.encode(&msg.decode()?, out)
            }
        })
        .await
    }

    /// Waits until the buffer is below its limit (at once if it is); an error if the
    /// connection closed meanwhile. A reader whose replies pile up waits here before it reads
    /// more: backpressure on a peer that does not read.
    pub async fn room(&self) -> Result<(), Error> {
        let shared = &self.handle.shared;
        loop {
            let room = shared.room.notified();
            tokio::pin!(room);
            {
                let state = shared.lock();
                Self::check_open(&state)?;
                if state.buf.len() < shared.limit {
                    return Ok(());
                }
                room.as_mut().enable();
            }
            room.await;
        }
    }

    /// What was queued for sending so far (messages and encoded bytes), and what of it still
    /// waits in the buffer.
    pub fn traffic(&self) -> (Traffic, usize) {
        let state = self.handle.shared.lock();
        (state.queued, state.buf.len())
    }

    /// Whether the buffer has reached its limit.
    pub fn is_full(&self) -> bool {
        let shared = &self.handle.shared;
        shared.lock().buf.len() >= shared.limit
    }

    /// Queues a whole message unless the buffer is full ([`Error::Full`]).
    pub fn try_send(&self, msg: &[Value]) -> Result<(), Error> {
        self.try_send_with(|enc, out| enc.encode(msg, out))
    }

    /// Queues `[dest, body...]` unless the buffer is full ([`Error::Full`]).
    pub fn try_send_to(&self, dest: &str, body: &[Value]) -> Result<(), Error> {
        self.try_send_with(|enc, out| enc.encode_message(dest, body, out))
    }

    /// Queues `[dest, body...]` without waiting, beyond the buffer limit if need be: for
    /// fire-and-forget senders (AnyEvent::MP's `snd` never blocks and never fails). A producer
    /// that can outrun the network should use [`Sender::send_to`], which waits for room.
    pub fn send_now(&self, dest: &str, body: &[Value]) -> Result<(), Error> {
        let shared = &self.handle.shared;
        let mut state = shared.lock();
        Self::check_open(&state)?;
        Self::append(shared, &mut state, |enc, out| {
            enc.encode_message(dest, body, out)
        })
    }

    fn try_send_with(
        &self,
        encode: impl FnOnce(&Encoder, &mut Vec<u8>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let shared = &self.handle.shared;
        let mut state = shared.lock();
        Self::check_open(&state)?;
        if state.buf.len() >= shared.limit {
            return Err(Error::Full {
                limit: shared.limit,
            });
        }
        Self::append(shared, &mut state, encode)
    }

    async fn send_with(
        &self,
        encode: impl FnOnce(&Encoder, &mut Vec<u8>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let shared = &self.handle.shared;
        loop {
            let room = shared.room.notified();
            tokio::pin!(room);
            {
                let mut state = shared.lock();
                Self::check_open(&state)?;
                if state.buf.len() < shared.limit {
                    return Self::append(shared, &mut state, encode);
                }
                // Registered before the lock is released: the writer's wake-up cannot be missed.
                room.as_mut().enable();
            }
            room.await;
        }
    }

    fn check_open(state: &State) -> Result<(), Error> {
        match &state.finished {
            Some(Some(failure)) => Err(failure.error()),
            Some(None) => Err(Error::Closed {
                during: None,
                source: None,
            }),
            None if state.closing => Err(Error::Closed {
                during: Some("closing"),
                source: None,
            }),
            None => Ok(()),
        }
    }

    fn append(
        shared: &Shared,
        state: &mut State,
        encode: impl FnOnce(&Encoder, &mut Vec<u8>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let before = state.buf.len();
        encode(&shared.encoder, &mut state.buf)?;
        state.queued.messages += 1;
        state.queued.bytes += (state.buf.len() - before) as u64;
        if before == 0 {
            shared.wake_writer.notify_one();
        } else if before < HANDOFF && state.buf.len() >= HANDOFF {
            // A burst: the writer has not run while the producer went on.
            hand_to_idle_worker();
        }
        Ok(())
    }

    /// Writes what is queued, shuts the write side down and waits until that is done.
    pub async fn close(&self) -> Result<(), Error> {
        let shared = &self.handle.shared;
        loop {
            let done = shared.done.notified();
            tokio::pin!(done);
            {
                let mut state = shared.lock();
                if let Some(finished) = &state.finished {
                    return match finished {
                        None => Ok(()),
                        Some(failure) => Err(failure.error()),
                    };
                }
                state.closing = true;
                done.as_mut().enable();
            }
            shared.wake_writer.notify_one();
            done.await;
        }
    }

    /// Whether the writer stopped (closed, or a write failed).
    pub fn is_closed(&self) -> bool {
        self.handle.shared.lock().finished.is_some()
    }

    /// Bytes queued and not yet handed to the socket.
    pub fn queued_bytes(&self) -> usize {
        self.handle.shared.lock().buf.len()
    }
}

/// How many queued bytes make a burst that another worker thread should write out.
const HANDOFF: usize = 16 * 1024;

/// Lets an idle worker thread run the task just woken, instead of the current thread once
/// its task yields.
///
/// tokio puts a task woken from a worker thread into that worker's LIFO slot, which other
/// workers cannot steal, and wakes no idle worker for it. A producer that sends many
/// messages without yielding would then run before the writer, on one core, the other one
/// idle. Scheduling an empty task moves the woken one from the LIFO slot into the worker's
/// run queue and wakes an idle worker, which takes it: producer and writer run in parallel.
/// Used only for bursts (a lone message stays on its thread: a hop would cost latency); a
/// no-op outside a multi-threaded runtime.
pub(crate) fn hand_to_idle_worker() {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        if rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
            rt.spawn(async {});
        }
    }
}

/// Writes all of `buf`, giving up when one write makes no progress for `stall` (a peer that
/// reads nothing; TCP alone would wait for ever).
async fn write_all_within(
    writer: &mut BoxWrite,
    buf: &[u8],
    stall: std::time::Duration,
) -> std::io::Result<()> {
    let mut at = 0;
    while at < buf.len() {
        match tokio::time::timeout(stall, writer.write(&buf[at..])).await {
            Ok(Ok(0)) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(Ok(n)) => at += n,
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("the peer read nothing for {:.1} s", stall.as_secs_f64()),
                ))
            }
        }
    }
    Ok(())
}

async fn write_loop(mut writer: BoxWrite, shared: Arc<Shared>, stall: std::time::Duration) {
    let mut batch: Vec<u8> = Vec::with_capacity(64 * 1024);
    let fail = |during| {
        move |e| WriteFailure {
            during,
            source: Arc::new(e),
        }
    };
    let result: Result<(), WriteFailure> = async {
        loop {
            let closing = {
                let mut state = shared.lock();
                std::mem::swap(&mut state.buf, &mut batch);
                state.closing
            };
            shared.room.notify_waiters();
            if batch.is_empty() {
                if closing {
                    return writer.shutdown().await.map_err(fail("shutting down"));
                }
                shared.wake_writer.notified().await;
                continue;
            }
            write_all_within(&mut writer, &batch, stall)
                .await
                .map_err(fail("writing to peer"))?;
            match tokio::time::timeout(stall, writer.flush()).await {
                Ok(r) => r.map_err(fail("writing to peer"))?,
                Err(_) => {
                    return Err(fail("writing to peer")(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "flushing made no progress",
                    )))
                }
            }
            batch.clear();
            // Keep a burst's buffer, but give back memory after an outsized message.
            if batch.capacity() > 4 * shared.limit.max(64 * 1024) {
                batch = Vec::with_capacity(64 * 1024);
            }
        }
    }
    .await;
    {
        let mut state = shared.lock();
        state.finished = Some(result.err());
        state.buf = Vec::new();
    }
    shared.room.notify_waiters();
    shared.done.notify_waiters();
}
