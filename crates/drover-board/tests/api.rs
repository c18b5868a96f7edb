//! Every route, authorised and not: 401 without or with wrong credentials (saying how to
//! configure them), 403 for read-only logins on every action, 403 without the CSRF header or
//! from another origin, 200 for every `GET` as either role; the browser login, basic auth,
//! your own auth layer, `insecure_no_auth`; paging; the OpenAPI document; the event stream;
//! escaping in queue names; security headers. On memory, through `oneshot`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use common::*;
use drover_board::{ApiBuilder, Auth, Board, Role, ServeUI};
use drover_core::{AdminBackend, Backend, Enqueue, NewTask, PushOptions, TaskId};
use futures_util::StreamExt;
use tower::ServiceExt;

/// A board with one dead task; returns the app and the task's id.
async fn fixture() -> (Router, MemoryAdmin, TaskId) {
    let admin = MemoryAdmin::default();
    let storage = admin.storage("email");
    storage
        .enqueue(vec![NewTask::new(b"{\"to\":\"a@example.com\"}".to_vec(), PushOptions::new())])
        .await
        .expect("push");
    let id = kill(&storage, "boom").await;
    (board(admin.clone()), admin, id)
}

#[tokio::test]
async fn every_route_refuses_missing_or_wrong_credentials_and_says_what_to_send() {
    let (app, _, id) = fixture().await;
    let id = id.to_string();
    for path in get_routes("memory", "email", &id) {
        for who in [Who::Nobody, Who::Wrong] {
            let answer = get(&app, &path, who).await;
            assert_eq!(answer.status, 401, "GET {path} as {who:?}: {}", answer.body);
            assert!(!answer.header(header::WWW_AUTHENTICATE).is_empty(), "GET {path}");
            let expected = if matches!(who, Who::Nobody) { "DROVER_BOARD_TOKEN" } else { "not accepted" };
            assert!(answer.body.contains(expected), "GET {path} as {who:?}: {}", answer.body);
        }
    }
    for (path, body) in post_routes("memory", "email", &id) {
        let answer = post(&app, &path, Who::Nobody, body).await;
        assert_eq!(answer.status, 401, "POST {path}: {}", answer.body);
        assert!(answer.json()["error"].as_str().unwrap_or("").contains("Authorization: Bearer"), "{}", answer.body);
    }
    // Unknown API paths are behind authentication too.
    assert_eq!(get(&app, "/api/v1/nothing-here", Who::Nobody).await.status, 401);
    assert_eq!(get(&app, "/api/v1/nothing-here", Who::Operator).await.status, 404);
}

#[tokio::test]
async fn a_board_without_credentials_refuses_everything_and_says_how_to_configure_them() {
    let app = Board::new().register(MemoryAdmin::default()).auth(Auth::from_vars(|_| None)).into_router();
    for path in ["/", "/api/v1/queues", "/_board/board.js"] {
        let answer = get(&app, path, Who::Operator).await;
        assert_eq!(answer.status, 401, "{path}");
        assert!(answer.body.contains("no credentials are configured"), "{}", answer.body);
        assert!(answer.body.contains("DROVER_BOARD_USER and DROVER_BOARD_PASSWORD"), "{}", answer.body);
    }
    let half = Auth::from_vars(|name| (name == "DROVER_BOARD_USER").then(|| "admin".to_owned()));
    let app = Board::new().register(MemoryAdmin::default()).auth(half).into_router();
    let answer = get(&app, "/api/v1/queues", Who::Operator).await;
    assert_eq!(answer.status, 500);
    assert!(answer.body.contains("DROVER_BOARD_PASSWORD is not"), "{}", answer.body);
}

