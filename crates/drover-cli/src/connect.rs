//! From a URL to the storage's admin.

use std::time::Duration;

use drover_core::Admin;

use crate::{exit, Failure};

/// How long a connection may take before the tool says the server is unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The URL from `--url`, else `DROVER_URL`, `DATABASE_URL`, `REDIS_URL`.
fn url(given: Option<&str>) -> Result<String, Failure> {
    if let Some(url) = given {
        return Ok(url.to_owned());
    }
    for var in ["DROVER_URL", "DATABASE_URL", "REDIS_URL"] {
        if let Ok(url) = std::env::var(var) {
            if !url.trim().is_empty() {
                return Ok(url);
            }
        }
    }
    Err(Failure::new(
        exit::CONNECT,
        "no storage URL: pass --url (postgres://, mysql://, sqlite:, redis://) or set DROVER_URL, DATABASE_URL or REDIS_URL",
    ))
}

/// Hide a password in a URL for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn unreachable(what: &str, url: &str, error: impl std::fmt::Display) -> Failure {
    Failure::new(exit::CONNECT, format!("cannot connect to {what} at {}: {error}", redact(url)))
}

/// How to talk to the storage, beyond its URL.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// PostgreSQL through a pooler in transaction mode (`--pg-transaction-pooling`).
    pub pg_transaction_pooling: bool,
}

/// Connect to the storage at the URL and return its admin.
pub async fn open(given: Option<&str>, options: Options) -> Result<Box<dyn Admin>, Failure> {
    let url = url(given)?;
    let scheme = url.split(':').next().unwrap_or_default().to_ascii_lowercase();
    if options.pg_transaction_pooling && !matches!(scheme.as_str(), "postgres" | "postgresql") {
        return Err(Failure::new(
            exit::CONNECT,
            format!(
                "--pg-transaction-pooling (or DROVER_PG_TRANSACTION_POOLING) applies to postgres:// URLs only, not `{}`: \
                 drop it, or point --url at the pooler in front of PostgreSQL",
                redact(&url)
            ),
        ));
    }
    match scheme.as_str() {
        "postgres" | "postgresql" => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(CONNECT_TIMEOUT)
                .connect(&url)
                .await
                .map_err(|e| unreachable("PostgreSQL", &url, e))?;
            Ok(Box::new(drover_postgres::PostgresAdmin::new(pool).set_transaction_pooling(options.pg_transaction_pooling)))
        }
        "mysql" | "mariadb" => {
            let url = url.replacen("mariadb:", "mysql:", 1);
            let pool = sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(CONNECT_TIMEOUT)
                .connect(&url)
                .await
                .map_err(|e| unreachable("MySQL", &url, e))?;
            Ok(Box::new(drover_mysql::MysqlAdmin::new(pool)))
        }
        "sqlite" => {
            let pool = drover_sqlite::connect_pool(&url).await.map_err(|e| unreachable("SQLite", &url, e))?;
            Ok(Box::new(drover_sqlite::SqliteAdmin::new(pool)))
        }
        "redis" | "rediss" => {
            let conn = tokio::time::timeout(CONNECT_TIMEOUT, drover_redis::connect(&url))
                .await
                .map_err(|_| unreachable("Redis", &url, format!("no answer in {} s", CONNECT_TIMEOUT.as_secs())))?
                .map_err(|e| unreachable("Redis", &url, e))?;
            Ok(Box::new(drover_redis::RedisAdmin::new(conn)))
        }
        _ => Err(Failure::new(
            exit::CONNECT,
            format!(
                "`{}` is not a storage URL Drover knows: use postgres://, mysql:// (or mariadb://), sqlite: or redis://",
                redact(&url)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(redact("postgres://app:s3cret@db:5432/jobs"), "postgres://app:***@db:5432/jobs");
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(redact("redis://:pw@host:6379"), "redis://:***@host:6379");
    }
}
