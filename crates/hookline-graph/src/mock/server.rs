//! The mock's HTTP side: one fallback handler that records the request, plays any scripted failure,
//! checks the token, and answers the route as Graph would.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State as AxumState};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::{
    MOCK_APP_ID, MOCK_APP_NAME, MOCK_TRACE_ID, MockFailure, RecordedRequest, Route, SentMessage,
    Shared,
};

/// Larger bodies are not Graph calls hookline makes.
const BODY_LIMIT: usize = 4 * 1024 * 1024;

pub(super) async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let app = Router::new().fallback(handle).with_state(shared);
    // The task is aborted when the MockGraph is dropped; an error here only ends the mock early.
    let _ = axum::serve(listener, app).await;
}

async fn handle(AxumState(shared): AxumState<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, BODY_LIMIT).await.unwrap_or_default();
    let recorded = record(
        &parts.method,
        parts.uri.path(),
        parts.uri.query(),
        &parts.headers,
        &bytes,
    );
    let scripted = {
        let mut state = shared.lock();
        state.requests.push(recorded.clone());
        take_script(&mut state.failures, recorded.route)
    };
    if let Some(failure) = scripted {
        return fail(failure).await;
    }
    if let Some(refusal) = check_token(&shared, &recorded) {
        return refusal;
    }
    match recorded.route {
        Some(Route::Subscribe) => subscribe(&shared, &recorded),
        Some(Route::SubscribedApps) => subscribed_apps(&shared, &recorded),
        Some(Route::Unsubscribe) => unsubscribe(&shared, &recorded),
        Some(Route::Permissions) => permissions(&shared),
        Some(Route::Send) => send(&shared, &recorded).await,
        None => graph_error(
            400,
            2500,
            &format!("Unknown path components: {}", recorded.path),
        ),
    }
}