#[tokio::test]
async fn every_get_route_answers_operators_and_readers() {
    let (app, _, id) = fixture().await;
    for path in get_routes("memory", "email", &id.to_string()) {
        for who in [Who::Operator, Who::Reader, Who::Basic] {
            let answer = get(&app, &path, who).await;
            assert_eq!(answer.status, 200, "GET {path} as {who:?}: {}", answer.body);
            let content_type = answer.header(header::CONTENT_TYPE).to_owned();
            if path.starts_with("/api/v1/ui") || !path.starts_with("/api/v1") && !path.starts_with("/_board") {
                assert!(content_type.starts_with("text/html"), "{path}: {content_type}");
            } else if path.starts_with("/api/v1") {
                assert_eq!(content_type, "application/json", "{path}");
                answer.json();
            }
            assert_eq!(answer.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff", "{path}");
            assert!(answer.header(header::CONTENT_SECURITY_POLICY).contains("script-src 'self'"), "{path}");
        }
    }
}

#[tokio::test]
async fn readers_get_403_on_every_action_and_nothing_changes() {
    let (app, _, id) = fixture().await;
    for (path, body) in post_routes("memory", "email", &id.to_string()) {
        let answer = post(&app, &path, Who::Reader, body).await;
        assert_eq!(answer.status, 403, "POST {path}: {}", answer.body);
        assert!(answer.json()["error"].as_str().unwrap_or("").contains("read-only"), "{}", answer.body);
    }
    let queue = get(&app, "/api/v1/stores/memory/queues/email", Who::Reader).await.json();
    assert_eq!(queue["counts"]["dead"], 1, "{queue}");
    assert_eq!(queue["counts"]["pending"], 0, "{queue}");
    assert_eq!(queue["paused"], false);
}

#[tokio::test]
async fn actions_without_the_csrf_header_or_from_another_site_are_refused() {
    let (app, _, id) = fixture().await;
    for (path, body) in post_routes("memory", "email", &id.to_string()) {
        let answer = call(&app, request(Method::POST, &path, Who::Operator, false, body)).await;
        assert_eq!(answer.status, 403, "POST {path} without the header: {}", answer.body);
        assert!(answer.body.contains("x-drover-csrf"), "{}", answer.body);

        let mut foreign = request(Method::POST, &path, Who::Operator, true, body);
        foreign.headers_mut().insert(header::ORIGIN, "https://evil.example".parse().expect("header"));
        let answer = call(&app, foreign).await;
        assert_eq!(answer.status, 403, "POST {path} from another origin: {}", answer.body);
        assert!(answer.body.contains("cross-origin"), "{}", answer.body);

        let mut cross_site = request(Method::POST, &path, Who::Operator, true, body);
        cross_site.headers_mut().insert("sec-fetch-site", "cross-site".parse().expect("header"));
        assert_eq!(call(&app, cross_site).await.status, 403, "POST {path} cross-site");
    }
    let queue = get(&app, "/api/v1/stores/memory/queues/email", Who::Reader).await.json();
    assert_eq!(queue["counts"]["dead"], 1, "nothing was retried: {queue}");

    // The board's own origin passes.
    let mut own = request(
        Method::POST,
        &format!("/api/v1/stores/memory/queues/email/tasks/{id}/retry"),
        Who::Operator,
        true,
        None,
    );
    own.headers_mut().insert(header::ORIGIN, "http://board.test".parse().expect("header"));
    own.headers_mut().insert("sec-fetch-site", "same-origin".parse().expect("header"));
    let answer = call(&app, own).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn a_browser_logs_in_with_a_token_or_a_password_and_out_again() {
    let (app, _, id) = fixture().await;
    let form = get(&app, "/_board/login?next=/workers", Who::Nobody).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("name=\"token\"") && form.body.contains("value=\"/workers\""), "{}", form.body);

    let login = |body: &'static str, origin: &'static str| {
        Request::post("/_board/login")
            .header(header::HOST, "board.test")
            .header(header::ORIGIN, origin)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request")
    };
    let wrong = call(&app, login("token=nope&next=%2F", "http://board.test")).await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("not accepted"));
    let foreign = call(&app, login("token=reader-token-0123456789", "https://evil.example")).await;
    assert_eq!(foreign.status, 403);

    let reader = call(&app, login("token=reader-token-0123456789&next=%2F%2Fevil.example", "http://board.test")).await;
    assert_eq!(reader.status, 303);
    assert_eq!(reader.header(header::LOCATION), "/", "an off-site next is ignored");
    let cookie = reader.header(header::SET_COOKIE).to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let session = cookie.split(';').next().unwrap_or_default().to_owned();
    let with_cookie = |method: Method, path: &str, csrf: bool| {
        let mut r = request(method, path, Who::Nobody, csrf, None);
        r.headers_mut().insert(header::COOKIE, session.parse().expect("cookie"));
        r
    };
    assert_eq!(call(&app, with_cookie(Method::GET, "/api/v1/queues", false)).await.status, 200);
    assert_eq!(call(&app, with_cookie(Method::GET, "/", false)).await.status, 200);
    let retry = format!("/api/v1/stores/memory/queues/email/tasks/{id}/retry");
    assert_eq!(call(&app, with_cookie(Method::POST, &retry, true)).await.status, 403, "the session is read-only");

    let operator = call(&app, login("user=admin&password=admin-password&next=%2Fworkers", "http://board.test")).await;
    assert_eq!(operator.status, 303);
    assert_eq!(operator.header(header::LOCATION), "/workers");
    let session = operator.header(header::SET_COOKIE).split(';').next().unwrap_or_default().to_owned();
    let mut act = request(Method::POST, &retry, Who::Nobody, true, None);
    act.headers_mut().insert(header::COOKIE, session.parse().expect("cookie"));
    assert_eq!(call(&app, act).await.status, 200);

    let forged = session.replace("operator.", "read-only.");
    let mut bad = request(Method::GET, "/api/v1/queues", Who::Nobody, false, None);
    bad.headers_mut().insert(header::COOKIE, forged.parse().expect("cookie"));
    assert_eq!(call(&app, bad).await.status, 401);

    let logout =
        Request::post("/_board/logout").header(header::HOST, "board.test").body(Body::empty()).expect("request");
    let out = call(&app, logout).await;
    assert_eq!(out.status, 303);
    assert!(out.header(header::SET_COOKIE).contains("Max-Age=0"));
}

