//! Spreadsheets in and out: reading uploaded `.xlsx` / `.csv` files into rows, turning rows
//! into duty items (all or nothing, every problem reported), and writing exports and the
//! import template. Pure functions over bytes: no database, no HTTP.
//!
//! Reading is defensive because uploads come from anywhere: the format is detected from the
//! content, sizes are bounded before anything is decompressed or allocated, and no input
//! makes these functions panic.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::Cursor;

use calamine::{DataRef, Reader, SheetType, SheetVisible, Xlsx};
use rust_xlsxwriter::{
    ColNum, Color, DataValidation, Format, FormatAlign, FormatBorder, RowNum, Workbook, Worksheet,
    XlsxError,
};

use super::model::{self, COLUMNS, Category, ItemFields, ListKind, NationalClass, Source};

/// Largest upload accepted, in bytes.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// Most data rows (not counting the header) in one file.
pub const MAX_ROWS: usize = 20_000;
/// The extra first column of township (local) lists.
pub const TOWNSHIP_COLUMN: &str = "乡镇代码";

/// Cells further right than this are refused (the template has 24 columns).
const MAX_COLUMNS: usize = 200;
/// What the parts of an `.xlsx` may declare in total once unzipped (a zip bomb guard).
const MAX_UNZIPPED_BYTES: u64 = 256 * 1024 * 1024;
/// Total text of all cells read from one file.
const MAX_TEXT_BYTES: usize = 64 * 1024 * 1024;
/// How many bad rows [`ImportError`]'s message lists before summarising the rest.
const MAX_LISTED_ROWS: usize = 200;

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const CFB_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Why a file could not be read or written. Messages are for the person who uploaded it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IoError {
    #[error("文件是空的")]
    Empty,
    #[error("文件过大（{:.1} MiB），请不要超过 10 MiB；可拆分后分批导入", *.bytes as f64 / 1048576.0)]
    TooLarge { bytes: usize },
    #[error("数据行过多：一次最多导入 {MAX_ROWS} 行，请拆分后分批导入")]
    TooManyRows,
    #[error("列数过多（超过 {MAX_COLUMNS} 列）：请使用下载的导入模板")]
    TooManyColumns,
    #[error("文件内容过多，请拆分后分批导入")]
    TooMuchText,
    #[error("文件中没有表头")]
    NoHeader,
    #[error("这是旧版 Excel（.xls）文件：请另存为 .xlsx 后上传（加密的 Excel 文件请先取消密码）")]
    LegacyXls,
    #[error("无法识别的文件格式：请上传 .xlsx 或 .csv 文件")]
    UnknownFormat,
    #[error("无法识别 CSV 文件的文字编码：请以 UTF-8 或 GBK 编码保存后上传")]
    Encoding,
    #[error("CSV 文件第 {row} 行的引号没有闭合")]
    UnclosedQuote { row: usize },
    #[error("Excel 文件解压后过大：请删除多余的工作表、图片等内容后重新上传")]
    Unzipped,
    #[error("Excel 文件中没有工作表")]
    NoSheet,
    #[error("无法读取 Excel 文件（文件可能已损坏，或不是 .xlsx 文件）：{0}")]
    BadXlsx(String),
    #[error("无法生成 Excel 文件：{0}")]
    Write(String),
}

impl From<XlsxError> for IoError {
    fn from(e: XlsxError) -> Self {
        IoError::Write(e.to_string())
    }
}

/// The cells of a spreadsheet (of an `.xlsx`, its first visible worksheet), as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// The first non-empty row, trimmed, without trailing empty cells.
    pub header: Vec<String>,
    /// The non-empty rows after the header: the row number as the user sees it in Excel
    /// (the header of a file that starts with it is row 1), and the trimmed cells.
    pub rows: Vec<(usize, Vec<String>)>,
}

/// Reads an uploaded `.xlsx` or `.csv` file, recognised by its content (not its name).
///
/// Every cell comes back as text: numbers without a trailing `.0` (a phone typed as a number
/// is its digits), dates as `YYYY-MM-DD`, empty cells as `""`. CSV may be UTF-8 (with or
/// without BOM) or GBK/GB18030, with RFC 4180 quoting and CRLF or LF line ends.
pub fn read_table(bytes: &[u8]) -> Result<Table, IoError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(IoError::TooLarge { bytes: bytes.len() });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(IoError::Empty);
    }
    let rows = if bytes.starts_with(ZIP_MAGIC) {
        read_xlsx_rows(bytes)?
    } else if bytes.starts_with(CFB_MAGIC) {
        return Err(IoError::LegacyXls);
    } else {
        read_csv_rows(bytes)?
    };
    let mut rows = rows.into_iter();
    let (_, header) = rows.next().ok_or(IoError::NoHeader)?;
    Ok(Table {
        header,
        rows: rows.collect(),
    })
}

/// Trims a cell (including full-width spaces and stray BOMs).
fn trim_cell(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

/// A trimmed CSV cell without the formula guard that [`write_csv`] adds.
fn unguard(s: &str) -> &str {
    match s.strip_prefix('\'') {
        Some(rest) if needs_formula_guard(rest) => rest,
        _ => s,
    }
}

/// Collects non-empty rows (1-based row number, cells without trailing empties), enforcing
/// the row limit as it goes.
#[derive(Default)]
struct RowSink {
    rows: Vec<(usize, Vec<String>)>,
    /// Undo [`write_csv`]'s formula guard.
    csv: bool,
}

impl RowSink {
    /// Adds a field to a row being read. Empty fields past [`MAX_COLUMNS`] (trailing commas
    /// up to a far-right column Excel once touched) are dropped, so a line of commas cannot
    /// allocate much.
    fn push_field(cells: &mut Vec<String>, field: String) -> Result<(), IoError> {
        if cells.len() < MAX_COLUMNS {
            cells.push(field);
        } else if !trim_cell(&field).is_empty() {
            return Err(IoError::TooManyColumns);
        }
        Ok(())
    }

    fn push(&mut self, row: usize, cells: Vec<String>) -> Result<(), IoError> {
        let csv = self.csv;
        let mut cells: Vec<String> = cells
            .iter()
            .map(|c| {
                let c = trim_cell(c);
                if csv { unguard(c) } else { c }.to_owned()
            })
            .collect();
        while cells.last().is_some_and(String::is_empty) {
            cells.pop();
        }
        if cells.is_empty() {
            return Ok(());
        }
        if cells.len() > MAX_COLUMNS {
            return Err(IoError::TooManyColumns);
        }
        // The header plus MAX_ROWS data rows.
        if self.rows.len() > MAX_ROWS {
            return Err(IoError::TooManyRows);
        }
        self.rows.push((row, cells));
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// CSV

fn decode_text(bytes: &[u8]) -> Result<Cow<'_, str>, IoError> {
    let body = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(body) {
        return Ok(Cow::Borrowed(text));
    }
    // Not UTF-8: what Chinese Excel writes ("CSV (逗号分隔)") is GBK, which GB18030 contains.
    // `decode` also honours a UTF-16 BOM.
    let (text, _, had_errors) = encoding_rs::GB18030.decode(bytes);
    if had_errors {
        // Text in no encoding has no NUL bytes: this is some other kind of file (a photo, a
        // damaged workbook), whatever its name says.
        return Err(if bytes.contains(&0) {
            IoError::UnknownFormat
        } else {
            IoError::Encoding
        });
    }
    Ok(text)
}

/// Text files contain no control characters beyond tabs, line and page breaks.
fn looks_binary(text: &str) -> bool {
    text.chars().any(|c| {
        (c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0b' | '\x0c' | '\x1a'))
            && (c as u32) < 0x80
    })
}

fn read_csv_rows(bytes: &[u8]) -> Result<Vec<(usize, Vec<String>)>, IoError> {
    let text = decode_text(bytes)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    if looks_binary(text) {
        return Err(IoError::UnknownFormat);
    }
    // Excel's "Unicode text" export is tab-separated; everything else uses commas.
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = if !first_line.contains(',') && first_line.contains('\t') {
        '\t'
    } else {
        ','
    };
    parse_csv(text, delimiter)
}

/// RFC 4180 as Excel reads it: a field that starts with `"` is quoted (`""` is a quote and
/// line breaks are kept); text after the closing quote is kept as is. Row numbers count
/// records, blank lines included, so they match what Excel shows for the same file.
fn parse_csv(text: &str, delimiter: char) -> Result<Vec<(usize, Vec<String>)>, IoError> {
    let mut sink = RowSink {
        rows: Vec::new(),
        csv: true,
    };
    let mut row_no = 1usize;
    let mut cells: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut field_started = false;
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\r' if chars.peek() == Some(&'\n') => {}
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if !field_started => {
                in_quotes = true;
                field_started = true;
            }
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                RowSink::push_field(&mut cells, std::mem::take(&mut field))?;
                sink.push(row_no, std::mem::take(&mut cells))?;
                row_no += 1;
                field_started = false;
            }
            c if c == delimiter => {
                RowSink::push_field(&mut cells, std::mem::take(&mut field))?;
                field_started = false;
            }
            _ => {
                field.push(c);
                field_started = true;
            }
        }
    }
    if in_quotes {
        // Report the row where the open quote's record starts.
        return Err(IoError::UnclosedQuote { row: row_no });
    }
    if field_started || !cells.is_empty() {
        RowSink::push_field(&mut cells, field)?;
        sink.push(row_no, cells)?;
    }
    Ok(sink.rows)
}

