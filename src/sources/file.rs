//! `type = "file"`: follows a growing file (a receiver's log, a recording being written), through
//! truncation and rotation.
//!
//! Where it starts: at the committed checkpoint of the previous run when there is one for the same
//! file (device and inode), so that nothing appended while the daemon was down is skipped and
//! nothing stored is read twice; at the start of a file it has no checkpoint for, unless
//! `read_from = "end"` (Vector's and Filebeat's convention: a recording dropped in is read whole).
//! A file that replaced the checkpointed one (rotated while the daemon was down) is read from its
//! start.
//!
//! Rotation: by rename and create, the old file is read to its end and then the new one from its
//! start; by truncation (copytruncate), the file is read again from its start. A file rotated away
//! while the daemon was down is found in the same folder by its identity and finished first.
//! Whole lines are sent, so a checkpoint falls on a line boundary; the exceptions are a "line"
//! over 1 MiB (sent as it is, and counted as over-long by the front end) and the unterminated last
//! line of a rotated file. Known limit: a file overwritten in place with new content of at least
//! the same length between two polls (200 ms) is taken for the same file growing.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Deserialize;

use super::{Chunk, Context, Position};
use vesselwatch_engine::settings::{Invalid, invalid};

/// `[[sources]] type = "file"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Unique name; also the key of its checkpoint, so renaming the source starts it afresh.
    pub name: String,
    /// The file, relative to the config file's folder.
    pub path: PathBuf,
    /// Where to start in a file this source has no checkpoint for: `start` (default) or `end`.
    pub read_from: Option<ReadFrom>,
    /// Before `read_from`: `from_start = true` is `read_from = "start"`, `false` is `"end"`.
    /// Still read so that older configurations load.
    pub from_start: Option<bool>,
}

/// Where a file without a checkpoint is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadFrom {
    /// From its first byte: everything in it is news to this source.
    #[default]
    Start,
    /// From its end when first opened: only what is appended from now on.
    End,
}

impl FileConfig {
    pub(super) fn validate(&self, key: &str) -> Result<(), Invalid> {
        if self.read_from.is_some() && self.from_start.is_some() {
            return Err(invalid(
                format!("{key}.from_start"),
                "given with read_from",
                "`from_start` is the older spelling of `read_from`; give one",
            ));
        }
        if self.path.as_os_str().is_empty() {
            return Err(invalid(format!("{key}.path"), "\"\"", "must name a file"));
        }
        Ok(())
    }

    fn read_from(&self) -> ReadFrom {
        match self.from_start {
            Some(true) => ReadFrom::Start,
            Some(false) => ReadFrom::End,
            None => self.read_from.unwrap_or_default(),
        }
    }
}

/// How often the end of the file is looked at for growth, truncation and rotation.
const POLL: Duration = Duration::from_millis(200);
/// How often a missing file is looked for.
const REOPEN: Duration = Duration::from_secs(2);
/// A "line" longer than this without a newline is sent as it is (the front end counts it as an
/// overlong line) rather than held: memory stays bounded whatever the file holds.
const MAX_HELD: usize = 1 << 20;

/// Bytes at the start of a file whose hash is part of its identity.
const FINGERPRINT: u64 = 1024;

/// What makes a file the same file: device and inode (which a rename keeps and a new file does not
/// share) and a hash of its first bytes (so that a file copied over the old one, or a reused inode,
/// is not taken for it). Written into checkpoints as `dev:ino:n:hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    /// How many leading bytes the hash covers: fewer than [`FINGERPRINT`] while the file is short.
    len: u64,
    hash: u64,
}

