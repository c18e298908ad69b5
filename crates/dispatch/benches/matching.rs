//! Routing-core benchmarks: trunk + rule lookup (`match_ids`, with the trunk half alone as
//! `match_trunk`), full decisions (`evaluate`), traced decisions (`explain`) and snapshot
//! build time (`snapshot_build`).
//!
//! Run with `cargo bench -p switchboard-dispatch`. Results are written up in
//! `docs/benchmarks.md`.
//!
//! The configuration is generated deterministically (SplitMix64 with a fixed seed): 10,000
//! inbound trunks and 10 / 1,000 / 100,000 dispatch rules, conflict-free by construction the
//! way the product would store them (every exact number, pattern, address block and caller
//! allow-list entry is unique; every rule's conflict keys — PIN, trunk, caller filter,
//! called filter — are unique). After building, every trunk and every rule is re-checked
//! with `Snapshot::check_trunk` / `Snapshot::check_rule` against the full snapshot, and
//! the snapshot must report no warnings.
//!
//! Each lookup benchmark rotates through ~1,000 pre-built calls (exact numbers, pattern
//! numbers, wildcard trunks reached by source address or From host, and calls no trunk
//! admits), one call per iteration, so criterion's figure is the time per call. Each
//! call's caller, called number and From host share one buffer, as in the INVITE the
//! server parses. While
//! setting up, each configuration prints the outcome mix of its call set and the average
//! length of the explain trace.

use std::collections::{BTreeMap, HashSet};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use jiff::Timestamp;
use jiff::civil::time;
use switchboard_dispatch::ids::{CALL_PREFIX, RULE_PREFIX, TRUNK_PREFIX, base57_suffix, new_id};
use switchboard_dispatch::validate::{compile_rule, rule_conflict_keys};
use switchboard_dispatch::{
    AgentDispatch, Call, Config, Day, IncludeHeaders, Pin, PolicyAction, Reason, RoomConfig,
    RoutePolicy, Rule, RuleKind, Snapshot, Stage, Trunk, Unlimited,
};

/// Number of inbound trunks in every configuration.
const TRUNKS: usize = 10_000;
/// Rule counts benchmarked for `match_ids`.
const RULE_COUNTS: [usize; 3] = [10, 1_000, 100_000];
/// The rule count of the `evaluate`, `explain` and build benchmarks.
const LARGE: usize = 100_000;
/// Calls each lookup benchmark rotates through.
const CALLS: usize = 1_000;
const SEED: u64 = 0x5357_4348_424F_4152; // "SWCHBOAR"

// ---------------------------------------------------------------------------------------
// Deterministic randomness
// ---------------------------------------------------------------------------------------

/// SplitMix64: tiny, fast, and good enough to shuffle a benchmark configuration.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (the modulo bias is irrelevant here).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn u128(&mut self) -> u128 {
        (u128::from(self.next()) << 64) | u128::from(self.next())
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }

    /// A NANP number, normalized: `+1` NPA NXX XXXX (NPA and NXX start with 2-9).
    fn nanp(&mut self) -> String {
        format!(
            "+1{}{}{}{}{}",
            self.range(2, 9),
            self.digits(2),
            self.range(2, 9),
            self.digits(2),
            self.digits(4)
        )
    }
}

/// A normalized `+1NNNNNNNNNN` number written the way carriers and users write it: mostly
/// E.164, sometimes with spaces, dashes, parentheses or without the `+`.
fn written(rng: &mut Rng, normalized: &str) -> String {
    let Some(d) = normalized
        .strip_prefix("+1")
        .filter(|d| d.len() == 10 && d.bytes().all(|b| b.is_ascii_digit()))
    else {
        return normalized.to_string();
    };
    match rng.below(100) {
        0..70 => normalized.to_string(),
        70..82 => format!("+1 {} {} {}", &d[..3], &d[3..6], &d[6..]),
        82..92 => format!("+1-{}-{}-{}", &d[..3], &d[3..6], &d[6..]),
        92..96 => format!("+1 ({}) {}-{}", &d[..3], &d[3..6], &d[6..]),
        _ => format!("1{d}"),
    }
}

