//! Who may use the board: credentials and roles, from code or the environment, and the
//! signed session cookie a browser login sets.

use std::fmt;
use std::sync::Arc;

use axum::http::HeaderMap;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// What an authenticated caller may do.
///
/// A tower layer of your own in front of the board can authenticate requests itself and put a
/// `Role` into the request's extensions; the board then takes it as given (see
/// [`Auth::external`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// See every page and call every `GET` route; actions answer 403.
    ReadOnly,
    /// See and act: retry, cancel, pause, resume, purge, push.
    Operator,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::ReadOnly => "read-only",
            Role::Operator => "operator",
        }
    }

    fn parse(s: &str) -> Option<Role> {
        match s {
            "read-only" => Some(Role::ReadOnly),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The shortest bearer token the board accepts.
pub const MIN_TOKEN_LEN: usize = 16;

/// How long a browser login lasts.
const SESSION_SECONDS: i64 = 12 * 60 * 60;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "drover_board_session";

/// What every refusal for missing configuration says.
pub(crate) const HOW_TO_CONFIGURE: &str = "set DROVER_BOARD_TOKEN (a bearer token of at least 16 characters) or \
DROVER_BOARD_USER and DROVER_BOARD_PASSWORD in the board's environment (DROVER_BOARD_READ_ONLY_TOKEN, or \
DROVER_BOARD_READ_ONLY_USER and DROVER_BOARD_READ_ONLY_PASSWORD, for a login that can see but not act), or pass \
drover_board::Auth to the builder, then restart";

#[derive(Clone)]
enum Secret {
    Token(String),
    Basic { user: String, password: String },
}

#[derive(Clone)]
struct Credential {
    secret: Secret,
    role: Role,
}

#[derive(Clone)]
enum Mode {
    Credentials { list: Vec<Credential>, problems: Vec<String> },
    External,
    Insecure,
}

/// How the board authenticates requests. Every route of the API and the UI needs it; there is
/// no unauthenticated default.
///
/// - [`Auth::from_env`] (what the builders use unless given another): `DROVER_BOARD_TOKEN`,
///   `DROVER_BOARD_USER` + `DROVER_BOARD_PASSWORD` for operators;
///   `DROVER_BOARD_READ_ONLY_TOKEN`, `DROVER_BOARD_READ_ONLY_USER` +
///   `DROVER_BOARD_READ_ONLY_PASSWORD` for read-only logins. With none set, every request is
///   refused with a 401 that says which variables to set.
/// - [`Auth::new`] and [`token`](Auth::token) / [`basic`](Auth::basic) from your own settings.
/// - [`Auth::external`]: your tower layer authenticates and inserts a [`Role`].
/// - [`Auth::insecure_no_auth`]: everyone is an operator. Only behind something that
///   authenticates for you.
///
/// Callers send `Authorization: Bearer <token>` or basic auth; a browser can also log in at
/// `/_board/login`, which sets a signed, `HttpOnly`, `SameSite=Strict` session cookie valid for
/// 12 hours. The cookie's key is derived from the configured secrets, so every replica with
/// the same settings accepts it, and changing a secret logs everyone out.
///
/// ```
/// use drover_board::{Auth, Role};
///
/// let auth = Auth::new()
///     .token("a-long-random-operator-token", Role::Operator)
///     .basic("viewer", "correct horse battery", Role::ReadOnly);
/// assert!(auth.validate().is_ok());
/// assert!(Auth::new().token("short", Role::Operator).validate().is_err());
/// ```
#[derive(Clone)]
pub struct Auth {
    mode: Mode,
    session_key: Arc<[u8; 32]>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match &self.mode {
            Mode::Credentials { list, problems } => {
                format!("{} credential(s), {} problem(s)", list.len(), problems.len())
            }
            Mode::External => "external".to_owned(),
            Mode::Insecure => "insecure, no authentication".to_owned(),
        };
        f.debug_struct("Auth").field("mode", &mode).finish_non_exhaustive()
    }
}

/// The board's authentication settings are wrong; the message names the setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthError(String);

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AuthError {}

/// Why a request was not let in.
pub(crate) enum Refusal {
    /// No credentials configured: every request is refused.
    NotConfigured,
    /// Configured wrongly; the message says what.
    Misconfigured(String),
    /// The request carried no credentials (or an expired session).
    Missing(&'static str),
    /// The request's credentials matched none.
    Wrong,
}

impl Default for Auth {
    fn default() -> Self {
        Self::new()
    }
}

impl Auth {
    /// No credentials yet: refuses every request until [`token`](Auth::token) or
    /// [`basic`](Auth::basic) adds one.
    pub fn new() -> Self {
        Self::with_mode(Mode::Credentials { list: Vec::new(), problems: Vec::new() })
    }

    /// Credentials from the environment (see the type's docs). A half-set pair or a short
    /// token does not fail here: the board then refuses every request with a message naming
    /// the variable; call [`validate`](Auth::validate) to fail at start instead.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Credentials from any source of `DROVER_BOARD_*` settings (a config file, a secret
    /// store, a test), read the way [`from_env`](Auth::from_env) reads the environment.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| get(name).filter(|value| !value.is_empty());
        let mut auth = Self::new();
        for (prefix, role) in [("DROVER_BOARD_", Role::Operator), ("DROVER_BOARD_READ_ONLY_", Role::ReadOnly)] {
            if let Some(token) = get(&format!("{prefix}TOKEN")) {
                auth = auth.token_named(token, role, &format!("{prefix}TOKEN"));
            }
            let (user_var, password_var) = (format!("{prefix}USER"), format!("{prefix}PASSWORD"));
            match (get(&user_var), get(&password_var)) {
                (Some(user), Some(password)) => auth = auth.basic(user, password, role),
                (Some(_), None) => {
                    auth.problem(format!("{user_var} is set but {password_var} is not: set both, or neither"))
                }
                (None, Some(_)) => {
                    auth.problem(format!("{password_var} is set but {user_var} is not: set both, or neither"))
                }
                (None, None) => {}
            }
        }
        auth
    }

    /// Requests are authenticated by your own tower layer, which inserts a [`Role`] into the
    /// request's extensions; a request without one is refused with 401.
    pub fn external() -> Self {
        Self::with_mode(Mode::External)
    }

    /// No authentication at all: every request may see and act. Use it only when something in
    /// front of the board (a proxy, your own layer) already lets only operators through.
    pub fn insecure_no_auth() -> Self {
        Self::with_mode(Mode::Insecure)
    }

    /// Accept `Authorization: Bearer <token>` (at least [`MIN_TOKEN_LEN`] characters) as `role`.
    pub fn token(self, token: impl Into<String>, role: Role) -> Self {
        self.token_named(token.into(), role, "the bearer token")
    }

    /// Accept basic auth with `user` and `password` as `role`.
    pub fn basic(mut self, user: impl Into<String>, password: impl Into<String>, role: Role) -> Self {
        let (user, password) = (user.into(), password.into());
        if user.is_empty() || user.contains(':') || password.is_empty() {
            self.problem("a basic-auth user must be non-empty without ':' and its password non-empty".to_owned());
        } else {
            self.add(Credential { secret: Secret::Basic { user, password }, role });
        }
        self
    }

    /// Whether the settings are usable: credentials of the right shape, or an explicit mode.
    pub fn validate(&self) -> Result<(), AuthError> {
        match &self.mode {
            Mode::Credentials { problems, .. } if !problems.is_empty() => Err(AuthError(problems.join("; "))),
            Mode::Credentials { list, .. } if list.is_empty() => {
                Err(AuthError(format!("no credentials are configured for the Drover board: {HOW_TO_CONFIGURE}")))
            }
            _ => Ok(()),
        }
    }

    fn token_named(mut self, token: String, role: Role, what: &str) -> Self {
        if token.chars().count() < MIN_TOKEN_LEN {
            self.problem(format!("{what} is shorter than {MIN_TOKEN_LEN} characters: use a long random value"));
        } else {
            self.add(Credential { secret: Secret::Token(token), role });
        }
        self
    }

    fn with_mode(mode: Mode) -> Self {
        let mut auth = Self { mode, session_key: Arc::new([0; 32]) };
        auth.derive_key();
        auth
    }

    fn add(&mut self, credential: Credential) {
        if let Mode::Credentials { list, .. } = &mut self.mode {
            list.push(credential);
        } else {
            self.mode = Mode::Credentials { list: vec![credential], problems: Vec::new() };
        }
        self.derive_key();
    }

    fn problem(&mut self, problem: String) {
        if let Mode::Credentials { problems, .. } = &mut self.mode {
            problems.push(problem);
        }
    }

    /// The session cookie's key: a hash of every configured secret.
    fn derive_key(&mut self) {
        let mut hash = Sha256::new();
        hash.update(b"drover-board-session-v1\0");
        if let Mode::Credentials { list, .. } = &self.mode {
            for credential in list {
                match &credential.secret {
                    Secret::Token(token) => {
                        hash.update(b"token\0");
                        hash.update(token.as_bytes());
                    }
                    Secret::Basic { user, password } => {
                        hash.update(b"basic\0");
                        hash.update(user.as_bytes());
                        hash.update(b"\0");
                        hash.update(password.as_bytes());
                    }
                }
                hash.update(b"\0");
                hash.update(credential.role.as_str().as_bytes());
                hash.update(b"\0");
            }
        }
        self.session_key = Arc::new(hash.finalize().into());
    }

    pub(crate) fn is_insecure(&self) -> bool {
        matches!(self.mode, Mode::Insecure)
    }

    /// Whether a user and password may log in (so a 401 can ask the browser for them).
    pub(crate) fn has_basic(&self) -> bool {
        matches!(&self.mode, Mode::Credentials { list, .. } if list.iter().any(|c| matches!(c.secret, Secret::Basic { .. })))
    }

    /// Whether a login form makes sense (credentials are configured).
    pub(crate) fn accepts_logins(&self) -> bool {
        matches!(&self.mode, Mode::Credentials { list, problems } if !list.is_empty() && problems.is_empty())
    }

    /// The role a request's headers grant, or why none.
    pub(crate) fn authenticate(&self, headers: &HeaderMap) -> Result<Role, Refusal> {
        match &self.mode {
            Mode::Insecure => return Ok(Role::Operator),
            Mode::External => return Err(Refusal::Missing("this board is set to Auth::external, and no layer in front of it put a drover_board::Role into the request")),
            Mode::Credentials { problems, .. } if !problems.is_empty() => {
                return Err(Refusal::Misconfigured(format!("the Drover board's credentials are misconfigured: {}", problems.join("; "))))
            }
            Mode::Credentials { list, .. } if list.is_empty() => return Err(Refusal::NotConfigured),
            Mode::Credentials { .. } => {}
        }
        if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
            let value = value.to_str().map_err(|_| Refusal::Wrong)?;
            let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
            let rest = rest.trim();
            if scheme.eq_ignore_ascii_case("bearer") {
                return self.token_role(rest).ok_or(Refusal::Wrong);
            }
            if scheme.eq_ignore_ascii_case("basic") {
                let decoded = base64::engine::general_purpose::STANDARD.decode(rest).map_err(|_| Refusal::Wrong)?;
                let decoded = String::from_utf8(decoded).map_err(|_| Refusal::Wrong)?;
                let (user, password) = decoded.split_once(':').ok_or(Refusal::Wrong)?;
                return self.basic_role(user, password).ok_or(Refusal::Wrong);
            }
            return Err(Refusal::Wrong);
        }
        match session_cookie(headers) {
            Some(cookie) => self.verify_session(cookie, chrono::Utc::now().timestamp()),
            None => Err(Refusal::Missing("this board needs credentials")),
        }
    }

    /// The role of a bearer token, if it is one of ours.
    pub(crate) fn token_role(&self, token: &str) -> Option<Role> {
        let Mode::Credentials { list, .. } = &self.mode else { return None };
        let mut found = None;
        for credential in list {
            if let Secret::Token(expected) = &credential.secret {
                if constant_time_eq(expected.as_bytes(), token.as_bytes()) && found.is_none() {
                    found = Some(credential.role);
                }
            }
        }
        found
    }

    /// The role of a user and password, if they are ours.
    pub(crate) fn basic_role(&self, user: &str, password: &str) -> Option<Role> {
        let Mode::Credentials { list, .. } = &self.mode else { return None };
        let mut found = None;
        for credential in list {
            if let Secret::Basic { user: u, password: p } = &credential.secret {
                let same = constant_time_eq(u.as_bytes(), user.as_bytes())
                    & constant_time_eq(p.as_bytes(), password.as_bytes());
                if same && found.is_none() {
                    found = Some(credential.role);
                }
            }
        }
        found
    }

    /// A session cookie's value for `role`, valid for 12 hours from `now` (Unix seconds).
    pub(crate) fn session_value(&self, role: Role, now: i64) -> String {
        let body = format!("{}.{}", role.as_str(), now + SESSION_SECONDS);
        format!("{body}.{}", hex(&self.mac(&body)))
    }

    pub(crate) fn session_max_age() -> i64 {
        SESSION_SECONDS
    }

    fn verify_session(&self, value: &str, now: i64) -> Result<Role, Refusal> {
        let (body, mac) = value.rsplit_once('.').ok_or(Refusal::Wrong)?;
        if !constant_time_eq(hex(&self.mac(body)).as_bytes(), mac.as_bytes()) {
            return Err(Refusal::Wrong);
        }
        let (role, expires) = body.split_once('.').ok_or(Refusal::Wrong)?;
        let role = Role::parse(role).ok_or(Refusal::Wrong)?;
        let expires: i64 = expires.parse().map_err(|_| Refusal::Wrong)?;
        if expires < now {
            return Err(Refusal::Missing("your board session has expired"));
        }
        Ok(role)
    }

    fn mac(&self, body: &str) -> Vec<u8> {
        match <Hmac<Sha256> as Mac>::new_from_slice(self.session_key.as_slice()) {
            Ok(mut mac) => {
                mac.update(body.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
            // HMAC takes keys of any length; should it ever refuse, no cookie verifies.
            Err(_) => Vec::new(),
        }
    }
}

/// The session cookie's value in a request, if any.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

/// Compares secrets in time independent of where they differ (and, through the hash, of
/// their lengths).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(a), Sha256::digest(b));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn environment_settings_become_credentials() {
        let auth = Auth::from_vars(vars(&[
            ("DROVER_BOARD_TOKEN", "operator-token-0123456789"),
            ("DROVER_BOARD_READ_ONLY_USER", "viewer"),
            ("DROVER_BOARD_READ_ONLY_PASSWORD", "secret"),
        ]));
        assert!(auth.validate().is_ok());
        assert_eq!(auth.token_role("operator-token-0123456789"), Some(Role::Operator));
        assert_eq!(auth.token_role("operator-token-012345678"), None);
        assert_eq!(auth.basic_role("viewer", "secret"), Some(Role::ReadOnly));
        assert_eq!(auth.basic_role("viewer", "Secret"), None);
        assert!(auth.has_basic());
    }

    #[test]
    fn half_set_pairs_and_short_tokens_are_named() {
        let auth = Auth::from_vars(vars(&[("DROVER_BOARD_USER", "admin"), ("DROVER_BOARD_TOKEN", "short")]));
        let problem = auth.validate().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(problem.contains("DROVER_BOARD_PASSWORD is not"), "{problem}");
        assert!(problem.contains("DROVER_BOARD_TOKEN is shorter than 16"), "{problem}");
        let none = Auth::from_vars(|_| None).validate().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(none.contains("DROVER_BOARD_TOKEN"), "{none}");
    }

    #[test]
    fn sessions_verify_expire_and_die_with_the_secrets() {
        let auth = Auth::new().token("operator-token-0123456789", Role::Operator);
        let value = auth.session_value(Role::ReadOnly, 1_000);
        assert!(matches!(auth.verify_session(&value, 1_001), Ok(Role::ReadOnly)));
        assert!(matches!(auth.verify_session(&value, 1_000 + SESSION_SECONDS + 1), Err(Refusal::Missing(_))));
        let forged = value.replacen("read-only", "operator", 1);
        assert!(matches!(auth.verify_session(&forged, 1_001), Err(Refusal::Wrong)));
        let other = Auth::new().token("another-token-0123456789", Role::Operator);
        assert!(matches!(other.verify_session(&value, 1_001), Err(Refusal::Wrong)));
    }
}
