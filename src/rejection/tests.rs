//! The rendering of refusals: statuses, challenges, gRPC trailers, parameters passed on.

use super::*;
use http::Request;

#[derive(Debug, thiserror::Error)]
#[error("test fault")]
struct Fault(RejectionKind);

impl Refusal for Fault {
    fn rejection_kind(&self) -> RejectionKind {
        self.0
    }
    fn client_description(&self) -> &'static str {
        match self.0 {
            RejectionKind::MissingCredentials => "bearer token required",
            RejectionKind::InvalidToken => "invalid signature",
            RejectionKind::Unavailable => "verification keys unavailable",
            _ => "token expired",
        }
    }
    fn label(&self) -> &'static str {
        "test"
    }
}

fn rejection(kind: RejectionKind) -> Rejection {
    Rejection::refuse(Fault(kind))
}

#[test]
fn challenge_for_missing_token_has_no_error_code() {
    let r = rejection(RejectionKind::MissingCredentials);
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.www_authenticate(None).unwrap(), "Bearer");
    assert_eq!(
        r.www_authenticate(Some("api")).unwrap(),
        "Bearer realm=\"api\""
    );
    assert_eq!(r.grpc_code(), 16);
}

#[test]
fn challenge_for_invalid_token() {
    let r = rejection(RejectionKind::InvalidToken);
    assert_eq!(
        r.www_authenticate(Some("a\"b")).unwrap(),
        "Bearer realm=\"a\\\"b\", error=\"invalid_token\", error_description=\"invalid signature\""
    );
}

#[test]
fn unavailable_has_no_challenge() {
    let r = rejection(RejectionKind::Unavailable);
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.www_authenticate(None).is_none());
    assert_eq!(r.grpc_code(), 14);
}

#[test]
fn too_many_requests_says_when_to_come_back_in_whole_seconds() {
    let r = rejection(RejectionKind::TooManyRequests);
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.grpc_code(), 8);
    assert!(r.www_authenticate(Some("api")).is_none());
    let plain: Response<()> = r.to_http_response(None);
    assert!(plain.headers().get(RETRY_AFTER).is_none());
    for (wait, seconds) in [
        (Duration::ZERO, "1"),
        (Duration::from_millis(200), "1"),
        (Duration::from_secs(1), "1"),
        (Duration::from_millis(1_001), "2"),
        (Duration::from_secs(30), "30"),
        (Duration::MAX, "18446744073709551615"),
    ] {
        let response: Response<()> = r.clone().with_retry_after(wait).to_http_response(None);
        assert_eq!(response.headers()[RETRY_AFTER], seconds, "{wait:?}");
    }
    assert_eq!(
        r.with_retry_after(Duration::from_secs(3)).retry_after(),
        Some(Duration::from_secs(3))
    );
}

#[test]
fn grpc_detection() {
    let mut h = HeaderMap::new();
    assert!(!is_grpc(&h));
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/grpc+proto"),
    );
    assert!(is_grpc(&h));
    h.insert(CONTENT_TYPE, HeaderValue::from_static("Application/GRPC"));
    assert!(is_grpc(&h));
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    assert!(!is_grpc(&h));
}

#[test]
fn grpc_message_is_percent_encoded() {
    assert_eq!(grpc_percent_encode("100% é"), "100%25 %C3%A9");
    let res: Response<()> = rejection(RejectionKind::InvalidToken)
        .with_scope("x")
        .to_grpc_response();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["grpc-status"], "16");
    assert_eq!(res.headers()["grpc-message"], "invalid signature");
}

#[test]
fn display_prints_the_description_once_and_the_source_has_the_detail() {
    let r = rejection(RejectionKind::InvalidToken);
    assert_eq!(r.to_string(), "invalid signature");
    assert_eq!(r.source().unwrap().to_string(), "test fault");
    assert_eq!(r.label(), "test");
}

#[test]
fn realm_passed_on_reaches_a_default_responder_without_one() {
    let first = DefaultRejectionResponse::new().realm("api");
    let mut request = Request::new(());
    pass_on_challenge::<(), _>(&first, request.extensions_mut());
    let later = DefaultRejectionResponse::new();
    let response: Response<()> = respond_to(
        &later,
        rejection(RejectionKind::MissingCredentials),
        &request.into_parts().0,
    );
    assert_eq!(response.headers()[WWW_AUTHENTICATE], "Bearer realm=\"api\"");
    // A layer's own realm wins over the one passed on.
    let mut request = Request::new(());
    pass_on_challenge::<(), _>(&first, request.extensions_mut());
    let own = DefaultRejectionResponse::new().realm("own");
    let response: Response<()> = respond_to(
        &own,
        rejection(RejectionKind::MissingCredentials),
        &request.into_parts().0,
    );
    assert_eq!(response.headers()[WWW_AUTHENTICATE], "Bearer realm=\"own\"");
}

#[test]
fn resource_metadata_is_named_in_every_challenge_and_passed_on() {
    let url = "https://api.test/.well-known/oauth-protected-resource";
    let first = DefaultRejectionResponse::new()
        .realm("api")
        .resource_metadata(format!("{url}\n"));
    let challenge = |responder: &DefaultRejectionResponse, kind, pass_on: bool| {
        let mut request = Request::new(());
        if pass_on {
            pass_on_challenge::<(), _>(&first, request.extensions_mut());
        }
        let response: Response<()> =
            respond_to(responder, rejection(kind), &request.into_parts().0);
        response
            .headers()
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        challenge(&first, RejectionKind::MissingCredentials, false).unwrap(),
        format!("Bearer realm=\"api\", resource_metadata=\"{url}\"")
    );
    let invalid = challenge(&first, RejectionKind::InvalidToken, false).unwrap();
    assert!(
        invalid.starts_with("Bearer realm=\"api\", error=\"invalid_token\""),
        "{invalid}"
    );
    assert!(
        invalid.ends_with(&format!(", resource_metadata=\"{url}\"")),
        "{invalid}"
    );
    // Passed on to a later layer's default responder; none where no challenge is due.
    let later = DefaultRejectionResponse::new();
    assert!(
        challenge(&later, RejectionKind::MissingCredentials, true)
            .unwrap()
            .contains("resource_metadata")
    );
    assert_eq!(challenge(&later, RejectionKind::Unavailable, true), None);
    // Alone, without a realm.
    let alone = DefaultRejectionResponse::new().resource_metadata(url);
    assert_eq!(
        challenge(&alone, RejectionKind::MissingCredentials, false).unwrap(),
        format!("Bearer resource_metadata=\"{url}\"")
    );
    assert_eq!(
        RejectionResponse::<()>::challenge_params(&alone).map(ChallengeParams::realm),
        Some("")
    );
    assert_eq!(
        RejectionResponse::<()>::challenge_params(&first)
            .and_then(ChallengeParams::resource_metadata),
        Some(url)
    );
}
