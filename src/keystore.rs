//! Key-share files encrypted at rest: argon2id (RFC 9106) turns a passphrase
//! into a key and ChaCha20-Poly1305 (RFC 8439) seals the secret share.
//!
//! `quorate sign keygen` writes one such file per party; the signing commands
//! (and later the signer nodes) read them back. Each file carries a *public
//! header* chosen by the caller (for instance JSON with the party id, the
//! epoch and the group key) that [`read_header`] returns without the
//! passphrase, so tools can list shares, while [`open`] needs the passphrase
//! to recover the secret.
//!
//! # File format, version 1
//!
//! All integers are unsigned little-endian. `L` is the public header's length
//! and `n` the secret's length.
//!
//! | offset      | bytes | field                                                     |
//! |-------------|-------|-----------------------------------------------------------|
//! | 0           | 4     | magic `QSHR` (`51 53 48 52`)                              |
//! | 4           | 1     | format version, `01`                                      |
//! | 5           | 1     | KDF id, `01` = argon2id, Argon2 version `0x13`            |
//! | 6           | 4     | argon2id `m_cost`, memory in KiB (u32)                    |
//! | 10          | 4     | argon2id `t_cost`, passes (u32)                           |
//! | 14          | 4     | argon2id `p_cost`, lanes (u32)                            |
//! | 18          | 16    | salt, random per file                                     |
//! | 34          | 12    | ChaCha20-Poly1305 nonce, random per file                  |
//! | 46          | 4     | `L`, public header length (u32, at most 64 KiB)           |
//! | 50          | `L`   | public header, opaque bytes chosen by the caller          |
//! | 50 + L      | `n`   | ChaCha20-Poly1305 ciphertext of the secret                |
//! | 50 + L + n  | 16    | Poly1305 tag                                              |
//!
//! The ciphertext runs to the end of the file less the 16-byte tag, so a file
//! has no trailing bytes of its own. A whole file is at most 16 MiB.
//!
//! The AEAD key is the 32-byte argon2id output over the passphrase's UTF-8
//! bytes and the salt (no Argon2 secret or associated data). The *whole*
//! header, bytes `0 .. 50 + L`, is the AEAD's associated data: changing any
//! header byte (the KDF parameters, the salt, the nonce, a byte of the public
//! header) makes [`open`] fail as surely as changing the ciphertext does.
//! The public header is readable without the passphrase, but it is only
//! *authenticated* by a successful [`open`].
//!
//! Every file draws a fresh salt, hence a fresh key, so the nonce could be
//! fixed; it is random anyway, which costs nothing and keeps a salt that is
//! reused by mistake from also reusing a (key, nonce) pair.
//!
//! # Parameters
//!
//! [`KdfParams::default`] is argon2id with m = 64 MiB, t = 3, p = 1. RFC 9106
//! §4 recommends t = 1, p = 4, m = 2 GiB first and, "if much less memory is
//! available", t = 3, p = 4, m = 64 MiB second; we take the second (a signer
//! node should not need 2 GiB to unlock a share) with one lane instead of
//! four, because the `argon2` crate is built here without its `parallel`
//! feature and fills lanes one after another: the memory and the number of
//! passes, which set an attacker's cost per guess, are those of the RFC.
//! Salt (128 bits) and output (256 bits) are the RFC's sizes too.
//!
//! A file names its own parameters, so a hostile file could ask for any
//! amount of memory and time. [`open`] and [`read_header`] refuse parameters
//! outside [`KdfParams::new`]'s range (m at most 1 GiB, t at most 100, p at
//! most 16, and Argon2's own minimums) before anything is allocated.

use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use chacha20poly1305::{AeadInOut, ChaCha20Poly1305, KeyInit, Nonce, Tag};
use zeroize::Zeroizing;

/// The four bytes every key-share file starts with.
pub const MAGIC: [u8; 4] = *b"QSHR";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// KDF id of argon2id, Argon2 version `0x13` (RFC 9106).
pub const KDF_ARGON2ID: u8 = 1;
/// Length of the random argon2id salt.
pub const SALT_LEN: usize = 16;
/// Length of the ChaCha20-Poly1305 nonce.
pub const NONCE_LEN: usize = 12;
/// Length of the Poly1305 tag that ends a file.
pub const TAG_LEN: usize = 16;
/// The longest public header a file may carry.
pub const MAX_PUBLIC_HEADER_LEN: usize = 64 * 1024;
/// The longest file [`seal`] writes and [`open`] reads.
pub const MAX_FILE_LEN: usize = 16 * 1024 * 1024;
/// Environment variable read by [`Passphrase::from_env_or_prompt`].
pub const PASSPHRASE_ENV: &str = "QUORATE_PASSPHRASE";

/// Bytes before the public header: magic, version, KDF id, three u32
/// parameters, salt, nonce and the header length.
const FIXED_HEADER_LEN: usize = 4 + 1 + 1 + 3 * 4 + SALT_LEN + NONCE_LEN + 4;
/// Length of the derived ChaCha20-Poly1305 key.
const KEY_LEN: usize = 32;

