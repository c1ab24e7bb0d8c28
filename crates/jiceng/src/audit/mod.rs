//! The audit trail: every login, failed login, permission denial and data change, appended to
//! a hash chain (one of several on PostgreSQL, one per concurrent writer) so that
//! `jiceng audit verify` detects an edited or deleted row.

pub mod routes;
mod store;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::{Conn, Db, Writes};
use crate::error::{Error, Result};
use crate::ids::{OrgId, UserId};
use crate::time::Timestamp;

pub use store::{
    AuditFilter, AuditPage, Claim, claim_free, count_since, search, stream_for_export,
};

/// Who acted and from where: carried from the request into every domain write.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<UserId>,
    /// The username, or 匿名 for the public.
    pub name: String,
    pub org_id: Option<OrgId>,
    pub ip: String,
    pub request_id: String,
}

impl Actor {
    /// An actor for work done by the binary itself (migrations, demo loading, timers).
    pub fn system(what: &str) -> Self {
        Actor {
            name: format!("系统:{what}"),
            ip: "-".into(),
            request_id: "-".into(),
            ..Default::default()
        }
    }
}

/// One row of the trail as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AuditRecord {
    pub seq: i64,
    #[schema(value_type = String)]
    pub at: Timestamp,
    #[schema(value_type = Option<i64>)]
    pub actor_id: Option<UserId>,
    pub actor: String,
    #[schema(value_type = Option<i64>)]
    pub org_id: Option<OrgId>,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub ip: String,
    pub request_id: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRecord {
    /// The hash a row must carry. Fields are length-prefixed so that no two different rows
    /// can serialise to the same bytes.
    pub fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        let mut field = |b: &[u8]| {
            h.update((b.len() as u64).to_be_bytes());
            h.update(b);
        };
        field(self.prev_hash.as_bytes());
        field(&self.seq.to_be_bytes());
        field(&self.at.as_micros().to_be_bytes());
        field(&self.actor_id.map(|u| u.0).unwrap_or(-1).to_be_bytes());
        field(self.actor.as_bytes());
        field(&self.org_id.map(|o| o.0).unwrap_or(-1).to_be_bytes());
        field(self.action.as_bytes());
        field(self.target.as_bytes());
        field(self.detail.as_bytes());
        field(self.ip.as_bytes());
        field(self.request_id.as_bytes());
        hex::encode(h.finalize())
    }

    pub fn action_label(&self) -> &'static str {
        action_label(&self.action)
    }

    pub fn at_local(&self) -> String {
        self.at.local_seconds()
    }
}

/// zh-CN names of the actions, for pages and exports.
pub fn action_label(action: &str) -> &'static str {
    match action {
        "login" => "登录",
        "login_failed" => "登录失败",
        "logout" => "退出登录",
        "session_expired" => "会话超时",
        "permission_denied" => "越权访问被拒绝",
        "csrf_rejected" => "跨站请求被拒绝",
        "account.password_change" => "修改本人密码",
        "account.password_change_failed" => "修改密码时原密码错误",
        "org.create" => "新建组织",
        "org.rename" => "组织更名",
        "org.move" => "组织调整隶属",
        "org.retire" => "撤销组织",
        "user.create" => "新建账号",
        "user.update" => "修改账号",
        "user.password_reset" => "重置密码",
        "user.unlock" => "解除锁定",
        "user.disable" => "停用账号",
        "user.enable" => "启用账号",
        "user.lock" => "账号锁定",
        "audit.export" => "导出审计日志",
        "audit.purge" => "清理过期审计日志",
        "demo.load" => "载入演示数据",
        "demo.cases" => "载入演示案件",
        "workdays.set" => "录入或更正工作日安排",
        "workdays.reset" => "撤销工作日安排更正",
        "workdays.import" => "导入节假日安排",
        "catalog.change" => "修改权责清单",
        "catalog.publish" => "发布权责清单",
        "catalog.scheme" => "设置清单体例",
        "delegation.power" => "登记下放事项",
        "delegation.supervision" => "记录指导监督",
        "delegation.admission" => "填报事务准入申请",
        "open311.key_create" => "发放 Open311 密钥",
        "open311.key_revoke" => "停用 Open311 密钥",
        "grids.import" => "导入网格边界",
        "grids.assign" => "配备网格员",
        "grids.unassign" => "网格员离任",
        "grids.task" => "布置网格任务",
        "grids.task_done" => "办理网格任务",
        "grids.patrol_start" => "开始巡查",
        "grids.patrol_point" => "记录巡查点位",
        "grids.patrol_finish" => "结束巡查",
        "grids.problem" => "记录巡查发现问题",
        "grids.building" => "登记楼栋",
        "grids.household" => "登记住户",
        "grids.place" => "登记重点场所",
        "grids.reveal" => "查看住户完整信息",
        "workflow.start" => "发起流程",
        "workflow.act" => "办理流程",
        "workflow.expire" => "办理时限到期处理",
        "case.intake" => "受理案件",
        "case.import" => "导入 12345 工单",
        "case.category" => "维护事件类别",
        "case.settings" => "设置重复案件识别",
        "case.view_contact" => "查看案件反映人联系方式",
        "case.dispatch" => "派遣案件",
        "case.return" => "退回案件",
        "case.accept" => "签收案件",
        "case.report" => "案件处置反馈",
        "case.close" => "核查结案",
        "case.rework" => "案件返工",
        "case.dismiss" => "案件不予立案",
        "case.merge" => "合并重复案件",
        "case.rate" => "案件回访评价",
        "case.reopen" => "案件重新办理",
        "case.summon" => "吹哨报到：呼叫部门",
        "case.summon_report" => "吹哨报到：部门报到",
        "case.summon_reply" => "吹哨报到：部门答复",
        "case.summon_rate" => "吹哨报到：评价部门",
        "case.joint" => "联合执法：增加协办单位",
        "case.joint_accept" => "联合执法：协办签收",
        "case.joint_report" => "联合执法：协办反馈",
        "case.referral" => "移送案件",
        "case.referral_acknowledge" => "移送：部门接收",
        "case.referral_conclude" => "移送：抄告处理结果",
        "case.classify" => "确认案件分类",
        "case.export" => "导出案件列表",
        "case.metrics_export" => "导出案件统计",
        "case.attachment" => "下载案件附件",
        _ => "其他操作",
    }
}

