//! PIN entry (SPEC §4) as a pure state machine: digits and the clock go in, a decision
//! about the attempt comes out. The call task plays the prompts and re-evaluates routing;
//! this file only decides when an attempt is complete and when the caller has run out of
//! attempts or time.
//!
//! * `#` ends an attempt; `#` with no digits asks for open rules only.
//! * More than [`MAX_DIGITS`] digits ends the attempt as a wrong PIN (LiveKit does the same).
//! * After at least one digit, [`INTER_DIGIT`] of silence submits what was typed, as if
//!   `#` had been pressed: callers often forget the `#`, and a partial PIN fails anyway.
//! * The whole PIN stage, prompts included, is bounded by [`OVERALL`]; [`MAX_ATTEMPTS`]
//!   attempts in all.

use std::time::{Duration, Instant};

/// Most digits a PIN may have.
pub const MAX_DIGITS: usize = 16;
/// Silence after a digit that completes the attempt.
pub const INTER_DIGIT: Duration = Duration::from_secs(5);
/// The whole PIN stage.
pub const OVERALL: Duration = Duration::from_secs(30);
/// Attempts in all before the call is ended.
pub const MAX_ATTEMPTS: u32 = 3;

/// What the caller submitted in one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// Digits, then `#` or the inter-digit timeout.
    Digits(String),
    /// `#` alone: open rules only.
    Skipped,
    /// More than [`MAX_DIGITS`] digits: wrong by definition.
    TooLong,
}

/// The state of the PIN stage of one call.
#[derive(Debug)]
pub struct PinEntry {
    digits: String,
    started: Instant,
    last_digit: Option<Instant>,
    attempts: u32,
}

/// What happens after an attempt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    /// Play "not valid", then prompt again.
    TryAgain,
    /// Play "not valid", a tone, and hang up.
    GiveUp,
}

impl PinEntry {
    pub fn new(now: Instant) -> PinEntry {
        PinEntry {
            digits: String::with_capacity(MAX_DIGITS),
            started: now,
            last_digit: None,
            attempts: 0,
        }
    }

    /// Attempts submitted so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// One DTMF digit (`0-9`, `*`, `#`; others ignored). Returns a finished attempt.
    pub fn digit(&mut self, now: Instant, digit: char) -> Option<Attempt> {
        match digit {
            '#' => Some(self.submit()),
            '0'..='9' | '*' => {
                if self.digits.len() >= MAX_DIGITS {
                    self.digits.clear();
                    self.last_digit = None;
                    self.attempts += 1;
                    return Some(Attempt::TooLong);
                }
                self.digits.push(digit);
                self.last_digit = Some(now);
                None
            }
            _ => None,
        }
    }

    fn submit(&mut self) -> Attempt {
        self.attempts += 1;
        self.last_digit = None;
        if self.digits.is_empty() {
            Attempt::Skipped
        } else {
            Attempt::Digits(std::mem::take(&mut self.digits))
        }
    }

    /// The next instant [`PinEntry::timeout`] must be called at.
    pub fn deadline(&self) -> Instant {
        let overall = self.started + OVERALL;
        match self.last_digit {
            Some(t) => overall.min(t + INTER_DIGIT),
            None => overall,
        }
    }

    /// Time passed. `Err(())` when the whole stage is over (hang up); `Ok(Some)` when the
    /// inter-digit timeout completed an attempt.
    #[allow(clippy::result_unit_err)]
    pub fn timeout(&mut self, now: Instant) -> Result<Option<Attempt>, ()> {
        if now >= self.started + OVERALL {
            return Err(());
        }
        match self.last_digit {
            Some(t) if now >= t + INTER_DIGIT => Ok(Some(self.submit())),
            _ => Ok(None),
        }
    }

    /// The attempt just submitted was wrong: try again or give up.
    pub fn failed(&mut self) -> AfterFailure {
        self.digits.clear();
        self.last_digit = None;
        if self.attempts >= MAX_ATTEMPTS {
            AfterFailure::GiveUp
        } else {
            AfterFailure::TryAgain
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn digits_then_hash() {
        let t = Instant::now();
        let mut p = PinEntry::new(t);
        for (i, d) in "1234".chars().enumerate() {
            assert_eq!(p.digit(at(t, i as u64 * 100), d), None);
        }
        assert_eq!(
            p.digit(at(t, 500), '#'),
            Some(Attempt::Digits("1234".into()))
        );
        assert_eq!(p.attempts(), 1);
    }

    #[test]
    fn hash_alone_is_skipped() {
        let t = Instant::now();
        let mut p = PinEntry::new(t);
        assert_eq!(p.digit(t, '#'), Some(Attempt::Skipped));
    }

    #[test]
    fn star_counts_other_chars_ignored() {
        let t = Instant::now();
        let mut p = PinEntry::new(t);
        p.digit(t, '*');
        p.digit(t, 'A');
        p.digit(t, '1');
        assert_eq!(p.digit(t, '#'), Some(Attempt::Digits("*1".into())));
    }

    #[test]
    fn seventeenth_digit_is_too_long() {
        let t = Instant::now();
        let mut p = PinEntry::new(t);
        for _ in 0..MAX_DIGITS {
            assert_eq!(p.digit(t, '5'), None);
        }
        assert_eq!(p.digit(t, '5'), Some(Attempt::TooLong));
        assert_eq!(p.digits, "");
    }

    #[test]
    fn inter_digit_timeout_submits() {
        let t = Instant::now();
        let mut p = PinEntry::new(t);
        p.digit(at(t, 1000), '4');
        assert_eq!(p.deadline(), at(t, 6000));
        assert_eq!(p.timeout(at(t, 5999)), Ok(None));
        assert_eq!(
            p.timeout(at(t, 6000)),
            Ok(Some(Attempt::Digits("4".into())))
        );
        // No digit pending: the next deadline is the overall one.
        assert_eq!(p.deadline(), at(t, 30_000));
    }

    #[test]
    fn no_digits_waits_for_overall_timeout() {
        let t = Instant::now();
        let mut p = PinEntry::new(t);
        assert_eq!(p.timeout(at(t, 29_999)), Ok(None));
        assert_eq!(p.timeout(at(t, 30_000)), Err(()));
    }

    #[test]
    fn overall_timeout_wins_over_inter_digit() {
        let t = Instant::now();
        let mut p = PinEntry::new(t);
        p.digit(at(t, 28_000), '1');
        assert_eq!(p.deadline(), at(t, 30_000));
        assert_eq!(p.timeout(at(t, 30_000)), Err(()));
    }

    #[test]
    fn three_attempts_in_all() {
        let t = Instant::now();
        let mut p = PinEntry::new(t);
        for n in 1..=MAX_ATTEMPTS {
            p.digit(t, '9');
            assert!(p.digit(t, '#').is_some());
            let next = p.failed();
            if n < MAX_ATTEMPTS {
                assert_eq!(next, AfterFailure::TryAgain);
            } else {
                assert_eq!(next, AfterFailure::GiveUp);
            }
        }
    }
}
