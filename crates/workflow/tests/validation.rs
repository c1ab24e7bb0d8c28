//! Each validation error, with the line it points at.

use workflow::Definition;

/// A valid definition; tests edit it. Line numbers are given in the comments of each test.
const BASE: &str = r#"name = "toy"
label = "玩具流程"
initial = "open"

[[state]]
id = "open"
label = "待办"
time_limit = { amount = 2, unit = "working_days" }
on_expiry = [{ rule = "flag_overdue" }, { rule = "auto_act", action = "close" }]

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

fn errors(source: &str) -> Vec<String> {
    match Definition::from_toml("toy.toml", source) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn edit(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from} not in BASE");
    BASE.replacen(from, to, 1)
}

#[test]
fn base_is_valid() {
    let definition = Definition::from_toml("toy.toml", BASE).expect("valid");
    assert_eq!(definition.name(), "toy");
    assert_eq!(definition.states().len(), 2);
    assert_eq!(definition.file(), "toy.toml");
}

#[test]
fn a_field_label_must_name_a_field_an_action_asks_for() {
    let source = edit(
        "initial = \"open\"\n",
        "initial = \"open\"\n\n[fields]\nreason = \"原因\"\nnote = \"\"\n",
    );
    assert_eq!(
        errors(&source),
        vec![
            r#"toy.toml:6:10: field "reason" is labelled but no action asks for it"#,
            r#"toy.toml:7:8: field "note" has an empty label"#,
        ]
    );
    // An action of its own asks for it (the base's one is the automatic one, which cannot).
    let asked = source.replace("note = \"\"\n", "")
        + "\n[[action]]\nid = \"settle\"\nlabel = \"结清\"\nfrom = \"open\"\nto = \"done\"\n\
           roles = [\"clerk\"]\nparty = \"any\"\nrequired_fields = [\"reason\"]\n";
    let definition = Definition::from_toml("toy.toml", &asked).expect("valid");
    assert_eq!(definition.field_label("reason"), "原因");
    assert_eq!(definition.field_label("other"), "other");
}

#[test]
fn a_standing_state_has_no_time_limit_and_is_not_terminal() {
    let timed = edit(
        "time_limit = { amount = 2, unit = \"working_days\" }",
        "standing = true\ntime_limit = { amount = 2, unit = \"working_days\" }",
    );
    assert!(
        errors(&timed)
            .iter()
            .any(|e| e.contains("standing state \"open\" cannot have a time limit")),
        "{:?}",
        errors(&timed)
    );
    let ended = edit("terminal = true", "terminal = true\nstanding = true");
    assert!(
        errors(&ended)
            .iter()
            .any(|e| e.contains("cannot also be standing")),
        "{:?}",
        errors(&ended)
    );
}

