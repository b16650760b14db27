//! The whole check of a chain with the keys at hand, one step at a time, in the order of the
//! specification (the manual's service-token chapter): the size and the type; each level,
//! outermost first; the levels against each other; the replay guard; the principal.

use super::*;
use crate::jwt::{SERVICE_TOKEN_TYPE, header_type};
use crate::principal::ServiceChain;
use crate::state::replay_key;

/// The levels of a chain, outermost first, and the end user's token at the bottom (none
/// when the innermost service called on its own behalf).
struct Walked {
    levels: Vec<Arc<VerifiedToken>>,
    user: Option<Arc<VerifiedToken>>,
}

impl ServiceTokenVerifier {
    /// The whole check, with the keys at hand.
    pub(super) fn check_now(&self, token: &str) -> Now {
        let inner = &*self.inner;
        let generations = self.generations();
        // 1. The size, then the type.
        if token.len() > inner.max_token_len {
            return TokenErrorKind::TooLarge {
                len: token.len(),
                max: inner.max_token_len,
            }
            .into();
        }
        let max_header = inner.services.max_header_len();
        if header_type(token, max_header).as_deref() != Some(SERVICE_TOKEN_TYPE) {
            return self.user_directly(token);
        }
        // 2. Each level, outermost first.
        let Walked { levels, user } = match self.walk(token, max_header) {
            Ok(walked) => walked,
            Err(now) => return now,
        };
        // 3 and 4. The levels against each other.
        if let Err(kind) = check_levels(&levels, user.as_ref()) {
            return kind.into();
        }
        let Some(received) = levels.first().cloned() else {
            return TokenErrorKind::Malformed.into();
        };
        // 5. The replay guard: decided here in memory, or a key to ask the shared store.
        let shared_key = match self.first_use_now(&received) {
            Ok(key) => key,
            Err(now) => return now,
        };
        // 6. Who is calling, remembered while the chain holds.
        let received_expires_at = received.expires_at;
        let (principal, expires_at, valid_already) = self.principal(levels, user, received);
        let now = unix_now();
        if let Some(chains) = &inner.chains
            && valid_already
        {
            chains.insert(&principal, expires_at, generations, now);
        }
        match shared_key {
            None => Now::Done(Ok(principal)),
            Some(key) => Now::NeedsFirstUse(FirstUse {
                key,
                expires_at: received_expires_at,
                principal,
            }),
        }
    }

    /// Not a service token: an end user's token directly, when that is accepted.
    fn user_directly(&self, token: &str) -> Now {
        match (&self.inner.users, self.inner.users_directly) {
            (Some(users), true) => match verified_now(users, token, true) {
                Ok(verified) => Now::Done(Ok(Principal::from_verified(verified))),
                Err(now) => now,
            },
            _ => TokenErrorKind::InvalidType.into(),
        }
    }

    /// Step 2: each level verified with its issuer's keys, addressed to the service that
    /// embedded it (the outermost to this one), naming its subject and its actor.
    fn walk(&self, token: &str, max_header: usize) -> Result<Walked, Now> {
        let inner = &*self.inner;
        let mut levels: Vec<Arc<VerifiedToken>> = Vec::with_capacity(inner.max_depth);
        let mut expected_audience = inner.identity.as_str().to_owned();
        // The level whose `subject_token` is the next level (none: start with `token`).
        let mut holder: Option<Arc<VerifiedToken>> = None;
        loop {
            if levels.len() >= inner.max_depth {
                return Err(TokenErrorKind::ChainTooDeep {
                    depth: levels.len() + 1,
                    max: inner.max_depth,
                }
                .into());
            }
            let current = match holder.as_deref() {
                None => token,
                Some(level) => subject_token(&level.claims)
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
            };
            let level = verified_now(&inner.services, current, false)?;
            // A service token is for one hop: a token good at two services could be
            // replayed by the first at the second.
            if level.audiences.len() > 1 {
                return Err(TokenErrorKind::MultipleAudiences.into());
            }
            if !level.audiences.contains(&expected_audience) {
                return Err(TokenErrorKind::InvalidAudience {
                    expected: vec![expected_audience],
                }
                .into());
            }
            let Some(subject) = level.subject.as_deref() else {
                return Err(TokenErrorKind::MissingClaim {
                    claim: "sub".into(),
                }
                .into());
            };
            actor_of(&level)?;
            let embedded = subject_token(&level.claims)?;
            levels.push(Arc::clone(&level));
            match embedded {
                // A service calling on its own behalf: the chain ends with it.
                None => {
                    if subject != level.issuer {
                        return Err(TokenErrorKind::SubjectMismatch.into());
                    }
                    if nested_actor(&level.claims).is_some() {
                        return Err(TokenErrorKind::ActorMismatch.into());
                    }
                    return Ok(Walked { levels, user: None });
                }
                Some(embedded)
                    if header_type(embedded, max_header).as_deref() == Some(SERVICE_TOKEN_TYPE) =>
                {
                    // The hop below was addressed to the service that embedded it.
                    expected_audience = level.issuer.clone();
                    holder = Some(level);
                }
                Some(embedded) => {
                    let Some(users) = &inner.users else {
                        return Err(TokenErrorKind::InvalidIssuer.into());
                    };
                    let user = verified_now(users, embedded, true)?;
                    return Ok(Walked {
                        levels,
                        user: Some(user),
                    });
                }
            }
        }
    }

