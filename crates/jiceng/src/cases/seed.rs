//! Deterministic case data for the benchmark: varied Chinese complaint texts from templates,
//! and bulk rows carrying the figures metrics read, spread over townships, categories, sources
//! and a year. A fixed linear congruential sequence makes every run the same.

use crate::db::Db;
use crate::error::Result;
use crate::ids::OrgId;
use crate::orgs::model::Org;
use crate::time::Timestamp;

/// (category, what, where) fragments of realistic reports.
const SUBJECTS: &[(&str, &str)] = &[
    ("0101", "有人在楼顶私自搭建彩钢棚"),
    ("0102", "垃圾桶满了好几天没人清运，臭味很大"),
    ("0104", "路面上全是泥浆，没人打扫"),
    ("0107", "有人在空地上焚烧垃圾，烟很大"),
    ("0108", "餐馆油烟直排，熏到楼上住户"),
    ("0109", "夜宵摊露天烧烤到凌晨"),
    ("0201", "电线杆上贴满了办证小广告"),
    ("0204", "商铺广告招牌破损，有掉落危险"),
    ("0301", "工地夜间施工噪音扰民"),
    ("0302", "工地没有围挡，扬尘很大"),
    ("0303", "渣土车沿路遗撒"),
    ("0601", "超市销售过期食品"),
];

const PLACES: &[&str] = &[
    "犀浦镇校园路",
    "犀浦镇IT大道",
    "郫筒街道望丛中路",
    "红光街道红光大道",
    "团结街道学院路",
    "安德街道川菜大道",
    "德源街道大禹东路",
    "友爱镇农科村",
];

const ENDINGS: &[&str] = &[
    "，请尽快处理。",
    "，已经持续一周了，希望相关部门管一管。",
    "，居民意见很大。",
    "，多次反映未解决。",
    "。",
];

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }

    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[(self.next() % v.len() as u64) as usize]
    }
}

/// `n` (category, description) pairs, each with a distinct house number.
pub fn sample_texts(n: usize) -> Vec<(String, String)> {
    let mut r = Lcg(0x5EED_CA5E);
    (0..n)
        .map(|i| {
            let (cat, what) = r.pick(SUBJECTS);
            let place = r.pick(PLACES);
            let end = r.pick(ENDINGS);
            (
                (*cat).to_owned(),
                format!("{place}{}号附近{what}{end}", 1 + i % 997),
            )
        })
        .collect()
}

const SOURCES: &[&str] = &[
    "grid_worker",
    "patrol",
    "citizen_web",
    "hotline",
    "hotline",
    "platform",
];

/// Inserts `n` cases spread over `townships` and `[from, to)` with plausible figures (most
/// closed, some late, reworked, dismissed, referred, rated), 500 rows per statement and
/// 50,000 per transaction. They have no tickets: they stand for history that metrics read.
pub async fn bulk_facts(
    db: &Db,
    townships: &[Org],
    district: OrgId,
    n: u64,
    from: Timestamp,
    to: Timestamp,
) -> Result<()> {
    let span = (to.as_micros() - from.as_micros()).max(1) as u64;
    let mut r = Lcg(0x2545_F491_4F6C_DD1D);
    let mut done = 0u64;
    while done < n {
        let mut tx = db.begin().await?;
        let batch_end = (done + 50_000).min(n);
        while done < batch_end {
            let rows = (batch_end - done).min(500);
            let mut sql = String::from(
                "INSERT INTO cases (district_id, township_id, source, category_code, urgency,
                    description, address, reporter_name, reporter_phone, receipt_code, reopen_count,
                    created_at, created_by, dispatched_at, dispatch_late, accepted_at, accept_late,
                    closed_at, close_late, rework_count, rating, outcome) VALUES ",
            );
            for i in 0..rows {
                let k = done + i;
                let t = r.pick(townships).id.0;
                let created = from.as_micros() + (r.next() % span) as i64;
                let (cat, _) = r.pick(SUBJECTS);
                let source = r.pick(SOURCES);
                let roll = r.next() % 100;
                let late = |r: &mut Lcg, pct: u64| i64::from(r.next() % 100 < pct);
                let h = 3_600_000_000i64;
                let (disp, dl, acc, al, closed, cl, rework, rating, outcome) = if roll < 3 {
                    (
                        "NULL".into(),
                        0,
                        "NULL".into(),
                        0,
                        "NULL".into(),
                        0,
                        0,
                        "NULL",
                        "dismissed",
                    )
                } else if roll < 5 {
                    (
                        "NULL".into(),
                        0,
                        "NULL".into(),
                        0,
                        "NULL".into(),
                        0,
                        0,
                        "NULL",
                        "referred",
                    )
                } else if roll < 8 {
                    (
                        "NULL".into(),
                        0,
                        "NULL".into(),
                        0,
                        "NULL".into(),
                        0,
                        0,
                        "NULL",
                        "open",
                    )
                } else {
                    let d = created + h;
                    let a = d + 2 * h;
                    let closed = roll < 90;
                    let rw = i64::from(r.next() % 100 < 6);
                    let rating = match (closed, r.next() % 10) {
                        (false, _) | (_, 0..=3) => "NULL",
                        (_, 4..=7) => "'satisfied'",
                        (_, 8) => "'basic'",
                        _ => "'dissatisfied'",
                    };
                    (
                        d.to_string(),
                        late(&mut r, 4),
                        a.to_string(),
                        late(&mut r, 6),
                        if closed {
                            (a + 30 * h).to_string()
                        } else {
                            "NULL".into()
                        },
                        if closed { late(&mut r, 8) } else { 0 },
                        rw,
                        rating,
                        if closed { "closed" } else { "open" },
                    )
                };
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "({}, {t}, '{source}', '{cat}', 'normal', '批量案件 {k}', '', '', '', 'SEED{k:010}', 0, {created}, 'seed', {disp}, {dl}, {acc}, {al}, {closed}, {cl}, {rework}, {rating}, '{outcome}')",
                    district.0
                ));
            }
            tx.conn().execute(&sql).await?;
            done += rows;
        }
        tx.commit().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_texts_are_deterministic_and_varied() {
        let a = sample_texts(50);
        assert_eq!(a, sample_texts(50));
        let distinct: std::collections::BTreeSet<_> = a.iter().map(|(_, t)| t).collect();
        assert_eq!(distinct.len(), 50);
        assert!(a.iter().all(|(c, _)| c.len() == 4));
    }
}
