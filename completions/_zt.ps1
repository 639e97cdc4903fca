
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
            [CompletionResult]::new('forward', 'forward', [CompletionResultType]::ParameterValue, 'Keep port forwards (-L, -R, -D) up, reconnecting with fresh certificates')
            [CompletionResult]::new('ssh-config', 'ssh-config', [CompletionResultType]::ParameterValue, 'Make plain ssh, scp, rsync and git use zt''s certificate (ssh_config)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions')
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
        'zt;forward' {
            [CompletionResult]::new('-L', '-L ', [CompletionResultType]::ParameterName, 'Local forward, as ssh -L')
            [CompletionResult]::new('-R', '-R ', [CompletionResultType]::ParameterName, 'Remote forward, as ssh -R')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'SOCKS proxy on a local port, as ssh -D')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Port to connect to on the remote host')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port to connect to on the remote host')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Extra ssh option (as ssh -o), after zt''s own')
            [CompletionResult]::new('-F', '-F ', [CompletionResultType]::ParameterName, 'ssh_config file for ssh (as ssh -F)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
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
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'zt;ssh-config;uninstall' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'zt;ssh-config;check' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile (one per broker)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable JSON on stdout; human text stays on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
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
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
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
        'zt;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
