//! Identical work in flight, done once: the one map behind both subgraph
//! fetch coalescing and client request coalescing. Only reads are ever
//! given to it (the caller's rule: a mutation, and every fetch of a
//! mutation's plan, always runs on its own).
//!
//! The rules it keeps:
//! - a caller joins only work still running: finished work removes its own
//!   entry before anyone sees its result, so nobody is ever handed a stale
//!   answer or an old timeout;
//! - when every caller waiting on some work has gone away (hung up), its
//!   entry leaves the map and the work is dropped; the next identical call
//!   starts afresh;
//! - each entry has an id, and a caller only ever removes the entry it
//!   joined, never a newer one under the same key.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};

type Map<K, V> = HashMap<K, Entry<V>, ahash::RandomState>;

struct Entry<V: Clone> {
    id: u64,
    work: Shared<BoxFuture<'static, V>>,
    waiters: usize,
}

/// Work in flight by key; see the module.
pub struct InFlight<K, V: Clone> {
    map: Arc<Mutex<Map<K, V>>>,
    next_id: AtomicU64,
}

impl<K, V: Clone> Default for InFlight<K, V> {
    fn default() -> Self {
        Self {
            map: Arc::new(Mutex::new(HashMap::with_hasher(ahash::RandomState::new()))),
            next_id: AtomicU64::new(1),
        }
    }
}

impl<K, V> InFlight<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// The result of `work` for `key`: joined if identical work is running,
    /// else started (and shared with whoever joins before it finishes).
    pub async fn run<F>(&self, key: K, work: F) -> V
    where
        F: Future<Output = V> + Send + 'static,
    {
        let (id, shared) = {
            let mut map = lock(&self.map);
            match map.get_mut(&key) {
                Some(entry) => {
                    entry.waiters += 1;
                    (entry.id, entry.work.clone())
                }
                None => {
                    let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                    let done_map = Arc::downgrade(&self.map);
                    let done_key = key.clone();
                    let work = async move {
                        let out = work.await;
                        // Finished: leave before anyone is handed the result.
                        if let Some(map) = done_map.upgrade() {
                            remove_if(&map, &done_key, id);
                        }
                        out
                    }
                    .boxed()
                    .shared();
                    map.insert(
                        key.clone(),
                        Entry {
                            id,
                            work: work.clone(),
                            waiters: 1,
                        },
                    );
                    (id, work)
                }
            }
        };
        let waiter = Waiter {
            map: &self.map,
            key: Some(key),
            id,
        };
        let out = shared.await;
        waiter.finished();
        out
    }

    /// How many entries are in flight (tests and metrics).
    pub fn len(&self) -> usize {
        lock(&self.map).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn lock<K, V: Clone>(map: &Mutex<Map<K, V>>) -> std::sync::MutexGuard<'_, Map<K, V>> {
    // A panic while holding the lock leaves only coalescing state behind.
    map.lock().unwrap_or_else(|p| p.into_inner())
}

fn remove_if<K: Hash + Eq, V: Clone>(map: &Mutex<Map<K, V>>, key: &K, id: u64) {
    let mut map = lock(map);
    if map.get(key).is_some_and(|e| e.id == id) {
        map.remove(key);
    }
}

/// A caller waiting on an entry. Dropped before the work finished (its
/// client hung up), it counts itself out, and the last one out removes the
/// entry, which drops the work.
struct Waiter<'m, K: Hash + Eq, V: Clone> {
    map: &'m Mutex<Map<K, V>>,
    key: Option<K>,
    id: u64,
}

impl<K: Hash + Eq, V: Clone> Waiter<'_, K, V> {
    fn finished(mut self) {
        // The work removed its entry as it finished.
        self.key = None;
    }
}

