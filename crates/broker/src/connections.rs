//! Bounded connections: at most N open connections in total and M from one
//! client address. A connection over either bound is closed as soon as it is
//! accepted (before any TLS handshake or byte of HTTP), so a flood of idle
//! sockets costs the broker a file descriptor for a moment and no more.
//!
//! [`ConnectionTable`] is the pure bookkeeping; [`LimitedAcceptor`] plugs it
//! into axum-server and ties each slot to the life of its stream.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::limits::address_key;

/// Open connections per client address, and in total.
#[derive(Debug)]
pub struct ConnectionTable {
    max_total: usize,
    max_per_address: usize,
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

impl ConnectionTable {
    pub fn new(max_total: usize, max_per_address: usize) -> Self {
        ConnectionTable {
            max_total,
            max_per_address,
            total: 0,
            by_address: HashMap::new(),
        }
    }

    /// Count a new connection from `ip`, unless a bound is reached.
    pub fn admit(&mut self, ip: IpAddr) -> bool {
        let key = address_key(ip);
        let open = self.by_address.get(&key).copied().unwrap_or(0);
        if self.total >= self.max_total || open >= self.max_per_address {
            return false;
        }
        self.total += 1;
        self.by_address.insert(key, open + 1);
        true
    }

    /// A connection admitted for `ip` has closed.
    pub fn release(&mut self, ip: IpAddr) {
        let key = address_key(ip);
        if let Some(open) = self.by_address.get_mut(&key) {
            *open -= 1;
            if *open == 0 {
                self.by_address.remove(&key);
            }
            self.total -= 1;
        }
    }

    pub fn open(&self) -> usize {
        self.total
    }
}

/// A connection slot, given back when dropped.
struct Slot {
    table: Arc<Mutex<ConnectionTable>>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.table
            .lock()
            .expect("connection table")
            .release(self.ip);
    }
}

/// A stream that holds its connection slot for as long as it lives.
pub struct Counted<S> {
    inner: S,
    _slot: Slot,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The first acceptor of the chain: refuses connections over the bounds.
#[derive(Clone)]
pub struct LimitedAcceptor {
    table: Arc<Mutex<ConnectionTable>>,
}

impl LimitedAcceptor {
    pub fn new(max_total: usize, max_per_address: usize) -> Self {
        LimitedAcceptor {
            table: Arc::new(Mutex::new(ConnectionTable::new(max_total, max_per_address))),
        }
    }
}

type Accepted<S> = io::Result<(Counted<TcpStream>, S)>;

impl<S: Send + 'static> Accept<TcpStream, S> for LimitedAcceptor {
    type Stream = Counted<TcpStream>;
    type Service = S;
    type Future = Pin<Box<dyn Future<Output = Accepted<S>> + Send>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let result = match stream.peer_addr() {
            Ok(peer) => {
                let ip = peer.ip();
                if self.table.lock().expect("connection table").admit(ip) {
                    let slot = Slot {
                        table: self.table.clone(),
                        ip,
                    };
                    Ok((
                        Counted {
                            inner: stream,
                            _slot: slot,
                        },
                        service,
                    ))
                } else {
                    tracing::debug!(%ip, "connection refused: connection limit reached");
                    Err(io::Error::other("connection limit reached"))
                }
            }
            Err(e) => Err(e),
        };
        Box::pin(std::future::ready(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn per_address_and_total_bounds_hold() {
        let mut t = ConnectionTable::new(3, 2);
        assert!(t.admit(ip("192.0.2.1")));
        assert!(t.admit(ip("192.0.2.1")));
        assert!(!t.admit(ip("192.0.2.1")), "third from one address");
        assert!(t.admit(ip("192.0.2.2")));
        assert!(!t.admit(ip("192.0.2.3")), "total reached");
        t.release(ip("192.0.2.1"));
        assert!(t.admit(ip("192.0.2.3")));
        assert_eq!(t.open(), 3);
    }

    #[test]
    fn releasing_frees_the_address_entry() {
        let mut t = ConnectionTable::new(10, 1);
        assert!(t.admit(ip("2001:db8::1")));
        assert!(!t.admit(ip("2001:db8::2")), "same /64");
        t.release(ip("2001:db8::1"));
        assert_eq!(t.open(), 0);
        assert!(t.by_address.is_empty());
        // A stray release changes nothing.
        t.release(ip("192.0.2.9"));
        assert_eq!(t.open(), 0);
    }
}
