//! The latency proxy used by examples and benchmarks: it delays, keeps order, and stops.

mod common;

use std::time::{Duration, Instant};

use duetto::sea_orm::ColumnTrait;
use duetto::testing::LatencyProxy;
use duetto::{prelude::*, Db};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn echo_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = socket.read(&mut buf).await {
                    if n == 0 || socket.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adds_the_delay_each_way_and_keeps_order() {
    let upstream = echo_server().await;
    let delay = Duration::from_millis(25);
    let proxy = LatencyProxy::start(&upstream.to_string(), delay)
        .await
        .unwrap();
    let mut client = TcpStream::connect(proxy.local_addr()).await.unwrap();

    let started = Instant::now();
    client.write_all(b"ping").await.unwrap();
    let mut reply = [0u8; 4];
    client.read_exact(&mut reply).await.unwrap();
    let round_trip = started.elapsed();
    assert_eq!(&reply, b"ping");
    assert!(
        round_trip >= 2 * delay,
        "round trip {round_trip:?} < 2 × {delay:?}"
    );
    assert!(
        round_trip < 2 * delay + Duration::from_millis(200),
        "{round_trip:?}"
    );

    // Many small writes come back complete and in order, and pipelined: 50 writes take about
    // one round trip, not fifty.
    let started = Instant::now();
    let mut expected = Vec::new();
    for i in 0..50u8 {
        client.write_all(&[i; 10]).await.unwrap();
        expected.extend_from_slice(&[i; 10]);
    }
    let mut got = vec![0u8; expected.len()];
    client.read_exact(&mut got).await.unwrap();
    assert_eq!(got, expected);
    assert!(started.elapsed() < 10 * delay, "{:?}", started.elapsed());

    proxy.stop().await;
    let mut after = [0u8; 1];
    // Existing connections are closed and new ones refused once stopped.
    assert!(matches!(client.read(&mut after).await, Ok(0) | Err(_)));
}

#[test]
fn stopping_refuses_new_connections() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let upstream = rt.block_on(echo_server());
    let proxy =
        LatencyProxy::start_blocking(&upstream.to_string(), Duration::from_millis(1)).unwrap();
    let addr = proxy.local_addr();
    assert!(std::net::TcpStream::connect(addr).is_ok());
    rt.block_on(proxy.stop());
    std::thread::sleep(Duration::from_millis(50));
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn rewrites_database_urls_to_point_at_itself() {
    let proxy = LatencyProxy::start_blocking("127.0.0.1:5432", Duration::from_millis(1)).unwrap();
    let url = proxy
        .url_for("postgres://alice:secret@db.example:5432/app?sslmode=disable")
        .unwrap();
    assert_eq!(
        url,
        format!(
            "postgres://alice:secret@127.0.0.1:{}/app?sslmode=disable",
            proxy.local_addr().port()
        )
    );
}

/// A real database behind the proxy: each query costs at least one delayed round trip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn databases_behind_the_proxy_pay_the_round_trip() {
    for kind in common::server_backends() {
        let t = common::migrated(kind).await;
        let parsed = url::Url::parse(&t.url).unwrap();
        let upstream = format!(
            "{}:{}",
            parsed.host_str().unwrap(),
            parsed.port_or_known_default().unwrap()
        );
        let delay = Duration::from_millis(10);
        let proxy = LatencyProxy::start(&upstream, delay).await.unwrap();
        let db = Db::connect(proxy.url_for(&t.url).unwrap()).await.unwrap();
        let users = entity::user::Entity::objects().using(&db);
        users.acount().await.unwrap();
        let started = Instant::now();
        assert!(!users
            .clone()
            .filter(entity::user::Column::Id.eq(1))
            .aexists()
            .await
            .unwrap());
        let took = started.elapsed();
        assert!(took >= 2 * delay, "{kind:?}: {took:?}");
        db.close().await.unwrap();
        proxy.stop().await;
    }
}
