//! Request scopes: one connection per request, without a transaction (Django's per-request
//! connection, opt-in).
//!
//! Inside [`arequest_scope`] / [`request_scope`], serial duetto calls on a database reuse one
//! connection, taken from the pool at the first call and given back when the scope ends: no
//! `BEGIN`/`COMMIT`, and no pool checkout or release per statement. Concurrent calls inside the
//! scope still run at once: a call that finds the kept connection busy takes another one from the
//! pool for its statement. The scope joins across the bridge like a transaction scope
//! (`sync_to_async`, `async_to_sync`, [`bridge::spawn`](crate::bridge::spawn)), covers every
//! database used inside it, and an [`aatomic`](crate::aatomic) scope inside it runs its
//! transaction on the kept connection.
//!
//! Cancellation is as everywhere in duetto: a statement dropped half-way closes its connection
//! instead of keeping it; a scope dropped at any point gives its connection back to the pool.
//!
//! With the `tower` feature, `RequestScopeLayer` wraps every request of a tower/axum service in
//! a request scope.

use std::future::Future;
use std::sync::Arc;

use crate::context::Ambient;
use crate::executor::RequestScope;
use crate::observe::Watch;

/// The context frame tag of request scopes: they apply to every database.
const ANY_DATABASE: usize = 0;

/// Runs `fut` in a request scope: its serial duetto calls reuse one connection per database.
/// See the [module docs](crate::request).
///
/// ```
/// # duetto::doc_db::with_users(|| async {
/// use duetto::prelude::*;
/// use entity::user;
///
/// let (ada, n) = duetto::arequest_scope(async {
///     // Both statements run on the same connection, checked out once.
///     let ada = user::Entity::objects().aget_pk(1).await?;
///     let n = user::Entity::objects().acount().await?;
///     duetto::Result::<_>::Ok((ada, n))
/// })
/// .await?;
/// assert_eq!((ada.id, n), (1, 3));
/// # Ok(()) });
/// ```
pub async fn arequest_scope<F: Future>(fut: F) -> F::Output {
    opened().scope_future(fut).await
}

/// Blocking twin of [`arequest_scope`]: runs `f` on the calling thread in a request scope, so its
/// blocking duetto calls (and the async ones it bridges to) reuse one connection per database.
///
/// It opens no connection by itself, so it is allowed anywhere; the calls inside it are checked
/// as usual.
///
/// ```
/// # duetto::doc_db::with_users_blocking(|| {
/// use duetto::prelude::*;
/// use entity::user;
///
/// let n = duetto::request_scope(|| {
///     let ada = user::Entity::objects().get_pk(1)?;
///     assert_eq!(ada.id, 1);
///     user::Entity::objects().count()
/// })?;
/// assert_eq!(n, 3);
/// # Ok(()) });
/// ```
pub fn request_scope<R>(f: impl FnOnce() -> R) -> R {
    opened().enter_thread(f)
}

/// The caller's ambient with a new request scope open, and its N+1 detector when live detection
/// is on ([`detect_n_plus_one`](crate::observe::detect_n_plus_one)).
fn opened() -> Ambient {
    let ambient = Ambient::current().with_scope(ANY_DATABASE, Arc::new(RequestScope::default()));
    match Watch::for_request() {
        Some(watch) => ambient.with_scope(ANY_DATABASE, watch),
        None => ambient,
    }
}

#[cfg(feature = "tower")]
pub use layer::{RequestScopeLayer, RequestScopeService};

#[cfg(feature = "tower")]
mod layer {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A tower layer that runs every request of the wrapped service in a
    /// [`arequest_scope`](super::arequest_scope) (feature `tower`).
    ///
    /// ```
    /// use axum::{routing::get, Router};
    ///
    /// async fn handler() -> String {
    ///     let n = entity::user::Entity::objects().acount().await.unwrap_or(0);
    ///     format!("{n} users")
    /// }
    /// # use duetto::Objects;
    ///
    /// let app: Router = Router::new()
    ///     .route("/users", get(handler))
    ///     .layer(duetto::request::RequestScopeLayer::new());
    /// # let _ = app;
    /// ```
    #[derive(Debug, Clone, Copy, Default)]
    pub struct RequestScopeLayer;

    impl RequestScopeLayer {
        /// The layer.
        pub fn new() -> Self {
            RequestScopeLayer
        }
    }

    impl<S> tower_layer::Layer<S> for RequestScopeLayer {
        type Service = RequestScopeService<S>;

        fn layer(&self, inner: S) -> Self::Service {
            RequestScopeService { inner }
        }
    }

    /// The service [`RequestScopeLayer`] makes: calls the inner service inside a request scope.
    #[derive(Debug, Clone)]
    pub struct RequestScopeService<S> {
        inner: S,
    }

    impl<S, Request> tower_service::Service<Request> for RequestScopeService<S>
    where
        S: tower_service::Service<Request>,
        S::Future: Send + 'static,
    {
        type Response = S::Response;
        type Error = S::Error;
        type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, request: Request) -> Self::Future {
            Box::pin(super::arequest_scope(self.inner.call(request)))
        }
    }
}
