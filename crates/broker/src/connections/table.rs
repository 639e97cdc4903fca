//! The bookkeeping of open connections, with no I/O: which are waiting for a request
//! head and since when, which are serving a request, and which to end (park or close)
//! when a bound is reached or a waiting connection is too slow. The time is a parameter.
//!
//! A connection is *waiting* from the moment it is accepted until its request head is
//! complete, and again between requests (keep-alive); it is *busy* while a request is
//! being served. Only waiting connections are ever chosen for eviction: a slow client
//! costs the broker a socket and a small buffer, an honest one has sent its whole head
//! within a round trip, so the oldest waiting connection is the one least likely to be
//! an honest client about to finish.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::limits::address_key;

/// The numbers the table enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub max_total: usize,
    pub max_per_address: usize,
    /// How long a connection may wait for its request head.
    pub header_timeout: Duration,
    /// How long it may wait while the table is under pressure.
    pub pressure_header_timeout: Duration,
    /// Under pressure: more waiting connections than this.
    pub pressure_waiting: usize,
}

/// Identifies one admitted connection.
pub type ConnId = u64;

#[derive(Debug)]
enum State {
    /// `seq` orders waiting connections by when they started waiting.
    Waiting {
        seq: u64,
        since: Instant,
    },
    Busy {
        requests: usize,
    },
}

#[derive(Debug)]
struct Entry<T> {
    key: IpAddr,
    state: State,
    /// A request was ever begun on it: a client that speaks HTTP, not a slow one.
    served: bool,
    payload: T,
}

/// How an evicted connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Never sent a request head, and pushed out at a bound or by the shortened deadline
    /// under pressure: parked (held unread until its header timeout, so a slow client
    /// does not learn of it and reconnect at once).
    Park,
    /// Past its header timeout, or a keep-alive connection between requests: closed.
    Close,
}

/// An evicted connection's payload and how it ends.
#[derive(Debug, PartialEq, Eq)]
pub struct Evicted<T> {
    pub payload: T,
    pub ending: Ending,
}

#[derive(Debug, Default)]
struct Address {
    open: usize,
    /// Sequence numbers of this address's waiting connections.
    waiting: BTreeSet<u64>,
}

impl Address {
    /// Its place in the global eviction order: most waiting connections first, then the
    /// oldest waiting connection.
    fn weight(&self, key: IpAddr) -> Option<(usize, Reverse<u64>, IpAddr)> {
        let oldest = *self.waiting.first()?;
        Some((self.waiting.len(), Reverse(oldest), key))
    }
}

/// Admitted (its id), or refused; with the connections evicted either way.
pub type Admission<T> = Result<(ConnId, Vec<Evicted<T>>), Vec<Evicted<T>>>;

/// Open connections per client address (IPv6: per /64) and in total, each carrying a
/// `T` (the handle that closes it) that is handed back when the table evicts it.
#[derive(Debug)]
pub struct ConnectionTable<T> {
    bounds: Bounds,
    next: u64,
    entries: HashMap<ConnId, Entry<T>>,
    /// Every waiting connection by `seq`: the oldest first.
    waiting: BTreeMap<u64, ConnId>,
    addresses: HashMap<IpAddr, Address>,
    /// Addresses with waiting connections, by [`Address::weight`]: the last is evicted
    /// from first.
    heaviest: BTreeSet<(usize, Reverse<u64>, IpAddr)>,
}

impl<T> ConnectionTable<T> {
    pub fn new(bounds: Bounds) -> Self {
        ConnectionTable {
            bounds,
            next: 0,
            entries: HashMap::new(),
            waiting: BTreeMap::new(),
            addresses: HashMap::new(),
            heaviest: BTreeSet::new(),
        }
    }

