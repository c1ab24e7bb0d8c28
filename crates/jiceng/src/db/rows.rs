//! Multi-row INSERTs whose statement does not depend on the number of rows on PostgreSQL.
//!
//! A `VALUES` list with numbered parameters is a different statement for every number of
//! rows. Batched writes store whatever number of items were queued, so on PostgreSQL nearly
//! every batch met a statement its connection had not prepared (or had dropped from its
//! cache): one more round trip to parse and describe it, and a fresh plan (over a
//! millisecond for the workflow history's). Here each column travels as one array and
//! `unnest` turns the arrays back into rows, so a connection prepares and plans the statement
//! once. SQLite keeps its `VALUES` list: preparing there is local and cheap, and it has no
//! arrays.

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Arguments, FromRow};

use super::{Conn, DbError, DbResult, Dialect, value_rows_from};

enum Column<'a> {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<&'a str>>),
    Bool(Vec<bool>),
}

impl Column<'_> {
    fn pg_type(&self) -> &'static str {
        match self {
            Column::Int(_) => "bigint",
            Column::Text(_) => "text",
            Column::Bool(_) => "boolean",
        }
    }
}

/// The values of a multi-row INSERT, gathered column by column: one column for each `?` of
/// the row template given to [`Rows::source`], in the same order.
pub struct Rows<'a, R> {
    rows: &'a [R],
    columns: Vec<Column<'a>>,
}

impl<'a, R> Rows<'a, R> {
    pub fn of(rows: &'a [R]) -> Self {
        Rows {
            rows,
            columns: Vec::new(),
        }
    }

    /// A BIGINT column (ids, times in microseconds, counts); `None` is NULL.
    pub fn int<V: Into<Option<i64>>>(mut self, value: impl Fn(&'a R) -> V) -> Self {
        let v = self.rows.iter().map(|r| value(r).into()).collect();
        self.columns.push(Column::Int(v));
        self
    }

    /// A TEXT column; `None` is NULL.
    pub fn text<V: Into<Option<&'a str>>>(mut self, value: impl Fn(&'a R) -> V) -> Self {
        let v = self.rows.iter().map(|r| value(r).into()).collect();
        self.columns.push(Column::Text(v));
        self
    }

    pub fn boolean(mut self, value: impl Fn(&'a R) -> bool) -> Self {
        let v = self.rows.iter().map(value).collect();
        self.columns.push(Column::Bool(v));
        self
    }

    /// What follows an INSERT's column list: `VALUES (?, 0, ?), …` with `template` once per
    /// row on SQLite; on PostgreSQL, for more than one row, `SELECT u.c1, 0, u.c2 FROM
    /// unnest($1::bigint[], $2::text[]) AS u(c1, c2)`, the same for any number of rows.
    /// Parameters `$1`… are taken: the rest of the statement must not use any.
    pub fn source(&self, dialect: Dialect, template: &str) -> String {
        self.source_from(dialect, template, 1)
    }

    /// [`Rows::source`] taking PostgreSQL's parameters from `$first` on, one per column.
    fn source_from(&self, dialect: Dialect, template: &str, first: usize) -> String {
        if !self.unnested(dialect) {
            return format!(
                "VALUES {}",
                value_rows_from(dialect, self.rows.len(), template, first)
            );
        }
        let row = template
            .trim()
            .strip_prefix('(')
            .and_then(|t| t.strip_suffix(')'))
            .unwrap_or(template);
        let mut select = String::with_capacity(row.len() * 2);
        let mut k = 0;
        for ch in row.chars() {
            if ch == '?' {
                k += 1;
                select.push_str(&format!("u.c{k}"));
            } else {
                select.push(ch);
            }
        }
        debug_assert_eq!(k, self.columns.len(), "one column per ? of {template}");
        let arrays: Vec<String> = (self.columns.iter().enumerate())
            .map(|(i, c)| format!("${}::{}[]", first + i, c.pg_type()))
            .collect();
        let names: Vec<String> = (1..=self.columns.len()).map(|i| format!("c{i}")).collect();
        format!(
            "SELECT {select} FROM unnest({}) AS u({})",
            arrays.join(", "),
            names.join(", ")
        )
    }

    /// Whether the rows travel as arrays: only on PostgreSQL, and only for more than one row.
    /// One row is one statement whatever it holds, and its generic plan is its custom plan;
    /// an unnested single row would be planned afresh at every call, since the planner costs
    /// the generic plan of an unnest for an array of ten.
    fn unnested(&self, dialect: Dialect) -> bool {
        dialect == Dialect::Postgres && self.rows.len() > 1
    }

    fn sqlite_arguments(&self) -> DbResult<SqliteArguments<'a>> {
        let mut args = SqliteArguments::default();
        for r in 0..self.rows.len() {
            for c in &self.columns {
                match c {
                    Column::Int(v) => args.add(v[r]),
                    Column::Text(v) => args.add(v[r]),
                    Column::Bool(v) => args.add(v[r]),
                }
                .map_err(DbError::encode)?;
            }
        }
        Ok(args)
    }

    fn pg_arguments(&self) -> DbResult<PgArguments> {
        let mut args = PgArguments::default();
        self.add_pg_arguments(&mut args)?;
        Ok(args)
    }

    /// Appends one argument per column, the ones [`Rows::source_from`]'s numbers stand for.
    fn add_pg_arguments(&self, args: &mut PgArguments) -> DbResult<()> {
        let single = !self.unnested(Dialect::Postgres);
        for c in &self.columns {
            match c {
                Column::Int(v) if single => args.add(v[0]),
                Column::Text(v) if single => args.add(v[0]),
                Column::Bool(v) if single => args.add(v[0]),
                Column::Int(v) => args.add(v),
                Column::Text(v) => args.add(v),
                Column::Bool(v) => args.add(v),
            }
            .map_err(DbError::encode)?;
        }
        Ok(())
    }

    /// Runs `sql`, an INSERT whose rows come from [`Rows::source`].
    pub async fn execute(&self, conn: &mut Conn<'_>, sql: &str) -> DbResult<u64> {
        Ok(match conn {
            Conn::Sqlite(c) => sqlx::query_with(sql, self.sqlite_arguments()?)
                .execute(&mut **c)
                .await?
                .rows_affected(),
            Conn::Postgres(c) => sqlx::query_with(sql, self.pg_arguments()?)
                .execute(&mut **c)
                .await?
                .rows_affected(),
        })
    }

    /// Runs `sql`, an INSERT … RETURNING whose rows come from [`Rows::source`].
    pub async fn fetch<O>(&self, conn: &mut Conn<'_>, sql: &str) -> DbResult<Vec<O>>
    where
        O: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        Ok(match conn {
            Conn::Sqlite(c) => {
                sqlx::query_as_with(sql, self.sqlite_arguments()?)
                    .fetch_all(&mut **c)
                    .await?
            }
            Conn::Postgres(c) => {
                sqlx::query_as_with(sql, self.pg_arguments()?)
                    .fetch_all(&mut **c)
                    .await?
            }
        })
    }
}

