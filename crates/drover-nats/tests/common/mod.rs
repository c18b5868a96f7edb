//! Shared by the tests: a storage on its own queue, and cleanup of queues old tests left.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use drover_core::TaskId;
use drover_nats::{NatsConfig, NatsStorage, NatsStorageType};
use futures_util::StreamExt;

pub fn url() -> String {
    std::env::var("NATS_URL").unwrap_or_else(|_| drover_nats::DEFAULT_URL.to_owned())
}

/// A config on a fresh queue `t<ulid>` (in-memory streams, done records kept an hour).
pub fn config(tag: &str) -> NatsConfig {
    NatsConfig::new(url())
        .set_queue(format!("t{tag}{}", TaskId::new()))
        .set_storage(NatsStorageType::Memory)
        .set_ack_wait(Duration::from_secs(10))
        .set_keep_done(Duration::from_secs(3600))
}

pub async fn connect<T>(config: NatsConfig) -> NatsStorage<T> {
    drop_old_test_streams(&url()).await;
    NatsStorage::connect(config).await.unwrap_or_else(|e| {
        panic!("connect to NATS at NATS_URL ({e}); start it with `nats-server -js` (see the README)")
    })
}

/// Delete test streams (`DROVER_t…`) made more than 10 minutes ago, once per process.
pub async fn drop_old_test_streams(url: &str) {
    static ONCE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    ONCE.get_or_init(|| async {
        let Ok(client) = async_nats::connect(url).await else { return };
        let js = async_nats::jetstream::new(client);
        let mut names = js.stream_names();
        let mut old = Vec::new();
        while let Some(Ok(name)) = names.next().await {
            let Some(rest) = name.strip_prefix("DROVER_t").or_else(|| name.strip_prefix("KV_drover_t")) else {
                continue;
            };
            let ulid: String = rest.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
            let Some(id) = (0..ulid.len().saturating_sub(25)).find_map(|i| ulid.get(i..i + 26)?.parse::<TaskId>().ok())
            else {
                continue;
            };
            if chrono::Utc::now() - id.created_at() > chrono::TimeDelta::minutes(10) {
                old.push(name);
            }
        }
        for name in old {
            let _ = js.delete_stream(&name).await;
        }
    })
    .await;
}

/// A `nats-server` of the test's own with JetStream on a spare loopback port and its store in
/// a temporary directory. Killed (and its directory removed) when dropped.
pub struct PrivateNats {
    pub port: u16,
    pub dir: std::path::PathBuf,
    child: Option<std::process::Child>,
}

impl PrivateNats {
    pub fn start(name: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("drover-nats-{name}-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = Self { port, dir, child: None };
        server.launch();
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn launch(&mut self) {
        let binary = std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".to_owned());
        let child = std::process::Command::new(&binary)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js", "-sd"])
            .arg(self.dir.join("store"))
            .arg("-l")
            .arg(self.dir.join("nats.log"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("start `{binary}` ({e}): this test needs nats-server on PATH or NATS_SERVER_BIN")
            });
        self.child = Some(child);
        self.wait_ready();
    }

    /// Ready once it answers a client's connect with its INFO line.
    fn wait_ready(&self) {
        use std::io::Read;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                let mut buf = [0u8; 4];
                if stream.read_exact(&mut buf).is_ok() && &buf == b"INFO" {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let log = std::fs::read_to_string(self.dir.join("nats.log")).unwrap_or_default();
        panic!("nats-server on port {} did not start within 10 s; its log:\n{log}", self.port);
    }

    /// SIGKILL the server: nothing is flushed beyond what it already wrote.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start it again on the same port and store directory.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
