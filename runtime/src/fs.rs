//! Files and directories (Go's `os` file functions), shaped like `std::fs`: every call runs on
//! the blocking pool (`gort::blocking`), so a slow disk, NFS or FUSE call hands the G's P to
//! another M after a sysmon tick instead of stalling the other Gs queued on it. Users name it
//! `gort::fs`.
//!
//! Why not the netpoller: regular files are always "ready" to epoll (it refuses them), so a
//! read that waits for the disk can only be waited for by a thread; Go makes the same choice
//! (its file I/O on regular files is a syscall that may hand off the P). io_uring would avoid
//! the threads but is Linux-only, often disabled (containers, `io_uring_disabled`), and a new
//! dependency; not done.
//!
//! From a plain OS thread every function is std's.

use crate::syscall::blocking;
use std::ffi::OsString;
use std::fs as sfs;
use std::io::{self, IoSlice, IoSliceMut, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub use std::fs::{FileTimes, FileType, Metadata, Permissions};

/// Reads a whole file (std's `fs::read`).
///
/// # Examples
///
/// ```
/// let p = std::env::temp_dir().join(format!("gort-fs-read-{}", std::process::id()));
/// gort::fs::write(&p, b"abc").unwrap();
/// assert_eq!(gort::fs::read(&p).unwrap(), b"abc");
/// gort::fs::remove_file(&p).unwrap();
/// ```
pub fn read<P: AsRef<Path>>(path: P) -> io::Result<Vec<u8>> {
    blocking(|| sfs::read(path))
}

/// Reads a whole file as UTF-8 (std's `fs::read_to_string`).
///
/// # Examples
///
/// ```
/// let s = gort::fs::read_to_string("/proc/self/status").unwrap();
/// assert!(s.contains("Threads:"));
/// ```
pub fn read_to_string<P: AsRef<Path>>(path: P) -> io::Result<String> {
    blocking(|| sfs::read_to_string(path))
}

/// Writes a whole file, creating or truncating it (std's `fs::write`).
///
/// # Examples
///
/// ```
/// let p = std::env::temp_dir().join(format!("gort-fs-write-{}", std::process::id()));
/// gort::spawn({ let p = p.clone(); move || gort::fs::write(p, "hello").unwrap() }).join().unwrap();
/// assert_eq!(std::fs::read_to_string(&p).unwrap(), "hello");
/// std::fs::remove_file(&p).unwrap();
/// ```
pub fn write<P: AsRef<Path>, C: AsRef<[u8]>>(path: P, contents: C) -> io::Result<()> {
    blocking(|| sfs::write(path, contents))
}

/// Metadata of a path, following symlinks (std's `fs::metadata`).
///
/// # Examples
///
/// ```
/// assert!(gort::fs::metadata("/").unwrap().is_dir());
/// ```
pub fn metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    blocking(|| sfs::metadata(path))
}

/// Metadata of a path without following a final symlink (std's `fs::symlink_metadata`).
///
/// # Examples
///
/// ```
/// assert!(gort::fs::symlink_metadata("/proc/self").unwrap().file_type().is_symlink());
/// ```
pub fn symlink_metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    blocking(|| sfs::symlink_metadata(path))
}

/// Whether a path exists; `Err` if that cannot be told (std's `fs::exists`).
///
/// # Examples
///
/// ```
/// assert!(gort::fs::exists("/").unwrap());
/// assert!(!gort::fs::exists("/no/such/path").unwrap());
/// ```
pub fn exists<P: AsRef<Path>>(path: P) -> io::Result<bool> {
    blocking(|| sfs::exists(path))
}

/// The absolute, symlink-free form of a path (std's `fs::canonicalize`).
///
/// # Examples
///
/// ```
/// assert_eq!(gort::fs::canonicalize("/tmp/..").unwrap(), std::path::Path::new("/"));
/// ```
pub fn canonicalize<P: AsRef<Path>>(path: P) -> io::Result<PathBuf> {
    blocking(|| sfs::canonicalize(path))
}

