//! Accuracy regression on the bundled synthetic complaint set (see `data/README.md`).
//!
//! It runs in the normal debug test build: 3 000 examples learnt and 1 000 routed take a few
//! seconds unoptimised, so there is no need for an optimised dev profile or an ignored test.

use std::fs::File;
use std::path::Path;

fn data(name: &str) -> File {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name);
    File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_router_meets_the_accuracy_floor_on_the_bundled_test_file() {
    let report = routing::eval::run(data("complaints-train.csv"), data("complaints-test.csv"))
        .expect("the bundled files are valid");
    assert_eq!(report.n, 1000);
    assert_eq!(report.unseen_labels, 0);
    assert!(report.top1 >= 0.85, "{report}");
    assert!(report.top3 >= 0.95, "{report}");
    // Confidences are meant to be readable as rough probabilities.
    assert!(
        (report.mean_top1_confidence - report.top1).abs() < 0.15,
        "mean top-1 confidence {} vs top-1 accuracy {}",
        report.mean_top1_confidence,
        report.top1
    );
}
