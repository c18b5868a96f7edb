//! Every setting of the worker, read from the environment. A missing or malformed variable is
//! a [`ConfigError`] that names it and the form it expects, never a panic.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// Where the jobs are stored. There is deliberately no in-memory choice: a production worker
/// must not lose its queue when it exits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendConfig {
    /// `DROVER_BACKEND=postgres` with `DATABASE_URL=postgres://…`.
    Postgres { url: String },
    /// `DROVER_BACKEND=redis` with `REDIS_URL=redis://…`.
    Redis { url: String },
    /// `DROVER_BACKEND=sqlite` with `DATABASE_URL=sqlite://…` (one node only).
    Sqlite { url: String },
}

impl BackendConfig {
    /// The backend's name, as `DROVER_BACKEND` spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Postgres { .. } => "postgres",
            Self::Redis { .. } => "redis",
            Self::Sqlite { .. } => "sqlite",
        }
    }

    /// The variable that holds the URL.
    pub fn url_variable(&self) -> &'static str {
        match self {
            Self::Redis { .. } => "REDIS_URL",
            Self::Postgres { .. } | Self::Sqlite { .. } => "DATABASE_URL",
        }
    }
}

/// The worker's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `DROVER_BACKEND` and its URL.
    pub backend: BackendConfig,
    /// `DROVER_QUEUE` (default `work`).
    pub queue: String,
    /// `WORKER_NAME` (default: `HOSTNAME`, which Kubernetes sets to the pod's name, else
    /// `drover-worker`).
    pub worker_name: String,
    /// `WORKER_CONCURRENCY` (default 10).
    pub concurrency: usize,
    /// `WORKER_PREFETCH`: claim exactly this many tasks beyond the free slots. Unset: adapt to
    /// the job durations (the worker's default, at most 1,000 ahead).
    pub prefetch: Option<usize>,
    /// `SHUTDOWN_TIMEOUT_SECS` (default 30).
    pub shutdown_timeout: Duration,
    /// `HTTP_ADDR` (default `0.0.0.0:8080`): `/metrics`, `/healthz`, `/readyz`.
    pub http_addr: SocketAddr,
    /// `RUST_LOG` (default `info,sqlx=warn`: sqlx logs every migration notice at info).
    pub log_filter: String,
}

