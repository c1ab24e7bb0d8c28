//! The baseline the router is measured against: character-bigram TF-IDF and a one-vs-rest linear
//! SVM, trained in batch by dual coordinate descent (Hsieh et al., ICML 2008; the L1-loss solver of
//! LIBLINEAR). It is the usual strong baseline for short-text classification. Dev code only: the
//! app never ships it.
//!
//! Texts go through the same `routing::normalize` as the router's, so the comparison measures the
//! features and the model, not the clean-up.

use std::collections::HashMap;

use routing::eval::Model;

/// Regularisation constant C of the SVM.
const C: f64 = 1.0;
/// Passes over the training set; the dual objective has converged well before on a few thousand
/// short texts.
const EPOCHS: usize = 30;

/// Sparse, L2-normalised TF-IDF vector, with a constant bias feature appended last.
type Vector = Vec<(usize, f64)>;

#[derive(Default)]
pub struct Baseline {
    vocab: HashMap<String, usize>,
    texts: Vec<(Vec<usize>, usize)>,
    labels: Vec<String>,
    label_ids: HashMap<String, usize>,
    idf: Vec<f64>,
    /// One weight vector per label (the last weight is the bias).
    weights: Vec<Vec<f64>>,
}

fn bigrams(text: &str) -> Vec<String> {
    let chars: Vec<char> = routing::normalize(text).chars().collect();
    chars.windows(2).map(|w| w.iter().collect()).collect()
}

impl Baseline {
    fn vector(&self, text: &str) -> Vector {
        let mut tf: HashMap<usize, f64> = HashMap::new();
        for g in bigrams(text) {
            if let Some(&f) = self.vocab.get(&g) {
                *tf.entry(f).or_default() += 1.0;
            }
        }
        let mut v: Vector = tf
            .into_iter()
            .map(|(f, n)| (f, (1.0 + f64::ln(n)) * self.idf[f]))
            .collect();
        let norm = v.iter().map(|(_, x)| x * x).sum::<f64>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|(_, x)| *x /= norm);
        }
        v.push((self.vocab.len(), 1.0));
        v
    }

    fn scores(&self, text: &str) -> Vec<f64> {
        let v = self.vector(text);
        self.weights
            .iter()
            .map(|w| v.iter().map(|&(f, x)| w[f] * x).sum())
            .collect()
    }
}

impl Model for Baseline {
    fn learn(&mut self, text: &str, label: &str) {
        let mut ids = Vec::new();
        for g in bigrams(text) {
            let next = self.vocab.len();
            ids.push(*self.vocab.entry(g).or_insert(next));
        }
        let next = self.labels.len();
        let l = *self.label_ids.entry(label.to_owned()).or_insert(next);
        if l == next {
            self.labels.push(label.to_owned());
        }
        self.texts.push((ids, l));
    }

    fn finish(&mut self) {
        let dims = self.vocab.len();
        let mut df = vec![0usize; dims];
        for (ids, _) in &self.texts {
            let mut seen = ids.clone();
            seen.sort_unstable();
            seen.dedup();
            seen.iter().for_each(|&f| df[f] += 1);
        }
        let n = self.texts.len() as f64;
        self.idf = df
            .iter()
            .map(|&d| ((1.0 + n) / (1.0 + d as f64)).ln() + 1.0)
            .collect();
        let rows: Vec<(Vector, usize)> = self
            .texts
            .iter()
            .map(|(ids, l)| {
                let mut tf: HashMap<usize, f64> = HashMap::new();
                ids.iter().for_each(|&f| *tf.entry(f).or_default() += 1.0);
                let mut v: Vector = tf
                    .into_iter()
                    .map(|(f, c)| (f, (1.0 + c.ln()) * self.idf[f]))
                    .collect();
                let norm = v.iter().map(|(_, x)| x * x).sum::<f64>().sqrt();
                v.iter_mut().for_each(|(_, x)| *x /= norm);
                v.push((dims, 1.0));
                (v, *l)
            })
            .collect();
        let q: Vec<f64> = rows
            .iter()
            .map(|(v, _)| v.iter().map(|(_, x)| x * x).sum())
            .collect();
        let mut order: Vec<usize> = (0..rows.len()).collect();
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        self.weights = (0..self.labels.len())
            .map(|label| {
                let mut w = vec![0.0; dims + 1];
                let mut alpha = vec![0.0; rows.len()];
                for _ in 0..EPOCHS {
                    // Fisher–Yates with xorshift: a fresh visiting order every pass.
                    for i in (1..order.len()).rev() {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        order.swap(i, (seed % (i as u64 + 1)) as usize);
                    }
                    let mut max_change = 0.0f64;
                    for &i in &order {
                        let (v, l) = &rows[i];
                        let y = if *l == label { 1.0 } else { -1.0 };
                        let g = y * v.iter().map(|&(f, x)| w[f] * x).sum::<f64>() - 1.0;
                        let new = (alpha[i] - g / q[i]).clamp(0.0, C);
                        let d = new - alpha[i];
                        if d != 0.0 {
                            alpha[i] = new;
                            v.iter().for_each(|&(f, x)| w[f] += d * y * x);
                            max_change = max_change.max(d.abs());
                        }
                    }
                    if max_change < 1e-3 {
                        break;
                    }
                }
                w
            })
            .collect();
    }

    fn rank(&self, text: &str, k: usize) -> Vec<(String, f32)> {
        let scores = self.scores(text);
        let mut ranked: Vec<(usize, f64)> = scores.into_iter().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let best = ranked.first().map_or(0.0, |r| r.1);
        let sum: f64 = ranked.iter().map(|r| (r.1 - best).exp()).sum();
        ranked
            .into_iter()
            .take(k)
            .map(|(l, s)| (self.labels[l].clone(), ((s - best).exp() / sum) as f32))
            .collect()
    }
}
