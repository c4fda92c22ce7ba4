#![doc = include_str!("../README.md")]
#![deny(unsafe_code)] // only `simd` may use it; see that module's safety notes

pub mod arith;
pub mod block;
pub mod gc;
pub mod hash;
pub mod net;
pub mod ot;
pub mod prg;
pub mod psi;
pub mod sign;
pub mod simd;
pub mod yao;

pub use block::Block;
pub use hash::{Aes, FixedKeyAes};
pub use prg::{Prg, Seed};
