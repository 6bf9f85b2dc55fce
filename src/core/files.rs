//! File-path helpers shared by every layer: paths as shown, and I/O errors in words.

use std::path::{Path, PathBuf};

/// A path relative to the workspace with `/` separators, as shown everywhere (`../` where a
/// workspace names files outside its folder).
pub fn display_path(root: &Path, path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    let root = normalize(&cwd.join(root));
    let path = normalize(&cwd.join(path));
    let common = root
        .components()
        .zip(path.components())
        .take_while(|(a, b)| a == b)
        .count();
    let ups = root.components().count().saturating_sub(common);
    let parts: Vec<String> = std::iter::repeat_n("..".to_string(), ups)
        .chain(
            path.components()
                .skip(common)
                .map(|c| c.as_os_str().to_string_lossy().into_owned()),
        )
        .collect();
    if parts.is_empty() {
        // The workspace folder itself.
        return ".".into();
    }
    parts.join("/")
}

/// Removes `.` and folds `..` lexically (no file system access, so missing paths work too).
pub fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The most a single input file may hold (a larger one is refused before it is read).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Reads a text file: UTF-8, a leading byte-order mark dropped (editors on some systems write
/// one), at most [`MAX_FILE_BYTES`] read (a pipe or a device such as `/dev/zero` has no size to
/// check beforehand), folders refused. `Err` is the reason in words (not UTF-8 says where).
pub fn read_text(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let too_large = || format!("is larger than {} MiB", MAX_FILE_BYTES >> 20);
    let meta = std::fs::metadata(path).map_err(|e| io_reason(&e))?;
    if meta.is_dir() {
        return Err("is a folder".into());
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| io_reason(&e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    text_of(bytes)
}

/// Reads the next `\n`-terminated line into `buf` (without the `\n`), holding at most `limit`
/// bytes: a line-oriented log cannot make us buffer an endless line (`/dev/zero` has no newline).
/// `Ok(None)` at the end; an `InvalidData` error when a line is longer than `limit`.
pub fn next_line(
    reader: &mut impl std::io::BufRead,
    limit: usize,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<()>> {
    use std::io::{BufRead, Read};
    buf.clear();
    let take = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let read = reader.by_ref().take(take).read_until(b'\n', buf)?;
    if read == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("has a line longer than {} KiB", limit >> 10),
        ));
    }
    Ok(Some(()))
}

/// Bytes as text: UTF-8 with a leading byte-order mark dropped; `Err` says where the first
/// invalid byte is.
pub fn text_of(mut bytes: Vec<u8>) -> Result<String, String> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let good = &e.as_bytes()[..at];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&good[line_start..]).chars().count() + 1;
        let byte = e.as_bytes().get(at).copied().unwrap_or(0);
        format!(
            "is not UTF-8 text: byte 0x{byte:02X} at line {line}, column {column} (offset {at})"
        )
    })
}

/// An I/O error in words (ours, when we made it with a message; the system's otherwise).
pub fn io_reason(e: &std::io::Error) -> String {
    if let Some(ours) = e.get_ref() {
        return ours.to_string();
    }
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "is a folder".into(),
        _ => e.to_string(),
    }
}

/// Writes `bytes` to `path` without ever destroying what is there:
/// - nothing or a regular file: a uniquely named temporary file beside it is written, synced and
///   renamed over it, so an interrupted run leaves the old file whole (and no stale temporary
///   file can block the next run);
/// - a symbolic link: the file it points to is written that way; the link stays a link;
/// - a FIFO, a device (`/dev/null`, `/dev/stdout`) or any other special file: the bytes are
///   streamed into it, never renamed over it;
/// - a folder: refused (`is a folder`).
pub fn write_output(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_output_with(path, &mut |w| w.write_all(bytes))
}

/// [`write_output`] of what `write` writes, as it writes it (through a buffer), for outputs too
/// large to hold.
pub fn write_output_with(
    path: &Path,
    write: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    if path.as_os_str().to_string_lossy().ends_with('/') {
        return Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "names a folder (ends with `/`); give a file name",
        ));
    }
    let target = resolve_links(path)?;
    match std::fs::metadata(&target) {
        Ok(m) if m.is_dir() => Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "is a folder",
        )),
        Ok(m) if !m.is_file() => {
            let f = std::fs::OpenOptions::new().write(true).open(&target)?;
            write_beside(f, write)
        }
        _ => {
            let dir = target
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let name = target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut tmp = tempfile::Builder::new()
                .prefix(&format!(".{name}."))
                .suffix(".tmp")
                .tempfile_in(dir)?;
            let _pending = Pending::new(tmp.path());
            write_beside(tmp.as_file_mut(), write)?;
            tmp.as_file().sync_all()?;
            // Keep the permissions of the file being replaced (a new file gets the umask's).
            if let Ok(m) = std::fs::metadata(&target) {
                let _ = std::fs::set_permissions(tmp.path(), m.permissions());
            }
            tmp.persist(&target).map(|_| ()).map_err(|e| e.error)
        }
    }
}

