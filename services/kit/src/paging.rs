//! Cursor pagination: `first` (default 20, at most 100) and an opaque `after`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::ApiError;

pub const DEFAULT_PAGE: u64 = 20;
pub const MAX_PAGE: u64 = 100;

/// A checked page request; `after` is the decoded cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub first: u64,
    pub after: Option<String>,
}

impl PageRequest {
    pub fn parse(first: Option<i32>, after: Option<String>) -> Result<Self, ApiError> {
        let first = match first {
            None => DEFAULT_PAGE,
            Some(n) if n >= 1 && (n as u64) <= MAX_PAGE => n as u64,
            Some(_) => {
                return Err(ApiError::bad_input(
                    "first",
                    format!("first must be between 1 and {MAX_PAGE}"),
                ));
            }
        };
        let after = after.map(|cursor| decode_cursor(&cursor)).transpose()?;
        Ok(Self { first, after })
    }

    /// Rows to fetch: one more than asked, to learn whether a next page exists.
    pub fn fetch_limit(&self) -> u64 {
        self.first + 1
    }
}

pub fn encode_cursor(raw: &str) -> String {
    URL_SAFE_NO_PAD.encode(raw.as_bytes())
}

pub fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor.as_bytes())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| ApiError::bad_input("after", "after is not a cursor this API returned"))
}

/// Splits a fetched page (`fetch_limit` rows) into the rows to return and
/// whether more follow.
pub fn split_page<T>(mut rows: Vec<T>, page: &PageRequest) -> (Vec<T>, bool) {
    let has_next = rows.len() as u64 > page.first;
    rows.truncate(page.first as usize);
    (rows, has_next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_is_bounded() {
        assert_eq!(PageRequest::parse(None, None).unwrap().first, DEFAULT_PAGE);
        assert_eq!(PageRequest::parse(Some(100), None).unwrap().first, 100);
        for bad in [0, -1, 101] {
            assert_eq!(
                PageRequest::parse(Some(bad), None)
                    .unwrap_err()
                    .field
                    .as_deref(),
                Some("first")
            );
        }
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_rejected() {
        let cursor = encode_cursor("0190-abc");
        assert_eq!(
            PageRequest::parse(None, Some(cursor))
                .unwrap()
                .after
                .as_deref(),
            Some("0190-abc")
        );
        assert_eq!(
            PageRequest::parse(None, Some("%%%".into()))
                .unwrap_err()
                .field
                .as_deref(),
            Some("after")
        );
    }

    #[test]
    fn split_reports_a_next_page() {
        let page = PageRequest::parse(Some(2), None).unwrap();
        assert_eq!(split_page(vec![1, 2, 3], &page), (vec![1, 2], true));
        assert_eq!(split_page(vec![1, 2], &page), (vec![1, 2], false));
    }
}
