//! Tests of the rule index: exactness against a brute-force reading of the filters.
//! The index against a brute-force reading of the filters: the same candidates, with
//! the same keys, whether blocks are scanned or probed and whether the trunk is found
//! by position or by id.

use super::*;
use crate::model::{Rule, RuleKind, Trunk};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};

/// Keys shorter and longer than the 8-byte head and than the 16 bytes a filing holds,
/// prefixes of each other, keys equal in their first 16 bytes, and multi-byte characters
/// across bytes 8 and 16.
const NUMBERS: &[&str] = &[
    "+1555*",
    "+15550100",
    "+15550101",
    "+155501*",
    "+1555010*",
    "+15550100*",
    "+155501001*",
    "+1*",
    "+4420*",
    "+442079460000",
    "sipuser",
    "sip*",
    "sipuser-long-name",
    "sipuser-long*",
    "ab\u{e9}cdefgh\u{e9}",
    "ab\u{e9}cdef*",
    "ab\u{e9}cdefg*",
    "+155501001234567890",
    "+155501001234567891",
    "+1555010012345678*",
    "sipuser-long-name-extra",
    "sipuser-long-name*",
    "sipuser-long-nam\u{e9}x",
];
const CALLS: &[&str] = &[
    "+15550100",
    "+15550101",
    "+155501001",
    "+1555010012",
    "+15551234",
    "+442079460000",
    "+442079460001",
    "+44",
    "+1",
    "sipuser",
    "sipuser-long-name",
    "sipuser-long-names",
    "sipx",
    "ab\u{e9}cdefgh\u{e9}",
    "ab\u{e9}cdefgh",
    "ab\u{e9}cdefgX",
    "+155501001234567890",
    "+155501001234567899",
    "sipuser-long-name-extra",
    "sipuser-long-name-extrb",
    "sipuser-long-nam\u{e9}x",
    "",
];
const TRUNKS: usize = 4;
const PINS: &[&str] = &["", "", "1", "123456", "1234567890123456"];

fn rule_strategy() -> impl Strategy<Value = Rule> {
    (
        prop_oneof![2 => Just(vec![]), 3 => vec(0..TRUNKS + 1, 1..3)],
        prop_oneof![1 => Just(vec![]), 2 => subsequence(NUMBERS, 1..4)],
        prop_oneof![1 => Just(vec![]), 2 => subsequence(NUMBERS, 1..4)],
        select(PINS),
        0..3u8,
    )
        .prop_map(|(trunks, numbers, inbound, pin, kind)| {
            let pin = pin.to_string();
            let kind = match kind {
                0 => RuleKind::Direct {
                    room_name: "r".into(),
                    pin,
                },
                1 => RuleKind::Individual {
                    room_prefix: "p".into(),
                    pin,
                    no_randomness: false,
                },
                _ => RuleKind::Callee {
                    room_prefix: String::new(),
                    pin,
                    randomize: false,
                },
            };
            Rule {
                kind: Some(kind),
                trunk_ids: trunks.iter().map(|i| format!("ST_{i}")).collect(),
                numbers: numbers.iter().map(|s| s.to_string()).collect(),
                inbound_numbers: inbound.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            }
        })
}

type Found = Vec<(u32, bool, NumKey, NumKey)>;

fn collect(
    ix: &RuleIndex,
    trunk: Option<(&str, Option<u32>)>,
    called: &str,
    caller: &str,
) -> Found {
    let mut out = Vec::new();
    ix.candidates(trunk, called, caller, |f, w, n, k| {
        out.push((f.idx, w, n, k))
    });
    out.sort();
    out
}

fn key_match(p: &NumberPattern, s: &str) -> Option<NumKey> {
    match p {
        NumberPattern::Exact(e) => (e == s).then_some(NumKey::Exact),
        NumberPattern::Prefix(pre) => s
            .starts_with(pre.as_str())
            .then_some(NumKey::Prefix(pre.len() as u32)),
    }
}

fn matches(list: &[NumberPattern], s: &str) -> Vec<NumKey> {
    if list.is_empty() {
        return vec![NumKey::Any];
    }
    list.iter().filter_map(|p| key_match(p, s)).collect()
}