/// Writes that need nothing from one another: on PostgreSQL they go to the server as one
/// statement, each a data-modifying `WITH` part of it, so that a transaction's inserts into
/// five tables cost one round trip, not five; on SQLite, where a statement costs no round
/// trip, each runs as it is added. The parts of one statement all see the database as it was
/// before it and none sees another's rows (a later part may read an earlier one's `RETURNING`
/// by its name), but foreign keys are checked once every part has run, so rows may refer to
/// rows inserted beside them. A part's error, on PostgreSQL, comes from [`Writes::run`].
#[derive(Default)]
pub struct Writes {
    parts: Vec<String>,
    args: PgArguments,
    params: usize,
}

impl Writes {
    /// Adds an INSERT whose rows come from `rows` with `template` (see [`Rows::source`]):
    /// `sql` makes the statement from the rows' source. Answers the part's name, by which a
    /// later part may read what it returns.
    pub async fn insert<R>(
        &mut self,
        conn: &mut Conn<'_>,
        rows: &Rows<'_, R>,
        template: &str,
        sql: impl FnOnce(&str) -> String,
    ) -> DbResult<String> {
        let name = format!("w{}", self.parts.len());
        let source = rows.source_from(conn.dialect(), template, self.params + 1);
        let sql = sql(&source);
        match conn {
            Conn::Sqlite(c) => {
                sqlx::query_with(&sql, rows.sqlite_arguments()?)
                    .execute(&mut **c)
                    .await?;
            }
            Conn::Postgres(_) => {
                rows.add_pg_arguments(&mut self.args)?;
                self.params += rows.columns.len();
            }
        }
        self.parts.push(sql);
        Ok(name)
    }

    /// Adds a statement without parameters.
    pub async fn statement(&mut self, conn: &mut Conn<'_>, sql: String) -> DbResult<()> {
        if let Conn::Sqlite(c) = conn {
            sqlx::query(&sql).execute(&mut **c).await?;
        }
        self.parts.push(sql);
        Ok(())
    }

    /// Runs the parts not yet run: on PostgreSQL, all of them.
    pub async fn run(self, conn: &mut Conn<'_>) -> DbResult<()> {
        let Conn::Postgres(c) = conn else {
            return Ok(());
        };
        let Some((last, rest)) = self.parts.split_last() else {
            return Ok(());
        };
        let sql = if rest.is_empty() {
            last.clone()
        } else {
            let with: Vec<String> = (rest.iter().enumerate())
                .map(|(i, p)| format!("w{i} AS ({p})"))
                .collect();
            format!("WITH {} {last}", with.join(", "))
        };
        sqlx::query_with(&sql, self.args).execute(&mut **c).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Row {
        id: i64,
        name: &'static str,
        note: Option<&'static str>,
    }

    const ROWS: &[Row] = &[
        Row {
            id: 1,
            name: "a",
            note: None,
        },
        Row {
            id: 2,
            name: "b",
            note: Some("n"),
        },
        Row {
            id: 3,
            name: "c",
            note: None,
        },
    ];

    fn values(rows: &'static [Row]) -> Rows<'static, Row> {
        Rows::of(rows)
            .int(|r| r.id)
            .text(|r| r.name)
            .text(|r| r.note)
    }

    #[test]
    fn sqlite_lists_the_rows_and_postgres_unnests_one_array_per_column() {
        assert_eq!(
            values(&ROWS[..2]).source(Dialect::Sqlite, "(?, 0, ?, ?)"),
            "VALUES (?, 0, ?, ?), (?, 0, ?, ?)"
        );
        assert_eq!(
            values(&ROWS[..2]).source(Dialect::Postgres, "(?, 0, ?, ?)"),
            "SELECT u.c1, 0, u.c2, u.c3 FROM unnest($1::bigint[], $2::text[], $3::text[]) \
             AS u(c1, c2, c3)"
        );
    }

    #[test]
    fn the_postgres_statement_does_not_depend_on_the_number_of_rows() {
        assert_eq!(
            values(&ROWS[..2]).source(Dialect::Postgres, "(?, ?, ?)"),
            values(ROWS).source(Dialect::Postgres, "(?, ?, ?)")
        );
        assert_eq!(
            values(&ROWS[..1]).source(Dialect::Postgres, "(?, ?, ?)"),
            "VALUES ($1, $2, $3)"
        );
    }
}
