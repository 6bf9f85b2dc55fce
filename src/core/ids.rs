//! Names that carry meaning, typed so they cannot be mixed up with other strings: a policy's id
//! (a static policy, a template or a link) and a profile's name. Both serialize as plain strings.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize, schemars::JsonSchema,
        )]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(name: impl Into<String>) -> Self {
                Self(name.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_string())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    };
}

string_id!(
    /// A policy, template or link id: the `@id` annotation, else `file#index` (docs/decisions.md).
    PolicyId
);

impl From<&cedar_policy::PolicyId> for PolicyId {
    /// The id as written (Cedar's `Display` escapes quotes and backslashes).
    fn from(id: &cedar_policy::PolicyId) -> Self {
        Self::new(AsRef::<str>::as_ref(id))
    }
}

/// A Cedar policy id as written, for maps keyed by plain strings.
pub fn raw(id: &cedar_policy::PolicyId) -> &str {
    AsRef::<str>::as_ref(id)
}

string_id!(
    /// A profile of `actas.yaml` (or `adhoc`, the `--context` one).
    ProfileName
);
