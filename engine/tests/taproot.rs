//! Taproot signing with a threshold key, against BIP-341's wallet vectors
//! (`../shared/vectors/bip341/wallet-test-vectors.json`): the key tweak of a
//! shared key gives the listed output keys, and threshold signatures under
//! the tweaked key pass the standard BIP-340 verifier. Random keys of both
//! parities, with and without a tweak, and a tampered share caught.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use k256::{ProjectivePoint, Scalar};
use quorate_engine::sign::frost::{self, CommitmentList, KeyAdjust, Suite};
use quorate_engine::sign::{
    Identifier, SecretScalar, SignError, bip340, point_from_bytes, scalar_from_bytes,
};
use serde_json::Value;

/// Signs `msg` with the signers `who` of a split key under `adjust`, as
/// every signer and the aggregator would; returns the signature, or the
/// aggregator's error after `tamper` changes the shares.
fn threshold_sign(
    split: &frost::Split,
    who: &[usize],
    adjust: &KeyAdjust,
    msg: &[u8],
    tamper: impl Fn(&mut Vec<(Identifier, Scalar)>),
) -> Result<frost::Signature, SignError> {
    let key = adjust.point(&split.commitments[0]);
    let shares: Vec<(Identifier, SecretScalar)> = who
        .iter()
        .map(|&k| (split.shares[k].0, adjust.share(&split.shares[k].1)))
        .collect();
    let vs: Vec<(Identifier, ProjectivePoint)> = shares
        .iter()
        .map(|(i, s)| (*i, ProjectivePoint::GENERATOR * s.expose()))
        .collect();
    let nonces: Vec<_> = shares
        .iter()
        .map(|(i, s)| frost::commit(Suite::Taproot, *i, s).unwrap())
        .collect();
    let list = CommitmentList::new(nonces.iter().map(|n| n.commitments()).collect()).unwrap();
    let mut zs = Vec::new();
    for ((i, s), n) in shares.iter().zip(nonces) {
        zs.push((*i, frost::sign(*i, s, &key, n, msg, &list).unwrap()));
    }
    tamper(&mut zs);
    frost::aggregate(Suite::Taproot, &list, msg, &key, &zs, &vs)
}

fn hexv(v: &Value) -> Vec<u8> {
    common::hex(v.as_str().unwrap())
}

/// The x-only key lifted with an even y.
fn lift_x(x: &[u8]) -> ProjectivePoint {
    let mut b = vec![0x02];
    b.extend_from_slice(x);
    point_from_bytes(&b).unwrap()
}

