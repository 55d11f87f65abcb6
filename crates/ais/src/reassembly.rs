//! Reassembly: fragments of multi-sentence messages to one payload.
//!
//! Owns the pending-fragment table. Bounded in entries and in age (measured in message time, with a
//! sentence count as the clock when a feed carries no time), and strict: a fragment that does not
//! continue its message exactly discards the partial message, so unrelated fragments are never
//! joined (nmea-parser joins an orphaned fragment 2 to the next fragment 1, turning `LEMMER` into
//! `LEMMEP`). Pure: no clock reads, no I/O.

// Input path: no index or arithmetic that can panic on hostile input (ARCHITECTURE.md,
// invariants). Where a bound is proven, a local `allow` says why it holds.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashMap, FxHasher};

use crate::decode::bits::MAX_PAYLOAD_CHARS;
use crate::time::UnixMillis;

/// Everything that tells two fragment streams apart: two receivers, two channels or interleaved
/// sequences never share a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragmentKey {
    /// The feed the line came from (a file, a socket).
    pub feed: u32,
    /// A hash of the receiving station (tag block `s:` or a log's station field), 0 when unknown.
    pub station: u64,
    /// Talker id.
    pub talker: [u8; 2],
    /// Radio channel, 0 when not given.
    pub channel: u8,
    /// Sequential message id, `None` when not given.
    pub seq_id: Option<u8>,
    /// Tag-block group id, when the line had one.
    pub group: Option<u32>,
}

impl FragmentKey {
    /// Hashes a station name for [`FragmentKey::station`]. A 64-bit hash rather than the name keeps
    /// the key `Copy` and small; a collision needs two stations and the same sequence id at once.
    pub fn station_hash(station: Option<&[u8]>) -> u64 {
        station.map_or(0, |s| {
            let mut h = FxHasher::default();
            s.hash(&mut h);
            h.finish() | 1
        })
    }
}

/// The reassembler's clock: message time when known, and always the count of sentences seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// Message time of the current sentence, when the feed gives one.
    pub time: Option<UnixMillis>,
    /// Sentences seen so far on this front end.
    pub sentence: u64,
}

/// Limits on pending messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most messages pending at once; the oldest is evicted to make room.
    pub max_pending: usize,
    /// Oldest a partial message may get, in message time. Fragments of one message are sent in
    /// consecutive slots, so even a relayed feed delivers them within seconds.
    pub max_age_ms: i64,
    /// Oldest a partial message may get in sentences, the clock used when a feed has no time.
    pub max_age_sentences: u64,
}

impl Limits {
    /// True when a message started at `started` is too old at `now`, by message time where both
    /// times are known and by sentence count always.
    fn expired(&self, started: Tick, now: Tick) -> bool {
        let by_time = matches!((started.time, now.time),
            (Some(s), Some(n)) if n.millis_since(s) > self.max_age_ms);
        by_time || now.sentence.saturating_sub(started.sentence) > self.max_age_sentences
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_pending: 1024,
            max_age_ms: 60_000,
            max_age_sentences: 10_000,
        }
    }
}

/// Why a fragment was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FragmentError {
    /// A later fragment whose message start was never seen (or already expired).
    Orphan,
    /// A fragment that does not continue its message: wrong count, wrong number or a repeat. The
    /// partial message is discarded with it.
    Mismatch,
    /// The message grew beyond the longest payload any AIS message has.
    TooLong,
}

/// Counts of partial messages dropped without a fragment to blame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    /// Partial messages that passed the age limit.
    pub expired: u64,
    /// Partial messages evicted because the table was full.
    pub evicted: u64,
    /// Partial messages replaced by a new first fragment with the same key.
    pub superseded: u64,
}

/// One fragment as the sentence gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// Fragments in the message.
    pub total: u8,
    /// This fragment's number, from 1.
    pub number: u8,
    /// Its piece of the armoured payload.
    pub payload: &'a [u8],
    /// Fill bits (only the last fragment's count).
    pub fill: u8,
}

/// What pushing a fragment produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Assembly<'a, M> {
    /// The message is complete: its whole payload, the last fragment's fill bits and the first
    /// fragment's metadata.
    Complete {
        /// The joined armoured payload.
        payload: &'a [u8],
        /// Fill bits from the last fragment.
        fill: u8,
        /// Metadata captured from the first fragment.
        meta: M,
    },
    /// Stored; more fragments are expected.
    Pending,
    /// The fragment was not used.
    Rejected(FragmentError),
}

