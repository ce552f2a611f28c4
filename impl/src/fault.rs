//! Seeded fault points, in the style of FoundationDB's `BUGGIFY`.
//!
//! A role carries a [`FaultSet`]: the seeded faults switched on for it. [`FaultSet::on`] is the
//! fault point. Without the cargo feature `faults` it is the constant `false`, so the buggy branch
//! is dead code that the compiler removes and a production build contains none of it; and
//! [`FaultSet::with`] refuses to switch anything on.

use serde::{Deserialize, Serialize};

/// A set of seeded faults, one bit each. Each protocol numbers its own faults (see
/// `ordering::Fault`), so a set is only meaningful next to the protocol that made it.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct FaultSet(u64);

/// Asking for a fault in a build without the `faults` feature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("seeded faults are compiled only with the cargo feature `faults`")]
pub struct FaultsNotCompiled;

impl FaultSet {
    /// No fault: the behaviour the text (faithful) or the hardening (hardened) prescribes.
    pub const NONE: FaultSet = FaultSet(0);

    /// Whether seeded faults are compiled into this build.
    pub const COMPILED: bool = cfg!(feature = "faults");

    /// This set plus fault number `bit` (0..64).
    pub fn with(self, bit: u32) -> Result<FaultSet, FaultsNotCompiled> {
        assert!(bit < 64, "fault bit {bit} out of range");
        if Self::COMPILED {
            Ok(FaultSet(self.0 | (1 << bit)))
        } else {
            Err(FaultsNotCompiled)
        }
    }

    /// The fault point: is fault number `bit` switched on?
    #[inline(always)]
    pub fn on(self, bit: u32) -> bool {
        #[cfg(feature = "faults")]
        {
            self.0 & (1u64 << bit) != 0
        }
        #[cfg(not(feature = "faults"))]
        {
            let _ = bit;
            false
        }
    }

    /// The fault numbers in this set, ascending.
    pub fn bits(self) -> impl Iterator<Item = u32> {
        (0..64).filter(move |b| self.0 & (1u64 << b) != 0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// A protocol's list of seeded faults, as generic code (the engine's registration helpers)
/// sees it. [`crate::seeded_faults!`] implements it.
pub trait SeededFault: Copy + 'static {
    /// Every fault of the list, in number order.
    fn all() -> &'static [Self];
    /// Its name, e.g. `B7`.
    fn name(self) -> &'static str;
    /// Its bit in a [`FaultSet`].
    fn number(self) -> u32;
}

/// A protocol's seeded faults: the enum, each variant with its doc comment and number, and
/// the methods every protocol's fault list has (`ALL`, `name`, `from_name`, `on`, `in_set`).
/// The name is the variant's identifier (`B7`), matched case-insensitively by `from_name`.
#[macro_export]
macro_rules! seeded_faults {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$doc:meta])* $variant:ident = $n:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$doc])* $variant = $n,)+
        }

        impl $name {
            /// Every fault of the list, in number order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => stringify!($variant),)+
                }
            }

            pub fn from_name(name: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|f| f.name().eq_ignore_ascii_case(name))
            }

            /// The fault point: is this fault on in `set`?
            #[inline(always)]
            pub fn on(self, set: $crate::fault::FaultSet) -> bool {
                set.on(self as u32)
            }

            /// The faults of `set` that are of this list.
            pub fn in_set(set: $crate::fault::FaultSet) -> Vec<$name> {
                $name::ALL.iter().copied().filter(|f| set.bits().any(|b| b == *f as u32)).collect()
            }
        }

        impl $crate::fault::SeededFault for $name {
            fn all() -> &'static [$name] {
                $name::ALL
            }

            fn name(self) -> &'static str {
                $name::name(self)
            }

            fn number(self) -> u32 {
                self as u32
            }
        }
    };
}
