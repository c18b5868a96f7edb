//! Helpers shared by the integration tests: the server URL, storages in fresh namespaces, and
//! private `redis-server` instances for the restart and crash tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use drover_redis::{Config, RedisStorage};

/// The shared test server.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A storage on the shared server in namespace `ns`, configured by `configure`.
pub async fn storage<T>(ns: &str, configure: impl FnOnce(Config) -> Config) -> RedisStorage<T> {
    let url = redis_url();
    let conn = drover_redis::connect(&url).await.unwrap_or_else(|e| {
        panic!(
            "cannot reach Redis at {url}: {e}. Start it with: redis-server --daemonize yes --bind 127.0.0.1 -::1 \
             --port 6379 --save \"\" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
        )
    });
    RedisStorage::new_with_config(conn, configure(Config::default().set_namespace(ns)))
}

/// A `redis-server` of the test's own, on a spare loopback port, with an append-only file
/// synced on every write in a temporary directory. Killed when dropped.
pub struct PrivateRedis {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl PrivateRedis {
    pub fn start(name: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("drover-redis-{name}-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = Self { port, dir, child: None };
        server.launch();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn launch(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--logfile", "redis.log"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed for this test (apt-get install redis-server)");
        self.child = Some(child);
        wait_for_port(self.port, &self.dir);
    }

    /// SIGKILL the server (nothing flushed beyond what `appendfsync always` already wrote).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start it again on the same port and directory.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn wait_for_port(port: u16, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
            if stream.write_all(b"PING\r\n").is_ok() {
                let mut buf = [0u8; 64];
                if let Ok(n) = stream.read(&mut buf) {
                    // A server still loading its append-only file answers -LOADING.
                    if buf[..n].starts_with(b"+PONG") {
                        return;
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
    panic!("redis-server on port {port} did not start within 10 s; its log:\n{log}");
}
