//! The connections accepted but not yet handed to the server: waiting for their first bytes
//! or in their handshake. Bounded in number overall and per source address; at a bound the
//! *oldest* pending connection (of that source, or overall) is evicted to make room, so that
//! idle sockets held open by someone else cannot lock real clients out.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

/// The register of pending connections.
pub(crate) struct Pending {
    max: usize,
    max_per_source: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    next: u64,
    /// By arrival: the first key is the oldest.
    by_age: BTreeMap<u64, Entry>,
    /// Each source's pending connections, oldest first.
    by_source: HashMap<IpAddr, VecDeque<u64>>,
}

struct Entry {
    source: IpAddr,
    /// Dropping it tells the connection's task it was evicted.
    _evict: oneshot::Sender<()>,
}

/// One pending connection's place in the register; it leaves the register when dropped.
pub(crate) struct Slot {
    pending: Arc<Pending>,
    id: u64,
    /// Resolves (with an error) when the connection is evicted.
    pub(crate) evicted: oneshot::Receiver<()>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.pending.remove(self.id);
    }
}

impl Pending {
    pub(crate) fn new(max: usize, max_per_source: usize) -> Arc<Self> {
        Arc::new(Self {
            max: max.max(1),
            max_per_source: max_per_source.max(1),
            state: Mutex::new(State::default()),
        })
    }

    /// Registers a connection from `source`, evicting the oldest one of that source if it
    /// is at its bound, else the oldest of all if the register is full. Returns the slot
    /// and whether a connection was evicted to make room.
    pub(crate) fn admit(self: &Arc<Self>, source: IpAddr) -> (Slot, bool) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let of_source = state.by_source.get(&source).map_or(0, VecDeque::len);
        let victim = if of_source >= self.max_per_source {
            state
                .by_source
                .get(&source)
                .and_then(|q| q.front().copied())
        } else if state.by_age.len() >= self.max {
            state.by_age.keys().next().copied()
        } else {
            None
        };
        if let Some(victim) = victim {
            state.remove(victim);
        }
        let id = state.next;
        state.next += 1;
        let (evict, evicted) = oneshot::channel();
        state.by_age.insert(
            id,
            Entry {
                source,
                _evict: evict,
            },
        );
        state.by_source.entry(source).or_default().push_back(id);
        let slot = Slot {
            pending: Arc::clone(self),
            id,
            evicted,
        };
        (slot, victim.is_some())
    }

    fn remove(&self, id: u64) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }

    /// How many connections are pending.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_age
            .len()
    }
}

impl State {
    /// Takes `id` out of the register (evicting it, if it is still pending).
    fn remove(&mut self, id: u64) {
        let Some(entry) = self.by_age.remove(&id) else {
            return;
        };
        if let Some(queue) = self.by_source.get_mut(&entry.source) {
            queue.retain(|&i| i != id);
            if queue.is_empty() {
                self.by_source.remove(&entry.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn at_the_bound_the_oldest_is_evicted_not_the_newest() {
        let pending = Pending::new(3, 3);
        let (mut a, _) = pending.admit(ip(1));
        let (mut b, _) = pending.admit(ip(2));
        let (mut c, _) = pending.admit(ip(3));
        assert_eq!(pending.len(), 3);
        let (mut d, evicted) = pending.admit(ip(4));
        assert!(evicted);
        assert_eq!(pending.len(), 3);
        // a was told; the others were not.
        assert!(
            a.evicted
                .try_recv()
                .is_err_and(|e| e == oneshot::error::TryRecvError::Closed)
        );
        for s in [&mut b, &mut c, &mut d] {
            assert_eq!(
                s.evicted.try_recv(),
                Err(oneshot::error::TryRecvError::Empty)
            );
        }
        // A slot that finishes leaves room without evicting anyone.
        drop(b);
        assert_eq!(pending.len(), 2);
        let (_e, evicted) = pending.admit(ip(5));
        assert!(!evicted);
        assert_eq!(
            c.evicted.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        );
        // Dropping an evicted slot is harmless.
        drop(a);
        assert_eq!(pending.len(), 3);
    }

    #[test]
    fn one_source_at_its_bound_evicts_its_own_oldest() {
        let pending = Pending::new(10, 2);
        let (mut other, _) = pending.admit(ip(9));
        let (mut first, _) = pending.admit(ip(1));
        let (mut second, _) = pending.admit(ip(1));
        let (mut third, evicted) = pending.admit(ip(1));
        assert!(evicted);
        assert!(
            first
                .evicted
                .try_recv()
                .is_err_and(|e| e == oneshot::error::TryRecvError::Closed)
        );
        assert_eq!(
            second.evicted.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        );
        assert_eq!(
            third.evicted.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        );
        // Another source's connection is untouched by a flood from the first.
        let flood: Vec<Slot> = (0..20).map(|_| pending.admit(ip(1)).0).collect();
        assert_eq!(
            other.evicted.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        );
        assert_eq!(pending.len(), 1 + 2);
        drop(flood);
        assert_eq!(pending.len(), 1);
    }
}