    /// Step 5: the outermost `jti` not seen before. `Ok(None)` when there is no guard or
    /// the guard in memory has recorded it now; `Ok(Some(key))` to ask the shared store.
    fn first_use_now(&self, received: &VerifiedToken) -> Result<Option<String>, Now> {
        let Some(guard) = &self.inner.replay else {
            return Ok(None);
        };
        let Some(jti) = received.jwt_id.as_deref() else {
            return Err(TokenErrorKind::MissingClaim {
                claim: "jti".into(),
            }
            .into());
        };
        match guard {
            Guard::Local(guard) => match guard.first_use(jti, unix_time(received.expires_at)) {
                Ok(true) => Ok(None),
                Ok(false) => Err(TokenErrorKind::Replayed.into()),
                Err(error) => Err(Now::Done(Err(TokenError::with_source(
                    TokenErrorKind::ReplayGuardUnavailable,
                    error,
                )))),
            },
            Guard::Shared(_) => Ok(Some(replay_key(&received.issuer, jti))),
        }
    }

    /// Step 6: the principal (the end user, or the innermost service acting for itself,
    /// with the chain), the earliest `exp` of every level, and whether every level is valid
    /// already (its `nbf` passed), so that the chain may be remembered.
    fn principal(
        &self,
        levels: Vec<Arc<VerifiedToken>>,
        user: Option<Arc<VerifiedToken>>,
        received: Arc<VerifiedToken>,
    ) -> (Principal, i64, bool) {
        let expires_at = levels
            .iter()
            .chain(user.as_ref())
            .map(|l| l.expires_at)
            .min()
            .unwrap_or(received.expires_at);
        let actors = levels.iter().rev().map(|l| l.issuer.clone()).collect();
        let bound_peer = self.inner.bind_to_peer.then(|| received.issuer.clone());
        let now = unix_now();
        let valid_already = levels
            .iter()
            .chain(user.as_ref())
            .all(|l| l.not_before.is_none_or(|nbf| nbf <= now));
        let innermost = user.unwrap_or_else(|| Arc::clone(levels.last().unwrap_or(&received)));
        let principal = Principal::through_services(
            innermost,
            ServiceChain {
                received,
                actors,
                expires_at,
                bound_peer,
            },
        );
        (principal, expires_at, valid_already)
    }
}

/// Steps 3 and 4: no `jti` twice; every level against the one directly below it (the same
/// `sub`, no scope the level below lacks, its `act.act` the `act` below).
fn check_levels(
    levels: &[Arc<VerifiedToken>],
    user: Option<&Arc<VerifiedToken>>,
) -> Result<(), TokenErrorKind> {
    // No honest signer repeats a `jti` inside one chain: a level that does nested a token it
    // addressed to itself, or copied another's.
    if repeats_token_id(levels.iter().chain(user)) {
        return Err(TokenErrorKind::RepeatedTokenId);
    }
    for (i, level) in levels.iter().enumerate() {
        let Some(below) = levels.get(i + 1).or(user) else {
            continue;
        };
        if level.subject != below.subject {
            return Err(TokenErrorKind::SubjectMismatch);
        }
        if !level.scopes.iter().all(|s| below.scopes.contains(s)) {
            return Err(TokenErrorKind::ScopeWidened);
        }
        if nested_actor(&level.claims) != below.claims.get("act") {
            return Err(TokenErrorKind::ActorMismatch);
        }
    }
    Ok(())
}

/// Whether two levels of a chain carry the same `jti` (levels without one are passed over).
fn repeats_token_id<'a>(levels: impl Iterator<Item = &'a Arc<VerifiedToken>>) -> bool {
    let mut seen: Vec<&str> = Vec::with_capacity(DEFAULT_MAX_DEPTH + 1);
    for jti in levels.filter_map(|level| level.jwt_id.as_deref()) {
        if seen.contains(&jti) {
            return true;
        }
        seen.push(jti);
    }
    false
}

/// The `subject_token` claim: absent, or a string.
fn subject_token(claims: &Map<String, Value>) -> Result<Option<&str>, TokenErrorKind> {
    match claims.get("subject_token") {
        None => Ok(None),
        Some(Value::String(token)) => Ok(Some(token)),
        Some(_) => Err(TokenErrorKind::InvalidClaim {
            claim: "subject_token".into(),
        }),
    }
}

/// Checks that `act` is an object naming the level's issuer.
fn actor_of(level: &VerifiedToken) -> Result<(), TokenErrorKind> {
    match level.claims.get("act") {
        None => Err(TokenErrorKind::MissingClaim {
            claim: "act".into(),
        }),
        Some(Value::Object(act)) => match act.get("sub") {
            Some(Value::String(sub)) if *sub == level.issuer => Ok(()),
            Some(Value::String(_)) => Err(TokenErrorKind::ActorMismatch),
            _ => Err(TokenErrorKind::InvalidClaim {
                claim: "act".into(),
            }),
        },
        Some(_) => Err(TokenErrorKind::InvalidClaim {
            claim: "act".into(),
        }),
    }
}

/// The actors before this level: `act.act`.
fn nested_actor(claims: &Map<String, Value>) -> Option<&Value> {
    claims.get("act").and_then(|act| act.get("act"))
}
