use super::*;

fn err(text: &str) -> RulesErrorKind {
    RuleTable::from_toml(text).unwrap_err().kind().clone()
}

#[test]
fn every_kind_of_mistake_names_its_line_and_rule() {
    let ok_rule = "[[rule]]\nname = \"ok\"\npath = \"/ok\"\nallow = \"anyone\"\n";
    let cases = [
        ("rule = 1", "syntax"),
        ("[[rule]]\nname = \"a\"\npath = \"/a\"\n", "says allow"),
        (
            "[[rule]]\nname = \"a\"\npath = \"/a\"\nallow = \"anyone\"\nrequire = { authenticated = true }\n",
            "not both",
        ),
        (
            "[[rule]]\nname = \"a\"\npath = \"a\"\nallow = \"anyone\"\n",
            "starts with /",
        ),
        (
            "[[rule]]\nname = \"a\"\npath = \"/a\"\nmethods = [\"GE T\"]\nallow = \"anyone\"\n",
            "not a method",
        ),
        (
            "[[rule]]\nname = \"a\"\npath = \"/a\"\nmethods = []\nallow = \"anyone\"\n",
            "an empty method list",
        ),
        (
            "[[rule]]\nname = \"a\"\npath = \"/a\"\nmethods = [\"DELET\"]\nallow = \"anyone\"\n",
            "\"DELET\" is not a standard method (a misspelling?); name an extension method in extension_methods",
        ),
        (
            "[[rule]]\nname = \"a\"\npath = \"/a\"\nextension_methods = [\"delete\"]\nallow = \"anyone\"\n",
            "\"delete\" is a standard method: name it in methods",
        ),
        (
            "[[rule]]\nname = \"a\"\npath = \"/a\"\nextension_methods = []\nallow = \"anyone\"\n",
            "an empty extension method list",
        ),
        (
            "[[rule]]\nname = \"a\"\npath = \"/a\"\nextension_methods = [\"PUR GE\"]\nallow = \"anyone\"\n",
            "\"PUR GE\" is not a method",
        ),
        (
            "[[rule]]\nname = \"a\"\npath = \"/items/{id}/edit\"\nallow = \"anyone\"\n",
            "{name} is a router's syntax: write * for one segment",
        ),
        (
            "[[rule]]\nname = \"a\"\npath = \"/items/:id\"\nallow = \"anyone\"\n",
            ":name is a router's syntax: write * for one segment",
        ),
        (
            "[[rule]]\nname = \"a\"\npath = \"/a\"\nrequire = { scopes_any = [] }\n",
            "names nothing",
        ),
        (
            "[[rule]]\nname = \"a\"\npath = \"/a\"\nrequire = { sopes_any = [\"x\"] }\n",
            "syntax",
        ),
        (
            "[[rule]]\nname = \"a\"\npath = \"/a\"\nrequire = { claim = { path = \"/x\", equals = 1, contains = 1 } }\n",
            "exactly one of equals",
        ),
        (
            "[[rule]]\nname = \"a\"\npath = \"/a\"\nrequire = { roles = { from = \"ldap\", any = [\"x\"] } }\n",
            "roles from",
        ),
        (
            "[[rule]]\nname = \"a\"\npath = \"/a\"\nrequire = { roles = { from = \"keycloak_client:\", any = [\"x\"] } }\n",
            "roles from",
        ),
        (
            "[[rule]]\nname = \"a\"\npath = \"/a\"\nrequire = { roles = { from = \"claim:\", any = [\"x\"] } }\n",
            "roles from",
        ),
        (
            "[[rule]]\nname = \"a\"\npath = \"/a\"\nrequire = { all = [] }\n",
            "lists no requirement",
        ),
        (
            "[[rule]]\nname = \"a\"\npath = \"/a\"\nrequire = { authenticated = false }\n",
            "requires nothing",
        ),
        (
            "[[rule]]\nname = \"a\"\npath = \"/a\"\nallow = \"everyone\"\n",
            "syntax",
        ),
        (
            "[[rule]]\nname = \"a\"\npath = \"/a\"\nallow = \"anyone\"\ncolour = \"red\"\n",
            "syntax",
        ),
        ("default = \"maybe\"\n", "syntax"),
    ];
    for (text, expected) in cases {
        let text = format!("{ok_rule}\n{text}");
        let e = err(&text);
        let shown = e.to_string();
        match (expected, &e) {
            ("syntax", RulesErrorKind::Syntax { line, .. }) => {
                assert!(*line >= 5, "{text}: {shown}");
            }
            (
                _,
                RulesErrorKind::InvalidRule {
                    number,
                    name,
                    line,
                    reason,
                },
            ) => {
                assert_eq!(
                    (*number, name.as_str(), *line),
                    (2, "a", Some(6)),
                    "{text}: {shown}"
                );
                assert!(reason.contains(expected), "{text}: {shown}");
                assert!(shown.starts_with("line 6: rule 2 (\"a\")"), "{shown}");
            }
            _ => panic!("{text}: unexpected {e:?}"),
        }
    }
    let dup = format!("{ok_rule}\n{ok_rule}");
    assert_eq!(
        err(&dup),
        RulesErrorKind::DuplicateName { name: "ok".into() }
    );
}

