//! Dispatch-rule lookup by (trunk scope, called-number key, caller key).
//!
//! Every rule is filed under each combination of its scopes (its trunks, or the wildcard
//! scope) and its number-filter entries (an exact normalized number, a pattern prefix, or
//! "any" when the filter is empty). The filings of one scope sit together (a *block*), each
//! a 64-byte record ([`Filing`]: one cache line) holding what a scan compares (each key's
//! shape, length and first 8 bytes, and the called key's next 8) and what a lookup that
//! found it reads (the rule's id, position, PIN length, kind and tie-breaking order). The
//! rest of each key and the PIN sit in a byte arena laid out in the same order, so the
//! bytes of one block are contiguous too; a called number of at most 16 bytes (any E.164
//! number) and a caller key of at most 8 are matched from the record alone.
//!
//! A lookup finds the trunk's block (by the trunk's position in the layer, or by its id),
//! then the wildcard block. A small block (the usual case: a few rules per trunk) is
//! sorted best first and scanned until the first filing that applies: a few adjacent cache
//! lines, whatever the total number of rules, and a trunk-scope hit ends the lookup (it
//! beats every wildcard rule). A large block (many rules on one trunk, or many wildcard
//! rules) is probed by key instead: a call probes only the keys that could apply to it (its
//! number, its prefixes of the lengths in use, "any") and only the key shapes the block has
//! rules for, a count bounded by the pattern lengths in use, not by the number of rules.
//! Either way every filing a lookup offers has had its key bytes compared with the call's,
//! so the index is exact: no candidate needs checking against the rule itself, and
//! `match_ids` answers the rule id without reading the rule.

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;

use super::entry::{RuleEntry, TrunkEntry};
use crate::number::{NumberMatch, NumberPattern};

/// Blocks with at most this many filings are scanned; larger ones are probed by key.
pub(crate) const SCAN_LIMIT: usize = 24;

/// Key shapes: an empty filter, an exact number, a pattern prefix.
const ANY: u8 = 0;
const EXACT: u8 = 1;
const PREFIX: u8 = 2;

/// Bytes of a key held in the filing itself.
const HEAD: usize = 8;

/// How a filing's key matched the call: what ranking needs of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum NumKey {
    /// The rule's filter is empty.
    Any,
    Exact,
    /// A pattern prefix of this many bytes.
    Prefix(u32),
}

impl NumKey {
    fn of(shape: u8, len: u32) -> NumKey {
        match shape {
            ANY => NumKey::Any,
            EXACT => NumKey::Exact,
            _ => NumKey::Prefix(len),
        }
    }

    /// How a number matched under this key (`None` for an empty filter).
    pub fn matched(self) -> Option<NumberMatch> {
        match self {
            NumKey::Any => None,
            NumKey::Exact => Some(NumberMatch::Exact),
            NumKey::Prefix(len) => Some(NumberMatch::prefix(len as usize)),
        }
    }
}

/// The first (up to) 8 bytes of `s`, little-endian, zero-padded.
#[inline]
fn head(s: &[u8]) -> u64 {
    if let Some(h) = s.first_chunk::<HEAD>() {
        return u64::from_le_bytes(*h);
    }
    let mut buf = [0u8; HEAD];
    buf[..s.len()].copy_from_slice(s);
    u64::from_le_bytes(buf)
}

/// The mask of the first `len` bytes of a head.
#[inline]
fn head_mask(len: usize) -> u64 {
    if len >= HEAD {
        u64::MAX
    } else {
        (1u64 << (8 * len)) - 1
    }
}

/// A 32-bit fingerprint of a key, for grouping large blocks. Only a filter: matches are
/// confirmed on the bytes.
fn fp(s: &[u8]) -> u32 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = (s.len() as u64 ^ 0x5bd1_e995).wrapping_mul(K);
    let mut chunks = s.chunks_exact(HEAD);
    for c in &mut chunks {
        h = (h.rotate_left(23) ^ head(c)).wrapping_mul(K);
    }
    let rem = chunks.remainder();
    if !rem.is_empty() {
        h = (h.rotate_left(23) ^ head(rem)).wrapping_mul(K);
    }
    (h >> 32) as u32
}

/// Key lengths leave the top 2 bits free: a key under 1 GiB.
const LEN_MASK: u32 = (1 << 30) - 1;

