//! Identifiers: LiveKit's `PREFIX_` + 12 base57 characters.
//!
//! The randomness comes from the caller as a `u128`, so this module stays deterministic.
//! 57^12 ≈ 2^70, far below 2^128, so reducing a uniform `u128` has negligible bias.

/// LiveKit's base57 alphabet (no 0, 1, I, O, l).
pub const BASE57: &[u8; 57] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Length of the random part of an id and of a room-name suffix.
pub const SUFFIX_LEN: usize = 12;

/// Prefix of inbound trunk ids.
pub const TRUNK_PREFIX: &str = "ST_";
/// Prefix of dispatch rule ids.
pub const RULE_PREFIX: &str = "SDR_";
/// Prefix of call ids.
pub const CALL_PREFIX: &str = "SCL_";

/// 12 base57 characters from 128 random bits.
pub fn base57_suffix(mut random: u128) -> String {
    let mut out = String::with_capacity(SUFFIX_LEN);
    for _ in 0..SUFFIX_LEN {
        out.push(char::from(BASE57[(random % 57) as usize]));
        random /= 57;
    }
    out
}

/// `prefix` + a base57 suffix made from `random`.
pub fn new_id(prefix: &str, random: u128) -> String {
    format!("{prefix}{}", base57_suffix(random))
}

/// Whether `s` is `prefix` followed by 12 base57 characters.
pub fn is_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .is_some_and(|r| r.len() == SUFFIX_LEN && r.bytes().all(|b| BASE57.contains(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_shape() {
        for seed in [0u128, 1, 56, 57, u128::MAX, 0xDEAD_BEEF] {
            let s = base57_suffix(seed);
            assert_eq!(s.len(), SUFFIX_LEN);
            assert!(s.bytes().all(|b| BASE57.contains(&b)), "{s}");
        }
        assert_eq!(base57_suffix(0), "222222222222");
        assert_eq!(base57_suffix(1), "322222222222");
        let id = new_id(RULE_PREFIX, 7 << 90);
        assert!(is_id(&id, RULE_PREFIX));
        assert!(!is_id("SDR_short", RULE_PREFIX));
        assert!(!is_id("SDR_0000000000OO", RULE_PREFIX));
        assert_ne!(base57_suffix(12345), base57_suffix(54321));
    }
}