fn brute(rules: &[Arc<RuleEntry>], trunk: Option<&str>, called: &str, caller: &str) -> Found {
    let mut out = Vec::new();
    for (i, e) in rules.iter().enumerate() {
        let t = &e.rule.trunk_ids;
        let wildcard = t.is_empty();
        if !wildcard && !trunk.is_some_and(|id| t.iter().any(|x| x == id)) {
            continue;
        }
        for n in matches(&e.compiled.numbers, called) {
            for k in matches(&e.compiled.inbound_numbers, caller) {
                out.push((i as u32, wildcard, n, k));
            }
        }
    }
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn index_offers_exactly_the_matching_filings(
        rules in vec(rule_strategy(), 0..40),
        trunk in 0..TRUNKS + 2,
        called in select(CALLS),
        caller in select(CALLS),
    ) {
        let rules: Vec<Arc<RuleEntry>> = rules
            .into_iter()
            .enumerate()
            .map(|(i, mut r)| {
                r.id = format!("SDR_{i:02}");
                Arc::new(RuleEntry::new(r).expect("valid rule"))
            })
            .collect();
        // Trunks ST_0 .. ST_{TRUNKS-1}; ST_{TRUNKS} is named by rules but does not exist.
        let trunks: Vec<Arc<TrunkEntry>> = (0..TRUNKS)
            .map(|i| {
                Arc::new(
                    TrunkEntry::new(Trunk {
                        id: format!("ST_{i}"),
                        numbers: vec![format!("+1999000{i}")],
                        ..Default::default()
                    })
                    .expect("valid trunk"),
                )
            })
            .collect();
        let trunk_id = (trunk <= TRUNKS).then(|| format!("ST_{trunk}"));
        let pos = (trunk < TRUNKS).then_some(trunk as u32);
        let expected = brute(&rules, trunk_id.as_deref(), called, caller);
        for limit in [0, 3, usize::MAX] {
            let ix = RuleIndex::build(&rules, &trunks, limit);
            let by_id = collect(&ix, trunk_id.as_deref().map(|t| (t, None)), called, caller);
            prop_assert_eq!(&by_id, &expected, "by id, scan limit {}", limit);
            if let Some(p) = pos {
                let by_pos = collect(&ix, trunk_id.as_deref().map(|t| (t, Some(p))), called, caller);
                prop_assert_eq!(&by_pos, &expected, "by position, scan limit {}", limit);
            }
            // `best` picks the best-ranked candidate that `accept` admits.
            for skip in [None, Some(0), Some(1)] {
                let admit = |f: &Filing| skip.is_none_or(|m| f.idx % 2 != m);
                let mut all = Vec::new();
                ix.candidates(trunk_id.as_deref().map(|t| (t, pos)), called, caller, |f, w, n, k| {
                    if admit(f) {
                        all.push((f.rank(w, n, k), f.idx, w, n, k));
                    }
                });
                let want = all.into_iter().min().map(|(_, i, w, n, k)| (i, w, n, k));
                let got = ix
                    .best(trunk_id.as_deref().map(|t| (t, pos)), called, caller, admit)
                    .map(|(f, w, n, k)| (f.idx, w, n, k));
                prop_assert_eq!(got, want, "best, scan limit {}, skip {:?}", limit, skip);
            }
            // Every filing's PIN is its rule's.
            for f in &ix.filings {
                prop_assert_eq!(ix.pin(f), rules[f.idx as usize].rule.pin().as_bytes());
            }
        }
    }
}

#[test]
fn heads_and_masks() {
    assert_eq!(head(b""), 0);
    assert_eq!(head(b"+1"), u64::from(b'+') | u64::from(b'1') << 8);
    assert_eq!(head(b"+1555123456"), head(b"+1555123"));
    assert_eq!(head_mask(0), 0);
    assert_eq!(head_mask(2), 0xffff);
    assert_eq!(head_mask(8), u64::MAX);
    assert_eq!(head_mask(12), u64::MAX);
}
