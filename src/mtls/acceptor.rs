//! Accepting mutual-TLS connections: handshake with a timeout, the peer's identity parsed
//! once, and a stream of ready connections for axum, hyper and tonic.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::config::MtlsAcceptorBuilder;
use super::error::MtlsConfigError;
use super::pem::TlsIdentity;
use super::pending::Pending;
use super::reload::{Reloadable, WatchHandle};
use crate::peer::{PeerIdentity, PeerInfo};

/// Accepts TLS connections with client-certificate verification, and parses each client's
/// [`PeerIdentity`] once per connection.
///
/// Its configuration can be replaced at run time ([`reload`](Self::reload),
/// [`watch`](Self::watch)): new handshakes use the new certificate and CA bundle, live
/// connections keep theirs, and a bad new file is refused while the old configuration keeps
/// serving. Cloning is cheap and clones share configuration and counters.
///
/// ```no_run
/// # #[cfg(feature = "axum")] mod demo {
/// use meshward::mtls::{MtlsAcceptor, PeerInfo, TlsIdentity};
///
/// # async fn f(app: axum::Router) -> Result<(), Box<dyn std::error::Error>> {
/// let acceptor = MtlsAcceptor::builder(TlsIdentity::pem_files("server.pem", "server.key"))
///     .add_client_ca_pem_file("clients-ca.pem")
///     .build()?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
/// axum::serve(
///     acceptor.incoming(listener),
///     app.into_make_service_with_connect_info::<PeerInfo>(),
/// )
/// .await?;
/// # Ok(()) }
/// # }
/// ```
#[derive(Clone)]
pub struct MtlsAcceptor {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<Reloadable<MtlsAcceptorBuilder>>,
    handshake_timeout: Duration,
    first_bytes_timeout: Duration,
    pending: Arc<Pending>,
    identities_parsed: AtomicU64,
    handshakes_failed: AtomicU64,
    evicted: AtomicU64,
}

impl MtlsAcceptor {
    /// Starts configuring an acceptor that presents `cert`.
    pub fn builder(cert: TlsIdentity) -> MtlsAcceptorBuilder {
        MtlsAcceptorBuilder::new(cert)
    }

    pub(crate) fn new(builder: MtlsAcceptorBuilder, config: Arc<ServerConfig>) -> Self {
        Self {
            inner: Arc::new(Inner {
                handshake_timeout: builder.handshake_timeout,
                first_bytes_timeout: builder.first_bytes_timeout.min(builder.handshake_timeout),
                pending: Pending::new(builder.max_handshakes, builder.max_handshakes_per_source),
                config: Arc::new(Reloadable::new(builder, config)),
                identities_parsed: AtomicU64::new(0),
                handshakes_failed: AtomicU64::new(0),
                evicted: AtomicU64::new(0),
            }),
        }
    }

