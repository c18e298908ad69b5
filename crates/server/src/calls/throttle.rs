//! Per-source rate limits (SPEC §8): INVITE floods and digest brute force from one IP.
//!
//! A token bucket per source address, refilled continuously; time is a parameter so the
//! tests are exact. The map is bounded: when it is full, buckets that have refilled
//! completely (sources that have been quiet) are dropped first, and if none has, the new
//! source is admitted without a bucket rather than evicting an active offender — a flood
//! from many addresses then costs memory at most `max_sources` buckets.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A token bucket per source IP.
#[derive(Debug)]
pub struct SourceLimiter {
    /// Tokens per second; 0 disables the limiter.
    rate: f64,
    burst: f64,
    max_sources: usize,
    buckets: HashMap<IpAddr, Bucket>,
}

impl SourceLimiter {
    /// `rate` events per `per`, bursts up to `burst`. A zero rate admits everything.
    pub fn new(rate: u32, per: Duration, burst: u32, max_sources: usize) -> SourceLimiter {
        SourceLimiter {
            rate: if per.is_zero() {
                0.0
            } else {
                f64::from(rate) / per.as_secs_f64()
            },
            burst: f64::from(burst.max(1)),
            max_sources,
            buckets: HashMap::new(),
        }
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let dt = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + dt * self.rate).min(self.burst);
        b.at = now;
    }

    /// Whether `ip` still has budget, without spending any.
    pub fn allows(&mut self, ip: IpAddr, now: Instant) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        let (rate, burst) = (self.rate, self.burst);
        match self.buckets.get_mut(&ip) {
            None => true,
            Some(b) => {
                let dt = now.saturating_duration_since(b.at).as_secs_f64();
                (b.tokens + dt * rate).min(burst) >= 1.0
            }
        }
    }

    /// Spends one token of `ip`'s budget; `false` when there was none left.
    pub fn take(&mut self, ip: IpAddr, now: Instant) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        if !self.buckets.contains_key(&ip) && self.buckets.len() >= self.max_sources {
            self.evict_idle(now);
            if self.buckets.len() >= self.max_sources {
                return true;
            }
        }
        let burst = self.burst;
        let mut b = *self.buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        self.refill(&mut b, now);
        let ok = b.tokens >= 1.0;
        if ok {
            b.tokens -= 1.0;
        }
        self.buckets.insert(ip, b);
        ok
    }

    fn evict_idle(&mut self, now: Instant) {
        let (rate, burst) = (self.rate, self.burst);
        self.buckets.retain(|_, b| {
            let dt = now.saturating_duration_since(b.at).as_secs_f64();
            b.tokens + dt * rate < burst
        });
    }

    #[cfg(test)]
    pub fn tracked_sources(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    #[test]
    fn burst_then_refill() {
        let t = Instant::now();
        let mut l = SourceLimiter::new(10, Duration::from_secs(1), 5, 100);
        for _ in 0..5 {
            assert!(l.take(ip(1), t));
        }
        assert!(!l.take(ip(1), t));
        assert!(!l.allows(ip(1), t));
        // Another source is independent.
        assert!(l.take(ip(2), t));
        // 100 ms refills one token at 10/s.
        assert!(l.allows(ip(1), t + Duration::from_millis(100)));
        assert!(l.take(ip(1), t + Duration::from_millis(100)));
        assert!(!l.take(ip(1), t + Duration::from_millis(100)));
    }

    #[test]
    fn zero_rate_is_off() {
        let t = Instant::now();
        let mut l = SourceLimiter::new(0, Duration::from_secs(1), 1, 1);
        for _ in 0..1000 {
            assert!(l.take(ip(1), t));
        }
        assert_eq!(l.tracked_sources(), 0);
    }

    #[test]
    fn bounded_memory_keeps_offenders() {
        let t = Instant::now();
        let mut l = SourceLimiter::new(1, Duration::from_secs(60), 2, 2);
        assert!(l.take(ip(1), t));
        assert!(l.take(ip(1), t));
        assert!(!l.take(ip(1), t));
        assert!(l.take(ip(2), t));
        // Full, nobody idle: a new source is admitted untracked; the offender stays limited.
        assert!(l.take(ip(3), t));
        assert_eq!(l.tracked_sources(), 2);
        assert!(!l.take(ip(1), t));
        // Much later everyone has refilled: idle buckets make room.
        let later = t + Duration::from_secs(600);
        assert!(l.take(ip(3), later));
        assert!(l.tracked_sources() <= 2);
    }
}