#[derive(Debug)]
struct Pending<M> {
    total: u8,
    next: u8,
    payload: Vec<u8>,
    started: Tick,
    meta: M,
}

/// Joins fragments into messages. `M` is the metadata kept from the first fragment (time, source).
#[derive(Debug)]
pub struct Reassembler<M> {
    pending: FxHashMap<FragmentKey, Pending<M>>,
    /// For pending messages whose first fragment named a station: their key with the station left
    /// out, to the station. In the USCG NAIS format (and others) only the first line of a group
    /// carries `s:`; the later lines carry `g:` alone, and the first line gives the source for the
    /// rest. One entry per pending message at most, removed with it, so it is bounded by
    /// `max_pending` too.
    sources: FxHashMap<FragmentKey, u64>,
    limits: Limits,
    stats: ReassemblyStats,
    /// Recycled payload buffers, so that steady-state reassembly does not allocate.
    pool: Vec<Vec<u8>>,
    out: Vec<u8>,
    pushes: u64,
}

impl<M: Copy> Reassembler<M> {
    /// An empty reassembler with the given limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            pending: FxHashMap::default(),
            sources: FxHashMap::default(),
            limits,
            stats: ReassemblyStats::default(),
            pool: Vec::new(),
            out: Vec::new(),
            pushes: 0,
        }
    }

    /// Partial messages held now; never more than `max_pending`.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Partial messages held now for one feed: while there are any, a checkpoint at the feed's
    /// current position would cut a message in two.
    pub fn pending_for(&self, feed: u32) -> usize {
        self.pending.keys().filter(|k| k.feed == feed).count()
    }

    /// Drop counts so far.
    pub fn stats(&self) -> ReassemblyStats {
        self.stats
    }

    fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.pool.len() < 64 {
            buf.clear();
            self.pool.push(buf);
        }
    }

    /// Drops every partial message past the age limit.
    pub fn sweep(&mut self, now: Tick) {
        let limits = self.limits;
        let old: Vec<FragmentKey> = self
            .pending
            .iter()
            .filter(|(_, p)| limits.expired(p.started, now))
            .map(|(k, _)| *k)
            .collect();
        for key in old {
            self.discard(&key);
            self.stats.expired = self.stats.expired.saturating_add(1);
        }
    }

    /// Removes a pending message and its entry in `sources`; returns it.
    fn take(&mut self, key: &FragmentKey) -> Option<Pending<M>> {
        let p = self.pending.remove(key)?;
        if key.station != 0 {
            let anonymous = FragmentKey { station: 0, ..*key };
            if self.sources.get(&anonymous) == Some(&key.station) {
                self.sources.remove(&anonymous);
            }
        }
        Some(p)
    }

    /// Removes a pending message and recycles its buffer.
    fn discard(&mut self, key: &FragmentKey) {
        if let Some(p) = self.take(key) {
            self.recycle(p.payload);
        }
    }

    /// The key a later fragment continues: its own when a message is pending under it; else, when
    /// the line named no station, the key of the latest first fragment that did and otherwise
    /// matches (same feed, talker, channel, sequence id and group).
    fn continued(&self, key: FragmentKey) -> FragmentKey {
        if key.station != 0 || self.pending.contains_key(&key) {
            return key;
        }
        match self.sources.get(&key) {
            Some(&station) => FragmentKey { station, ..key },
            None => key,
        }
    }

    /// Adds a fragment of a 2- to 9-fragment message (single sentences need no reassembly).
    pub fn push(
        &mut self,
        key: FragmentKey,
        fragment: Fragment<'_>,
        now: Tick,
        meta: M,
    ) -> Assembly<'_, M> {
        let Fragment {
            total,
            number,
            payload,
            fill,
        } = fragment;
        self.pushes = self.pushes.saturating_add(1);
        if self.pushes.is_multiple_of(1024) {
            self.sweep(now);
        }
        if number == 1 {
            if let Some(old) = self.take(&key) {
                self.stats.superseded = self.stats.superseded.saturating_add(1);
                self.recycle(old.payload);
            }
            if payload.len() > MAX_PAYLOAD_CHARS {
                return Assembly::Rejected(FragmentError::TooLong);
            }
            if self.pending.len() >= self.limits.max_pending {
                self.sweep(now);
            }
            if self.pending.len() >= self.limits.max_pending {
                self.evict_oldest();
            }
            let mut buf = self.pool.pop().unwrap_or_default();
            buf.extend_from_slice(payload);
            if key.station != 0 {
                self.sources
                    .insert(FragmentKey { station: 0, ..key }, key.station);
            }
            self.pending.insert(
                key,
                Pending {
                    total,
                    next: 2,
                    payload: buf,
                    started: now,
                    meta,
                },
            );
            return Assembly::Pending;
        }

        let key = self.continued(key);
        let Some(entry) = self.pending.get(&key) else {
            return Assembly::Rejected(FragmentError::Orphan);
        };
        if self.limits.expired(entry.started, now) {
            self.discard(&key);
            self.stats.expired = self.stats.expired.saturating_add(1);
            return Assembly::Rejected(FragmentError::Orphan);
        }
        let fits = entry.total == total && entry.next == number;
        let too_long = entry.payload.len().saturating_add(payload.len()) > MAX_PAYLOAD_CHARS;
        if !fits || too_long {
            self.discard(&key);
            return Assembly::Rejected(if fits {
                FragmentError::TooLong
            } else {
                FragmentError::Mismatch
            });
        }
        if number < total {
            let entry = self.pending.get_mut(&key).expect("present");
            entry.payload.extend_from_slice(payload);
            // `next` is at most `total`, a single digit.
            entry.next = entry.next.saturating_add(1);
            return Assembly::Pending;
        }
        let Some(mut done) = self.take(&key) else {
            return Assembly::Rejected(FragmentError::Orphan);
        };
        done.payload.extend_from_slice(payload);
        let previous = std::mem::replace(&mut self.out, done.payload);
        self.recycle(previous);
        Assembly::Complete {
            payload: &self.out,
            fill,
            meta: done.meta,
        }
    }

    fn evict_oldest(&mut self) {
        let oldest = self
            .pending
            .iter()
            .min_by_key(|(_, p)| p.started.sentence)
            .map(|(k, _)| *k);
        if let Some(k) = oldest {
            self.discard(&k);
            self.stats.evicted = self.stats.evicted.saturating_add(1);
        }
    }
}

