//! Indexing and query-latency benchmark on generated duty items.
//!
//! ```text
//! cargo run --release -p jiceng-search --example search_bench -- --docs 100000 --queries 2000
//! ```
//!
//! Options: `--docs N` (100000), `--queries N` (2000), `--threads N` concurrent searchers (1),
//! `--seed N`, `--dir PATH` (index directory, kept; default a temporary one, removed),
//! `--show TEXT` (print the top hits for TEXT; repeatable), `--reuse` (with `--dir`: search the
//! index already there instead of rebuilding it).
//! Everything is generated from a fixed PRNG, so runs are comparable.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use search::{Doc, FieldKind, FieldSpec, Query, SearchIndex};

/// SplitMix64: tiny, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const SPEC: &[FieldSpec] = &[
    FieldSpec::id("id"),
    FieldSpec::text("name", 3.0),
    FieldSpec::text("content", 1.0),
    FieldSpec {
        name: "basis",
        kind: FieldKind::Text {
            boost: 0.5,
            stored: true,
        },
    },
    FieldSpec::keyword("township"),
    FieldSpec::keyword("list"),
    FieldSpec::keyword("category"),
    FieldSpec::keyword("source"),
    FieldSpec::keyword("kind"),
];

const TOWNSHIPS: &[&str] = &[
    "郫筒街道",
    "安德街道",
    "红光街道",
    "犀浦街道",
    "德源街道",
    "安靖街道",
    "团结街道",
    "合作街道",
    "西园街道",
    "唐昌镇",
    "三道堰镇",
    "友爱镇",
];
const LISTS: &[&str] = &["职责任务", "公共服务事项", "属地管理责任"];
const SOURCES: &[&str] = &["通用目录", "个性化清单", "下放事项", "准入事项"];
const CATEGORIES: &[&str] = &[
    "行政处罚",
    "行政许可",
    "行政强制",
    "行政检查",
    "行政确认",
    "行政给付",
    "行政奖励",
    "行政裁决",
    "行政征收",
    "其他行政权力",
    "公共服务",
    "属地管理",
    "内部管理",
];

