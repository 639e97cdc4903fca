//! Bounded connections: at most N open in total and M from one client address, and a
//! deadline for each request head that shortens when many connections are waiting.
//!
//! Connections that have not delivered a complete request head (slowloris clients, idle
//! sockets, keep-alive connections between requests) are cheap to hold and cheap to end,
//! so at a bound the broker ends one of them instead of refusing the newcomer: at the
//! per-address bound the oldest waiting connection of that address, at the global bound
//! the oldest waiting connection of the address that has the most. A connection serving
//! a request is never ended; only when every connection at the bound is serving one is
//! the new one refused (closed before any TLS or HTTP). Addresses whose connections
//! complete their requests hold few waiting ones, so their clients are the last to lose
//! a connection; attackers reconnecting only displace each other.
//!
//! [`ConnectionTable`] is the pure bookkeeping; [`LimitedAcceptor`] plugs it into
//! axum-server, and `stream` ties each row to its stream and service.

mod stream;
mod table;

use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum_server::accept::Accept;
use tokio::net::TcpStream;

pub use stream::{Counted, Eviction, Parked, Tracked};
pub use table::{Bounds, ConnId, ConnectionTable, Ending, Evicted};

use super::config::LimitsConfig;
use stream::{Conn, Table};

/// How often waiting connections are checked against their deadline.
const SWEEP_PERIOD: Duration = Duration::from_millis(250);

impl Bounds {
    pub fn from_limits(limits: &LimitsConfig) -> Bounds {
        let header = limits.header_read_timeout_secs;
        let max_total = limits.max_connections as usize;
        Bounds {
            max_total,
            max_per_address: limits.max_connections_per_address as usize,
            header_timeout: Duration::from_secs(header),
            pressure_header_timeout: Duration::from_secs(
                limits.pressure_header_read_timeout_secs.min(header),
            ),
            pressure_waiting: max_total * limits.pressure_percent as usize / 100,
        }
    }
}

/// File descriptors kept free of connections: the store, logs, the IdP's keys, the
/// listener.
const RESERVED_FILES: u64 = 256;

/// How many connections may be parked: `limits.max_parked_connections`, within the
/// open-file limit, whose soft value is first raised (up to the hard one) to hold
/// every served and parked connection. Warns when it has to park fewer.
pub fn parking_capacity(limits: &LimitsConfig) -> usize {
    let wanted = u64::from(limits.max_parked_connections);
    let served = u64::from(limits.max_connections);
    let Some(files) = raise_open_file_limit(served + wanted + RESERVED_FILES) else {
        return wanted as usize;
    };
    let room = files.saturating_sub(served + RESERVED_FILES);
    if room < wanted {
        tracing::warn!(
            open_file_limit = files,
            max_connections = served,
            parked = room,
            "the open-file limit leaves room to park only {room} of [limits] max_parked_connections = {wanted}; raise the limit (systemd: LimitNOFILE=)"
        );
    }
    room.min(wanted) as usize
}

/// Raise the soft open-file limit to `wanted`, within the hard limit; the soft limit
/// afterwards (None: unlimited or unknown).
#[cfg(unix)]
fn raise_open_file_limit(wanted: u64) -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let soft = limit.current?;
    if soft >= wanted {
        return Some(soft);
    }
    let raised = limit.maximum.map_or(wanted, |hard| hard.min(wanted));
    let new = Rlimit {
        current: Some(raised),
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, new) {
        Ok(()) => Some(raised),
        Err(_) => Some(soft),
    }
}

#[cfg(not(unix))]
fn raise_open_file_limit(_wanted: u64) -> Option<u64> {
    None
}

/// The first acceptor of the chain: admits each connection into the table (ending
/// others to make room), or refuses it.
#[derive(Clone)]
pub struct LimitedAcceptor {
    table: Table,
    parked: Arc<Parked>,
    header_timeout: Duration,
}

impl LimitedAcceptor {
    /// Within `bounds`, parking up to `max_parked` connections.
    pub fn new(bounds: Bounds, max_parked: usize) -> Self {
        LimitedAcceptor {
            table: Arc::new(Mutex::new(ConnectionTable::new(bounds))),
            parked: Arc::new(Parked::new(max_parked)),
            header_timeout: bounds.header_timeout,
        }
    }

    /// Ends waiting connections past their deadline, every [`SWEEP_PERIOD`], and logs
    /// when the broker comes under pressure and when it recovers. Runs until dropped.
    pub fn sweeper(&self) -> impl Future<Output = ()> + Send + 'static {
        let table = self.table.clone();
        let parked = self.parked.clone();
        async move {
            let mut tick = tokio::time::interval(SWEEP_PERIOD);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut pressed = false;
            loop {
                tick.tick().await;
                let (evicted, waiting, open, pressure_at) = {
                    let mut table = table.lock().expect("connection table");
                    let evicted = table.sweep(Instant::now());
                    let pressure_at = table.bounds().pressure_waiting;
                    (evicted, table.waiting(), table.open(), pressure_at)
                };
                let ended = evicted.len();
                close(evicted);
                let parked = parked.sweep(Instant::now());
                // Over when half as many wait, so a count hovering at the mark logs once.
                let now_pressed = match pressed {
                    false => waiting > pressure_at,
                    true => waiting > pressure_at / 2,
                };
                if now_pressed != pressed {
                    pressed = now_pressed;
                    if pressed {
                        tracing::warn!(
                            waiting,
                            open,
                            parked,
                            ended,
                            "many connections are waiting for a request head: their deadline is shortened ([limits] pressure_header_read_timeout_secs)"
                        );
                    } else {
                        tracing::info!(waiting, open, parked, "connection pressure is over");
                    }
                }
            }
        }
    }
}

fn close(evicted: Vec<Evicted<Arc<Eviction>>>) {
    for e in evicted {
        e.payload.evict(e.ending);
    }
}

type Accepted<S> = io::Result<(Counted, Tracked<S>)>;

impl<S: Send + 'static> Accept<TcpStream, S> for LimitedAcceptor {
    type Stream = Counted;
    type Service = Tracked<S>;
    type Future = std::future::Ready<Accepted<S>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let ip = match stream.peer_addr() {
            Ok(peer) => peer.ip(),
            Err(e) => return std::future::ready(Err(e)),
        };
        let eviction = Arc::new(Eviction::default());
        let now = Instant::now();
        let admitted =
            self.table
                .lock()
                .expect("connection table")
                .admit(ip, now, eviction.clone());
        // Ended outside the lock: waking a task may run code that takes it.
        let result = match admitted {
            Ok((id, evicted)) => {
                if !evicted.is_empty() {
                    tracing::debug!(%ip, ended = evicted.len(), "waiting connections ended to admit a new one");
                }
                close(evicted);
                let conn = Conn::new(self.table.clone(), id, eviction);
                let deadline = now + self.header_timeout;
                Ok((
                    Counted::new(stream, conn.clone(), self.parked.clone(), deadline),
                    Tracked::new(service, conn),
                ))
            }
            Err(evicted) => {
                close(evicted);
                tracing::debug!(%ip, "connection refused: every connection at the bound is serving a request");
                Err(io::Error::other("connection limit reached"))
            }
        };
        std::future::ready(result)
    }
}
