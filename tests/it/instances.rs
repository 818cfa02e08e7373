//! Several locations on one host (issue 29): two instances run side by side as
//! `systemd/sentinel@.service` starts them (`sentinel run --instance NAME`, the env file in the
//! etc directory, the state directory systemd makes for the instance, the instance's own update
//! slots), each with its own fake GHL location, and share nothing.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::fake_ghl::FakeGhl;
use crate::harness::{Answer, Sentinel, command, payload, request};

/// One location as the test sets it up: its env file's values and its running service.
struct Location {
    name: &'static str,
    location_id: &'static str,
    token: &'static str,
    secret: &'static str,
    webhook_port: u16,
    admin_port: u16,
}

impl Location {
    /// The env file `sentinel@NAME` reads: its own ports, secret, GHL token and location.
    fn env_file(&self, ghl: &FakeGhl) -> String {
        format!(
            "# {name}: one location of several on this host\n\
             LISTEN_ADDR=127.0.0.1:{webhook}\n\
             ADMIN_LISTEN_ADDR=127.0.0.1:{admin}\n\
             WEBHOOK_SECRET={secret}\n\
             GHL_BASE_URL={url}\n\
             GHL_TOKEN={token}\n\
             GHL_LOCATION_ID={location}\n",
            name = self.name,
            webhook = self.webhook_port,
            admin = self.admin_port,
            secret = self.secret,
            url = ghl.url,
            token = self.token,
            location = self.location_id,
        )
    }

    /// A workflow's inbound text from `contact` (and a phone of its own) of this location.
    fn text_from(&self, contact: &str) -> String {
        let phone = format!("(214) 555-{:04}", contact.bytes().map(u32::from).sum::<u32>() % 10_000);
        payload("workflow_inbound_sms.json")
            .replace("wfC0ntact0001", contact)
            .replace("(214) 555-0104", &phone)
            .replace("ntppLocation01", self.location_id)
    }

    fn webhook(&self, app: &Sentinel, body: &str) -> anyhow::Result<Answer> {
        request(
            &app.webhook_addr,
            "POST",
            "/webhook/ghl/inbound_sms",
            &[("X-NTPP-Secret", self.secret), ("Content-Type", "application/json")],
            body.as_bytes(),
        )
    }

    fn status(&self, app: &Sentinel) -> anyhow::Result<Answer> {
        request(&app.admin_addr, "GET", "/api/status", &[("X-NTPP-Secret", self.secret)], b"")
    }
}

