//! Requests refused before they are sent: ids that cannot be a path segment, field lists Graph would
//! reject, and messages over Meta's limits (see [`crate::send`] for where each limit comes from).

use crate::fields::field_problem;
use crate::send::{
    MAX_INSTAGRAM_TEXT_BYTES, MAX_METADATA_CHARS, MAX_QUICK_REPLIES, MAX_QUICK_REPLY_PAYLOAD_CHARS,
    MAX_QUICK_REPLY_TITLE_CHARS, MAX_TEXT_CHARS,
};

/// A request that was not sent because Graph would refuse it, or because it could go somewhere else
/// than intended.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidRequest {
    #[error(
        "the {what} {id:?} cannot be used in a Graph path: {reason}; pass the numeric id from the App Dashboard or a webhook's entry.id (or `me`)"
    )]
    BadId {
        what: &'static str,
        id: String,
        reason: &'static str,
    },
    #[error(
        "no subscribed_fields were given: name at least one field, or unsubscribe to remove the app from the account"
    )]
    NoFields,
    #[error(
        "the webhook field {field:?} is not valid: {reason}; use names like messages or message_echoes"
    )]
    BadField { field: String, reason: &'static str },
    #[error(
        "the message text is empty: Meta requires non-empty text, so write some or send an attachment instead"
    )]
    EmptyText,
    #[error(
        "the message text has {chars} characters but Messenger takes at most {MAX_TEXT_CHARS}: split it into several messages"
    )]
    TextTooLong { chars: usize },
    #[error(
        "the message text is {bytes} bytes of UTF-8 but Instagram takes at most {MAX_INSTAGRAM_TEXT_BYTES}: shorten it or split it into several messages"
    )]
    InstagramTextTooLong { bytes: usize },
    #[error(
        "{count} quick replies were given but Meta shows at most {MAX_QUICK_REPLIES}: drop some"
    )]
    TooManyQuickReplies { count: usize },
    #[error(
        "quick reply {index} has the title {title:?} of {chars} characters but Meta allows {MAX_QUICK_REPLY_TITLE_CHARS}: shorten it"
    )]
    QuickReplyTitleTooLong {
        index: usize,
        title: String,
        chars: usize,
    },
    #[error(
        "quick reply {index} has no title: give it the text shown on the button (or an image_url)"
    )]
    QuickReplyTitleEmpty { index: usize },
    #[error(
        "quick reply {index} has a payload of {chars} characters but Meta allows {MAX_QUICK_REPLY_PAYLOAD_CHARS}: keep an id in the payload and the data on your side"
    )]
    QuickReplyPayloadTooLong { index: usize, chars: usize },
    #[error(
        "quick reply {index} has an empty payload: give it one, since Meta allows an empty payload only with an image_url"
    )]
    QuickReplyPayloadEmpty { index: usize },
    #[error(
        "the metadata has {chars} characters but Meta allows {MAX_METADATA_CHARS}: keep an id in it and the data on your side"
    )]
    MetadataTooLong { chars: usize },
    #[error(
        "the URL {url:?} is not usable ({reason}): give an http or https URL that Meta can download"
    )]
    BadUrl { url: String, reason: String },
    #[error("the attachment_id is empty: give the id Graph returned for the uploaded attachment")]
    EmptyAttachmentId,
    #[error(
        "the recipient {what} is empty: give the PSID or IGSID from the person's webhook events"
    )]
    EmptyRecipient { what: &'static str },
    #[error(
        "the message tag {tag:?} is not spelled as Meta spells tags (uppercase letters and underscores, like HUMAN_AGENT)"
    )]
    BadTag { tag: String },
}

/// Checks an id that becomes one path segment, so that it cannot add segments, a query or a fragment.
pub(crate) fn check_id(what: &'static str, id: &str) -> Result<(), InvalidRequest> {
    let bad = |reason| InvalidRequest::BadId {
        what,
        id: id.to_owned(),
        reason,
    };
    if id.is_empty() {
        return Err(bad("it is empty"));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(bad("ids are letters, digits, '_' and '-' only"));
    }
    Ok(())
}

/// `a,b,c` for `subscribed_fields`, after checking every name.
pub(crate) fn join_fields<S: AsRef<str>>(fields: &[S]) -> Result<String, InvalidRequest> {
    if fields.is_empty() {
        return Err(InvalidRequest::NoFields);
    }
    let mut joined = String::new();
    for field in fields {
        let field = field.as_ref();
        if let Some(reason) = field_problem(field) {
            return Err(InvalidRequest::BadField {
                field: field.to_owned(),
                reason,
            });
        }
        if !joined.is_empty() {
            joined.push(',');
        }
        joined.push_str(field);
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_cannot_escape_their_path_segment() {
        assert!(check_id("Page id", "1755847768034402").is_ok());
        assert!(check_id("Instagram account id", "me").is_ok());
        for bad in ["", "123/subscribed_apps", "123?x=1", "12#3", "../me", "1 2"] {
            let err = check_id("Page id", bad).unwrap_err();
            assert!(matches!(err, InvalidRequest::BadId { .. }), "{bad}");
        }
    }

    #[test]
    fn fields_are_checked_and_joined_with_commas() {
        assert_eq!(
            join_fields(&["messages", "standby"]).unwrap(),
            "messages,standby"
        );
        assert_eq!(join_fields::<&str>(&[]), Err(InvalidRequest::NoFields));
        let err = join_fields(&["messages", "Message Reads"]).unwrap_err();
        assert!(
            matches!(err, InvalidRequest::BadField { ref field, .. } if field == "Message Reads")
        );
    }
}
