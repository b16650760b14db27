//! Says, in a plain `cargo test`, that the end-to-end suite did not run: `tests/e2e.rs` needs
//! the `axum`, `tonic`, `remote`, `mtls` and `hyper` features (`cargo test --all-features`).

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
