//! Trunk lookup by called number, caller and source without scanning every trunk.
//!
//! Buckets hold the trunks of one called-number key (an exact number, a pattern prefix, or
//! the wildcard). Inside a bucket, trunks with a caller allow-list are keyed by each allowed
//! caller; inside that, trunks with an address filter are keyed by exact IP, by masked
//! network per CIDR length, and by From host. The most specific trunk that passes wins,
//! lowest id among equals.
//!
//! Exact numbers are found through a [`NumberTable`], whose slot also carries the
//! bucket's winner when the bucket filters neither callers nor sources (a number served by
//! one plain trunk, the usual case): such a call's trunk lookup reads one slot.

use rustc_hash::FxHashMap as HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::entry::TrunkEntry;
use super::number_table::NumberTable;
use crate::address::{AddressFilter, mask};
use crate::number::NumberPattern;
use crate::validate::CompiledTrunk;

/// Trunks of one bucket that share the caller condition, split by address condition.
#[derive(Debug, Default)]
pub(crate) struct AddrGroup {
    by_ip: HashMap<IpAddr, Vec<u32>>,
    /// (prefix length, is IPv4, masked network → trunks)
    by_net: Vec<(u8, bool, HashMap<IpAddr, Vec<u32>>)>,
    by_host: HashMap<Box<str>, Vec<u32>>,
    /// Trunks without an address filter, ascending index (= id) order.
    open: Vec<u32>,
}

impl AddrGroup {
    fn insert(&mut self, idx: u32, addresses: &[AddressFilter]) {
        if addresses.is_empty() {
            self.open.push(idx);
            return;
        }
        for a in addresses {
            match a {
                AddressFilter::Ip(ip) => self.by_ip.entry(*ip).or_default().push(idx),
                AddressFilter::Host(h) => {
                    self.by_host.entry(h.as_str().into()).or_default().push(idx)
                }
                AddressFilter::Cidr(net, len) => {
                    let v4 = net.is_ipv4();
                    let slot = match self
                        .by_net
                        .iter()
                        .position(|(l, f, _)| l == len && *f == v4)
                    {
                        Some(p) => p,
                        None => {
                            self.by_net.push((*len, v4, HashMap::default()));
                            self.by_net.len() - 1
                        }
                    };
                    self.by_net[slot].2.entry(*net).or_default().push(idx);
                }
            }
        }
    }

    /// The lowest-index trunk of the group admitting this source, address-filtered first.
    fn lookup(&self, source: Option<IpAddr>, host_lower: &str) -> Option<u32> {
        let mut best: Option<u32> = None;
        let mut offer = |list: Option<&Vec<u32>>| {
            if let Some(&first) = list.and_then(|l| l.first()) {
                best = Some(best.map_or(first, |b| b.min(first)));
            }
        };
        if let Some(ip) = source {
            offer(self.by_ip.get(&ip));
            for (len, v4, nets) in &self.by_net {
                if ip.is_ipv4() == *v4 {
                    offer(nets.get(&mask(ip, *len)));
                }
            }
        }
        if !host_lower.is_empty() {
            offer(self.by_host.get(host_lower));
        }
        best.or_else(|| self.open.first().copied())
    }
}

/// All trunks of one called-number key.
#[derive(Debug, Default)]
pub(crate) struct Bucket {
    by_caller: HashMap<Box<str>, AddrGroup>,
    any_caller: AddrGroup,
    /// Every trunk in the bucket, most specific first (caller filter, address filter, id):
    /// the order the slow paths (tracing, hidden entries, conflict checks) walk.
    pub all: Vec<u32>,
}

impl Bucket {
    fn insert(&mut self, idx: u32, c: &CompiledTrunk) {
        self.all.push(idx);
        if c.allowed_numbers.is_empty() {
            self.any_caller.insert(idx, &c.addresses);
        } else {
            for n in &c.allowed_numbers {
                self.by_caller
                    .entry(n.as_str().into())
                    .or_default()
                    .insert(idx, &c.addresses);
            }
        }
    }

    fn finish(&mut self, compiled: &[Arc<TrunkEntry>]) {
        let sort = |g: &mut AddrGroup| {
            g.open.sort_unstable();
            g.open.dedup();
            for l in g.by_ip.values_mut().chain(g.by_host.values_mut()) {
                l.sort_unstable();
                l.dedup();
            }
            for (_, _, nets) in &mut g.by_net {
                for l in nets.values_mut() {
                    l.sort_unstable();
                    l.dedup();
                }
            }
        };
        sort(&mut self.any_caller);
        for g in self.by_caller.values_mut() {
            sort(g);
        }
        self.all.sort_unstable();
        self.all.dedup();
        self.all.sort_by_key(|&i| {
            let c = &compiled[i as usize].compiled;
            (c.allowed_numbers.is_empty(), c.addresses.is_empty(), i)
        });
    }

    /// The winner whatever the caller and source, when the bucket filters neither.
    fn unfiltered_winner(&self) -> Option<u32> {
        let g = &self.any_caller;
        let unfiltered = self.by_caller.is_empty()
            && g.by_ip.is_empty()
            && g.by_net.is_empty()
            && g.by_host.is_empty();
        if unfiltered {
            g.open.first().copied()
        } else {
            None
        }
    }

