//! Any string as a rules file, TOML and JSON; a table that builds is asked about a request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshward::authz::{AuthzRequest, Requirement, RuleTable};

fuzz_target!(|data: &str| {
    for table in [RuleTable::from_toml(data), RuleTable::from_json(data)] {
        if let Ok(table) = table {
            let request = http::Request::get("/orders/%2e%2e/admin//x").body(()).unwrap();
            let _ = table.check(&AuthzRequest::new(&request));
        }
    }
});
