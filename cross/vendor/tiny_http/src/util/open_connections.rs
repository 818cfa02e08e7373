//! Sentinel's patch: the connections a server keeps open, closed oldest first past a limit.
//!
//! Each open connection holds a thread of the task pool for as long as it stays open, so a
//! client that opens many connections and trickles bytes into each could take every thread the
//! process may have (a systemd unit's `TasksMax=`). Past `MAX_OPEN`, a new connection closes
//! the oldest one still open: a flood of idle connections cannot shut out a new client, and the
//! threads stay bounded.

use std::collections::VecDeque;
use std::net::Shutdown;
use std::sync::{Arc, Mutex};

use crate::connection::Connection;

/// At most this many connections are kept open per server.
pub const MAX_OPEN: usize = 512;

/// The open connections, oldest first, each with a handle that can shut it down.
pub struct OpenConnections {
    limit: usize,
    inner: Mutex<Inner>,
}

struct Inner {
    next_id: u64,
    open: VecDeque<(u64, Option<Connection>)>,
}

/// A connection's place in [`OpenConnections`]; dropping it (the connection's task ended)
/// gives the place back.
pub struct Registered {
    id: u64,
    set: Arc<OpenConnections>,
}

impl OpenConnections {
    pub fn new(limit: usize) -> OpenConnections {
        OpenConnections { limit: limit.max(1), inner: Mutex::new(Inner { next_id: 0, open: VecDeque::new() }) }
    }

    /// Counts a new connection in (with `closer`, a clone of its socket, when one could be
    /// made), shutting down the oldest ones past the limit.
    pub fn register(self: &Arc<Self>, closer: Option<Connection>) -> Registered {
        let mut inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let id = inner.next_id;
        inner.next_id += 1;
        inner.open.push_back((id, closer));
        while inner.open.len() > self.limit {
            if let Some((_, Some(oldest))) = inner.open.pop_front() {
                let _ = oldest.shutdown(Shutdown::Both);
            }
        }
        Registered { id, set: self.clone() }
    }

    /// How many connections are counted open.
    #[allow(dead_code)]
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).open.len()
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut inner = self.set.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Ids only grow, so the queue is sorted by id.
        if let Ok(at) = inner.open.binary_search_by_key(&self.id, |(id, _)| *id) {
            inner.open.remove(at);
        }
    }
}
