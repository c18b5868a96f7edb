//! `ServeUI`: the board's pages and assets, and the browser login.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{from_fn_with_state, map_response};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use sha2::{Digest, Sha256};

use crate::auth::{Auth, SESSION_COOKIE};
use crate::guard::{guard, message_response, same_origin, security_headers, Guard, Surface};
use crate::html;

const CSS: &str = include_str!("../assets/board.css");
const JS: &str = include_str!("../assets/board.js");

/// Where [`ServeUI`] expects the API unless told otherwise.
pub const DEFAULT_API_BASE: &str = "/api/v1";

#[derive(Clone)]
struct UiState {
    auth: Auth,
    api_base: String,
    version: String,
}

/// The board's pages: use it as the fallback service of the router that nests the
/// [`ApiBuilder`](crate::ApiBuilder)'s API at `/api/v1`.
///
/// Every path serves the same small page, whose script (`board.js`, embedded) loads the
/// path's server-rendered fragment from the API, refreshes it every 2 seconds (pausable) and
/// at once on each [`Broadcaster`](crate::Broadcaster) event, and sends actions as `POST`s
/// with the CSRF header. Pages: `/` (queues and counts), `/stores/{store}/queues/{queue}`
/// (tasks by status, paging, pause, purge), `.../tasks/{id}` (a task, retry, cancel),
/// `/workers`, `/tasks?id=` (find a task).
///
/// Authentication is the API's ([`Auth::from_env`] by default); `/_board/login` lets a
/// browser log in with a token or a user and password and sets a session cookie the API also
/// accepts when both use the same settings.
#[derive(Clone)]
pub struct ServeUI {
    state: UiState,
    router: Router,
}

impl std::fmt::Debug for ServeUI {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeUI").field("api_base", &self.state.api_base).field("auth", &self.state.auth).finish()
    }
}

impl Default for ServeUI {
    fn default() -> Self {
        Self::new()
    }
}

impl ServeUI {
    /// The pages, authenticated by [`Auth::from_env`], calling the API at `/api/v1`.
    pub fn new() -> Self {
        let mut hash = Sha256::new();
        hash.update(CSS);
        hash.update(JS);
        let version: String = hash.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect();
        Self::with_state(UiState { auth: Auth::from_env(), api_base: DEFAULT_API_BASE.to_owned(), version })
    }

    /// Who may see the pages (use the same as the API's).
    pub fn auth(self, auth: Auth) -> Self {
        Self::with_state(UiState { auth, ..self.state })
    }

    /// No authentication for the pages. Only behind something that authenticates for you.
    pub fn insecure_no_auth(self) -> Self {
        self.auth(Auth::insecure_no_auth())
    }

    /// Where the API is nested (default `/api/v1`).
    pub fn api_base(self, base: &str) -> Self {
        let base = format!("/{}", base.trim_matches('/'));
        Self::with_state(UiState { api_base: base, ..self.state })
    }

    fn with_state(state: UiState) -> Self {
        let guarded = Router::new()
            .route("/_board/board.css", get(css))
            .route("/_board/board.js", get(js))
            .fallback(shell)
            .layer(from_fn_with_state(Guard { auth: state.auth.clone(), surface: Surface::Ui }, guard));
        let router = Router::new()
            .route("/_board/login", get(login_form).post(login))
            .route("/_board/logout", post(logout))
            .merge(guarded)
            .with_state(state.clone())
            .layer(map_response(security_headers));
        Self { state, router }
    }
}

impl<B> tower::Service<Request<B>> for ServeUI
where
    B: axum::body::HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = <Router as tower::Service<Request<B>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        <Router as tower::Service<Request<B>>>::poll_ready(&mut self.router, cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.router.call(request)
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=86400"));
    response
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

async fn shell(State(state): State<UiState>, method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if path == state.api_base || path.starts_with(&format!("{}/", state.api_base)) {
        return message_response(
            Surface::Api,
            StatusCode::NOT_FOUND,
            &format!("no API route {path}; see {}/openapi.json", state.api_base),
        );
    }
    if method != Method::GET && method != Method::HEAD {
        return message_response(Surface::Ui, StatusCode::METHOD_NOT_ALLOWED, "the board's pages answer GET only");
    }
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html::shell(&state.api_base, &state.version)).into_response()
}

/// A `next` that stays on this board.
fn local_path(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

fn login_response(status: StatusCode, state: &UiState, error: Option<&str>, next: &str) -> Response {
    let body = html::login_page(error, local_path(next), state.auth.accepts_logins());
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

async fn login_form(State(state): State<UiState>, uri: Uri) -> Response {
    let next = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| "/".to_owned());
    let problem = state.auth.validate().err().map(|e| e.to_string());
    login_response(StatusCode::OK, &state, problem.as_deref(), &next)
}

async fn login(State(state): State<UiState>, headers: HeaderMap, uri: Uri, body: Bytes) -> Response {
    if let Err(message) = same_origin(&headers, &uri) {
        return message_response(Surface::Ui, StatusCode::FORBIDDEN, &message);
    }
    let field = |name: &str| {
        form_urlencoded::parse(&body).find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).unwrap_or_default()
    };
    let next = field("next");
    let (token, user, password) = (field("token"), field("user"), field("password"));
    let role =
        if !token.is_empty() { state.auth.token_role(token.trim()) } else { state.auth.basic_role(&user, &password) };
    let Some(role) = role else {
        return login_response(StatusCode::UNAUTHORIZED, &state, Some("Those credentials were not accepted."), &next);
    };
    let value = state.auth.session_value(role, chrono::Utc::now().timestamp());
    let cookie =
        format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}", Auth::session_max_age());
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let (Ok(cookie), Ok(location)) = (HeaderValue::from_str(&cookie), HeaderValue::from_str(local_path(&next))) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

async fn logout(headers: HeaderMap, uri: Uri) -> Response {
    if let Err(message) = same_origin(&headers, &uri) {
        return message_response(Surface::Ui, StatusCode::FORBIDDEN, &message);
    }
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SEE_OTHER;
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, HeaderValue::from_static("/_board/login"));
    headers.insert(
        header::SET_COOKIE,
        HeaderValue::from_static("drover_board_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}
