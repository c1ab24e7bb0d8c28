//! Offline evaluation: learn a labelled CSV, route another, report top-1 / top-3 accuracy.
//!
//! The CSV files are UTF-8 with a header row naming (at least) the columns `text` and `label`, in
//! any order; a UTF-8 byte-order mark is tolerated, other columns are ignored. The app's
//! `jiceng eval routing --train A --test B` is one call to [`run`]; the `eval` example also runs
//! the baseline through [`run_model`].

use std::fmt;
use std::io::Read;

use crate::router::Router;

/// Anything that can be evaluated: learns pairs, then ranks labels for a text.
pub trait Model {
    /// Learns one labelled text. A text the model cannot learn from is skipped, not an error.
    fn learn(&mut self, text: &str, label: &str);
    /// Called once after the last [`Model::learn`], before any [`Model::rank`]; batch learners
    /// train here.
    fn finish(&mut self) {}
    /// Up to `k` labels for `text`, best first, each with its confidence.
    fn rank(&self, text: &str, k: usize) -> Vec<(String, f32)>;
}

impl Model for Router {
    fn learn(&mut self, text: &str, label: &str) {
        // Rows without words or with an empty label carry nothing to learn.
        let _ = Router::learn(self, text, label);
    }

    fn rank(&self, text: &str, k: usize) -> Vec<(String, f32)> {
        self.route(text, k)
            .into_iter()
            .map(|s| (s.label, s.confidence))
            .collect()
    }
}

/// What an evaluation found.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Training rows read.
    pub train: usize,
    /// Test rows routed.
    pub n: usize,
    /// Share of test rows whose first suggestion is the right label.
    pub top1: f64,
    /// Share of test rows whose right label is among the first three suggestions.
    pub top3: f64,
    /// Mean confidence of the first suggestion; close to `top1` when confidences are calibrated.
    pub mean_top1_confidence: f64,
    /// Test rows whose label never occurs in the training file (they can never be right).
    pub unseen_labels: usize,
}

impl fmt::Display for Report {
    /// The exact line the `eval` example ends with: `top1=0.xxx top3=0.xxx n=N`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "top1={:.3} top3={:.3} n={}",
            self.top1, self.top3, self.n
        )
    }
}

/// Why an evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The file is not readable CSV (bad quoting, invalid UTF-8, I/O error …).
    #[error("{file} file: {source}")]
    Csv {
        file: &'static str,
        #[source]
        source: csv::Error,
    },
    /// The header lacks a required column.
    #[error("{file} file: no `{column}` column in the header (found: {found})")]
    MissingColumn {
        file: &'static str,
        column: &'static str,
        found: String,
    },
    /// The file has a header but no data row.
    #[error("{file} file has no rows")]
    Empty { file: &'static str },
}

/// One labelled row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub text: String,
    pub label: String,
}

/// Reads `text,label` rows from CSV; `file` names the file in errors ("train", "test").
pub fn read_rows(reader: impl Read, file: &'static str) -> Result<Vec<Row>, EvalError> {
    let csv_err = |source| EvalError::Csv { file, source };
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let headers = csv.headers().map_err(csv_err)?.clone();
    let find = |column: &'static str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').trim() == column)
            .ok_or_else(|| EvalError::MissingColumn {
                file,
                column,
                found: headers.iter().collect::<Vec<_>>().join(","),
            })
    };
    let (text, label) = (find("text")?, find("label")?);
    let mut rows = Vec::new();
    for record in csv.records() {
        let record = record.map_err(csv_err)?;
        let get = |i: usize| record.get(i).unwrap_or("").to_owned();
        rows.push(Row {
            text: get(text),
            label: get(label),
        });
    }
    if rows.is_empty() {
        return Err(EvalError::Empty { file });
    }
    Ok(rows)
}

/// Learns `train` into a fresh [`Router`] and routes every row of `test`.
pub fn run(train: impl Read, test: impl Read) -> Result<Report, EvalError> {
    let train = read_rows(train, "train")?;
    let test = read_rows(test, "test")?;
    Ok(run_model(&mut Router::new(), &train, &test))
}

/// Learns `train` into `model`, calls [`Model::finish`], and scores it on `test`.
pub fn run_model(model: &mut impl Model, train: &[Row], test: &[Row]) -> Report {
    for row in train {
        model.learn(&row.text, &row.label);
    }
    model.finish();
    let known: std::collections::HashSet<&str> = train.iter().map(|r| r.label.as_str()).collect();
    let (mut top1, mut top3, mut conf, mut unseen) = (0usize, 0usize, 0.0f64, 0usize);
    for row in test {
        if !known.contains(row.label.as_str()) {
            unseen += 1;
        }
        let ranked = model.rank(&row.text, 3);
        if let Some((_, c)) = ranked.first() {
            conf += f64::from(*c);
        }
        if let Some(pos) = ranked.iter().position(|(l, _)| *l == row.label) {
            top3 += 1;
            if pos == 0 {
                top1 += 1;
            }
        }
    }
    let n = test.len();
    let share = |x: f64| if n == 0 { 0.0 } else { x / n as f64 };
    Report {
        train: train.len(),
        n,
        top1: share(top1 as f64),
        top3: share(top3 as f64),
        mean_top1_confidence: share(conf),
        unseen_labels: unseen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_any_column_order_with_a_bom() {
        let rows = read_rows("\u{feff}id,label,text\n1,甲,垃圾满了\n".as_bytes(), "train").unwrap();
        assert_eq!(
            rows,
            vec![Row {
                text: "垃圾满了".into(),
                label: "甲".into()
            }]
        );
    }

    #[test]
    fn a_missing_column_is_named() {
        let err = read_rows("text,category\n垃圾,甲\n".as_bytes(), "test").unwrap_err();
        assert!(matches!(
            err,
            EvalError::MissingColumn {
                column: "label",
                ..
            }
        ));
        assert!(err.to_string().contains("text,category"), "{err}");
    }

    #[test]
    fn bad_utf8_and_empty_files_are_errors() {
        let bad: &[u8] = b"text,label\n\xff\xfe,x\n";
        assert!(matches!(
            read_rows(bad, "train"),
            Err(EvalError::Csv { .. })
        ));
        assert!(matches!(
            read_rows("text,label\n".as_bytes(), "train"),
            Err(EvalError::Empty { .. })
        ));
        assert!(matches!(
            read_rows("".as_bytes(), "train"),
            Err(EvalError::MissingColumn { .. })
        ));
    }

    #[test]
    fn the_report_line_has_the_agreed_shape() {
        let train = "text,label\n垃圾桶满了没人清运,垃圾\n路灯不亮晚上很黑,路灯\n";
        let test = "text,label\n小区垃圾桶满了,垃圾\n路灯坏了,路灯\n";
        let report = run(train.as_bytes(), test.as_bytes()).unwrap();
        assert_eq!(report.to_string(), "top1=1.000 top3=1.000 n=2");
    }
}