    /// The rustls configuration new handshakes use.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.inner.config.current()
    }

    /// Performs the handshake on an accepted TCP connection: its first bytes within the
    /// first-bytes timeout, the whole handshake within the handshake timeout.
    ///
    /// # Errors
    ///
    /// The handshake failed (bad or missing client certificate, protocol error) or timed out.
    pub async fn accept(&self, tcp: TcpStream) -> io::Result<MtlsStream> {
        let remote_addr = tcp.peer_addr().ok();
        let acceptor = TlsAcceptor::from(self.inner.config.current());
        let handshake = tokio::time::timeout(self.inner.handshake_timeout, async {
            // A connection that says nothing is not worth a handshake slot for long. (`peek`
            // waits for a byte; readiness alone can be reported before there is one.)
            let mut first = [0u8; 1];
            let peeked = tokio::time::timeout(self.inner.first_bytes_timeout, tcp.peek(&mut first))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no ClientHello in time"))??;
            if peeked == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed before a ClientHello",
                ));
            }
            acceptor.accept(tcp).await
        });
        let result = match handshake.await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "TLS handshake timed out",
            )),
        };
        let stream = result.inspect_err(|_| {
            self.inner.handshakes_failed.fetch_add(1, Ordering::Relaxed);
        })?;
        let identity = match stream.get_ref().1.peer_certificates() {
            Some(chain) if !chain.is_empty() => {
                self.inner.identities_parsed.fetch_add(1, Ordering::Relaxed);
                match PeerIdentity::from_chain(chain) {
                    Ok(identity) => Some(identity),
                    Err(e) => {
                        // rustls verified it, so this is unexpected; treat as no identity.
                        tracing::warn!(target: "meshward::mtls", error = %e, ?remote_addr, "verified client certificate could not be parsed");
                        None
                    }
                }
            }
            _ => None,
        };
        tracing::debug!(
            target: "meshward::mtls",
            ?remote_addr,
            spiffe_id = identity.as_ref().and_then(|i| i.spiffe_id()).map(|s| s.as_str()),
            "mTLS connection accepted"
        );
        Ok(MtlsStream {
            io: stream,
            peer: PeerInfo::new(remote_addr, identity),
        })
    }

    /// Accepts connections from `listener` in a background task: each handshake runs in its
    /// own task, bounded in time and in number, so a slow or silent client never holds the
    /// loop; failed handshakes are logged and skipped. Dropping the returned stream stops the
    /// loop.
    ///
    /// Pending connections are bounded overall and per source address
    /// ([`max_concurrent_handshakes`](MtlsAcceptorBuilder::max_concurrent_handshakes),
    /// [`max_concurrent_handshakes_per_source`](MtlsAcceptorBuilder::max_concurrent_handshakes_per_source));
    /// at a bound the oldest pending connection is closed to make room for the new one, and a
    /// connection silent past the
    /// [first-bytes timeout](MtlsAcceptorBuilder::first_bytes_timeout) is closed: sockets
    /// held open without a word cannot lock real clients out.
    pub fn incoming(&self, listener: TcpListener) -> MtlsIncoming {
        let local_addr = listener.local_addr().ok();
        let (tx, rx) = mpsc::channel(64);
        let acceptor = self.clone();
        let task = tokio::spawn(async move {
            loop {
                let (tcp, addr) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(target: "meshward::mtls", error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (mut slot, evicted) = acceptor.inner.pending.admit(addr.ip());
                if evicted {
                    acceptor.inner.evicted.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(target: "meshward::mtls", %addr, "pending connections at their bound: the oldest was closed");
                }
                let sender = tx.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let accepted = tokio::select! {
                        accepted = acceptor.accept(tcp) => accepted,
                        _ = &mut slot.evicted => {
                            acceptor.inner.handshakes_failed.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                    };
                    drop(slot);
                    match accepted {
                        Ok(stream) => {
                            let _ = sender.send(stream).await;
                        }
                        Err(e) => {
                            tracing::debug!(target: "meshward::mtls", %addr, error = %e, "TLS handshake failed");
                        }
                    }
                });
                if tx.is_closed() {
                    return;
                }
            }
        });
        MtlsIncoming {
            rx,
            local_addr,
            task,
        }
    }

    /// Rebuilds the configuration from the builder's inputs (files are read again). On
    /// success new handshakes use it; on error the old configuration keeps serving.
    ///
    /// # Errors
    ///
    /// The [`MtlsConfigError`] of the new inputs.
    pub fn reload(&self) -> Result<(), MtlsConfigError> {
        self.inner.config.reload()
    }

    /// Replaces the inputs (for in-memory certificates) and reloads.
    ///
    /// # Errors
    ///
    /// The [`MtlsConfigError`] of the new inputs; the old ones keep serving.
    pub fn reload_with(&self, builder: MtlsAcceptorBuilder) -> Result<(), MtlsConfigError> {
        self.inner.config.reload_with(builder)
    }

    /// Reads the input files every `interval` (clamped to 10 ms – 1 day) and reloads when the
    /// contents of one changed (a bad new file is logged and refused, and tried again when it
    /// changes next). The watch stops when the returned handle is dropped.
    pub fn watch(&self, interval: Duration) -> WatchHandle {
        self.inner.config.watch(interval)
    }

    /// Client certificates parsed so far: one per mutual-TLS connection, however many
    /// requests it carries.
    pub fn identities_parsed(&self) -> u64 {
        self.inner.identities_parsed.load(Ordering::Relaxed)
    }

    /// Handshakes that failed, timed out or were closed to make room so far.
    pub fn handshakes_failed(&self) -> u64 {
        self.inner.handshakes_failed.load(Ordering::Relaxed)
    }

    /// Pending connections closed so far to make room for newer ones (see
    /// [`incoming`](Self::incoming)).
    pub fn pending_evicted(&self) -> u64 {
        self.inner.evicted.load(Ordering::Relaxed)
    }

    /// Successful reloads so far.
    pub fn reloads(&self) -> u64 {
        self.inner.config.reloads()
    }
}

impl fmt::Debug for MtlsAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MtlsAcceptor")
            .field("handshake_timeout", &self.inner.handshake_timeout)
            .field("identities_parsed", &self.identities_parsed())
            .field("handshakes_failed", &self.handshakes_failed())
            .finish_non_exhaustive()
    }
}

/// One accepted mutual-TLS connection and what is known about its peer.
pub struct MtlsStream {
    io: TlsStream<TcpStream>,
    peer: PeerInfo,
}

impl MtlsStream {
    /// The peer's address and identity.
    pub fn peer(&self) -> &PeerInfo {
        &self.peer
    }

    /// The negotiated ALPN protocol.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.io.get_ref().1.alpn_protocol()
    }
}

impl fmt::Debug for MtlsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MtlsStream")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl AsyncRead for MtlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for MtlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Ready mutual-TLS connections, from [`MtlsAcceptor::incoming`]: a `Stream` for tonic's
/// `serve_with_incoming`, an axum `Listener` for `axum::serve`, or read one by one with
/// [`next`](Self::next) for hyper.
pub struct MtlsIncoming {
    rx: mpsc::Receiver<MtlsStream>,
    local_addr: Option<SocketAddr>,
    task: JoinHandle<()>,
}

impl MtlsIncoming {
    /// The next connection whose handshake completed; `None` once the accept loop ended.
    pub async fn next(&mut self) -> Option<MtlsStream> {
        self.rx.recv().await
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }
}

impl Drop for MtlsIncoming {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl fmt::Debug for MtlsIncoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MtlsIncoming")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl futures_core::Stream for MtlsIncoming {
    type Item = io::Result<MtlsStream>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx).map(|s| s.map(Ok))
    }
}
