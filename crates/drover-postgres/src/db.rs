//! Where the storage's statements run: straight on the pool (the default), or through a
//! pooler in transaction mode (PgBouncer's `pool_mode = transaction`, see
//! [`PostgresConfig::set_transaction_pooling`](crate::PostgresConfig::set_transaction_pooling)).
//!
//! Such a pooler lends a server connection to a client for one transaction only. Outside an
//! explicit transaction that means one protocol *sync*: the next message may reach another
//! server. sqlx runs a statement with binds as two syncs (Parse + Describe, then Bind +
//! Execute), and by default as a *named* statement prepared once per connection, which lives
//! on one server only. Behind the pooler, every statement is therefore unnamed
//! (`persistent(false)`), and a statement that is not already inside a transaction of ours
//! runs inside `BEGIN … COMMIT`, which pins the server for both syncs. Directly on the server
//! nothing changes: the statement runs on the pool as sqlx runs it, named and cached.

use sqlx::PgPool;

/// The pool, and whether it reaches the server through a transaction-mode pooler.
#[derive(Clone, Debug)]
pub(crate) struct Db {
    pub(crate) pool: PgPool,
    /// Behind a transaction-mode pooler: unnamed statements, each inside a transaction.
    pub(crate) pooled: bool,
}

impl Db {
    pub(crate) fn new(pool: PgPool, pooled: bool) -> Self {
        Self { pool, pooled }
    }

    /// Whether sqlx may prepare named statements, cached per connection (not behind a
    /// transaction-mode pooler, where a connection's statements do not follow it from one
    /// server to the next).
    pub(crate) fn persistent(&self) -> bool {
        !self.pooled
    }
}

/// Run one statement on the pool: `run!(&db, fetch_all, query)` for the method that runs it
/// (`execute`, `fetch_all`, `fetch_one`, `fetch_optional`) and a `sqlx::query*` value;
/// evaluates to its `Result<_, sqlx::Error>`.
///
/// Directly on the server: `query.method(&pool)`, exactly as sqlx runs it. Behind a
/// transaction-mode pooler: the unnamed statement inside `BEGIN … COMMIT` on one connection
/// (a dropped transaction is rolled back when its connection returns to the pool).
macro_rules! run {
    ($db:expr, $method:ident, $query:expr) => {{
        let db: &$crate::db::Db = $db;
        if db.pooled {
            async {
                let mut tx = db.pool.begin().await?;
                let out = $query.persistent(false).$method(&mut *tx).await?;
                tx.commit().await?;
                Ok::<_, ::sqlx::Error>(out)
            }
            .await
        } else {
            $query.$method(&db.pool).await
        }
    }};
}

pub(crate) use run;
