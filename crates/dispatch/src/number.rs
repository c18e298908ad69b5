//! Phone-number normalization and `*` prefix patterns (SPEC §2).
//!
//! `normalize` turns the many ways carriers write one number (`15551234567`,
//! `+1 (555) 123-4567`) into one string (`+15551234567`). Anything that is not plainly a
//! number (SIP user names, `anonymous`, strings with `*`, `#`, `@`, `.`) is kept as it is.
//! Every comparison in the router — trunk numbers and caller allow-lists, rule filters,
//! list filters and conflict keys — goes through it.

use std::borrow::Cow;
use std::cmp::Reverse;

/// Normalizes a phone number: an optional `+` followed only by digits, spaces, `-`, `(`
/// and `)` (with at least one digit) loses its separators and gains a leading `+`.
/// Anything else is returned unchanged.
pub fn normalize(raw: &str) -> Cow<'_, str> {
    match digits_to_normalize(raw) {
        None => Cow::Borrowed(raw),
        Some(digits) => {
            let mut out = String::with_capacity(digits + 1);
            out.push('+');
            out.extend(normal_digits(raw).map(char::from));
            Cow::Owned(out)
        }
    }
}

/// `None` when [`normalize`] returns `raw` unchanged (already normal, or not a number);
/// else the number of digits of its normal form.
pub(crate) fn digits_to_normalize(raw: &str) -> Option<usize> {
    let body = raw.strip_prefix('+').unwrap_or(raw);
    let mut digits = 0usize;
    for b in body.bytes() {
        match b {
            b'0'..=b'9' => digits += 1,
            b' ' | b'-' | b'(' | b')' => {}
            _ => return None,
        }
    }
    if digits == 0 || (raw.starts_with('+') && digits == body.len()) {
        return None;
    }
    Some(digits)
}

/// The digits of a number that [`digits_to_normalize`] accepted, in order.
pub(crate) fn normal_digits(raw: &str) -> impl Iterator<Item = u8> + '_ {
    raw.bytes().filter(u8::is_ascii_digit)
}

/// One entry of a number list: an exact number or a prefix pattern (`+1555*`), both held
/// in normalized form.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NumberPattern {
    Exact(String),
    /// The normalized text before the `*`.
    Prefix(String),
}

impl NumberPattern {
    /// Parses a configured entry. A trailing `*` makes it a prefix pattern; the rest is
    /// normalized (`+1 555*` → prefix `+1555`).
    pub fn parse(entry: &str) -> NumberPattern {
        match entry.strip_suffix('*') {
            Some(prefix) => NumberPattern::Prefix(normalize(prefix).into_owned()),
            None => NumberPattern::Exact(normalize(entry).into_owned()),
        }
    }

    /// How this entry matches an already-normalized number, if it does.
    pub fn matches(&self, normalized: &str) -> Option<NumberMatch> {
        match self {
            NumberPattern::Exact(n) if n == normalized => Some(NumberMatch::Exact),
            NumberPattern::Prefix(p) if normalized.starts_with(p.as_str()) => {
                Some(NumberMatch::Prefix(Reverse(p.len())))
            }
            _ => None,
        }
    }

    /// The canonical text of the entry: the conflict key (`+1555*` for a pattern).
    pub fn key(&self) -> String {
        match self {
            NumberPattern::Exact(n) => n.clone(),
            NumberPattern::Prefix(p) => format!("{p}*"),
        }
    }
}

/// How a number matched a list entry. Orders best first: an exact entry beats any pattern,
/// and a longer pattern beats a shorter one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NumberMatch {
    Exact,
    /// Matched by a pattern whose prefix has this many bytes (reversed so longer sorts first).
    Prefix(Reverse<usize>),
}

impl NumberMatch {
    /// A prefix match of `len` bytes.
    pub fn prefix(len: usize) -> NumberMatch {
        NumberMatch::Prefix(Reverse(len))
    }

    /// Human description for traces.
    pub fn describe(&self) -> String {
        match self {
            NumberMatch::Exact => "exact".to_string(),
            NumberMatch::Prefix(Reverse(n)) => format!("prefix of {n} characters"),
        }
    }
}

/// The best match of `normalized` against a list of entries, or `None`.
pub fn best_match<'a>(
    entries: impl IntoIterator<Item = &'a NumberPattern>,
    normalized: &str,
) -> Option<NumberMatch> {
    entries
        .into_iter()
        .filter_map(|e| e.matches(normalized))
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_table() {
        let cases = [
            ("", ""),
            ("123", "+123"),
            ("+123", "+123"),
            ("(123) 456 7890", "+1234567890"),
            ("+1 (555) 123-4567", "+15551234567"),
            ("15551234567", "+15551234567"),
            ("1111 1111", "+11111111"),
            ("user", "user"),
            ("anonymous", "anonymous"),
            ("+1555*", "+1555*"),
            ("12#", "12#"),
            ("alice@example.com", "alice@example.com"),
            ("1.2.3.4", "1.2.3.4"),
            ("+", "+"),
            ("()", "()"),
            ("++1", "++1"),
            ("1+1", "1+1"),
            ("０１２", "０１２"),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize(raw), want, "normalize({raw:?})");
        }
    }

    #[test]
    fn normalize_is_idempotent_on_samples() {
        for raw in ["+1 555", "555-0100", "x", "", "+44 (20) 7946 0000"] {
            let once = normalize(raw).into_owned();
            assert_eq!(normalize(&once), once);
        }
    }

    #[test]
    fn patterns_parse_and_match() {
        assert_eq!(
            NumberPattern::parse("+1 555*"),
            NumberPattern::Prefix("+1555".into())
        );
        assert_eq!(
            NumberPattern::parse("1555 0100"),
            NumberPattern::Exact("+15550100".into())
        );
        let p = NumberPattern::parse("+1555*");
        assert_eq!(p.matches("+15550100"), Some(NumberMatch::prefix(5)));
        assert_eq!(p.matches("+15660100"), None);
        assert_eq!(p.key(), "+1555*");
    }

    #[test]
    fn exact_beats_longer_pattern_beats_shorter() {
        assert!(NumberMatch::Exact < NumberMatch::prefix(12));
        assert!(NumberMatch::prefix(6) < NumberMatch::prefix(3));
        let entries = [
            NumberPattern::parse("+1*"),
            NumberPattern::parse("+1555*"),
            NumberPattern::parse("+15550100"),
        ];
        assert_eq!(best_match(&entries, "+15550100"), Some(NumberMatch::Exact));
        assert_eq!(
            best_match(&entries, "+15550199"),
            Some(NumberMatch::prefix(5))
        );
        assert_eq!(best_match(&entries, "+1777"), Some(NumberMatch::prefix(2)));
        assert_eq!(best_match(&entries, "+4477"), None);
    }
}