/// Copies a file's contents and permissions; returns the bytes copied (std's `fs::copy`).
///
/// # Examples
///
/// ```
/// let d = std::env::temp_dir();
/// let (a, b) = (d.join(format!("gort-cp-a-{}", std::process::id())), d.join(format!("gort-cp-b-{}", std::process::id())));
/// gort::fs::write(&a, "x").unwrap();
/// assert_eq!(gort::fs::copy(&a, &b).unwrap(), 1);
/// gort::fs::remove_file(&a).unwrap();
/// gort::fs::remove_file(&b).unwrap();
/// ```
pub fn copy<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<u64> {
    blocking(|| sfs::copy(from, to))
}

/// Renames a file or directory, replacing `to` if it is a file (std's `fs::rename`).
///
/// # Examples
///
/// ```
/// let d = std::env::temp_dir();
/// let (a, b) = (d.join(format!("gort-mv-a-{}", std::process::id())), d.join(format!("gort-mv-b-{}", std::process::id())));
/// gort::fs::write(&a, "x").unwrap();
/// gort::fs::rename(&a, &b).unwrap();
/// assert!(!a.exists() && b.exists());
/// gort::fs::remove_file(&b).unwrap();
/// ```
pub fn rename<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<()> {
    blocking(|| sfs::rename(from, to))
}

/// Makes a hard link (std's `fs::hard_link`).
///
/// # Examples
///
/// ```
/// let d = std::env::temp_dir();
/// let (a, b) = (d.join(format!("gort-ln-a-{}", std::process::id())), d.join(format!("gort-ln-b-{}", std::process::id())));
/// gort::fs::write(&a, "x").unwrap();
/// gort::fs::hard_link(&a, &b).unwrap();
/// assert_eq!(gort::fs::read_to_string(&b).unwrap(), "x");
/// gort::fs::remove_file(&a).unwrap();
/// gort::fs::remove_file(&b).unwrap();
/// ```
pub fn hard_link<P: AsRef<Path>, Q: AsRef<Path>>(original: P, link: Q) -> io::Result<()> {
    blocking(|| sfs::hard_link(original, link))
}

/// Makes a symbolic link `link` pointing at `original` (`std::os::unix::fs::symlink`).
///
/// # Examples
///
/// ```
/// let l = std::env::temp_dir().join(format!("gort-sym-{}", std::process::id()));
/// gort::fs::symlink("/", &l).unwrap();
/// assert_eq!(gort::fs::read_link(&l).unwrap(), std::path::Path::new("/"));
/// gort::fs::remove_file(&l).unwrap();
/// ```
#[cfg(unix)]
pub fn symlink<P: AsRef<Path>, Q: AsRef<Path>>(original: P, link: Q) -> io::Result<()> {
    blocking(|| std::os::unix::fs::symlink(original, link))
}

/// Where a symbolic link points (std's `fs::read_link`).
///
/// # Examples
///
/// ```
/// assert!(gort::fs::read_link("/proc/self/exe").unwrap().is_absolute());
/// ```
pub fn read_link<P: AsRef<Path>>(path: P) -> io::Result<PathBuf> {
    blocking(|| sfs::read_link(path))
}

/// Creates a directory (std's `fs::create_dir`).
///
/// # Examples
///
/// ```
/// let d = std::env::temp_dir().join(format!("gort-mkdir-{}", std::process::id()));
/// gort::fs::create_dir(&d).unwrap();
/// assert!(gort::fs::create_dir(&d).is_err()); // exists
/// gort::fs::remove_dir(&d).unwrap();
/// ```
pub fn create_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    blocking(|| sfs::create_dir(path))
}

/// Creates a directory and its missing parents (std's `fs::create_dir_all`).
///
/// # Examples
///
/// ```
/// let d = std::env::temp_dir().join(format!("gort-mkdirs-{}", std::process::id()));
/// gort::fs::create_dir_all(d.join("a/b")).unwrap();
/// assert!(d.join("a/b").is_dir());
/// gort::fs::remove_dir_all(&d).unwrap();
/// ```
pub fn create_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    blocking(|| sfs::create_dir_all(path))
}

