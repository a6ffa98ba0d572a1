//! `cargo xtask fuzz [--seconds N] [target ...]`: runs the cargo-fuzz targets in `fuzz/` one
//! after another, each for a bounded time, and prints what each run did (executions, speed,
//! coverage, corpus) and whether it found anything. Needs the nightly toolchain and
//! cargo-fuzz; it is not part of `ci`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// The targets, in the order they run: the compact JWS/JWE parser, the session cookie opener,
/// the callback parameters, `Cookie` header parsing.
pub(crate) const TARGETS: &[&str] = &[
    "compact_token",
    "session_cookie",
    "callback",
    "cookie_header",
];

/// How long each target runs when `--seconds` is not given.
const DEFAULT_SECONDS: u64 = 60;

/// What one run of a target did, read from libFuzzer's output.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Summary {
    /// Inputs executed.
    pub(crate) executions: Option<u64>,
    /// Executions per second, as libFuzzer last reported it.
    pub(crate) per_second: Option<u64>,
    /// Coverage counters (edges) hit.
    pub(crate) coverage: Option<u64>,
    /// Features (libFuzzer's finer coverage signal).
    pub(crate) features: Option<u64>,
    /// Inputs in the corpus at the end.
    pub(crate) corpus: Option<u64>,
    /// The file a crashing input was saved to.
    pub(crate) artifact: Option<String>,
    /// How long the run took, in seconds (shorter than asked when it found something).
    pub(crate) seconds: u64,
}

/// The number after `key` in `line` (`cov: 1234`, `exec/s: 56`).
fn number_after(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

impl Summary {
    /// Takes what a line of libFuzzer's output says.
    pub(crate) fn read(&mut self, line: &str) {
        // Status lines: `#1234	NEW    cov: 56 ft: 78 corp: 9/10b ... exec/s: 11 rss: 12Mb`.
        if line.starts_with('#') {
            if let Some(n) = number_after(line, "#") {
                self.executions = Some(n);
            }
            if let Some(n) = number_after(line, "cov:") {
                self.coverage = Some(n);
            }
            if let Some(n) = number_after(line, "ft:") {
                self.features = Some(n);
            }
            if let Some(n) = number_after(line, "corp:") {
                self.corpus = Some(n);
            }
            if let Some(n) = number_after(line, "exec/s:") {
                self.per_second = Some(n);
            }
        }
        // Final stats (`-print_final_stats=1`).
        if let Some(n) = number_after(line, "stat::number_of_executed_units:") {
            self.executions = Some(n);
        }
        if let Some(n) = number_after(line, "stat::average_exec_per_sec:") {
            self.per_second = Some(n);
        }
        if let Some(at) = line.find("Test unit written to ") {
            self.artifact = Some(line[at + "Test unit written to ".len()..].trim().to_owned());
        }
    }
}

/// Parses the arguments: `--seconds N` and target names (all when none is named).
pub(crate) fn parse_args(args: &[String]) -> Result<(u64, Vec<String>), String> {
    let mut seconds = DEFAULT_SECONDS;
    let mut targets = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--seconds" {
            seconds = it
                .next()
                .and_then(|s| s.parse().ok())
                .filter(|s| *s > 0)
                .ok_or("--seconds needs a positive number")?;
        } else if TARGETS.contains(&a.as_str()) {
            targets.push(a.clone());
        } else {
            return Err(format!(
                "unknown argument `{a}`; targets: {}",
                TARGETS.join(", ")
            ));
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| (*t).to_owned()).collect();
    }
    Ok((seconds, targets))
}

fn tool_works(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs one target for `seconds`; returns what it did and whether it ended without a finding.
fn run_target(root: &Path, target: &str, seconds: u64) -> (Summary, bool) {
    let total = format!("-max_total_time={seconds}");
    let args = [
        "run",
        "nightly",
        "cargo",
        "fuzz",
        "run",
        // The code under test forbids `unsafe`: the properties are the oracle, and debug
        // assertions with overflow checks turn arithmetic slips into findings.
        "--sanitizer",
        "none",
        "--debug-assertions",
        target,
        "--",
        &total,
        "-max_len=16384",
        "-timeout=20",
        "-rss_limit_mb=4096",
        "-print_final_stats=1",
    ];
    eprintln!("$ rustup {}", args.join(" "));
    let started = Instant::now();
    let child = Command::new("rustup")
        .args(args)
        .current_dir(root)
        .stderr(Stdio::piped())
        .spawn();
    let mut summary = Summary::default();
    let Ok(mut child) = child else {
        eprintln!("fuzz: could not start rustup");
        return (summary, false);
    };
    if let Some(err) = child.stderr.take() {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            summary.read(&line);
            // The periodic status lines are many; keep the ones that say something new.
            if !line.contains("REDUCE") && !line.contains("pulse") {
                eprintln!("{line}");
            }
        }
    }
    let ok = child.wait().is_ok_and(|s| s.success()) && summary.artifact.is_none();
    summary.seconds = started.elapsed().as_secs();
    eprintln!(
        "fuzz: {target}: {} in {} s",
        if ok {
            "nothing found"
        } else {
            "FOUND A FAILURE"
        },
        summary.seconds
    );
    (summary, ok)
}

