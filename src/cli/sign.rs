//! `quorate sign`: threshold keys and signatures on secp256k1, every party
//! in this process. Key shares live in files encrypted with a passphrase
//! ([`quorate::keystore`]); no file and no moment holds the whole key.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use quorate::custody::node::store;
use quorate::keystore::{self, KdfParams, Passphrase, WriteMode};
use quorate_engine::net::Channel;
use quorate_engine::sign::bip32::{self, DerivationPath};
use quorate_engine::sign::consumed::{FileLog, SessionLog};
use quorate_engine::sign::dkg::KeyShare;
use quorate_engine::sign::dkls::{self, EcdsaKey};
use quorate_engine::sign::driver;
use quorate_engine::sign::frost::{self, Suite};
use quorate_engine::sign::{
    Identifier, SecretScalar, address, bip340, point_to_bytes, reshare, scalar_from_bytes,
};
use serde_json::{Value, json};

use super::{CliError, CliResult, Out, shown};

#[derive(Debug, Subcommand)]
pub(crate) enum SignCommand {
    /// Make a t-of-n key: distributed key generation (Feldman VSS with
    /// proofs of knowledge) and the base OTs threshold ECDSA needs, every
    /// party in this process; writes one encrypted share file per party.
    #[command(
        after_help = "The passphrase comes from QUORATE_PASSPHRASE, or is asked for \
twice on the terminal. Writes DIR/share-I.qshr for each party I (readable by you only) and \
DIR/public.json (the group key, the threshold and every party's verification share). Prints \
the public key (SEC1 compressed), its Ethereum address and its Bitcoin P2WPKH and taproot \
(BIP-86, key path only) addresses.\n\nWith --party NAME --parties FILE --key FILE this process runs \
only that party, against the others over mutually authenticated TLS: every party of the file \
takes part, party I being the I-th of the file, and only its share file (with public.json) is \
written to --out.\n\nExample:\n  QUORATE_PASSPHRASE=... quorate sign keygen -t 2 -n 3 --out keys/"
    )]
    Keygen(KeygenArgs),
    /// Threshold ECDSA (DKLs23) on a 32-byte digest: r||s (low s) and the
    /// recovery id.
    #[command(after_help = SIGN_HELP)]
    Ecdsa(SignArgs),
    /// A BIP-340 Schnorr signature (FROST, taproot ciphersuite) under the
    /// x-only group key.
    #[command(after_help = SIGN_HELP)]
    Schnorr(SignArgs),
    /// A BIP-340 signature under the BIP-341-tweaked output key (a taproot
    /// key-path spend, no script tree).
    #[command(after_help = SIGN_HELP)]
    Taproot(SignArgs),
    /// New shares of the same key for the same parties (next epoch): every
    /// party adds a sharing of zero; every party's file is replaced once
    /// all have acknowledged.
    #[command(after_help = REFRESH_HELP)]
    Refresh(RefreshArgs),
    /// Move a key to a new party set and threshold (next epoch), same
    /// public key and addresses.
    #[command(after_help = RESHARE_HELP)]
    Reshare(ReshareArgs),
    /// Split an existing private key (a single-key wallet's) into a t-of-n
    /// sharing: share files as `keygen` writes them.
    #[command(after_help = IMPORT_HELP)]
    Import(ImportArgs),
    /// Check a signature with the standard verifier (k256's ECDSA, BIP-340).
    Verify(VerifyArgs),
}

const REFRESH_HELP: &str = "Give every party's share file. Each share becomes the old share \
plus a sharing of zero (the public key, addresses and BIP-32 chain code stay), at the next \
epoch; the base OTs threshold ECDSA uses are set up afresh, which also restores a pair \
discarded after a failed check. Old and new shares never sign together. The new files are \
written beside the old ones first; only when every party has acknowledged the same deals and \
every new file is on disk do they replace the old files (and any other share file of the old \
epoch of this key in the same directories is deleted). If the run is interrupted between the \
two steps, files named .share-I.qshr.next hold the new shares: rename them over \
share-I.qshr.\n\nWith --party NAME --parties FILE --key FILE, each holder runs in its own \
process with its one share file; the parties file lists every holder. Each stages its new \
share, acknowledges, and replaces its old file only once every holder acknowledged.\n\n\
Example:\n  quorate sign refresh --shares \
keys/share-1.qshr,keys/share-2.qshr,keys/share-3.qshr";

const RESHARE_HELP: &str = "Give at least the old threshold's number of share files (the \
dealers). The new parties are numbered by --to; their files go to --out (default: the first \
share file's directory), written and acknowledged before any old share file is deleted. The \
public key and its addresses do not change. Resharing to the same parties renews the key from \
only a threshold of its shares.\n\nWith --party NAME --parties FILE --key FILE, each party \
runs in its own process: an old holder gives its one share file (it deals; if it is not in \
--to, it deletes its share once every new party acknowledged); a new party gives no share \
file, --out DIR, and --id N if its number is not its place in the parties file. Every party \
gives the same -t and --to.\n\nExample:\n  quorate sign reshare --shares \
keys/share-1.qshr,keys/share-2.qshr -t 3 --to 1,2,3,4,5";

const IMPORT_HELP: &str = "The private key is read from --key-file (64 hex digits, or - for \
standard input), never from the command line. The file keeps the whole key: delete it once the \
shares are safe. Without --chain-code a random chain code is drawn, so BIP-32 children differ \
from the old wallet's; give the old wallet's chain code to keep them.\n\nWith --party NAME --parties FILE --key \
FILE, each party of the parties file runs in its own process and gets share number = its \
place in the file; only the party holding the key gives --key-file (and --chain-code).\n\n\
Example:\n  \
QUORATE_PASSPHRASE=... quorate sign import --key-file old.hex -t 2 -n 3 --out keys/";

const SIGN_HELP: &str = "Give at least the threshold's number of share files; every party \
runs in this process and the signature is checked with the standard verifier before it is \
printed. --path derives a BIP-32 non-hardened child (the chain code was agreed at key \
generation). JSON: {\"signature\": hex, \"public_key\": hex (SEC1 compressed for ecdsa, x-only \
for schnorr and taproot), ...}.\n\nWith --party NAME --parties FILE --key FILE, give only this \
party's share file: every party of the parties file signs, each in its own process, over TLS; \
each ECDSA session is logged as consumed in share-I.sessions before it starts, and a pair whose \
base OTs fail a check is marked discarded in the share file.\n\nExample:\n  quorate sign ecdsa --shares keys/share-1.qshr,keys/share-3.qshr \
--digest 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 --path m/0/1";

