//! One migration runner for every SQL backend: embedded, versioned migrations, each applied
//! once, recorded with a checksum; an edited migration and a database newer than the code are
//! refused; concurrent set-ups serialize on the dialect's lock. A backend supplies only what
//! differs, as a [`MigrationStore`].

use std::future::Future;
use std::pin::Pin;

use drover_core::BackendError;

/// One migration: a version (1, 2, … without gaps), a name and its SQL. Never edit one that
/// shipped; add a new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Migration {
    /// Its number.
    pub version: i64,
    /// What it does, in a word or two.
    pub name: &'static str,
    /// Its statements.
    pub sql: &'static str,
}

/// A migration recorded in the database: its version, and its checksum where one was recorded
/// (tables written by older builds have none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The version.
    pub version: i64,
    /// Its checksum, if recorded.
    pub checksum: Option<i64>,
}

/// A boxed, sendable future (the stores borrow connections, whose futures otherwise trip the
/// compiler's higher-ranked `Send` checks).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, BackendError>> + Send + 'a>>;

/// What a database does for the runner.
pub trait MigrationStore: Send {
    /// Take the set-up lock (held until [`finish`](MigrationStore::finish)) and make sure the
    /// migrations table exists.
    fn begin(&mut self) -> BoxFuture<'_, ()>;
    /// The migrations applied so far.
    fn applied(&mut self) -> BoxFuture<'_, Vec<Applied>>;
    /// Apply `migration` and record it with `checksum`.
    fn apply<'a>(&'a mut self, migration: &'a Migration, checksum: i64) -> BoxFuture<'a, ()>;
    /// Record the checksum of a migration applied by a build that recorded none.
    fn record_checksum(&mut self, version: i64, checksum: i64) -> BoxFuture<'_, ()>;
    /// Commit (`ok`) or roll back, and release the lock.
    fn finish(&mut self, ok: bool) -> BoxFuture<'_, ()>;
}

/// Bring the database up to date with `migrations`; `crate_name` names the crate in errors.
pub async fn run(
    store: &mut impl MigrationStore,
    crate_name: &str,
    migrations: &[Migration],
) -> Result<(), BackendError> {
    store.begin().await?;
    let result = apply_all(store, crate_name, migrations).await;
    let finished = store.finish(result.is_ok()).await;
    result?;
    finished
}

async fn apply_all(
    store: &mut impl MigrationStore,
    crate_name: &str,
    migrations: &[Migration],
) -> Result<(), BackendError> {
    let applied = store.applied().await?;
    let plan = plan(crate_name, migrations, &applied)?;
    for (version, sum) in plan.backfill {
        store.record_checksum(version, sum).await?;
    }
    for migration in plan.pending {
        store.apply(migration, checksum(migration.sql)).await?;
        tracing::info!(version = migration.version, name = migration.name, crate_name, "applied a drover migration");
    }
    Ok(())
}

/// What a set-up does, decided before it touches anything.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan<'m> {
    /// Migrations to apply, in order.
    pub pending: Vec<&'m Migration>,
    /// Checksums to record for migrations applied without one.
    pub backfill: Vec<(i64, i64)>,
}

/// Compare the code's migrations with the database's. Refuses a database with a version this
/// build does not know (newer code wrote it) and an applied migration whose text changed.
pub fn plan<'m>(crate_name: &str, migrations: &'m [Migration], applied: &[Applied]) -> Result<Plan<'m>, BackendError> {
    let known = migrations.last().map_or(0, |m| m.version);
    if let Some(newest) = applied.iter().map(|a| a.version).filter(|v| *v > known).max() {
        return Err(BackendError::Schema(format!(
            "the database has Drover schema version {newest}, newer than this {crate_name} knows ({known}): a newer \
             build set it up; upgrade {crate_name} in this program"
        )));
    }
    let mut pending = Vec::new();
    let mut backfill = Vec::new();
    for migration in migrations {
        let sum = checksum(migration.sql);
        match applied.iter().find(|a| a.version == migration.version) {
            None => pending.push(migration),
            Some(Applied { checksum: None, .. }) => backfill.push((migration.version, sum)),
            Some(Applied { checksum: Some(recorded), .. }) if *recorded != sum => {
                return Err(BackendError::Schema(format!(
                    "Drover migration {} ({}) differs from the one applied to this database; migrations never change \
                     once applied (is an older or patched {crate_name} running?)",
                    migration.version, migration.name
                )));
            }
            Some(_) => {}
        }
    }
    Ok(Plan { pending, backfill })
}

/// FNV-1a over the migration text: enough to notice an edited migration.
pub fn checksum(sql: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in sql.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// Check that versions run 1, 2, 3, … (for each backend's unit tests).
pub fn versions_are_consecutive(migrations: &[Migration]) -> bool {
    migrations.iter().enumerate().all(|(i, m)| i64::try_from(i).is_ok_and(|i| m.version == i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIGRATIONS: &[Migration] =
        &[Migration { version: 1, name: "a", sql: "CREATE a" }, Migration { version: 2, name: "b", sql: "CREATE b" }];

    fn applied(version: i64, sql: Option<&str>) -> Applied {
        Applied { version, checksum: sql.map(checksum) }
    }

    #[test]
    fn a_fresh_database_gets_everything_in_order() {
        let plan = super::plan("drover-x", MIGRATIONS, &[]).unwrap();
        assert_eq!(plan.pending.iter().map(|m| m.version).collect::<Vec<_>>(), [1, 2]);
        assert!(plan.backfill.is_empty());
    }

    #[test]
    fn applied_migrations_are_skipped_and_old_records_get_their_checksum() {
        let plan = super::plan("drover-x", MIGRATIONS, &[applied(1, None)]).unwrap();
        assert_eq!(plan.pending.iter().map(|m| m.version).collect::<Vec<_>>(), [2]);
        assert_eq!(plan.backfill, [(1, checksum("CREATE a"))]);
        let plan =
            super::plan("drover-x", MIGRATIONS, &[applied(1, Some("CREATE a")), applied(2, Some("CREATE b"))]).unwrap();
        assert!(plan.pending.is_empty() && plan.backfill.is_empty());
    }

    #[test]
    fn an_edited_migration_is_refused() {
        let error = super::plan("drover-x", MIGRATIONS, &[applied(1, Some("CREATE a2"))]).unwrap_err();
        assert!(matches!(error, BackendError::Schema(_)), "{error}");
        assert!(error.to_string().contains("migration 1 (a) differs"), "{error}");
    }

    #[test]
    fn a_newer_database_is_refused() {
        let error = super::plan("drover-x", MIGRATIONS, &[applied(3, Some("x"))]).unwrap_err();
        assert!(error.to_string().contains("version 3, newer than this drover-x knows (2)"), "{error}");
    }

    #[test]
    fn checksums_tell_texts_apart() {
        assert_ne!(checksum("a"), checksum("b"));
        assert_eq!(checksum("abc"), checksum("abc"));
        assert!(versions_are_consecutive(MIGRATIONS));
    }
}
