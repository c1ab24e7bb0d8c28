//! A year of demo cases for the demo district: thousands of reports across townships, grids,
//! categories and sources, each with its tickets, workflow history, parts and ratings.
//!
//! The domain functions stamp every step with the present moment, so a year of history cannot
//! go through them. This writes the same rows they write, through the same store functions
//! where those take a time, with each step's time in the past, and keeps what the domain keeps:
//! a ticket per dispatch round with its `case_ticket` instance and history, deadlines from the
//! process definitions and the working-day calendar, lateness when a step came after its
//! deadline, the figures on the case row that metrics read, one return per unit, a reopened
//! case's second ticket, and each part's own instance. A fixed seed makes every load the same
//! apart from the receipt codes, which stay random so that they cannot be guessed.

use std::collections::HashMap;

use calendar::Calendar;
use workflow::{Definition, Registry};

use crate::cases::model::{self, CategoryFields};
use crate::cases::seed::{Lcg, demo_report};
use crate::cases::{self, store};
use crate::catalog::{self, model::NationalClass};
use crate::db::{Conn, Db};
use crate::error::{Error, Result};
use crate::ids::{CaseId, InstanceId, OrgId, TicketId};
use crate::on_conn;
use crate::orgs::{self, OrgQuery, model::Org, model::OrgKind};
use crate::time::Timestamp;
use crate::workflow as wf;

/// How many cases a demo year holds.
pub const DEMO_CASES: u64 = 3_000;

const HOUR: i64 = 3_600_000_000;

/// Who takes a step, as the history records it.
struct Who<'a> {
    name: &'a str,
    roles: &'a str,
    org: Option<OrgId>,
}

/// One workflow instance being played forward in time; written once more when finished.
struct Flow<'a> {
    def: &'a Definition,
    id: InstanceId,
    state: String,
    version: i64,
    created: Timestamp,
    entered: Timestamp,
    deadline: Option<Timestamp>,
    overdue: bool,
    assignee: Option<OrgId>,
}

struct Start<'a> {
    subject: String,
    subject_ref: String,
    owner: OrgId,
    assignee: Option<OrgId>,
    township: OrgId,
    at: Timestamp,
    who: &'a Who<'a>,
}

