//! Threshold ECDSA (DKLs23) end to end, and the verification path every
//! threshold signature goes through before release, against Wycheproof's
//! secp256k1 ECDSA cases (`../shared/vectors/wycheproof/`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use k256::ProjectivePoint;
use quorate_engine::sign::bip32::{self, DerivationPath};
use quorate_engine::sign::dkls::{self, recover, verify, verify_der};
use quorate_engine::sign::frost::KeyAdjust;
use quorate_engine::sign::point_to_bytes;
use rand::RngExt;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Runs one Wycheproof file through the verifier: every case must come out
/// as the file says.
fn wycheproof(file: &str, der: bool, low_s: bool) -> usize {
    let Some(dir) = common::shared() else {
        return 0;
    };
    let text = std::fs::read_to_string(dir.join("vectors/wycheproof").join(file)).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let mut count = 0;
    for group in v["testGroups"].as_array().unwrap() {
        let key = common::hex(group["publicKey"]["uncompressed"].as_str().unwrap());
        for t in group["tests"].as_array().unwrap() {
            let msg = common::hex(t["msg"].as_str().unwrap());
            let sig = common::hex(t["sig"].as_str().unwrap());
            let digest: [u8; 32] = Sha256::digest(&msg).into();
            let got = if der {
                verify_der(&key, &digest, &sig, low_s)
            } else {
                verify(&key, &digest, &sig, low_s)
            };
            let want = match t["result"].as_str().unwrap() {
                "valid" => true,
                "invalid" => false,
                // "acceptable": either answer is allowed.
                _ => continue,
            };
            assert_eq!(got, want, "{file} case {}: {}", t["tcId"], t["comment"]);
            count += 1;
        }
    }
    count
}

#[test]
fn wycheproof_der() {
    let n = wycheproof("ecdsa_secp256k1_sha256_test.json", true, false);
    assert!(n == 0 || n >= 470, "{n} cases");
}

#[test]
fn wycheproof_bitcoin_low_s() {
    let n = wycheproof("ecdsa_secp256k1_sha256_bitcoin_test.json", true, true);
    assert!(n == 0 || n >= 460, "{n} cases");
}

#[test]
fn wycheproof_p1363() {
    let n = wycheproof("ecdsa_secp256k1_sha256_p1363_test.json", false, false);
    assert!(n == 0 || n >= 250, "{n} cases");
}

#[test]
fn random_t_of_n_up_to_7_sign_and_verify() {
    let mut rng = rand::rng();
    for n in [2u16, 4, 7] {
        let t = rng.random_range(2..=n);
        let mut keys = dkls::keygen_local(t, n, 1).unwrap();
        let pk = point_to_bytes(&keys[0].share.group_key);
        // A random signer set of random size between t and n.
        let size = rng.random_range(usize::from(t)..=usize::from(n));
        let mut all: Vec<usize> = (0..usize::from(n)).collect();
        for k in 0..all.len() {
            let j = rng.random_range(k..all.len());
            all.swap(k, j);
        }
        let set = &all[..size];
        let digest: [u8; 32] = rng.random();
        let sig = dkls::sign_local(&mut keys, set, &digest, KeyAdjust::IDENTITY).unwrap();
        assert!(
            verify(&pk, &digest, &sig.bytes, true),
            "{t}-of-{n} by {set:?}"
        );
        assert_eq!(recover(&digest, &sig.bytes, sig.recovery_id), Some(pk));
    }
}

#[test]
fn hd_children_sign_under_their_derived_keys() {
    let mut keys = dkls::keygen_local(2, 3, 0).unwrap();
    let share = &keys[0].share;
    let path: DerivationPath = "m/0/1".parse().unwrap();
    let child = bip32::derive(&share.group_key, &share.chain_code, &path).unwrap();
    assert_ne!(child.public_key, share.group_key);
    let digest = [0x42u8; 32];
    let sig = dkls::sign_local(&mut keys, &[1, 2], &digest, child.adjust).unwrap();
    let child_pk = point_to_bytes(&child.public_key);
    assert_eq!(sig.public_key, child_pk);
    assert!(verify(&child_pk, &digest, &sig.bytes, true));
    let parent = point_to_bytes(&keys[0].share.group_key);
    assert!(!verify(&parent, &digest, &sig.bytes, true));
    assert_eq!(
        ProjectivePoint::GENERATOR * child.adjust.offset + keys[0].share.group_key,
        child.public_key
    );
}

#[test]
fn refreshed_and_reshared_keys_sign_and_never_mix_with_old_ones() {
    use quorate_engine::sign::reshare;
    let mut old = dkls::keygen_local(2, 3, 0).unwrap();
    let pk = point_to_bytes(&old[0].share.group_key);
    let digest = [0x17u8; 32];
    let shares: Vec<_> = old.iter().map(|k| &k.share).collect();
    let refreshed = reshare::refresh_local(&shares).unwrap();
    let mut new = dkls::pairs_local(refreshed).unwrap();
    assert!(new.iter().all(|k| k.share.epoch == 1));
    let sig = dkls::sign_local(&mut new, &[0, 2], &digest, KeyAdjust::IDENTITY).unwrap();
    assert!(verify(&pk, &digest, &sig.bytes, true));
    // An old share and a new one: the session ids differ (epoch), so the
    // run stops before any signature exists.
    let mut mixed = vec![old.remove(0), new.remove(1)];
    let e = dkls::sign_local(&mut mixed, &[0, 1], &digest, KeyAdjust::IDENTITY).unwrap_err();
    assert!(e.to_string().contains("session"), "{e}");
    // A stale peer is not a cheater: no base OTs were discarded.
    assert!(!mixed[1].is_discarded(mixed[0].share.identifier));
    assert!(!mixed[0].is_discarded(mixed[1].share.identifier));
    // Resharing the refreshed key from 2-of-3 to 3-of-4 on other parties.
    let ids: Vec<_> = [3u16, 5, 6, 8]
        .map(|i| quorate_engine::sign::Identifier::new(i).unwrap())
        .to_vec();
    let dealers = [&mixed[1].share, &new[1].share];
    let moved = reshare::run_local(&dealers, &ids, 3, 2).unwrap();
    let mut moved = dkls::pairs_local(moved).unwrap();
    let sig = dkls::sign_local(&mut moved, &[3, 1, 2], &digest, KeyAdjust::IDENTITY).unwrap();
    assert!(verify(&pk, &digest, &sig.bytes, true));
    assert!(dkls::sign_local(&mut moved, &[0, 1], &digest, KeyAdjust::IDENTITY).is_err());
}
