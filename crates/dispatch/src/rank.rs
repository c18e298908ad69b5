//! How candidates are ordered: trunk specificity and dispatch-rule priority (SPEC §3).
//!
//! Both are total orders expressed as `Ord` keys where smaller wins, so the indexed
//! snapshot and the linear reference evaluator pick the same winner by construction of the
//! key, whatever order they visit candidates in.

use crate::number::NumberMatch;

/// How a trunk's `numbers` matched the called number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TrunkNumber {
    /// Listed exactly or by a pattern (exact first, longer pattern first).
    Listed(NumberMatch),
    /// The trunk has no `numbers`.
    Wildcard,
}

/// Trunk specificity: called number, then caller filter, then address filter, then id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TrunkRank<'a> {
    pub number: TrunkNumber,
    /// `false` (a caller filter is set) sorts first.
    pub caller_open: bool,
    /// `false` (an address filter is set) sorts first.
    pub address_open: bool,
    /// The lower id wins a tie (only a stored conflict can tie).
    pub id: &'a str,
}

/// Dispatch-rule precedence. Fields compare in order; smaller wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RuleRank<'a> {
    /// A trunk-specific rule beats any wildcard rule.
    pub wildcard: bool,
    /// +1000 per empty number filter (`inbound_numbers`, `numbers`).
    pub number_score: u16,
    /// How `numbers` matched (an empty filter ranks as exact, so LiveKit's order is kept
    /// when no patterns are in use).
    pub numbers: NumberMatch,
    /// How `inbound_numbers` matched, likewise.
    pub inbound: NumberMatch,
    /// +100 without a PIN.
    pub open: bool,
    /// Direct 0, Individual 1, Callee 2.
    pub kind: u8,
    /// The room name (Direct) or prefix: the first tie-breaker.
    pub room_key: &'a str,
    /// The rule id: the last tie-breaker.
    pub id: &'a str,
}

impl RuleRank<'_> {
    /// LiveKit's priority number (0…2102) for display: lower wins.
    pub fn priority(&self) -> u32 {
        u32::from(self.number_score) + if self.open { 100 } else { 0 } + u32::from(self.kind)
    }
}

/// The number-score term: 1000 for each empty filter.
pub fn number_score(numbers_empty: bool, inbound_empty: bool) -> u16 {
    (if numbers_empty { 1000 } else { 0 }) + (if inbound_empty { 1000 } else { 0 })
}