/// Removes an empty directory (std's `fs::remove_dir`).
///
/// # Examples
///
/// ```
/// let d = std::env::temp_dir().join(format!("gort-rmdir-{}", std::process::id()));
/// gort::fs::create_dir(&d).unwrap();
/// gort::fs::remove_dir(&d).unwrap();
/// assert!(!d.exists());
/// ```
pub fn remove_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    blocking(|| sfs::remove_dir(path))
}

/// Removes a directory and everything in it (std's `fs::remove_dir_all`).
///
/// # Examples
///
/// ```
/// let d = std::env::temp_dir().join(format!("gort-rmall-{}", std::process::id()));
/// gort::fs::create_dir_all(d.join("x")).unwrap();
/// gort::fs::write(d.join("x/f"), "1").unwrap();
/// gort::fs::remove_dir_all(&d).unwrap();
/// assert!(!d.exists());
/// ```
pub fn remove_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    blocking(|| sfs::remove_dir_all(path))
}

/// Removes a file or symlink (std's `fs::remove_file`).
///
/// # Examples
///
/// ```
/// let p = std::env::temp_dir().join(format!("gort-rm-{}", std::process::id()));
/// gort::fs::write(&p, "").unwrap();
/// gort::fs::remove_file(&p).unwrap();
/// assert_eq!(gort::fs::remove_file(&p).unwrap_err().kind(), std::io::ErrorKind::NotFound);
/// ```
pub fn remove_file<P: AsRef<Path>>(path: P) -> io::Result<()> {
    blocking(|| sfs::remove_file(path))
}

/// Sets a path's permissions (std's `fs::set_permissions`).
///
/// # Examples
///
/// ```
/// let p = std::env::temp_dir().join(format!("gort-perm-{}", std::process::id()));
/// gort::fs::write(&p, "").unwrap();
/// let mut perm = gort::fs::metadata(&p).unwrap().permissions();
/// perm.set_readonly(true);
/// gort::fs::set_permissions(&p, perm).unwrap();
/// assert!(gort::fs::metadata(&p).unwrap().permissions().readonly());
/// gort::fs::remove_file(&p).unwrap();
/// ```
pub fn set_permissions<P: AsRef<Path>>(path: P, perm: Permissions) -> io::Result<()> {
    blocking(|| sfs::set_permissions(path, perm))
}

/// The entries of a directory (std's `fs::read_dir`): an iterator of `io::Result<DirEntry>`,
/// each step on the blocking pool. `.` and `..` are skipped; the order is the file system's.
///
/// # Examples
///
/// ```
/// let names: Vec<_> = gort::fs::read_dir("/proc/self")
///     .unwrap()
///     .map(|e| e.unwrap().file_name())
///     .collect();
/// assert!(names.iter().any(|n| n == "status"));
/// ```
pub fn read_dir<P: AsRef<Path>>(path: P) -> io::Result<ReadDir> {
    blocking(|| sfs::read_dir(path)).map(ReadDir)
}

/// The iterator from [`read_dir`].
///
/// # Examples
///
/// ```
/// let rd: gort::fs::ReadDir = gort::fs::read_dir("/").unwrap();
/// assert!(rd.count() > 0);
/// ```
#[derive(Debug)]
pub struct ReadDir(sfs::ReadDir);

impl Iterator for ReadDir {
    type Item = io::Result<DirEntry>;
    fn next(&mut self) -> Option<io::Result<DirEntry>> {
        blocking(|| self.0.next()).map(|r| r.map(DirEntry))
    }
}

/// An entry of a directory, from [`ReadDir`].
///
/// # Examples
///
/// ```
/// let e = gort::fs::read_dir("/proc/self").unwrap().next().unwrap().unwrap();
/// assert!(e.path().starts_with("/proc/self"));
/// ```
#[derive(Debug)]
pub struct DirEntry(sfs::DirEntry);

impl DirEntry {
    /// The entry's full path (the directory's path joined with the file name).
    ///
    /// # Examples
    ///
    /// ```
    /// for e in gort::fs::read_dir("/").unwrap() {
    ///     assert_eq!(e.unwrap().path().parent(), Some(std::path::Path::new("/")));
    /// }
    /// ```
    pub fn path(&self) -> PathBuf {
        self.0.path()
    }

