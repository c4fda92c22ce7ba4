//! Building blocks of private set intersection.
//!
//! - [`oprf`]: the batched oblivious PRF of Kolesnikov, Kumaresan,
//!   Rosulek and Trieu (KKRT16, "Efficient Batched Oblivious PRF with
//!   Applications to Private Set Intersection", CCS 2016), semi-honest,
//!   on the engine's base OTs: the receiver learns `F(j, r_j)` for its
//!   one input per bin `j`, the sender can evaluate `F(j, x)` for any
//!   `x`, and neither learns anything else.
//! - [`cuckoo`]: cuckoo hashing of the receiver's items into bins (one
//!   item per bin, three hash functions) and simple hashing of the
//!   sender's items (each into all three of its bins), as PSI protocols
//!   built on a batched OPRF arrange their inputs (Pinkas, Schneider,
//!   Zohner 2014; KKRT16 section 5).

pub mod cuckoo;
pub mod join;
pub mod okvs;
pub mod oprf;
