//! Per-app routes: `/webhook/{app}` with the app's own secret and verify token.

use hookline_meta::signature::sign;
use hookline_server::config::AppConfig;

use crate::helpers::{SECRET, TestApp, message};

fn with_shop(config: &mut hookline_server::Config) {
    config.apps.push(AppConfig {
        name: "shop".into(),
        app_secret: vec!["shop-secret".into()],
        verify_token: vec!["shop-token".into()],
        app_id: vec!["555".into()],
    });
}

#[tokio::test]
async fn an_app_route_verifies_with_its_own_secret_and_records_the_app() {
    let app = TestApp::spawn_with(with_shop).await;
    let body = message("m.shop");
    let shop_signature = sign(b"shop-secret", &body);
    let default_signature = sign(SECRET.as_bytes(), &body);
    let on = |path, signature: &str| {
        let signature = signature.to_owned();
        let app = &app;
        let body = body.clone();
        async move {
            app.post(path, &body, &[("x-hub-signature-256", &signature)])
                .await
                .status()
                .as_u16()
        }
    };
    assert_eq!(on("/webhook/shop", &default_signature).await, 401);
    assert_eq!(on("/webhook", &shop_signature).await, 401);
    assert_eq!(on("/webhook/shop", &shop_signature).await, 200);
    assert_eq!(on("/webhook/nope", &shop_signature).await, 404);
    let deliveries = app.deliveries().await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].app.as_deref(), Some("shop"));
}

#[tokio::test]
async fn an_app_route_answers_the_handshake_with_its_own_token() {
    let app = TestApp::spawn_with(with_shop).await;
    let ok = app
        .get("/webhook/shop?hub.mode=subscribe&hub.verify_token=shop-token&hub.challenge=42")
        .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "42");
    let wrong = app
        .get("/webhook/shop?hub.mode=subscribe&hub.verify_token=test-verify-token&hub.challenge=42")
        .await;
    assert_eq!(wrong.status(), 403);
}

#[tokio::test]
async fn an_app_route_classifies_its_own_echoes_as_this_app() {
    let app = TestApp::spawn_with(with_shop).await;
    let body = br#"{"object":"page","entry":[{"id":"100","time":1,"messaging":[{"sender":{"id":"100"},"recipient":{"id":"7"},"timestamp":1,"message":{"mid":"m.echo","is_echo":true,"app_id":555,"text":"hi"}}]}]}"#;
    let signature = sign(b"shop-secret", body);
    let response = app
        .post(
            "/webhook/shop",
            body,
            &[("x-hub-signature-256", &signature)],
        )
        .await;
    assert_eq!(response.status(), 200);
    let events = app.events().await;
    assert_eq!(events[0].kind, "message_echo");
    assert_eq!(events[0].conversation_key.as_deref(), Some("page:100:7"));
}

#[tokio::test]
async fn with_only_app_routes_the_default_route_says_where_to_post() {
    let app = TestApp::spawn_with(|c| {
        c.app_secret.clear();
        with_shop(c);
    })
    .await;
    let response = app.post_signed(&message("m.x")).await;
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("/webhook/{app}"));
}
