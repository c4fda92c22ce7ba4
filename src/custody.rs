//! Custody: what a signer node needs around the signing library: the
//! spending policy it enforces itself ([`policy`]) and the signed,
//! hash-chained log of what it decided and signed ([`audit`]), and the
//! encrypted backups of its files whose key is split among holders
//! ([`backup`]).

pub mod audit;
pub mod backup;
pub mod node;
pub mod policy;

/// Lower-case hex.
pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Bytes from hex; `None` if `s` is not an even number of hex digits.
pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}