impl Identity {
    /// The identity of the open file `file` with metadata `meta`.
    fn of(file: &std::fs::File, meta: &std::fs::Metadata) -> std::io::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let (len, hash) = prefix_hash(file, meta.len().min(FINGERPRINT))?;
        Ok(Self {
            dev: meta.dev(),
            ino: meta.ino(),
            len,
            hash,
        })
    }

    fn parse(s: &str) -> Option<Self> {
        let mut f = s.split(':');
        let dev = f.next()?.parse().ok()?;
        let ino = f.next()?.parse().ok()?;
        let len = f.next()?.parse().ok()?;
        let hash = u64::from_str_radix(f.next()?, 16).ok()?;
        Some(Self {
            dev,
            ino,
            len,
            hash,
        })
    }

    /// Whether `file` (with `meta`) is this file: same device and inode, and the same first bytes.
    fn matches(&self, file: &std::fs::File, meta: &std::fs::Metadata) -> bool {
        use std::os::unix::fs::MetadataExt;
        meta.dev() == self.dev
            && meta.ino() == self.ino
            && meta.len() >= self.len
            && prefix_hash(file, self.len).is_ok_and(|(n, h)| n == self.len && h == self.hash)
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}:{:016x}",
            self.dev, self.ino, self.len, self.hash
        )
    }
}

/// FNV-1a of the first `n` bytes of `file` (fewer if it is shorter), read without moving its
/// cursor; how many bytes were hashed.
fn prefix_hash(file: &std::fs::File, n: u64) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; n as usize];
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], got as u64)? {
            0 => break,
            k => got += k,
        }
    }
    Ok((got as u64, vesselwatch_engine::event::fnv1a(&[&buf[..got]])))
}

/// Where to start reading a file when it is opened.
enum Start {
    /// The first open: at the committed checkpoint if it is of this file, else as `read_from` says.
    Checkpoint(Option<Position>),
    /// After a read error: where this source had got to, if the file is still the same.
    Resume(Position),
    /// A new file at the path (rotation, truncation): everything in it is new.
    Beginning,
}

/// Where to start in a file with `meta`, and why (for the log line).
fn start_offset(
    start: &Start,
    read_from: ReadFrom,
    file: &std::fs::File,
    meta: &std::fs::Metadata,
) -> (u64, &'static str) {
    let same = |p: &Position| {
        p.file_id
            .as_deref()
            .and_then(Identity::parse)
            .is_some_and(|id| id.matches(file, meta))
    };
    match start {
        Start::Beginning => (0, "a new file at the path: reading it from the start"),
        Start::Resume(p) if same(p) && p.offset <= meta.len() => (
            p.offset,
            "reopened after a read error: resuming where it was",
        ),
        Start::Resume(_) => (
            0,
            "reopened after a read error, and the file has changed: reading it from the start",
        ),
        Start::Checkpoint(Some(p)) if same(p) && p.offset <= meta.len() => {
            (p.offset, "resuming at the committed checkpoint")
        }
        Start::Checkpoint(Some(p)) if same(p) => (
            0,
            "the file is shorter than its checkpoint (truncated): reading it from the start",
        ),
        Start::Checkpoint(Some(p)) if p.file_id.is_some() => (
            0,
            "the file was replaced since its checkpoint (rotated): reading the new one from the start",
        ),
        // A checkpoint from before file identities were kept: those versions read from the end, so
        // the file's existing content was seen; reading it all again would only repeat it.
        Start::Checkpoint(Some(_)) => (
            meta.len(),
            "a checkpoint without a file identity (an older vesselwatch): reading from the end",
        ),
        Start::Checkpoint(None) => match read_from {
            ReadFrom::Start => (0, "no checkpoint: reading from the start"),
            ReadFrom::End => (
                meta.len(),
                "no checkpoint: reading from the end (read_from = \"end\")",
            ),
        },
    }
}

/// The file in `dir` that a checkpoint's identity names, if it is still there under another name
/// (rotated away while the daemon was down), with its path.
///
/// Only `stat`s the directory's entries and opens the one with the checkpoint's device and inode:
/// opening and closing any other file could be fatal elsewhere. SQLite's locks are POSIX locks,
/// which a process loses on a file when it closes *any* descriptor of it, so opening the database
/// that lives in the same folder would let another process delete its write-ahead log.
fn find_rotated(dir: &Path, at: &Position) -> Option<(PathBuf, std::fs::File)> {
    use std::os::unix::fs::MetadataExt;
    let id = Identity::parse(at.file_id.as_deref()?)?;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() || meta.dev() != id.dev || meta.ino() != id.ino {
            continue;
        }
        let Ok(file) = std::fs::File::open(&path) else {
            continue;
        };
        let Ok(meta) = file.metadata() else { continue };
        if id.matches(&file, &meta) && meta.len() >= at.offset {
            return Some((path, file));
        }
    }
    None
}