const PLACES: &[&str] = &[
    "",
    "在城市道路上",
    "在公共场所",
    "在居民住宅区",
    "在农村集体土地上",
    "在河道管理范围内",
    "在城市绿地内",
    "在集贸市场周边",
    "在学校周边",
    "在主次干道两侧",
];
const VIOLATIONS: &[&str] = &[
    "占道经营",
    "占用城市道路从事经营活动",
    "擅自占用、挖掘城市道路",
    "出店经营",
    "流动摊贩无证经营",
    "违法建设",
    "未取得建设工程规划许可证进行建设",
    "违章搭建临时建筑",
    "随意倾倒建筑垃圾",
    "运输渣土车辆未密闭造成遗撒",
    "露天焚烧秸秆",
    "餐饮服务业油烟直排",
    "夜间施工噪声扰民",
    "擅自设置户外广告设施",
    "未取得食品经营许可从事食品经营活动",
    "销售超过保质期的食品",
    "无照经营",
    "未按规定分类投放生活垃圾",
    "占用、堵塞消防通道",
    "燃气经营者未履行安全检查义务",
    "未经批准占用耕地建房",
    "非法采砂",
    "擅自砍伐林木",
    "违规饲养犬只",
    "乱堆乱放",
    "乱贴乱画",
    "未按规定设置门头招牌",
    "擅自拆除环境卫生设施",
    "损坏城市绿地",
    "经营者未明码标价",
    "生产经营单位未落实安全生产责任",
    "向河道排放污水",
    "违规使用燃气设施",
    "未按规定清运餐厨垃圾",
];
const LICENSES: &[&str] = &[
    "临时占用城市道路审批",
    "城市道路挖掘许可",
    "户外广告设置许可",
    "建筑垃圾处置核准",
    "乡村建设规划许可证核发",
    "农村村民宅基地审批",
    "食品经营许可（仅销售预包装食品）",
    "临时占用绿地审批",
    "大型群众性活动安全许可",
    "门头招牌设置审批",
    "林木采伐许可",
    "设置大型户外广告审批",
];
const INSPECTED: &[&str] = &[
    "燃气经营企业",
    "食品经营者",
    "生产经营单位安全生产",
    "消防安全重点单位",
    "建筑施工工地扬尘防治",
    "农贸市场",
    "餐饮服务单位油烟净化设施",
    "小区物业服务企业",
    "危险化学品经营单位",
    "渣土运输企业",
];
const CONFIRMED: &[&str] = &[
    "最低生活保障对象认定",
    "特困人员供养资格认定",
    "残疾人证办理初审",
    "退役军人身份信息确认",
    "低收入家庭认定",
    "临时救助对象确认",
    "高龄老人身份确认",
];
const BENEFITS: &[&str] = &[
    "最低生活保障金发放",
    "特困供养金发放",
    "高龄津贴发放",
    "残疾人两项补贴发放",
    "临时救助金发放",
    "优抚对象抚恤补助发放",
    "耕地地力保护补贴发放",
    "计划生育家庭特别扶助金发放",
];
const REWARDED: &[&str] = &[
    "见义勇为人员",
    "举报违法行为有功人员",
    "垃圾分类示范家庭",
    "优秀网格员",
    "森林防火先进个人",
];
const DISPUTES: &[&str] = &[
    "林木林地权属争议",
    "土地权属争议",
    "宅基地使用权争议",
    "农村土地承包经营纠纷",
];
const SERVICES: &[&str] = &[
    "城乡居民养老保险参保登记",
    "城乡居民医疗保险参保登记",
    "医疗救助申请受理",
    "就业失业登记",
    "老年人优待证办理",
    "生育登记服务",
    "殡葬补贴申领",
    "残疾人辅助器具申请",
    "退役军人优待证申领",
    "居住证办理",
    "社区矫正对象日常管理",
    "流动人口信息登记",
];
const LOCAL_DUTIES: &[&str] = &[
    "网格员日常巡查上报",
    "占道经营巡查劝导",
    "违法建设巡查发现报告",
    "燃气安全隐患排查",
    "消防通道清理整治",
    "垃圾分类宣传引导",
    "森林防火巡查",
    "防汛减灾预警转移",
    "河道巡查保洁",
    "秸秆禁烧巡查",
    "食品安全协管",
    "油烟扰民投诉调处",
    "噪声扰民投诉调处",
    "渣土运输夜间巡查",
];
const INTERNAL: &[&str] = &[
    "机关公文处理",
    "干部教育培训",
    "财务预算管理",
    "固定资产管理",
    "档案管理",
    "信访接待",
];
const OFFICES: &[&str] = &[
    "综合行政执法办公室",
    "社会事务办公室",
    "经济发展办公室",
    "党政办公室",
    "规划建设办公室",
    "平安法治办公室",
    "便民服务中心",
    "农业农村服务中心",
    "社区发展治理办公室",
];
const SENTENCES: &[&str] = &[
    "接到网格员、群众举报或数字城管平台派单后，限时到场核查处置",
    "需要区级部门支持的，通过乡呼县应机制吹哨报到",
    "对发现的问题先行劝导，拒不改正的依法立案查处",
    "会同市场监管所、派出所开展联合执法",
    "按照一窗受理、受审分离的要求在便民服务中心综合窗口办理",
    "办理结果通过好差评系统接受群众评价",
    "村（社区）负责初审并公示，公示期满无异议的报送审核",
    "属地管理责任落实情况纳入年度考核",
    "建立问题台账，实行销号管理",
    "涉及违法建设的，依法责令限期拆除",
    "对占用城市道路的摊点进行规范引导，设置临时疏导点",
    "加强燃气安全宣传，督促用户安装燃气泄漏报警装置",
    "落实垃圾分类积分兑换激励措施",
    "对油烟、噪声扰民问题开展夜间专项整治",
    "按规定程序移送有管辖权的部门处理",
    "资金通过一卡通直接发放到户",
    "符合条件的实行最多跑一趟或一趟不用跑",
    "村（社区）代办员提供帮办代办服务",
    "每月汇总上报区级主管部门备案",
    "对辖区内生产经营单位开展安全隐患排查",
];
const LAWS: &[&str] = &[
    "中华人民共和国行政处罚法",
    "城市道路管理条例",
    "中华人民共和国城乡规划法",
    "中华人民共和国食品安全法",
    "城市市容和环境卫生管理条例",
    "四川省城乡环境综合治理条例",
    "成都市市容和环境卫生管理条例",
    "中华人民共和国大气污染防治法",
    "中华人民共和国噪声污染防治法",
    "社会救助暂行办法",
    "中华人民共和国土地管理法",
    "中华人民共和国森林法",
    "中华人民共和国消防法",
    "城镇燃气管理条例",
    "中华人民共和国安全生产法",
    "中华人民共和国残疾人保障法",
    "中华人民共和国退役军人保障法",
    "四川省生活垃圾管理条例",
    "中华人民共和国行政许可法",
    "中华人民共和国行政强制法",
];
const DIGITS: &[&str] = &["", "一", "二", "三", "四", "五", "六", "七", "八", "九"];

