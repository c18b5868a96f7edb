//! HTML: escaping, and the pages the UI serves itself (the shell every page loads its
//! fragment into, the login form, refusals). Every value that comes from a storage, a request
//! or a setting goes through [`E`].

mod fragments;

use std::fmt;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

pub(crate) use fragments::{overview, queue_page, schedules_page, task_page, workers_page, WorkersOfStore};

/// Displays its text HTML-escaped, for element content and quoted attributes alike.
pub(crate) struct E<'a>(pub(crate) &'a str);

impl fmt::Display for E<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// What a path segment keeps unescaped.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// A path segment (a store, queue or task id), percent-encoded.
pub(crate) fn seg(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// A time, and how long ago or ahead of `now` it is.
pub(crate) fn when(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - t).num_seconds();
    let ago = |s: i64| match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    };
    let relative = if seconds >= 0 { format!("{} ago", ago(seconds)) } else { format!("in {}", ago(-seconds)) };
    format!("<time datetime=\"{}\" title=\"{}\">{}</time>", t.to_rfc3339(), t.format("%Y-%m-%d %H:%M:%S UTC"), relative)
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>{}</title><link rel=\"stylesheet\" \
         href=\"/_board/board.css\"></head><body>{body}</body></html>\n",
        E(title)
    )
}

/// The page every UI path serves; `board.js` loads the path's fragment from the API into
/// `<main>` and refreshes it.
pub(crate) fn shell(api_base: &str, version: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><meta name=\"drover-api\" content=\"{api}\">\
         <title>Drover board</title><link rel=\"stylesheet\" href=\"/_board/board.css?v={v}\"></head><body>\
         <header><a class=\"brand\" href=\"/\">Drover</a><nav><a href=\"/\">Queues</a><a href=\"/workers\">Workers</a><a href=\"/schedules\">Schedules</a></nav>\
         <form id=\"find\" action=\"/tasks\" method=\"get\"><input name=\"id\" placeholder=\"task id\" aria-label=\"task id\" \
         size=\"28\"><button>Find</button></form>\
         <span class=\"live\"><button id=\"live\" type=\"button\">Pause live updates</button> <span id=\"live-status\"></span></span>\
         <form id=\"logout\" action=\"/_board/logout\" method=\"post\"><button>Log out</button></form></header>\
         <div id=\"flash\" role=\"status\"></div>\
         <main id=\"board\"><noscript>The board's pages need JavaScript; the JSON API is at {api}.</noscript>\
         <p class=\"muted\">Loading…</p></main>\
         <script src=\"/_board/board.js?v={v}\"></script></body></html>\n",
        api = E(api_base),
        v = E(version),
    )
}

/// The login form (token, or user and password).
pub(crate) fn login_page(error: Option<&str>, next: &str, enabled: bool) -> String {
    let error = error.map(|e| format!("<div class=\"error\" role=\"alert\">{}</div>", E(e))).unwrap_or_default();
    let form = if enabled {
        format!(
            "<form method=\"post\" action=\"/_board/login\" class=\"login\"><input type=\"hidden\" name=\"next\" value=\"{}\">\
             <label>Token <input type=\"password\" name=\"token\" autocomplete=\"current-password\"></label>\
             <p class=\"muted\">or</p>\
             <label>User <input name=\"user\" autocomplete=\"username\"></label>\
             <label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\"></label>\
             <button>Log in</button></form>",
            E(next)
        )
    } else {
        "<p>This board has no logins configured (see the message above, or the board's documentation).</p>".to_owned()
    };
    page("Log in · Drover board", &format!("<main class=\"narrow\"><h1>Drover board</h1>{error}{form}</main>"))
}

/// A refusal (401, 403, 500) as a page.
pub(crate) fn refusal_page(status: StatusCode, message: &str) -> String {
    let login = if status == StatusCode::UNAUTHORIZED { "<p><a href=\"/_board/login\">Log in</a></p>" } else { "" };
    page(
        "Drover board",
        &format!(
            "<main class=\"narrow\"><h1>{}</h1><div class=\"error\" role=\"alert\">{}</div>{login}</main>",
            status.as_u16(),
            E(message)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            E("<script>alert('x')</script> & \"q\"").to_string(),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(E("plain").to_string(), "plain");
        assert_eq!(seg("a b/c"), "a%20b%2Fc");
    }
}
