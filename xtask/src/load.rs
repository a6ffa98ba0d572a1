//! `cargo xtask load`: HTTP load on loopback against every example app's release binary,
//! driven by `wrk` (see `examples/common/src/bin/authentiq-load.rs` for what is measured and
//! how). This builds the four examples and the load driver in release mode and runs the
//! driver with each framework's binary.

use std::process::Command;

use crate::FRAMEWORKS;

fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("{cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed ({status})"))
    }
}

pub(crate) fn load() -> Result<(), String> {
    eprintln!("building the examples and the load driver (release)...");
    let mut examples = Command::new(env!("CARGO"));
    examples.args(["build", "--release", "--quiet"]);
    for (_, _, example) in FRAMEWORKS {
        examples.args(["-p", example]);
    }
    run(&mut examples)?;
    // Built on its own, so that the examples are measured without the driver's features.
    run(Command::new(env!("CARGO")).args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "authentiq-example-common",
        "--features",
        "smoke",
        "--bin",
        "authentiq-load",
    ]))?;
    let release = crate::tidy::workspace_root().join("target/release");
    let mut driver = Command::new(release.join("authentiq-load"));
    for (framework, _, example) in FRAMEWORKS {
        driver.arg(format!(
            "{framework}={}",
            release.join(example).to_string_lossy()
        ));
    }
    run(&mut driver)
}