#[tokio::test]
async fn your_own_layer_can_authenticate_and_set_the_role() {
    let admin = MemoryAdmin::default();
    let api = ApiBuilder::new(Router::new()).register(admin).auth(Auth::external()).build();
    let bare = Router::new().nest("/api/v1", api.clone());
    let answer = get(&bare, "/api/v1/queues", Who::Operator).await;
    assert_eq!(answer.status, 401);
    assert!(answer.body.contains("Auth::external"), "{}", answer.body);

    let reader = Router::new().nest("/api/v1", api).layer(axum::Extension(Role::ReadOnly));
    assert_eq!(get(&reader, "/api/v1/queues", Who::Nobody).await.status, 200);
    let answer = post(&reader, "/api/v1/stores/memory/queues/email/pause", Who::Nobody, None).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
}

#[tokio::test]
async fn insecure_no_auth_lets_everyone_in_but_keeps_the_csrf_check() {
    let api = ApiBuilder::new(Router::new()).register(MemoryAdmin::default()).insecure_no_auth().build();
    let app = Router::new().nest("/api/v1", api).fallback_service(ServeUI::new().insecure_no_auth());
    assert_eq!(get(&app, "/", Who::Nobody).await.status, 200);
    assert_eq!(get(&app, "/api/v1/queues", Who::Nobody).await.status, 200);
    assert_eq!(post(&app, "/api/v1/stores/memory/queues/email/pause", Who::Nobody, None).await.status, 200);
    let no_header = request(Method::POST, "/api/v1/stores/memory/queues/email/resume", Who::Nobody, false, None);
    assert_eq!(call(&app, no_header).await.status, 403);
}

#[tokio::test]
async fn tasks_page_by_status_with_stable_pages_and_bad_parameters_say_why() {
    let admin = MemoryAdmin::default();
    let storage = admin.storage("email");
    let tasks = (0..7).map(|i| NewTask::new(format!("{{\"n\":{i}}}").into_bytes(), PushOptions::new())).collect();
    let ids = storage.enqueue(tasks).await.expect("push");
    let app = board(admin);
    let base = "/api/v1/stores/memory/queues/email/tasks";
    let first = get(&app, &format!("{base}?limit=3"), Who::Reader).await.json();
    assert_eq!(first["tasks"].as_array().map(Vec::len), Some(3));
    assert_eq!(first["tasks"][0]["id"], ids[6].to_string(), "newest first");
    assert_eq!(first["next_before"], ids[4].to_string(), "{first}");
    // A push between pages does not shift the next one.
    storage.enqueue(vec![NewTask::new(b"{\"n\":7}".to_vec(), PushOptions::new())]).await.expect("push");
    let second = get(&app, &format!("{base}?limit=3&before={}&status=pending", ids[4]), Who::Reader).await.json();
    let shown: Vec<String> = second["tasks"].as_array().into_iter().flatten().map(|t| t["id"].to_string()).collect();
    let expected: Vec<String> = [ids[3], ids[2], ids[1]].iter().map(|id| format!("\"{id}\"")).collect();
    assert_eq!(shown, expected, "{second}");
    let last = get(&app, &format!("{base}?limit=3&before={}", ids[1]), Who::Reader).await.json();
    assert_eq!(last["tasks"].as_array().map(Vec::len), Some(1));
    assert_eq!(last["next_before"], serde_json::Value::Null);
    assert_eq!(get(&app, &format!("{base}?status=dead"), Who::Reader).await.json()["tasks"], serde_json::json!([]));
    let ui = get(&app, &format!("/api/v1/ui/stores/memory/queues/email?limit=3&before={}", ids[4]), Who::Reader).await;
    assert!(ui.body.contains("\">← newest</a>"), "{}", ui.body);
    assert!(ui.body.contains(&format!("?before={}\">older →</a>", ids[1])), "{}", ui.body);

    for (query, says) in [
        ("status=lost", "pending, running"),
        ("limit=0", "limit must be 1 to 500"),
        ("offset=3", "before=<the next_before"),
        ("before=nope", "before:"),
        ("id=nope", "id:"),
    ] {
        let answer = get(&app, &format!("{base}?{query}"), Who::Reader).await;
        assert_eq!(answer.status, 400, "{query}");
        assert!(answer.body.contains(says), "{query}: {}", answer.body);
    }
    let bad_id = get(&app, &format!("{base}/not-an-id"), Who::Reader).await;
    assert_eq!(bad_id.status, 400);
    assert!(bad_id.body.contains("ULID"), "{}", bad_id.body);
    let missing = get(&app, &format!("{base}/{}", TaskId::new()), Who::Reader).await;
    assert_eq!(missing.status, 404);
    assert_eq!(get(&app, "/api/v1/stores/nope/queues/email", Who::Reader).await.status, 404);
    let push = post(&app, base, Who::Operator, Some("{\"payload\": 1, \"colour\": \"red\"}")).await;
    assert_eq!(push.status, 400);
    assert!(push.body.contains("unknown field"), "{}", push.body);
    let purge =
        post(&app, "/api/v1/stores/memory/queues/email/purge", Who::Operator, Some("{\"status\": \"pending\"}")).await;
    assert_eq!(purge.status, 400);
    assert!(purge.body.contains("only finished tasks"), "{}", purge.body);
}

