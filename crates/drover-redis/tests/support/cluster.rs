//! A throwaway Redis Cluster on loopback for tests and benches: three masters and three
//! replicas (`redis-server --cluster-enabled yes`, one second node timeout, no persistence,
//! data in a temporary directory), created with `redis-cli --cluster create`, killed on drop.
//!
//! Plain `std` only, so both the crate's tests and xtask's bench include this file
//! (`#[path = "..."] mod cluster;`).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Nodes of the cluster: three masters, each with one replica.
pub const NODES: u16 = 6;

/// A running cluster on ports `base..base + 6` (cluster bus: port + 10000). Every node is
/// killed when it is dropped, also when a test panics; a watchdog process kills them too if
/// the process that started them dies without dropping it.
pub struct TestCluster {
    pub base_port: u16,
    dir: PathBuf,
    nodes: Vec<(u16, Option<Child>)>,
    watchdog: Option<Child>,
}

impl TestCluster {
    /// Start the six nodes, create the cluster and wait until every node reports it healthy
    /// and every replica has synced with its master.
    pub fn start(base_port: u16) -> Result<Self, String> {
        let dir = std::env::temp_dir().join(format!("drover-redis-cluster-{}-{base_port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut cluster = Self { base_port, dir, nodes: Vec::new(), watchdog: None };
        for port in cluster.ports() {
            // A node left behind by an earlier run that died: these ports are reserved for it.
            if cli(port, &["PING"]).is_ok_and(|o| o.status.success()) {
                let _ = cli(port, &["SHUTDOWN", "NOSAVE"]);
                std::thread::sleep(Duration::from_millis(200));
            }
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes", "--cluster-config-file", &format!("nodes-{port}.conf")])
                .args(["--cluster-node-timeout", "1000", "--cluster-require-full-coverage", "no"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&cluster.dir)
                .args(["--logfile", &format!("redis-{port}.log")])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| {
                    format!("cannot start redis-server (is it installed? apt-get install redis-server): {e}")
                })?;
            cluster.nodes.push((port, Some(child)));
        }
        cluster.start_watchdog();
        for port in cluster.ports() {
            cluster.wait_for(&format!("node {port} to answer"), Duration::from_secs(10), || {
                cli(port, &["PING"]).is_ok_and(|o| stdout(&o) == "PONG")
            })?;
        }
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for port in cluster.ports() {
            create.arg(format!("127.0.0.1:{port}"));
        }
        let created = create
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run redis-cli: {e}"))?;
        if !created.status.success() {
            return Err(format!(
                "redis-cli --cluster create failed: {}{}",
                stdout(&created),
                String::from_utf8_lossy(&created.stderr)
            ));
        }
        cluster.wait_healthy(Duration::from_secs(30))?;
        Ok(cluster)
    }

    /// The nodes' ports.
    pub fn ports(&self) -> std::ops::Range<u16> {
        self.base_port..self.base_port + NODES
    }

    /// Every node's URL.
    pub fn urls(&self) -> Vec<String> {
        self.ports().map(|port| format!("redis://127.0.0.1:{port}")).collect()
    }

    /// The slot of `key` (`CLUSTER KEYSLOT`).
    pub fn slot_of(&self, key: &str) -> Result<u16, String> {
        let port = self.live_port()?;
        let out = cli(port, &["CLUSTER", "KEYSLOT", key])?;
        stdout(&out).parse().map_err(|_| format!("CLUSTER KEYSLOT {key} answered {:?}", stdout(&out)))
    }

    /// The port of the live master serving `slot`, as a live node sees it.
    pub fn master_of_slot(&self, slot: u16) -> Result<u16, String> {
        let port = self.live_port()?;
        let nodes = stdout(&cli(port, &["CLUSTER", "NODES"])?);
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 9 || !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            let serves = fields[8..].iter().any(|range| {
                let (lo, hi) = range.split_once('-').unwrap_or((range, range));
                matches!((lo.parse::<u16>(), hi.parse::<u16>()), (Ok(lo), Ok(hi)) if lo <= slot && slot <= hi)
            });
            if serves {
                let addr = fields[1].split('@').next().unwrap_or_default();
                let node_port = addr.rsplit(':').next().and_then(|p| p.parse().ok());
                return node_port.ok_or_else(|| format!("bad address in CLUSTER NODES: {line}"));
            }
        }
        Err(format!("no live master serves slot {slot}:\n{nodes}"))
    }

    /// SIGKILL the node on `port` (it is not restarted).
    pub fn kill_node(&mut self, port: u16) {
        for (p, child) in &mut self.nodes {
            if *p == port {
                if let Some(mut child) = child.take() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
    }

    /// Wait until a live node reports `cluster_state:ok` and a live master serves `slot`.
    pub fn wait_for_slot(&self, slot: u16, within: Duration) -> Result<u16, String> {
        let started = Instant::now();
        loop {
            if let Ok(port) = self.master_of_slot(slot) {
                if self.alive(port)
                    && cli(port, &["CLUSTER", "INFO"]).is_ok_and(|o| stdout(&o).contains("cluster_state:ok"))
                {
                    return Ok(port);
                }
            }
            if started.elapsed() > within {
                return Err(format!("no live master took over slot {slot} within {within:?}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn alive(&self, port: u16) -> bool {
        self.nodes.iter().any(|(p, child)| *p == port && child.is_some())
    }

    fn live_port(&self) -> Result<u16, String> {
        self.nodes.iter().find(|(_, child)| child.is_some()).map(|(p, _)| *p).ok_or_else(|| "every node is dead".into())
    }

    fn wait_healthy(&self, within: Duration) -> Result<(), String> {
        for port in self.ports() {
            self.wait_for(&format!("node {port} to report cluster_state:ok"), within, || {
                cli(port, &["CLUSTER", "INFO"]).is_ok_and(|o| {
                    let info = stdout(&o);
                    info.contains("cluster_state:ok") && info.contains(&format!("cluster_known_nodes:{NODES}"))
                })
            })?;
            self.wait_for(&format!("node {port} to finish replicating"), within, || {
                cli(port, &["INFO", "replication"]).is_ok_and(|o| {
                    let info = stdout(&o);
                    info.contains("role:master") || info.contains("master_link_status:up")
                })
            })?;
        }
        Ok(())
    }

    fn wait_for(&self, what: &str, within: Duration, mut ready: impl FnMut() -> bool) -> Result<(), String> {
        let started = Instant::now();
        while !ready() {
            if started.elapsed() > within {
                return Err(format!("timed out waiting for {what} (logs in {})", self.dir.display()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// A shell loop that kills the nodes and removes their directory once this process is
    /// gone without dropping the cluster (a static, a SIGKILL, an abort).
    fn start_watchdog(&mut self) {
        let pids: Vec<String> = self.nodes.iter().filter_map(|(_, c)| c.as_ref().map(|c| c.id().to_string())).collect();
        let script = "dir=$1; shift; while kill -0 \"$0\" 2>/dev/null; do sleep 1; done; \
                      kill -9 \"$@\" 2>/dev/null; rm -rf \"$dir\"";
        self.watchdog = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(std::process::id().to_string())
            .arg(&self.dir)
            .args(&pids)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok();
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.nodes {
            if let Some(mut child) = child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn cli(port: u16, args: &[&str]) -> Result<Output, String> {
    Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run redis-cli: {e}"))
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}
