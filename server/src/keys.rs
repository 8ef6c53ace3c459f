//! The server's two secrets: the Ed25519 key that signs access tokens and the data key that seals
//! `session_key` (and WeChat's access token) at rest. Each comes from the environment
//! (`MP_SESSION_SIGNING_KEY`: base64 PKCS#8; `MP_SESSION_DATA_KEY`: base64 of 32 bytes) or is
//! generated once into the data directory, where every process on the machine finds the same one.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::Path;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair};

use crate::error::StartError;

pub struct Keys {
    pub signing_pkcs8: Vec<u8>,
    /// The raw 32-byte public key, as the JWKS `x` carries it.
    pub public: Vec<u8>,
    /// The key id: the first 16 characters of the public key's SHA-256, base64url.
    pub kid: String,
    seal: LessSafeKey,
    rng: SystemRandom,
}

impl Keys {
    pub fn load(data_dir: &Path, signing_env: Option<String>, data_env: Option<String>) -> Result<Keys, StartError> {
        let rng = SystemRandom::new();
        let signing_pkcs8 = match signing_env {
            Some(text) => decode_env("MP_SESSION_SIGNING_KEY", &text)?,
            None => load_or_create(&data_dir.join("signing-key.pk8"), || {
                Ed25519KeyPair::generate_pkcs8(&rng)
                    .map(|doc| doc.as_ref().to_vec())
                    .map_err(|_| StartError::new("cannot generate an Ed25519 key"))
            })?,
        };
        let pair = Ed25519KeyPair::from_pkcs8(&signing_pkcs8)
            .map_err(|_| StartError::new("the signing key is not an Ed25519 PKCS#8 key"))?;
        let public = pair.public_key().as_ref().to_vec();
        let kid =
            URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, &public)).chars().take(16).collect();
        let data_key = match data_env {
            Some(text) => decode_env("MP_SESSION_DATA_KEY", &text)?,
            None => load_or_create(&data_dir.join("data-key"), || {
                let mut key = vec![0u8; 32];
                rng.fill(&mut key).map_err(|_| StartError::new("no system randomness"))?;
                Ok(key)
            })?,
        };
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, &data_key)
            .map_err(|_| StartError::new("the data key must be 32 bytes"))?;
        Ok(Keys { signing_pkcs8, public, kid, seal: LessSafeKey::new(unbound), rng })
    }

    /// `plain` sealed for the row named by `context`: base64(nonce ‖ ciphertext ‖ tag).
    pub fn seal(&self, context: &str, plain: &str) -> Result<String, ring::error::Unspecified> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce)?;
        let mut data = plain.as_bytes().to_vec();
        self.seal.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context.as_bytes()),
            &mut data,
        )?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(STANDARD.encode(out))
    }

    /// The text `seal` sealed for the same `context`; None when it was sealed for another row,
    /// with another key, or altered.
    pub fn open(&self, context: &str, sealed: &str) -> Option<String> {
        let bytes = STANDARD.decode(sealed).ok()?;
        let (nonce, rest) = bytes.split_at_checked(NONCE_LEN)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = rest.to_vec();
        let plain = self.seal.open_in_place(nonce, Aad::from(context.as_bytes()), &mut data).ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }

    /// `n` random bytes, base64url: session ids and refresh tokens.
    pub fn random_token(&self, n: usize) -> Result<String, ring::error::Unspecified> {
        let mut bytes = vec![0u8; n];
        self.rng.fill(&mut bytes)?;
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// `n` random bytes as hex: user ids and file names.
    pub fn random_hex(&self, n: usize) -> Result<String, ring::error::Unspecified> {
        let mut bytes = vec![0u8; n];
        self.rng.fill(&mut bytes)?;
        Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }
}

/// SHA-256 as hex: how refresh tokens and the admin token are compared, never stored in the clear.
pub fn sha256_hex(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_env(name: &str, text: &str) -> Result<Vec<u8>, StartError> {
    STANDARD.decode(text.trim()).map_err(|_| StartError::new(format!("{name} is not base64")))
}

/// The file's bytes, creating it first with `make` if it does not exist. Several processes
/// starting at once agree on one key: each writes its own temporary file and hard-links it into
/// place, and a process that loses the race reads the winner's.
fn load_or_create(path: &Path, make: impl FnOnce() -> Result<Vec<u8>, StartError>) -> Result<Vec<u8>, StartError> {
    match fs::read(path) {
        Ok(bytes) => return Ok(bytes),
        Err(error) if error.kind() == ErrorKind::NotFound => {}
        Err(error) => return Err(StartError::new(format!("cannot read {}: {error}", path.display()))),
    }
    let bytes = make()?;
    let temp = path.with_extension(format!("tmp-{}", std::process::id()));
    let written = (|| {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        match fs::hard_link(&temp, path) {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(error) => Err(error),
        }
    })();
    let _ = fs::remove_file(&temp);
    match written {
        Ok(true) => Ok(bytes),
        Ok(false) => {
            fs::read(path).map_err(|error| StartError::new(format!("cannot read {}: {error}", path.display())))
        }
        Err(error) => {
            Err(StartError::new(format!("cannot write {} (is the data directory writable?): {error}", path.display())))
        }
    }
}
