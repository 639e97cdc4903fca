
use builtin;
use str;

set edit:completion:arg-completer[zt-broker] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'zt-broker'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'zt-broker'= {
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand init 'Create CA keys, a config file and a starter policy in a directory'
            cand serve 'Run the broker from a config file'
            cand migrate 'Bring a PostgreSQL store''s schema to this broker''s version (brokers never migrate by themselves)'
            cand dev 'Development only: a loopback broker with a built-in test identity provider'
            cand sign-host 'Sign a host key with the host CA (local admin command)'
            cand audit 'Verify or export the audit log'
            cand revoke 'Revoke a certificate, key or user (local admin command; audited)'
            cand device 'The device registry: list, show, approve or revoke devices (local admin command; audited)'
            cand host 'Host enrolment: one-time tokens for `zt host enroll` (local admin command)'
            cand policy 'Check a policy file and explain its decision for an identity'
            cand token-key 'Rotate the key that signs broker tokens (local admin command)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'zt-broker;init'= {
            cand --dir 'Directory to create the broker''s files in'
            cand --issuer 'OpenID Connect issuer URL of the identity provider'
            cand --client-id 'OAuth client id that zt uses at the identity provider (a public client with the device grant)'
            cand --audience 'Audience of broker access tokens'
            cand --listen 'Address to listen on'
            cand --public-url 'URL clients use to reach the broker [default: http://<listen>]'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt-broker;serve'= {
            cand --config 'Path of zt-broker.toml'
            cand --listen 'Listen here instead of on server.listen (replicas that share one config on one host)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt-broker;migrate'= {
            cand --config 'Path of zt-broker.toml'
            cand --json 'Print one JSON document on stdout'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt-broker;dev'= {
            cand --listen 'Loopback address to listen on (port 0 picks a free one)'
            cand --dir 'Directory for keys, policy and database [default: a new temporary directory]'
            cand --auto-approve 'Approve every device code at once as this development user (alice, bob, carol)'
            cand --policy 'Policy file to use instead of the starter policy'
            cand --postgres 'Keep the state in this PostgreSQL database instead of SQLite, migrating it first (postgres://USER@HOST/DB; the password from ZT_BROKER_DB_PASSWORD)'
            cand --json 'Print one JSON line with the broker URL and CA keys on stdout (for scripts)'
            cand --no-rate-limits 'Switch off the per-address and per-identity request rate limits (for load benchmarks)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt-broker;sign-host'= {
            cand --config 'Path of zt-broker.toml'
            cand --principals 'Host names and addresses the certificate is valid for, comma-separated'
            cand --ttl 'Lifetime (e.g. 30d, 12h)'
            cand --out 'Where to write the certificate [default: <host_key without .pub>-cert.pub]'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt-broker;audit'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand verify 'Walk the hash chain and signed checkpoints; report the first record that was edited, deleted, reordered or inserted, or a truncated tail (exit 1)'
            cand export 'Print audit records, one per line (JSON with --json), optionally filtered'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'zt-broker;audit;verify'= {
            cand --config 'Path of zt-broker.toml'
            cand --public-key 'Check signatures with this public key (the audit_signing_key.pub.json that init wrote) instead of the private key named in the config'
            cand --json 'Print the verdict as one JSON object on stdout'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt-broker;audit;export'= {
            cand --config 'Path of zt-broker.toml'
            cand --user 'Only this user: ISSUER,SUBJECT, an email address, or a subject'
            cand --serial 'Only records of the certificate with this serial'
            cand --since 'Only records at or after: unix seconds, or a duration ago (30m, 2h, 7d)'
            cand --until 'Only records at or before: unix seconds, or a duration ago'
            cand --json 'One JSON object per line (the record plus `seq` and `hash`)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt-broker;audit;help'= {
            cand verify 'Walk the hash chain and signed checkpoints; report the first record that was edited, deleted, reordered or inserted, or a truncated tail (exit 1)'
            cand export 'Print audit records, one per line (JSON with --json), optionally filtered'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'zt-broker;audit;help;verify'= {
        }
        &'zt-broker;audit;help;export'= {
        }
        &'zt-broker;audit;help;help'= {
        }
        &'zt-broker;revoke'= {
            cand --config 'Path of zt-broker.toml'
            cand --serial 'A certificate serial (as in `zt status`, the audit log or sshd''s log)'
            cand --key-id 'A certificate key ID, exactly'
            cand --user 'A user: every unexpired certificate issued to them, and no new ones'
            cand --key 'A public key: its SHA256:… fingerprint, or a .pub file'
            cand --force 'Revoke even though this broker never issued a certificate it names (ahead of time, or one another broker issued with the same CA)'
            cand --json 'Print the result as JSON on stdout'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt-broker;device'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand list 'List every device, most recently seen first'
            cand show 'One device''s record'
            cand approve 'Approve a device (for rules that require approved devices; audited)'
            cand revoke 'Revoke a device: no more tokens or certificates for it (audited)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'zt-broker;device;list'= {
            cand --config 'Path of zt-broker.toml'
            cand --json 'Print one JSON document on stdout'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt-broker;device;show'= {
            cand --config 'Path of zt-broker.toml'
            cand --json 'Print one JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'zt-broker;device;approve'= {
            cand --config 'Path of zt-broker.toml'
            cand --json 'Print one JSON document on stdout'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt-broker;device;revoke'= {
            cand --config 'Path of zt-broker.toml'
            cand --json 'Print one JSON document on stdout'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt-broker;device;help'= {
            cand list 'List every device, most recently seen first'
            cand show 'One device''s record'
            cand approve 'Approve a device (for rules that require approved devices; audited)'
            cand revoke 'Revoke a device: no more tokens or certificates for it (audited)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'zt-broker;device;help;list'= {
        }
        &'zt-broker;device;help;show'= {
        }
        &'zt-broker;device;help;approve'= {
        }
        &'zt-broker;device;help;revoke'= {
        }
        &'zt-broker;device;help;help'= {
        }
        &'zt-broker;host'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand token 'Host enrolment tokens'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'zt-broker;host;token'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand create 'Create a one-time enrolment token (printed on stdout)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'zt-broker;host;token;create'= {
            cand --config 'Path of zt-broker.toml'
            cand --principals 'Host names and addresses the host certificate will be valid for, comma-separated'
            cand --ttl 'How long the token can be used (e.g. 15m, 1h; at most 7d)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt-broker;host;token;help'= {
            cand create 'Create a one-time enrolment token (printed on stdout)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'zt-broker;host;token;help;create'= {
        }
        &'zt-broker;host;token;help;help'= {
        }
        &'zt-broker;host;help'= {
            cand token 'Host enrolment tokens'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'zt-broker;host;help;token'= {
            cand create 'Create a one-time enrolment token (printed on stdout)'
        }
        &'zt-broker;host;help;token;create'= {
        }
        &'zt-broker;host;help;help'= {
        }
        &'zt-broker;policy'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand check 'Check a policy file; with an identity, explain the decision for it'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'zt-broker;policy;check'= {
            cand --issuer 'The identity''s issuer (`iss`); with --subject, explain the decision'
            cand --subject 'The identity''s subject (`sub`)'
            cand --email 'A verified email address (the broker ignores unverified ones)'
            cand --group 'A group the identity is in (repeat for several)'
            cand --claim 'A claim of a workload token, NAME=VALUE (repeat for several): the identity is then a workload (a CI job), matched by rules with match.claims'
            cand --report 'A device''s posture report (`zt posture --json` output): say whether it meets the granting rule''s posture requirements'
            cand --json 'Print one JSON object on stdout'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt-broker;policy;help'= {
            cand check 'Check a policy file; with an identity, explain the decision for it'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'zt-broker;policy;help;check'= {
        }
        &'zt-broker;policy;help;help'= {
        }
        &'zt-broker;token-key'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand rotate 'Make a new token-signing key; the current one becomes the previous one (restart to apply)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'zt-broker;token-key;rotate'= {
            cand --config 'Path of zt-broker.toml'
            cand --json 'Print one JSON document on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'zt-broker;token-key;help'= {
            cand rotate 'Make a new token-signing key; the current one becomes the previous one (restart to apply)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'zt-broker;token-key;help;rotate'= {
        }
        &'zt-broker;token-key;help;help'= {
        }
        &'zt-broker;help'= {
            cand init 'Create CA keys, a config file and a starter policy in a directory'
            cand serve 'Run the broker from a config file'
            cand migrate 'Bring a PostgreSQL store''s schema to this broker''s version (brokers never migrate by themselves)'
            cand dev 'Development only: a loopback broker with a built-in test identity provider'
            cand sign-host 'Sign a host key with the host CA (local admin command)'
            cand audit 'Verify or export the audit log'
            cand revoke 'Revoke a certificate, key or user (local admin command; audited)'
            cand device 'The device registry: list, show, approve or revoke devices (local admin command; audited)'
            cand host 'Host enrolment: one-time tokens for `zt host enroll` (local admin command)'
            cand policy 'Check a policy file and explain its decision for an identity'
            cand token-key 'Rotate the key that signs broker tokens (local admin command)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'zt-broker;help;init'= {
        }
        &'zt-broker;help;serve'= {
        }
        &'zt-broker;help;migrate'= {
        }
        &'zt-broker;help;dev'= {
        }
        &'zt-broker;help;sign-host'= {
        }
        &'zt-broker;help;audit'= {
            cand verify 'Walk the hash chain and signed checkpoints; report the first record that was edited, deleted, reordered or inserted, or a truncated tail (exit 1)'
            cand export 'Print audit records, one per line (JSON with --json), optionally filtered'
        }
        &'zt-broker;help;audit;verify'= {
        }
        &'zt-broker;help;audit;export'= {
        }
        &'zt-broker;help;revoke'= {
        }
        &'zt-broker;help;device'= {
            cand list 'List every device, most recently seen first'
            cand show 'One device''s record'
            cand approve 'Approve a device (for rules that require approved devices; audited)'
            cand revoke 'Revoke a device: no more tokens or certificates for it (audited)'
        }
        &'zt-broker;help;device;list'= {
        }
        &'zt-broker;help;device;show'= {
        }
        &'zt-broker;help;device;approve'= {
        }
        &'zt-broker;help;device;revoke'= {
        }
        &'zt-broker;help;host'= {
            cand token 'Host enrolment tokens'
        }
        &'zt-broker;help;host;token'= {
            cand create 'Create a one-time enrolment token (printed on stdout)'
        }
        &'zt-broker;help;host;token;create'= {
        }
        &'zt-broker;help;policy'= {
            cand check 'Check a policy file; with an identity, explain the decision for it'
        }
        &'zt-broker;help;policy;check'= {
        }
        &'zt-broker;help;token-key'= {
            cand rotate 'Make a new token-signing key; the current one becomes the previous one (restart to apply)'
        }
        &'zt-broker;help;token-key;rotate'= {
        }
        &'zt-broker;help;help'= {
        }
    ]
    $completions[$command]
}