#[test]
fn json_and_toml_read_the_same_schema() {
    let toml = RuleTable::from_toml(
        r#"
        default = "allow"
        case_insensitive = true
        trailing_slash = "strict"
        dot_segments = "resolve"
        [[rule]]
        name = "r"
        path = "/r"
        require = { any = [
            { scopes_all = ["a"] },
            { claim = { path = "tenant", matches = "ac*" } },
            { roles = { from = "keycloak_client:orders.api", all = ["w"] } },
            { peer = { trust_domains = ["td"] } },
            { not = { subject_in = ["x"] } },
            { issuer_in = ["i"] }, { caller_in = ["c"] }, { chain_within = ["c"] },
            { claim = { path = "/x", exists = true } },
            { claim = { path = "/x", contains = "y" } },
            { claim = { path = "/x", equals = 3 } },
            { roles = { from = "claim:/r", any = ["w"] } },
            { roles = { from = "entra", any = ["w"] } },
            { roles = { from = "groups", any = ["w"] } },
            { roles = { from = "keycloak_realm", any = ["w"] } },
        ] }
        "#,
    )
    .unwrap();
    assert!(toml.default_allow && toml.how.lowercase && toml.how.resolve_dots);
    assert_eq!(toml.how.trailing, TrailingSlash::Strict);
    let json = RuleTable::from_json(
        r#"{"rule": [{"name": "r", "methods": ["get"], "path": "/r", "require": {"authenticated": true}}]}"#,
    )
    .unwrap();
    assert_eq!(json.len(), 1);
    let bad = RuleTable::from_json("{\n\"rule\": [\n{\"name\": 1}]}").unwrap_err();
    assert!(
        matches!(bad.kind(), RulesErrorKind::Syntax { line: 3, .. }),
        "{bad:?}"
    );
    let semantic = RuleTable::from_json(r#"{"rule": [{"name": "r", "path": "/r"}]}"#).unwrap_err();
    assert!(matches!(
        semantic.kind(),
        RulesErrorKind::InvalidRule {
            number: 1,
            line: None,
            ..
        }
    ));
    // A file of 1 MiB is read, one byte more is refused before it is parsed.
    let rule = "[[rule]]\nname = \"r\"\npath = \"/r\"\nallow = \"anyone\"\n";
    let padded = |len: usize| format!("{rule}{}", " ".repeat(len - rule.len()));
    assert_eq!(RuleTable::from_toml(&padded(1024 * 1024)).unwrap().len(), 1);
    assert!(matches!(
        RuleTable::from_toml(&padded(1024 * 1024 + 1))
            .unwrap_err()
            .kind(),
        RulesErrorKind::InvalidSetting { .. }
    ));
}

#[test]
fn positions() {
    assert_eq!(position("ab\ncd\nef", 4), (2, 2));
    assert_eq!(position("ab", 99), (1, 3));
    assert_eq!(position("", 0), (1, 1));
}
