//! The sign-in page: a token field, and a notice when something needs saying.

use axum::http::StatusCode;
use axum::response::Response;

const TEMPLATE: &str = include_str!("assets/signin.html");

/// What the page says above the form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Notice {
    None,
    WrongToken,
    CrossSite,
    /// The server has no admin token, so nobody can sign in: say how to set one, and show no form.
    NoToken,
}

const FORM: &str = r#"<form class="signin-form" method="post" action="/login">
      <label for="token">Admin token</label>
      <input id="token" name="token" type="password" autocomplete="current-password" required autofocus
             placeholder="the value of HOOKLINE_ADMIN_TOKEN">
      <button type="submit">Sign in</button>
    </form>"#;

/// The sign-in page with `notice`, answered with `status`.
pub(crate) fn page(status: StatusCode, notice: Notice) -> Response {
    let (message, form) = match notice {
        Notice::None => ("", FORM),
        Notice::WrongToken => (
            r#"<p class="notice error" role="alert">That token is not the admin token. Check for a typo and try again.</p>"#,
            FORM,
        ),
        Notice::CrossSite => (
            r#"<p class="notice error" role="alert">Sign in from this page, not from another site.</p>"#,
            FORM,
        ),
        Notice::NoToken => (
            r#"<div class="notice">
      <p><strong>No admin token is configured</strong>, so the inspector is locked.</p>
      <p>Start hookline with one, then reload this page:</p>
      <pre>HOOKLINE_ADMIN_TOKEN=$(openssl rand -hex 24) hookline serve</pre>
      <p>(or <code>--admin-token</code>, or <code>admin_token</code> in the config file).</p>
    </div>"#,
            "",
        ),
    };
    let body = TEMPLATE
        .replace("{{notice}}", message)
        .replace("{{form}}", form);
    super::html(status, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn without_a_token_the_page_says_how_to_set_one_and_has_no_form() {
        let page = body(page(StatusCode::OK, Notice::NoToken)).await;
        assert!(page.contains("HOOKLINE_ADMIN_TOKEN"), "{page}");
        assert!(!page.contains("<form"), "{page}");
        assert!(!page.contains("{{"), "{page}");
    }

    #[tokio::test]
    async fn a_wrong_token_shows_the_form_again_with_the_error() {
        let page = body(page(StatusCode::UNAUTHORIZED, Notice::WrongToken)).await;
        assert!(page.contains("not the admin token") && page.contains("<form"));
    }
}
