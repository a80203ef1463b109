//! Keyset pagination: `page_size` (1–500, default 50) and an opaque `page_token`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::store::PageRequest;

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 500;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub page_size: Option<u32>,
    /// The `next_page_token` of the previous page.
    pub page_token: Option<String>,
}

impl PageParams {
    /// The store request: one row more than the page, to learn whether another follows.
    pub fn to_request(&self) -> ApiResult<PageRequest> {
        let size = self.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(ApiError::field(
                "page_size",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        let after = self.page_token.as_deref().map(decode_token).transpose()?;
        Ok(PageRequest {
            limit: size + 1,
            after,
        })
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `page_token` for the next page; `null` on the last page.
    #[schema(required = true)]
    pub next_page_token: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit` rows (`limit - 1` shown), keyed by `key`.
    pub fn from_rows<R>(
        rows: Vec<R>,
        request: PageRequest,
        key: impl Fn(&R) -> Uuid,
        to_item: impl FnMut(R) -> T,
    ) -> Page<T> {
        Page::from_rows_with(rows, request.limit, |row| encode_token(key(row)), to_item)
    }

    /// [`Page::from_rows`] for rows whose next-page token is made by `token`.
    pub fn from_rows_with<R>(
        mut rows: Vec<R>,
        limit: u32,
        token: impl Fn(&R) -> String,
        to_item: impl FnMut(R) -> T,
    ) -> Page<T> {
        let size = limit as usize - 1;
        let next_page_token = if rows.len() > size {
            rows.truncate(size);
            rows.last().map(token)
        } else {
            None
        };
        Page {
            data: rows.into_iter().map(to_item).collect(),
            next_page_token,
        }
    }
}

fn encode_token(after: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(after.as_bytes())
}

fn decode_token(token: &str) -> ApiResult<Uuid> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| Uuid::from_slice(&bytes).ok())
        .ok_or_else(|| ApiError::field("page_token", "is not a token this API issued"))
}

/// A page token for lists keyed by a sequence number (the audit log) rather than an id.
pub fn encode_seq_token(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(seq.to_be_bytes())
}

pub fn decode_seq_token(token: &str) -> ApiResult<i64> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_slice()).ok())
        .map(i64::from_be_bytes)
        .ok_or_else(|| ApiError::field("page_token", "is not a token this API issued"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let id = Uuid::now_v7();
        assert_eq!(decode_token(&encode_token(id)).unwrap(), id);
        assert!(decode_token("!!!").is_err());
        assert!(decode_token("YWJj").is_err());
        assert_eq!(decode_seq_token(&encode_seq_token(42)).unwrap(), 42);
        assert!(decode_seq_token(&encode_token(id)).is_err());
    }

    #[test]
    fn page_size_bounds() {
        let params = |size| PageParams {
            page_size: Some(size),
            page_token: None,
        };
        assert!(params(0).to_request().is_err());
        assert!(params(501).to_request().is_err());
        assert_eq!(params(500).to_request().unwrap().limit, 501);
    }

    #[test]
    fn next_token_only_when_more_rows() {
        let request = PageRequest {
            limit: 3,
            after: None,
        };
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let page = Page::from_rows(ids.clone(), request, |id| *id, |id| id);
        assert_eq!(page.data.len(), 2);
        assert_eq!(
            decode_token(page.next_page_token.as_deref().unwrap()).unwrap(),
            ids[1]
        );
        let last = Page::from_rows(ids[..2].to_vec(), request, |id| *id, |id| id);
        assert!(last.next_page_token.is_none());
    }
}
