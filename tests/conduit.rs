//! The Conduit example's list endpoints cost the same statements whatever the page size, on
//! every backend: the router runs in-process under `acapture_queries`.

mod common;

#[allow(dead_code, unused_imports)]
#[path = "../examples/conduit/auth.rs"]
mod auth;
#[allow(dead_code, unused_imports)]
#[path = "../examples/conduit/entity/mod.rs"]
mod entity;
#[allow(dead_code)]
#[path = "../examples/conduit/error.rs"]
mod error;
#[allow(dead_code)]
#[path = "../examples/conduit/migration.rs"]
mod migration;
#[allow(dead_code)]
#[path = "../examples/conduit/routes.rs"]
mod routes;
#[allow(dead_code)]
#[path = "../examples/conduit/views.rs"]
mod views;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::faults::watchdog;
use duetto::observe::acapture_queries;
use duetto::testing::TestDatabase;
use sea_orm_migration::MigratorTrait;
use serde_json::{json, Value};
use tower::ServiceExt;

async fn call(
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("Authorization", format!("Token {token}"));
    }
    let request = match body {
        Some(body) => request
            .header("Content-Type", "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = routes::router().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn register(name: &str) -> String {
    let (status, body) = call(
        "POST",
        "/api/users",
        None,
        Some(json!({"user": {"username": name, "email": format!("{name}@example.com"), "password": "secret"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["user"]["token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_endpoints_cost_the_same_statements_for_any_page_size() {
    watchdog(300, "conduit list endpoints", async {
        for backend in duetto::testing::backends().unwrap() {
            let test = TestDatabase::create(backend)
                .await
                .unwrap()
                .migrate(|conn| async move { migration::Migrator::up(&conn, None).await })
                .await
                .unwrap();
            duetto::register("default", test.db().clone());
            let reader = register("reader").await;
            let writers = [register("ada").await, register("alan").await];
            for (i, token) in writers.iter().enumerate() {
                let (status, _) = call(
                    "POST",
                    "/api/profiles/ada/follow",
                    Some(&reader),
                    None,
                )
                .await;
                assert_eq!(status, StatusCode::OK);
                for a in 0..25 {
                    let (status, created) = call(
                        "POST",
                        "/api/articles",
                        Some(token),
                        Some(json!({"article": {
                            "title": format!("Article {a} by {i}"),
                            "description": "d",
                            "body": "b",
                            "tagList": ["rust", format!("t{}", a % 3)],
                        }})),
                    )
                    .await;
                    assert_eq!(status, StatusCode::OK, "{created}");
                    if a % 2 == 0 {
                        let slug = created["article"]["slug"].as_str().unwrap();
                        let path = format!("/api/articles/{slug}/favorite");
                        call("POST", &path, Some(&reader), None).await;
                        let path = format!("/api/articles/{slug}/comments");
                        for c in 0..2 {
                            call("POST", &path, Some(token), Some(json!({"comment": {"body": format!("c{c}")}}))).await;
                        }
                    }
                }
            }

            let mut counts = Vec::new();
            for limit in [1, 10, 50] {
                let uri = format!("/api/articles?limit={limit}");
                let ((status, body), captured) = acapture_queries(call("GET", &uri, Some(&reader), None)).await;
                assert_eq!(status, StatusCode::OK);
                let articles = body["articles"].as_array().unwrap();
                assert_eq!(articles.len(), limit, "{:?}", backend);
                assert_eq!(body["articlesCount"], 50);
                // Nothing a page does repeats a statement shape from one line: no N+1.
                assert!(captured.repeated(1).is_empty(), "{backend:?}:\n{captured}");
                assert!(articles.iter().all(|a| a["tagList"][0] == "rust" || a["tagList"][1] == "rust"));
                counts.push(captured.len());
            }
            assert!(counts.windows(2).all(|w| w[0] == w[1]), "{backend:?}: {counts:?}");

            let mut feed_counts = Vec::new();
            for limit in [1, 25] {
                let uri = format!("/api/articles/feed?limit={limit}");
                let ((status, body), captured) = acapture_queries(call("GET", &uri, Some(&reader), None)).await;
                assert_eq!(status, StatusCode::OK);
                assert_eq!(body["articles"].as_array().unwrap().len(), limit);
                assert!(body["articles"][0]["author"]["following"].as_bool().unwrap());
                feed_counts.push(captured.len());
            }
            assert_eq!(feed_counts[0], feed_counts[1], "{backend:?}");

            // A favorited article says so, with its count, to the reader who favorited it.
            let (_, by_fan) = call("GET", "/api/articles?favorited=reader&limit=50", Some(&reader), None).await;
            let fan_list = by_fan["articles"].as_array().unwrap();
            assert_eq!(fan_list.len(), 26);
            assert!(fan_list.iter().all(|a| a["favorited"] == true && a["favoritesCount"] == 1));

            // Unique violations are 422; a missing token is 401; another's article is 403.
            let (status, body) = call(
                "POST",
                "/api/users",
                None,
                Some(json!({"user": {"username": "ada", "email": "other@example.com", "password": "x"}})),
            )
            .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert!(body["errors"].is_object());
            let (status, _) = call("GET", "/api/user", None, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            let slug = fan_list[0]["slug"].as_str().unwrap().to_owned();
            let (status, _) = call("DELETE", &format!("/api/articles/{slug}"), Some(&reader), None).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            duetto::unregister("default");
        }
    })
    .await;
}
