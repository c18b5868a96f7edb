//! A PgBouncer (Debian's `pgbouncer` 1.18, installed by `cargo xtask services`) in
//! transaction pooling mode in front of one database of the PostgreSQL server, started for a
//! test or a bench and stopped with it.
//!
//! [`PgBouncer::start`] writes `pgbouncer.ini` and `userlist.txt` into a temp dir (listen on
//! 127.0.0.1, the first free port of 6432-6439; `pool_mode = transaction`; `auth_type =
//! trust`; a small `default_pool_size`, so that a client's statements really move between
//! server connections), starts `pgbouncer` as a child process (as the `postgres` user when
//! run as root, which PgBouncer refuses), and waits for its port. Dropping the value kills it
//! (also on panic). A watchdog shell holds a pipe from this process and kills PgBouncer when
//! the pipe closes, so it also goes when this process dies without dropping it (a `static`,
//! a SIGKILL).
//!
//! Only the standard library: the xtask bench includes this file as well.
#![allow(dead_code)]

use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// The loopback ports PgBouncer may listen on.
pub const PORTS: std::ops::RangeInclusive<u16> = 6432..=6439;

/// The parts of a `postgres://user[:password]@host[:port]/database` URL PgBouncer needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    pub user: String,
    pub password: Option<String>,
    pub host: String,
    pub port: u16,
    pub database: String,
}

impl Upstream {
    /// Read a URL (no query parameters).
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .ok_or_else(|| format!("not a postgres:// URL: {url}"))?;
        let rest = rest.split('?').next().unwrap_or(rest);
        let (credentials, rest) = rest.rsplit_once('@').unwrap_or(("postgres", rest));
        let (user, password) = match credentials.split_once(':') {
            Some((user, password)) => (user.to_owned(), Some(password.to_owned())),
            None => (credentials.to_owned(), None),
        };
        let (address, database) = rest.split_once('/').ok_or_else(|| format!("no database in {url}"))?;
        let (host, port) = match address.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), port.parse().map_err(|_| format!("bad port in {url}"))?),
            None => (address.to_owned(), 5432),
        };
        Ok(Self { user, password, host, port, database: database.to_owned() })
    }

    /// The same server, another database.
    pub fn with_database(&self, database: &str) -> Self {
        Self { database: database.to_owned(), ..self.clone() }
    }

    /// The URL straight to the server.
    pub fn url(&self) -> String {
        let password = self.password.as_ref().map(|p| format!(":{p}")).unwrap_or_default();
        format!("postgres://{}{password}@{}:{}/{}", self.user, self.host, self.port, self.database)
    }
}

/// A running PgBouncer; dropping it stops it.
pub struct PgBouncer {
    child: Child,
    watchdog: Option<(Child, ChildStdin)>,
    binary: PathBuf,
    dir: PathBuf,
    port: u16,
    upstream: Upstream,
}

/// The `pgbouncer` binary: on PATH, or where Debian puts it (/usr/sbin is not on every PATH).
fn binary() -> Result<PathBuf, String> {
    let runs = |p: &Path| {
        Command::new(p).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
    };
    for candidate in [PathBuf::from("pgbouncer"), PathBuf::from("/usr/sbin/pgbouncer")] {
        if runs(&candidate) {
            return Ok(candidate);
        }
    }
    Err("pgbouncer is not installed: run `cargo xtask services` (it installs Debian's pgbouncer package) \
         or `apt-get install pgbouncer`"
        .to_owned())
}

/// Whether this process runs as root (PgBouncer then needs `-u USER`).
fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}

impl PgBouncer {
    /// Start PgBouncer in transaction mode in front of `upstream`'s database (the database
    /// must exist), with `pool_size` server connections.
    pub fn start(upstream: &Upstream, pool_size: u32) -> Result<Self, String> {
        use std::os::unix::fs::PermissionsExt as _;
        let binary = binary()?;
        let mut failures = Vec::new();
        for port in PORTS {
            // Not another PgBouncer's of this process (even while it restarts), and free now?
            // (PgBouncer may still lose a race for it; the next port is tried then.)
            if !reserve(port) {
                continue;
            }
            if TcpListener::bind(("127.0.0.1", port)).is_err() {
                release(port);
                continue;
            }
            static INSTANCES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let instance = INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("drover-pgbouncer-{}-{instance}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
            // PgBouncer runs as the postgres user when we are root: it must read the files.
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| format!("chmod {}: {e}", dir.display()))?;
            let password = upstream.password.as_ref().map(|p| format!(" password={p}")).unwrap_or_default();
            let ini = format!(
                "[databases]\n\
                 {db} = host={host} port={server_port} dbname={db} user={user}{password}\n\
                 [pgbouncer]\n\
                 listen_addr = 127.0.0.1\n\
                 listen_port = {port}\n\
                 unix_socket_dir =\n\
                 auth_type = trust\n\
                 auth_file = {auth}\n\
                 pool_mode = transaction\n\
                 default_pool_size = {pool_size}\n\
                 min_pool_size = 0\n\
                 reserve_pool_size = 0\n\
                 max_client_conn = 1000\n\
                 max_db_connections = {pool_size}\n\
                 ignore_startup_parameters = extra_float_digits\n\
                 log_connections = 0\n\
                 log_disconnections = 0\n",
                db = upstream.database,
                host = upstream.host,
                server_port = upstream.port,
                user = upstream.user,
                auth = dir.join("userlist.txt").display(),
            );
            write(&dir.join("pgbouncer.ini"), &ini)?;
            write(&dir.join("userlist.txt"), &format!("\"{}\" \"\"\n", upstream.user))?;
            let child = spawn(&binary, &dir)?;
            let mut bouncer =
                Self { child, watchdog: None, binary: binary.clone(), dir, port, upstream: upstream.clone() };
            bouncer.watchdog = watchdog(bouncer.child.id(), &bouncer.dir);
            match bouncer.wait_ready(Duration::from_secs(10)) {
                Ok(()) => return Ok(bouncer),
                Err(e) => failures.push(format!("port {port}: {e}")),
            }
        }
        Err(format!("PgBouncer did not start on any of ports {PORTS:?}: {}", failures.join("; ")))
    }