impl<'a> Flow<'a> {
    async fn start(
        conn: &mut Conn<'_>,
        cal: &Calendar,
        def: &'a Definition,
        s: Start<'_>,
    ) -> Result<Flow<'a>> {
        let start = def.start(s.at.to_utc(), cal);
        let terminal = def.state(&start.state).is_some_and(|st| st.terminal);
        let deadline = start.deadline.map(Timestamp::from);
        let id = wf::store::insert_all(
            conn,
            &[wf::store::NewRow {
                process: def.name(),
                subject: &s.subject,
                subject_ref: &s.subject_ref,
                owner_org_id: s.owner,
                assignee_org_id: s.assignee,
                township_id: Some(s.township),
                state: &start.state,
                terminal,
                now: s.at,
                deadline,
            }],
        )
        .await?[0];
        history(
            conn,
            id,
            s.at,
            s.who,
            "start",
            "发起",
            None,
            &start.state,
            None,
            "{}",
        )
        .await?;
        Ok(Flow {
            def,
            id,
            state: start.state,
            version: 1,
            created: s.at,
            entered: s.at,
            deadline,
            overdue: false,
            assignee: s.assignee,
        })
    }

    /// Takes `action` at `at`; returns whether it came after the state's deadline.
    #[allow(clippy::too_many_arguments)]
    async fn step(
        &mut self,
        conn: &mut Conn<'_>,
        cal: &Calendar,
        action: &str,
        at: Timestamp,
        who: &Who<'_>,
        comment: Option<&str>,
        fields: &str,
        reassign: Option<Option<OrgId>>,
    ) -> Result<bool> {
        let a = self
            .def
            .action(action)
            .ok_or_else(|| Error::internal(format!("demo action {action}")))?;
        let to = a.to.clone();
        let late = self.deadline.is_some_and(|d| at > d);
        history(
            conn,
            self.id,
            at,
            who,
            action,
            &a.label,
            Some(&self.state),
            &to,
            comment,
            fields,
        )
        .await?;
        let terminal = self.def.state(&to).is_some_and(|s| s.terminal);
        self.deadline = if terminal {
            None
        } else {
            self.def
                .deadline(&to, at.to_utc(), cal)
                .map(Timestamp::from)
        };
        self.overdue |= late;
        self.state = to;
        self.entered = at;
        self.version += 1;
        if let Some(a) = reassign {
            self.assignee = a;
        }
        Ok(late)
    }

    fn terminal(&self) -> bool {
        self.def.state(&self.state).is_some_and(|s| s.terminal)
    }

    /// Writes the instance as it stands. An open instance whose deadline has passed is shown
    /// overdue with its expiry handled, as the scheduler would have left it in that year.
    async fn finish(&self, conn: &mut Conn<'_>, cal: &Calendar, now: Timestamp) -> Result<()> {
        let terminal = self.terminal();
        let expired = !terminal && self.deadline.is_some_and(|d| d < now);
        let working = terminal.then(|| {
            cal.working_time_between(self.created.to_utc(), self.entered.to_utc())
                .num_seconds()
        });
        let expiry = if expired { self.deadline } else { None };
        let completed = terminal.then_some(self.entered);
        on_conn!(conn, c => sqlx::query(
            "UPDATE wf_instances SET state = $1, terminal = $2, assignee_org_id = $3,
                entered_at = $4, deadline = $5, overdue = $6, version = $7, completed_at = $8,
                working_seconds = $9, expiry_handled = $10
             WHERE id = $11"
        )
        .bind(&self.state).bind(terminal).bind(self.assignee).bind(self.entered)
        .bind(self.deadline).bind(self.overdue || expired).bind(self.version).bind(completed)
        .bind(working).bind(expiry).bind(self.id)
        .execute(&mut *c).await?.rows_affected());
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
async fn history(
    conn: &mut Conn<'_>,
    id: InstanceId,
    at: Timestamp,
    who: &Who<'_>,
    action: &str,
    label: &str,
    from: Option<&str>,
    to: &str,
    comment: Option<&str>,
    fields: &str,
) -> Result<()> {
    wf::store::append_history(
        conn,
        &wf::store::HistoryRow {
            instance_id: id,
            at,
            actor_id: None,
            actor: who.name,
            roles: who.roles,
            org_id: who.org,
            action,
            action_label: label,
            from_state: from,
            to_state: to,
            comment,
            attachments: "[]",
            fields,
        },
    )
    .await?;
    Ok(())
}

async fn insert_ticket(
    conn: &mut Conn<'_>,
    case: CaseId,
    seq: i64,
    instance: InstanceId,
    at: Timestamp,
) -> Result<TicketId> {
    let id = on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO case_tickets (case_id, seq, instance_id, created_at) VALUES ($1, $2, $3, $4)
         RETURNING id"
    ).bind(case).bind(seq).bind(instance).bind(at).fetch_one(&mut *c).await?);
    store::set_current_ticket(conn, case, id).await?;
    Ok(id)
}

/// What a township offers for dispatch: its units and the items of its list.
struct Township {
    org: Org,
    units: Vec<Org>,
    /// Listed items the township handles itself: code → name.
    items: HashMap<String, String>,
    /// Items taken back by a department: code → (name, department name).
    returned: HashMap<String, (String, String)>,
    grids: Vec<(Org, Option<(i64, i64)>)>,
}

/// The unit and item a ticket for `cat` goes to, as a dispatcher citing the list would pick.
fn route(t: &Township, cat: &CategoryFields, departments: &[Org]) -> Option<(Org, String, String)> {
    if let Some((name, dept)) = t.returned.get(&cat.duty_item_code)
        && let Some(d) = departments.iter().find(|d| &d.name == dept)
    {
        return Some((d.clone(), cat.duty_item_code.clone(), name.clone()));
    }
    let (code, name) = match t.items.get(&cat.duty_item_code) {
        Some(n) => (cat.duty_item_code.clone(), n.clone()),
        None => {
            // A category without an item of this township's list: the first listed item of
            // the same family (ZR/SD), as a dispatcher would pick the nearest one.
            let mut all: Vec<_> = t.items.iter().collect();
            all.sort();
            let prefix = cat.duty_item_code.get(..2).unwrap_or("ZR");
            let (c, n) = all
                .iter()
                .find(|(c, _)| c.starts_with(prefix))
                .or_else(|| all.first())?;
            ((*c).clone(), (*n).clone())
        }
    };
    let suffix = format!("-{}", cat.department_code);
    let unit = t
        .units
        .iter()
        .find(|u| !cat.department_code.is_empty() && u.code.ends_with(&suffix))
        .unwrap_or(&t.org)
        .clone();
    Some((unit, code, name))
}

fn unit_role(unit: &Org) -> &'static str {
    match unit.kind {
        OrgKind::Township => "township_officer",
        OrgKind::Department => "department_officer",
        _ => "station_head",
    }
}

