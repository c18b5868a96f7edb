//! The production guide's §9 (the seed's board section), as written with `apalis` renamed to
//! `drover`: the board's API nested at `/api/v1`, its pages as the fallback, a broadcaster
//! shared through an `Extension`. It serves the queues of a SQLite file.
//!
//! ```text
//! DROVER_BOARD_TOKEN=$(openssl rand -hex 24) cargo run -p drover-board --example seed
//! ```
//!
//! Without `DROVER_BOARD_*` credentials every request answers 401 with a message that says
//! which variables to set. `DROVER_BOARD_ADDR` (default 127.0.0.1:3000) and `DROVER_BOARD_DB`
//! (default `drover-board-seed.db` in the temporary folder) move it.

use drover_board::{ApiBuilder, Broadcaster, ServeUI};
use drover_sqlite::{SqliteAdmin, SqliteStorage};

struct Args {
    api_host: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args { api_host: std::env::var("DROVER_BOARD_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned()) };
    let path = std::env::var_os("DROVER_BOARD_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("drover-board-seed.db"));
    let pool = drover_sqlite::connect_pool(&format!("sqlite://{}?mode=rwc", path.display())).await?;
    SqliteStorage::<()>::setup(&pool).await?;
    let email_store = SqliteAdmin::new(pool);
    let broadcaster = Broadcaster::new();
    println!("board at http://{}/ on {}", args.api_host, path.display());
    serve(email_store, broadcaster, args).await?;
    Ok(())
}

/// The guide's code, line for line.
#[allow(clippy::unwrap_used)] // `bind(..).await.unwrap()` as the guide writes it
#[rustfmt::skip] // laid out as the production guide writes it
async fn serve(email_store: SqliteAdmin, broadcaster: Broadcaster, args: Args) -> std::io::Result<()> {
    use axum::Extension;
    use futures_util::FutureExt;
    use tokio::signal::ctrl_c;

    #[allow(unused_imports)] // the guide imports it; `Board` is the one-call form of what follows
    use drover_board::Board;
    use axum::Router;
    let api = ApiBuilder::new(Router::new())
        .register(email_store.clone())
        .build();
    let router = Router::new()
        .nest("/api/v1", api)
        .fallback_service(ServeUI::new())
        .layer(Extension(broadcaster.clone()));
    let listener = tokio::net::TcpListener::bind(&args.api_host).await.unwrap();
    axum::serve(listener, router)
        .with_graceful_shutdown(ctrl_c().map(|_| ()))
        .await
}
