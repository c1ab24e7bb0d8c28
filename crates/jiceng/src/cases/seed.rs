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

/// A fixed linear congruential sequence: the same seed gives the same data on every run.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[(self.next_u64() % v.len() as u64) as usize]
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// True with `pct` per cent probability.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.next_u64() % 100 < pct
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
                let created = from.as_micros() + (r.next_u64() % span) as i64;
                let (cat, _) = r.pick(SUBJECTS);
                let source = r.pick(SOURCES);
                let roll = r.next_u64() % 100;
                let late = |r: &mut Lcg, pct: u64| i64::from(r.next_u64() % 100 < pct);
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
                    let rw = i64::from(r.next_u64() % 100 < 6);
                    let rating = match (closed, r.next_u64() % 10) {
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

/// What people report, by category: several phrasings each, so that a year of demo cases reads
/// like a real intake log rather than one sentence repeated.
const DEMO_SUBJECTS: &[(&str, &[&str])] = &[
    (
        "0101",
        &[
            "有住户在楼顶私自搭建彩钢棚",
            "一楼住户私自扩建院坝围墙，占用公共通道",
            "有人在绿化带上搭建简易棚屋",
        ],
    ),
    (
        "0102",
        &[
            "垃圾桶满溢好几天没人清运，臭味很大",
            "路边堆放的生活垃圾无人清理，招来很多苍蝇",
            "菜市场门口垃圾散落一地",
        ],
    ),
    (
        "0103",
        &[
            "空地上堆积大量建筑渣土，长期没人清运",
            "小区背后堆了几十袋装修垃圾",
        ],
    ),
    (
        "0104",
        &[
            "路面上全是泥浆，没人打扫",
            "人行道上油污很多，行人容易滑倒",
            "公交站台附近果皮纸屑很多",
        ],
    ),
    (
        "0105",
        &["河道里漂浮大量垃圾和水草", "沟渠水面发黑发臭，夏天气味很大"],
    ),
    (
        "0106",
        &["街心花园里垃圾遍地，草坪被踩秃", "绿化带里被倒了很多杂物"],
    ),
    (
        "0107",
        &[
            "有人在田边焚烧秸秆和垃圾，烟很大",
            "夜间有人焚烧废旧电线，气味刺鼻",
        ],
    ),
    (
        "0108",
        &[
            "餐馆油烟直排，熏到楼上住户",
            "火锅店排烟管道正对居民窗户",
            "烧烤店油烟净化器一直没开",
        ],
    ),
    (
        "0109",
        &[
            "夜宵摊露天烧烤到凌晨，烟雾和噪音扰民",
            "路口有流动烧烤摊，烟熏火燎",
        ],
    ),
    (
        "0110",
        &["洗车店污水直接排到路面上", "餐馆把泔水倒进雨水井"],
    ),
    (
        "0201",
        &["电线杆上贴满了办证小广告", "单元楼道里到处是开锁疏通小广告"],
    ),
    (
        "0202",
        &["街边树上挂满了商家的促销横幅", "天桥栏杆上挂了好几条广告布"],
    ),
    (
        "0203",
        &["新刷的围墙被人乱涂乱画", "地面上被喷涂了大量电话号码"],
    ),
    (
        "0204",
        &[
            "商铺广告招牌破损，有掉落危险",
            "楼顶广告牌被风吹歪，随时可能掉下来",
        ],
    ),
    ("0205", &["商家把广告牌摆在人行道中间，挡住盲道"]),
    (
        "0301",
        &[
            "工地夜间施工噪音扰民，晚上十一点还在打桩",
            "装修公司周末一早就开始电钻施工",
            "工地凌晨还在浇筑混凝土，噪音很大",
        ],
    ),
    (
        "0302",
        &[
            "工地裸土没有覆盖，扬尘很大",
            "拆迁工地没有洒水降尘，整条街灰蒙蒙的",
        ],
    ),
    (
        "0303",
        &[
            "渣土车沿路遗撒，路面全是泥土",
            "运输车辆带泥上路，雨天路面很滑",
        ],
    ),
    ("0304", &["有人擅自开挖人行道埋管，没有任何手续"]),
    ("0305", &["工地把废弃建材堆在路边不清运"]),
    ("0306", &["工地围挡倒塌，行人只能绕到机动车道走"]),
    ("0401", &["路面出现塌陷坑，车辆经过很危险"]),
    (
        "0402",
        &["自来水管爆裂，路面大量积水", "小区外自来水管漏水已经两天"],
    ),
    (
        "0404",
        &["下水道堵塞，污水从井口冒出来", "雨水篦子破损，有行人踩空"],
    ),
    ("0406", &["下雨后路口积水很深，车辆无法通行"]),
    (
        "0407",
        &["人行道井盖缺失，晚上很危险", "井盖松动，车一过就哐哐响"],
    ),
    (
        "0501",
        &["学校门口有无照游商摆摊", "地铁口有人流动叫卖水果"],
    ),
    ("0503", &["有人在路边占道收购废品，堆得到处都是"]),
    (
        "0504",
        &[
            "商铺把货架摆到店外经营，占用人行道",
            "餐馆把桌椅摆到店外，行人没法走",
        ],
    ),
    (
        "0505",
        &["小区门口机动车乱停，消防通道被堵", "人行道上停满了汽车"],
    ),
    (
        "0506",
        &[
            "共享单车堆在地铁口，堵塞通道",
            "电瓶车停在楼道里充电，存在安全隐患",
        ],
    ),
    (
        "0507",
        &[
            "早市摊贩占道经营，交通拥堵",
            "路边卖菜的摊位越摆越多，占了半条路",
        ],
    ),
    (
        "0508",
        &[
            "商铺门口大音箱促销，声音很大",
            "广场舞音响声音太大，影响休息",
        ],
    ),
    ("0509", &["有住户在小区绿地里养鸡，气味难闻"]),
    (
        "0601",
        &[
            "小吃店后厨卫生很差，有老鼠出没",
            "农贸市场有摊位销售来源不明的冻肉",
        ],
    ),
    ("0602", &["小区底商有人无证开办小作坊"]),
    ("0603", &["超市标价和结账价格不一致"]),
    ("0604", &["超市销售过期食品", "小卖部货架上的牛奶已经过期"]),
    ("0605", &["小区电梯经常困人，维保不到位"]),
    ("0606", &["农贸市场秩序混乱，摊位乱占通道"]),
];

/// Streets and landmarks of each township of 郫都区, by the start of its name.
const DEMO_PLACES: &[(&str, &[&str])] = &[
    (
        "犀浦",
        &[
            "犀浦镇校园路",
            "IT大道",
            "犀安路",
            "百草路",
            "国宁西路",
            "天宇路",
        ],
    ),
    ("郫筒", &["望丛中路", "东大街", "南大街", "杜鹃路"]),
    ("红光", &["红光大道", "港通北路", "成灌东路"]),
    ("团结", &["学院路", "团结场镇北街", "锦绣大道"]),
    ("安德", &["川菜大道", "安德场镇正街", "中国川菜产业园"]),
    ("德源", &["大禹东路", "德源场镇正街", "菁德路"]),
    ("安靖", &["安靖场镇正街", "蜀新大道", "安平路"]),
    ("合作", &["新航路", "合作场镇正街", "创智东路"]),
    ("唐昌", &["唐昌场镇正街", "战旗村", "文化路"]),
    ("三道堰", &["三道堰古镇", "青杠树村", "堰河路"]),
    ("友爱", &["农科村", "友爱场镇正街", "科化村"]),
    ("古城", &["古城场镇正街", "指路村", "古城遗址路"]),
];

const DEMO_ENDINGS: &[&str] = &[
    "，请尽快处理。",
    "，已经持续一周了，希望相关部门管一管。",
    "，居民意见很大。",
    "，多次反映未解决。",
    "，麻烦派人来看看。",
    "。",
];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "罗",
];

