//! Checks the rules in ARCHITECTURE.md that the compiler cannot.

use std::path::Path;

fn sources(dir: &Path, found: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            sources(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    Ok(())
}

/// The lines of a source file that are the program: not comments, and not what a
/// `#[cfg(test)]` puts in tests only (the item after it, `mod tests;` or a whole block).
/// Numbered from 1.
fn program_lines(text: &str) -> Vec<(usize, &str)> {
    let mut lines = Vec::new();
    let (mut in_test, mut depth, mut opened) = (false, 0i64, false);
    for (at, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if in_test {
            depth += code.matches('{').count() as i64 - code.matches('}').count() as i64;
            opened |= code.contains('{');
            if depth <= 0 && (opened || code.ends_with(';')) {
                (in_test, depth, opened) = (false, 0, false);
            }
            continue;
        }
        if code.starts_with("#[cfg(test)]") {
            in_test = true;
        } else if !code.starts_with("//") {
            lines.push((at + 1, line));
        }
    }
    lines
}

/// A graph of names, each with the names it imports.
type Graph = std::collections::BTreeMap<String, std::collections::BTreeSet<String>>;

/// The first circle a depth-first walk of `graph` meets, its first name repeated at its end.
fn first_circle(graph: &Graph) -> Option<Vec<String>> {
    fn walk(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut circle = path[at..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = walk(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = std::collections::BTreeSet::new();
    graph.keys().find_map(|node| walk(node, graph, &mut Vec::new(), &mut done))
}

/// Unit tests: a `tests.rs`, or a file under a `tests/` folder.
fn is_test_file(relative: &str) -> bool {
    relative.ends_with("tests.rs") || relative.contains("/tests/")
}

#[test]
fn the_domain_does_no_io_and_never_reads_the_clock() -> anyhow::Result<()> {
    let mut files = Vec::new();
    sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain"), &mut files)?;
    assert!(files.len() >= 6, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        for forbidden in [
            "tokio",
            "rusqlite",
            "ureq",
            "tiny_http",
            "Timestamp::now",
            "SystemTime::now",
            "Instant::now",
            "std::fs",
            "std::net",
        ] {
            assert!(!text.contains(forbidden), "{} uses {forbidden}", file.display());
        }
    }
    Ok(())
}

#[test]
fn only_the_store_actor_holds_the_connection() -> anyhow::Result<()> {
    let mut files = Vec::new();
    sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/actors"), &mut files)?;
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        let holds = text.contains("conn: Connection");
        assert_eq!(holds, file.ends_with("actors/store/mod.rs"), "{}", file.display());
    }
    Ok(())
}

/// The crate's top-level modules each file of `dir` (under `src/`) names with `crate::…`,
/// with the file that names it. Comment lines are skipped.
fn imports(dir: &str) -> anyhow::Result<Vec<(std::path::PathBuf, String)>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let path = root.join(dir);
    if path.is_dir() {
        sources(&path, &mut files)?;
    } else {
        files.push(path.with_extension("rs"));
    }
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        for line in text.lines().filter(|line| !line.trim_start().starts_with("//")) {
            for (at, _) in line.match_indices("crate::") {
                let module: String =
                    line[at + "crate::".len()..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                if !module.is_empty() {
                    found.push((file.clone(), module));
                }
            }
        }
    }
    Ok(found)
}

/// Asserts that no file under `dir` imports any of `forbidden`.
fn never_imports(dir: &str, forbidden: &[&str]) -> anyhow::Result<()> {
    let found = imports(dir)?;
    assert!(!found.is_empty() || dir == "domain", "{dir}: no imports found; is the path right?");
    for (file, module) in found {
        assert!(
            !forbidden.contains(&module.as_str()),
            "{} imports crate::{module}; imports run domain ← db ← actors ← http/status/app (ARCHITECTURE.md)",
            file.display()
        );
    }
    Ok(())
}

#[test]
fn the_domain_imports_nothing_of_the_crate_but_itself() -> anyhow::Result<()> {
    for (file, module) in imports("domain")? {
        assert_eq!(module, "domain", "{} imports crate::{module}", file.display());
    }
    Ok(())
}

#[test]
fn the_db_never_imports_actors_ghl_http_or_status() -> anyhow::Result<()> {
    never_imports("db", &["actors", "ghl", "http", "status", "app", "supervisor", "clients", "guard", "led", "console"])
}

#[test]
fn actors_never_import_http_status_or_the_app() -> anyhow::Result<()> {
    never_imports("actors", &["http", "status", "app", "supervisor", "guard", "led", "console", "clockwatch"])
}

#[test]
fn the_console_sits_beside_http_and_never_imports_it() -> anyhow::Result<()> {
    // The managers' console (issue 17) renders pages and checks sessions; `http` hands it plain
    // requests. It reaches the database only through the store's handle.
    never_imports("console", &["http", "app", "guard", "led"])?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/console");
    let mut files = Vec::new();
    sources(&root, &mut files)?;
    for file in &files {
        let text = std::fs::read_to_string(file)?;
        assert!(!text.contains("rusqlite"), "{} uses SQL; go through StoreHandle", file.display());
    }
    Ok(())
}

#[test]
fn only_handles_build_actor_messages() -> anyhow::Result<()> {
    // Callers outside an actor's own module use its typed handle: no message is built and no
    // registered name is used anywhere else.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files)?;
    for file in files {
        let relative = file.strip_prefix(&root)?.to_string_lossy().replace('\\', "/");
        let text = std::fs::read_to_string(&file)?;
        if !relative.starts_with("actors/") && relative != "supervisor.rs" {
            assert!(!text.contains("names::"), "{relative} uses an actor's registered name; use its handle");
        }
        for (message, home) in [
            ("StoreMsg::", "actors/store/"),
            ("IntakeMsg::", "actors/intake.rs"),
            ("ClockMsg::", "actors/clock.rs"),
            ("ResolverMsg::", "actors/resolver"),
            ("SummaryMsg::", "actors/summary.rs"),
            ("OutboxMsg::", "actors/outbox.rs"),
        ] {
            if text.contains(message) {
                assert!(relative.starts_with(home), "{relative} builds {message}…; call the actor's handle instead");
            }
        }
    }
    Ok(())
}

/// The shared state in `src/signals.rs` is written outside any mailbox, so each field has one
/// writer: the one file (or the store's directory) that calls its setter. ARCHITECTURE.md's
/// table names each setter too.
#[test]
fn each_shared_field_has_one_writer() -> anyhow::Result<()> {
    let writers = [
        // (the setter's call, the writer's file or directory under src/)
        (".set_tunnel(", "app.rs"),
        (".set_resolver_pass(", "actors/resolver.rs"),
        (".set_catchup(", "actors/catchup.rs"),
        (".update_clock(", "clockwatch.rs"),
        (".add_replayed(", "actors/intake.rs"),
        (".set_disk_full(", "actors/store/"),
        (".webhooks_committed(", "actors/store/"),
        (".found_quiet_day(", "actors/summary.rs"),
        (".hours.set(", "actors/store/"),
        (".set_failed_checks(", "doctor/watch.rs"),
        (".set_network(", "netwatch.rs"),
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md"))?;
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files)?;
    for (setter, writer) in writers {
        let name = setter.rsplit('.').next().unwrap_or(setter).trim_end_matches('(');
        assert!(architecture.contains(&format!("`{name}`")), "ARCHITECTURE.md's table lacks `{name}`");
        let mut calls = 0;
        for file in &files {
            let relative = file.strip_prefix(root.join("src"))?.to_string_lossy().replace('\\', "/");
            if relative == "signals.rs" {
                continue; // where the setters are defined (and unit-tested)
            }
            let text = std::fs::read_to_string(file)?;
            for line in text.lines().filter(|line| !line.trim_start().starts_with("//")) {
                if line.contains(setter) {
                    assert!(
                        relative.starts_with(writer),
                        "{relative} calls {setter}…); only {writer} writes that field"
                    );
                    calls += 1;
                }
            }
        }
        assert!(calls > 0, "nobody calls {setter}…); is the table in this test out of date?");
    }
    Ok(())
}

#[test]
fn no_module_imports_itself_round_a_circle() -> anyhow::Result<()> {
    // The crate's top-level modules and what each imports; then a depth-first walk that fails
    // on the first circle, naming it.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: Graph = Default::default();
    for entry in std::fs::read_dir(&root)? {
        let path = entry?.path();
        let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(str::to_string) else { continue };
        if name == "main" || name == "lib" || !(path.is_dir() || path.extension().is_some_and(|e| e == "rs")) {
            continue;
        }
        let found = imports(&name)?;
        graph.entry(name.clone()).or_default().extend(found.into_iter().map(|(_, m)| m).filter(|m| *m != name));
    }
    assert!(graph.len() >= 15, "{graph:?}");
    if let Some(circle) = first_circle(&graph) {
        panic!("modules import each other in a circle: {}", circle.join(" → "));
    }
    Ok(())
}

/// `println!` panics on a closed pipe (`sentinel replay | head`, issue 24): the program prints
/// through `out!`/`outln!` (src/output.rs), which end quietly instead.
#[test]
fn stdout_is_written_only_through_the_output_macros() -> anyhow::Result<()> {
    let mut files = Vec::new();
    sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files)?;
    for file in files.iter().filter(|file| !file.ends_with("src/output.rs")) {
        let text = std::fs::read_to_string(file)?;
        for line in text.lines().filter(|line| !line.trim_start().starts_with("//")) {
            let prints = ["println!", "print!(", "io::stdout()"]
                .iter()
                .any(|forbidden| line.replace("eprint", "").contains(forbidden));
            assert!(!prints, "{}: {line}", file.display());
        }
    }
    Ok(())
}

/// The three contracts the code cites by section, and the file in `docs/` that holds the repo's
/// own summary of each, under the same section numbers.
const CONTRACTS: [(&str, &str); 3] =
    [("SPEC", "docs/SPEC.md"), ("CONTRACT", "docs/GHL.md"), ("APPLIANCE", "docs/APPLIANCE.md")];

/// Every section `text` cites of the contract called `name`: `SPEC §5.2`, `ghl/CONTRACT.md`
/// §7.8, and the sections a citation runs on to (`SPEC §6, §8`, `CONTRACT §3–§5`, `§2 and §3.3`),
/// also across a comment's line break.
fn cited(text: &str, name: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices(name) {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let mut rest = &text[at + name.len()..];
        rest = rest.strip_prefix(".md").unwrap_or(rest);
        rest = rest.strip_prefix('`').unwrap_or(rest);
        loop {
            // Spaces, and a comment's leaders when the citation runs on to the next line.
            let joined = rest.trim_start_matches(|c: char| c.is_whitespace() || "/!*".contains(c));
            let Some(after) = joined.strip_prefix('§').map(str::trim_start) else { break };
            let digits = after.chars().take_while(|c| c.is_ascii_digit() || *c == '.').count();
            let number = after[..digits].trim_end_matches('.');
            if number.is_empty() {
                break;
            }
            found.push(number.to_string());
            // A list goes on after `,`, `–`, `-`, `/` or `and` (`§6, §8`, `§3–§5`, `§2 and §3.3`).
            let tail = after[digits..].trim_start();
            let Some(tail) = [",", "–", "-", "/", "and"].iter().find_map(|sep| tail.strip_prefix(sep)) else { break };
            let tail = tail.trim_start();
            rest = tail.strip_prefix("and").unwrap_or(tail);
        }
    }
    found
}

/// The section numbers a Markdown file has as headings (`## §5.2 Staff replies`).
fn headed_sections(markdown: &str) -> std::collections::BTreeSet<String> {
    let mut sections = std::collections::BTreeSet::new();
    for line in markdown.lines().filter(|line| line.starts_with('#')) {
        for (at, _) in line.match_indices('§') {
            let number: String = line[at + '§'.len_utf8()..]
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            if !number.trim_end_matches('.').is_empty() {
                sections.insert(number.trim_end_matches('.').to_string());
            }
        }
    }
    sections
}

#[test]
fn citations_are_read_as_written() {
    let text = "(SPEC §6, §8) SPEC §2 and §3.3; CONTRACT §3–§5. (`ghl/CONTRACT.md` §7.8), (CONTRACT\n    // §3.3) XSPEC §9, issue 18 §3";
    assert_eq!(cited(text, "SPEC"), ["6", "8", "2", "3.3"]);
    assert_eq!(cited(text, "CONTRACT"), ["3", "5", "7.8", "3.3"]);
    assert_eq!(headed_sections("# SPEC §1\n## §5.2 Staff replies\nSee §9.\n### §7.8. The envelope"), {
        ["1", "5.2", "7.8"].map(String::from).into_iter().collect::<std::collections::BTreeSet<_>>()
    });
}

/// `SPEC §5.2` in a comment can be followed in the repo: each contract cited in `src/` or
/// `tests/` has its summary in `docs/`, with a heading for every section cited.
#[test]
fn every_cited_section_has_a_heading_in_docs() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files)?;
    sources(&root.join("tests"), &mut files)?;
    // This file's own examples are not citations.
    files.retain(|file| !file.ends_with("tests/it/tidy.rs"));
    let mut missing = Vec::new();
    let mut count = 0;
    for (name, doc) in CONTRACTS {
        let headings = headed_sections(&std::fs::read_to_string(root.join(doc))?);
        for file in &files {
            for section in cited(&std::fs::read_to_string(file)?, name) {
                count += 1;
                if !headings.contains(&section) {
                    let file = file.strip_prefix(root)?.display();
                    missing.push(format!("{file} cites {name} §{section}, which {doc} has no heading for"));
                }
            }
        }
    }
    assert!(count > 100, "only {count} citations found; is the parser right?");
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    Ok(())
}