/// Runs `write` into a buffer whose full pieces (1 MB) a second thread writes to `out`, so
/// that making the next bytes and writing the last ones overlap. A baseline or report of
/// gigabytes is made a chunk of principals at a time by the workers, then written; written on
/// the thread that asks for the chunks, the workers waited for each write (the path shape's
/// 2.3 GB baseline: the writing thread spent 6 s in the kernel copying pages, the workers a
/// third idle). The first error is returned: the writer's (a full disk, a closed pipe) before
/// the one `write` then gets for a piece it could not hand over.
pub fn write_beside<W: std::io::Write + Send>(
    out: W,
    write: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    std::thread::scope(|scope| {
        let (pieces, taken) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
        let writer = scope.spawn(move || -> std::io::Result<()> {
            let mut out = out;
            for piece in taken {
                out.write_all(&piece)?;
            }
            out.flush()
        });
        let mut front = Front {
            pieces: Some(pieces),
            piece: Vec::with_capacity(Front::PIECE),
        };
        let made = write(&mut front).and_then(|()| front.hand_over());
        drop(front);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the writing thread stopped")));
        written.and(made)
    })
}

/// The writing side of [`write_beside`].
struct Front {
    pieces: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    piece: Vec<u8>,
}

impl Front {
    const PIECE: usize = 1 << 20;

    /// Hands the bytes so far to the writer.
    fn hand_over(&mut self) -> std::io::Result<()> {
        if self.piece.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.piece, Vec::with_capacity(Self::PIECE));
        let sent = self.pieces.as_ref().map(|p| p.send(piece));
        match sent {
            Some(Ok(())) => Ok(()),
            _ => {
                self.pieces = None;
                Err(std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "the output stopped taking bytes",
                ))
            }
        }
    }
}

impl std::io::Write for Front {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        // A piece is handed over before it would have to grow: growing copies it.
        if self.piece.len() + bytes.len() > self.piece.capacity() {
            self.hand_over()?;
        }
        self.piece.extend_from_slice(bytes);
        if self.piece.len() >= Self::PIECE {
            self.hand_over()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The temporary files of writes under way, removed by [`remove_pending`] when the process is
/// interrupted (a signal skips the destructors that would remove them: a killed `snapshot` of
/// a large organisation left a 10 GB temporary file beside its baseline).
static PENDING: Registry = Registry::new(Vec::new());

type Registry = std::sync::Mutex<Vec<PathBuf>>;

/// One entry of a registry of pending files ([`PENDING`]), for as long as the write is under way
/// (or a temporary folder is in use: `prove --against git:REV` unpacks the revision into one).
pub struct Pending(&'static Registry, PathBuf);

impl Pending {
    /// Registers `path` (a file or a folder) to be removed if the process is interrupted while
    /// the guard lives.
    pub fn new(path: &Path) -> Self {
        Self::in_registry(&PENDING, path)
    }

    fn in_registry(registry: &'static Registry, path: &Path) -> Self {
        if let Ok(mut pending) = registry.lock() {
            pending.push(path.to_path_buf());
        }
        Self(registry, path.to_path_buf())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Ok(mut pending) = self.0.lock() {
            pending.retain(|p| p != &self.1);
        }
    }
}

/// Removes the temporary files of every write under way, and the temporary folders in use
/// (called when the process is interrupted, just before it exits); the files being replaced
/// stay whole.
pub fn remove_pending() {
    remove_registered(&PENDING);
}

fn remove_registered(registry: &Registry) {
    if let Ok(pending) = registry.lock() {
        for path in pending.iter() {
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(path)
            } else {
                std::fs::remove_file(path)
            };
        }
    }
}

/// The file a path finally names, following symbolic links (also dangling ones: writing
/// through a dangling link creates its target). A loop is an error.
fn resolve_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let next = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if next.is_relative() => dir.join(next),
                    _ => next,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only_entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn pending_temporary_files_are_removed_when_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let (kept, removed) = (dir.path().join("kept"), dir.path().join(".out.x.tmp"));
        std::fs::write(&kept, "whole").unwrap();
        std::fs::write(&removed, "half").unwrap();
        // A temporary folder with contents (a revision unpacked by `prove --against`).
        let folder = dir.path().join(".tmp-revision");
        std::fs::create_dir_all(folder.join("policies")).unwrap();
        std::fs::write(
            folder.join("policies/a.cedar"),
            "permit(principal, action, resource);",
        )
        .unwrap();
        // A registry of its own: the global one holds other tests' writes under way.
        static REGISTRY: Registry = Registry::new(Vec::new());
        let pending = Pending::in_registry(&REGISTRY, &removed);
        let in_use = Pending::in_registry(&REGISTRY, &folder);
        remove_registered(&REGISTRY);
        assert_eq!(only_entries(dir.path()), vec!["kept".to_string()]);
        drop((pending, in_use));
        assert!(REGISTRY.lock().unwrap().is_empty());
    }

