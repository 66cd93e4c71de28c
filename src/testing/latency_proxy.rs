//! A loopback proxy that makes a local server behave like one on another host.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::{runtime, Error, Result};

/// A loopback TCP proxy that delays every byte by a fixed one-way latency in each direction,
/// keeping order, so a query's round trip costs at least twice the delay.
///
/// It runs on duetto's home runtime, so it can be started from sync or async code, and stops when
/// [`stop`](Self::stop)ped or dropped.
///
/// # Example
///
/// ```no_run
/// use duetto::testing::LatencyProxy;
/// use std::time::Duration;
///
/// # #[tokio::main] async fn main() -> duetto::Result<()> {
/// let proxy = LatencyProxy::start("127.0.0.1:5432", Duration::from_millis(5)).await?;
/// let url = proxy.url_for("postgres://postgres@127.0.0.1:5432/test")?;
/// let remote_like = duetto::Db::connect(&url).await?; // every round trip now costs ≥ 10 ms
/// # let _ = remote_like;
/// proxy.stop().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LatencyProxy {
    addr: SocketAddr,
    delay: Duration,
    stop: watch::Sender<bool>,
    accept: Option<JoinHandle<()>>,
}

impl LatencyProxy {
    /// Listens on an ephemeral loopback port and forwards each connection to `upstream`
    /// (`"host:port"`), delaying both directions by `one_way`.
    ///
    /// # Errors
    ///
    /// [`Error::Other`] wrapping the I/O error if the listener cannot be opened or `upstream`
    /// is not a socket address.
    pub async fn start(upstream: &str, one_way: Duration) -> Result<LatencyProxy> {
        let upstream: SocketAddr = tokio::net::lookup_host(upstream)
            .await
            .map_err(Error::other)?
            .next()
            .ok_or_else(|| Error::other(format!("`{upstream}` resolves to no address")))?;
        let listener = runtime::on_home(TcpListener::bind("127.0.0.1:0"))
            .await?
            .map_err(Error::other)?;
        let addr = listener.local_addr().map_err(Error::other)?;
        let (stop, stopped) = watch::channel(false);
        let accept = runtime::handle()?.spawn(accept_loop(listener, upstream, one_way, stopped));
        Ok(LatencyProxy {
            addr,
            delay: one_way,
            stop,
            accept: Some(accept),
        })
    }

    /// Blocking twin of [`start`](Self::start).
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start), plus [`Error::SynchronousOnlyOperation`] in async code.
    pub fn start_blocking(upstream: &str, one_way: Duration) -> Result<LatencyProxy> {
        let upstream = upstream.to_owned();
        crate::bridge::blocking_twin("start_blocking", async move {
            LatencyProxy::start(&upstream, one_way).await
        })
    }

    /// The proxy's own address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The one-way delay it adds.
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// `database_url` with its host and port replaced by the proxy's.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] if the URL cannot be parsed or has no host.
    pub fn url_for(&self, database_url: &str) -> Result<String> {
        let invalid = |reason: &str| Error::InvalidUrl {
            url: crate::database_url::redact(database_url),
            reason: reason.to_owned(),
        };
        let mut url = url::Url::parse(database_url).map_err(|e| invalid(&e.to_string()))?;
        url.set_host(Some(&self.addr.ip().to_string()))
            .map_err(|e| invalid(&e.to_string()))?;
        url.set_port(Some(self.addr.port()))
            .map_err(|()| invalid("this URL cannot carry a port"))?;
        Ok(url.to_string())
    }

    /// Stops accepting and closes every proxied connection.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(accept) = self.accept.take() {
            let _ = accept.await;
        }
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    delay: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                let stopped = stopped.clone();
                connections.spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else { return };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    proxy_connection(client, server, delay, stopped).await;
                });
            }
        }
    }
    // Dropping the set aborts every connection task, closing its sockets.
    connections.shutdown().await;
}

async fn proxy_connection(
    client: TcpStream,
    server: TcpStream,
    delay: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::select! {
        _ = pipe(client_read, server_write, delay) => {}
        _ = pipe(server_read, client_write, delay) => {}
        _ = stopped.changed() => {}
    }
}

/// Copies `from` to `to`, each chunk leaving `delay` after it arrived. Reading and writing are
/// separate so chunks in flight overlap: the delay is latency, not a bandwidth cap.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((due, bytes)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
