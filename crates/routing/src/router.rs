//! The incremental model: per-label feature counts, scored by naive Bayes and by cosine to the
//! label centroid, mixed.

use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::features::{self, Kind};

/// Labels longer than this (in characters) are refused: a label is a category code, a unit or a
/// department name, never a paragraph.
pub const MAX_LABEL_CHARS: usize = 200;

/// One suggested label for a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    /// The label, exactly as it was learnt.
    pub label: String,
    /// How likely the label is right, in `0.0..=1.0`; see [`Router::route`] for the calibration.
    pub confidence: f32,
}

/// The knobs of the model. The defaults were chosen by cross-validation on the training half of
/// the bundled synthetic set only (never on its test half); see the crate documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Weight of a jieba word, a character bigram and a single character, in that order.
    pub kind_weights: [f64; 3],
    /// Additive (Laplace/Lidstone) smoothing of the naive-Bayes counts.
    pub alpha: f64,
    /// Share of the naive-Bayes posterior in the mix; the rest is the centroid posterior.
    pub nb_share: f64,
    /// Temperature of the naive-Bayes softmax, per unit of query weight: larger is less sure.
    pub nb_temperature: f64,
    /// Temperature of the centroid softmax over cosine similarities.
    pub cosine_temperature: f64,
    /// Weight of the label prior (how many examples a label has) in naive Bayes; 0 ignores it.
    pub prior_weight: f64,
    /// Weight of the complement model (the text's likelihood under all *other* labels, which
    /// counts against a label); 0 is plain multinomial naive Bayes, 1 is Rennie et al.'s
    /// one-versus-all-but-one naive Bayes.
    pub complement_weight: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            kind_weights: [1.0, 1.0, 0.3],
            alpha: 0.1,
            nb_share: 0.5,
            nb_temperature: 0.35,
            cosine_temperature: 0.05,
            prior_weight: 1.0,
            complement_weight: 1.0,
        }
    }
}

#[derive(Debug, Clone)]
struct Feature {
    kind: Kind,
    /// Number of learnt examples that contain the feature.
    df: u32,
    /// `(label, examples of that label containing the feature)`, sorted by label, no zeros.
    postings: Vec<(u32, u32)>,
}

#[derive(Debug, Clone)]
struct Label {
    name: Box<str>,
    examples: u32,
    /// Sum of the label's feature counts: the multinomial's total.
    mass: u64,
    /// Squared length of the label's count vector, for the cosine.
    sq_norm: u64,
}

/// An incremental text router: learns `(text, label)` pairs one at a time and suggests labels for
/// new texts.
///
/// All state is integer counts, so [`Router::unlearn`] undoes [`Router::learn`] exactly and the
/// order of learning never matters. The router is `Send + Sync`; share it behind an `RwLock`
/// (routing takes `&self`, learning `&mut self`).
#[derive(Debug, Clone, Default)]
pub struct Router {
    vocab: FxHashMap<Box<str>, u32>,
    features: Vec<Feature>,
    labels: Vec<Label>,
    label_ids: FxHashMap<Box<str>, u32>,
    examples: u64,
    /// Sum of all labels' masses.
    mass: u64,
    /// Features with `df > 0`: the vocabulary size naive Bayes smooths over.
    live_features: u64,
    /// Labels with at least one example.
    live_labels: u32,
    config: Config,
}

impl Router {
    /// An empty router with the default [`Config`].
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty router with the given knobs.
    pub fn with_config(config: Config) -> Self {
        Router {
            config,
            ..Self::default()
        }
    }

    /// The knobs in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of labels that have at least one example.
    pub fn label_count(&self) -> usize {
        self.live_labels as usize
    }

    /// Number of examples learnt (and not unlearnt).
    pub fn example_count(&self) -> u64 {
        self.examples
    }

    /// Number of examples learnt under `label`.
    pub fn examples_of(&self, label: &str) -> u32 {
        self.label_ids
            .get(label.trim())
            .map_or(0, |&l| self.labels[l as usize].examples)
    }

