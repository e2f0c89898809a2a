//! Meta's subscription check: `GET /webhook?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C`.
//!
//! The answer is 200 with body exactly `C` when `T` is an accepted verify
//! token, 403 when the mode or token is wrong, 400 when the challenge is not
//! safe to reflect. The checks run in the order mode, token, challenge, so a
//! caller without the token learns nothing about the challenge rules.

use std::borrow::Cow;

use subtle::Choice;
use thiserror::Error;

use crate::secret::Secret;

const MODE: &str = "hub.mode";
const TOKEN: &str = "hub.verify_token";
const CHALLENGE: &str = "hub.challenge";
const SUBSCRIBE: &str = "subscribe";

/// Longest challenge that is reflected back, in characters.
pub const MAX_CHALLENGE_LEN: usize = 256;

/// Answers the subscription check for a set of accepted verify tokens.
///
/// Several tokens are accepted because different products (Page, Instagram)
/// or several apps pointed at one URL may each use their own. Empty tokens are
/// dropped: an empty token would let anyone pass with `hub.verify_token=`.
#[derive(Debug, Clone)]
pub struct Handshake {
    tokens: Vec<Secret>,
}

/// What to answer to a subscription check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeOutcome {
    /// 200, `text/plain`, body exactly `challenge`.
    Accept {
        /// The validated `hub.challenge`, 1–256 characters of `[A-Za-z0-9._-]`.
        challenge: String,
    },
    /// 403: wrong or missing mode or token, or no token configured.
    Forbidden(HandshakeError),
    /// 400: the challenge is missing or unsafe to reflect, or a parameter is
    /// ambiguous.
    BadRequest(HandshakeError),
}

impl HandshakeOutcome {
    /// The HTTP status code to answer with.
    pub fn status(&self) -> u16 {
        match self {
            HandshakeOutcome::Accept { .. } => 200,
            HandshakeOutcome::Forbidden(_) => 403,
            HandshakeOutcome::BadRequest(_) => 400,
        }
    }

    /// The reason for a refusal, `None` when accepted.
    pub fn error(&self) -> Option<&HandshakeError> {
        match self {
            HandshakeOutcome::Accept { .. } => None,
            HandshakeOutcome::Forbidden(err) | HandshakeOutcome::BadRequest(err) => Some(err),
        }
    }

    fn refuse(err: HandshakeError) -> Self {
        if err.is_auth_failure() {
            HandshakeOutcome::Forbidden(err)
        } else {
            HandshakeOutcome::BadRequest(err)
        }
    }
}

/// Why a subscription check was refused.
///
/// No message echoes the submitted token, mode or challenge: they are
/// caller-controlled and would otherwise end up verbatim in logs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HandshakeError {
    /// `hub.mode` is absent.
    #[error(
        "the query has no hub.mode parameter; Meta's subscription check sends hub.mode=subscribe \
         — make sure the full query string reaches hookline"
    )]
    ModeMissing,
    /// `hub.mode` is not `subscribe`.
    #[error(
        "hub.mode is not `subscribe`; only Meta's subscription check (hub.mode=subscribe) is \
         answered on GET"
    )]
    ModeWrong,
    /// No (non-empty) verify token is configured.
    #[error(
        "no verify token is configured; set HOOKLINE_VERIFY_TOKEN to the verify token entered \
         in the App Dashboard webhook settings"
    )]
    NoTokensConfigured,
    /// `hub.verify_token` is absent or empty.
    #[error(
        "the query has no (or an empty) hub.verify_token parameter; Meta sends the verify token \
         entered in the App Dashboard — make sure the full query string reaches hookline"
    )]
    TokenMissing,
    /// `hub.verify_token` matches no configured token.
    #[error(
        "hub.verify_token matches none of the {tokens_tried} configured verify token(s); make \
         HOOKLINE_VERIFY_TOKEN and the App Dashboard's verify token field identical (case and \
         whitespace count)"
    )]
    TokenWrong {
        /// How many configured tokens were compared.
        tokens_tried: usize,
    },
    /// A parameter occurs more than once with different values.
    #[error(
        "the query has {param} more than once with different values, so it is ambiguous; send \
         it exactly once"
    )]
    Ambiguous {
        /// The repeated parameter, e.g. `hub.challenge`.
        param: &'static str,
    },
    /// `hub.challenge` is absent.
    #[error(
        "the query has no hub.challenge parameter; Meta always sends one — make sure the full \
         query string reaches hookline"
    )]
    ChallengeMissing,
    /// `hub.challenge` is present but empty.
    #[error("hub.challenge is empty; it must be 1–256 characters of A–Z, a–z, 0–9, '.', '_', '-'")]
    ChallengeEmpty,
    /// `hub.challenge` is longer than [`MAX_CHALLENGE_LEN`] characters.
    #[error(
        "hub.challenge is {len} characters long; at most 256 characters of A–Z, a–z, 0–9, '.', \
         '_', '-' are reflected (Meta sends a short number)"
    )]
    ChallengeTooLong {
        /// Length of the submitted challenge in characters.
        len: usize,
    },
    /// `hub.challenge` contains a character that is not reflected.
    #[error(
        "hub.challenge has a character other than A–Z, a–z, 0–9, '.', '_', '-' at position {}; \
         such challenges are refused so the endpoint cannot reflect arbitrary content",
        .position + 1
    )]
    ChallengeInvalid {
        /// Zero-based character position of the first invalid character.
        position: usize,
    },
}

