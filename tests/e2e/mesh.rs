//! The README's main command: the `mesh` example runs its script and exits 0 only if every
//! call got the answer it expects.

use std::time::Duration;

use crate::protected_server::built_example;

#[tokio::test]
async fn the_mesh_example_gets_every_answer_it_expects() {
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(built_example("mesh"))
            .env_clear()
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the mesh example finishes within a minute")
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!stdout.contains("UNEXPECTED"), "{stdout}");
    // The first call went the whole way and inventory saw the chain.
    let first = stdout
        .lines()
        .find(|l| l.starts_with("alice places an order"))
        .unwrap_or_default();
    assert!(first.contains("alice via gateway > orders"), "{stdout}");
    assert!(
        stdout.contains("all 12 calls got the answer they should"),
        "{stdout}"
    );
}