/// A source path ARCHITECTURE.md names in backticks (`db/apply.rs`, `actors/clockwatch`,
/// `tests/it/update/`) exists, under `src/` or the repository's root, as a file (with or without
/// `.rs`) or a directory, so a module renamed in the code cannot leave the design describing the
/// old name. Code blocks are skipped; a word without a slash is too ambiguous to check.
#[test]
fn every_source_path_in_the_architecture_exists() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md"))?;
    let mut prose = String::new();
    let mut in_block = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
        } else if !in_block {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    let directory = |dir: &Path, name: &str| dir.join(name).is_dir();
    let (mut checked, mut missing) = (0, Vec::new());
    for span in prose.split('`').skip(1).step_by(2) {
        if span.starts_with(['/', '.']) || span.contains(|c: char| c.is_whitespace() || " :*<>{}|=?…$@,()#".contains(c))
        {
            continue;
        }
        let first = span.split('/').next().unwrap_or_default();
        let looks_like_a_path = span.ends_with(".rs")
            || span.ends_with('/')
            || (span.contains('/') && (directory(&root.join("src"), first) || directory(root, first)));
        if !looks_like_a_path {
            continue;
        }
        checked += 1;
        let path = span.trim_end_matches('/');
        let exists = [root.join("src"), root.to_path_buf()]
            .iter()
            .any(|base| base.join(path).exists() || base.join(format!("{path}.rs")).exists());
        if !exists {
            missing.push(span.to_string());
        }
    }
    assert!(checked > 30, "only {checked} paths found in ARCHITECTURE.md; is the reader right?");
    assert!(missing.is_empty(), "ARCHITECTURE.md names paths that do not exist: {missing:?}");
    Ok(())
}

