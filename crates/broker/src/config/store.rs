//! `[store]`: where the broker keeps its state. Exactly one of
//!
//! - `sqlite = "zt-broker.db"`: one broker, one file (the default `zt-broker init` writes);
//! - `postgres = "postgres://zt@db.example:5432/zt?sslmode=verify-full"`: any number of
//!   replicas on one database (see `store::postgres`).
//!
//! A PostgreSQL password never sits in the URL (the config file is read by whoever operates
//! the broker, and a URL ends up in logs): it comes from `postgres_password_file` (a file only
//! its owner can read) or from [`PASSWORD_ENV`]. A database on another host is reached over
//! verified TLS only (`sslmode=verify-full` or `verify-ca`): the driver's default, `prefer`,
//! silently falls back to plain text.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgConnectOptions;
use url::Url;

use super::ConfigError;

/// The environment variable a PostgreSQL password may come from.
pub const PASSWORD_ENV: &str = "ZT_BROKER_DB_PASSWORD";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqlite: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres_password_file: Option<PathBuf>,
}

/// Which store a config names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend<'a> {
    Sqlite(&'a Path),
    Postgres(&'a str),
}

impl StoreConfig {
    pub fn sqlite(path: PathBuf) -> Self {
        StoreConfig {
            sqlite: Some(path),
            postgres: None,
            postgres_password_file: None,
        }
    }

    pub fn postgres(url: String, password_file: Option<PathBuf>) -> Self {
        StoreConfig {
            sqlite: None,
            postgres: Some(url),
            postgres_password_file: password_file,
        }
    }

    /// The store (checked by [`validate`](Self::validate): exactly one is set).
    pub fn backend(&self) -> Backend<'_> {
        match (&self.sqlite, &self.postgres) {
            (_, Some(url)) => Backend::Postgres(url),
            (Some(path), None) => Backend::Sqlite(path),
            (None, None) => Backend::Sqlite(Path::new("zt-broker.db")),
        }
    }

    /// Where the store is, for messages (a PostgreSQL URL has no password to hide).
    pub fn describe(&self) -> String {
        match self.backend() {
            Backend::Sqlite(path) => path.display().to_string(),
            Backend::Postgres(url) => url.to_owned(),
        }
    }

    pub(super) fn resolve_paths(&mut self, fix: impl Fn(&mut PathBuf)) {
        self.sqlite.as_mut().map(&fix);
        self.postgres_password_file.as_mut().map(&fix);
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(format!("store: {m}")));
        match (&self.sqlite, &self.postgres) {
            (Some(_), Some(_)) => return invalid("set either sqlite or postgres, not both"),
            (None, None) => return invalid("set sqlite = \"FILE\" or postgres = \"URL\""),
            (Some(_), None) if self.postgres_password_file.is_some() => {
                return invalid("postgres_password_file goes with postgres");
            }
            (Some(_), None) => return Ok(()),
            (None, Some(url)) => check_url(url)?,
        }
        Ok(())
    }

    /// How to connect to the PostgreSQL store, with its password read now.
    pub fn postgres_options(&self) -> Result<PgConnectOptions, ConfigError> {
        let url = self
            .postgres
            .as_deref()
            .ok_or_else(|| ConfigError::Invalid("store: this broker's store is SQLite".into()))?;
        check_url(url)?;
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e| ConfigError::Invalid(format!("store.postgres: {e}")))?;
        Ok(match self.password()? {
            Some(password) => options.password(&password),
            None => options,
        })
    }

    fn password(&self) -> Result<Option<String>, ConfigError> {
        if let Some(path) = &self.postgres_password_file {
            let bytes = zt_os::files::read_secret(path)
                .map_err(|e| ConfigError::Invalid(format!("store.postgres_password_file: {e}")))?
                .ok_or_else(|| {
                    ConfigError::Invalid(format!(
                        "store.postgres_password_file: {} does not exist",
                        path.display()
                    ))
                })?;
            let text = String::from_utf8(bytes).map_err(|_| {
                ConfigError::Invalid("store.postgres_password_file is not UTF-8".into())
            })?;
            return Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()));
        }
        Ok(std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty()))
    }
}

