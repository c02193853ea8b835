//! The shape every aggregate id shares: a UUID the edge generates (the domain
//! never makes ids up, so deciding stays pure and a retried request reuses its
//! id), serialised as a bare UUID string, parsed with an error naming the input.

/// Declares a UUID newtype id with its conversions, `Display` and `FromStr`
/// (failing with `$error { input, source }`).
#[macro_export]
macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident, $error:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// Wraps a UUID the caller generated.
            pub const fn from_uuid(uuid: uuid::Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }
        }

        impl From<uuid::Uuid> for $name {
            fn from(uuid: uuid::Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for uuid::Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = $error;

            fn from_str(input: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(input)
                    .map(Self)
                    .map_err(|source| $error {
                        input: input.to_owned(),
                        source,
                    })
            }
        }
    };
}
