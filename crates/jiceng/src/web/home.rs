//! "My work": the home page each role lands on after signing in.

use axum::response::Redirect;

use super::access::{Access, Routes};
use super::error::PageResult;
use super::page::{Ctx, Shell};
use crate::auth::{Role, store as accounts};
use crate::orgs::model::OrgKind;
use crate::time::Timestamp;
use crate::{audit, orgs};

pub fn routes() -> Routes {
    Routes::new()
        .get("/", Access::SignedIn, home)
        .get("/home", Access::SignedIn, home_alias)
}

pub struct Card {
    pub label: String,
    pub value: i64,
    pub href: &'static str,
}

pub struct Link {
    pub label: &'static str,
    pub href: &'static str,
    pub note: &'static str,
}

#[derive(askama::Template)]
#[template(path = "web/home.html")]
struct HomePage {
    shell: Shell,
    greeting: String,
    scope_label: String,
    cards: Vec<Card>,
    links: Vec<Link>,
    work: Vec<crate::workflow::WorkItem>,
    work_total: i64,
    warnings: Vec<String>,
}

async fn home_alias() -> Redirect {
    Redirect::permanent("/")
}

async fn home(
    ctx: Ctx,
    axum::extract::State(state): axum::extract::State<super::AppState>,
) -> PageResult {
    let p = &ctx.principal;
    let inbox = crate::workflow::inbox(&state.db, &state.processes, p, 1, 5)
        .await
        .map_err(|e| ctx.fail(e))?;
    let mut warnings = Vec::new();
    if p.has(Role::SystemAdmin)
        && let Some(w) = crate::workdays::coverage_warning(&state.db)
            .await
            .map_err(|e| ctx.fail(e))?
    {
        warnings.push(w);
    }
    let mut pooled = state.db.acquire().await.map_err(|e| ctx.fail(e))?;
    let mut conn = pooled.conn();
    let mut cards = vec![
        Card {
            label: "待办事项".into(),
            value: inbox.total,
            href: "/work",
        },
        Card {
            label: "提醒与督办".into(),
            value: inbox.notices.len() as i64,
            href: "/work",
        },
    ];
    let mut links = Vec::new();

    let counts = orgs::store::count_by_kind(&mut conn, p.scope.path_prefix())
        .await
        .map_err(|e| ctx.fail(e))?;
    let count = |k: OrgKind| {
        counts
            .iter()
            .find(|(n, _)| n == k.as_str())
            .map(|(_, c)| *c)
            .unwrap_or(0)
    };
    for k in [
        OrgKind::Township,
        OrgKind::Community,
        OrgKind::Grid,
        OrgKind::Station,
    ] {
        if p.scope.path_prefix().is_some() && k == OrgKind::Township {
            continue;
        }
        cards.push(Card {
            label: format!("{}数", k.label()),
            value: count(k),
            href: "/orgs",
        });
    }
    if p.org_manager().is_some() {
        links.push(Link {
            label: "组织机构管理",
            href: "/orgs",
            note: "新建、更名、调整隶属、撤销组织",
        });
    } else {
        links.push(Link {
            label: "组织机构",
            href: "/orgs",
            note: "查看本辖区的组织、村（社区）和网格",
        });
    }
    if p.has_any(&[Role::DepartmentOfficer, Role::EstablishmentOffice]) {
        links.push(Link {
            label: "事务准入",
            href: "/delegation/admissions",
            note: "部门拟交镇（街道）承担的工作须申请准入，编办、司法局审查",
        });
        links.push(Link {
            label: "考核事项",
            href: "/delegation/inspections",
            note: "考核指标一事一报，编办审核、清理",
        });
    }
    if p.has_any(&[
        Role::DepartmentOfficer,
        Role::EstablishmentOffice,
        Role::TownshipLeader,
    ]) {
        links.push(Link {
            label: "下放权力事项",
            href: "/delegation/powers",
            note: "下放事项、交接书、指导监督记录",
        });
    }
    let cases = |status: Option<&'static str>, overdue: bool| {
        crate::cases::count(&state.db, p, status, overdue)
    };
    let case_cards: &[(&str, Option<&'static str>, bool, &'static str)] = if p.has(Role::Dispatcher)
    {
        &[
            (
                "待派遣案件",
                Some("pending"),
                false,
                "/cases?status=pending",
            ),
            (
                "待核查案件",
                Some("checking"),
                false,
                "/cases?status=checking",
            ),
            ("逾期案件", None, true, "/cases?overdue=1"),
        ]
    } else if p.has_any(&[Role::StationHead, Role::DepartmentOfficer]) {
        &[
            (
                "待签收案件",
                Some("dispatched"),
                false,
                "/cases?status=dispatched",
            ),
            (
                "处置中案件",
                Some("handling"),
                false,
                "/cases?status=handling",
            ),
            ("逾期案件", None, true, "/cases?overdue=1"),
        ]
    } else if p.has(Role::GridWorker) {
        &[
            (
                "待核查案件",
                Some("checking"),
                false,
                "/cases?status=checking",
            ),
            ("本网格案件", None, false, "/cases"),
        ]
    } else {
        &[]
    };
    for (label, status, overdue, href) in case_cards {
        cards.push(Card {
            label: (*label).into(),
            value: cases(*status, *overdue).await.map_err(|e| ctx.fail(e))?,
            href,
        });
    }
    if p.has_any(&[Role::Dispatcher, Role::GridWorker, Role::TownshipOfficer]) {
        links.push(Link {
            label: if p.has(Role::GridWorker) {
                "上报问题"
            } else {
                "受理案件"
            },
            href: "/cases/new",
            note: "登记发现或群众反映的问题，附现场照片",
        });
    }
    if crate::cases::visibility(p).is_some() {
        links.push(Link {
            label: "案件",
            href: "/cases",
            note: "检索、筛选、导出案件，派遣、签收、反馈、核查",
        });
    }
    if p.has(Role::EstablishmentOffice) {
        links.push(Link {
            label: "事件类别与时限",
            href: "/cases/categories",
            note: "维护全区 GB/T 30428.2 事件类别、响应和处置时限、重复案件识别",
        });
    } else if p.has(Role::Dispatcher) {
        links.push(Link {
            label: "事件类别与时限",
            href: "/cases/categories",
            note: "查看全区事件类别、响应和处置时限（由区委编办维护）",
        });
    }
    let today = Timestamp::now().start_of_local_day();
    if p.has(Role::SystemAdmin) {
        links.push(Link {
            label: "工作日历",
            href: "/admin/workdays",
            note: "录入节假日和调休安排，更正、导入、导出",
        });
        links.push(Link {
            label: "Open311 接口密钥",
            href: "/admin/open311",
            note: "为第三方应用发放、停用提交问题的接口密钥",
        });
    }
    if p.has(Role::SecurityAdmin) {
        let (_, total) = accounts::list(
            &mut conn,
            &accounts::UserQuery {
                q: None,
                org_id: None,
                role: None,
                limit: 1,
                offset: 0,
            },
        )
        .await
        .map_err(|e| ctx.fail(e))?;
        let locked = accounts::count_locked(&mut conn, Timestamp::now())
            .await
            .map_err(|e| ctx.fail(e))?;
        cards.push(Card {
            label: "账号总数".into(),
            value: total,
            href: "/users",
        });
        cards.push(Card {
            label: "当前锁定的账号".into(),
            value: locked,
            href: "/users",
        });
        links.push(Link {
            label: "账号管理",
            href: "/users",
            note: "新建账号、分配角色、重置密码、解除锁定",
        });
    }
    if p.has(Role::AuditAdmin) {
        for (action, label) in [
            ("login_failed", "今日登录失败"),
            ("permission_denied", "今日越权访问"),
            ("login", "今日登录"),
        ] {
            let n = audit::count_since(&mut conn, action, today)
                .await
                .map_err(|e| ctx.fail(e))?;
            cards.push(Card {
                label: label.into(),
                value: n,
                href: "/audit",
            });
        }
        links.push(Link {
            label: "审计日志",
            href: "/audit",
            note: "检索、导出审计记录",
        });
        links.push(Link {
            label: "校验审计链",
            href: "/audit/verify",
            note: "检查审计记录是否被篡改或删除",
        });
    }
    links.push(Link {
        label: "修改密码",
        href: "/account/password",
        note: "定期更换密码",
    });
    let scope_label = match &p.scope {
        crate::auth::Scope::District => "全区".to_owned(),
        crate::auth::Scope::Township { township_id, .. } => {
            let t = orgs::store::get(&mut conn, *township_id)
                .await
                .map_err(|e| ctx.fail(e))?;
            t.map(|t| t.name).unwrap_or_default()
        }
    };
    let page = HomePage {
        shell: ctx.shell("我的工作"),
        greeting: format!("{}，您好", p.display_name),
        scope_label,
        cards,
        links,
        work: inbox.items,
        work_total: inbox.total,
        warnings,
    };
    ctx.render(&page)
}
