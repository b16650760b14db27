//! The decision engine: an ordered stack of gates run over a request head, with no tower
//! service around it. What a proxy's authorization call (Envoy's ext_authz, nginx's
//! `auth_request`) is answered with.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::request::Parts;
use http::{Response, StatusCode};

use super::{Answer, Gate, Started};
use crate::principal::Principal;
use crate::rejection::{DefaultRejectionResponse, Rejection, RejectionResponse, pass_on_challenge};

/// What a gate's wait leaves to do: conclude on the head.
type Conclusion = Box<dyn FnOnce(&mut Parts) -> Result<(), Rejection> + Send>;
type Wait = Pin<Box<dyn Future<Output = Conclusion> + Send>>;

/// A gate behind one type, so that gates of different kinds stack.
trait DynGate: Send + Sync {
    fn check(&self, head: &mut Parts, started: Started) -> Answer<Result<(), Rejection>, Wait>;
    fn name(&self) -> &'static str;
}

struct Erased<G>(Arc<G>);

impl<G: Gate> DynGate for Erased<G> {
    fn check(&self, head: &mut Parts, started: Started) -> Answer<Result<(), Rejection>, Wait> {
        match self.0.check(head, started) {
            Answer::Now(decided) => Answer::Now(decided),
            Answer::Later(wait) => {
                let gate = Arc::clone(&self.0);
                Answer::Later(Box::pin(async move {
                    let found = wait.await;
                    Box::new(move |head: &mut Parts| gate.conclude(found, head, started))
                        as Conclusion
                }))
            }
        }
    }

    fn name(&self) -> &'static str {
        std::any::type_name::<G>()
    }
}

/// What can be a step of an [`Engine`]: a gate, or a layer that is one
/// ([`AuthLayer`](crate::jwt::AuthLayer), [`AuthzLayer`](crate::authz::AuthzLayer),
/// [`QuotaLayer`](crate::quota::QuotaLayer)). A layer's own responder is not used: the
/// engine answers every refusal with its own.
pub trait IntoGate {
    /// The gate.
    type Gate: Gate;

    /// The gate, shared with every clone of what it came from.
    fn into_gate(self) -> Arc<Self::Gate>;
}

impl<G: Gate> IntoGate for Arc<G> {
    type Gate = G;

    fn into_gate(self) -> Arc<G> {
        self
    }
}

/// An ordered stack of gates over request heads: the checks of a tower stack of meshward
/// layers, run on a request's head alone, the same code and the same answers. A proxy's
/// description of a request (method, path, headers, the peer it reported) becomes an
/// [`http::request::Parts`]; [`decide`](Self::decide) admits it, with what the gates added
/// to it (the [`Principal`]), or refuses it, with the [`Rejection`] and the response a
/// layer would have answered.
///
/// Cloning is cheap: clones share the gates.
///
/// ```
/// use meshward::gate::Engine;
/// use meshward::authz::{AuthzLayer, RuleTable};
///
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let engine = Engine::builder()
///     .gate(AuthzLayer::new(RuleTable::builder().build()?)) // denies every request
///     .build();
/// let (head, ()) = http::Request::get("/orders/7").body(())?.into_parts();
/// let refused = engine.decide(head).await.unwrap_err();
/// assert_eq!(refused.rejection().label(), "no_rule");
/// assert_eq!(refused.response().status(), 403);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Engine {
    gates: Arc<[Arc<dyn DynGate>]>,
    responder: DefaultRejectionResponse,
}

/// Builds an [`Engine`]; made by [`Engine::builder`].
#[must_use]
pub struct EngineBuilder {
    gates: Vec<Arc<dyn DynGate>>,
    responder: DefaultRejectionResponse,
}

impl Engine {
    /// Starts an engine with no gate (it admits every request).
    pub fn builder() -> EngineBuilder {
        EngineBuilder {
            gates: Vec::new(),
            responder: DefaultRejectionResponse::default(),
        }
    }

    /// Runs every gate over `head`, in order, until one refuses: a gate that decides at once
    /// does not wait, and one that needs to (a key fetch, a remote decision point, a shared
    /// store) is awaited here.
    ///
    /// # Errors
    ///
    /// [`Refused`]: the first gate's refusal, and the response a layer would answer.
    pub async fn decide(&self, mut head: Parts) -> Result<Admitted, Refused> {
        for gate in self.gates.iter() {
            let started = Started::now();
            let decided = match gate.check(&mut head, started) {
                Answer::Now(decided) => decided,
                Answer::Later(wait) => (wait.await)(&mut head),
            };
            match decided {
                Ok(()) => pass_on_challenge::<(), _>(&self.responder, &mut head.extensions),
                Err(rejection) => {
                    let response = self.responder.response(&rejection, &head);
                    return Err(Refused {
                        rejection,
                        response,
                    });
                }
            }
        }
        Ok(Admitted { head })
    }

    /// How many gates.
    pub fn len(&self) -> usize {
        self.gates.len()
    }

    /// Whether there is none (every request is admitted).
    pub fn is_empty(&self) -> bool {
        self.gates.is_empty()
    }
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field(
                "gates",
                &self.gates.iter().map(|g| g.name()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl EngineBuilder {
    /// Appends a gate: gates run in the order they were added, as layers run from the
    /// outermost in.
    pub fn gate(mut self, gate: impl IntoGate) -> Self {
        self.gates.push(Arc::new(Erased(gate.into_gate())));
        self
    }

    /// Answers refusals with `responder` (its realm and resource metadata in every
    /// challenge), instead of the default one.
    pub fn responder(mut self, responder: DefaultRejectionResponse) -> Self {
        self.responder = responder;
        self
    }

    /// The engine.
    pub fn build(self) -> Engine {
        Engine {
            gates: self.gates.into(),
            responder: self.responder,
        }
    }
}

impl fmt::Debug for EngineBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineBuilder")
            .field("gates", &self.gates.len())
            .finish_non_exhaustive()
    }
}

/// A request every gate admitted: its head, with what they added to it.
#[derive(Debug)]
pub struct Admitted {
    head: Parts,
}

impl Admitted {
    /// The head as the gates left it: the [`Principal`] and the peer in its extensions.
    pub fn head(&self) -> &Parts {
        &self.head
    }

    /// Who is calling, when an authentication gate admitted a credential.
    pub fn principal(&self) -> Option<&Principal> {
        self.head.extensions.get::<Principal>()
    }

    /// The head, to build the request going upstream from.
    pub fn into_head(self) -> Parts {
        self.head
    }
}

/// A request a gate refused: why, and what a meshward layer answers to it (the status, the
/// `WWW-Authenticate` challenge or the gRPC status, `Retry-After`).
#[derive(Debug)]
pub struct Refused {
    rejection: Rejection,
    response: Response<()>,
}

impl Refused {
    /// The refusal, with its kind, label and challenge.
    pub fn rejection(&self) -> &Rejection {
        &self.rejection
    }

    /// The response a layer answers, without a body.
    pub fn response(&self) -> &Response<()> {
        &self.response
    }

    /// The status the response carries (200 for a gRPC refusal, whose status is in
    /// `grpc-status`).
    pub fn status(&self) -> StatusCode {
        self.response.status()
    }

    /// The refusal and its response.
    pub fn into_parts(self) -> (Rejection, Response<()>) {
        (self.rejection, self.response)
    }
}
