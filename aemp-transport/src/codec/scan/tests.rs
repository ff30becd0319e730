//! The scanners against the decoder: where they frame, what they refuse.

use proptest::prelude::*;

use super::super::{cbor, Item};
use super::*;

/// The scan frames what the decoder can read, and refuses what it cannot: a message it
/// passes never fails to decode but for an unrepresentable value, and both agree on
/// where it ends.
fn agree(bytes: &[u8]) -> Result<(), TestCaseError> {
    let max = 256;
    let mut scan = CborScan::new(max);
    let verdict = scan.advance(bytes);
    let decoded = cbor::decode(bytes, max);
    match (&verdict, &decoded) {
        (Scan::Complete(end), Ok(Item::Done(used, _))) => prop_assert_eq!(end, used),
        (Scan::Incomplete, Ok(Item::Incomplete)) | (Scan::Corrupt(_), Err(_)) => {}
        // The decoder stops at the first corrupt header; the scan may have to see
        // the whole item before it does.
        (Scan::Incomplete, Err(_)) => {}
        // A map claiming more than 2^63 entries: the scan refuses a length no message
        // can hold; the decoder waits for it (until the size limit refuses it).
        (Scan::Corrupt(_), Ok(Item::Incomplete)) => {}
        _ => prop_assert!(
            false,
            "scan {verdict:?}, decode {:?}",
            decoded.map(|i| matches!(i, Item::Incomplete))
        ),
    }
    Ok(())
}

/// The one-pass framing of a flat array notes the same shape as the general walk (fed
/// the same message a byte at a time, so that it never sees it whole).
#[test]
fn flat_arrays_have_the_shape_the_walk_finds() {
    let messages: [&[u8]; 5] = [
        &[0x80],
        &[0x83, 0x64, b'p', b'o', b'r', b't', 0x01, 0xf9, 0x3c, 0x00],
        &[0x82, 0x41, 0xff, 0x63, b'a', b'b', b'c'],
        &[0x82, 0x01, 0x60],
        &[0x81, 0xf6],
    ];
    for bytes in messages {
        let mut whole = CborScan::new(256);
        assert_eq!(whole.advance(bytes), Scan::Complete(bytes.len()));
        let mut walk = CborScan::new(256);
        let mut verdict = Scan::Incomplete;
        for end in 1..=bytes.len() {
            verdict = walk.advance(&bytes[..end]);
        }
        assert_eq!(verdict, Scan::Complete(bytes.len()));
        assert_eq!(whole.shape, walk.shape, "{bytes:?}");
    }
}

/// A break right after a key of an indefinite-length map (proptest found it): corrupt
/// for both.
#[test]
fn a_map_that_ends_after_a_key_is_corrupt() {
    let bytes = [0xbf, 0xe0, 0xff];
    assert!(matches!(
        CborScan::new(256).advance(&bytes),
        Scan::Corrupt(_)
    ));
    agree(&bytes).unwrap();
}

proptest! {
    #[test]
    fn scan_agrees_with_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        agree(&bytes)?;
    }

    #[test]
    fn scan_agrees_on_indefinite_maps(items in proptest::collection::vec(0u8..3, 0..6)) {
        // `{_ k: v, ... }` with a key left without its value when the count is odd.
        let mut bytes = vec![0xbf];
        for item in &items {
            bytes.extend_from_slice(match item {
                0 => &[0x01][..],
                1 => &[0xe0][..],
                _ => &[0x61, b'k'][..],
            });
        }
        bytes.push(0xff);
        agree(&bytes)?;
    }

    #[test]
    fn scan_agrees_on_near_messages(seed in proptest::collection::vec(0u8..4, 1..12), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        // Arrays, strings, maps and tags, with one byte changed.
        let mut bytes = vec![0x80 | seed.len() as u8];
        for s in &seed {
            bytes.extend_from_slice(match s {
                0 => &[0x63, b'a', b'b', b'c'][..],
                1 => &[0x9f, 0x01, 0x41, 0x00, 0xff][..],
                2 => &[0xa1, 0x61, b'k', 0xc1, 0x01][..],
                _ => &[0x7f, 0x61, b'x', 0x60, 0xff][..],
            });
        }
        agree(&bytes)?;
        let i = at.index(bytes.len());
        bytes[i] = byte;
        agree(&bytes)?;
    }
}

#[test]
fn shape_of_a_message() {
    let mut scan = Scanner::new(crate::Framing::Cbor, 1 << 20);
    // ["port", "tag", 1]
    let wire = [
        0x83, 0x64, b'p', b'o', b'r', b't', 0x43, b't', b'a', b'g', 0x01,
    ];
    assert_eq!(scan.advance(&wire), Scan::Complete(wire.len()));
    let shape = scan.finish(&wire);
    assert_eq!(
        (shape.dest, shape.body_at, shape.count),
        (Some((2, 6)), 6, Some(3))
    );
    // [["x"], "y"]: the first element is not a string.
    let wire = [0x82, 0x81, 0x61, b'x', 0x61, b'y'];
    assert_eq!(scan.advance(&wire), Scan::Complete(wire.len()));
    assert_eq!(scan.finish(&wire).dest, None);
    // [] and [_ ]
    for wire in [&[0x80][..], &[0x9f, 0xff][..]] {
        assert_eq!(scan.advance(wire), Scan::Complete(wire.len()));
        assert!(scan.finish(wire).empty);
    }
    let json = br#" [ "po rt" , 1]"#;
    let shape = json_shape(json);
    assert_eq!(
        &json[shape.dest.unwrap().0..shape.dest.unwrap().1],
        b"po rt"
    );
    assert_eq!(json_shape(br#"["a\"b",1]"#).dest, None);
    assert!(json_shape(b"[ ]").empty);
}
