//! Workspace layout rules: every adapter runs the conformance suite and has an example, no
//! adapter depends on another adapter (they share only the core), and every published crate
//! ships its licences and has its README as its crate docs.

use std::path::{Path, PathBuf};

use crate::{FRAMEWORKS, PUBLISHED};

/// The workspace root (the parent of this crate).
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Checks the rules; returns every problem found.
pub(crate) fn check(root: &Path) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    // Every adapter name, listed or not yet, so a dependency on one is caught either way.
    let adapters = [
        "authentiq-axum",
        "authentiq-actix",
        "authentiq-rocket",
        "authentiq-warp",
    ];
    for (framework, adapter, example) in FRAMEWORKS {
        let dir = root.join(adapter);
        let conformance = dir.join("tests/conformance.rs");
        match std::fs::read_to_string(&conformance) {
            Ok(text) if text.contains("conformance_tests!") => {}
            Ok(_) => problems.push(format!(
                "{} does not call conformance_tests!",
                conformance.display()
            )),
            Err(_) => problems.push(format!("{adapter} has no tests/conformance.rs")),
        }
        let example_dir = root.join("examples").join(framework);
        let manifest = std::fs::read_to_string(example_dir.join("Cargo.toml")).unwrap_or_default();
        if !manifest.contains(&format!("name = \"{example}\"")) {
            problems.push(format!(
                "{framework} has no example package {example} in examples/{framework}"
            ));
        }
        if !example_dir.join("tests/smoke.rs").exists() {
            problems.push(format!("examples/{framework} has no smoke test"));
        }
        let own = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        for other in adapters.iter().filter(|o| *o != adapter) {
            if own.lines().any(|l| {
                l.trim_start().starts_with(&format!("{other} "))
                    || l.trim_start().starts_with(&format!("{other}."))
                    || l.trim_start().starts_with(&format!("{other}="))
            }) {
                problems.push(format!(
                    "{adapter} depends on {other}: adapters share only authentiq-core"
                ));
            }
        }
    }
    // Every adapter crate in the workspace must be listed, so ci, conformance and load see it.
    let shared = ["authentiq-core", "authentiq-dev", "authentiq-conformance"];
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_adapter = name.starts_with("authentiq-")
            && !shared.contains(&name.as_str())
            && entry.path().join("Cargo.toml").exists();
        if is_adapter && !FRAMEWORKS.iter().any(|(_, a, _)| *a == name) {
            problems.push(format!("{name} is not listed in xtask's FRAMEWORKS"));
        }
    }
    // Every published crate: what crates.io and docs.rs show, and the licence texts.
    let published = PUBLISHED
        .iter()
        .copied()
        .chain(FRAMEWORKS.iter().map(|(_, adapter, _)| *adapter));
    for krate in published {
        let dir = root.join(krate);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        let has = |key: &str| manifest.lines().any(|l| l.trim_start().starts_with(key));
        for key in ["readme = \"README.md\"", "keywords = ", "categories = "] {
            if !has(key) {
                problems.push(format!("{krate}/Cargo.toml has no `{key}`"));
            }
        }
        if !has("[package.metadata.docs.rs]") {
            problems.push(format!("{krate}/Cargo.toml has no docs.rs metadata"));
        }
        if has("publish = false") || has("publish.workspace") {
            problems.push(format!(
                "{krate} is published but its manifest says otherwise"
            ));
        }
        for licence in ["LICENSE-MIT", "LICENSE-APACHE"] {
            // `metadata` follows the link to the workspace's copy, so a dangling one fails.
            if !dir.join(licence).metadata().is_ok_and(|m| m.len() > 0) {
                problems.push(format!("{krate} does not ship {licence}"));
            }
        }
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap_or_default();
        if !lib.contains("#![doc = include_str!(\"../README.md\")]") {
            problems.push(format!("{krate}'s crate docs are not its README"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_is_tidy() {
        if let Err(problems) = check(&workspace_root()) {
            panic!("tidy problems:\n{}", problems.join("\n"));
        }
    }

    #[test]
    fn tidy_finds_a_missing_conformance_file_and_a_cross_dependency() {
        let dir = std::env::temp_dir().join(format!("authentiq-tidy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("authentiq-axum")).expect("temp dir");
        std::fs::create_dir_all(dir.join("authentiq-tide")).expect("temp dir");
        std::fs::write(dir.join("authentiq-tide/Cargo.toml"), "[package]\n").expect("write");
        std::fs::write(
            dir.join("authentiq-axum/Cargo.toml"),
            "[dependencies]\nauthentiq-actix.workspace = true\n",
        )
        .expect("write");
        let problems = check(&dir).expect_err("problems are found");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("no tests/conformance.rs")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("no example package")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("depends on authentiq-actix")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("authentiq-tide is not listed")),
            "{problems:?}"
        );
    }

    #[test]
    fn tidy_finds_a_published_crate_without_licences_metadata_or_readme_docs() {
        let dir = std::env::temp_dir().join(format!("authentiq-tidy-pub-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let core = dir.join("authentiq-core");
        std::fs::create_dir_all(core.join("src")).expect("temp dir");
        std::fs::write(
            core.join("Cargo.toml"),
            "[package]\nname = \"authentiq-core\"\nreadme = \"README.md\"\npublish = false\n",
        )
        .expect("write");
        std::fs::write(core.join("LICENSE-MIT"), "MIT").expect("write");
        std::fs::write(core.join("src/lib.rs"), "//! Other docs.\n").expect("write");
        let problems = check(&dir).expect_err("problems are found");
        let _ = std::fs::remove_dir_all(&dir);
        let core_problems: Vec<&String> = problems
            .iter()
            .filter(|p| p.starts_with("authentiq-core"))
            .collect();
        for expected in [
            "authentiq-core/Cargo.toml has no `keywords = `",
            "authentiq-core/Cargo.toml has no `categories = `",
            "authentiq-core/Cargo.toml has no docs.rs metadata",
            "authentiq-core is published but its manifest says otherwise",
            "authentiq-core does not ship LICENSE-APACHE",
            "authentiq-core's crate docs are not its README",
        ] {
            assert!(
                core_problems.iter().any(|p| *p == expected),
                "{expected:?} not in {core_problems:?}"
            );
        }
        // What it has is not reported.
        assert!(
            !core_problems
                .iter()
                .any(|p| p.contains("LICENSE-MIT") || p.contains("readme")),
            "{core_problems:?}"
        );
    }
}