/// One rule filed under one (scope, called key, caller key): everything a scan compares
/// and a lookup that found it reads, in one 64-byte record (one cache line). The keys'
/// first 8 bytes and the called key's next 8 sit in the record, so an E.164 number (at
/// most 16 bytes) is matched without reading the arena.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub(crate) struct Filing {
    /// The rule's id: a lookup that only needs the id reads nothing but the index.
    pub id: Arc<str>,
    /// The called and caller keys' first 8 bytes, zero-padded.
    n_head: u64,
    k_head: u64,
    /// The called key's bytes 8..16, zero-padded.
    n_next: [u8; HEAD],
    /// Where the called key's rest (past its head), then the caller key's rest, then the
    /// PIN sit in the byte arena.
    off: u32,
    n_len: u32,
    k_len: u32,
    /// The rule's position in the layer.
    pub idx: u32,
    /// Position in the layer's (room name or prefix, id) order: the final tie-breakers.
    order: u32,
    n_shape: u8,
    k_shape: u8,
    pin_len: u8,
    /// Direct 0, Individual 1, Callee 2.
    kind: u8,
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

impl Filing {
    /// The rule has no PIN.
    pub fn open(&self) -> bool {
        self.pin_len == 0
    }

    /// How the filing's called key matches when it does: fixed by the key's shape.
    fn n_key(&self) -> NumKey {
        NumKey::of(self.n_shape, self.n_len)
    }

    fn k_key(&self) -> NumKey {
        NumKey::of(self.k_shape, self.k_len)
    }

    /// The filing's rank when it matches: fixed by the filing, as how each key matches
    /// is fixed by its shape.
    fn static_rank(&self) -> FastRank {
        self.rank(false, self.n_key(), self.k_key())
    }

    pub fn rank(&self, wildcard: bool, n: NumKey, k: NumKey) -> FastRank {
        FastRank {
            wildcard,
            number_score: crate::rank::number_score(self.n_shape == ANY, self.k_shape == ANY),
            numbers: n.matched().unwrap_or(NumberMatch::Exact),
            inbound: k.matched().unwrap_or(NumberMatch::Exact),
            open: self.open(),
            kind: self.kind,
            order: self.order,
        }
    }
}

/// A filing that applies to a call, with its scope (wildcard or not) and how its keys
/// matched.
pub(crate) type Hit<'a> = (&'a Filing, bool, NumKey, NumKey);

/// (shape, length, fingerprint) of a key: how large blocks are grouped and probed.
type KeyId = (u8, u32, u32);

fn key_id(shape: u8, key: &str) -> KeyId {
    match shape {
        ANY => (ANY, 0, 0),
        _ => (shape, u32_of(key.len()), fp(key.as_bytes())),
    }
}

/// The filings of one scope.
#[derive(Clone, Copy, Debug, Default)]
struct Block {
    start: u32,
    end: u32,
    /// Which (called shape, caller shape) combinations occur: bit `3 * n + k`.
    mask: u16,
    large: bool,
}

/// One number of the call (called or caller) as filings compare it.
struct Probe<'a> {
    s: &'a [u8],
    head: u64,
}

impl<'a> Probe<'a> {
    fn new(s: &'a str) -> Self {
        Probe {
            s: s.as_bytes(),
            head: head(s.as_bytes()),
        }
    }

    /// How the key (shape, length, head; its next 8 bytes in `next` when known, the rest
    /// in `arena` from `rest`) matches the number, if it does.
    #[inline]
    fn test(
        &self,
        shape: u8,
        len: u32,
        key_head: u64,
        next: Option<&[u8; HEAD]>,
        arena: &[u8],
        rest: usize,
    ) -> Option<NumKey> {
        let n = len as usize;
        let hit = match shape {
            ANY => return Some(NumKey::Any),
            EXACT => n == self.s.len() && key_head == self.head,
            _ => n <= self.s.len() && key_head == self.head & head_mask(n),
        };
        if !hit {
            return None;
        }
        if n > HEAD {
            let tail = &self.s[HEAD..n];
            let same = match next {
                Some(next) if n <= 2 * HEAD => next[..n - HEAD] == *tail,
                _ => arena[rest..rest + n - HEAD] == *tail,
            };
            if !same {
                return None;
            }
        }
        Some(NumKey::of(shape, len))
    }
}