/// A PostgreSQL URL the broker will use: no password in it, and verified TLS unless the
/// database is on this host.
fn check_url(text: &str) -> Result<(), ConfigError> {
    let invalid = |m: String| Err(ConfigError::Invalid(format!("store.postgres: {m}")));
    let url = match Url::parse(text) {
        Ok(url) => url,
        Err(e) => return invalid(format!("not a URL: {e}")),
    };
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return invalid("must be a postgres:// URL".into());
    }
    if url.password().is_some() {
        return invalid(format!(
            "has a password in it; put the password in store.postgres_password_file (mode 0600) or {PASSWORD_ENV}"
        ));
    }
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    // postgres: is no scheme the URL standard knows, so its host is opaque text.
    let on_this_host = match url.host_str() {
        None | Some("") => true,
        Some(host) => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
    } || param("host").is_some_and(|h| h.starts_with('/'));
    let verified = matches!(
        param("sslmode").as_deref(),
        Some("verify-full" | "verify-ca")
    );
    if !on_this_host && !verified {
        return invalid(
            "a database on another host is reached over verified TLS only: add ?sslmode=verify-full (and sslrootcert=FILE for a private CA)".into(),
        );
    }
    if let Err(e) = text.parse::<PgConnectOptions>() {
        return invalid(e.to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn postgres(url: &str) -> StoreConfig {
        StoreConfig::postgres(url.into(), None)
    }

    #[test]
    fn a_url_with_a_password_or_without_verified_tls_to_another_host_is_refused() {
        for (url, why) in [
            ("postgres://zt:secret@127.0.0.1/zt", "password"),
            ("postgres://zt@db.example/zt", "verified TLS"),
            (
                "postgres://zt@db.example/zt?sslmode=require",
                "verified TLS",
            ),
            ("postgres://zt@10.0.0.5/zt?sslmode=prefer", "verified TLS"),
            ("mysql://zt@127.0.0.1/zt", "postgres://"),
        ] {
            let err = postgres(url).validate().unwrap_err().to_string();
            assert!(err.contains(why), "{url}: {err}");
            assert!(!err.contains("secret"), "{err}");
        }
        for url in [
            "postgres://zt@127.0.0.1:5432/zt",
            "postgresql://zt@localhost/zt",
            "postgres://zt@[::1]/zt",
            "postgres://zt@db.example/zt?sslmode=verify-full&sslrootcert=/etc/zt/db-ca.pem",
            "postgres://zt@db.example/zt?sslmode=verify-ca",
        ] {
            postgres(url)
                .validate()
                .unwrap_or_else(|e| panic!("{url}: {e}"));
        }
    }

    #[test]
    fn exactly_one_store_is_named() {
        let both = StoreConfig {
            sqlite: Some("db".into()),
            ..postgres("postgres://zt@127.0.0.1/zt")
        };
        assert!(both.validate().is_err());
        let none = StoreConfig {
            postgres: None,
            ..postgres("postgres://zt@127.0.0.1/zt")
        };
        assert!(none.validate().is_err());
        let stray = StoreConfig {
            postgres_password_file: Some("pw".into()),
            ..StoreConfig::sqlite("db".into())
        };
        assert!(stray.validate().is_err());
    }

    #[test]
    fn the_password_comes_from_a_private_file_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\n").unwrap();
        let config = StoreConfig::postgres("postgres://zt@127.0.0.1/zt".into(), Some(file.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = config.postgres_options().unwrap_err().to_string();
            assert!(err.contains("postgres_password_file"), "{err}");
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert_eq!(config.password().unwrap().as_deref(), Some("s3cret"));
        config.postgres_options().unwrap();
    }
}
