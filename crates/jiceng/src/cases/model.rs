//! Case values and the rules they obey, as plain types and functions: sources, urgency,
//! ratings, time limits, receipt codes, masking, attachments by content, text similarity.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use workflow::{TimeLimit, TimeUnit};

use crate::error::{Error, Result};
use crate::ids::CaseId;
use crate::time::Timestamp;

macro_rules! labelled_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $id:literal, $label:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $id),+ }
            }

            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            pub fn parse(s: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }

            /// Reads the identifier or the Chinese label (spreadsheets use the label).
            pub fn from_label(s: &str) -> Option<$name> {
                let s = s.trim();
                Self::ALL.iter().copied().find(|v| v.label() == s || v.as_str() == s)
            }
        }
    };
}

labelled_enum!(
    /// Where a case came from.
    Source {
        GridWorker => "grid_worker", "网格员上报",
        Patrol => "patrol", "巡查发现",
        CitizenWeb => "citizen_web", "群众网上反映",
        CitizenApi => "citizen_api", "群众接口反映",
        Hotline => "hotline", "12345热线",
        Platform => "platform", "其他平台转入",
    }
);

impl Source {
    /// Sources where the reporter is a member of the public, who must leave a phone number
    /// so the revisit (回访) can reach them.
    pub fn needs_phone(self) -> bool {
        matches!(
            self,
            Source::CitizenWeb | Source::CitizenApi | Source::Hotline
        )
    }

    /// What staff may choose on the intake form (the citizen sources come through their own
    /// routes).
    pub const STAFF: &'static [Source] = &[
        Source::GridWorker,
        Source::Patrol,
        Source::Hotline,
        Source::Platform,
    ];
}

labelled_enum!(
    Urgency {
        Normal => "normal", "一般",
        Urgent => "urgent", "紧急",
    }
);

labelled_enum!(
    /// The reporter's verdict after closure (回访评价).
    Rating {
        Satisfied => "satisfied", "满意",
        Basic => "basic", "基本满意",
        Dissatisfied => "dissatisfied", "不满意",
    }
);

/// Parses a time limit as the category table writes it: `2h` (working hours) or `5d`
/// (working days).
pub fn parse_limit(s: &str) -> Option<TimeLimit> {
    let (amount, unit) = written_limit(s)?;
    let amount = u32::try_from(amount).ok()?;
    LIMIT_RANGE
        .contains(&amount)
        .then_some(TimeLimit { amount, unit })
}

/// A limit as written (a number and h or d), whatever its size.
fn written_limit(s: &str) -> Option<(u64, TimeUnit)> {
    let s = s.trim();
    let (num, unit) = if let Some(n) = s.strip_suffix('h') {
        (n, TimeUnit::WorkingHours)
    } else if let Some(n) = s.strip_suffix('d') {
        (n, TimeUnit::WorkingDays)
    } else {
        return None;
    };
    Some((num.trim().parse().ok()?, unit))
}

/// A year of working days is the longest limit that makes sense for a street problem.
const LIMIT_RANGE: std::ops::RangeInclusive<u32> = 1..=250;

pub fn format_limit(l: TimeLimit) -> String {
    match l.unit {
        TimeUnit::WorkingHours => format!("{}h", l.amount),
        _ => format!("{}d", l.amount),
    }
}

/// A category as stored and edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CategoryFields {
    pub code: String,
    pub major: String,
    pub minor: String,
    pub respond_normal: String,
    pub respond_urgent: String,
    pub handle_normal: String,
    pub handle_urgent: String,
    /// Organisation code of the default responsible department (BM04 …), empty for none.
    #[serde(default)]
    pub department_code: String,
    /// The duty item a ticket for this category cites by default, empty for none.
    #[serde(default)]
    pub duty_item_code: String,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

impl CategoryFields {
    pub fn respond(&self, u: Urgency) -> Option<TimeLimit> {
        parse_limit(match u {
            Urgency::Normal => &self.respond_normal,
            Urgency::Urgent => &self.respond_urgent,
        })
    }

    pub fn handle(&self, u: Urgency) -> Option<TimeLimit> {
        parse_limit(match u {
            Urgency::Normal => &self.handle_normal,
            Urgency::Urgent => &self.handle_urgent,
        })
    }

    pub fn name(&self) -> String {
        format!("{}／{}", self.major, self.minor)
    }

    /// `2 个工作小时` for pages.
    pub fn limit_label(s: &str) -> String {
        parse_limit(s).map(|l| l.to_string()).unwrap_or_default()
    }
}

