//! RabbitMQ nodes of a test's own, started from the local install on loopback and killed when
//! the test ends (also on a panic), so no test stops or reconfigures the shared broker.
//!
//! Each node gets its AMQP port, its Erlang distribution port, a data, log and config dir in a
//! temp dir, and no plugins; every node of a set shares a private Erlang cookie in that temp dir
//! (the nodes' HOME), so neither the system broker's cookie nor the user's is read or written.
//! `rabbitmqctl` is an Erlang node too: it listens on a port of [`CLI_DIST_PORTS`].
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use drover_core::TaskId;

/// The distribution ports `rabbitmqctl` may listen on.
pub const CLI_DIST_PORTS: (u16, u16) = (25704, 25709);
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

/// Where a set of nodes lives: node `i` is `<prefix><i+1>@localhost` on AMQP port
/// `amqp_port + i` and distribution port `dist_port + i`.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub prefix: &'static str,
    pub nodes: u16,
    pub amqp_port: u16,
    pub dist_port: u16,
}

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
    dist_port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

/// Running nodes; dropping it kills them (SIGKILL to each node's process group) and removes
/// their files.
pub struct RabbitNodes {
    root: PathBuf,
    nodes: Vec<Node>,
}

impl RabbitNodes {
    /// Start the nodes of `layout` (in parallel) and wait until each accepts AMQP connections;
    /// with `cluster`, join every node to the first one.
    pub fn start(layout: Layout, cluster: bool) -> Self {
        for i in 0..layout.nodes {
            let port = layout.amqp_port + i;
            assert!(
                TcpStream::connect(("127.0.0.1", port)).is_err(),
                "127.0.0.1:{port} is already in use: a node left by an earlier, killed test run? \
                 find it with `ss -ltnp | grep {port}` and kill it"
            );
        }
        let root = std::env::temp_dir().join(format!("drover-amqp-{}-{}", layout.prefix, TaskId::new()));
        std::fs::create_dir_all(&root).unwrap();
        let cookie = root.join(".erlang.cookie");
        std::fs::write(&cookie, format!("DROVERTEST{}", TaskId::new().to_string().replace('-', ""))).unwrap();
        std::fs::set_permissions(&cookie, std::os::unix::fs::PermissionsExt::from_mode(0o400)).unwrap();
        let mut set = RabbitNodes { root, nodes: Vec::new() };
        for i in 0..layout.nodes {
            let dir = set.root.join(format!("n{}", i + 1));
            std::fs::create_dir_all(&dir).unwrap();
            let port = layout.amqp_port + i;
            std::fs::write(dir.join("rabbitmq.conf"), format!("listeners.tcp.default = 127.0.0.1:{port}\n")).unwrap();
            std::fs::write(dir.join("enabled_plugins"), "[].\n").unwrap();
            // An empty env file, so /etc/rabbitmq/rabbitmq-env.conf (the system broker's) is not read.
            std::fs::write(dir.join("rabbitmq-env.conf"), "").unwrap();
            let name = format!("{}{}@localhost", layout.prefix, i + 1);
            set.nodes.push(Node { name, port, dist_port: layout.dist_port + i, dir, child: None });
        }
        let started = Instant::now();
        for i in 0..set.nodes.len() {
            set.spawn(i);
        }
        for i in 0..set.nodes.len() {
            set.await_listening(i);
        }
        eprintln!("{} RabbitMQ node(s) booted in {:.1} s", set.nodes.len(), started.elapsed().as_secs_f64());
        if cluster && set.nodes.len() > 1 {
            let first = set.nodes[0].name.clone();
            for i in 1..set.nodes.len() {
                set.ctl(i, &["stop_app"]);
                set.ctl(i, &["join_cluster", &first]);
                set.ctl(i, &["start_app"]);
            }
            eprintln!("cluster formed after {:.1} s", started.elapsed().as_secs_f64());
        }
        set
    }

    fn spawn(&mut self, i: usize) {
        let log = std::fs::File::create(self.nodes[i].dir.join("console.log")).unwrap();
        let mut command = self.command(i, &script("rabbitmq-server"));
        command
            .env("RABBITMQ_DIST_PORT", self.nodes[i].dist_port.to_string())
            .env("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-kernel inet_dist_use_interface {127,0,0,1}")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0);
        let child = command.spawn().expect("start rabbitmq-server (install RabbitMQ: `cargo xtask services`)");
        self.nodes[i].child = Some(child);
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

    /// Run `rabbitmqctl -n <node i> args` (blocking); its output.
    pub fn ctl(&self, i: usize, args: &[&str]) -> String {
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

    /// The node's Erlang name, `<prefix><i+1>@localhost`.
    pub fn name(&self, i: usize) -> &str {
        &self.nodes[i].name
    }

    /// The guest URL of node `i`.
    pub fn url(&self, i: usize) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.nodes[i].port)
    }

    /// SIGKILL node `i` (its whole process group) and reap it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ =
                Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).stderr(Stdio::null()).status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RabbitNodes {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
