//! The admin contract's conformance (`drover_conformance::admin`): searches with filters and
//! stable pages, delete, run now and bulk actions, on MariaDB/MySQL
//! (mysql://root@127.0.0.1:3306/test, or MYSQL_URL), each check on a queue of its own.

mod support;

use drover_mysql::MysqlAdmin;

async fn admin() -> (MysqlAdmin, String) {
    (MysqlAdmin::new(support::pool().await), support::queue("admin"))
}

drover_conformance::admin_conformance_tests!(admin);