    #[test]
    fn lines_are_read_up_to_their_bound() {
        let mut input: &[u8] = b"abcd\nabcde\nxy";
        let mut buf = Vec::new();
        assert!(next_line(&mut input, 4, &mut buf).unwrap().is_some());
        assert_eq!(buf, b"abcd");
        assert!(next_line(&mut input, 4, &mut buf).is_err());
        let mut input: &[u8] = b"xy";
        assert!(next_line(&mut input, 4, &mut buf).unwrap().is_some());
        assert_eq!(buf, b"xy");
        assert!(next_line(&mut input, 4, &mut buf).unwrap().is_none());
    }

    #[test]
    fn a_regular_file_is_replaced_whole_and_no_temporary_file_stays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.json");
        write_output(&path, b"first").unwrap();
        std::fs::write(dir.path().join(".b.json.tmp"), "stale, from a killed run").unwrap();
        write_output(&path, b"second").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
        assert_eq!(only_entries(dir.path()), [".b.json.tmp", "b.json"]);
        assert!(write_output(&dir.path().join("missing/b.json"), b"x").is_err());
        assert_eq!(only_entries(dir.path()), [".b.json.tmp", "b.json"]);
    }

    #[test]
    fn a_link_stays_a_link_and_its_target_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.json");
        std::fs::write(&target, "old").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        write_output(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        // A dangling link gets its target created.
        let dangling = dir.path().join("dangling.json");
        std::os::unix::fs::symlink("created.json", &dangling).unwrap();
        write_output(&dangling, b"made").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("created.json")).unwrap(),
            "made"
        );
    }

    #[test]
    fn special_files_are_streamed_into_and_folders_refused() {
        write_output(Path::new("/dev/null"), b"gone").unwrap();
        let null = std::fs::metadata("/dev/null").unwrap();
        assert!(!null.is_file(), "/dev/null is still a device");
        let dir = tempfile::tempdir().unwrap();
        let err = write_output(dir.path(), b"x").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::IsADirectory);
        // A FIFO: a reader gets the bytes; the FIFO is not replaced.
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let reader = {
                let fifo = fifo.clone();
                std::thread::spawn(move || std::fs::read(&fifo).unwrap())
            };
            write_output(&fifo, b"through the pipe").unwrap();
            assert_eq!(reader.join().unwrap(), b"through the pipe");
            assert!(!std::fs::metadata(&fifo).unwrap().is_file());
        }
    }

    #[test]
    fn display_paths_are_relative_to_the_workspace() {
        assert_eq!(
            display_path(Path::new("a/b"), Path::new("a/b/c/d.yaml")),
            "c/d.yaml"
        );
        assert_eq!(
            display_path(Path::new("a/b"), Path::new("a/b/../x/y.cedar")),
            "../x/y.cedar"
        );
        // The workspace folder itself is `.`, not an empty name.
        assert_eq!(display_path(Path::new("a/b"), Path::new("a/b/")), ".");
    }

    /// Takes `room` bytes, then fails as a full disk does.
    struct Full {
        taken: Vec<u8>,
        room: usize,
    }

    impl std::io::Write for Full {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if self.taken.len() + bytes.len() > self.room {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "no space left",
                ));
            }
            self.taken.extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn write_beside_writes_every_byte_in_order() {
        let mut out = Vec::new();
        let lines: Vec<String> = (0..300_000).map(|i| format!("line {i}\n")).collect();
        write_beside(&mut out, &mut |w| {
            lines.iter().try_for_each(|l| w.write_all(l.as_bytes()))
        })
        .unwrap();
        assert!(out.len() > 2 * Front::PIECE);
        assert_eq!(out, lines.concat().into_bytes());
    }

    #[test]
    fn write_beside_returns_the_writers_error_first() {
        let mut full = Full {
            taken: Vec::new(),
            room: 3 * Front::PIECE,
        };
        let piece = vec![b'x'; 4096];
        let mut tried = 0;
        let err = write_beside(&mut full, &mut |w| {
            for _ in 0..10_000 {
                tried += 1;
                w.write_all(&piece)?;
            }
            Ok(())
        })
        .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::StorageFull);
        // The maker stopped soon after the writer did.
        assert!(tried < 10_000, "{tried}");
        let made = write_beside(Vec::new(), &mut |_| {
            Err(std::io::Error::other("made badly"))
        });
        assert_eq!(made.unwrap_err().to_string(), "made badly");
    }
}
