//! Scopes: which ones exist, parsing a request's `scope`, and what each one releases.

use super::error::OAuthError;

/// Every scope the issuer knows, in the order discovery lists them.
pub const SUPPORTED: [&str; 5] = ["openid", "email", "profile", "groups", "offline_access"];

/// A validated, de-duplicated set of requested scopes (always containing `openid`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// Parses a space-separated `scope` parameter (RFC 6749 §3.3).
    ///
    /// Unknown scopes are refused rather than silently dropped, so a misconfigured client
    /// finds out at once; `openid` is required because this issuer only speaks OpenID Connect.
    pub fn parse(scope: Option<&str>) -> Result<Self, OAuthError> {
        let mut scopes: Vec<String> = Vec::new();
        for s in scope
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
        {
            if !SUPPORTED.contains(&s) {
                return Err(OAuthError::bad_request(
                    "invalid_scope",
                    format!(
                        "unknown scope {s:?}: the development issuer supports {}",
                        SUPPORTED.join(" ")
                    ),
                ));
            }
            if !scopes.iter().any(|have| have == s) {
                scopes.push(s.to_owned());
            }
        }
        if !scopes.iter().any(|s| s == "openid") {
            return Err(OAuthError::bad_request(
                "invalid_scope",
                "scope must include openid: the development issuer only issues OpenID Connect logins",
            ));
        }
        Ok(Self(scopes))
    }

    /// For a refresh request: the requested scopes, which must be a subset of the grant's
    /// (RFC 6749 §6). No `scope` parameter means the grant's scopes.
    pub fn narrow(&self, requested: Option<&str>) -> Result<Self, OAuthError> {
        let Some(requested) = requested else {
            return Ok(self.clone());
        };
        let narrowed = Self::parse(Some(requested))?;
        match narrowed.0.iter().find(|s| !self.contains(s)) {
            Some(extra) => Err(OAuthError::bad_request(
                "invalid_scope",
                format!("scope {extra:?} was not granted; log in again to ask for it"),
            )),
            None => Ok(narrowed),
        }
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s == scope)
    }

    /// The space-separated form used in token responses.
    pub fn to_param(&self) -> String {
        self.0.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dedups_and_requires_openid() {
        let s = Scopes::parse(Some("openid  email openid groups")).unwrap();
        assert_eq!(s.to_param(), "openid email groups");
        assert_eq!(
            Scopes::parse(Some("email")).unwrap_err().code,
            "invalid_scope"
        );
        assert_eq!(Scopes::parse(None).unwrap_err().code, "invalid_scope");
        assert_eq!(
            Scopes::parse(Some("openid admin")).unwrap_err().code,
            "invalid_scope"
        );
    }

    #[test]
    fn narrowing_only_removes() {
        let granted = Scopes::parse(Some("openid email offline_access")).unwrap();
        assert_eq!(granted.narrow(None).unwrap(), granted);
        assert_eq!(
            granted.narrow(Some("openid email")).unwrap().to_param(),
            "openid email"
        );
        assert_eq!(
            granted.narrow(Some("openid groups")).unwrap_err().code,
            "invalid_scope"
        );
    }
}
