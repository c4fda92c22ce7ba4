//! BIP-340 Schnorr verification: the standard verifier that every BIP-340
//! and taproot signature made here must pass before it is released (k256's
//! implementation of BIP-340's `Verify`, with variable-length messages).

use k256::schnorr::{Signature, VerifyingKey};

/// BIP-340 `Verify(pk, m, sig)`: `pk` the 32-byte x-only key, `sig` the
/// 64-byte `R.x || s`. False for any malformed input (a key not on the
/// curve, `R.x` not below the field size, `s` not below the order).
pub fn verify(public_key: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    let Ok(key) = VerifyingKey::from_slice(public_key) else {
        return false;
    };
    let Ok(sig) = Signature::try_from(sig) else {
        return false;
    };
    key.verify_raw(msg, &sig).is_ok()
}