impl HandshakeError {
    /// A short, stable label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            HandshakeError::ModeMissing => "mode_missing",
            HandshakeError::ModeWrong => "mode_wrong",
            HandshakeError::NoTokensConfigured => "no_tokens",
            HandshakeError::TokenMissing => "token_missing",
            HandshakeError::TokenWrong { .. } => "token_wrong",
            HandshakeError::Ambiguous { .. } => "ambiguous",
            HandshakeError::ChallengeMissing => "challenge_missing",
            HandshakeError::ChallengeEmpty => "challenge_empty",
            HandshakeError::ChallengeTooLong { .. } => "challenge_too_long",
            HandshakeError::ChallengeInvalid { .. } => "challenge_invalid",
        }
    }

    /// Whether the error means "not authorised" (403) rather than "bad
    /// request" (400).
    fn is_auth_failure(&self) -> bool {
        matches!(
            self,
            HandshakeError::ModeMissing
                | HandshakeError::ModeWrong
                | HandshakeError::NoTokensConfigured
                | HandshakeError::TokenMissing
                | HandshakeError::TokenWrong { .. }
        )
    }
}

impl Handshake {
    /// Accepts any of `tokens` (empty ones are dropped).
    pub fn new(tokens: Vec<Secret>) -> Self {
        let tokens = tokens.into_iter().filter(|t| !t.is_empty()).collect();
        Self { tokens }
    }

    /// Answers a subscription check. `raw_query` is the still percent-encoded
    /// part of the URL after `?` (a leading `?` is tolerated).
    pub fn answer(&self, raw_query: &str) -> HandshakeOutcome {
        match self.check(raw_query) {
            Ok(challenge) => HandshakeOutcome::Accept { challenge },
            Err(err) => HandshakeOutcome::refuse(err),
        }
    }

    fn check(&self, raw_query: &str) -> Result<String, HandshakeError> {
        let query = Query::parse(raw_query);
        check_mode(query.mode)?;
        self.check_token(query.token)?;
        check_challenge(query.challenge)
    }

    fn check_token(&self, token: Param) -> Result<(), HandshakeError> {
        if self.tokens.is_empty() {
            return Err(HandshakeError::NoTokensConfigured);
        }
        let submitted = token
            .single(TOKEN)?
            .filter(|t| !t.is_empty())
            .ok_or(HandshakeError::TokenMissing)?;
        if self.accepts(&submitted) {
            Ok(())
        } else {
            Err(HandshakeError::TokenWrong {
                tokens_tried: self.tokens.len(),
            })
        }
    }

    /// Compares with every token, without stopping at a match, so the timing
    /// does not reveal which token (or whether an early one) matched.
    fn accepts(&self, submitted: &str) -> bool {
        let matched = self.tokens.iter().fold(Choice::from(0), |acc, token| {
            acc | token.ct_eq_choice(submitted.as_bytes())
        });
        matched.into()
    }
}

fn check_mode(mode: Param) -> Result<(), HandshakeError> {
    match mode.single(MODE)? {
        None => Err(HandshakeError::ModeMissing),
        Some(mode) if mode == SUBSCRIBE => Ok(()),
        Some(_) => Err(HandshakeError::ModeWrong),
    }
}

