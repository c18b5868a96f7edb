//! The admin contract's conformance (`drover_conformance::admin`) on `drover_core::MemoryAdmin`.

async fn admin() -> (drover_core::MemoryAdmin, String) {
    (drover_core::MemoryAdmin::new(), "admin".to_owned())
}

drover_conformance::admin_conformance_tests!(admin);

/// Broken admins over memory, each shown to fail the check that covers what it breaks.
mod broken {
    use drover_core::{AdminBackend, BackendError, MemoryAdmin, MemoryStorage, TaskFilter, TaskId};
    use futures_util::future::BoxFuture;

    /// `Pages` ignores the page cursor; `LazyRunNow` says a task is due without moving it.
    #[derive(Clone, Copy)]
    enum Fault {
        Pages,
        LazyRunNow,
    }

    struct Broken(MemoryAdmin, Fault);

    impl AdminBackend for Broken {
        type Storage = MemoryStorage<()>;
        fn name(&self) -> &'static str {
            "broken"
        }
        fn storage(&self, queue: &str) -> MemoryStorage<()> {
            self.0.storage(queue)
        }
        fn queue_names(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>> {
            self.0.queue_names()
        }
        fn migrate(&self) -> BoxFuture<'_, Result<(), BackendError>> {
            Box::pin(async { Ok(()) })
        }
        fn find_ids<'a>(
            &'a self,
            queue: &'a str,
            filter: &'a TaskFilter,
            before: Option<TaskId>,
            limit: usize,
        ) -> BoxFuture<'a, Result<Vec<TaskId>, BackendError>> {
            let before = if matches!(self.1, Fault::Pages) { None } else { before };
            self.0.find_ids(queue, filter, before, limit)
        }
        fn delete_task(&self, queue: &str, id: TaskId) -> BoxFuture<'_, Result<bool, BackendError>> {
            self.0.delete_task(queue, id)
        }
        fn run_now(&self, queue: &str, id: TaskId) -> BoxFuture<'_, Result<bool, BackendError>> {
            if matches!(self.1, Fault::LazyRunNow) {
                return Box::pin(async { Ok(true) });
            }
            AdminBackend::run_now(&self.0, queue, id)
        }
    }

    #[tokio::test]
    #[should_panic(expected = "conformance: pages after the first are not shifted")]
    async fn pages_that_ignore_their_cursor_fail_admin_search() {
        drover_conformance::admin::admin_search(|| async {
            (Broken(MemoryAdmin::new(), Fault::Pages), "q".to_owned())
        })
        .await;
    }

    #[tokio::test]
    #[should_panic(expected = "conformance: after run_now the task is pending and due")]
    async fn a_run_now_that_moves_nothing_fails_admin_delete_and_run_now() {
        drover_conformance::admin::admin_delete_and_run_now(|| async {
            (Broken(MemoryAdmin::new(), Fault::LazyRunNow), "q".to_owned())
        })
        .await;
    }
}
