//! The site's accept loop: hyper (HTTP/1.1 and HTTP/2 over cleartext, as `axum::serve` spoke)
//! with the limits `axum::serve` lacks, so slow or idle clients cannot hold the process.
//!
//! - **Header timeout** (`RLCOACH_WEB_HEADER_TIMEOUT_SECS`, 10 s): a connection must deliver a
//!   request's headers within it — the first request from the moment it is accepted (our own
//!   timer, which also covers the HTTP/2 preface), each later HTTP/1 request from the moment the
//!   connection is ready for it (hyper's `header_read_timeout`). A client trickling a header a
//!   byte at a time is cut when it runs out.
//! - **Idle timeout** (`RLCOACH_WEB_IDLE_TIMEOUT_SECS`, 60 s): a connection with no request in
//!   flight (none being handled, no response body being written) is closed after it. In
//!   practice this is the limit of HTTP/2 connections: an HTTP/1 connection between requests
//!   is waiting for the next request's headers, so hyper's header timeout closes it first
//!   (the header timeout after its last response).
//! - **Connection cap** (`RLCOACH_WEB_MAX_CONNECTIONS`, 512): at most this many connections are
//!   open. A new connection past the cap (accepted, so at most one more socket) closes the
//!   connection that has been idle longest (no request in flight: a half-sent request, or a
//!   keep-alive connection between requests — nothing is lost, as nginx does when it runs out
//!   of connections); when every connection is busy with a request, it waits, looking again
//!   every 100 ms, and closes the first one to go idle (or takes the place of the first to
//!   end), while further ones wait in the kernel's backlog. So a crowd of half-open or
//!   kept-alive connections can never lock new visitors out, and the process stays under its
//!   open-file limit (set the cap well below `ulimit -n`).
//!
//! Graceful shutdown: the listener closes, idle and half-sent connections close at once, every
//! other connection finishes the request it is serving and closes (`graceful_shutdown`), and
//! [`serve`] returns when the last one is gone.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt as _;

/// The connection limits (see the module doc and README's configuration table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
        }
    }
}

/// How often a new connection waiting at the cap looks again for an idle one to close.
const EVICT_TICK: Duration = Duration::from_millis(100);

/// One open connection, as the accept loop sees it.
struct Conn {
    /// Requests being handled or whose response body is being written.
    in_flight: AtomicUsize,
    /// Requests started on it so far.
    requests: AtomicU64,
    /// When it last started or finished a request (ms since `epoch`).
    last_active_ms: AtomicU64,
    /// Told to close now (evicted for a newer connection).
    close: Notify,
}

/// The open connections: the eviction candidates, oldest id first.
struct Table {
    epoch: Instant,
    open: Mutex<BTreeMap<u64, Arc<Conn>>>,
}

