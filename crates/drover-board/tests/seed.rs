//! The production guide's §9 program (`examples/seed.rs`), run: without credentials it
//! answers 401 with a message saying how to configure them; with `DROVER_BOARD_TOKEN` it
//! serves the board to that token and still refuses everyone else.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `cargo test` builds the examples next to the test binaries' folder.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    let path = dir.join("examples").join(name);
    assert!(path.exists(), "{} is missing: `cargo test -p drover-board` builds it", path.display());
    path
}

fn free_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").to_string()
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(addr: &str, db: &PathBuf, token: Option<&str>) -> Running {
    let mut command = Command::new(example("seed"));
    command.env("DROVER_BOARD_ADDR", addr).env("DROVER_BOARD_DB", db).stdout(Stdio::null()).stderr(Stdio::inherit());
    for var in ["TOKEN", "USER", "PASSWORD", "READ_ONLY_TOKEN", "READ_ONLY_USER", "READ_ONLY_PASSWORD"] {
        command.env_remove(format!("DROVER_BOARD_{var}"));
    }
    if let Some(token) = token {
        command.env("DROVER_BOARD_TOKEN", token);
    }
    let running = Running(command.spawn().expect("run the seed example"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "the seed program did not listen on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
    running
}

/// A raw HTTP/1.1 request; returns the status and the whole answer.
fn http(addr: &str, path: &str, authorization: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let auth = authorization.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n").expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, answer)
}

#[test]
fn the_guides_program_answers_401_without_credentials_and_says_how_to_configure_them() {
    let db = std::env::temp_dir().join(format!("drover-board-seed-{}.db", std::process::id()));
    let addr = free_addr();
    let running = start(&addr, &db, None);
    for path in ["/", "/api/v1/queues", "/api/v1/openapi.json", "/stores/sqlite/queues/email"] {
        let (status, answer) = http(&addr, path, None);
        assert_eq!(status, 401, "{path}: {answer}");
        assert!(answer.contains("no credentials are configured"), "{path}: {answer}");
        assert!(answer.contains("DROVER_BOARD_TOKEN") && answer.contains("DROVER_BOARD_PASSWORD"), "{answer}");
        assert!(answer.to_ascii_lowercase().contains("www-authenticate: bearer"), "{answer}");
    }
    drop(running);

    let token = "seed-test-token-0123456789";
    let addr = free_addr();
    let _running = start(&addr, &db, Some(token));
    let (status, answer) = http(&addr, "/api/v1/queues", None);
    assert_eq!(status, 401, "{answer}");
    assert!(answer.contains("Authorization: Bearer"), "{answer}");
    let (status, answer) = http(&addr, "/api/v1/queues", Some(&format!("Bearer {token}")));
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("{\"queues\":"), "{answer}");
    let (status, answer) = http(&addr, "/", Some(&format!("Bearer {token}")));
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("/_board/board.js"), "{answer}");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}
