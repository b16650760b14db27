//! Building the rustls `ServerConfig`: server certificate, client-certificate verification,
//! CRLs, protocol versions and ALPN, with the crate's one crypto provider passed explicitly.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;

use super::acceptor::MtlsAcceptor;
use super::error::{MtlsConfigError, MtlsConfigErrorKind};
use super::pem::{Pem, TlsIdentity};
use super::reload::Inputs;

/// Configures an [`MtlsAcceptor`]; made by [`MtlsAcceptor::builder`].
///
/// Without a client CA the server asks for no client certificate. With one, client
/// certificates are required and verified against it (and its CRLs), unless
/// [`allow_unauthenticated_clients`](Self::allow_unauthenticated_clients) is named.
#[derive(Clone)]
#[must_use]
pub struct MtlsAcceptorBuilder {
    pub(crate) cert: TlsIdentity,
    pub(crate) client_cas: Vec<Pem>,
    pub(crate) crls: Vec<Pem>,
    pub(crate) optional: bool,
    pub(crate) alpn: Vec<Vec<u8>>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) first_bytes_timeout: Duration,
    pub(crate) max_handshakes: usize,
    pub(crate) max_handshakes_per_source: usize,
}

impl MtlsAcceptorBuilder {
    pub(crate) fn new(cert: TlsIdentity) -> Self {
        Self {
            cert,
            client_cas: Vec::new(),
            crls: Vec::new(),
            optional: false,
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            handshake_timeout: Duration::from_secs(10),
            first_bytes_timeout: Duration::from_secs(3),
            max_handshakes: 1024,
            max_handshakes_per_source: 256,
        }
    }

    /// Replaces the server certificate chain and private key with PEM files (re-read on
    /// reload), for [`MtlsAcceptor::reload_with`].
    pub fn server_cert_pem_files(
        mut self,
        chain: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.cert = TlsIdentity::pem_files(chain, key);
        self
    }

    /// Replaces the server certificate chain and private key with PEM bytes, for
    /// [`MtlsAcceptor::reload_with`].
    pub fn server_cert_pem(mut self, chain: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        self.cert = TlsIdentity::pem(chain, key);
        self
    }

    /// Adds a PEM file of CA certificates that client certificates must chain to.
    pub fn add_client_ca_pem_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.client_cas.push(Pem::File(path.into()));
        self
    }

    /// Adds PEM CA certificates that client certificates must chain to.
    pub fn add_client_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.client_cas
            .push(Pem::Bytes(pem.into().into(), "in-memory client CA bundle"));
        self
    }

    /// Adds a PEM file of certificate revocation lists for client certificates.
    pub fn add_client_crl_pem_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.crls.push(Pem::File(path.into()));
        self
    }

    /// Adds PEM certificate revocation lists for client certificates.
    pub fn add_client_crl_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.crls
            .push(Pem::Bytes(pem.into().into(), "in-memory CRL"));
        self
    }

    /// Lets clients connect without a certificate; those that present one are still
    /// verified.
    ///
    /// # Security
    ///
    /// Requests from clients without a certificate carry no [`PeerIdentity`](crate::PeerIdentity):
    /// guard the routes that need one with [`RequirePeerLayer`](crate::authz::RequirePeerLayer).
    pub fn allow_unauthenticated_clients(mut self) -> Self {
        self.optional = true;
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

    /// How long a client may take to complete its handshake (default 10 s; clamped to
    /// 10 ms – 10 min).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout.clamp(Duration::from_millis(10), Duration::from_secs(600));
        self
    }

    /// How long a new connection may stay silent before its first bytes (the start of its
    /// ClientHello) arrive (default 3 s; clamped to 10 ms – the handshake timeout). A
    /// connection that sends nothing is closed then, without waiting for the handshake
    /// timeout.
    pub fn first_bytes_timeout(mut self, timeout: Duration) -> Self {
        self.first_bytes_timeout =
            timeout.clamp(Duration::from_millis(10), Duration::from_secs(600));
        self
    }

    /// How many connections may be pending at once (waiting for their first bytes or in
    /// their handshake) in [`MtlsAcceptor::incoming`] (default 1024; clamped to 1 – 65 536).
    /// At the bound a new connection is taken and the *oldest* pending one closed: idle
    /// sockets held open cannot lock real clients out.
    pub fn max_concurrent_handshakes(mut self, max: usize) -> Self {
        self.max_handshakes = max.clamp(1, 65_536);
        self
    }

    /// How many of those may come from one IP address (default 256; clamped to 1 – 65 536).
    /// At this bound a new connection from that address closes that address's oldest
    /// pending one, so that one source flooding the acceptor never evicts another's.
    pub fn max_concurrent_handshakes_per_source(mut self, max: usize) -> Self {
        self.max_handshakes_per_source = max.clamp(1, 65_536);
        self
    }

    /// Reads the files and builds the acceptor. Does no network I/O.
    ///
    /// # Errors
    ///
    /// An [`MtlsConfigError`] naming the file and the fault.
    pub fn build(self) -> Result<MtlsAcceptor, MtlsConfigError> {
        let config = self.build_config()?;
        Ok(MtlsAcceptor::new(self, config))
    }
}

