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

/// A little-endian `i32` at `at`.
fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// The end of the length-prefixed string at `at` (negative length: UTF-16, two bytes a char).
fn skip_text(b: &[u8], at: usize) -> usize {
    let n = i32_at(b, at);
    at + 4
        + if n < 0 {
            n.unsigned_abs() as usize * 2
        } else {
            n as usize
        }
}

/// The end of the header property list at `at` (properties up to and including the `None` key),
/// walking them as boxcars does for current replays.
fn skip_props(b: &[u8], mut at: usize) -> usize {
    loop {
        let key_end = skip_text(b, at);
        if &b[at + 4..key_end] == b"None\0" {
            return key_end;
        }
        let kind = key_end + 4..skip_text(b, key_end) - 1;
        let value = kind.end + 1 + 8;
        at = match &b[kind] {
            b"BoolProperty" => value + 1,
            b"IntProperty" | b"FloatProperty" => value + 4,
            b"QWordProperty" => value + 8,
            b"StrProperty" | b"NameProperty" => skip_text(b, value),
            b"ByteProperty" => {
                let kind_end = skip_text(b, value);
                if &b[value + 4..kind_end] == b"None\0" {
                    kind_end + 1
                } else {
                    skip_text(b, kind_end)
                }
            }
            b"StructProperty" => skip_props(b, skip_text(b, value)),
            b"ArrayProperty" => {
                let mut at = value + 4;
                for _ in 0..i32_at(b, value) {
                    at = skip_props(b, at);
                }
                at
            }
            other => panic!("unknown header property {}", String::from_utf8_lossy(other)),
        };
    }
}

/// A copy of a replay whose header array property `name` (e.g. `PlayerStats`, `Goals`,
/// `HighLights`) has `n` entries, the original ones repeated in turn, with everything that sizes
/// it rewritten: the array's count and its value size (u64, the count word and the entries), the
/// header section's size word, then both CRCs. The network data is untouched.
///
/// Layout of an array property: name, type name (`ArrayProperty`), u64 value size, u32 count,
/// then each entry as a property list ending in a `None` key.
pub fn with_header_array_len(bytes: &[u8], name: &str, n: usize) -> Vec<u8> {
    let header = sections(bytes).0;
    let key: Vec<u8> = [
        &(name.len() as u32 + 1).to_le_bytes()[..],
        name.as_bytes(),
        b"\0",
    ]
    .concat();
    let at = header.start
        + bytes[header.clone()]
            .windows(key.len())
            .position(|w| w == key)
            .unwrap_or_else(|| panic!("the header has no {name}"));
    let kind_end = skip_text(bytes, at + key.len());
    assert_eq!(&bytes[at + key.len() + 4..kind_end], b"ArrayProperty\0");
    let (size_at, count_at) = (kind_end, kind_end + 8);
    let count = i32_at(bytes, count_at) as usize;
    assert!(count > 0, "{name} is empty");
    let mut entries = Vec::with_capacity(count);
    let mut start = count_at + 4;
    for _ in 0..count {
        let end = skip_props(bytes, start);
        entries.push(start..end);
        start = end;
    }
    let old_value = count_at..start;
    assert_eq!(
        u64::from_le_bytes(bytes[size_at..count_at].try_into().unwrap()),
        old_value.len() as u64,
        "{name}'s value size"
    );
    let mut value = (n as u32).to_le_bytes().to_vec();
    for i in 0..n {
        value.extend_from_slice(&bytes[entries[i % count].clone()]);
    }
    let mut b = bytes[..size_at].to_vec();
    b.extend_from_slice(&(value.len() as u64).to_le_bytes());
    b.extend_from_slice(&value);
    b.extend_from_slice(&bytes[old_value.end..]);
    let header_len = header.len() + value.len() - old_value.len();
    b[..4].copy_from_slice(&(header_len as u32).to_le_bytes());
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

/// A copy of a replay whose header scoreboard (`PlayerStats`) lists `n` players, its real
/// entries repeated (see [`with_header_array_len`]).
pub fn with_header_players(bytes: &[u8], n: usize) -> Vec<u8> {
    with_header_array_len(bytes, "PlayerStats", n)
}

/// A copy of a replay whose header size word says `size` (the header's properties unchanged), its
/// header CRC re-sealed over that many bytes. boxcars reads the properties to their end whatever
/// the word says, and the body after them, so the body's size and CRC words stay where they are.
pub fn with_header_size_word(bytes: &[u8], size: u32) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[..4].copy_from_slice(&size.to_le_bytes());
    let crc = boxcars::crc::calc_crc(&b[8..8 + size as usize]);
    b[4..8].copy_from_slice(&crc.to_le_bytes());
    b
}

