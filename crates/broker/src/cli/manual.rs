//! zt-broker's manual beyond its flags, written once: `zt-broker --help`, each command's
//! `--help` and the man pages in `man/` are built from it, and `tests/manual` holds the
//! environment list against the code and the README.

use zt_os::manual::Manual;

pub const MANUAL: Manual = Manual {
    program: "zt-broker",
    environment: &[
        ("ZT_BROKER_CONFIG", "the zt-broker.toml to use, as --config"),
        (
            "ZT_BROKER_DB_PASSWORD",
            "the PostgreSQL store's password, when store.postgres_password_file is not set",
        ),
        (
            "ZT_LOG",
            "the log filter (default info), e.g. `zt_broker=debug` or `warn`",
        ),
        (
            "SSL_CERT_FILE",
            "CA certificates (PEM) to trust for the identity provider: a private CA",
        ),
        (
            "SSL_CERT_DIR",
            "a directory of CA certificates, as SSL_CERT_FILE",
        ),
    ],
    files: &[
        (
            "zt-broker.toml",
            "the broker's configuration (`zt-broker init` writes it)",
        ),
        (
            "user_ca, host_ca",
            "the Ed25519 certificate authorities (0600; .pub beside them)",
        ),
        (
            "token_signing_key.pem",
            "the ES256 key that signs broker access tokens (0600)",
        ),
        (
            "audit_signing_key.pem",
            "the ES256 key that signs audit checkpoints (0600; .pub.json beside it)",
        ),
        ("policy.toml", "who gets which principals"),
        (
            "zt-broker.db",
            "the store: audit log, serials, revocations, enrolment tokens, devices (SQLite; or store.postgres)",
        ),
    ],
    exit_status: &[
        ("0", "success"),
        ("1", "an unexpected error (a bug)"),
        ("2", "usage: a command line zt-broker cannot use"),
        (
            "4",
            "denied: no policy rule grants the identity (policy check)",
        ),
        (
            "7",
            "configuration: a config, key, policy or database file it cannot use",
        ),
        ("8", "integrity: the audit log is not intact (audit verify)"),
    ],
    examples: &[
        (
            "",
            "zt-broker dev",
            "A loopback broker with a development identity provider",
        ),
        (
            "",
            "zt-broker serve --config /etc/zt-broker/zt-broker.toml",
            "Run the broker",
        ),
        (
            "init",
            "zt-broker init --dir /etc/zt-broker --issuer https://idp.example.com --client-id zt --listen 0.0.0.0:8443 --public-url https://zt-broker.example.com",
            "Keys, config and a starter policy",
        ),
        (
            "serve",
            "zt-broker serve --config /etc/zt-broker/zt-broker.toml",
            "Serve HTTPS with the configured certificate",
        ),
        (
            "dev",
            "zt-broker dev --listen 127.0.0.1:8080 --auto-approve alice",
            "Sign in as alice without a browser",
        ),
        (
            "dev",
            "ZT_BROKER_DB_PASSWORD=… zt-broker dev --postgres postgres://zt@127.0.0.1:5432/zt",
            "The development broker on a PostgreSQL database",
        ),
        (
            "migrate",
            "zt-broker migrate --config /etc/zt-broker/zt-broker.toml",
            "Bring the PostgreSQL schema to this broker's version before starting new replicas",
        ),
        (
            "serve",
            "zt-broker serve --config zt-broker.toml --listen 127.0.0.1:8444",
            "A second replica on the same host, sharing config and database",
        ),
        (
            "sign-host",
            "zt-broker sign-host --config zt-broker.toml /etc/ssh/ssh_host_ed25519_key.pub --principals web1.example.com",
            "A host certificate, by hand",
        ),
        (
            "audit verify",
            "zt-broker audit verify --config zt-broker.toml --json",
            "Check the audit chain and its signed checkpoints",
        ),
        (
            "audit export",
            "zt-broker audit export --config zt-broker.toml --json --since 2h",
            "The last two hours of decisions, one JSON object per line",
        ),
        (
            "revoke",
            "zt-broker revoke --config zt-broker.toml --user https://idp.example.com,alice",
            "Revoke a user's certificates and refuse them new ones",
        ),
        (
            "revoke",
            "zt-broker revoke --config zt-broker.toml --serial 4611686018427387903",
            "Revoke one certificate (serials as in `zt status --json`)",
        ),
        (
            "device list",
            "zt-broker device list --config zt-broker.toml",
            "Every device, its owner, status and last use",
        ),
        (
            "device approve",
            "zt-broker device approve --config zt-broker.toml DEVICE_ID",
            "Let a device use rules with require.device = \"approved\"",
        ),
        (
            "device revoke",
            "zt-broker device revoke --config zt-broker.toml DEVICE_ID",
            "A lost laptop: no more tokens or certificates for its key",
        ),
        (
            "host token create",
            "zt-broker host token create --config zt-broker.toml --principals web1.example.com --ttl 1h",
            "A one-time enrolment token for `zt host enroll`",
        ),
        (
            "policy check",
            "zt-broker policy check policy.toml --issuer https://idp.example.com --subject alice --group sre",
            "Which rule grants alice what, and why the others do not",
        ),
    ],
    see_also: &["zt(1)", "sshd_config(5)", "ssh-keygen(1)"],
};
