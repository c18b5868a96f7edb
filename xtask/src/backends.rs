//! The storage backends: which crates hold each one and which servers its tests need.

use crate::servers::{Server, SERVERS};
use crate::workspace_root;

/// One backend as `--backend NAME` names it.
#[derive(Debug)]
pub struct BackendSpec {
    /// The name given to `--backend`.
    pub name: &'static str,
    /// The crates whose tests exercise it; the first one decides whether it exists yet.
    pub crates: &'static [&'static str],
    /// Keys of the servers its tests talk to (see [`SERVERS`]).
    pub servers: &'static [&'static str],
}

/// Every backend DESIGN.md plans. Only those whose crate exists in `crates/` are used.
pub const BACKENDS: &[BackendSpec] = &[
    BackendSpec { name: "memory", crates: &["drover-core", "drover-conformance", "drover"], servers: &[] },
    BackendSpec { name: "sqlite", crates: &["drover-sqlite"], servers: &[] },
    BackendSpec { name: "postgres", crates: &["drover-postgres"], servers: &["postgres"] },
    BackendSpec { name: "mysql", crates: &["drover-mysql"], servers: &["mysql"] },
    BackendSpec { name: "redis", crates: &["drover-redis"], servers: &["redis"] },
    BackendSpec { name: "rsmq", crates: &["drover-rsmq"], servers: &["redis"] },
    BackendSpec { name: "amqp", crates: &["drover-amqp"], servers: &["amqp"] },
    BackendSpec { name: "nats", crates: &["drover-nats"], servers: &["nats"] },
    BackendSpec { name: "pgmq", crates: &["drover-pgmq"], servers: &["postgres"] },
    // Not a storage: its multi-node tests pipe schedules into PostgreSQL and Redis.
    BackendSpec { name: "cron", crates: &["drover-cron"], servers: &["postgres", "redis"] },
];

impl BackendSpec {
    /// The backend named `name`, or an error listing the known names.
    pub fn by_name(name: &str) -> anyhow::Result<&'static BackendSpec> {
        BACKENDS.iter().find(|b| b.name == name).ok_or_else(|| {
            let known: Vec<&str> = BACKENDS.iter().map(|b| b.name).collect();
            anyhow::anyhow!("unknown backend `{name}`; known backends: {}", known.join(", "))
        })
    }

    /// Whether the backend's crate is in the workspace yet.
    pub fn exists(&self) -> bool {
        self.crates.first().is_some_and(|krate| crate_exists(krate))
    }

    /// The crates of this backend that exist, for `cargo test -p`.
    pub fn existing_crates(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.crates.iter().copied().filter(|krate| crate_exists(krate))
    }

    /// The servers this backend's tests need.
    pub fn required_servers(&self) -> impl Iterator<Item = &'static Server> + '_ {
        self.servers.iter().filter_map(|key| SERVERS.iter().find(|s| s.key == *key))
    }
}

/// The backends whose crate exists.
pub fn existing() -> impl Iterator<Item = &'static BackendSpec> {
    BACKENDS.iter().filter(|b| b.exists())
}

/// The names of existing backends that need `server`.
pub fn needing(server: &Server) -> Vec<&'static str> {
    existing().filter(|b| b.servers.contains(&server.key)).map(|b| b.name).collect()
}

pub fn crate_exists(krate: &str) -> bool {
    workspace_root().join("crates").join(krate).join("Cargo.toml").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_backend_names_known_servers() {
        for backend in BACKENDS {
            assert_eq!(backend.required_servers().count(), backend.servers.len(), "{}", backend.name);
        }
    }

    #[test]
    fn memory_exists_because_drover_core_does() {
        assert!(BackendSpec::by_name("memory").unwrap().exists());
        assert!(BackendSpec::by_name("oracle").is_err());
    }
}