#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Signers needed (2 <= t <= n).
    #[arg(short = 't', long = "threshold", value_parser = clap::value_parser!(u16).range(2..=255))]
    threshold: u16,
    /// Parties holding a share (n <= 255); with --party, the parties file's.
    #[arg(short = 'n', long = "count", value_parser = clap::value_parser!(u16).range(2..=255))]
    count: Option<u16>,
    /// Directory for the share files (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Replace existing share files.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    net: PartyArgs,
    /// Bitcoin network of the printed addresses.
    #[arg(long, value_enum, default_value_t = Net::Mainnet)]
    network: Net,
    /// Memory of the passphrase hash (argon2id), MiB.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1024))]
    kdf_memory_mib: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RefreshArgs {
    /// Every party's share file, comma-separated (with --party, this
    /// party's one).
    #[arg(long, value_delimiter = ',', required = true, value_name = "FILE,FILE")]
    shares: Vec<PathBuf>,
    /// Directory for the new share files (default: the first share file's).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(flatten)]
    net: PartyArgs,
    #[command(flatten)]
    common: StoreArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ReshareArgs {
    /// Share files of the key, comma-separated (at least the old
    /// threshold). With --party: this party's one, or none for a new party.
    #[arg(
        long,
        value_delimiter = ',',
        required_unless_present = "party",
        value_name = "FILE,FILE"
    )]
    shares: Vec<PathBuf>,
    /// Signers the new sharing needs (2 <= t <= number of new parties).
    #[arg(short = 't', long = "threshold", value_parser = clap::value_parser!(u16).range(2..=255))]
    threshold: u16,
    /// The new parties' numbers, comma-separated (1 to 65535).
    #[arg(long, value_delimiter = ',', required = true, value_name = "I,J,..")]
    to: Vec<u16>,
    /// Directory for the new share files (default: the first share file's).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// With --party and no share file: this new party's number (default:
    /// its place in the parties file, from 1).
    #[arg(long, value_name = "N", requires = "party", value_parser = clap::value_parser!(u16).range(1..))]
    id: Option<u16>,
    #[command(flatten)]
    net: PartyArgs,
    #[command(flatten)]
    common: StoreArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// File holding the private key, 64 hex digits (- for standard input).
    /// With --party, only the party that holds the key gives it.
    #[arg(long, value_name = "FILE", required_unless_present = "party")]
    key_file: Option<PathBuf>,
    /// Signers needed (2 <= t <= n).
    #[arg(short = 't', long = "threshold", value_parser = clap::value_parser!(u16).range(2..=255))]
    threshold: u16,
    /// Parties holding a share (n <= 255); with --party, the parties file's.
    #[arg(short = 'n', long = "count", value_parser = clap::value_parser!(u16).range(2..=255))]
    count: Option<u16>,
    /// Directory for the share files (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The BIP-32 chain code to keep (32 bytes, hex); random if absent.
    #[arg(long, value_name = "HEX")]
    chain_code: Option<String>,
    /// Replace existing share files.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    net: PartyArgs,
    #[command(flatten)]
    common: StoreArgs,
}

