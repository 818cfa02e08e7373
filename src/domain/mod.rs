//! Pure domain logic: no I/O, no clock, no database. `now` is always an argument.

pub mod ai;
pub mod calendar;
pub mod catchup;
pub mod classify;
pub mod command;
pub mod cron;
pub mod event;
pub mod format;
pub mod hours;
pub mod issue;
pub mod network;
pub mod notify;
pub mod outcome;
pub mod phone;
