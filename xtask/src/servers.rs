//! The servers the backends' tests talk to: where they are (DESIGN.md "Tests and servers"),
//! whether they answer, and how to start a local one.

use std::fs::File;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one TCP connect may take before a server counts as not answering.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1500);

/// How long a start command may run before it is abandoned.
const START_COMMAND_TIMEOUT: Duration = Duration::from_secs(90);

/// One server.
#[derive(Debug)]
pub struct Server {
    /// Short key used by the backend table.
    pub key: &'static str,
    /// The name people know it by.
    pub name: &'static str,
    /// The environment variable that overrides the URL.
    pub env: &'static str,
    /// The URL when the variable is unset.
    pub default_url: &'static str,
    /// The port when the URL names none.
    pub default_port: u16,
    /// The program whose presence means the server is installed locally (a name looked up in
    /// `PATH` and the sbin folders, or an absolute path).
    pub binary: &'static str,
    /// The shell command that starts the local server.
    pub start: &'static str,
    /// How long the server may take to answer after the start command.
    pub start_wait: Duration,
    /// The Debian package that installs it.
    pub apt_package: &'static str,
    /// The service in `docker-compose.yml`.
    pub compose_service: &'static str,
}

/// Every server of DESIGN.md's table.
pub const SERVERS: &[Server] = &[
    Server {
        key: "postgres",
        name: "PostgreSQL",
        env: "DATABASE_URL",
        default_url: "postgres://postgres@127.0.0.1:5432/test",
        default_port: 5432,
        binary: "pg_ctlcluster",
        start: "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
        start_wait: Duration::from_secs(15),
        apt_package: "postgresql",
        compose_service: "postgres",
    },
    Server {
        key: "mysql",
        name: "MariaDB",
        env: "MYSQL_URL",
        default_url: "mysql://root@127.0.0.1:3306/test",
        default_port: 3306,
        binary: "/usr/sbin/mariadbd",
        start: "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
        start_wait: Duration::from_secs(15),
        apt_package: "mariadb-server",
        compose_service: "mariadb",
    },
    Server {
        key: "redis",
        name: "Redis",
        env: "REDIS_URL",
        default_url: "redis://127.0.0.1:6379",
        default_port: 6379,
        binary: "redis-server",
        start: "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save \"\" \
                --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log",
        start_wait: Duration::from_secs(15),
        apt_package: "redis-server",
        compose_service: "redis",
    },
    Server {
        key: "amqp",
        name: "RabbitMQ",
        env: "AMQP_URL",
        default_url: "amqp://guest:guest@127.0.0.1:5672/%2f",
        default_port: 5672,
        binary: "rabbitmq-server",
        start: "rabbitmq-server -detached",
        start_wait: Duration::from_secs(60),
        apt_package: "rabbitmq-server",
        compose_service: "rabbitmq",
    },
    Server {
        key: "nats",
        name: "NATS",
        env: "NATS_URL",
        default_url: "nats://127.0.0.1:4222",
        default_port: 4222,
        binary: "/usr/sbin/nats-server",
        start: "start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
                -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log",
        start_wait: Duration::from_secs(15),
        apt_package: "nats-server",
        compose_service: "nats",
    },
];

impl Server {
    /// The URL in use: the environment variable's value, or the default.
    pub fn url(&self) -> String {
        std::env::var(self.env).ok().filter(|url| !url.trim().is_empty()).unwrap_or_else(|| self.default_url.to_owned())
    }

    /// Host and port of the URL in use.
    pub fn address(&self) -> anyhow::Result<(String, u16)> {
        host_and_port(&self.url(), self.default_port)
    }

    /// Whether the server accepts a TCP connection.
    pub fn answers(&self) -> bool {
        match self.address() {
            Ok((host, port)) => tcp_answers(&host, port),
            Err(_) => false,
        }
    }

    /// Whether the URL points at this machine on the default port, where the start command
    /// puts the server, so starting it can help.
    pub fn is_default_local(&self) -> bool {
        self.address().is_ok_and(|(host, port)| {
            matches!(host.as_str(), "127.0.0.1" | "localhost" | "::1") && port == self.default_port
        })
    }

    /// Where the local server's program is, if it is installed.
    pub fn installed(&self) -> Option<PathBuf> {
        let found = find_program(self.binary)?;
        // The cluster command needs a cluster to start.
        if self.key == "postgres" && !has_entries(Path::new("/etc/postgresql")) {
            return None;
        }
        Some(found)
    }

