//! The client-side rate limiter every GHL request passes, and the rate-limit headers that
//! steer it (CONTRACT §5.1).
//!
//! One [`RateLimiter`] is shared by every caller of the client: at most `max` requests in any
//! sliding window, and a daily budget. GHL's documented `X-RateLimit-*` headers, read into
//! [`RateLimitHeaders`], can only make it stricter: a spent window pauses every caller, a
//! spent day holds every request for a while, and a lower advertised maximum lowers ours. The
//! limiter works on the monotonic clock, not the injected one: it paces real requests.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::error::GhlError;

/// GHL's documented rate-limit headers (CONTRACT §5.1), as the last answer carried them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RateLimitHeaders {
    /// `X-RateLimit-Max`: requests allowed per interval.
    pub max: Option<u64>,
    /// `X-RateLimit-Remaining`: left in the current interval.
    pub remaining: Option<u64>,
    /// `X-RateLimit-Interval-Milliseconds`: the interval.
    pub interval_ms: Option<u64>,
    /// `X-RateLimit-Limit-Daily`: requests allowed per day.
    pub daily_limit: Option<u64>,
    /// `X-RateLimit-Daily-Remaining`: left today.
    pub daily_remaining: Option<u64>,
}

impl RateLimitHeaders {
    /// The documented headers of an answer, looked up by lowercase name through `header`;
    /// `None` when it carried none of them (`Retry-After` is not one).
    pub(super) fn read(header: impl Fn(&str) -> Option<String>) -> Option<RateLimitHeaders> {
        let number = |name: &str| header(name).and_then(|value| value.trim().parse::<u64>().ok());
        let headers = RateLimitHeaders {
            max: number("x-ratelimit-max"),
            remaining: number("x-ratelimit-remaining"),
            interval_ms: number("x-ratelimit-interval-milliseconds"),
            daily_limit: number("x-ratelimit-limit-daily"),
            daily_remaining: number("x-ratelimit-daily-remaining"),
        };
        (headers != RateLimitHeaders::default()).then_some(headers)
    }

    /// The interval GHL counts its window over, when it gave a positive one.
    pub(super) fn interval(&self) -> Option<Duration> {
        self.interval_ms.filter(|ms| *ms > 0).map(Duration::from_millis)
    }
}

/// One limiter for every caller: at most `max` requests in any `window`, and a daily budget.
pub struct RateLimiter {
    max: usize,
    window: Duration,
    daily_budget: u32,
    state: Mutex<LimiterState>,
}

struct LimiterState {
    sent: VecDeque<Instant>,
    paused_until: Option<Instant>,
    day_started: Instant,
    used_today: u32,
    /// GHL's advertised `X-RateLimit-Max`, when lower than ours.
    advertised_max: Option<usize>,
    /// GHL said the day's requests are spent: nothing is sent before this.
    day_held_until: Option<Instant>,
}

impl RateLimiter {
    /// A limiter allowing `max` requests per `window` and `daily_budget` per 24 hours.
    pub fn new(max: usize, window: Duration, daily_budget: u32) -> RateLimiter {
        RateLimiter {
            max: max.max(1),
            window,
            daily_budget,
            state: Mutex::new(LimiterState {
                sent: VecDeque::new(),
                paused_until: None,
                day_started: Instant::now(),
                used_today: 0,
                advertised_max: None,
                day_held_until: None,
            }),
        }
    }

    /// Waits for a slot, then takes it.
    pub fn acquire(&self) -> Result<(), GhlError> {
        loop {
            let wait = {
                let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                let now = Instant::now();
                if now.duration_since(state.day_started) >= Duration::from_secs(86_400) {
                    state.day_started = now;
                    state.used_today = 0;
                }
                if state.used_today >= self.daily_budget {
                    return Err(GhlError::BudgetExhausted);
                }
                match state.day_held_until {
                    Some(until) if until > now => return Err(GhlError::BudgetExhausted),
                    Some(_) => state.day_held_until = None,
                    None => {}
                }
                while state.sent.front().is_some_and(|at| now.duration_since(*at) >= self.window) {
                    state.sent.pop_front();
                }
                let max = state.advertised_max.map_or(self.max, |advertised| advertised.min(self.max));
                match state.paused_until {
                    Some(until) if until > now => until - now,
                    _ if state.sent.len() < max => {
                        state.sent.push_back(now);
                        state.used_today += 1;
                        return Ok(());
                    }
                    _ => state
                        .sent
                        .front()
                        .map_or(Duration::ZERO, |first| (*first + self.window).saturating_duration_since(now)),
                }
            };
            std::thread::sleep(wait.max(Duration::from_millis(1)));
        }
    }

