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

/// Where the value of header string property `name` lies (a StrProperty's bytes, without its
/// NUL), found by the length-prefixed name.
fn str_value(b: &[u8], name: &str) -> Range<usize> {
    let header = sections(b).0;
    let mut key = ((name.len() + 1) as u32).to_le_bytes().to_vec();
    key.extend_from_slice(name.as_bytes());
    key.push(0);
    let at = header.start
        + b[header.clone()]
            .windows(key.len())
            .position(|w| w == key.as_slice())
            .unwrap_or_else(|| panic!("the header has a {name} property"))
        + key.len();
    let word = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
    let value_len_at = at + 4 + word(at) + 8;
    let len = word(value_len_at);
    value_len_at + 4..value_len_at + 4 + len - 1
}

/// A copy whose header claims match GUID `guid` (as long as the original's), re-sealed.
pub fn with_guid(bytes: &[u8], guid: &str) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let value = str_value(&b, "MatchGUID");
    assert_eq!(value.len(), guid.len(), "a GUID of the same length");
    b[value].copy_from_slice(guid.as_bytes());
    reseal(&mut b);
    b
}

/// The match GUID a replay's header claims.
pub fn guid_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[str_value(bytes, "MatchGUID")]).into_owned()
}

/// Another recording of the same match: the replay's own `Id` header property (not its match
/// GUID) ends in `n`, so the bytes and sha256 differ while the game, its players and goals are
/// the original's — as when two players of one match each upload their own file.
pub fn same_match_copy(bytes: &[u8], n: u32) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let value = str_value(&b, "Id");
    assert!(value.len() > 8, "Id is a hex string");
    b[value.end - 8..value.end].copy_from_slice(format!("{n:08X}").as_bytes());
    reseal(&mut b);
    b
}

/// A copy in which every header string `old` (player names in the scoreboard and goal list) reads
/// `new` (of the same length), re-sealed. Names in the network data are left alone.
pub fn rename_in_header(bytes: &[u8], old: &str, new: &str) -> Vec<u8> {
    assert_eq!(old.len(), new.len(), "a name of the same length");
    let mut b = bytes.to_vec();
    let header = sections(&b).0;
    let mut key = ((old.len() + 1) as u32).to_le_bytes().to_vec();
    key.extend_from_slice(old.as_bytes());
    key.push(0);
    let mut at = header.start;
    let mut found = 0;
    while let Some(p) = b[at..header.end]
        .windows(key.len())
        .position(|w| w == key.as_slice())
    {
        let start = at + p + 4;
        b[start..start + new.len()].copy_from_slice(new.as_bytes());
        at = start + new.len();
        found += 1;
    }
    assert!(found > 0, "{old} is in the header");
    reseal(&mut b);
    b
}

/// A copy whose header integer property `name` (e.g. `Team0Score`) is `value`, re-sealed.
pub fn with_int_property(bytes: &[u8], name: &str, value: i32) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let header = sections(&b).0;
    let mut key = ((name.len() + 1) as u32).to_le_bytes().to_vec();
    key.extend_from_slice(name.as_bytes());
    key.push(0);
    key.extend_from_slice(&12u32.to_le_bytes());
    key.extend_from_slice(b"IntProperty\0");
    key.extend_from_slice(&4u64.to_le_bytes());
    let at = header.start
        + b[header.clone()]
            .windows(key.len())
            .position(|w| w == key.as_slice())
            .unwrap_or_else(|| panic!("the header has an IntProperty {name}"))
        + key.len();
    b[at..at + 4].copy_from_slice(&value.to_le_bytes());
    reseal(&mut b);
    b
}