/// Loads a year of cases into the demo district; returns how many. Call after the rest of the
/// demo is committed: it reads the townships' lists and grids.
pub async fn load(db: &Db) -> Result<u64> {
    let registry: Registry = wf::embedded_processes();
    let def = |name: &str| {
        registry
            .get(name)
            .ok_or_else(|| Error::internal(format!("process {name}")))
    };
    let (ticket_def, summon_def, joint_def, referral_def) = (
        def(cases::PROCESS)?,
        def("case_summon")?,
        def("case_joint")?,
        def("case_referral")?,
    );
    let cal = wf::calendar(db).await?;
    let (district, townships, departments, grids) = {
        let mut c = db.acquire().await?;
        let mut conn = c.conn();
        let district = orgs::store::get_by_code(&mut conn, "510117000000")
            .await?
            .ok_or_else(|| Error::internal("demo district"))?;
        let list = |kind| OrgQuery {
            kind: Some(kind),
            limit: 10_000,
            ..Default::default()
        };
        let (townships, _) = orgs::store::list(&mut conn, &list(OrgKind::Township)).await?;
        let (departments, _) = orgs::store::list(&mut conn, &list(OrgKind::Department)).await?;
        let (grids, _) = orgs::store::list(&mut conn, &list(OrgKind::Grid)).await?;
        (district, townships, departments, grids)
    };
    let categories: HashMap<String, CategoryFields> = cases::categories(db, district.id)
        .await?
        .into_iter()
        .map(|c| (c.code.clone(), c))
        .collect();
    let mut towns = Vec::new();
    for t in townships.into_iter().filter(|t| t.is_within(&district)) {
        let list = catalog::effective(db, district.id, t.id, false).await?;
        let mut items = HashMap::new();
        let mut returned = HashMap::new();
        for e in list.items.into_iter().filter(|e| e.excluded.is_none()) {
            if e.item.national_class == NationalClass::Returned {
                returned.insert(e.item.code, (e.item.name, e.item.returned_to));
            } else {
                items.insert(e.item.code, e.item.name);
            }
        }
        let units = {
            let mut c = db.acquire().await?;
            cases::units_of(&mut c.conn(), &t).await?
        };
        let mut gs = Vec::new();
        for g in grids.iter().filter(|g| g.is_within(&t)) {
            // Coordinates where the grid has a boundary, so that the map shows the case.
            let p = crate::grids::interior_point(db, g.id).await?;
            gs.push((
                g.clone(),
                p.map(|(lon, lat)| ((lon * 1e7).round() as i64, (lat * 1e7).round() as i64)),
            ));
        }
        towns.push(Township {
            org: t,
            units,
            items,
            returned,
            grids: gs,
        });
    }
    if towns.is_empty() || categories.is_empty() {
        return Err(Error::internal("demo cases: no townships or categories"));
    }
    // 犀浦街道 is where the demo accounts work: it gets a larger share.
    let weights: Vec<usize> = towns
        .iter()
        .map(|t| if t.org.code == "510117006000" { 6 } else { 1 })
        .collect();
    let total_weight: usize = weights.iter().sum();

    let now = Timestamp::now();
    let year = 365 * 24 * HOUR;
    let mut r = Lcg(0xDE30_CA5E_2026);
    // The moments the cases came in, spread over the year and a little denser towards now as
    // use of the platform grew; drawn first and taken oldest first, so that case numbers rise
    // with time as they do when people take cases in.
    let mut ages: Vec<i64> = {
        let mut a = Lcg(0xA9E5_CA5E_2026);
        (0..DEMO_CASES)
            .map(|i| {
                let x = a.below(year as u64) as i64;
                let y = a.below(year as u64) as i64;
                let age = if i % 3 == 0 { x.min(y) } else { x };
                age + a.below(HOUR as u64) as i64
            })
            .collect()
    };
    ages.sort_unstable_by(|x, y| y.cmp(x));
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let mut made = 0u64;
    for age in ages {
        let mut k = r.below(total_weight as u64) as usize;
        let t = towns
            .iter()
            .zip(&weights)
            .find(|(_, w)| {
                if k < **w {
                    true
                } else {
                    k -= **w;
                    false
                }
            })
            .map(|(t, _)| t)
            .unwrap_or(&towns[0]);
        let rep = demo_report(&mut r, &t.org.name);
        let Some(cat) = categories.get(rep.category) else {
            continue;
        };
        let Some((unit, item_code, item_name)) = route(t, cat, &departments) else {
            continue;
        };
        // The draws that once gave the moment are still made, so that every other choice
        // of the demo stays as it was.
        let _ = (
            r.below(year as u64),
            r.below(year as u64),
            r.below(HOUR as u64),
        );
        let created = Timestamp::from_micros(now.as_micros() - age);
        let source = match r.below(20) {
            0..=5 => model::Source::GridWorker,
            6..=8 => model::Source::Patrol,
            9..=11 => model::Source::CitizenWeb,
            12 => model::Source::CitizenApi,
            13..=18 => model::Source::Hotline,
            _ => model::Source::Platform,
        };
        let urgent = r.chance(8);
        let grid = (!t.grids.is_empty()).then(|| r.pick(&t.grids));
        let staff = matches!(source, model::Source::GridWorker | model::Source::Patrol);
        let receipt = model::new_receipt_code();
        let case = store::insert_case(
            &mut conn,
            &store::NewCaseRow {
                id: None,
                district_id: district.id,
                township_id: t.org.id,
                grid_id: grid.map(|g| g.0.id),
                source: source.as_str(),
                category_code: &cat.code,
                urgency: if urgent { "urgent" } else { "normal" },
                description: &rep.description,
                address: &rep.address,
                coordinates: grid.and_then(|g| g.1),
                reporter_name: if staff { "" } else { &rep.reporter_name },
                reporter_phone: if staff { "" } else { &rep.reporter_phone },
                reporter_user_id: None,
                receipt_code: &receipt,
                external_ref: None,
                now: created,
                by: "系统:demo",
                suggested_category: None,
                suggested_unit: None,
                ticket: None,
                duplicate_offers: "",
            },
        )
        .await?;
        play(
            &mut conn,
            &cal,
            Defs {
                ticket: ticket_def,
                summon: summon_def,
                joint: joint_def,
                referral: referral_def,
            },
            &mut r,
            Case {
                id: case,
                no: cases::number(case, created),
                created,
                township: t,
                category: cat,
                unit,
                item_code,
                item_name,
                departments: &departments,
                now,
            },
        )
        .await?;
        made += 1;
    }
    crate::audit::record(
        &mut conn,
        &crate::audit::Actor::system("demo"),
        "demo.cases",
        "郫都区",
        &format!("载入近一年演示案件 {made} 件"),
    )
    .await?;
    tx.commit().await?;
    suggest_waiting(db, district.id).await?;
    Ok(made)
}