    /// Holds every caller for `period` (GHL said the window is spent).
    pub fn pause(&self, period: Duration) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.paused_until = Some(Instant::now() + period);
    }

    /// Sends no more than `max` per window from now on, if that is lower than ours (GHL's
    /// `X-RateLimit-Max`).
    pub fn limit_to(&self, max: u64) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let max = usize::try_from(max).unwrap_or(usize::MAX).max(1);
        state.advertised_max = (max < self.max).then_some(max);
    }

    /// The requests taken in the current budget day (24 hours from the first of them since
    /// start, as `acquire` counts them), and the daily budget.
    pub fn used_today(&self) -> (u32, u32) {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let over = Instant::now().duration_since(state.day_started) >= Duration::from_secs(86_400);
        (if over { 0 } else { state.used_today }, self.daily_budget)
    }

    /// Whether GHL said the day's requests are spent and the hold has not ended.
    pub fn day_is_held(&self) -> bool {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.day_held_until.is_some_and(|until| until > Instant::now())
    }

    /// Refuses every request for `period` (GHL said the day's requests are spent).
    pub fn hold_day(&self, period: Duration) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.day_held_until = Some(Instant::now() + period);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_never_exceeds_its_window() -> Result<(), GhlError> {
        let limiter = RateLimiter::new(5, Duration::from_millis(200), 1000);
        let start = Instant::now();
        let mut taken = Vec::new();
        for _ in 0..12 {
            limiter.acquire()?;
            taken.push(start.elapsed());
        }
        for (index, at) in taken.iter().enumerate().skip(5) {
            let window_start = taken[index - 5];
            assert!(*at - window_start >= Duration::from_millis(200), "request {index} came too soon");
        }
        Ok(())
    }

    #[test]
    fn the_daily_budget_is_a_hard_stop() {
        let limiter = RateLimiter::new(100, Duration::from_secs(10), 2);
        assert!(limiter.acquire().is_ok() && limiter.acquire().is_ok());
        assert_eq!(limiter.acquire(), Err(GhlError::BudgetExhausted));
    }

    #[test]
    fn the_documented_rate_limit_headers_steer_the_limiter() {
        let limiter = RateLimiter::new(3, Duration::from_secs(10), 1000);
        limiter.limit_to(100);
        limiter.limit_to(2);
        assert!(limiter.acquire().is_ok() && limiter.acquire().is_ok());
        let started = Instant::now();
        let limited = RateLimiter::new(2, Duration::from_millis(150), 1000);
        limited.limit_to(1);
        assert!(limited.acquire().is_ok() && limited.acquire().is_ok());
        assert!(started.elapsed() >= Duration::from_millis(150), "the second waited for the window");
        let day = RateLimiter::new(10, Duration::from_secs(10), 1000);
        day.hold_day(Duration::from_millis(100));
        assert_eq!(day.acquire(), Err(GhlError::BudgetExhausted));
        std::thread::sleep(Duration::from_millis(120));
        assert!(day.acquire().is_ok(), "one request asks again once the hold ends");
        let headers = |pairs: &[(&str, &str)]| {
            let pairs: Vec<(String, String)> = pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
            RateLimitHeaders::read(|name| {
                pairs.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
            })
        };
        let read = headers(&[
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Interval-Milliseconds", "1500"),
            ("X-RateLimit-Daily-Remaining", "7"),
        ]);
        assert_eq!(
            read.map(|h| (h.remaining, h.interval(), h.daily_remaining)),
            Some((Some(0), Some(Duration::from_millis(1500)), Some(7)))
        );
        assert_eq!(headers(&[("Retry-After", "5")]), None, "Retry-After is not one of GHL's documented headers");
    }
}
