//! Accuracy of the router, and of a character-bigram TF-IDF + linear SVM baseline, on labelled CSV.
//!
//! ```text
//! cargo run --release -p jiceng-routing --example eval -- \
//!     --train crates/routing/data/complaints-train.csv --test crates/routing/data/complaints-test.csv
//! ```
//!
//! Both files are UTF-8 CSV with a header and the columns `text,label`. Options: `--no-baseline`.
//! The last line printed is always `top1=0.xxx top3=0.xxx n=N` for the router.

mod baseline;

use std::fs::File;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use routing::Router;
use routing::eval::{self, Report};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut train = None;
    let mut test = None;
    let mut with_baseline = true;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--train" => train = args.next().map(PathBuf::from),
            "--test" => test = args.next().map(PathBuf::from),
            "--no-baseline" => with_baseline = false,
            other => {
                return Err(format!(
                    "unknown argument `{other}`; usage: --train FILE --test FILE [--no-baseline]"
                ));
            }
        }
    }
    let open = |path: Option<PathBuf>, which: &str| {
        let path = path.ok_or_else(|| format!("--{which} FILE is required"))?;
        File::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))
    };
    let (train, test) = (open(train, "train")?, open(test, "test")?);
    let train = eval::read_rows(train, "train").map_err(|e| e.to_string())?;
    let test = eval::read_rows(test, "test").map_err(|e| e.to_string())?;
    println!("train rows: {}, test rows: {}", train.len(), test.len());

    if with_baseline {
        let start = Instant::now();
        let report = eval::run_model(&mut baseline::Baseline::default(), &train, &test);
        print_report("baseline (char bigram TF-IDF + linear SVM)", &report, start);
    }
    routing::warm_up();
    let start = Instant::now();
    let report = eval::run_model(&mut Router::new(), &train, &test);
    print_report(
        "router (naive Bayes + centroid + passive-aggressive, words + bigrams + chars)",
        &report,
        start,
    );
    println!("{report}");
    Ok(())
}

fn print_report(name: &str, report: &Report, start: Instant) {
    println!(
        "{name}: top1={:.3} top3={:.3} mean top-1 confidence={:.3} unseen-label rows={} ({:.2} s)",
        report.top1,
        report.top3,
        report.mean_top1_confidence,
        report.unseen_labels,
        start.elapsed().as_secs_f64()
    );
}