#[tokio::test]
async fn filters_find_tasks_by_id_and_error_text_and_the_page_keeps_them() {
    let admin = MemoryAdmin::default();
    let storage = admin.storage("email");
    for _ in 0..3 {
        storage.enqueue(vec![NewTask::new(b"{}".to_vec(), PushOptions::new())]).await.expect("push");
    }
    let full = kill(&storage, "SMTP 550: <b>mailbox</b> full").await;
    let other = kill(&storage, "connection reset").await;
    let app = board(admin);
    let base = "/api/v1/stores/memory/queues/email/tasks";
    let by_text = get(&app, &format!("{base}?error=smtp%20550"), Who::Reader).await.json();
    assert_eq!(by_text["tasks"].as_array().map(Vec::len), Some(1), "{by_text}");
    assert_eq!(by_text["tasks"][0]["id"], full.to_string());
    let by_id = get(&app, &format!("{base}?id={other}&status=dead"), Who::Reader).await.json();
    assert_eq!(by_id["tasks"][0]["id"], other.to_string(), "{by_id}");
    let none = get(&app, &format!("{base}?id={other}&status=pending"), Who::Reader).await.json();
    assert_eq!(none["tasks"], serde_json::json!([]));

    // The page: the form shows the filter (escaped), tabs and bulk actions keep it.
    let page = get(&app, "/api/v1/ui/stores/memory/queues/email?status=dead&error=%3Cb%3E", Who::Operator).await.body;
    assert!(page.contains("name=\"error\" value=\"&lt;b&gt;\""), "{page}");
    assert!(page.contains("href=\"/stores/memory/queues/email?status=pending&amp;error=%3Cb%3E\""), "{page}");
    assert!(page.contains("data-bulk=\"retry\"") && page.contains("name=\"error\" value=\"&lt;b&gt;\""), "{page}");
    assert!(page.contains(&full.to_string()) && !page.contains(&format!("data-task=\"{other}\"")), "{page}");
    assert!(!page.contains("<b>"), "{page}");
    let reader = get(&app, "/api/v1/ui/stores/memory/queues/email?status=dead", Who::Reader).await.body;
    assert!(!reader.contains("data-bulk"), "{reader}");
}