    /// Run the start command, then wait until the server answers. Errors say what went wrong,
    /// with the command's output.
    pub fn start_local(&self) -> anyhow::Result<()> {
        let log = std::env::temp_dir().join(format!("xtask-start-{}.log", self.key));
        // Output goes to a file, not a pipe: a daemon keeps what it inherits open, and a pipe
        // held by a daemon would never reach end-of-file.
        let out = File::create(&log)?;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(self.start)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()?;
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if started.elapsed() > START_COMMAND_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                anyhow::bail!("`{}` did not finish within {} s", self.start, START_COMMAND_TIMEOUT.as_secs());
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let output = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        if !status.success() {
            anyhow::bail!("`{}` failed ({status}):\n{}", self.start, output.trim());
        }
        if self.wait_until_answers(self.start_wait) {
            Ok(())
        } else {
            anyhow::bail!(
                "`{}` ran but {} does not answer after {} s{}",
                self.start,
                self.name,
                self.start_wait.as_secs(),
                if output.trim().is_empty() { String::new() } else { format!(":\n{}", output.trim()) }
            )
        }
    }

    /// Poll until the server answers or `limit` passes.
    pub fn wait_until_answers(&self, limit: Duration) -> bool {
        let started = Instant::now();
        loop {
            if self.answers() {
                return true;
            }
            if started.elapsed() > limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// The host and port of a URL such as `postgres://user:pass@host:5432/db?x=y`, with
/// `default_port` when it names none. An empty host means this machine.
pub fn host_and_port(url: &str, default_port: u16) -> anyhow::Result<(String, u16)> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    // A list of hosts (`h1:1,h2:2`) is checked at its first.
    let host_port = host_port.split(',').next().unwrap_or_default();
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) =
            bracketed.split_once(']').ok_or_else(|| anyhow::anyhow!("unclosed `[` in the host of `{url}`"))?;
        (host, after.strip_prefix(':'))
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let port = match port {
        Some(port) if !port.is_empty() => port.parse().map_err(|_| anyhow::anyhow!("bad port `{port}` in `{url}`"))?,
        _ => default_port,
    };
    let host = if host.is_empty() { "localhost" } else { host };
    Ok((host.to_owned(), port))
}

/// Whether any address of `host:port` accepts a TCP connection within the timeout.
pub fn tcp_answers(host: &str, port: u16) -> bool {
    let Ok(addresses) = (host, port).to_socket_addrs() else {
        return false;
    };
    addresses.into_iter().any(|address| TcpStream::connect_timeout(&address, CONNECT_TIMEOUT).is_ok())
}

/// Whether `docker compose` can start containers here (the client alone is not enough: it
/// needs a running engine).
pub fn docker_compose_works() -> bool {
    let quiet = |args: &[&str]| {
        Command::new("docker")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    quiet(&["compose", "version"]) && quiet(&["info"])
}

/// `program` itself when it is a path that exists, else its place in `PATH` or the sbin
/// folders (which a non-root `PATH` often lacks).
fn find_program(program: &str) -> Option<PathBuf> {
    let path = Path::new(program);
    if path.is_absolute() {
        return path.is_file().then(|| path.to_path_buf());
    }
    let from_env = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&from_env)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn has_entries(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_of_the_default_urls() {
        let expected =
            [("127.0.0.1", 5432), ("127.0.0.1", 3306), ("127.0.0.1", 6379), ("127.0.0.1", 5672), ("127.0.0.1", 4222)];
        for (server, (host, port)) in SERVERS.iter().zip(expected) {
            let parsed = host_and_port(server.default_url, server.default_port).unwrap();
            assert_eq!(parsed, (host.to_owned(), port), "{}", server.name);
        }
    }

    #[test]
    fn host_and_port_of_other_urls() {
        let cases = [
            ("postgres://u:p@db.example:6000/x?sslmode=require", 5432, ("db.example", 6000)),
            ("rediss://:secret@cache", 6379, ("cache", 6379)),
            ("amqp://[::1]:5673/%2f", 5672, ("::1", 5673)),
            ("mysql://root@[::1]/test", 3306, ("::1", 3306)),
            ("postgres:///test", 5432, ("localhost", 5432)),
            ("nats://a:4223,b:4224", 4222, ("a", 4223)),
            ("localhost:1234", 1, ("localhost", 1234)),
        ];
        for (url, default_port, (host, port)) in cases {
            assert_eq!(host_and_port(url, default_port).unwrap(), (host.to_owned(), port), "{url}");
        }
        assert!(host_and_port("redis://h:notaport", 6379).is_err());
    }
}