/// Whether `path` is still the file a checkpoint names.
fn is_file(path: &Path, at: &Position) -> bool {
    let Some(id) = at.file_id.as_deref().and_then(Identity::parse) else {
        return false;
    };
    std::fs::File::open(path)
        .and_then(|f| Ok((f.metadata()?, f)))
        .is_ok_and(|(m, f)| id.matches(&f, &m))
}

/// What the end of the followed file means.
enum AtEnd {
    /// Nothing new yet.
    Wait,
    /// The path now names another file: finish this one, then open that.
    Rotated,
    /// The same file, now shorter than what was read.
    Truncated,
}

async fn at_end(path: &Path, dev_ino: (u64, u64), pos: u64) -> AtEnd {
    use std::os::unix::fs::MetadataExt;
    match tokio::fs::metadata(path).await {
        Ok(m) if (m.dev(), m.ino()) != dev_ino => AtEnd::Rotated,
        Ok(m) if m.len() < pos => AtEnd::Truncated,
        // Missing: renamed away and not yet created again; the open file may still grow.
        _ => AtEnd::Wait,
    }
}

/// One open file being read: its identity (recomputed once its first bytes are all there), where
/// the reading is, and the bytes after the last newline. Reads are positional (`pread` at
/// `pos + held`) on a blocking thread: no file cursor is shared or moved, so a cancelled read
/// loses nothing and a rotation check cannot disturb the next read.
struct Reading {
    file: std::sync::Arc<std::fs::File>,
    id: Identity,
    pos: u64,
    held: Vec<u8>,
}

/// Bytes asked of one read.
const READ: usize = 64 * 1024;

impl Reading {
    /// Sends the complete lines in `held` (or everything, when `all` or when over [`MAX_HELD`]).
    async fn flush(&mut self, ctx: &Context, feed: u32, all: bool) -> bool {
        let cut = match memchr::memrchr(b'\n', &self.held) {
            _ if all || self.held.len() > MAX_HELD => self.held.len(),
            Some(i) => i + 1,
            None => return true,
        };
        if cut == 0 {
            return true;
        }
        let rest = self.held.split_off(cut);
        let lines = std::mem::replace(&mut self.held, rest);
        self.pos += lines.len() as u64;
        if self.id.len < FINGERPRINT && self.pos >= FINGERPRINT {
            // The identity's hash now covers the full prefix.
            if let Ok(meta) = self.file.metadata()
                && let Ok(id) = Identity::of(&self.file, &meta)
            {
                self.id = id;
            }
        }
        ctx.count(lines.len());
        tracing::trace!(source = %ctx.name, offset = self.pos, "Lines sent.");
        ctx.send(Chunk::Data {
            feed,
            bytes: lines,
            position: Position {
                offset: self.pos,
                file_id: Some(self.id.to_string()),
            },
        })
        .await
    }

    /// Reads to the current end of the file, sending whole lines; false when the pipeline has gone.
    /// An error is returned as `Err`.
    async fn drain(&mut self, ctx: &Context, feed: u32) -> std::io::Result<bool> {
        loop {
            let file = std::sync::Arc::clone(&self.file);
            let at = self.pos + self.held.len() as u64;
            let chunk = tokio::task::spawn_blocking(move || {
                use std::os::unix::fs::FileExt;
                let mut buf = vec![0u8; READ];
                let n = file.read_at(&mut buf, at)?;
                buf.truncate(n);
                Ok::<_, std::io::Error>(buf)
            })
            .await
            .map_err(std::io::Error::other)??;
            if chunk.is_empty() {
                return Ok(true);
            }
            self.held.extend_from_slice(&chunk);
            if !self.flush(ctx, feed, false).await {
                return Ok(false);
            }
        }
    }
}

