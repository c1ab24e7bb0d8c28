//! The incremental model: per-(feature, label) postings holding counts for naive Bayes and the
//! centroid and weights for the passive-aggressive model; the three posteriors are mixed.

use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::features::{self, Features, Kind};

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

/// The knobs of the model. The defaults were chosen on the validation file of the bundled
/// synthetic set (`data/complaints-dev.csv`), never on its test file; see the crate documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Weight of a jieba word, a character bigram and a single character, in that order.
    pub kind_weights: [f64; 3],
    /// Additive (Lidstone) smoothing of the naive-Bayes counts.
    pub alpha: f64,
    /// Weight of the label prior (how many examples a label has) in naive Bayes; 0 ignores it.
    pub prior_weight: f64,
    /// Weight of the complement model (the text's likelihood under all *other* labels, which
    /// counts against a label); 0 is plain multinomial naive Bayes, 1 is Rennie et al.'s
    /// one-versus-all-but-one naive Bayes.
    pub complement_weight: f64,
    /// Aggressiveness C of the passive-aggressive updates: the largest step one example may take.
    pub pa_aggressiveness: f64,
    /// Shares of the naive-Bayes, centroid and passive-aggressive posteriors in the mix (they
    /// are normalised to sum to 1).
    pub mix: [f64; 3],
    /// Softmax temperatures of the three posteriors (naive Bayes per unit of query weight,
    /// cosine, passive-aggressive margin): larger is less sure.
    pub temperatures: [f64; 3],
    /// Exponent applied to the mixed posterior before renormalising: it keeps the ranking and
    /// only makes the confidences bolder (> 1) or more modest (< 1).
    pub sharpness: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            kind_weights: [1.0, 1.0, 1.0],
            alpha: 0.01,
            prior_weight: 1.0,
            complement_weight: 1.0,
            pa_aggressiveness: 0.5,
            mix: [0.4, 0.2, 0.4],
            temperatures: [0.35, 0.05, 0.1],
            sharpness: 3.0,
        }
    }
}

/// What one label knows about one feature.
#[derive(Debug, Clone, Copy)]
struct Posting {
    label: u32,
    /// Examples of the label that contain the feature (naive Bayes, centroid).
    count: u32,
    /// Passive-aggressive weight.
    w: f32,
    /// Σ clock × every change of `w`, for the lazily averaged weight `w − u / clock`.
    u: f32,
}

#[derive(Debug, Clone)]
struct Feature {
    kind: Kind,
    /// Number of learnt examples that contain the feature.
    df: u32,
    /// Sorted by label. A posting stays while its count or its weight is not zero.
    postings: Vec<Posting>,
}

impl Feature {
    /// The posting of label `l`, created empty if missing.
    fn posting(&mut self, l: u32) -> &mut Posting {
        let i = match self.postings.binary_search_by_key(&l, |p| p.label) {
            Ok(i) => i,
            Err(i) => {
                let empty = Posting {
                    label: l,
                    count: 0,
                    w: 0.0,
                    u: 0.0,
                };
                self.postings.insert(i, empty);
                i
            }
        };
        &mut self.postings[i]
    }

    /// Drops label `l`'s posting once it holds nothing.
    fn compact(&mut self, l: u32) {
        if let Ok(i) = self.postings.binary_search_by_key(&l, |p| p.label) {
            let p = self.postings[i];
            if p.count == 0 && p.w == 0.0 && p.u == 0.0 {
                self.postings.remove(i);
            }
        }
    }

    fn count(&self, l: u32) -> u32 {
        self.postings
            .binary_search_by_key(&l, |p| p.label)
            .map_or(0, |i| self.postings[i].count)
    }
}

#[derive(Debug, Clone)]
struct Label {
    name: Box<str>,
    examples: u32,
    /// Sum of the label's feature counts: the multinomial's total.
    mass: u64,
    /// Squared length of the label's centroid `(ln(1 + count))` over its features, for the
    /// cosine. Kept up to date by adding and removing exact per-count terms.
    sq_norm: f64,
}