/// Only `db/` writes SQL (ARCHITECTURE.md): no file outside it holds a statement or hands
/// SQL text to rusqlite. The store actor holds the `Connection` and calls `db` functions; the
/// CLI tools open their own connections and call them too.
///
/// The method: every line of a source file outside `src/db/`, but comments and unit tests (a
/// `tests.rs`, a file under a `tests/` folder, or what a `#[cfg(test)]` marks: a test may
/// build the odd database it needs, a foreign file or a failing trigger), is
/// searched for SQL's words as SQL writes them (upper case, so prose does not count) and for
/// the rusqlite methods that take SQL text. A method of the file's own (`self.prepare(`) is
/// not rusqlite's.
#[test]
fn only_db_writes_sql() -> anyhow::Result<()> {
    const SQL: [&str; 22] = [
        "INSERT INTO",
        "SELECT ",
        "UPDATE ",
        "DELETE FROM",
        "CREATE TABLE",
        "CREATE INDEX",
        "CREATE TRIGGER",
        "DROP TABLE",
        "DROP INDEX",
        "ALTER TABLE",
        "PRAGMA ",
        "VACUUM",
        "BEGIN ",
        "COMMIT",
        "ROLLBACK",
        ".execute(",
        ".execute_batch(",
        ".query_row(",
        ".prepare(",
        ".prepare_cached(",
        ".pragma_update(",
        ".pragma_query_value(",
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files)?;
    let mut checked = 0;
    let mut found = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&root)?.to_string_lossy().replace('\\', "/");
        if relative.starts_with("db/") || is_test_file(&relative) {
            continue;
        }
        checked += 1;
        let text = std::fs::read_to_string(file)?;
        for (number, line) in program_lines(&text) {
            let code = line.trim_start().replace("self.prepare(", "self.prepare_own(");
            if let Some(word) = SQL.iter().find(|word| code.contains(*word)) {
                found.push(format!("src/{relative}:{number}: {word:?} in {}", line.trim()));
            }
        }
    }
    assert!(checked > 50, "only {checked} files checked; is the path right?");
    assert!(found.is_empty(), "SQL outside src/db/; add a db function and call it:\n{}", found.join("\n"));
    Ok(())
}