// ---------------------------------------------------------------------------------------
// XLSX

fn read_xlsx_rows(bytes: &[u8]) -> Result<Vec<(usize, Vec<String>)>, IoError> {
    check_zip_sizes(bytes)?;
    // The parser trusts some of what the file says: a damaged cell reference (a row number
    // past u32) overflows inside it. An upload is the user's file, so that is a damaged file
    // to refuse with a reason, not a failed request.
    std::panic::catch_unwind(|| read_xlsx_cells(bytes))
        .unwrap_or_else(|_| Err(IoError::BadXlsx("单元格引用无法解析".to_owned())))
}

fn read_xlsx_cells(bytes: &[u8]) -> Result<Vec<(usize, Vec<String>)>, IoError> {
    let bad = |e: calamine::XlsxError| IoError::BadXlsx(e.to_string());
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(bad)?;
    // The first worksheet the user can see (a hidden first sheet often holds lookup lists).
    let sheets = book.sheets_metadata();
    let worksheets = || sheets.iter().filter(|s| s.typ == SheetType::WorkSheet);
    let sheet = worksheets()
        .find(|s| s.visible == SheetVisible::Visible)
        .or_else(|| worksheets().next())
        .map(|s| s.name.clone())
        .ok_or(IoError::NoSheet)?;
    let mut reader = book.worksheet_cells_reader(&sheet).map_err(bad)?;
    // Cells usually come row by row, but nothing in the format promises it.
    let mut grid: BTreeMap<u32, BTreeMap<u32, String>> = BTreeMap::new();
    let mut text_bytes = 0usize;
    while let Some(cell) = reader.next_cell().map_err(bad)? {
        let text = cell_text(cell.get_value());
        let text = trim_cell(&text);
        if text.is_empty() {
            continue;
        }
        let (row, col) = cell.get_position();
        if col as usize >= MAX_COLUMNS {
            return Err(IoError::TooManyColumns);
        }
        text_bytes += text.len();
        if text_bytes > MAX_TEXT_BYTES {
            return Err(IoError::TooMuchText);
        }
        grid.entry(row).or_default().insert(col, text.to_owned());
        if grid.len() > MAX_ROWS + 1 {
            return Err(IoError::TooManyRows);
        }
    }
    let mut sink = RowSink::default();
    for (row, cols) in grid {
        let width = cols.keys().next_back().map_or(0, |c| *c as usize + 1);
        let mut cells = vec![String::new(); width];
        for (col, text) in cols {
            cells[col as usize] = text;
        }
        sink.push(row as usize + 1, cells)?;
    }
    Ok(sink.rows)
}

/// A cell as the text Excel shows for it (in the General format).
fn cell_text(value: &DataRef<'_>) -> String {
    match value {
        DataRef::Empty => String::new(),
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number_text(*f),
        DataRef::Bool(b) => (if *b { "TRUE" } else { "FALSE" }).to_owned(),
        DataRef::DateTime(dt) if dt.is_duration() => number_text(dt.as_f64()),
        DataRef::DateTime(dt) => {
            let (y, mo, d, h, mi, s, _) = dt.to_ymd_hms_milli();
            if dt.as_f64() < 1.0 && dt.as_f64() > 0.0 {
                format!("{h:02}:{mi:02}:{s:02}")
            } else if (h, mi, s) == (0, 0, 0) {
                format!("{y:04}-{mo:02}-{d:02}")
            } else {
                format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
            }
        }
        DataRef::DateTimeIso(s) => s.strip_suffix("T00:00:00").unwrap_or(s).to_owned(),
        DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => e.to_string(),
    }
}

/// Whole numbers as digits (2887921234, not 2.887921234e9 or 2887921234.0); fractions to
/// Excel's 15 significant digits.
fn number_text(f: f64) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    if f.fract() == 0.0 && f.abs() < 1e15 {
        // Exact: the value is a whole number well inside i64.
        return format!("{}", f as i64);
    }
    let rounded: f64 = format!("{f:.14e}").parse().unwrap_or(f);
    if rounded == 0.0 {
        "0".to_owned()
    } else {
        format!("{rounded}")
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    )))
}

fn u32_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    )))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// Refuses a zip whose parts declare more than [`MAX_UNZIPPED_BYTES`] in total. The zip
/// reader stops any part at its declared size, so this bounds what opening the workbook can
/// allocate. Every end-of-directory record near the end of the file is checked, so a decoy
/// directory cannot hide the real one.
fn check_zip_sizes(bytes: &[u8]) -> Result<(), IoError> {
    const EOCD: u64 = 0x0605_4b50;
    let last = bytes.len().saturating_sub(22);
    let first = last.saturating_sub(u16::MAX as usize);
    let mut found = false;
    for at in (first..=last).rev() {
        if u32_at(bytes, at) != Some(EOCD) {
            continue;
        }
        match declared_total(bytes, at) {
            Some(total) if total <= MAX_UNZIPPED_BYTES => found = true,
            Some(_) => return Err(IoError::Unzipped),
            None => return Err(IoError::BadXlsx("zip 目录无法解析".to_owned())),
        }
    }
    if found {
        Ok(())
    } else {
        Err(IoError::BadXlsx("找不到 zip 目录".to_owned()))
    }
}

/// The sum of the uncompressed sizes in the central directory that the end-of-directory
/// record at `eocd` describes, or `None` when it cannot be followed.
fn declared_total(b: &[u8], eocd: usize) -> Option<u64> {
    const CENTRAL: u64 = 0x0201_4b50;
    const LOCATOR: u64 = 0x0706_4b50;
    const EOCD64: u64 = 0x0606_4b50;
    let mut entries = u16_at(b, eocd + 10)?;
    let mut cd_size = u32_at(b, eocd + 12)?;
    let mut cd_offset = u32_at(b, eocd + 16)?;
    let mut cd_end = eocd as u64;
    if entries == 0xFFFF || cd_size == 0xFFFF_FFFF || cd_offset == 0xFFFF_FFFF {
        let locator = eocd.checked_sub(20)?;
        if u32_at(b, locator)? != LOCATOR {
            return None;
        }
        let record = usize::try_from(u64_at(b, locator + 8)?).ok()?;
        if u32_at(b, record)? != EOCD64 {
            return None;
        }
        entries = u64_at(b, record + 32)?;
        cd_size = u64_at(b, record + 40)?;
        cd_offset = u64_at(b, record + 48)?;
        cd_end = record as u64;
    }
    // Where the directory says it is, or (with bytes prepended) right before its end record.
    let start = [Some(cd_offset), cd_end.checked_sub(cd_size)]
        .into_iter()
        .flatten()
        .filter_map(|s| usize::try_from(s).ok())
        .find(|&s| u32_at(b, s) == Some(CENTRAL))?;
    let mut at = start;
    let mut total = 0u64;
    for _ in 0..entries {
        if u32_at(b, at)? != CENTRAL {
            return None;
        }
        let mut size = u32_at(b, at + 24)?;
        let name_len = u16_at(b, at + 28)? as usize;
        let extra_len = u16_at(b, at + 30)? as usize;
        let comment_len = u16_at(b, at + 32)? as usize;
        if size == 0xFFFF_FFFF {
            size = zip64_size(b, at + 46 + name_len, extra_len)?;
        }
        total = total.saturating_add(size);
        at = at.checked_add(46 + name_len + extra_len + comment_len)?;
    }
    Some(total)
}