/// Run one party over TLS instead of every party in this process.
#[derive(Debug, Args)]
pub(crate) struct PartyArgs {
    /// Run only this party (its name in --parties), against the others over
    /// mutually authenticated TLS.
    #[arg(long, value_name = "NAME", requires_all = ["parties", "key"])]
    party: Option<String>,
    /// The parties file (TOML: name, address, certificate of each party).
    #[arg(long, value_name = "FILE")]
    parties: Option<PathBuf>,
    /// This party's TLS private key (from `quorate keys gen`).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Seconds to wait for a peer before giving up.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

/// Options of every command that writes share files.
#[derive(Debug, Args)]
pub(crate) struct StoreArgs {
    /// Bitcoin network of the printed addresses.
    #[arg(long, value_enum, default_value_t = Net::Mainnet)]
    network: Net,
    /// Memory of the passphrase hash (argon2id), MiB.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1024))]
    kdf_memory_mib: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Net {
    Mainnet,
    Testnet,
    Regtest,
}

impl From<Net> for address::Network {
    fn from(n: Net) -> Self {
        match n {
            Net::Mainnet => address::Network::Mainnet,
            Net::Testnet => address::Network::Testnet,
            Net::Regtest => address::Network::Regtest,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// Share files, comma-separated (at least the threshold's number).
    #[arg(long, value_delimiter = ',', required = true, value_name = "FILE,FILE")]
    shares: Vec<PathBuf>,
    /// The 32-byte digest to sign, hex.
    #[arg(long, value_name = "HEX")]
    digest: String,
    /// BIP-32 derivation path (non-hardened), e.g. m/0/1.
    #[arg(long, value_name = "PATH")]
    path: Option<String>,
    #[command(flatten)]
    net: PartyArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Scheme {
    Ecdsa,
    Schnorr,
    Taproot,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// ecdsa (SEC1 key, r||s, low s required), or schnorr/taproot (x-only
    /// key, BIP-340 signature).
    #[arg(long, value_enum)]
    scheme: Scheme,
    /// The public key, hex.
    #[arg(long, value_name = "HEX")]
    public_key: String,
    /// The 32-byte digest, hex.
    #[arg(long, value_name = "HEX")]
    digest: String,
    /// The 64-byte signature, hex.
    #[arg(long, value_name = "HEX")]
    signature: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cmd: SignCommand) -> CliResult {
    match cmd {
        SignCommand::Keygen(a) => keygen(&a),
        SignCommand::Ecdsa(a) => sign(&a, Scheme::Ecdsa),
        SignCommand::Schnorr(a) => sign(&a, Scheme::Schnorr),
        SignCommand::Taproot(a) => sign(&a, Scheme::Taproot),
        SignCommand::Refresh(a) => refresh(&a),
        SignCommand::Reshare(a) => reshare(&a),
        SignCommand::Import(a) => import(&a),
        SignCommand::Verify(a) => verify(&a),
    }
}

fn failed(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(e.to_string())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn unhex(what: &str, text: &str, len: Option<usize>) -> Result<Vec<u8>, CliError> {
    let t = text.strip_prefix("0x").unwrap_or(text);
    let bad = || CliError::Failed(format!("{what} `{}` is not hex", shown(text)));
    if !t.len().is_multiple_of(2) || !t.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let out: Vec<u8> = (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&t[i..i + 2], 16).map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    if let Some(n) = len
        && out.len() != n
    {
        return Err(CliError::Failed(format!(
            "{what} must be {n} bytes ({} hex digits), not {}",
            2 * n,
            out.len()
        )));
    }
    Ok(out)
}

/// `-n`, required when every party runs in this process, with the
/// threshold at most it.
fn local_count(count: Option<u16>, threshold: u16) -> Result<u16, CliError> {
    let n = count.ok_or_else(|| {
        failed("give the number of parties with -n (or run one party with --party)")
    })?;
    if threshold > n {
        return Err(CliError::Failed(format!(
            "the threshold ({threshold}) cannot exceed the number of parties ({n})"
        )));
    }
    Ok(n)
}

/// With --party: `-n`, if given, must be the parties file's count, and the
/// threshold at most it.
fn party_count(count: Option<u16>, threshold: u16, parties: usize) -> CliResult {
    if let Some(n) = count.filter(|&n| usize::from(n) != parties) {
        return Err(failed(format!(
            "-n {n} but the parties file lists {parties} parties"
        )));
    }
    if usize::from(threshold) > parties {
        return Err(failed(format!(
            "the threshold ({threshold}) cannot exceed the number of parties ({parties})"
        )));
    }
    Ok(())
}

fn keygen(args: &KeygenArgs) -> CliResult {
    if args.net.party.is_some() {
        return keygen_party(args);
    }
    let n = local_count(args.count, args.threshold)?;
    let ids: Vec<u16> = (1..=n).collect();
    refuse_existing(&args.out, &ids, args.force)?;
    let kdf = KdfParams::new(args.kdf_memory_mib * 1024, 3, 1).map_err(failed)?;
    let pass = Passphrase::from_env_or_prompt(true).map_err(failed)?;
    let keys = dkls::keygen_local(args.threshold, n, 0).map_err(failed)?;
    let stored = store(&args.out, &keys, &pass, &kdf, args.network)?;
    report(&stored, &keys[0].share, &[], args.json, "new key")
}

/// Refuses to replace share files in `dir` unless `force`.
fn refuse_existing(dir: &Path, ids: &[u16], force: bool) -> CliResult {
    if force {
        return Ok(());
    }
    match ids
        .iter()
        .map(|i| dir.join(share_name(*i)))
        .find(|p| p.exists())
    {
        Some(p) => Err(CliError::Failed(format!(
            "{} exists; pass --force to replace the shares there",
            shown(p.display())
        ))),
        None => Ok(()),
    }
}

fn share_name(id: u16) -> String {
    format!("share-{id}.qshr")
}

fn io_err(p: &Path) -> impl Fn(std::io::Error) -> CliError + '_ {
    move |e| CliError::Failed(format!("{}: {e}", shown(p.display())))
}

/// What everyone may know of a sharing, as written to public.json.
fn public_summary(share: &KeyShare, net: address::Network) -> Result<Value, CliError> {
    store::public_summary(share, net).map_err(failed)
}

/// Share files written by [`store`].
struct Stored {
    summary: Value,
    files: Vec<PathBuf>,
}

/// Writes one encrypted file per key to `dir` in two steps: every file to
/// `.share-I.qshr.next` (each synced to disk), then each renamed over
/// `share-I.qshr`, so no share file is ever half written and a crash
/// leaves every new share on disk.
fn store(
    dir: &Path,
    keys: &[EcdsaKey],
    pass: &Passphrase,
    kdf: &KdfParams,
    net: Net,
) -> Result<Stored, CliError> {
    stage(dir, keys, pass, kdf, net)?.commit(dir)
}

/// Share files written as `.share-I.qshr.next`, not yet in place.
struct Staged {
    summary: Value,
    staged: Vec<(PathBuf, PathBuf)>,
}

/// The first step of [`store`]: every file written and synced as
/// `.share-I.qshr.next` (and `.public.json.next`).
fn stage(
    dir: &Path,
    keys: &[EcdsaKey],
    pass: &Passphrase,
    kdf: &KdfParams,
    net: Net,
) -> Result<Staged, CliError> {
    let first = &keys
        .first()
        .ok_or_else(|| failed("internal: no key shares to store"))?
        .share;
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let summary = public_summary(first, net.into())?;
    let mut staged = Vec::new();
    for key in keys {
        let id = key.share.identifier.get();
        let sealed = store::seal_share(key, pass, kdf).map_err(failed)?;
        let name = share_name(id);
        let next = dir.join(format!(".{name}.next"));
        keystore::write_atomic(&next, &sealed, WriteMode::Overwrite).map_err(io_err(&next))?;
        staged.push((next, dir.join(name)));
    }
    let text = serde_json::to_string_pretty(&summary).map_err(failed)?;
    let public = dir.join("public.json");
    let next = dir.join(".public.json.next");
    keystore::write_atomic(&next, text.as_bytes(), WriteMode::Overwrite).map_err(io_err(&next))?;
    staged.push((next, public));
    Ok(Staged { summary, staged })
}

impl Staged {
    /// The second step of [`store`]: each staged file renamed into place,
    /// then the directory synced.
    fn commit(self, dir: &Path) -> Result<Stored, CliError> {
        let mut staged = self.staged;
        for (next, path) in &staged {
            std::fs::rename(next, path).map_err(io_err(path))?;
        }
        #[cfg(unix)]
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir))?;
        staged.pop();
        // New shares of a restored key: no longer restored.
        for (_, path) in &staged {
            let marker = path.with_extension("restored");
            match std::fs::remove_file(&marker) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io_err(&marker)(e));
                }
                _ => {}
            }
        }
        Ok(Stored {
            summary: self.summary,
            files: staged.into_iter().map(|(_, p)| p).collect(),
        })
    }
}

/// Prints what [`store`] wrote.
fn report(
    stored: &Stored,
    share: &KeyShare,
    deleted: &[PathBuf],
    json_out: bool,
    what: &str,
) -> CliResult {
    let files: Vec<String> = stored
        .files
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut out = Out::new();
    if json_out {
        let mut v = stored.summary.clone();
        v["files"] = json!(files);
        v["deleted"] = json!(
            deleted
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
        );
        return out.json(&v);
    }
    let v = &stored.summary;
    let text = |k: &str| v[k].as_str().unwrap_or("").to_owned();
    out.line(format!(
        "{what}: {}-of-{} at epoch {}; share files {}",
        share.threshold,
        share.verification_shares.len(),
        share.epoch,
        files.iter().map(shown).collect::<Vec<_>>().join(", ")
    ))?;
    if !deleted.is_empty() {
        out.line(format!(
            "deleted old shares {}",
            deleted
                .iter()
                .map(|p| shown(p.display()))
                .collect::<Vec<_>>()
                .join(", ")
        ))?;
    }
    out.line(format!("public key        {}", text("public_key")))?;
    out.line(format!("ethereum address  {}", text("ethereum_address")))?;
    out.line(format!("p2wpkh address    {}", text("p2wpkh_address")))?;
    out.line(format!("taproot address   {}", text("taproot_address")))
}

/// This party's TLS links to every party of the parties file, keyed by
/// identifier, and a nonce no single party chose: every party sends its
/// identifier and 32 random bytes; the nonce hashes them all.
struct Mesh {
    channels: Vec<(Identifier, Channel)>,
    me: Identifier,
    nonce: [u8; 32],
}

impl Mesh {
    fn links(&mut self) -> Vec<(Identifier, &mut Channel)> {
        self.channels.iter_mut().map(|(i, c)| (*i, c)).collect()
    }

    fn ids(&self) -> Vec<Identifier> {
        let mut ids: Vec<Identifier> = self.channels.iter().map(|(i, _)| *i).collect();
        ids.push(self.me);
        ids.sort_unstable();
        ids
    }
}

