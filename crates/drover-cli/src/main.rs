//! `drover`: look at and fix Drover queues from a shell, on PostgreSQL, MySQL/MariaDB, SQLite
//! or Redis. See `drover --help`; `crates/drover-cli/README.md` lists the commands and exit
//! codes.

mod connect;
mod duration;
mod output;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use drover_core::{Admin, BackendError, ListQuery, PushOptions, Status, TaskId};

use crate::output::{Output, TaskView};

/// Exit codes scripts can rely on.
mod exit {
    /// The operation failed (the storage refused it or an I/O error happened).
    pub const FAILED: u8 = 1;
    /// Bad arguments (clap's own code).
    pub const USAGE: u8 = 2;
    /// The task or queue named does not exist, or nothing matched.
    pub const NOT_FOUND: u8 = 3;
    /// The URL is missing, malformed, or its server cannot be reached.
    pub const CONNECT: u8 = 4;
    /// The database has no (or an older) Drover schema: run `drover migrate`.
    pub const SCHEMA: u8 = 5;
}

/// Look at and fix Drover queues.
#[derive(Debug, Parser)]
#[command(name = "drover", version, about, long_about = None)]
struct Cli {
    /// The storage: postgres://, mysql:// (or mariadb://), sqlite:, redis:// or rediss://.
    /// Default: DROVER_URL, then DATABASE_URL, then REDIS_URL.
    #[arg(long, global = true)]
    url: Option<String>,
    /// Print JSON instead of tables (one document per command).
    #[arg(long, global = true)]
    json: bool,
    /// PostgreSQL only: the URL is a PgBouncer (or another pooler) in transaction mode, so send
    /// unnamed statements, each inside a transaction (see PostgresConfig::set_transaction_pooling).
    /// Also DROVER_PG_TRANSACTION_POOLING=true (or 1, yes, on).
    #[arg(long, global = true, env = "DROVER_PG_TRANSACTION_POOLING", action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new())]
    pg_transaction_pooling: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or upgrade the Drover schema (a no-op on Redis).
    Migrate,
    /// Every queue with its counts by status and the age of its oldest due task.
    Queues,
    /// A page of a queue's tasks, newest first.
    List {
        /// The queue.
        queue: String,
        /// Only tasks with this status: pending, running, done, dead, cancelled.
        #[arg(long)]
        status: Option<Status>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u64,
        /// Skip this many.
        #[arg(long, default_value_t = 0)]
        offset: u64,
    },
    /// One task: payload, attempts, errors.
    Show {
        /// The task id (a ULID).
        id: TaskId,
        /// Its queue (found by searching every queue when left out).
        #[arg(long)]
        queue: Option<String>,
    },
    /// Run a dead or cancelled task again, or every dead task of a queue.
    Retry {
        /// The task id.
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        id: Option<TaskId>,
        /// Its queue (found by searching every queue when left out).
        #[arg(long)]
        queue: Option<String>,
        /// Requeue every dead task of this queue.
        #[arg(long, value_name = "QUEUE")]
        all_dead: Option<String>,
    },
    /// Cancel a pending or running task.
    Cancel {
        /// The task id.
        id: TaskId,
        /// Its queue (found by searching every queue when left out).
        #[arg(long)]
        queue: Option<String>,
    },
    /// Delete finished tasks of a status older than an age.
    Purge {
        /// The queue.
        queue: String,
        /// done, dead or cancelled.
        #[arg(long)]
        status: Status,
        /// The age, such as 7d, 12h, 30m, 90s or 1h30m.
        #[arg(long, value_parser = duration::parse)]
        older_than: Duration,
    },
    /// Push a job (its JSON) into a queue.
    Push {
        /// The queue.
        queue: String,
        /// The job as JSON, exactly as the queue's workers decode it.
        #[arg(value_name = "JSON")]
        job: String,
        /// Run no earlier than this from now (10s, 5m, 1h).
        #[arg(long, value_parser = duration::parse)]
        delay: Option<Duration>,
        /// Higher runs first (where the storage has priorities).
        #[arg(long, allow_negative_numbers = true)]
        priority: Option<i32>,
        /// While a task with this key is pending or running, return its id instead.
        #[arg(long)]
        unique_key: Option<String>,
        /// The task's concurrency key, for a queue's per-key limit (`drover limit --per-key`).
        #[arg(long)]
        concurrency_key: Option<String>,
        /// Attempts before the task is dead.
        #[arg(long)]
        max_attempts: Option<u32>,
    },
    /// Stop every worker's claims on a queue (pushes are still stored, running tasks finish).
    Pause {
        /// The queue.
        queue: String,
    },
    /// Let workers claim from a paused queue again.
    Resume {
        /// The queue.
        queue: String,
    },
    /// Cap a queue's running tasks, its rate of starts, or its running tasks per concurrency
    /// key, across every worker and node (PostgreSQL, MySQL, SQLite, Redis).
    Limit {
        /// The queue.
        queue: String,
        /// At most this many of its tasks run at once, on all workers together.
        #[arg(long, conflicts_with = "unlimited")]
        max_running: Option<u32>,
        /// At most this many starts per period on all workers together, spread evenly:
        /// `200/s`, `1000/1m`, `5/10s`.
        #[arg(long, value_parser = duration::parse_rate, conflicts_with = "unlimited")]
        rate: Option<drover_core::Rate>,
        /// At most this many tasks of one concurrency key (given at push) run at once, on all
        /// workers together; with 1 a key's tasks run one at a time, in push order.
        #[arg(long, conflicts_with = "unlimited")]
        per_key: Option<u32>,
        /// Remove the cap, the rate and the per-key limit.
        #[arg(long)]
        unlimited: bool,
    },
    /// The running workers: each registers itself and heartbeats (name, host, pid, queues,
    /// running/concurrency, started, last seen); a worker not seen for 30 s is gone.
    Workers {
        /// Only this queue's.
        #[arg(long)]
        queue: Option<String>,
    },
}

