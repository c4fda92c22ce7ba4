//! Custody: what a signer node needs around the signing library: the
//! spending policy it enforces itself ([`policy`]) and the signed,
//! hash-chained log of what it decided and signed ([`audit`]), and the
//! encrypted backups of its files whose key is split among holders
//! ([`backup`]).

pub mod audit;
pub mod backup;
pub mod policy;
