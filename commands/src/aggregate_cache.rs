//! The most recently used aggregates, kept in memory with the stream version
//! they were built from, so loading one again reads and applies only the
//! events appended since instead of the whole stream.
//!
//! The cache is never the truth: a load always asks the store for events after
//! the cached version, and an append still names the version it decided on,
//! so a cached state behind another writer's events is caught up (or the
//! append conflicts and is decided again) exactly as without the cache. It
//! turns the work of a long execution from quadratic in its length (every
//! step re-read every earlier event) into linear.

use std::{
    any::Any,
    sync::{Arc, Mutex},
};

use flowforge_domain::Aggregate;
use flowforge_infra::event_store::{Position, StreamId};
use hashlink::LruCache;

/// One cached aggregate state: what its events built up to `version`.
#[derive(Clone)]
pub(crate) struct Snapshot<A> {
    /// The state.
    pub state: A,
    /// The stream version it reflects.
    pub version: u64,
    /// The global position of that version's event.
    pub position: Position,
    /// The tenant (workspace) the stream belongs to: its first event's.
    pub tenant: Option<String>,
}

/// A bounded least-recently-used map from stream to aggregate state.
#[derive(Clone)]
pub(crate) struct AggregateCache {
    entries: Arc<Mutex<LruCache<StreamId, Box<dyn Any + Send + Sync>>>>,
}

impl AggregateCache {
    /// A cache of at most `capacity` aggregates (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Arc::new(Mutex::new(LruCache::new(capacity.max(1)))),
        }
    }

    /// A copy of the cached state of `stream`, if one is cached.
    pub fn get<A: Aggregate>(&self, stream: &StreamId) -> Option<Snapshot<A>> {
        let mut entries = self.entries.lock().ok()?;
        entries
            .get(stream)
            .and_then(|entry| entry.downcast_ref::<Snapshot<A>>())
            .cloned()
    }

    /// Keeps `snapshot` for `stream` unless a newer one is cached already.
    pub fn put<A: Aggregate>(&self, stream: &StreamId, snapshot: Snapshot<A>) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let newer_cached = entries
            .peek(stream)
            .and_then(|entry| entry.downcast_ref::<Snapshot<A>>())
            .is_some_and(|cached| cached.version >= snapshot.version);
        if !newer_cached {
            entries.insert(stream.clone(), Box::new(snapshot));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowforge_domain::DomainEvent;
    use serde::{Deserialize, Serialize};

    /// The number of events applied: enough to tell states apart.
    #[derive(Debug, Default, Clone, PartialEq)]
    struct Tally(u64);

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type", content = "data")]
    enum Counted {
        Counted,
    }

    impl DomainEvent for Counted {
        fn event_type(&self) -> &'static str {
            "Counted"
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("never")]
    struct Never;

    impl Aggregate for Tally {
        const TYPE: &'static str = "tally";
        type Command = ();
        type Event = Counted;
        type Error = Never;

        fn handle(&self, (): ()) -> Result<Vec<Counted>, Never> {
            Ok(vec![Counted::Counted])
        }

        fn apply(&mut self, Counted::Counted: Counted) {
            self.0 += 1;
        }
    }

    fn stream(id: &str) -> StreamId {
        StreamId::new("tally", id).expect("stream id")
    }

    fn snapshot(version: u64) -> Snapshot<Tally> {
        Snapshot {
            state: Tally(version),
            version,
            position: version,
            tenant: None,
        }
    }

    #[test]
    fn given_a_cached_state_when_an_older_one_is_put_then_the_newer_stays() {
        let cache = AggregateCache::new(4);
        cache.put(&stream("a"), snapshot(3));
        cache.put(&stream("a"), snapshot(2));
        let cached = cache.get::<Tally>(&stream("a")).expect("cached");
        assert_eq!((cached.version, cached.state), (3, Tally(3)));
    }

    #[test]
    fn given_a_full_cache_when_another_stream_is_put_then_the_least_recently_used_goes() {
        let cache = AggregateCache::new(2);
        cache.put(&stream("a"), snapshot(1));
        cache.put(&stream("b"), snapshot(1));
        assert!(cache.get::<Tally>(&stream("a")).is_some());
        cache.put(&stream("c"), snapshot(1));
        assert!(cache.get::<Tally>(&stream("a")).is_some());
        assert!(cache.get::<Tally>(&stream("b")).is_none());
        assert!(cache.get::<Tally>(&stream("c")).is_some());
    }
}
