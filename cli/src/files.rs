//! Input and output files: names, safe creation (temporary file + rename),
//! metadata copying.
//!
//! An output file is written under a temporary name in its target directory
//! and renamed over the final name only once complete ([`OutputFile::commit`]);
//! dropping an [`OutputFile`] removes the temporary file, so an error at any
//! point leaves no partial output (DESIGN.md §2, law 6).

use std::ffi::OsString;
use std::fs::{self, File, FileTimes, Metadata};
use std::io;
use std::path::{Path, PathBuf};

/// The suffix of compressed files.
pub const SUFFIX: &str = ".nz";

/// `FILE` -> `FILE.nz`.
pub fn compressed_name(input: &Path) -> PathBuf {
    let mut s = OsString::from(input.as_os_str());
    s.push(SUFFIX);
    PathBuf::from(s)
}

/// True when the file name ends in `.nz`.
pub fn has_suffix(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n.as_encoded_bytes().ends_with(SUFFIX.as_bytes()))
}

/// `FILE.nz` -> `FILE`; `None` when the name does not end in `.nz` or nothing
/// would be left of it.
pub fn decompressed_name(input: &Path) -> Option<PathBuf> {
    match input.file_name()?.to_str() {
        Some(name) => {
            let stem = name.strip_suffix(SUFFIX).filter(|s| !s.is_empty())?;
            Some(input.with_file_name(stem))
        }
        // Not UTF-8: strip the ASCII suffix from the raw bytes.
        None => strip_suffix_os(input),
    }
}

#[cfg(unix)]
fn strip_suffix_os(input: &Path) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = input.file_name()?.as_bytes();
    let stem = bytes.strip_suffix(SUFFIX.as_bytes())?;
    if stem.is_empty() {
        return None;
    }
    Some(input.with_file_name(std::ffi::OsStr::from_bytes(stem)))
}

#[cfg(not(unix))]
fn strip_suffix_os(_input: &Path) -> Option<PathBuf> {
    None
}

/// Why an output file could not be created or committed.
#[derive(Debug)]
pub enum OutputError {
    /// The output exists and `-f` was not given.
    Exists(PathBuf),
    /// The output is the input itself.
    SameAsInput(PathBuf),
    /// Creating, writing, or renaming failed.
    Io(PathBuf, io::Error),
}

impl std::fmt::Display for OutputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputError::Exists(p) => {
                write!(f, "{} already exists; not overwritten (use -f to overwrite it)", p.display())
            }
            OutputError::SameAsInput(p) => {
                write!(f, "{} is the input itself; choose another output name", p.display())
            }
            OutputError::Io(p, e) => write!(f, "cannot write {}: {e}", p.display()),
        }
    }
}

/// An output file being written under a temporary name.
#[derive(Debug)]
pub struct OutputFile {
    temp: tempfile::NamedTempFile,
    dest: PathBuf,
    force: bool,
}