fn chinese_number(n: usize) -> String {
    let (h, t, u) = (n / 100, (n / 10) % 10, n % 10);
    let mut s = String::new();
    if h > 0 {
        s.push_str(DIGITS[h]);
        s.push('百');
    }
    if t > 0 {
        if !(h == 0 && t == 1) {
            s.push_str(DIGITS[t]);
        }
        s.push('十');
    } else if h > 0 && u > 0 {
        s.push('零');
    }
    s.push_str(DIGITS[u]);
    s
}

fn name(rng: &mut Rng, category: &str) -> String {
    match category {
        "行政处罚" => format!("对{}{}的行政处罚", rng.pick(PLACES), rng.pick(VIOLATIONS)),
        "行政许可" => rng.pick(LICENSES).to_string(),
        "行政强制" => match rng.below(3) {
            0 => format!("对{}的强制拆除", rng.pick(VIOLATIONS)),
            1 => format!("查封、扣押{}涉案物品", rng.pick(VIOLATIONS)),
            _ => format!("{}的代履行", rng.pick(VIOLATIONS)),
        },
        "行政检查" => format!("对{}的监督检查", rng.pick(INSPECTED)),
        "行政确认" => rng.pick(CONFIRMED).to_string(),
        "行政给付" => rng.pick(BENEFITS).to_string(),
        "行政奖励" => format!("对{}的表彰奖励", rng.pick(REWARDED)),
        "行政裁决" => format!("{}调处", rng.pick(DISPUTES)),
        "行政征收" => "城市生活垃圾处理费征收".to_string(),
        "其他行政权力" => format!("{}备案", rng.pick(LICENSES)),
        "公共服务" => rng.pick(SERVICES).to_string(),
        "属地管理" => rng.pick(LOCAL_DUTIES).to_string(),
        _ => rng.pick(INTERNAL).to_string(),
    }
}

fn generate(rng: &mut Rng, i: usize) -> Doc {
    let category = *rng.pick(CATEGORIES);
    let list = match category {
        "公共服务" | "行政给付" | "行政确认" => LISTS[1],
        "属地管理" => LISTS[2],
        _ => LISTS[0],
    };
    let name = name(rng, category);
    let mut content = format!("由{}负责{}。", rng.pick(OFFICES), name);
    for _ in 0..1 + rng.below(3) {
        let sentence = rng.pick::<&str>(SENTENCES);
        content.push_str(sentence);
        content.push('。');
    }
    let mut basis = String::new();
    for _ in 0..1 + rng.below(3) {
        basis.push_str(&format!(
            "《{}》第{}条",
            rng.pick(LAWS),
            chinese_number(1 + rng.below(130))
        ));
        if rng.chance(50) {
            basis.push_str(&format!("第{}款", chinese_number(1 + rng.below(4))));
        }
        basis.push('；');
    }
    let mut doc = Doc::new(format!("DI{i:07}"))
        .with_text("name", name)
        .with_text("content", content)
        .with_text("basis", basis)
        .with_keyword("township", *rng.pick(TOWNSHIPS))
        .with_keyword("list", list)
        .with_keyword("category", category)
        .with_keyword("source", *rng.pick(SOURCES))
        .with_keyword("kind", "duty_item");
    if rng.chance(5) {
        // Items shared by two townships.
        doc = doc.with_keyword("township", *rng.pick(TOWNSHIPS));
    }
    doc
}