/// A variable that is missing or does not have the expected form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable.
    pub variable: &'static str,
    /// What is wrong and what is expected, in one line.
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error: {} {}", self.variable, self.problem)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Read the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| match std::env::var(name) {
            Ok(value) => Ok(Some(value)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err("is not valid UTF-8".to_owned()),
        })
    }

    /// Read the settings through `lookup` (the environment, or a map in tests). An empty value
    /// counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Result<Option<String>, String>) -> Result<Self, ConfigError> {
        let get = |variable: &'static str| -> Result<Option<String>, ConfigError> {
            match lookup(variable) {
                Ok(value) => Ok(value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())),
                Err(problem) => Err(ConfigError { variable, problem }),
            }
        };
        let backend = match get("DROVER_BACKEND")?.as_deref() {
            None => {
                return Err(ConfigError {
                    variable: "DROVER_BACKEND",
                    problem: "is not set: expected postgres, redis or sqlite".into(),
                })
            }
            Some("postgres") => BackendConfig::Postgres {
                url: url(
                    get("DATABASE_URL")?,
                    "DATABASE_URL",
                    &["postgres://", "postgresql://"],
                    "postgres",
                    "postgres://user:password@host:5432/db",
                )?,
            },
            Some("redis") => BackendConfig::Redis {
                url: url(
                    get("REDIS_URL")?,
                    "REDIS_URL",
                    &["redis://", "rediss://"],
                    "redis",
                    "redis://:password@host:6379",
                )?,
            },
            Some("sqlite") => BackendConfig::Sqlite {
                url: url(
                    get("DATABASE_URL")?,
                    "DATABASE_URL",
                    &["sqlite:"],
                    "sqlite",
                    "sqlite:///var/lib/drover/jobs.db",
                )?,
            },
            Some(other) => {
                return Err(ConfigError {
                    variable: "DROVER_BACKEND",
                    problem: format!("is {other:?}: expected postgres, redis or sqlite"),
                })
            }
        };
        let queue = get("DROVER_QUEUE")?.unwrap_or_else(|| "work".to_owned());
        if !queue.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')) {
            return Err(ConfigError {
                variable: "DROVER_QUEUE",
                problem: format!(
                    "is {queue:?}: expected letters, digits, '_', '-', '.' or ':' (for example DROVER_QUEUE=emails)"
                ),
            });
        }
        let worker_name = match get("WORKER_NAME")? {
            Some(name) => name,
            None => get("HOSTNAME")?.unwrap_or_else(|| "drover-worker".to_owned()),
        };
        let concurrency = number(get("WORKER_CONCURRENCY")?, "WORKER_CONCURRENCY", 10, 1..=10_000, "10")?;
        let prefetch = match get("WORKER_PREFETCH")? {
            None => None,
            value => Some(number(value, "WORKER_PREFETCH", 0, 0..=1_000, "0")?),
        };
        let shutdown_secs = number(get("SHUTDOWN_TIMEOUT_SECS")?, "SHUTDOWN_TIMEOUT_SECS", 30, 1..=86_400, "30")?;
        let http_addr = match get("HTTP_ADDR")? {
            None => SocketAddr::from(([0, 0, 0, 0], 8080)),
            Some(value) => value.parse().map_err(|_| ConfigError {
                variable: "HTTP_ADDR",
                problem: format!("is {value:?}: expected an IP address and port (for example HTTP_ADDR=0.0.0.0:8080)"),
            })?,
        };
        let log_filter = get("RUST_LOG")?.unwrap_or_else(|| "info,sqlx=warn".to_owned());
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&log_filter) {
            return Err(ConfigError {
                variable: "RUST_LOG",
                problem: format!(
                    "is {log_filter:?}: {e} (expected a filter such as RUST_LOG=info or RUST_LOG=warn,drover=debug)"
                ),
            });
        }
        Ok(Self {
            backend,
            queue,
            worker_name,
            concurrency,
            prefetch,
            shutdown_timeout: Duration::from_secs(shutdown_secs as u64),
            http_addr,
            log_filter,
        })
    }
}

/// A required URL with one of `schemes`. The value is not echoed: it may hold a password.
fn url(
    value: Option<String>,
    variable: &'static str,
    schemes: &[&str],
    backend: &str,
    example: &str,
) -> Result<String, ConfigError> {
    match value {
        None => Err(ConfigError {
            variable,
            problem: format!("is not set: DROVER_BACKEND={backend} needs it (for example {variable}={example})"),
        }),
        Some(url) if schemes.iter().any(|s| url.starts_with(s)) => Ok(url),
        Some(_) => Err(ConfigError {
            variable,
            problem: format!(
                "does not start with {}: DROVER_BACKEND={backend} expects a URL such as {example}",
                schemes.join(" or ")
            ),
        }),
    }
}

