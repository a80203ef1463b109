//! Where "now" comes from for rules that depend on time (invitation expiry), so tests
//! can move time forward instead of waiting.

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock, to the microsecond (what both databases store).
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        crate::store::now()
    }
}