#[test]
fn action_to_unknown_state() {
    assert_eq!(
        errors(&edit(r#"to = "done""#, r#"to = "dnoe""#)),
        vec![
            r#"toy.toml:12:6: state "done" is unreachable from the initial state "open""#,
            r#"toy.toml:20:6: action "close" goes to unknown state "dnoe""#,
        ]
    );
}

#[test]
fn action_from_unknown_state() {
    let errs = errors(&edit(r#"from = "open""#, r#"from = ["open", "opne"]"#));
    assert_eq!(
        errs,
        vec![r#"toy.toml:19:8: action "close" comes from unknown state "opne""#]
    );
}

#[test]
fn unknown_initial_state() {
    let errs = errors(&edit(r#"initial = "open""#, r#"initial = "start""#));
    assert_eq!(
        errs[0],
        r#"toy.toml:3:11: initial state "start" is not a declared state"#
    );
}

#[test]
fn auto_act_unknown_action() {
    let errs = errors(&edit(r#"action = "close""#, r#"action = "clsoe""#));
    assert_eq!(
        errs,
        vec![r#"toy.toml:9:71: auto_act names unknown action "clsoe""#]
    );
}

#[test]
fn auto_act_not_available_in_state() {
    let source = edit(r#"action = "close""#, r#"action = "finish""#).replace(
        "[[state]]\nid = \"done\"",
        "[[state]]\nid = \"review\"\nlabel = \"复核\"\n\n[[state]]\nid = \"done\"",
    ) + "\n[[action]]\nid = \"escalate\"\nlabel = \"送复核\"\nfrom = \"open\"\nto = \"review\"\nroles = [\"clerk\"]\nparty = \"any\"\n\n[[action]]\nid = \"finish\"\nlabel = \"复核通过\"\nfrom = \"review\"\nto = \"done\"\nroles = [\"head\"]\nparty = \"any\"\n";
    assert_eq!(
        errors(&source),
        vec![r#"toy.toml:9:71: auto_act action "finish" is not available from state "open""#]
    );
}

#[test]
fn auto_act_needing_human_input() {
    let source = edit("party = \"any\"", "party = \"any\"\nreassign = true");
    assert_eq!(
        errors(&source),
        vec![
            r#"toy.toml:9:71: auto_act action "close" needs input the system cannot give (reassign, attachment or required fields)"#
        ]
    );
}

#[test]
fn duplicate_state_and_action_ids() {
    let source = format!(
        "{BASE}\n[[state]]\nid = \"open\"\nlabel = \"again\"\n\n[[action]]\nid = \"close\"\nlabel = \"again\"\nfrom = \"open\"\nto = \"done\"\nroles = [\"clerk\"]\nparty = \"any\"\n"
    );
    // Lines 23.. are the appended text: state id on 25, action id on 29.
    assert_eq!(
        errors(&source),
        vec![
            r#"toy.toml:25:6: duplicate state id "open""#,
            r#"toy.toml:29:6: duplicate action id "close""#,
        ]
    );
}

#[test]
fn unreachable_state() {
    let source =
        format!("{BASE}\n[[state]]\nid = \"archived\"\nlabel = \"归档\"\nterminal = true\n");
    assert_eq!(
        errors(&source),
        vec![r#"toy.toml:25:6: state "archived" is unreachable from the initial state "open""#]
    );
}

#[test]
fn non_terminal_state_without_way_out() {
    let source = format!(
        "{BASE}\n[[state]]\nid = \"stuck\"\nlabel = \"卡住\"\n\n[[action]]\nid = \"park\"\nlabel = \"搁置\"\nfrom = \"open\"\nto = \"stuck\"\nroles = [\"clerk\"]\nparty = \"any\"\n\n[[action]]\nid = \"poke\"\nlabel = \"催办\"\nfrom = \"stuck\"\nto = \"stuck\"\nroles = [\"clerk\"]\nparty = \"any\"\n"
    );
    assert_eq!(
        errors(&source),
        vec![
            r#"toy.toml:25:6: non-terminal state "stuck" has no way out (no action leads to another state)"#
        ]
    );
}

#[test]
fn action_without_roles() {
    assert_eq!(
        errors(&edit(r#"roles = ["clerk"]"#, "roles = []")),
        vec![r#"toy.toml:21:9: no role may take action "close" (roles is empty)"#]
    );
}

#[test]
fn terminal_state_with_outgoing_action() {
    let source = format!(
        "{BASE}\n[[action]]\nid = \"reopen\"\nlabel = \"重办\"\nfrom = \"done\"\nto = \"open\"\nroles = [\"clerk\"]\nparty = \"any\"\n"
    );
    assert_eq!(
        errors(&source),
        vec![
            r#"toy.toml:27:8: action "reopen" leaves terminal state "done"; terminal states have no outgoing actions"#
        ]
    );
}

#[test]
fn terminal_state_with_time_limit_or_expiry_rules() {
    let source = edit(
        "terminal = true",
        "terminal = true\ntime_limit = { amount = 1, unit = \"calendar_days\" }\non_expiry = [{ rule = \"flag_overdue\" }]",
    );
    assert_eq!(
        errors(&source),
        vec![
            r#"toy.toml:15:14: terminal state "done" cannot have a time limit"#,
            r#"toy.toml:16:13: terminal state "done" cannot have on_expiry rules"#,
        ]
    );
}

#[test]
fn unknown_expiry_rule_and_missing_parameters() {
    let source = edit(
        r#"{ rule = "flag_overdue" }"#,
        r#"{ rule = "flag_overdo" }, { rule = "notify" }, { rule = "flag_overdue", role = "x" }"#,
    );
    assert_eq!(
        errors(&source),
        vec![
            r#"toy.toml:9:23: unknown expiry rule "flag_overdo" (expected flag_overdue, notify, escalate or auto_act)"#,
            r#"toy.toml:9:40: expiry rule "notify" needs "role""#,
            r#"toy.toml:9:93: expiry rule "flag_overdue" takes no "role""#,
        ]
    );
}

#[test]
fn zero_negative_and_huge_time_limits() {
    for amount in ["0", "-3", "10001"] {
        let errs = errors(&edit("amount = 2", &format!("amount = {amount}")));
        assert_eq!(
            errs,
            vec![format!(
                r#"toy.toml:8:25: time limit amount of state "open" must be between 1 and 10000, not {amount}"#
            )]
        );
    }
}

#[test]
fn unknown_unit_and_party() {
    let source = edit(r#"unit = "working_days""#, r#"unit = "weeks""#)
        .replace(r#"party = "any""#, r#"party = "everyone""#);
    assert_eq!(
        errors(&source),
        vec![
            r#"toy.toml:8:35: unknown time limit unit "weeks" (expected working_days, working_hours or calendar_days)"#,
            r#"toy.toml:22:9: unknown party "everyone" in action "close" (expected owner, assignee or any)"#,
        ]
    );
}

#[test]
fn expiry_rules_without_time_limit() {
    let source = edit("time_limit = { amount = 2, unit = \"working_days\" }\n", "");
    assert_eq!(
        errors(&source),
        vec![
            r#"toy.toml:8:13: state "open" has on_expiry rules but no time_limit, so they never apply"#
        ]
    );
}

#[test]
fn identifiers_and_labels() {
    let source = edit(r#"name = "toy""#, r#"name = "Toy Process""#)
        .replace(r#"label = "待办""#, r#"label = " ""#);
    assert_eq!(
        errors(&source),
        vec![
            r#"toy.toml:1:8: process name "Toy Process" is not an identifier (lower-case letters, digits and _, starting with a letter)"#,
            r#"toy.toml:7:9: state "open" has an empty label"#,
        ]
    );
}

#[test]
fn all_semantic_errors_are_collected_in_line_order() {
    let source = edit(r#"initial = "open""#, r#"initial = "start""#)
        .replace(r#"to = "done""#, r#"to = "dnoe""#)
        .replace(r#"roles = ["clerk"]"#, "roles = []")
        .replace("amount = 2", "amount = 0");
    let errs = errors(&source);
    let lines: Vec<&str> = errs
        .iter()
        .map(|e| e.split(':').nth(1).unwrap_or(""))
        .collect();
    assert_eq!(lines, vec!["3", "8", "20", "21"], "{errs:#?}");
}

#[test]
fn toml_syntax_and_shape_errors_point_at_their_line() {
    let errs = errors(&edit(r#"label = "办结""#, r#"label = "办结"#));
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("toy.toml:13:"), "{errs:?}");
    assert!(!errs[0].contains('\n'), "{errs:?}");

    let errs = errors(&edit("[[action]]", "[[action]"));
    assert_eq!(
        errs,
        vec!["toy.toml:16:9: invalid table header; expected `.`, `]]`"]
    );

    let errs = errors(&edit(
        "party = \"any\"",
        "party = \"any\"\ncolour = \"red\"",
    ));
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with("toy.toml:23:1: unknown field `colour`"),
        "{errs:?}"
    );

    let errs = errors(&edit("from = \"open\"", "from = 5"));
    assert!(
        errs[0].starts_with("toy.toml:19:8: invalid type: integer `5`"),
        "{errs:?}"
    );

    let errs = errors(&edit("party = \"any\"\n", ""));
    assert!(errs[0].contains("missing field `party`"), "{errs:?}");
}

#[test]
fn star_must_stand_alone() {
    let errs = errors(&edit(r#"from = "open""#, r#"from = ["open", "*"]"#));
    assert_eq!(
        errs,
        vec![r#"toy.toml:19:8: action "close": "*" must stand alone, not inside a list"#]
    );
}

/// The example in the crate documentation must stay a valid definition.
#[test]
fn documented_example_is_valid() {
    let docs = include_str!("../src/lib.rs");
    let start = docs.find("//! ```toml\n").expect("example start") + "//! ```toml\n".len();
    let end = start + docs[start..].find("//! ```\n").expect("example end");
    let example: String = docs[start..end]
        .lines()
        .map(|l| {
            l.strip_prefix("//!")
                .unwrap_or(l)
                .strip_prefix(' ')
                .unwrap_or("")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let definition =
        Definition::from_toml("lib.rs", &example).expect("documented example is valid");
    assert_eq!(definition.name(), "leave_request");
    assert_eq!(definition.on_expiry("submitted").len(), 4);
}
