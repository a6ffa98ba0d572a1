//! A missing or malformed setting stops the app at start with a message naming the variable.

#[test]
fn bad_settings_name_the_variable() {
    authentiq_example_common::smoke::bad_settings_name_the_variable(env!(
        "CARGO_BIN_EXE_authentiq-example-actix"
    ));
}
