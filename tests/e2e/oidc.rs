//! Interop with a real OpenID provider: panva's oidc-provider, run with node from the tools
//! folder `.ci/run` installs (`tools/oidc`, or `MESHWARD_OIDC_DIR`). Tokens come from its
//! token endpoint (client_credentials + resource indicators, JWT access tokens with
//! `typ: at+jwt`) and are checked through discovery, for RS256, PS256, ES256 and EdDSA, and
//! across a key rotation.
//!
//! When the provider is not installed yet, the first test that needs it installs it with
//! `npm ci` from `tests/oidc/package-lock.json`, once for the whole run (`install_once`). Without node and npm it fails with a message saying so; set
//! `MESHWARD_SKIP_OIDC=1` to skip it explicitly on a machine without them.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use meshward::jwt::{KeySource, TokenErrorKind, Validator};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support::skipped;

pub const CLIENT_ID: &str = "orders-client";
const CLIENT_SECRET: &str = "orders-client-secret-orders-client-secret";
const RESOURCES: [(&str, &str); 4] = [
    ("urn:meshward:rs256", "RS256"),
    ("urn:meshward:ps256", "PS256"),
    ("urn:meshward:es256", "ES256"),
    ("urn:meshward:eddsa", "EdDSA"),
];

/// The node tools folder, installed on first use; `None` (and a visible SKIPPED line for
/// `test`) when `MESHWARD_SKIP_OIDC=1`.
pub fn tools_dir(test: &str) -> Option<PathBuf> {
    if std::env::var("MESHWARD_SKIP_OIDC").is_ok_and(|v| v == "1") {
        skipped(test, "MESHWARD_SKIP_OIDC=1");
        return None;
    }
    let dir = std::env::var_os("MESHWARD_OIDC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tools/oidc"));
    let node = std::process::Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "node is not on PATH: install Node.js and npm (Debian: nodejs npm), \
         or set MESHWARD_SKIP_OIDC=1 to skip this test"
    );
    install_once(&dir);
    Some(dir)
}

/// Installs the provider into `dir` once, however many tests and test binaries ask at the
/// same time: the threads of one binary wait on one `OnceLock`, the binaries on a file lock
/// beside `dir`, and `npm ci` runs in a staging folder that is renamed to `dir` only once it
/// is complete, so that nobody ever sees a half-installed folder. A folder installed from
/// another lock file is replaced.
fn install_once(dir: &Path) {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let sources = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
        let lock_file = std::fs::read(sources.join("package-lock.json")).unwrap();
        let installed = |dir: &Path| {
            dir.join(INSTALLED_MARK).is_file()
                && std::fs::read(dir.join("package-lock.json")).is_ok_and(|l| l == lock_file)
        };
        if installed(dir) {
            return;
        }
        let parent = dir.parent().unwrap();
        std::fs::create_dir_all(parent).unwrap();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let lock = std::fs::File::create(parent.join(format!(".{name}.lock"))).unwrap();
        lock.lock().unwrap();
        if installed(dir) {
            return; // another test binary installed it while this one waited
        }
        let staging = parent.join(format!(".{name}.staging-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).unwrap();
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(sources.join(file), staging.join(file)).unwrap();
        }
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&staging)
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "`npm ci` in {} failed: install npm, or set MESHWARD_SKIP_OIDC=1 to skip this test",
            staging.display()
        );
        std::fs::write(staging.join(INSTALLED_MARK), "").unwrap();
        if dir.exists() {
            let old = parent.join(format!(".{name}.old-{}", std::process::id()));
            std::fs::rename(dir, &old).unwrap();
            let _ = std::fs::remove_dir_all(old);
        }
        std::fs::rename(&staging, dir).unwrap();
        drop(lock);
    });
}

/// Written last into a complete install.
const INSTALLED_MARK: &str = ".meshward-installed";

