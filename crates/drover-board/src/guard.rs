//! The middleware in front of every board route: authentication, the role, and the checks
//! against cross-site requests on every state-changing route.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::{Auth, Refusal, Role, HOW_TO_CONFIGURE};
use crate::html;

/// The header every state-changing request must carry. A page of another site cannot send a
/// custom header to the board without a CORS preflight the board never answers, so its
/// presence shows the request came from the board's own pages or from a script.
pub const CSRF_HEADER: &str = "x-drover-csrf";

/// Which part of the board a guard stands in front of: refusals are JSON for the API and a
/// page for the UI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Surface {
    Api,
    Ui,
}

#[derive(Clone, Debug)]
pub(crate) struct Guard {
    pub(crate) auth: Auth,
    pub(crate) surface: Surface,
}

/// Let the request in with its [`Role`] in its extensions, or answer 401 / 403 / 500.
pub(crate) async fn guard(State(guard): State<Guard>, mut request: Request, next: Next) -> Response {
    let role = match request.extensions().get::<Role>() {
        Some(role) => *role,
        None => match guard.auth.authenticate(request.headers()) {
            Ok(role) => role,
            Err(refusal) => return refuse(&guard, refusal),
        },
    };
    if !is_safe(request.method()) {
        if let Err(message) = same_origin(request.headers(), request.uri()) {
            return forbidden(&guard, message);
        }
        if request.headers().get(CSRF_HEADER).is_none() {
            return forbidden(
                &guard,
                format!(
                    "refused as a possible cross-site request forgery: state-changing requests need the header \
                     `{CSRF_HEADER}: 1` (the board's pages send it; add it in scripts)"
                ),
            );
        }
        if role != Role::Operator {
            return forbidden(&guard, "this login is read-only: it can see the board but not act on it".to_owned());
        }
    }
    request.extensions_mut().insert(role);
    next.run(request).await
}

pub(crate) fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A request a browser sends from another site carries an `Origin` (or `Sec-Fetch-Site`)
/// that says so; scripts and curl send neither, and pass.
pub(crate) fn same_origin(headers: &HeaderMap, uri: &axum::http::Uri) -> Result<(), String> {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return Err(format!("refused a cross-site request (Sec-Fetch-Site: {site})"));
        }
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return Ok(()) };
    let origin = origin.to_str().unwrap_or("null");
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .unwrap_or("");
    let origin_host = origin.split_once("://").map(|(_, rest)| rest.trim_end_matches('/')).unwrap_or("");
    if origin_host.is_empty() || !origin_host.eq_ignore_ascii_case(host) {
        return Err(format!("refused a cross-origin request: Origin {origin} is not this board ({host})"));
    }
    Ok(())
}

fn refuse(guard: &Guard, refusal: Refusal) -> Response {
    let (status, message) = match refusal {
        Refusal::NotConfigured => (
            StatusCode::UNAUTHORIZED,
            format!("The Drover board refuses every request: no credentials are configured. To configure them, {HOW_TO_CONFIGURE}."),
        ),
        Refusal::Misconfigured(problem) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{problem}. Fix the settings and restart.")),
        Refusal::Missing(why) => (
            StatusCode::UNAUTHORIZED,
            format!(
                "{why}: send `Authorization: Bearer <token>` (the board's DROVER_BOARD_TOKEN) or basic auth \
                 (DROVER_BOARD_USER and DROVER_BOARD_PASSWORD); in a browser, log in at /_board/login"
            ),
        ),
        Refusal::Wrong => (
            StatusCode::UNAUTHORIZED,
            "the credentials were not accepted: check the token, or the user and password, against the board's \
             DROVER_BOARD_* settings; in a browser, log in again at /_board/login"
                .to_owned(),
        ),
    };
    let mut response = message_response(guard.surface, status, &message);
    if status == StatusCode::UNAUTHORIZED {
        let challenge = if guard.auth.has_basic() {
            "Basic realm=\"Drover board\", charset=\"UTF-8\""
        } else {
            "Bearer realm=\"Drover board\""
        };
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    response
}

fn forbidden(guard: &Guard, message: String) -> Response {
    message_response(guard.surface, StatusCode::FORBIDDEN, &message)
}

/// A refusal as JSON (`{"error": ...}`) or as a page.
pub(crate) fn message_response(surface: Surface, status: StatusCode, message: &str) -> Response {
    match surface {
        Surface::Api => crate::error::ApiError::new(status, message).into_response(),
        Surface::Ui => {
            let body = html::refusal_page(status, message);
            (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
        }
    }
}

/// Headers every board response carries: no caching of job data, no framing, no sniffing, and
/// a policy that runs only the board's own script.
pub(crate) async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // `same-origin`, not `no-referrer`: under `no-referrer` browsers send `Origin: null` on
        // the board's own form and fetch POSTs, which the origin check must refuse.
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; \
             base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        ),
    ];
    for (name, value) in set {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    response
}
