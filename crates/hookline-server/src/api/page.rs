//! What every list route shares: page size, where a page starts, and the `{"items", "next_cursor"}`
//! answer (CONTRACTS.md section 6).
//!
//! A cursor is opaque to clients: the hex of `v1:<order>:<id>`, the order of the listing and the id of
//! the last row sent. It is versioned, so that if its content ever changes an old cursor is refused with
//! a clear message rather than misread.

use serde::Serialize;
use utoipa::ToSchema;

use crate::api::error::ApiError;

pub(crate) const DEFAULT_LIMIT: usize = 50;
pub(crate) const MAX_LIMIT: usize = 500;

/// One page of a list route.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `?cursor=` for the next page; null when this page reached the end.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page of at most `limit` rows from `rows`, which the caller read with a limit of `limit + 1`:
    /// the extra row only tells that there is more, so the last page never points at an empty one.
    pub fn from_rows<R>(
        mut rows: Vec<R>,
        limit: usize,
        order: Order,
        id: impl Fn(&R) -> i64,
        item: impl Fn(&R) -> T,
    ) -> Page<T> {
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = match rows.last() {
            Some(last) if more => Some(
                Cursor {
                    order,
                    id: id(last),
                }
                .encode(),
            ),
            _ => None,
        };
        Page {
            items: rows.iter().map(item).collect(),
            next_cursor,
        }
    }
}

/// `?limit=`: 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
pub(crate) fn limit(raw: Option<&str>) -> Result<usize, ApiError> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(DEFAULT_LIMIT);
    };
    match raw.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::BadRequest(format!(
            "limit={raw:?} is not usable: give a whole number from 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})"
        ))),
    }
}

/// The order of a listing by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    /// Oldest first (the default).
    Asc,
    /// Newest first.
    Desc,
}

impl Order {
    fn as_str(self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        }
    }

    fn from_name(name: &str) -> Option<Order> {
        match name {
            "asc" => Some(Order::Asc),
            "desc" => Some(Order::Desc),
            _ => None,
        }
    }
}

/// Where a page starts: `?order=`, then `?cursor=` (the next page of a listing) or `?after=ID` (rows
/// with a greater id: what a follower asks for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Position {
    pub order: Order,
    /// Rows with a greater id only.
    pub after_id: Option<i64>,
    /// Rows with a smaller id only (continuing a newest-first listing).
    pub before_id: Option<i64>,
}

impl Position {
    pub fn parse(
        order: Option<&str>,
        cursor: Option<&str>,
        after: Option<&str>,
    ) -> Result<Position, ApiError> {
        let bad = |msg: String| Err(ApiError::BadRequest(msg));
        let order = match order.filter(|o| !o.is_empty()) {
            None => None,
            Some(name) => match Order::from_name(name) {
                Some(order) => Some(order),
                None => return bad(format!("order={name:?} is not usable: give asc or desc")),
            },
        };
        let cursor = cursor.filter(|c| !c.is_empty());
        let after = after.filter(|a| !a.is_empty());
        match (cursor, after) {
            (Some(_), Some(_)) => bad(
                "give cursor or after, not both: cursor continues a listing, after starts one past an id"
                    .to_owned(),
            ),
            (Some(cursor), None) => {
                let cursor = Cursor::decode(cursor)?;
                if order.is_some_and(|o| o != cursor.order) {
                    return bad(format!(
                        "this cursor continues a listing in {} order; leave out order= or start again without cursor",
                        cursor.order.as_str()
                    ));
                }
                Ok(cursor.position())
            }
            (None, after) => {
                let order = order.unwrap_or(Order::Asc);
                let after_id = after.map(parse_after).transpose()?;
                if after_id.is_some() && order == Order::Desc {
                    return bad(
                        "after= reads forwards (oldest first); with order=desc, page with cursor"
                            .to_owned(),
                    );
                }
                Ok(Position {
                    order,
                    after_id,
                    before_id: None,
                })
            }
        }
    }
}

pub(crate) fn parse_after(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id >= 0)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "after={raw:?} is not usable: give the id of a row (a whole number, 0 for the beginning)"
            ))
        })
}

