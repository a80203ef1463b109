//! The verification budget of a domain *name*, shared by every org that claims it.
//!
//! Five tries per code and one code a minute per domain row would not stop guessing: any
//! identity may create orgs, each may add the same unverified name and draw its own codes,
//! so the tries multiply with the orgs. The budget counts codes sent and wrong codes per
//! name across all orgs, in a window of a day: once either is spent, the name takes no
//! more until the window ends. With at most [`MAX_WRONG_CODES_PER_DAY`] wrong guesses a day
//! against a million codes, guessing one takes millennia on average.

use chrono::{DateTime, Duration, Utc};

/// How long a budget lasts from its first use.
pub const BUDGET_WINDOW_HOURS: i64 = 24;
/// Codes sent for one name a day, all orgs together.
pub const MAX_CODES_PER_DAY: i32 = 10;
/// Wrong codes entered for one name a day, all orgs together.
pub const MAX_WRONG_CODES_PER_DAY: i32 = 10;

/// What a name has used of its budget, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameBudget {
    pub window_start: DateTime<Utc>,
    pub codes_sent: i32,
    pub wrong_codes: i32,
}

impl NameBudget {
    /// The budget as it stands at `now`: a window that has ended starts afresh.
    pub fn at(self, now: DateTime<Utc>) -> NameBudget {
        if now >= self.window_end() {
            NameBudget {
                window_start: now,
                codes_sent: 0,
                wrong_codes: 0,
            }
        } else {
            self
        }
    }

    fn window_end(&self) -> DateTime<Utc> {
        self.window_start + Duration::hours(BUDGET_WINDOW_HOURS)
    }

    /// `Some(seconds)` to wait when no code may be sent now.
    pub fn code_wait(&self, now: DateTime<Utc>) -> Option<u64> {
        (self.codes_sent >= MAX_CODES_PER_DAY).then(|| self.seconds_left(now))
    }

    /// `Some(seconds)` to wait when no code may be tried now.
    pub fn attempt_wait(&self, now: DateTime<Utc>) -> Option<u64> {
        (self.wrong_codes >= MAX_WRONG_CODES_PER_DAY).then(|| self.seconds_left(now))
    }

    fn seconds_left(&self, now: DateTime<Utc>) -> u64 {
        u64::try_from((self.window_end() - now).num_seconds())
            .unwrap_or(0)
            .max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap() + Duration::hours(hours)
    }

    #[test]
    fn a_spent_budget_waits_for_the_window_to_end() {
        let spent = NameBudget {
            window_start: at(0),
            codes_sent: MAX_CODES_PER_DAY,
            wrong_codes: MAX_WRONG_CODES_PER_DAY,
        };
        assert_eq!(spent.code_wait(at(1)), Some(23 * 3600));
        assert_eq!(spent.attempt_wait(at(23)), Some(3600));
        let renewed = spent.at(at(24));
        assert_eq!(renewed.codes_sent, 0);
        assert_eq!(renewed.code_wait(at(24)), None);
        assert_eq!(renewed.attempt_wait(at(24)), None);
    }

    #[test]
    fn a_budget_with_room_lets_codes_through() {
        let fresh = NameBudget {
            window_start: at(0),
            codes_sent: MAX_CODES_PER_DAY - 1,
            wrong_codes: MAX_WRONG_CODES_PER_DAY - 1,
        };
        assert_eq!(fresh.at(at(5)), fresh);
        assert_eq!(fresh.code_wait(at(5)), None);
        assert_eq!(fresh.attempt_wait(at(5)), None);
    }
}
