//! Multi-row statements: `VALUES` lists of anonymous parameters, in chunks that stay below
//! SQLite's limit of 32,766 parameters per statement.

use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqliteQueryResult, SqliteRow};
use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

/// A boxed, sendable future. Functions that hold a `&mut SqliteConnection` across an await
/// return one: it pins the borrow's lifetime, which otherwise trips rustc's check that the
/// trait methods' futures are `Send` ("implementation of `Executor` is not general enough").
pub(crate) type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// SQL text built by this crate: fixed statements and `VALUES` lists of `?` placeholders,
/// never user input (every value is a bound parameter).
pub(crate) fn built(statement: impl Into<String>) -> SqlStr {
    AssertSqlSafe(statement.into()).into_sql_str()
}

/// Execute `statement` on a connection (a transaction's, say), as a boxed future.
pub(crate) fn execute_on<'c>(
    conn: &'c mut SqliteConnection,
    statement: impl SqlSafeStr,
    args: SqliteArguments,
) -> BoxFuture<'c, Result<SqliteQueryResult, sqlx::Error>> {
    Box::pin(sqlx::query_with(statement, args).execute(conn))
}

/// Fetch every row of `statement` on a connection, as a boxed future.
pub(crate) fn fetch_all_on<'c>(
    conn: &'c mut SqliteConnection,
    statement: impl SqlSafeStr,
    args: SqliteArguments,
) -> BoxFuture<'c, Result<Vec<SqliteRow>, sqlx::Error>> {
    Box::pin(sqlx::query_with(statement, args).fetch_all(conn))
}

/// Parameters one statement may use (SQLite's limit is 32,766).
const PARAMS_PER_STATEMENT: usize = 30_000;

/// Rows per statement when each row takes `columns` parameters.
pub(crate) fn chunks_of(columns: usize) -> usize {
    (PARAMS_PER_STATEMENT / columns.max(1)).max(1)
}

/// `VALUES (?, ?), (?, ?), …` for `rows` rows of `columns` parameters.
///
/// Parameters are anonymous on purpose: SQLite looks a numbered parameter's name up in a
/// list (`sqlite3_bind_parameter_name`, which sqlx calls for every parameter), so binding
/// thousands of `?NNN` costs quadratic time, while `?` costs nothing.
pub(crate) fn values(rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(8 + rows * (columns * 3 + 2));
    sql.push_str("VALUES ");
    rows_of(&mut sql, rows, &vec!["?"; columns]);
    sql
}

/// Write `rows` parenthesised rows, each made of `cells` (SQL text such as `?` or a literal).
pub(crate) fn rows_of(sql: &mut String, rows: usize, cells: &[&str]) {
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        sql.push_str(&cells.join(", "));
        sql.push(')');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_values() {
        assert_eq!(values(2, 2), "VALUES (?, ?), (?, ?)");
        assert_eq!(chunks_of(5), 6_000);
    }
}
