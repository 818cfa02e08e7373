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
        assert_eq!(holds, file.ends_with("store.rs"), "{}", file.display());
    }
    Ok(())
}
