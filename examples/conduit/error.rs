//! API errors in the RealWorld shape: `{"errors": {"body": ["…"]}}` with 401, 403, 404 or 422.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// What a handler can fail with.
#[derive(Debug)]
pub enum ApiError {
    /// Missing or invalid credentials.
    Unauthorized,
    /// Authenticated, but not the owner.
    Forbidden,
    /// No such user, article or comment.
    NotFound(&'static str),
    /// Invalid input, or a unique field already taken: field name → messages.
    Unprocessable(String, String),
    /// Anything else (the database is down, a bug): 500, logged.
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<duetto::Error> for ApiError {
    fn from(e: duetto::Error) -> Self {
        match e {
            duetto::Error::DoesNotExist { model } => ApiError::NotFound(model),
            duetto::Error::Integrity { message, .. } => {
                let field = ["email", "username", "slug"]
                    .into_iter()
                    .find(|f| message.contains(f))
                    .unwrap_or("body");
                ApiError::Unprocessable(field.into(), "has already been taken".into())
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, field, message) = match self {
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "body".into(),
                "unauthorized".into(),
            ),
            ApiError::Forbidden => (StatusCode::FORBIDDEN, "body".into(), "forbidden".into()),
            ApiError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                "body".into(),
                format!("{what} not found"),
            ),
            ApiError::Unprocessable(field, message) => {
                (StatusCode::UNPROCESSABLE_ENTITY, field, message)
            }
            ApiError::Internal(message) => {
                eprintln!("conduit: internal error: {message}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "body".into(),
                    "internal error".into(),
                )
            }
        };
        (status, Json(json!({ "errors": { field: [message] } }))).into_response()
    }
}

/// A 422 unless `value` is present and not blank.
pub fn required<'a>(field: &str, value: Option<&'a str>) -> ApiResult<&'a str> {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(ApiError::Unprocessable(
            field.into(),
            "can't be blank".into(),
        )),
    }
}