#[cfg(test)]
// Tests index their own fixtures; a panic there is a failed test, as it should be.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    fn key(seq: u8) -> FragmentKey {
        FragmentKey {
            feed: 0,
            station: 0,
            talker: *b"AI",
            channel: b'A',
            seq_id: Some(seq),
            group: None,
        }
    }

    fn frag(total: u8, number: u8, payload: &[u8], fill: u8) -> Fragment<'_> {
        Fragment {
            total,
            number,
            payload,
            fill,
        }
    }

    fn tick(n: u64) -> Tick {
        Tick {
            time: None,
            sentence: n,
        }
    }

    fn complete(a: Assembly<'_, ()>) -> Option<Vec<u8>> {
        match a {
            Assembly::Complete { payload, .. } => Some(payload.to_vec()),
            _ => None,
        }
    }

    #[test]
    fn three_fragments_join_in_order() {
        let mut r = Reassembler::new(Limits::default());
        assert_eq!(
            r.push(key(7), frag(3, 1, b"aa", 0), tick(1), ()),
            Assembly::Pending
        );
        assert_eq!(
            r.push(key(7), frag(3, 2, b"bb", 0), tick(2), ()),
            Assembly::Pending
        );
        assert_eq!(
            complete(r.push(key(7), frag(3, 3, b"cc", 4), tick(3), ())),
            Some(b"aabbcc".to_vec())
        );
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn orphaned_second_fragment_never_joins_the_next_first() {
        // Regression for nmea-parser's `LEMMEP`: a lone fragment 2 must not attach to anything.
        let mut r = Reassembler::new(Limits::default());
        assert_eq!(
            r.push(key(1), frag(2, 2, b"XX", 0), tick(1), ()),
            Assembly::Rejected(FragmentError::Orphan)
        );
        r.push(key(1), frag(2, 1, b"aa", 0), tick(2), ());
        assert_eq!(
            complete(r.push(key(1), frag(2, 2, b"bb", 0), tick(3), ())),
            Some(b"aabb".to_vec())
        );
    }

    #[test]
    fn repeat_or_wrong_count_discards_the_partial_message() {
        let mut r = Reassembler::new(Limits::default());
        r.push(key(2), frag(3, 1, b"aa", 0), tick(1), ());
        r.push(key(2), frag(3, 2, b"bb", 0), tick(2), ());
        assert_eq!(
            r.push(key(2), frag(3, 2, b"bb", 0), tick(3), ()),
            Assembly::Rejected(FragmentError::Mismatch)
        );
        assert_eq!(
            r.push(key(2), frag(3, 3, b"cc", 0), tick(4), ()),
            Assembly::Rejected(FragmentError::Orphan)
        );
        r.push(key(3), frag(2, 1, b"aa", 0), tick(5), ());
        assert_eq!(
            r.push(key(3), frag(3, 2, b"bb", 0), tick(6), ()),
            Assembly::Rejected(FragmentError::Mismatch)
        );
    }

    #[test]
    fn keys_keep_channels_and_stations_apart() {
        let mut r = Reassembler::new(Limits::default());
        let mut b = key(4);
        b.channel = b'B';
        let mut other_station = key(4);
        other_station.station = FragmentKey::station_hash(Some(b"r2"));
        r.push(key(4), frag(2, 1, b"a1", 0), tick(1), ());
        r.push(b, frag(2, 1, b"b1", 0), tick(2), ());
        assert_eq!(
            r.push(other_station, frag(2, 2, b"s2", 0), tick(3), ()),
            Assembly::Rejected(FragmentError::Orphan)
        );
        assert_eq!(
            complete(r.push(b, frag(2, 2, b"b2", 0), tick(4), ())),
            Some(b"b1b2".to_vec())
        );
        assert_eq!(
            complete(r.push(key(4), frag(2, 2, b"a2", 0), tick(5), ())),
            Some(b"a1a2".to_vec())
        );
    }

    #[test]
    fn later_lines_without_a_source_continue_the_group_their_first_line_named() {
        // USCG NAIS: `\\g:1-2-73874,s:r003669945,c:...\\` then `\\g:2-2-73874,n:...\\`.
        let mut r = Reassembler::new(Limits::default());
        let grouped = |station: Option<&[u8]>| FragmentKey {
            station: FragmentKey::station_hash(station),
            group: Some(73874),
            ..key(1)
        };
        r.push(
            grouped(Some(b"r003669945")),
            frag(2, 1, b"a1", 0),
            tick(1),
            (),
        );
        // Another station's message with the same group id and sequence id is kept apart.
        r.push(grouped(Some(b"r2")), frag(2, 1, b"b1", 0), tick(2), ());
        assert_eq!(
            complete(r.push(
                grouped(Some(b"r003669945")),
                frag(2, 2, b"a2", 0),
                tick(3),
                ()
            )),
            Some(b"a1a2".to_vec())
        );
        // The anonymous second line goes to the latest first line that named a station.
        assert_eq!(
            complete(r.push(grouped(None), frag(2, 2, b"b2", 0), tick(4), ())),
            Some(b"b1b2".to_vec())
        );
        // Nothing pending any more: a further anonymous line is an orphan, never joined.
        assert_eq!(
            r.push(grouped(None), frag(2, 2, b"c2", 0), tick(5), ()),
            Assembly::Rejected(FragmentError::Orphan)
        );
        assert_eq!((r.pending(), r.sources.len()), (0, 0));
        // An anonymous first line is continued by its own anonymous key, before any named one.
        r.push(grouped(Some(b"r2")), frag(2, 1, b"n1", 0), tick(6), ());
        r.push(grouped(None), frag(2, 1, b"x1", 0), tick(7), ());
        assert_eq!(
            complete(r.push(grouped(None), frag(2, 2, b"x2", 0), tick(8), ())),
            Some(b"x1x2".to_vec())
        );
    }

    #[test]
    fn age_is_measured_in_message_time() {
        let mut r = Reassembler::new(Limits::default());
        let at = |ms| Tick {
            time: Some(UnixMillis(ms)),
            sentence: 1,
        };
        r.push(key(5), frag(2, 1, b"aa", 0), at(0), ());
        assert_eq!(
            r.push(key(5), frag(2, 2, b"bb", 0), at(61_000), ()),
            Assembly::Rejected(FragmentError::Orphan)
        );
        assert_eq!(r.stats().expired, 1);
    }

    #[test]
    fn cap_evicts_the_oldest() {
        let limits = Limits {
            max_pending: 3,
            ..Limits::default()
        };
        let mut r = Reassembler::new(limits);
        for s in 0..5 {
            r.push(key(s), frag(2, 1, b"aa", 0), tick(u64::from(s)), ());
            assert!(r.pending() <= 3);
        }
        assert_eq!(r.stats().evicted, 2);
        assert_eq!(
            r.push(key(0), frag(2, 2, b"bb", 0), tick(9), ()),
            Assembly::Rejected(FragmentError::Orphan)
        );
        assert!(complete(r.push(key(4), frag(2, 2, b"bb", 0), tick(9), ())).is_some());
    }
}
