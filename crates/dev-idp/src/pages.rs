//! The HTML of the `/device` approval page, and the one-time form tokens that guard its POST.
//!
//! Every page carries the development banner and a machine-readable marker,
//! `<meta name="zt-dev-page" content="…">`, with one of [`Kind`]'s names, so scripts and tests
//! can tell the pages apart without parsing prose. Everything interpolated is HTML-escaped.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use super::random::{self, SecretRng};
use super::users::DevUser;

/// How long a rendered approval form may be submitted.
const FORM_TOKEN_TTL: Duration = Duration::from_secs(600);
/// At most this many outstanding form tokens.
const MAX_FORM_TOKENS: usize = 10_000;
/// Forms submit to the page's own URL, `<issuer>/device`. Relative, so the page works under
/// whichever loopback name the browser used (127.0.0.1 or localhost) and stays within the
/// `form-action 'self'` content security policy.
const FORM_ACTION: &str = "device";

/// Which page this is; the `content` of the `zt-dev-page` marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Form to type a user code.
    EnterCode,
    /// Approve-as / deny buttons for a pending user code.
    DeviceDecide,
    Approved,
    Denied,
    Error,
}

impl Kind {
    pub fn marker(self) -> &'static str {
        match self {
            Kind::EnterCode => "enter-code",
            Kind::DeviceDecide => "device-decide",
            Kind::Approved => "approved",
            Kind::Denied => "denied",
            Kind::Error => "error",
        }
    }
}

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Plain text for a page: escaped, and each `quoted` span set as code, so a message can
/// name a command without showing backticks.
pub fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, part) in escape(text).split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