    /// Admit a new connection from `ip`, evicting waiting connections to make room:
    /// at the per-address bound the oldest waiting one of that address, at the global
    /// bound the oldest waiting one of the address with the most. `Err` when there is
    /// nothing to evict (every connection there is busy): the new one is refused.
    /// Either way, the evicted connections are returned, to be ended.
    pub fn admit(&mut self, ip: IpAddr, now: Instant, payload: T) -> Admission<T> {
        let mut evicted = self.sweep(now);
        let key = address_key(ip);
        let open = self.addresses.get(&key).map_or(0, |a| a.open);
        if open >= self.bounds.max_per_address {
            let oldest = self.addresses[&key].waiting.first().copied();
            match oldest {
                Some(seq) => evicted.extend(self.push_out(self.waiting[&seq])),
                None => return Err(evicted),
            }
        }
        if self.entries.len() >= self.bounds.max_total {
            let victim = self.heaviest.last().map(|&(_, Reverse(seq), _)| seq);
            match victim {
                Some(seq) => evicted.extend(self.push_out(self.waiting[&seq])),
                None => return Err(evicted),
            }
        }
        let id = self.next;
        self.next += 1;
        self.addresses.entry(key).or_default().open += 1;
        self.entries.insert(
            id,
            Entry {
                key,
                state: State::Busy { requests: 0 },
                served: false,
                payload,
            },
        );
        self.start_waiting(id, now);
        Ok((id, evicted))
    }

    /// Evict every waiting connection that has waited longer than the header timeout,
    /// or than the shorter one while more than `pressure_waiting` connections wait (those
    /// that never sent a request are parked for the rest of the header timeout).
    pub fn sweep(&mut self, now: Instant) -> Vec<Evicted<T>> {
        let limit = if self.under_pressure() {
            self.bounds.pressure_header_timeout
        } else {
            self.bounds.header_timeout
        };
        let mut evicted = Vec::new();
        while let Some((_, &id)) = self.waiting.first_key_value() {
            match self.entries[&id].state {
                State::Waiting { since, .. } if now.saturating_duration_since(since) >= limit => {
                    // Cut short under pressure: parked for the rest of its time.
                    let cut_short =
                        now.saturating_duration_since(since) < self.bounds.header_timeout;
                    let ending = match cut_short && !self.entries[&id].served {
                        true => Ending::Park,
                        false => Ending::Close,
                    };
                    evicted.extend(self.evict(id).map(|payload| Evicted { payload, ending }));
                }
                _ => break,
            }
        }
        evicted
    }

