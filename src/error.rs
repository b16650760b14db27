//! The shape every meshward error shares: an opaque struct holding a public, non-exhaustive
//! kind and a private source, as tower-http's and tonic's errors are built.

/// Declares `$name { kind: $kind, source }` with `kind()`, `source()`, `Display` from the
/// kind, a `Debug` that shows both, and `From<$kind>`.
macro_rules! kinded_error {
    ($(#[$meta:meta])* pub struct $name:ident($kind:ty);) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name {
            kind: $kind,
            source: Option<std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>>,
        }

        #[allow(dead_code)]
        impl $name {
            pub(crate) fn new(kind: $kind) -> Self {
                Self { kind, source: None }
            }

            pub(crate) fn with_source(
                kind: $kind,
                source: impl std::error::Error + Send + Sync + 'static,
            ) -> Self {
                Self {
                    kind,
                    source: Some(std::sync::Arc::new(source)),
                }
            }
        }

        impl $name {
            /// What went wrong.
            pub fn kind(&self) -> &$kind {
                &self.kind
            }
        }

        impl From<$kind> for $name {
            fn from(kind: $kind) -> Self {
                Self::new(kind)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut d = f.debug_struct(stringify!($name));
                d.field("kind", &self.kind);
                if let Some(source) = &self.source {
                    d.field("source", source);
                }
                d.finish()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.kind, f)
            }
        }

        impl std::error::Error for $name {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.source
                    .as_deref()
                    .map(|s| s as &(dyn std::error::Error + 'static))
            }
        }
    };
}

pub(crate) use kinded_error;