/// The uncompressed size in a zip64 extra field (it comes first when present).
fn zip64_size(b: &[u8], extra: usize, len: usize) -> Option<u64> {
    let end = extra.checked_add(len)?;
    let mut at = extra;
    while at + 4 <= end {
        let id = u16_at(b, at)?;
        let size = u16_at(b, at + 2)? as usize;
        if id == 1 {
            return u64_at(b, at + 4);
        }
        at += 4 + size;
    }
    None
}

// ---------------------------------------------------------------------------------------
// Rows into items

/// One item read from a file, with the row it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedItem {
    pub row: usize,
    /// The `乡镇代码` of a township (local) list; `None` for the district's general list.
    pub township_code: Option<String>,
    pub item: ItemFields,
}

/// Everything wrong with one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub row: usize,
    pub reasons: Vec<String>,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "第 {} 行：{}", self.row, self.reasons.join("；"))
    }
}

/// Why an import was refused. Nothing is imported when there is any error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportError {
    /// The header is not the template's. Duplicated columns are listed in `unexpected` as
    /// e.g. `编码（重复）`.
    WrongColumns {
        missing: Vec<String>,
        unexpected: Vec<String>,
    },
    /// Every bad row, in file order, with all its problems.
    Rows(Vec<RowError>),
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::WrongColumns {
                missing,
                unexpected,
            } => {
                let quote = |v: &[String]| v.iter().map(|c| format!("「{c}」")).collect::<String>();
                let mut parts = Vec::new();
                if !missing.is_empty() {
                    parts.push(format!("缺少列{}", quote(missing)));
                }
                if !unexpected.is_empty() {
                    parts.push(format!("多出列{}", quote(unexpected)));
                }
                write!(
                    f,
                    "表头与导入模板不一致：{}。请下载导入模板，第一行按模板填写列名（列的顺序可以不同）",
                    parts.join("；")
                )
            }
            ImportError::Rows(rows) => {
                write!(f, "有 {} 行数据有误，请改正后重新上传：", rows.len())?;
                for r in rows.iter().take(MAX_LISTED_ROWS) {
                    write!(f, "\n{r}")?;
                }
                if rows.len() > MAX_LISTED_ROWS {
                    write!(f, "\n……另有 {} 行有误", rows.len() - MAX_LISTED_ROWS)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ImportError {}

/// The header of the import template and exports: [`COLUMNS`], after `乡镇代码` for
/// township lists.
pub fn header(with_township: bool) -> Vec<&'static str> {
    let mut h = Vec::with_capacity(COLUMNS.len() + 1);
    if with_township {
        h.push(TOWNSHIP_COLUMN);
    }
    h.extend_from_slice(COLUMNS);
    h
}

/// The column name Excel shows for a 0-based index: A, B, …, Z, AA, …
fn column_letter(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(char::from(b'A' + (i % 26) as u8));
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.iter().rev().collect()
}

fn valid_township_code(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// [`model::from_row`] stops at an invalid choice (清单, 全国清单分类, 事项类别, 来源). To
/// report the rest of the row too, check it again with each invalid choice replaced by one
/// that adds no conditions of its own (其他职责 needs no legal basis; 基本履职 with no 收回部门
/// needs no departments). Empty when every choice is valid (the model then checked all).
fn reasons_past_bad_choices(ordered: &[String]) -> Vec<String> {
    let at = |name: &str| {
        COLUMNS
            .iter()
            .position(|c| *c == name)
            .unwrap_or(usize::MAX)
    };
    let get = |name: &str| ordered.get(at(name)).map_or("", String::as_str);
    let mut neutral: Vec<(&str, &str)> = Vec::new();
    if ListKind::from_label(get("清单")).is_none() {
        neutral.push(("清单", ListKind::Duties.label()));
    }
    if NationalClass::from_label(get("全国清单分类")).is_none() {
        neutral.push(("全国清单分类", NationalClass::Basic.label()));
        neutral.push(("收回部门", ""));
    }
    if Category::from_label(get("事项类别")).is_none() {
        neutral.push(("事项类别", Category::OtherDuty.label()));
    }
    if Source::from_label(get("来源")).is_none() {
        neutral.push(("来源", Source::Other.label()));
    }
    if neutral.is_empty() {
        return Vec::new();
    }
    let mut cells = ordered.to_vec();
    for (name, value) in neutral {
        if let Some(cell) = cells.get_mut(at(name)) {
            *cell = value.to_owned();
        }
    }
    model::from_row(&cells).err().unwrap_or_default()
}

/// Turns a table into items, all or nothing.
///
/// The header must hold exactly the template's columns (`乡镇代码` + [`COLUMNS`] when
/// `with_township`), each once, in any order. Every row is checked and every problem
/// reported: the item rules of [`model::from_row`], a 编码 repeated in the file (per township
/// for local lists), a township code that is not 12 digits, and content in a column without a
/// header. A table with no data rows gives no items.
pub fn parse_items(table: &Table, with_township: bool) -> Result<Vec<ParsedItem>, ImportError> {
    let expected = header(with_township);
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut unexpected = Vec::new();
    for (i, name) in table.header.iter().enumerate() {
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        match expected.iter().find(|e| **e == name) {
            None => unexpected.push(name.to_owned()),
            Some(&known) => {
                if index.contains_key(known) {
                    let dup = format!("{name}（重复）");
                    if !unexpected.contains(&dup) {
                        unexpected.push(dup);
                    }
                } else {
                    index.insert(known, i);
                }
            }
        }
    }
    let missing: Vec<String> = expected
        .iter()
        .filter(|c| !index.contains_key(*c) && !model::OPTIONAL_COLUMNS.contains(c))
        .map(|c| (*c).to_owned())
        .collect();
    if !missing.is_empty() || !unexpected.is_empty() {
        return Err(ImportError::WrongColumns {
            missing,
            unexpected,
        });
    }
    let positions: Vec<usize> = COLUMNS
        .iter()
        .filter_map(|c| index.get(c).copied())
        .collect();
    let township_at = index
        .get(TOWNSHIP_COLUMN)
        .copied()
        .filter(|_| with_township);
    let headed: HashSet<usize> = index.values().copied().collect();

    let mut items = Vec::with_capacity(table.rows.len());
    let mut errors = Vec::new();
    let mut first_row_of: HashMap<(String, String), usize> = HashMap::new();
    for (row, cells) in &table.rows {
        let cell = |i: usize| cells.get(i).map_or("", |s| s.trim());
        let mut reasons = Vec::new();
        let township = township_at.map(|i| cell(i).to_owned());
        if let Some(code) = &township {
            if code.is_empty() {
                reasons.push("乡镇代码不能为空".to_owned());
            } else if !valid_township_code(code) {
                reasons.push(format!(
                    "乡镇代码「{code}」应为 12 位数字（统计用区划代码）"
                ));
            }
        }
        let ordered: Vec<String> = positions.iter().map(|&i| cell(i).to_owned()).collect();
        let parsed = model::from_row(&ordered);
        if let Err(model_reasons) = &parsed {
            reasons.extend(model_reasons.iter().cloned());
            reasons.extend(reasons_past_bad_choices(&ordered));
        }
        let code = ordered.first().map_or("", String::as_str);
        if !code.is_empty() {
            let key = (township.clone().unwrap_or_default(), code.to_owned());
            match first_row_of.get(&key) {
                Some(earlier) if with_township => reasons.push(format!(
                    "编码「{code}」与第 {earlier} 行重复（同一乡镇内编码不能重复）"
                )),
                Some(earlier) => reasons.push(format!("编码「{code}」与第 {earlier} 行重复")),
                None => {
                    first_row_of.insert(key, *row);
                }
            }
        }
        let stray: Vec<String> = cells
            .iter()
            .enumerate()
            .filter(|(i, c)| !headed.contains(i) && !c.trim().is_empty())
            .map(|(i, _)| column_letter(i))
            .collect();
        if !stray.is_empty() {
            reasons.push(format!("{} 列有内容但没有表头", stray.join("、")));
        }
        match parsed {
            Ok(item) if reasons.is_empty() => {
                items.push(ParsedItem {
                    row: *row,
                    township_code: township,
                    item,
                });
            }
            _ => errors.push(RowError { row: *row, reasons }),
        }
    }
    if errors.is_empty() {
        Ok(items)
    } else {
        Err(ImportError::Rows(errors))
    }
}

// ---------------------------------------------------------------------------------------
// Writers

/// A cell Excel would run as a formula when it opens a CSV (`=`, `+`, `-`, `@`; numbers
/// excepted), or one that already starts with the guard.
fn needs_formula_guard(cell: &str) -> bool {
    let unquoted = cell.trim_start_matches('\'');
    // A lone sign is text to Excel (the audit export's "-" for "none", say).
    if unquoted.len() == 1 && unquoted.len() == cell.len() && unquoted != "=" {
        return false;
    }
    unquoted.starts_with(['=', '+', '-', '@'])
        && (unquoted.len() != cell.len() || cell.parse::<f64>().is_err())
}

/// A CSV cell as Excel may open it safely: one it would run as a formula gets a leading `'`.
/// For CSV writers other than [`write_csv`] (the audit export streams its rows).
pub fn formula_guarded(cell: &str) -> Cow<'_, str> {
    // The guard goes after leading spaces, as the reader trims before it looks.
    if needs_formula_guard(trim_cell(cell)) {
        let body = cell.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
        Cow::Owned(format!("{}'{body}", &cell[..cell.len() - body.len()]))
    } else {
        Cow::Borrowed(cell)
    }
}

fn push_csv_field(out: &mut String, cell: &str) {
    let guarded = formula_guarded(cell);
    if guarded.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&guarded.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&guarded);
    }
}

