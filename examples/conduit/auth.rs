//! Passwords (argon2) and tokens (JWT, HS256), and the extractors that read
//! `Authorization: Token …`.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use jsonwebtoken::{decode, encode, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::entity::users;
use crate::error::{ApiError, ApiResult};
use duetto::prelude::*;

fn secret() -> Vec<u8> {
    std::env::var("CONDUIT_SECRET")
        .unwrap_or_else(|_| "conduit-example-secret-change-me".into())
        .into_bytes()
}

pub fn hash_password(password: &str) -> ApiResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(e.to_string()))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: i64,
    exp: u64,
}

pub fn token_for(user_id: i64) -> ApiResult<String> {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .as_secs()
        + 60 * 60 * 24 * 30;
    encode(
        &Header::default(),
        &Claims { sub: user_id, exp },
        &EncodingKey::from_secret(&secret()),
    )
    .map_err(|e| ApiError::Internal(e.to_string()))
}

/// The user id in `Authorization: Token <jwt>`: `Ok(None)` without the header, 401 when it is
/// there but invalid.
fn user_id(parts: &Parts) -> ApiResult<Option<(i64, String)>> {
    let Some(header) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = header
        .to_str()
        .ok()
        .and_then(|h| {
            h.strip_prefix("Token ")
                .or_else(|| h.strip_prefix("Bearer "))
        })
        .ok_or(ApiError::Unauthorized)?;
    let data = decode::<Claims>(
        token,
        &DecodingKey::from_secret(&secret()),
        &Validation::default(),
    )
    .map_err(|_| ApiError::Unauthorized)?;
    Ok(Some((data.claims.sub, token.to_owned())))
}

/// The signed-in user (401 without one), with the token they used.
pub struct CurrentUser {
    pub user: users::Model,
    pub token: String,
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> ApiResult<Self> {
        let (id, token) = user_id(parts)?.ok_or(ApiError::Unauthorized)?;
        let user = users::Entity::objects()
            .aget_pk(id)
            .await
            .map_err(|_| ApiError::Unauthorized)?;
        Ok(CurrentUser { user, token })
    }
}

/// The signed-in user's id, if any (endpoints that work for everyone but say more to readers).
pub struct Reader(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> ApiResult<Self> {
        Ok(Reader(user_id(parts)?.map(|(id, _)| id)))
    }
}
