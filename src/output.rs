//! Printing for the command line: everything `sentinel` prints on stdout goes through here.
//!
//! `println!` panics when stdout is a pipe its reader closed early (`sentinel replay | head`):
//! "failed printing to stdout: Broken pipe", status 101. [`out!`](crate::out) and
//! [`outln!`](crate::outln) write to the locked stdout instead. A closed pipe ends the command
//! quietly with status 0, as ripgrep does: the reader took what it wanted. Any other failure
//! to write (a full disk behind `>`) is said on stderr and ends the command with status 1.
//! The running service's banner is only news, so [`banner`] drops it on a closed pipe and the
//! service keeps running.

use std::fmt;
use std::io::{self, Write as _};

/// Prints to stdout like `print!`, ending the command quietly if stdout was closed.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::print(::std::format_args!($($arg)*), false) };
}

/// Prints a line to stdout like `println!`, ending the command quietly if stdout was closed.
#[macro_export]
macro_rules! outln {
    () => { $crate::output::print(::std::format_args!(""), true) };
    ($($arg:tt)*) => { $crate::output::print(::std::format_args!($($arg)*), true) };
}

/// What [`out!`](crate::out) and [`outln!`](crate::outln) do: writes `args` (and a newline)
/// to the locked stdout, and ends the process when it cannot.
pub fn print(args: fmt::Arguments<'_>, newline: bool) {
    if let Err(err) = write(args, newline) {
        gone(&err);
    }
}

/// Writes the running service's banner; a closed or failing stdout loses it and nothing else.
pub fn banner(text: &str) {
    let mut stdout = io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
}

fn write(args: fmt::Arguments<'_>, newline: bool) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.write_fmt(args)?;
    if newline {
        stdout.write_all(b"\n")?;
    }
    // Flushed line by line (stdout is line-buffered), so a closed pipe shows here, not at exit.
    stdout.flush()
}

/// Ends the process after stdout failed: quietly with 0 for a closed pipe, else with 1 and why.
fn gone(err: &io::Error) -> ! {
    if err.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    let _ = writeln!(io::stderr(), "sentinel: writing to stdout: {err}");
    std::process::exit(1);
}
