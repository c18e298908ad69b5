//! Dispatch-rule lookup by (trunk scope, called-number key, caller key).
//!
//! Every rule is filed under each combination of its scopes (its trunks, or the wildcard
//! scope) and its number-filter entries (an exact normalized number, a pattern prefix, or
//! "any" when the filter is empty). Keys are 64-bit hashes computed from the strings, so a
//! lookup costs no memory access before the probe itself; a call probes only the keys
//! that could apply to it (its number, its prefixes of the lengths in use, "any") and only
//! the key shapes the scope actually has rules for — a count bounded by the pattern lengths
//! in use, not by the number of rules. Because keys are hashes, every candidate is checked
//! against the rule's real filters before it is offered, so a collision can never route a
//! call to a rule that does not match it.

use std::hash::Hasher;
use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;
use rustc_hash::FxHasher;
use smallvec::SmallVec;

use super::entry::RuleEntry;
use crate::number::{NumberMatch, NumberPattern};

/// The keys one number probes: rarely more than a handful.
type Keys = SmallVec<[NumKey; 6]>;

/// The scope of rules with empty `trunk_ids`. Trunk scopes are hashes with the low bit set.
const WILDCARD: u64 = 0;

fn hash(tag: u8, s: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write_u8(tag);
    h.write(s.as_bytes());
    h.finish()
}

fn scope_of(trunk_id: &str) -> u64 {
    hash(b's', trunk_id) | 1
}

/// A number-filter key: any (empty filter), an exact number, or a pattern prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum NumKey {
    Any,
    Exact(u64),
    Prefix(u64, u32),
}

impl NumKey {
    fn exact(n: &str) -> NumKey {
        NumKey::Exact(hash(b'e', n))
    }

    fn prefix(p: &str) -> NumKey {
        NumKey::Prefix(hash(b'p', p), p.len() as u32)
    }

    /// How a number matched under this key (`None` for an empty filter).
    pub fn matched(self) -> Option<NumberMatch> {
        match self {
            NumKey::Any => None,
            NumKey::Exact(_) => Some(NumberMatch::Exact),
            NumKey::Prefix(_, len) => Some(NumberMatch::prefix(len as usize)),
        }
    }

    /// Whether a rule filed under this key really matches `number` with `list`.
    fn holds(self, list: &[NumberPattern], number: &str) -> bool {
        match self {
            NumKey::Any => list.is_empty(),
            NumKey::Exact(_) => list
                .iter()
                .any(|p| matches!(p, NumberPattern::Exact(e) if e == number)),
            NumKey::Prefix(_, len) => list.iter().any(|p| {
                matches!(p, NumberPattern::Prefix(pre) if pre.len() == len as usize && number.starts_with(pre.as_str()))
            }),
        }
    }

    /// 0 any, 1 exact, 2 prefix: the key's shape, for the per-scope masks.
    fn shape(self) -> u16 {
        match self {
            NumKey::Any => 0,
            NumKey::Exact(_) => 1,
            NumKey::Prefix(..) => 2,
        }
    }

    /// The mask bit of a (called-number key, caller key) shape combination.
    fn combo(n: NumKey, k: NumKey) -> u16 {
        1 << (n.shape() * 3 + k.shape())
    }
}

/// A rule as filed in the index: its position, and what ranking needs of it, so that
/// candidates are ranked without reading the rules themselves.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cand {
    pub idx: u32,
    /// Position in the layer's (room name or prefix, id) order: the final tie-breakers.
    pub order: u32,
    /// No PIN.
    pub open: bool,
    pub numbers_empty: bool,
    pub inbound_empty: bool,
    /// Direct 0, Individual 1, Callee 2.
    pub kind: u8,
}

/// [`crate::rank::RuleRank`] with the tie-breaking strings replaced by the layer-local
/// order: the same order within one layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct FastRank {
    wildcard: bool,
    number_score: u16,
    numbers: NumberMatch,
    inbound: NumberMatch,
    open: bool,
    kind: u8,
    order: u32,
}

