//! Files in the state folder, opened so that nobody else with a foot in the
//! folder can redirect them.
//!
//! mqreg often runs as root (`sudo mqreg ...`) on a folder a service user owns,
//! and the folder may even be open to others. A symlink planted at
//! `state.toml.lock`, at a predictable temporary name or at `audit.jsonl` would
//! then make root create, overwrite or append to any file it names. So:
//! - the folder is opened once and every file is opened relative to that
//!   descriptor, with `O_NOFOLLOW`: a symlink at any of mqreg's names is
//!   refused with an error naming it, never followed;
//! - temporary files get an unpredictable name and `O_CREAT | O_EXCL`;
//! - when root writes in a folder whose state belongs to someone else (the
//!   broker's service user), every file it creates is handed to that owner,
//!   so `sudo mqreg ...` never locks the broker out of its own state.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use argon2::password_hash::rand_core::{OsRng, RngCore};

/// A user and group that created files are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

pub struct Folder {
    fd: OwnedFd,
    path: PathBuf,
    /// Set when files created here must be handed to another user.
    owner: Option<Owner>,
}

fn c_name(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

/// Whether an error means a symlink was found where a file was expected.
pub fn is_symlink_error(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::ELOOP)
}

impl Folder {
    /// Opens a folder (which may itself be reached through symlinks: that is
    /// the admin's choice; the names inside it are mqreg's).
    pub fn open(path: &Path) -> io::Result<Self> {
        let name = c_name(path.as_os_str())?;
        // SAFETY: a valid C string; the descriptor is owned below.
        let fd = check(unsafe {
            libc::open(
                name.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        })?;
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self {
            fd,
            path: path.to_owned(),
            owner: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// When run as root, files created here go to the owner of `reference`
    /// (the state file), or of the folder when there is no such file yet and
    /// the folder is not root's: the broker's service user, typically.
    pub fn hand_files_to_owner_of(mut self, reference: &OsStr) -> Self {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return self;
        }
        // Only a regular file says who owns the state: a symlink planted there
        // belongs to whoever planted it.
        let owner = match self.stat(reference) {
            Ok(meta) if meta.is_file() => Some(meta),
            Ok(_) => None,
            Err(_) => self
                .fd
                .try_clone()
                .ok()
                .and_then(|fd| File::from(fd).metadata().ok()),
        }
        .map(|meta| Owner {
            uid: meta.uid(),
            gid: meta.gid(),
        });
        self.owner = owner.filter(|owner| owner.uid != 0);
        self
    }

    pub fn owner(&self) -> Option<Owner> {
        self.owner
    }

    /// The metadata of `name` itself (a symlink is not followed).
    pub fn stat(&self, name: &OsStr) -> io::Result<std::fs::Metadata> {
        // std has no fstatat; opening with O_PATH | O_NOFOLLOW and asking the
        // descriptor gives the same answer for the entry itself.
        let name_c = c_name(name)?;
        // SAFETY: valid descriptor and C string; the result is owned below.
        let fd = check(unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                name_c.as_ptr(),
                libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        })?;
        // SAFETY: fresh descriptor.
        let file = unsafe { File::from_raw_fd(fd) };
        file.metadata()
    }

    /// Opens `name` in this folder, which must be a regular file with no
    /// other hard link: `O_NOFOLLOW` is always added, so a symlink there fails
    /// with ELOOP; `O_NONBLOCK`, so a FIFO cannot hang the open, and the file
    /// type and link count are checked once it is open, so a hard link to a
    /// file elsewhere is refused. With `O_CREAT`, a file this call creates
    /// (and only such a file) gets the folder's owner.
    pub fn open_file(&self, name: &OsStr, flags: libc::c_int, mode: u32) -> io::Result<File> {
        let name_c = c_name(name)?;
        let open = |flags: libc::c_int| {
            // SAFETY: valid descriptor and C string; the result is owned below.
            check(unsafe {
                libc::openat(
                    self.fd.as_raw_fd(),
                    name_c.as_ptr(),
                    flags | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK,
                    mode as libc::c_uint,
                )
            })
            // SAFETY: a fresh descriptor nobody else owns.
            .map(|fd| unsafe { File::from_raw_fd(fd) })
        };
        let (file, created) = if flags & libc::O_CREAT != 0 {
            match open(flags | libc::O_EXCL) {
                Ok(file) => (file, true),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && flags & libc::O_EXCL == 0 => {
                    let file =
                        open(flags & !libc::O_CREAT).map_err(|error| self.explain(name, error))?;
                    (file, false)
                }
                Err(error) => return Err(self.explain(name, error)),
            }
        } else {
            (
                open(flags).map_err(|error| self.explain(name, error))?,
                false,
            )
        };
        let meta = file.metadata()?;
        if !meta.file_type().is_file() {
            return Err(io::Error::other(format!(
                "{} is not a regular file; mqreg refuses it. Remove it (and check who can write to {})",
                self.path.join(name).display(),
                self.path.display()
            )));
        }
        if meta.nlink() > 1 {
            return Err(io::Error::other(format!(
                "{} has other hard links, so writing it would write elsewhere too; mqreg refuses it. \
                 Remove it (and check who can write to {})",
                self.path.join(name).display(),
                self.path.display()
            )));
        }
        if created {
            self.give(&file)?;
        }
        Ok(file)
    }

    /// Hands a file to the folder's owner, if it has one to hand to.
    pub fn give(&self, file: &File) -> io::Result<()> {
        if let Some(owner) = self.owner {
            // SAFETY: a valid descriptor.
            check(unsafe { libc::fchown(file.as_raw_fd(), owner.uid, owner.gid) })?;
        }
        Ok(())
    }

    /// Creates `.{stem}.tmp.{random}` exclusively, for writing.
    pub fn create_temp(&self, stem: &OsStr) -> io::Result<(File, OsString)> {
        let mut name = OsString::from(".");
        name.push(stem);
        name.push(format!(".tmp.{:016x}", OsRng.next_u64()));
        let file = self.open_file(&name, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL, 0o600)?;
        Ok((file, name))
    }

    /// Renames within the folder; a symlink at `to` is replaced, never followed.
    pub fn rename(&self, from: &OsStr, to: &OsStr) -> io::Result<()> {
        let (from_c, to_c) = (c_name(from)?, c_name(to)?);
        // SAFETY: valid descriptors and C strings.
        check(unsafe {
            libc::renameat(
                self.fd.as_raw_fd(),
                from_c.as_ptr(),
                self.fd.as_raw_fd(),
                to_c.as_ptr(),
            )
        })?;
        Ok(())
    }

    pub fn remove(&self, name: &OsStr) -> io::Result<()> {
        let name_c = c_name(name)?;
        // SAFETY: valid descriptor and C string.
        check(unsafe { libc::unlinkat(self.fd.as_raw_fd(), name_c.as_ptr(), 0) })?;
        Ok(())
    }

    /// Makes renames in the folder durable.
    pub fn sync(&self) -> io::Result<()> {
        // SAFETY: a valid descriptor.
        check(unsafe { libc::fsync(self.fd.as_raw_fd()) })?;
        Ok(())
    }

    fn explain(&self, name: &OsStr, error: io::Error) -> io::Error {
        if is_symlink_error(&error) {
            io::Error::other(format!(
                "{} is a symbolic link; mqreg never follows links in its state folder. \
                 Remove it (and check who can write to {})",
                self.path.join(name).display(),
                self.path.display()
            ))
        } else {
            error
        }
    }
}

/// The folder `path` is in: its parent, or `.` for a bare file name.
pub fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Opens a file for reading, refusing what `Folder::open_file` refuses.
pub fn open_read(path: &Path) -> io::Result<File> {
    Folder::open(folder_of(path))?.open_file(
        path.file_name().unwrap_or_default(),
        libc::O_RDONLY,
        0,
    )
}

/// Opens a file for appending (the audit log) without following a symlink
/// at its name, created 0600 and, when `owner` is set, given to that owner.
pub fn open_append(path: &Path, owner: Option<Owner>) -> io::Result<File> {
    let mut folder = Folder::open(folder_of(path))?;
    folder.owner = owner;
    folder.open_file(
        path.file_name().unwrap_or_default(),
        libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT,
        0o600,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn symlinks_at_any_name_are_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("state.toml.lock")).unwrap();
        let folder = Folder::open(dir.path()).unwrap();
        let error = folder
            .open_file(
                OsStr::new("state.toml.lock"),
                libc::O_WRONLY | libc::O_CREAT,
                0o600,
            )
            .unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        let error = open_append(&dir.path().join("state.toml.lock"), None).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert!(folder
            .stat(OsStr::new("state.toml.lock"))
            .unwrap()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }

    #[test]
    fn temp_files_are_new_unpredictable_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let folder = Folder::open(dir.path()).unwrap();
        let (mut first, first_name) = folder.create_temp(OsStr::new("state.toml")).unwrap();
        let (_, second_name) = folder.create_temp(OsStr::new("state.toml")).unwrap();
        assert_ne!(first_name, second_name);
        first.write_all(b"new").unwrap();
        let meta = folder.stat(&first_name).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        folder
            .rename(&first_name, OsStr::new("state.toml"))
            .unwrap();
        let mut text = String::new();
        folder
            .open_file(OsStr::new("state.toml"), libc::O_RDONLY, 0)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "new");
        folder.remove(&second_name).unwrap();
    }
}
