//! The plumbing Drover's sqlx backends (`drover-postgres`, `drover-mysql`, `drover-sqlite`)
//! share, so that each behaves the same way: one migration runner ([`migrate`]) and one
//! classifier of sqlx errors ([`error`]). An internal crate: its API serves those backends and
//! may change with them.

pub mod error;
pub mod migrate;
