//! `GET /api/v1/openapi.json`: served without the token, OpenAPI 3.1 with the bearer scheme, and listing
//! exactly the routes the server has under `/api/v1`, each with its method.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{ADMIN_TOKEN, TestApp};

async fn document(app: &TestApp) -> Value {
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_document_is_openapi_3_1_with_the_bearer_scheme_and_needs_no_token() {
    let app = TestApp::spawn_with(|c| c.admin_token = Some(ADMIN_TOKEN.into())).await;
    let doc = document(&app).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(
        (scheme["type"].as_str(), scheme["scheme"].as_str()),
        (Some("http"), Some("bearer"))
    );
    assert_eq!(doc["security"], serde_json::json!([{ "bearer": [] }]));
    // The document itself opts out of the token; every data route keeps the global requirement.
    assert_eq!(
        doc["paths"]["/api/v1/openapi.json"]["get"]["security"],
        serde_json::json!([{}])
    );
    assert!(
        doc["paths"]["/api/v1/events"]["get"]
            .get("security")
            .is_none()
    );

    // A server without a token serves it too.
    let open = TestApp::spawn().await;
    assert_eq!(document(&open).await["paths"], doc["paths"]);
}

#[tokio::test]
async fn every_route_under_api_v1_is_documented_with_its_methods_and_nothing_else() {
    let app = TestApp::spawn_with(|c| c.admin_token = Some(ADMIN_TOKEN.into())).await;
    let doc = document(&app).await;
    let served: BTreeSet<(String, String)> = hookline_server::api::ROUTES
        .iter()
        .map(|(path, method, _)| (format!("/api/v1{path}"), method.as_str().to_lowercase()))
        .collect();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            let methods = [
                "get", "post", "put", "patch", "delete", "head", "options", "trace",
            ];
            methods
                .into_iter()
                .filter(|m| item.get(*m).is_some())
                .map(|m| (path.clone(), m.to_owned()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(documented, served);
    for (path, method) in &served {
        let operation = &doc["paths"][path][method];
        assert!(
            operation["responses"]["200"].is_object() || operation["responses"]["201"].is_object(),
            "{path} {method}: {operation}"
        );
        assert!(
            operation["summary"].is_string() || operation["description"].is_string(),
            "{path}"
        );
    }

    // Each documented route is really served: behind the token (401 without it, so the route matched) or
    // open (the document).
    for (path, method) in &served {
        let concrete = app.url(&path.replace("{id}", "1"));
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let status = app
            .client
            .request(method, concrete)
            .send()
            .await
            .unwrap()
            .status();
        let public = hookline_server::api::ROUTES
            .iter()
            .any(|(p, _, public)| *public && format!("/api/v1{p}") == *path);
        assert_eq!(status, if public { 200 } else { 401 }, "{path}");
    }
    assert_eq!(app.get("/api/v1/not-a-route").await.status(), 404);
}

#[tokio::test]
async fn list_routes_document_their_page_shape_and_parameters() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let schemas = &doc["components"]["schemas"];
    for name in ["EventItem", "DeliveryItem", "DeliveryDetail", "ErrorBody"] {
        assert!(schemas[name].is_object(), "{name} missing");
    }
    let params = |path: &str| -> Vec<String> {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    for name in [
        "kind",
        "conversation",
        "limit",
        "cursor",
        "after",
        "order",
        "raw",
    ] {
        assert!(
            params("/api/v1/events").contains(&name.to_owned()),
            "{name}"
        );
    }
    for name in ["outcome", "limit", "cursor", "order"] {
        assert!(
            params("/api/v1/deliveries").contains(&name.to_owned()),
            "{name}"
        );
    }
    assert!(params("/api/v1/stream").contains(&"Last-Event-ID".to_owned()));
    let outcome = &schemas["DeliveryItem"]["properties"]["outcome"]["$ref"];
    assert_eq!(outcome, "#/components/schemas/OutcomeName");
    assert_eq!(
        schemas["OutcomeName"]["enum"],
        serde_json::json!(["accepted", "quarantined"])
    );
}
