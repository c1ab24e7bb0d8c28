//! Routing suggestions: for each new case, the likely category and responsible unit from its
//! text, with a confidence. Two [`routing::Router`]s, built lazily on first use from the
//! district's category names, the names of the catalog items the categories cite, and the
//! cases people have already routed (confirmed category, dispatched unit). Every confirmation
//! is learnt and every correction relabels the example, so the next suggestion follows people.
//!
//! Units are learnt by kind, not by organisation, so that a dispatch in one township teaches
//! all of them: a station is known by its department's code (BM03 → 犀浦市场监管所 in 犀浦,
//! the market station elsewhere), the township's own offices by [`TOWNSHIP`], a department by
//! its code. The models live in this process's memory; another `serve` instance learns the
//! same examples when it next builds its models from the database.

use std::sync::RwLock;

use routing::{Features, Router};

use super::store;
use crate::db::{Conn, Db};
use crate::error::Result;
use crate::ids::OrgId;
use crate::on_conn;
use crate::orgs::{self, model::Org, model::OrgKind};

/// The unit label of a township's own offices.
pub const TOWNSHIP: &str = "township";

/// How many routed cases seed the models.
const SEED_CASES: i64 = 50_000;

struct Models {
    district: OrgId,
    category: Router,
    unit: Router,
}

/// The case router of the application (one district).
#[derive(Default)]
pub struct CaseRouter {
    models: RwLock<Option<Models>>,
    /// Held while the models are built: the first requests of a district arrive together, and
    /// each would otherwise read the examples and build the same models.
    building: tokio::sync::Mutex<()>,
}

/// A suggestion: label and confidence in thousandths.
pub type Guess = Option<(String, i64)>;

fn top(r: &Router, features: &Features) -> Guess {
    r.route_features(features, 1)
        .into_iter()
        .next()
        .map(|s| (s.label, (f64::from(s.confidence) * 1000.0).round() as i64))
}

impl CaseRouter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the models of `district` are built (then its categories exist too).
    pub fn ready(&self, district: OrgId) -> bool {
        self.models
            .read()
            .map(|m| m.as_ref().is_some_and(|m| m.district == district))
            .unwrap_or(false)
    }

    /// Builds the models for `district` unless built.
    pub async fn ensure(&self, db: &Db, district: OrgId) -> Result<()> {
        if self.ready(district) {
            return Ok(());
        }
        let _building = self.building.lock().await;
        if self.ready(district) {
            return Ok(());
        }
        let mut c = db.acquire().await?;
        let mut conn = c.conn();
        let categories = store::categories(&mut conn, district).await?;
        let items = item_names(&mut conn, district).await?;
        let examples = store::routed_examples(&mut conn, district, SEED_CASES).await?;
        drop(c);
        let mut category = Router::new();
        let mut unit = Router::new();
        for k in &categories {
            if !k.active {
                continue;
            }
            let _ = category.learn(&format!("{} {}", k.major, k.minor), &k.code);
            if let Some(name) = items.iter().find(|(code, _)| *code == k.duty_item_code) {
                let _ = category.learn(&name.1, &k.code);
            }
            if !k.department_code.is_empty() {
                let _ = unit.learn(&format!("{} {}", k.major, k.minor), &k.department_code);
            }
        }
        // Oldest first, as they were learnt.
        for (text, cat, u) in examples.iter().rev() {
            if let Some(cat) = cat {
                let _ = category.learn(text, cat);
            }
            if let Some(u) = u {
                let _ = unit.learn(text, u);
            }
        }
        if let Ok(mut m) = self.models.write()
            && m.as_ref().is_none_or(|m| m.district != district)
        {
            *m = Some(Models {
                district,
                category,
                unit,
            });
        }
        Ok(())
    }

    /// The best category and unit label for a text (`None` when the router has no evidence).
    pub fn suggest(&self, text: &str) -> (Guess, Guess) {
        match self.models.read() {
            Ok(m) => match m.as_ref() {
                Some(m) => {
                    let features = Features::of(text);
                    (top(&m.category, &features), top(&m.unit, &features))
                }
                None => (None, None),
            },
            Err(_) => (None, None),
        }
    }

    /// Learns a confirmed label, or moves the example from what was learnt before.
    pub fn learn_category(&self, text: &str, before: Option<&str>, now: &str) {
        self.learn(text, before, now, |m| &mut m.category);
    }

    pub fn learn_unit(&self, text: &str, before: Option<&str>, now: &str) {
        self.learn(text, before, now, |m| &mut m.unit);
    }

    fn learn(
        &self,
        text: &str,
        before: Option<&str>,
        now: &str,
        pick: fn(&mut Models) -> &mut Router,
    ) {
        if let Ok(mut guard) = self.models.write()
            && let Some(m) = guard.as_mut()
        {
            let r = pick(m);
            let _ = match before {
                Some(b) if b == now => Ok(()),
                Some(b) => r.relabel(text, b, now).or_else(|_| r.learn(text, now)),
                None => r.learn(text, now),
            };
        }
    }
}

async fn item_names(conn: &mut Conn<'_>, district: OrgId) -> Result<Vec<(String, String)>> {
    let _ = district;
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT DISTINCT code, name FROM catalog_items"
    ).fetch_all(&mut *c).await?))
}

/// The unit label of an organisation a ticket goes to.
pub async fn unit_label(conn: &mut Conn<'_>, unit: &Org) -> Result<String> {
    Ok(match unit.kind {
        OrgKind::Station => match unit.department_id {
            Some(d) => orgs::store::get(conn, d)
                .await?
                .map(|d| d.code)
                .unwrap_or_else(|| unit.code.clone()),
            None => unit.code.clone(),
        },
        OrgKind::Department => unit.code.clone(),
        _ => TOWNSHIP.to_owned(),
    })
}

/// The organisation a unit label means for a township: its station of that department, the
/// department itself, or the township.
pub async fn resolve_unit(conn: &mut Conn<'_>, township: &Org, label: &str) -> Result<Option<Org>> {
    if label == TOWNSHIP {
        return Ok(Some(township.clone()));
    }
    let Some(dept) = orgs::store::get_by_code(conn, label).await? else {
        return Ok(None);
    };
    for u in super::units_of(conn, township).await? {
        if u.kind == OrgKind::Station && u.department_id == Some(dept.id) {
            return Ok(Some(u));
        }
    }
    Ok(Some(dept))
}
