//! A three-node nats-server cluster with JetStream on loopback, for the cluster tests
//! (`tests/cluster_*.rs`) and `cargo xtask bench --backend nats-cluster`, which includes this
//! file by path: it needs only std and serde_json.
//!
//! Node `i` of a cluster on base `b` listens for clients on `4300 + b + i`, for routes on
//! `6300 + b + i` and for monitoring on `8300 + b + i`, keeps its JetStream store in its own
//! directory of a temporary directory, and is named `n<i>`; the cluster is `drover-test`.
//! Every node runs under a `sh` guard that SIGKILLs it when the guard's standard input closes:
//! [`NatsCluster`]'s `Drop` closes it (also when a test panics), and so does the end of the
//! test process, however it ends, so a cluster kept in a `static` dies with its process too.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// The cluster's name in every node's config.
pub const CLUSTER_NAME: &str = "drover-test";
/// How many nodes a cluster has.
pub const NODES: usize = 3;

/// One node: its ports, config file and, while it runs, its process.
pub struct Node {
    /// `n0`, `n1`, `n2`: the server name JetStream reports (stream leader, replicas).
    pub name: String,
    pub client_port: u16,
    pub route_port: u16,
    pub http_port: u16,
    config: PathBuf,
    running: Option<Running>,
}

/// A running nats-server under its guard.
struct Running {
    /// The nats-server's own pid.
    pub pid: u32,
    /// The guard (`sh`), which kills the server once `stdin` closes.
    guard: Child,
    stdin: Option<ChildStdin>,
}

impl Node {
    /// `nats://127.0.0.1:<client port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.client_port)
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }
}

/// Three nats-server processes forming one JetStream cluster; killed when dropped.
pub struct NatsCluster {
    pub nodes: Vec<Node>,
    dir: PathBuf,
}

