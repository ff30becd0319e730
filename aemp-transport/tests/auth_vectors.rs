//! Authentication tokens against vectors computed independently of this crate.
//!
//! The vectors were computed with Python's standard library and checked with the Perl
//! modules AnyEvent::MP itself uses (both gave the same digests):
//!
//! ```text
//! python3 -c 'import hmac, hashlib
//! lines = ("aemp;1;a;hmac_sha3_512;json", "NONCE-A", "aemp;1;b;hmac_sha3_512;json", "NONCE-B")
//! data = "".join(l + "\n" for l in lines).encode()
//! print(hmac.new(b"geheim", data, hashlib.sha3_512).hexdigest())
//! print(hashlib.sha3_512(data).hexdigest())
//! print(hmac.new(b"", b"", hashlib.sha3_512).hexdigest())'
//!
//! perl -MDigest::SHA3 -MDigest::HMAC -e 'my $d = join "", map "$_\012", "aemp;1;a;hmac_sha3_512;json",
//!   "NONCE-A", "aemp;1;b;hmac_sha3_512;json", "NONCE-B";
//!   print Digest::HMAC::hmac_hex($d, "geheim", \&Digest::SHA3::sha3_512, 72), "\n",
//!   Digest::SHA3::sha3_512_hex($d), "\n"'
//! ```

use aemp_transport::{hmac_sha3_512_hex, sha3_512_hex};

const A: (&str, &str) = ("aemp;1;a;hmac_sha3_512;json", "NONCE-A");
const B: (&str, &str) = ("aemp;1;b;hmac_sha3_512;json", "NONCE-B");

#[test]
fn hmac_sha3_512_matches_python_and_perl() {
    assert_eq!(
        hmac_sha3_512_hex(b"geheim", A, B),
        "3e1c9e59906a6181c784a5c7848f770924c2126c6d2eef4b469b80719a48e0a76a843b86a273855e01e42985206d3cc7e3e6920d40a591b13e79632508ab0e5d"
    );
}

#[test]
fn hmac_sha3_512_of_empty_key_and_message() {
    // hmac.new(b"", b"", hashlib.sha3_512): the transcript of four empty lines is not empty,
    // so this checks the primitive through the same code with a key of zero length.
    use hmac::{Hmac, Mac};
    let mac = <Hmac<sha3::Sha3_512> as Mac>::new_from_slice(b"")
        .unwrap()
        .finalize()
        .into_bytes();
    assert_eq!(
        hex::encode(mac),
        "cbcf45540782d4bc7387fbbf7d30b3681d6d66cc435cafd82546b0fce96b367ea79662918436fba442e81a01d0f9592dfcd30f7a7a8f1475693d30be4150ca84"
    );
}

#[test]
fn tls_sha3_512_matches_python_and_perl() {
    assert_eq!(
        sha3_512_hex(A, B),
        "b765332c148afc89c2ff9342fbbaa3de9725a833811a65851da415397070383d6b85841607cd578263beffdf05510373762600a777dd245c5c1b567c68c39dd3"
    );
}

#[test]
fn tokens_depend_on_the_order_of_the_greetings() {
    assert_ne!(
        hmac_sha3_512_hex(b"geheim", A, B),
        hmac_sha3_512_hex(b"geheim", B, A)
    );
    assert_ne!(sha3_512_hex(A, B), sha3_512_hex(B, A));
}
