//! The client side of mutual TLS: a rustls `ClientConfig` that presents the service's own
//! certificate and checks the server's, by SPIFFE ID or DNS name, with the same reload and
//! file watching as the server side.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_cert_signed_by_trust_anchor};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::error::{MtlsConfigError, MtlsConfigErrorKind};
use super::pem::{Pem, TlsIdentity};
use super::reload::{Inputs, Reloadable, WatchHandle};
use crate::peer::PeerIdentity;

/// A service's client side of mutual TLS: it presents the service's certificate to the
/// services it calls and accepts only servers whose certificate chains to the mesh's CA and
/// names the expected identity.
///
/// By default the server must hold a certificate for the DNS name (or IP) the client dials,
/// as browsers check. In a mesh of X.509-SVIDs, name the SPIFFE IDs (or the trust domain)
/// the server must prove instead.
///
/// Use it with a hyper-util client or a tonic `Channel` through
/// [`connector`](Self::connector) (feature `hyper`), or take the
/// [`client_config`](Self::client_config) to any rustls-based client. Its files can be
/// reloaded and watched as an [`MtlsAcceptor`](super::MtlsAcceptor)'s.
///
/// ```no_run
/// use meshward::mtls::{TlsIdentity, MtlsClient};
///
/// let client = MtlsClient::builder(TlsIdentity::pem_files("orders.pem", "orders.key"))
///     .add_server_ca_pem_file("mesh-ca.pem")
///     .expect_server_spiffe_id("spiffe://prod.example/ns/shop/sa/inventory")
///     .build()?;
/// # Ok::<_, meshward::mtls::MtlsConfigError>(())
/// ```
#[derive(Clone)]
pub struct MtlsClient {
    config: Arc<Reloadable<MtlsClientBuilder>>,
}

/// Configures an [`MtlsClient`]; made by [`MtlsClient::builder`].
#[derive(Clone)]
#[must_use]
pub struct MtlsClientBuilder {
    cert: TlsIdentity,
    server_cas: Vec<Pem>,
    expect: Expect,
    alpn: Vec<Vec<u8>>,
}

/// What the server's certificate must prove.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    /// The DNS name or IP address dialled (standard server authentication).
    DialledName,
    /// One of these SPIFFE IDs, in the certificate's one URI SAN.
    SpiffeIds(Vec<String>),
    /// Any SPIFFE ID of this trust domain.
    TrustDomain(String),
}

impl MtlsClient {
    /// Starts configuring a client that presents `cert`.
    pub fn builder(cert: TlsIdentity) -> MtlsClientBuilder {
        MtlsClientBuilder {
            cert,
            server_cas: Vec::new(),
            expect: Expect::DialledName,
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        }
    }

    /// The rustls configuration new connections use.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        self.config.current()
    }

    /// Rebuilds the configuration from the builder's inputs (files are read again); on error
    /// the old configuration keeps serving.
    ///
    /// # Errors
    ///
    /// The [`MtlsConfigError`] of the new inputs.
    pub fn reload(&self) -> Result<(), MtlsConfigError> {
        self.config.reload()
    }

    /// Replaces the inputs and reloads.
    ///
    /// # Errors
    ///
    /// The [`MtlsConfigError`] of the new inputs; the old ones keep serving.
    pub fn reload_with(&self, builder: MtlsClientBuilder) -> Result<(), MtlsConfigError> {
        self.config.reload_with(builder)
    }

    /// Reads the input files every `interval` and reloads when one changed; see
    /// [`MtlsAcceptor::watch`](super::MtlsAcceptor::watch).
    pub fn watch(&self, interval: Duration) -> WatchHandle {
        self.config.watch(interval)
    }

    /// Successful reloads so far.
    pub fn reloads(&self) -> u64 {
        self.config.reloads()
    }

    /// A connector for hyper-util's client and tonic's `Endpoint::connect_with_connector`:
    /// TCP, then this client's TLS, for each connection.
    #[cfg(feature = "hyper")]
    #[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
    pub fn connector(&self) -> super::MtlsConnector {
        super::MtlsConnector::new(self.clone())
    }
}

impl fmt::Debug for MtlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MtlsClient")
            .field("reloads", &self.reloads())
            .finish_non_exhaustive()
    }
}

