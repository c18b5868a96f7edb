//! Compile-time check: every operation's future is `Send`, as the worker runtime and
//! multi-threaded servers need (an async block holding sqlx's `raw_sql` was not).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use drover_core::*;
use drover_mysql::MysqlStorage;
fn is_send<F: Send>(_: F) {}
fn check(s: MysqlStorage<u64>, pool: sqlx::MySqlPool, mut tx: sqlx::Transaction<'static, sqlx::MySql>) {
    is_send(MysqlStorage::setup(&pool));
    is_send(s.claim(ClaimRequest::new("w", 1, std::time::Duration::from_secs(1))));
    is_send(s.complete(vec![]));
    is_send(s.extend_leases(vec![], std::time::Duration::from_secs(1)));
    is_send(s.release(vec![]));
    is_send(s.enqueue(vec![]));
    is_send(s.stats());
    is_send(s.list(ListQuery::new(None, 1)));
    is_send(s.get(TaskId::new()));
    is_send(s.cancel(TaskId::new()));
    is_send(s.requeue(TaskId::new()));
    is_send(s.begin());
    is_send(s.push_in(&mut tx, 1, PushOptions::new()));
    is_send(s.prune());
}