/// `cargo xtask fuzz`.
pub(crate) fn fuzz(root: &Path, args: &[String]) -> bool {
    let (seconds, targets) = match parse_args(args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("fuzz: {e}");
            return false;
        }
    };
    if !tool_works("rustup", &["run", "nightly", "rustc", "--version"]) {
        eprintln!("fuzz: needs the nightly toolchain: rustup toolchain install nightly");
        return false;
    }
    if !tool_works("rustup", &["run", "nightly", "cargo", "fuzz", "--version"]) {
        eprintln!("fuzz: needs cargo-fuzz: cargo install cargo-fuzz");
        return false;
    }
    let mut rows = Vec::new();
    for target in &targets {
        let (summary, ok) = run_target(root, target, seconds);
        rows.push((target.clone(), summary, ok));
    }
    let show = |n: Option<u64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
    println!(
        "each target asked to run {seconds} s; seconds below are the run's own (build included)"
    );
    println!(
        "{:<16} {:>8} {:>12} {:>8} {:>8} {:>8} {:>8}  result",
        "target", "seconds", "executions", "exec/s", "cov", "ft", "corpus"
    );
    for (target, s, ok) in &rows {
        println!(
            "{target:<16} {:>8} {:>12} {:>8} {:>8} {:>8} {:>8}  {}",
            s.seconds,
            show(s.executions),
            show(s.per_second),
            show(s.coverage),
            show(s.features),
            show(s.corpus),
            match (&s.artifact, ok) {
                (Some(a), _) => format!("failure saved to {a}"),
                (None, true) => "nothing found".to_owned(),
                (None, false) => "the run failed (see above)".to_owned(),
            }
        );
    }
    rows.iter().all(|(_, _, ok)| *ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libfuzzer_status_and_final_stats() {
        let mut s = Summary::default();
        s.read("#4096\tpulse  cov: 812 ft: 2301 corp: 97/4210b lim: 43 exec/s: 1365 rss: 61Mb");
        assert_eq!(s.coverage, Some(812));
        assert_eq!(s.features, Some(2301));
        assert_eq!(s.corpus, Some(97));
        assert_eq!(s.per_second, Some(1365));
        assert_eq!(s.executions, Some(4096));
        s.read("stat::number_of_executed_units: 412345");
        s.read("stat::average_exec_per_sec:     1374");
        assert_eq!(s.executions, Some(412_345));
        assert_eq!(s.per_second, Some(1374));
        assert_eq!(s.artifact, None);
        s.read("artifact_prefix='/r/fuzz/artifacts/callback/'; Test unit written to /r/fuzz/artifacts/callback/crash-ab12");
        assert_eq!(
            s.artifact.as_deref(),
            Some("/r/fuzz/artifacts/callback/crash-ab12")
        );
        // Lines that are not libFuzzer's change nothing.
        s.read("   Compiling authentiq-core v0.1.0");
        assert_eq!(s.coverage, Some(812));
    }

    #[test]
    fn arguments_pick_targets_and_time() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let (secs, targets) = parse_args(&args(&[])).unwrap_or_default();
        assert_eq!(secs, DEFAULT_SECONDS);
        assert_eq!(targets, TARGETS);
        let (secs, targets) =
            parse_args(&args(&["--seconds", "300", "callback"])).unwrap_or_default();
        assert_eq!((secs, targets), (300, vec!["callback".to_owned()]));
        assert!(parse_args(&args(&["--seconds", "0"])).is_err());
        assert!(parse_args(&args(&["--seconds"])).is_err());
        assert!(parse_args(&args(&["no_such_target"])).is_err());
    }

    /// Every target the command knows is a bin of the fuzz crate, and the other way round.
    #[test]
    fn targets_match_the_fuzz_crate() {
        let root = crate::tidy::workspace_root();
        let manifest = std::fs::read_to_string(root.join("fuzz/Cargo.toml")).unwrap_or_default();
        let bins: Vec<&str> = manifest
            .lines()
            .filter_map(|l| l.strip_prefix("name = \""))
            .filter_map(|l| l.strip_suffix('"'))
            .filter(|n| *n != "authentiq-fuzz")
            .collect();
        assert_eq!(bins, TARGETS);
        for t in TARGETS {
            assert!(
                root.join(format!("fuzz/fuzz_targets/{t}.rs")).exists(),
                "{t}"
            );
        }
    }
}