/// Errors from reading, writing, sealing or opening key-share files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeystoreError {
    /// The bytes do not start with [`MAGIC`].
    #[error("not a Quorate key-share file (it does not start with \"QSHR\")")]
    NotAShareFile,
    /// The file's format version is one this build does not read.
    #[error(
        "unsupported key-share file format version {found} (this build reads version {FORMAT_VERSION})"
    )]
    UnsupportedVersion {
        /// The version byte in the file.
        found: u8,
    },
    /// The file names a key derivation function this build does not know.
    #[error(
        "unsupported key derivation function id {found} in key-share file (this build knows {KDF_ARGON2ID}, argon2id)"
    )]
    UnsupportedKdf {
        /// The KDF id byte in the file.
        found: u8,
    },
    /// The file ends before the named field does.
    #[error("key-share file is truncated: it ends inside the {field}")]
    Truncated {
        /// The field the file ends in.
        field: &'static str,
    },
    /// A length is over its limit: a field in a file, or an input to [`seal`].
    #[error("{what} is {len} bytes, over the limit of {max} bytes")]
    TooLarge {
        /// What is too large.
        what: &'static str,
        /// Its length in bytes (for a length field, the value it holds).
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// Authenticated decryption failed. A wrong passphrase and a damaged or
    /// edited file look the same, on purpose.
    #[error("wrong passphrase, or the key-share file is corrupted or was modified")]
    Decrypt,
    /// The argon2id parameters (from a file or a caller) are out of range.
    #[error(
        "argon2id parameters out of range: m_cost = {m_cost_kib} KiB, t_cost = {t_cost}, p_cost = {p_cost} \
         (allowed: 1 <= p_cost <= {max_p}, 8 * p_cost <= m_cost <= {max_m} KiB, 1 <= t_cost <= {max_t})",
        max_p = KdfParams::MAX_P_COST,
        max_m = KdfParams::MAX_M_COST_KIB,
        max_t = KdfParams::MAX_T_COST
    )]
    KdfParamsOutOfRange {
        /// Memory cost in KiB.
        m_cost_kib: u32,
        /// Number of passes.
        t_cost: u32,
        /// Number of lanes.
        p_cost: u32,
    },
    /// An empty passphrase was given.
    #[error("empty passphrase refused")]
    EmptyPassphrase,
    /// The passphrase and its confirmation differ.
    #[error("the two passphrases typed do not match")]
    PassphraseMismatch,
    /// Neither [`PASSPHRASE_ENV`] nor a terminal to prompt on is available.
    #[error(
        "no passphrase: set the QUORATE_PASSPHRASE environment variable, or run from a terminal to be prompted"
    )]
    NoPassphraseSource,
    /// [`PASSPHRASE_ENV`] is set but is not valid UTF-8.
    #[error("QUORATE_PASSPHRASE is not valid UTF-8")]
    PassphraseNotUtf8,
    /// Reading the passphrase from the terminal failed.
    #[error("could not read the passphrase from the terminal: {0}")]
    Prompt(#[source] io::Error),
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Random(getrandom::Error),
    /// argon2id failed (in practice: the memory could not be allocated).
    #[error("argon2id key derivation failed: {0}")]
    Kdf(argon2::Error),
    /// Reading or writing a file failed.
    #[error("key-share file I/O: {0}")]
    Io(#[from] io::Error),
}

/// argon2id cost parameters, stored in each file.
///
/// [`KdfParams::new`] enforces the range [`open`] accepts, so [`seal`] never
/// writes a file that cannot be opened. The range's lower end is Argon2's
/// own minimum, which lets tests use tiny costs; real key shares use
/// [`KdfParams::default`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
}

impl KdfParams {
    /// Largest memory cost accepted: 1 GiB.
    pub const MAX_M_COST_KIB: u32 = 1024 * 1024;
    /// Largest number of passes accepted.
    pub const MAX_T_COST: u32 = 100;
    /// Largest number of lanes accepted.
    pub const MAX_P_COST: u32 = 16;
    /// RFC 9106 §4's second recommended option, with one lane (module docs).
    pub const RECOMMENDED: Self = Self {
        m_cost_kib: 64 * 1024,
        t_cost: 3,
        p_cost: 1,
    };

    /// Parameters with `m_cost_kib` KiB of memory, `t_cost` passes and
    /// `p_cost` lanes.
    ///
    /// # Errors
    /// [`KeystoreError::KdfParamsOutOfRange`] unless `1 <= p_cost <= 16`,
    /// `8 * p_cost <= m_cost_kib <= 1 GiB` and `1 <= t_cost <= 100`.
    pub fn new(m_cost_kib: u32, t_cost: u32, p_cost: u32) -> Result<Self, KeystoreError> {
        let in_range = (1..=Self::MAX_P_COST).contains(&p_cost)
            && (8 * p_cost..=Self::MAX_M_COST_KIB).contains(&m_cost_kib)
            && (1..=Self::MAX_T_COST).contains(&t_cost);
        if in_range {
            Ok(Self {
                m_cost_kib,
                t_cost,
                p_cost,
            })
        } else {
            Err(KeystoreError::KdfParamsOutOfRange {
                m_cost_kib,
                t_cost,
                p_cost,
            })
        }
    }

    /// Memory cost in KiB.
    pub fn m_cost_kib(&self) -> u32 {
        self.m_cost_kib
    }

    /// Number of passes over the memory.
    pub fn t_cost(&self) -> u32 {
        self.t_cost
    }

