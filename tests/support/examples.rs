//! The example binaries, as a user runs them.

use std::path::PathBuf;

/// The binary of example `name` (`cargo test` builds the examples; a filtered run builds
/// the missing one here).
pub fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let path = deps
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    if !path.exists() {
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "--example", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "building example {name}");
    }
    path
}
