//! The Client Registry View: the admin page served at `/`.
//!
//! Three files from `web/`, compiled into the binary, because gateways are
//! often offline: nothing is fetched from anywhere but this listener. The
//! page is a client of `/api/v1` like any script; it holds no power the
//! token it is given does not have. The headers keep it that way: the
//! page runs only its own script, talks only to its own origin and cannot
//! be framed by another site.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::door::ApiError;

const PAGE: &str = include_str!("../../web/index.html");
const SCRIPT: &str = include_str!("../../web/app.js");
const STYLE: &str = include_str!("../../web/app.css");

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

pub async fn page() -> Response {
    served(PAGE, "text/html; charset=utf-8")
}

pub async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    match file.as_str() {
        "app.js" => Ok(served(SCRIPT, "text/javascript; charset=utf-8")),
        "app.css" => Ok(served(STYLE, "text/css; charset=utf-8")),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no such asset: {file}; the page uses app.js and app.css"),
        )),
    }
}

fn served(body: &'static str, kind: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The files change with the binary; a browser asks again each time
    // (cheap: the three are a few dozen KiB) rather than run a stale page
    // against a newer API.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
