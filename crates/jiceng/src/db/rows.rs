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

use super::{Conn, DbError, DbResult, Dialect, value_rows};

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
        if !self.unnested(dialect) {
            return format!("VALUES {}", value_rows(dialect, self.rows.len(), template));
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
            .map(|(i, c)| format!("${}::{}[]", i + 1, c.pg_type()))
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
        Ok(args)
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