#[test]
fn bip341_tweaks_of_a_shared_key() {
    let Some(dir) = common::shared() else { return };
    let text =
        std::fs::read_to_string(dir.join("vectors/bip341/wallet-test-vectors.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let spk = v["scriptPubKey"].as_array().unwrap();
    assert!(spk.len() >= 7);
    for case in spk {
        let internal = lift_x(&hexv(&case["given"]["internalPubkey"]));
        let root = match &case["intermediary"]["merkleRoot"] {
            Value::Null => Vec::new(),
            r => hexv(r),
        };
        let t = frost::taptweak(&internal, &root).unwrap();
        assert_eq!(
            quorate_engine::sign::scalar_to_bytes(&t).to_vec(),
            hexv(&case["intermediary"]["tweak"])
        );
        let adjust = frost::taproot_adjust(&internal, Some(&root)).unwrap();
        assert_eq!(
            frost::x_only(&adjust.point(&internal)).to_vec(),
            hexv(&case["intermediary"]["tweakedPubkey"])
        );
    }
}

#[test]
fn bip341_key_path_spends_signed_by_a_threshold() {
    let Some(dir) = common::shared() else { return };
    let text =
        std::fs::read_to_string(dir.join("vectors/bip341/wallet-test-vectors.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let inputs = v["keyPathSpending"][0]["inputSpending"].as_array().unwrap();
    assert!(!inputs.is_empty());
    for input in inputs {
        let secret = scalar_from_bytes(&hexv(&input["given"]["internalPrivkey"])).unwrap();
        let root = match &input["given"]["merkleRoot"] {
            Value::Null => Vec::new(),
            r => hexv(r),
        };
        let tweaked_secret =
            scalar_from_bytes(&hexv(&input["intermediary"]["tweakedPrivkey"])).unwrap();
        let output_key = frost::x_only(&(ProjectivePoint::GENERATOR * tweaked_secret));
        let sighash = hexv(&input["intermediary"]["sigHash"]);

        let split = frost::split(&SecretScalar::new(secret), 2, 3).unwrap();
        let adjust = frost::taproot_adjust(&split.commitments[0], Some(&root)).unwrap();
        assert_eq!(
            frost::x_only(&adjust.point(&split.commitments[0])),
            output_key
        );
        let sig = threshold_sign(&split, &[0, 2], &adjust, &sighash, |_| {}).unwrap();
        assert!(bip340::verify(
            &output_key,
            &sighash,
            &sig.to_bip340_bytes()
        ));
        // The vector's own witness signature verifies under the same key.
        let witness = hexv(&input["expected"]["witness"][0]);
        assert!(bip340::verify(&output_key, &sighash, &witness[..64]));
    }
}

#[test]
fn random_keys_of_both_parities_sign_bip340_and_taproot() {
    for round in 0..8 {
        // Alternate the key's parity: negating a key flips its y.
        let mut secret = *SecretScalar::random().unwrap().expose();
        if frost::has_odd_y(&(ProjectivePoint::GENERATOR * secret)) != (round % 2 == 1) {
            secret = -secret;
        }
        let split = frost::split(&SecretScalar::new(secret), 3, 5).unwrap();
        assert_eq!(frost::has_odd_y(&split.commitments[0]), round % 2 == 1);
        let msg = format!("round {round}");
        for root in [None, Some(&[][..]), Some(&[7u8; 32][..])] {
            let adjust = frost::taproot_adjust(&split.commitments[0], root).unwrap();
            let key = frost::x_only(&adjust.point(&split.commitments[0]));
            let sig = threshold_sign(&split, &[4, 1, 2], &adjust, msg.as_bytes(), |_| {}).unwrap();
            assert!(bip340::verify(&key, msg.as_bytes(), &sig.to_bip340_bytes()));
            assert!(!bip340::verify(&key, b"other", &sig.to_bip340_bytes()));
        }
        // Untweaked: the x-only key is the group key's x.
        let adjust = frost::taproot_adjust(&split.commitments[0], None).unwrap();
        assert_eq!(
            frost::x_only(&adjust.point(&split.commitments[0])),
            frost::x_only(&split.commitments[0])
        );
    }
}

#[test]
fn a_tampered_taproot_share_names_its_signer() {
    let split = frost::split(&SecretScalar::random().unwrap(), 2, 3).unwrap();
    let adjust = frost::taproot_adjust(&split.commitments[0], Some(&[])).unwrap();
    let err = threshold_sign(&split, &[0, 1], &adjust, b"m", |zs| zs[1].1 += Scalar::ONE);
    assert_eq!(
        err,
        Err(SignError::Culprit {
            culprit: 2,
            reason: "its signature share does not verify".into()
        })
    );
}

#[test]
fn an_odd_signing_key_is_refused() {
    loop {
        let secret = SecretScalar::random().unwrap();
        let split = frost::split(&secret, 2, 2).unwrap();
        if !frost::has_odd_y(&split.commitments[0]) {
            continue;
        }
        let (i, s) = &split.shares[0];
        let n = frost::commit(Suite::Taproot, *i, s).unwrap();
        let m = frost::commit(Suite::Taproot, split.shares[1].0, &split.shares[1].1).unwrap();
        let list = CommitmentList::new(vec![n.commitments(), m.commitments()]).unwrap();
        let r = frost::sign(*i, s, &split.commitments[0], n, b"m", &list);
        assert!(matches!(r, Err(SignError::Parameters(_))));
        return;
    }
}