/// A copy of a replay with `depth` array properties nested one in another (each holding one
/// property list) before its first header property; header size word and CRCs rewritten.
pub fn with_nested_header_arrays(bytes: &[u8], depth: usize) -> Vec<u8> {
    let header = sections(bytes).0;
    let key = b"\x09\x00\x00\x00TeamSize\x00";
    let at = header.start
        + bytes[header.clone()]
            .windows(key.len())
            .position(|w| w == key)
            .expect("the header has a TeamSize");
    let mut nested = Vec::new();
    for _ in 0..depth {
        nested.extend_from_slice(b"\x02\x00\x00\x00a\x00\x0e\x00\x00\x00ArrayProperty\x00");
        nested.extend_from_slice(&8u64.to_le_bytes());
        nested.extend_from_slice(&1u32.to_le_bytes());
    }
    for _ in 0..depth {
        nested.extend_from_slice(b"\x05\x00\x00\x00None\x00");
    }
    let mut b = bytes[..at].to_vec();
    b.extend_from_slice(&nested);
    b.extend_from_slice(&bytes[at..]);
    let header_len = header.len() + nested.len();
    b[..4].copy_from_slice(&(header_len as u32).to_le_bytes());
    reseal(&mut b);
    b
}

/// A copy whose header gives the player with platform id `old` the id `new` (every occurrence
/// of the 8-byte id in the header), re-sealed: a forged scoreboard entry naming someone else's
/// account. The network data is left alone.
pub fn with_online_id(bytes: &[u8], old: u64, new: u64) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let header = sections(&b).0;
    let (from, to) = (old.to_le_bytes(), new.to_le_bytes());
    let mut found = 0;
    let mut at = header.start;
    while let Some(p) = b[at..header.end].windows(8).position(|w| w == from) {
        b[at + p..at + p + 8].copy_from_slice(&to);
        at += p + 8;
        found += 1;
    }
    assert!(found > 0, "{old} is in the header");
    reseal(&mut b);
    b
}

/// A copy in which the 64-bit platform id `old` reads `new` wherever it appears in the body's
/// bit stream (at any bit offset: the network data replicates ids unaligned), re-sealed — what a
/// forger does to give another account a car in a real recording.
pub fn with_network_id(bytes: &[u8], old: u64, new: u64) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let body = sections(&b).1;
    let mask = u128::from(u64::MAX);
    let mut found = 0;
    for shift in 0..8 {
        for at in body.start..body.end.saturating_sub(9) {
            let mut word = [0u8; 16];
            word[..9].copy_from_slice(&b[at..at + 9]);
            let x = u128::from_le_bytes(word);
            if (x >> shift) & mask == u128::from(old) {
                let y = (x & !(mask << shift)) | (u128::from(new) << shift);
                b[at..at + 9].copy_from_slice(&y.to_le_bytes()[..9]);
                found += 1;
            }
        }
    }
    assert!(found > 0, "{old} is in the network data");
    reseal(&mut b);
    b
}

/// An intact replay whose network stream cannot be decoded (as with a game update boxcars does
/// not know yet): the middle of the stream damaged and the body CRC re-sealed, so the analyzer
/// falls back to a header-only report.
pub fn header_only_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let body = sections(&b).1;
    let mid = body.start + body.len() / 2;
    b[mid..mid + 4096].fill(0xff);
    reseal(&mut b);
    b
}