fn connect(net: &PartyArgs, what: &str, me: Option<Identifier>) -> Result<Mesh, CliError> {
    let (Some(party), Some(parties), Some(key)) = (&net.party, &net.parties, &net.key) else {
        return Err(failed("--party needs --parties FILE and --key FILE"));
    };
    let mut h = quorate_engine::net::handshake::ProgramHasher::new();
    h.update(format!("quorate sign {what} v1").as_bytes());
    let timeout = std::time::Duration::from_secs(net.timeout);
    let mut c = super::mpc::connect_all(
        parties,
        party,
        key,
        "quorate sign",
        &h.finish(),
        timeout,
        None,
    )?;
    // Without a share yet (key generation), a party's identifier is its
    // place in the file, from 1.
    let me = match me {
        Some(i) => i,
        None => Identifier::new(c.me as u16 + 1).map_err(failed)?,
    };
    let mut mine = [0u8; 34];
    mine[..2].copy_from_slice(&me.get().to_be_bytes());
    getrandom::fill(&mut mine[2..]).map_err(failed)?;
    let mut all = vec![mine];
    for ch in c.channels.iter_mut().flatten() {
        ch.send(&mine).map_err(failed)?;
        ch.flush().map_err(failed)?;
    }
    let mut channels = Vec::new();
    for (k, ch) in c.channels.iter_mut().enumerate() {
        let Some(mut ch) = ch.take() else { continue };
        let mut theirs = [0u8; 34];
        ch.recv(&mut theirs)
            .map_err(|e| failed(format!("party `{}`: {e}", shown(&c.names[k]))))?;
        let id = Identifier::new(u16::from_be_bytes([theirs[0], theirs[1]]))
            .map_err(|e| failed(format!("party `{}`: {e}", shown(&c.names[k]))))?;
        all.push(theirs);
        channels.push((id, ch));
    }
    all.sort_unstable();
    if let Some(w) = all.windows(2).find(|w| w[0][..2] == w[1][..2]) {
        return Err(failed(format!(
            "two parties hold share {} of this key",
            u16::from_be_bytes([w[0][0], w[0][1]])
        )));
    }
    let parts: Vec<&[u8]> = all.iter().map(|x| &x[..]).collect();
    Ok(Mesh {
        channels,
        me,
        nonce: quorate_engine::net::handshake::SessionId::derive("quorate sign nonce", &parts).0,
    })
}

fn keygen_party(args: &KeygenArgs) -> CliResult {
    let kdf = KdfParams::new(args.kdf_memory_mib * 1024, 3, 1).map_err(failed)?;
    let pass = Passphrase::from_env_or_prompt(true).map_err(failed)?;
    let mut mesh = connect(&args.net, "keygen", None)?;
    let ids = mesh.ids();
    party_count(args.count, args.threshold, ids.len())?;
    refuse_existing(&args.out, &[mesh.me.get()], args.force)?;
    let (me, nonce) = (mesh.me, mesh.nonce);
    let key = driver::keygen(me, &mut mesh.links(), &ids, args.threshold, nonce).map_err(failed)?;
    let keys = [key];
    let stored = store(&args.out, &keys, &pass, &kdf, args.network)?;
    report(
        &stored,
        &keys[0].share,
        &[],
        args.json,
        "new key (this party's share)",
    )
}

fn refresh(args: &RefreshArgs) -> CliResult {
    if args.net.party.is_some() {
        return refresh_party(args);
    }
    let pass = Passphrase::from_env_or_prompt(false).map_err(failed)?;
    let keys = load(&args.shares, &pass)?;
    let share = &keys[0].share;
    let n = share.verification_shares.len();
    if keys.len() != n {
        let ids: Vec<String> = share
            .verification_shares
            .iter()
            .map(|(i, _)| i.get().to_string())
            .collect();
        return Err(CliError::Failed(format!(
            "a refresh needs every party's share file ({} of {n} given); to renew the key \
             from only {} of them, use `quorate sign reshare -t {} --to {}`",
            keys.len(),
            share.threshold,
            share.threshold,
            ids.join(",")
        )));
    }
    let dir = match &args.out {
        Some(d) => d.clone(),
        None => args.shares[0]
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
    };
    let kdf = KdfParams::new(args.common.kdf_memory_mib * 1024, 3, 1).map_err(failed)?;
    let shares: Vec<&KeyShare> = keys.iter().map(|k| &k.share).collect();
    // Returns only once every holder acknowledged the same deals.
    let refreshed = reshare::refresh_local(&shares).map_err(failed)?;
    let epoch = refreshed[0].epoch;
    let new = dkls::pairs_local(refreshed).map_err(failed)?;
    let stored = store(&dir, &new, &pass, &kdf, args.common.network)?;
    let deleted = retire_old(
        &args.shares,
        &dir,
        &point_to_bytes(&share.group_key),
        epoch,
        &stored.files,
    )?;
    report(
        &stored,
        &new[0].share,
        &deleted,
        args.common.json,
        "refreshed",
    )
}

fn reshare(args: &ReshareArgs) -> CliResult {
    if args.net.party.is_some() {
        return reshare_party(args);
    }
    if args.id.is_some() {
        return Err(failed("--id names a new party in --party mode only"));
    }
    let pass = Passphrase::from_env_or_prompt(false).map_err(failed)?;
    let keys = load(&args.shares, &pass)?;
    reshare_to(
        &args.shares,
        &keys,
        &args.to,
        args.threshold,
        args.out.as_deref(),
        &pass,
        &args.common,
        "reshared",
    )
}

/// Reshares `keys` (the dealers, loaded from `files`) to the parties `to`
/// with threshold `t` at the next epoch, stores the new shares, and only
/// then deletes the old share files of this key.
#[allow(clippy::too_many_arguments)]
fn reshare_to(
    files: &[PathBuf],
    keys: &[EcdsaKey],
    to: &[u16],
    t: u16,
    out: Option<&Path>,
    pass: &Passphrase,
    common: &StoreArgs,
    what: &str,
) -> CliResult {
    if usize::from(t) > to.len() {
        return Err(CliError::Failed(format!(
            "the threshold ({t}) cannot exceed the number of new parties ({})",
            to.len()
        )));
    }
    let receivers = to
        .iter()
        .map(|&i| Identifier::new(i))
        .collect::<Result<Vec<_>, _>>()
        .map_err(failed)?;
    let old = &keys[0].share;
    let epoch = old
        .epoch
        .checked_add(1)
        .ok_or_else(|| failed("the epoch counter is exhausted"))?;
    let dir = match out {
        Some(d) => d.to_path_buf(),
        None => files[0]
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
    };
    let kdf = KdfParams::new(common.kdf_memory_mib * 1024, 3, 1).map_err(failed)?;
    let dealers: Vec<&KeyShare> = keys.iter().map(|k| &k.share).collect();
    // Returns only once every new party acknowledged the same deals.
    let shares = reshare::run_local(&dealers, &receivers, t, epoch).map_err(failed)?;
    let new = dkls::pairs_local(shares).map_err(failed)?;
    let stored = store(&dir, &new, pass, &kdf, common.network)?;
    let deleted = retire_old(
        files,
        &dir,
        &point_to_bytes(&old.group_key),
        epoch,
        &stored.files,
    )?;
    report(&stored, &new[0].share, &deleted, common.json, what)
}

