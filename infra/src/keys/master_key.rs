//! The deployment's master key: 32 bytes that wrap every data key and are
//! never stored in the database. It comes from `FLOWFORGE_ENCRYPTION_KEY`
//! (64 hex digits or base64), else from a key file
//! (`FLOWFORGE_ENCRYPTION_KEY_FILE`), else from `master.key` in the data
//! directory, which the first start creates at random (and says loudly that
//! it must be backed up: without it nothing sealed can be read again).

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use super::sealing::{key_from_text, random_bytes, SealError, SealingKey, KEY_BYTES};

/// The key file's name in the data directory.
pub const DEFAULT_KEY_FILE: &str = "master.key";

/// Why the master key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    /// The configured value is not 32 bytes in hex or base64.
    #[error("{origin} is not a master key: it must be 32 bytes as 64 hex digits or base64 (e.g. `openssl rand -hex 32`)")]
    Malformed {
        /// Where it came from.
        origin: String,
    },
    /// The key file could not be read or created.
    #[error("cannot read or create the master key file {path}")]
    File {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// No random key could be drawn.
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// Where the master key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeyOrigin {
    /// `FLOWFORGE_ENCRYPTION_KEY`.
    Configured,
    /// A key file that existed.
    File(PathBuf),
    /// A key file this start created.
    Generated(PathBuf),
}

/// The master key.
#[derive(Debug)]
pub struct MasterKey {
    pub(super) key: SealingKey,
}

impl MasterKey {
    /// The key written as `text` (64 hex digits or base64 of 32 bytes);
    /// `origin` names it in the error.
    ///
    /// # Errors
    /// [`MasterKeyError::Malformed`].
    pub fn parse(text: &str, origin: &str) -> Result<Self, MasterKeyError> {
        let bytes = key_from_text(text).ok_or_else(|| MasterKeyError::Malformed {
            origin: origin.to_owned(),
        })?;
        Ok(Self {
            key: SealingKey::new(&bytes)?,
        })
    }

    /// The key from `value`, else from `file`, else from `default_file`
    /// (created at random if it does not exist), and where it came from.
    ///
    /// # Errors
    /// [`MasterKeyError`] naming the setting or file at fault.
    pub fn load(
        value: Option<&str>,
        file: Option<&Path>,
        default_file: &Path,
    ) -> Result<(Self, MasterKeyOrigin), MasterKeyError> {
        if let Some(value) = value {
            let key = Self::parse(value, "FLOWFORGE_ENCRYPTION_KEY")?;
            return Ok((key, MasterKeyOrigin::Configured));
        }
        if let Some(file) = file {
            return Ok((read(file)?, MasterKeyOrigin::File(file.to_owned())));
        }
        if default_file.exists() {
            return Ok((
                read(default_file)?,
                MasterKeyOrigin::File(default_file.to_owned()),
            ));
        }
        let created = create(default_file)?;
        let key = read(default_file)?;
        Ok((
            key,
            if created {
                MasterKeyOrigin::Generated(default_file.to_owned())
            } else {
                MasterKeyOrigin::File(default_file.to_owned())
            },
        ))
    }
}

impl MasterKey {
    /// The key in file `path`.
    ///
    /// # Errors
    /// [`MasterKeyError`] naming the file.
    pub fn read_file(path: &Path) -> Result<Self, MasterKeyError> {
        read(path)
    }

    /// The configured key, as [`MasterKey::load`] finds it, but never made:
    /// `None` when neither a key nor a key file is configured and the data
    /// directory has no `master.key`.
    ///
    /// # Errors
    /// [`MasterKeyError`] naming the setting or file at fault.
    pub fn find(
        value: Option<&str>,
        file: Option<&Path>,
        default_file: &Path,
    ) -> Result<Option<(Self, MasterKeyOrigin)>, MasterKeyError> {
        if value.is_none() && file.is_none() && !default_file.exists() {
            return Ok(None);
        }
        Self::load(value, file, default_file).map(Some)
    }
}

/// Puts the key in `source` into `target` (mode 0600), replacing it in one
/// rename, so `target` is never half-written.
///
/// # Errors
/// [`MasterKeyError::File`] naming the file.
pub fn replace_key_file(source: &Path, target: &Path) -> Result<(), MasterKeyError> {
    // Only a file that holds a key replaces the key file.
    read(source)?;
    let failed = |source| MasterKeyError::File {
        path: target.to_owned(),
        source,
    };
    let text = std::fs::read_to_string(source).map_err(failed)?;
    let temporary = temporary_beside(target);
    let written =
        write_private(&temporary, &text).and_then(|()| std::fs::rename(&temporary, target));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written.map_err(failed)
}

/// A fresh name beside `path`, to write a file under before it takes
/// `path`'s place.
fn temporary_beside(path: &Path) -> PathBuf {
    path.with_extension(format!("new-{}", uuid::Uuid::new_v4().simple()))
}

/// Writes `text` to a new file at `path` that only its owner may read.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

fn read(path: &Path) -> Result<MasterKey, MasterKeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| MasterKeyError::File {
        path: path.to_owned(),
        source,
    })?;
    MasterKey::parse(&text, &path.display().to_string())
}

/// Writes a random key to `path` unless a file is there; whether it did.
/// The key is written to a temporary file first and linked into place, so
/// two processes starting at once agree on one key and neither reads half
/// of one.
fn create(path: &Path) -> Result<bool, MasterKeyError> {
    let failed = |source| MasterKeyError::File {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    let bytes: [u8; KEY_BYTES] = random_bytes()?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let temporary = temporary_beside(path);
    let linked = write_private(&temporary, &format!("{hex}\n"))
        .and_then(|()| std::fs::hard_link(&temporary, path));
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(failed(e)),
    }
}

#[cfg(test)]
mod tests {
    use base64::{engine::general_purpose::STANDARD, Engine};

    use super::*;

    #[test]
    fn a_key_is_32_bytes_in_hex_or_base64() {
        assert!(MasterKey::parse(&"ab".repeat(32), "test").is_ok());
        assert!(MasterKey::parse(&STANDARD.encode([7u8; 32]), "test").is_ok());
        for bad in [
            "",
            "abc",
            &"ab".repeat(31),
            &STANDARD.encode([7u8; 31]),
            &"zz".repeat(32),
        ] {
            let error = MasterKey::parse(bad, "FLOWFORGE_ENCRYPTION_KEY").expect_err(bad);
            assert!(
                error.to_string().contains("FLOWFORGE_ENCRYPTION_KEY"),
                "{error}"
            );
        }
    }

    #[test]
    fn the_default_file_is_made_once_and_then_read() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("data").join(DEFAULT_KEY_FILE);
        let (first, origin) = MasterKey::load(None, None, &path).expect("made");
        assert_eq!(origin, MasterKeyOrigin::Generated(path.clone()));
        let (again, origin) = MasterKey::load(None, None, &path).expect("read");
        assert_eq!(origin, MasterKeyOrigin::File(path.clone()));
        let sealed = first.key.seal("o", b"x").expect("seal");
        assert_eq!(again.key.open("o", &sealed).expect("same key"), b"x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not a key").expect("write");
        assert!(matches!(
            MasterKey::load(None, None, &path),
            Err(MasterKeyError::Malformed { .. })
        ));
    }
}