#[tokio::test]
async fn operators_delete_and_run_tasks_now_one_by_one_or_in_bulk() {
    let admin = MemoryAdmin::default();
    let storage = admin.storage("email");
    let later = PushOptions::new().delay(std::time::Duration::from_secs(3600));
    let scheduled = storage.enqueue(vec![NewTask::new(b"{}".to_vec(), later.clone())]).await.expect("push")[0];
    let app = board(admin.clone());
    let q = "/api/v1/stores/memory/queues/email";

    // Run now: the scheduled task is due, a claim takes it; a running task cannot run now or go.
    let ran = post(&app, &format!("{q}/tasks/{scheduled}/run-now"), Who::Operator, None).await;
    assert_eq!(ran.status, 200, "{}", ran.body);
    assert!(ran.json()["message"].as_str().unwrap_or_default().contains("due now"));
    let claimed =
        storage.claim(drover_core::ClaimRequest::new("w", 5, std::time::Duration::from_secs(30))).await.expect("claim");
    assert_eq!(claimed.len(), 1, "the task made due is claimed");
    let again = post(&app, &format!("{q}/tasks/{scheduled}/run-now"), Who::Operator, None).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.body.contains("only pending tasks"), "{}", again.body);
    let running = post(&app, &format!("{q}/tasks/{scheduled}/delete"), Who::Operator, None).await;
    assert_eq!(running.status, 409, "{}", running.body);
    assert!(running.body.contains("cancel it first"), "{}", running.body);
    assert_eq!(post(&app, &format!("{q}/tasks/{scheduled}/cancel"), Who::Operator, None).await.status, 200);
    let deleted = post(&app, &format!("{q}/tasks/{scheduled}/delete"), Who::Operator, None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(get(&app, &format!("{q}/tasks/{scheduled}"), Who::Reader).await.status, 404);

    // The task page offers run now and delete (which then goes back to the queue).
    let pending = storage.enqueue(vec![NewTask::new(b"{}".to_vec(), later.clone())]).await.expect("push")[0];
    let page = get(&app, &format!("/api/v1/ui/stores/memory/queues/email/tasks/{pending}"), Who::Operator).await.body;
    assert!(page.contains(&format!("data-post=\"/stores/memory/queues/email/tasks/{pending}/run-now\"")), "{page}");
    assert!(page.contains("data-then=\"/stores/memory/queues/email\""), "{page}");

    // Bulk: run every pending task now, cancel them all, delete the cancelled.
    for _ in 0..3 {
        storage.enqueue(vec![NewTask::new(b"{}".to_vec(), later.clone())]).await.expect("push");
    }
    let bulk = |body: &'static str| {
        let app = app.clone();
        async move { post(&app, &format!("{q}/bulk"), Who::Operator, Some(body)).await }
    };
    let now = bulk(r#"{"action": "run_now", "status": "pending"}"#).await;
    assert_eq!(now.status, 200, "{}", now.body);
    assert_eq!(now.json()["changed"], 4, "{}", now.body);
    assert_eq!(get(&app, q, Who::Reader).await.json()["counts"]["scheduled"], 0);
    assert_eq!(bulk(r#"{"action": "cancel", "status": "pending"}"#).await.json()["changed"], 4);
    let nothing = bulk(r#"{"action": "retry", "status": "pending"}"#).await.json();
    assert_eq!(nothing["changed"], 0);
    assert!(nothing["message"].as_str().unwrap_or_default().contains("retry takes dead or cancelled"), "{nothing}");
    assert_eq!(bulk(r#"{"action": "delete", "status": "cancelled"}"#).await.json()["changed"], 4);
    assert_eq!(get(&app, q, Who::Reader).await.json()["counts"]["cancelled"], 0);
    for (body, says) in [
        (r#"{"action": "retry"}"#, "missing field `status`"),
        (r#"{"action": "explode", "status": "dead"}"#, "unknown variant"),
        (r#"{"action": "delete", "status": "done", "id": "x"}"#, "id:"),
    ] {
        let answer = bulk(body).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.body);
        assert!(answer.body.contains(says), "{body}: {}", answer.body);
    }
}

#[tokio::test]
async fn queue_names_with_markup_are_escaped_everywhere() {
    let admin = MemoryAdmin::default();
    let storage = admin.storage("<img src=x onerror=alert(1)>");
    storage
        .enqueue(vec![NewTask::new(b"\"<script>alert(2)</script>\"".to_vec(), PushOptions::new())])
        .await
        .expect("push");
    let app = board(admin);
    let overview = get(&app, "/api/v1/ui/overview", Who::Operator).await.body;
    assert!(overview.contains("&lt;img src=x onerror=alert(1)&gt;"), "{overview}");
    assert!(!overview.contains("<img"), "{overview}");
    assert!(overview.contains("/queues/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E"), "{overview}");
    let queue =
        get(&app, "/api/v1/ui/stores/memory/queues/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E", Who::Operator).await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    assert!(!queue.body.contains("<img") && !queue.body.contains("<script"), "{}", queue.body);
}

#[tokio::test]
async fn the_openapi_document_describes_every_api_route() {
    let (app, _, _) = fixture().await;
    let doc = get(&app, "/api/v1/openapi.json", Who::Reader).await.json();
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().expect("paths");
    let mut documented: Vec<String> = Vec::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("operations") {
            documented.push(format!("{} {path}", method.to_uppercase()));
            assert!(operation["responses"]["401"].is_object(), "{method} {path} documents its 401");
            if method == "post" {
                assert!(operation["responses"]["403"].is_object(), "{method} {path} documents its 403");
                let csrf = operation["parameters"][0]["$ref"].as_str();
                assert_eq!(csrf, Some("#/components/parameters/csrf"), "{method} {path}");
            }
        }
    }
    documented.sort();
    let mut routes: Vec<String> = get_routes("{store}", "{queue}", "{id}")
        .into_iter()
        .filter(|p| p.starts_with("/api/v1/") && !p.starts_with("/api/v1/ui/"))
        .map(|p| format!("GET {}", p.trim_start_matches("/api/v1")))
        .chain(
            post_routes("{store}", "{queue}", "{id}")
                .into_iter()
                .map(|(p, _)| format!("POST {}", p.trim_start_matches("/api/v1"))),
        )
        .chain(["GET /events".to_owned()])
        .collect();
    routes.sort();
    assert_eq!(documented, routes);
}

#[tokio::test]
async fn actions_reach_open_pages_as_server_sent_events() {
    let (app, _, id) = fixture().await;
    let events =
        app.clone().oneshot(request(Method::GET, "/api/v1/events", Who::Reader, false, None)).await.expect("events");
    assert_eq!(events.status(), StatusCode::OK);
    assert_eq!(events.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()), Some("text/event-stream"));
    let mut body = events.into_body().into_data_stream();
    let retry = format!("/api/v1/stores/memory/queues/email/tasks/{id}/retry");
    assert_eq!(post(&app, &retry, Who::Operator, None).await.status, 200);
    let frame = tokio::time::timeout(std::time::Duration::from_secs(5), body.next()).await.expect("an event in time");
    let text = String::from_utf8_lossy(&frame.expect("a frame").expect("bytes")).into_owned();
    assert!(text.contains("event: board") && text.contains("\"action\":\"retried\""), "{text}");
    assert!(text.contains(&id.to_string()), "{text}");
}

#[tokio::test]
async fn the_pages_load_their_fragment_and_hide_actions_from_readers() {
    let (app, _, id) = fixture().await;
    let shell = get(&app, "/stores/memory/queues/email", Who::Reader).await.body;
    assert!(shell.contains("<meta name=\"drover-api\" content=\"/api/v1\">"), "{shell}");
    assert!(shell.contains("<script src=\"/_board/board.js?v="), "{shell}");
    let js = get(&app, "/_board/board.js", Who::Reader).await.body;
    assert!(js.contains("X-Drover-Csrf") && js.contains("/ui"), "the script sends the CSRF header");
    let operator = get(&app, "/api/v1/ui/overview", Who::Operator).await.body;
    assert!(operator.contains("data-post=\"/stores/memory/queues/email/pause\""), "{operator}");
    assert!(
        operator
            .contains("data-count=\"dead\" class=\"alert\"><a href=\"/stores/memory/queues/email?status=dead\">1</a>"),
        "{operator}"
    );
    let reader = get(&app, "/api/v1/ui/overview", Who::Reader).await.body;
    assert!(!reader.contains("data-post"), "{reader}");
    let task = get(&app, &format!("/api/v1/ui/stores/memory/queues/email/tasks/{id}"), Who::Operator).await.body;
    assert!(task.contains("&quot;to&quot;: &quot;a@example.com&quot;"), "the payload is pretty-printed: {task}");
    assert!(task.contains("1 of 25"), "{task}");
    let unknown_api = get(&app, "/api/v1/ui/nothing", Who::Reader).await;
    assert_eq!(unknown_api.status, 404);
}

#[tokio::test]
async fn operators_see_and_change_a_queues_limits_and_readers_only_see_them() {
    let (app, _, _) = fixture().await;
    let queue = "/api/v1/stores/memory/queues/email";
    let limits = format!("{queue}/limits");
    let shown = get(&app, queue, Who::Reader).await.json();
    let none = serde_json::json!({ "max_running": null, "rate": null, "max_per_key": null });
    assert_eq!(shown["limits"], none, "{shown}");

    let set =
        post(&app, &limits, Who::Operator, Some(r#"{"max_running": 5, "rate": {"starts": 200, "per_ms": 1000}}"#))
            .await;
    assert_eq!(set.status, 200, "{}", set.body);
    let answer = set.json();
    assert_eq!(answer["limits"]["max_running"], 5, "{answer}");
    assert_eq!(answer["limits"]["rate"], serde_json::json!({ "starts": 200, "per_ms": 1000 }), "{answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(message.contains("at most 5 running") && message.contains("200 starts per second"), "{message}");
    assert_eq!(get(&app, queue, Who::Reader).await.json()["limits"]["max_running"], 5);
    let overview = get(&app, "/api/v1/queues", Who::Reader).await.json();
    assert_eq!(overview["queues"][0]["limits"]["rate"]["starts"], 200, "{overview}");

    // A field left out stays; null removes.
    let rate_only = post(&app, &limits, Who::Operator, Some(r#"{"rate": null}"#)).await.json();
    assert_eq!(rate_only["limits"], serde_json::json!({ "max_running": 5, "rate": null, "max_per_key": null }));
    let per_key = post(&app, &limits, Who::Operator, Some(r#"{"max_per_key": 1}"#)).await.json();
    assert_eq!(per_key["limits"]["max_per_key"], 1, "{per_key}");
    assert!(per_key["message"].as_str().unwrap_or_default().contains("at most 1 running per concurrency key"));

    // The pages: readers see the limits, operators also the form.
    let reader = get(&app, "/api/v1/ui/stores/memory/queues/email", Who::Reader).await.body;
    assert!(reader.contains("data-limit=\"max-running\">5</dd>"), "{reader}");
    assert!(reader.contains("data-limit=\"rate\">no limit</dd>"), "{reader}");
    assert!(reader.contains("data-limit=\"paused\">active</dd>"), "{reader}");
    assert!(reader.contains("data-limit=\"max-per-key\">1</dd>"), "{reader}");
    assert!(!reader.contains("/limits"), "no form for readers: {reader}");
    let operator = get(&app, "/api/v1/ui/stores/memory/queues/email", Who::Operator).await.body;
    assert!(operator.contains("data-post=\"/stores/memory/queues/email/limits\""), "{operator}");
    assert!(operator.contains("name=\"max_running\" min=\"1\" max=\"4294967295\" value=\"5\""), "{operator}");
    let overview = get(&app, "/api/v1/ui/overview", Who::Reader).await.body;
    assert!(overview.contains("≤ 5 running"), "{overview}");

    // Readers are refused and nothing changes.
    let refused = post(&app, &limits, Who::Reader, Some(r#"{"max_running": null}"#)).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(get(&app, queue, Who::Reader).await.json()["limits"]["max_running"], 5);

    for (body, says) in [
        ("{}", "give at least one of max_running, rate and max_per_key"),
        (r#"{"max_per_key": 0}"#, "max_per_key must be at least 1"),
        (r#"{"max_running": 0}"#, "at least 1"),
        (r#"{"max_running": -1}"#, "max_running"),
        (r#"{"rate": {"starts": 0, "per_ms": 1000}}"#, "rate.starts must be at least 1"),
        (r#"{"rate": {"starts": 5, "per_ms": 0}}"#, "rate.per_ms must be 1 to"),
        (r#"{"rate": {"starts": 5}}"#, "per_ms"),
        (r#"{"cap": 5}"#, "unknown field"),
    ] {
        let answer = post(&app, &limits, Who::Operator, Some(body)).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.body);
        assert!(answer.body.contains(says), "{body}: {}", answer.body);
    }
    let all = r#"{"max_running": null, "rate": null, "max_per_key": null}"#;
    let removed = post(&app, &limits, Who::Operator, Some(all)).await.json();
    assert_eq!(removed["limits"], none, "{removed}");

    // A queue with no task yet can be limited and shows it.
    let fresh = "/api/v1/stores/memory/queues/fresh";
    assert_eq!(post(&app, &format!("{fresh}/limits"), Who::Operator, Some(r#"{"max_running": 2}"#)).await.status, 200);
    assert_eq!(get(&app, fresh, Who::Reader).await.json()["limits"]["max_running"], 2);
}

#[tokio::test]
async fn a_storage_without_limits_answers_409_saying_which_have_them() {
    struct Plain(MemoryAdmin);
    impl AdminBackend for Plain {
        type Storage = drover_core::MemoryStorage<()>;
        fn name(&self) -> &'static str {
            "plain"
        }
        fn storage(&self, queue: &str) -> Self::Storage {
            self.0.storage(queue)
        }
        fn queue_names(&self) -> futures_util::future::BoxFuture<'_, Result<Vec<String>, drover_core::BackendError>> {
            self.0.queue_names()
        }
        fn migrate(&self) -> futures_util::future::BoxFuture<'_, Result<(), drover_core::BackendError>> {
            Box::pin(async { Ok(()) })
        }
    }
    let app = board(Plain(MemoryAdmin::default()));
    let answer =
        post(&app, "/api/v1/stores/plain/queues/email/limits", Who::Operator, Some(r#"{"max_running": 3}"#)).await;
    assert_eq!(answer.status, 409, "{}", answer.body);
    assert!(answer.body.contains("PostgreSQL, SQLite, Redis and memory have"), "{}", answer.body);
    let per_key =
        post(&app, "/api/v1/stores/plain/queues/email/limits", Who::Operator, Some(r#"{"max_per_key": 1}"#)).await;
    assert_eq!(per_key.status, 409, "{}", per_key.body);
    assert!(per_key.body.contains("no limit per concurrency key"), "{}", per_key.body);
    // The form sends every field: removing limits the storage does not have is no change.
    let form = r#"{"max_running": null, "rate": null, "max_per_key": null}"#;
    let answer = post(&app, "/api/v1/stores/plain/queues/email/limits", Who::Operator, Some(form)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn the_schedules_page_lists_registered_cron_pipes_with_next_and_last_tick() {
    let admin = MemoryAdmin::default();
    let empty = board(admin.clone());
    let none = get(&empty, "/api/v1/ui/schedules", Who::Reader).await.body;
    assert!(none.contains("ApiBuilder::schedule"), "says how to register one: {none}");

    let job = drover_cron::CronJob::<()>::new(
        "nightly-report",
        drover_cron::Schedule::every(std::time::Duration::from_secs(3600)).expect("schedule"),
    )
    .expect("job");
    let pipe = job.pipe_to(admin.storage("reports"));
    let pushed = pipe.step(chrono::Utc::now()).await.expect("step");
    let app = Board::new().register(admin).schedule(pipe).auth(auth()).into_router();
    let answer = get(&app, "/api/v1/schedules", Who::Reader).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let listed = answer.json();
    let row = &listed["schedules"][0];
    assert_eq!((row["name"].as_str(), row["queue"].as_str()), (Some("nightly-report"), Some("reports")), "{listed}");
    assert!(row["schedule"].as_str().unwrap_or_default().contains("3600000"), "{listed}");
    assert!(row["next_tick"].is_string(), "{listed}");
    if let Some((_, drover_core::TickPushed::Pushed(id))) = pushed.first() {
        assert_eq!(row["last_task"], id.to_string(), "{listed}");
        assert!(row["last_tick"].is_string(), "{listed}");
    }
    let page = get(&app, "/api/v1/ui/schedules", Who::Reader).await.body;
    assert!(
        page.contains("data-schedule=\"nightly-report\"") && page.contains("data-field=\"next-tick\"><time"),
        "{page}"
    );
    let shell = get(&app, "/schedules", Who::Reader).await.body;
    assert!(shell.contains("href=\"/schedules\""), "{shell}");
}

#[tokio::test]
async fn the_overview_draws_the_last_minutes_of_throughput_as_inline_svg() {
    let admin = MemoryAdmin::default();
    let storage = admin.storage("email");
    for _ in 0..3 {
        storage.enqueue(vec![NewTask::new(b"{}".to_vec(), PushOptions::new())]).await.expect("push");
    }
    for _ in 0..2 {
        let claimed = storage
            .claim(drover_core::ClaimRequest::new("w", 1, std::time::Duration::from_secs(30)))
            .await
            .expect("claim");
        let done = drover_core::Completion { lease: claimed[0].lease(), outcome: drover_core::Outcome::Done };
        storage.complete(vec![done]).await.expect("complete");
    }
    kill(&storage, "boom").await;
    let app = board(admin);
    let seen = get(&app, "/api/v1/stores/memory/queues/email/throughput?minutes=5", Who::Reader).await.json();
    assert_eq!(seen["done"].as_array().map(Vec::len), Some(5), "{seen}");
    let total = |key: &str| seen[key].as_array().into_iter().flatten().filter_map(|n| n.as_u64()).sum::<u64>();
    assert_eq!((total("done"), total("dead")), (2, 1), "{seen}");
    assert_eq!(seen["complete"], true);
    let bad = get(&app, "/api/v1/stores/memory/queues/email/throughput?minutes=0", Who::Reader).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let overview = get(&app, "/api/v1/ui/overview", Who::Reader).await.body;
    assert!(overview.contains("<svg class=\"spark\""), "{overview}");
    assert!(overview.contains("aria-label=\"2 done, 1 dead in the last 15 min\""), "{overview}");
    assert!(overview.contains("<rect class=\"done\"") && overview.contains("<rect class=\"dead\""), "{overview}");
}
