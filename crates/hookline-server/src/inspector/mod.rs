//! The web inspector at `/`: a one-page app (plain HTML, CSS and JavaScript compiled into the binary) that
//! shows conversations and the event log through the admin API, signed in with the admin token.
//!
//! - `session`: the `hookline_session` cookie, derived from the admin token, and the same-origin check.
//! - `signin`: the sign-in page, the only page served without a session.
//! - `assets/`: `index.html`, `app.js`, `style.css`, `meta.js` (the Meta subscription panel, fed by
//!   `GET /api/v1/meta/status`) and `reply.js` (the reply box of the open conversation, which posts to
//!   `POST /api/v1/conversations/{id}/messages`), embedded with `include_str!`.
//!
//! Every response carries a strict Content-Security-Policy: the pages use no inline script or style, load
//! nothing from other origins but images (attachments live on Meta's CDN), and cannot be framed.

pub(crate) mod session;
mod signin;

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::state::AppState;
use signin::Notice;

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const META_JS: &str = include_str!("assets/meta.js");
const REPLY_JS: &str = include_str!("assets/reply.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

const CSP: &str = "default-src 'self'; img-src 'self' https: data:; style-src 'self'; \
                   script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

/// The inspector's routes, to merge at the root of the server.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/login", get(|| async { Redirect::to("/") }).post(login))
        .route("/logout", post(logout))
        .route("/assets/style.css", get(style))
        .route("/assets/app.js", get(script))
        .route("/assets/meta.js", get(meta_script))
        .route("/assets/reply.js", get(reply_script))
        .layer(middleware::from_fn(safe_headers))
}

/// `GET /`: the app with a session, else the sign-in page.
async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match state.admin_token.as_deref() {
        None => signin::page(StatusCode::OK, Notice::NoToken),
        Some(token) if session::is_valid(&headers, token) => html(StatusCode::OK, INDEX_HTML),
        Some(_) => signin::page(StatusCode::OK, Notice::None),
    }
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    token: String,
}

/// `POST /login`: the admin token from the form; right, a session cookie and back to `/`; wrong, the form
/// again with a 401.
async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Some(token) = state.admin_token.as_deref() else {
        return signin::page(StatusCode::UNAUTHORIZED, Notice::NoToken);
    };
    if !session::same_origin_or_safe(&axum::http::Method::POST, &headers) {
        return signin::page(StatusCode::FORBIDDEN, Notice::CrossSite);
    }
    let presented = form.map(|Form(f)| f.token).unwrap_or_default();
    if presented.is_empty() || !token.ct_eq(presented.trim().as_bytes()) {
        return signin::page(StatusCode::UNAUTHORIZED, Notice::WrongToken);
    }
    let mut response = Redirect::to("/").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&session::set_cookie(token, &headers)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// `POST /logout`: removes the cookie and shows the sign-in page.
async fn logout() -> Response {
    let mut response = Redirect::to("/").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&session::clear_cookie()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// `GET /assets/style.css`: served to everyone, since the sign-in page uses it too.
async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

/// `GET /assets/app.js`: only with a session.
async fn script(State(state): State<AppState>, headers: HeaderMap) -> Response {
    private_script(&state, &headers, APP_JS)
}

/// `GET /assets/meta.js`: only with a session.
async fn meta_script(State(state): State<AppState>, headers: HeaderMap) -> Response {
    private_script(&state, &headers, META_JS)
}

/// `GET /assets/reply.js`: only with a session.
async fn reply_script(State(state): State<AppState>, headers: HeaderMap) -> Response {
    private_script(&state, &headers, REPLY_JS)
}

fn private_script(state: &AppState, headers: &HeaderMap, body: &'static str) -> Response {
    match state.admin_token.as_deref() {
        Some(token) if session::is_valid(headers, token) => {
            asset("text/javascript; charset=utf-8", body)
        }
        _ => (StatusCode::UNAUTHORIZED, "sign in at / first\n").into_response(),
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

pub(crate) fn html(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.into(),
    )
        .into_response()
}

/// Adds the Content-Security-Policy to every inspector response (`nosniff`, frame denial and the referrer
/// policy come from the server-wide layer, `crate::security`).
async fn safe_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
}
