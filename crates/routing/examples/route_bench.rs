//! Learning rate and routing latency at the scale of a district: ~100 labels, ~50 000 examples.
//!
//! ```text
//! cargo run --release -p jiceng-routing --example route_bench -- --labels 100 --examples 50000 --queries 2000
//! ```
//!
//! Texts are generated from a fixed PRNG: each label has its own pool of two- and three-character
//! words, mixed with words common to all labels (the hotline's boilerplate) and digits, so the
//! router's vocabulary and postings grow as they would on real case texts.

use std::time::{Duration, Instant};

use routing::{Features, Router};

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
}

/// Common characters of complaint texts, to build words from.
const CHARS: &str = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严";

fn words(rng: &mut Rng, chars: &[char], n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let len = 2 + rng.below(2);
            (0..len).map(|_| chars[rng.below(chars.len())]).collect()
        })
        .collect()
}

fn text(rng: &mut Rng, own: &[String], common: &[String]) -> String {
    let mut out = String::new();
    for i in 0..(8 + rng.below(16)) {
        let pool = if rng.below(10) < 6 { own } else { common };
        out.push_str(&pool[rng.below(pool.len())]);
        match rng.below(12) {
            0 => out.push('，'),
            1 => out.push_str(&format!("{}号", i * 7 + 1)),
            _ => {}
        }
    }
    out
}

fn main() {
    let mut labels = 100usize;
    let mut examples = 50_000usize;
    let mut queries = 2_000usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.parse().ok());
        match (arg.as_str(), value) {
            ("--labels", Some(v)) => labels = v,
            ("--examples", Some(v)) => examples = v,
            ("--queries", Some(v)) => queries = v,
            _ => {
                eprintln!("usage: bench [--labels N] [--examples N] [--queries N]");
                std::process::exit(2);
            }
        }
    }
    let labels = labels.max(1);
    let queries = queries.max(1);
    let mut rng = Rng(7);
    let chars: Vec<char> = CHARS.chars().collect();
    let common = words(&mut rng, &chars, 400);
    let pools: Vec<Vec<String>> = (0..labels).map(|_| words(&mut rng, &chars, 60)).collect();
    let names: Vec<String> = (0..labels).map(|l| format!("类别-{l:03}")).collect();

    let start = Instant::now();
    routing::warm_up();
    println!(
        "dictionary load: {:.0} ms",
        start.elapsed().as_secs_f64() * 1e3
    );

    let data: Vec<(String, usize)> = (0..examples)
        .map(|_| {
            let l = rng.below(labels);
            (text(&mut rng, &pools[l], &common), l)
        })
        .collect();
    let chars_total: usize = data.iter().map(|(t, _)| t.chars().count()).sum();
    let mut router = Router::new();
    let start = Instant::now();
    for (t, l) in &data {
        router
            .learn(t, &names[*l])
            .expect("generated texts have words");
    }
    let learn = start.elapsed();
    println!(
        "learnt {} examples ({} labels, mean {} chars) in {:.2} s: {:.0} examples/s, {:.1} µs each",
        router.example_count(),
        router.label_count(),
        chars_total / examples.max(1),
        learn.as_secs_f64(),
        examples as f64 / learn.as_secs_f64(),
        learn.as_secs_f64() * 1e6 / examples.max(1) as f64
    );

    let mut times: Vec<Duration> = Vec::with_capacity(queries);
    // Extraction alone: routers of different label sets share it (`Router::route_features`).
    let mut extracting: Vec<Duration> = Vec::with_capacity(queries);
    let mut right = 0;
    for _ in 0..queries {
        let l = rng.below(labels);
        let t = text(&mut rng, &pools[l], &common);
        let start = Instant::now();
        let suggestions = router.route(&t, 3);
        times.push(start.elapsed());
        let start = Instant::now();
        std::hint::black_box(Features::of(&t));
        extracting.push(start.elapsed());
        if suggestions.first().is_some_and(|s| s.label == names[l]) {
            right += 1;
        }
    }
    times.sort();
    extracting.sort();
    let at = |times: &[Duration], q: f64| {
        times[((times.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6
    };
    println!(
        "route (k=3) over {queries} new texts: p50={:.0} µs p99={:.0} µs max={:.0} µs (top-1 {:.3})",
        at(&times, 0.5),
        at(&times, 0.99),
        at(&times, 1.0),
        right as f64 / queries.max(1) as f64
    );
    println!(
        "of which extracting the features: p50={:.0} µs p99={:.0} µs",
        at(&extracting, 0.5),
        at(&extracting, 0.99)
    );
}
