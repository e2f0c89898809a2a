//! The check in front of every admin route: the bearer token, or the inspector's session cookie.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::api::error::ApiError;
use crate::inspector::session;
use crate::state::AppState;

/// Lets a request through only with `Authorization: Bearer <admin token>`, or without that header but with
/// the inspector's session cookie; a cookie-authenticated request that changes state must come from this
/// origin (a cookie travels with requests other sites make; a bearer header does not).
pub(crate) async fn require_admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(expected) = state.admin_token.as_deref() else {
        return Err(ApiError::AdminTokenNotConfigured);
    };
    let headers = request.headers();
    match bearer_token(headers) {
        // Constant time, so response timing does not reveal how much of a guess was right.
        Some(presented) if expected.ct_eq(presented.as_bytes()) => {}
        Some(_) => return Err(ApiError::InvalidToken),
        None if session::is_valid(headers, expected) => {
            if !session::same_origin_or_safe(request.method(), headers) {
                return Ok(cross_site());
            }
        }
        None if session::cookie(headers, session::COOKIE).is_some() => {
            return Err(ApiError::InvalidToken);
        }
        None => return Err(ApiError::MissingToken),
    }
    Ok(next.run(request).await)
}

/// 403 for a state-changing request that carried the session cookie from another site.
fn cross_site() -> Response {
    let error = "this request came from another site; send it from the inspector's own page, or use the \
                 Authorization: Bearer header";
    (StatusCode::FORBIDDEN, Json(json!({ "error": error }))).into_response()
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case, RFC 7235).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn a_bearer_token_is_read_whatever_the_scheme_s_case() {
        assert_eq!(bearer_token(&headers("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&headers("bearer  abc ")), Some("abc"));
    }

    #[test]
    fn other_schemes_and_empty_tokens_are_no_token() {
        assert_eq!(bearer_token(&headers("Basic YWJjOmRlZg==")), None);
        assert_eq!(bearer_token(&headers("Bearer")), None);
        assert_eq!(bearer_token(&headers("Bearer ")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