impl NatsCluster {
    /// Start the three nodes of the cluster on ports `4300 + base ..` (see the module docs) and
    /// wait until JetStream has a meta leader that every node knows. Panics, with the nodes'
    /// logs, if that takes more than 30 s.
    pub fn start(base: u16) -> Self {
        let binary = nats_server_binary();
        let dir = std::env::temp_dir().join(format!("drover-nats-cluster-{}-{base}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let routes: Vec<String> =
            (0..NODES).map(|i| format!("nats-route://127.0.0.1:{}", 6300 + base + i as u16)).collect();
        let mut nodes = Vec::with_capacity(NODES);
        for i in 0..NODES {
            let offset = base + i as u16;
            let name = format!("n{i}");
            let (client_port, route_port, http_port) = (4300 + offset, 6300 + offset, 8300 + offset);
            for port in [client_port, route_port, http_port] {
                wait_free(port);
            }
            let store = dir.join(&name).join("jetstream");
            let log = dir.join(&name).join("nats.log");
            std::fs::create_dir_all(dir.join(&name)).unwrap();
            let config = dir.join(&name).join("nats.conf");
            let text = format!(
                "server_name: {name}\n\
                 listen: 127.0.0.1:{client_port}\n\
                 http: 127.0.0.1:{http_port}\n\
                 log_file: {log:?}\n\
                 jetstream {{\n  store_dir: {store:?}\n}}\n\
                 cluster {{\n  name: {CLUSTER_NAME}\n  listen: 127.0.0.1:{route_port}\n  routes: [\n    {}\n  ]\n}}\n",
                routes.join("\n    ")
            );
            std::fs::write(&config, text).unwrap();
            nodes.push(Node { name, client_port, route_port, http_port, config, running: None });
        }
        let mut cluster = Self { nodes, dir };
        for i in 0..NODES {
            cluster.launch(i, &binary);
        }
        for i in 0..NODES {
            cluster.wait_accepting(i);
        }
        cluster.wait_meta_leader(Duration::from_secs(30));
        cluster
    }

    /// Every node's client URL, comma-separated: what a storage connects with.
    pub fn urls(&self) -> String {
        self.nodes.iter().map(Node::url).collect::<Vec<_>>().join(",")
    }

    /// The index of the node named `name` (`n1` → 1).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// SIGKILL node `i` and wait until it is gone.
    pub fn kill(&mut self, i: usize) {
        let Some(mut running) = self.nodes[i].running.take() else { return };
        // The guard SIGKILLs the server once its standard input closes, then waits for it.
        drop(running.stdin.take());
        let _ = running.guard.wait();
    }

    /// Start node `i` again, on its ports and store, and wait until it accepts clients.
    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        for port in [self.nodes[i].client_port, self.nodes[i].route_port, self.nodes[i].http_port] {
            wait_free(port);
        }
        self.launch(i, &nats_server_binary());
        self.wait_accepting(i);
    }

    /// The meta leader's name, as the first running node that knows one reports it.
    pub fn meta_leader(&self) -> Option<String> {
        self.nodes.iter().filter(|n| n.is_running()).find_map(|n| meta_leader_of(n.http_port))
    }

    /// Wait until every running node reports the same meta leader, and the leader sees every
    /// other running node as current: from then on the cluster places R3 streams.
    pub fn wait_meta_leader(&self, within: Duration) -> String {
        let deadline = Instant::now() + within;
        let running = self.nodes.iter().filter(|n| n.is_running()).count();
        loop {
            let leaders: Vec<Option<String>> =
                self.nodes.iter().filter(|n| n.is_running()).map(|n| meta_leader_of(n.http_port)).collect();
            if let Some(Some(first)) = leaders.first() {
                let agreed = leaders.iter().all(|l| l.as_deref() == Some(first.as_str()));
                let followers = self.index_of(first).and_then(|i| current_followers_of(self.nodes[i].http_port));
                if agreed && followers.is_some_and(|f| f + 1 >= running) {
                    return first.clone();
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "the JetStream cluster has no meta leader after {within:?} ({leaders:?}); logs:\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every node's log, for a failure message.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            let log = std::fs::read_to_string(self.dir.join(&node.name).join("nats.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            out.push_str(&format!("--- {} (last {} lines)\n", node.name, tail.len()));
            for line in tail.into_iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// Run node `i`'s nats-server under a guard shell: the guard prints the server's pid, then
    /// waits for its standard input to close and SIGKILLs the server.
    fn launch(&mut self, i: usize, binary: &str) {
        let node = &mut self.nodes[i];
        let script = r#""$1" -c "$2" </dev/null >/dev/null 2>&1 & pid=$!; echo "$pid"; read -r _; kill -9 "$pid" 2>/dev/null; wait "$pid""#;
        let mut guard = Command::new("sh")
            .args(["-c", script, "nats-server-guard", binary])
            .arg(&node.config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start sh to run {binary}: {e}"));
        let mut line = String::new();
        let stdout = guard.stdout.take().expect("the guard's stdout");
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let pid: u32 = line.trim().parse().unwrap_or_else(|_| {
            panic!("start `{binary}` ({line:?}): the cluster tests need nats-server on PATH or NATS_SERVER_BIN")
        });
        let stdin = guard.stdin.take();
        node.running = Some(Running { pid, guard, stdin });
    }

    /// Wait until node `i` answers a client's connect with its INFO line.
    fn wait_accepting(&self, i: usize) {
        let node = &self.nodes[i];
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", node.client_port)) {
                let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                let mut buf = [0u8; 4];
                if stream.read_exact(&mut buf).is_ok() && &buf == b"INFO" {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "nats-server {} did not accept clients on port {} within 10 s; logs:\n{}",
            node.name,
            node.client_port,
            self.logs()
        );
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn nats_server_binary() -> String {
    std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".to_owned())
}

/// Wait up to 10 s for nothing to listen on `port` (a node of an earlier run still dying).
fn wait_free(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return;
        }
        if Instant::now() > deadline {
            panic!("loopback port {port} stays in use: another process holds the cluster tests' ports");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The meta leader node `http_port` reports in `/jsz`, if it knows one.
fn meta_leader_of(http_port: u16) -> Option<String> {
    let body = http_get(http_port, "/jsz")?;
    let jsz: serde_json::Value = serde_json::from_str(&body).ok()?;
    let leader = jsz.get("meta_cluster")?.get("leader")?.as_str()?;
    (!leader.is_empty()).then(|| leader.to_owned())
}

/// How many meta group followers the leader at `http_port` sees as current.
fn current_followers_of(http_port: u16) -> Option<usize> {
    let body = http_get(http_port, "/jsz")?;
    let jsz: serde_json::Value = serde_json::from_str(&body).ok()?;
    let replicas = jsz.get("meta_cluster")?.get("replicas")?.as_array()?;
    Some(replicas.iter().filter(|r| r.get("current").and_then(serde_json::Value::as_bool) == Some(true)).count())
}

/// The body of `GET path` on the loopback monitoring port (HTTP/1.0, so the server closes).
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.").then(|| body.to_owned())
}
