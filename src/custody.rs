//! Custody: what a signer node needs around the signing library: the
//! spending policy it enforces itself ([`policy`]) and the signed,
//! hash-chained log of what it decided and signed ([`audit`]).

pub mod audit;
pub mod policy;
