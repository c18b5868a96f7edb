//! Limits across worker processes: a backend's test binary runs one of these from a test, and
//! the same test, re-executed as a child process, runs the workers.
//!
//! ```ignore
//! // tests/limits.rs
//! #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn global_concurrency_across_processes() {
//!     drover_conformance::processes::global_concurrency("global_concurrency_across_processes", |queue| async move {
//!         MyStorage::for_queue(queue).await
//!     })
//!     .await;
//! }
//! ```

use std::future::Future;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use drover_core::{BoxDynError, Data, Enqueue, GlobalConcurrency, Inspect, TaskId, WorkerBuilder};

use crate::harness::TestJob;

const CHILD_QUEUE: &str = "DROVER_LIMITS_CHILD_QUEUE";
const CHILD_LOG: &str = "DROVER_LIMITS_CHILD_LOG";
const CHILD_NAME: &str = "DROVER_LIMITS_CHILD_NAME";

/// Worker processes, each at this concurrency.
pub const PROCESSES: usize = 4;
/// Each process's worker concurrency.
pub const CONCURRENCY: usize = 20;
/// The queue's cap.
pub const CAP: u32 = 5;
/// Jobs in the run.
pub const JOBS: u64 = 2_000;
/// How long each job runs.
const JOB_MS: u64 = 5;
/// The children's lease: a killed child's slots come back after it.
const LEASE: Duration = Duration::from_secs(2);

fn now_us() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros())
}

/// The child's handler: run for [`JOB_MS`] and append `start end` (µs) to the shared log.
async fn timed(_job: TestJob, log: Data<std::path::PathBuf>) -> Result<(), BoxDynError> {
    let start = now_us();
    tokio::time::sleep(Duration::from_millis(JOB_MS)).await;
    let end = now_us();
    // One short line per write with O_APPEND: lines of different processes never interleave.
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&*log)?;
    file.write_all(format!("{start} {end}\n").as_bytes())?;
    Ok(())
}

/// The most intervals open at once.
pub fn max_overlap(intervals: &[(u128, u128)]) -> usize {
    let mut edges: Vec<(u128, i32)> = intervals.iter().flat_map(|&(s, e)| [(s, 1), (e, -1)]).collect();
    // Ends before starts at the same instant: touching intervals do not overlap.
    edges.sort_unstable();
    let (mut open, mut most) = (0i32, 0i32);
    for (_, step) in edges {
        open += step;
        most = most.max(open);
    }
    usize::try_from(most).unwrap_or(0)
}

fn start_child(test: &str, queue: &str, log: &std::path::Path, n: usize) -> Child {
    Command::new(std::env::current_exe().unwrap_or_default())
        .args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env(CHILD_QUEUE, queue)
        .env(CHILD_LOG, log)
        .env(CHILD_NAME, format!("limits-{n}"))
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("conformance: cannot start worker process {n}: {e}"))
}

/// [`PROCESSES`] worker processes of [`CONCURRENCY`] each on one queue capped at [`CAP`]: the
/// jobs running at once, from every process's own record of each run, never exceed the cap,
/// and reach it; the storage's running count, sampled throughout, never exceeds it either;
/// one process is killed with SIGKILL midway, and its slots come back when its leases expire
/// (every job runs). `test` is the name of the calling test, which the child processes run.
pub async fn global_concurrency<B, F, Fut>(test: &str, make: F)
where
    B: GlobalConcurrency + Inspect + Enqueue<Job = TestJob>,
    F: Fn(String) -> Fut,
    Fut: Future<Output = B>,
{
    if let (Ok(queue), Ok(log), Ok(name)) =
        (std::env::var(CHILD_QUEUE), std::env::var(CHILD_LOG), std::env::var(CHILD_NAME))
    {
        let storage = make(queue).await;
        let worker = WorkerBuilder::new(name)
            .backend(storage)
            .concurrency(CONCURRENCY)
            .lease(LEASE)
            .poll_interval(Duration::from_millis(20))
            .data(std::path::PathBuf::from(log))
            .build_fn(timed);
        let _ = worker.run_until(std::future::pending::<()>()).await;
        return;
    }
    let queue = format!("limits-{}", TaskId::new());
    let log = std::env::temp_dir().join(format!("{queue}.log"));
    let storage = make(queue.clone()).await;
    crate::harness::ok("set_max_running", storage.set_max_running(Some(CAP)).await);
    crate::harness::ok("push_bulk", storage.push_bulk((0..JOBS).map(TestJob::ok)).await);

    let mut children: Vec<Child> = (0..PROCESSES).map(|n| start_child(test, &queue, &log, n)).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut most_running = 0;
    let mut killed = false;
    loop {
        let stats = crate::harness::ok("stats", storage.stats().await);
        most_running = most_running.max(stats.running);
        if !killed && stats.done >= JOBS / 3 {
            // kill -9 of a process that holds slots: no hand-back, no completion.
            let _ = children[0].kill();
            let _ = children[0].wait();
            killed = true;
        }
        if stats.done >= JOBS {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "conformance: the run did not finish in time: {stats:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    let intervals: Vec<(u128, u128)> = text
        .lines()
        .filter_map(|l| l.split_once(' ').and_then(|(s, e)| Some((s.parse().ok()?, e.parse().ok()?))))
        .collect();
    let overlap = max_overlap(&intervals);
    println!(
        "{PROCESSES} processes x concurrency {CONCURRENCY}, cap {CAP}: {} runs of {JOBS} jobs, at most {overlap} at once, \
         storage's running count at most {most_running}",
        intervals.len()
    );
    assert!(killed, "conformance: the kill -9 never happened");
    assert!(overlap <= CAP as usize, "conformance: {overlap} jobs ran at once across processes with a cap of {CAP}");
    assert!(
        most_running <= u64::from(CAP),
        "conformance: the storage counted {most_running} running with a cap of {CAP}"
    );
    assert!(
        overlap >= (CAP as usize) - 1,
        "conformance: at most {overlap} jobs ran at once: the cap of {CAP} was never reached"
    );
    assert!(intervals.len() as u64 >= JOBS, "conformance: {} runs recorded for {JOBS} jobs", intervals.len());
}

#[cfg(test)]
mod tests {
    use super::max_overlap;

    #[test]
    fn overlaps() {
        assert_eq!(max_overlap(&[(0, 10), (5, 15), (10, 20)]), 2, "touching intervals do not overlap");
        assert_eq!(max_overlap(&[(0, 10), (1, 9), (2, 8)]), 3);
        assert_eq!(max_overlap(&[]), 0);
    }
}