/// An incremental text router: learns `(text, label)` pairs one at a time and suggests labels for
/// new texts.
///
/// Three models share one store of per-feature postings: naive Bayes and a label centroid, both
/// kept as integer counts, and a passive-aggressive linear model updated by each example. The
/// router is `Send + Sync`; share it behind an `RwLock` (routing takes `&self`, learning
/// `&mut self`).
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
    /// Passive-aggressive steps taken: the averaging clock.
    clock: u64,
    /// `ln(k + alpha)` for every count `k` up to the largest document frequency: routing looks
    /// up two logarithms per (feature, label) pair, and a table lookup is several times cheaper
    /// than computing them, which keeps routing well under a millisecond at 100 labels.
    ln_table: Vec<f64>,
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

    /// Learns that `text` belongs to `label`.
    ///
    /// Costs one routing of the text (the passive-aggressive step needs the current scores) plus
    /// O(features of the text): tens of microseconds. The label is trimmed; any other string is
    /// a valid label, and a new one is created on first use. Fails, changing nothing, when the
    /// label is empty or too long, or when the text has no words (see [`Error`]).
    pub fn learn(&mut self, text: &str, label: &str) -> Result<()> {
        let label = check_label(label)?;
        let mut keys = Vec::new();
        features::extract(text, &mut keys);
        if keys.is_empty() {
            return Err(Error::NoFeatures);
        }
        let l = self.label_id(label);
        let fids: Vec<u32> = keys.into_iter().map(|k| self.feature_id(k)).collect();

        // The discriminative step first, against the label's strongest rival as it stands.
        let x = self.unit_vector(&fids);
        let scores = self.raw_pa_scores(&x);
        if let Some((rival, rival_score)) = self.best_other(&scores, l) {
            let loss = 1.0 - (scores[l as usize] - rival_score);
            if loss > 0.0 {
                // ‖x_l − x_rival‖² = 2 for a unit vector x.
                let tau = (loss / 2.0).min(self.config.pa_aggressiveness);
                self.pa_step(&x, l, tau);
                self.pa_step(&x, rival, -tau);
            }
        }

        let mut added_sq = 0.0;
        for &f in &fids {
            let feature = &mut self.features[f as usize];
            if feature.df == 0 {
                self.live_features += 1;
            }
            feature.df += 1;
            let df = feature.df as usize;
            let posting = feature.posting(l);
            posting.count += 1;
            added_sq += centroid_step(posting.count, self.config.alpha);
            while self.ln_table.len() <= df {
                let k = self.ln_table.len() as f64;
                self.ln_table.push((k + self.config.alpha).ln());
            }
        }
        let added_mass = fids.len() as u64;
        let label = &mut self.labels[l as usize];
        if label.examples == 0 {
            self.live_labels += 1;
        }
        label.examples += 1;
        label.mass += added_mass;
        label.sq_norm += added_sq;
        self.mass += added_mass;
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

    /// Removes one example previously learnt as `(text, label)`.
    ///
    /// The counts (naive Bayes, centroid) are restored exactly. The linear model cannot know how
    /// far the example once moved it, so it takes a step that removes the label's lead on this
    /// text instead; after an unlearn the label is no longer preferred for the text because of
    /// it. A label left with no example disappears from the suggestions.
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
        // Check everything first, so a refused unlearn leaves the router untouched.
        let mut fids = Vec::with_capacity(keys.len());
        for key in &keys {
            let f = *self.vocab.get(key.as_str()).ok_or_else(not_learnt)?;
            if self.features[f as usize].count(l) == 0 {
                return Err(not_learnt());
            }
            fids.push(f);
        }
        let mut removed_sq = 0.0;
        for &f in &fids {
            let feature = &mut self.features[f as usize];
            feature.df -= 1;
            if feature.df == 0 {
                self.live_features -= 1;
            }
            let posting = feature.posting(l);
            removed_sq += centroid_step(posting.count, self.config.alpha);
            posting.count -= 1;
            feature.compact(l);
        }
        let removed_mass = fids.len() as u64;
        let entry = &mut self.labels[l as usize];
        entry.examples -= 1;
        entry.mass -= removed_mass;
        entry.sq_norm -= removed_sq;
        self.mass -= removed_mass;
        if entry.examples == 0 {
            entry.sq_norm = 0.0;
            self.live_labels -= 1;
        }
        self.examples -= 1;

        let x = self.unit_vector(&fids);
        let scores = self.raw_pa_scores(&x);
        if let Some((_, rival_score)) = self.best_other(&scores, l) {
            let lead = scores[l as usize] - rival_score;
            if lead > -1.0 {
                let tau = (lead + 1.0).min(self.config.pa_aggressiveness);
                self.pa_step(&x, l, -tau);
            }
        }
        Ok(())
    }

    /// A dispatcher's correction: the example learnt as `(text, from)` now belongs to `to`.
    /// [`Router::unlearn`] then [`Router::learn`]; if the unlearn is refused, nothing changes.
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
            if let Ok(i) = feature.postings.binary_search_by_key(&l, |p| p.label) {
                let posting = feature.postings.remove(i);
                if posting.count > 0 {
                    feature.df -= posting.count;
                    if feature.df == 0 {
                        self.live_features -= 1;
                    }
                }
            }
        }
        let entry = &mut self.labels[l as usize];
        self.mass -= entry.mass;
        entry.examples = 0;
        entry.mass = 0;
        entry.sq_norm = 0.0;
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
    /// **Calibration.** Each confidence is a mix of three posteriors over the labels — naive
    /// Bayes, cosine to the label centroid and the passive-aggressive margins, each a softmax with
    /// a temperature — times the *coverage*: the share of the text's feature weight the router
    /// has seen before. The temperatures were set so that, on held-out synthetic complaints, the
    /// mean top-1 confidence is close to the top-1 accuracy (the `eval` report prints both).
    /// Confidences are in `0..=1`, descending, and sum to at most 1 over all labels; a text made
    /// mostly of unseen words gets low confidences everywhere. Read them as a ranking aid with a
    /// rough probability meaning, not as exact probabilities on data unlike the training set.
    pub fn route(&self, text: &str, k: usize) -> Vec<Suggestion> {
        if k == 0 || self.live_labels == 0 {
            return Vec::new();
        }
        self.route_features(&Features::of(text), k)
    }

    /// [`Router::route`] for a text whose features were extracted once already: routers of
    /// different label sets (a category, a unit) share the extraction (jieba's segmentation
    /// and a string per feature, about a fifth of a route).
    pub fn route_features(&self, features: &Features, k: usize) -> Vec<Suggestion> {
        if k == 0 || self.live_labels == 0 {
            return Vec::new();
        }
        let scores = self.posterior(&features.0);
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

    /// The calibrated probability of every label slot (0 for empty slots); all zero when nothing
    /// is known about the text.
    fn posterior(&self, keys: &[String]) -> Vec<f64> {
        let n_labels = self.labels.len();
        let mut out = vec![0.0; n_labels];
        let c = &self.config;
        let n = self.examples as f64;
        let clock = self.clock.max(1) as f64;
        let mut nb = vec![0.0f64; n_labels];
        let mut comp = vec![0.0f64; n_labels];
        let mut dot = vec![0.0f64; n_labels];
        let mut pa = vec![0.0f64; n_labels];
        let mut comp_base = 0.0;
        let mut known = 0.0; // Σ weight of the features seen before
        let mut total = 0.0; // Σ weight of all features, seen or not
        let mut q_norm_sq = 0.0;
        let mut x_norm_sq = 0.0;
        let ln_alpha = c.alpha.ln();
        for key in keys {
            let kind_weight = c.kind_weights[Kind::of(key) as usize];
            let feature = self
                .vocab
                .get(key.as_str())
                .map(|&f| &self.features[f as usize])
                .filter(|f| f.df > 0);
            let Some(feature) = feature else {
                // An unseen feature weighs like the rarest seen one: it is new information.
                total += kind_weight * (1.0 + n).ln();
                continue;
            };
            let df = f64::from(feature.df);
            let ln = |k: u32| {
                self.ln_table
                    .get(k as usize)
                    .copied()
                    .unwrap_or_else(|| (f64::from(k) + c.alpha).ln())
            };
            let q = kind_weight * (1.0 + n / df).ln();
            known += q;
            total += q;
            q_norm_sq += q * q;
            x_norm_sq += kind_weight * kind_weight;
            let ln_df = ln(feature.df);
            let ln_one = ln(1);
            comp_base += q * ln_df;
            for p in &feature.postings {
                let l = p.label as usize;
                nb[l] += q * (ln(p.count) - ln_alpha);
                comp[l] += q * (ln(feature.df - p.count) - ln_df);
                dot[l] += q * (ln(p.count + 1) - ln_one);
                pa[l] += kind_weight * (f64::from(p.w) - f64::from(p.u) / clock);
            }
        }
        if known <= 0.0 {
            return out;
        }
        let vocab = self.live_features as f64;
        let live = f64::from(self.live_labels);
        let q_norm = q_norm_sq.sqrt();
        let x_norm = x_norm_sq.sqrt();
        let mut best = [f64::NEG_INFINITY; 3];
        for (l, label) in self.labels.iter().enumerate() {
            if label.examples == 0 {
                nb[l] = f64::NEG_INFINITY;
                dot[l] = f64::NEG_INFINITY;
                pa[l] = f64::NEG_INFINITY;
                continue;
            }
            let prior = ((f64::from(label.examples) + 1.0) / (n + live)).ln();
            let log_lik = nb[l] + known * (ln_alpha - (label.mass as f64 + c.alpha * vocab).ln());
            let rest = (self.mass - label.mass) as f64;
            let comp_lik = comp_base + comp[l] - known * (rest + c.alpha * vocab).ln();
            // Per unit of query weight, so the temperature does not depend on text length.
            let score = log_lik - c.complement_weight * comp_lik + c.prior_weight * prior;
            nb[l] = score / known / c.temperatures[0];
            dot[l] =
                dot[l] / (label.sq_norm.max(f64::MIN_POSITIVE).sqrt() * q_norm) / c.temperatures[1];
            pa[l] = pa[l] / x_norm / c.temperatures[2];
            best[0] = best[0].max(nb[l]);
            best[1] = best[1].max(dot[l]);
            best[2] = best[2].max(pa[l]);
        }
        let mut sums = [0.0; 3];
        for l in 0..n_labels {
            for (m, scores) in [&mut nb, &mut dot, &mut pa].into_iter().enumerate() {
                scores[l] = (scores[l] - best[m]).exp();
                sums[m] += scores[l];
            }
        }
        let mix_total: f64 = c.mix.iter().map(|m| m.max(0.0)).sum();
        let share = |m: usize| {
            if mix_total > 0.0 {
                c.mix[m].max(0.0) / mix_total
            } else {
                1.0 / 3.0
            }
        };
        // Square root: a text with a few unseen words (an address, a shop name) is still routable.
        let coverage = (known / total).sqrt();
        let mut sharp_sum = 0.0;
        for l in 0..n_labels {
            let p = share(0) * nb[l] / sums[0]
                + share(1) * dot[l] / sums[1]
                + share(2) * pa[l] / sums[2];
            // Sharpening keeps the ranking and only moves the probabilities (calibration).
            out[l] = if p.is_finite() {
                p.powf(c.sharpness)
            } else {
                0.0
            };
            sharp_sum += out[l];
        }
        if sharp_sum > 0.0 {
            out.iter_mut().for_each(|p| *p *= coverage / sharp_sum);
        }
        out
    }

    /// The unit-length passive-aggressive input vector of a text: kind weights, normalised.
    fn unit_vector(&self, fids: &[u32]) -> Vec<(u32, f64)> {
        let weights = &self.config.kind_weights;
        let mut x: Vec<(u32, f64)> = fids
            .iter()
            .map(|&f| (f, weights[self.features[f as usize].kind as usize]))
            .collect();
        let norm = x.iter().map(|(_, v)| v * v).sum::<f64>().sqrt();
        if norm > 0.0 {
            x.iter_mut().for_each(|(_, v)| *v /= norm);
        }
        x
    }

    /// Current (not averaged) linear scores of every label slot for `x`.
    fn raw_pa_scores(&self, x: &[(u32, f64)]) -> Vec<f64> {
        let mut scores = vec![0.0; self.labels.len()];
        for &(f, v) in x {
            for p in &self.features[f as usize].postings {
                scores[p.label as usize] += v * f64::from(p.w);
            }
        }
        scores
    }

    /// The highest-scoring label with examples other than `l`.
    fn best_other(&self, scores: &[f64], l: u32) -> Option<(u32, f64)> {
        (0..self.labels.len())
            .filter(|&i| i != l as usize && self.labels[i].examples > 0)
            .map(|i| (i as u32, scores[i]))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// Adds `tau · x` to label `l`'s weights, keeping the running sum for the average.
    fn pa_step(&mut self, x: &[(u32, f64)], l: u32, tau: f64) {
        self.clock += 1;
        let clock = self.clock as f64;
        for &(f, v) in x {
            let feature = &mut self.features[f as usize];
            let posting = feature.posting(l);
            let d = tau * v;
            posting.w += d as f32;
            posting.u += (clock * d) as f32;
            feature.compact(l);
        }
    }

    fn feature_id(&mut self, key: String) -> u32 {
        if let Some(&f) = self.vocab.get(key.as_str()) {
            return f;
        }
        let f = self.features.len() as u32;
        self.features.push(Feature {
            kind: Kind::of(&key),
            df: 0,
            postings: Vec::new(),
        });
        self.vocab.insert(key.into_boxed_str(), f);
        f
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
            sq_norm: 0.0,
        });
        self.label_ids.insert(label.into(), l);
        l
    }
}

/// A label's centroid coordinate for a feature its examples contain `c` times:
/// `ln(1 + c + α) − ln(1 + α)`, zero for zero, damped so that the boilerplate every text repeats
/// does not dominate the centroid's length. The `α` lets routing read it from the same table of
/// logarithms as naive Bayes.
fn centroid_coordinate(c: u32, alpha: f64) -> f64 {
    (f64::from(c) + 1.0 + alpha).ln() - (1.0 + alpha).ln()
}

/// How much a label's squared centroid length grows when a count goes from `c − 1` to `c`.
fn centroid_step(c: u32, alpha: f64) -> f64 {
    let (a, b) = (
        centroid_coordinate(c, alpha),
        centroid_coordinate(c - 1, alpha),
    );
    a * a - b * b
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
