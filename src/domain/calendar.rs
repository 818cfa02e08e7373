//! TEMPORARY compile shim; replaced by the real calendar module.
use jiff::{SignedDuration, Timestamp, tz::TimeZone};
#[derive(Debug, Clone, PartialEq)]
pub struct WeeklySchedule;
#[derive(Debug, Clone, PartialEq)]
pub struct Holidays;
impl WeeklySchedule {
    pub fn weekdays(_s: &str, _e: &str) -> Result<WeeklySchedule, String> {
        Ok(WeeklySchedule)
    }
    pub fn parse(_s: &str) -> Result<WeeklySchedule, String> {
        Ok(WeeklySchedule)
    }
}
pub fn parse_holidays(_s: &str) -> Result<Holidays, String> {
    Ok(Holidays)
}
#[derive(Debug, Clone)]
pub struct Calendar {
    zone: TimeZone,
}
impl Calendar {
    pub fn new(zone: TimeZone, _w: WeeklySchedule, _h: Holidays) -> Calendar {
        Calendar { zone }
    }
    pub fn is_open(&self, _at: Timestamp) -> bool {
        true
    }
    pub fn is_business_day(&self, _d: jiff::civil::Date) -> bool {
        true
    }
    pub fn business_time_between(&self, a: Timestamp, b: Timestamp) -> SignedDuration {
        b.duration_since(a)
    }
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }
    pub fn due_at(&self, start: Timestamp, sla: SignedDuration) -> Timestamp {
        start + sla
    }
    pub fn explain_due(&self, verb: &str, _c: Timestamp, _s: SignedDuration) -> String {
        verb.to_string()
    }
}