/// One demo report: category, description, address, reporter name and phone.
pub struct DemoReport {
    pub category: &'static str,
    pub description: String,
    pub address: String,
    pub reporter_name: String,
    pub reporter_phone: String,
}

/// A varied report placed in the township named `township`.
pub fn demo_report(r: &mut Lcg, township: &str) -> DemoReport {
    let (category, variants) = *r.pick(DEMO_SUBJECTS);
    let what = r.pick(variants);
    let streets = DEMO_PLACES
        .iter()
        .find(|(k, _)| township.starts_with(k))
        .map(|(_, v)| *v)
        .unwrap_or(&["场镇正街"]);
    let street = r.pick(streets);
    let address = format!("{township}{street}{}号", 1 + r.below(300));
    let near = ["附近", "旁边", "对面", "门口", ""][r.below(5) as usize];
    let end = r.pick(DEMO_ENDINGS);
    let surname = r.pick(SURNAMES);
    let title = if r.chance(50) { "先生" } else { "女士" };
    DemoReport {
        category,
        description: format!("{address}{near}{what}{end}"),
        address,
        reporter_name: format!("{surname}{title}"),
        reporter_phone: format!("13{}{:08}", 5 + r.below(5), r.below(100_000_000)),
    }
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

    #[test]
    fn demo_reports_are_deterministic_and_varied() {
        let texts = |seed| {
            let mut r = Lcg(seed);
            (0..200)
                .map(|_| demo_report(&mut r, "犀浦街道").description)
                .collect::<Vec<_>>()
        };
        assert_eq!(texts(7), texts(7));
        let distinct: std::collections::BTreeSet<_> = texts(7).into_iter().collect();
        assert!(distinct.len() > 150, "{}", distinct.len());
    }
}