/// Gives the open cases the routing suggestions they would have had when they came in (a
/// dispatcher sees them on the cases waiting for dispatch): from models that learnt the
/// year's routed cases, as a running platform's had.
async fn suggest_waiting(db: &Db, district: OrgId) -> Result<()> {
    let router = cases::suggest::CaseRouter::new();
    router.ensure(db, district).await?;
    let waiting = {
        let mut c = db.acquire().await?;
        store::unsuggested_open(&mut c.conn(), district).await?
    };
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    fn guess(g: &cases::suggest::Guess) -> Option<(&str, i64)> {
        g.as_ref().map(|(l, p)| (l.as_str(), *p))
    }
    for (id, description) in waiting {
        let (category, unit) = router.suggest(&description);
        store::set_suggestion(&mut conn, id, guess(&category), guess(&unit)).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[derive(Clone, Copy)]
struct Defs<'a> {
    ticket: &'a Definition,
    summon: &'a Definition,
    joint: &'a Definition,
    referral: &'a Definition,
}

struct Case<'a> {
    id: CaseId,
    no: String,
    created: Timestamp,
    township: &'a Township,
    category: &'a CategoryFields,
    unit: Org,
    item_code: String,
    item_name: String,
    departments: &'a [Org],
    now: Timestamp,
}

/// The figures kept on the case row, as the domain's facts would have left them.
#[derive(Default)]
struct Facts {
    unit: Option<OrgId>,
    dispatched: Option<(Timestamp, bool)>,
    accepted: Option<(Timestamp, bool)>,
    closed: Option<(Timestamp, bool)>,
    rework: i64,
    rating: Option<&'static str>,
    outcome: &'static str,
    reopen_reason: Option<String>,
}

/// `min..max` working hours after `from`, and now and then (`late_pct` %) one to six working
/// days more. Working time, so that people act in office hours and on working days, while
/// reports come in at any hour.
fn after(
    cal: &Calendar,
    r: &mut Lcg,
    from: Timestamp,
    min: i64,
    max: i64,
    late_pct: u64,
) -> Timestamp {
    let mut micros = min * HOUR + r.below(((max - min).max(1) * HOUR) as u64) as i64;
    if r.chance(late_pct) {
        micros += (8 + r.below(40) as i64) * HOUR;
    }
    Timestamp::from(cal.add_working_time(from.to_utc(), chrono::TimeDelta::microseconds(micros)))
}