    /// The entry's file name, without the directory.
    ///
    /// # Examples
    ///
    /// ```
    /// let names: Vec<_> = gort::fs::read_dir("/").unwrap().map(|e| e.unwrap().file_name()).collect();
    /// assert!(names.iter().any(|n| n == "proc"));
    /// ```
    pub fn file_name(&self) -> OsString {
        self.0.file_name()
    }

    /// The entry's metadata, not following a symlink (on the blocking pool).
    ///
    /// # Examples
    ///
    /// ```
    /// let e = gort::fs::read_dir("/").unwrap().map(Result::unwrap).find(|e| e.file_name() == "proc").unwrap();
    /// assert!(e.metadata().unwrap().is_dir());
    /// ```
    pub fn metadata(&self) -> io::Result<Metadata> {
        blocking(|| self.0.metadata())
    }

    /// The entry's type, not following a symlink (usually known without a system call).
    ///
    /// # Examples
    ///
    /// ```
    /// let e = gort::fs::read_dir("/proc/self").unwrap().map(Result::unwrap).find(|e| e.file_name() == "exe").unwrap();
    /// assert!(e.file_type().unwrap().is_symlink());
    /// ```
    pub fn file_type(&self) -> io::Result<FileType> {
        blocking(|| self.0.file_type())
    }
}

/// Options for opening a file (std's `OpenOptions`).
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// let p = std::env::temp_dir().join(format!("gort-oo-{}", std::process::id()));
/// let mut f = gort::fs::OpenOptions::new().create(true).append(true).open(&p).unwrap();
/// f.write_all(b"1").unwrap();
/// assert_eq!(gort::fs::read(&p).unwrap(), b"1");
/// gort::fs::remove_file(&p).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions(sfs::OpenOptions);

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// All options off (std's `OpenOptions::new`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort::fs::OpenOptions::new().open("/").is_err()); // neither read nor write
    /// ```
    pub fn new() -> OpenOptions {
        OpenOptions(sfs::OpenOptions::new())
    }

    /// Open for reading.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort::fs::OpenOptions::new().read(true).open("/proc/self/status").is_ok());
    /// ```
    pub fn read(&mut self, on: bool) -> &mut OpenOptions {
        self.0.read(on);
        self
    }

    /// Open for writing.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort::fs::OpenOptions::new().write(true).open("/dev/null").is_ok());
    /// ```
    pub fn write(&mut self, on: bool) -> &mut OpenOptions {
        self.0.write(on);
        self
    }

    /// Every write goes to the end of the file.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort::fs::OpenOptions::new().append(true).open("/dev/null").is_ok());
    /// ```
    pub fn append(&mut self, on: bool) -> &mut OpenOptions {
        self.0.append(on);
        self
    }

    /// Truncate the file to 0 bytes on open (needs `write`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort::fs::OpenOptions::new().write(true).truncate(true).open("/dev/null").is_ok());
    /// ```
    pub fn truncate(&mut self, on: bool) -> &mut OpenOptions {
        self.0.truncate(on);
        self
    }

    /// Create the file if it does not exist (needs `write` or `append`).
    ///
    /// # Examples
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gort-oc-{}", std::process::id()));
    /// gort::fs::OpenOptions::new().write(true).create(true).open(&p).unwrap();
    /// gort::fs::remove_file(&p).unwrap();
    /// ```
    pub fn create(&mut self, on: bool) -> &mut OpenOptions {
        self.0.create(on);
        self
    }

    /// Create the file, failing if it exists (atomically).
    ///
    /// # Examples
    ///
    /// ```
    /// let e = gort::fs::OpenOptions::new().write(true).create_new(true).open("/").unwrap_err();
    /// assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
    /// ```
    pub fn create_new(&mut self, on: bool) -> &mut OpenOptions {
        self.0.create_new(on);
        self
    }

    /// The std options underneath, for extensions (`std::os::unix::fs::OpenOptionsExt`'s
    /// `mode`, `custom_flags`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::fs::OpenOptionsExt;
    /// let mut o = gort::fs::OpenOptions::new();
    /// o.write(true).as_std_mut().mode(0o600);
    /// assert!(o.open("/dev/null").is_ok());
    /// ```
    pub fn as_std_mut(&mut self) -> &mut sfs::OpenOptions {
        &mut self.0
    }

    /// Opens `path` with these options.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = gort::fs::OpenOptions::new().read(true).open("/proc/self/status").unwrap();
    /// assert!(f.metadata().unwrap().is_file());
    /// ```
    pub fn open<P: AsRef<Path>>(&self, path: P) -> io::Result<File> {
        blocking(|| self.0.open(path)).map(File)
    }
}