    fn lookup(&self, caller: &str, source: Option<IpAddr>, host_lower: &str) -> Option<u32> {
        self.by_caller
            .get(caller)
            .and_then(|g| g.lookup(source, host_lower))
            .or_else(|| self.any_caller.lookup(source, host_lower))
    }
}

/// No trunk: the high half of an [`NumberTable`] value without an unfiltered winner.
const NO_TRUNK: u32 = u32::MAX;

/// Called-number buckets for all trunks.
#[derive(Debug, Default)]
pub(crate) struct TrunkIndex {
    /// Exact number → its bucket's position in `exact_buckets` (low half) and, when the
    /// bucket filters neither callers nor sources, its winner (high half; [`NO_TRUNK`]
    /// otherwise): the usual call is answered from the table's slot alone.
    exact: NumberTable,
    exact_buckets: Vec<Bucket>,
    prefix: HashMap<Box<str>, Bucket>,
    /// Distinct pattern prefix lengths, longest first.
    prefix_lens: Vec<usize>,
    wildcard: Bucket,
}

/// Which bucket a candidate came from, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BucketKey<'a> {
    Exact,
    Prefix(&'a str),
    Wildcard,
}

impl TrunkIndex {
    pub fn build(trunks: &[Arc<TrunkEntry>]) -> TrunkIndex {
        let mut ix = TrunkIndex::default();
        let mut exact: HashMap<Box<str>, Bucket> = HashMap::default();
        for (i, entry) in trunks.iter().enumerate() {
            let c = &entry.compiled;
            let idx = i as u32;
            if c.numbers.is_empty() {
                ix.wildcard.insert(idx, c);
            }
            for n in &c.numbers {
                match n {
                    NumberPattern::Exact(e) => {
                        exact.entry(e.as_str().into()).or_default().insert(idx, c)
                    }
                    NumberPattern::Prefix(p) => {
                        if !ix.prefix_lens.contains(&p.len()) {
                            ix.prefix_lens.push(p.len());
                        }
                        ix.prefix
                            .entry(p.as_str().into())
                            .or_default()
                            .insert(idx, c)
                    }
                }
            }
        }
        ix.prefix_lens.sort_unstable_by(|a, b| b.cmp(a));
        ix.wildcard.finish(trunks);
        for b in exact.values_mut().chain(ix.prefix.values_mut()) {
            b.finish(trunks);
        }
        let mut keys = Vec::with_capacity(exact.len());
        for (number, bucket) in exact {
            let winner = bucket.unfiltered_winner().unwrap_or(NO_TRUNK);
            let value = ix.exact_buckets.len() as u64 | u64::from(winner) << 32;
            keys.push((number, value));
            ix.exact_buckets.push(bucket);
        }
        ix.exact = NumberTable::build(keys.iter().map(|(k, v)| (&**k, *v)));
        ix
    }

    fn exact_entry(&self, number: &str) -> Option<(&Bucket, Option<u32>)> {
        let v = self.exact.get(number)?;
        let winner = (v >> 32) as u32;
        let bucket = &self.exact_buckets[(v & u64::from(u32::MAX)) as usize];
        Some((bucket, (winner != NO_TRUNK).then_some(winner)))
    }

    /// The buckets that apply to a called number, most specific first.
    pub fn buckets<'a, 'b>(
        &'a self,
        called: &'b str,
    ) -> impl Iterator<Item = (BucketKey<'b>, &'a Bucket)> {
        let exact = self.exact_bucket(called).map(|b| (BucketKey::Exact, b));
        let prefixes = self.prefix_lens.iter().filter_map(move |&len| {
            let p = called.get(..len)?;
            self.prefix.get(p).map(|b| (BucketKey::Prefix(p), b))
        });
        exact
            .into_iter()
            .chain(prefixes)
            .chain(std::iter::once((BucketKey::Wildcard, &self.wildcard)))
    }

    pub(crate) fn exact_bucket(&self, number: &str) -> Option<&Bucket> {
        self.exact_entry(number).map(|(b, _)| b)
    }

    pub(crate) fn prefix_bucket(&self, prefix: &str) -> Option<&Bucket> {
        self.prefix.get(prefix)
    }

    pub(crate) fn wildcard_bucket(&self) -> &Bucket {
        &self.wildcard
    }

    /// The winning trunk index for the call among those `visible` admits, if any.
    /// The hash lookups answer when their winner is visible; otherwise the bucket is
    /// walked in specificity order (only while a newer layer hides the winner).
    pub fn lookup(
        &self,
        trunks: &[Arc<TrunkEntry>],
        called: &str,
        caller: &str,
        source: Option<IpAddr>,
        host_lower: &str,
        visible: impl Fn(u32) -> bool,
    ) -> Option<u32> {
        if let Some((_, Some(winner))) = self.exact_entry(called)
            && visible(winner)
        {
            return Some(winner);
        }
        for (_, b) in self.buckets(called) {
            match b.lookup(caller, source, host_lower) {
                None => continue,
                Some(i) if visible(i) => return Some(i),
                Some(_) => {
                    let admitted = b.all.iter().copied().find(|&i| {
                        let c = &trunks[i as usize].compiled;
                        visible(i)
                            && c.caller_allowed(caller)
                            && c.address_allowed(source, host_lower)
                    });
                    if admitted.is_some() {
                        return admitted;
                    }
                }
            }
        }
        None
    }
}