impl<K: Hash + Eq, V: Clone> Drop for Waiter<'_, K, V> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else {
            return;
        };
        let mut map = lock(self.map);
        let last = match map.get_mut(&key) {
            Some(entry) if entry.id == self.id => {
                entry.waiters -= 1;
                entry.waiters == 0
            }
            _ => false,
        };
        if last {
            map.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;

    /// Work that counts its starts and takes `ms`.
    fn work(started: &Arc<AtomicUsize>, ms: u64, answer: u32) -> impl Future<Output = u32> + use<> {
        let started = started.clone();
        async move {
            started.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            answer
        }
    }

    #[tokio::test]
    async fn identical_calls_in_flight_run_once_and_all_get_the_answer() {
        let inflight = Arc::new(InFlight::<&str, u32>::default());
        let started = Arc::new(AtomicUsize::new(0));
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let (inflight, started) = (inflight.clone(), started.clone());
                tokio::spawn(async move { inflight.run("k", work(&started, 50, 7)).await })
            })
            .collect();
        for call in calls {
            assert_eq!(call.await.unwrap(), 7);
        }
        assert_eq!(started.load(Ordering::SeqCst), 1);
        assert!(inflight.is_empty(), "finished work leaves the map");
    }

    #[tokio::test]
    async fn finished_work_is_never_joined() {
        let inflight = InFlight::<&str, u32>::default();
        let started = Arc::new(AtomicUsize::new(0));
        assert_eq!(inflight.run("k", work(&started, 1, 1)).await, 1);
        assert_eq!(
            inflight.run("k", work(&started, 1, 2)).await,
            2,
            "a later call gets fresh work, not the old answer"
        );
        assert_eq!(started.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn when_every_waiter_hangs_up_the_entry_goes_and_the_next_call_starts_afresh() {
        let inflight = Arc::new(InFlight::<&str, u32>::default());
        let started = Arc::new(AtomicUsize::new(0));
        let hung: Vec<_> = (0..3)
            .map(|_| {
                let (inflight, started) = (inflight.clone(), started.clone());
                tokio::spawn(async move { inflight.run("k", work(&started, 10_000, 1)).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(inflight.len(), 1);
        for h in &hung {
            h.abort();
        }
        for h in hung {
            let _ = h.await;
        }
        assert!(inflight.is_empty(), "no entry is left behind");
        assert_eq!(inflight.run("k", work(&started, 1, 2)).await, 2);
        assert_eq!(started.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn one_waiter_hanging_up_leaves_the_others_their_answer() {
        let inflight = Arc::new(InFlight::<&str, u32>::default());
        let started = Arc::new(AtomicUsize::new(0));
        let spawn = |inflight: &Arc<InFlight<&'static str, u32>>| {
            let (inflight, started) = (inflight.clone(), started.clone());
            tokio::spawn(async move { inflight.run("k", work(&started, 100, 9)).await })
        };
        let leaver = spawn(&inflight);
        tokio::time::sleep(Duration::from_millis(10)).await;
        let stayer = spawn(&inflight);
        tokio::time::sleep(Duration::from_millis(10)).await;
        leaver.abort();
        assert_eq!(stayer.await.unwrap(), 9);
        assert_eq!(started.load(Ordering::SeqCst), 1);
        assert!(inflight.is_empty());
    }

    #[tokio::test]
    async fn a_waiter_never_removes_a_newer_entry() {
        let inflight = Arc::new(InFlight::<&str, u32>::default());
        let started = Arc::new(AtomicUsize::new(0));
        // An old entry whose only waiter hangs up…
        let old = {
            let (inflight, started) = (inflight.clone(), started.clone());
            tokio::spawn(async move { inflight.run("k", work(&started, 10_000, 1)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        old.abort();
        let _ = old.await;
        // …then a new one under the same key, with a waiter.
        let new = {
            let (inflight, started) = (inflight.clone(), started.clone());
            tokio::spawn(async move { inflight.run("k", work(&started, 100, 2)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(inflight.len(), 1, "the new entry stands");
        assert_eq!(new.await.unwrap(), 2);
    }
}