/// A port free on 127.0.0.1 now (the env files name fixed ports, as on the box).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The contact ids of the issues in the database at `path`.
fn contacts_in(path: &Path) -> anyhow::Result<Vec<String>> {
    let db = rusqlite::Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut statement = db.prepare("SELECT contact_id FROM issues ORDER BY contact_id")?;
    let contacts = statement.query_map([], |row| row.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
    Ok(contacts)
}

/// `sentinel ARGS...` as typed on the host: the etc directory, the state directory the launcher
/// sets (`/var/lib/sentinel`), and nothing else.
fn typed(etc: &Path, state: &Path, args: &[&str]) -> anyhow::Result<(bool, String)> {
    let output = command()
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SENTINEL_ETC", etc)
        .env("STATE_DIRECTORY", state)
        .output()?;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    Ok((output.status.success(), text))
}

#[test]
fn two_instances_side_by_side_share_nothing() -> anyhow::Result<()> {
    let (ghl_a, ghl_b) = (FakeGhl::start()?, FakeGhl::start()?);
    let a = Location {
        name: "a",
        location_id: "locA",
        token: "token-of-a",
        secret: "secret-of-a-0123456789",
        webhook_port: free_port()?,
        admin_port: free_port()?,
    };
    let b = Location {
        name: "b",
        location_id: "locB",
        token: "token-of-b",
        secret: "secret-of-b-0123456789",
        webhook_port: free_port()?,
        admin_port: free_port()?,
    };
    // Each fake serves its own location only: a search naming the other answers GHL's 403.
    ghl_a.token_for(a.location_id);
    ghl_b.token_for(b.location_id);
    let etc = tempfile::tempdir()?;
    std::fs::write(etc.path().join("a.env"), a.env_file(&ghl_a))?;
    std::fs::write(etc.path().join("b.env"), b.env_file(&ghl_b))?;
    // A third location, configured but stopped.
    let (stopped_webhook, stopped_admin) = (free_port()?, free_port()?);
    std::fs::write(
        etc.path().join("c.env"),
        format!(
            "LISTEN_ADDR=127.0.0.1:{stopped_webhook}\nADMIN_LISTEN_ADDR=127.0.0.1:{stopped_admin}\nGHL_LOCATION_ID=locC\n"
        ),
    )?;

    // /var/lib/sentinel, once per instance so each test directory holds one: systemd makes
    // StateDirectory=sentinel/%i and says so in STATE_DIRECTORY.
    let start = |location: &Location, ghl: &FakeGhl| -> anyhow::Result<(Sentinel, PathBuf)> {
        let _ = ghl;
        let root = tempfile::tempdir()?;
        let state = root.path().join(location.name);
        let state_root = root.path().to_path_buf();
        let (etc_text, state_text, slots) =
            (etc.path().display().to_string(), state.display().to_string(), state.join("slots").display().to_string());
        let app = Sentinel::start_as_unit(
            root,
            &["run", "--instance", location.name],
            &[("SENTINEL_ETC", &etc_text), ("STATE_DIRECTORY", &state_text), ("SENTINEL_SLOTS", &slots)],
        )?;
        Ok((app, state_root))
    };
    let (app_a, root_a) = start(&a, &ghl_a)?;
    let (app_b, root_b) = start(&b, &ghl_b)?;
    assert_eq!(app_a.webhook_addr, format!("127.0.0.1:{}", a.webhook_port), "{}", app_a.banner);
    assert_eq!(app_b.admin_addr, format!("127.0.0.1:{}", b.admin_port), "{}", app_b.banner);

    // One text to a, two to b, each with its own secret; a's secret opens nothing of b's.
    assert_eq!(a.webhook(&app_a, &a.text_from("contactA1"))?.status, 200);
    assert_eq!(b.webhook(&app_b, &b.text_from("contactB1"))?.status, 200);
    assert_eq!(b.webhook(&app_b, &b.text_from("contactB2"))?.status, 200);
    assert_eq!(a.webhook(&app_b, &a.text_from("contactA9"))?.status, 401, "a's secret on b");

    // Each issue is in its own instance's database, in the directory named for it.
    let (db_a, db_b) = (root_a.join("a/sentinel.db"), root_b.join("b/sentinel.db"));
    assert_eq!(contacts_in(&db_a)?, ["contactA1"]);
    assert_eq!(contacts_in(&db_b)?, ["contactB1", "contactB2"]);
    assert!(!root_a.join("sentinel.db").exists() && !root_b.join("sentinel.db").exists());
    assert_eq!(a.status(&app_a)?.json["pending"], 1);
    assert_eq!(b.status(&app_b)?.json["pending"], 2);
    assert_eq!(b.status(&app_a)?.status, 401, "b's secret on a");

    // Each instance talks to its own GHL location only, with its own token: a catch-up pass
    // searches the location's conversations.
    for (ghl, location, app) in [(&ghl_a, &a, &app_a), (&ghl_b, &b, &app_b)] {
        let pass = request(&app.admin_addr, "POST", "/jobs/catchup", &[("X-NTPP-Secret", location.secret)], b"")?;
        assert_eq!(pass.status, 200, "{pass:?}");
        app.eventually("a GHL request", || Ok(!ghl.requests().is_empty()))?;
        let other = if location.name == "a" { &b } else { &a };
        for asked in ghl.requests() {
            assert_eq!(
                asked.authorization.as_deref(),
                Some(format!("Bearer {}", location.token).as_str()),
                "{asked:?}"
            );
            assert!(!asked.query.contains(other.location_id) && !asked.body.contains(other.location_id), "{asked:?}");
            assert!(!asked.path.contains("contactB") || location.name == "b", "a asked about b's contact: {asked:?}");
        }
        let searched =
            ghl.requests().iter().any(|asked| asked.query.contains(&format!("locationId={}", location.location_id)));
        assert!(searched, "{} searched its own location", location.name);
    }
    assert!(ghl_a.requests().iter().all(|asked| !asked.path.contains("contactB")));
    assert!(ghl_b.requests().iter().all(|asked| !asked.path.contains("contactA")));

    // `sentinel instances`: one line each, with its location, ports and whether it answers.
    let (ok, screen) = typed(etc.path(), root_a.as_path(), &["instances"])?;
    assert!(ok, "{screen}");
    let line =
        |name: &str| screen.lines().find(|line| line.starts_with(&format!("sentinel@{name} "))).map(str::to_string);
    let line_a = line("a").context(screen.clone())?;
    let line_b = line("b").context(screen.clone())?;
    let line_c = line("c").context(screen.clone())?;
    assert!(line_a.contains("locA") && line_a.contains(&format!("127.0.0.1:{}", a.webhook_port)), "{screen}");
    assert!(line_a.contains(&format!("127.0.0.1:{}", a.admin_port)) && line_a.contains("answers:"), "{screen}");
    assert!(line_b.contains("locB") && line_b.contains(&format!("127.0.0.1:{}", b.webhook_port)), "{screen}");
    assert!(line_b.contains(&format!("127.0.0.1:{}", b.admin_port)) && line_b.contains("answers:"), "{screen}");
    assert!(line_c.contains("locC") && line_c.ends_with("no answer"), "{screen}");
    assert!(screen.starts_with("3 services in "), "{screen}");

    // `sentinel status --instance a`: a's service, a's data.
    let (ok, screen) = typed(etc.path(), root_a.as_path(), &["status", "--instance", "a"])?;
    assert!(ok && screen.contains("0 open, 1 pending"), "{screen}");
    let (ok, screen) = typed(etc.path(), root_b.as_path(), &["status", "--instance", "b"])?;
    assert!(ok && screen.contains("0 open, 2 pending"), "{screen}");
    // Typed by hand, the launcher's STATE_DIRECTORY is /var/lib/sentinel: the instance's data is
    // the directory named for it inside, as under its unit.
    let (ok, screen) = typed(etc.path(), root_a.as_path(), &["check-config", "--instance", "a"])?;
    assert!(ok && screen.contains(&db_a.display().to_string()), "{screen}");
    assert!(screen.contains("locA") && !screen.contains("locB"), "{screen}");

    // Names that would leave the directory, or are the main service's, are refused.
    for bad in ["../a", "sentinel", "a.env"] {
        let (ok, text) = typed(etc.path(), root_a.as_path(), &["status", "--instance", bad])?;
        assert!(!ok && text.contains("instance"), "{bad}: {text}");
    }
    let (ok, text) = typed(etc.path(), root_a.as_path(), &["status", "--instance", "nowhere"])?;
    assert!(!ok && text.contains("nowhere.env"), "{text}");
    app_a.stop()?;
    app_b.stop()?;
    Ok(())
}