/// A failure and the exit code it maps to.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn new(code: u8, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

impl From<BackendError> for Failure {
    fn from(error: BackendError) -> Self {
        match &error {
            BackendError::Schema(_) => Failure::new(exit::SCHEMA, format!("{error}\nrun `drover migrate` first")),
            _ => Failure::new(exit::FAILED, error.to_string()),
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("drover: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("drover: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let admin =
        connect::open(cli.url.as_deref(), connect::Options { pg_transaction_pooling: cli.pg_transaction_pooling })
            .await?;
    let out = Output::new(cli.json);
    match cli.command {
        Command::Migrate => {
            admin.migrate().await?;
            out.message(&format!("{}: the Drover schema is up to date", admin.backend()));
        }
        Command::Queues => out.queues(&admin.queues().await?),
        Command::List { queue, status, limit, offset } => {
            let tasks = admin.list(&queue, ListQuery::new(status, limit).offset(offset)).await?;
            out.tasks(&tasks.iter().map(TaskView::of).collect::<Vec<_>>());
        }
        Command::Show { id, queue } => out.task(&TaskView::of(&find(admin.as_ref(), id, queue.as_deref()).await?)),
        Command::Retry { all_dead: Some(queue), .. } => {
            let n = retry_all_dead(admin.as_ref(), &queue).await?;
            out.count("requeued", n, &format!("requeued {n} dead tasks of {queue}"));
        }
        Command::Retry { id: Some(id), queue, .. } => {
            let task = find(admin.as_ref(), id, queue.as_deref()).await?;
            if !admin.requeue(&task.queue, id).await? {
                return Err(Failure::new(
                    exit::NOT_FOUND,
                    format!(
                        "task {id} is {} and was not requeued: only dead or cancelled tasks are, and not while \
                         another live task holds their unique key",
                        task.status
                    ),
                ));
            }
            out.message(&format!("requeued {id} in {}", task.queue));
        }
        Command::Retry { .. } => return Err(Failure::new(exit::USAGE, "give a task id or --all-dead QUEUE")),
        Command::Cancel { id, queue } => {
            let task = find(admin.as_ref(), id, queue.as_deref()).await?;
            if !admin.cancel(&task.queue, id).await? {
                return Err(Failure::new(
                    exit::NOT_FOUND,
                    format!("task {id} is {} and was not cancelled: only pending or running tasks are", task.status),
                ));
            }
            out.message(&format!("cancelled {id} in {}", task.queue));
        }
        Command::Purge { queue, status, older_than } => {
            if !status.is_final() {
                return Err(Failure::new(
                    exit::USAGE,
                    format!("--status {status}: only finished tasks (done, dead, cancelled) can be purged"),
                ));
            }
            let n = admin.purge(&queue, status, older_than).await?;
            out.count("deleted", n, &format!("deleted {n} {status} tasks of {queue}"));
        }
        Command::Push { queue, job, delay, priority, unique_key, concurrency_key, max_attempts } => {
            serde_json::from_str::<serde_json::Value>(&job)
                .map_err(|e| Failure::new(exit::USAGE, format!("the job is not JSON ({e}): {job}")))?;
            let mut options = PushOptions::new();
            if let Some(delay) = delay {
                options = options.delay(delay);
            }
            if let Some(priority) = priority {
                options = options.priority(priority);
            }
            if let Some(key) = concurrency_key {
                options = options.concurrency_key(key);
            }
            if let Some(key) = unique_key {
                options = options.unique_key(key);
            }
            if let Some(n) = max_attempts {
                options = options.max_attempts(n);
            }
            let id = admin.push(&queue, job.into_bytes(), options).await?;
            out.pushed(id, &queue);
        }
        Command::Pause { queue } => {
            admin.set_paused(&queue, true).await?;
            out.message(&format!("paused {queue}: workers claim nothing from it until `drover resume {queue}`"));
        }
        Command::Resume { queue } => {
            admin.set_paused(&queue, false).await?;
            out.message(&format!("resumed {queue}"));
        }
        Command::Limit { queue, max_running, rate, per_key, unlimited } => {
            if max_running == Some(0) || per_key == Some(0) {
                return Err(Failure::new(
                    exit::USAGE,
                    "a limit of 0 would stop the queue (or its keyed tasks): use `drover pause` for that",
                ));
            }
            if unlimited {
                admin.set_max_running(&queue, None).await?;
                admin.set_rate(&queue, None).await?;
                // A backend without per-key limits has none to remove.
                match admin.set_max_running_per_key(&queue, None).await {
                    Ok(()) | Err(drover_core::BackendError::Unsupported(_)) => {}
                    Err(e) => return Err(e.into()),
                }
                out.message(&format!("{queue}: no cap on running tasks, no rate, no per-key limit"));
            } else if max_running.is_none() && rate.is_none() && per_key.is_none() {
                return Err(Failure::new(
                    exit::USAGE,
                    "give --max-running N, --rate N/PERIOD, --per-key N or --unlimited",
                ));
            }
            if let Some(k) = per_key {
                admin.set_max_running_per_key(&queue, Some(k)).await?;
                out.message(&format!(
                    "{queue}: at most {k} tasks of one concurrency key run at once, across every worker"
                ));
            }
            if let Some(n) = max_running {
                admin.set_max_running(&queue, Some(n)).await?;
                out.message(&format!("{queue}: at most {n} tasks run at once, across every worker"));
            }
            if let Some(rate) = rate {
                admin.set_rate(&queue, Some(rate)).await?;
                out.message(&format!(
                    "{queue}: at most {} starts per {:?}, across every worker",
                    rate.starts, rate.per
                ));
            }
        }
        Command::Workers { queue } => out.workers(&admin.workers(queue.as_deref()).await?),
    }
    Ok(())
}

/// The task `id`, in `queue` or in whichever queue holds it.
async fn find(admin: &dyn Admin, id: TaskId, queue: Option<&str>) -> Result<drover_core::TaskInfo, Failure> {
    let found = match queue {
        Some(queue) => admin.get(queue, id).await?,
        None => admin.find(id).await?,
    };
    found.ok_or_else(|| {
        let place = queue.map_or_else(|| "any queue".to_owned(), |q| format!("queue {q}"));
        Failure::new(exit::NOT_FOUND, format!("no task {id} in {place}"))
    })
}

/// Requeue every dead task of `queue`, a page at a time; tasks that cannot be requeued (their
/// unique key is held) are stepped over.
async fn retry_all_dead(admin: &dyn Admin, queue: &str) -> Result<u64, Failure> {
    const PAGE: u64 = 500;
    let (mut requeued, mut skipped) = (0, 0);
    loop {
        let page = admin.list(queue, ListQuery::new(Some(Status::Dead), PAGE).offset(skipped)).await?;
        if page.is_empty() {
            return Ok(requeued);
        }
        for task in &page {
            if admin.requeue(queue, task.id).await? {
                requeued += 1;
            } else {
                skipped += 1;
            }
        }
    }
}