impl Cand {
    pub fn rank(&self, wildcard: bool, n: NumKey, k: NumKey) -> FastRank {
        FastRank {
            wildcard,
            number_score: crate::rank::number_score(self.numbers_empty, self.inbound_empty),
            numbers: n.matched().unwrap_or(NumberMatch::Exact),
            inbound: k.matched().unwrap_or(NumberMatch::Exact),
            open: self.open,
            kind: self.kind,
            order: self.order,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct RuleIndex {
    /// Filings by (scope, called key, caller key).
    map: HashMap<(u64, NumKey, NumKey), SmallVec<[Cand; 2]>>,
    /// Per scope, which key shape combinations have rules ([`NumKey::combo`] bits): a
    /// lookup probes only those, and skips scopes without rules.
    shapes: HashMap<u64, u16>,
    numbers_prefix_lens: Vec<usize>,
    inbound_prefix_lens: Vec<usize>,
    /// Pattern prefixes in use (hashes): small enough to stay in cache, so a call probes
    /// the big map only for prefixes some rule has.
    prefixes: rustc_hash::FxHashSet<u64>,
}

fn keys_for(
    list: &[NumberPattern],
    lens: &mut Vec<usize>,
    prefixes: &mut rustc_hash::FxHashSet<u64>,
) -> Keys {
    if list.is_empty() {
        return SmallVec::from_elem(NumKey::Any, 1);
    }
    list.iter()
        .map(|p| match p {
            NumberPattern::Exact(e) => NumKey::exact(e),
            NumberPattern::Prefix(pre) => {
                if !lens.contains(&pre.len()) {
                    lens.push(pre.len());
                }
                let key = NumKey::prefix(pre);
                if let NumKey::Prefix(h, _) = key {
                    prefixes.insert(h);
                }
                key
            }
        })
        .collect()
}

impl RuleIndex {
    pub fn build(rules: &[Arc<RuleEntry>]) -> RuleIndex {
        let mut ix = RuleIndex::default();
        ix.map.reserve(rules.len());
        let mut by_room: Vec<u32> = (0..rules.len() as u32).collect();
        by_room.sort_by(|&a, &b| {
            let (a, b) = (&rules[a as usize].rule, &rules[b as usize].rule);
            a.room_key().cmp(b.room_key()).then_with(|| a.id.cmp(&b.id))
        });
        let mut order = vec![0u32; rules.len()];
        for (pos, &i) in by_room.iter().enumerate() {
            order[i as usize] = pos as u32;
        }
        for (i, entry) in rules.iter().enumerate() {
            let (r, c) = (&entry.rule, &entry.compiled);
            let mut scopes: SmallVec<[u64; 2]> = if r.trunk_ids.is_empty() {
                SmallVec::from_elem(WILDCARD, 1)
            } else {
                r.trunk_ids.iter().map(|t| scope_of(t)).collect()
            };
            scopes.sort_unstable();
            scopes.dedup();
            let num_keys = keys_for(&c.numbers, &mut ix.numbers_prefix_lens, &mut ix.prefixes);
            let inb_keys = keys_for(
                &c.inbound_numbers,
                &mut ix.inbound_prefix_lens,
                &mut ix.prefixes,
            );
            let cand = Cand {
                idx: i as u32,
                order: order[i],
                open: r.pin().is_empty(),
                numbers_empty: c.numbers.is_empty(),
                inbound_empty: c.inbound_numbers.is_empty(),
                kind: r.kind.as_ref().map_or(u8::MAX, |k| k.rank() as u8),
            };
            for &s in &scopes {
                for &n in &num_keys {
                    for &k in &inb_keys {
                        *ix.shapes.entry(s).or_default() |= NumKey::combo(n, k);
                        ix.map.entry((s, n, k)).or_default().push(cand);
                    }
                }
            }
        }
        ix.numbers_prefix_lens.sort_unstable();
        ix.inbound_prefix_lens.sort_unstable();
        ix
    }

    /// The keys a normalized number can be filed under: "any", then the exact and prefix
    /// keys when `exact` / `prefix` say such keys are in use.
    fn probe_keys(&self, number: &str, lens: &[usize], exact: bool, prefix: bool) -> Keys {
        let mut out = Keys::new();
        out.push(NumKey::Any);
        if exact {
            out.push(NumKey::exact(number));
        }
        if prefix {
            for &len in lens {
                if let Some(key @ NumKey::Prefix(h, _)) = number.get(..len).map(NumKey::prefix)
                    && self.prefixes.contains(&h)
                {
                    out.push(key);
                }
            }
        }
        out
    }

    /// Whether the rule filed under these keys really matches the call (keys are hashes).
    pub fn holds(
        e: &RuleEntry,
        trunk_id: Option<&str>,
        wildcard: bool,
        n: NumKey,
        k: NumKey,
        called: &str,
        caller: &str,
    ) -> bool {
        let in_scope = if wildcard {
            e.rule.trunk_ids.is_empty()
        } else {
            trunk_id.is_some_and(|t| e.rule.trunk_ids.iter().any(|x| x == t))
        };
        in_scope
            && n.holds(&e.compiled.numbers, called)
            && k.holds(&e.compiled.inbound_numbers, caller)
    }

    /// Calls `visit(rule, scope_is_wildcard, numbers_key, inbound_key)` for every rule filed
    /// under a key that applies to the call. With `verify`, only rules whose filters really
    /// match are offered; without it, the caller must check its pick with [`Self::holds`]
    /// (a 64-bit hash collision is possible in principle, never in practice).
    pub fn candidates(
        &self,
        rules: &[Arc<RuleEntry>],
        verify: bool,
        trunk_id: Option<&str>,
        called: &str,
        caller: &str,
        mut visit: impl FnMut(Cand, bool, NumKey, NumKey),
    ) {
        let mut scopes: SmallVec<[(u64, u16); 2]> = SmallVec::new();
        for s in trunk_id
            .map(scope_of)
            .into_iter()
            .chain(std::iter::once(WILDCARD))
        {
            if let Some(&mask) = self.shapes.get(&s) {
                scopes.push((s, mask));
            }
        }
        let mut offer = |s: u64, n: NumKey, k: NumKey, cand: Cand| {
            let wildcard = s == WILDCARD;
            if !verify
                || Self::holds(
                    &rules[cand.idx as usize],
                    trunk_id,
                    wildcard,
                    n,
                    k,
                    called,
                    caller,
                )
            {
                visit(cand, wildcard, n, k);
            }
        };
        let union = scopes.iter().fold(0u16, |m, (_, s)| m | s);
        if union == 0 {
            return;
        }
        // Bits of combinations whose called-number key is exact (0b111 << 3) or a prefix
        // (0b111 << 6); whose caller key is exact (0b010_010_010) or a prefix (0b100_100_100).
        let num_keys = self.probe_keys(
            called,
            &self.numbers_prefix_lens,
            union & (0b111 << 3) != 0,
            union & (0b111 << 6) != 0,
        );
        let inb_keys = self.probe_keys(
            caller,
            &self.inbound_prefix_lens,
            union & 0b010_010_010 != 0,
            union & 0b100_100_100 != 0,
        );
        for &(s, mask) in &scopes {
            for &n in &num_keys {
                for &k in &inb_keys {
                    if mask & NumKey::combo(n, k) == 0 {
                        continue;
                    }
                    if let Some(list) = self.map.get(&(s, n, k)) {
                        for &cand in list {
                            offer(s, n, k, cand);
                        }
                    }
                }
            }
        }
    }
}
