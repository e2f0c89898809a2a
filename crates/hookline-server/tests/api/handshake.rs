//! GET /webhook: Meta's subscription check (CONTRACTS.md section 3).

use crate::helpers::{TOKEN, TestApp};

#[tokio::test]
async fn an_accepted_token_gets_the_challenge_back_as_plain_text() {
    let app = TestApp::spawn().await;
    let response = app
        .get(&format!(
            "/webhook?hub.mode=subscribe&hub.verify_token={TOKEN}&hub.challenge=1158201444"
        ))
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(response.text().await.unwrap(), "1158201444");
}

#[tokio::test]
async fn wrong_mode_or_token_is_403_and_a_bad_challenge_is_400() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            format!("/webhook?hub.mode=unsubscribe&hub.verify_token={TOKEN}&hub.challenge=abc"),
            403,
        ),
        (
            "/webhook?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=abc".to_owned(),
            403,
        ),
        (
            "/webhook?hub.mode=subscribe&hub.challenge=abc".to_owned(),
            403,
        ),
        ("/webhook".to_owned(), 403),
        (
            format!(
                "/webhook?hub.mode=subscribe&hub.verify_token={TOKEN}&hub.challenge=%3Cscript%3E"
            ),
            400,
        ),
        (
            format!("/webhook?hub.mode=subscribe&hub.verify_token={TOKEN}"),
            400,
        ),
        (
            format!(
                "/webhook?hub.mode=subscribe&hub.verify_token={TOKEN}&hub.challenge={}",
                "a".repeat(257)
            ),
            400,
        ),
    ];
    for (path, status) in cases {
        let response = app.get(&path).await;
        assert_eq!(response.status(), status, "{path}");
        let text = response.text().await.unwrap();
        assert!(!text.contains(TOKEN), "{path} echoes the token");
        assert!(!text.contains("<script"), "{path} reflects the challenge");
    }
}

#[tokio::test]
async fn without_a_verify_token_every_handshake_is_refused() {
    let app = TestApp::spawn_with(|c| c.verify_token.clear()).await;
    let response = app
        .get("/webhook?hub.mode=subscribe&hub.verify_token=&hub.challenge=abc")
        .await;
    assert_eq!(response.status(), 403);
}