/// The arena bytes a key occupies (those past its head).
fn rest_len(len: u32) -> usize {
    (len as usize).saturating_sub(HEAD)
}

#[derive(Debug, Default)]
pub(crate) struct RuleIndex {
    /// Filings grouped by block; inside a large block, grouped by key.
    filings: Vec<Filing>,
    /// Key rests and PINs of the filings, in filing order (compared bytewise: a rest may
    /// begin inside a multi-byte character).
    bytes: Vec<u8>,
    /// One block per trunk of the same layer, at the trunk's position (empty when the
    /// trunk has no rules here); then the blocks of trunk ids this layer has no trunk for;
    /// then the wildcard block.
    blocks: Vec<Block>,
    wildcard: Option<u32>,
    /// Non-empty trunk-scope blocks by trunk id.
    by_trunk_id: FxHashMap<Box<str>, u32>,
    /// Large blocks only: (block, called key, caller key) → range of filings.
    groups: FxHashMap<(u32, KeyId, KeyId), (u32, u32)>,
    /// Large blocks only: pattern lengths in use, and the (length, fingerprint) of every
    /// pattern prefix, small enough to stay in cache.
    numbers_prefix_lens: Vec<u32>,
    inbound_prefix_lens: Vec<u32>,
    prefixes: FxHashSet<(u32, u32)>,
}

fn combo(n: u8, k: u8) -> u16 {
    1 << (n * 3 + k)
}

/// (shape, text) of entry `j` of a filter; entry 0 of an empty filter is "any".
fn key_at(list: &[NumberPattern], j: usize) -> (u8, &str) {
    match list.get(j) {
        None => (ANY, ""),
        Some(NumberPattern::Exact(e)) => (EXACT, e.as_str()),
        Some(NumberPattern::Prefix(pre)) => (PREFIX, pre.as_str()),
    }
}

fn u32_of(n: usize) -> u32 {
    u32::try_from(n).expect("a rule index under 4 GiB")
}

/// The bytes of a key past its head.
fn rest_of(key: &str) -> &[u8] {
    key.as_bytes().get(HEAD..).unwrap_or(&[])
}