/// An optional whole number within `range`.
fn number(
    value: Option<String>,
    variable: &'static str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
    example: &str,
) -> Result<usize, ConfigError> {
    let Some(value) = value else { return Ok(default) };
    match value.parse::<usize>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(ConfigError {
            variable,
            problem: format!(
                "is {value:?}: expected a whole number from {} to {} (for example {variable}={example})",
                range.start(),
                range.end()
            ),
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| Ok(vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())))
    }

    #[test]
    fn defaults_with_only_the_backend_set() {
        let config = parse(&[("DROVER_BACKEND", "postgres"), ("DATABASE_URL", "postgres://h/db")]).unwrap();
        assert_eq!(config.backend, BackendConfig::Postgres { url: "postgres://h/db".into() });
        assert_eq!(config.concurrency, 10);
        assert_eq!(config.prefetch, None);
        assert_eq!(config.shutdown_timeout, Duration::from_secs(30));
        assert_eq!(config.http_addr.to_string(), "0.0.0.0:8080");
        assert_eq!(config.queue, "work");
        assert_eq!(config.worker_name, "drover-worker");
    }

    #[test]
    fn every_setting_read() {
        let config = parse(&[
            ("DROVER_BACKEND", "redis"),
            ("REDIS_URL", "redis://127.0.0.1:6379"),
            ("DROVER_QUEUE", "emails"),
            ("HOSTNAME", "pod-7"),
            ("WORKER_CONCURRENCY", "25"),
            ("WORKER_PREFETCH", "0"),
            ("SHUTDOWN_TIMEOUT_SECS", "45"),
            ("HTTP_ADDR", "127.0.0.1:9000"),
            ("RUST_LOG", "warn,drover=debug"),
        ])
        .unwrap();
        assert_eq!(config.backend.name(), "redis");
        assert_eq!(config.queue, "emails");
        assert_eq!(config.worker_name, "pod-7");
        assert_eq!(config.concurrency, 25);
        assert_eq!(config.prefetch, Some(0));
        assert_eq!(config.shutdown_timeout, Duration::from_secs(45));
        assert_eq!(config.http_addr.port(), 9000);
    }

    /// Variables, the variable the error must name, and a fragment of the expected form.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

    #[test]
    fn errors_name_the_variable_and_the_form() {
        let cases: &[Case] = &[
            (&[], "DROVER_BACKEND", "expected postgres, redis or sqlite"),
            (&[("DROVER_BACKEND", "memory")], "DROVER_BACKEND", "\"memory\""),
            (&[("DROVER_BACKEND", "postgres")], "DATABASE_URL", "is not set"),
            (&[("DROVER_BACKEND", "redis"), ("REDIS_URL", "http://x")], "REDIS_URL", "redis://"),
            (
                &[("DROVER_BACKEND", "sqlite"), ("DATABASE_URL", "sqlite::memory:"), ("WORKER_CONCURRENCY", "ten")],
                "WORKER_CONCURRENCY",
                "whole number",
            ),
            (
                &[("DROVER_BACKEND", "sqlite"), ("DATABASE_URL", "sqlite::memory:"), ("WORKER_CONCURRENCY", "0")],
                "WORKER_CONCURRENCY",
                "from 1",
            ),
            (
                &[("DROVER_BACKEND", "sqlite"), ("DATABASE_URL", "sqlite::memory:"), ("WORKER_PREFETCH", "all")],
                "WORKER_PREFETCH",
                "from 0",
            ),
            (
                &[("DROVER_BACKEND", "sqlite"), ("DATABASE_URL", "sqlite::memory:"), ("SHUTDOWN_TIMEOUT_SECS", "30s")],
                "SHUTDOWN_TIMEOUT_SECS",
                "whole number",
            ),
            (
                &[("DROVER_BACKEND", "sqlite"), ("DATABASE_URL", "sqlite::memory:"), ("HTTP_ADDR", ":8080")],
                "HTTP_ADDR",
                "IP address and port",
            ),
            (
                &[("DROVER_BACKEND", "sqlite"), ("DATABASE_URL", "sqlite::memory:"), ("RUST_LOG", "info,[")],
                "RUST_LOG",
                "filter",
            ),
            (
                &[("DROVER_BACKEND", "sqlite"), ("DATABASE_URL", "sqlite::memory:"), ("DROVER_QUEUE", "a b")],
                "DROVER_QUEUE",
                "letters",
            ),
        ];
        for (vars, variable, fragment) in cases {
            let error = parse(vars).unwrap_err();
            assert_eq!(error.variable, *variable, "{vars:?}");
            let message = error.to_string();
            assert!(message.contains(variable) && message.contains(fragment), "{vars:?}: {message}");
            assert!(!message.contains('\n'), "one line: {message}");
        }
    }

    #[test]
    fn urls_are_not_echoed() {
        let error = parse(&[("DROVER_BACKEND", "postgres"), ("DATABASE_URL", "mysql://u:secret@h/db")]).unwrap_err();
        assert!(!error.to_string().contains("secret"), "{error}");
    }
}
