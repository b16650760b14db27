//! Says so when the end-to-end suite did not run: `tests/e2e.rs` needs the `axum`, `tonic`,
//! `remote`, `mtls` and `hyper` features. The crate's dev-dependency on itself turns them on
//! for every test build; were it removed, this test would be reported as ignored, saying why.

#[test]
#[cfg_attr(
    not(all(
        feature = "axum",
        feature = "tonic",
        feature = "remote",
        feature = "mtls",
        feature = "hyper"
    )),
    ignore = "the end-to-end suite (tests/e2e.rs) needs the framework features: run `cargo test --all-features`"
)]
fn end_to_end_suite_is_compiled_in_this_run() {}
