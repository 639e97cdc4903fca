# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_zt_broker_global_optspecs
    string join \n h/help V/version
end

function __fish_zt_broker_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_zt_broker_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_zt_broker_using_subcommand
    set -l cmd (__fish_zt_broker_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c zt-broker -n "__fish_zt_broker_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt-broker -n "__fish_zt_broker_needs_command" -s V -l version -d 'Print version'
complete -c zt-broker -n "__fish_zt_broker_needs_command" -f -a "init" -d 'Create CA keys, a config file and a starter policy in a directory'
complete -c zt-broker -n "__fish_zt_broker_needs_command" -f -a "serve" -d 'Run the broker from a config file'
complete -c zt-broker -n "__fish_zt_broker_needs_command" -f -a "migrate" -d 'Bring a PostgreSQL store\'s schema to this broker\'s version (brokers never migrate by themselves)'
complete -c zt-broker -n "__fish_zt_broker_needs_command" -f -a "dev" -d 'Development only: a loopback broker with a built-in test identity provider'
complete -c zt-broker -n "__fish_zt_broker_needs_command" -f -a "sign-host" -d 'Sign a host key with the host CA (local admin command)'
complete -c zt-broker -n "__fish_zt_broker_needs_command" -f -a "audit" -d 'Verify or export the audit log'
complete -c zt-broker -n "__fish_zt_broker_needs_command" -f -a "revoke" -d 'Revoke a certificate, key or user (local admin command; audited)'
complete -c zt-broker -n "__fish_zt_broker_needs_command" -f -a "device" -d 'The device registry: list, show, approve or revoke devices (local admin command; audited)'
complete -c zt-broker -n "__fish_zt_broker_needs_command" -f -a "host" -d 'Host enrolment: one-time tokens for `zt host enroll` (local admin command)'
complete -c zt-broker -n "__fish_zt_broker_needs_command" -f -a "policy" -d 'Check a policy file and explain its decision for an identity'
complete -c zt-broker -n "__fish_zt_broker_needs_command" -f -a "token-key" -d 'Rotate the key that signs broker tokens (local admin command)'
complete -c zt-broker -n "__fish_zt_broker_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand init" -l dir -d 'Directory to create the broker\'s files in' -r -F
complete -c zt-broker -n "__fish_zt_broker_using_subcommand init" -l issuer -d 'OpenID Connect issuer URL of the identity provider' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand init" -l client-id -d 'OAuth client id that zt uses at the identity provider (a public client with the device grant)' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand init" -l audience -d 'Audience of broker access tokens' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand init" -l listen -d 'Address to listen on' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand init" -l public-url -d 'URL clients use to reach the broker [default: http://<listen>]' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand serve" -l config -d 'Path of zt-broker.toml' -r -F
complete -c zt-broker -n "__fish_zt_broker_using_subcommand serve" -l listen -d 'Listen here instead of on server.listen (replicas that share one config on one host)' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand migrate" -l config -d 'Path of zt-broker.toml' -r -F
complete -c zt-broker -n "__fish_zt_broker_using_subcommand migrate" -l json -d 'Print one JSON document on stdout'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand migrate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand dev" -l listen -d 'Loopback address to listen on (port 0 picks a free one)' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand dev" -l dir -d 'Directory for keys, policy and database [default: a new temporary directory]' -r -F
complete -c zt-broker -n "__fish_zt_broker_using_subcommand dev" -l auto-approve -d 'Approve every device code at once as this development user (alice, bob, carol)' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand dev" -l policy -d 'Policy file to use instead of the starter policy' -r -F
complete -c zt-broker -n "__fish_zt_broker_using_subcommand dev" -l postgres -d 'Keep the state in this PostgreSQL database instead of SQLite, migrating it first (postgres://USER@HOST/DB; the password from ZT_BROKER_DB_PASSWORD)' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand dev" -l json -d 'Print one JSON line with the broker URL and CA keys on stdout (for scripts)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand dev" -l no-rate-limits -d 'Switch off the per-address and per-identity request rate limits (for load benchmarks)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand dev" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand sign-host" -l config -d 'Path of zt-broker.toml' -r -F
complete -c zt-broker -n "__fish_zt_broker_using_subcommand sign-host" -l principals -d 'Host names and addresses the certificate is valid for, comma-separated' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand sign-host" -l ttl -d 'Lifetime (e.g. 30d, 12h)' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand sign-host" -l out -d 'Where to write the certificate [default: <host_key without .pub>-cert.pub]' -r -F
complete -c zt-broker -n "__fish_zt_broker_using_subcommand sign-host" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand audit; and not __fish_seen_subcommand_from verify export help" -s h -l help -d 'Print help'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand audit; and not __fish_seen_subcommand_from verify export help" -f -a "verify" -d 'Walk the hash chain and signed checkpoints; report the first record that was edited, deleted, reordered or inserted, or a truncated tail (exit 1)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand audit; and not __fish_seen_subcommand_from verify export help" -f -a "export" -d 'Print audit records, one per line (JSON with --json), optionally filtered'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand audit; and not __fish_seen_subcommand_from verify export help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand audit; and __fish_seen_subcommand_from verify" -l config -d 'Path of zt-broker.toml' -r -F
complete -c zt-broker -n "__fish_zt_broker_using_subcommand audit; and __fish_seen_subcommand_from verify" -l public-key -d 'Check signatures with this public key (the audit_signing_key.pub.json that init wrote) instead of the private key named in the config' -r -F
complete -c zt-broker -n "__fish_zt_broker_using_subcommand audit; and __fish_seen_subcommand_from verify" -l json -d 'Print the verdict as one JSON object on stdout'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand audit; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand audit; and __fish_seen_subcommand_from export" -l config -d 'Path of zt-broker.toml' -r -F
complete -c zt-broker -n "__fish_zt_broker_using_subcommand audit; and __fish_seen_subcommand_from export" -l user -d 'Only this user: ISSUER,SUBJECT, an email address, or a subject' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand audit; and __fish_seen_subcommand_from export" -l serial -d 'Only records of the certificate with this serial' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand audit; and __fish_seen_subcommand_from export" -l since -d 'Only records at or after: unix seconds, or a duration ago (30m, 2h, 7d)' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand audit; and __fish_seen_subcommand_from export" -l until -d 'Only records at or before: unix seconds, or a duration ago' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand audit; and __fish_seen_subcommand_from export" -l json -d 'One JSON object per line (the record plus `seq` and `hash`)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand audit; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Walk the hash chain and signed checkpoints; report the first record that was edited, deleted, reordered or inserted, or a truncated tail (exit 1)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "export" -d 'Print audit records, one per line (JSON with --json), optionally filtered'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand revoke" -l config -d 'Path of zt-broker.toml' -r -F
complete -c zt-broker -n "__fish_zt_broker_using_subcommand revoke" -l serial -d 'A certificate serial (as in `zt status`, the audit log or sshd\'s log)' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand revoke" -l key-id -d 'A certificate key ID, exactly' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand revoke" -l user -d 'A user: every unexpired certificate issued to them, and no new ones' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand revoke" -l key -d 'A public key: its SHA256:… fingerprint, or a .pub file' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand revoke" -l force -d 'Revoke even though this broker never issued a certificate it names (ahead of time, or one another broker issued with the same CA)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand revoke" -l json -d 'Print the result as JSON on stdout'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand revoke" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand device; and not __fish_seen_subcommand_from list show approve revoke help" -s h -l help -d 'Print help'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand device; and not __fish_seen_subcommand_from list show approve revoke help" -f -a "list" -d 'List every device, most recently seen first'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand device; and not __fish_seen_subcommand_from list show approve revoke help" -f -a "show" -d 'One device\'s record'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand device; and not __fish_seen_subcommand_from list show approve revoke help" -f -a "approve" -d 'Approve a device (for rules that require approved devices; audited)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand device; and not __fish_seen_subcommand_from list show approve revoke help" -f -a "revoke" -d 'Revoke a device: no more tokens or certificates for it (audited)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand device; and not __fish_seen_subcommand_from list show approve revoke help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand device; and __fish_seen_subcommand_from list" -l config -d 'Path of zt-broker.toml' -r -F
complete -c zt-broker -n "__fish_zt_broker_using_subcommand device; and __fish_seen_subcommand_from list" -l json -d 'Print one JSON document on stdout'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand device; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand device; and __fish_seen_subcommand_from show" -l config -d 'Path of zt-broker.toml' -r -F
complete -c zt-broker -n "__fish_zt_broker_using_subcommand device; and __fish_seen_subcommand_from show" -l json -d 'Print one JSON document on stdout'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand device; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand device; and __fish_seen_subcommand_from approve" -l config -d 'Path of zt-broker.toml' -r -F
complete -c zt-broker -n "__fish_zt_broker_using_subcommand device; and __fish_seen_subcommand_from approve" -l json -d 'Print one JSON document on stdout'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand device; and __fish_seen_subcommand_from approve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand device; and __fish_seen_subcommand_from revoke" -l config -d 'Path of zt-broker.toml' -r -F
complete -c zt-broker -n "__fish_zt_broker_using_subcommand device; and __fish_seen_subcommand_from revoke" -l json -d 'Print one JSON document on stdout'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand device; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand device; and __fish_seen_subcommand_from help" -f -a "list" -d 'List every device, most recently seen first'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand device; and __fish_seen_subcommand_from help" -f -a "show" -d 'One device\'s record'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand device; and __fish_seen_subcommand_from help" -f -a "approve" -d 'Approve a device (for rules that require approved devices; audited)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand device; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Revoke a device: no more tokens or certificates for it (audited)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand device; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand host; and not __fish_seen_subcommand_from token help" -s h -l help -d 'Print help'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand host; and not __fish_seen_subcommand_from token help" -f -a "token" -d 'Host enrolment tokens'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand host; and not __fish_seen_subcommand_from token help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand host; and __fish_seen_subcommand_from token" -s h -l help -d 'Print help'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand host; and __fish_seen_subcommand_from token" -f -a "create" -d 'Create a one-time enrolment token (printed on stdout)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand host; and __fish_seen_subcommand_from token" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand host; and __fish_seen_subcommand_from help" -f -a "token" -d 'Host enrolment tokens'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand host; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand policy; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand policy; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Check a policy file; with an identity, explain the decision for it'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand policy; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand policy; and __fish_seen_subcommand_from check" -l issuer -d 'The identity\'s issuer (`iss`); with --subject, explain the decision' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand policy; and __fish_seen_subcommand_from check" -l subject -d 'The identity\'s subject (`sub`)' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand policy; and __fish_seen_subcommand_from check" -l email -d 'A verified email address (the broker ignores unverified ones)' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand policy; and __fish_seen_subcommand_from check" -l group -d 'A group the identity is in (repeat for several)' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand policy; and __fish_seen_subcommand_from check" -l claim -d 'A claim of a workload token, NAME=VALUE (repeat for several): the identity is then a workload (a CI job), matched by rules with match.claims' -r
complete -c zt-broker -n "__fish_zt_broker_using_subcommand policy; and __fish_seen_subcommand_from check" -l report -d 'A device\'s posture report (`zt posture --json` output): say whether it meets the granting rule\'s posture requirements' -r -F
complete -c zt-broker -n "__fish_zt_broker_using_subcommand policy; and __fish_seen_subcommand_from check" -l json -d 'Print one JSON object on stdout'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand policy; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "check" -d 'Check a policy file; with an identity, explain the decision for it'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand token-key; and not __fish_seen_subcommand_from rotate help" -s h -l help -d 'Print help'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand token-key; and not __fish_seen_subcommand_from rotate help" -f -a "rotate" -d 'Make a new token-signing key; the current one becomes the previous one (restart to apply)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand token-key; and not __fish_seen_subcommand_from rotate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand token-key; and __fish_seen_subcommand_from rotate" -l config -d 'Path of zt-broker.toml' -r -F
complete -c zt-broker -n "__fish_zt_broker_using_subcommand token-key; and __fish_seen_subcommand_from rotate" -l json -d 'Print one JSON document on stdout'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand token-key; and __fish_seen_subcommand_from rotate" -s h -l help -d 'Print help'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand token-key; and __fish_seen_subcommand_from help" -f -a "rotate" -d 'Make a new token-signing key; the current one becomes the previous one (restart to apply)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand token-key; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand help; and not __fish_seen_subcommand_from init serve migrate dev sign-host audit revoke device host policy token-key help" -f -a "init" -d 'Create CA keys, a config file and a starter policy in a directory'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand help; and not __fish_seen_subcommand_from init serve migrate dev sign-host audit revoke device host policy token-key help" -f -a "serve" -d 'Run the broker from a config file'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand help; and not __fish_seen_subcommand_from init serve migrate dev sign-host audit revoke device host policy token-key help" -f -a "migrate" -d 'Bring a PostgreSQL store\'s schema to this broker\'s version (brokers never migrate by themselves)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand help; and not __fish_seen_subcommand_from init serve migrate dev sign-host audit revoke device host policy token-key help" -f -a "dev" -d 'Development only: a loopback broker with a built-in test identity provider'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand help; and not __fish_seen_subcommand_from init serve migrate dev sign-host audit revoke device host policy token-key help" -f -a "sign-host" -d 'Sign a host key with the host CA (local admin command)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand help; and not __fish_seen_subcommand_from init serve migrate dev sign-host audit revoke device host policy token-key help" -f -a "audit" -d 'Verify or export the audit log'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand help; and not __fish_seen_subcommand_from init serve migrate dev sign-host audit revoke device host policy token-key help" -f -a "revoke" -d 'Revoke a certificate, key or user (local admin command; audited)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand help; and not __fish_seen_subcommand_from init serve migrate dev sign-host audit revoke device host policy token-key help" -f -a "device" -d 'The device registry: list, show, approve or revoke devices (local admin command; audited)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand help; and not __fish_seen_subcommand_from init serve migrate dev sign-host audit revoke device host policy token-key help" -f -a "host" -d 'Host enrolment: one-time tokens for `zt host enroll` (local admin command)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand help; and not __fish_seen_subcommand_from init serve migrate dev sign-host audit revoke device host policy token-key help" -f -a "policy" -d 'Check a policy file and explain its decision for an identity'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand help; and not __fish_seen_subcommand_from init serve migrate dev sign-host audit revoke device host policy token-key help" -f -a "token-key" -d 'Rotate the key that signs broker tokens (local admin command)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand help; and not __fish_seen_subcommand_from init serve migrate dev sign-host audit revoke device host policy token-key help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "verify" -d 'Walk the hash chain and signed checkpoints; report the first record that was edited, deleted, reordered or inserted, or a truncated tail (exit 1)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "export" -d 'Print audit records, one per line (JSON with --json), optionally filtered'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand help; and __fish_seen_subcommand_from device" -f -a "list" -d 'List every device, most recently seen first'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand help; and __fish_seen_subcommand_from device" -f -a "show" -d 'One device\'s record'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand help; and __fish_seen_subcommand_from device" -f -a "approve" -d 'Approve a device (for rules that require approved devices; audited)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand help; and __fish_seen_subcommand_from device" -f -a "revoke" -d 'Revoke a device: no more tokens or certificates for it (audited)'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand help; and __fish_seen_subcommand_from host" -f -a "token" -d 'Host enrolment tokens'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "check" -d 'Check a policy file; with an identity, explain the decision for it'
complete -c zt-broker -n "__fish_zt_broker_using_subcommand help; and __fish_seen_subcommand_from token-key" -f -a "rotate" -d 'Make a new token-signing key; the current one becomes the previous one (restart to apply)'
