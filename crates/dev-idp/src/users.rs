//! The fake users of the development issuer.
//!
//! They have no passwords: on the `/device` page anyone can approve a login as any of them.
//! That is the point of a development issuer and the reason it must never face a network.

/// A fake user whose identity the development issuer asserts in ID tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevUser {
    /// Login name shown on the approval page; `preferred_username` claim.
    pub username: String,
    /// `sub` claim: stable and opaque, as real providers make it.
    pub subject: String,
    /// `name` claim.
    pub name: String,
    /// `email` claim.
    pub email: String,
    /// `email_verified` claim.
    pub email_verified: bool,
    /// `groups` claim.
    pub groups: Vec<String>,
}

/// The three users the quick start and the tests rely on:
///
/// - `alice`: groups `["sre"]`, `alice@example.com`, verified;
/// - `bob`: groups `["dev"]`, `bob@example.com`, verified;
/// - `carol`: no groups, `carol@example.com`, **not** verified (to exercise policies that
///   demand a verified email).
///
/// The subjects are fixed strings so that policies and audit records written against one run
/// of the development issuer still match in the next.
pub fn default_users() -> Vec<DevUser> {
    let user =
        |username: &str, subject: &str, name: &str, verified: bool, groups: &[&str]| DevUser {
            username: username.to_owned(),
            subject: subject.to_owned(),
            name: name.to_owned(),
            email: format!("{username}@example.com"),
            email_verified: verified,
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        };
    vec![
        user(
            "alice",
            "dev-9f1c2a7e-alice",
            "Alice Example",
            true,
            &["sre"],
        ),
        user("bob", "dev-4b8d03c5-bob", "Bob Example", true, &["dev"]),
        user("carol", "dev-c61e5f92-carol", "Carol Example", false, &[]),
    ]
}

/// The user with this exact username.
pub(super) fn find<'a>(users: &'a [DevUser], username: &str) -> Option<&'a DevUser> {
    users.iter().find(|u| u.username == username)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_users_match_the_documented_set() {
        let users = default_users();
        let alice = find(&users, "alice").unwrap();
        assert_eq!(alice.groups, ["sre"]);
        assert_eq!(alice.email, "alice@example.com");
        assert!(alice.email_verified);
        let bob = find(&users, "bob").unwrap();
        assert_eq!(bob.groups, ["dev"]);
        assert!(bob.email_verified);
        let carol = find(&users, "carol").unwrap();
        assert!(carol.groups.is_empty());
        assert!(!carol.email_verified);
        assert!(find(&users, "Alice").is_none());
    }

    #[test]
    fn subjects_are_stable_and_distinct() {
        let a = default_users();
        let b = default_users();
        assert_eq!(a, b);
        let mut subjects: Vec<_> = a.iter().map(|u| u.subject.as_str()).collect();
        subjects.dedup();
        assert_eq!(subjects.len(), 3);
    }
}
