//! `quorate sign`: threshold keys and signatures on secp256k1, every party
//! in this process. Key shares live in files encrypted with a passphrase
//! ([`quorate::keystore`]); no file and no moment holds the whole key.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use quorate::keystore::{self, KdfParams, Passphrase, WriteMode};
use quorate_engine::sign::bip32::{self, DerivationPath};
use quorate_engine::sign::dkls::{self, EcdsaKey};
use quorate_engine::sign::frost::{self, Suite};
use quorate_engine::sign::{address, bip340, point_to_bytes};
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
(BIP-86, key path only) addresses.\n\nExample:\n  QUORATE_PASSPHRASE=... quorate sign keygen -t 2 -n 3 --out keys/"
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
    /// Check a signature with the standard verifier (k256's ECDSA, BIP-340).
    Verify(VerifyArgs),
}

const SIGN_HELP: &str = "Give at least the threshold's number of share files; every party \
runs in this process and the signature is checked with the standard verifier before it is \
printed. --path derives a BIP-32 non-hardened child (the chain code was agreed at key \
generation). JSON: {\"signature\": hex, \"public_key\": hex (SEC1 compressed for ecdsa, x-only \
for schnorr and taproot), ...}.\n\nExample:\n  quorate sign ecdsa --shares keys/share-1.qshr,keys/share-3.qshr \
--digest 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 --path m/0/1";

#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Signers needed (2 <= t <= n).
    #[arg(short = 't', long = "threshold", value_parser = clap::value_parser!(u16).range(2..=255))]
    threshold: u16,
    /// Parties holding a share (n <= 255).
    #[arg(short = 'n', long = "parties", value_parser = clap::value_parser!(u16).range(2..=255))]
    parties: u16,
    /// Directory for the share files (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Replace existing share files.
    #[arg(long)]
    force: bool,
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
        SignCommand::Verify(a) => verify(&a),
    }
}

