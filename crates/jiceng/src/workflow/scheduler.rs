//! The timer: finds instances whose deadline passed and applies their process's expiry rules.
//! Deadlines live in the database, so a restart loses nothing and the first run after
//! downtime catches up. Each deadline fires once: the claim locks the row (PostgreSQL: `FOR
//! UPDATE SKIP LOCKED`, SQLite: the write lock) and `expiry_handled` records it in the same
//! transaction as its effects.

use std::sync::Arc;
use std::time::Duration;

use workflow::{ExpiryStep, OrgTarget, Registry};

use super::{Who, apply, definition, parse_org_key, store, view};
use crate::audit::{self, Actor};
use crate::db::{Conn, Db};
use crate::error::Result;
use crate::ids::OrgId;
use crate::orgs;
use crate::time::Timestamp;

const BATCH: i64 = 50;

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunReport {
    pub handled: usize,
    pub notices: usize,
    pub auto_acted: usize,
}

async fn resolve(conn: &mut Conn<'_>, target: &OrgTarget) -> Result<Option<OrgId>> {
    Ok(match target {
        OrgTarget::Org(key) => match parse_org_key(key) {
            Some(id) => Some(id),
            // A code written in the process file.
            None => orgs::store::get_by_code(conn, key).await?.map(|o| o.id),
        },
        OrgTarget::ParentOf(key) => match parse_org_key(key) {
            Some(id) => orgs::store::get(conn, id).await?.and_then(|o| o.parent_id),
            None => None,
        },
    })
}

/// Handles every instance due at `now`, in batches, until none is left.
pub async fn run_due(db: &Db, registry: &Registry, now: Timestamp) -> Result<RunReport> {
    let cal = super::calendar(db).await?;
    let actor = Actor::system("timer");
    let mut report = RunReport::default();
    loop {
        let mut tx = db.begin().await?;
        let mut conn = tx.conn();
        let due = store::claim_due(&mut conn, now, BATCH).await?;
        let n = due.len();
        for inst in due {
            let Some(deadline) = inst.deadline else {
                continue;
            };
            let Ok(def) = definition(registry, &inst.process) else {
                tracing::warn!(process = %inst.process, id = %inst.id, "expired instance of an unknown process");
                store::mark_expiry_handled(&mut conn, inst.id, deadline, true).await?;
                continue;
            };
            let steps = match def.expire(&view(&inst), deadline.to_utc(), now.to_utc(), &cal) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(id = %inst.id, error = %e, "expiry rules cannot apply");
                    Vec::new()
                }
            };
            // Passing the deadline makes the instance overdue whatever the rules say.
            store::mark_expiry_handled(&mut conn, inst.id, deadline, true).await?;
            for step in steps {
                match step {
                    ExpiryStep::FlagOverdue => {}
                    ExpiryStep::Notify { role, org } => {
                        let target = resolve(&mut conn, &org).await?;
                        let msg = format!("「{}」已超过办理时限，请尽快处理", inst.subject);
                        store::insert_notice(&mut conn, inst.id, "notify", &role, target, &msg)
                            .await?;
                        report.notices += 1;
                    }
                    ExpiryStep::Escalate { role, org } => {
                        let target = resolve(&mut conn, &org).await?;
                        let msg = format!("「{}」逾期未办，已提请督办", inst.subject);
                        store::insert_notice(&mut conn, inst.id, "escalate", &role, target, &msg)
                            .await?;
                        report.notices += 1;
                    }
                    ExpiryStep::AutoAct { decision } => {
                        apply(
                            &mut conn,
                            def,
                            &cal,
                            &inst,
                            &decision,
                            now,
                            Who {
                                actor: &actor,
                                roles: "system",
                                comment: Some(workflow::AUTO_ACT_COMMENT),
                            },
                            "[]",
                            "{}",
                        )
                        .await?;
                        report.auto_acted += 1;
                    }
                }
            }
            audit::record(
                &mut conn,
                &actor,
                "workflow.expire",
                &format!("{}#{}", inst.process, inst.id),
                &inst.subject,
            )
            .await?;
            report.handled += 1;
        }
        tx.commit().await?;
        if (n as i64) < BATCH {
            return Ok(report);
        }
    }
}

/// Runs the timer every `every` in the background of `serve`.
pub fn spawn_scheduler(
    db: Db,
    registry: Arc<Registry>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match run_due(&db, &registry, Timestamp::now()).await {
                Ok(r) if r.handled > 0 => tracing::info!(
                    handled = r.handled,
                    notices = r.notices,
                    auto = r.auto_acted,
                    "deadlines handled"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "scheduler run failed"),
            }
        }
    })
}
