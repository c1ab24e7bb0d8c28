//! Every route × every role: allowed, or refused (403 for a signed-in role, the login page or
//! 401 for the public). The expected table is written here, independently of the code, and a
//! route the table does not list fails the build of trust.

mod common;

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use common::{Session, TestApp, TestDb};
use serde_json::json;

#[derive(Clone, Copy, Debug)]
enum Who {
    Anyone,
    SignedIn,
    Only(&'static [&'static str]),
    /// Machine clients with an API key: a session gives nothing, every caller without a key
    /// is refused by the handler with the spec's 403.
    KeyOnly,
}

use Who::*;

const SECURITY: Who = Only(&["security_admin"]);
const AUDIT: Who = Only(&["audit_admin"]);
const ORG_MANAGERS: Who = Only(&["system_admin", "establishment_office"]);
const LIST_EDITORS: Who = Only(&[
    "establishment_office",
    "township_leader",
    "township_officer",
]);
const LIST_PUBLISHER: Who = Only(&["establishment_office"]);
/// Departments file powers, admission applications and inspection items; the establishment
/// office may file them on a department's behalf.
const FILERS: Who = Only(&["department_officer", "establishment_office"]);
const DEPARTMENT: Who = Only(&["department_officer"]);
const CASE_VIEWERS: Who = Only(&[
    "dispatcher",
    "township_leader",
    "township_officer",
    "station_head",
    "department_officer",
    "grid_worker",
]);
const CASE_INTAKE: Who = Only(&["dispatcher", "township_officer", "grid_worker"]);
const CASE_ACTORS: Who = Only(&[
    "dispatcher",
    "station_head",
    "township_officer",
    "department_officer",
    "grid_worker",
]);
const DISPATCHER: Who = Only(&["dispatcher"]);
const CATEGORY_EDITORS: Who = Only(&["establishment_office"]);
const GRID_IMPORTERS: Who = Only(&["township_officer", "system_admin"]);
const GRID_STAFF: Who = Only(&["township_leader", "township_officer"]);
const GRID_WORKER: Who = Only(&["grid_worker"]);
/// A grid's register: its workers and the township's staff (phones and IDs masked).
const GRID_REGISTER: Who = Only(&["grid_worker", "township_leader", "township_officer"]);
/// Unmasked personal data: the grid's own worker and the township leader only.
const GRID_REVEAL: Who = Only(&["grid_worker", "township_leader"]);
const PART_OPENERS: Who = Only(&["dispatcher", "township_leader"]);
const PART_ACTORS: Who = Only(&[
    "dispatcher",
    "township_leader",
    "station_head",
    "township_officer",
    "department_officer",
]);
const METRICS_VIEWERS: Who = Only(&[
    "dispatcher",
    "township_leader",
    "township_officer",
    "station_head",
    "department_officer",
    "establishment_office",
]);

