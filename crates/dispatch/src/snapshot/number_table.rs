//! Exact called numbers → a value, for the trunk index: a lookup reads one 32-byte slot.
//!
//! A general hash map of strings costs a lookup three cache lines at least: the control
//! bytes, the slot, and the key's heap copy to compare. Phone numbers are short, so here
//! each key of up to [`INLINE`] bytes sits in its slot with its length, and a probe
//! compares three words; longer keys (never a phone number) go to an ordinary map. Open
//! addressing with linear probing, at most half full.

use rustc_hash::FxHashMap;

/// Longest key held inline (E.164 numbers have at most 16 bytes).
const INLINE: usize = 23;

/// A key of up to [`INLINE`] bytes, zero-padded, with its length in the last byte: equal
/// keys have equal words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
struct Key([u64; 3]);

impl Key {
    fn of(s: &str) -> Option<Key> {
        let b = s.as_bytes();
        if b.is_empty() || b.len() > INLINE {
            return None;
        }
        let mut buf = [0u8; 24];
        buf[..b.len()].copy_from_slice(b);
        buf[23] = b.len() as u8;
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&buf[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w)
        };
        Some(Key([word(0), word(1), word(2)]))
    }

    fn hash(&self) -> u64 {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let h = (self.0[0].wrapping_mul(K) ^ self.0[1]).wrapping_mul(K) ^ self.0[2];
        let h = h.wrapping_mul(K);
        h ^ (h >> 29)
    }
}

/// One slot: an empty one has an all-zero key (no real key is all zero: its length byte
/// is not).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(32))]
struct Slot {
    key: Key,
    value: u64,
}

#[derive(Debug, Default)]
pub(crate) struct NumberTable {
    slots: Vec<Slot>,
    long: FxHashMap<Box<str>, u64>,
}

impl NumberTable {
    /// A table of these distinct keys.
    pub fn build<'a>(entries: impl ExactSizeIterator<Item = (&'a str, u64)>) -> NumberTable {
        let size = (entries.len() * 2).next_power_of_two().max(8);
        let mut t = NumberTable {
            slots: vec![Slot::default(); size],
            long: FxHashMap::default(),
        };
        for (k, v) in entries {
            match Key::of(k) {
                Some(key) => {
                    let mask = t.slots.len() - 1;
                    let mut i = key.hash() as usize & mask;
                    while t.slots[i].key != Key::default() && t.slots[i].key != key {
                        i = (i + 1) & mask;
                    }
                    t.slots[i] = Slot { key, value: v };
                }
                None => {
                    t.long.insert(k.into(), v);
                }
            }
        }
        t
    }

    pub fn get(&self, k: &str) -> Option<u64> {
        let Some(key) = Key::of(k) else {
            return self.long.get(k).copied();
        };
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = key.hash() as usize & mask;
        loop {
            let slot = &self.slots[i];
            if slot.key == key {
                return Some(slot.value);
            }
            if slot.key == Key::default() {
                return None;
            }
            i = (i + 1) & mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_short_and_long_keys_and_nothing_else() {
        let long = "sip-user-name-longer-than-twenty-three";
        let t = NumberTable::build(
            [("+15551234567", 1), ("+1555123456", 2), (long, 3), ("x", 4)].into_iter(),
        );
        assert_eq!(t.get("+15551234567"), Some(1));
        assert_eq!(t.get("+1555123456"), Some(2));
        assert_eq!(t.get(long), Some(3));
        assert_eq!(t.get("x"), Some(4));
        assert_eq!(t.get("+155512345678"), None);
        assert_eq!(t.get(""), None);
        assert_eq!(t.get("+15551234567\0"), None);
        assert_eq!(NumberTable::default().get("x"), None);
    }

    proptest! {
        #[test]
        fn agrees_with_a_hash_map(
            keys in proptest::collection::hash_set("[+0-9a\\x00]{0,30}", 0..200),
            probes in proptest::collection::vec("[+0-9a\\x00]{0,30}", 0..50),
        ) {
            let keys: Vec<String> = keys.into_iter().collect();
            let t = NumberTable::build(keys.iter().enumerate().map(|(i, k)| (k.as_str(), i as u64)));
            for (i, k) in keys.iter().enumerate() {
                prop_assert_eq!(t.get(k), Some(i as u64));
            }
            for p in &probes {
                prop_assert_eq!(t.get(p), keys.iter().position(|k| k == p).map(|i| i as u64));
            }
        }
    }
}
