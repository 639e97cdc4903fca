//! What ties a served connection to its row in the [`ConnectionTable`]: the stream,
//! which gives the row back when it is dropped and ends when the row is evicted, and a
//! service wrapper that marks the connection busy while one of its requests is served.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tower::Service;

use super::table::{ConnId, ConnectionTable, Ending};

/// The broker's connection table; each row carries the [`Eviction`] that ends it.
pub type Table = Arc<Mutex<ConnectionTable<Arc<Eviction>>>>;

const LIVE: u8 = 0;
const CLOSE: u8 = 1;
const PARK: u8 = 2;

/// Tells a connection's stream that the table has evicted it, and how it ends.
#[derive(Debug, Default)]
pub struct Eviction {
    state: AtomicU8,
    /// A request was begun on the connection (then it is never parked).
    served: AtomicBool,
    reader: Mutex<Option<Waker>>,
}

impl Eviction {
    /// End the connection: its stream reads what the client has already sent, then end
    /// of stream, so hyper stops serving it (after writing any response it still owes).
    /// Writes are left alone: a client that sent a whole request still gets its answer.
    pub fn evict(&self, ending: Ending) {
        let state = match ending {
            Ending::Park => PARK,
            Ending::Close => CLOSE,
        };
        self.state.store(state, Ordering::Release);
        let reader = self.reader.lock().expect("eviction waker").take();
        if let Some(waker) = reader {
            waker.wake();
        }
    }

    fn is_evicted(&self) -> bool {
        self.state.load(Ordering::Acquire) != LIVE
    }

    /// To be parked rather than closed when hyper lets go of it.
    fn parks(&self) -> bool {
        self.state.load(Ordering::Acquire) == PARK && !self.served.load(Ordering::Acquire)
    }

    fn register(&self, waker: &Waker) {
        let mut reader = self.reader.lock().expect("eviction waker");
        if !reader.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *reader = Some(waker.clone());
        }
    }
}

/// Parked connections: sockets pushed out at a bound before their first request head,
/// held open and unread (a file descriptor each, no buffer in the broker) until their
/// header deadline, so a slow client sees nothing happen and does not reconnect at once.
/// When full, the oldest is closed.
#[derive(Debug)]
pub struct Parked {
    max: usize,
    sockets: Mutex<VecDeque<(Instant, std::net::TcpStream)>>,
}

impl Parked {
    pub fn new(max: usize) -> Self {
        Parked {
            max,
            sockets: Mutex::new(VecDeque::new()),
        }
    }

    fn park(&self, deadline: Instant, socket: std::net::TcpStream) {
        if self.max == 0 {
            return;
        }
        let oldest = {
            let mut sockets = self.sockets.lock().expect("parked connections");
            let oldest = (sockets.len() >= self.max).then(|| sockets.pop_front());
            sockets.push_back((deadline, socket));
            oldest
        };
        // Closed outside the lock.
        drop(oldest);
    }

    /// Close the parked sockets whose deadline has passed; how many are left.
    pub fn sweep(&self, now: Instant) -> usize {
        let mut expired = Vec::new();
        let mut sockets = self.sockets.lock().expect("parked connections");
        while sockets
            .front()
            .is_some_and(|(deadline, _)| *deadline <= now)
        {
            expired.extend(sockets.pop_front());
        }
        let left = sockets.len();
        drop(sockets);
        drop(expired);
        left
    }
}

/// One admitted connection's row.
#[derive(Clone)]
pub struct Conn {
    table: Table,
    id: ConnId,
    eviction: Arc<Eviction>,
}

impl Conn {
    pub fn new(table: Table, id: ConnId, eviction: Arc<Eviction>) -> Conn {
        Conn {
            table,
            id,
            eviction,
        }
    }

    fn table(&self) -> MutexGuard<'_, ConnectionTable<Arc<Eviction>>> {
        self.table.lock().expect("connection table")
    }
}

/// A stream that holds its row for as long as it lives, reads end of stream once the
/// row is evicted, and is parked instead of closed when the eviction says so.
pub struct Counted {
    inner: Option<TcpStream>,
    conn: Conn,
    parked: Arc<Parked>,
    /// When a parked socket is closed at the latest.
    deadline: Instant,
}

impl Counted {
    pub fn new(inner: TcpStream, conn: Conn, parked: Arc<Parked>, deadline: Instant) -> Self {
        Counted {
            inner: Some(inner),
            conn,
            parked,
            deadline,
        }
    }

    fn stream(&mut self) -> Pin<&mut TcpStream> {
        Pin::new(self.inner.as_mut().expect("stream until dropped"))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let id = self.conn.id;
        self.conn.table().release(id);
        if self.conn.eviction.parks() {
            if let Some(socket) = self.inner.take().and_then(|s| s.into_std().ok()) {
                self.parked.park(self.deadline, socket);
            }
        }
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let eviction = &this.conn.eviction;
        // Register before looking at the flag, so an eviction in between still wakes us.
        if !eviction.is_evicted() {
            eviction.register(cx.waker());
        }
        let stream = this.inner.as_mut().expect("stream until dropped");
        match Pin::new(stream).poll_read(cx, buf) {
            // Evicted and nothing more sent: end of stream.
            Poll::Pending if eviction.is_evicted() => Poll::Ready(Ok(())),
            other => other,
        }
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.stream().poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A connection to be parked sends no FIN: its client must not learn of it.
        if self.conn.eviction.parks() {
            return Poll::Ready(Ok(()));
        }
        self.stream().poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.stream().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.as_ref().is_some_and(|s| s.is_write_vectored())
    }
}

/// The connection's service: hyper calls it once a request head is complete, which
/// makes the connection busy until the response is ready.
#[derive(Clone)]
pub struct Tracked<S> {
    inner: S,
    conn: Conn,
}

impl<S> Tracked<S> {
    pub fn new(inner: S, conn: Conn) -> Self {
        Tracked { inner, conn }
    }
}

impl<S, R> Service<R> for Tracked<S>
where
    S: Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.conn.eviction.served.store(true, Ordering::Release);
        self.conn.table().begin_request(self.conn.id);
        // Ends the request when the response is ready, or when hyper drops it unanswered.
        let in_flight = InFlight(self.conn.clone());
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            drop(in_flight);
            response
        })
    }
}

struct InFlight(Conn);

impl Drop for InFlight {
    fn drop(&mut self) {
        let id = self.0.id;
        self.0.table().end_request(id, Instant::now());
    }
}
