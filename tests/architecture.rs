//! The shape of the program, checked: data flows one way between the stage modules, and only the
//! modules ARCHITECTURE.md names do SQL writes, HTTP requests or wall-clock reads.
//!
//! These read the source as text (the compiler cannot forbid one module of a crate from naming
//! another; grouped `use crate::{...}` imports are refused so that every use names its module on
//! its line). The crate-level rules are the compiler's and clippy's: no tokio, rusqlite, HTTP or
//! TOML in `vesselwatch-ais` and `vesselwatch-engine` (`.ci/run`, `cargo tree`), and no clock,
//! environment, file or socket call in them (`clippy.toml`, `disallowed-methods`).

mod util;

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The paths under `src/` (a module file or folder) and the code outside `#[cfg(test)]` in each.
fn module_code(module: &str) -> Vec<(PathBuf, String)> {
    let src = util::root().join("src");
    let mut files = Vec::new();
    let file = src.join(format!("{module}.rs"));
    if file.exists() {
        files.push(file);
    }
    let dir = src.join(module);
    if dir.is_dir() {
        files.extend(rust_files(&dir));
    }
    assert!(!files.is_empty(), "no module {module}");
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            // The unit tests at the end of a file may use anything; an item merely gated on
            // `cfg(test)` elsewhere does not end the checked code.
            let code = match text.find("#[cfg(test)]\nmod tests") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            (f, code)
        })
        .collect()
}

/// Fails with every place where `module` names one of `forbidden`.
fn must_not_use(module: &str, forbidden: &[&str]) {
    let mut found = Vec::new();
    for (file, code) in module_code(module) {
        for (n, line) in code.lines().enumerate() {
            let line = line.trim_start();
            if line.starts_with("//") {
                continue;
            }
            // A grouped import (`use crate::{a, b}`) would hide a module name from this check.
            if line.contains("crate::{") {
                found.push(format!(
                    "{}:{}: a grouped `crate::{{...}}` import",
                    file.display(),
                    n + 1
                ));
            }
            for f in forbidden {
                if line.contains(f) {
                    found.push(format!("{}:{}: {f}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "{module} must not use:\n{}",
        found.join("\n")
    );
}

#[test]
fn data_flows_one_way_between_the_stages() {
    // sources → pipeline (daemon) → store → alerts; configuration is assembled above them all.
    let above = ["crate::daemon", "crate::commands", "crate::config"];
    must_not_use(
        "sources",
        &[&above[..], &["crate::store", "crate::alerts"]].concat(),
    );
    must_not_use(
        "store",
        &[&above[..], &["crate::sources", "crate::alerts"]].concat(),
    );
    must_not_use("alerts", &[&above[..], &["crate::sources"]].concat());
    must_not_use("logging", &above);
}

#[test]
fn only_the_store_writes_sql_and_only_delivery_makes_http_requests() {
    for module in [
        "sources", "alerts", "daemon", "commands", "config", "simulate",
    ] {
        must_not_use(
            module,
            &["INSERT INTO", "UPDATE ", "DELETE FROM", "execute_batch"],
        );
    }
    for module in [
        "sources", "store", "daemon", "commands", "config", "simulate",
    ] {
        must_not_use(module, &["reqwest::"]);
    }
}

#[test]
fn the_wall_clock_is_read_in_one_place() {
    for module in [
        "sources", "store", "alerts", "daemon", "commands", "config", "simulate", "logging",
    ] {
        must_not_use(module, &["SystemTime::now"]);
    }
    let clock = std::fs::read_to_string(util::root().join("src/clock.rs")).unwrap();
    assert_eq!(clock.matches("SystemTime::now").count(), 1);
}
