//! Loading embedded definitions and a district's override directory.

use std::path::PathBuf;

use workflow::{Registry, TimeUnit};

const LEAVE: &str = include_str!("fixtures/leave_request.toml");

const TINY: &str = r#"name = "tiny"
label = "最小流程"
initial = "open"

[[state]]
id = "open"
label = "待办"

[[state]]
id = "done"
label = "办结"
terminal = true

[[action]]
id = "close"
label = "办结"
from = "open"
to = "done"
roles = ["clerk"]
party = "any"
"#;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("jiceng-workflow-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.0.join(name), text).expect("write");
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const EMBEDDED: [(&str, &str); 2] = [("leave_request.toml", LEAVE), ("tiny.toml", TINY)];

#[test]
fn loads_embedded_definitions() {
    let registry = Registry::load(&EMBEDDED, None).expect("valid");
    assert_eq!(
        registry.names().collect::<Vec<_>>(),
        ["leave_request", "tiny"]
    );
    assert_eq!(registry.get("tiny").map(|d| d.label()), Some("最小流程"));
    assert!(registry.get("nothing").is_none());
    assert!(!registry.is_overridden("tiny"));
}

#[test]
fn override_directory_replaces_by_name() {
    let dir = TempDir::new("override");
    let longer = LEAVE.replace(
        r#"time_limit = { amount = 3, unit = "working_days" }"#,
        r#"time_limit = { amount = 10, unit = "calendar_days" }"#,
    );
    // The file name does not matter; the `name` inside does.
    dir.write("district-leave.toml", &longer);
    dir.write("README.txt", "not a definition");
    let registry = Registry::load(&EMBEDDED, Some(&dir.0)).expect("valid");
    let limit = registry
        .get("leave_request")
        .and_then(|d| d.state("submitted"))
        .and_then(|s| s.time_limit)
        .expect("limit");
    assert_eq!((limit.amount, limit.unit), (10, TimeUnit::CalendarDays));
    assert!(registry.is_overridden("leave_request"));
    assert!(!registry.is_overridden("tiny"));
}

#[test]
fn reports_errors_of_every_file() {
    let dir = TempDir::new("errors");
    dir.write("a.toml", &TINY.replace(r#"to = "done""#, r#"to = "dnoe""#));
    dir.write(
        "b.toml",
        &TINY.replace(r#"name = "tiny""#, r#"name = "tinny""#),
    );
    dir.write("c.toml", TINY);
    dir.write("d.toml", TINY);
    let broken_embedded = [
        ("leave_request.toml", LEAVE),
        ("tiny.toml", TINY),
        ("tiny_again.toml", TINY),
        ("bad.toml", "name = "),
    ];
    let errors = Registry::load(&broken_embedded, Some(&dir.0)).expect_err("invalid");
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 6, "{shown:#?}");
    assert!(
        shown[0].starts_with("tiny_again.toml: process \"tiny\" is already defined in tiny.toml")
    );
    assert_eq!(
        shown[1],
        "bad.toml:1:8: invalid TOML syntax (is a value missing?)"
    );
    // A misspelt target also leaves the real one unreachable: both are reported.
    assert!(shown[2].contains("a.toml:10:6: state \"done\" is unreachable"));
    assert!(shown[3].contains("a.toml:18:6: action \"close\" goes to unknown state \"dnoe\""));
    assert!(shown[4].contains("b.toml: process \"tinny\" does not replace any built-in process"));
    assert!(shown[5].contains("d.toml: process \"tiny\" is already overridden by"));
}

#[test]
fn missing_override_directory_is_an_error() {
    let errors = Registry::load(&EMBEDDED, Some(std::path::Path::new("/nonexistent/jiceng")))
        .expect_err("missing dir");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].to_string().contains("cannot read directory"));
}

#[test]
fn require_names_what_an_override_dropped() {
    let registry = Registry::load(&EMBEDDED, None).expect("valid");
    let tiny = registry.get("tiny").expect("tiny");
    assert_eq!(tiny.require(&["open", "done"], &["close"]), Ok(()));
    let errors = tiny
        .require(&["open", "closed"], &["close", "reopen"])
        .expect_err("missing");
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "tiny.toml: process \"tiny\" must have state \"closed\", which the application uses",
            "tiny.toml: process \"tiny\" must have action \"reopen\", which the application uses",
        ]
    );
}