fn check_challenge(challenge: Param) -> Result<String, HandshakeError> {
    let challenge = challenge
        .single(CHALLENGE)?
        .ok_or(HandshakeError::ChallengeMissing)?;
    validate_challenge(&challenge)?;
    Ok(challenge)
}

/// The challenge is reflected verbatim, so only a harmless alphabet passes.
fn validate_challenge(challenge: &str) -> Result<(), HandshakeError> {
    if challenge.is_empty() {
        return Err(HandshakeError::ChallengeEmpty);
    }
    let len = challenge.chars().count();
    if len > MAX_CHALLENGE_LEN {
        return Err(HandshakeError::ChallengeTooLong { len });
    }
    match challenge.chars().position(|c| !is_challenge_char(c)) {
        Some(position) => Err(HandshakeError::ChallengeInvalid { position }),
        None => Ok(()),
    }
}

fn is_challenge_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// The values seen for one query parameter.
#[derive(Debug, Default)]
enum Param {
    #[default]
    Absent,
    One(String),
    /// Seen with at least two different values.
    Conflicting,
}

impl Param {
    fn add(&mut self, value: Cow<'_, str>) {
        // Both values are caller-supplied, so a plain `==` leaks nothing.
        *self = match std::mem::take(self) {
            Param::Absent => Param::One(value.into_owned()),
            Param::One(first) if first == value => Param::One(first),
            Param::One(_) | Param::Conflicting => Param::Conflicting,
        };
    }

    /// The value if given at most once (or repeated identically).
    fn single(self, name: &'static str) -> Result<Option<String>, HandshakeError> {
        match self {
            Param::Absent => Ok(None),
            Param::One(value) => Ok(Some(value)),
            Param::Conflicting => Err(HandshakeError::Ambiguous { param: name }),
        }
    }
}

/// The three handshake parameters of a query string; others are ignored.
#[derive(Debug, Default)]
struct Query {
    mode: Param,
    token: Param,
    challenge: Param,
}