/// The content of an opaque cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cursor {
    order: Order,
    /// The id of the last row already sent.
    id: i64,
}

impl Cursor {
    fn encode(self) -> String {
        hex::encode(format!("v1:{}:{}", self.order.as_str(), self.id))
    }

    fn decode(raw: &str) -> Result<Cursor, ApiError> {
        let parsed = hex::decode(raw)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| {
                let mut parts = text.strip_prefix("v1:")?.split(':');
                let order = Order::from_name(parts.next()?)?;
                let id = parts.next()?.parse::<i64>().ok()?;
                parts.next().is_none().then_some(Cursor { order, id })
            });
        parsed.ok_or_else(|| {
            ApiError::BadRequest(
                "cursor is not one this server issued; pass next_cursor from the previous page unchanged"
                    .to_owned(),
            )
        })
    }

    fn position(self) -> Position {
        match self.order {
            Order::Asc => Position {
                order: Order::Asc,
                after_id: Some(self.id),
                before_id: None,
            },
            Order::Desc => Position {
                order: Order::Desc,
                after_id: None,
                before_id: Some(self.id),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(err: ApiError) -> String {
        err.to_string()
    }

    #[test]
    fn limit_defaults_to_50_and_refuses_0_and_more_than_500() {
        assert_eq!(limit(None).unwrap(), 50);
        assert_eq!(limit(Some("500")).unwrap(), 500);
        for bad in ["0", "501", "-1", "ten"] {
            assert!(
                message(limit(Some(bad)).unwrap_err()).contains("1 to 500"),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_cursor_continues_in_the_order_it_was_issued_for() {
        let asc = Cursor {
            order: Order::Asc,
            id: 42,
        }
        .encode();
        assert_eq!(
            Position::parse(None, Some(&asc), None).unwrap(),
            Position {
                order: Order::Asc,
                after_id: Some(42),
                before_id: None
            }
        );
        let desc = Cursor {
            order: Order::Desc,
            id: 7,
        }
        .encode();
        assert_eq!(
            Position::parse(Some("desc"), Some(&desc), None).unwrap(),
            Position {
                order: Order::Desc,
                after_id: None,
                before_id: Some(7)
            }
        );
        let err = message(Position::parse(Some("asc"), Some(&desc), None).unwrap_err());
        assert!(err.contains("desc order"), "{err}");
    }

    #[test]
    fn cursors_that_were_not_issued_are_refused_with_a_reason() {
        for bad in [
            "zz",
            "42",
            &hex::encode("v2:asc:1"),
            &hex::encode("v1:asc:x"),
            &hex::encode("v1:asc:1:2"),
        ] {
            let err = message(Position::parse(None, Some(bad), None).unwrap_err());
            assert!(err.contains("not one this server issued"), "{bad}: {err}");
        }
    }

    #[test]
    fn after_is_an_id_and_excludes_a_cursor_and_newest_first() {
        assert_eq!(
            Position::parse(None, None, Some("9")).unwrap().after_id,
            Some(9)
        );
        for (order, cursor, after, hint) in [
            (None, None, Some("-3"), "whole number"),
            (None, None, Some("x"), "whole number"),
            (None, Some("00"), Some("3"), "not both"),
            (Some("desc"), None, Some("3"), "with order=desc"),
            (Some("newest"), None, None, "asc or desc"),
        ] {
            let err = message(Position::parse(order, cursor, after).unwrap_err());
            assert!(err.contains(hint), "{err}");
        }
    }

    #[test]
    fn a_page_points_further_only_when_a_row_was_left_over() {
        let page = Page::from_rows(vec![1, 2, 3], 2, Order::Asc, |r| *r, |r| *r);
        assert_eq!(page.items, [1, 2]);
        let next = Position::parse(None, page.next_cursor.as_deref(), None).unwrap();
        assert_eq!(next.after_id, Some(2));
        let last = Page::from_rows(vec![3], 2, Order::Asc, |r| *r, |r| *r);
        assert_eq!((last.items, last.next_cursor), (vec![3], None));
    }
}