    /// Kill PgBouncer (SIGKILL: every client connection breaks mid-whatever), wait `down`, and
    /// start it again on the same port.
    pub fn restart(&mut self, down: Duration) -> Result<(), String> {
        self.stop();
        std::thread::sleep(down);
        self.child = spawn(&self.binary, &self.dir)?;
        self.watchdog = watchdog(self.child.id(), &self.dir);
        self.wait_ready(Duration::from_secs(10))
    }

    /// Kill the watchdog (first, so that it never signals a reused pid), then PgBouncer.
    fn stop(&mut self) {
        if let Some((mut watchdog, mut stdin)) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
            let _ = stdin.flush();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Wait until the port accepts connections; an exit first is an error with the log.
    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("pgbouncer exited ({status}): {}", self.log()));
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                // Ours, not some other process still on the port: still running a moment later.
                std::thread::sleep(Duration::from_millis(50));
                if let Ok(Some(status)) = self.child.try_wait() {
                    return Err(format!("pgbouncer exited ({status}): {}", self.log()));
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("pgbouncer did not listen within {timeout:?}: {}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// PgBouncer's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of the database through PgBouncer.
    pub fn url(&self) -> String {
        self.upstream_through().url()
    }

    fn upstream_through(&self) -> Upstream {
        Upstream { host: "127.0.0.1".to_owned(), port: self.port, password: None, ..self.upstream.clone() }
    }
}

/// `sh` reading a pipe from this process: at end of file (this process is gone) it kills
/// `pid` and removes `dir`. `None` if no shell runs (dropping the `PgBouncer` still stops it).
fn watchdog(pid: u32, dir: &Path) -> Option<(Child, ChildStdin)> {
    let mut child = Command::new("sh")
        .args(["-c", "read _ignored; kill -9 \"$0\" 2>/dev/null; rm -rf \"$1\""])
        .arg(pid.to_string())
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let stdin = child.stdin.take()?;
    Some((child, stdin))
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
        release(self.port);
    }
}

/// The ports this process's PgBouncers hold.
fn reserved() -> std::sync::MutexGuard<'static, Vec<u16>> {
    static RESERVED: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    RESERVED.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Take `port` for a PgBouncer of this process; false if one has it.
fn reserve(port: u16) -> bool {
    let mut ports = reserved();
    if ports.contains(&port) {
        return false;
    }
    ports.push(port);
    true
}

fn release(port: u16) {
    reserved().retain(|p| *p != port);
}

/// Start `binary` on `dir`'s pgbouncer.ini (as the postgres user when we are root), its
/// output appended to `dir`'s pgbouncer.log.
fn spawn(binary: &Path, dir: &Path) -> Result<Child, String> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("pgbouncer.log"))
        .map_err(|e| format!("open the log: {e}"))?;
    let log2 = log.try_clone().map_err(|e| format!("the log: {e}"))?;
    let mut command = Command::new(binary);
    if is_root() {
        command.args(["-u", "postgres"]);
    }
    command
        .arg(dir.join("pgbouncer.ini"))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .map_err(|e| format!("start {}: {e}", binary.display()))
}

#[cfg(test)]
mod tests {
    use super::Upstream;

    #[test]
    fn urls_parse() {
        let up = Upstream::parse("postgres://postgres@127.0.0.1:5432/test");
        assert_eq!(
            up.as_ref().map(|u| (u.user.as_str(), u.host.as_str(), u.port)),
            Ok(("postgres", "127.0.0.1", 5432))
        );
        let url = up.map(|u| u.with_database("drover_pgb").url());
        assert_eq!(url.as_deref(), Ok("postgres://postgres@127.0.0.1:5432/drover_pgb"));
        let up = Upstream::parse("postgresql://u:p@db/app?sslmode=disable");
        assert_eq!(up.map(|u| (u.password, u.port, u.database)), Ok((Some("p".to_owned()), 5432, "app".to_owned())));
    }
}
