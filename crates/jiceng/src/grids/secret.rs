//! Encryption of personal data at rest (ID numbers): AES-256-GCM with a random 96-bit nonce
//! per value, stored as `v1:` + hex(nonce ‖ ciphertext ‖ tag).
//!
//! The key comes from the setting `personal_data_key` (64 hex digits) or, when none is set,
//! from `personal_data.key` in the data directory, created on first use. Several `serve`
//! processes on one PostgreSQL must share the key: configure it, or share the file.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};

use crate::error::{Error, Result};

const PREFIX: &str = "v1:";
pub const KEY_FILE: &str = "personal_data.key";

#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    pub fn from_key(key: &[u8; 32]) -> Sealer {
        Sealer {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)),
        }
    }

    /// The configured key, or the data directory's key file (created when missing).
    pub fn load(configured: Option<&str>, data_dir: &Path) -> Result<Sealer> {
        if let Some(hex_key) = configured.map(str::trim).filter(|k| !k.is_empty()) {
            return Self::from_hex(hex_key).map_err(|_| {
                Error::invalid("personal_data_key", "个人信息加密密钥应为 64 位十六进制数")
            });
        }
        let path = data_dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_hex(text.trim()).map_err(|_| {
                Error::internal(format!("{} is not a 64-digit hex key", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(Error::internal)?;
                let key: [u8; 32] = rand::random();
                write_private(&path, &hex::encode(key))?;
                tracing::info!(path = %path.display(), "created the personal data key");
                Ok(Self::from_key(&key))
            }
            Err(e) => Err(Error::internal(format!("{}: {e}", path.display()))),
        }
    }

    fn from_hex(text: &str) -> std::result::Result<Sealer, ()> {
        let bytes = hex::decode(text).map_err(|_| ())?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| ())?;
        Ok(Self::from_key(&key))
    }

    pub fn seal(&self, plain: &str) -> Result<String> {
        let nonce: [u8; 12] = rand::random();
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .map_err(|_| Error::internal("encryption failed"))?;
        let mut out = Vec::with_capacity(12 + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", hex::encode(out)))
    }

    pub fn open(&self, sealed: &str) -> Result<String> {
        let bad = || Error::internal("stored personal data cannot be decrypted (wrong key?)");
        let raw = sealed
            .strip_prefix(PREFIX)
            .and_then(|h| hex::decode(h).ok())
            .filter(|b| b.len() > 12)
            .ok_or_else(bad)?;
        let (nonce, body) = raw.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| bad())?;
        String::from_utf8(plain).map_err(|_| bad())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::internal(format!("{}: {e}", path.display())))?;
    f.write_all(text.as_bytes()).map_err(Error::internal)
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(Error::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_with_a_fresh_nonce_each_time() {
        let s = Sealer::from_key(&[7; 32]);
        let a = s.seal("11010519491231002X").unwrap();
        let b = s.seal("11010519491231002X").unwrap();
        assert_ne!(a, b);
        assert!(!a.contains("1949"));
        assert_eq!(s.open(&a).unwrap(), "11010519491231002X");
        let other = Sealer::from_key(&[8; 32]);
        assert!(other.open(&a).is_err());
        assert!(s.open("v1:00").is_err());
    }

    #[test]
    fn creates_a_key_file_once_and_reuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let a = Sealer::load(None, dir.path()).unwrap();
        let sealed = a.seal("x").unwrap();
        let b = Sealer::load(None, dir.path()).unwrap();
        assert_eq!(b.open(&sealed).unwrap(), "x");
        assert!(Sealer::load(Some("zz"), dir.path()).is_err());
        let configured = Sealer::load(Some(&"ab".repeat(32)), dir.path()).unwrap();
        assert!(configured.open(&sealed).is_err());
    }
}