    /// Number of lanes.
    pub fn p_cost(&self) -> u32 {
        self.p_cost
    }
}

impl Default for KdfParams {
    /// [`KdfParams::RECOMMENDED`]: m = 64 MiB, t = 3, p = 1.
    fn default() -> Self {
        Self::RECOMMENDED
    }
}

/// A non-empty passphrase, wiped from memory on drop; `Debug` prints
/// `<redacted>`.
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Wraps `passphrase` (taking ownership, so no copy is left behind).
    ///
    /// Its UTF-8 bytes are used as they are: no trimming and no Unicode
    /// normalization.
    ///
    /// # Errors
    /// [`KeystoreError::EmptyPassphrase`] if `passphrase` is empty.
    pub fn new(passphrase: String) -> Result<Self, KeystoreError> {
        let passphrase = Zeroizing::new(passphrase);
        if passphrase.is_empty() {
            return Err(KeystoreError::EmptyPassphrase);
        }
        Ok(Self(passphrase))
    }

    /// The passphrase from the `QUORATE_PASSPHRASE` environment variable if it
    /// is set and non-empty; otherwise read from the terminal without echo,
    /// twice when `confirm` is set (use it when creating files).
    ///
    /// # Errors
    /// [`KeystoreError::NoPassphraseSource`] with neither the variable nor a
    /// terminal, [`KeystoreError::EmptyPassphrase`],
    /// [`KeystoreError::PassphraseMismatch`],
    /// [`KeystoreError::PassphraseNotUtf8`] or [`KeystoreError::Prompt`].
    pub fn from_env_or_prompt(confirm: bool) -> Result<Self, KeystoreError> {
        passphrase_from(
            std::env::var_os(PASSPHRASE_ENV),
            confirm,
            terminal_available,
            &mut |prompt: &str| rpassword::prompt_password(prompt),
        )
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// [`Passphrase::from_env_or_prompt`] with its environment and terminal
/// passed in, so tests need neither.
fn passphrase_from(
    env_value: Option<OsString>,
    confirm: bool,
    has_terminal: fn() -> bool,
    prompt: &mut dyn FnMut(&str) -> io::Result<String>,
) -> Result<Passphrase, KeystoreError> {
    if let Some(value) = env_value.filter(|value| !value.is_empty()) {
        let value = value
            .into_string()
            .map_err(|_| KeystoreError::PassphraseNotUtf8)?;
        return Passphrase::new(value);
    }
    if !has_terminal() {
        return Err(KeystoreError::NoPassphraseSource);
    }
    let first = Passphrase::new(prompt("Key-share passphrase: ").map_err(KeystoreError::Prompt)?)?;
    if confirm {
        let second =
            Zeroizing::new(prompt("Repeat the passphrase: ").map_err(KeystoreError::Prompt)?);
        if first.as_bytes() != second.as_bytes() {
            return Err(KeystoreError::PassphraseMismatch);
        }
    }
    Ok(first)
}

/// Whether there is a terminal to prompt on: rpassword reads `/dev/tty` on
/// Unix, which exists without a controlling terminal but cannot be opened.
fn terminal_available() -> bool {
    #[cfg(unix)]
    {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .is_ok()
    }
    #[cfg(not(unix))]
    {
        use std::io::IsTerminal;
        io::stdin().is_terminal()
    }
}

/// A file's contents after a successful [`open`].
pub struct Opened {
    public_header: Vec<u8>,
    secret: Zeroizing<Vec<u8>>,
}

impl Opened {
    /// The public header, now authenticated.
    pub fn public_header(&self) -> &[u8] {
        &self.public_header
    }

    /// The decrypted secret.
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// The public header and the secret, which is wiped when dropped.
    pub fn into_parts(self) -> (Vec<u8>, Zeroizing<Vec<u8>>) {
        (self.public_header, self.secret)
    }
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("public_header_len", &self.public_header.len())
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Encrypts `secret` under `passphrase` into the bytes of a key-share file
/// carrying `public_header` in the clear (format in the module docs).
///
/// # Errors
/// [`KeystoreError::TooLarge`] if the header is over 64 KiB or the file
/// would be over 16 MiB; [`KeystoreError::Random`] or
/// [`KeystoreError::Kdf`] if the system fails us.
pub fn seal(
    passphrase: &Passphrase,
    public_header: &[u8],
    secret: &[u8],
    params: &KdfParams,
) -> Result<Vec<u8>, KeystoreError> {
    if public_header.len() > MAX_PUBLIC_HEADER_LEN {
        return Err(KeystoreError::TooLarge {
            what: "public header",
            len: public_header.len(),
            max: MAX_PUBLIC_HEADER_LEN,
        });
    }
    let file_len = (FIXED_HEADER_LEN + public_header.len() + TAG_LEN)
        .checked_add(secret.len())
        .filter(|len| *len <= MAX_FILE_LEN)
        .ok_or(KeystoreError::TooLarge {
            what: "key-share file",
            len: secret
                .len()
                .saturating_add(FIXED_HEADER_LEN + public_header.len() + TAG_LEN),
            max: MAX_FILE_LEN,
        })?;
    // Both checked above: at most 64 KiB.
    let header_len = u32::try_from(public_header.len()).map_err(|_| KeystoreError::TooLarge {
        what: "public header",
        len: public_header.len(),
        max: MAX_PUBLIC_HEADER_LEN,
    })?;
    // Fields are private, but a caller-built value is checked like a file's.
    let params = KdfParams::new(params.m_cost_kib, params.t_cost, params.p_cost)?;

    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(KeystoreError::Random)?;
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(KeystoreError::Random)?;
    let key = derive_key(passphrase, &salt, &params)?;

    // Exact capacity, so the plaintext copied in is never left behind by a
    // reallocation; the buffer is wiped if encryption fails.
    let mut out = Zeroizing::new(Vec::with_capacity(file_len));
    out.extend_from_slice(&MAGIC);
    out.push(FORMAT_VERSION);
    out.push(KDF_ARGON2ID);
    out.extend_from_slice(&params.m_cost_kib.to_le_bytes());
    out.extend_from_slice(&params.t_cost.to_le_bytes());
    out.extend_from_slice(&params.p_cost.to_le_bytes());
    out.extend_from_slice(&salt);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(public_header);
    let aad_len = out.len();
    out.extend_from_slice(secret);

    let cipher = ChaCha20Poly1305::new(<&chacha20poly1305::Key>::from(&*key));
    let (aad, body) = out.split_at_mut(aad_len);
    let tag = cipher
        .encrypt_inout_detached(&Nonce::from(nonce), aad, body.into())
        .map_err(|_| KeystoreError::TooLarge {
            what: "secret",
            len: secret.len(),
            max: MAX_FILE_LEN,
        })?;
    out.extend_from_slice(&tag);
    Ok(std::mem::take(&mut *out))
}

/// Decrypts a key-share file's bytes with `passphrase`.
///
/// The file's KDF parameters are range-checked before any memory is
/// allocated for them.
///
/// # Errors
/// [`KeystoreError::Decrypt`] for a wrong passphrase or a modified file;
/// a format error ([`KeystoreError::NotAShareFile`],
/// [`KeystoreError::UnsupportedVersion`], [`KeystoreError::Truncated`], ...)
/// for bytes that are not a well-formed file.
pub fn open(passphrase: &Passphrase, file_bytes: &[u8]) -> Result<Opened, KeystoreError> {
    let parsed = parse(file_bytes)?;
    let key = derive_key(passphrase, parsed.salt, &parsed.params)?;
    let cipher = ChaCha20Poly1305::new(<&chacha20poly1305::Key>::from(&*key));
    let mut secret = Zeroizing::new(parsed.ciphertext.to_vec());
    cipher
        .decrypt_inout_detached(
            &Nonce::from(*parsed.nonce),
            parsed.aad,
            secret.as_mut_slice().into(),
            &Tag::from(*parsed.tag),
        )
        .map_err(|_| KeystoreError::Decrypt)?;
    Ok(Opened {
        public_header: parsed.public_header.to_vec(),
        secret,
    })
}

/// The public header of a key-share file, without the passphrase.
///
/// The rest of the file is checked for form (magic, version, parameter
/// ranges, lengths) but not authenticated: only [`open`] proves the header
/// unmodified.
///
/// # Errors
/// As [`open`], except that it never returns [`KeystoreError::Decrypt`].
pub fn read_header(file_bytes: &[u8]) -> Result<Vec<u8>, KeystoreError> {
    Ok(parse(file_bytes)?.public_header.to_vec())
}

/// The key-derivation parameters a sealed file was made with (to seal its
/// replacement alike), without the passphrase.
///
/// # Errors
/// As [`read_header`].
pub fn read_params(file_bytes: &[u8]) -> Result<KdfParams, KeystoreError> {
    Ok(parse(file_bytes)?.params)
}

/// Reads a key-share file, refusing one over [`MAX_FILE_LEN`] without
/// reading past that.
///
/// # Errors
/// [`KeystoreError::Io`] or [`KeystoreError::TooLarge`].
pub fn read_file(path: &Path) -> Result<Vec<u8>, KeystoreError> {
    let mut bytes = Vec::new();
    File::open(path)?
        .take(MAX_FILE_LEN as u64 + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > MAX_FILE_LEN {
        return Err(KeystoreError::TooLarge {
            what: "key-share file",
            len: bytes.len(),
            max: MAX_FILE_LEN,
        });
    }
    Ok(bytes)
}

/// Whether [`write_atomic`] may replace an existing file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Fail with [`io::ErrorKind::AlreadyExists`] if the path exists.
    CreateNew,
    /// Atomically replace whatever file is at the path.
    Overwrite,
}

/// Writes `bytes` to `path` so that `path` holds either its old state or all
/// of `bytes`, never a part.
///
/// The bytes go to a temporary file in the same directory (mode `0600` on
/// Unix), which is flushed to disk, renamed onto `path` (with
/// [`WriteMode::CreateNew`], by a rename that fails if `path` exists, so a
/// file created meanwhile is not clobbered either), and the directory is then
/// synced so the rename survives a crash. On any error the temporary file is
/// removed.
///
/// # Errors
/// [`io::ErrorKind::AlreadyExists`] if `path` exists and `mode` is
/// [`WriteMode::CreateNew`]; otherwise any I/O error.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: WriteMode) -> io::Result<()> {
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} does not name a file", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let already_exists = || {
        io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} already exists; refusing to overwrite it",
                path.display()
            ),
        )
    };
    // Early, friendly refusal; the no-clobber rename below is what enforces it.
    if mode == WriteMode::CreateNew && path.symlink_metadata().is_ok() {
        return Err(already_exists());
    }

    let mut prefix = OsString::from(".");
    prefix.push(file_name);
    prefix.push(".");
    let mut temp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    // A failed persist hands the temporary file back inside the error;
    // dropping it deletes it.
    match mode {
        WriteMode::CreateNew => temp.persist_noclobber(path).map_err(|error| {
            if error.error.kind() == io::ErrorKind::AlreadyExists {
                already_exists()
            } else {
                error.error
            }
        })?,
        WriteMode::Overwrite => temp.persist(path).map_err(io::Error::from)?,
    };
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// A well-formed file split into its fields.
struct Parsed<'a> {
    params: KdfParams,
    salt: &'a [u8; SALT_LEN],
    nonce: &'a [u8; NONCE_LEN],
    public_header: &'a [u8],
    /// Everything before the ciphertext.
    aad: &'a [u8],
    ciphertext: &'a [u8],
    tag: &'a [u8; TAG_LEN],
}

