//! A signer node's configuration file (`node.toml`).
//!
//! ```toml
//! name = "treasury"              # this node: a name of the parties file
//! parties = "parties.toml"       # every node: name, node-to-node address, certificate
//! certificate = "treasury.crt"   # this node's certificate (pinned in the parties file)
//! private_key = "treasury.key"   # and its private key (PEM)
//! policy = "policy.toml"         # the spending policy this node enforces
//! data_dir = "data"              # key shares, session logs, audit log
//! passphrase_file = "passphrase" # omitted: QUORATE_PASSPHRASE, or asked on the terminal
//! kdf_memory_mib = 64            # argon2id memory for share files (default 64)
//!
//! [api]
//! listen = "127.0.0.1:7100"
//! # API clients: the SHA-256 of each bearer token, never the token itself.
//! tokens = [{ name = "custody-app", sha256 = "9f86d0..." }]
//!
//! [ceremony]
//! timeout_secs = 30              # a silent peer fails a ceremony after this
//! attempts = 3                   # tries per request, each with a fresh session id
//! ```
//!
//! Relative paths are relative to the configuration file's directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::NodeError;
use crate::custody::policy::Policy;
use crate::keystore::{KdfParams, Passphrase};
use quorate_engine::net::tls::{Identity, Parties, check_identity};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileForm {
    name: String,
    parties: PathBuf,
    certificate: PathBuf,
    private_key: PathBuf,
    policy: PathBuf,
    data_dir: PathBuf,
    passphrase_file: Option<PathBuf>,
    #[serde(default = "default_kdf")]
    kdf_memory_mib: u32,
    api: ApiForm,
    #[serde(default)]
    ceremony: CeremonyForm,
}

fn default_kdf() -> u32 {
    64
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiForm {
    listen: String,
    #[serde(default)]
    tokens: Vec<TokenForm>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenForm {
    name: String,
    sha256: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CeremonyForm {
    #[serde(default = "default_timeout")]
    timeout_secs: u64,
    #[serde(default = "default_attempts")]
    attempts: u32,
}

impl Default for CeremonyForm {
    fn default() -> Self {
        CeremonyForm {
            timeout_secs: default_timeout(),
            attempts: default_attempts(),
        }
    }
}

fn default_timeout() -> u64 {
    30
}

fn default_attempts() -> u32 {
    3
}

/// An API client: its name and the SHA-256 of its bearer token.
#[derive(Clone)]
pub struct Token {
    /// The client's name, as audit entries show it.
    pub name: String,
    /// SHA-256 of the token.
    pub sha256: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The SHA-256 of an API token, as a configuration file stores it.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A loaded, checked configuration.
pub struct Config {
    /// This node's name.
    pub name: String,
    /// Its index in the parties file (its share identifier is this plus one).
    pub index: usize,
    /// Every node.
    pub parties: Parties,
    /// This node's TLS identity.
    pub identity: Identity,
    /// The spending policy.
    pub policy: Policy,
    /// Key shares, session logs and the audit log live here.
    pub data_dir: PathBuf,
    /// Unlocks the share files and the audit key.
    pub passphrase: Passphrase,
    /// argon2id parameters for new share files.
    pub kdf: KdfParams,
    /// The API's listen address.
    pub api_listen: String,
    /// API clients.
    pub tokens: Vec<Token>,
    /// How long a ceremony waits for a silent peer.
    pub timeout: Duration,
    /// Tries per request.
    pub attempts: u32,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("name", &self.name)
            .field("data_dir", &self.data_dir)
            .field("api_listen", &self.api_listen)
            .finish_non_exhaustive()
    }
}

fn bad(path: &Path, msg: impl std::fmt::Display) -> NodeError {
    NodeError::Config(format!("{}: {msg}", path.display()))
}

impl Config {
    /// Reads and checks `path` and every file it names: the parties file
    /// must pin this node's certificate, the private key must belong to
    /// it, the policy must parse.
    pub fn load(path: &Path) -> Result<Config, NodeError> {
        let text = std::fs::read_to_string(path).map_err(|e| bad(path, e))?;
        let form: FileForm = toml::from_str(&text).map_err(|e| bad(path, e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let at = |p: &Path| base.join(p);
        let parties_path = at(&form.parties);
        let parties = Parties::load(&parties_path).map_err(|e| bad(&parties_path, e))?;
        let index = parties.id_of(&form.name).ok_or_else(|| {
            bad(
                &parties_path,
                format!("no node named `{}` (this node's name)", form.name),
            )
        })?;
        let index = usize::from(index.0);
        if parties.list().len() < 2 {
            return Err(bad(
                &parties_path,
                "a signer group needs at least two nodes",
            ));
        }
        let identity = Identity::from_files(&at(&form.certificate), &at(&form.private_key))
            .map_err(|e| bad(path, e))?;
        check_identity(&identity).map_err(|e| bad(path, e))?;
        if identity.certificate().as_ref() != parties.list()[index].cert.as_ref() {
            return Err(bad(
                path,
                format!(
                    "the certificate {} is not the one {} pins for `{}`",
                    form.certificate.display(),
                    parties_path.display(),
                    form.name
                ),
            ));
        }
        let policy_path = at(&form.policy);
        let policy_text =
            std::fs::read_to_string(&policy_path).map_err(|e| bad(&policy_path, e))?;
        let policy = Policy::from_toml(&policy_text).map_err(|e| bad(&policy_path, e))?;
        let passphrase = match &form.passphrase_file {
            Some(p) => {
                let p = at(p);
                let text =
                    zeroize::Zeroizing::new(std::fs::read_to_string(&p).map_err(|e| bad(&p, e))?);
                Passphrase::new(text.trim_end_matches(['\n', '\r']).to_owned())
                    .map_err(|e| bad(&p, e))?
            }
            None => Passphrase::from_env_or_prompt(false).map_err(|e| bad(path, e))?,
        };
        let kdf = KdfParams::new(form.kdf_memory_mib.saturating_mul(1024), 3, 1)
            .map_err(|e| bad(path, e))?;
        let mut tokens = Vec::new();
        for t in form.api.tokens {
            let h = crate::custody::unhex(&t.sha256)
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| {
                    bad(
                        path,
                        format!("token `{}`: sha256 must be 64 hex digits", t.name),
                    )
                })?;
            tokens.push(Token {
                name: t.name,
                sha256: h,
            });
        }
        if tokens.is_empty() {
            return Err(bad(
                path,
                "[api] tokens is empty: no client could use this node (`quorate signer token` \
                 makes one)",
            ));
        }
        if form.ceremony.timeout_secs == 0 || form.ceremony.attempts == 0 {
            return Err(bad(
                path,
                "[ceremony] timeout_secs and attempts must be at least 1",
            ));
        }
        Ok(Config {
            name: form.name,
            index,
            parties,
            identity,
            policy,
            data_dir: at(&form.data_dir),
            passphrase,
            kdf,
            api_listen: form.api.listen,
            tokens,
            timeout: Duration::from_secs(form.ceremony.timeout_secs),
            attempts: form.ceremony.attempts,
        })
    }
}
