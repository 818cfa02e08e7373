//! Black-box tests: the real binary, real HTTP on 127.0.0.1, a real SQLite file, and a fake
//! GHL server as the only stand-in.

mod ai_gate;
mod backup;
mod browser;
mod catchup;
mod clock;
mod commands;
mod config;
mod console;
mod crash;
mod fake_ghl;
mod faults;
mod ghl_api;
mod harness;
mod hostile;
mod hours;
mod import;
mod intake;
mod led;
mod lifecycle;
mod managers;
mod notify;
mod offbox;
mod pipes;
mod rathole;
mod replay;
mod resolver;
mod service_user;
mod signatures;
mod status;
mod storage;
mod supervision;
mod tidy;
mod tunnel;
mod update;
mod watchdog;
