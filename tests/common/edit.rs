//! Byte-level edits that keep a replay intact: where its sections lie, re-sealing their CRCs, and
//! copies that intake takes for other replays. Shared by the core's tests (`tests/common`) and the
//! bot's (`commands/tests/support`, by path).
#![allow(dead_code)]

use std::ops::Range;

/// Where a replay's header and body (content) data lie, each after its size and CRC words.
pub fn sections(bytes: &[u8]) -> (Range<usize>, Range<usize>) {
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let header = 8..8 + word(0);
    let body = header.end + 8..header.end + 8 + word(header.end);
    (header, body)
}

/// Rewrites both section CRCs to match edited bytes, so the replay reads as intact.
pub fn reseal(bytes: &mut [u8]) {
    for section in <[_; 2]>::from(sections(bytes)) {
        let crc = boxcars::crc::calc_crc(&bytes[section.clone()]);
        bytes[section.start - 4..section.start].copy_from_slice(&crc.to_le_bytes());
    }
}

/// A copy of a replay that intake treats as another match: the last eight hex digits of its
/// `MatchGUID` header property become `n` (so the sha256 changes too) and the CRCs are re-sealed.
/// The game itself is unchanged, so its analysis is the original's.
pub fn distinct_copy(bytes: &[u8], n: u32) -> Vec<u8> {
    distinct_copy_and_guid(bytes, n).0
}

/// [`distinct_copy`], with the copy's match GUID.
pub fn distinct_copy_and_guid(bytes: &[u8], n: u32) -> (Vec<u8>, String) {
    let mut b = bytes.to_vec();
    let header = sections(&b).0;
    let name = b"\0MatchGUID\0";
    let at = header.start
        + b[header.clone()]
            .windows(name.len())
            .position(|w| w == name)
            .expect("the header has a MatchGUID")
        + name.len();
    let word = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
    // Property layout: type name (length-prefixed, "StrProperty\0"), value size (u64), then the
    // value as a length-prefixed, NUL-terminated string.
    let value_len_at = at + 4 + word(at) + 8;
    let len = word(value_len_at);
    let value = value_len_at + 4..value_len_at + 4 + len - 1;
    assert!(
        len > 9 && b[value.clone()].iter().all(u8::is_ascii_hexdigit),
        "MatchGUID is not a hex string"
    );
    b[value.end - 8..value.end].copy_from_slice(format!("{n:08X}").as_bytes());
    let guid = String::from_utf8_lossy(&b[value]).into_owned();
    reseal(&mut b);
    (b, guid)
}