/// A cursor over a file's bytes whose reads never go past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], KeystoreError> {
        let slice = self
            .pos
            .checked_add(len)
            .and_then(|end| self.bytes.get(self.pos..end))
            .ok_or(KeystoreError::Truncated { field })?;
        self.pos += len;
        Ok(slice)
    }

    fn take_array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<&'a [u8; N], KeystoreError> {
        self.take(N, field)?
            .try_into()
            .map_err(|_| KeystoreError::Truncated { field })
    }

    fn take_u8(&mut self, field: &'static str) -> Result<u8, KeystoreError> {
        Ok(self.take_array::<1>(field)?[0])
    }

    fn take_u32(&mut self, field: &'static str) -> Result<u32, KeystoreError> {
        Ok(u32::from_le_bytes(*self.take_array::<4>(field)?))
    }
}

/// Splits a file into its fields, checking every length and range before
/// anything is allocated or derived.
fn parse(bytes: &[u8]) -> Result<Parsed<'_>, KeystoreError> {
    if bytes.len() > MAX_FILE_LEN {
        return Err(KeystoreError::TooLarge {
            what: "key-share file",
            len: bytes.len(),
            max: MAX_FILE_LEN,
        });
    }
    if !bytes.starts_with(&MAGIC) {
        return Err(if MAGIC.starts_with(bytes) {
            KeystoreError::Truncated { field: "magic" }
        } else {
            KeystoreError::NotAShareFile
        });
    }
    let mut reader = Reader { bytes, pos: 0 };
    reader.take(MAGIC.len(), "magic")?;
    let version = reader.take_u8("format version")?;
    if version != FORMAT_VERSION {
        return Err(KeystoreError::UnsupportedVersion { found: version });
    }
    let kdf = reader.take_u8("KDF id")?;
    if kdf != KDF_ARGON2ID {
        return Err(KeystoreError::UnsupportedKdf { found: kdf });
    }
    let m_cost_kib = reader.take_u32("argon2id m_cost")?;
    let t_cost = reader.take_u32("argon2id t_cost")?;
    let p_cost = reader.take_u32("argon2id p_cost")?;
    let params = KdfParams::new(m_cost_kib, t_cost, p_cost)?;
    let salt = reader.take_array::<SALT_LEN>("salt")?;
    let nonce = reader.take_array::<NONCE_LEN>("nonce")?;
    let header_len = reader.take_u32("public header length")?;
    // u32 to usize is lossless on every target this crate builds for.
    let header_len = header_len as usize;
    if header_len > MAX_PUBLIC_HEADER_LEN {
        return Err(KeystoreError::TooLarge {
            what: "public header",
            len: header_len,
            max: MAX_PUBLIC_HEADER_LEN,
        });
    }
    let public_header = reader.take(header_len, "public header")?;
    let (aad, rest) = bytes.split_at(reader.pos);
    let ciphertext_len = rest
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(KeystoreError::Truncated {
            field: "authentication tag",
        })?;
    let (ciphertext, tag) = rest.split_at(ciphertext_len);
    let tag = tag.try_into().map_err(|_| KeystoreError::Truncated {
        field: "authentication tag",
    })?;
    Ok(Parsed {
        params,
        salt,
        nonce,
        public_header,
        aad,
        ciphertext,
        tag,
    })
}

