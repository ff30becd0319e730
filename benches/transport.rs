//! Criterion benchmarks of the AEMP transport: framing codecs, one-way throughput over a
//! loopback TCP connection (with a raw-TCP baseline), and handshake latency.
//!
//! Run with short timings on small machines:
//!
//! ```text
//! cargo bench --bench transport -- --warm-up-time 1 --measurement-time 3
//! ```
// criterion_group! makes a public function without documentation.
#![allow(missing_docs)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use aemp_transport::{
    accept, connect, msg, AuthMethod, Config, Decoder, Encoder, Framing, Receiver, Sender, Value,
};
use bytes::{Buf, BytesMut};
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

/// Messages per codec iteration.
const CODEC_N: usize = 1000;
/// Messages per one-way throughput iteration.
const STREAM_M: usize = 200_000;
/// Write size of the raw-TCP baseline's sender.
const RAW_WRITE: usize = 64 * 1024;
/// Read size of the raw-TCP baseline's receiver (as the AEMP receiver reads).
const RAW_READ: usize = 64 * 1024;

const PAYLOAD: &str = "a 40-byte payload.......................";
const _: () = assert!(PAYLOAD.len() == 40);

const FRAMINGS: [Framing; 2] = [Framing::Cbor, Framing::Json];

/// The body after the destination port: `["port", "tag", 1, PAYLOAD]` on the wire.
fn body() -> Vec<Value> {
    msg!["tag", 1, PAYLOAD]
}

fn encoded(framing: Framing, n: usize) -> Vec<u8> {
    let enc = Encoder::new(framing);
    let body = body();
    let mut wire = Vec::new();
    for _ in 0..n {
        enc.encode_message("port", &body, &mut wire).unwrap();
    }
    wire
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A PEM holding a fresh private key and a self-signed certificate.
fn self_signed_pem() -> String {
    aemp::config::cert::self_signed_pem().expect("certificate")
}

// ---------------------------------------------------------------------------------------
// 1 + 2: codecs

fn bench_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(CODEC_N as u64));
    let body = body();
    for framing in FRAMINGS {
        let enc = Encoder::new(framing);
        let mut out = Vec::with_capacity(encoded(framing, CODEC_N).len());
        group.bench_function(BenchmarkId::from_parameter(framing), |b| {
            b.iter(|| {
                out.clear();
                for _ in 0..CODEC_N {
                    enc.encode_message(black_box("port"), black_box(&body), &mut out)
                        .unwrap();
                }
                black_box(out.len())
            })
        });
    }
    group.finish();
}