/// The expected access of every route. Adding a route means adding a row here.
const EXPECTED: &[(&str, &str, Who)] = &[
    ("GET", "/healthz", Anyone),
    ("GET", "/readyz", Anyone),
    ("GET", "/static/app.css", Anyone),
    ("GET", "/static/app.js", Anyone),
    ("GET", "/api/openapi.json", Anyone),
    ("GET", "/", SignedIn),
    ("GET", "/home", SignedIn),
    ("GET", "/login", Anyone),
    ("POST", "/login", Anyone),
    ("GET", "/account/password", SignedIn),
    ("POST", "/account/password", SignedIn),
    ("GET", "/users", SECURITY),
    ("GET", "/users/new", SECURITY),
    ("POST", "/users", SECURITY),
    ("GET", "/users/{id}", SECURITY),
    ("POST", "/users/{id}", SECURITY),
    ("POST", "/users/{id}/password", SECURITY),
    ("POST", "/users/{id}/unlock", SECURITY),
    ("POST", "/users/{id}/disable", SECURITY),
    ("POST", "/users/{id}/enable", SECURITY),
    ("POST", "/api/v1/session", Anyone),
    ("GET", "/api/v1/me", SignedIn),
    ("PUT", "/api/v1/me/password", SignedIn),
    ("GET", "/api/v1/users", SECURITY),
    ("POST", "/api/v1/users", SECURITY),
    ("GET", "/api/v1/users/{id}", SECURITY),
    ("PUT", "/api/v1/users/{id}", SECURITY),
    ("POST", "/api/v1/users/{id}/password", SECURITY),
    ("POST", "/api/v1/users/{id}/unlock", SECURITY),
    ("POST", "/api/v1/users/{id}/disable", SECURITY),
    ("POST", "/api/v1/users/{id}/enable", SECURITY),
    ("GET", "/orgs", SignedIn),
    ("GET", "/orgs/new", ORG_MANAGERS),
    ("POST", "/orgs", ORG_MANAGERS),
    ("GET", "/orgs/{id}", SignedIn),
    ("POST", "/orgs/{id}/rename", ORG_MANAGERS),
    ("POST", "/orgs/{id}/move", ORG_MANAGERS),
    ("POST", "/orgs/{id}/retire", ORG_MANAGERS),
    ("GET", "/api/v1/orgs", SignedIn),
    ("POST", "/api/v1/orgs", ORG_MANAGERS),
    ("GET", "/api/v1/orgs/{id}", SignedIn),
    ("PATCH", "/api/v1/orgs/{id}", ORG_MANAGERS),
    ("POST", "/api/v1/orgs/{id}/retire", ORG_MANAGERS),
    ("GET", "/audit", AUDIT),
    ("GET", "/audit/export.csv", AUDIT),
    ("GET", "/audit/verify", AUDIT),
    ("GET", "/api/v1/audit", AUDIT),
    ("GET", "/api/v1/audit/verify", AUDIT),
    ("GET", "/admin/workdays", Only(&["system_admin"])),
    ("POST", "/admin/workdays", Only(&["system_admin"])),
    ("POST", "/admin/workdays/reset", Only(&["system_admin"])),
    ("GET", "/admin/open311", Only(&["system_admin"])),
    ("POST", "/admin/open311/keys", Only(&["system_admin"])),
    (
        "POST",
        "/admin/open311/keys/{id}/revoke",
        Only(&["system_admin"]),
    ),
    ("GET", "/open311/discovery.json", Anyone),
    ("GET", "/open311/discovery.xml", Anyone),
    ("GET", "/open311/v2/services.json", Anyone),
    ("GET", "/open311/v2/services.xml", Anyone),
    ("GET", "/open311/v2/services/{id}", Anyone),
    ("POST", "/open311/v2/requests.json", KeyOnly),
    ("POST", "/open311/v2/requests.xml", KeyOnly),
    ("GET", "/open311/v2/requests.json", Anyone),
    ("GET", "/open311/v2/requests.xml", Anyone),
    ("GET", "/open311/v2/requests/{id}", Anyone),
    ("GET", "/open311/v2/tokens/{id}", Anyone),
    ("POST", "/admin/workdays/import", Only(&["system_admin"])),
    ("GET", "/admin/workdays/export.csv", Only(&["system_admin"])),
    ("GET", "/api/v1/workdays", Only(&["system_admin"])),
    ("GET", "/api/v1/workdays/check", SignedIn),
    ("GET", "/api/v1/workdays/add", SignedIn),
    ("POST", "/api/v1/workdays/import", Only(&["system_admin"])),
    ("PUT", "/api/v1/workdays/{date}", Only(&["system_admin"])),
    ("DELETE", "/api/v1/workdays/{date}", Only(&["system_admin"])),
    ("GET", "/work", SignedIn),
    ("GET", "/work/metrics", SignedIn),
    ("GET", "/work/{id}", SignedIn),
    ("POST", "/work/{id}/act", SignedIn),
    ("GET", "/api/v1/work", SignedIn),
    ("GET", "/api/v1/work/metrics", SignedIn),
    ("GET", "/api/v1/work/{id}", SignedIn),
    ("POST", "/api/v1/work/{id}/actions", SignedIn),
    ("GET", "/catalog", SignedIn),
    ("GET", "/catalog/template.xlsx", SignedIn),
    ("POST", "/catalog/scheme", LIST_PUBLISHER),
    ("GET", "/catalog/figures", SignedIn),
    ("GET", "/catalog/figures/export", SignedIn),
    ("GET", "/api/v1/catalog/figures", SignedIn),
    ("GET", "/catalog/lists/{id}", SignedIn),
    ("GET", "/catalog/lists/{id}/items", SignedIn),
    ("GET", "/catalog/lists/{id}/items/{code}", SignedIn),
    ("GET", "/catalog/lists/{id}/diff", SignedIn),
    ("GET", "/catalog/lists/{id}/export", SignedIn),
    ("GET", "/catalog/lists/{id}/diff/export", SignedIn),
    ("POST", "/catalog/lists/{id}/import", LIST_EDITORS),
    ("POST", "/catalog/lists/{id}/publish", LIST_PUBLISHER),
    ("POST", "/catalog/lists/{id}/exclude", LIST_EDITORS),
    ("GET", "/public/lists", Anyone),
    ("GET", "/public/lists/{code}", Anyone),
    ("GET", "/api/v1/catalog/lists", SignedIn),
    ("GET", "/api/v1/catalog/lists/{id}/versions", SignedIn),
    ("GET", "/api/v1/catalog/lists/{id}/items", SignedIn),
    ("GET", "/api/v1/catalog/lists/{id}/diff", SignedIn),
    ("POST", "/api/v1/catalog/lists/{id}/changes", LIST_EDITORS),
    ("POST", "/api/v1/catalog/lists/{id}/publish", LIST_PUBLISHER),
    ("GET", "/api/v1/catalog/townships/{id}/items", SignedIn),
    ("GET", "/delegation/powers", SignedIn),
    ("GET", "/delegation/powers/new", FILERS),
    ("POST", "/delegation/powers", FILERS),
    ("GET", "/delegation/powers/{id}", SignedIn),
    ("POST", "/delegation/powers/{id}/handovers", DEPARTMENT),
    ("POST", "/delegation/powers/{id}/supervision", DEPARTMENT),
    ("GET", "/delegation/handovers/{id}", SignedIn),
    ("GET", "/delegation/admissions", SignedIn),
    ("GET", "/delegation/admissions/new", FILERS),
    ("POST", "/delegation/admissions", FILERS),
    ("GET", "/delegation/admissions/{id}", SignedIn),
    ("GET", "/delegation/inspections", SignedIn),
    ("POST", "/delegation/inspections", FILERS),
    ("GET", "/delegation/inspections/export", SignedIn),
    ("GET", "/delegation/inspections/{id}", SignedIn),
    ("GET", "/api/v1/delegation/powers", SignedIn),
    ("POST", "/api/v1/delegation/powers", FILERS),
    ("GET", "/api/v1/delegation/powers/{id}", SignedIn),
    (
        "POST",
        "/api/v1/delegation/powers/{id}/handovers",
        DEPARTMENT,
    ),
    (
        "POST",
        "/api/v1/delegation/powers/{id}/supervision",
        DEPARTMENT,
    ),
    ("GET", "/api/v1/delegation/handovers/{id}", SignedIn),
    ("GET", "/api/v1/delegation/admissions", SignedIn),
    ("POST", "/api/v1/delegation/admissions", FILERS),
    ("GET", "/api/v1/delegation/admissions/{id}", SignedIn),
    ("GET", "/api/v1/delegation/inspections", SignedIn),
    ("POST", "/api/v1/delegation/inspections", FILERS),
    ("GET", "/api/v1/public/townships/{code}/items", Anyone),
    ("GET", "/cases", CASE_VIEWERS),
    ("GET", "/cases/export.csv", CASE_VIEWERS),
    ("GET", "/cases/new", CASE_INTAKE),
    ("POST", "/cases", CASE_INTAKE),
    ("POST", "/cases/import", DISPATCHER),
    ("GET", "/cases/categories", SignedIn),
    ("POST", "/cases/categories", CATEGORY_EDITORS),
    ("POST", "/cases/settings", CATEGORY_EDITORS),
    ("GET", "/cases/attachments/{id}", CASE_VIEWERS),
    ("GET", "/cases/{id}", CASE_VIEWERS),
    ("POST", "/cases/{id}/act", CASE_ACTORS),
    ("POST", "/cases/{id}/merge", DISPATCHER),
    ("POST", "/cases/{id}/rate", DISPATCHER),
    ("POST", "/cases/{id}/parts", PART_OPENERS),
    ("POST", "/cases/{id}/classify", DISPATCHER),
    ("POST", "/cases/parts/{id}/act", PART_ACTORS),
    ("GET", "/cases/metrics", METRICS_VIEWERS),
    ("GET", "/cases/metrics.xlsx", METRICS_VIEWERS),
    ("GET", "/cases/summons", METRICS_VIEWERS),
    ("GET", "/public/cases/new", Anyone),
    ("POST", "/public/cases", Anyone),
    ("GET", "/public/cases/received", Anyone),
    ("GET", "/public/cases/track", Anyone),
    ("POST", "/public/cases/rate", Anyone),
    ("GET", "/api/v1/cases", CASE_VIEWERS),
    ("POST", "/api/v1/cases", CASE_INTAKE),
    ("GET", "/api/v1/cases/categories", SignedIn),
    ("POST", "/api/v1/cases/categories", CATEGORY_EDITORS),
    ("PUT", "/api/v1/cases/categories/{code}", CATEGORY_EDITORS),
    ("GET", "/api/v1/cases/{id}", CASE_VIEWERS),
    ("POST", "/api/v1/cases/{id}/actions", CASE_ACTORS),
    ("POST", "/api/v1/cases/{id}/merge", DISPATCHER),
    ("POST", "/api/v1/cases/{id}/rating", DISPATCHER),
    ("POST", "/api/v1/cases/{id}/parts", PART_OPENERS),
    ("POST", "/api/v1/cases/{id}/classify", DISPATCHER),
    ("POST", "/api/v1/cases/parts/{id}/actions", PART_ACTORS),
    ("GET", "/api/v1/cases/metrics", METRICS_VIEWERS),
    ("GET", "/api/v1/cases/summons", METRICS_VIEWERS),
    ("POST", "/api/v1/public/cases", Anyone),
    ("GET", "/api/v1/public/cases/{code}", Anyone),
    ("POST", "/api/v1/public/cases/{code}/rating", Anyone),
    ("GET", "/grids/map", SignedIn),
    ("GET", "/grids/import", GRID_IMPORTERS),
    ("POST", "/grids/import", GRID_IMPORTERS),
    ("GET", "/grids/mine", GRID_WORKER),
    ("POST", "/grids/patrols", GRID_WORKER),
    ("POST", "/grids/patrols/{id}/points", GRID_WORKER),
    ("POST", "/grids/patrols/{id}/problems", GRID_WORKER),
    ("POST", "/grids/patrols/{id}/finish", GRID_WORKER),
    ("GET", "/grids/{id}", SignedIn),
    ("POST", "/grids/{id}/workers", GRID_STAFF),
    ("POST", "/grids/assignments/{id}/end", GRID_STAFF),
    ("POST", "/grids/{id}/tasks", GRID_STAFF),
    ("POST", "/grids/tasks/{id}/done", GRID_REGISTER),
    ("GET", "/grids/{id}/register", GRID_REGISTER),
    ("POST", "/grids/{id}/households", GRID_REGISTER),
    ("POST", "/grids/{id}/buildings", GRID_REGISTER),
    ("POST", "/grids/{id}/places", GRID_REGISTER),
    ("POST", "/grids/households/{id}/reveal", GRID_REVEAL),
    ("GET", "/api/v1/grids/locate", SignedIn),
    ("GET", "/api/v1/grids/{id}/workers", SignedIn),
    ("POST", "/api/v1/grids/{id}/workers", GRID_STAFF),
    ("GET", "/api/v1/grids/{id}/households", GRID_REGISTER),
    // These end the session that calls them, so they run last for each role.
    ("POST", "/logout", SignedIn),
    ("DELETE", "/api/v1/session", SignedIn),
];

