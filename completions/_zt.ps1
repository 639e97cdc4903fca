
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
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Sign in (OAuth device flow) and get a first certificate')
            [CompletionResult]::new('ssh', 'ssh', [CompletionResultType]::ParameterValue, 'Run OpenSSH with a fresh certificate')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show identity, broker, and certificate expiry')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Revoke the session, remove keys and delete local state')
            [CompletionResult]::new('token', 'token', [CompletionResultType]::ParameterValue, 'Print a short-lived broker access token')
            [CompletionResult]::new('posture', 'posture', [CompletionResultType]::ParameterValue, 'Show the device report the broker will see')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions')
            [CompletionResult]::new('host', 'host', [CompletionResultType]::ParameterValue, 'On a target: enrol with the broker, renew the host certificate, sync the KRL')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'zt;login' {
            [CompletionResult]::new('--broker', '--broker', [CompletionResultType]::ParameterName, 'Broker URL (saved in the profile for later commands)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'zt;ssh' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            break
        }
        'zt;status' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'zt;logout' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'zt;token' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'zt;posture' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'zt;completions' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
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
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'zt;host;renew' {
            [CompletionResult]::new('--zt-dir', '--zt-dir', [CompletionResultType]::ParameterName, 'zt''s directory on this host (user CA, KRL, principals, state)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Renew even if the certificate has more than a third of its life left')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'zt;host;krl-sync' {
            [CompletionResult]::new('--zt-dir', '--zt-dir', [CompletionResultType]::ParameterName, 'zt''s directory on this host (user CA, KRL, principals, state)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
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