/// An open file (std's `File`): every operation, `Read`/`Write`/`Seek` included, runs on the
/// blocking pool. `&File` reads and writes too (shared offset, as std).
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// let p = std::env::temp_dir().join(format!("gort-file-{}", std::process::id()));
/// let h = gort::spawn({
///     let p = p.clone();
///     move || {
///         gort::fs::File::create(&p)?.write_all(b"data")?;
///         let mut s = String::new();
///         gort::fs::File::open(&p)?.read_to_string(&mut s)?;
///         Ok::<_, std::io::Error>(s)
///     }
/// });
/// assert_eq!(h.join().unwrap().unwrap(), "data");
/// gort::fs::remove_file(&p).unwrap();
/// ```
#[derive(Debug)]
pub struct File(sfs::File);

impl File {
    /// Opens a file for reading.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort::fs::File::open("/proc/self/status").is_ok());
    /// assert!(gort::fs::File::open("/no/such/file").is_err());
    /// ```
    pub fn open<P: AsRef<Path>>(path: P) -> io::Result<File> {
        blocking(|| sfs::File::open(path)).map(File)
    }

    /// Opens a file for writing, creating or truncating it.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gort-create-{}", std::process::id()));
    /// let f = gort::fs::File::create(&p).unwrap();
    /// assert_eq!(f.metadata().unwrap().len(), 0);
    /// gort::fs::remove_file(&p).unwrap();
    /// ```
    pub fn create<P: AsRef<Path>>(path: P) -> io::Result<File> {
        blocking(|| sfs::File::create(path)).map(File)
    }

    /// Creates a new file for writing, failing if it exists.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort::fs::File::create_new("/").is_err());
    /// ```
    pub fn create_new<P: AsRef<Path>>(path: P) -> io::Result<File> {
        blocking(|| sfs::File::create_new(path)).map(File)
    }

    /// Options for opening a file (same as [`OpenOptions::new`]).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort::fs::File::options().read(true).open("/proc/self/status").is_ok());
    /// ```
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// The file's metadata.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort::fs::File::open("/").unwrap().metadata().unwrap().is_dir());
    /// ```
    pub fn metadata(&self) -> io::Result<Metadata> {
        blocking(|| self.0.metadata())
    }

    /// Truncates or extends the file to `size` bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gort-setlen-{}", std::process::id()));
    /// let f = gort::fs::File::create(&p).unwrap();
    /// f.set_len(10).unwrap();
    /// assert_eq!(f.metadata().unwrap().len(), 10);
    /// gort::fs::remove_file(&p).unwrap();
    /// ```
    pub fn set_len(&self, size: u64) -> io::Result<()> {
        blocking(|| self.0.set_len(size))
    }

    /// Flushes data and metadata to the device (`fsync`).
    ///
    /// # Examples
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gort-sync-{}", std::process::id()));
    /// gort::fs::File::create(&p).unwrap().sync_all().unwrap();
    /// gort::fs::remove_file(&p).unwrap();
    /// ```
    pub fn sync_all(&self) -> io::Result<()> {
        blocking(|| self.0.sync_all())
    }

    /// Flushes data to the device (`fdatasync`).
    ///
    /// # Examples
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gort-dsync-{}", std::process::id()));
    /// gort::fs::File::create(&p).unwrap().sync_data().unwrap();
    /// gort::fs::remove_file(&p).unwrap();
    /// ```
    pub fn sync_data(&self) -> io::Result<()> {
        blocking(|| self.0.sync_data())
    }

