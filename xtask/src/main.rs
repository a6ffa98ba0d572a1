//! The one entry point for automation: `cargo xtask <command>`.
//!
//! | command | what it does |
//! |---|---|
//! | `ci` | format check, clippy with warnings as errors, the whole test suite (doc tests too), `cargo doc` with warnings as errors, `cargo package` of the library crates |
//! | `demo [framework]` | runs an example app with the embedded development provider |
//! | `conformance` | runs the conformance suite for every adapter and prints a framework × case matrix |
//! | `tidy` | checks the workspace layout rules (also run as a normal test) |
//! | `bench` | runs the criterion benchmarks |
//! | `load` | HTTP load on loopback against every example (needs `wrk`) |
//! | `fuzz [--seconds N] [target ...]` | runs each cargo-fuzz target in `fuzz/` for N seconds (default 60; needs nightly and cargo-fuzz; not part of `ci`) |

#![forbid(unsafe_code)]

mod fuzz;
mod load;
mod tidy;

/// The conformance case names, generated from the suite's one list of cases.
mod conformance_cases {
    include!("../../authentiq-conformance/src/list.rs");

    macro_rules! names {
        ([] $($case:ident),* $(,)?) => {
            /// The case names, in the order of the list.
            pub(crate) const CASES: &[&str] = &[$(stringify!($case)),*];
        };
    }

    for_each_case!([names]);
}

use std::process::{Command, ExitCode};

/// The adapters, as (framework, adapter package, example package).
pub(crate) const FRAMEWORKS: &[(&str, &str, &str)] = &[
    ("axum", "authentiq-axum", "authentiq-example-axum"),
    ("actix", "authentiq-actix", "authentiq-example-actix"),
    ("rocket", "authentiq-rocket", "authentiq-example-rocket"),
    ("warp", "authentiq-warp", "authentiq-example-warp"),
];

/// The crates published to crates.io besides the adapters (which come from [`FRAMEWORKS`]).
pub(crate) const PUBLISHED: &[&str] = &["authentiq-core", "authentiq-dev"];

fn cargo(args: &[&str]) -> bool {
    cargo_with(&[], args)
}

/// Runs cargo with extra environment variables, echoing both.
fn cargo_with(env: &[(&str, &str)], args: &[&str]) -> bool {
    let shown: Vec<String> = env.iter().map(|(k, v)| format!("{k}='{v}' ")).collect();
    eprintln!("$ {}cargo {}", shown.concat(), args.join(" "));
    Command::new(env!("CARGO"))
        .envs(env.iter().copied())
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

/// The library crates: core, dev and every adapter.
fn library_crates() -> Vec<&'static str> {
    PUBLISHED
        .iter()
        .copied()
        .chain(FRAMEWORKS.iter().map(|(_, adapter, _)| *adapter))
        .collect()
}

/// The library crates, as `--package` arguments.
fn published_packages() -> Vec<&'static str> {
    library_crates()
        .into_iter()
        .flat_map(|p| ["--package", p])
        .collect()
}

/// What the tests need from the system: Debian's chromium and chromium-driver for the browser
/// test, and redis-server for the Redis store tests (they start their own server on loopback).
/// Installed when missing and this runs as root with apt (CI, and these machines); elsewhere
/// the message says what to install. Never skipped: those tests always run.
fn ensure_test_tools() -> bool {
    const PACKAGES: [&str; 3] = ["chromium", "chromium-driver", "redis-server"];
    let found = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let all_found = || {
        ["chromium", "chromedriver", "redis-server"]
            .iter()
            .all(|t| found(t))
    };
    if all_found() {
        return true;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if root && found("apt-get") {
        eprintln!(
            "$ apt-get install {} (the browser and Redis tests need them)",
            PACKAGES.join(" ")
        );
        let apt = |args: &[&str]| {
            Command::new("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .is_ok_and(|s| s.success())
        };
        if apt(&["update", "-qq"])
            && apt(&[&["install", "-y", "-qq"][..], &PACKAGES[..]].concat())
            && all_found()
        {
            return true;
        }
    }
    eprintln!(
        "the tests need Chromium, ChromeDriver and a Redis server: apt-get install {}",
        PACKAGES.join(" ")
    );
    false
}

fn ci() -> bool {
    ensure_test_tools()
        && cargo(&["fmt", "--all", "--check"])
        && cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ])
        && cargo(&["test", "--workspace", "--all-targets", "--all-features"])
        && cargo(&["test", "--workspace", "--doc", "--all-features"])
        // The docs as docs.rs builds them (every feature), with broken links as errors.
        && cargo_with(
            &[("RUSTDOCFLAGS", "-D warnings")],
            &["doc", "--workspace", "--no-deps", "--all-features"],
        )
        // What crates.io would receive: each library crate packaged and built from its
        // package alone, the workspace's crates resolved from one another's packages.
        && forget_packaged_copies()
        && cargo(&[&["package", "--allow-dirty"][..], &published_packages()].concat())
}

/// Removes the copies of this workspace's crates that an earlier `cargo package` unpacked.
///
/// `cargo package` verifies each crate against the others' packages through a local registry
/// under `target/package`, and unpacks them into `$CARGO_HOME/registry/src/-<hash>/`, where the
/// hash names the registry's path. Cargo keeps an unpacked crate once it is there, and the
/// version does not change between commits, so a second run from the same checkout path with
/// the same `CARGO_HOME` would build against the first run's sources. Only directories of local
/// registries (named with a leading `-`) and only this workspace's crates are touched.
fn forget_packaged_copies() -> bool {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cargo")));
    match home {
        Some(home) => forget_packaged_copies_in(&home.join("registry").join("src")),
        None => true,
    }
}