/// The common frame. `body` must already be escaped HTML.
fn page(kind: Kind, title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="zt-dev-page" content="{marker}">
<meta name="robots" content="noindex">
<title>{title} · zt development issuer</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 36rem; margin: 2rem auto; padding: 0 1rem; }}
.banner {{ background: #b00020; color: #fff; font-weight: bold; padding: .75rem 1rem; border-radius: .25rem; }}
.code {{ font-family: monospace; font-size: 1.5rem; letter-spacing: .1em; }}
button {{ font-size: 1rem; margin: .25rem 0; padding: .4rem .8rem; }}
button.approve {{ background: #0b5394; color: #fff; border: 1px solid #0b5394; border-radius: .25rem; }}
button.deny {{ background: #fff; color: #b00020; border: 2px solid #b00020; border-radius: .25rem; font-weight: bold; }}
.deny-row {{ margin-top: 1.25rem; padding-top: .75rem; border-top: 1px solid #ccc; }}
.error {{ background: #fdecea; color: #7f0014; border-left: .3rem solid #b00020; padding: .6rem .8rem; }}
.ok {{ background: #e8f5e9; color: #1b5e20; border-left: .3rem solid #2e7d32; padding: .6rem .8rem; }}
</style>
</head>
<body>
<p class="banner">DEVELOPMENT ISSUER — never use in production. Anyone who can open this page can log in as any development user.</p>
<h1>{title}</h1>
{body}
</body>
</html>
"#,
        marker = kind.marker(),
        title = escape(title),
    )
}

/// The form to type a user code, with an optional (unescaped) notice above it.
pub fn enter_code(notice: Option<&str>, prefill: Option<&str>) -> String {
    let mut body = String::new();
    if let Some(notice) = notice {
        let _ = writeln!(
            body,
            "<p class=\"error\" role=\"alert\">{}</p>",
            inline(notice)
        );
    }
    let _ = write!(
        body,
        r#"<form method="get" action="{FORM_ACTION}">
<label for="user_code">Code shown by <code>zt login</code>:</label>
<input id="user_code" name="user_code" value="{value}" autocomplete="off" autofocus required>
<button type="submit">Continue</button>
</form>"#,
        value = escape(prefill.unwrap_or_default()),
    );
    page(Kind::EnterCode, "Log in a device", &body)
}

/// Approve-as buttons (one per user) and a deny button for a pending user code.
pub fn decide(user_code: &str, scope: &str, users: &[DevUser], form_token: &str) -> String {
    let mut body = format!(
        r#"<p>A device asks to log in with code</p>
<p class="code">{code}</p>
<p>Scopes: <code>{scope}</code>. Only approve if this is the code your terminal shows.</p>
<form method="post" action="{FORM_ACTION}">
<input type="hidden" name="user_code" value="{code}">
<input type="hidden" name="form_token" value="{token}">
"#,
        code = escape(user_code),
        scope = escape(scope),
        token = escape(form_token),
    );
    for user in users {
        let groups = if user.groups.is_empty() {
            "no groups".to_owned()
        } else {
            format!("groups: {}", user.groups.join(", "))
        };
        let verified = if user.email_verified {
            "verified"
        } else {
            "not verified"
        };
        let _ = writeln!(
            body,
            r#"<div><button class="approve" type="submit" name="user" value="{name}">Approve as {name}</button> {email} ({verified}), {groups}</div>"#,
            name = escape(&user.username),
            email = escape(&user.email),
            groups = escape(&groups),
        );
    }
    body.push_str(
        "<div class=\"deny-row\"><p>Not your code, or not your login?</p>\
         <button class=\"deny\" type=\"submit\" name=\"deny\" value=\"1\">Deny this login</button></div>\n</form>",
    );
    page(Kind::DeviceDecide, "Approve this login?", &body)
}

/// The outcome of a POST. `message` is plain text.
pub fn result(kind: Kind, title: &str, message: &str) -> String {
    let class = match kind {
        Kind::Error | Kind::Denied => "error",
        _ => "ok",
    };
    let role = if kind == Kind::Error {
        " role=\"alert\""
    } else {
        ""
    };
    let body = format!(
        "<p class=\"{class}\"{role}>{}</p>\n<p>You can close this page.</p>",
        inline(message)
    );
    page(kind, title, &body)
}

/// One-time tokens embedded in the approval form: a POST must carry a token this issuer
/// rendered for the same user code, recently. It keeps other pages (and stale tabs) from
/// submitting decisions; it is not authentication, which the development issuer has none of.
#[derive(Debug, Default)]
pub struct FormTokens {
    tokens: HashMap<String, (String, SystemTime)>,
}

impl FormTokens {
    /// A new token for a form about `user_code` (normalised).
    pub fn issue(&mut self, user_code: &str, rng: &mut impl SecretRng, now: SystemTime) -> String {
        if self.tokens.len() >= MAX_FORM_TOKENS {
            self.tokens.retain(|_, (_, expires)| now < *expires);
        }
        if self.tokens.len() >= MAX_FORM_TOKENS {
            // Still full of live tokens: drop the one that would expire first.
            let oldest = self
                .tokens
                .iter()
                .min_by_key(|(_, (_, expires))| *expires)
                .map(|(t, _)| t.clone());
            if let Some(t) = oldest {
                self.tokens.remove(&t);
            }
        }
        let token = random::token(rng);
        self.tokens
            .insert(token.clone(), (user_code.to_owned(), now + FORM_TOKEN_TTL));
        token
    }

    /// Uses up `token`; true when it was issued for `user_code` and has not expired.
    pub fn consume(&mut self, token: &str, user_code: &str, now: SystemTime) -> bool {
        match self.tokens.remove(token) {
            Some((code, expires)) => code == user_code && now < expires,
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::default_users;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>"a"&'b'</script>"#),
            "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn pages_carry_banner_and_marker() {
        let html = enter_code(Some("<b>x</b>"), Some("\"><script>"));
        assert!(html.contains(r#"<meta name="zt-dev-page" content="enter-code">"#));
        assert!(html.contains("DEVELOPMENT ISSUER — never use in production"));
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<b>x</b>"));

        let html = decide("BCDF-GHJK", "openid", &default_users(), "tok");
        assert!(html.contains(r#"content="device-decide""#));
        for name in ["alice", "bob", "carol"] {
            assert!(html.contains(&format!("Approve as {name}")));
        }
        assert!(html.contains(r#"name="deny" value="1""#));
        assert!(html.contains(r#"name="form_token" value="tok""#));
    }

    #[test]
    fn form_tokens_are_single_use_bound_and_expire() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut tokens = FormTokens::default();
        let t = tokens.issue("BCDFGHJK", &mut rand_core::OsRng, t0);
        assert!(
            !tokens.consume(&t, "CCCCCCCC", t0),
            "bound to its user code"
        );
        let t = tokens.issue("BCDFGHJK", &mut rand_core::OsRng, t0);
        assert!(tokens.consume(&t, "BCDFGHJK", t0));
        assert!(!tokens.consume(&t, "BCDFGHJK", t0), "single use");
        let t = tokens.issue("BCDFGHJK", &mut rand_core::OsRng, t0);
        assert!(!tokens.consume(&t, "BCDFGHJK", t0 + FORM_TOKEN_TTL));
    }
}