/// The names a path starting right after `super::` (or `crate::a::b::`) leads to first: `x`
/// for `x::…`, and each item's first name for `{x, y::z}`. Any further `super::` is passed
/// over, so `super::super::x` (from a file's inline test module) names `x` too.
fn first_names(mut rest: &str) -> Vec<String> {
    while let Some(after) = rest.strip_prefix("super::") {
        rest = after;
    }
    let ident =
        |text: &str| -> String { text.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect() };
    let Some(inner) = rest.strip_prefix('{') else { return vec![ident(rest)] };
    let (mut depth, mut names, mut start) = (0, Vec::new(), 0);
    for (at, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                names.push(ident(inner[start..at].trim_start()));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                names.push(ident(inner[start..at].trim_start()));
                start = at + 1;
            }
            _ => {}
        }
    }
    names
}

/// No two files of one folder import each other, directly or round a longer circle.
///
/// The method, kept simple: in each folder under `src/`, every module is a node: `x.rs`
/// together with whatever lies in `x/` (its children are its own business; their folder is
/// checked in turn). The folder's own module file (`mod.rs`, or `x.rs` for the folder `x/`)
/// is no node: it declares and re-exports its children, and they share its helpers through
/// `super::`. A node imports a sibling `y` when one of its files, outside comments and unit
/// tests (as [`program_lines`] and [`is_test_file`] tell them; a test may use anything), says
/// `super::y` (any number of `super::`, or `super::{…, y, …}`) or `crate::<folder>::y`. A
/// depth-first walk then fails on the first circle, naming it.
#[test]
fn no_two_files_of_a_folder_import_each_other_round_a_circle() -> anyhow::Result<()> {
    use std::collections::{BTreeMap, BTreeSet};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut folders = vec![root.clone()];
    let mut index = 0;
    while index < folders.len() {
        for entry in std::fs::read_dir(&folders[index])? {
            let path = entry?.path();
            if path.is_dir() {
                folders.push(path);
            }
        }
        index += 1;
    }
    let (mut report, mut circles) = (Vec::new(), Vec::new());
    for folder in &folders {
        let relative = folder.strip_prefix(&root)?.to_string_lossy().replace('\\', "/");
        if is_test_file(&format!("{relative}/")) {
            continue;
        }
        let crate_path = if relative.is_empty() {
            "crate::".to_string()
        } else {
            format!("crate::{}::", relative.replace('/', "::"))
        };
        // The nodes and the files of each.
        let mut nodes: BTreeMap<String, Vec<std::path::PathBuf>> = BTreeMap::new();
        for entry in std::fs::read_dir(folder)? {
            let path = entry?.path();
            let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(str::to_string) else { continue };
            if path.is_dir() {
                sources(&path, nodes.entry(name).or_default())?;
            } else if path.extension().is_some_and(|e| e == "rs") && name != "mod" {
                nodes.entry(name).or_default().push(path);
            }
        }
        // The crate root's `main.rs` and `lib.rs` are its face, as `mod.rs` is a folder's.
        if relative.is_empty() {
            nodes.retain(|name, _| name != "main" && name != "lib");
        }
        let mut graph: Graph = BTreeMap::new();
        for (node, files) in &nodes {
            let edges = graph.entry(node.clone()).or_default();
            for file in files {
                let file_relative = file.strip_prefix(&root)?.to_string_lossy().replace('\\', "/");
                if is_test_file(&file_relative) {
                    continue;
                }
                let text = std::fs::read_to_string(file)?;
                for (_, line) in program_lines(&text) {
                    for prefix in ["super::", crate_path.as_str()] {
                        // Top-level modules are checked by `no_module_imports_itself_round_a_circle`.
                        if relative.is_empty() && prefix == "super::" {
                            continue;
                        }
                        for (at, _) in line.match_indices(prefix) {
                            let names = first_names(&line[at + prefix.len()..]);
                            edges.extend(names.into_iter().filter(|name| name != node && nodes.contains_key(name)));
                        }
                    }
                }
            }
        }
        let count: usize = graph.values().map(BTreeSet::len).sum();
        report.push(format!("src/{relative}: {} files, {count} imports between them", nodes.len()));
        if let Some(mut circle) = first_circle(&graph) {
            // The same circle is met from whichever file the search starts at: it is named from
            // its first file in name order.
            circle.pop();
            if let Some(first) = circle.iter().enumerate().min_by(|a, b| a.1.cmp(b.1)).map(|(at, _)| at) {
                circle.rotate_left(first);
            }
            if let Some(first) = circle.first().cloned() {
                circle.push(first);
            }
            let circle = circle.join(" → ");
            // The one circle the actors keep is their message flow, not plumbing: the store
            // tells the clock that deadlines moved, the clock has the resolver check GHL at a
            // due time, and the resolver hands its findings to the store (ARCHITECTURE.md).
            if relative == "actors" && circle == "clock → resolver → store → clock" {
                continue;
            }
            circles.push(format!("src/{relative}: {circle}"));
        }
    }
    report.sort();
    println!("{}", report.join("\n"));
    assert!(report.len() >= 15, "{report:?}");
    assert!(circles.is_empty(), "files of one folder import each other in a circle:\n{}", circles.join("\n"));
    Ok(())
}
