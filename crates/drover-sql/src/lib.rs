//! Drover's SQL backends under one crate, for code written as
//! `use drover_sql::postgres::PostgresStorage;`. Each module is the backend crate itself,
//! behind a feature of the same name (all on by default; turn off the ones you do not use to
//! compile fewer database drivers).
//!
//! ```no_run
//! use drover_sql::postgres::PostgresStorage;
//! use sqlx::PgPool;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let database_url = std::env::var("DATABASE_URL")?;
//! let pool = PgPool::connect(&database_url).await?;
//! // Run migrations to create the jobs table
//! PostgresStorage::setup(&pool).await?;
//! let storage: PostgresStorage<String> = PostgresStorage::new(pool);
//! # let _ = storage;
//! # Ok(())
//! # }
//! ```
//!
//! # Feature flags
//!
//! | feature | module | crate |
//! |---|---|---|
//! | `postgres` (default) | [`postgres`] | `drover-postgres` |
//! | `mysql` (default) | [`mysql`] | `drover-mysql` |
//! | `sqlite` (default) | [`sqlite`] | `drover-sqlite` |

#[cfg(feature = "mysql")]
pub use drover_mysql as mysql;
#[cfg(feature = "postgres")]
pub use drover_postgres as postgres;
#[cfg(feature = "sqlite")]
pub use drover_sqlite as sqlite;
