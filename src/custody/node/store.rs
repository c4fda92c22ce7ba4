//! A node's key shares at rest: `DATA/keys/<key id>/share-I.qshr`, sealed
//! with the passphrase ([`crate::keystore`]: argon2id, ChaCha20-Poly1305),
//! written atomically (temporary file, fsync, rename, directory fsync),
//! with its session log `share-I.sessions` and `public.json` beside it.
//! The files are the ones `quorate sign` reads and writes, so a node's
//! shares can also be used (or repaired) by hand.
//!
//! A refresh stages the next epoch's share as `.share-I.qshr.next` before
//! it acknowledges, and renames it into place once every node has
//! acknowledged ([`KeyEntry::commit`]). A node that stops between the two
//! finds the staged file when it starts again and keeps it beside the old
//! share; it promotes it when a peer shows the new epoch is in use
//! ([`KeyEntry::promote`]), so no crash point loses a share or leaves a
//! half-written one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use super::lock;

use quorate_engine::sign::consumed::FileLog;
use quorate_engine::sign::dkg::KeyShare;
use quorate_engine::sign::dkls::EcdsaKey;
use quorate_engine::sign::frost::{self, KeyAdjust};
use quorate_engine::sign::{address, bip32, bip340, point_to_bytes};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::custody::hex;
use crate::keystore::{self, KdfParams, Passphrase, WriteMode};

/// The public facts of a key share: group key, threshold, parties, epoch,
/// addresses, chain code, verification shares.
pub fn public_summary(share: &KeyShare, net: address::Network) -> Result<Value, String> {
    let group_key = share.group_key;
    Ok(json!({
        "public_key": hex(&point_to_bytes(&group_key)),
        "threshold": share.threshold,
        "parties": share.verification_shares.len(),
        "epoch": share.epoch,
        "ethereum_address": address::ethereum(&group_key),
        "p2wpkh_address": address::p2wpkh(&group_key, net),
        "taproot_address": address::p2tr(&group_key, net).map_err(|e| e.to_string())?,
        "chain_code": hex(&share.chain_code),
        "verification_shares": share.verification_shares.iter()
            .map(|(i, p)| json!({"party": i.get(), "point": hex(&point_to_bytes(p))}))
            .collect::<Vec<_>>(),
    }))
}

/// The key change of a BIP-340 signature under `child`: even y, plus the
/// BIP-341 tweak (no script tree) for taproot.
pub fn bip340_adjust(taproot: bool, child: &bip32::Derived) -> Result<KeyAdjust, String> {
    let root: Option<&[u8]> = taproot.then_some(&[]);
    Ok(frost::taproot_adjust(&child.public_key, root)
        .map_err(|e| e.to_string())?
        .after(&child.adjust))
}

/// The signature's 64 bytes and the x-only key, once the standard BIP-340
/// verifier accepts them; an error otherwise.
pub fn bip340_release(
    sig: &frost::Signature,
    adjust: &KeyAdjust,
    share: &KeyShare,
    digest: &[u8; 32],
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let key = frost::x_only(&adjust.point(&share.group_key));
    let bytes = sig.to_bip340_bytes();
    if !bip340::verify(&key, digest, &bytes) {
        return Err("the signature does not verify; nothing is released".into());
    }
    Ok((bytes.to_vec(), key.to_vec()))
}

/// A share file: the public header `quorate sign` reads, and the key
/// material sealed under the passphrase.
pub fn seal_share(key: &EcdsaKey, pass: &Passphrase, kdf: &KdfParams) -> Result<Vec<u8>, String> {
    let header = json!({
        "format": "quorate-sign-share",
        "party": key.share.identifier.get(),
        "threshold": key.share.threshold,
        "parties": key.share.verification_shares.len(),
        "epoch": key.share.epoch,
        "public_key": hex(&point_to_bytes(&key.share.group_key)),
    });
    let secret = zeroize::Zeroizing::new(key.to_bytes());
    keystore::seal(pass, header.to_string().as_bytes(), &secret, kdf).map_err(|e| e.to_string())
}

/// Opens a share file.
pub fn open_share(path: &Path, pass: &Passphrase) -> Result<EcdsaKey, String> {
    let shown = || path.display().to_string();
    let bytes = keystore::read_file(path).map_err(|e| format!("{}: {e}", shown()))?;
    let opened = keystore::open(pass, &bytes).map_err(|e| format!("{}: {e}", shown()))?;
    EcdsaKey::from_bytes(opened.secret()).map_err(|e| format!("{}: {e}", shown()))
}

/// A key's id: the first 8 bytes of the SHA-256 of its public key, hex.
pub fn key_id(share: &KeyShare) -> String {
    let d = Sha256::digest(point_to_bytes(&share.group_key));
    hex(&d[..8])
}

