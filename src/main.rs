//! The `sentinel` command: parses arguments, loads the configuration, runs or reports.

use std::path::PathBuf;
use std::process::ExitCode;

use sentinel::config::{self, Config, Source};
use sentinel::{out, outln};

const USAGE: &str = "\
sentinel — missed-contact watchdog for GoHighLevel

Usage:
  sentinel [run] [--config PATH]       run the service (the default)
  sentinel check-config [--config PATH] print the effective configuration, secrets masked
  sentinel status [--config PATH]       one screen: actors, last webhook, GHL, issues, next digest
  sentinel instances                    one line per location on this host (/etc/sentinel/*.env):
                                        its GHL location, listeners, and whether /health answers
  sentinel health [--config PATH]       ask the running service's /health (admin listener);
                                        exits 0 when it answers 200, else 1 (a container's
                                        health check: the image has no curl)
  sentinel doctor [--json] [--send-test-sms [--wait-for-ok SECONDS]] [--config PATH]
                                        check every outside dependency for real (GHL token,
                                        managers, the box); one line each with what to do;
                                        exits 1 when a check fails; the test SMS
                                        waits for each manager's OK (120 s unless given)
  sentinel backup FILE [--config PATH]  write a consistent copy of the database (safe while running)
  sentinel restore FILE [--config PATH] replace the database with a backup (stop the service first)
  sentinel restore --offbox latest|NAME [--config PATH]
  sentinel restore s3://BUCKET/OBJECT | https://HOST/BUCKET/OBJECT [--config PATH]
                                        bring back the database and the env file from an
                                        off-box copy (OFFBOX_* settings; stop the service first)
  sentinel offbox list [--config PATH]  list the off-box copies in OFFBOX_URL's bucket
  sentinel offbox push [--fresh] [--config PATH]
                                        send the newest nightly backup (or, with --fresh or
                                        when there is none, a fresh one) to the bucket now
  sentinel import-original FILE [--dry-run] [--config PATH]
                                        import the original service's sentinel.db (idempotent)
  sentinel replay [--since DATE] [--until DATE] [--schedule SCHEDULE] [--holidays DATES]
                 [--sms-sla-hours H] [--call-sla-hours H] [--svg FILE] [--config PATH]
                                        run the stored events again with other settings and
                                        print the issues, breaches and reply times (read-only)
  sentinel manager add NAME [--contact-id ID] [--phone PHONE] [--pin PIN] [--config PATH]
                                        let a manager sign in to the console (prints a
                                        generated PIN when none is given) and text commands
                                        from that GHL contact or phone (one or both)
  sentinel manager list|remove NAME [--config PATH]
                                        the managers who can sign in; take one away
  sentinel update FILE|URL [--allow-downgrade] [--keys DIR] [--config PATH]
                                        install a signed release bundle into the inactive slot,
                                        back up the database, switch slots and restart the
                                        service; rolled back by itself unless it becomes healthy
  sentinel release keygen|pack ...      make a release key or a signed bundle (sentinel release --help)
  sentinel --version                    print the version
  sentinel --help                       print this help

The configuration comes from the env file (--config PATH, else /etc/sentinel/sentinel.env
when it exists) and the process environment, which wins. --instance NAME in place of --config
is the location sentinel@NAME.service runs: /etc/sentinel/NAME.env, its data in
/var/lib/sentinel/NAME. See README.md for every variable.";

/// How long `doctor --send-test-sms` waits for the managers' OK unless told.
const DOCTOR_OK_WAIT_SECONDS: u64 = 120;

/// What the command line asks for.
enum Command {
    Run,
    CheckConfig,
    Status,
    Instances,
    Health,
    Doctor,
    ImportOriginal,
    Backup,
    Restore,
    OffboxList,
    OffboxPush,
    Replay,
    Manager(ManagerCommand),
    Update,
    Version,
    Help,
}

/// `sentinel manager …`: who may sign in to the console.
enum ManagerCommand {
    Add,
    List,
    Remove,
}

struct Args {
    command: Command,
    config: Option<PathBuf>,
    /// `--instance NAME`: the env file `/etc/sentinel/NAME.env` and the data of
    /// `sentinel@NAME.service` (issue 29).
    instance: Option<String>,
    /// `import-original`'s, `backup`'s or `restore`'s file (or `restore`'s bucket URL).
    file: Option<PathBuf>,
    /// `restore --offbox`: `latest` or a copy's name in `OFFBOX_URL`'s bucket.
    offbox: Option<String>,
    dry_run: bool,
    /// `offbox push --fresh`: a fresh backup rather than the newest nightly one.
    fresh: bool,
    /// `replay`'s what-if settings (variable, value), its dates and its picture.
    what_if: Vec<(&'static str, String)>,
    since: Option<String>,
    until: Option<String>,
    svg: Option<PathBuf>,
    /// `manager add`'s or `remove`'s name, `add`'s contact id, phone and chosen PIN.
    manager: sentinel::console::managers::NewManager,
    /// `update`: install an older or the same version; another directory of trusted keys.
    allow_downgrade: bool,
    keys: Option<PathBuf>,
    /// `doctor --json`, `doctor --send-test-sms`.
    json: bool,
    send_test_sms: bool,
    wait_for_ok: Option<u64>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut command = None;
    let mut config = None;
    let mut instance = None;
    let mut file = None;
    let mut offbox = None;
    let mut dry_run = false;
    let mut fresh = false;
    let (mut what_if, mut since, mut until, mut svg) = (Vec::new(), None, None, None);
    let mut manager = sentinel::console::managers::NewManager::default();
    let mut manager_named = false;
    let (mut allow_downgrade, mut keys) = (false, None);
    let (mut json, mut send_test_sms, mut wait_for_ok) = (false, false, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" | "-c" => {
                config = Some(PathBuf::from(args.next().ok_or("--config needs a path")?));
            }
            _ if arg.starts_with("--config=") => config = Some(PathBuf::from(&arg["--config=".len()..])),
            "--instance" => instance = Some(args.next().ok_or("--instance needs a name, e.g. dallas")?),
            _ if arg.starts_with("--instance=") => instance = Some(arg["--instance=".len()..].to_string()),
            "--version" | "-V" | "version" => command = Some(Command::Version),
            "--help" | "-h" | "help" => command = Some(Command::Help),
            "run" if command.is_none() => command = Some(Command::Run),
            "check-config" if command.is_none() => command = Some(Command::CheckConfig),
            "status" if command.is_none() => command = Some(Command::Status),
            "instances" if command.is_none() => command = Some(Command::Instances),
            "health" if command.is_none() => command = Some(Command::Health),
            "doctor" if command.is_none() => command = Some(Command::Doctor),
            "--json" if matches!(command, Some(Command::Doctor)) => json = true,
            "--send-test-sms" if matches!(command, Some(Command::Doctor)) => send_test_sms = true,
            "--wait-for-ok" if matches!(command, Some(Command::Doctor)) => {
                let seconds = args.next().ok_or("--wait-for-ok needs a number of seconds")?;
                let seconds = seconds
                    .parse::<u64>()
                    .ok()
                    .filter(|seconds| *seconds <= 3600)
                    .ok_or_else(|| format!("--wait-for-ok {seconds:?}: expected seconds from 0 to 3600"))?;
                wait_for_ok = Some(seconds);
            }
            "import-original" if command.is_none() => command = Some(Command::ImportOriginal),
            "backup" if command.is_none() => command = Some(Command::Backup),
            "restore" if command.is_none() => command = Some(Command::Restore),
            "offbox" if command.is_none() => match args.next().as_deref() {
                Some("list") => command = Some(Command::OffboxList),
                Some("push") => command = Some(Command::OffboxPush),
                _ => return Err("offbox needs what to do: offbox list|push".into()),
            },
            "--offbox" if matches!(command, Some(Command::Restore)) => {
                offbox = Some(args.next().ok_or("--offbox needs latest or a copy's name")?);
            }
            "--dry-run" => dry_run = true,
            "--fresh" if matches!(command, Some(Command::OffboxPush)) => fresh = true,
            "manager" if command.is_none() => {
                command = Some(Command::Manager(match args.next().as_deref() {
                    Some("add") => ManagerCommand::Add,
                    Some("list") => ManagerCommand::List,
                    Some("remove") => ManagerCommand::Remove,
                    _ => return Err("manager needs what to do: manager add|list|remove".into()),
                }));
            }
            "--contact-id" | "--phone" | "--pin" if matches!(command, Some(Command::Manager(ManagerCommand::Add))) => {
                let value = Some(args.next().ok_or(format!("{arg} needs a value"))?);
                match arg.as_str() {
                    "--pin" => manager.pin = value,
                    "--phone" => manager.phone = value,
                    _ => manager.contact_id = value,
                }
            }
            _ if matches!(command, Some(Command::Manager(ManagerCommand::Add | ManagerCommand::Remove)))
                && !manager_named
                && !arg.starts_with('-') =>
            {
                manager.name = arg;
                manager_named = true;
            }
            "replay" if command.is_none() => command = Some(Command::Replay),
            "update" if command.is_none() => command = Some(Command::Update),
            "--allow-downgrade" if matches!(command, Some(Command::Update)) => allow_downgrade = true,
            "--keys" if matches!(command, Some(Command::Update)) => {
                keys = Some(PathBuf::from(args.next().ok_or("--keys needs a directory")?));
            }
            "--since" | "--until" | "--svg" if matches!(command, Some(Command::Replay)) => {
                let value = args.next().ok_or(format!("{arg} needs a value"))?;
                match arg.as_str() {
                    "--since" => since = Some(value),
                    "--until" => until = Some(value),
                    _ => svg = Some(PathBuf::from(value)),
                }
            }
            _ if matches!(command, Some(Command::Replay))
                && sentinel::replay::SETTINGS.iter().any(|(flag, _)| *flag == arg) =>
            {
                let value = args.next().ok_or(format!("{arg} needs a value"))?;
                let name = sentinel::replay::SETTINGS.iter().find(|(flag, _)| *flag == arg).map(|(_, name)| *name);
                what_if.extend(name.map(|name| (name, value)));
            }
            _ if matches!(
                command,
                Some(Command::ImportOriginal | Command::Backup | Command::Restore | Command::Update)
            ) && file.is_none()
                && !arg.starts_with('-') =>
            {
                file = Some(PathBuf::from(&arg));
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    match command {
        Some(Command::ImportOriginal) if file.is_none() => {
            return Err("import-original needs the original's sentinel.db".into());
        }
        Some(Command::Backup) if file.is_none() => return Err("backup needs the file to write".into()),
        Some(Command::Update) if file.is_none() => return Err("update needs a release bundle's file or URL".into()),
        Some(Command::Restore) if file.is_none() && offbox.is_none() => {
            return Err("restore needs the backup to restore".into());
        }
        Some(Command::Restore) if file.is_some() && offbox.is_some() => {
            return Err("restore takes a file or --offbox, not both".into());
        }
        Some(Command::Manager(ManagerCommand::Add | ManagerCommand::Remove)) if !manager_named => {
            return Err("manager add and remove need the manager's name".into());
        }
        Some(Command::Manager(ManagerCommand::Add)) if manager.contact_id.is_none() && manager.phone.is_none() => {
            return Err(
                "manager add needs --contact-id (the manager's GHL contact id) or --phone (the phone they text from)"
                    .into(),
            );
        }
        _ => {}
    }
    if config.is_some() && instance.is_some() {
        return Err("--config and --instance both name the env file; give one".into());
    }
    let command = command.unwrap_or(Command::Run);
    Ok(Args {
        command,
        config,
        instance,
        file,
        offbox,
        dry_run,
        fresh,
        what_if,
        since,
        until,
        svg,
        manager,
        allow_downgrade,
        keys,
        json,
        send_test_sms,
        wait_for_ok,
    })
}

/// The commands `USAGE` describes, as typed.
const COMMANDS: [&str; 14] = [
    "run",
    "check-config",
    "status",
    "instances",
    "health",
    "doctor",
    "backup",
    "restore",
    "offbox",
    "import-original",
    "replay",
    "manager",
    "update",
    "release",
];

/// What `--help` (or `-h`) anywhere on the line prints: that command's usage, or all of it when
/// no command is named. `None` when no help was asked for.
fn help_for(args: &[String]) -> Option<String> {
    if !args.iter().any(|arg| arg == "--help" || arg == "-h") {
        return None;
    }
    let command = args.iter().find(|arg| COMMANDS.contains(&arg.as_str()));
    Some(match command.map(String::as_str) {
        Some("release") => sentinel::update::release::USAGE.to_string(),
        Some(command) => {
            let lines = usage_lines(command);
            let (_, footer) =
                USAGE.split_once("\n\n").and_then(|(_, rest)| rest.split_once("\n\n")).unwrap_or_default();
            format!("Usage:\n{}\n\n{footer}", lines.join("\n"))
        }
        None => USAGE.to_string(),
    })
}

/// `USAGE`'s lines for `command`: each line that starts it, with the lines that continue it.
fn usage_lines(command: &str) -> Vec<&'static str> {
    let start = format!("  sentinel {command} ");
    let start_bracketed = format!("  sentinel [{command}] ");
    let mut lines = Vec::new();
    let mut inside = false;
    for line in USAGE.lines() {
        if line.starts_with("  sentinel ") || !line.starts_with("   ") {
            inside = line.starts_with(&start) || line.starts_with(&start_bracketed);
        }
        if inside {
            lines.push(line);
        }
    }
    lines
}

/// Now, for a command: the tests' injected clock when `SENTINEL_TEST_NOW` is set.
fn now_for_cli() -> anyhow::Result<jiff::Timestamp> {
    match std::env::var("SENTINEL_TEST_NOW") {
        Ok(text) if !text.is_empty() => text
            .parse()
            .map_err(|err| anyhow::format_err!("SENTINEL_TEST_NOW={text:?}: expected an RFC 3339 instant: {err}")),
        _ => Ok(jiff::Timestamp::now()),
    }
}

fn run() -> anyhow::Result<()> {
    let all: Vec<String> = std::env::args().skip(1).collect();
    if let Some(help) = help_for(&all) {
        outln!("{help}");
        return Ok(());
    }
    if all.first().is_some_and(|first| first == "release") {
        outln!("{}", sentinel::update::release::run(&all[1..])?);
        return Ok(());
    }
    let args = parse_args(std::env::args().skip(1)).map_err(|err| anyhow::format_err!("{err}\n\n{USAGE}"))?;
    match args.command {
        Command::Version => {
            outln!("sentinel {}", env!("CARGO_PKG_VERSION"));
            return Ok(());
        }
        Command::Help => {
            outln!("{USAGE}");
            return Ok(());
        }
        _ => {}
    }
    if matches!(args.command, Command::Instances) {
        out!("{}", sentinel::status::instances::list(&config::instance::etc_dir())?);
        return Ok(());
    }
    let mut source = match &args.instance {
        Some(name) => Source::load_instance(name)?,
        None => Source::load(args.config.as_deref())?,
    };
    // The what-if settings win over the env file and the environment.
    for (name, value) in &args.what_if {
        source = source.with(name, value);
    }
    // The doctor reports a configuration that does not load as its first failed check.
    if matches!(args.command, Command::Doctor) {
        let options = sentinel::doctor::Options {
            send_test_sms: args.send_test_sms,
            wait_for_ok: std::time::Duration::from_secs(args.wait_for_ok.unwrap_or(DOCTOR_OK_WAIT_SECONDS)),
            ..Default::default()
        };
        let report = sentinel::doctor::run(&source, options);
        if args.json {
            outln!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            out!("{}", report.text());
        }
        if report.failed() {
            anyhow::bail!("a check failed: see the ✗ lines above");
        }
        return Ok(());
    }
    let config = Config::from_source(&source)?;
    // Root never writes in, nor runs from, a data directory the service user owns.
    let writes_data = match &args.command {
        Command::Run => Some("run"),
        Command::Backup => Some("backup"),
        Command::Restore => Some("restore"),
        Command::ImportOriginal => Some("import-original"),
        Command::Manager(_) => Some("manager"),
        Command::OffboxPush => Some("offbox push"),
        Command::Replay => Some("replay"),
        _ => None,
    };
    if let Some(command) = writes_data {
        sentinel::backup::refuse_root_over(&config.data_dir(), command)?;
    }
    match args.command {
        Command::CheckConfig => {
            out!("{}", config::describe(&source, &config));
            outln!("{}", sentinel::update::keys::describe(&sentinel::update::keys::keys_dir()));
            if config.ghl.location_id.is_none() {
                match sentinel::db::learned_location(&config.db_path) {
                    Some(location) => {
                        outln!("# GHL location: {location}, learned from the webhooks (set GHL_LOCATION_ID to pin it)")
                    }
                    None if config.ghl.token.is_some() => outln!(
                        "# warning: GHL_TOKEN is set but GHL_LOCATION_ID is not: GHL's conversation searches need it; \
                         it is learned from the first webhook (none yet)"
                    ),
                    None => {}
                }
            }
        }
        Command::Status => out!("{}", sentinel::status::print(&config)?),
        Command::Health => outln!("{}", sentinel::status::health(&config)?),
        Command::Backup => {
            let file = args.file.as_deref().unwrap_or(std::path::Path::new(""));
            let db =
                rusqlite::Connection::open_with_flags(&config.db_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            db.busy_timeout(std::time::Duration::from_secs(10))?;
            let bytes = sentinel::db::backup::backup_to(&db, file)?;
            outln!("backup written: {} ({bytes} bytes)", file.display());
        }
        Command::Restore => {
            let file = args.file.as_deref().unwrap_or(std::path::Path::new(""));
            let url = file.to_str().filter(|text| ["s3://", "http://", "https://"].iter().any(|s| text.starts_with(s)));
            match args.offbox.as_deref().or(url) {
                Some(from) => {
                    // The env file goes where this command read its own: --config, else the default.
                    let env_file = source.file.clone().unwrap_or_else(|| PathBuf::from(config::DEFAULT_ENV_FILE));
                    let restored = sentinel::offbox::restore(&config, from, &env_file)?;
                    let sealed = &restored.manifest;
                    outln!("restored {} from {}", restored.database.display(), restored.from);
                    let night = sealed.backup_date.map_or_else(String::new, |date| format!(" (the backup of {date})"));
                    outln!("  sealed {}{night} by sentinel {}", sealed.created_at, sealed.sentinel_version);
                    for note in &restored.notes {
                        outln!("  note: {note}");
                    }
                    match &restored.env_file {
                        Some(env) => outln!("  env file restored to {}", env.display()),
                        None => outln!(
                            "  the copy holds no env file (its service was configured by its environment only); {} is untouched",
                            env_file.display()
                        ),
                    }
                }
                None => {
                    sentinel::db::backup::restore(file, &config.db_path)?;
                    outln!("restored {} from {}", config.db_path.display(), file.display());
                }
            }
        }
        Command::OffboxList => {
            let (bucket, copies) = sentinel::offbox::list(&config)?;
            outln!("off-box copies in {bucket}: {}", copies.len());
            for copy in copies {
                outln!("  {}  {} bytes  {}", copy.key, copy.size, copy.last_modified.as_deref().unwrap_or("-"));
            }
        }
        Command::OffboxPush => {
            let from = if args.fresh { sentinel::offbox::PushFrom::Fresh } else { sentinel::offbox::PushFrom::Newest };
            outln!("{}", sentinel::offbox::push(&config, from, now_for_cli()?)?);
        }
        Command::Replay => {
            let window =
                sentinel::replay::Window::from_dates(&config.calendar, args.since.as_deref(), args.until.as_deref())?;
            if let Some(file) = &args.svg {
                refuse_to_overwrite_anything_but_a_picture(file)?;
            }
            let started = std::time::Instant::now();
            let report = sentinel::replay::run(&config.db_path, &config, window)?;
            out!("{report}");
            let seconds = started.elapsed().as_secs_f64();
            outln!("took {seconds:.2} s ({:.0} events/s)", report.events as f64 / seconds.max(1e-9));
            if let Some(file) = &args.svg {
                std::fs::write(file, sentinel::replay::svg::draw(&report))
                    .map_err(|err| anyhow::format_err!("writing {}: {err}", file.display()))?;
                outln!("picture written: {}", file.display());
            }
        }
        Command::Manager(what) => {
            let name = args.manager.name.as_str();
            out!(
                "{}",
                match what {
                    ManagerCommand::Add => sentinel::console::managers::add(&config.db_path, &args.manager)?,
                    ManagerCommand::List => sentinel::console::managers::list(&config.db_path, config.calendar.zone())?,
                    ManagerCommand::Remove => sentinel::console::managers::remove(&config.db_path, name)?,
                }
            );
        }
        Command::Update => {
            let source = args.file.as_deref().unwrap_or(std::path::Path::new("")).to_string_lossy().into_owned();
            let keys_dir = args.keys.clone().unwrap_or_else(sentinel::update::keys::keys_dir);
            let request = sentinel::update::install::Request {
                source,
                allow_downgrade: args.allow_downgrade,
                keys_dir,
                refuse_rolled_back: false,
            };
            let now = sentinel::update::install::now()?;
            let done = sentinel::update::install::update(&config, &request, now)?;
            outln!(
                "installed sentinel {} into slot {} (was {} in slot {}), signed by key {}",
                done.version,
                done.slot,
                done.from_version,
                done.from_slot,
                done.key.id
            );
            outln!("  {}", sentinel::update::install::ask_restart(&config));
        }
        Command::ImportOriginal => {
            let file = args.file.as_deref().unwrap_or(std::path::Path::new(""));
            let mode = if args.dry_run { sentinel::import::Mode::DryRun } else { sentinel::import::Mode::Write };
            let mut db = sentinel::db::schema::open(&config.db_path)?;
            let report = sentinel::import::import(file, &mut db, &config, mode)?;
            if args.dry_run {
                outln!("dry run: nothing was written");
            }
            out!("{report}");
        }
        _ => {
            sentinel::app::init_logging(args.instance.as_deref());
            for warning in sentinel::config::warnings(&source, &config) {
                tracing::warn!("{warning}");
            }
            if sentinel::app::run(config)? == sentinel::app::Stopped::Restart {
                // systemd restarts on this code (RestartForceExitStatus=), into the active slot.
                std::process::exit(i32::from(sentinel::update::RESTART_EXIT));
            }
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

/// `replay --svg FILE` writes a new file or replaces an earlier picture, never anything else (a
/// mistyped path must not turn the database into a picture).
fn refuse_to_overwrite_anything_but_a_picture(file: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Read as _;
    let mut start = [0u8; 64];
    let read = match std::fs::File::open(file) {
        Ok(mut existing) => existing.read(&mut start).unwrap_or(0),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => anyhow::bail!("--svg {}: {err}", file.display()),
    };
    let head = String::from_utf8_lossy(&start[..read]);
    let head = head.trim_start();
    if read == 0 || head.starts_with("<svg") || head.starts_with("<?xml") {
        return Ok(());
    }
    anyhow::bail!("--svg {}: the file exists and is not a picture; name a new file", file.display())
}