fn failed(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(e.to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(what: &str, text: &str, len: Option<usize>) -> Result<Vec<u8>, CliError> {
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

fn keygen(args: &KeygenArgs) -> CliResult {
    if args.threshold > args.parties {
        return Err(CliError::Failed(format!(
            "the threshold ({}) cannot exceed the number of parties ({})",
            args.threshold, args.parties
        )));
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| CliError::Failed(format!("{}: {e}", shown(args.out.display()))))?;
    let paths: Vec<PathBuf> = (1..=args.parties)
        .map(|i| args.out.join(format!("share-{i}.qshr")))
        .collect();
    if !args.force
        && let Some(p) = paths.iter().find(|p| p.exists())
    {
        return Err(CliError::Failed(format!(
            "{} exists; pass --force to replace the shares there",
            shown(p.display())
        )));
    }
    let params = KdfParams::new(args.kdf_memory_mib * 1024, 3, 1).map_err(failed)?;
    let pass = Passphrase::from_env_or_prompt(true).map_err(failed)?;
    let keys = dkls::keygen_local(args.threshold, args.parties, 0).map_err(failed)?;
    let group_key = keys[0].share.group_key;
    let pk = point_to_bytes(&group_key);
    let net = address::Network::from(args.network);
    let taproot = address::p2tr(&group_key, net).map_err(failed)?;
    let summary = json!({
        "public_key": hex(&pk),
        "threshold": args.threshold,
        "parties": args.parties,
        "epoch": 0,
        "ethereum_address": address::ethereum(&group_key),
        "p2wpkh_address": address::p2wpkh(&group_key, net),
        "taproot_address": taproot,
        "chain_code": hex(&keys[0].share.chain_code),
        "verification_shares": keys[0].share.verification_shares.iter()
            .map(|(i, p)| json!({"party": i.get(), "point": hex(&point_to_bytes(p))}))
            .collect::<Vec<_>>(),
    });
    let mode = if args.force {
        WriteMode::Overwrite
    } else {
        WriteMode::CreateNew
    };
    for (key, path) in keys.iter().zip(&paths) {
        let header = json!({
            "format": "quorate-sign-share",
            "party": key.share.identifier.get(),
            "threshold": args.threshold,
            "parties": args.parties,
            "epoch": key.share.epoch,
            "public_key": hex(&pk),
        });
        let secret = zeroize::Zeroizing::new(key.to_bytes());
        let sealed = keystore::seal(&pass, header.to_string().as_bytes(), &secret, &params)
            .map_err(failed)?;
        keystore::write_atomic(path, &sealed, mode)
            .map_err(|e| CliError::Failed(format!("{}: {e}", shown(path.display()))))?;
    }
    let public = args.out.join("public.json");
    let text = serde_json::to_string_pretty(&summary).map_err(failed)?;
    keystore::write_atomic(&public, text.as_bytes(), WriteMode::Overwrite)
        .map_err(|e| CliError::Failed(format!("{}: {e}", shown(public.display()))))?;
    let mut out = Out::new();
    if args.json {
        let mut v = summary;
        v["files"] = json!(
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
        );
        return out.json(&v);
    }
    out.line(format!(
        "{}-of-{} key; {} share files in {}",
        args.threshold,
        args.parties,
        args.parties,
        shown(args.out.display())
    ))?;
    out.line(format!("public key        {}", hex(&pk)))?;
    out.line(format!(
        "ethereum address  {}",
        summary["ethereum_address"].as_str().unwrap_or("")
    ))?;
    out.line(format!(
        "p2wpkh address    {}",
        summary["p2wpkh_address"].as_str().unwrap_or("")
    ))?;
    out.line(format!(
        "taproot address   {}",
        summary["taproot_address"].as_str().unwrap_or("")
    ))
}

/// Reads and decrypts the share files; all must be of one key, distinct
/// parties.
fn load(paths: &[PathBuf]) -> Result<Vec<EcdsaKey>, CliError> {
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
    let pass = Passphrase::from_env_or_prompt(false).map_err(failed)?;
    let mut keys: Vec<EcdsaKey> = Vec::new();
    for ((bytes, _), p) in headers.iter().zip(paths) {
        let opened = keystore::open(&pass, bytes)
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
    if keys.len() < usize::from(keys[0].share.threshold) {
        return Err(CliError::Failed(format!(
            "{} share files for a key that needs {} signers",
            keys.len(),
            keys[0].share.threshold
        )));
    }
    Ok(keys)
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
    let mut keys = load(&args.shares)?;
    let share = &keys[0].share;
    let child = bip32::derive(&share.group_key, &share.chain_code, &path).map_err(failed)?;
    let signers: Vec<u16> = keys.iter().map(|k| k.share.identifier.get()).collect();
    let started = std::time::Instant::now();
    let (signature, public_key, extra) = match scheme {
        Scheme::Ecdsa => {
            let all: Vec<usize> = (0..keys.len()).collect();
            let sig = dkls::sign_local(&mut keys, &all, &digest, child.adjust).map_err(failed)?;
            (
                sig.bytes.to_vec(),
                sig.public_key.to_vec(),
                json!({"recovery_id": sig.recovery_id}),
            )
        }
        Scheme::Schnorr | Scheme::Taproot => {
            let root: Option<&[u8]> = (scheme == Scheme::Taproot).then_some(&[]);
            let adjust = frost::taproot_adjust(&child.public_key, root)
                .map_err(failed)?
                .after(&child.adjust);
            let shares: Vec<_> = keys.iter().map(|k| &k.share).collect();
            let sig =
                frost::sign_local(Suite::Taproot, &shares, &adjust, &digest).map_err(failed)?;
            let key = frost::x_only(&adjust.point(&keys[0].share.group_key));
            let bytes = sig.to_bip340_bytes();
            if !bip340::verify(&key, &digest, &bytes) {
                return Err(failed("the signature does not verify; nothing is released"));
            }
            (bytes.to_vec(), key.to_vec(), json!({}))
        }
    };
    let ms = started.elapsed().as_secs_f64() * 1e3;
    let mut out = Out::new();
    if args.json {
        let mut v = json!({
            "scheme": format!("{scheme:?}").to_lowercase(),
            "signature": hex(&signature),
            "public_key": hex(&public_key),
            "digest": hex(&digest),
            "path": path.to_string(),
            "signers": signers,
            "ms": ms,
        });
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        return out.json(&v);
    }
    out.line(format!("signature    {}", hex(&signature)))?;
    if let Some(r) = extra.get("recovery_id") {
        out.line(format!("recovery id  {r}"))?;
    }
    out.line(format!("public key   {}", hex(&public_key)))?;
    out.line(format!(
        "signers      {signers:?}, path {path}, {ms:.1} ms (verified before printing)"
    ))
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