/// Opens `path` for reading at the offset `start` decides.
fn open(
    path: &Path,
    start: &Start,
    read_from: ReadFrom,
) -> std::io::Result<(Reading, &'static str)> {
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let id = Identity::of(&file, &meta)?;
    let (pos, why) = start_offset(start, read_from, &file, &meta);
    Ok((
        Reading {
            file: std::sync::Arc::new(file),
            id,
            pos,
            held: Vec::new(),
        },
        why,
    ))
}

/// Runs until shutdown.
pub async fn run(config: FileConfig, mut ctx: Context) {
    let path = ctx.config_dir.join(&config.path);
    let name = config.name.clone();
    let feed = ctx.feeds.open(ctx.index);
    let mut start = Start::Checkpoint(ctx.resume.take());
    // A checkpointed file rotated away while the daemon was down: its unread tail comes first.
    if let Start::Checkpoint(Some(at)) = &start
        && !is_file(&path, at)
        && let Some(dir) = path.parent()
        && let Some((old, file)) = find_rotated(dir, at)
        && old != path
        && let Ok((mut r, _)) = open(&old, &Start::Resume(at.clone()), ReadFrom::Start)
    {
        drop(file);
        tracing::info!(source = %name, path = %old.display(), offset = r.pos, "The checkpointed file was rotated while vesselwatch was down; reading its rest first.");
        match r.drain(&ctx, feed).await {
            Ok(true) => {
                if !r.flush(&ctx, feed, true).await || !ctx.send(Chunk::Reset(feed)).await {
                    return;
                }
                start = Start::Beginning;
            }
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(source = %name, path = %old.display(), error = %e, "Reading the rotated file failed; going on with the current one.");
            }
        }
    }
    let mut missing_logged = false;
    let mut stop = ctx.shutdown.clone();
    while !ctx.stopping() {
        let (mut r, why) = match open(&path, &start, config.read_from()) {
            Ok(o) => o,
            Err(e) => {
                if !missing_logged {
                    tracing::warn!(source = %name, path = %path.display(), error = %e, "Cannot open the followed file; looking again every 2 s.");
                    missing_logged = true;
                }
                ctx.set_up(false);
                ctx.wait(REOPEN).await;
                continue;
            }
        };
        missing_logged = false;
        tracing::info!(source = %name, path = %path.display(), offset = r.pos, "Following the file; {why}.");
        ctx.stats.connects.fetch_add(1, Ordering::Relaxed);
        ctx.set_up(true);
        loop {
            let drained = tokio::select! {
                d = r.drain(&ctx, feed) => d,
                _ = stop.recv() => return,
            };
            match drained {
                Ok(false) => return,
                Ok(true) => {}
                Err(e) => {
                    tracing::warn!(source = %name, error = %e, "Reading the followed file failed; reopening it where it was.");
                    ctx.stats.drops.fetch_add(1, Ordering::Relaxed);
                    start = Start::Resume(Position {
                        offset: r.pos,
                        file_id: Some(r.id.to_string()),
                    });
                    break;
                }
            }
            match at_end(&path, (r.id.dev, r.id.ino), r.pos + r.held.len() as u64).await {
                AtEnd::Wait => ctx.wait(POLL).await,
                AtEnd::Rotated => {
                    // Lines the writer appended between the last read and the rename are read
                    // now; then the rotated file's last line, even unterminated, is all there is.
                    if let Ok(false) = r.drain(&ctx, feed).await {
                        return;
                    }
                    if !r.flush(&ctx, feed, true).await {
                        return;
                    }
                    tracing::info!(source = %name, path = %path.display(), "The followed file was rotated; reading the new one.");
                    start = Start::Beginning;
                    break;
                }
                AtEnd::Truncated => {
                    tracing::info!(source = %name, path = %path.display(), "The followed file was truncated; reading it again from the start.");
                    start = Start::Beginning;
                    break;
                }
            }
        }
        if !ctx.send(Chunk::Reset(feed)).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(dir: &Path, name: &str, text: &[u8]) -> (std::fs::File, std::fs::Metadata) {
        let p = dir.join(name);
        std::fs::File::create(&p).unwrap().write_all(text).unwrap();
        let f = std::fs::File::open(&p).unwrap();
        let m = f.metadata().unwrap();
        (f, m)
    }

    fn at(offset: u64, f: &std::fs::File, m: &std::fs::Metadata) -> Position {
        Position {
            offset,
            file_id: Some(Identity::of(f, m).unwrap().to_string()),
        }
    }

    #[test]
    fn a_checkpoint_of_the_same_file_is_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let (f, m) = file_with(dir.path(), "a", &[b'x'; 900]);
        let start = Start::Checkpoint(Some(at(500, &f, &m)));
        assert_eq!(start_offset(&start, ReadFrom::End, &f, &m).0, 500);
    }

    #[test]
    fn a_truncated_replaced_or_overwritten_file_is_read_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let (f, m) = file_with(dir.path(), "a", &[b'x'; 900]);
        let cp = at(500, &f, &m);
        // Truncated: the same file, shorter than the checkpoint.
        let (f2, m2) = file_with(dir.path(), "a", &[b'x'; 100]);
        assert_eq!(
            start_offset(
                &Start::Checkpoint(Some(cp.clone())),
                ReadFrom::End,
                &f2,
                &m2
            )
            .0,
            0
        );
        // Another file (another inode).
        let (f3, m3) = file_with(dir.path(), "b", &[b'x'; 900]);
        assert_eq!(
            start_offset(
                &Start::Checkpoint(Some(cp.clone())),
                ReadFrom::End,
                &f3,
                &m3
            )
            .0,
            0
        );
        // The same inode with other content (copied over it).
        let (f4, m4) = file_with(dir.path(), "a", &[b'y'; 900]);
        assert_eq!(
            start_offset(&Start::Checkpoint(Some(cp)), ReadFrom::End, &f4, &m4).0,
            0
        );
    }

    #[test]
    fn without_a_checkpoint_read_from_decides_and_an_old_checkpoint_reads_from_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let (f, m) = file_with(dir.path(), "a", &[b'x'; 900]);
        assert_eq!(
            start_offset(&Start::Checkpoint(None), ReadFrom::Start, &f, &m).0,
            0
        );
        assert_eq!(
            start_offset(&Start::Checkpoint(None), ReadFrom::End, &f, &m).0,
            900
        );
        let legacy = Position {
            offset: 500,
            file_id: None,
        };
        assert_eq!(
            start_offset(&Start::Checkpoint(Some(legacy)), ReadFrom::Start, &f, &m).0,
            900
        );
    }

    #[test]
    fn identities_round_trip_and_a_rotated_file_is_found_by_identity() {
        let dir = tempfile::tempdir().unwrap();
        let (f, m) = file_with(dir.path(), "feed", b"line one\nline two\n");
        let cp = at(9, &f, &m);
        let id = Identity::of(&f, &m).unwrap();
        assert_eq!(Identity::parse(&id.to_string()), Some(id));
        std::fs::rename(dir.path().join("feed"), dir.path().join("feed.1")).unwrap();
        file_with(dir.path(), "feed", b"new\n");
        let (found, _) = find_rotated(dir.path(), &cp).unwrap();
        assert_eq!(found, dir.path().join("feed.1"));
    }

    #[test]
    fn from_start_still_works_and_read_from_defaults_to_start() {
        let parse = |t: &str| toml::from_str::<FileConfig>(t).unwrap().read_from();
        assert_eq!(parse("name = \"f\"\npath = \"x\"\n"), ReadFrom::Start);
        assert_eq!(
            parse("name = \"f\"\npath = \"x\"\nread_from = \"end\"\n"),
            ReadFrom::End
        );
        assert_eq!(
            parse("name = \"f\"\npath = \"x\"\nfrom_start = false\n"),
            ReadFrom::End
        );
        assert_eq!(
            parse("name = \"f\"\npath = \"x\"\nfrom_start = true\n"),
            ReadFrom::Start
        );
    }
}
