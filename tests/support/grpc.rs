//! A hand-written unary gRPC service for the end-to-end tests (no protoc):
//! `/meshward.test.WhoAmI/Get`, whose handler reads the principal and the peer with
//! meshward's `RequestExt` and answers them as one string.

use meshward::tonic::RequestExt;
use tonic::body::Body;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

#[path = "../../examples/support/unary.rs"]
mod unary;
pub(crate) use self::unary::{ServiceName, Unary, call_unary};

pub const WHOAMI: &str = "/meshward.test.WhoAmI/Get";

/// The name of the test service.
pub struct WhoAmI;

/// The claim type the handler reads with `RequestExt::claims`.
#[derive(serde::Deserialize)]
pub struct Tenant {
    pub tenant: String,
}

impl ServiceName for WhoAmI {
    const NAME: &'static str = "meshward.test.WhoAmI";
}

/// The service: `WhoAmI/Get` answered by [`whoami_handler`].
pub fn whoami_service() -> Unary<WhoAmI, fn(Request<()>) -> Answer> {
    Unary::new(|request| Box::pin(whoami_handler(request)))
}

type Answer =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response<String>, Status>> + Send>>;

/// "sub=<subject> peer=<SPIFFE ID seen by the handler> bound=<principal's peer>" and, when
/// the call came through services, " chain=<a>b>"; " tenant=<t>" when the end user's token
/// carries a `tenant` claim.
async fn whoami_handler(request: Request<()>) -> Result<Response<String>, Status> {
    let sub = request.principal().and_then(|p| p.subject()).unwrap_or("-");
    let peer = request
        .peer_identity()
        .and_then(|p| p.spiffe_id().map(|s| s.to_string()))
        .unwrap_or_else(|| "-".into());
    let bound = request
        .principal()
        .and_then(|p| p.peer())
        .and_then(|p| p.spiffe_id().map(|s| s.to_string()))
        .unwrap_or_else(|| "-".into());
    let chain = request
        .principal()
        .filter(|p| p.is_delegated())
        .map(|p| format!(" chain={}", p.actor_chain().join(">")))
        .unwrap_or_default();
    let tenant = request
        .claims::<Tenant>()
        .map(|t| format!(" tenant={}", t.tenant))
        .unwrap_or_default();
    Ok(Response::new(format!(
        "sub={sub} peer={peer} bound={bound}{chain}{tenant}"
    )))
}

/// Calls `WhoAmI/Get` with an optional bearer token.
pub async fn whoami(channel: Channel, token: Option<&str>) -> Result<String, Status> {
    let mut request = Request::new(());
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    call(channel, request).await
}

/// Calls `WhoAmI/Get` through any gRPC client service (a `Channel` wrapped in layers).
pub async fn call<T>(service: T, request: Request<()>) -> Result<String, Status>
where
    T: tonic::client::GrpcService<Body>,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::ResponseBody: hyper::body::Body<Data = hyper::body::Bytes> + Send + 'static,
    <T::ResponseBody as hyper::body::Body>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    call_unary(service, WHOAMI, request).await
}
