//! The end user's claims as a type of the application's own, deserialized once per verified
//! token and shared by every request that carries it.

use std::any::{Any, TypeId};
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, PoisonError, RwLock};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{ClaimsError, ClaimsErrorKind};

/// How many claim types one token keeps deserialized; a service asking for more than this
/// many types still gets them, deserialized each time.
const MAX_TYPES: usize = 8;

/// The end user's claims deserialized into `T`, shared: the claims of one verified token are
/// deserialized into `T` once, then every request carrying that token (the verified-token
/// cache keeps it) gets the same `Arc<T>`.
///
/// Get one from [`Principal::typed_claims`](super::Principal::typed_claims), as an axum
/// extractor (feature `axum`), or with
/// [`RequestExt::claims`](crate::tonic::RequestExt::claims) in tonic (feature `tonic`).
///
/// ```
/// # #[cfg(feature = "axum")] {
/// use meshward::Claims;
///
/// #[derive(serde::Deserialize)]
/// struct Tenant {
///     tenant: String,
///     #[serde(default)]
///     roles: Vec<String>,
/// }
///
/// async fn orders(claims: Claims<Tenant>) -> String {
///     format!("orders of {} ({} roles)", claims.tenant, claims.roles.len())
/// }
/// # let _: axum::routing::MethodRouter = axum::routing::get(orders);
/// # }
/// ```
///
/// In axum, a request without a principal is answered 401 (as the [`Principal`] extractor
/// does), and one whose claims do not have the shape of `T` 401 `invalid_token`
/// ([`TokenErrorKind::ClaimsMismatch`](crate::jwt::TokenErrorKind::ClaimsMismatch)).
///
/// [`Principal`]: super::Principal
pub struct Claims<T>(pub Arc<T>);

impl<T> Claims<T> {
    /// The shared value.
    pub fn into_inner(self) -> Arc<T> {
        self.0
    }
}

impl<T> Clone for Claims<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> Deref for Claims<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: fmt::Debug> fmt::Debug for Claims<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Claims").field(&self.0).finish()
    }
}

type Shared = Arc<dyn Any + Send + Sync>;

/// The claim types one verified token has been deserialized into. A clone starts empty.
#[derive(Default)]
pub(crate) struct TypedClaims {
    kept: RwLock<Vec<(TypeId, Shared)>>,
}

impl Clone for TypedClaims {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl TypedClaims {
    /// `claims` as a `T`, deserialized on the first call for `T` and kept.
    pub(crate) fn get_or_deserialize<T>(
        &self,
        claims: &Map<String, Value>,
    ) -> Result<Arc<T>, ClaimsError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let id = TypeId::of::<T>();
        if let Some(found) = self.find::<T>(id) {
            return Ok(found);
        }
        let value = Arc::new(
            T::deserialize(claims)
                .map_err(|e| ClaimsError::with_source(ClaimsErrorKind::Mismatch, e))?,
        );
        let mut kept = self.kept.write().unwrap_or_else(PoisonError::into_inner);
        // Another request may have deserialized it meanwhile: keep the first.
        if let Some(found) = find_in::<T>(&kept, id) {
            return Ok(found);
        }
        if kept.len() < MAX_TYPES {
            kept.push((id, Arc::clone(&value) as Shared));
        }
        Ok(value)
    }

    fn find<T: Send + Sync + 'static>(&self, id: TypeId) -> Option<Arc<T>> {
        find_in(
            &self.kept.read().unwrap_or_else(PoisonError::into_inner),
            id,
        )
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.kept
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

fn find_in<T: Send + Sync + 'static>(kept: &[(TypeId, Shared)], id: TypeId) -> Option<Arc<T>> {
    kept.iter()
        .find(|(t, _)| *t == id)
        .and_then(|(_, v)| Arc::clone(v).downcast::<T>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Tenant {
        tenant: String,
    }

    #[derive(serde::Deserialize)]
    struct Strict {
        #[allow(dead_code)]
        missing: u32,
    }

    fn claims() -> Map<String, Value> {
        match json!({"sub": "alice", "tenant": "acme"}) {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn deserialized_once_then_shared() {
        let typed = TypedClaims::default();
        let a = typed.get_or_deserialize::<Tenant>(&claims()).unwrap();
        let b = typed.get_or_deserialize::<Tenant>(&claims()).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.tenant, "acme");
        assert_eq!(typed.len(), 1);
        // A second type sits beside the first.
        let m = typed
            .get_or_deserialize::<Map<String, Value>>(&claims())
            .unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(typed.len(), 2);
        // A clone starts empty.
        assert_eq!(typed.clone().len(), 0);
    }

    /// Counts how often it is deserialized.
    struct Counted;

    static DESERIALIZED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    impl<'de> serde::Deserialize<'de> for Counted {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            DESERIALIZED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            serde::de::IgnoredAny::deserialize(d).map(|_| Counted)
        }
    }

    #[test]
    fn the_claims_are_deserialized_once_however_often_they_are_asked_for() {
        let typed = TypedClaims::default();
        for _ in 0..3 {
            typed.get_or_deserialize::<Counted>(&claims()).unwrap();
        }
        assert_eq!(DESERIALIZED.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn a_mismatch_is_an_error_and_not_kept() {
        let typed = TypedClaims::default();
        let e = typed.get_or_deserialize::<Strict>(&claims()).err().unwrap();
        assert_eq!(e.kind(), &ClaimsErrorKind::Mismatch);
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(typed.len(), 0);
    }

    #[test]
    fn at_most_eight_types_are_kept() {
        macro_rules! types {
            ($($t:ident)*) => {$(
                #[derive(serde::Deserialize)]
                #[allow(dead_code)]
                struct $t { tenant: String }
            )*};
        }
        types!(A B C D E F G H I);
        let typed = TypedClaims::default();
        let c = claims();
        let _ = typed.get_or_deserialize::<A>(&c).unwrap();
        let _ = typed.get_or_deserialize::<B>(&c).unwrap();
        let _ = typed.get_or_deserialize::<C>(&c).unwrap();
        let _ = typed.get_or_deserialize::<D>(&c).unwrap();
        let _ = typed.get_or_deserialize::<E>(&c).unwrap();
        let _ = typed.get_or_deserialize::<F>(&c).unwrap();
        let _ = typed.get_or_deserialize::<G>(&c).unwrap();
        let h1 = typed.get_or_deserialize::<H>(&c).unwrap();
        assert_eq!(typed.len(), 8);
        let i1 = typed.get_or_deserialize::<I>(&c).unwrap();
        let i2 = typed.get_or_deserialize::<I>(&c).unwrap();
        assert_eq!(typed.len(), 8);
        assert!(!Arc::ptr_eq(&i1, &i2), "the ninth type is not kept");
        assert!(Arc::ptr_eq(
            &h1,
            &typed.get_or_deserialize::<H>(&c).unwrap()
        ));
    }
}
