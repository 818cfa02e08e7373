//! The `sentinel` command: parses arguments, loads the configuration, runs or reports.

use std::path::PathBuf;
use std::process::ExitCode;

use sentinel::config::{self, Config, Source};

const USAGE: &str = "\
sentinel — missed-contact watchdog for GoHighLevel

Usage:
  sentinel [run] [--config PATH]       run the service (the default)
  sentinel check-config [--config PATH] print the effective configuration, secrets masked
  sentinel status [--config PATH]       one screen: actors, last webhook, GHL, issues, next digest
  sentinel --version                    print the version
  sentinel --help                       print this help

The configuration comes from the env file (--config PATH, else /etc/sentinel/sentinel.env
when it exists) and the process environment, which wins. See README.md for every variable.";

/// What the command line asks for.
enum Command {
    Run,
    CheckConfig,
    Status,
    Version,
    Help,
}

struct Args {
    command: Command,
    config: Option<PathBuf>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut command = None;
    let mut config = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" | "-c" => {
                config = Some(PathBuf::from(args.next().ok_or("--config needs a path")?));
            }
            _ if arg.starts_with("--config=") => config = Some(PathBuf::from(&arg["--config=".len()..])),
            "--version" | "-V" | "version" => command = Some(Command::Version),
            "--help" | "-h" | "help" => command = Some(Command::Help),
            "run" if command.is_none() => command = Some(Command::Run),
            "check-config" if command.is_none() => command = Some(Command::CheckConfig),
            "status" if command.is_none() => command = Some(Command::Status),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Args { command: command.unwrap_or(Command::Run), config })
}

fn run() -> anyhow::Result<()> {
    let args = parse_args(std::env::args().skip(1)).map_err(|err| anyhow::format_err!("{err}\n\n{USAGE}"))?;
    match args.command {
        Command::Version => {
            println!("sentinel {}", env!("CARGO_PKG_VERSION"));
            return Ok(());
        }
        Command::Help => {
            println!("{USAGE}");
            return Ok(());
        }
        Command::Run | Command::CheckConfig | Command::Status => {}
    }
    let source = Source::load(args.config.as_deref())?;
    let config = Config::from_source(&source)?;
    match args.command {
        Command::CheckConfig => print!("{}", config::describe(&source, &config)),
        Command::Status => print!("{}", sentinel::status::print(&config)?),
        _ => {
            sentinel::app::init_logging();
            for name in &source.unknown {
                tracing::warn!("{name} in the env file is not a Sentinel variable and is ignored");
            }
            sentinel::app::run(config)?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("sentinel: {err:#}");
            ExitCode::FAILURE
        }
    }
}