fn push_csv_record<'a>(out: &mut String, cells: impl IntoIterator<Item = &'a str>) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_csv_field(out, cell);
    }
    out.push_str("\r\n");
}

/// A CSV for Excel: UTF-8 with BOM, CRLF line ends, fields quoted when needed. A cell that
/// Excel would run as a formula (`=…`, `+…`, `-…`, `@…`, except numbers) gets a leading `'`,
/// which [`read_table`] removes again.
pub fn write_csv(header: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    push_csv_record(&mut out, header.iter().copied());
    for row in rows {
        push_csv_record(&mut out, row.iter().map(String::as_str));
    }
    out.into_bytes()
}

const LONG_COLUMNS: &[&str] = &[
    "事项名称",
    "事项内容",
    "法律依据",
    "追责情形",
    "乡镇职责",
    "部门职责",
];
const MEDIUM_COLUMNS: &[&str] = &[
    "受理责任",
    "审查责任",
    "决定责任",
    "送达责任",
    "事后监管责任",
    "其他责任",
    "配合部门",
    "牵头科室",
];

/// Column width in Excel's units (a Chinese character is about 2).
fn column_width(name: &str) -> f64 {
    if LONG_COLUMNS.contains(&name) {
        40.0
    } else if MEDIUM_COLUMNS.contains(&name) {
        24.0
    } else if COLUMNS.contains(&name) || name == TOWNSHIP_COLUMN {
        14.0
    } else {
        let chars: usize = name.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
        (chars as f64 + 4.0).clamp(10.0, 40.0)
    }
}

fn header_format() -> Format {
    Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xDDEBF7))
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
        .set_text_wrap()
}

/// Text cells ("@"), so codes, phones and township codes typed later stay text.
fn text_format(wrap: bool) -> Format {
    let f = Format::new()
        .set_num_format("@")
        .set_align(FormatAlign::Top);
    if wrap { f.set_text_wrap() } else { f }
}

fn col_num(i: usize) -> Result<ColNum, IoError> {
    ColNum::try_from(i).map_err(|_| IoError::Write("列数超出 Excel 的上限".to_owned()))
}

fn row_num(i: usize) -> Result<RowNum, IoError> {
    RowNum::try_from(i).map_err(|_| IoError::Write("行数超出 Excel 的上限".to_owned()))
}

/// How an export's cells are written to `.xlsx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cells {
    /// Every cell as text: codes, phone numbers and township codes stay as typed.
    Text,
    /// A table of figures: counts and decimals are numbers and `66.7%` a percentage, so that
    /// Excel can add them up; any other cell is text.
    Figures,
}

/// A figure as a spreadsheet should hold it: a plain decimal number (no leading zero, which
/// would make it a code), or a percentage as its fraction.
fn figure(cell: &str) -> Option<(f64, bool)> {
    let (digits, percent) = match cell.strip_suffix('%') {
        Some(d) => (d, true),
        None => (cell, false),
    };
    let unsigned = digits.strip_prefix('-').unwrap_or(digits);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let plain = !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && (whole == "0" || !whole.starts_with('0'))
        && whole.len() <= 15;
    if !plain || (unsigned.contains('.') && fraction.is_empty()) {
        return None;
    }
    let value: f64 = digits.parse().ok()?;
    Some(if percent {
        (value / 100.0, true)
    } else {
        (value, false)
    })
}