impl Table {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Closes the connection idle longest, if any is idle: true when one was told to go.
    fn evict_idlest(&self) -> bool {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let idlest = open
            .iter()
            .filter(|(_, c)| c.in_flight.load(Ordering::Acquire) == 0)
            .min_by_key(|(_, c)| c.last_active_ms.load(Ordering::Relaxed))
            .map(|(id, _)| *id);
        match idlest.and_then(|id| open.remove(&id)) {
            Some(conn) => {
                conn.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Counts a request in flight on its connection until the response body is dropped (written
/// out, or the connection went away).
struct InFlight {
    conn: Arc<Conn>,
    table: Arc<Table>,
}

impl InFlight {
    fn start(conn: &Arc<Conn>, table: &Arc<Table>) -> InFlight {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        conn.requests.fetch_add(1, Ordering::Relaxed);
        conn.last_active_ms.store(table.now_ms(), Ordering::Relaxed);
        InFlight {
            conn: conn.clone(),
            table: table.clone(),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.conn
            .last_active_ms
            .store(self.table.now_ms(), Ordering::Relaxed);
        self.conn.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted while it is written.
struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// Serves `app` on `listener` until `stop` turns true, then shuts down gracefully.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: ServerLimits,
    mut stop: watch::Receiver<bool>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(20))
        .max_concurrent_streams(100);
    let builder = Arc::new(builder);
    let max = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max));
    let table = Arc::new(Table {
        epoch: Instant::now(),
        open: Mutex::new(BTreeMap::new()),
    });
    let mut next_id: u64 = 0;
    'accept: loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors, most likely: wait a little instead of spinning.
                    tracing::warn!(error = %e, "accepting a web connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => break,
        };
        // A slot for this connection: free, or made by closing the idlest one. While every
        // connection is busy with a request, look again every 100 ms (one that finishes its
        // request and stays open is closed then, and does not keep this visitor waiting until
        // its own timeout); further connections wait in the kernel's backlog meanwhile.
        let slot = match slots.clone().try_acquire_owned() {
            Ok(s) => s,
            Err(_) => {
                let mut evicted = false;
                loop {
                    // One eviction per visitor: the closed connection gives its slot back.
                    if !evicted && table.evict_idlest() {
                        tracing::debug!("connection cap reached: closed the idlest connection");
                        evicted = true;
                    }
                    tokio::select! {
                        s = slots.clone().acquire_owned() => match s {
                            Ok(s) => break s,
                            Err(_) => break 'accept,
                        },
                        _ = tokio::time::sleep(EVICT_TICK), if !evicted => {}
                        _ = stopped(&mut stop) => break 'accept,
                    }
                }
            }
        };
        next_id += 1;
        let conn = Arc::new(Conn {
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            last_active_ms: AtomicU64::new(table.now_ms()),
            close: Notify::new(),
        });
        table
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(next_id, conn.clone());
        tokio::spawn(connection(
            next_id,
            tcp,
            conn,
            table.clone(),
            app.clone(),
            builder.clone(),
            limits,
            stop.clone(),
            slot,
        ));
    }
    drop(listener);
    // Every connection gives its slot back when it ends: all of them back means all closed.
    let _ = slots
        .acquire_many(u32::try_from(max).unwrap_or(u32::MAX))
        .await;
}

#[allow(clippy::too_many_arguments)]
async fn connection(
    id: u64,
    tcp: tokio::net::TcpStream,
    conn: Arc<Conn>,
    table: Arc<Table>,
    app: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    limits: ServerLimits,
    mut stop: watch::Receiver<bool>,
    _slot: tokio::sync::OwnedSemaphorePermit,
) {
    let service = {
        let (conn, table) = (conn.clone(), table.clone());
        hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let in_flight = InFlight::start(&conn, &table);
            let app = app.clone();
            async move {
                let response = app.oneshot(req.map(Body::new)).await?;
                Ok::<_, std::convert::Infallible>(response.map(|body| {
                    Body::new(Tracked {
                        body,
                        _in_flight: in_flight,
                    })
                }))
            }
        })
    };
    let served = builder.serve_connection(TokioIo::new(tcp), service);
    tokio::pin!(served);
    let mut shutting_down = false;
    loop {
        // Nothing in flight: the connection must start a request before its deadline (the
        // header timeout for the first one, the idle timeout after that).
        let deadline = (conn.in_flight.load(Ordering::Acquire) == 0).then(|| {
            let wait = if conn.requests.load(Ordering::Relaxed) == 0 {
                limits.header_timeout
            } else {
                limits.idle_timeout
            };
            table.epoch + Duration::from_millis(conn.last_active_ms.load(Ordering::Relaxed)) + wait
        });
        // Re-checked at least every second, since requests start and end outside this loop.
        let tick = Instant::now() + Duration::from_secs(1);
        tokio::select! {
            _ = served.as_mut() => break,
            _ = conn.close.notified() => break,
            _ = stopped(&mut stop), if !shutting_down => {
                // Nothing to finish on an idle or half-sent connection: it closes now; one
                // serving a request ends after its response.
                if conn.in_flight.load(Ordering::Acquire) == 0 {
                    break;
                }
                served.as_mut().graceful_shutdown();
                shutting_down = true;
            }
            _ = tokio::time::sleep_until(deadline.map_or(tick, |d| d.min(tick))) => {
                if deadline.is_some_and(|d| d <= Instant::now())
                    && conn.in_flight.load(Ordering::Acquire) == 0
                {
                    break;
                }
            }
        }
    }
    table
        .open
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id);
}

/// Resolves once `stop` is true (the watch's guard is not held across the await).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Errors of one connection that has already gone (not of the listener).
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