/// One demo account per role; `None` is the public.
const ROLES: &[(&str, Option<&str>)] = &[
    ("public", None),
    ("system_admin", Some("sysadmin")),
    ("security_admin", Some("secadmin")),
    ("audit_admin", Some("auditadmin")),
    ("establishment_office", Some("bianban")),
    ("justice_bureau", Some("sifaju")),
    ("department_officer", Some("scjg")),
    ("station_head", Some("suozhang")),
    ("township_leader", Some("xipu_leader")),
    ("township_officer", Some("xipu_officer")),
    ("dispatcher", Some("xipu_dispatch")),
    ("window_clerk", Some("xipu_window")),
    ("approver", Some("xipu_approver")),
    ("grid_worker", Some("wanggeyuan")),
];

fn allowed(who: Who, role: &str) -> bool {
    match who {
        Anyone => true,
        KeyOnly => false,
        SignedIn => role != "public",
        Only(roles) => roles.contains(&role),
    }
}

#[test]
fn every_route_is_in_the_expected_table_and_back() {
    let actual: BTreeSet<(String, String)> = jiceng::web::route_table()
        .iter()
        .map(|e| (e.method.to_string(), e.path.to_owned()))
        .collect();
    let expected: BTreeSet<(String, String)> = EXPECTED
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let unlisted: Vec<_> = actual.difference(&expected).collect();
    let missing: Vec<_> = expected.difference(&actual).collect();
    assert!(
        unlisted.is_empty(),
        "routes without an expected access rule in tests/authz.rs: {unlisted:?}"
    );
    assert!(
        missing.is_empty(),
        "rows for routes that do not exist: {missing:?}"
    );
    assert_eq!(EXPECTED.len(), actual.len(), "duplicate rows in the table");
}