fn fill_sheet(
    sheet: &mut Worksheet,
    name: &str,
    header: &[&str],
    rows: &[Vec<String>],
    cells: Cells,
) -> Result<(), IoError> {
    sheet.set_name(name)?;
    let head = header_format();
    let plain = text_format(false);
    let wrapped = text_format(true);
    let width = rows
        .iter()
        .map(Vec::len)
        .chain([header.len()])
        .max()
        .unwrap_or(0);
    let mut formats = Vec::with_capacity(width);
    for i in 0..width {
        let col = col_num(i)?;
        let name = header.get(i).copied().unwrap_or("");
        let wrap = LONG_COLUMNS.contains(&name) || MEDIUM_COLUMNS.contains(&name);
        let format = if wrap { &wrapped } else { &plain };
        sheet.set_column_width(col, column_width(name))?;
        sheet.set_column_format(col, format)?;
        formats.push(format);
        if i < header.len() {
            sheet.write_string_with_format(0, col, name, &head)?;
        }
    }
    let number = Format::new().set_align(FormatAlign::Top);
    let percent = Format::new()
        .set_num_format("0.0%")
        .set_align(FormatAlign::Top);
    for (r, row) in rows.iter().enumerate() {
        let r = row_num(r + 1)?;
        for (c, value) in row.iter().enumerate() {
            let found = match cells {
                Cells::Figures => figure(value),
                Cells::Text => None,
            };
            match found {
                Some((v, true)) => {
                    sheet.write_number_with_format(r, col_num(c)?, v, &percent)?;
                }
                Some((v, false)) => {
                    sheet.write_number_with_format(r, col_num(c)?, v, &number)?;
                }
                None if !value.is_empty() => {
                    sheet.write_string_with_format(r, col_num(c)?, value, formats[c])?;
                }
                None => {}
            }
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    if !header.is_empty() {
        sheet.autofilter(0, 0, row_num(rows.len())?, col_num(header.len() - 1)?)?;
    }
    Ok(())
}

/// An `.xlsx` with one sheet: a bold, shaded, frozen header with a filter, widths suited to
/// Chinese text, and every cell written as text (codes and phones stay as typed).
pub fn write_xlsx(sheet: &str, header: &[&str], rows: &[Vec<String>]) -> Result<Vec<u8>, IoError> {
    write_xlsx_cells(sheet, header, rows, Cells::Text)
}

/// [`write_xlsx`], with the cells written as `cells` says.
pub fn write_xlsx_cells(
    sheet: &str,
    header: &[&str],
    rows: &[Vec<String>],
    cells: Cells,
) -> Result<Vec<u8>, IoError> {
    let mut book = Workbook::new();
    fill_sheet(book.add_worksheet(), sheet, header, rows, cells)?;
    Ok(book.save_to_buffer()?)
}

/// The example row of the template: a realistic administrative penalty.
fn example_item() -> ItemFields {
    let s = str::to_owned;
    ItemFields {
        code: s("ZR-101"),
        name: s("对擅自占用城市道路从事经营活动（占道经营）的行政处罚"),
        list_kind: ListKind::Duties,
        national_class: NationalClass::Basic,
        category: Category::Penalty,
        source: Source::Delegated,
        legal_basis: vec![
            s("《中华人民共和国行政处罚法》第二十四条"),
            s("《城市道路管理条例》第二十七条"),
            s("《城市道路管理条例》第四十二条"),
        ],
        content: s(
            "对擅自占用城市道路、广场等公共场所设摊经营、兜售物品的，责令限期改正，可以处以罚款。",
        ),
        resp_accept: s(
            "对巡查发现、群众举报、上级交办和部门移送的违法线索进行登记，符合立案条件的依法立案",
        ),
        resp_review: s(
            "全面、客观、公正调查取证，审查案件事实、证据、程序和法律适用；告知当事人拟作出处罚的事实、理由、依据及陈述、申辩和听证权利",
        ),
        resp_decide: s(
            "依法作出行政处罚决定，情节复杂或者重大违法行为经集体讨论决定，并进行法制审核",
        ),
        resp_deliver: s("在法定期限内将行政处罚决定书送达当事人，依法公示执法信息"),
        resp_supervise: s(
            "督促当事人履行处罚决定，对逾期不履行的依法申请强制执行；做好案卷归档和跟踪回访",
        ),
        resp_other: s("法律法规规章规定应履行的其他责任"),
        accountability: s(
            "因不履行或不正确履行行政职责，有下列情形的，行政机关及相关工作人员应承担相应责任：（一）没有法律依据或者违反法定程序实施处罚的；（二）滥用职权、玩忽职守、徇私舞弊的；（三）其他违反法律法规规章规定的行为。",
        ),
        lead_office: s("综合行政执法办公室"),
        cooperating: vec![s("区综合行政执法局"), s("区市场监督管理局")],
        responsible_person: s("分管副主任"),
        phone: s("028-87924790"),
        township_duty: String::new(),
        lead_department: String::new(),
        department_duty: String::new(),
        returned_to: String::new(),
        reference: String::new(),
    }
}

const EXAMPLE_TOWNSHIP: &str = "510117006000";

fn labels<T: Copy>(all: &[T], label: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| label(*v)).collect()
}

/// `(column, 是否必填, 填写说明)` for the 「填写说明」 sheet.
fn column_notes(with_township: bool) -> Vec<(&'static str, &'static str, String)> {
    let list = labels(ListKind::ALL, ListKind::label).join("、");
    let class = labels(NationalClass::ALL, NationalClass::label).join("、");
    let categories = labels(Category::ALL, Category::label).join("、");
    let powers: Vec<&str> = Category::ALL
        .iter()
        .filter(|c| c.is_power())
        .map(|c| c.label())
        .collect();
    let sources = labels(Source::ALL, Source::label).join("、");
    let resp = "选填".to_owned() + "。行政权力事项的责任清单（两单合一），不超过 4000 字";
    let mut notes = Vec::new();
    if with_township {
        notes.push((
            TOWNSHIP_COLUMN,
            "必填",
            format!("乡镇（街道）的 12 位统计用区划代码，如 {EXAMPLE_TOWNSHIP}"),
        ));
    }
    let unique = if with_township {
        "同一乡镇内不能重复"
    } else {
        "同一文件内不能重复"
    };
    notes.extend([
        ("编码", "必填", format!("1–40 位字母、数字、连字符（-）、下划线（_）或点（.），如 ZR-101；{unique}")),
        ("事项名称", "必填", "不超过 200 字".to_owned()),
        ("清单", "必填", format!("从下拉列表选择：{list}")),
        ("全国清单分类", "必填", format!("从下拉列表选择：{class}")),
        ("事项类别", "必填", format!("从下拉列表选择：{categories}。其中{}为行政权力事项，须填写法律依据", powers.join("、"))),
        ("来源", "必填", format!("从下拉列表选择：{sources}")),
        ("法律依据", "行政权力事项必填", "写明法律法规名称（用《》）和条款，如《中华人民共和国行政处罚法》第二十四条；多条依据用中文分号「；」分隔".to_owned()),
        ("事项内容", "选填", "不超过 4000 字".to_owned()),
        ("受理责任", "选填", resp.clone()),
        ("审查责任", "选填", resp.clone()),
        ("决定责任", "选填", resp.clone()),
        ("送达责任", "选填", resp.clone()),
        ("事后监管责任", "选填", resp.clone()),
        ("其他责任", "选填", resp),
        ("追责情形", "选填", "不超过 4000 字".to_owned()),
        ("牵头科室", "选填", "乡镇（街道）内牵头办理的科室，如 综合行政执法办公室".to_owned()),
        ("配合部门", "选填", "多个部门用顿号「、」分隔，如 区市场监督管理局、区公安分局".to_owned()),
        ("责任人", "选填", "写职务即可，如 分管副主任".to_owned()),
        ("咨询电话", "选填", "如 028-87921234、13800138000 或 12345".to_owned()),
        ("乡镇职责", "选填", "属地管理、配合履职事项中乡镇（街道）承担的责任（次责），不超过 4000 字".to_owned()),
        ("主管部门", "配合履职事项必填", "承担主管责任（主责）的区级部门，如 区司法局".to_owned()),
        ("部门职责", "选填", "主管部门承担的责任（主责），不超过 4000 字".to_owned()),
        ("收回部门", "上级部门收回事项必填", "收回该事项的区级部门；其他事项必须留空".to_owned()),
        ("依据文号", "选填（可无此列）", "区级下放事项的交接书编号、事务准入事项的准入文号，由系统在交接、准入完成时填写".to_owned()),
    ]);
    notes
}

/// The import template: the header with one filled example row (drop-down lists on the
/// 清单, 全国清单分类, 事项类别 and 来源 columns), and a second sheet 「填写说明」 describing each
/// column and its allowed values.
pub fn template_xlsx(with_township: bool) -> Result<Vec<u8>, IoError> {
    let head = header(with_township);
    let mut example = model::to_row(&example_item());
    if with_township {
        example.insert(0, EXAMPLE_TOWNSHIP.to_owned());
    }
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    fill_sheet(sheet, "清单事项", &head, &[example], Cells::Text)?;
    let choices: [(&str, Vec<&str>); 4] = [
        ("清单", labels(ListKind::ALL, ListKind::label)),
        (
            "全国清单分类",
            labels(NationalClass::ALL, NationalClass::label),
        ),
        ("事项类别", labels(Category::ALL, Category::label)),
        ("来源", labels(Source::ALL, Source::label)),
    ];
    for (name, values) in choices {
        let Some(col) = head.iter().position(|h| *h == name) else {
            continue;
        };
        let validation = DataValidation::new()
            .allow_list_strings(&values)?
            .set_error_title("请从下拉列表选择")?
            .set_error_message(format!("{name}只能是：{}", values.join("、")))?;
        let col = col_num(col)?;
        sheet.add_data_validation(1, col, row_num(MAX_ROWS)?, col, &validation)?;
    }

    let notes = book.add_worksheet();
    notes.set_name("填写说明")?;
    let head_format = header_format();
    let wrapped = Format::new().set_text_wrap().set_align(FormatAlign::Top);
    for (c, (title, width)) in [("列名", 16.0), ("是否必填", 20.0), ("填写说明", 90.0)]
        .into_iter()
        .enumerate()
    {
        let c = col_num(c)?;
        notes.set_column_width(c, width)?;
        notes.write_string_with_format(0, c, title, &head_format)?;
    }
    let column_notes = column_notes(with_township);
    for (i, (name, required, text)) in column_notes.iter().enumerate() {
        let r = row_num(i + 1)?;
        notes.write_string_with_format(r, 0, *name, &wrapped)?;
        notes.write_string_with_format(r, 1, *required, &wrapped)?;
        notes.write_string_with_format(r, 2, text, &wrapped)?;
    }
    let general = [
        "1. 第一行是表头，请勿修改列名；列的顺序可以调整，但每一列都要有，且不能增加其他列。"
            .to_owned(),
        "2. 每个事项填一行。「清单事项」表第 2 行是示例，导入前请删除或改成实际事项。".to_owned(),
        format!(
            "3. 一次最多导入 {MAX_ROWS} 行，文件不超过 10 MiB；可上传 .xlsx 或 .csv（UTF-8 或 GBK 编码）文件。"
        ),
        "4. 只要有一行有误，整个文件都不会导入；系统会列出所有有误的行和原因，改正后重新上传即可。"
            .to_owned(),
    ];
    let start = column_notes.len() + 2;
    for (i, line) in general.iter().enumerate() {
        notes.write_string(row_num(start + i)?, 0, line)?;
    }
    notes.set_freeze_panes(1, 0)?;
    Ok(book.save_to_buffer()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GENERAL: &str = include_str!("demo/general.csv");
    const LOCAL: &str = include_str!("demo/local.csv");

    fn cells(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    /// A valid row in COLUMNS order, with some cells replaced.
    fn row(overrides: &[(&str, &str)]) -> Vec<String> {
        let mut r = model::to_row(&example_item());
        for (col, value) in overrides {
            let i = COLUMNS.iter().position(|c| c == col).expect("known column");
            r[i] = (*value).to_owned();
        }
        r
    }

    fn items() -> Vec<ItemFields> {
        [
            row(&[]),
            row(&[
                ("编码", "ZR-102"),
                ("咨询电话", "02887921234"),
                ("事项内容", "第一行\n第二行，含逗号、\"引号\""),
                (
                    "法律依据",
                    "《中华人民共和国行政处罚法》第二十四条；《城市道路管理条例》第四十二条",
                ),
            ]),
            row(&[
                ("编码", "ZR-197"),
                ("事项名称", "社区矫正协助"),
                ("全国清单分类", "配合履职"),
                ("事项类别", "其他职责"),
                ("法律依据", ""),
                ("主管部门", "区司法局"),
                ("部门职责", "=负责行业监管"),
                ("配合部门", ""),
            ]),
        ]
        .iter()
        .map(|r| model::from_row(r).expect("valid row"))
        .collect()
    }

    fn csv_text(lines: &[&str]) -> Vec<u8> {
        lines.join("\r\n").into_bytes()
    }

    #[test]
    fn figures_are_numbers_and_codes_stay_text() {
        assert_eq!(figure("1022"), Some((1022.0, false)));
        assert_eq!(figure("2.5"), Some((2.5, false)));
        assert_eq!(figure("0"), Some((0.0, false)));
        let (share, percent) = figure("66.7%").expect("a percentage");
        assert!(percent && (share - 0.667).abs() < 1e-12, "{share}");
        for text in [
            "0102",
            "510117006000000000",
            "1.",
            ".5",
            "12a",
            "—",
            "",
            "合计",
            "1,000",
        ] {
            assert_eq!(figure(text), None, "{text}");
        }
    }

    #[test]
    fn xlsx_round_trip_gives_back_the_items() {
        let items = items();
        let rows: Vec<Vec<String>> = items.iter().map(model::to_row).collect();
        let bytes = write_xlsx("清单事项", COLUMNS, &rows).unwrap();
        let table = read_table(&bytes).unwrap();
        assert_eq!(table.header, cells(COLUMNS));
        let parsed = parse_items(&table, false).unwrap();
        assert_eq!(
            parsed.iter().map(|p| p.row).collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
        assert_eq!(
            parsed.into_iter().map(|p| p.item).collect::<Vec<_>>(),
            items
        );
    }

    #[test]
    fn xlsx_round_trip_with_townships() {
        let items = items();
        let rows: Vec<Vec<String>> = items
            .iter()
            .map(|i| {
                let mut r = vec![EXAMPLE_TOWNSHIP.to_owned()];
                r.extend(model::to_row(i));
                r
            })
            .collect();
        let bytes = write_xlsx("属地清单", &header(true), &rows).unwrap();
        let parsed = parse_items(&read_table(&bytes).unwrap(), true).unwrap();
        assert_eq!(parsed.len(), 3);
        assert!(
            parsed
                .iter()
                .all(|p| p.township_code.as_deref() == Some(EXAMPLE_TOWNSHIP))
        );
        assert_eq!(parsed[1].item, items[1]);
    }

    #[test]
    fn numbers_and_dates_typed_in_excel_read_as_text() {
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        for (c, h) in header(true).iter().enumerate() {
            sheet.write_string(0, c as ColNum, *h).unwrap();
        }
        let r = row(&[]);
        for (c, v) in r.iter().enumerate() {
            sheet.write_string(1, c as ColNum + 1, v).unwrap();
        }
        let phone = 1 + COLUMNS.iter().position(|c| *c == "咨询电话").unwrap() as ColNum;
        let content = 1 + COLUMNS.iter().position(|c| *c == "事项内容").unwrap() as ColNum;
        let other = 1 + COLUMNS.iter().position(|c| *c == "其他责任").unwrap() as ColNum;
        sheet.write_number(1, 0, 510117006000.0).unwrap();
        sheet.write_number(1, phone, 2887921234.0).unwrap();
        sheet.write_number(1, content, 0.1 + 0.2).unwrap();
        let date = rust_xlsxwriter::ExcelDateTime::from_ymd(2024, 5, 1).unwrap();
        let date_format = Format::new().set_num_format("yyyy-mm-dd");
        sheet
            .write_datetime_with_format(1, other, &date, &date_format)
            .unwrap();
        let bytes = book.save_to_buffer().unwrap();

        let table = read_table(&bytes).unwrap();
        let (n, got) = &table.rows[0];
        assert_eq!(*n, 2);
        assert_eq!(got[0], "510117006000");
        assert_eq!(got[phone as usize], "2887921234");
        assert_eq!(got[content as usize], "0.3");
        assert_eq!(got[other as usize], "2024-05-01");
        let parsed = parse_items(&table, true).unwrap();
        assert_eq!(parsed[0].item.phone, "2887921234");
        assert_eq!(parsed[0].township_code.as_deref(), Some("510117006000"));
    }

    #[test]
    fn number_text_is_what_excel_shows() {
        assert_eq!(number_text(2887921234.0), "2887921234");
        assert_eq!(number_text(13800138000.0), "13800138000");
        assert_eq!(number_text(-3.0), "-3");
        assert_eq!(number_text(-0.0), "0");
        assert_eq!(number_text(1.5), "1.5");
        assert_eq!(number_text(0.1 + 0.2), "0.3");
        assert_eq!(number_text(1e20), "100000000000000000000");
    }

    #[test]
    fn gbk_csv_reads_like_utf8() {
        let utf8: String = GENERAL.lines().take(6).collect::<Vec<_>>().join("\r\n");
        let (gbk, _, unmappable) = encoding_rs::GBK.encode(&utf8);
        assert!(!unmappable);
        assert!(std::str::from_utf8(&gbk).is_err());
        let from_gbk = read_table(&gbk).unwrap();
        assert_eq!(from_gbk, read_table(utf8.as_bytes()).unwrap());
        // The demo file predates the optional 依据文号 column.
        let without_optional: Vec<&str> = COLUMNS
            .iter()
            .copied()
            .filter(|c| !model::OPTIONAL_COLUMNS.contains(c))
            .collect();
        assert_eq!(from_gbk.header, cells(&without_optional));
        let parsed = parse_items(&from_gbk, false).unwrap();
        assert_eq!(parsed.len(), 5);
        assert_eq!(parsed[0].item.name, "党（工）委落实全面从严治党主体责任");
    }

    #[test]
    fn utf8_bom_csv_reads() {
        let mut bytes = UTF8_BOM.to_vec();
        bytes.extend_from_slice(GENERAL.as_bytes());
        let table = read_table(&bytes).unwrap();
        assert_eq!(table.header[0], "编码");
        assert_eq!(parse_items(&table, false).unwrap().len(), 519);
    }

    #[test]
    fn demo_files_parse() {
        let general = parse_items(&read_table(GENERAL.as_bytes()).unwrap(), false).unwrap();
        assert_eq!(general.len(), 519);
        assert!(general.iter().all(|p| p.township_code.is_none()));
        assert_eq!(general[0].row, 2);
        let local = parse_items(&read_table(LOCAL.as_bytes()).unwrap(), true).unwrap();
        assert_eq!(local.len(), 45);
        assert!(
            local
                .iter()
                .all(|p| p.township_code.as_deref().is_some_and(valid_township_code))
        );
        // A general list is not a local list, and the other way round.
        assert!(matches!(
            parse_items(&read_table(LOCAL.as_bytes()).unwrap(), false),
            Err(ImportError::WrongColumns { missing, unexpected }) if missing.is_empty() && unexpected == ["乡镇代码"]
        ));
        assert!(matches!(
            parse_items(&read_table(GENERAL.as_bytes()).unwrap(), true),
            Err(ImportError::WrongColumns { missing, unexpected }) if missing == ["乡镇代码"] && unexpected.is_empty()
        ));
    }

    #[test]
    fn columns_may_come_in_any_order() {
        let mut head = cells(COLUMNS);
        let mut r = row(&[]);
        head.swap(0, 22);
        r.swap(0, 22);
        let table = Table {
            header: head,
            rows: vec![(2, r)],
        };
        assert_eq!(parse_items(&table, false).unwrap()[0].item, example_item());
    }

    #[test]
    fn wrong_columns_are_named() {
        let mut head: Vec<&str> = COLUMNS
            .iter()
            .copied()
            .filter(|c| *c != "法律依据")
            .collect();
        head.push("备注");
        head.push("编码");
        let bytes = write_csv(&head, &[]);
        let err = parse_items(&read_table(&bytes).unwrap(), false).unwrap_err();
        assert_eq!(
            err,
            ImportError::WrongColumns {
                missing: cells(&["法律依据"]),
                unexpected: cells(&["备注", "编码（重复）"]),
            }
        );
        let msg = err.to_string();
        assert!(
            msg.contains("缺少列「法律依据」") && msg.contains("多出列「备注」"),
            "{msg}"
        );
    }

    #[test]
    fn every_bad_row_is_reported_and_nothing_imported() {
        let rows = [
            row(&[]),
            row(&[("编码", "ZR-102")]),
            row(&[("编码", "ZR-101")]),
            row(&[
                ("编码", "ZR-103"),
                ("事项类别", "行政罚款"),
                ("咨询电话", "abc"),
            ]),
            row(&[("编码", "ZR-104"), ("事项名称", "")]),
            row(&[("编码", "ZR-105"), ("咨询电话", "8792-12a")]),
            row(&[("编码", "ZR-106"), ("法律依据", "")]),
        ];
        let mut bytes = write_csv(COLUMNS, &rows);
        bytes.extend_from_slice("\r\n,,,,,\r\n".as_bytes()); // blank rows are skipped
        let err = parse_items(&read_table(&bytes).unwrap(), false).unwrap_err();
        let ImportError::Rows(bad) = &err else {
            panic!("{err:?}")
        };
        let numbers: Vec<usize> = bad.iter().map(|r| r.row).collect();
        assert_eq!(numbers, vec![4, 5, 6, 7, 8]);
        assert_eq!(bad[0].reasons, vec!["编码「ZR-101」与第 2 行重复"]);
        assert!(bad[1].reasons[0].contains("事项类别「行政罚款」"));
        assert!(
            bad[1].reasons[1].contains("咨询电话「abc」"),
            "checked past the bad category"
        );
        assert_eq!(bad[1].reasons.len(), 2);
        assert!(bad[2].reasons[0].contains("事项名称不能为空"));
        assert!(bad[3].reasons[0].contains("咨询电话「8792-12a」格式不正确"));
        assert!(bad[4].reasons[0].contains("须填写法律依据"));
        let msg = err.to_string();
        assert!(msg.contains("有 5 行数据有误"), "{msg}");
        assert!(
            msg.contains(
                "\n第 5 行：事项类别「行政罚款」不是规定的类别；咨询电话「abc」格式不正确"
            ),
            "{msg}"
        );
    }

    #[test]
    fn several_reasons_in_one_row_are_all_listed() {
        let table = Table {
            header: header(true).iter().map(|s| (*s).to_owned()).collect(),
            rows: vec![
                (2, [vec!["510117006000".to_owned()], row(&[])].concat()),
                (
                    3,
                    [
                        vec!["5101170060".to_owned()],
                        row(&[("事项名称", ""), ("咨询电话", "abc")]),
                    ]
                    .concat(),
                ),
                (
                    4,
                    [
                        vec!["510117006000".to_owned()],
                        row(&[]),
                        vec!["".to_owned(), "备注".to_owned()],
                    ]
                    .concat(),
                ),
                (5, [vec!["510117004000".to_owned()], row(&[])].concat()),
            ],
        };
        let ImportError::Rows(bad) = parse_items(&table, true).unwrap_err() else {
            panic!()
        };
        assert_eq!(bad.len(), 2);
        assert_eq!(bad[0].row, 3);
        assert_eq!(bad[0].reasons.len(), 3, "{:?}", bad[0]);
        assert!(bad[0].reasons[0].contains("12 位数字"));
        assert_eq!(bad[1].row, 4);
        assert!(bad[1].reasons[0].contains("与第 2 行重复（同一乡镇内"));
        assert_eq!(bad[1].reasons[1], "AA 列有内容但没有表头");
    }

    #[test]
    fn a_bad_choice_does_not_hide_or_invent_other_reasons() {
        // An unknown category must not claim a legal basis is required, nor an unknown class
        // that 收回部门 must be empty; the bad name is still reported.
        let r = row(&[
            ("事项类别", "行政罚款"),
            ("法律依据", ""),
            ("全国清单分类", "收回"),
            ("收回部门", "区司法局"),
            ("事项名称", ""),
        ]);
        let table = Table {
            header: cells(COLUMNS),
            rows: vec![(2, r)],
        };
        let ImportError::Rows(bad) = parse_items(&table, false).unwrap_err() else {
            panic!()
        };
        assert_eq!(bad[0].reasons.len(), 3, "{:?}", bad[0].reasons);
        assert!(bad[0].reasons[0].starts_with("全国清单分类「收回」"));
        assert!(bad[0].reasons[1].starts_with("事项类别「行政罚款」"));
        assert_eq!(bad[0].reasons[2], "事项名称不能为空");
    }

    #[test]
    fn a_hidden_first_sheet_is_passed_over() {
        let mut book = Workbook::new();
        book.add_worksheet()
            .set_name("下拉选项")
            .unwrap()
            .write_string(0, 0, "职责任务")
            .unwrap()
            .set_hidden(true);
        let rows = vec![row(&[])];
        fill_sheet(
            book.add_worksheet(),
            "清单事项",
            COLUMNS,
            &rows,
            Cells::Text,
        )
        .unwrap();
        book.worksheet_from_index(1).unwrap().set_active(true);
        let bytes = book.save_to_buffer().unwrap();
        assert_eq!(
            parse_items(&read_table(&bytes).unwrap(), false)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    #[ignore = "timing; run with --ignored --nocapture"]
    fn timing_of_a_full_file() {
        let rows: Vec<Vec<String>> = (0..MAX_ROWS)
            .map(|i| row(&[("编码", &format!("ZR-{i}"))]))
            .collect();
        let t = std::time::Instant::now();
        let bytes = write_xlsx("清单事项", COLUMNS, &rows).unwrap();
        eprintln!(
            "write_xlsx {} rows: {:?}, {} bytes",
            rows.len(),
            t.elapsed(),
            bytes.len()
        );
        let t = std::time::Instant::now();
        let table = read_table(&bytes).unwrap();
        eprintln!("read_table xlsx: {:?}", t.elapsed());
        let t = std::time::Instant::now();
        assert_eq!(parse_items(&table, false).unwrap().len(), MAX_ROWS);
        eprintln!("parse_items: {:?}", t.elapsed());
        let csv = write_csv(COLUMNS, &rows[..5000]);
        let t = std::time::Instant::now();
        let from_csv = read_table(&csv).unwrap();
        eprintln!("read_table csv ({} bytes): {:?}", csv.len(), t.elapsed());
        assert_eq!(from_csv.rows[..], table.rows[..5000]);
    }

    #[test]
    fn refusals() {
        let mut xls = CFB_MAGIC.to_vec();
        xls.extend_from_slice(&[0; 504]);
        assert_eq!(read_table(&xls), Err(IoError::LegacyXls));
        assert!(
            read_table(&xls)
                .unwrap_err()
                .to_string()
                .contains("请另存为 .xlsx 后上传")
        );
        assert_eq!(read_table(b""), Err(IoError::Empty));
        assert_eq!(read_table(b" \r\n"), Err(IoError::Empty));
        assert_eq!(read_table(UTF8_BOM), Err(IoError::NoHeader));
        assert_eq!(read_table(b",,\r\n,\r\n"), Err(IoError::NoHeader));
        assert_eq!(
            read_table(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01"),
            Err(IoError::UnknownFormat)
        );
        assert_eq!(
            read_table(&[0x01, 0x02, 0x03, 0x00, 0x7f]),
            Err(IoError::UnknownFormat)
        );
        assert_eq!(
            read_table(&[0x81, 0x20, 0xff, 0xfe, 0x41]),
            Err(IoError::Encoding)
        );
        assert_eq!(
            read_table(&[0x81, 0x20, 0xff, 0xfe, 0x00, 0x9c]),
            Err(IoError::UnknownFormat)
        );
        assert!(matches!(
            read_table(b"PK\x03\x04garbage"),
            Err(IoError::BadXlsx(_))
        ));
        assert_eq!(
            read_table(&vec![b'a'; MAX_FILE_BYTES + 1]),
            Err(IoError::TooLarge {
                bytes: MAX_FILE_BYTES + 1
            })
        );
        assert_eq!(
            read_table(b"a,\"b\r\nc,d\r\n"),
            Err(IoError::UnclosedQuote { row: 1 })
        );
        // Excel writes commas up to the last column ever used; only content there is refused.
        let wide = format!(
            "a{}\r\nb{}\r\n",
            ",".repeat(MAX_FILE_BYTES / 4),
            ",".repeat(300)
        );
        assert_eq!(
            read_table(wide.as_bytes()).unwrap().rows,
            vec![(2, cells(&["b"]))]
        );
        let far = format!("a\r\nb{}c\r\n", ",".repeat(MAX_COLUMNS));
        assert_eq!(read_table(far.as_bytes()), Err(IoError::TooManyColumns));
        assert_eq!(IoError::Empty.to_string(), "文件是空的");
        assert_eq!(IoError::NoHeader.to_string(), "文件中没有表头");
        assert_eq!(
            IoError::UnknownFormat.to_string(),
            "无法识别的文件格式：请上传 .xlsx 或 .csv 文件"
        );
        assert!(
            IoError::TooLarge { bytes: 12 << 20 }
                .to_string()
                .starts_with("文件过大（12.0 MiB）")
        );
    }

    #[test]
    fn row_limit() {
        let mut text = String::from("编码\n");
        text.push_str(&"x\n".repeat(MAX_ROWS));
        assert_eq!(read_table(text.as_bytes()).unwrap().rows.len(), MAX_ROWS);
        text.push_str("x\n");
        assert_eq!(read_table(text.as_bytes()), Err(IoError::TooManyRows));
    }

    #[test]
    fn csv_quoting_and_row_numbers_follow_excel() {
        let bytes = csv_text(&[
            "a,b,c",
            "\"1,5\",\"say \"\"hi\"\"\",\"two",
            "lines\"",
            "",
            "  x  ,\u{3000}y\u{3000},",
            "\"q\"tail,,",
        ]);
        let table = read_table(&bytes).unwrap();
        assert_eq!(table.header, cells(&["a", "b", "c"]));
        assert_eq!(
            table.rows,
            vec![
                (2, cells(&["1,5", "say \"hi\"", "two\nlines"])),
                (4, cells(&["x", "y"])),
                (5, cells(&["qtail"])),
            ]
        );
        // LF-only and no final newline.
        let lf = read_table(b"a,b\nc,d").unwrap();
        assert_eq!(lf.rows, vec![(2, cells(&["c", "d"]))]);
        // Tab-separated ("Unicode text") is recognised.
        let tsv = read_table("编码\t名称\nZR-1\t某事".as_bytes()).unwrap();
        assert_eq!(tsv.header, cells(&["编码", "名称"]));
        // So is UTF-16 with a BOM, which that export uses.
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(
            "编码\t名称\r\nZR-1\t某事\r\n"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        );
        assert_eq!(read_table(&utf16).unwrap(), tsv);
    }

    #[test]
    fn write_csv_is_excel_friendly_and_reads_back() {
        let rows = vec![
            cells(&["ZR-1", "a,b", "say \"hi\"", "two\nlines"]),
            cells(&["=HYPERLINK(\"x\")", "-5", "+86 138", "'=x"]),
        ];
        let bytes = write_csv(&["h1", "h2", "h3", "h4"], &rows);
        assert!(bytes.starts_with(UTF8_BOM));
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.ends_with("\r\n"));
        assert!(
            text.contains("\"'=HYPERLINK(\"\"x\"\")\",-5,'+86 138,''=x\r\n"),
            "{text}"
        );
        let table = read_table(&bytes).unwrap();
        assert_eq!(
            table.rows.into_iter().map(|(_, r)| r).collect::<Vec<_>>(),
            rows
        );
    }

    #[test]
    fn template_has_a_valid_example_and_instructions() {
        for with_township in [false, true] {
            let bytes = template_xlsx(with_township).unwrap();
            let parsed = parse_items(&read_table(&bytes).unwrap(), with_township).unwrap();
            assert_eq!(parsed.len(), 1);
            assert_eq!(parsed[0].item, example_item());
            assert_eq!(parsed[0].item.category, Category::Penalty);
            let book: Xlsx<_> = Xlsx::new(Cursor::new(&bytes)).unwrap();
            assert_eq!(book.sheet_names(), vec!["清单事项", "填写说明"]);
        }
        let mut book: Xlsx<_> = Xlsx::new(Cursor::new(template_xlsx(true).unwrap())).unwrap();
        let notes = book.worksheet_range("填写说明").unwrap();
        let text: Vec<String> = notes
            .rows()
            .flat_map(|r| r.iter().map(|c| c.to_string()))
            .collect();
        assert_eq!(text[3], TOWNSHIP_COLUMN);
        let all = text.join("\n");
        for needle in [
            "职责任务、公共服务、属地管理",
            "基本履职、配合履职、上级部门收回",
            "其他职责",
            "区级下放",
            "「；」",
            "「、」",
        ] {
            assert!(all.contains(needle), "{needle}");
        }
    }

    #[test]
    fn zip_bombs_are_refused_before_unzipping() {
        // A directory entry that declares 1 GiB unpacked.
        let name = b"xl/sharedStrings.xml";
        let mut zip = b"PK\x03\x04".to_vec();
        zip.extend_from_slice(&[0; 26]);
        let cd_offset = zip.len() as u32;
        let mut entry = 0x0201_4b50u32.to_le_bytes().to_vec();
        entry.extend_from_slice(&[0; 20]);
        entry.extend_from_slice(&(1u32 << 30).to_le_bytes());
        entry.extend_from_slice(&(name.len() as u16).to_le_bytes());
        entry.extend_from_slice(&[0; 14]);
        entry.extend_from_slice(name);
        zip.extend_from_slice(&entry);
        let mut eocd = 0x0605_4b50u32.to_le_bytes().to_vec();
        eocd.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
        eocd.extend_from_slice(&(entry.len() as u32).to_le_bytes());
        eocd.extend_from_slice(&cd_offset.to_le_bytes());
        eocd.extend_from_slice(&[0, 0]);
        zip.extend_from_slice(&eocd);
        assert_eq!(read_table(&zip), Err(IoError::Unzipped));
        // A real workbook passes the check.
        assert_eq!(check_zip_sizes(&template_xlsx(false).unwrap()), Ok(()));
    }

    #[test]
    fn column_letters() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn workbook() -> Vec<u8> {
            let rows: Vec<Vec<String>> = items().iter().map(model::to_row).collect();
            write_xlsx("清单事项", COLUMNS, &rows).unwrap()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
                let _ = read_table(&bytes).map(|t| parse_items(&t, false));
                let mut zip = ZIP_MAGIC.to_vec();
                zip.extend_from_slice(&bytes);
                let _ = read_table(&zip);
            }

            #[test]
            fn damaged_workbooks_never_panic(
                edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            ) {
                let mut bytes = workbook();
                for (at, value) in edits {
                    let i = at.index(bytes.len());
                    bytes[i] = value;
                }
                let _ = read_table(&bytes).map(|t| parse_items(&t, false));
            }

            #[test]
            fn csv_cells_survive_write_and_read(
                rows in proptest::collection::vec(
                    proptest::collection::vec("[a-z0-9 ,\"'=+@\\-\r\n；、中文]{0,12}", 3), 1..6),
            ) {
                let bytes = write_csv(&["a", "b", "c"], &rows);
                let table = read_table(&bytes).unwrap();
                let expected: Vec<Vec<String>> = rows
                    .iter()
                    .map(|r| {
                        let mut r: Vec<String> =
                            r.iter().map(|c| trim_cell(&c.replace("\r\n", "\n")).to_owned()).collect();
                        while r.last().is_some_and(String::is_empty) { r.pop(); }
                        r
                    })
                    .filter(|r| !r.is_empty())
                    .collect();
                let got: Vec<Vec<String>> = table.rows.into_iter().map(|(_, r)| r).collect();
                prop_assert_eq!(got, expected);
            }

            #[test]
            fn arbitrary_tables_never_panic(
                header in proptest::collection::vec(proptest::sample::select(header(true)), 0..30),
                rows in proptest::collection::vec(proptest::collection::vec(".{0,8}", 0..30), 0..5),
            ) {
                let table = Table {
                    header: header.iter().map(|s| (*s).to_owned()).collect(),
                    rows: rows.into_iter().enumerate().map(|(i, r)| (i + 2, r)).collect(),
                };
                let _ = parse_items(&table, true);
                let _ = parse_items(&table, false);
            }
        }
    }
}
