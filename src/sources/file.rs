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
//! start; by truncation (copytruncate), the file is read again from its start. Only whole lines
//! are sent, so a checkpoint always falls on a line boundary.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

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

/// The identity of a file: device and inode, which a rename keeps and a new file does not share.
fn file_id(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!("{}:{}", meta.dev(), meta.ino())
}

/// Where to start reading a file with identity `id` and length `len` when first opened.
fn first_offset(
    resume: Option<&Position>,
    read_from: ReadFrom,
    id: &str,
    len: u64,
) -> (u64, &'static str) {
    match resume {
        Some(p) if p.file_id.as_deref() == Some(id) && p.offset <= len => {
            (p.offset, "resuming at the committed checkpoint")
        }
        Some(p) if p.file_id.as_deref() == Some(id) => (
            0,
            "the file is shorter than its checkpoint (truncated): reading it from the start",
        ),
        Some(p) if p.file_id.is_some() => (
            0,
            "the file was replaced since its checkpoint (rotated): reading the new one from the start",
        ),
        _ => match read_from {
            ReadFrom::Start => (0, "no checkpoint: reading from the start"),
            ReadFrom::End => (
                len,
                "no checkpoint: reading from the end (read_from = \"end\")",
            ),
        },
    }
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

async fn at_end(path: &Path, id: &str, pos: u64) -> AtEnd {
    match tokio::fs::metadata(path).await {
        Ok(m) if file_id(&m) != id => AtEnd::Rotated,
        Ok(m) if m.len() < pos => AtEnd::Truncated,
        // Missing: renamed away and not yet created again; the open file may still grow.
        _ => AtEnd::Wait,
    }
}

/// Runs until shutdown.
pub async fn run(config: FileConfig, mut ctx: Context) {
    let path = ctx.config_dir.join(&config.path);
    let name = config.name.clone();
    let feed = ctx.feeds.open(ctx.index);
    let mut resume = ctx.resume.take();
    let mut first = true;
    let mut missing_logged = false;
    let mut buf = vec![0u8; 64 * 1024];
    while !ctx.stopping() {
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
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
        let Ok(meta) = file.metadata().await else {
            ctx.wait(REOPEN).await;
            continue;
        };
        let id = file_id(&meta);
        let (mut pos, why) = if first {
            first_offset(resume.take().as_ref(), config.read_from(), &id, meta.len())
        } else {
            (0, "a new file at the path: reading it from the start")
        };
        first = false;
        if pos > 0 && file.seek(std::io::SeekFrom::Start(pos)).await.is_err() {
            pos = 0;
        }
        tracing::info!(source = %name, path = %path.display(), offset = pos, "Following the file; {why}.");
        ctx.stats.connects.fetch_add(1, Ordering::Relaxed);
        ctx.set_up(true);
        // Bytes read after the last newline, sent once their line is complete.
        let mut held: Vec<u8> = Vec::new();
        loop {
            let read = tokio::select! {
                r = file.read(&mut buf) => r,
                _ = ctx.shutdown.recv() => return,
            };
            match read {
                Ok(0) => match at_end(&path, &id, pos + held.len() as u64).await {
                    AtEnd::Wait => {
                        let committed = ctx.committed.borrow().as_ref().map(|p| p.offset);
                        if let Some(c) = committed {
                            tracing::trace!(source = %name, read = pos, committed = c, "At the end of the file.");
                        }
                        ctx.wait(POLL).await;
                    }
                    AtEnd::Rotated => {
                        tracing::info!(source = %name, path = %path.display(), "The followed file was rotated; reading the new one.");
                        // The rotated file's last line, even unterminated, is all there will be.
                        if !held.is_empty() {
                            pos += held.len() as u64;
                            let last = std::mem::take(&mut held);
                            if !send(&ctx, feed, last, pos, &id).await {
                                return;
                            }
                        }
                        break;
                    }
                    AtEnd::Truncated => {
                        tracing::info!(source = %name, path = %path.display(), "The followed file was truncated; reading it again from the start.");
                        break;
                    }
                },
                Ok(n) => {
                    held.extend_from_slice(&buf[..n]);
                    let cut = match memchr::memrchr(b'\n', &held) {
                        Some(i) => i + 1,
                        None if held.len() > MAX_HELD => held.len(),
                        None => continue,
                    };
                    let rest = held.split_off(cut);
                    let lines = std::mem::replace(&mut held, rest);
                    pos += lines.len() as u64;
                    if !send(&ctx, feed, lines, pos, &id).await {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(source = %name, error = %e, "Reading the followed file failed; reopening.");
                    ctx.stats.drops.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
        if !ctx.send(Chunk::Reset(feed)).await {
            return;
        }
    }
}

async fn send(ctx: &Context, feed: u32, bytes: Vec<u8>, offset: u64, id: &str) -> bool {
    // Counted as received; the position sent is the file's, not the stream's.
    ctx.count(bytes.len());
    ctx.send(Chunk::Data {
        feed,
        bytes,
        position: Position {
            offset,
            file_id: Some(id.to_string()),
        },
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: u64, id: &str) -> Position {
        Position {
            offset,
            file_id: Some(id.into()),
        }
    }

    #[test]
    fn a_checkpoint_of_the_same_file_is_resumed() {
        assert_eq!(
            first_offset(Some(&at(500, "1:2")), ReadFrom::End, "1:2", 900).0,
            500
        );
    }

    #[test]
    fn a_truncated_or_replaced_file_is_read_from_its_start() {
        assert_eq!(
            first_offset(Some(&at(500, "1:2")), ReadFrom::End, "1:2", 100).0,
            0
        );
        assert_eq!(
            first_offset(Some(&at(500, "1:2")), ReadFrom::End, "1:3", 900).0,
            0
        );
    }

    #[test]
    fn without_a_checkpoint_read_from_decides() {
        assert_eq!(first_offset(None, ReadFrom::Start, "1:2", 900).0, 0);
        assert_eq!(first_offset(None, ReadFrom::End, "1:2", 900).0, 900);
        // A checkpoint from before file identities were recorded says nothing about this file.
        let legacy = Position {
            offset: 500,
            file_id: None,
        };
        assert_eq!(
            first_offset(Some(&legacy), ReadFrom::End, "1:2", 900).0,
            900
        );
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