const RETURN_REASONS: &[&str] = &[
    "不属于本单位职责，应由属地社区先行处置",
    "经核实该事项不属于本单位职责范围",
];
const REPORTS: &[&str] = &[
    "已到现场核实并责令整改，现场已恢复正常",
    "已联系当事人限期整改，复查已整改到位",
    "已组织人员清理完毕，并加强日常巡查",
    "已依法立案调查，现场问题已处置",
    "已约谈相关负责人，现场已规范",
];
const REWORKS: &[&str] = &[
    "现场核查仍未整改到位，请继续处置",
    "复查发现问题反弹，请返工",
];
const COMMENTS: &[(&str, &str)] = &[
    ("satisfied", "处理很及时，谢谢！"),
    ("satisfied", "工作人员态度很好，问题解决了"),
    ("basic", "问题基本解决，希望加强日常管理"),
    ("basic", "处理有点慢，但结果还可以"),
    ("dissatisfied", "问题没有根本解决，过几天又出现了"),
];
const OFFICERS: &[&str] = &["赵国栋", "钱立新", "孙海燕", "李建军", "周文博", "吴晓梅"];

/// Plays one case forward from its intake: dispatch rounds, parts, closure, rating and a
/// possible reopening, stopping wherever the present moment is reached.
async fn play(
    conn: &mut Conn<'_>,
    cal: &Calendar,
    defs: Defs<'_>,
    r: &mut Lcg,
    c: Case<'_>,
) -> Result<()> {
    let t = c.township;
    let dispatcher_name = format!("{}指挥中心调度员", t.org.name);
    let dispatcher = Who {
        name: &dispatcher_name,
        roles: "dispatcher",
        org: Some(t.org.id),
    };
    let unit_who = Who {
        name: &c.unit.name,
        roles: unit_role(&c.unit),
        org: Some(c.unit.id),
    };
    let grid_who = Who {
        name: "网格员",
        roles: "grid_worker",
        org: Some(t.org.id),
    };
    let leader = Who {
        name: "镇（街道）分管领导",
        roles: "township_leader",
        org: Some(t.org.id),
    };
    let mut f = Facts {
        outcome: "open",
        ..Default::default()
    };
    let roll = r.below(1000);
    let mut seq = 1;
    let mut at = c.created;
    let mut reopened = false;
    'tickets: loop {
        let mut flow = Flow::start(
            conn,
            cal,
            defs.ticket,
            Start {
                subject: format!("案件 {} {}", c.no, c.category.minor),
                subject_ref: format!("case:{}#{seq}", c.id.0),
                owner: t.org.id,
                assignee: None,
                township: t.org.id,
                at,
                who: &dispatcher,
            },
        )
        .await?;
        let ticket = insert_ticket(conn, c.id, seq, flow.id, at).await?;
        // The steps of this round, each at its time; stop at the present.
        macro_rules! next {
            ($min:expr, $max:expr, $late:expr) => {{
                at = after(cal, r, at, $min, $max, $late);
                if at >= c.now {
                    flow.finish(conn, cal, c.now).await?;
                    break 'tickets;
                }
            }};
        }
        next!(0, 3, 3);
        if seq == 1 && roll < 20 {
            flow.step(
                conn,
                cal,
                "dismiss",
                at,
                &dispatcher,
                Some("经核实不属于受理范围，已向反映人解释"),
                "{}",
                None,
            )
            .await?;
            f.outcome = "dismissed";
            flow.finish(conn, cal, c.now).await?;
            break;
        }
        if seq == 1 && roll < 40 {
            refer(conn, cal, defs, r, &c, &mut flow, &dispatcher, at, &mut f).await?;
            break;
        }
        let fields = serde_json::json!({
            "duty_item": format!("{} {}", c.item_code, c.item_name),
            "unit": c.unit.name,
        })
        .to_string();
        // A unit returns a ticket once, saying it is not theirs; the dispatcher sends it on.
        if seq == 1 && roll < 70 && c.unit.id != t.org.id {
            let late = flow
                .step(
                    conn,
                    cal,
                    "dispatch",
                    at,
                    &dispatcher,
                    None,
                    &fields,
                    Some(Some(c.unit.id)),
                )
                .await?;
            f.dispatched.get_or_insert((at, late));
            f.unit = Some(c.unit.id);
            store::set_ticket_unit(conn, ticket, c.unit.id, &c.item_code, &c.item_name).await?;
            next!(1, 8, 2);
            let reason = r.pick(RETURN_REASONS);
            flow.step(
                conn,
                cal,
                "return",
                at,
                &unit_who,
                Some(reason),
                "{}",
                Some(Some(t.org.id)),
            )
            .await?;
            on_conn!(conn, cn => sqlx::query(
                "INSERT INTO case_returns (ticket_id, unit_org_id, reason, created_at, created_by)
                 VALUES ($1, $2, $3, $4, $5)"
            ).bind(ticket).bind(c.unit.id).bind(*reason).bind(at).bind(unit_who.name)
            .execute(&mut *cn).await?.rows_affected());
            next!(0, 2, 2);
        }
        // After a return the township handles it itself, citing the same item.
        let returned = seq == 1 && (40..70).contains(&roll) && c.unit.id != t.org.id;
        let unit = if returned { &t.org } else { &c.unit };
        let who = if returned {
            Who {
                name: &t.org.name,
                roles: "township_officer",
                org: Some(t.org.id),
            }
        } else {
            Who {
                name: unit_who.name,
                roles: unit_who.roles,
                org: unit_who.org,
            }
        };
        let fields = serde_json::json!({
            "duty_item": format!("{} {}", c.item_code, c.item_name),
            "unit": unit.name,
        })
        .to_string();
        let late = flow
            .step(
                conn,
                cal,
                "dispatch",
                at,
                &dispatcher,
                None,
                &fields,
                Some(Some(unit.id)),
            )
            .await?;
        f.dispatched.get_or_insert((at, late));
        f.unit = Some(unit.id);
        store::set_ticket_unit(conn, ticket, unit.id, &c.item_code, &c.item_name).await?;
        // What the dispatcher's routing taught the router, as a dispatch does.
        let label = cases::suggest::unit_label(conn, unit).await?;
        store::set_learned(conn, c.id, Some(&c.category.code), Some(&label)).await?;
        next!(0, 6, 4);
        let late = flow
            .step(conn, cal, "accept", at, &who, None, "{}", None)
            .await?;
        f.accepted.get_or_insert((at, late));
        // Parts other units handle while the ticket is in hand.
        let mut parts_done = true;
        if seq == 1 && (70..110).contains(&roll) {
            parts_done = summon(conn, cal, defs, r, &c, &leader, &mut at).await?;
        } else if seq == 1 && (110..140).contains(&roll) {
            parts_done = joint(conn, cal, defs, r, &c, &dispatcher, &mut at).await?;
        }
        if !parts_done {
            flow.finish(conn, cal, c.now).await?;
            break;
        }
        let mut reworks = i64::from((140..200).contains(&roll) && seq == 1);
        loop {
            next!(2, 30, 5);
            flow.step(
                conn,
                cal,
                "report",
                at,
                &who,
                Some(*r.pick(REPORTS)),
                "{}",
                None,
            )
            .await?;
            next!(1, 7, 3);
            let checker = if r.chance(50) { &dispatcher } else { &grid_who };
            if reworks > 0 {
                reworks -= 1;
                flow.step(
                    conn,
                    cal,
                    "rework",
                    at,
                    checker,
                    Some(*r.pick(REWORKS)),
                    "{}",
                    None,
                )
                .await?;
                f.rework += 1;
                continue;
            }
            flow.step(conn, cal, "close", at, checker, None, "{}", None)
                .await?;
            f.closed = Some((at, flow.overdue));
            f.outcome = "closed";
            break;
        }
        flow.finish(conn, cal, c.now).await?;
        // The reporter's revisit: most rate; a dissatisfied first rating may reopen the case.
        next!(2, 24, 0);
        if !r.chance(80) {
            break;
        }
        let reopen = !reopened && (200..230).contains(&roll);
        let (rating, comment) = if reopen {
            ("dissatisfied", "问题没有根本解决，过几天又出现了")
        } else {
            let (k, text) = *r.pick(COMMENTS);
            // Most people are satisfied; the list above over-represents complaints.
            if k == "dissatisfied" && r.chance(60) {
                ("satisfied", "处理及时，满意")
            } else {
                (k, text)
            }
        };
        // The hotline revisits its callers and rates on their behalf.
        let rated_by = if r.chance(30) {
            "12345热线回访"
        } else {
            "reporter"
        };
        let reopen = reopen || (rating == "dissatisfied" && !reopened && r.chance(40));
        on_conn!(conn, cn => sqlx::query(
            "INSERT INTO case_ratings (case_id, ticket_id, via_case_id, rating, comment, rated_by,
                reopened, created_at) VALUES ($1, $2, $1, $3, $4, $5, $6, $7)"
        ).bind(c.id).bind(ticket).bind(rating).bind(comment).bind(rated_by).bind(reopen).bind(at)
        .execute(&mut *cn).await?.rows_affected());
        f.rating = Some(rating);
        if !reopen {
            break;
        }
        reopened = true;
        f.reopen_reason = Some(comment.to_owned());
        f.outcome = "open";
        f.closed = None;
        seq += 1;
    }
    let late = |x: Option<(Timestamp, bool)>| i64::from(x.is_some_and(|(_, l)| l));
    on_conn!(conn, cn => sqlx::query(
        "UPDATE cases SET unit_org_id = $1, dispatched_at = $2, dispatch_late = $3,
            accepted_at = $4, accept_late = $5, closed_at = $6, close_late = $7,
            rework_count = $8, rating = $9, outcome = $10, reopen_count = $11, reopen_reason = $12
         WHERE id = $13"
    )
    .bind(f.unit).bind(f.dispatched.map(|x| x.0)).bind(late(f.dispatched))
    .bind(f.accepted.map(|x| x.0)).bind(late(f.accepted)).bind(f.closed.map(|x| x.0))
    .bind(late(f.closed)).bind(f.rework).bind(f.rating).bind(f.outcome)
    .bind(i64::from(reopened)).bind(f.reopen_reason.as_deref()).bind(c.id)
    .execute(&mut *cn).await?.rows_affected());
    Ok(())
}