const QUERIES: &[&str] = &[
    "占道经营",
    "网格员",
    "违法建设",
    "违建",
    "食品经营许可",
    "油烟扰民",
    "噪声",
    "城市道路",
    "占用道路",
    "低保",
    "最低生活保障",
    "残疾人补贴",
    "垃圾分类",
    "燃气安全检查",
    "消防通道",
    "户外广告",
    "渣土运输",
    "行政处罚",
    "流动摊贩",
    "出店经营",
    "宅基地审批",
    "农村建房",
    "秸秆焚烧",
    "养犬",
    "林木采伐",
    "特困供养",
    "临时救助",
    "退役军人",
    "高龄津贴",
    "养老保险参保",
    "社区矫正",
    "吹哨报到",
    "乡呼县应",
    "综合行政执法",
    "安全生产检查",
    "建筑垃圾",
    "扬尘",
    "河道",
    "防汛",
    "森林防火",
    "明码标价",
    "无照经营",
    "过期食品",
    "乱堆乱放",
    "门头招牌",
    "绿地",
    "公共服务",
    "就业登记",
    "医疗救助",
    "计划生育",
    "见义勇为",
    "土地权属争议",
    "城市道路 占道经营 处罚",
    "食品 经营 许可 审批",
    "网格员 巡查 上报",
    "燃气 安全 隐患 排查",
    "\"城市道路\"",
    "\"违法建设\" 拆除",
    "\"占用城市道路\"",
    "对违法建设的行政处罚",
    "低保金发放",
    "残疾人两项补贴发放",
    "垃圾分类 宣传",
    "消防安全 检查",
    "夜间施工噪声",
    "餐饮油烟",
    "擅自设置户外广告",
    "挖掘城市道路",
    "乡村建设规划许可证",
    "一窗受理",
    "最多跑一趟",
    "环境卫生",
    "市容",
    "劝导",
    "巡查",
    "行政处罚法 第一百二十二条",
    "城镇燃气管理条例",
    "便民服务中心",
    "",
    "",
    "",
];

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn dir_size(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// A query text and its filters.
type BenchQuery = (String, Vec<(&'static str, Vec<String>)>);

fn queries(n: usize, seed: u64) -> Vec<BenchQuery> {
    let mut rng = Rng(seed ^ 0xA5A5);
    (0..n)
        .map(|_| {
            let text = rng.pick(QUERIES).to_string();
            let mut filters: Vec<(&'static str, Vec<String>)> = Vec::new();
            // Officers are scoped to their township most of the time; listings always filter.
            if rng.chance(60) || text.is_empty() {
                let mut t = vec![rng.pick(TOWNSHIPS).to_string()];
                if rng.chance(20) {
                    t.push(rng.pick(TOWNSHIPS).to_string());
                }
                filters.push(("township", t));
            }
            if rng.chance(30) {
                filters.push(("category", vec![rng.pick(CATEGORIES).to_string()]));
            }
            if rng.chance(20) {
                filters.push(("list", vec![rng.pick(LISTS).to_string()]));
            }
            if rng.chance(10) {
                filters.push(("source", vec![rng.pick(SOURCES).to_string()]));
            }
            (text, filters)
        })
        .collect()
}

struct Timing {
    wall: Vec<Duration>,
    hits: usize,
}

fn run(index: &SearchIndex, qs: &[BenchQuery]) -> Timing {
    let mut times = Vec::with_capacity(qs.len());
    let mut hits = 0;
    for (text, filters) in qs {
        let q = Query {
            text,
            filters: filters.iter().map(|(f, v)| (*f, v.clone())).collect(),
            limit: 20,
            offset: 0,
        };
        let t = Instant::now();
        let r = index.search(&q).expect("search");
        times.push(t.elapsed());
        hits += r.hits.len();
    }
    Timing { wall: times, hits }
}

fn main() {
    let mut docs = 100_000usize;
    let mut n_queries = 2_000usize;
    let mut threads = 1usize;
    let mut seed = 20_260_101u64;
    let mut dir: Option<PathBuf> = None;
    let mut show: Vec<String> = Vec::new();
    let mut reuse = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().expect("missing option value");
        match a.as_str() {
            "--docs" => docs = value().parse().expect("--docs N"),
            "--queries" => n_queries = value().parse().expect("--queries N"),
            "--threads" => threads = value().parse().expect("--threads N"),
            "--seed" => seed = value().parse().expect("--seed N"),
            "--dir" => dir = Some(value().into()),
            "--show" => show.push(value()),
            "--reuse" => reuse = true,
            other => panic!("unknown option {other}"),
        }
    }
    let temp = dir.is_none();
    let dir = dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("jiceng-search-bench-{}", std::process::id()))
    });
    if !reuse {
        let _ = std::fs::remove_dir_all(&dir);
    }

    let t = Instant::now();
    search::warm_up();
    println!(
        "dictionary load: {:.0} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );

    let index = SearchIndex::open_or_create(&dir, SPEC).expect("open index");
    if reuse && !index.needs_rebuild() {
        println!(
            "reusing the index in {} ({} documents)",
            dir.display(),
            index.num_docs()
        );
    } else {
        let mut rng = Rng(seed);
        let t = Instant::now();
        let corpus: Vec<Doc> = (0..docs).map(|i| generate(&mut rng, i)).collect();
        let text_bytes: usize = corpus
            .iter()
            .flat_map(|d| d.text.values())
            .map(String::len)
            .sum();
        println!(
            "generated {docs} documents ({:.1} MB of text, avg {:.0} chars) in {:.2} s",
            text_bytes as f64 / 1e6,
            text_bytes as f64 / 3.0 / docs as f64,
            t.elapsed().as_secs_f64()
        );
        println!("sample: {:?}", corpus[docs / 2]);

        let t = Instant::now();
        let n = index.replace_all(corpus).expect("index");
        let secs = t.elapsed().as_secs_f64();
        println!(
            "indexed {n} documents in {secs:.2} s: {:.0} docs/s (including the final merge)",
            n as f64 / secs
        );
    }
    println!(
        "index size on disk: {:.1} MB ({})",
        dir_size(&dir) as f64 / 1e6,
        dir.display()
    );

    let qs = queries(n_queries, seed);
    // Warm-up: page in the files, fill the doc-store cache, as a running server would have.
    let warm = queries(200, seed + 1);
    run(&index, &warm);

    let t = Instant::now();
    let Timing {
        wall: mut times,
        hits,
    } = if threads <= 1 {
        run(&index, &qs)
    } else {
        let chunk = qs.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = qs
                .chunks(chunk)
                .map(|c| s.spawn(|| run(&index, c)))
                .collect();
            handles.into_iter().map(|h| h.join().expect("thread")).fold(
                Timing {
                    wall: Vec::new(),
                    hits: 0,
                },
                |mut acc, t| {
                    acc.wall.extend(t.wall);
                    acc.hits += t.hits;
                    acc
                },
            )
        })
    };
    let wall = t.elapsed().as_secs_f64();
    times.sort();
    println!(
        "{} queries ({threads} thread(s), limit 20 with highlights, {:.1} hits/query): {:.0} queries/s",
        times.len(),
        hits as f64 / times.len() as f64,
        times.len() as f64 / wall
    );
    println!(
        "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        percentile(&times, 0.50),
        percentile(&times, 0.90),
        percentile(&times, 0.99),
        times.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average during the run: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );

    // The slowest query kinds, to know what to optimise.
    let mut per_text: Vec<(f64, &str)> = Vec::new();
    for text in QUERIES.iter().collect::<std::collections::BTreeSet<_>>() {
        let q = Query::new(text);
        let t = Instant::now();
        let r = index.search(&q).expect("search");
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let _ = r;
        per_text.push((ms, text));
    }
    per_text.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("slowest unfiltered queries:");
    for (ms, text) in per_text.iter().take(5) {
        let t = Instant::now();
        let total = index
            .search(&Query::new(text).with_limit(0))
            .expect("search")
            .total;
        let count_ms = t.elapsed().as_secs_f64() * 1000.0;
        println!("  {ms:6.2} ms  {text:?} ({total} matches; counting alone {count_ms:.2} ms)");
    }

    for text in &show {
        let r = index
            .search(&Query::new(text).with_limit(8))
            .expect("search");
        println!("{text:?}: {} matches", r.total);
        for h in r.hits {
            println!("  {:7.3} {} {:?}", h.score, h.id, h.highlights.get("name"));
        }
    }

    drop(index);
    if temp {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
