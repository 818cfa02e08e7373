//! Black-box tests: the real binary, real HTTP on 127.0.0.1, a real SQLite file.

mod config;
mod harness;
mod intake;
mod lifecycle;
mod supervision;