impl OutputFile {
    /// Prepare to write `dest`: fail if it exists (without `force`) or is the
    /// `input` file itself, then create a temporary file next to it.
    pub fn create(dest: &Path, input: Option<&Path>, force: bool) -> Result<Self, OutputError> {
        if let Ok(meta) = fs::symlink_metadata(dest) {
            if let Some(input) = input {
                if same_file(dest, input) {
                    return Err(OutputError::SameAsInput(dest.to_owned()));
                }
            }
            if !force {
                return Err(OutputError::Exists(dest.to_owned()));
            }
            if meta.is_dir() {
                return Err(OutputError::Io(
                    dest.to_owned(),
                    io::Error::new(io::ErrorKind::IsADirectory, "it is a directory"),
                ));
            }
        }
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut prefix = OsString::from(".");
        prefix.push(dest.file_name().unwrap_or(dest.as_os_str()));
        prefix.push(".");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".nzip-tmp");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // As an ordinary new file: 0666 minus the umask (tempfile's default is 0600).
            builder.permissions(fs::Permissions::from_mode(0o666));
        }
        let temp = builder.tempfile_in(dir).map_err(|e| OutputError::Io(dest.to_owned(), e))?;
        Ok(OutputFile { temp, dest: dest.to_owned(), force })
    }

    /// The open temporary file, to write the content to.
    pub fn file(&self) -> &File {
        self.temp.as_file()
    }

    /// Give the file `source`'s permissions and modification time (when
    /// given), flush it to disk when `sync` is set, and rename it to its final
    /// name. On error the temporary file is removed.
    pub fn commit(self, source: Option<&Metadata>, sync: bool) -> Result<(), OutputError> {
        let io_err = |e| OutputError::Io(self.dest.clone(), e);
        let file = self.temp.as_file();
        if let Some(meta) = source {
            let mut times = FileTimes::new();
            if let Ok(m) = meta.modified() {
                times = times.set_modified(m);
            }
            if let Ok(a) = meta.accessed() {
                times = times.set_accessed(a);
            }
            file.set_times(times).map_err(io_err)?;
            copy_owner(file, meta);
            file.set_permissions(meta.permissions()).map_err(io_err)?;
        }
        if sync {
            file.sync_all().map_err(io_err)?;
        }
        let dest = self.dest.clone();
        let result = if self.force { self.temp.persist(&dest) } else { self.temp.persist_noclobber(&dest) };
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => Err(OutputError::Exists(dest)),
            Err(e) => Err(OutputError::Io(dest, e.error)),
        }
    }
}

/// Best effort: give the output the input's owner and group (works as root, or
/// for a group the user belongs to); failures are ignored, as gzip does.
#[cfg(unix)]
fn copy_owner(file: &File, meta: &Metadata) {
    use std::os::unix::fs::MetadataExt;
    let _ = std::os::unix::fs::fchown(file, Some(meta.uid()), Some(meta.gid()));
}

#[cfg(not(unix))]
fn copy_owner(_file: &File, _meta: &Metadata) {}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn names() {
        assert_eq!(compressed_name(Path::new("a/b.txt")), PathBuf::from("a/b.txt.nz"));
        assert_eq!(decompressed_name(Path::new("a/b.txt.nz")), Some(PathBuf::from("a/b.txt")));
        assert_eq!(decompressed_name(Path::new("b.nz")), Some(PathBuf::from("b")));
        assert_eq!(decompressed_name(Path::new("b.NZ")), None);
        assert_eq!(decompressed_name(Path::new("b.gz")), None);
        assert_eq!(decompressed_name(Path::new(".nz")), None);
        assert_eq!(decompressed_name(Path::new("dir.nz/x")), None);
        assert!(has_suffix(Path::new("x.nz")));
        assert!(!has_suffix(Path::new("x.nzz")));
        assert!(!has_suffix(Path::new("x.nz/y")));
    }

    #[test]
    fn commit_and_drop() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out");
        let out = OutputFile::create(&dest, None, false).unwrap();
        out.file().write_all(b"data").unwrap();
        drop(out);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "dropped output leaves nothing");

        let out = OutputFile::create(&dest, None, false).unwrap();
        out.file().write_all(b"data").unwrap();
        out.commit(None, true).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"data");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

        assert!(matches!(OutputFile::create(&dest, None, false), Err(OutputError::Exists(_))));
        assert!(matches!(OutputFile::create(&dest, Some(&dest), true), Err(OutputError::SameAsInput(_))));
        let out = OutputFile::create(&dest, None, true).unwrap();
        out.file().write_all(b"new").unwrap();
        out.commit(None, false).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"new");
    }

    #[test]
    fn metadata_is_copied() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::write(&src, b"x").unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        File::options().write(true).open(&src).unwrap().set_modified(old).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&src, fs::Permissions::from_mode(0o640)).unwrap();
        }
        let meta = fs::metadata(&src).unwrap();
        let dest = dir.path().join("dest");
        let out = OutputFile::create(&dest, Some(&src), false).unwrap();
        out.file().write_all(b"y").unwrap();
        out.commit(Some(&meta), false).unwrap();
        let got = fs::metadata(&dest).unwrap();
        assert_eq!(got.modified().unwrap(), old);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(got.permissions().mode() & 0o777, 0o640);
        }
    }
}