/// Draws numbers until one is not in `used`, and records it.
fn unique(used: &mut HashSet<String>, mut draw: impl FnMut() -> String) -> String {
    loop {
        let n = draw();
        if used.insert(n.clone()) {
            return n;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Trunks
// ---------------------------------------------------------------------------------------

/// How a call can satisfy a trunk's `allowed_addresses`.
#[derive(Clone, Debug)]
enum Source {
    Ip(IpAddr),
    /// Any host of this IPv4 /24.
    Net24(Ipv4Addr),
    /// Any host of this IPv6 /48.
    Net48(Ipv6Addr),
    /// From-URI host name (plus one of the trunk's allowed callers).
    Host(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TrunkKind {
    /// 1-3 exact numbers (some trunks share their numbers with a second carrier trunk,
    /// distinguished by source address; some restrict callers).
    Exact,
    /// One `+1…*` pattern.
    Prefix,
    /// No numbers: admitted by source address or From host.
    Wildcard,
}

/// What the call and rule generators need to know about a trunk.
#[derive(Clone, Debug)]
struct TrunkInfo {
    id: String,
    kind: TrunkKind,
    /// Normalized exact numbers.
    numbers: Vec<String>,
    /// Normalized pattern prefix (Prefix trunks).
    prefix: String,
    /// Normalized `allowed_numbers`.
    allowed_callers: Vec<String>,
    sources: Vec<Source>,
}

/// Generated trunks plus, per trunk, what rules were filed for it.
struct Trunks {
    trunks: Vec<Trunk>,
    info: Vec<TrunkInfo>,
}

/// Counts of each trunk category (they add up to [`TRUNKS`]).
const EXACT_PLAIN: usize = 8_300;
const EXACT_PAIRS: usize = 100; // 200 trunks
const EXACT_CALLER_FILTERED: usize = 200;
const PREFIX: usize = 800;
const WILDCARD: usize = 500;

const CARRIERS: &[&str] = &["acme-telecom", "northwind-voice", "contoso-sip", "globex"];

fn trunk_extras(rng: &mut Rng, t: &mut Trunk, k: usize) {
    t.name = format!("{} trunk {k}", rng.pick(CARRIERS));
    if rng.chance(30) {
        t.metadata = format!("{{\"customer\":\"cust-{}\"}}", rng.below(5_000));
    }
    if rng.chance(20) {
        t.headers
            .insert("X-Carrier".into(), rng.pick(CARRIERS).to_string());
    }
    if rng.chance(20) {
        t.headers_to_attributes
            .insert("X-Account-Id".into(), "account.id".into());
    }
    if rng.chance(15) {
        t.include_headers = IncludeHeaders::XHeaders;
    }
    if rng.chance(10) {
        t.ringing_timeout = Some(Duration::from_secs(30));
    }
    if rng.chance(10) {
        t.max_call_duration = Some(Duration::from_secs(3_600));
    }
    t.created_at_ms = 1_700_000_000_000 + k as i64;
    t.updated_at_ms = t.created_at_ms;
}

fn with_auth(rng: &mut Rng, t: &mut Trunk, k: usize) {
    t.auth_username = format!("acct{k}");
    t.auth_password = base57_suffix(rng.u128());
    if rng.chance(30) {
        t.auth_realm = "pbx.example.com".into();
    }
    t.auth_use_proxy_challenge = rng.chance(20);
}

fn generate_trunks() -> Trunks {
    let mut rng = Rng::new(SEED);
    let mut numbers_used = HashSet::new();
    let mut callers_used = HashSet::new();
    let mut prefixes_used = HashSet::new();
    let mut blocks_used = HashSet::new();
    let mut ids_used = HashSet::new();
    let mut trunks = Vec::with_capacity(TRUNKS);
    let mut info = Vec::with_capacity(TRUNKS);

    let mut push = |rng: &mut Rng, mut t: Trunk, mut i: TrunkInfo| {
        let k = trunks.len();
        t.id = unique(&mut ids_used, || new_id(TRUNK_PREFIX, rng.u128()));
        trunk_extras(rng, &mut t, k);
        i.id = t.id.clone();
        trunks.push(t);
        info.push(i);
    };
    let blank = |kind| TrunkInfo {
        id: String::new(),
        kind,
        numbers: Vec::new(),
        prefix: String::new(),
        allowed_callers: Vec::new(),
        sources: Vec::new(),
    };

    // Exact-number trunks: 1-3 unique numbers each.
    for k in 0..EXACT_PLAIN {
        let count = match rng.below(100) {
            0..70 => 1,
            70..90 => 2,
            _ => 3,
        };
        let numbers: Vec<String> = (0..count)
            .map(|_| unique(&mut numbers_used, || rng.nanp()))
            .collect();
        let mut t = Trunk {
            numbers: numbers.iter().map(|n| written(&mut rng, n)).collect(),
            ..Default::default()
        };
        if rng.chance(15) {
            with_auth(&mut rng, &mut t, k);
        }
        push(
            &mut rng,
            t,
            TrunkInfo {
                numbers,
                ..blank(TrunkKind::Exact)
            },
        );
    }

    // The same numbers delivered by two carriers, told apart by source address.
    for k in 0..EXACT_PAIRS {
        let count = rng.range(1, 2);
        let numbers: Vec<String> = (0..count)
            .map(|_| unique(&mut numbers_used, || rng.nanp()))
            .collect();
        for side in 0..2u8 {
            let ip = loop {
                let ip = Ipv4Addr::new(172, 16 + rng.below(16) as u8, rng.below(256) as u8, {
                    rng.range(1, 254) as u8
                });
                if blocks_used.insert(format!("{ip}")) {
                    break ip;
                }
            };
            let mut t = Trunk {
                numbers: numbers.iter().map(|n| written(&mut rng, n)).collect(),
                allowed_addresses: vec![ip.to_string()],
                ..Default::default()
            };
            if side == 1 && rng.chance(50) {
                with_auth(&mut rng, &mut t, EXACT_PLAIN + k);
            }
            push(
                &mut rng,
                t,
                TrunkInfo {
                    numbers: numbers.clone(),
                    sources: vec![Source::Ip(IpAddr::V4(ip))],
                    ..blank(TrunkKind::Exact)
                },
            );
        }
    }

    // Numbers reserved for a few callers.
    for _ in 0..EXACT_CALLER_FILTERED {
        let numbers: Vec<String> = (0..rng.range(1, 2))
            .map(|_| unique(&mut numbers_used, || rng.nanp()))
            .collect();
        let callers: Vec<String> = (0..rng.range(1, 3))
            .map(|_| unique(&mut callers_used, || rng.nanp()))
            .collect();
        let t = Trunk {
            numbers: numbers.iter().map(|n| written(&mut rng, n)).collect(),
            allowed_numbers: callers.iter().map(|n| written(&mut rng, n)).collect(),
            ..Default::default()
        };
        push(
            &mut rng,
            t,
            TrunkInfo {
                numbers,
                allowed_callers: callers,
                ..blank(TrunkKind::Exact)
            },
        );
    }

    // Pattern trunks: `+1` followed by 2-6 digits (prefixes of 4-8 characters).
    for k in 0..PREFIX {
        let digits = match rng.below(100) {
            0..5 => 2,
            5..20 => 3,
            20..45 => 4,
            45..75 => 5,
            _ => 6,
        };
        let prefix = unique(&mut prefixes_used, || {
            format!("+1{}{}", rng.range(2, 9), rng.digits(digits - 1))
        });
        let entry = if rng.chance(15) {
            format!("+1 {}*", &prefix[2..])
        } else {
            format!("{prefix}*")
        };
        let mut t = Trunk {
            numbers: vec![entry],
            ..Default::default()
        };
        if rng.chance(25) {
            with_auth(&mut rng, &mut t, k);
        }
        push(
            &mut rng,
            t,
            TrunkInfo {
                prefix,
                ..blank(TrunkKind::Prefix)
            },
        );
    }

    // Wildcard trunks, each with its own address block (10.a.b.0/24 or 2001:db8:x::/48),
    // or a From host plus a caller allow-list (a host name overlaps every address filter,
    // so host-only trunks are told apart by their callers).
    for k in 0..WILDCARD {
        let mut t = Trunk::default();
        let mut i = blank(TrunkKind::Wildcard);
        let block = loop {
            let b = (rng.below(256) as u8, rng.below(256) as u8);
            if blocks_used.insert(format!("10.{}.{}", b.0, b.1)) {
                break b;
            }
        };
        let host = |rng: &mut Rng| Ipv4Addr::new(10, block.0, block.1, rng.range(1, 254) as u8);
        match rng.below(100) {
            0..40 => {
                let ip = host(&mut rng);
                t.allowed_addresses.push(if rng.chance(20) {
                    format!("{ip}/32")
                } else {
                    ip.to_string()
                });
                i.sources.push(Source::Ip(IpAddr::V4(ip)));
            }
            40..50 => {
                let (a, b) = (host(&mut rng), host(&mut rng));
                t.allowed_addresses = vec![a.to_string(), b.to_string()];
                i.sources.push(Source::Ip(IpAddr::V4(a)));
                i.sources.push(Source::Ip(IpAddr::V4(b)));
            }
            50..80 => {
                let net = Ipv4Addr::new(10, block.0, block.1, 0);
                t.allowed_addresses.push(format!("{net}/24"));
                i.sources.push(Source::Net24(net));
            }
            80..90 => {
                let net = Ipv6Addr::new(
                    0x2001,
                    0xdb8,
                    u16::from_be_bytes([block.0, block.1]),
                    0,
                    0,
                    0,
                    0,
                    0,
                );
                if rng.chance(50) {
                    t.allowed_addresses.push(format!("{net}/48"));
                    i.sources.push(Source::Net48(net));
                } else {
                    let ip = Ipv6Addr::from(u128::from(net) | 0x10);
                    t.allowed_addresses.push(format!("[{ip}]"));
                    i.sources.push(Source::Ip(IpAddr::V6(ip)));
                }
            }
            _ => {
                let name = format!("pbx{k}.customer{}.example.net", rng.below(1_000));
                t.allowed_addresses.push(if rng.chance(30) {
                    name.to_ascii_uppercase()
                } else {
                    name.clone()
                });
                i.sources.push(Source::Host(name));
                i.allowed_callers = (0..rng.range(1, 2))
                    .map(|_| unique(&mut callers_used, || rng.nanp()))
                    .collect();
                t.allowed_numbers = i.allowed_callers.clone();
            }
        }
        if rng.chance(10) {
            with_auth(&mut rng, &mut t, k);
        }
        push(&mut rng, t, i);
    }

    assert_eq!(trunks.len(), TRUNKS);
    Trunks { trunks, info }
}

// ---------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------

/// What rules a trunk got, so that calls can exercise them.
#[derive(Clone, Debug, Default)]
struct RuleHooks {
    /// Exact caller numbers of `inbound_numbers` filters.
    callers: Vec<String>,
    /// PINs of PIN rules.
    pins: Vec<String>,
}

const INBOUND_PATTERNS: &[&str] = &[
    "+1212*", "+1415*", "+1 312*", "+1617*", "+44*", "+4420*", "+33*", "+1800*",
];
const ROOM_PREFIXES: &[&str] = &["call", "support", "sales", "intake", "ivr", "agent"];
const AGENTS: &[&str] = &["inbound-agent", "receptionist", "support-bot"];

/// The handful of rules that apply to every trunk.
fn wildcard_rules(count: usize) -> Vec<Rule> {
    let mut all = vec![
        Rule {
            name: "catch-all".into(),
            kind: Some(RuleKind::Individual {
                room_prefix: "call".into(),
                pin: String::new(),
                no_randomness: false,
            }),
            ..Default::default()
        },
        Rule {
            name: "conference bridge (PIN)".into(),
            numbers: vec!["+1 888 555 0100".into()],
            kind: Some(RuleKind::Direct {
                room_name: "conference".into(),
                pin: "2468".into(),
            }),
            ..Default::default()
        },
        Rule {
            name: "toll-free 800".into(),
            numbers: vec!["+1800*".into()],
            kind: Some(RuleKind::Callee {
                room_prefix: "tollfree".into(),
                pin: String::new(),
                randomize: true,
            }),
            ..Default::default()
        },
        Rule {
            name: "toll-free 888".into(),
            numbers: vec!["+1 888*".into()],
            kind: Some(RuleKind::Callee {
                room_prefix: "tollfree".into(),
                pin: String::new(),
                randomize: false,
            }),
            ..Default::default()
        },
        Rule {
            name: "international callers".into(),
            inbound_numbers: vec!["+44*".into(), "+33*".into()],
            kind: Some(RuleKind::Individual {
                room_prefix: "intl".into(),
                pin: String::new(),
                no_randomness: true,
            }),
            ..Default::default()
        },
        Rule {
            name: "NYC callers".into(),
            inbound_numbers: vec!["+1212*".into()],
            kind: Some(RuleKind::Individual {
                room_prefix: "nyc".into(),
                pin: String::new(),
                no_randomness: false,
            }),
            ..Default::default()
        },
        Rule {
            name: "premium".into(),
            numbers: vec!["+1900*".into()],
            kind: Some(RuleKind::Direct {
                room_name: "premium".into(),
                pin: String::new(),
            }),
            ..Default::default()
        },
        Rule {
            name: "UK numbers".into(),
            numbers: vec!["+4420*".into()],
            kind: Some(RuleKind::Callee {
                room_prefix: "uk".into(),
                pin: String::new(),
                randomize: false,
            }),
            ..Default::default()
        },
    ];
    all.truncate(count);
    all
}

fn random_kind(rng: &mut Rng, k: usize, pin: String) -> RuleKind {
    match rng.below(100) {
        0..45 => RuleKind::Individual {
            room_prefix: rng.pick(ROOM_PREFIXES).to_string(),
            pin,
            no_randomness: rng.chance(20),
        },
        45..75 => RuleKind::Callee {
            room_prefix: rng.pick(ROOM_PREFIXES).to_string(),
            pin,
            randomize: rng.chance(30),
        },
        _ => RuleKind::Direct {
            room_name: format!("room-{k}"),
            pin,
        },
    }
}

fn rule_extras(rng: &mut Rng, r: &mut Rule, k: usize) {
    r.name = format!("rule {k}");
    if rng.chance(40) {
        r.metadata = format!("{{\"queue\":\"q{}\"}}", rng.below(50));
    }
    for _ in 0..rng.below(4) {
        let (key, value) = *rng.pick(&[
            ("team", "sales"),
            ("team", "support"),
            ("region", "us-east"),
            ("tier", "gold"),
            ("lang", "en"),
        ]);
        r.attributes.insert(key.into(), value.into());
    }
    r.hide_phone_number = rng.chance(10);
    if rng.chance(40) {
        r.room_config = Some(RoomConfig {
            agents: vec![AgentDispatch {
                agent_name: rng.pick(AGENTS).to_string(),
                metadata: format!("{{\"agent_config\":{{\"voice\":\"v{}\"}}}}", rng.below(8)),
                attributes: BTreeMap::new(),
            }],
        });
    }
    if rng.chance(10) {
        r.room_preset = "default".into();
    }
    r.created_at_ms = 1_700_000_000_000 + k as i64;
    r.updated_at_ms = r.created_at_ms;
}

/// A called-number filter that makes sense for this trunk.
fn numbers_filter(rng: &mut Rng, t: &TrunkInfo) -> String {
    match t.kind {
        TrunkKind::Exact => {
            let n = rng_pick_owned(rng, &t.numbers);
            written(rng, &n)
        }
        TrunkKind::Prefix => {
            let extra = 12usize.saturating_sub(t.prefix.len());
            if rng.chance(50) && extra > 0 {
                let n = rng.range(1, extra.min(2));
                format!("{}{}*", t.prefix, rng.digits(n))
            } else {
                format!("{}{}", t.prefix, rng.digits(extra))
            }
        }
        TrunkKind::Wildcard => match rng.below(3) {
            0 => format!("+4420{}*", rng.digits(2)),
            1 => format!("+4420{}", rng.digits(8)),
            _ => format!("+49{}*", rng.digits(2)),
        },
    }
}

fn rng_pick_owned(rng: &mut Rng, items: &[String]) -> String {
    rng.pick(items).clone()
}

fn generate_rules(
    trunks: &[TrunkInfo],
    count: usize,
) -> (Vec<Rule>, Vec<RoutePolicy>, Vec<RuleHooks>) {
    let mut rng = Rng::new(SEED ^ (count as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut ids_used = HashSet::new();
    let mut keys_used: HashSet<String> = HashSet::new();
    let mut callers_used: HashSet<String> = HashSet::new();
    let mut hooks = vec![RuleHooks::default(); trunks.len()];
    let mut per_trunk = vec![0u32; trunks.len()];
    let mut rules = Vec::with_capacity(count);
    let mut policies = Vec::new();

    let mut claim = |r: &Rule| -> bool {
        let compiled = compile_rule(r).expect("generated rule is valid");
        let keys = rule_conflict_keys(r, &compiled);
        if keys.iter().any(|k| keys_used.contains(k)) {
            return false;
        }
        keys_used.extend(keys);
        true
    };

    let wildcard_count = if count < 100 { 2 } else { 8 };
    for (k, mut r) in wildcard_rules(wildcard_count).into_iter().enumerate() {
        r.id = unique(&mut ids_used, || new_id(RULE_PREFIX, rng.u128()));
        let name = std::mem::take(&mut r.name);
        rule_extras(&mut rng, &mut r, k);
        r.name = name;
        assert!(claim(&r), "wildcard rules are distinct");
        rules.push(r);
    }
    let fallback_id = rules[0].id.clone();

    while rules.len() < count {
        let k = rules.len();
        let ti = rng.below(trunks.len());
        let t = &trunks[ti];
        let mut attempt = 0;
        let rule = loop {
            attempt += 1;
            let mut r = Rule {
                trunk_ids: vec![t.id.clone()],
                ..Default::default()
            };
            let mut pin = String::new();
            let variant = if per_trunk[ti] == 0 && attempt == 1 && rng.chance(70) {
                0 // the trunk's open default rule
            } else {
                rng.range(1, 100)
            };
            match variant {
                0 => {}
                1..30 => r.numbers.push(numbers_filter(&mut rng, t)),
                30..60 => {
                    // Caller-specific routing (VIP lines, known customers).
                    let c = unique(&mut callers_used, || rng.nanp());
                    r.inbound_numbers.push(written(&mut rng, &c));
                }
                60..70 => r
                    .inbound_numbers
                    .push(rng.pick(INBOUND_PATTERNS).to_string()),
                70..85 => {
                    let len = rng.range(4, 6);
                    pin = rng.digits(len);
                    if rng.chance(30) {
                        r.numbers.push(numbers_filter(&mut rng, t));
                    }
                }
                _ => {
                    r.numbers.push(numbers_filter(&mut rng, t));
                    if rng.chance(50) {
                        let c = unique(&mut callers_used, || rng.nanp());
                        r.inbound_numbers.push(written(&mut rng, &c));
                    } else {
                        r.inbound_numbers
                            .push(rng.pick(INBOUND_PATTERNS).to_string());
                    }
                }
            }
            if attempt > 20 {
                // Practically unreachable: a fresh caller number makes the key unique.
                let c = unique(&mut callers_used, || rng.nanp());
                r.inbound_numbers = vec![c];
            }
            r.kind = Some(random_kind(&mut rng, k, pin));
            if claim(&r) {
                break r;
            }
        };
        per_trunk[ti] += 1;
        let mut r = rule;
        for n in &r.inbound_numbers {
            if !n.ends_with('*') {
                hooks[ti]
                    .callers
                    .push(switchboard_dispatch::number::normalize(n).into_owned());
            }
        }
        if !r.pin().is_empty() {
            hooks[ti].pins.push(r.pin().to_string());
        }
        r.id = unique(&mut ids_used, || new_id(RULE_PREFIX, rng.u128()));
        rule_extras(&mut rng, &mut r, k);
        if rng.chance(2) {
            policies.push(RoutePolicy {
                rule_id: r.id.clone(),
                timezone: rng
                    .pick(&["America/New_York", "Europe/London", "America/Los_Angeles"])
                    .to_string(),
                window_start: Some(time(9, 0, 0, 0)),
                window_end: Some(time(17, 0, 0, 0)),
                active_days: vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri],
                max_concurrent_calls: rng.chance(50).then_some(20),
                after_hours: if rng.chance(50) {
                    PolicyAction::RouteToRule {
                        rule_id: fallback_id.clone(),
                    }
                } else {
                    PolicyAction::default()
                },
                ..Default::default()
            });
        }
        rules.push(r);
    }
    (rules, policies, hooks)
}

// ---------------------------------------------------------------------------------------
// Calls
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum CallKind {
    /// To a number a trunk lists exactly.
    Exact,
    /// To a number only a pattern trunk covers.
    Pattern,
    /// To an unlisted number, from a wildcard trunk's address or host.
    Wildcard,
    /// From nowhere any trunk admits.
    NoTrunk,
}

#[derive(Clone, Debug)]
enum PinSpec {
    NotEntered,
    Entered(String),
    Skipped,
}

/// An owned call; [`CallSpec::call`] borrows it as a [`Call`].
#[derive(Clone, Debug)]
struct CallSpec {
    kind: CallKind,
    /// The caller, called number and From host, one after the other in one buffer, as
    /// they sit in the parsed INVITE the server routes (not three separate allocations).
    message: String,
    /// Where the called number and the From host start in `message`.
    called_at: usize,
    host_at: usize,
    source_ip: Option<IpAddr>,
    pin: PinSpec,
    at: Timestamp,
    call_id: String,
    sip_call_id: String,
    headers: Vec<(String, String)>,
    room_suffix: String,
}

impl CallSpec {
    fn call(&self) -> Call<'_> {
        let m = &self.message;
        let mut c = Call::new(
            &m[..self.called_at],
            &m[self.called_at..self.host_at],
            self.at,
        );
        c.from_host = &m[self.host_at..];
        c.source_ip = self.source_ip;
        c.pin = match &self.pin {
            PinSpec::NotEntered => Pin::NotEntered,
            PinSpec::Entered(p) => Pin::Entered(p),
            PinSpec::Skipped => Pin::Skipped,
        };
        c.call_id = &self.call_id;
        c.sip_call_id = &self.sip_call_id;
        c.headers = &self.headers;
        c.room_suffix = &self.room_suffix;
        c
    }
}

/// A source address no trunk admits (documentation ranges).
fn outside_ip(rng: &mut Rng) -> IpAddr {
    let (a, b, c) = *rng.pick(&[(198u8, 51u8, 100u8), (203, 0, 113), (192, 0, 2)]);
    IpAddr::V4(Ipv4Addr::new(a, b, c, rng.range(1, 254) as u8))
}

/// A number outside the North American plan, so that no trunk lists it.
fn foreign_number(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => format!("+44 20 {} {}", rng.digits(4), rng.digits(4)),
        1 => format!("+49 30 {}", rng.digits(8)),
        _ => format!(
            "+33 1 {} {} {} {}",
            rng.digits(2),
            rng.digits(2),
            rng.digits(2),
            rng.digits(2)
        ),
    }
}

fn random_caller(rng: &mut Rng) -> String {
    match rng.below(100) {
        0..3 => "anonymous".into(),
        3..8 => format!("+44 7700 {}", rng.digits(6)),
        8..14 => format!("+1212{}", rng.digits(7)),
        _ => {
            let n = rng.nanp();
            written(rng, &n)
        }
    }
}

fn generate_calls(trunks: &[TrunkInfo], hooks: &[RuleHooks], count: usize) -> Vec<CallSpec> {
    let mut rng = Rng::new(SEED.rotate_left(17));
    let instants: Vec<Timestamp> = [
        "2025-06-04T15:00:00Z", // Wednesday, business hours in New York
        "2025-06-04T20:30:00Z", // Wednesday evening
        "2025-06-07T03:00:00Z", // Saturday night
    ]
    .iter()
    .map(|s| s.parse().expect("timestamp"))
    .collect();
    let by_kind = |kind| -> Vec<usize> {
        (0..trunks.len())
            .filter(|&i| trunks[i].kind == kind)
            .collect()
    };
    let exact = by_kind(TrunkKind::Exact);
    let prefix = by_kind(TrunkKind::Prefix);
    let wildcard = by_kind(TrunkKind::Wildcard);

    (0..count)
        .map(|k| {
            let kind = match rng.below(100) {
                0..60 => CallKind::Exact,
                60..75 => CallKind::Pattern,
                75..90 => CallKind::Wildcard,
                _ => CallKind::NoTrunk,
            };
            let mut caller = random_caller(&mut rng);
            let mut from_host = format!("sip.{}.example.com", rng.pick(CARRIERS));
            let mut source_ip = Some(outside_ip(&mut rng));
            let mut pin = PinSpec::NotEntered;
            let mut trunk = None;
            let called = match kind {
                CallKind::Exact => {
                    let ti = *rng.pick(&exact);
                    trunk = Some(ti);
                    let t = &trunks[ti];
                    if let Some(Source::Ip(ip)) = t.sources.first() {
                        source_ip = Some(*ip);
                    }
                    if !t.allowed_callers.is_empty() && rng.chance(80) {
                        let c = rng_pick_owned(&mut rng, &t.allowed_callers);
                        caller = written(&mut rng, &c);
                    }
                    let n = rng_pick_owned(&mut rng, &t.numbers);
                    written(&mut rng, &n)
                }
                CallKind::Pattern => {
                    let ti = *rng.pick(&prefix);
                    trunk = Some(ti);
                    let p = &trunks[ti].prefix;
                    format!("{p}{}", rng.digits(12usize.saturating_sub(p.len())))
                }
                CallKind::Wildcard => {
                    let ti = *rng.pick(&wildcard);
                    trunk = Some(ti);
                    let t = &trunks[ti];
                    match rng.pick(&t.sources).clone() {
                        Source::Ip(ip) => source_ip = Some(ip),
                        Source::Net24(net) => {
                            let o = net.octets();
                            source_ip = Some(IpAddr::V4(Ipv4Addr::new(
                                o[0],
                                o[1],
                                o[2],
                                rng.range(1, 254) as u8,
                            )));
                        }
                        Source::Net48(net) => {
                            source_ip = Some(IpAddr::V6(Ipv6Addr::from(
                                u128::from(net) | u128::from(rng.next()),
                            )));
                        }
                        Source::Host(h) => {
                            from_host = if rng.chance(30) {
                                h.to_ascii_uppercase()
                            } else {
                                h
                            };
                            caller = rng_pick_owned(&mut rng, &t.allowed_callers);
                        }
                    }
                    foreign_number(&mut rng)
                }
                CallKind::NoTrunk => {
                    if rng.chance(20) {
                        source_ip = None;
                    }
                    foreign_number(&mut rng)
                }
            };
            if let Some(ti) = trunk {
                let h = &hooks[ti];
                if !h.callers.is_empty() && rng.chance(40) && trunks[ti].allowed_callers.is_empty()
                {
                    caller = rng_pick_owned(&mut rng, &h.callers);
                }
                if !h.pins.is_empty() && rng.chance(30) {
                    pin = PinSpec::Entered(rng_pick_owned(&mut rng, &h.pins));
                } else if rng.chance(3) {
                    pin = PinSpec::Skipped;
                }
            }
            let mut headers = vec![("User-Agent".to_string(), "Carrier SBC 4.2".to_string())];
            if rng.chance(50) {
                headers.push(("X-Account-Id".into(), format!("acc-{}", rng.below(100_000))));
                headers.push(("X-Carrier".into(), rng.pick(CARRIERS).to_string()));
            }
            CallSpec {
                kind,
                message: format!("{caller}{called}{from_host}"),
                called_at: caller.len(),
                host_at: caller.len() + called.len(),
                source_ip,
                pin,
                at: *rng.pick(&instants),
                call_id: new_id(CALL_PREFIX, rng.u128()),
                sip_call_id: format!("{:016x}@sbc.example.net", rng.next()),
                headers,
                room_suffix: base57_suffix(rng.u128() ^ k as u128),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

struct Fixture {
    config: Config,
    snapshot: Snapshot,
    calls: Vec<CallSpec>,
}

fn trunk_set() -> &'static Trunks {
    static TRUNK_SET: OnceLock<Trunks> = OnceLock::new();
    TRUNK_SET.get_or_init(generate_trunks)
}

fn fixture(rules: usize) -> &'static Fixture {
    static FIXTURES: [OnceLock<Fixture>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = RULE_COUNTS
        .iter()
        .position(|&n| n == rules)
        .expect("a benchmarked rule count");
    FIXTURES[slot].get_or_init(|| build_fixture(rules))
}

fn build_fixture(count: usize) -> Fixture {
    let started = Instant::now();
    let trunks = trunk_set();
    let (rules, policies, hooks) = generate_rules(&trunks.info, count);
    let calls = generate_calls(&trunks.info, &hooks, CALLS);
    let config = Config {
        trunks: trunks.trunks.clone(),
        rules,
        policies,
        options: Default::default(),
    };
    let generated = started.elapsed();
    let snapshot = Snapshot::build(config.clone());

    // The configuration must be one the product would have accepted.
    assert!(
        snapshot.warnings().is_empty(),
        "generated configuration has warnings: {:?}",
        &snapshot.warnings()[..snapshot.warnings().len().min(5)]
    );
    assert_eq!(snapshot.trunks().count(), TRUNKS);
    assert_eq!(snapshot.rules().count(), count);
    for t in snapshot.trunks() {
        if let Err(e) = snapshot.check_trunk(t) {
            panic!("generated trunk {} conflicts: {e:?}", t.id);
        }
    }
    for r in snapshot.rules() {
        if let Err(e) = snapshot.check_rule(r) {
            panic!("generated rule {} conflicts: {e:?}", r.id);
        }
    }

    // What the rotating call set exercises.
    let mut outcomes: BTreeMap<(CallKind, &'static str), usize> = BTreeMap::new();
    let (mut trunk_steps, mut rule_steps) = (0usize, 0usize);
    for spec in &calls {
        let call = spec.call();
        let d = snapshot.explain(&call, &mut Unlimited);
        let code = d.reason.code();
        *outcomes.entry((spec.kind, code)).or_default() += 1;
        trunk_steps += d.trace.iter().filter(|e| e.stage == Stage::Trunk).count();
        rule_steps += d.trace.iter().filter(|e| e.stage == Stage::Rule).count();
        let (t, r) = snapshot.match_ids(&call);
        assert_eq!(
            t,
            d.trunk_id.as_deref(),
            "match_ids and explain agree on the trunk"
        );
        if d.reason == Reason::Matched {
            assert!(r.is_some());
        }
    }
    let summary: Vec<String> = outcomes
        .iter()
        .map(|((kind, code), n)| format!("{kind:?}/{code}={n}"))
        .collect();
    eprintln!(
        "fixture: {TRUNKS} trunks, {count} rules, {} policies, {} calls (generated + checked in {:.1?}, config {:.1?})\n  outcomes: {}\n  explain trace per call: {:.1} trunk steps, {:.1} rule steps",
        config.policies.len(),
        calls.len(),
        started.elapsed(),
        generated,
        summary.join(" "),
        trunk_steps as f64 / calls.len() as f64,
        rule_steps as f64 / calls.len() as f64,
    );
    Fixture {
        config,
        snapshot,
        calls,
    }
}

/// Runs `f` on each call in turn, one call per iteration.
fn rotate<'a, O>(
    b: &mut criterion::Bencher<'_>,
    calls: &'a [Call<'a>],
    mut f: impl FnMut(&'a Call<'a>) -> O,
) {
    let mut i = 0;
    b.iter(|| {
        let call = &calls[i];
        i += 1;
        if i == calls.len() {
            i = 0;
        }
        f(black_box(call))
    });
}

// ---------------------------------------------------------------------------------------
// Benchmarks
// ---------------------------------------------------------------------------------------

fn bench_match_ids(c: &mut Criterion) {
    let mut g = c.benchmark_group("match_ids");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for n in RULE_COUNTS {
        let f = fixture(n);
        let calls: Vec<Call<'_>> = f.calls.iter().map(CallSpec::call).collect();
        g.bench_function(BenchmarkId::new("rules", n), |b| {
            rotate(b, &calls, |call| {
                let ids = f.snapshot.match_ids(call);
                black_box(ids.0.is_some() as u8 + ids.1.is_some() as u8)
            })
        });
    }
    g.finish();

    // The trunk half of `match_ids` alone (it does not depend on the rule count), to tell
    // trunk lookup and rule selection apart.
    let f = fixture(LARGE);
    let calls: Vec<Call<'_>> = f.calls.iter().map(CallSpec::call).collect();
    let mut g = c.benchmark_group("match_trunk");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g.bench_function(BenchmarkId::new("rules", LARGE), |b| {
        rotate(b, &calls, |call| f.snapshot.match_trunk(call).is_some())
    });
    g.finish();
}

fn bench_evaluate(c: &mut Criterion) {
    let f = fixture(LARGE);
    let calls: Vec<Call<'_>> = f.calls.iter().map(CallSpec::call).collect();
    let mut g = c.benchmark_group("evaluate");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g.bench_function(BenchmarkId::new("rules", LARGE), |b| {
        rotate(b, &calls, |call| f.snapshot.evaluate(call, &mut Unlimited))
    });
    g.finish();

    let mut g = c.benchmark_group("explain");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g.bench_function(BenchmarkId::new("rules", LARGE), |b| {
        rotate(b, &calls, |call| f.snapshot.explain(call, &mut Unlimited))
    });
    g.finish();
}

fn bench_build(c: &mut Criterion) {
    let f = fixture(LARGE);
    let mut g = c.benchmark_group("snapshot_build");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(10));
    g.bench_function(
        BenchmarkId::new(format!("trunks_{TRUNKS}"), format!("rules_{LARGE}")),
        |b| {
            b.iter_batched(
                || f.config.clone(),
                Snapshot::build,
                BatchSize::PerIteration,
            )
        },
    );
    g.finish();
}

criterion_group!(benches, bench_match_ids, bench_evaluate, bench_build);
criterion_main!(benches);