fn sync_dir(dir: &Path) -> Result<(), String> {
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// One key this node holds a share of.
pub struct KeyEntry {
    /// Its id.
    pub id: String,
    dir: PathBuf,
    file: PathBuf,
    key: RwLock<EcdsaKey>,
    staged: Mutex<Option<EcdsaKey>>,
    log: Arc<Mutex<FileLog>>,
    summary: RwLock<Value>,
    /// Admitted jobs: whether a refresh is, and how many signatures are.
    /// A refresh is admitted only when no signature is, and the reverse,
    /// at decision time, so a node never waits on a lock mid-ceremony.
    admitted: Mutex<(bool, usize)>,
}

impl std::fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEntry")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl KeyEntry {
    fn open(dir: &Path, file: PathBuf, pass: &Passphrase) -> Result<KeyEntry, String> {
        let key = open_share(&file, pass)?;
        let next = staged_path(&file);
        let staged = if next.exists() {
            match open_share(&next, pass) {
                Ok(k) if k.share.epoch > key.share.epoch => Some(k),
                // A staged file cut short by a crash, or stale: the
                // committed share stands.
                _ => {
                    std::fs::remove_file(&next).map_err(|e| format!("{}: {e}", next.display()))?;
                    None
                }
            }
        } else {
            None
        };
        KeyEntry::with(dir, file, key, staged)
    }

    fn with(
        dir: &Path,
        file: PathBuf,
        key: EcdsaKey,
        staged: Option<EcdsaKey>,
    ) -> Result<KeyEntry, String> {
        let log = FileLog::open(&file.with_extension("sessions")).map_err(|e| e.to_string())?;
        let summary = public_summary(&key.share, address::Network::Mainnet)?;
        Ok(KeyEntry {
            id: key_id(&key.share),
            dir: dir.to_path_buf(),
            file,
            key: RwLock::new(key),
            staged: Mutex::new(staged),
            log: Arc::new(Mutex::new(log)),
            summary: RwLock::new(summary),
            admitted: Mutex::new((false, 0)),
        })
    }

    /// A working copy of the key material for one session.
    pub fn snapshot(&self) -> EcdsaKey {
        self.key
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The public facts (see [`public_summary`]), with the id.
    pub fn summary(&self) -> Value {
        let mut v = self
            .summary
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        v["id"] = json!(self.id);
        v["restored"] = json!(self.restored());
        v["staged_epoch"] = json!(lock(&self.staged).as_ref().map(|k| k.share.epoch));
        v
    }

    /// The committed epoch.
    pub fn epoch(&self) -> u64 {
        self.key
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .share
            .epoch
    }

    /// The epoch staged by an interrupted refresh, if any.
    pub fn staged_epoch(&self) -> Option<u64> {
        lock(&self.staged).as_ref().map(|k| k.share.epoch)
    }

    /// The threshold.
    pub fn threshold(&self) -> u16 {
        self.key
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .share
            .threshold
    }

    /// Restored from a backup and not refreshed since: ECDSA refuses it.
    pub fn restored(&self) -> bool {
        self.file.with_extension("restored").exists()
    }

    /// The durable log of consumed ECDSA sessions.
    pub fn log(&self) -> Arc<Mutex<FileLog>> {
        self.log.clone()
    }

    /// Admits a refresh: `false` while a refresh or a signature is
    /// admitted.
    pub fn admit_refresh(&self) -> bool {
        let mut a = lock(&self.admitted);
        if a.0 || a.1 > 0 {
            return false;
        }
        a.0 = true;
        true
    }

    /// Ends what [`admit_refresh`](Self::admit_refresh) admitted.
    pub fn end_refresh(&self) {
        lock(&self.admitted).0 = false;
    }

    /// Admits a signature: `false` while a refresh is admitted.
    pub fn admit_sign(&self) -> bool {
        let mut a = lock(&self.admitted);
        if a.0 {
            return false;
        }
        a.1 += 1;
        true
    }

    /// Ends what [`admit_sign`](Self::admit_sign) admitted.
    pub fn end_sign(&self) {
        let mut a = lock(&self.admitted);
        a.1 = a.1.saturating_sub(1);
    }

    /// Stores what a failed check discarded (the pair's base OTs with
    /// `peers`) in memory and in the share file.
    pub fn discard(
        &self,
        peers: &[quorate_engine::sign::Identifier],
        pass: &Passphrase,
        kdf: &KdfParams,
    ) -> Result<(), String> {
        let mut key = self
            .key
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for p in peers {
            key.discard(*p);
        }
        let sealed = seal_share(&key, pass, kdf)?;
        keystore::write_atomic(&self.file, &sealed, WriteMode::Overwrite)
            .map_err(|e| format!("{}: {e}", self.file.display()))
    }

    /// The first step of a refresh: the next epoch's share written and
    /// synced as `.share-I.qshr.next`, before this node acknowledges.
    pub fn stage(&self, next: &EcdsaKey, pass: &Passphrase, kdf: &KdfParams) -> Result<(), String> {
        let sealed = seal_share(next, pass, kdf)?;
        let path = staged_path(&self.file);
        keystore::write_atomic(&path, &sealed, WriteMode::Overwrite)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        *lock(&self.staged) = Some(next.clone());
        Ok(())
    }

    /// The second step: the staged share renamed into place (every node
    /// has acknowledged), the restored mark removed, memory updated.
    pub fn commit(&self) -> Result<u64, String> {
        let mut staged = lock(&self.staged);
        let Some(next) = staged.take() else {
            return Err("no staged share to commit".into());
        };
        let path = staged_path(&self.file);
        // The replaced share stays as `.share-I.qshr.prev` (one epoch back)
        // in case a promotion proves wrong; the next commit replaces it.
        let prev = self.file.with_file_name(format!(
            ".{}.prev",
            self.file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        let old =
            keystore::read_file(&self.file).map_err(|e| format!("{}: {e}", self.file.display()))?;
        keystore::write_atomic(&prev, &old, WriteMode::Overwrite)
            .map_err(|e| format!("{}: {e}", prev.display()))?;
        std::fs::rename(&path, &self.file).map_err(|e| format!("{}: {e}", self.file.display()))?;
        sync_dir(&self.dir)?;
        let marker = self.file.with_extension("restored");
        match std::fs::remove_file(&marker) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(format!("{}: {e}", marker.display()));
            }
            _ => {}
        }
        let epoch = next.share.epoch;
        let summary = public_summary(&next.share, address::Network::Mainnet)?;
        let text = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
        let public = self.dir.join("public.json");
        keystore::write_atomic(&public, text.as_bytes(), WriteMode::Overwrite)
            .map_err(|e| format!("{}: {e}", public.display()))?;
        *self
            .key
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = next;
        *self
            .summary
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = summary;
        Ok(epoch)
    }

    /// Promotes the staged share if it is of `epoch`: a peer uses that
    /// epoch, so every node acknowledged the refresh that made it.
    pub fn promote(&self, epoch: u64) -> Result<bool, String> {
        if self.staged_epoch() == Some(epoch) {
            self.commit().map(|_| true)
        } else {
            Ok(false)
        }
    }
}

fn staged_path(file: &Path) -> PathBuf {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    file.with_file_name(format!(".{name}.next"))
}

/// Every key this node holds, by id.
#[derive(Debug)]
pub struct Keys {
    root: PathBuf,
    map: RwLock<BTreeMap<String, Arc<KeyEntry>>>,
}

impl Keys {
    /// Opens every key under `root` (`root/<id>/share-I.qshr`).
    pub fn load(root: &Path, me: u16, pass: &Passphrase) -> Result<Keys, String> {
        std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
        let mut map = BTreeMap::new();
        let entries = std::fs::read_dir(root).map_err(|e| format!("{}: {e}", root.display()))?;
        for dir in entries {
            let dir = dir.map_err(|e| format!("{}: {e}", root.display()))?.path();
            let file = dir.join(format!("share-{me}.qshr"));
            if !dir.is_dir() || !file.exists() {
                continue;
            }
            let entry = KeyEntry::open(&dir, file, pass)?;
            map.insert(entry.id.clone(), Arc::new(entry));
        }
        Ok(Keys {
            root: root.to_path_buf(),
            map: RwLock::new(map),
        })
    }

    /// The key `id`.
    pub fn get(&self, id: &str) -> Option<Arc<KeyEntry>> {
        self.map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    /// Every key.
    pub fn all(&self) -> Vec<Arc<KeyEntry>> {
        self.map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// Stores a new key's share (written, synced and renamed into place
    /// before this returns) and adds it.
    pub fn add(
        &self,
        key: EcdsaKey,
        pass: &Passphrase,
        kdf: &KdfParams,
    ) -> Result<Arc<KeyEntry>, String> {
        let id = key_id(&key.share);
        let dir = self.root.join(&id);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let file = dir.join(format!("share-{}.qshr", key.share.identifier.get()));
        let sealed = seal_share(&key, pass, kdf)?;
        keystore::write_atomic(&file, &sealed, WriteMode::CreateNew)
            .map_err(|e| format!("{}: {e}", file.display()))?;
        let summary = public_summary(&key.share, address::Network::Mainnet)?;
        let text = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
        let public = dir.join("public.json");
        keystore::write_atomic(&public, text.as_bytes(), WriteMode::Overwrite)
            .map_err(|e| format!("{}: {e}", public.display()))?;
        sync_dir(&dir)?;
        sync_dir(&self.root)?;
        let entry = Arc::new(KeyEntry::with(&dir, file, key, None)?);
        self.map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, entry.clone());
        Ok(entry)
    }
}