/// The department a part goes to: the category's own, else the urban management bureau.
fn department<'a>(c: &'a Case<'_>) -> Option<&'a Org> {
    c.departments
        .iter()
        .find(|d| d.code == c.category.department_code)
        .or_else(|| c.departments.iter().find(|d| d.code == "BM04"))
        .or_else(|| c.departments.first())
}

/// A part of case `c` (`kind` referral, summon or joint, named `label` in its subject) for
/// `unit`: its own process instance and the `case_parts` row that follows it.
#[allow(clippy::too_many_arguments)]
async fn start_part<'d>(
    conn: &mut Conn<'_>,
    cal: &Calendar,
    def: &'d Definition,
    c: &Case<'_>,
    (kind, label): (&str, &str),
    unit: &Org,
    reason: &str,
    due: Option<Timestamp>,
    at: Timestamp,
    who: &Who<'_>,
) -> Result<(Flow<'d>, i64)> {
    let flow = Flow::start(
        conn,
        cal,
        def,
        Start {
            subject: format!("案件 {} {label}：{}", c.no, unit.name),
            subject_ref: format!("case:{}#{kind}1", c.id.0),
            owner: c.township.org.id,
            assignee: Some(unit.id),
            township: c.township.org.id,
            at,
            who,
        },
    )
    .await?;
    let part = on_conn!(conn, cn => sqlx::query_scalar(
        "INSERT INTO case_parts (case_id, kind, instance_id, unit_org_id, township_id, reason,
            due_at, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         RETURNING id"
    ).bind(c.id).bind(kind).bind(flow.id).bind(unit.id).bind(c.township.org.id).bind(reason)
    .bind(due).bind(at).bind("系统:demo").fetch_one(&mut *cn).await?);
    Ok((flow, part))
}

