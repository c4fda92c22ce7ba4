//! A secret scalar: zeroized on drop, never printed.

use k256::Scalar;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret scalar (a key share, a nonce): zeroized when dropped, shown as
/// `SecretScalar(..)` by `Debug`, and reached only through
/// [`expose`](SecretScalar::expose).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretScalar(Scalar);

impl SecretScalar {
    /// Wraps `s`.
    pub fn new(s: Scalar) -> Self {
        Self(s)
    }

    /// The scalar, for the protocol step that needs it.
    pub fn expose(&self) -> &Scalar {
        &self.0
    }

    /// A uniform scalar from the operating system's generator.
    pub fn random() -> Result<Self, getrandom::Error> {
        super::encoding::random_scalar().map(Self)
    }
}

impl std::fmt::Debug for SecretScalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretScalar(..)")
    }
}