/// Copies the script `source` (a path under the crate) into `dir`, beside its
/// `node_modules` for its imports to resolve: through a file of its own renamed into place,
/// so that a node process starting at the same time reads the old copy or the new, never
/// half of one.
pub fn script_in(dir: &Path, source: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(source);
    let name = source.file_name().unwrap().to_owned();
    let staged = dir.join(format!(
        ".{}.{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::copy(&source, &staged).unwrap();
    let script = dir.join(name);
    std::fs::rename(&staged, &script).unwrap();
    script
}

pub struct Provider {
    child: Child,
    pub issuer: String,
}

impl Provider {
    pub async fn start(dir: &std::path::Path, port: u16, keyset: &str) -> Self {
        Self::start_with(dir, port, keyset, &[]).await
    }

    /// Started with more environment for the script (`RS_JWK`).
    pub async fn start_with(
        dir: &std::path::Path,
        port: u16,
        keyset: &str,
        envs: &[(&str, String)],
    ) -> Self {
        let script = script_in(dir, "tests/oidc/provider.mjs");
        let mut child = Command::new("node")
            .arg(&script)
            .env("PORT", port.to_string())
            .env("KEYSET", keyset)
            .envs(envs.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("listening") {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(ready, Ok(true), "oidc-provider did not start");
        // Keep reading: the provider logs warnings later, and a closed pipe would kill it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            child,
            issuer: format!("http://127.0.0.1:{port}"),
        }
    }

    pub async fn token(&self, resource: &str) -> String {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", CLIENT_ID)
            .append_pair("client_secret", CLIENT_SECRET)
            .append_pair("resource", resource)
            .append_pair("scope", "orders:read")
            .finish();
        let response = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let json: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert!(
            status.is_success(),
            "token endpoint answered {status}: {json}"
        );
        json["access_token"].as_str().unwrap().to_owned()
    }

    /// Revokes `token` as the client it was issued to (RFC 7009).
    pub async fn revoke(&self, token: &str) {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("client_id", CLIENT_ID)
            .append_pair("client_secret", CLIENT_SECRET)
            .finish();
        let response = reqwest::Client::new()
            .post(format!("{}/token/revocation", self.issuer))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "revocation: {}",
            response.status()
        );
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn header(token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let segment = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn real_openid_provider_tokens_validate_through_discovery() {
    let Some(dir) = tools_dir("oidc::real_openid_provider_tokens_validate_through_discovery")
    else {
        return;
    };
    let port = free_port();
    let provider = Provider::start(&dir, port, "a").await;
    let keys = KeySource::discovery(&provider.issuer)
        .allow_insecure_http()
        .refresh_cooldown(Duration::from_millis(200))
        .build()
        .unwrap();
    let validator = Validator::builder(provider.issuer.clone(), RESOURCES.map(|(r, _)| r))
        .key_source(keys.clone())
        .require_type("at+jwt")
        .build()
        .unwrap();
    validator.warm_up().await.unwrap();

    for (resource, alg) in RESOURCES {
        let token = provider.token(resource).await;
        let h = header(&token);
        assert_eq!(h["alg"], alg, "{resource}");
        assert_eq!(h["typ"], "at+jwt", "{resource}");
        let principal = validator
            .validate(&token)
            .await
            .unwrap_or_else(|e| panic!("{alg} token refused: {e:?}"));
        assert_eq!(principal.issuer(), provider.issuer);
        assert_eq!(principal.audiences(), [resource]);
        assert_eq!(principal.subject(), Some(CLIENT_ID));
        assert!(
            principal.scopes().contains("orders:read"),
            "{:?}",
            principal.scopes()
        );
        assert_eq!(
            format!("{:?}", principal.signature_algorithm().unwrap()),
            alg
        );
        assert!(!principal.is_introspected());
    }

    // A validator that wants plain JWTs refuses the provider's at+jwt tokens.
    let strict = Validator::builder(provider.issuer.clone(), ["urn:meshward:es256"])
        .key_source(keys.clone())
        .require_type("JWT")
        .build()
        .unwrap();
    let err = strict
        .validate(&provider.token("urn:meshward:es256").await)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &TokenErrorKind::InvalidType);

    // Rotation: the provider restarts on the same address with new keys; the first token
    // signed with a new kid makes the validator refetch, and it is accepted.
    provider.stop().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let provider = Provider::start(&dir, port, "b").await;
    let token = provider.token("urn:meshward:es256").await;
    assert_eq!(header(&token)["kid"], "ec-b");
    let principal = validator.validate(&token).await.unwrap();
    assert_eq!(principal.key_id(), Some("ec-b"));
    let stats = keys.stats().unwrap();
    assert_eq!(
        stats.fetches, 2,
        "warm-up and one refetch for the rotated kid: {stats:?}"
    );
    provider.stop().await;
}