/// A category code as a spreadsheet gives it back: a cell Excel took for a number has lost
/// its leading zeros (0102 → 102), and codes are always four digits.
pub fn category_code_as_typed(cell: &str) -> String {
    let cell = cell.trim();
    if (1..4).contains(&cell.len()) && cell.bytes().all(|b| b.is_ascii_digit()) {
        format!("{cell:0>4}")
    } else {
        cell.to_owned()
    }
}

/// Checks a category; the first problem is reported with its field.
pub fn validate_category(f: &CategoryFields) -> Result<()> {
    let code_ok = f.code.len() == 4 && f.code.bytes().all(|b| b.is_ascii_digit());
    if !code_ok {
        return Err(Error::invalid(
            "code",
            "类别编码为 4 位数字：2 位大类 + 2 位小类，如 0102",
        ));
    }
    for (field, v) in [("major", &f.major), ("minor", &f.minor)] {
        let n = v.trim().chars().count();
        if n == 0 || n > 30 {
            return Err(Error::invalid(
                field,
                "大类和小类名称不能为空，且不超过 30 个字",
            ));
        }
    }
    for (field, v) in [
        ("respond_normal", &f.respond_normal),
        ("respond_urgent", &f.respond_urgent),
        ("handle_normal", &f.handle_normal),
        ("handle_urgent", &f.handle_urgent),
    ] {
        if parse_limit(v).is_none() {
            // Well written but too long or zero: say so rather than repeat the format.
            let message = if written_limit(v).is_some() {
                format!(
                    "时限「{v}」应在 {} 到 {} 之间（工作小时或工作日）",
                    LIMIT_RANGE.start(),
                    LIMIT_RANGE.end()
                )
            } else {
                format!("时限「{v}」应写作工作小时数加 h（如 2h）或工作日数加 d（如 5d）")
            };
            return Err(Error::invalid(field, message));
        }
    }
    // The limits of one category must nest, or a case would be late for its response after
    // it was due to be handled. A working day is the calendar's (seven hours by default).
    let day = u64::from(calendar::WorkingHours::default().day_seconds());
    let hours = |v: &str| {
        parse_limit(v).map_or(0, |l| match l.unit {
            TimeUnit::WorkingHours => u64::from(l.amount) * 3600,
            _ => u64::from(l.amount) * day,
        })
    };
    for (field, respond, handle, which) in [
        (
            "respond_normal",
            &f.respond_normal,
            &f.handle_normal,
            "一般",
        ),
        (
            "respond_urgent",
            &f.respond_urgent,
            &f.handle_urgent,
            "紧急",
        ),
    ] {
        if hours(respond) > hours(handle) {
            return Err(Error::invalid(
                field,
                format!("{which}案件的响应时限（{respond}）不能长于处置时限（{handle}）"),
            ));
        }
    }
    for (urgent, normal, what) in [
        (&f.respond_urgent, &f.respond_normal, "respond_urgent"),
        (&f.handle_urgent, &f.handle_normal, "handle_urgent"),
    ] {
        if hours(urgent) > hours(normal) {
            return Err(Error::invalid(
                what,
                format!("紧急案件的时限（{urgent}）不能长于一般案件（{normal}）"),
            ));
        }
    }
    let codeish = |s: &str| {
        s.len() <= 40
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    };
    if !codeish(&f.department_code) {
        return Err(Error::invalid("department_code", "责任部门编码格式不对"));
    }
    if !codeish(&f.duty_item_code) {
        return Err(Error::invalid("duty_item_code", "清单事项编码格式不对"));
    }
    Ok(())
}

