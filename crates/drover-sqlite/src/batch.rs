//! Multi-row statements: `VALUES` lists with numbered parameters, in chunks that stay far
//! below SQLite's limit of 32,766 parameters per statement.

use std::fmt::Write;

use drover_core::BackendError;
use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqlitePool, SqliteQueryResult, SqliteRow};

use crate::error::sql;

/// A boxed, sendable future. Functions that hold a `&mut SqliteConnection` across an await
/// return one: it pins the borrow's lifetime, which otherwise trips rustc's check that the
/// trait methods' futures are `Send` ("implementation of `Executor` is not general enough").
pub(crate) type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Execute `statement` on a connection (a transaction's, say), as a boxed future.
pub(crate) fn execute_on<'c>(
    conn: &'c mut SqliteConnection,
    statement: &'c str,
    args: SqliteArguments<'c>,
) -> BoxFuture<'c, Result<SqliteQueryResult, sqlx::Error>> {
    Box::pin(sqlx::query_with(statement, args).execute(conn))
}

/// Fetch every row of `statement` on a connection, as a boxed future.
pub(crate) fn fetch_all_on<'c>(
    conn: &'c mut SqliteConnection,
    statement: &'c str,
    args: SqliteArguments<'c>,
) -> BoxFuture<'c, Result<Vec<SqliteRow>, sqlx::Error>> {
    Box::pin(sqlx::query_with(statement, args).fetch_all(conn))
}

/// One statement with its arguments.
pub(crate) type Statement = (String, SqliteArguments<'static>);

/// Run `statements` as one unit: a single statement on its own (SQLite makes it atomic), more
/// inside one immediate transaction. Returns the rows changed. The caller holds the write
/// turn.
pub(crate) async fn execute_all(
    pool: &SqlitePool,
    operation: &'static str,
    statements: Vec<Statement>,
) -> Result<u64, BackendError> {
    let mut changed = 0;
    if statements.len() == 1 {
        for (statement, args) in statements {
            changed +=
                sqlx::query_with(&statement, args).execute(pool).await.map_err(|e| sql(operation, e))?.rows_affected();
        }
        return Ok(changed);
    }
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(|e| sql(operation, e))?;
    for (statement, args) in statements {
        changed += execute_on(&mut tx, &statement, args).await.map_err(|e| sql(operation, e))?.rows_affected();
    }
    tx.commit().await.map_err(|e| sql(operation, e))?;
    Ok(changed)
}

/// Parameters one statement may use for its rows (the rest of the limit is headroom).
const PARAMS_PER_STATEMENT: usize = 6_000;

/// Rows per statement when each row takes `columns` parameters.
pub(crate) fn chunks_of(columns: usize) -> usize {
    (PARAMS_PER_STATEMENT / columns.max(1)).max(1)
}

/// `VALUES (?a, ?b), (?c, ?d), …` for `rows` rows of `columns` parameters, numbered from
/// `first`.
pub(crate) fn values(rows: usize, columns: usize, first: usize) -> String {
    let mut sql = String::with_capacity(8 + rows * columns * 7);
    sql.push_str("VALUES ");
    rows_of(&mut sql, rows, columns, first, |sql, n| {
        let _ = write!(sql, "?{n}");
    });
    sql
}

/// Write `rows` parenthesised rows of `columns` cells, each cell written by `cell` with its
/// parameter number (counted from `first`).
pub(crate) fn rows_of(
    sql: &mut String,
    rows: usize,
    columns: usize,
    first: usize,
    mut cell: impl FnMut(&mut String, usize),
) {
    let mut n = first;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            cell(sql, n);
            n += 1;
        }
        sql.push(')');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_values() {
        assert_eq!(values(2, 2, 3), "VALUES (?3, ?4), (?5, ?6)");
        assert_eq!(chunks_of(5), 1_200);
    }
}
