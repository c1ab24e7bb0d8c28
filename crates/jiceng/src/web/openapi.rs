//! The OpenAPI document of the JSON API, served at `/api/openapi.json`.

use axum::Json;
use utoipa::OpenApi;

use crate::{audit, auth, cases, catalog, delegation, grids, orgs, workdays, workflow};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "基层治理平台 API",
        version = "1",
        description = "登录后调用；修改类请求须在 X-CSRF-Token 头中携带 /api/v1/me 返回的 csrf_token。"
    ),
    paths(
        auth::routes::api_login,
        auth::routes::api_logout,
        auth::routes::api_me,
        auth::routes::api_change_password,
        auth::routes::api_list_users,
        auth::routes::api_create_user,
        auth::routes::api_get_user,
        auth::routes::api_update_user,
        auth::routes::api_reset_password,
        auth::routes::api_unlock,
        auth::routes::api_disable,
        auth::routes::api_enable,
        orgs::routes::api_list,
        orgs::routes::api_create,
        orgs::routes::api_get,
        orgs::routes::api_update,
        orgs::routes::api_retire,
        audit::routes::api_search,
        audit::routes::api_verify,
        workdays::routes::api_list,
        workdays::routes::api_check,
        workdays::routes::api_add,
        workdays::routes::api_set,
        workdays::routes::api_reset,
        workdays::routes::api_import,
        workflow::routes::api_inbox,
        workflow::routes::api_detail,
        workflow::routes::api_act,
        workflow::routes::api_metrics,
        catalog::routes::api_lists,
        catalog::routes::api_versions,
        catalog::routes::api_items,
        catalog::routes::api_diff,
        catalog::routes::api_change,
        catalog::routes::api_publish,
        catalog::routes::api_township_items,
        catalog::routes::api_public_items,
        catalog::routes::api_figures,
        delegation::routes::api_powers,
        delegation::routes::api_power_create,
        delegation::routes::api_power,
        delegation::routes::api_handovers_create,
        delegation::routes::api_supervision_create,
        delegation::routes::api_handover,
        delegation::routes::api_admissions,
        delegation::routes::api_admission_create,
        delegation::routes::api_admission,
        delegation::routes::api_inspections,
        delegation::routes::api_inspection_create,
        cases::routes::api_list,
        cases::routes::api_intake,
        cases::routes::api_detail,
        cases::routes::api_act,
        cases::routes::api_merge,
        cases::routes::api_rate,
        cases::routes::api_categories,
        cases::routes::api_add_category,
        cases::routes::api_update_category,
        cases::routes::api_public_intake,
        cases::routes::api_track,
        cases::routes::api_public_rate,
        grids::routes::api_locate,
        grids::routes::api_workers,
        grids::routes::api_assign,
        grids::routes::api_households,
        cases::routes::api_open_part,
        cases::routes::api_act_part,
        cases::routes::api_metrics,
        cases::routes::api_summons,
        cases::routes::api_classify,
    ),
    components(schemas(super::error::ErrorBody, super::error::ErrorDetail))
)]
pub struct ApiDoc;

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client generated from the document must find one operation per id and each body
    /// under its own name: two types of one name made one schema that fitted neither.
    #[test]
    fn operations_and_schemas_have_names_of_their_own() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let mut ids = Vec::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                if let Some(id) = op["operationId"].as_str() {
                    ids.push(id.to_owned());
                }
            }
        }
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            ids.len(),
            "repeated operationIds among {ids:?}"
        );
        let schemas = &doc["components"]["schemas"];
        assert!(
            schemas["ItemSource"]["enum"]
                .as_array()
                .is_some_and(|v| v.contains(&serde_json::json!("statutory"))),
            "{}",
            schemas["ItemSource"]
        );
        assert!(
            schemas["Source"]["enum"]
                .as_array()
                .is_some_and(|v| v.contains(&serde_json::json!("grid_worker")))
        );
        assert!(schemas["DelegationCounts"]["properties"]["powers_received"].is_object());
        assert!(schemas["WorkActed"]["properties"]["instance"].is_object());
        assert!(schemas["Acted"]["properties"]["case_id"].is_object());
    }
}
