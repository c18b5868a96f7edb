//! The admin contract's conformance (`drover_conformance::admin`): searches with filters and
//! stable pages, delete, run now and bulk actions, on the shared Redis server
//! (redis://127.0.0.1:6379, or REDIS_URL), each check in a namespace of its own.
#![allow(clippy::panic)]

use drover_redis::RedisAdmin;

async fn admin() -> (RedisAdmin, String) {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let conn = drover_redis::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach Redis at {url} (cargo xtask services starts it): {e}"));
    (RedisAdmin::new(conn), format!("admin-{}", drover_core::TaskId::new()))
}

drover_conformance::admin_conformance_tests!(admin);
