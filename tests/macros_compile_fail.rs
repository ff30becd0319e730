//! Misuses of `#[derive(Message)]` and `#[actor]` fail to compile with messages that say
//! how to fix them (see tests/compile_fail/*.stderr).

#[test]
fn compile_fail() {
    trybuild::TestCases::new().compile_fail("tests/compile_fail/*.rs");
}