    /// A request head on `id` is complete: it is busy until [`Self::end_request`].
    /// A connection evicted meanwhile stays unknown (its request is still answered).
    pub fn begin_request(&mut self, id: ConnId) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        entry.served = true;
        match &mut entry.state {
            State::Busy { requests } => *requests += 1,
            State::Waiting { .. } => {
                self.stop_waiting(id);
                self.entries.get_mut(&id).expect("entry").state = State::Busy { requests: 1 };
            }
        }
    }

    /// A request on `id` has its response: once none is left, `id` waits again (for
    /// the next request head of a keep-alive connection).
    pub fn end_request(&mut self, id: ConnId, now: Instant) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        if let State::Busy { requests } = &mut entry.state {
            *requests = requests.saturating_sub(1);
            if *requests == 0 {
                self.start_waiting(id, now);
            }
        }
    }

    /// Connection `id` has closed.
    pub fn release(&mut self, id: ConnId) {
        let _ = self.evict(id);
    }

    pub fn open(&self) -> usize {
        self.entries.len()
    }

    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    pub fn bounds(&self) -> &Bounds {
        &self.bounds
    }

    pub fn under_pressure(&self) -> bool {
        self.waiting.len() > self.bounds.pressure_waiting
    }

    /// Evict `id` to make room: parked if it never began a request, else closed.
    fn push_out(&mut self, id: ConnId) -> Option<Evicted<T>> {
        let ending = match self.entries.get(&id)?.served {
            false => Ending::Park,
            true => Ending::Close,
        };
        let payload = self.evict(id)?;
        Some(Evicted { payload, ending })
    }

    /// Forget `id`; its payload, if it was still open.
    fn evict(&mut self, id: ConnId) -> Option<T> {
        if matches!(self.entries.get(&id)?.state, State::Waiting { .. }) {
            self.stop_waiting(id);
        }
        let entry = self.entries.remove(&id)?;
        let address = self
            .addresses
            .get_mut(&entry.key)
            .expect("address of an entry");
        address.open -= 1;
        if address.open == 0 {
            self.addresses.remove(&entry.key);
        }
        Some(entry.payload)
    }

    fn start_waiting(&mut self, id: ConnId, now: Instant) {
        let seq = self.next;
        self.next += 1;
        let entry = self.entries.get_mut(&id).expect("entry");
        entry.state = State::Waiting { seq, since: now };
        let key = entry.key;
        self.waiting.insert(seq, id);
        self.reweigh(key, |address| {
            address.waiting.insert(seq);
        });
    }

    fn stop_waiting(&mut self, id: ConnId) {
        let entry = &self.entries[&id];
        let State::Waiting { seq, .. } = entry.state else {
            return;
        };
        let key = entry.key;
        self.waiting.remove(&seq);
        self.reweigh(key, |address| {
            address.waiting.remove(&seq);
        });
    }

    /// Change `key`'s waiting set, keeping its place in `heaviest` right.
    fn reweigh(&mut self, key: IpAddr, change: impl FnOnce(&mut Address)) {
        let address = self.addresses.get_mut(&key).expect("address of an entry");
        if let Some(weight) = address.weight(key) {
            self.heaviest.remove(&weight);
        }
        change(address);
        if let Some(weight) = address.weight(key) {
            self.heaviest.insert(weight);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn bounds(max_total: usize, max_per_address: usize) -> Bounds {
        Bounds {
            max_total,
            max_per_address,
            header_timeout: Duration::from_secs(10),
            pressure_header_timeout: Duration::from_secs(2),
            pressure_waiting: max_total / 2,
        }
    }

    /// Admit with the payload `n`; the evicted payloads.
    fn admit(t: &mut ConnectionTable<u32>, addr: &str, at: Instant, n: u32) -> (ConnId, Vec<u32>) {
        let (id, evicted) = t.admit(ip(addr), at, n).expect("admitted");
        (id, payloads(evicted))
    }

    fn payloads(evicted: Vec<Evicted<u32>>) -> Vec<u32> {
        evicted.into_iter().map(|e| e.payload).collect()
    }

    fn refused(t: &mut ConnectionTable<u32>, addr: &str, at: Instant) -> bool {
        t.admit(ip(addr), at, 0).is_err()
    }

    #[test]
    fn at_the_per_address_bound_the_oldest_waiting_connection_of_that_address_goes() {
        let now = Instant::now();
        let mut t = ConnectionTable::new(bounds(10, 2));
        let (a, _) = admit(&mut t, "192.0.2.1", now, 1);
        admit(&mut t, "192.0.2.1", now, 2);
        admit(&mut t, "192.0.2.9", now, 9);
        // `a` is serving a request: the third from .1 evicts the second, not `a`.
        t.begin_request(a);
        let (c, evicted) = admit(&mut t, "192.0.2.1", now, 3);
        assert_eq!(evicted, vec![2]);
        assert_eq!(t.open(), 3);
        // Both of .1 busy: the next one from .1 is refused, .9 is untouched.
        t.begin_request(c);
        assert!(refused(&mut t, "192.0.2.1", now));
        assert_eq!(t.open(), 3);
    }

    #[test]
    fn at_the_global_bound_the_address_with_most_waiting_connections_loses_its_oldest() {
        let now = Instant::now();
        let mut t = ConnectionTable::new(bounds(6, 6));
        admit(&mut t, "192.0.2.1", now, 1);
        for n in 2..=5 {
            admit(&mut t, "192.0.2.66", now, n);
        }
        admit(&mut t, "192.0.2.77", now, 6);
        // Full: a newcomer evicts the oldest of .66 (four waiting), not the older
        // connection of the honest address.
        assert_eq!(admit(&mut t, "192.0.2.2", now, 7).1, vec![2]);
        assert_eq!(admit(&mut t, "192.0.2.3", now, 8).1, vec![3]);
        // Now .66 has two, like nobody else: still the heaviest.
        assert_eq!(admit(&mut t, "192.0.2.4", now, 9).1, vec![4]);
        // All addresses at one waiting connection: the oldest of all goes.
        assert_eq!(admit(&mut t, "192.0.2.5", now, 10).1, vec![1]);
        assert_eq!(t.open(), 6);
    }

    #[test]
    fn busy_connections_are_never_evicted_and_a_full_busy_table_refuses() {
        let now = Instant::now();
        let mut t = ConnectionTable::new(bounds(2, 2));
        let (a, _) = admit(&mut t, "192.0.2.1", now, 1);
        let (b, _) = admit(&mut t, "192.0.2.2", now, 2);
        t.begin_request(a);
        t.begin_request(b);
        assert!(refused(&mut t, "192.0.2.3", now));
        // A finished request makes `b` a waiting (keep-alive) connection again.
        t.end_request(b, now);
        assert_eq!(admit(&mut t, "192.0.2.3", now, 3).1, vec![2]);
    }

    #[test]
    fn connections_that_never_sent_a_request_are_parked_others_are_closed() {
        let now = Instant::now();
        let mut t = ConnectionTable::new(bounds(1, 1));
        let (a, _) = admit(&mut t, "192.0.2.1", now, 1);
        let (_, evicted) = t.admit(ip("192.0.2.2"), now, 2).unwrap();
        assert_eq!(
            evicted,
            vec![Evicted {
                payload: 1,
                ending: Ending::Park
            }]
        );
        t.release(a);
        // A keep-alive connection between requests is closed, so its client reconnects.
        let (b, _) = admit(&mut t, "192.0.2.2", now, 3);
        t.begin_request(b);
        t.end_request(b, now);
        let (_, evicted) = t.admit(ip("192.0.2.3"), now, 4).unwrap();
        assert_eq!(
            evicted,
            vec![Evicted {
                payload: 3,
                ending: Ending::Close
            }]
        );
        // Past the deadline: closed.
        let evicted = t.sweep(now + Duration::from_secs(10));
        assert_eq!(
            evicted,
            vec![Evicted {
                payload: 4,
                ending: Ending::Close
            }]
        );
    }

    #[test]
    fn a_connection_stays_busy_until_its_last_request_ends() {
        let now = Instant::now();
        let mut t = ConnectionTable::new(bounds(1, 1));
        let (a, _) = admit(&mut t, "192.0.2.1", now, 1);
        t.begin_request(a);
        t.begin_request(a);
        t.end_request(a, now);
        assert!(refused(&mut t, "192.0.2.2", now));
        t.end_request(a, now);
        assert_eq!(admit(&mut t, "192.0.2.2", now, 2).1, vec![1]);
    }

    #[test]
    fn slow_connections_are_swept_after_the_header_timeout_sooner_under_pressure() {
        let start = Instant::now();
        let mut t = ConnectionTable::new(bounds(8, 8));
        admit(&mut t, "192.0.2.1", start, 1);
        admit(&mut t, "192.0.2.1", start + Duration::from_secs(1), 2);
        assert!(!t.under_pressure());
        assert!(t.sweep(start + Duration::from_secs(9)).is_empty());
        assert_eq!(payloads(t.sweep(start + Duration::from_secs(10))), vec![1]);
        // Admitting sweeps too.
        let later = start + Duration::from_secs(20);
        assert_eq!(admit(&mut t, "192.0.2.2", later, 3).1, vec![2]);
        // Five waiting of eight (over half): two seconds is the limit.
        for n in 4..=7 {
            admit(&mut t, "192.0.2.2", later, n);
        }
        assert!(t.under_pressure());
        assert!(t.sweep(later + Duration::from_millis(1999)).is_empty());
        let swept = t.sweep(later + Duration::from_secs(2));
        assert!(swept.iter().all(|e| e.ending == Ending::Park));
        assert_eq!(payloads(swept), vec![3, 4, 5, 6, 7]);
        assert_eq!(t.open(), 0);
        assert!(!t.under_pressure());
    }

    #[test]
    fn counts_return_to_zero_and_strays_change_nothing() {
        let now = Instant::now();
        let mut t = ConnectionTable::new(bounds(10, 1));
        let (a, _) = admit(&mut t, "2001:db8::1", now, 1);
        // Same /64: the per-address bound evicts the first.
        let (b, evicted) = admit(&mut t, "2001:db8::2", now, 2);
        assert_eq!(evicted, vec![1]);
        t.release(a); // already evicted
        t.begin_request(b);
        t.end_request(b, now);
        t.release(b);
        t.release(77);
        t.begin_request(77);
        t.end_request(77, now);
        assert_eq!(t.open(), 0);
        assert_eq!(t.waiting(), 0);
        assert!(t.addresses.is_empty() && t.heaviest.is_empty());
    }
}