#[test]
fn every_role_is_in_the_table() {
    let roles: BTreeSet<&str> = jiceng::auth::Role::ALL.iter().map(|r| r.as_str()).collect();
    let listed: BTreeSet<&str> = ROLES.iter().map(|(r, _)| *r).collect();
    assert_eq!(roles, listed);
}

on_both_engines!(every_role_gets_exactly_the_routes_it_may_use);

async fn every_role_gets_exactly_the_routes_it_may_use(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let sec = app.login("secadmin").await;
    let township = app.org_id("510117006000").await;
    let target = app
        .json(
            Method::POST,
            "/api/v1/users",
            &sec,
            json!({"username": "target", "display_name": "靶子", "org_id": township,
                   "roles": ["township_officer"], "password": "Bullseye-2026-x"}),
        )
        .await;
    assert_eq!(target.status, StatusCode::CREATED, "{}", target.body);
    let user_id = target.json()["id"].as_i64().unwrap().to_string();
    let org_id = app.org_id("510117000000").await.to_string();
    // Catalog routes act on 犀浦街道's list, which its own staff may edit.
    let xipu = app.org_id("510117006000").await;
    let lists = app
        .get("/api/v1/catalog/lists", &app.login("bianban").await)
        .await
        .json();
    let xipu_list = lists
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["list"]["township_key"] == xipu)
        .map(|l| l["list"]["id"].as_i64().unwrap().to_string())
        .expect("犀浦 has a local list");
    let xipu = xipu.to_string();

    let mut failures = Vec::new();
    for (role, username) in ROLES {
        let mut session = match username {
            Some(u) => app.login(u).await,
            None => Session::anonymous(),
        };
        for (method, pattern, who) in EXPECTED {
            if let (Some(u), true) = (
                username,
                pattern.contains("session") || pattern.contains("logout"),
            ) {
                // The previous row may have ended the session.
                session = app.login(u).await;
            }
            let id = if pattern.contains("/users/") {
                &user_id
            } else if pattern.contains("/catalog/lists/") {
                &xipu_list
            } else if pattern.contains("/catalog/townships/") {
                &xipu
            } else {
                &org_id
            };
            let path = pattern.replace("{id}", id);
            let method: Method = method.parse().unwrap();
            let api = path.starts_with("/api/");
            let body = match method {
                Method::GET | Method::DELETE => None,
                _ if api => Some(("application/json", "{}".to_owned())),
                _ => Some(("application/x-www-form-urlencoded", String::new())),
            };
            let r = app.send(method.clone(), &path, &session, body).await;
            let to_login = r.status == StatusCode::SEE_OTHER
                && r.location().is_some_and(|l| l.starts_with("/login?next="));
            let refused = r.status == StatusCode::FORBIDDEN
                || r.status == StatusCode::UNAUTHORIZED
                || to_login;
            let expect_allowed = allowed(*who, role);
            let ok = if matches!(who, KeyOnly) {
                r.status == StatusCode::FORBIDDEN && r.body.contains("api_key")
            } else if expect_allowed {
                !refused && r.status != StatusCode::INTERNAL_SERVER_ERROR
            } else if username.is_none() {
                if api {
                    r.status == StatusCode::UNAUTHORIZED
                } else {
                    to_login
                }
            } else {
                r.status == StatusCode::FORBIDDEN
            };
            if !ok {
                failures.push(format!(
                    "{role} {method} {pattern}: expected {}, got {} {}",
                    if expect_allowed { "allowed" } else { "refused" },
                    r.status,
                    r.body.chars().take(120).collect::<String>()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let denials = jiceng::audit::search(
        app.db(),
        &jiceng::audit::AuditFilter {
            action: Some("permission_denied".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        denials.total > 100,
        "every denial is audited: {}",
        denials.total
    );
}
