//! A quorum queue replicated on a 3-node RabbitMQ cluster started by this test on loopback
//! (nodes `drover-q1@localhost`..`drover-q3@localhost`, AMQP ports 5700-5702, distribution
//! ports 25700-25702, CLI distribution ports 25703-25709, data, logs and a private Erlang
//! cookie in a temp dir, no plugins). The node holding the queue's leader, which is also the
//! node the storage is connected to, is killed with SIGKILL mid-drain: the storage reconnects to
//! another node (`set_fallback_urls`), the queue elects a new leader, and every job completes
//! at least once; jobs pushed after the kill complete too. The nodes are killed when the test
//! ends, also on a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use drover_amqp::{AmqpConfig, AmqpStorage, QueueType};
use drover_conformance::{start_worker, wait_until, Action, Recorder, TestJob};
use drover_core::{Enqueue, TaskId};

const NODES: u16 = 3;
const AMQP_PORT: u16 = 5700;
const DIST_PORT: u16 = 25700;
/// `rabbitmqctl` is an Erlang node too; it listens on a port of this range.
const CLI_DIST_PORTS: (u16, u16) = (25703, 25709);
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

/// The RabbitMQ scripts. On Debian `/usr/sbin/rabbitmq-server` is a wrapper that switches to
/// the `rabbitmq` user (and the system broker's cookie); the real scripts are in
/// `/usr/lib/rabbitmq/bin`. Elsewhere (the generic Unix package) the scripts on PATH are real.
fn script(name: &str) -> PathBuf {
    let debian = Path::new("/usr/lib/rabbitmq/bin").join(name);
    if debian.exists() {
        debian
    } else {
        PathBuf::from(name)
    }
}

struct Node {
    name: String,
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

/// Three RabbitMQ nodes; dropping it kills them (SIGKILL to each node's process group) and
/// removes their files.
struct Cluster {
    root: PathBuf,
    nodes: Vec<Node>,
}

impl Cluster {
    fn start() -> Self {
        for i in 0..NODES {
            let port = AMQP_PORT + i;
            assert!(
                TcpStream::connect(("127.0.0.1", port)).is_err(),
                "127.0.0.1:{port} is already in use: a node left by an earlier, killed run of this test? \
                 find it with `ss -ltnp | grep {port}` and kill it"
            );
        }
        let root = std::env::temp_dir().join(format!("drover-amqp-cluster-{}", TaskId::new()));
        std::fs::create_dir_all(&root).unwrap();
        // A cookie of its own in its own HOME, so neither the system broker's cookie nor the
        // user's is read or written.
        let cookie = root.join(".erlang.cookie");
        std::fs::write(&cookie, format!("DROVERTEST{}", TaskId::new().to_string().replace('-', ""))).unwrap();
        std::fs::set_permissions(&cookie, std::os::unix::fs::PermissionsExt::from_mode(0o400)).unwrap();
        let mut cluster = Cluster { root, nodes: Vec::new() };
        for i in 0..NODES {
            let dir = cluster.root.join(format!("q{}", i + 1));
            std::fs::create_dir_all(&dir).unwrap();
            let port = AMQP_PORT + i;
            std::fs::write(dir.join("rabbitmq.conf"), format!("listeners.tcp.default = 127.0.0.1:{port}\n")).unwrap();
            std::fs::write(dir.join("enabled_plugins"), "[].\n").unwrap();
            std::fs::write(dir.join("rabbitmq-env.conf"), "").unwrap();
            cluster.nodes.push(Node { name: format!("drover-q{}@localhost", i + 1), port, dir, child: None });
        }
        for i in 0..cluster.nodes.len() {
            let log = std::fs::File::create(cluster.nodes[i].dir.join("console.log")).unwrap();
            let mut command = cluster.command(i, &script("rabbitmq-server"));
            command
                .env("RABBITMQ_DIST_PORT", (DIST_PORT + i as u16).to_string())
                .env("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-kernel inet_dist_use_interface {127,0,0,1}")
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .process_group(0);
            let child = command.spawn().expect("start rabbitmq-server (install RabbitMQ: `cargo xtask services`)");
            cluster.nodes[i].child = Some(child);
        }
        let started = Instant::now();
        for i in 0..cluster.nodes.len() {
            cluster.await_listening(i);
        }
        eprintln!("3 nodes booted in {:.1} s", started.elapsed().as_secs_f64());
        for i in 1..cluster.nodes.len() {
            let first = cluster.nodes[0].name.clone();
            cluster.ctl(i, &["stop_app"]);
            cluster.ctl(i, &["join_cluster", &first]);
            cluster.ctl(i, &["start_app"]);
        }
        eprintln!("cluster formed after {:.1} s", started.elapsed().as_secs_f64());
        cluster
    }