    /// The labels that have at least one example, in the order they were first learnt.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.labels
            .iter()
            .filter(|l| l.examples > 0)
            .map(|l| &*l.name)
    }

    /// Learns that `text` belongs to `label`. Costs O(features of the text).
    ///
    /// The label is trimmed; any other string is a valid label, and a new one is created on first
    /// use. Fails, changing nothing, when the label is empty or too long, or when the text has no
    /// words (see [`Error`]).
    pub fn learn(&mut self, text: &str, label: &str) -> Result<()> {
        let label = check_label(label)?;
        let mut keys = Vec::new();
        features::extract(text, &mut keys);
        if keys.is_empty() {
            return Err(Error::NoFeatures);
        }
        let l = self.label_id(label);
        let mut added_mass = 0u64;
        let mut added_sq = 0u64;
        for key in keys {
            let f = match self.vocab.get(key.as_str()) {
                Some(&f) => f,
                None => {
                    let f = self.features.len() as u32;
                    self.features.push(Feature {
                        kind: Kind::of(&key),
                        df: 0,
                        postings: Vec::new(),
                    });
                    self.vocab.insert(key.into_boxed_str(), f);
                    f
                }
            };
            let feature = &mut self.features[f as usize];
            if feature.df == 0 {
                self.live_features += 1;
            }
            feature.df += 1;
            let count = match feature.postings.binary_search_by_key(&l, |p| p.0) {
                Ok(i) => {
                    feature.postings[i].1 += 1;
                    feature.postings[i].1
                }
                Err(i) => {
                    feature.postings.insert(i, (l, 1));
                    1
                }
            };
            added_mass += 1;
            // (c+1)² − c² = 2c + 1 with c the count before.
            added_sq += 2 * u64::from(count) - 1;
        }
        let label = &mut self.labels[l as usize];
        if label.examples == 0 {
            self.live_labels += 1;
        }
        label.examples += 1;
        label.mass += added_mass;
        self.mass += added_mass;
        label.sq_norm += added_sq;
        self.examples += 1;
        Ok(())
    }

    /// Learns every `(text, label)` pair; stops at the first error and returns it with the index
    /// of the pair (the pairs before it stay learnt).
    pub fn learn_many<'a, I>(&mut self, pairs: I) -> Result<(), (usize, Error)>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        for (i, (text, label)) in pairs.into_iter().enumerate() {
            self.learn(text, label).map_err(|e| (i, e))?;
        }
        Ok(())
    }

    /// Removes one example previously learnt as `(text, label)`, exactly undoing its
    /// [`Router::learn`]. A label left with no example disappears from the suggestions.
    ///
    /// Fails with [`Error::NotLearnt`], changing nothing, when the counts show that this text was
    /// not learnt under this label.
    pub fn unlearn(&mut self, text: &str, label: &str) -> Result<()> {
        let label = check_label(label)?;
        let not_learnt = || Error::NotLearnt {
            label: label.to_owned(),
        };
        let l = *self.label_ids.get(label).ok_or_else(not_learnt)?;
        if self.labels[l as usize].examples == 0 {
            return Err(not_learnt());
        }
        let mut keys = Vec::new();
        features::extract(text, &mut keys);
        if keys.is_empty() {
            return Err(Error::NoFeatures);
        }
        // Check everything first, so a refused unlearn leaves the counts untouched.
        let mut found = Vec::with_capacity(keys.len());
        for key in &keys {
            let f = *self.vocab.get(key.as_str()).ok_or_else(not_learnt)?;
            let i = self.features[f as usize]
                .postings
                .binary_search_by_key(&l, |p| p.0)
                .map_err(|_| not_learnt())?;
            found.push((f, i));
        }
        let mut removed_sq = 0u64;
        for (f, i) in found {
            let feature = &mut self.features[f as usize];
            feature.df -= 1;
            if feature.df == 0 {
                self.live_features -= 1;
            }
            let count = feature.postings[i].1;
            removed_sq += 2 * u64::from(count) - 1;
            if count == 1 {
                feature.postings.remove(i);
            } else {
                feature.postings[i].1 -= 1;
            }
        }
        let label = &mut self.labels[l as usize];
        label.examples -= 1;
        label.mass -= keys.len() as u64;
        self.mass -= keys.len() as u64;
        label.sq_norm -= removed_sq;
        if label.examples == 0 {
            self.live_labels -= 1;
        }
        self.examples -= 1;
        Ok(())
    }

    /// A dispatcher's correction: the example learnt as `(text, from)` now belongs to `to`.
    /// Equivalent to [`Router::unlearn`] then [`Router::learn`]; if the unlearn is refused,
    /// nothing changes.
    pub fn relabel(&mut self, text: &str, from: &str, to: &str) -> Result<()> {
        check_label(to)?;
        self.unlearn(text, from)?;
        self.learn(text, to)
    }

    /// Removes a label and all its examples (a dissolved department, a retired category). Costs
    /// O(vocabulary). Returns how many examples were removed.
    pub fn forget_label(&mut self, label: &str) -> u32 {
        let Some(&l) = self.label_ids.get(label.trim()) else {
            return 0;
        };
        let removed = self.labels[l as usize].examples;
        if removed == 0 {
            return 0;
        }
        for feature in &mut self.features {
            if let Ok(i) = feature.postings.binary_search_by_key(&l, |p| p.0) {
                let (_, count) = feature.postings.remove(i);
                feature.df -= count;
                if feature.df == 0 {
                    self.live_features -= 1;
                }
            }
        }
        let label = &mut self.labels[l as usize];
        self.mass -= label.mass;
        label.examples = 0;
        label.mass = 0;
        label.sq_norm = 0;
        self.live_labels -= 1;
        self.examples -= u64::from(removed);
        removed
    }

    /// Suggests up to `k` labels for `text`, most likely first.
    ///
    /// Returns no suggestion when the router has learnt nothing, when `k` is 0, or when the text
    /// shares no word, bigram or character with anything learnt (including an empty text): the
    /// router has no evidence, and a made-up guess would look like one.
    ///
    /// **Calibration.** Each confidence is a mix of two posteriors over the labels — naive Bayes
    /// and cosine-to-centroid, each a softmax with a temperature — times the *coverage*: the
    /// share of the text's feature weight that the router has seen before. The temperatures were
    /// set so that, on held-out synthetic complaints, the mean top-1 confidence is close to the
    /// top-1 accuracy (the `eval` report prints both). Confidences are in `0..=1`, descending,
    /// and sum to at most 1 over all labels; a text made mostly of unseen words gets low
    /// confidences everywhere. Treat them as a ranking aid with a rough probability reading, not
    /// as exact probabilities on data unlike the training set.
    pub fn route(&self, text: &str, k: usize) -> Vec<Suggestion> {
        if k == 0 || self.live_labels == 0 {
            return Vec::new();
        }
        let mut keys = Vec::new();
        features::extract(text, &mut keys);
        let scores = self.posterior(&keys);
        let mut ranked: Vec<(usize, f64)> = scores.into_iter().enumerate().collect();
        ranked.retain(|&(_, p)| p > 0.0);
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(k);
        ranked
            .into_iter()
            .map(|(l, p)| Suggestion {
                label: self.labels[l].name.to_string(),
                confidence: p.clamp(0.0, 1.0) as f32,
            })
            .collect()
    }

    /// The calibrated probability of every label slot (0 for empty slots), all zero when nothing
    /// is known about the text.
    fn posterior(&self, keys: &[String]) -> Vec<f64> {
        let n_labels = self.labels.len();
        let mut out = vec![0.0; n_labels];
        let c = &self.config;
        let n = self.examples as f64;
        let mut nb = vec![0.0f64; n_labels];
        let mut dot = vec![0.0f64; n_labels];
        let mut comp = vec![0.0f64; n_labels];
        let mut comp_base = 0.0;
        let mut known = 0.0; // Σ weight of features seen before
        let mut total = 0.0; // Σ weight of all features, seen or not
        let mut q_norm_sq = 0.0;
        let ln_alpha = c.alpha.ln();
        for key in keys {
            let kind_weight = c.kind_weights[Kind::of(key) as usize];
            let feature = self
                .vocab
                .get(key.as_str())
                .map(|&f| &self.features[f as usize])
                .filter(|f| f.df > 0);
            let Some(feature) = feature else {
                // Weigh an unseen feature like the rarest seen one: it is new information.
                total += kind_weight * (1.0 + n).ln();
                continue;
            };
            let idf = (1.0 + n / f64::from(feature.df)).ln();
            let q = kind_weight * idf;
            debug_assert_eq!(Kind::of(key), feature.kind);
            known += q;
            total += q;
            q_norm_sq += q * q;
            let df = f64::from(feature.df);
            let ln_df = (df + c.alpha).ln();
            comp_base += q * ln_df;
            for &(l, count) in &feature.postings {
                let count = f64::from(count);
                nb[l as usize] += q * ((count + c.alpha).ln() - ln_alpha);
                dot[l as usize] += q * count;
                comp[l as usize] += q * ((df - count + c.alpha).ln() - ln_df);
            }
        }
        if known <= 0.0 {
            return out;
        }
        let vocab = self.live_features as f64;
        let live = f64::from(self.live_labels);
        let q_norm = q_norm_sq.sqrt();
        let mut nb_best = f64::NEG_INFINITY;
        let mut cos_best = f64::NEG_INFINITY;
        for (l, label) in self.labels.iter().enumerate() {
            if label.examples == 0 {
                nb[l] = f64::NEG_INFINITY;
                dot[l] = f64::NEG_INFINITY;
                continue;
            }
            let prior = ((f64::from(label.examples) + 1.0) / (n + live)).ln();
            let log_lik = nb[l] + known * (ln_alpha - (label.mass as f64 + c.alpha * vocab).ln());
            let rest = (self.mass - label.mass) as f64;
            let comp_lik = comp_base + comp[l] - known * (rest + c.alpha * vocab).ln();
            let log_lik = log_lik - c.complement_weight * comp_lik;
            // Per unit of query weight, so the temperature does not depend on text length.
            nb[l] = (log_lik / known + c.prior_weight * prior / known) / c.nb_temperature;
            let cosine = dot[l] / ((label.sq_norm as f64).sqrt() * q_norm);
            dot[l] = cosine / c.cosine_temperature;
            nb_best = nb_best.max(nb[l]);
            cos_best = cos_best.max(dot[l]);
        }
        let (mut nb_sum, mut cos_sum) = (0.0, 0.0);
        for l in 0..n_labels {
            nb[l] = (nb[l] - nb_best).exp();
            dot[l] = (dot[l] - cos_best).exp();
            nb_sum += nb[l];
            cos_sum += dot[l];
        }
        let coverage = known / total;
        for l in 0..n_labels {
            let p = c.nb_share * nb[l] / nb_sum + (1.0 - c.nb_share) * dot[l] / cos_sum;
            out[l] = if p.is_finite() { p * coverage } else { 0.0 };
        }
        out
    }

    fn label_id(&mut self, label: &str) -> u32 {
        if let Some(&l) = self.label_ids.get(label) {
            return l;
        }
        let l = self.labels.len() as u32;
        self.labels.push(Label {
            name: label.into(),
            examples: 0,
            mass: 0,
            sq_norm: 0,
        });
        self.label_ids.insert(label.into(), l);
        l
    }
}

fn check_label(label: &str) -> Result<&str> {
    let label = label.trim();
    if label.is_empty() {
        return Err(Error::InvalidLabel("empty".into()));
    }
    if label.chars().count() > MAX_LABEL_CHARS {
        return Err(Error::InvalidLabel(format!(
            "longer than {MAX_LABEL_CHARS} characters"
        )));
    }
    Ok(label)
}