impl Inputs for MtlsAcceptorBuilder {
    type Config = ServerConfig;
    const WHAT: &'static str = "server";

    /// Builds the rustls configuration from the current contents of the inputs.
    fn build_config(&self) -> Result<Arc<ServerConfig>, MtlsConfigError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let TlsIdentity { chain, key } = &self.cert;
        let certs = chain.certificates()?;
        let private_key = key.private_key()?;
        let verifier = self.client_verifier(&provider)?;
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| {
                MtlsConfigError::with_source(MtlsConfigErrorKind::InvalidClientVerifier, e)
            })?;
        let builder = match verifier {
            Some(verifier) => builder.with_client_cert_verifier(verifier),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_single_cert(certs, private_key).map_err(|e| {
            MtlsConfigError::with_source(
                MtlsConfigErrorKind::InvalidServerCertificate { what: chain.what() },
                e,
            )
        })?;
        config.alpn_protocols.clone_from(&self.alpn);
        Ok(Arc::new(config))
    }

    /// A digest of what the file inputs hold now. Contents, not modification times: two
    /// writes within one tick of the file system's clock share a modification time, and a
    /// watcher comparing times would miss the second (a key, then its certificate).
    fn fingerprint(&self) -> [u8; 32] {
        let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for pem in [&self.cert.chain, &self.cert.key]
            .into_iter()
            .chain(&self.client_cas)
            .chain(&self.crls)
        {
            pem.fingerprint_into(&mut digest);
        }
        let mut out = [0; 32];
        out.copy_from_slice(digest.finish().as_ref());
        out
    }
}

impl MtlsAcceptorBuilder {
    fn client_verifier(
        &self,
        provider: &Arc<CryptoProvider>,
    ) -> Result<Option<Arc<dyn ClientCertVerifier>>, MtlsConfigError> {
        if self.client_cas.is_empty() {
            return Ok(None);
        }
        let mut roots = rustls::RootCertStore::empty();
        for ca in &self.client_cas {
            for cert in ca.certificates()? {
                roots.add(cert).map_err(|e| {
                    MtlsConfigError::with_source(
                        MtlsConfigErrorKind::InvalidPem { what: ca.what() },
                        e,
                    )
                })?;
            }
        }
        let mut crls = Vec::new();
        for crl in &self.crls {
            crls.extend(crl.crls()?);
        }
        let mut builder =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider))
                .with_crls(crls);
        if self.optional {
            builder = builder.allow_unauthenticated();
        }
        let verifier = builder.build().map_err(|e| {
            MtlsConfigError::with_source(MtlsConfigErrorKind::InvalidClientVerifier, e)
        })?;
        Ok(Some(verifier))
    }
}

impl fmt::Debug for MtlsAcceptorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = |p: &Pem| p.what();
        f.debug_struct("MtlsAcceptorBuilder")
            .field("cert", &what(&self.cert.chain))
            .field(
                "client_cas",
                &self.client_cas.iter().map(what).collect::<Vec<_>>(),
            )
            .field("crls", &self.crls.iter().map(what).collect::<Vec<_>>())
            .field("optional", &self.optional)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("first_bytes_timeout", &self.first_bytes_timeout)
            .field("max_handshakes", &self.max_handshakes)
            .field("max_handshakes_per_source", &self.max_handshakes_per_source)
            .finish_non_exhaustive()
    }
}
