//! How the defaults of `routing::Config` were chosen: learn the training file, score the
//! validation file (never the test file) with the knobs given on the command line.
//!
//! ```text
//! cargo run --release -p jiceng-routing --example tune -- \
//!     W B C ALPHA PRIOR COMPLEMENT PA_C MIX_NB MIX_COS MIX_PA T_NB T_COS T_PA SHARPNESS
//! cargo run --release -p jiceng-routing --example tune -- \
//!     1 1 1 0.01 1 1 0.5 0.4 0.2 0.4 0.35 0.05 0.1 3      # the defaults
//! ```
//!
//! With `ERRORS=1` in the environment it also lists every misrouted validation text.

use std::fs::File;
use std::path::Path;
use std::process::ExitCode;

use routing::eval::{self, Row};
use routing::{Config, Router};

fn rows(name: &str) -> Result<Vec<Row>, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name);
    let file = File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    eval::read_rows(file, "data").map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args: Result<Vec<f64>, _> = std::env::args().skip(1).map(|a| a.parse()).collect();
    let Ok(args) = args
        .map_err(|_| ())
        .and_then(|a| if a.len() == 14 { Ok(a) } else { Err(()) })
    else {
        eprintln!(
            "usage: tune W B C ALPHA PRIOR COMPLEMENT PA_C MIX_NB MIX_COS MIX_PA T_NB T_COS T_PA SHARPNESS"
        );
        return ExitCode::FAILURE;
    };
    let config = Config {
        kind_weights: [args[0], args[1], args[2]],
        alpha: args[3],
        prior_weight: args[4],
        complement_weight: args[5],
        pa_aggressiveness: args[6],
        mix: [args[7], args[8], args[9]],
        temperatures: [args[10], args[11], args[12]],
        sharpness: args[13],
    };
    let (train, dev) = match (rows("complaints-train.csv"), rows("complaints-dev.csv")) {
        (Ok(train), Ok(dev)) => (train, dev),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut router = Router::with_config(config);
    let report = eval::run_model(&mut router, &train, &dev);
    if std::env::var_os("ERRORS").is_some() {
        for row in &dev {
            let best = router.route(&row.text, 1);
            if best.first().map(|s| s.label.as_str()) != Some(row.label.as_str()) {
                println!("{} | {} -> {:?}", row.text, row.label, best.first());
            }
        }
    }
    println!(
        "{report} mean top-1 confidence={:.3}",
        report.mean_top1_confidence
    );
    ExitCode::SUCCESS
}
