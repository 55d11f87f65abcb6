-- A file source's checkpoint names the file it is in (device:inode), so that after a rotation the
-- offset of the old file is not applied to the new one. NULL for streams and older checkpoints.
ALTER TABLE checkpoints ADD COLUMN file_id TEXT;
