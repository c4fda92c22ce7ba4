//! RFC 9591's FROST(secp256k1, SHA-256) known-answer vectors
//! (`../shared/vectors/rfc9591-frost-secp256k1-sha256.json`): every
//! intermediate value of both rounds and the final signature.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use k256::ProjectivePoint;
use quorate_engine::sign::frost::{self, CommitmentList, Suite};
use quorate_engine::sign::{
    Identifier, SecretScalar, point_from_bytes, point_to_bytes, scalar_from_bytes, scalar_to_bytes,
};
use serde_json::Value;

fn hexv(v: &Value) -> Vec<u8> {
    common::hex(v.as_str().unwrap())
}

fn id(v: &Value) -> Identifier {
    Identifier::new(v.as_u64().unwrap() as u16).unwrap()
}

#[test]
fn rfc9591_secp256k1_vectors() {
    check_vectors(
        "vectors/rfc9591-frost-secp256k1-sha256.json",
        Suite::Rfc9591,
    );
}

/// The taproot (BIP-340) ciphersuite's vectors from the Zcash Foundation's
/// `frost-secp256k1-tr`: same rounds, x-only challenge, 64-byte signature.
#[test]
fn frost_secp256k1_tr_vectors() {
    check_vectors("vectors/frost-secp256k1-tr/vectors.json", Suite::Taproot);
}

fn check_vectors(file: &str, suite: Suite) {
    let Some(dir) = common::shared() else { return };
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let inputs = &v["inputs"];
    let group_secret = scalar_from_bytes(&hexv(&inputs["group_secret_key"])).unwrap();
    let key_field = match suite {
        Suite::Rfc9591 => "group_public_key",
        Suite::Taproot => "verifying_key_key",
    };
    let group_key = point_from_bytes(&hexv(&inputs[key_field])).unwrap();
    assert_eq!(ProjectivePoint::GENERATOR * group_secret, group_key);
    let msg = hexv(&inputs["message"]);

    // The dealer's polynomial gives the listed shares.
    let mut coeffs = vec![SecretScalar::new(group_secret)];
    for c in inputs["share_polynomial_coefficients"].as_array().unwrap() {
        coeffs.push(SecretScalar::new(scalar_from_bytes(&hexv(c)).unwrap()));
    }
    let shares: Vec<(Identifier, SecretScalar)> = inputs["participant_shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                id(&p["identifier"]),
                SecretScalar::new(scalar_from_bytes(&hexv(&p["participant_share"])).unwrap()),
            )
        })
        .collect();
    let x: Vec<u64> = shares.iter().map(|(i, _)| u64::from(i.get())).collect();
    for ((_, s), x) in shares.iter().zip(x) {
        let fx = coeffs.iter().rev().fold(k256::Scalar::ZERO, |acc, c| {
            acc * k256::Scalar::from(x) + c.expose()
        });
        assert_eq!(fx, *s.expose());
    }
    let share_of = |i: Identifier| &shares.iter().find(|(j, _)| *j == i).unwrap().1;

    // Round one.
    let r1 = v["round_one_outputs"]["outputs"].as_array().unwrap();
    let mut nonces = Vec::new();
    for o in r1 {
        let i = id(&o["identifier"]);
        let hr: [u8; 32] = hexv(&o["hiding_nonce_randomness"]).try_into().unwrap();
        let br: [u8; 32] = hexv(&o["binding_nonce_randomness"]).try_into().unwrap();
        let n = frost::commit_with(suite, i, share_of(i), &hr, &br);
        let c = n.commitments();
        assert_eq!(
            point_to_bytes(&c.hiding).to_vec(),
            hexv(&o["hiding_nonce_commitment"])
        );
        assert_eq!(
            point_to_bytes(&c.binding).to_vec(),
            hexv(&o["binding_nonce_commitment"])
        );
        let hiding = scalar_from_bytes(&hexv(&o["hiding_nonce"])).unwrap();
        assert_eq!(ProjectivePoint::GENERATOR * hiding, c.hiding);
        nonces.push(n);
    }
    let list = CommitmentList::new(nonces.iter().map(|n| n.commitments()).collect()).unwrap();
    let factors = frost::binding_factors(suite, &group_key, &list, &msg);
    for (o, (i, rho)) in r1.iter().zip(&factors) {
        assert_eq!(*i, id(&o["identifier"]));
        assert_eq!(scalar_to_bytes(rho).to_vec(), hexv(&o["binding_factor"]));
        // The binding factor's input as the RFC lists it.
        let input = hexv(&o["binding_factor_input"]);
        assert_eq!(&input[..33], &point_to_bytes(&group_key));
        assert_eq!(&input[33..65], &suite.h4(&msg));
        assert_eq!(&input[65..97], &suite.h5(&list.encode()));
        assert_eq!(&input[97..], &i.to_bytes());
    }

    // Round two.
    let r2 = v["round_two_outputs"]["outputs"].as_array().unwrap();
    let mut zs = Vec::new();
    for (o, n) in r2.iter().zip(nonces) {
        let i = id(&o["identifier"]);
        let z = frost::sign(i, share_of(i), &group_key, n, &msg, &list).unwrap();
        assert_eq!(scalar_to_bytes(&z).to_vec(), hexv(&o["sig_share"]));
        let vs = ProjectivePoint::GENERATOR * share_of(i).expose();
        frost::verify_share(suite, i, &vs, &z, &list, &group_key, &msg).unwrap();
        zs.push((i, z));
    }
    let vss: Vec<(Identifier, ProjectivePoint)> = shares
        .iter()
        .map(|(i, s)| (*i, ProjectivePoint::GENERATOR * s.expose()))
        .collect();
    let sig = frost::aggregate(suite, &list, &msg, &group_key, &zs, &vss).unwrap();
    assert_eq!(sig.encode(suite), hexv(&v["final_output"]["sig"]));
    assert!(frost::verify(suite, &group_key, &msg, &sig));
    match suite {
        Suite::Rfc9591 => {
            assert_eq!(frost::Signature::from_bytes(&sig.to_bytes()).unwrap(), sig)
        }
        Suite::Taproot => {
            let b = sig.to_bip340_bytes();
            assert_eq!(frost::Signature::from_bip340_bytes(&b).unwrap(), sig);
            // The standard BIP-340 verifier accepts it.
            assert!(quorate_engine::sign::bip340::verify(
                &frost::x_only(&group_key),
                &msg,
                &b
            ));
        }
    }
}