    /// Sets the file's permissions.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gort-fperm-{}", std::process::id()));
    /// let f = gort::fs::File::create(&p).unwrap();
    /// let mut perm = f.metadata().unwrap().permissions();
    /// perm.set_readonly(true);
    /// f.set_permissions(perm).unwrap();
    /// gort::fs::remove_file(&p).unwrap();
    /// ```
    pub fn set_permissions(&self, perm: Permissions) -> io::Result<()> {
        blocking(|| self.0.set_permissions(perm))
    }

    /// Sets the file's access and modification times.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gort-times-{}", std::process::id()));
    /// let f = gort::fs::File::create(&p).unwrap();
    /// let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
    /// f.set_times(gort::fs::FileTimes::new().set_modified(t)).unwrap();
    /// assert_eq!(f.metadata().unwrap().modified().unwrap(), t);
    /// gort::fs::remove_file(&p).unwrap();
    /// ```
    pub fn set_times(&self, times: FileTimes) -> io::Result<()> {
        blocking(|| self.0.set_times(times))
    }

    /// A second handle to the same open file (shared offset).
    ///
    /// # Examples
    ///
    /// ```
    /// let f = gort::fs::File::open("/proc/self/status").unwrap();
    /// let g = f.try_clone().unwrap();
    /// assert!(g.metadata().is_ok());
    /// ```
    pub fn try_clone(&self) -> io::Result<File> {
        blocking(|| self.0.try_clone()).map(File)
    }

    /// Wraps a std file.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = gort::fs::File::from_std(std::fs::File::open("/").unwrap());
    /// assert!(f.metadata().unwrap().is_dir());
    /// ```
    pub fn from_std(f: sfs::File) -> File {
        File(f)
    }

    /// The std file underneath.
    ///
    /// # Examples
    ///
    /// ```
    /// let f: std::fs::File = gort::fs::File::open("/").unwrap().into_std();
    /// assert!(f.metadata().unwrap().is_dir());
    /// ```
    pub fn into_std(self) -> sfs::File {
        self.0
    }
}

impl Read for &File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        blocking(|| (&self.0).read(buf))
    }
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        blocking(|| (&self.0).read_vectored(bufs))
    }
    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        blocking(|| (&self.0).read_to_end(buf))
    }
    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        blocking(|| (&self.0).read_to_string(buf))
    }
}

impl Write for &File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        blocking(|| (&self.0).write(buf))
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        blocking(|| (&self.0).write_vectored(bufs))
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        blocking(|| (&self.0).write_all(buf))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for &File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        blocking(|| (&self.0).seek(pos))
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        (&*self).read_to_end(buf)
    }
    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        (&*self).read_to_string(buf)
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        (&*self).write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        (&*self).seek(pos)
    }
}

impl From<sfs::File> for File {
    fn from(f: sfs::File) -> File {
        File(f)
    }
}

impl From<File> for sfs::File {
    fn from(f: File) -> sfs::File {
        f.0
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for File {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for File {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// Builds directories with options (std's `DirBuilder`).
///
/// # Examples
///
/// ```
/// let d = std::env::temp_dir().join(format!("gort-db-{}", std::process::id()));
/// gort::fs::DirBuilder::new().recursive(true).create(d.join("a/b")).unwrap();
/// gort::fs::remove_dir_all(&d).unwrap();
/// ```
#[derive(Debug)]
pub struct DirBuilder(sfs::DirBuilder);

impl Default for DirBuilder {
    fn default() -> DirBuilder {
        DirBuilder::new()
    }
}

impl DirBuilder {
    /// A builder with default options (not recursive).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort::fs::DirBuilder::new().create("/").is_err());
    /// ```
    pub fn new() -> DirBuilder {
        DirBuilder(sfs::DirBuilder::new())
    }

    /// Create missing parents too (and do not fail if the directory exists).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort::fs::DirBuilder::new().recursive(true).create("/").is_ok());
    /// ```
    pub fn recursive(&mut self, on: bool) -> &mut DirBuilder {
        self.0.recursive(on);
        self
    }

    /// Creates `path`.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = std::env::temp_dir().join(format!("gort-dbc-{}", std::process::id()));
    /// gort::fs::DirBuilder::new().create(&d).unwrap();
    /// gort::fs::remove_dir(&d).unwrap();
    /// ```
    pub fn create<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        blocking(|| self.0.create(path))
    }
}
