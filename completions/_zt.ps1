
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'zt' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'zt'
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
        'zt' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Sign in (OAuth device flow) and get a first certificate')
            [CompletionResult]::new('ssh', 'ssh', [CompletionResultType]::ParameterValue, 'Run OpenSSH with a fresh certificate')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show identity, broker, and certificate expiry')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Revoke the session, remove keys and delete local state')
            [CompletionResult]::new('token', 'token', [CompletionResultType]::ParameterValue, 'Print a short-lived broker access token')
            [CompletionResult]::new('posture', 'posture', [CompletionResultType]::ParameterValue, 'Show the device report the broker will see')
            [CompletionResult]::new('forward', 'forward', [CompletionResultType]::ParameterValue, 'Keep port forwards (-L, -R, -D) up, reconnecting with fresh certificates')
            [CompletionResult]::new('ssh-config', 'ssh-config', [CompletionResultType]::ParameterValue, 'Make plain ssh, scp, rsync and git use zt''s certificate (ssh_config)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions')
            [CompletionResult]::new('host', 'host', [CompletionResultType]::ParameterValue, 'On a target: enrol with the broker, renew the host certificate, sync the KRL')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'zt;login' {
            [CompletionResult]::new('--broker', '--broker', [CompletionResultType]::ParameterName, 'Broker URL (saved in the profile for later commands)')
            [CompletionResult]::new('--ci-source', '--ci-source', [CompletionResultType]::ParameterName, 'Use this workload identity source only (implies --ci)')
            [CompletionResult]::new('--id-token-env', '--id-token-env', [CompletionResultType]::ParameterName, 'The variable that holds the job''s ID token, e.g. a GitLab CI `id_tokens` entry (implies --ci)')
            [CompletionResult]::new('--id-token-file', '--id-token-file', [CompletionResultType]::ParameterName, 'A file that holds the job''s ID token, e.g. a Kubernetes projected service-account token (implies --ci; also ZT_ID_TOKEN_FILE)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--ci', '--ci', [CompletionResultType]::ParameterName, 'Log in as this CI job with its workload identity (GitHub Actions, GitLab CI, Kubernetes, client credentials): nothing stored, nothing prompted')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt;ssh' {
            [CompletionResult]::new('--ci-source', '--ci-source', [CompletionResultType]::ParameterName, 'Use this workload identity source only (implies --ci)')
            [CompletionResult]::new('--id-token-env', '--id-token-env', [CompletionResultType]::ParameterName, 'The variable that holds the job''s ID token, e.g. a GitLab CI `id_tokens` entry (implies --ci)')
            [CompletionResult]::new('--id-token-file', '--id-token-file', [CompletionResultType]::ParameterName, 'A file that holds the job''s ID token, e.g. a Kubernetes projected service-account token (implies --ci; also ZT_ID_TOKEN_FILE)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--ci', '--ci', [CompletionResultType]::ParameterName, 'Log in as this CI job with its workload identity (GitHub Actions, GitLab CI, Kubernetes, client credentials): nothing stored, nothing prompted')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            break
        }
        'zt;status' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt;logout' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt;token' {
            [CompletionResult]::new('--audience', '--audience', [CompletionResultType]::ParameterName, 'Get a token for this service instead of a broker token (the policy rule must list it in `audiences`)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'How to print the token')
            [CompletionResult]::new('--ci-source', '--ci-source', [CompletionResultType]::ParameterName, 'Use this workload identity source only (implies --ci)')
            [CompletionResult]::new('--id-token-env', '--id-token-env', [CompletionResultType]::ParameterName, 'The variable that holds the job''s ID token, e.g. a GitLab CI `id_tokens` entry (implies --ci)')
            [CompletionResult]::new('--id-token-file', '--id-token-file', [CompletionResultType]::ParameterName, 'A file that holds the job''s ID token, e.g. a Kubernetes projected service-account token (implies --ci; also ZT_ID_TOKEN_FILE)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--ci', '--ci', [CompletionResultType]::ParameterName, 'Log in as this CI job with its workload identity (GitHub Actions, GitLab CI, Kubernetes, client credentials): nothing stored, nothing prompted')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt;posture' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt;forward' {
            [CompletionResult]::new('-L', '-L ', [CompletionResultType]::ParameterName, 'Local forward, as ssh -L')
            [CompletionResult]::new('-R', '-R ', [CompletionResultType]::ParameterName, 'Remote forward, as ssh -R')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'SOCKS proxy on a local port, as ssh -D')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Port to connect to on the remote host')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port to connect to on the remote host')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Extra ssh option (as ssh -o), after zt''s own')
            [CompletionResult]::new('-F', '-F ', [CompletionResultType]::ParameterName, 'ssh_config file for ssh (as ssh -F)')
            [CompletionResult]::new('--ci-source', '--ci-source', [CompletionResultType]::ParameterName, 'Use this workload identity source only (implies --ci)')
            [CompletionResult]::new('--id-token-env', '--id-token-env', [CompletionResultType]::ParameterName, 'The variable that holds the job''s ID token, e.g. a GitLab CI `id_tokens` entry (implies --ci)')
            [CompletionResult]::new('--id-token-file', '--id-token-file', [CompletionResultType]::ParameterName, 'A file that holds the job''s ID token, e.g. a Kubernetes projected service-account token (implies --ci; also ZT_ID_TOKEN_FILE)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--ci', '--ci', [CompletionResultType]::ParameterName, 'Log in as this CI job with its workload identity (GitHub Actions, GitLab CI, Kubernetes, client credentials): nothing stored, nothing prompted')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt;ssh-config' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Write ~/.ssh/zt/PROFILE.conf for the given hosts and include it from ~/.ssh/config (one line at the top; idempotent)')
            [CompletionResult]::new('uninstall', 'uninstall', [CompletionResultType]::ParameterValue, 'Remove the profile''s file, and the Include line when no profile is left')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Exit 0 when the certificate is valid, renewing silently if needed (run by ssh''s `Match exec`; no network while the certificate is valid)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'zt;ssh-config;install' {
            [CompletionResult]::new('--hosts', '--hosts', [CompletionResultType]::ParameterName, 'ssh host patterns (as for `Host`, e.g. ''*.prod.example.com''); default: the patterns of the profile''s existing file')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt;ssh-config;uninstall' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt;ssh-config;check' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt;ssh-config;help' {
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Write ~/.ssh/zt/PROFILE.conf for the given hosts and include it from ~/.ssh/config (one line at the top; idempotent)')
            [CompletionResult]::new('uninstall', 'uninstall', [CompletionResultType]::ParameterValue, 'Remove the profile''s file, and the Include line when no profile is left')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Exit 0 when the certificate is valid, renewing silently if needed (run by ssh''s `Match exec`; no network while the certificate is valid)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'zt;ssh-config;help;install' {
            break
        }
        'zt;ssh-config;help;uninstall' {
            break
        }
        'zt;ssh-config;help;check' {
            break
        }
        'zt;ssh-config;help;help' {
            break
        }
        'zt;completions' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt;host' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('enroll', 'enroll', [CompletionResultType]::ParameterValue, 'Enrol this host: host certificate, user CA, KRL and an sshd drop-in')
            [CompletionResult]::new('renew', 'renew', [CompletionResultType]::ParameterValue, 'Renew the host certificate when a third of its life is left')
            [CompletionResult]::new('krl-sync', 'krl-sync', [CompletionResultType]::ParameterValue, 'Replace sshd''s RevokedKeys with the broker''s current KRL')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'zt;host;enroll' {
            [CompletionResult]::new('--broker', '--broker', [CompletionResultType]::ParameterName, 'Broker URL')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'Enrolment token (`zt-broker host token create`). Prefer --token-file or ZT_HOST_TOKEN: a command-line argument is visible to other users')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'Read the enrolment token from this file (`-` for stdin)')
            [CompletionResult]::new('--principals', '--principals', [CompletionResultType]::ParameterName, 'Narrow the principals the token grants')
            [CompletionResult]::new('--host-key', '--host-key', [CompletionResultType]::ParameterName, 'The host''s private key; its certificate goes next to it (-cert.pub)')
            [CompletionResult]::new('--zt-dir', '--zt-dir', [CompletionResultType]::ParameterName, 'zt''s directory on this host (user CA, KRL, principals, state)')
            [CompletionResult]::new('--sshd-config-dir', '--sshd-config-dir', [CompletionResultType]::ParameterName, 'Directory of sshd drop-in files; zt writes 50-zt.conf there')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the sshd settings and the files enrolment would write; write nothing and use no token')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt;host;renew' {
            [CompletionResult]::new('--zt-dir', '--zt-dir', [CompletionResultType]::ParameterName, 'zt''s directory on this host (user CA, KRL, principals, state)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Renew even if the certificate has more than a third of its life left')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt;host;krl-sync' {
            [CompletionResult]::new('--zt-dir', '--zt-dir', [CompletionResultType]::ParameterName, 'zt''s directory on this host (user CA, KRL, principals, state)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'zt;host;help' {
            [CompletionResult]::new('enroll', 'enroll', [CompletionResultType]::ParameterValue, 'Enrol this host: host certificate, user CA, KRL and an sshd drop-in')
            [CompletionResult]::new('renew', 'renew', [CompletionResultType]::ParameterValue, 'Renew the host certificate when a third of its life is left')
            [CompletionResult]::new('krl-sync', 'krl-sync', [CompletionResultType]::ParameterValue, 'Replace sshd''s RevokedKeys with the broker''s current KRL')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'zt;host;help;enroll' {
            break
        }
        'zt;host;help;renew' {
            break
        }
        'zt;host;help;krl-sync' {
            break
        }
        'zt;host;help;help' {
            break
        }
        'zt;help' {
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Sign in (OAuth device flow) and get a first certificate')
            [CompletionResult]::new('ssh', 'ssh', [CompletionResultType]::ParameterValue, 'Run OpenSSH with a fresh certificate')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show identity, broker, and certificate expiry')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Revoke the session, remove keys and delete local state')
            [CompletionResult]::new('token', 'token', [CompletionResultType]::ParameterValue, 'Print a short-lived broker access token')
            [CompletionResult]::new('posture', 'posture', [CompletionResultType]::ParameterValue, 'Show the device report the broker will see')
            [CompletionResult]::new('forward', 'forward', [CompletionResultType]::ParameterValue, 'Keep port forwards (-L, -R, -D) up, reconnecting with fresh certificates')
            [CompletionResult]::new('ssh-config', 'ssh-config', [CompletionResultType]::ParameterValue, 'Make plain ssh, scp, rsync and git use zt''s certificate (ssh_config)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions')
            [CompletionResult]::new('host', 'host', [CompletionResultType]::ParameterValue, 'On a target: enrol with the broker, renew the host certificate, sync the KRL')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'zt;help;login' {
            break
        }
        'zt;help;ssh' {
            break
        }
        'zt;help;status' {
            break
        }
        'zt;help;logout' {
            break
        }
        'zt;help;token' {
            break
        }
        'zt;help;posture' {
            break
        }
        'zt;help;forward' {
            break
        }
        'zt;help;ssh-config' {
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Write ~/.ssh/zt/PROFILE.conf for the given hosts and include it from ~/.ssh/config (one line at the top; idempotent)')
            [CompletionResult]::new('uninstall', 'uninstall', [CompletionResultType]::ParameterValue, 'Remove the profile''s file, and the Include line when no profile is left')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Exit 0 when the certificate is valid, renewing silently if needed (run by ssh''s `Match exec`; no network while the certificate is valid)')
            break
        }
        'zt;help;ssh-config;install' {
            break
        }
        'zt;help;ssh-config;uninstall' {
            break
        }
        'zt;help;ssh-config;check' {
            break
        }
        'zt;help;completions' {
            break
        }
        'zt;help;host' {
            [CompletionResult]::new('enroll', 'enroll', [CompletionResultType]::ParameterValue, 'Enrol this host: host certificate, user CA, KRL and an sshd drop-in')
            [CompletionResult]::new('renew', 'renew', [CompletionResultType]::ParameterValue, 'Renew the host certificate when a third of its life is left')
            [CompletionResult]::new('krl-sync', 'krl-sync', [CompletionResultType]::ParameterValue, 'Replace sshd''s RevokedKeys with the broker''s current KRL')
            break
        }
        'zt;help;host;enroll' {
            break
        }
        'zt;help;host;renew' {
            break
        }
        'zt;help;host;krl-sync' {
            break
        }
        'zt;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