impl MtlsClientBuilder {
    /// Adds a PEM file of CA certificates that servers' certificates must chain to.
    pub fn add_server_ca_pem_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.server_cas.push(Pem::File(path.into()));
        self
    }

    /// Adds PEM CA certificates that servers' certificates must chain to.
    pub fn add_server_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.server_cas
            .push(Pem::Bytes(pem.into().into(), "in-memory server CA bundle"));
        self
    }

    /// Accepts a server only if its certificate's SPIFFE ID is `id` (call again to accept
    /// several), whatever name was dialled.
    pub fn expect_server_spiffe_id(mut self, id: impl Into<String>) -> Self {
        match &mut self.expect {
            Expect::SpiffeIds(ids) => ids.push(id.into()),
            other => *other = Expect::SpiffeIds(vec![id.into()]),
        }
        self
    }

    /// Accepts a server with any SPIFFE ID of `trust_domain`, whatever name was dialled.
    pub fn expect_server_trust_domain(mut self, trust_domain: impl Into<String>) -> Self {
        self.expect = Expect::TrustDomain(trust_domain.into());
        self
    }

    /// ALPN protocols offered, in order (default `h2`, `http/1.1`).
    pub fn alpn_protocols(
        mut self,
        protocols: impl IntoIterator<Item = impl Into<Vec<u8>>>,
    ) -> Self {
        self.alpn = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Reads the files and builds the client. Does no network I/O.
    ///
    /// # Errors
    ///
    /// An [`MtlsConfigError`] naming the file and the fault;
    /// [`MtlsConfigErrorKind::NoServerCa`] without a CA bundle.
    pub fn build(self) -> Result<MtlsClient, MtlsConfigError> {
        let config = self.build_config()?;
        Ok(MtlsClient {
            config: Arc::new(Reloadable::new(self, config)),
        })
    }
}

impl Inputs for MtlsClientBuilder {
    type Config = ClientConfig;
    const WHAT: &'static str = "client";

    fn build_config(&self) -> Result<Arc<ClientConfig>, MtlsConfigError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        if self.server_cas.is_empty() {
            return Err(MtlsConfigErrorKind::NoServerCa.into());
        }
        let mut roots = RootCertStore::empty();
        for ca in &self.server_cas {
            for cert in ca.certificates()? {
                roots.add(cert).map_err(|e| {
                    MtlsConfigError::with_source(
                        MtlsConfigErrorKind::InvalidPem { what: ca.what() },
                        e,
                    )
                })?;
            }
        }
        let roots = Arc::new(roots);
        let webpki =
            WebPkiServerVerifier::builder_with_provider(Arc::clone(&roots), Arc::clone(&provider))
                .build()
                .map_err(|e| {
                    MtlsConfigError::with_source(MtlsConfigErrorKind::InvalidServerVerifier, e)
                })?;
        let verifier = Arc::new(ServerVerifier {
            roots,
            webpki,
            expect: self.expect.clone(),
            algorithms: provider.signature_verification_algorithms,
        });
        let chain = self.cert.chain.certificates()?;
        let key = self.cert.key.private_key()?;
        let mut config = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| {
                MtlsConfigError::with_source(MtlsConfigErrorKind::InvalidServerVerifier, e)
            })?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_auth_cert(chain, key)
            .map_err(|e| {
                MtlsConfigError::with_source(
                    MtlsConfigErrorKind::InvalidServerCertificate {
                        what: self.cert.chain.what(),
                    },
                    e,
                )
            })?;
        config.alpn_protocols.clone_from(&self.alpn);
        Ok(Arc::new(config))
    }

    fn fingerprint(&self) -> [u8; 32] {
        let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for pem in [&self.cert.chain, &self.cert.key]
            .into_iter()
            .chain(&self.server_cas)
        {
            pem.fingerprint_into(&mut digest);
        }
        let mut out = [0; 32];
        out.copy_from_slice(digest.finish().as_ref());
        out
    }
}

impl fmt::Debug for MtlsClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MtlsClientBuilder")
            .field("cert", &self.cert)
            .field(
                "server_cas",
                &self.server_cas.iter().map(Pem::what).collect::<Vec<_>>(),
            )
            .field("expect", &self.expect)
            .finish_non_exhaustive()
    }
}

/// Checks the server's chain against the mesh's CA, then its identity: the dialled name
/// (webpki's standard check), or a SPIFFE ID.
struct ServerVerifier {
    roots: Arc<RootCertStore>,
    webpki: Arc<WebPkiServerVerifier>,
    expect: Expect,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let wanted = match &self.expect {
            Expect::DialledName => {
                return self.webpki.verify_server_cert(
                    end_entity,
                    intermediates,
                    server_name,
                    ocsp_response,
                    now,
                );
            }
            other => other,
        };
        let parsed = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &self.roots,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        let identity = PeerIdentity::from_chain(std::slice::from_ref(end_entity))
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        let proven = identity.spiffe_id();
        let matches = match wanted {
            Expect::SpiffeIds(ids) => proven.is_some_and(|id| ids.iter().any(|w| w == id.as_str())),
            Expect::TrustDomain(td) => proven.is_some_and(|id| id.trust_domain() == td),
            Expect::DialledName => false,
        };
        if matches {
            Ok(ServerCertVerified::assertion())
        } else {
            tracing::warn!(
                target: "meshward::mtls",
                server = proven.map(|id| id.as_str()),
                expected = ?wanted,
                "server certificate does not prove the expected SPIFFE ID"
            );
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl fmt::Debug for ServerVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerVerifier")
            .field("expect", &self.expect)
            .finish_non_exhaustive()
    }
}