fn record(
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> RecordedRequest {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header(CONTENT_TYPE);
    let is = |kind: &str| content_type.as_deref().is_some_and(|c| c.starts_with(kind));
    let form = if is("application/x-www-form-urlencoded") {
        pairs(body)
    } else {
        Vec::new()
    };
    let json = if is("application/json") {
        serde_json::from_slice(body).ok()
    } else {
        None
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let version = segments
        .first()
        .filter(|s| s.starts_with('v'))
        .map(|s| (*s).to_owned());
    let (account_id, route) = match (method.as_str(), segments.as_slice()) {
        ("POST", [_, id, "subscribed_apps"]) => (Some(id), Some(Route::Subscribe)),
        ("GET", [_, id, "subscribed_apps"]) => (Some(id), Some(Route::SubscribedApps)),
        ("DELETE", [_, id, "subscribed_apps"]) => (Some(id), Some(Route::Unsubscribe)),
        ("GET", [_, "me", "permissions"]) => (None, Some(Route::Permissions)),
        ("POST", [_, id, "messages"]) => (Some(id), Some(Route::Send)),
        _ => (None, None),
    };
    RecordedRequest {
        method: method.to_string(),
        path: path.to_owned(),
        route: route.filter(|_| version.is_some()),
        version,
        account_id: account_id.map(|id| (*id).to_owned()),
        query: query.map(|q| pairs(q.as_bytes())).unwrap_or_default(),
        form,
        json,
        content_type,
        authorization: header(AUTHORIZATION),
        user_agent: header(USER_AGENT),
    }
}

fn pairs(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

fn take_script(
    failures: &mut std::collections::VecDeque<super::Scripted>,
    route: Option<Route>,
) -> Option<MockFailure> {
    let index = failures
        .iter()
        .position(|s| s.route.is_none() || s.route == route)?;
    let script = &mut failures[index];
    script.remaining -= 1;
    let failure = script.failure.clone();
    if script.remaining == 0 {
        failures.remove(index);
    }
    Some(failure)
}

async fn fail(failure: MockFailure) -> Response {
    match failure {
        MockFailure::Graph {
            status,
            body,
            headers,
        } => {
            let mut response = json_response(status, &body);
            for (name, value) in headers {
                if let (Ok(name), Ok(value)) = (
                    axum::http::HeaderName::try_from(name),
                    axum::http::HeaderValue::try_from(value),
                ) {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        MockFailure::Http { status, body } => Response::builder()
            .status(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY))
            .header(CONTENT_TYPE, "text/html")
            .body(Body::from(body))
            .unwrap_or_default(),
        MockFailure::NoAnswer => std::future::pending().await,
    }
}

/// Graph's answers to a missing token (104) and to one it does not accept (190).
fn check_token(shared: &Shared, request: &RecordedRequest) -> Option<Response> {
    let Some(token) = request.token() else {
        return Some(graph_error(
            400,
            104,
            "An access token is required to request this resource.",
        ));
    };
    let state = shared.lock();
    let accepted = state
        .accepted_tokens
        .as_ref()
        .is_none_or(|tokens| tokens.iter().any(|t| t == token));
    (!accepted).then(|| {
        graph_error(
            400,
            190,
            "Invalid OAuth access token - Cannot parse access token",
        )
    })
}

fn subscribe(shared: &Shared, request: &RecordedRequest) -> Response {
    let fields = request
        .form_value("subscribed_fields")
        .or_else(|| request.query_value("subscribed_fields"));
    let Some(fields) = fields.filter(|f| !f.is_empty()) else {
        return graph_error(
            400,
            100,
            "(#100) The parameter subscribed_fields is required",
        );
    };
    let fields = fields.split(',').map(str::to_owned).collect();
    let id = request.account_id.clone().unwrap_or_default();
    shared.lock().subscriptions.insert(id, fields);
    json_response(200, &json!({ "success": true }))
}

fn subscribed_apps(shared: &Shared, request: &RecordedRequest) -> Response {
    let id = request.account_id.as_deref().unwrap_or_default();
    let data = match shared.lock().subscriptions.get(id) {
        Some(fields) => json!([{
            "category": "Business",
            "link": "https://hookline.example/",
            "name": MOCK_APP_NAME,
            "id": MOCK_APP_ID,
            "subscribed_fields": fields,
        }]),
        None => json!([]),
    };
    json_response(200, &json!({ "data": data }))
}

fn unsubscribe(shared: &Shared, request: &RecordedRequest) -> Response {
    let id = request.account_id.as_deref().unwrap_or_default();
    shared.lock().subscriptions.remove(id);
    json_response(200, &json!({ "success": true }))
}

fn permissions(shared: &Shared) -> Response {
    let data: Vec<Value> = shared
        .lock()
        .permissions
        .iter()
        .map(|(permission, status)| json!({ "permission": permission, "status": status }))
        .collect();
    json_response(200, &json!({ "data": data }))
}

async fn send(shared: &Shared, request: &RecordedRequest) -> Response {
    let Some(body) = request.json.clone() else {
        return graph_error(
            400,
            100,
            "(#100) The request body must be JSON with recipient and message",
        );
    };
    if !body.get("recipient").is_some_and(Value::is_object) {
        return graph_error(400, 100, "(#100) The parameter recipient is required");
    }
    if !body.get("message").is_some_and(Value::is_object) {
        return graph_error(400, 100, "(#100) The parameter message is required");
    }
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let (sent, hook) = {
        let mut state = shared.lock();
        state.next_message += 1;
        let sent = SentMessage {
            account_id: request.account_id.clone().unwrap_or_default(),
            recipient_id: body["recipient"].get("id").and_then(text),
            text: body["message"].get("text").and_then(text),
            metadata: body["message"].get("metadata").and_then(text),
            message_id: format!("m_hookline_mock_{:06}", state.next_message),
            body: body.clone(),
        };
        state.sent.push(sent.clone());
        (sent, state.send_hook.clone())
    };
    let mut answer = json!({ "message_id": sent.message_id });
    if let Some(id) = &sent.recipient_id {
        answer["recipient_id"] = id.as_str().into();
    }
    if let Some(hook) = hook {
        hook(sent).await;
    }
    json_response(200, &answer)
}

fn graph_error(status: u16, code: i64, message: &str) -> Response {
    json_response(
        status,
        &json!({ "error": { "message": message, "type": "OAuthException", "code": code, "fbtrace_id": MOCK_TRACE_ID } }),
    )
}

fn json_response(status: u16, body: &Value) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}