/// The shipped categories (see `data/categories.csv`).
///
/// The list follows the event classes (事件大类/小类) of GB/T 30428.2《数字化城市管理信息系统
/// 第 2 部分：管理部件和事件》 as city digital-management manuals publish them: 市容环境 01,
/// 宣传广告 02, 施工管理 03, 突发事件 04, 街面秩序 05, 市场监管 06, 其他事件 99, coded as
/// 2-digit major + 2-digit minor. It is a representative subset written down for this project,
/// not a copy of the standard's full table; minor numbers and time limits are ours, and the
/// default departments (BM01–BM15) and duty items (ZR-/SD- codes) are the demo district's.
pub fn shipped_categories() -> Vec<CategoryFields> {
    let mut r = csv::Reader::from_reader(include_str!("data/categories.csv").as_bytes());
    r.records()
        .filter_map(std::result::Result::ok)
        .map(|rec| {
            let get = |i: usize| rec.get(i).unwrap_or("").trim().to_owned();
            CategoryFields {
                code: get(0),
                major: get(1),
                minor: get(2),
                respond_normal: get(3),
                respond_urgent: get(4),
                handle_normal: get(5),
                handle_urgent: get(6),
                department_code: get(7),
                duty_item_code: get(8),
                active: true,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Receipt codes

/// Crockford's base32: no I, L, O, U, so a code read aloud over the phone is not misheard.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new receipt code: 12 Crockford base32 characters, 60 random bits, too many to guess.
/// The bits are one draw from the system's generator, five to a character: a draw per
/// character was a system call each, twelve for every intake.
pub fn new_receipt_code() -> String {
    let bits = rand::rngs::OsRng.next_u64();
    (0..12)
        .map(|i| char::from(CROCKFORD[(bits >> (5 * i)) as usize & 31]))
        .collect()
}

/// Reads a code as people type it: any case, with spaces or hyphens, I/L for 1 and O for 0.
/// `None` if it cannot be a code at all.
pub fn normalize_receipt_code(s: &str) -> Option<String> {
    let mut out = String::with_capacity(12);
    for c in s.chars() {
        let c = match c.to_ascii_uppercase() {
            ' ' | '-' => continue,
            'I' | 'L' => '1',
            'O' => '0',
            c => c,
        };
        if !c.is_ascii() || !CROCKFORD.contains(&(c as u8)) {
            return None;
        }
        out.push(c);
    }
    (out.len() == 12).then_some(out)
}

/// `ABCD-EFGH-JKMN`, for printing on the receipt.
pub fn format_receipt_code(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

// ---------------------------------------------------------------------------------------
// Personal data

/// 138****5678: the first three and last four digits; shorter numbers are hidden entirely.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if phone.is_empty() {
        return String::new();
    }
    if chars.len() < 8 {
        return "****".to_owned();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

/// 张*, 欧阳** : the family name's first character only.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let rest = chars.count().max(1);
            format!("{first}{}", "*".repeat(rest))
        }
    }
}

/// A landline or mobile number: digits with at most two hyphens, 7 to 12 digits (or the 5
/// of a service number).
pub fn valid_phone(s: &str) -> bool {
    crate::catalog::model::valid_phone(s)
}

// ---------------------------------------------------------------------------------------
// Attachments

/// The largest attachment accepted, and how many one submission may carry.
pub const MAX_ATTACHMENT_BYTES: usize = 5 * 1024 * 1024;
pub const MAX_ATTACHMENTS: usize = 6;

/// A file as uploaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Upload {
    pub filename: String,
    pub bytes: Vec<u8>,
}

/// The content type of an accepted file, recognised by its first bytes: a photo (JPEG, PNG,
/// GIF, WebP) or a PDF. The name a browser sends proves nothing.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

/// An attachment that passed the checks.
#[derive(Debug, Clone)]
pub struct CheckedFile {
    pub filename: String,
    pub content_type: &'static str,
    pub sha256: String,
    pub bytes: Vec<u8>,
}

/// Checks every file: count, size and content. Empty file inputs (a form submitted without a
/// file) are skipped.
pub fn check_uploads(files: Vec<Upload>) -> Result<Vec<CheckedFile>> {
    let files: Vec<Upload> = files.into_iter().filter(|f| !f.bytes.is_empty()).collect();
    if files.len() > MAX_ATTACHMENTS {
        return Err(Error::invalid(
            "attachments",
            format!("附件最多 {MAX_ATTACHMENTS} 个"),
        ));
    }
    files
        .into_iter()
        .map(|f| {
            let name: String = f
                .filename
                .rsplit(['/', '\\'])
                .next()
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_control())
                .take(100)
                .collect();
            let name = if name.trim().is_empty() {
                "附件".to_owned()
            } else {
                name
            };
            if f.bytes.len() > MAX_ATTACHMENT_BYTES {
                return Err(Error::invalid(
                    "attachments",
                    format!(
                        "附件「{name}」超过 {} MiB",
                        MAX_ATTACHMENT_BYTES / 1024 / 1024
                    ),
                ));
            }
            let content_type = sniff(&f.bytes).ok_or_else(|| {
                Error::invalid(
                    "attachments",
                    format!("附件「{name}」不是图片（JPEG、PNG、GIF、WebP）或 PDF 文件"),
                )
            })?;
            Ok(CheckedFile {
                filename: name,
                content_type,
                sha256: hex::encode(Sha256::digest(&f.bytes)),
                bytes: f.bytes,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Coordinates

/// Degrees as text → degrees × 10^7. Only a rough box around China is checked: which grid a
/// point falls in is the geometry engine's job.
pub fn parse_coordinates(lon: &str, lat: &str) -> Result<Option<(i64, i64)>> {
    let (lon, lat) = (lon.trim(), lat.trim());
    if lon.is_empty() && lat.is_empty() {
        return Ok(None);
    }
    let parse = |s: &str, lo: f64, hi: f64, field: &str| -> Result<i64> {
        let v: f64 = s
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && (lo..=hi).contains(v))
            .ok_or_else(|| {
                Error::invalid(field, "经纬度应为中国境内的十进制度数，如 103.92、30.78")
            })?;
        Ok((v * 1e7).round() as i64)
    };
    Ok(Some((
        parse(lon, 73.0, 136.0, "lon")?,
        parse(lat, 3.0, 54.0, "lat")?,
    )))
}

pub fn format_e7(v: i64) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    format!("{sign}{}.{:07}", a / 10_000_000, a % 10_000_000)
}

// ---------------------------------------------------------------------------------------
// Duplicates

/// The distinct character bigrams of a text, sorted, each packed in one integer: intake
/// compares each new case with dozens of open ones inside the write transaction, so they are
/// computed once per text and compared by merging.
#[derive(Debug, Clone, Default)]
pub struct Bigrams(Vec<u64>);

impl Bigrams {
    pub fn of(text: &str) -> Bigrams {
        Bigrams(bigrams(text))
    }
}

fn bigrams(text: &str) -> Vec<u64> {
    let chars: Vec<char> = text
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    let pack = |a: char, b: char| (u64::from(a) << 32) | u64::from(b);
    let mut v: Vec<u64> = if chars.len() == 1 {
        vec![pack(chars[0], ' ')]
    } else {
        chars.windows(2).map(|w| pack(w[0], w[1])).collect()
    };
    v.sort_unstable();
    v.dedup();
    v
}

/// Jaccard similarity in thousandths of two sorted, distinct bigram lists.
///
/// The merge steps without branching on the comparison: which list advances is as good as
/// random, so a branch on it was mispredicted at every other step. It runs for each of the
/// open cases near every new one, inside the write transaction, and was the server's busiest
/// code there (6.5 % of its samples during PostgreSQL intake); branch-free, a comparison of
/// 20–60 bigrams each takes 250 rather than 450 ns.
fn jaccard_permille(a: &[u64], b: &[u64]) -> i64 {
    let (mut i, mut j, mut common) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        common += usize::from(x == y);
        i += usize::from(x <= y);
        j += usize::from(y <= x);
    }
    let union = a.len() + b.len() - common;
    if union == 0 {
        return 0;
    }
    (common * 1000 / union) as i64
}

/// Character-bigram Jaccard similarity in thousandths: Chinese complaints about the same
/// problem share short word pieces (占道, 经营, 垃圾) even when worded differently.
pub fn similarity_permille(a: &str, b: &str) -> i64 {
    jaccard_permille(&bigrams(a), &bigrams(b))
}

/// The `limit` items whose text is most like the one with bigrams `text` (character-bigram
/// Jaccard, in thousandths, at least `threshold`), most similar first; ties keep the given
/// order.
pub fn most_similar<'b, T>(
    text: &Bigrams,
    items: impl IntoIterator<Item = (T, &'b Bigrams)>,
    threshold: i64,
    limit: usize,
) -> Vec<(T, i64)> {
    let mut scored: Vec<(T, i64)> = items
        .into_iter()
        .map(|(item, other)| (item, jaccard_permille(&text.0, &other.0)))
        .filter(|(_, s)| *s >= threshold)
        .collect();
    scored.sort_by_key(|(_, s)| std::cmp::Reverse(*s));
    scored.truncate(limit);
    scored
}

/// A case's description with its bigrams, as duplicate detection compares it.
#[derive(Debug)]
pub struct Described {
    pub description: String,
    pub bigrams: Bigrams,
}

impl Described {
    pub fn of(description: &str) -> Described {
        Described {
            description: description.to_owned(),
            bigrams: Bigrams::of(description),
        }
    }
}

/// The descriptions of cases this process has stored or read, so that each intake compares a
/// new case with the open ones near it without reading their texts again and splitting them
/// into bigrams. A description never changes, so an entry never goes stale, whichever process
/// wrote the case. The key is the case's id with its time of intake: on SQLite an id that a
/// rolled-back intake held is given again, to a case of a later time.
///
/// Bounded by two generations: the newer takes what is stored or used, and when it is full
/// the older one goes. What an intake compares is the open cases of the last days, which the
/// newer generation keeps.
#[derive(Debug, Default)]
pub struct DescriptionCache {
    generations: std::sync::Mutex<[DescribedById; 2]>,
}

type DescribedById = HashMap<(CaseId, Timestamp), Arc<Described>>;

/// Entries per generation of [`DescriptionCache`]: a busy district's open cases of a few days,
/// at well under a kilobyte each.
const DESCRIPTIONS_PER_GENERATION: usize = 16_384;

impl DescriptionCache {
    /// The entry of each key, if kept.
    pub fn get(&self, keys: &[(CaseId, Timestamp)]) -> Vec<Option<Arc<Described>>> {
        let mut g = self.generations.lock().unwrap_or_else(|e| e.into_inner());
        let mut promoted = Vec::new();
        let found = keys
            .iter()
            .map(|k| match g[0].get(k) {
                Some(d) => Some(d.clone()),
                None => {
                    let d = g[1].get(k).cloned();
                    if let Some(d) = &d {
                        promoted.push((*k, d.clone()));
                    }
                    d
                }
            })
            .collect();
        for (k, d) in promoted {
            Self::put_in(&mut g, k, d);
        }
        found
    }

    pub fn put(&self, entries: impl IntoIterator<Item = ((CaseId, Timestamp), Arc<Described>)>) {
        let mut g = self.generations.lock().unwrap_or_else(|e| e.into_inner());
        for (k, d) in entries {
            Self::put_in(&mut g, k, d);
        }
    }

    fn put_in(g: &mut [DescribedById; 2], k: (CaseId, Timestamp), d: Arc<Described>) {
        if g[0].len() >= DESCRIPTIONS_PER_GENERATION {
            g[1] = std::mem::take(&mut g[0]);
        }
        g[0].insert(k, d);
    }
}

pub const DEFAULT_DUPLICATE_WINDOW_HOURS: i64 = 72;
pub const DEFAULT_DUPLICATE_THRESHOLD: i64 = 300;

// ---------------------------------------------------------------------------------------
// The public form's anti-automation stamp

/// Seconds a person needs at least to fill in the public form; faster is a script.
pub const MIN_FILL_SECONDS: i64 = 3;
/// A form older than this is stale (and its stamp cannot be reused for long).
pub const MAX_FORM_AGE_SECONDS: i64 = 2 * 3600;

/// The stamp the public form carries: when it was issued, bound to the visitor's CSRF token so
/// that a script cannot mint its own.
pub fn form_stamp(token: &str, issued_micros: i64) -> String {
    let mut h = Sha256::new();
    h.update(b"jiceng-case-form|");
    h.update(token.as_bytes());
    h.update(b"|");
    h.update(issued_micros.to_be_bytes());
    hex::encode(&h.finalize()[..12])
}

/// Checks the honeypot (a field people never see), the stamp and the fill time.
pub fn check_human(
    token: &str,
    honeypot: &str,
    issued: &str,
    stamp: &str,
    now_micros: i64,
) -> Result<()> {
    let refuse = || {
        Error::invalid(
            "form",
            "提交未通过校验，请刷新页面后重新填写（填写过快或页面已过期）",
        )
    };
    if !honeypot.trim().is_empty() {
        return Err(refuse());
    }
    let issued: i64 = issued.trim().parse().map_err(|_| refuse())?;
    if token.is_empty() || form_stamp(token, issued) != stamp.trim() {
        return Err(refuse());
    }
    let age = (now_micros - issued) / 1_000_000;
    if !(MIN_FILL_SECONDS..=MAX_FORM_AGE_SECONDS).contains(&age) {
        return Err(refuse());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Intake text

/// The description, address and reporter as typed: trimmed and checked.
pub struct Text {
    pub description: String,
    pub address: String,
    pub reporter_name: String,
    pub reporter_phone: String,
}

pub fn check_text(
    source: Source,
    description: &str,
    address: &str,
    reporter_name: &str,
    reporter_phone: &str,
) -> Result<Text> {
    let description = description.trim();
    if description.is_empty() {
        return Err(Error::invalid("description", "请描述发现的问题"));
    }
    if description.chars().count() > 2000 {
        return Err(Error::invalid("description", "问题描述不超过 2000 字"));
    }
    let address = address.trim();
    if address.chars().count() > 200 {
        return Err(Error::invalid("address", "地址不超过 200 字"));
    }
    let name = reporter_name.trim();
    if name.chars().count() > 32 || name.chars().any(char::is_control) {
        return Err(Error::invalid("reporter_name", "姓名不超过 32 个字"));
    }
    let phone: String = reporter_phone.trim().replace(' ', "");
    if phone.is_empty() && source.needs_phone() {
        return Err(Error::invalid(
            "reporter_phone",
            "请留下联系电话，以便回访办理结果",
        ));
    }
    if !phone.is_empty() && !valid_phone(&phone) {
        return Err(Error::invalid(
            "reporter_phone",
            "联系电话格式不对（如 13800138000 或 028-87921234）",
        ));
    }
    Ok(Text {
        description: description.to_owned(),
        address: address.to_owned(),
        reporter_name: name.to_owned(),
        reporter_phone: phone,
    })
}

/// What one network address may file through the public form and API in an hour: reports,
/// and bytes of photos. Nobody signs in there, and each report is a case a dispatcher must
/// read and files kept for years: without a bound, one script fills both. Kept in this
/// process's memory (each `serve` process allows as much).
#[derive(Debug)]
pub struct PublicQuota {
    reports: u32,
    bytes: u64,
    /// Per address: when its hour began, reports and bytes taken in it.
    windows: Mutex<HashMap<String, (Instant, u32, u64)>>,
}

/// Addresses remembered before those whose hour is over are forgotten.
const QUOTA_ADDRESSES: usize = 10_000;

const QUOTA_WINDOW: Duration = Duration::from_secs(3600);

impl PublicQuota {
    pub fn new(reports_per_hour: u32, upload_mib_per_hour: u32) -> PublicQuota {
        PublicQuota {
            reports: reports_per_hour,
            bytes: u64::from(upload_mib_per_hour) * 1024 * 1024,
            windows: Mutex::default(),
        }
    }

    /// Counts a report from `address` with `bytes` of attachments, or says why it must wait.
    pub fn take(&self, address: &str, bytes: u64, now: Instant) -> Result<()> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let mut key = quota_key(address);
        if windows.len() >= QUOTA_ADDRESSES && !windows.contains_key(&key) {
            windows.retain(|_, w| now.duration_since(w.0) < QUOTA_WINDOW);
            // Still full: so many addresses within the hour is a flood, and new ones share
            // one allowance rather than grow the map.
            if windows.len() >= QUOTA_ADDRESSES {
                key = "*".to_owned();
            }
        }
        let w = windows.entry(key).or_insert((now, 0, 0));
        if now.duration_since(w.0) >= QUOTA_WINDOW {
            *w = (now, 0, 0);
        }
        if w.1 >= self.reports {
            return Err(Error::TooManyRequests(format!(
                "同一网络每小时最多提交 {} 件问题，请稍后再试；紧急情况请拨打 12345",
                self.reports
            )));
        }
        if w.2 + bytes > self.bytes {
            return Err(Error::TooManyRequests(
                "本小时上传的照片已达上限，请稍后再试，或先不附照片提交".to_owned(),
            ));
        }
        w.1 += 1;
        w.2 += bytes;
        Ok(())
    }

    /// Gives back what [`PublicQuota::take`] counted for a report that was refused: a citizen
    /// correcting a phone number should not use up the hour.
    pub fn give_back(&self, address: &str, bytes: u64) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = windows.get_mut(&quota_key(address)) {
            w.1 = w.1.saturating_sub(1);
            w.2 = w.2.saturating_sub(bytes);
        }
    }
}

/// The allowance an address draws on: its own, or for IPv6 its /64, which one subscriber
/// holds whole.
fn quota_key(address: &str) -> String {
    match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        _ => address.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn a_category_code_excel_read_as_a_number_gets_its_zeros_back() {
        assert_eq!(category_code_as_typed("102"), "0102");
        assert_eq!(category_code_as_typed(" 0507 "), "0507");
        assert_eq!(category_code_as_typed("1201"), "1201");
        assert_eq!(category_code_as_typed("5"), "0005");
        assert_eq!(category_code_as_typed(""), "");
        assert_eq!(category_code_as_typed("ab"), "ab");
        assert_eq!(category_code_as_typed("10203"), "10203");
    }

    #[test]
    fn a_kept_description_answers_only_its_case_and_time_and_the_cache_stays_bounded() {
        let cache = DescriptionCache::default();
        let at = |s: i64| Timestamp::from_micros(s);
        let text = Arc::new(Described::of("小区门口垃圾堆积"));
        cache.put([((CaseId(1), at(10)), text.clone())]);
        let found = cache.get(&[
            (CaseId(1), at(10)),
            (CaseId(1), at(11)),
            (CaseId(2), at(10)),
        ]);
        assert_eq!(
            found[0].as_ref().map(|d| d.description.as_str()),
            Some("小区门口垃圾堆积")
        );
        assert!(found[1].is_none(), "an id given again to a later case");
        assert!(found[2].is_none());

        // Two generations' worth of other cases, with case 1 used half-way: it is kept, and
        // what came first and was not used again is gone.
        let n = DESCRIPTIONS_PER_GENERATION as i64;
        cache.put((100..100 + n).map(|i| ((CaseId(i), at(i)), text.clone())));
        assert!(cache.get(&[(CaseId(1), at(10))])[0].is_some());
        cache.put((100 + n..100 + 2 * n).map(|i| ((CaseId(i), at(i)), text.clone())));
        assert!(cache.get(&[(CaseId(1), at(10))])[0].is_some());
        assert!(cache.get(&[(CaseId(100), at(100))])[0].is_none());
        let g = cache.generations.lock().unwrap();
        assert!(g.iter().all(|m| m.len() <= DESCRIPTIONS_PER_GENERATION));
    }

    #[test]
    fn only_the_most_similar_are_offered() {
        let items = [
            (1, "小区门口垃圾堆积多日无人清运"),
            (2, "小区门口垃圾堆积无人清运"),
            (3, "路灯不亮"),
            (4, "小区门口垃圾堆积多日无人清运，气味很大"),
        ]
        .map(|(i, text)| (i, Bigrams::of(text)));
        let best = most_similar(
            &Bigrams::of("小区门口垃圾堆积多日无人清运"),
            items.iter().map(|(i, b)| (*i, b)),
            300,
            2,
        );
        let ids: Vec<i32> = best.iter().map(|(i, _)| *i).collect();
        assert_eq!(ids, vec![1, 4]);
        assert_eq!(best[0].1, 1000);
    }

    #[test]
    fn limits_read_hours_and_days() {
        assert_eq!(
            parse_limit("2h"),
            Some(TimeLimit {
                amount: 2,
                unit: TimeUnit::WorkingHours
            })
        );
        assert_eq!(
            parse_limit(" 5d").map(|l| l.to_string()).unwrap(),
            "5 个工作日"
        );
        assert!(parse_limit("0h").is_none());
        assert!(parse_limit("250d").is_some() && parse_limit("251d").is_none());
        assert!(parse_limit("2w").is_none());
        assert!(parse_limit("h").is_none());
    }

    #[test]
    fn receipt_codes_are_twelve_crockford_characters_read_forgivingly() {
        let c = new_receipt_code();
        assert_eq!(c.len(), 12);
        assert_eq!(normalize_receipt_code(&c).as_deref(), Some(c.as_str()));
        assert_ne!(new_receipt_code(), c);
        // Each position draws its own bits: over a thousand codes, every position shows every
        // character (one missing by chance is about one in 10^12).
        let codes: Vec<Vec<u8>> = (0..1000).map(|_| new_receipt_code().into_bytes()).collect();
        for i in 0..12 {
            let seen: std::collections::BTreeSet<u8> = codes.iter().map(|c| c[i]).collect();
            assert_eq!(seen.len(), 32, "position {i}: {seen:?}");
        }
        assert_eq!(
            normalize_receipt_code("abcd-efgh-ilo0").as_deref(),
            Some("ABCDEFGH1100")
        );
        assert!(normalize_receipt_code("ABCD").is_none());
        assert!(normalize_receipt_code("ABCDEFGHJKMU").is_none());
        assert!(normalize_receipt_code("犀浦犀浦犀浦犀浦犀浦犀浦").is_none());
        assert_eq!(format_receipt_code("ABCDEFGHJKMN"), "ABCD-EFGH-JKMN");
    }

    #[test]
    fn phones_and_names_are_masked() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("028-87921234"), "028****1234");
        assert_eq!(mask_phone("12345"), "****");
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn attachments_are_judged_by_their_content() {
        let png = b"\x89PNG\r\n\x1a\n0000".to_vec();
        let ok = check_uploads(vec![Upload {
            filename: "C:\\photos\\现场.png".into(),
            bytes: png,
        }])
        .unwrap();
        assert_eq!(ok[0].content_type, "image/png");
        assert_eq!(ok[0].filename, "现场.png");
        let fake = check_uploads(vec![Upload {
            filename: "photo.jpg".into(),
            bytes: b"MZ\x90\x00 not a photo".to_vec(),
        }]);
        assert!(matches!(fake, Err(Error::Invalid { .. })));
        let big = check_uploads(vec![Upload {
            filename: "a.pdf".into(),
            bytes: [b"%PDF-".as_slice(), &vec![0; MAX_ATTACHMENT_BYTES]].concat(),
        }]);
        assert!(big.is_err());
        assert!(check_uploads(vec![Upload::default()]).unwrap().is_empty());
    }

    #[test]
    fn similar_complaints_score_higher_than_different_ones() {
        let a = "玉龙路口有人占道经营卖水果，堵住了人行道";
        let b = "玉龙路口水果摊占道经营，人行道被堵";
        let c = "小区门口垃圾桶满了没人清运";
        assert!(similarity_permille(a, b) >= DEFAULT_DUPLICATE_THRESHOLD);
        assert!(similarity_permille(a, c) < 100);
        assert_eq!(similarity_permille(a, a), 1000);
        assert_eq!(similarity_permille("", ""), 0);
    }

    proptest::proptest! {
        /// The merge counts what the sets share, as a set intersection does.
        #[test]
        fn jaccard_agrees_with_sets(
            a in proptest::collection::btree_set(0u64..64, 0..40),
            b in proptest::collection::btree_set(0u64..64, 0..40),
        ) {
            let shared = a.intersection(&b).count();
            let union = a.union(&b).count();
            let expected = (shared * 1000).checked_div(union).unwrap_or(0) as i64;
            let (a, b): (Vec<u64>, Vec<u64>) = (a.into_iter().collect(), b.into_iter().collect());
            proptest::prop_assert_eq!(jaccard_permille(&a, &b), expected);
            proptest::prop_assert_eq!(jaccard_permille(&b, &a), expected);
        }
    }

    #[test]
    fn the_form_stamp_wants_a_person_and_the_same_visitor() {
        let issued = 1_000_000_000_000;
        let stamp = form_stamp("tok", issued);
        let later = issued + 10_000_000;
        assert!(check_human("tok", "", &issued.to_string(), &stamp, later).is_ok());
        assert!(check_human("tok", "http://spam", &issued.to_string(), &stamp, later).is_err());
        assert!(check_human("other", "", &issued.to_string(), &stamp, later).is_err());
        assert!(check_human("tok", "", &issued.to_string(), &stamp, issued + 1_000_000).is_err());
    }

    #[test]
    fn coordinates_are_kept_as_integers() {
        let (lon, lat) = parse_coordinates("103.9231", "30.7812").unwrap().unwrap();
        assert_eq!((lon, lat), (1_039_231_000, 307_812_000));
        assert_eq!(format_e7(lon), "103.9231000");
        assert!(parse_coordinates("", "").unwrap().is_none());
        assert!(parse_coordinates("200", "30").is_err());
        assert!(parse_coordinates("abc", "30").is_err());
    }

    #[test]
    fn the_shipped_categories_are_valid_and_unique() {
        let all = shipped_categories();
        assert!(all.len() > 40);
        let codes: BTreeSet<_> = all.iter().map(|c| c.code.clone()).collect();
        assert_eq!(codes.len(), all.len());
        for c in &all {
            validate_category(c).unwrap_or_else(|e| panic!("{}: {e}", c.code));
        }
        let urgent = all.iter().find(|c| c.code == "0102").unwrap();
        assert_eq!(
            urgent.respond(Urgency::Urgent).unwrap().to_string(),
            "2 个工作小时"
        );
        // A limit out of range is told as such; a malformed one gets the format.
        let message = |limit: &str| {
            let mut c = urgent.clone();
            c.handle_normal = limit.to_owned();
            validate_category(&c).unwrap_err().to_string()
        };
        assert!(
            message("1000d").contains("1 到 250"),
            "{}",
            message("1000d")
        );
        assert!(message("three days").contains("应写作"));
    }

    #[test]
    fn a_citizen_must_leave_a_phone_but_a_grid_worker_need_not() {
        assert!(check_text(Source::CitizenWeb, "有垃圾", "", "", "").is_err());
        assert!(check_text(Source::GridWorker, "有垃圾", "", "", "").is_ok());
        assert!(check_text(Source::Hotline, "  ", "", "", "13800138000").is_err());
        assert!(check_text(Source::Hotline, "有垃圾", "", "", "abc").is_err());
    }

    #[test]
    fn the_public_quota_counts_reports_and_bytes_per_address_and_hour() {
        let q = PublicQuota::new(2, 1);
        let t0 = Instant::now();
        assert!(q.take("10.0.0.1", 0, t0).is_ok());
        assert!(q.take("10.0.0.1", 0, t0).is_ok());
        assert!(matches!(
            q.take("10.0.0.1", 0, t0),
            Err(Error::TooManyRequests(_))
        ));
        // Another address has its own hour; bytes count too.
        assert!(q.take("10.0.0.2", 1024 * 1024 + 1, t0).is_err());
        assert!(q.take("10.0.0.2", 1024 * 1024, t0).is_ok());
        assert!(q.take("10.0.0.2", 1, t0).is_err());
        // An hour later the address starts afresh.
        let later = t0 + QUOTA_WINDOW;
        assert!(q.take("10.0.0.1", 0, later).is_ok());
        // A refused report is given back.
        q.give_back("10.0.0.1", 0);
        assert!(q.take("10.0.0.1", 0, later).is_ok());
        // Addresses of one IPv6 /64 share an allowance.
        assert!(q.take("2001:db8::1", 0, t0).is_ok());
        assert!(q.take("2001:db8::2", 0, t0).is_ok());
        assert!(q.take("2001:db8::3", 0, t0).is_err());
    }
}