impl RuleIndex {
    /// Indexes `rules`; `trunks` are the trunks of the same layer, whose positions number
    /// the first blocks. Blocks of more than `scan_limit` filings are probed by key.
    pub fn build(
        rules: &[Arc<RuleEntry>],
        trunks: &[Arc<TrunkEntry>],
        scan_limit: usize,
    ) -> RuleIndex {
        let mut ix = RuleIndex::default();
        if rules.is_empty() {
            return ix;
        }
        let mut by_room: Vec<u32> = (0..u32_of(rules.len())).collect();
        let rule = |i: u32| &rules[i as usize].rule;
        if rules.is_sorted_by(|a, b| a.rule.id <= b.rule.id) {
            // A layer's rules come in id order: a stable sort by room key alone keeps it
            // among equal keys, without comparing ids.
            by_room.sort_by(|&a, &b| rule(a).room_key().cmp(rule(b).room_key()));
        } else {
            by_room.sort_unstable_by(|&a, &b| {
                let (a, b) = (rule(a), rule(b));
                a.room_key().cmp(b.room_key()).then_with(|| a.id.cmp(&b.id))
            });
        }
        let mut order = vec![0u32; rules.len()];
        for (pos, &i) in by_room.iter().enumerate() {
            order[i as usize] = pos as u32;
        }

        // Pass 1: each rule's filings as (block, rule, called entry, caller entry). The
        // layer's trunks take the first blocks, in position order.
        let mut block_of: FxHashMap<&str, u32> = FxHashMap::default();
        block_of.reserve(trunks.len());
        let mut scope_ids: Vec<Option<&str>> = Vec::with_capacity(trunks.len() + 1);
        for t in trunks {
            let id = t.trunk.id.as_str();
            block_of.insert(id, u32_of(scope_ids.len()));
            scope_ids.push(Some(id));
        }
        let mut pending: Vec<(u32, u32, u32, u32)> = Vec::with_capacity(rules.len() * 2);
        for (i, entry) in rules.iter().enumerate() {
            let (r, c) = (&entry.rule, &entry.compiled);
            let nn = u32_of(c.numbers.len().max(1));
            let nk = u32_of(c.inbound_numbers.len().max(1));
            let mut scopes: SmallVec<[u32; 2]> = SmallVec::new();
            if r.trunk_ids.is_empty() {
                let b = *ix.wildcard.get_or_insert_with(|| {
                    scope_ids.push(None);
                    u32_of(scope_ids.len() - 1)
                });
                scopes.push(b);
            } else {
                for t in &r.trunk_ids {
                    let b = *block_of.entry(t.as_str()).or_insert_with(|| {
                        scope_ids.push(Some(t.as_str()));
                        u32_of(scope_ids.len() - 1)
                    });
                    if !scopes.contains(&b) {
                        scopes.push(b);
                    }
                }
            }
            for &b in &scopes {
                for n in 0..nn {
                    for k in 0..nk {
                        pending.push((b, i as u32, n, k));
                    }
                }
            }
        }

        // Pass 2: blocks in scope order (a counting sort), large blocks sorted by key.
        let mut counts = vec![0u32; scope_ids.len() + 1];
        for p in &pending {
            counts[p.0 as usize + 1] += 1;
        }
        for b in 0..scope_ids.len() {
            counts[b + 1] += counts[b];
        }
        let mut next: Vec<u32> = counts[..scope_ids.len()].to_vec();
        let mut sorted = vec![(0u32, 0u32, 0u32, 0u32); pending.len()];
        for p in pending {
            let slot = &mut next[p.0 as usize];
            sorted[*slot as usize] = p;
            *slot += 1;
        }

        ix.filings.reserve_exact(sorted.len());
        ix.blocks.reserve_exact(scope_ids.len());
        let keys = |&(_, i, n, k): &(u32, u32, u32, u32)| {
            let c = &rules[i as usize].compiled;
            (
                key_at(&c.numbers, n as usize),
                key_at(&c.inbound_numbers, k as usize),
            )
        };
        for b in 0..scope_ids.len() {
            let block_filings = &mut sorted[counts[b] as usize..counts[b + 1] as usize];
            let large = block_filings.len() > scan_limit;
            if large {
                block_filings.sort_by_cached_key(|p| {
                    let ((ns, nt), (ks, kt)) = keys(p);
                    (key_id(ns, nt), key_id(ks, kt), p.1)
                });
            }
            let first = ix.filings.len();
            let mut mask = 0u16;
            for p in block_filings.iter() {
                let i = p.1;
                let entry = &rules[i as usize];
                let r = &entry.rule;
                let ((n_shape, n_key), (k_shape, k_key)) = keys(p);
                let pin = r.pin();
                let off = u32_of(ix.bytes.len());
                ix.bytes.extend_from_slice(rest_of(n_key));
                ix.bytes.extend_from_slice(rest_of(k_key));
                ix.bytes.extend_from_slice(pin.as_bytes());
                mask |= combo(n_shape, k_shape);
                let mut n_next = [0u8; HEAD];
                let next = n_key.as_bytes().get(HEAD..).unwrap_or(&[]);
                let next = &next[..next.len().min(HEAD)];
                n_next[..next.len()].copy_from_slice(next);
                let packed = |len: usize| {
                    let len = u32_of(len);
                    assert!(len <= LEN_MASK, "a number filter entry under 1 GiB");
                    len
                };
                let filing = Filing {
                    id: entry.id.clone(),
                    n_head: head(n_key.as_bytes()),
                    k_head: head(k_key.as_bytes()),
                    n_next,
                    off,
                    n_len: packed(n_key.len()),
                    k_len: packed(k_key.len()),
                    idx: i,
                    order: order[i as usize],
                    n_shape,
                    k_shape,
                    pin_len: u8::try_from(pin.len()).expect("PINs are validated short"),
                    kind: r.kind.as_ref().map_or(u8::MAX, |k| k.rank() as u8),
                };
                ix.filings.push(filing);
            }
            let block = u32_of(b);
            if large {
                ix.index_large(block, first, block_filings, &keys);
            } else {
                // Best first, so that a lookup can stop at the first filing that applies.
                ix.filings[first..].sort_by_key(Filing::static_rank);
            }
            ix.blocks.push(Block {
                start: u32_of(first),
                end: u32_of(ix.filings.len()),
                mask,
                large,
            });
            if let Some(id) = scope_ids[b]
                && ix.filings.len() > first
            {
                ix.by_trunk_id.insert(id.into(), block);
            }
        }
        ix.numbers_prefix_lens.sort_unstable();
        ix.inbound_prefix_lens.sort_unstable();
        ix
    }
    /// Groups the filings of a large block (the last ones pushed, from `first`; `pending`
    /// in the same order) by key, for probing.
    fn index_large<'r>(
        &mut self,
        block: u32,
        first: usize,
        pending: &[(u32, u32, u32, u32)],
        keys: &impl Fn(&(u32, u32, u32, u32)) -> ((u8, &'r str), (u8, &'r str)),
    ) {
        let ids: Vec<(KeyId, KeyId)> = pending
            .iter()
            .map(|p| {
                let ((ns, nt), (ks, kt)) = keys(p);
                (key_id(ns, nt), key_id(ks, kt))
            })
            .collect();
        let mut g = 0;
        while g < ids.len() {
            let key = ids[g];
            let mut end = g + 1;
            while end < ids.len() && ids[end] == key {
                end += 1;
            }
            self.groups.insert(
                (block, key.0, key.1),
                (u32_of(first + g), u32_of(first + end)),
            );
            let ((ns, nl, nf), (ks, kl, kf)) = key;
            if ns == PREFIX {
                if !self.numbers_prefix_lens.contains(&nl) {
                    self.numbers_prefix_lens.push(nl);
                }
                self.prefixes.insert((nl, nf));
            }
            if ks == PREFIX {
                if !self.inbound_prefix_lens.contains(&kl) {
                    self.inbound_prefix_lens.push(kl);
                }
                self.prefixes.insert((kl, kf));
            }
            g = end;
        }
    }

    /// The PIN of the rule behind a filing (ASCII digits).
    pub fn pin(&self, f: &Filing) -> &[u8] {
        let at = f.off as usize + rest_len(f.n_len) + rest_len(f.k_len);
        &self.bytes[at..at + f.pin_len as usize]
    }

    /// The trunk-scope block for a trunk: by position when the trunk belongs to this layer
    /// (`pos`), otherwise by id.
    fn trunk_block(&self, trunk_id: &str, pos: Option<u32>) -> Option<u32> {
        match pos {
            Some(p) => Some(p),
            None => self.by_trunk_id.get(trunk_id).copied(),
        }
    }

    /// Whether a filing's keys match the call, and how.
    #[inline]
    fn test(&self, i: usize, n: &Probe<'_>, k: &Probe<'_>) -> Option<(NumKey, NumKey)> {
        let f = &self.filings[i];
        let off = f.off as usize;
        let nk = n.test(
            f.n_shape,
            f.n_len,
            f.n_head,
            Some(&f.n_next),
            &self.bytes,
            off,
        )?;
        let k_off = off + rest_len(f.n_len);
        let kk = k.test(f.k_shape, f.k_len, f.k_head, None, &self.bytes, k_off)?;
        Some((nk, kk))
    }

    /// Calls `visit(filing, scope_is_wildcard, numbers_key, inbound_key)` for every rule
    /// filed under keys that match the call: its scope is the trunk (`trunk`: its id and,
    /// when the trunk belongs to this layer, its position) or the wildcard scope, and its
    /// called-number and caller keys match the call's numbers (bytes compared).
    pub fn candidates<'a>(
        &'a self,
        trunk: Option<(&str, Option<u32>)>,
        called: &str,
        caller: &str,
        mut visit: impl FnMut(&'a Filing, bool, NumKey, NumKey),
    ) {
        if self.blocks.is_empty() {
            return;
        }
        let blocks = [
            trunk
                .and_then(|(id, pos)| self.trunk_block(id, pos))
                .map(|b| (b, false)),
            self.wildcard.map(|b| (b, true)),
        ];
        let (n, k) = (Probe::new(called), Probe::new(caller));
        for (b, wildcard) in blocks.into_iter().flatten() {
            let Some(&block) = self.blocks.get(b as usize) else {
                continue;
            };
            if block.large {
                self.probe_large(b, block.mask, wildcard, &n, &k, &mut visit);
                continue;
            }
            for i in block.start as usize..block.end as usize {
                if let Some((nk, kk)) = self.test(i, &n, &k) {
                    visit(&self.filings[i], wildcard, nk, kk);
                }
            }
        }
    }

    /// The best-ranked filing that matches the call and that `accept` admits, with its
    /// scope and keys: the call path. The trunk's block comes first, as a trunk-scope rule
    /// beats any wildcard rule, and a small block is scanned best first, so the scan stops
    /// at the first filing that applies.
    pub fn best<'a>(
        &'a self,
        trunk: Option<(&str, Option<u32>)>,
        called: &str,
        caller: &str,
        mut accept: impl FnMut(&'a Filing) -> bool,
    ) -> Option<Hit<'a>> {
        if self.blocks.is_empty() {
            return None;
        }
        let blocks = [
            trunk
                .and_then(|(id, pos)| self.trunk_block(id, pos))
                .map(|b| (b, false)),
            self.wildcard.map(|b| (b, true)),
        ];
        let (n, k) = (Probe::new(called), Probe::new(caller));
        for (b, wildcard) in blocks.into_iter().flatten() {
            let Some(&block) = self.blocks.get(b as usize) else {
                continue;
            };
            if block.large {
                let mut best: Option<(FastRank, Hit<'a>)> = None;
                self.probe_large(b, block.mask, wildcard, &n, &k, &mut |f, w, nk, kk| {
                    let rank = f.rank(w, nk, kk);
                    if best.is_none_or(|(r, _)| rank < r) && accept(f) {
                        best = Some((rank, (f, w, nk, kk)));
                    }
                });
                if let Some((_, found)) = best {
                    return Some(found);
                }
                continue;
            }
            for i in block.start as usize..block.end as usize {
                if let Some((nk, kk)) = self.test(i, &n, &k) {
                    let f = &self.filings[i];
                    if accept(f) {
                        return Some((f, wildcard, nk, kk));
                    }
                }
            }
        }
        None
    }

    /// The keys a number can be filed under in large blocks: "any", then the exact and
    /// prefix keys when `exact` / `prefix` say such keys are in use.
    fn probe_keys(
        &self,
        p: &Probe<'_>,
        lens: &[u32],
        exact: bool,
        prefix: bool,
    ) -> SmallVec<[KeyId; 6]> {
        let mut out: SmallVec<[KeyId; 6]> = SmallVec::new();
        out.push((ANY, 0, 0));
        if exact {
            out.push((EXACT, u32_of(p.s.len()), fp(p.s)));
        }
        if prefix {
            for &len in lens {
                if let Some(pre) = p.s.get(..len as usize) {
                    let h = fp(pre);
                    if self.prefixes.contains(&(len, h)) {
                        out.push((PREFIX, len, h));
                    }
                }
            }
        }
        out
    }

    fn probe_large<'a>(
        &'a self,
        b: u32,
        mask: u16,
        wildcard: bool,
        n: &Probe<'_>,
        k: &Probe<'_>,
        visit: &mut impl FnMut(&'a Filing, bool, NumKey, NumKey),
    ) {
        // Bits of combinations whose called-number key is exact (0b111 << 3) or a prefix
        // (0b111 << 6); whose caller key is exact (0b010_010_010) or a prefix (0b100_100_100).
        let n_keys = self.probe_keys(
            n,
            &self.numbers_prefix_lens,
            mask & (0b111 << 3) != 0,
            mask & (0b111 << 6) != 0,
        );
        let k_keys = self.probe_keys(
            k,
            &self.inbound_prefix_lens,
            mask & 0b010_010_010 != 0,
            mask & 0b100_100_100 != 0,
        );
        for &nkey in &n_keys {
            for &kkey in &k_keys {
                if mask & combo(nkey.0, kkey.0) == 0 {
                    continue;
                }
                let Some(&(start, end)) = self.groups.get(&(b, nkey, kkey)) else {
                    continue;
                };
                // A group may hold keys that only share the fingerprint: test each.
                for i in start as usize..end as usize {
                    if let Some((nk, kk)) = self.test(i, n, k) {
                        visit(&self.filings[i], wildcard, nk, kk);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "rule_index_tests.rs"]
mod tests;