/// 移送: the ticket is referred and a referral part goes to the competent department, which
/// acknowledges and later reports the outcome.
#[allow(clippy::too_many_arguments)]
async fn refer(
    conn: &mut Conn<'_>,
    cal: &Calendar,
    defs: Defs<'_>,
    r: &mut Lcg,
    c: &Case<'_>,
    ticket: &mut Flow<'_>,
    dispatcher: &Who<'_>,
    mut at: Timestamp,
    f: &mut Facts,
) -> Result<()> {
    let Some(dept) = department(c) else {
        return Ok(());
    };
    let reason = format!("该事项未下放至乡镇（街道），移送{}依法处理", dept.name);
    ticket
        .step(
            conn,
            cal,
            "refer",
            at,
            dispatcher,
            Some(&reason),
            "{}",
            None,
        )
        .await?;
    f.outcome = "referred";
    ticket.finish(conn, cal, c.now).await?;
    let (mut flow, part) = start_part(
        conn,
        cal,
        defs.referral,
        c,
        ("referral", "移送"),
        dept,
        &reason,
        None,
        at,
        dispatcher,
    )
    .await?;
    let dept_who = Who {
        name: &dept.name,
        roles: "department_officer",
        org: Some(dept.id),
    };
    at = after(cal, r, at, 1, 16, 5);
    if at < c.now {
        flow.step(conn, cal, "acknowledge", at, &dept_who, None, "{}", None)
            .await?;
        let done = after(cal, r, at, 16, 120, 5);
        if done < c.now {
            let outcome = "已立案查处，依法作出行政处罚决定";
            flow.step(
                conn,
                cal,
                "conclude",
                done,
                &dept_who,
                Some(outcome),
                "{}",
                None,
            )
            .await?;
            store::part_done(conn, part, outcome, done).await?;
        }
    }
    flow.finish(conn, cal, c.now).await
}