    /// A command for node `i` with the node's environment only.
    fn command(&self, i: usize, program: &Path) -> Command {
        let node = &self.nodes[i];
        let mut command = Command::new(program);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into()))
            .env("HOME", &self.root)
            .env("LANG", "C.UTF-8")
            .env("LC_ALL", "C.UTF-8")
            .env("RABBITMQ_CONF_ENV_FILE", node.dir.join("rabbitmq-env.conf"))
            .env("RABBITMQ_NODENAME", &node.name)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", node.port.to_string())
            .env("RABBITMQ_CONFIG_FILE", node.dir.join("rabbitmq.conf"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", node.dir.join("enabled_plugins"))
            .env("RABBITMQ_MNESIA_BASE", node.dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", node.dir.join("log"))
            .env("RABBITMQ_PID_FILE", node.dir.join("pid"))
            .env("RABBITMQ_CTL_DIST_PORT_MIN", CLI_DIST_PORTS.0.to_string())
            .env("RABBITMQ_CTL_DIST_PORT_MAX", CLI_DIST_PORTS.1.to_string());
        command
    }

    /// Run `rabbitmqctl -n <node i> args`; its output.
    fn ctl(&self, i: usize, args: &[&str]) -> String {
        let output = self
            .command(i, &script("rabbitmqctl"))
            .args(["-n", &self.nodes[i].name])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run rabbitmqctl");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "rabbitmqctl -n {} {args:?} failed: {text}{}",
            self.nodes[i].name,
            String::from_utf8_lossy(&output.stderr)
        );
        text
    }

    fn await_listening(&mut self, i: usize) {
        let deadline = Instant::now() + BOOT_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", self.nodes[i].port)).is_err() {
            let exited = self.nodes[i].child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                let log = std::fs::read_to_string(self.nodes[i].dir.join("console.log")).unwrap_or_default();
                panic!(
                    "node {} did not start listening on {} ({exited:?}); its output:\n{log}",
                    self.nodes[i].name, self.nodes[i].port
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn url(&self, i: usize) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.nodes[i].port)
    }

    /// SIGKILL node `i` (its whole process group) and reap it.
    fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ =
                Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).stderr(Stdio::null()).status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quorum_queue_on_three_nodes_loses_nothing_when_its_leader_node_is_killed_mid_drain() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    }
    let mut cluster = tokio::task::spawn_blocking(Cluster::start).await.unwrap();
    let queue = format!("cluster-{}", TaskId::new());
    let config = AmqpConfig::new(cluster.url(0), &queue)
        .set_fallback_urls([cluster.url(1), cluster.url(2)])
        .set_queue_type(QueueType::Quorum);
    let storage: AmqpStorage<TestJob> = AmqpStorage::connect(config).await.expect("connect to the cluster");

    let status = cluster.ctl(0, &["list_queues", "-q", "--no-table-headers", "name", "leader", "members"]);
    let line = status.lines().find(|l| l.starts_with(&format!("{queue}\t"))).unwrap_or_else(|| panic!("{status}"));
    assert!(line.contains("\tdrover-q1@localhost\t"), "the leader is on the node declaring it: {line}");
    for node in ["drover-q1@localhost", "drover-q2@localhost", "drover-q3@localhost"] {
        assert!(line.contains(node), "a replica on every node: {line}");
    }

    let n = 2_000u64;
    let more = 300u64;
    storage.push_bulk((0..n).map(|i| TestJob::with(i, Action::Sleep(5)))).await.expect("push");
    let recorder = Recorder::default();
    let worker = start_worker("cluster", storage.clone(), &recorder, 10);
    wait_until("the drain is under way", Duration::from_secs(60), || recorder.finished() >= 200).await;

    tokio::task::block_in_place(|| cluster.kill(0));
    let at_kill = recorder.finished();
    assert!((at_kill as u64) < n, "the drain finished before the node died; the test proves nothing");
    eprintln!("killed drover-q1 (leader, and the storage's node) after {at_kill} of {n} jobs");

    // Pushes keep working once the storage reconnected and the queue has a new leader.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match storage.push_bulk((n..n + more).map(|i| TestJob::with(i, Action::Sleep(5)))).await {
            Ok(_) => break,
            Err(error) if tokio::time::Instant::now() < deadline => {
                eprintln!("push after the kill: {error}; trying again");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(error) => panic!("pushes never worked again after the node died: {error}"),
        }
    }

    let total = n + more;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while (recorder.finished_counts().len() as u64) < total {
        if tokio::time::Instant::now() > deadline {
            let missing: Vec<u64> = (0..total).filter(|i| !recorder.finished_counts().contains_key(i)).collect();
            panic!(
                "{} of {total} jobs never completed after the node died (first: {:?}); queue depths {:?}",
                missing.len(),
                &missing[..missing.len().min(10)],
                storage.queue_depths().await
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.stop().await.expect("the worker stops cleanly");
    let counts = recorder.finished_counts();
    assert!((0..total).all(|i| counts.contains_key(&i)), "every job completes at least once");
    let again = counts.values().filter(|c| **c > 1).count();
    eprintln!("{total} jobs completed; {again} ran more than once");
    storage.close().await.unwrap();
    drop(cluster);
}
