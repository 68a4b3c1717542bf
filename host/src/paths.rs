//! Where openpista keeps its files, and keeping them private. A leaf
//! module: it imports nothing from the rest of the host, so every layer
//! may use it.
//!
//! Everything under the home folder may hold conversations, tokens or
//! credentials, so the folder is 0700 and such files are 0600. An older
//! install made with looser modes is repaired at start
//! ([`secure_home`]), and the repair is reported, not done in silence.

use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The openpista home folder: `$OPENPISTA_HOME`, else `~/.openpista`.
pub fn home_dir() -> PathBuf {
    if let Some(h) = std::env::var_os("OPENPISTA_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    user_home().join(".openpista")
}

/// `$HOME`, else `/`.
pub fn user_home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Expands `~/.openpista` to [`home_dir`] and any other leading `~` to $HOME.
pub fn expand(path: &str) -> PathBuf {
    if let Some(rest) = path.strip_prefix("~/.openpista") {
        return home_dir().join(rest.trim_start_matches('/'));
    }
    if path == "~" {
        return user_home();
    }
    match path.strip_prefix("~/") {
        Some(rest) => user_home().join(rest),
        None => PathBuf::from(path),
    }
}

/// Mode of a private folder.
pub const DIR_MODE: u32 = 0o700;
/// Mode of a private file.
pub const FILE_MODE: u32 = 0o600;

/// The effective user id of this process.
pub fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Creates `dir` (and its parents) if needed and makes it 0700. Returns a
/// sentence when an existing folder had a looser mode and was repaired.
pub fn private_dir(dir: &Path) -> io::Result<Option<String>> {
    match std::fs::metadata(dir) {
        Ok(meta) => restrict(dir, &meta, DIR_MODE),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(DIR_MODE)
                .create(dir)?;
            // The mode above is filtered by the umask; say it exactly.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))?;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Makes an existing file 0600; a sentence when it was looser. A missing
/// file is left missing.
pub fn private_file(file: &Path) -> io::Result<Option<String>> {
    match std::fs::metadata(file) {
        Ok(meta) => restrict(file, &meta, FILE_MODE),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Narrows `path` to `mode` when it grants anything to group or others.
fn restrict(path: &Path, meta: &std::fs::Metadata, mode: u32) -> io::Result<Option<String>> {
    let found = meta.mode() & 0o777;
    if found & 0o077 == 0 {
        return Ok(None);
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(Some(format!(
        "{} was {found:04o}, readable by other users; it is now {mode:04o}",
        path.display()
    )))
}

/// Writes `bytes` to `path` as a 0600 file, atomically (a temporary file
/// in the same folder, synced, renamed over, then the folder synced): a
/// process killed at any point leaves the old file or the new one, never
/// a part of either.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_private_with(path, bytes, std::io::Write::write_all)
}

/// [`write_private`] with the step that fills the temporary file given:
/// tests pass one that fails or stops half-way to show that the old file
/// survives. A failed write removes its temporary file.
pub fn write_private_with(
    path: &Path,
    bytes: &[u8],
    fill: impl FnOnce(&mut std::fs::File, &[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let tmp = unique_temp(path);
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(FILE_MODE)
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
        fill(&mut f, bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // The rename is durable only once the folder's entry is on disk.
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    std::fs::File::open(dir.unwrap_or(Path::new(".")))?.sync_all()
}

/// A temporary name beside `path` that no other writer, in this process
/// or another, uses at the same time.
fn unique_temp(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp{}-{n}", std::process::id()));
    path.with_file_name(name)
}

/// Creates `path` as a 0600 file holding `bytes` unless it already exists
/// (atomically: a hard link of a finished temporary file). False when it
/// existed, and then nothing was written.
pub fn create_private(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    let tmp = unique_temp(path);
    write_private(&tmp, bytes)?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Why `meta` (of `path`) cannot be trusted as ours alone: another owner,
/// or writable by group or others. `None` when it is private to us.
pub fn untrusted(path: &Path, meta: &std::fs::Metadata) -> Option<String> {
    if meta.uid() != current_uid() {
        return Some(format!(
            "{} belongs to uid {}, not to this user ({})",
            path.display(),
            meta.uid(),
            current_uid()
        ));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o022 != 0 {
        return Some(format!(
            "{} is writable by other users (mode {mode:04o})",
            path.display()
        ));
    }
    None
}

/// The permission bits of `path` (`0o644`), or `None` when it does not
/// exist.
pub fn mode(path: &Path) -> Option<u32> {
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

/// Makes the home folder and the files in it that hold conversations,
/// tokens or credentials private: the folder 0700, `files` (paths inside
/// or outside it that the configuration names) 0600, `dirs` 0700. Returns
/// one sentence per repair, for the operator to read.
pub fn secure_home(home: &Path, dirs: &[PathBuf], files: &[PathBuf]) -> io::Result<Vec<String>> {
    let mut notes = Vec::new();
    notes.extend(private_dir(home)?);
    for dir in dirs {
        if dir.exists() {
            notes.extend(private_dir(dir)?);
        }
    }
    for file in files {
        notes.extend(private_file(file)?);
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().mode() & 0o777
    }

    #[test]
    fn a_new_folder_is_0700_and_a_loose_one_is_repaired_with_a_note() {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("a/b/home");
        assert_eq!(private_dir(&home).unwrap(), None);
        assert_eq!(mode(&home), 0o700);

        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
        let note = private_dir(&home).unwrap().expect("repaired");
        assert!(note.contains("0755") && note.contains("0700"), "{note}");
        assert_eq!(mode(&home), 0o700);
        assert_eq!(private_dir(&home).unwrap(), None, "nothing left to repair");
    }

    #[test]
    fn files_are_written_0600_and_loose_ones_repaired() {
        let root = tempfile::tempdir().unwrap();
        let f = root.path().join("token");
        write_private(&f, b"secret").unwrap();
        assert_eq!(mode(&f), 0o600);
        assert_eq!(std::fs::read(&f).unwrap(), b"secret");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let notes = secure_home(root.path(), &[], std::slice::from_ref(&f)).unwrap();
        assert!(notes.iter().any(|n| n.contains("0644")), "{notes:?}");
        assert_eq!(mode(&f), 0o600);
        assert_eq!(private_file(&root.path().join("missing")).unwrap(), None);
    }

    #[test]
    fn writable_by_others_is_untrusted() {
        let root = tempfile::tempdir().unwrap();
        let f = root.path().join("x");
        std::fs::write(&f, b"").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(untrusted(&f, &std::fs::metadata(&f).unwrap()), None);
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o646)).unwrap();
        let why = untrusted(&f, &std::fs::metadata(&f).unwrap()).unwrap();
        assert!(why.contains("writable by other users"), "{why}");
    }

    #[test]
    fn tilde_paths_expand() {
        assert!(!expand("~/x").starts_with("~"));
        assert_eq!(expand("/abs/p"), PathBuf::from("/abs/p"));
    }
}