impl Query {
    fn parse(raw_query: &str) -> Self {
        let raw_query = raw_query.strip_prefix('?').unwrap_or(raw_query);
        let mut query = Query::default();
        for (name, value) in form_urlencoded::parse(raw_query.as_bytes()) {
            match name.as_ref() {
                MODE => query.mode.add(value),
                TOKEN => query.token.add(value),
                CHALLENGE => query.challenge.add(value),
                _ => {}
            }
        }
        query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake(tokens: &[&str]) -> Handshake {
        Handshake::new(tokens.iter().copied().map(Secret::from).collect())
    }

    fn answer(query: &str) -> HandshakeOutcome {
        handshake(&["tok"]).answer(query)
    }

    fn refusal(query: &str) -> (u16, HandshakeError) {
        let outcome = answer(query);
        let err = outcome.error().cloned().expect("refused");
        (outcome.status(), err)
    }

    #[test]
    fn accepts_a_correct_check_and_returns_the_challenge() {
        let outcome = answer("hub.mode=subscribe&hub.verify_token=tok&hub.challenge=1158201444");
        assert_eq!(outcome.status(), 200);
        assert_eq!(
            outcome,
            HandshakeOutcome::Accept {
                challenge: "1158201444".into()
            }
        );
        assert_eq!(outcome.error(), None);
    }

    #[test]
    fn accepts_parameters_in_any_order_among_others() {
        let outcome = answer("x=1&hub.challenge=abc&hub.verify_token=tok&y&hub.mode=subscribe");
        assert_eq!(outcome.status(), 200);
    }

    #[test]
    fn tolerates_a_leading_question_mark() {
        let outcome = answer("?hub.mode=subscribe&hub.verify_token=tok&hub.challenge=1");
        assert_eq!(outcome.status(), 200);
    }

    #[test]
    fn percent_decodes_the_token_and_challenge() {
        let outcome = handshake(&["a b&c"])
            .answer("hub.mode=subscribe&hub.verify_token=a+b%26c&hub.challenge=%41-1");
        assert_eq!(
            outcome,
            HandshakeOutcome::Accept {
                challenge: "A-1".into()
            }
        );
    }

    #[test]
    fn accepts_the_full_challenge_alphabet() {
        let outcome = answer("hub.mode=subscribe&hub.verify_token=tok&hub.challenge=aZ09._-");
        assert_eq!(outcome.status(), 200);
    }

    #[test]
    fn accepts_any_of_several_tokens() {
        let shake = handshake(&["page-token", "ig-token"]);
        for token in ["page-token", "ig-token"] {
            let query = format!("hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1");
            assert_eq!(shake.answer(&query).status(), 200, "{token}");
        }
    }

    #[test]
    fn forbids_a_missing_mode() {
        assert_eq!(
            refusal("hub.verify_token=tok&hub.challenge=1"),
            (403, HandshakeError::ModeMissing)
        );
    }

    #[test]
    fn forbids_a_wrong_mode() {
        for mode in ["unsubscribe", "Subscribe", "", "subscribe%20"] {
            let query = format!("hub.mode={mode}&hub.verify_token=tok&hub.challenge=1");
            assert_eq!(refusal(&query), (403, HandshakeError::ModeWrong), "{mode}");
        }
    }

    #[test]
    fn forbids_a_missing_token() {
        assert_eq!(
            refusal("hub.mode=subscribe&hub.challenge=1"),
            (403, HandshakeError::TokenMissing)
        );
    }

    #[test]
    fn forbids_an_empty_token() {
        assert_eq!(
            refusal("hub.mode=subscribe&hub.verify_token=&hub.challenge=1"),
            (403, HandshakeError::TokenMissing)
        );
    }

    #[test]
    fn forbids_a_wrong_token() {
        for token in ["tok2", "to", "TOK", "tok%20"] {
            let query = format!("hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1");
            assert_eq!(
                refusal(&query),
                (403, HandshakeError::TokenWrong { tokens_tried: 1 }),
                "{token}"
            );
        }
    }

    #[test]
    fn forbids_everything_when_no_token_is_configured() {
        let outcome = handshake(&[]).answer("hub.mode=subscribe&hub.verify_token=&hub.challenge=1");
        assert_eq!(outcome.status(), 403);
        let err = outcome.error().expect("refused");
        assert_eq!(err, &HandshakeError::NoTokensConfigured);
        assert!(err.to_string().contains("set HOOKLINE_VERIFY_TOKEN"));
    }

    #[test]
    fn drops_empty_configured_tokens() {
        let outcome =
            handshake(&[""]).answer("hub.mode=subscribe&hub.verify_token=&hub.challenge=1");
        assert_eq!(outcome.error(), Some(&HandshakeError::NoTokensConfigured));
        let outcome = handshake(&["", "tok"]).answer("hub.mode=subscribe&hub.verify_token=x");
        assert_eq!(
            outcome.error(),
            Some(&HandshakeError::TokenWrong { tokens_tried: 1 })
        );
    }

    #[test]
    fn rejects_a_missing_challenge() {
        assert_eq!(
            refusal("hub.mode=subscribe&hub.verify_token=tok"),
            (400, HandshakeError::ChallengeMissing)
        );
    }

    #[test]
    fn rejects_an_empty_challenge() {
        assert_eq!(
            refusal("hub.mode=subscribe&hub.verify_token=tok&hub.challenge="),
            (400, HandshakeError::ChallengeEmpty)
        );
    }

    #[test]
    fn accepts_a_256_character_challenge() {
        let query = format!(
            "hub.mode=subscribe&hub.verify_token=tok&hub.challenge={}",
            "9".repeat(256)
        );
        assert_eq!(answer(&query).status(), 200);
    }

    #[test]
    fn rejects_a_257_character_challenge_without_echoing_it() {
        let challenge = "9".repeat(257);
        let query = format!("hub.mode=subscribe&hub.verify_token=tok&hub.challenge={challenge}");
        let (status, err) = refusal(&query);
        assert_eq!(
            (status, &err),
            (400, &HandshakeError::ChallengeTooLong { len: 257 })
        );
        assert!(!err.to_string().contains(&challenge));
    }

    #[test]
    fn rejects_challenges_with_characters_outside_the_alphabet() {
        for (challenge, position) in [
            ("%3Cscript%3E", 0),
            ("12+3", 2),
            ("ab%2F", 2),
            ("1%0A2", 1),
            ("%C3%A9", 0),
        ] {
            let query =
                format!("hub.mode=subscribe&hub.verify_token=tok&hub.challenge={challenge}");
            assert_eq!(
                refusal(&query),
                (400, HandshakeError::ChallengeInvalid { position }),
                "{challenge}"
            );
        }
    }

    #[test]
    fn counts_challenge_length_in_characters() {
        let query = format!(
            "hub.mode=subscribe&hub.verify_token=tok&hub.challenge={}",
            "%C3%A9".repeat(200)
        );
        assert_eq!(
            refusal(&query),
            (400, HandshakeError::ChallengeInvalid { position: 0 })
        );
    }

    #[test]
    fn checks_the_mode_before_the_token() {
        assert_eq!(
            refusal("hub.mode=x&hub.verify_token=wrong&hub.challenge=1"),
            (403, HandshakeError::ModeWrong)
        );
    }

    #[test]
    fn checks_the_token_before_the_challenge() {
        assert_eq!(
            refusal("hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=%3C"),
            (403, HandshakeError::TokenWrong { tokens_tried: 1 })
        );
        assert_eq!(
            refusal("hub.mode=subscribe&hub.challenge=%3C"),
            (403, HandshakeError::TokenMissing)
        );
    }

    #[test]
    fn a_parameter_repeated_with_the_same_value_is_fine() {
        let outcome = answer(
            "hub.mode=subscribe&hub.mode=subscribe&hub.verify_token=tok&hub.verify_token=tok\
             &hub.challenge=1&hub.challenge=1",
        );
        assert_eq!(outcome.status(), 200);
    }

    #[test]
    fn a_challenge_repeated_with_different_values_is_ambiguous() {
        assert_eq!(
            refusal("hub.mode=subscribe&hub.verify_token=tok&hub.challenge=1&hub.challenge=2"),
            (400, HandshakeError::Ambiguous { param: CHALLENGE })
        );
    }

    #[test]
    fn a_token_repeated_with_different_values_is_ambiguous_even_if_one_is_right() {
        assert_eq!(
            refusal("hub.mode=subscribe&hub.verify_token=tok&hub.verify_token=x&hub.challenge=1"),
            (400, HandshakeError::Ambiguous { param: TOKEN })
        );
    }

    #[test]
    fn a_mode_repeated_with_different_values_is_ambiguous() {
        assert_eq!(
            refusal("hub.mode=subscribe&hub.mode=x&hub.verify_token=tok&hub.challenge=1"),
            (400, HandshakeError::Ambiguous { param: MODE })
        );
    }

    #[test]
    fn a_third_differing_value_keeps_the_parameter_ambiguous() {
        assert_eq!(
            refusal(
                "hub.mode=subscribe&hub.verify_token=tok&hub.challenge=1&hub.challenge=2&hub.challenge=1"
            ),
            (400, HandshakeError::Ambiguous { param: CHALLENGE })
        );
    }

    #[test]
    fn percent_encoded_names_are_decoded() {
        let outcome = answer("hub%2Emode=subscribe&hub.verify_token=tok&hub.challenge=1");
        assert_eq!(outcome.status(), 200);
    }

    #[test]
    fn php_style_underscored_names_are_not_accepted() {
        assert_eq!(
            refusal("hub_mode=subscribe&hub_verify_token=tok&hub_challenge=1"),
            (403, HandshakeError::ModeMissing)
        );
    }

    #[test]
    fn messages_never_echo_the_submitted_token() {
        let secretish = "my-guess-at-the-token";
        let query = format!("hub.mode=subscribe&hub.verify_token={secretish}&hub.challenge=1");
        let (_, err) = refusal(&query);
        assert!(!err.to_string().contains(secretish));
        assert!(!format!("{err:?}").contains(secretish));
    }

    #[test]
    fn handshake_debug_never_shows_configured_tokens() {
        let debug = format!("{:?}", handshake(&["hunter2"]));
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn invalid_position_is_reported_one_based() {
        let err = HandshakeError::ChallengeInvalid { position: 0 };
        assert!(err.to_string().contains("at position 1;"), "{err}");
    }

    #[test]
    fn statuses_follow_the_contract() {
        assert_eq!(
            HandshakeOutcome::Accept {
                challenge: "1".into()
            }
            .status(),
            200
        );
        assert_eq!(
            HandshakeOutcome::Forbidden(HandshakeError::ModeWrong).status(),
            403
        );
        assert_eq!(
            HandshakeOutcome::BadRequest(HandshakeError::ChallengeEmpty).status(),
            400
        );
    }
}
