//! zt's manual beyond its flags, written once: `zt --help`, `zt COMMAND --help` and the man
//! pages in `man/` are built from it, and `tests/manual` holds the environment list against
//! the code and the README.

use zt_os::manual::Manual;

pub const MANUAL: Manual = Manual {
    program: "zt",
    environment: &[
        (
            "ZT_PROFILE",
            "the profile to use, as --profile (default: default)",
        ),
        (
            "ZT_BROKER",
            "the broker URL for `zt login` and `zt host enroll`, as --broker; in a CI job, for every command",
        ),
        (
            "CI",
            "set (not 0/false) by CI systems: without a session or a terminal, zt logs in as the job (--ci)",
        ),
        (
            "GITHUB_ACTIONS",
            "a GitHub Actions job: also turns on the CI path, and shapes the hint when no token is found",
        ),
        (
            "GITLAB_CI",
            "a GitLab CI job: ZT_ID_TOKEN is read as its id_token",
        ),
        ("TF_BUILD", "an Azure Pipelines job: turns on the CI path"),
        ("JENKINS_URL", "a Jenkins job: turns on the CI path"),
        (
            "KUBERNETES_SERVICE_HOST",
            "in a pod: shapes the hint about the projected service-account token",
        ),
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "GitHub Actions' OIDC token endpoint (with id-token: write), asked for the broker's audience",
        ),
        (
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "the bearer token for ACTIONS_ID_TOKEN_REQUEST_URL",
        ),
        (
            "ZT_ID_TOKEN",
            "in GitLab CI, the id_tokens variable zt reads (another: --id-token-env)",
        ),
        (
            "ZT_ID_TOKEN_FILE",
            "a file holding the job's ID token, as --id-token-file (Kubernetes: /var/run/secrets/tokens/zt-token is read when it exists)",
        ),
        (
            "ZT_CLIENT_ID",
            "an OAuth client for the client credentials grant (--ci)",
        ),
        ("ZT_CLIENT_SECRET", "its secret (never on the command line)"),
        (
            "ZT_CLIENT_SECRET_FILE",
            "a 0600 file holding its secret, instead of ZT_CLIENT_SECRET",
        ),
        (
            "ZT_CLIENT_ISSUER",
            "the OpenID provider of the client credentials grant (default: the broker's)",
        ),
        (
            "ZT_CLIENT_SCOPE",
            "a scope to send with the client credentials grant, for providers that want one",
        ),
        (
            "ZT_CREDENTIAL_STORE",
            "`keyring` or `file`: where the refresh token and device key live",
        ),
        (
            "ZT_SSH_PROGRAM",
            "the ssh that `zt ssh` and `zt forward` run (default: ssh from PATH)",
        ),
        (
            "ZT_HOST_TOKEN",
            "the enrolment token for `zt host enroll` (--token-file is safer)",
        ),
        (
            "SSH_AUTH_SOCK",
            "the ssh-agent that holds the key; without one it is a 0600 file",
        ),
        (
            "SSL_CERT_FILE",
            "CA certificates (PEM) to trust for the broker and the IdP: a private CA",
        ),
        (
            "SSL_CERT_DIR",
            "a directory of CA certificates, as SSL_CERT_FILE",
        ),
        (
            "HOME",
            "the home directory: ~/.config, ~/.local/state and ~/.ssh",
        ),
        (
            "XDG_CONFIG_HOME",
            "where config.toml lives (default ~/.config)",
        ),
        (
            "XDG_STATE_HOME",
            "where sessions and file secrets live (default ~/.local/state)",
        ),
        (
            "XDG_RUNTIME_DIR",
            "where the key and certificate files live (else a private dir in TMPDIR)",
        ),
        ("TMPDIR", "see XDG_RUNTIME_DIR"),
        (
            "XDG_CURRENT_DESKTOP",
            "the desktop (GNOME, KDE) whose screen lock the posture check reads",
        ),
        (
            "ZT_POSTURE_ROOT",
            "debug builds only (the test suite): read posture files under this directory instead of /; release builds ignore it",
        ),
        (
            "USER",
            "names the TMPDIR directory when XDG_RUNTIME_DIR is not set",
        ),
    ],
    files: &[
        (
            "~/.config/zt/config.toml",
            "profiles: the broker URL of each",
        ),
        (
            "~/.local/state/zt/PROFILE/session.json",
            "the identity and the current certificate's facts (no secrets)",
        ),
        (
            "~/.local/state/zt/PROFILE/secrets/",
            "the refresh token and device key, when no OS keyring works (0600)",
        ),
        (
            "$XDG_RUNTIME_DIR/zt/PROFILE/",
            "id_ed25519 (without an agent), id_ed25519-cert.pub and known_hosts (the broker's host CA)",
        ),
        (
            "~/.ssh/zt/PROFILE.conf",
            "what `zt ssh-config install` writes; ~/.ssh/config gets one Include line",
        ),
        (
            "/etc/ssh/zt/",
            "on a target (`zt host`): user_ca_keys.pub, revoked_keys, principals/, host.json",
        ),
        (
            "/etc/ssh/sshd_config.d/50-zt.conf",
            "on a target: the sshd settings that point at /etc/ssh/zt/",
        ),
    ],
    exit_status: &[
        ("0", "success"),
        ("1", "an unexpected error (a bug)"),
        ("2", "usage: a command line zt cannot use"),
        (
            "3",
            "login required: no or expired credentials; run `zt login`",
        ),
        ("4", "denied by policy or by the identity provider"),
        ("5", "device posture not met"),
        ("6", "the broker or the identity provider is unreachable"),
        ("7", "configuration: a setting, file or URL zt cannot use"),
        (
            "*",
            "`zt ssh` exits with ssh's own status once ssh has started",
        ),
    ],
    examples: &[
        (
            "",
            "zt login --broker https://zt-broker.example.com",
            "Sign in once",
        ),
        (
            "",
            "zt ssh -- prod-host",
            "Log in to a host with a fresh certificate",
        ),
        (
            "",
            "zt status --json",
            "Who you are and when the certificate expires",
        ),
        (
            "login",
            "zt login --broker https://zt-broker.example.com",
            "Sign in and remember the broker in the profile",
        ),
        (
            "login",
            "zt --profile staging login --broker https://zt.staging.example.com",
            "A second broker, in its own profile",
        ),
        ("ssh", "zt ssh -- prod-host", "Log in to prod-host"),
        (
            "ssh",
            "zt ssh -p 2222 -- ops@prod-host uptime",
            "Run one command as ops, on port 2222",
        ),
        (
            "ssh",
            "zt ssh -L 8080:localhost:80 -- prod-host",
            "Forward a port (the policy must grant it)",
        ),
        (
            "ssh",
            "zt --profile staging ssh -- \"$HOST\" id",
            "A host from a script: never read as an option",
        ),
        ("status", "zt status", "Identity, principals and time left"),
        (
            "status",
            "zt status --json | jq -r .certificate.serial",
            "The certificate's serial, exactly (a string)",
        ),
        (
            "logout",
            "zt logout",
            "Revoke the session and delete local state",
        ),
        (
            "token",
            "zt token --audience https://api.internal --format header | curl -H @- https://api.internal/",
            "A five-minute token for a service the policy rule lists in `audiences`",
        ),
        (
            "token",
            "zt token --audience kubernetes --format kubectl",
            "What kubectl's exec credential plugin runs (users[].user.exec)",
        ),
        (
            "token",
            "curl -H \"Authorization: DPoP $(zt token)\" …",
            "A broker access token for another tool (it is bound to zt's device key)",
        ),
        (
            "login",
            "ZT_BROKER=https://zt-broker.example.com zt login --ci",
            "In a CI job: check that the job's workload identity gets in, and what it gets",
        ),
        (
            "ssh",
            "zt ssh --ci -- deploy@prod-host ./deploy.sh",
            "In a CI job: log in, run one command, keep nothing",
        ),
        (
            "posture",
            "zt posture --json",
            "The device report the broker will see",
        ),
        (
            "forward",
            "zt forward -L 5432:localhost:5432 -- db-host",
            "Keep a tunnel to a database up",
        ),
        (
            "ssh-config install",
            "zt ssh-config install --hosts '*.prod.example.com' bastion",
            "Plain ssh, scp, rsync and git use zt's certificate for these hosts",
        ),
        (
            "ssh-config uninstall",
            "zt ssh-config uninstall",
            "Remove the profile's ssh configuration",
        ),
        (
            "ssh-config check",
            "zt ssh-config check",
            "What ssh's Match exec runs: exit 0 with a valid certificate",
        ),
        (
            "completions",
            "zt completions bash > ~/.local/share/bash-completion/completions/zt",
            "Install bash completions",
        ),
        (
            "host enroll",
            "zt host enroll --broker https://zt-broker.example.com --token-file token",
            "On a target, as root: host certificate, user CA, KRL, sshd drop-in",
        ),
        (
            "host enroll",
            "zt host enroll --broker https://zt-broker.example.com --dry-run",
            "Show what enrolment would write, and write nothing",
        ),
        (
            "host renew",
            "zt host renew",
            "Renew the host certificate once a third of its life is left",
        ),
        (
            "host krl-sync",
            "zt host krl-sync",
            "Fetch the broker's revocation list for sshd (the zt-krl-sync timer runs it)",
        ),
    ],
    see_also: &[
        "ssh(1)",
        "ssh_config(5)",
        "sshd_config(5)",
        "ssh-agent(1)",
        "zt-broker(1)",
    ],
};