/// Appends one event inside the caller's transaction, so that the change and its audit row
/// commit or roll back together.
pub async fn record(
    conn: &mut Conn<'_>,
    actor: &Actor,
    action: &str,
    target: &str,
    detail: &str,
) -> Result<()> {
    record_all(
        conn,
        &[Event {
            actor,
            action,
            target: target.to_owned(),
            detail: detail.to_owned(),
        }],
    )
    .await
}

/// One event for [`record_all`].
pub struct Event<'a> {
    pub actor: &'a Actor,
    pub action: &'a str,
    pub target: String,
    pub detail: String,
}

/// Appends events in order inside the caller's transaction, in two statements on PostgreSQL and
/// three on SQLite however many there are.
pub async fn record_all(conn: &mut Conn<'_>, events: &[Event<'_>]) -> Result<()> {
    let mut writes = Writes::default();
    record_in(conn, &mut writes, events).await?;
    writes.run(conn).await.map_err(Error::from)
}

/// [`record_all`] with the caller's other writes: on PostgreSQL the events' chain is taken
/// here, and their rows go with the writes.
pub async fn record_in(
    conn: &mut Conn<'_>,
    writes: &mut Writes,
    events: &[Event<'_>],
) -> Result<()> {
    record_claimed(conn, writes, None, events).await
}

/// [`record_in`] on the chain a statement of the caller's took ([`claim_free`]), if any.
pub async fn record_claimed(
    conn: &mut Conn<'_>,
    writes: &mut Writes,
    claimed: Option<Claim>,
    events: &[Event<'_>],
) -> Result<()> {
    store::append(conn, writes, claimed, events)
        .await
        .map_err(Error::from)
}

/// Appends one event in a transaction of its own (failed logins, denials: there is no change
/// to commit with them).
pub async fn record_alone(
    db: &Db,
    actor: &Actor,
    action: &str,
    target: &str,
    detail: &str,
) -> Result<()> {
    let mut tx = db.begin().await?;
    record(&mut tx.conn(), actor, action, target, detail).await?;
    tx.commit().await?;
    Ok(())
}

/// What `verify` found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VerifyReport {
    pub rows_checked: i64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    pub problems: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Walks every chain. Reports, by sequence number, every row whose content no longer matches
/// its hash, every broken link (a deleted or rewritten row) and a head that does not match its
/// chain's last row (deleted tail).
pub async fn verify(db: &Db) -> Result<VerifyReport> {
    store::verify(db).await.map_err(Error::from)
}

/// Deletes rows older than `retention_days` (never fewer than 184: the legal minimum), keeping
/// the chain verifiable from the first remaining row. Returns how many rows went.
pub async fn purge(db: &Db, actor: &Actor, retention_days: u32, now: Timestamp) -> Result<u64> {
    if retention_days < MIN_RETENTION_DAYS {
        return Err(Error::invalid(
            "retention_days",
            format!("审计日志至少保存 {MIN_RETENTION_DAYS} 天"),
        ));
    }
    let cutoff = now.plus_seconds(-(i64::from(retention_days) * 86_400));
    store::purge(db, actor, cutoff).await.map_err(Error::from)
}

pub const MIN_RETENTION_DAYS: u32 = 184;