/// argon2id(passphrase, salt) with `params`, into a key wiped on drop. The
/// Argon2 memory is ours, so that it is wiped too.
fn derive_key(
    passphrase: &Passphrase,
    salt: &[u8; SALT_LEN],
    params: &KdfParams,
) -> Result<Zeroizing<[u8; KEY_LEN]>, KeystoreError> {
    let argon_params = argon2::Params::new(
        params.m_cost_kib,
        params.t_cost,
        params.p_cost,
        Some(KEY_LEN),
    )
    .map_err(KeystoreError::Kdf)?;
    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon_params,
    );
    // At most 1 GiB, by `KdfParams`'s range; a failed allocation is an
    // error rather than an abort.
    let block_count = argon.params().block_count();
    let mut memory: Zeroizing<Vec<argon2::Block>> = Zeroizing::new(Vec::new());
    memory
        .try_reserve_exact(block_count)
        .map_err(|_| KeystoreError::Kdf(argon2::Error::OutOfMemory))?;
    memory.resize(block_count, argon2::Block::new());
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    argon
        .hash_password_into_with_memory(passphrase.as_bytes(), salt, &mut key[..], &mut memory[..])
        .map_err(KeystoreError::Kdf)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Argon2's smallest costs, so that tests which open many files are fast.
    fn tiny() -> KdfParams {
        KdfParams::new(8, 1, 1).unwrap()
    }

    fn pass(s: &str) -> Passphrase {
        Passphrase::new(s.to_owned()).unwrap()
    }

    const HEADER: &[u8] = br#"{"party":2,"epoch":7,"group_key":"02ab"}"#;
    const SECRET: &[u8] = b"thirty-two bytes of key share!!!";

    fn sample() -> Vec<u8> {
        seal(&pass("correct horse"), HEADER, SECRET, &tiny()).unwrap()
    }

    /// A file whose KDF parameter fields are replaced, other bytes valid.
    fn with_params(file: &[u8], m: u32, t: u32, p: u32) -> Vec<u8> {
        let mut file = file.to_vec();
        file[6..10].copy_from_slice(&m.to_le_bytes());
        file[10..14].copy_from_slice(&t.to_le_bytes());
        file[14..18].copy_from_slice(&p.to_le_bytes());
        file
    }

    #[test]
    fn round_trip() {
        let file = sample();
        let opened = open(&pass("correct horse"), &file).unwrap();
        assert_eq!(opened.public_header(), HEADER);
        assert_eq!(opened.secret(), SECRET);
        assert_eq!(read_header(&file).unwrap(), HEADER);
        let (header, secret) = opened.into_parts();
        assert_eq!((header.as_slice(), secret.as_slice()), (HEADER, SECRET));
    }

    #[test]
    fn round_trip_empty_header_and_secret() {
        let file = seal(&pass("p"), b"", b"", &tiny()).unwrap();
        assert_eq!(file.len(), FIXED_HEADER_LEN + TAG_LEN);
        let opened = open(&pass("p"), &file).unwrap();
        assert!(opened.public_header().is_empty() && opened.secret().is_empty());
    }

    #[test]
    fn round_trip_default_params() {
        let file = seal(&pass("pw"), HEADER, SECRET, &KdfParams::default()).unwrap();
        assert_eq!(&file[6..18], &[0, 0, 1, 0, 3, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(open(&pass("pw"), &file).unwrap().secret(), SECRET);
    }

    #[test]
    fn layout_matches_module_docs() {
        let params = KdfParams::new(16, 2, 2).unwrap();
        let file = seal(&pass("pw"), HEADER, SECRET, &params).unwrap();
        assert_eq!(&file[0..4], b"QSHR");
        assert_eq!(file[4], FORMAT_VERSION);
        assert_eq!(file[5], KDF_ARGON2ID);
        assert_eq!(&file[6..10], &16u32.to_le_bytes());
        assert_eq!(&file[10..14], &2u32.to_le_bytes());
        assert_eq!(&file[14..18], &2u32.to_le_bytes());
        let header_len = u32::try_from(HEADER.len()).unwrap();
        assert_eq!(&file[46..50], &header_len.to_le_bytes());
        assert_eq!(&file[50..50 + HEADER.len()], HEADER);
        assert_eq!(file.len(), 50 + HEADER.len() + SECRET.len() + TAG_LEN);
        assert_ne!(&file[50 + HEADER.len()..][..SECRET.len()], SECRET);
    }

    #[test]
    fn fresh_salt_and_nonce_per_file() {
        let (a, b) = (sample(), sample());
        assert_ne!(a[18..34], b[18..34], "salt");
        assert_ne!(a[34..46], b[34..46], "nonce");
        assert_ne!(a[50 + HEADER.len()..], b[50 + HEADER.len()..]);
    }

    #[test]
    fn wrong_passphrase_fails() {
        let file = sample();
        for wrong in ["correct horsf", "correct horse ", "Correct horse", "x"] {
            assert!(matches!(
                open(&pass(wrong), &file),
                Err(KeystoreError::Decrypt)
            ));
        }
    }

    #[test]
    fn every_byte_flip_fails() {
        let file = sample();
        let header_end = FIXED_HEADER_LEN + HEADER.len();
        for i in 0..file.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut bad = file.clone();
                bad[i] ^= mask;
                let result = open(&pass("correct horse"), &bad);
                assert!(result.is_err(), "flip {mask:#x} at byte {i} opened");
                if (FIXED_HEADER_LEN..header_end).contains(&i) {
                    // The public header is associated data: still readable
                    // without the passphrase, but `open` refuses the edit.
                    assert!(matches!(result, Err(KeystoreError::Decrypt)), "byte {i}");
                    assert_eq!(
                        read_header(&bad).unwrap()[i - FIXED_HEADER_LEN],
                        file[i] ^ mask
                    );
                }
                if i >= header_end {
                    assert!(matches!(result, Err(KeystoreError::Decrypt)), "byte {i}");
                }
            }
        }
    }

    #[test]
    fn bad_magic_version_and_kdf_are_named() {
        let file = sample();
        let mut bad = file.clone();
        bad[0] = b'X';
        assert!(matches!(
            read_header(&bad),
            Err(KeystoreError::NotAShareFile)
        ));
        assert!(matches!(
            read_header(b"PK\x03\x04"),
            Err(KeystoreError::NotAShareFile)
        ));
        let mut bad = file.clone();
        bad[4] = 2;
        assert!(matches!(
            open(&pass("correct horse"), &bad),
            Err(KeystoreError::UnsupportedVersion { found: 2 })
        ));
        let mut bad = file;
        bad[5] = 0;
        assert!(matches!(
            read_header(&bad),
            Err(KeystoreError::UnsupportedKdf { found: 0 })
        ));
    }

    #[test]
    fn every_truncation_fails_cleanly() {
        let file = sample();
        for len in 0..file.len() {
            let short = &file[..len];
            let result = open(&pass("correct horse"), short);
            assert!(
                matches!(
                    result,
                    Err(KeystoreError::Truncated { .. } | KeystoreError::Decrypt)
                ),
                "length {len}: {result:?}"
            );
            if len < FIXED_HEADER_LEN + HEADER.len() + TAG_LEN {
                assert!(
                    matches!(read_header(short), Err(KeystoreError::Truncated { .. })),
                    "length {len}"
                );
            }
        }
    }

    #[test]
    fn hostile_kdf_params_rejected_before_derivation() {
        let file = sample();
        let over = [
            (u32::MAX, 1, 1),
            (KdfParams::MAX_M_COST_KIB + 1, 1, 1),
            (8, u32::MAX, 1),
            (8, KdfParams::MAX_T_COST + 1, 1),
            (u32::MAX, u32::MAX, u32::MAX),
            (1024, 1, KdfParams::MAX_P_COST + 1),
            (8, 1, 0x00ff_ffff),
        ];
        let under = [(0, 1, 1), (7, 1, 1), (8, 0, 1), (8, 1, 0), (15, 1, 2)];
        for (m, t, p) in over.into_iter().chain(under) {
            let bad = with_params(&file, m, t, p);
            // The range error comes from parsing, before argon2 runs.
            for result in [
                open(&pass("correct horse"), &bad).map(|_| ()),
                read_header(&bad).map(|_| ()),
            ] {
                assert!(
                    matches!(
                        result,
                        Err(KeystoreError::KdfParamsOutOfRange { m_cost_kib, t_cost, p_cost })
                            if (m_cost_kib, t_cost, p_cost) == (m, t, p)
                    ),
                    "({m}, {t}, {p}): {result:?}"
                );
            }
            assert!(KdfParams::new(m, t, p).is_err());
        }
        // The edges of the range are accepted.
        for (m, t, p) in [
            (8, 1, 1),
            (
                KdfParams::MAX_M_COST_KIB,
                KdfParams::MAX_T_COST,
                KdfParams::MAX_P_COST,
            ),
            (128, 1, 16),
        ] {
            assert!(KdfParams::new(m, t, p).is_ok());
            assert!(read_header(&with_params(&file, m, t, p)).is_ok());
        }
    }

    #[test]
    fn oversized_fields_rejected() {
        let file = sample();
        let mut bad = file.clone();
        bad[46..50].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            read_header(&bad),
            Err(KeystoreError::TooLarge {
                what: "public header",
                ..
            })
        ));
        let len = u32::try_from(MAX_PUBLIC_HEADER_LEN + 1).unwrap();
        bad[46..50].copy_from_slice(&len.to_le_bytes());
        assert!(matches!(
            open(&pass("correct horse"), &bad),
            Err(KeystoreError::TooLarge { .. })
        ));

        let huge = vec![0u8; MAX_FILE_LEN + 1];
        let mut huge_file = file;
        huge_file.resize(MAX_FILE_LEN + 1, 0);
        assert!(matches!(
            read_header(&huge_file),
            Err(KeystoreError::TooLarge {
                what: "key-share file",
                ..
            })
        ));
        assert!(matches!(
            seal(&pass("p"), &huge[..MAX_PUBLIC_HEADER_LEN + 1], b"", &tiny()),
            Err(KeystoreError::TooLarge {
                what: "public header",
                ..
            })
        ));
        assert!(matches!(
            seal(&pass("p"), b"", &huge, &tiny()),
            Err(KeystoreError::TooLarge {
                what: "key-share file",
                ..
            })
        ));
        // The largest secret that fits still round-trips.
        let max_secret = &huge[..MAX_FILE_LEN - FIXED_HEADER_LEN - TAG_LEN];
        let sealed = seal(&pass("p"), b"", max_secret, &tiny()).unwrap();
        assert_eq!(sealed.len(), MAX_FILE_LEN);
        assert_eq!(open(&pass("p"), &sealed).unwrap().secret(), max_secret);
    }

    #[test]
    fn passphrase_rules() {
        assert!(matches!(
            Passphrase::new(String::new()),
            Err(KeystoreError::EmptyPassphrase)
        ));
        let p = pass("hunter2");
        assert_eq!(format!("{p:?}"), "Passphrase(<redacted>)");
        let opened = open(&p, &seal(&p, b"h", b"s3cret", &tiny()).unwrap()).unwrap();
        assert!(!format!("{opened:?}").contains("s3cret"));
    }

    #[test]
    fn passphrase_sources() {
        let no_prompt = &mut |_: &str| -> io::Result<String> { panic!("prompted") };
        let from_env = passphrase_from(Some("from env".into()), true, || false, no_prompt);
        assert_eq!(from_env.unwrap().as_bytes(), b"from env");

        // Unset or empty variable, no terminal: the error names the variable.
        for env in [None, Some(OsString::new())] {
            let err = passphrase_from(env, false, || false, no_prompt).unwrap_err();
            assert!(matches!(err, KeystoreError::NoPassphraseSource));
            assert!(err.to_string().contains("QUORATE_PASSPHRASE"));
        }

        let mut answers = vec!["typed".to_owned(), "typed".to_owned()];
        let mut prompt = |_: &str| Ok(answers.remove(0));
        let typed = passphrase_from(None, true, || true, &mut prompt).unwrap();
        assert_eq!(typed.as_bytes(), b"typed");

        let mut answers = vec!["one".to_owned(), "two".to_owned()];
        let mut prompt = |_: &str| Ok(answers.remove(0));
        assert!(matches!(
            passphrase_from(None, true, || true, &mut prompt),
            Err(KeystoreError::PassphraseMismatch)
        ));

        let mut answers = vec!["".to_owned()];
        let mut prompt = |_: &str| Ok(answers.remove(0));
        assert!(matches!(
            passphrase_from(None, true, || true, &mut prompt),
            Err(KeystoreError::EmptyPassphrase)
        ));

        let mut prompt = |_: &str| Err(io::Error::from(io::ErrorKind::Interrupted));
        assert!(matches!(
            passphrase_from(None, false, || true, &mut prompt),
            Err(KeystoreError::Prompt(_))
        ));
    }

    fn dir_entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn write_atomic_refuses_overwrite_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("party-1.share");
        write_atomic(&path, b"first", WriteMode::CreateNew).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"first");

        let err = write_atomic(&path, b"second", WriteMode::CreateNew).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(err.to_string().contains("party-1.share"));
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        assert_eq!(dir_entries(dir.path()), ["party-1.share"]);

        write_atomic(&path, b"second", WriteMode::Overwrite).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(dir_entries(dir.path()), ["party-1.share"]);

        // A failed write (missing directory) leaves nothing behind either.
        let missing = dir.path().join("no-such-dir").join("x.share");
        assert!(write_atomic(&missing, b"x", WriteMode::CreateNew).is_err());
        assert_eq!(dir_entries(dir.path()), ["party-1.share"]);
        assert!(write_atomic(dir.path(), b"x", WriteMode::Overwrite).is_err());
        assert_eq!(dir_entries(dir.path()), ["party-1.share"]);
    }

    #[cfg(unix)]
    #[test]
    fn written_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.share");
        write_atomic(&path, &sample(), WriteMode::CreateNew).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn file_round_trip_and_size_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.share");
        write_atomic(&path, &sample(), WriteMode::CreateNew).unwrap();
        let bytes = read_file(&path).unwrap();
        assert_eq!(
            open(&pass("correct horse"), &bytes).unwrap().secret(),
            SECRET
        );

        let big = dir.path().join("big");
        std::fs::write(&big, vec![0u8; MAX_FILE_LEN + 1]).unwrap();
        assert!(matches!(
            read_file(&big),
            Err(KeystoreError::TooLarge { .. })
        ));
    }

    /// Header fields as a valid file would have them (tiny costs), so random
    /// tails reach the length checks and the AEAD.
    fn plausible_prefix(salt_and_nonce: &[u8; 28], header_len: u32) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[FORMAT_VERSION, KDF_ARGON2ID]);
        for v in [8u32, 1, 1] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        bytes.extend_from_slice(salt_and_nonce);
        bytes.extend_from_slice(&header_len.to_le_bytes());
        bytes
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            prop_assert!(open(&pass("pw"), &bytes).is_err());
            prop_assert!(read_header(&bytes).is_err());
        }

        #[test]
        fn plausible_files_never_panic(
            salt_and_nonce in any::<[u8; 28]>(),
            header_len in prop_oneof![0u32..300, any::<u32>()],
            tail in proptest::collection::vec(any::<u8>(), 0..400),
        ) {
            let mut bytes = plausible_prefix(&salt_and_nonce, header_len);
            bytes.extend_from_slice(&tail);
            let _ = read_header(&bytes);
            let result = open(&pass("pw"), &bytes);
            let clean = matches!(
                result,
                Err(KeystoreError::Decrypt
                    | KeystoreError::Truncated { .. }
                    | KeystoreError::TooLarge { .. })
            );
            prop_assert!(clean, "{:?}", result);
        }

        #[test]
        fn mutated_files_never_open(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let file = sample();
            let mut bad = file.clone();
            // Edits skip the KDF parameters (bytes 6..18), which could ask for
            // a 1 GiB, 100-pass derivation; `every_byte_flip_fails` and
            // `hostile_kdf_params_rejected_before_derivation` cover them.
            for (index, mask) in edits {
                let i = index.index(file.len() - 12);
                bad[if i < 6 { i } else { i + 12 }] ^= mask;
            }
            if truncate {
                bad.truncate(cut.index(file.len()));
            }
            // Two edits of one byte may cancel out.
            prop_assume!(bad != file);
            let _ = read_header(&bad);
            prop_assert!(open(&pass("correct horse"), &bad).is_err());
        }
    }
}