/// Deletes every share file of the key `pk` older than `epoch`: those
/// given, and the others in their directories and `dir` (the old holders
/// that did not deal), leaving `keep` (the new files).
fn retire_old(
    given: &[PathBuf],
    dir: &Path,
    pk: &[u8],
    epoch: u64,
    keep: &[PathBuf],
) -> Result<Vec<PathBuf>, CliError> {
    let mut dirs: Vec<PathBuf> = given
        .iter()
        .map(|f| {
            f.parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        })
        .collect();
    dirs.push(dir.to_path_buf());
    let mut candidates: Vec<PathBuf> = given.to_vec();
    for d in &dirs {
        let Ok(entries) = std::fs::read_dir(if d.as_os_str().is_empty() {
            Path::new(".")
        } else {
            d
        }) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("share-") && name.ends_with(".qshr") {
                candidates.push(e.path());
            }
        }
    }
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    };
    let mut deleted: Vec<PathBuf> = Vec::new();
    for c in candidates {
        if keep.iter().any(|k| same(k, &c)) || deleted.iter().any(|d| same(d, &c)) {
            continue;
        }
        let Ok(bytes) = keystore::read_file(&c) else {
            continue;
        };
        let Some(v) = keystore::read_header(&bytes)
            .ok()
            .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
        else {
            continue;
        };
        let old = v["format"] == "quorate-sign-share"
            && v["public_key"].as_str() == Some(&hex(pk))
            && v["epoch"].as_u64().is_some_and(|e| e < epoch);
        if old {
            std::fs::remove_file(&c).map_err(io_err(&c))?;
            deleted.push(c);
        }
    }
    Ok(deleted)
}

fn import(args: &ImportArgs) -> CliResult {
    if args.net.party.is_some() {
        return import_party(args);
    }
    let n = local_count(args.count, args.threshold)?;
    let key_file = args
        .key_file
        .as_deref()
        .ok_or_else(|| failed("give the private key with --key-file FILE (or - for stdin)"))?;
    let secret = read_private_key(key_file)?;
    let chain_code = chain_code(args.chain_code.as_deref())?;
    let ids: Vec<u16> = (1..=n).collect();
    refuse_existing(&args.out, &ids, args.force)?;
    let kdf = KdfParams::new(args.common.kdf_memory_mib * 1024, 3, 1).map_err(failed)?;
    let pass = Passphrase::from_env_or_prompt(true).map_err(failed)?;
    let shares = reshare::import_local(&secret, chain_code, args.threshold, n).map_err(failed)?;
    drop(secret);
    let keys = dkls::pairs_local(shares).map_err(failed)?;
    let stored = store(&args.out, &keys, &pass, &kdf, args.common.network)?;
    report(
        &stored,
        &keys[0].share,
        &[],
        args.common.json,
        "imported key",
    )
}

/// A private key from a file of 64 hex digits (or standard input for
/// `-`); the contents are never echoed in an error.
fn read_private_key(path: &Path) -> Result<SecretScalar, CliError> {
    let text = zeroize::Zeroizing::new(if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::Read::take(std::io::stdin(), 1024), &mut s)
            .map_err(|e| failed(format!("standard input: {e}")))?;
        s
    } else {
        let bytes = keystore::read_file(path)
            .map_err(|e| CliError::Failed(format!("{}: {e}", shown(path.display()))))?;
        String::from_utf8(bytes).map_err(|_| {
            CliError::Failed(format!(
                "{}: not text (64 hex digits expected)",
                shown(path.display())
            ))
        })?
    });
    let t = text.trim();
    let t = t.strip_prefix("0x").unwrap_or(t);
    if t.len() != 64 || !t.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(failed(
            "the key file must hold a private key as 64 hex digits (its contents are not shown)",
        ));
    }
    let mut raw = zeroize::Zeroizing::new([0u8; 32]);
    for (k, byte) in raw.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&t[2 * k..2 * k + 2], 16)
            .map_err(|_| failed("the key file is not hex"))?;
    }
    scalar_from_bytes(&raw[..])
        .filter(|s| !bool::from(s.is_zero()))
        .map(SecretScalar::new)
        .ok_or_else(|| failed("the private key is zero or not below the curve order"))
}

/// `--chain-code HEX`, or a random one.
fn chain_code(hex: Option<&str>) -> Result<[u8; 32], CliError> {
    match hex {
        Some(h) => unhex("--chain-code", h, Some(32))?
            .try_into()
            .map_err(|_| failed("--chain-code must be 32 bytes")),
        None => {
            let mut c = [0u8; 32];
            getrandom::fill(&mut c).map_err(failed)?;
            Ok(c)
        }
    }
}

/// The directory of a share file.
fn dir_of(file: &Path) -> PathBuf {
    file.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The stage callback of the channel drivers: this party's new key staged
/// as `.share-I.qshr.next` in `dir` before it acknowledges.
fn stager<'a>(
    dir: &'a Path,
    pass: &'a Passphrase,
    kdf: &'a KdfParams,
    net: Net,
    staged: &'a mut Option<Staged>,
) -> impl FnMut(&EcdsaKey) -> Result<(), quorate_engine::sign::SignError> + 'a {
    move |key| {
        let s = stage(dir, std::slice::from_ref(key), pass, kdf, net)
            .map_err(|e| quorate_engine::sign::SignError::Storage(e.to_string()))?;
        *staged = Some(s);
        Ok(())
    }
}

/// A driver's failure, with where the new share waits if it was staged
/// (the other parties may have completed).
fn after_stage(e: quorate_engine::sign::SignError, staged: &Option<Staged>) -> CliError {
    match staged.as_ref().and_then(|s| s.staged.first()) {
        Some((next, path)) => failed(format!(
            "{e}; this party's new share is staged in {}: if every other party completed, \
             rename it over {}, otherwise run the ceremony again (the old share is kept)",
            shown(next.display()),
            shown(path.display())
        )),
        None => failed(e),
    }
}

/// Deletes this party's old share file once the new sharing is confirmed,
/// if it is still of an older epoch than `epoch` (a new share of the same
/// name has replaced it otherwise).
fn retire_own(file: &Path, pk: &[u8], epoch: u64) -> Result<Vec<PathBuf>, CliError> {
    let Ok(bytes) = keystore::read_file(file) else {
        return Ok(Vec::new());
    };
    let old = keystore::read_header(&bytes)
        .ok()
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
        .is_some_and(|v| {
            v["format"] == "quorate-sign-share"
                && v["public_key"].as_str() == Some(&hex(pk))
                && v["epoch"].as_u64().is_some_and(|e| e < epoch)
        });
    if !old {
        return Ok(Vec::new());
    }
    std::fs::remove_file(file).map_err(io_err(file))?;
    Ok(vec![file.to_path_buf()])
}