/// 吹哨报到: the township summons the department, which reports naming its officer, replies,
/// and is scored. Returns whether the reply came before the present.
async fn summon(
    conn: &mut Conn<'_>,
    cal: &Calendar,
    defs: Defs<'_>,
    r: &mut Lcg,
    c: &Case<'_>,
    leader: &Who<'_>,
    at: &mut Timestamp,
) -> Result<bool> {
    let Some(dept) = department(c) else {
        return Ok(true);
    };
    *at = after(cal, r, *at, 1, 16, 0);
    if *at >= c.now {
        return Ok(false);
    }
    let reason = format!("超出镇街处置能力，吹哨{}到场联合处置", dept.name);
    let (mut flow, part) = start_part(
        conn,
        cal,
        defs.summon,
        c,
        ("summon", "吹哨报到"),
        dept,
        &reason,
        None,
        *at,
        leader,
    )
    .await?;
    let dept_who = Who {
        name: &dept.name,
        roles: "department_officer",
        org: Some(dept.id),
    };
    let mut done = false;
    let reported = after(cal, r, *at, 1, 8, 12);
    if reported < c.now {
        let officer = format!("{} 执法大队", r.pick(OFFICERS));
        let fields = serde_json::json!({ "officer": officer }).to_string();
        let late = flow
            .step(
                conn, cal, "report", reported, &dept_who, None, &fields, None,
            )
            .await?;
        store::part_reported(conn, part, &officer, !late, reported).await?;
        let replied = after(cal, r, reported, 4, 32, 8);
        if replied < c.now {
            let reply = "已派员到场，会同镇街完成处置";
            flow.step(
                conn,
                cal,
                "reply",
                replied,
                &dept_who,
                Some(reply),
                "{}",
                None,
            )
            .await?;
            store::part_done(conn, part, reply, replied).await?;
            *at = replied;
            done = true;
            let scored = after(cal, r, replied, 1, 8, 0);
            if scored < c.now {
                let score = if late { 3 } else { 4 + r.below(2) as i64 };
                let comment = if late {
                    "报到不够及时，处置结果尚可"
                } else {
                    "响应迅速，配合到位"
                };
                let fields = serde_json::json!({ "score": score.to_string() }).to_string();
                flow.step(
                    conn,
                    cal,
                    "rate",
                    scored,
                    leader,
                    Some(comment),
                    &fields,
                    None,
                )
                .await?;
                store::part_scored(conn, part, score, comment).await?;
            }
        }
    }
    flow.finish(conn, cal, c.now).await?;
    Ok(done)
}

/// 联合执法: a co-unit with its own task and deadline reports its findings; the ticket goes
/// on only once it has.
async fn joint(
    conn: &mut Conn<'_>,
    cal: &Calendar,
    defs: Defs<'_>,
    r: &mut Lcg,
    c: &Case<'_>,
    dispatcher: &Who<'_>,
    at: &mut Timestamp,
) -> Result<bool> {
    let co = c
        .township
        .units
        .iter()
        .find(|u| u.id != c.unit.id && u.kind == OrgKind::Station)
        .or_else(|| department(c));
    let Some(co) = co else {
        return Ok(true);
    };
    *at = after(cal, r, *at, 1, 8, 0);
    if *at >= c.now {
        return Ok(false);
    }
    let task = format!("请{}派员参加联合执法，负责现场取证", co.name);
    let due = Timestamp::from(cal.add_working_days(at.to_utc(), 3));
    let (mut flow, part) = start_part(
        conn,
        cal,
        defs.joint,
        c,
        ("joint", "联合执法"),
        co,
        &task,
        Some(due),
        *at,
        dispatcher,
    )
    .await?;
    // The co-unit's own deadline is the one the dispatcher set.
    flow.deadline = Some(due);
    let co_who = Who {
        name: &co.name,
        roles: unit_role(co),
        org: Some(co.id),
    };
    let mut done = false;
    let accepted = after(cal, r, *at, 1, 8, 0);
    if accepted < c.now {
        flow.step(conn, cal, "accept", accepted, &co_who, None, "{}", None)
            .await?;
        flow.deadline = Some(due);
        let reported = after(cal, r, accepted, 2, 20, 6);
        if reported < c.now {
            let findings = "已联合现场检查，固定证据并责令当事人整改";
            flow.step(
                conn,
                cal,
                "report",
                reported,
                &co_who,
                Some(findings),
                "{}",
                None,
            )
            .await?;
            store::part_done(conn, part, findings, reported).await?;
            *at = reported;
            done = true;
        }
    }
    flow.finish(conn, cal, c.now).await?;
    Ok(done)
}
