//! The configuration file (TOML), read whole and checked before anything is served. Every
//! section and field is documented in the agent's README; unknown fields are errors, so a
//! misspelt setting never goes unnoticed.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The longest configuration file read.
const MAX_FILE_LEN: u64 = 1024 * 1024;

/// Why a configuration cannot be used. The message names the file, and for a TOML mistake
/// the line, the column and the field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// The file is larger than the bound.
    #[error("{path}: larger than {MAX_FILE_LEN} bytes")]
    TooLarge { path: String },
    /// Not TOML, or not this schema (an unknown field, a wrong type).
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    /// Well-formed, but not something the agent can honour in full.
    #[error("{path}: {field}: {reason}")]
    Invalid {
        path: String,
        field: String,
        reason: String,
    },
}

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    /// The token issuers whose access tokens are accepted.
    #[serde(default, rename = "issuer")]
    pub(crate) issuers: Vec<IssuerConfig>,
    /// What a request must satisfy beyond a valid token.
    #[serde(default)]
    pub(crate) authorization: Authorization,
    /// What the agent listens on.
    pub(crate) listeners: Listeners,
}

/// One `[[issuer]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IssuerConfig {
    /// The `iss` its tokens carry, exactly.
    pub(crate) issuer: String,
    /// The `aud` values accepted (one is enough).
    pub(crate) audiences: Vec<String>,
    /// A JWKS document on disk with its public keys (relative to the config file).
    pub(crate) jwks_file: Option<PathBuf>,
}

/// `[authorization]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Authorization {
    /// A rules file (the library's format: TOML, or JSON if it ends in `.json`), relative
    /// to the config file.
    pub(crate) rules_file: Option<PathBuf>,
}

/// `[listeners]`: each listener is its own table, so that the sidecar's inbound and
/// outbound proxies can sit beside these later.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Listeners {
    /// `[listeners.forward_auth]`.
    pub(crate) forward_auth: Option<ForwardAuth>,
    /// `[listeners.admin]`.
    pub(crate) admin: Option<Admin>,
}

/// `[listeners.forward_auth]`: the endpoint nginx's `auth_request`, Caddy's `forward_auth`
/// and Traefik's `ForwardAuth` call.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ForwardAuth {
    /// The address to listen on.
    pub(crate) listen: SocketAddr,
    /// The proxies whose `X-Forwarded-*` and `X-Original-*` headers are believed. A call
    /// from any other address is refused (403).
    pub(crate) trusted_proxies: Vec<IpAddr>,
}

/// `[listeners.admin]`: `/healthz` and `/readyz`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Admin {
    /// The address to listen on.
    pub(crate) listen: SocketAddr,
}

impl Config {
    /// Reads and checks `path`. Paths inside are resolved against its folder.
    pub(crate) fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let read = |source| ConfigError::Read {
            path: shown.clone(),
            source,
        };
        let len = std::fs::metadata(path).map_err(read)?.len();
        if len > MAX_FILE_LEN {
            return Err(ConfigError::TooLarge { path: shown });
        }
        let text = std::fs::read_to_string(path).map_err(read)?;
        let mut config: Self = toml::from_str(&text).map_err(|e| ConfigError::Syntax {
            path: shown.clone(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        config.check(&shown)?;
        config.resolve(base);
        Ok(config)
    }

    fn check(&self, path: &str) -> Result<(), ConfigError> {
        let invalid = |field: String, reason: &str| ConfigError::Invalid {
            path: path.to_owned(),
            field,
            reason: reason.to_owned(),
        };
        if self.issuers.is_empty() {
            return Err(invalid(
                "issuer".into(),
                "at least one [[issuer]] is needed",
            ));
        }
        for (i, issuer) in self.issuers.iter().enumerate() {
            let field = |name: &str| format!("issuer[{i}].{name}");
            if issuer.issuer.is_empty() {
                return Err(invalid(field("issuer"), "is empty"));
            }
            if issuer.audiences.is_empty() || issuer.audiences.iter().any(String::is_empty) {
                return Err(invalid(
                    field("audiences"),
                    "names at least one audience, none empty",
                ));
            }
            if issuer.jwks_file.is_none() {
                return Err(invalid(field("jwks_file"), "is required in this version"));
            }
        }
        match &self.listeners.forward_auth {
            None => {
                return Err(invalid(
                    "listeners".into(),
                    "nothing to serve: add [listeners.forward_auth]",
                ));
            }
            Some(f) if f.trusted_proxies.is_empty() => {
                return Err(invalid(
                    "listeners.forward_auth.trusted_proxies".into(),
                    "names no proxy: every call would be refused",
                ));
            }
            Some(_) => {}
        }
        Ok(())
    }

    fn resolve(&mut self, base: &Path) {
        for issuer in &mut self.issuers {
            if let Some(file) = &mut issuer.jwks_file {
                *file = base.join(&*file);
            }
        }
        if let Some(file) = &mut self.authorization.rules_file {
            *file = base.join(&*file);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("meshward-agent-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{n}.toml"));
        std::fs::write(&path, text).unwrap();
        let config = Config::load(&path);
        std::fs::remove_file(&path).unwrap();
        config
    }

    const GOOD: &str = r#"
[[issuer]]
issuer = "https://idp.test"
audiences = ["orders"]
jwks_file = "keys.json"

[listeners.forward_auth]
listen = "127.0.0.1:9191"
trusted_proxies = ["127.0.0.1"]
"#;

    #[test]
    fn a_good_file_is_read_and_its_paths_resolved() {
        let config = load(GOOD).unwrap();
        assert_eq!(config.issuers.len(), 1);
        let file = config.issuers[0].jwks_file.as_ref().unwrap();
        assert!(file.is_absolute() || file.starts_with(std::env::temp_dir()));
        assert!(file.ends_with("keys.json"));
    }

    #[test]
    fn a_misspelt_field_names_its_line_and_field() {
        let text = GOOD.replace("audiences", "audience");
        let message = load(&text).unwrap_err().to_string();
        assert!(message.contains("line 4"), "{message}");
        assert!(message.contains("audience"), "{message}");
    }

    #[test]
    fn what_cannot_be_honoured_is_refused_by_name() {
        let cases = [
            (GOOD.replace("[\"orders\"]", "[]"), "issuer[0].audiences"),
            (
                GOOD.replace("jwks_file = \"keys.json\"", ""),
                "issuer[0].jwks_file",
            ),
            (
                GOOD.replace("[\"127.0.0.1\"]", "[]"),
                "listeners.forward_auth.trusted_proxies",
            ),
        ];
        for (text, field) in cases {
            let message = load(&text).unwrap_err().to_string();
            assert!(message.contains(field), "{field}: {message}");
        }
        let message = load("[listeners]\n").unwrap_err().to_string();
        assert!(message.contains("at least one [[issuer]]"), "{message}");
    }

    #[test]
    fn a_missing_file_names_the_file() {
        let message = Config::load(Path::new("/nonexistent/meshward.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("/nonexistent/meshward.toml: "),
            "{message}"
        );
    }
}