fn bench_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(CODEC_N as u64));
    for framing in FRAMINGS {
        let wire = encoded(framing, CODEC_N);
        // Only the decoding is timed: the decoder is filled in the (untimed) setup.
        group.bench_function(BenchmarkId::from_parameter(framing), |b| {
            b.iter_batched_ref(
                || {
                    let mut dec = Decoder::new(framing);
                    dec.extend(&wire);
                    dec
                },
                |dec| {
                    let mut n = 0;
                    while let Some(m) = dec.next_message().unwrap() {
                        black_box(&m);
                        n += 1;
                    }
                    assert_eq!(n, CODEC_N);
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

// ---------------------------------------------------------------------------------------
// 3: one-way throughput, AEMP sender -> AEMP receiver over loopback TCP

async fn aemp_pair(
    a: Config,
    b: Config,
) -> (aemp_transport::Connection, aemp_transport::Connection) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        accept(stream, &b).await
    });
    let client = connect(addr, &a).await.unwrap();
    (client, server.await.unwrap().unwrap())
}

fn bench_oneway(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("oneway");
    group.throughput(Throughput::Elements(STREAM_M as u64));
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    for framing in FRAMINGS {
        let (tx, rx) = rt.block_on(async {
            let a = Config::new("a")
                .unwrap()
                .secret("s")
                .framings([framing])
                .unwrap();
            let b = Config::new("b")
                .unwrap()
                .secret("s")
                .framings([framing])
                .unwrap();
            let (ca, cb) = aemp_pair(a, b).await;
            assert_eq!(ca.info().send_framing, framing);
            assert_eq!(cb.info().recv_framing, framing);
            let (tx, _rx_a) = ca.split();
            let (_tx_b, rx) = cb.split();
            (tx, rx)
        });
        let mut rx: Option<Receiver> = Some(rx);
        let body = body();
        group.bench_function(BenchmarkId::from_parameter(framing), |b| {
            b.iter_custom(|iters| {
                let total = STREAM_M * iters as usize;
                let mut receiver = rx.take().unwrap();
                let (elapsed, receiver) = rt.block_on(async {
                    let start = Instant::now();
                    let send = tokio::spawn(send_many(tx.clone(), body.clone(), total));
                    let recv = tokio::spawn(async move {
                        let mut n = 0usize;
                        while n < total {
                            let m = receiver.recv().await.unwrap().expect("peer closed early");
                            debug_assert_eq!(m.len(), 4);
                            black_box(&m);
                            n += 1;
                        }
                        receiver
                    });
                    send.await.unwrap();
                    let receiver = recv.await.unwrap();
                    (start.elapsed(), receiver)
                });
                rx = Some(receiver);
                elapsed
            })
        });
        rt.block_on(tx.close()).unwrap();
    }
    group.finish();
}

async fn send_many(tx: Sender, body: Vec<Value>, n: usize) {
    for _ in 0..n {
        tx.send_to("port", &body).await.unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// 4: raw TCP baseline: pre-encoded CBOR frames, receiver only splits frames

/// The length of the CBOR item at the start of `buf`, or `None` if `buf` ends inside it.
/// Walks headers only (definite lengths; what `Encoder` writes), building nothing.
fn cbor_item_len(buf: &[u8]) -> Option<usize> {
    let mut pos = 0;
    let mut pending: u64 = 1;
    while pending > 0 {
        let ib = *buf.get(pos)?;
        pos += 1;
        let (major, info) = (ib >> 5, ib & 0x1f);
        let arg = match info {
            0..=23 => u64::from(info),
            24..=27 => {
                let n = 1usize << (info - 24);
                let bytes = buf.get(pos..pos + n)?;
                pos += n;
                bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
            }
            _ => panic!("indefinite or reserved CBOR header {ib:#x}"),
        };
        pending -= 1;
        match major {
            2 | 3 => pos += usize::try_from(arg).unwrap(),
            4 => pending += arg,
            5 => pending += 2 * arg,
            6 => pending += 1,
            _ => {}
        }
    }
    (pos <= buf.len()).then_some(pos)
}

async fn raw_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (client, server) = (client.unwrap(), server.unwrap().0);
    // As aemp's default (Config::nodelay).
    client.set_nodelay(true).unwrap();
    server.set_nodelay(true).unwrap();
    (client, server)
}

fn bench_raw_tcp(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("oneway_raw_tcp");
    group.throughput(Throughput::Elements(STREAM_M as u64));
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    let wire = std::sync::Arc::new(encoded(Framing::Cbor, STREAM_M));
    let (_client_r, client_w, server_r, _server_w) = rt.block_on(async {
        let (client, server) = raw_pair().await;
        let (cr, cw) = client.into_split();
        let (sr, sw) = server.into_split();
        (cr, cw, sr, sw)
    });
    let mut halves: Option<(OwnedWriteHalf, OwnedReadHalf)> = Some((client_w, server_r));
    group.bench_function("cbor", |b| {
        b.iter_custom(|iters| {
            let (mut w, mut r) = halves.take().unwrap();
            let wire = wire.clone();
            let total = STREAM_M * iters as usize;
            let (elapsed, w, r) = rt.block_on(async move {
                let start = Instant::now();
                let send = tokio::spawn(async move {
                    for _ in 0..iters {
                        for chunk in wire.chunks(RAW_WRITE) {
                            w.write_all(chunk).await.unwrap();
                        }
                    }
                    w
                });
                let recv = tokio::spawn(async move {
                    let mut buf = BytesMut::with_capacity(RAW_READ);
                    let mut n = 0usize;
                    while n < total {
                        buf.reserve(RAW_READ);
                        let got = r.read_buf(&mut buf).await.unwrap();
                        assert!(got > 0, "peer closed early");
                        let mut pos = 0;
                        while let Some(len) = cbor_item_len(&buf[pos..]) {
                            black_box(&buf[pos..pos + len]);
                            pos += len;
                            n += 1;
                        }
                        buf.advance(pos);
                    }
                    assert!(buf.is_empty());
                    r
                });
                let w = send.await.unwrap();
                let r = recv.await.unwrap();
                (start.elapsed(), w, r)
            });
            halves = Some((w, r));
            elapsed
        })
    });
    group.finish();
}

// ---------------------------------------------------------------------------------------
// 5: handshake latency

fn bench_handshake(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("handshake");
    group.sample_size(20);
    let pem = self_signed_pem();
    let cases = [
        (
            "hmac_sha3_512",
            AuthMethod::HmacSha3_512,
            Config::new("a").unwrap().secret("s"),
            Config::new("b").unwrap().secret("s"),
        ),
        (
            "tls_sha3_512",
            AuthMethod::TlsSha3_512,
            Config::new("a").unwrap().cert_pem(&pem).unwrap(),
            Config::new("b").unwrap().cert_pem(&pem).unwrap(),
        ),
    ];
    for (name, method, a, b) in cases {
        let b = std::sync::Arc::new(b);
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let listener = std::sync::Arc::new(listener);
        // Check once that the case really runs the method it is named after.
        rt.block_on(async {
            let (ca, cb) = handshake_once(&listener, addr, &a, &b).await;
            assert_eq!(ca.info().peer_auth, method);
            assert_eq!(cb.info().peer_auth, method);
            assert_eq!(ca.info().tls, method == AuthMethod::TlsSha3_512);
        });
        group.bench_function(name, |bench| {
            bench.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let (ca, cb) = handshake_once(&listener, addr, &a, &b).await;
                        total += start.elapsed();
                        // The accepting side closes first, so TIME_WAIT sockets do not pile up
                        // on the client's ephemeral ports.
                        drop(cb);
                        drop(ca);
                    }
                    total
                })
            })
        });
    }
    group.finish();
}

async fn handshake_once(
    listener: &std::sync::Arc<TcpListener>,
    addr: SocketAddr,
    a: &Config,
    b: &std::sync::Arc<Config>,
) -> (aemp_transport::Connection, aemp_transport::Connection) {
    let (listener, b) = (listener.clone(), b.clone());
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        accept(stream, &b).await.unwrap()
    });
    let client = connect(addr, a).await.unwrap();
    (client, server.await.unwrap())
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_encode, bench_decode, bench_oneway, bench_raw_tcp, bench_handshake
}
criterion_main!(benches);