fn refresh_party(args: &RefreshArgs) -> CliResult {
    let [file] = &args.shares[..] else {
        return Err(failed(
            "with --party, give this party's one share file in --shares",
        ));
    };
    let pass = Passphrase::from_env_or_prompt(false).map_err(failed)?;
    let keys = load_any(std::slice::from_ref(file), &pass)?;
    let old = &keys[0].share;
    let mut mesh = connect(&args.net, "refresh", Some(old.identifier))?;
    let mut holders: Vec<Identifier> = old.verification_shares.iter().map(|(i, _)| *i).collect();
    holders.sort_unstable();
    let linked = mesh.ids();
    if linked != holders {
        let list = |v: &[Identifier]| {
            v.iter()
                .map(|i| i.get().to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        return Err(CliError::Failed(format!(
            "a refresh needs every holder of the key ({}), but the parties hold shares {}; \
             to renew the key from only some of them, use `quorate sign reshare`",
            list(&holders),
            list(&linked)
        )));
    }
    let dir = args.out.clone().unwrap_or_else(|| dir_of(file));
    let kdf = KdfParams::new(args.common.kdf_memory_mib * 1024, 3, 1).map_err(failed)?;
    let mut staged = None;
    let nonce = mesh.nonce;
    let result = driver::refresh(
        old,
        &mut mesh.links(),
        nonce,
        &mut stager(&dir, &pass, &kdf, args.common.network, &mut staged),
    );
    let key = result.map_err(|e| after_stage(e, &staged))?;
    let staged = staged.ok_or_else(|| failed("internal: the new share was not staged"))?;
    let stored = staged.commit(&dir)?;
    let deleted = retire_own(file, &point_to_bytes(&old.group_key), key.share.epoch)?;
    report(
        &stored,
        &key.share,
        &deleted,
        args.common.json,
        "refreshed (this party's share)",
    )
}

fn reshare_party(args: &ReshareArgs) -> CliResult {
    let file = match &args.shares[..] {
        [] => None,
        [f] => Some(f),
        _ => {
            return Err(failed(
                "with --party, give this party's one share file in --shares (none for a new party)",
            ));
        }
    };
    let pass = Passphrase::from_env_or_prompt(file.is_none()).map_err(failed)?;
    let keys = match file {
        Some(f) => load_any(std::slice::from_ref(f), &pass)?,
        None => Vec::new(),
    };
    let old = keys.first().map(|k| &k.share);
    let me = match (old, args.id) {
        (Some(s), Some(i)) if s.identifier.get() != i => {
            return Err(CliError::Failed(format!(
                "--id {i}, but the share file is party {}'s",
                s.identifier.get()
            )));
        }
        (Some(s), _) => Some(s.identifier),
        (None, Some(i)) => Some(Identifier::new(i).map_err(failed)?),
        (None, None) => None,
    };
    if usize::from(args.threshold) > args.to.len() {
        return Err(CliError::Failed(format!(
            "the threshold ({}) cannot exceed the number of new parties ({})",
            args.threshold,
            args.to.len()
        )));
    }
    let receivers = args
        .to
        .iter()
        .map(|&i| Identifier::new(i))
        .collect::<Result<Vec<_>, _>>()
        .map_err(failed)?;
    let dir = match (&args.out, file) {
        (Some(d), _) => d.clone(),
        (None, Some(f)) => dir_of(f),
        (None, None) => {
            return Err(failed(
                "a new party (no --shares) needs --out DIR for its share file",
            ));
        }
    };
    let mut mesh = connect(&args.net, "reshare", me)?;
    let me = mesh.me;
    if old.is_none() && !receivers.contains(&me) {
        return Err(CliError::Failed(format!(
            "this party (number {}) holds no share and is not among --to",
            me.get()
        )));
    }
    let kdf = KdfParams::new(args.common.kdf_memory_mib * 1024, 3, 1).map_err(failed)?;
    let mut staged = None;
    let nonce = mesh.nonce;
    let holding = old.map(|s| driver::Holding {
        old: s.public(),
        secret: &s.secret,
    });
    let result = driver::reshare(
        me,
        holding,
        &mut mesh.links(),
        &receivers,
        args.threshold,
        nonce,
        &mut stager(&dir, &pass, &kdf, args.common.network, &mut staged),
    );
    let key = result.map_err(|e| after_stage(e, &staged))?;
    // This party's old share file, deleted once the new sharing is confirmed.
    let retiring = old.zip(file).map(|(s, f)| {
        let epoch = s.epoch.saturating_add(1);
        (f, point_to_bytes(&s.group_key), epoch)
    });
    let Some(key) = key else {
        // An old holder that is not among the new parties: every new party
        // acknowledged, so its old share goes.
        let gone = match &retiring {
            Some((f, pk, epoch)) => retire_own(f, pk, *epoch)?,
            None => Vec::new(),
        };
        let mut out = Out::new();
        let files: Vec<String> = gone.iter().map(|p| p.display().to_string()).collect();
        if args.common.json {
            return out.json(&json!({"retired": true, "deleted": files}));
        }
        return out.line(format!(
            "every new party acknowledged; this party is not among them and deleted its old share {}",
            files.iter().map(shown).collect::<Vec<_>>().join(", ")
        ));
    };
    let staged = staged.ok_or_else(|| failed("internal: the new share was not staged"))?;
    let stored = staged.commit(&dir)?;
    let gone = match &retiring {
        // A new share of the same name that replaced it is of the new epoch.
        Some((f, pk, epoch)) => retire_own(f, pk, *epoch)?,
        None => Vec::new(),
    };
    report(
        &stored,
        &key.share,
        &gone,
        args.common.json,
        "reshared (this party's share)",
    )
}

fn import_party(args: &ImportArgs) -> CliResult {
    if args.chain_code.is_some() && args.key_file.is_none() {
        return Err(failed(
            "--chain-code goes with --key-file, at the party that holds the key",
        ));
    }
    let secret = args.key_file.as_deref().map(read_private_key).transpose()?;
    let chain = chain_code(args.chain_code.as_deref())?;
    let kdf = KdfParams::new(args.common.kdf_memory_mib * 1024, 3, 1).map_err(failed)?;
    let pass = Passphrase::from_env_or_prompt(true).map_err(failed)?;
    let mut mesh = connect(&args.net, "import", None)?;
    let ids = mesh.ids();
    party_count(args.count, args.threshold, ids.len())?;
    refuse_existing(&args.out, &[mesh.me.get()], args.force)?;
    let me = mesh.me;
    let holding = match &secret {
        Some(s) => Some(driver::Holding {
            old: reshare::PublicKeyInfo::import(s, me, chain).map_err(failed)?,
            secret: s,
        }),
        None => None,
    };
    let mut staged = None;
    let nonce = mesh.nonce;
    let result = driver::reshare(
        me,
        holding,
        &mut mesh.links(),
        &ids,
        args.threshold,
        nonce,
        &mut stager(&args.out, &pass, &kdf, args.common.network, &mut staged),
    );
    drop(secret);
    let key = result
        .map_err(|e| after_stage(e, &staged))?
        .ok_or_else(|| failed("internal: an importing party got no share"))?;
    let staged = staged.ok_or_else(|| failed("internal: the new share was not staged"))?;
    let stored = staged.commit(&args.out)?;
    report(
        &stored,
        &key.share,
        &[],
        args.common.json,
        "imported key (this party's share)",
    )
}

/// Reads and decrypts the share files; all must be of one key, distinct
/// parties.
fn load_any(paths: &[PathBuf], pass: &Passphrase) -> Result<Vec<EcdsaKey>, CliError> {
    let mut headers = Vec::new();
    for p in paths {
        let bytes = read(p)?;
        let header = keystore::read_header(&bytes)
            .map_err(|e| CliError::Failed(format!("{}: {e}", shown(p.display()))))?;
        let v: Value = serde_json::from_slice(&header).map_err(|_| {
            CliError::Failed(format!("{}: not a quorate share file", shown(p.display())))
        })?;
        if v["format"] != "quorate-sign-share" {
            return Err(CliError::Failed(format!(
                "{}: not a quorate signing share",
                shown(p.display())
            )));
        }
        headers.push((bytes, v));
    }
    let key_of = |v: &Value| v["public_key"].as_str().unwrap_or("").to_owned();
    if let Some((_, v)) = headers
        .iter()
        .find(|(_, v)| key_of(v) != key_of(&headers[0].1))
    {
        return Err(CliError::Failed(format!(
            "the share files belong to different keys ({} and {})",
            key_of(&headers[0].1),
            key_of(v)
        )));
    }
    let epoch_of = |v: &Value| v["epoch"].as_u64();
    if let Some(((_, v), p)) = headers
        .iter()
        .zip(paths)
        .find(|((_, v), _)| epoch_of(v) != epoch_of(&headers[0].1))
    {
        return Err(CliError::Failed(format!(
            "{} is of epoch {:?} but {} of epoch {:?}: old and new shares never sign \
             together (if a refresh was interrupted, rename the .share-I.qshr.next files it \
             left over share-I.qshr)",
            shown(p.display()),
            epoch_of(v),
            shown(paths[0].display()),
            epoch_of(&headers[0].1)
        )));
    }
    let mut keys: Vec<EcdsaKey> = Vec::new();
    for ((bytes, _), p) in headers.iter().zip(paths) {
        let opened = keystore::open(pass, bytes)
            .map_err(|e| CliError::Failed(format!("{}: {e}", shown(p.display()))))?;
        let key = EcdsaKey::from_bytes(opened.secret())
            .map_err(|e| CliError::Failed(format!("{}: {e}", shown(p.display()))))?;
        if keys
            .iter()
            .any(|k| k.share.identifier == key.share.identifier)
        {
            return Err(CliError::Failed(format!(
                "{}: party {} is given twice",
                shown(p.display()),
                key.share.identifier.get()
            )));
        }
        keys.push(key);
    }
    Ok(keys)
}

/// [`load_any`], with at least the threshold's number of shares.
fn load(paths: &[PathBuf], pass: &Passphrase) -> Result<Vec<EcdsaKey>, CliError> {
    let keys = load_any(paths, pass)?;
    if keys.len() < usize::from(keys[0].share.threshold) {
        return Err(CliError::Failed(format!(
            "{} share files for a key that needs {} signers",
            keys.len(),
            keys[0].share.threshold
        )));
    }
    Ok(keys)
}

/// Refuses share files restored from a backup (a `share-I.restored` marker
/// beside them) for ECDSA: sessions consumed after the backup was taken
/// are not in the restored session log, so a refresh must first give the
/// key new base OTs.
fn refuse_restored(paths: &[PathBuf]) -> CliResult {
    match paths.iter().find(|p| p.with_extension("restored").exists()) {
        Some(p) => Err(CliError::Failed(format!(
            "{} was restored from a backup: run `quorate sign refresh` (or reshare) before \
             ECDSA signing with it",
            shown(p.display())
        ))),
        None => Ok(()),
    }
}

fn read(p: &Path) -> Result<Vec<u8>, CliError> {
    keystore::read_file(p).map_err(|e| CliError::Failed(format!("{}: {e}", shown(p.display()))))
}

fn sign(args: &SignArgs, scheme: Scheme) -> CliResult {
    let digest: [u8; 32] = unhex("--digest", &args.digest, Some(32))?
        .try_into()
        .map_err(|_| failed("--digest must be 32 bytes"))?;
    let path: DerivationPath = args
        .path
        .as_deref()
        .unwrap_or("m")
        .parse()
        .map_err(failed)?;
    let pass = Passphrase::from_env_or_prompt(false).map_err(failed)?;
    if args.net.party.is_some() {
        return sign_party(args, scheme, &digest, &path, &pass);
    }
    if scheme == Scheme::Ecdsa {
        refuse_restored(&args.shares)?;
    }
    let mut keys = load(&args.shares, &pass)?;
    let share = &keys[0].share;
    let child = bip32::derive(&share.group_key, &share.chain_code, &path).map_err(failed)?;
    let signers: Vec<u16> = keys.iter().map(|k| k.share.identifier.get()).collect();
    let started = std::time::Instant::now();
    let (signature, public_key, extra) = match scheme {
        Scheme::Ecdsa => {
            let all: Vec<usize> = (0..keys.len()).collect();
            // Each party's durable log of consumed sessions, beside its share.
            let mut files = args
                .shares
                .iter()
                .map(|p| FileLog::open(&p.with_extension("sessions")))
                .collect::<Result<Vec<_>, _>>()
                .map_err(failed)?;
            let mut logs: Vec<&mut dyn SessionLog> =
                files.iter_mut().map(|f| f as &mut dyn SessionLog).collect();
            let sig = dkls::sign_local_logged(&mut keys, &all, &digest, child.adjust, &mut logs)
                .map_err(failed)?;
            (
                sig.bytes.to_vec(),
                sig.public_key.to_vec(),
                json!({"recovery_id": sig.recovery_id}),
            )
        }
        Scheme::Schnorr | Scheme::Taproot => {
            let adjust = bip340_adjust(scheme, &child)?;
            let shares: Vec<_> = keys.iter().map(|k| &k.share).collect();
            let sig =
                frost::sign_local(Suite::Taproot, &shares, &adjust, &digest).map_err(failed)?;
            bip340_release(&sig, &adjust, &keys[0].share, &digest)?
        }
    };
    let ms = started.elapsed().as_secs_f64() * 1e3;
    print_signature(
        args.json,
        scheme,
        &signature,
        &public_key,
        &digest,
        &path,
        &signers,
        ms,
        &extra,
    )
}

#[allow(clippy::too_many_arguments)]
fn print_signature(
    json_out: bool,
    scheme: Scheme,
    signature: &[u8],
    public_key: &[u8],
    digest: &[u8; 32],
    path: &DerivationPath,
    signers: &[u16],
    ms: f64,
    extra: &Value,
) -> CliResult {
    let mut out = Out::new();
    if json_out {
        let mut v = json!({
            "scheme": format!("{scheme:?}").to_lowercase(),
            "signature": hex(signature),
            "public_key": hex(public_key),
            "digest": hex(digest),
            "path": path.to_string(),
            "signers": signers,
            "ms": ms,
        });
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        return out.json(&v);
    }
    out.line(format!("signature    {}", hex(signature)))?;
    if let Some(r) = extra.get("recovery_id") {
        out.line(format!("recovery id  {r}"))?;
    }
    out.line(format!("public key   {}", hex(public_key)))?;
    out.line(format!(
        "signers      {signers:?}, path {path}, {ms:.1} ms (verified before printing)"
    ))
}

/// Signs as one party over TLS: every party of the parties file signs.
fn sign_party(
    args: &SignArgs,
    scheme: Scheme,
    digest: &[u8; 32],
    path: &DerivationPath,
    pass: &Passphrase,
) -> CliResult {
    let [file] = &args.shares[..] else {
        return Err(failed(
            "with --party, give this party's one share file in --shares",
        ));
    };
    if scheme == Scheme::Ecdsa {
        refuse_restored(std::slice::from_ref(file))?;
    }
    let mut keys = load_any(std::slice::from_ref(file), pass)?;
    let key = &mut keys[0];
    let mut mesh = connect(&args.net, "sign", Some(key.share.identifier))?;
    let ids = mesh.ids();
    let share = &key.share;
    let child = bip32::derive(&share.group_key, &share.chain_code, path).map_err(failed)?;
    let started = std::time::Instant::now();
    let (signature, public_key, extra) = match scheme {
        Scheme::Ecdsa => {
            let mut log = FileLog::open(&file.with_extension("sessions")).map_err(failed)?;
            let request = dkls::SignRequest {
                signers: ids.clone(),
                nonce: mesh.nonce,
                digest: *digest,
                adjust: child.adjust,
            };
            let had: Vec<(Identifier, bool)> = key.pairs().collect();
            let result = driver::ecdsa(key, &mut mesh.links(), request, &mut log);
            let now: Vec<(Identifier, bool)> = key.pairs().collect();
            if now != had {
                // A pair's base OTs were discarded: store that before anything else.
                rewrite_share(file, key, pass)?;
                let lost: Vec<String> = now
                    .iter()
                    .zip(&had)
                    .filter(|(n, h)| n.1 && !h.1)
                    .map(|(n, _)| n.0.get().to_string())
                    .collect();
                let why = result.err().map_or_else(
                    || "a check of the OT extension failed".to_owned(),
                    |e| e.to_string(),
                );
                return Err(failed(format!(
                    "SECURITY EVENT: {why}; the base OTs this party shares with party {} are \
                     discarded in {} and never used again (`quorate sign refresh` sets up new \
                     ones); no signature is released",
                    lost.join(", "),
                    shown(file.display())
                )));
            }
            let sig = result.map_err(failed)?;
            (
                sig.bytes.to_vec(),
                sig.public_key.to_vec(),
                json!({"recovery_id": sig.recovery_id}),
            )
        }
        Scheme::Schnorr | Scheme::Taproot => {
            let adjust = bip340_adjust(scheme, &child)?;
            let nonce = mesh.nonce;
            let sig = driver::frost(
                &key.share,
                &mut mesh.links(),
                Suite::Taproot,
                &ids,
                &adjust,
                digest,
                &nonce,
            )
            .map_err(failed)?;
            bip340_release(&sig, &adjust, &key.share, digest)?
        }
    };
    let ms = started.elapsed().as_secs_f64() * 1e3;
    let signers: Vec<u16> = ids.iter().map(|i| i.get()).collect();
    print_signature(
        args.json,
        scheme,
        &signature,
        &public_key,
        digest,
        path,
        &signers,
        ms,
        &extra,
    )
}

fn bip340_adjust(scheme: Scheme, child: &bip32::Derived) -> Result<frost::KeyAdjust, CliError> {
    store::bip340_adjust(scheme == Scheme::Taproot, child).map_err(failed)
}

/// The signature's 64 bytes and the x-only key, once the standard BIP-340
/// verifier accepts them; nothing otherwise.
fn bip340_release(
    sig: &frost::Signature,
    adjust: &frost::KeyAdjust,
    share: &KeyShare,
    digest: &[u8; 32],
) -> Result<(Vec<u8>, Vec<u8>, Value), CliError> {
    let (sig, key) = store::bip340_release(sig, adjust, share, digest).map_err(failed)?;
    Ok((sig, key, json!({})))
}

/// Rewrites a share file in place (atomically), keeping its header.
fn rewrite_share(file: &Path, key: &EcdsaKey, pass: &Passphrase) -> CliResult {
    let bytes = read(file)?;
    let opened = keystore::open(pass, &bytes).map_err(io_like(file))?;
    let header = opened.public_header().to_vec();
    let kdf = keystore::read_params(&bytes).map_err(io_like(file))?;
    let secret = zeroize::Zeroizing::new(key.to_bytes());
    let sealed = keystore::seal(pass, &header, &secret, &kdf).map_err(failed)?;
    keystore::write_atomic(file, &sealed, WriteMode::Overwrite).map_err(io_err(file))
}

fn io_like(p: &Path) -> impl Fn(keystore::KeystoreError) -> CliError + '_ {
    move |e| CliError::Failed(format!("{}: {e}", shown(p.display())))
}

fn verify(args: &VerifyArgs) -> CliResult {
    let digest: [u8; 32] = unhex("--digest", &args.digest, Some(32))?
        .try_into()
        .map_err(|_| failed("--digest must be 32 bytes"))?;
    let sig = unhex("--signature", &args.signature, Some(64))?;
    let ok = match args.scheme {
        Scheme::Ecdsa => {
            let key = unhex("--public-key", &args.public_key, None)?;
            dkls::verify(&key, &digest, &sig, true)
        }
        Scheme::Schnorr | Scheme::Taproot => {
            let key = unhex("--public-key", &args.public_key, Some(32))?;
            bip340::verify(&key, &digest, &sig)
        }
    };
    let mut out = Out::new();
    if args.json {
        out.json(&json!({"valid": ok}))?;
    } else {
        out.line(if ok { "valid" } else { "INVALID" })?;
    }
    if ok {
        Ok(())
    } else {
        Err(CliError::Failed("the signature does not verify".into()))
    }
}
