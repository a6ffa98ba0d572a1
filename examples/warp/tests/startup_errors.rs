//! A missing or malformed setting stops the app at start with a message naming the variable.

use std::process::Command;

fn start(env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authentiq-example-warp"));
    for var in [
        "AUTHENTIQ_ISSUER",
        "AUTHENTIQ_CLIENT_ID",
        "AUTHENTIQ_CLIENT_SECRET",
        "AUTHENTIQ_SCOPE",
        "APP_ADDR",
        "APP_PUBLIC_URL",
        "APP_SESSION_KEY",
        "APP_SESSION_STORE",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied()).env("RUST_LOG", "off");
    let out = cmd.output().expect("the example binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_settings_name_the_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("APP_ADDR", "not-an-address")], "APP_ADDR"),
        (
            &[
                ("APP_ADDR", "127.0.0.1:0"),
                ("APP_SESSION_KEY", "dG9vIHNob3J0"),
            ],
            "APP_SESSION_KEY",
        ),
        (
            &[
                ("APP_ADDR", "127.0.0.1:0"),
                ("APP_SESSION_STORE", "mongodb://x"),
            ],
            "APP_SESSION_STORE",
        ),
        (
            &[("APP_ADDR", "127.0.0.1:0"), ("AUTHENTIQ_SCOPE", "email~x")],
            "scope",
        ),
        (
            &[
                ("APP_ADDR", "127.0.0.1:0"),
                ("AUTHENTIQ_ISSUER", "https://127.0.0.1:9/"),
            ],
            "AUTHENTIQ_CLIENT_ID",
        ),
        (
            &[
                ("APP_ADDR", "127.0.0.1:0"),
                ("AUTHENTIQ_ISSUER", "http://connect.example.com/"),
                ("AUTHENTIQ_CLIENT_ID", "c"),
            ],
            "must use https",
        ),
        (
            &[
                ("APP_ADDR", "127.0.0.1:0"),
                ("AUTHENTIQ_ISSUER", "http://127.0.0.1:9/"),
                ("AUTHENTIQ_CLIENT_ID", "c"),
            ],
            "discovery",
        ),
    ];
    for (env, expected) in cases {
        let (ok, stderr) = start(env);
        assert!(!ok, "{env:?} must not start");
        let line = stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("{env:?}: no error line in {stderr}"));
        assert!(
            line.contains(expected),
            "{env:?}: `{line}` should name {expected}"
        );
        assert!(!stderr.contains("panicked"), "{env:?}: {stderr}");
    }
}