/// [`forget_packaged_copies`] for one `registry/src` directory.
fn forget_packaged_copies_in(src: &std::path::Path) -> bool {
    let Ok(registries) = std::fs::read_dir(src) else {
        return true;
    };
    for registry in registries.flatten() {
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        let Ok(crates) = std::fs::read_dir(registry.path()) else {
            continue;
        };
        for unpacked in crates.flatten() {
            let name = unpacked.file_name().to_string_lossy().into_owned();
            let ours = library_crates()
                .iter()
                .filter_map(|p| name.strip_prefix(p)?.strip_prefix('-'))
                .any(|version| version.starts_with(|c: char| c.is_ascii_digit()));
            if ours && let Err(e) = std::fs::remove_dir_all(unpacked.path()) {
                eprintln!("cannot remove {}: {e}", unpacked.path().display());
                return false;
            }
        }
    }
    true
}

fn demo(framework: &str) -> bool {
    match FRAMEWORKS.iter().find(|(f, _, _)| *f == framework) {
        Some((_, _, example)) => cargo(&["run", "--package", example]),
        None => {
            eprintln!(
                "unknown framework `{framework}`; one of: {}",
                names().join(", ")
            );
            false
        }
    }
}

fn names() -> Vec<&'static str> {
    FRAMEWORKS.iter().map(|(f, _, _)| *f).collect()
}

/// Runs each adapter's conformance tests and prints which cases passed where.
fn conformance() -> bool {
    let mut results: Vec<(&str, std::collections::BTreeMap<String, bool>)> = Vec::new();
    let mut all_ok = true;
    for (framework, adapter, _) in FRAMEWORKS {
        eprintln!("$ cargo test -p {adapter} --test conformance");
        let out = Command::new(env!("CARGO"))
            .args([
                "test",
                "-p",
                adapter,
                "--test",
                "conformance",
                "--",
                "--test-threads",
                "4",
            ])
            .output();
        let Ok(out) = out else {
            all_ok = false;
            continue;
        };
        let text = String::from_utf8_lossy(&out.stdout);
        let mut cases = std::collections::BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("test ")
                && let Some((name, outcome)) = rest.split_once(" ... ")
            {
                cases.insert(name.trim().to_owned(), outcome.trim() == "ok");
            }
        }
        if !out.status.success() || cases.is_empty() {
            all_ok = false;
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        }
        results.push((framework, cases));
    }
    // The rows are the listed cases, in order; a test no case names would show after them.
    let mut names: Vec<String> = conformance_cases::CASES
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    let mut unlisted: Vec<String> = results
        .iter()
        .flat_map(|(_, c)| c.keys().cloned())
        .filter(|n| !names.contains(n))
        .collect();
    unlisted.sort();
    unlisted.dedup();
    if !unlisted.is_empty() {
        all_ok = false;
        eprintln!("tests that are not listed conformance cases: {unlisted:?}");
    }
    names.extend(unlisted);
    let width = names.iter().map(String::len).max().unwrap_or(4);
    print!("{:width$}", "case");
    for (f, _) in &results {
        print!("  {f:^7}");
    }
    println!();
    for name in &names {
        print!("{name:width$}");
        for (_, cases) in &results {
            let mark = match cases.get(name) {
                Some(true) => "ok",
                Some(false) => {
                    all_ok = false;
                    "FAIL"
                }
                None => {
                    all_ok = false;
                    "-"
                }
            };
            print!("  {mark:^7}");
        }
        println!();
    }
    let total: usize = results
        .iter()
        .map(|(_, c)| c.values().filter(|ok| **ok).count())
        .sum();
    println!(
        "{total} passed across {} frameworks and {} cases",
        results.len(),
        conformance_cases::CASES.len()
    );
    all_ok
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ok = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("demo") => demo(args.get(1).map_or("axum", String::as_str)),
        Some("conformance") => conformance(),
        Some("tidy") => match tidy::check(&tidy::workspace_root()) {
            Ok(()) => {
                println!("tidy: ok");
                true
            }
            Err(problems) => {
                for p in problems {
                    eprintln!("tidy: {p}");
                }
                false
            }
        },
        Some("bench") => cargo(&["bench", "--package", "authentiq-core"]),
        Some("fuzz") => fuzz::fuzz(&tidy::workspace_root(), &args[1..]),
        Some("load") => match load::load() {
            Ok(()) => true,
            Err(e) => {
                eprintln!("load: {e}");
                false
            }
        },
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | demo [{}] | conformance | tidy | bench | load | fuzz [--seconds N] [target ...]>",
                names().join("|")
            );
            false
        }
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::forget_packaged_copies_in;

    #[test]
    fn only_this_workspaces_crates_in_local_registries_are_forgotten() {
        let src = std::env::temp_dir().join(format!("xtask-registry-{}", std::process::id()));
        let make = |path: &str| std::fs::create_dir_all(src.join(path)).expect("mkdir");
        make("-1a2b/authentiq-core-0.1.0/src");
        make("-1a2b/authentiq-axum-0.1.0");
        make("-1a2b/authentiq-core-extra-0.1.0");
        make("-1a2b/serde-1.0.0");
        make("index.crates.io-1949cf8c6b5b557f/authentiq-core-0.1.0");

        assert!(forget_packaged_copies_in(&src));

        let left = |path: &str| src.join(path).exists();
        assert!(!left("-1a2b/authentiq-core-0.1.0"));
        assert!(!left("-1a2b/authentiq-axum-0.1.0"));
        assert!(left("-1a2b/authentiq-core-extra-0.1.0"));
        assert!(left("-1a2b/serde-1.0.0"));
        assert!(left(
            "index.crates.io-1949cf8c6b5b557f/authentiq-core-0.1.0"
        ));
        std::fs::remove_dir_all(&src).expect("clean up");
    }
}
