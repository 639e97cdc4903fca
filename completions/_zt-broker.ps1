
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'zt-broker' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'zt-broker'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'zt-broker' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Create CA keys, a config file and a starter policy in a directory')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the broker from a config file')
            [CompletionResult]::new('migrate', 'migrate', [CompletionResultType]::ParameterValue, 'Bring a PostgreSQL store''s schema to this broker''s version (brokers never migrate by themselves)')
            [CompletionResult]::new('dev', 'dev', [CompletionResultType]::ParameterValue, 'Development only: a loopback broker with a built-in test identity provider')
            [CompletionResult]::new('sign-host', 'sign-host', [CompletionResultType]::ParameterValue, 'Sign a host key with the host CA (local admin command)')
            [CompletionResult]::new('audit', 'audit', [CompletionResultType]::ParameterValue, 'Verify or export the audit log')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a certificate, key or user (local admin command; audited)')
            [CompletionResult]::new('device', 'device', [CompletionResultType]::ParameterValue, 'The device registry: list, show, approve or revoke devices (local admin command; audited)')
            [CompletionResult]::new('host', 'host', [CompletionResultType]::ParameterValue, 'Host enrolment: one-time tokens for `zt host enroll` (local admin command)')
            [CompletionResult]::new('policy', 'policy', [CompletionResultType]::ParameterValue, 'Check a policy file and explain its decision for an identity')
            [CompletionResult]::new('token-key', 'token-key', [CompletionResultType]::ParameterValue, 'Rotate the key that signs broker tokens (local admin command)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'zt-broker;init' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Directory to create the broker''s files in')
            [CompletionResult]::new('--issuer', '--issuer', [CompletionResultType]::ParameterName, 'OpenID Connect issuer URL of the identity provider')
            [CompletionResult]::new('--client-id', '--client-id', [CompletionResultType]::ParameterName, 'OAuth client id that zt uses at the identity provider (a public client with the device grant)')
            [CompletionResult]::new('--audience', '--audience', [CompletionResultType]::ParameterName, 'Audience of broker access tokens')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on')
            [CompletionResult]::new('--public-url', '--public-url', [CompletionResultType]::ParameterName, 'URL clients use to reach the broker [default: http://<listen>]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt-broker;serve' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Path of zt-broker.toml')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Listen here instead of on server.listen (replicas that share one config on one host)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt-broker;migrate' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Path of zt-broker.toml')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt-broker;dev' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Loopback address to listen on (port 0 picks a free one)')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Directory for keys, policy and database [default: a new temporary directory]')
            [CompletionResult]::new('--auto-approve', '--auto-approve', [CompletionResultType]::ParameterName, 'Approve every device code at once as this development user (alice, bob, carol)')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Policy file to use instead of the starter policy')
            [CompletionResult]::new('--postgres', '--postgres', [CompletionResultType]::ParameterName, 'Keep the state in this PostgreSQL database instead of SQLite, migrating it first (postgres://USER@HOST/DB; the password from ZT_BROKER_DB_PASSWORD)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON line with the broker URL and CA keys on stdout (for scripts)')
            [CompletionResult]::new('--no-rate-limits', '--no-rate-limits', [CompletionResultType]::ParameterName, 'Switch off the per-address and per-identity request rate limits (for load benchmarks)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt-broker;sign-host' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Path of zt-broker.toml')
            [CompletionResult]::new('--principals', '--principals', [CompletionResultType]::ParameterName, 'Host names and addresses the certificate is valid for, comma-separated')
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'Lifetime (e.g. 30d, 12h)')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Where to write the certificate [default: <host_key without .pub>-cert.pub]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt-broker;audit' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Walk the hash chain and signed checkpoints; report the first record that was edited, deleted, reordered or inserted, or a truncated tail (exit 1)')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Print audit records, one per line (JSON with --json), optionally filtered')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'zt-broker;audit;verify' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Path of zt-broker.toml')
            [CompletionResult]::new('--public-key', '--public-key', [CompletionResultType]::ParameterName, 'Check signatures with this public key (the audit_signing_key.pub.json that init wrote) instead of the private key named in the config')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the verdict as one JSON object on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt-broker;audit;export' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Path of zt-broker.toml')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Only this user: ISSUER,SUBJECT, an email address, or a subject')
            [CompletionResult]::new('--serial', '--serial', [CompletionResultType]::ParameterName, 'Only records of the certificate with this serial')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only records at or after: unix seconds, or a duration ago (30m, 2h, 7d)')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'Only records at or before: unix seconds, or a duration ago')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'One JSON object per line (the record plus `seq` and `hash`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt-broker;audit;help' {
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Walk the hash chain and signed checkpoints; report the first record that was edited, deleted, reordered or inserted, or a truncated tail (exit 1)')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Print audit records, one per line (JSON with --json), optionally filtered')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'zt-broker;audit;help;verify' {
            break
        }
        'zt-broker;audit;help;export' {
            break
        }
        'zt-broker;audit;help;help' {
            break
        }
        'zt-broker;revoke' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Path of zt-broker.toml')
            [CompletionResult]::new('--serial', '--serial', [CompletionResultType]::ParameterName, 'A certificate serial (as in `zt status`, the audit log or sshd''s log)')
            [CompletionResult]::new('--key-id', '--key-id', [CompletionResultType]::ParameterName, 'A certificate key ID, exactly')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'A user: every unexpired certificate issued to them, and no new ones')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'A public key: its SHA256:… fingerprint, or a .pub file')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Revoke even though this broker never issued a certificate it names (ahead of time, or one another broker issued with the same CA)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the result as JSON on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt-broker;device' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List every device, most recently seen first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'One device''s record')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Approve a device (for rules that require approved devices; audited)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a device: no more tokens or certificates for it (audited)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'zt-broker;device;list' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Path of zt-broker.toml')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt-broker;device;show' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Path of zt-broker.toml')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'zt-broker;device;approve' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Path of zt-broker.toml')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt-broker;device;revoke' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Path of zt-broker.toml')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt-broker;device;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List every device, most recently seen first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'One device''s record')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Approve a device (for rules that require approved devices; audited)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a device: no more tokens or certificates for it (audited)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'zt-broker;device;help;list' {
            break
        }
        'zt-broker;device;help;show' {
            break
        }
        'zt-broker;device;help;approve' {
            break
        }
        'zt-broker;device;help;revoke' {
            break
        }
        'zt-broker;device;help;help' {
            break
        }
        'zt-broker;host' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('token', 'token', [CompletionResultType]::ParameterValue, 'Host enrolment tokens')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'zt-broker;host;token' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a one-time enrolment token (printed on stdout)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'zt-broker;host;token;create' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Path of zt-broker.toml')
            [CompletionResult]::new('--principals', '--principals', [CompletionResultType]::ParameterName, 'Host names and addresses the host certificate will be valid for, comma-separated')
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'How long the token can be used (e.g. 15m, 1h; at most 7d)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt-broker;host;token;help' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a one-time enrolment token (printed on stdout)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'zt-broker;host;token;help;create' {
            break
        }
        'zt-broker;host;token;help;help' {
            break
        }
        'zt-broker;host;help' {
            [CompletionResult]::new('token', 'token', [CompletionResultType]::ParameterValue, 'Host enrolment tokens')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'zt-broker;host;help;token' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a one-time enrolment token (printed on stdout)')
            break
        }
        'zt-broker;host;help;token;create' {
            break
        }
        'zt-broker;host;help;help' {
            break
        }
        'zt-broker;policy' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check a policy file; with an identity, explain the decision for it')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'zt-broker;policy;check' {
            [CompletionResult]::new('--issuer', '--issuer', [CompletionResultType]::ParameterName, 'The identity''s issuer (`iss`); with --subject, explain the decision')
            [CompletionResult]::new('--subject', '--subject', [CompletionResultType]::ParameterName, 'The identity''s subject (`sub`)')
            [CompletionResult]::new('--email', '--email', [CompletionResultType]::ParameterName, 'A verified email address (the broker ignores unverified ones)')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'A group the identity is in (repeat for several)')
            [CompletionResult]::new('--claim', '--claim', [CompletionResultType]::ParameterName, 'A claim of a workload token, NAME=VALUE (repeat for several): the identity is then a workload (a CI job), matched by rules with match.claims')
            [CompletionResult]::new('--report', '--report', [CompletionResultType]::ParameterName, 'A device''s posture report (`zt posture --json` output): say whether it meets the granting rule''s posture requirements')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt-broker;policy;help' {
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check a policy file; with an identity, explain the decision for it')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'zt-broker;policy;help;check' {
            break
        }
        'zt-broker;policy;help;help' {
            break
        }
        'zt-broker;token-key' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Make a new token-signing key; the current one becomes the previous one (restart to apply)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'zt-broker;token-key;rotate' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Path of zt-broker.toml')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'zt-broker;token-key;help' {
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Make a new token-signing key; the current one becomes the previous one (restart to apply)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'zt-broker;token-key;help;rotate' {
            break
        }
        'zt-broker;token-key;help;help' {
            break
        }
        'zt-broker;help' {
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Create CA keys, a config file and a starter policy in a directory')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the broker from a config file')
            [CompletionResult]::new('migrate', 'migrate', [CompletionResultType]::ParameterValue, 'Bring a PostgreSQL store''s schema to this broker''s version (brokers never migrate by themselves)')
            [CompletionResult]::new('dev', 'dev', [CompletionResultType]::ParameterValue, 'Development only: a loopback broker with a built-in test identity provider')
            [CompletionResult]::new('sign-host', 'sign-host', [CompletionResultType]::ParameterValue, 'Sign a host key with the host CA (local admin command)')
            [CompletionResult]::new('audit', 'audit', [CompletionResultType]::ParameterValue, 'Verify or export the audit log')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a certificate, key or user (local admin command; audited)')
            [CompletionResult]::new('device', 'device', [CompletionResultType]::ParameterValue, 'The device registry: list, show, approve or revoke devices (local admin command; audited)')
            [CompletionResult]::new('host', 'host', [CompletionResultType]::ParameterValue, 'Host enrolment: one-time tokens for `zt host enroll` (local admin command)')
            [CompletionResult]::new('policy', 'policy', [CompletionResultType]::ParameterValue, 'Check a policy file and explain its decision for an identity')
            [CompletionResult]::new('token-key', 'token-key', [CompletionResultType]::ParameterValue, 'Rotate the key that signs broker tokens (local admin command)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'zt-broker;help;init' {
            break
        }
        'zt-broker;help;serve' {
            break
        }
        'zt-broker;help;migrate' {
            break
        }
        'zt-broker;help;dev' {
            break
        }
        'zt-broker;help;sign-host' {
            break
        }
        'zt-broker;help;audit' {
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Walk the hash chain and signed checkpoints; report the first record that was edited, deleted, reordered or inserted, or a truncated tail (exit 1)')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Print audit records, one per line (JSON with --json), optionally filtered')
            break
        }
        'zt-broker;help;audit;verify' {
            break
        }
        'zt-broker;help;audit;export' {
            break
        }
        'zt-broker;help;revoke' {
            break
        }
        'zt-broker;help;device' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List every device, most recently seen first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'One device''s record')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Approve a device (for rules that require approved devices; audited)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a device: no more tokens or certificates for it (audited)')
            break
        }
        'zt-broker;help;device;list' {
            break
        }
        'zt-broker;help;device;show' {
            break
        }
        'zt-broker;help;device;approve' {
            break
        }
        'zt-broker;help;device;revoke' {
            break
        }
        'zt-broker;help;host' {
            [CompletionResult]::new('token', 'token', [CompletionResultType]::ParameterValue, 'Host enrolment tokens')
            break
        }
        'zt-broker;help;host;token' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a one-time enrolment token (printed on stdout)')
            break
        }
        'zt-broker;help;host;token;create' {
            break
        }
        'zt-broker;help;policy' {
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check a policy file; with an identity, explain the decision for it')
            break
        }
        'zt-broker;help;policy;check' {
            break
        }
        'zt-broker;help;token-key' {
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Make a new token-signing key; the current one becomes the previous one (restart to apply)')
            break
        }
        'zt-broker;help;token-key;rotate' {
            break
        }
        'zt-broker;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
