# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_zt_global_optspecs
    string join \n profile= json h/help V/version
end

function __fish_zt_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_zt_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_zt_using_subcommand
    set -l cmd (__fish_zt_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c zt -n "__fish_zt_needs_command" -l profile -d 'Profile (one per broker)' -r
complete -c zt -n "__fish_zt_needs_command" -l json -d 'Machine-readable JSON on stdout; human text stays on stderr'
complete -c zt -n "__fish_zt_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt -n "__fish_zt_needs_command" -s V -l version -d 'Print version'
complete -c zt -n "__fish_zt_needs_command" -f -a "login" -d 'Sign in (OAuth device flow) and get a first certificate'
complete -c zt -n "__fish_zt_needs_command" -f -a "ssh" -d 'Run OpenSSH with a fresh certificate'
complete -c zt -n "__fish_zt_needs_command" -f -a "status" -d 'Show identity, broker, and certificate expiry'
complete -c zt -n "__fish_zt_needs_command" -f -a "logout" -d 'Revoke the session, remove keys and delete local state'
complete -c zt -n "__fish_zt_needs_command" -f -a "token" -d 'Print a short-lived broker access token'
complete -c zt -n "__fish_zt_needs_command" -f -a "posture" -d 'Show the device report the broker will see'
complete -c zt -n "__fish_zt_needs_command" -f -a "forward" -d 'Keep port forwards (-L, -R, -D) up, reconnecting with fresh certificates'
complete -c zt -n "__fish_zt_needs_command" -f -a "ssh-config" -d 'Make plain ssh, scp, rsync and git use zt\'s certificate (ssh_config)'
complete -c zt -n "__fish_zt_needs_command" -f -a "completions" -d 'Print shell completions'
complete -c zt -n "__fish_zt_needs_command" -f -a "host" -d 'On a target: enrol with the broker, renew the host certificate, sync the KRL'
complete -c zt -n "__fish_zt_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zt -n "__fish_zt_using_subcommand login" -l broker -d 'Broker URL (saved in the profile for later commands)' -r
complete -c zt -n "__fish_zt_using_subcommand login" -l ci-source -d 'Use this workload identity source only (implies --ci)' -r -f -a "github-actions\t''
gitlab\t''
file\t''
client-credentials\t''"
complete -c zt -n "__fish_zt_using_subcommand login" -l id-token-env -d 'The variable that holds the job\'s ID token, e.g. a GitLab CI `id_tokens` entry (implies --ci)' -r
complete -c zt -n "__fish_zt_using_subcommand login" -l id-token-file -d 'A file that holds the job\'s ID token, e.g. a Kubernetes projected service-account token (implies --ci; also ZT_ID_TOKEN_FILE)' -r -F
complete -c zt -n "__fish_zt_using_subcommand login" -l profile -d 'Profile (one per broker)' -r
complete -c zt -n "__fish_zt_using_subcommand login" -l ci -d 'Log in as this CI job with its workload identity (GitHub Actions, GitLab CI, Kubernetes, client credentials): nothing stored, nothing prompted'
complete -c zt -n "__fish_zt_using_subcommand login" -l json -d 'Machine-readable JSON on stdout; human text stays on stderr'
complete -c zt -n "__fish_zt_using_subcommand login" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt -n "__fish_zt_using_subcommand ssh" -l ci-source -d 'Use this workload identity source only (implies --ci)' -r -f -a "github-actions\t''
gitlab\t''
file\t''
client-credentials\t''"
complete -c zt -n "__fish_zt_using_subcommand ssh" -l id-token-env -d 'The variable that holds the job\'s ID token, e.g. a GitLab CI `id_tokens` entry (implies --ci)' -r
complete -c zt -n "__fish_zt_using_subcommand ssh" -l id-token-file -d 'A file that holds the job\'s ID token, e.g. a Kubernetes projected service-account token (implies --ci; also ZT_ID_TOKEN_FILE)' -r -F
complete -c zt -n "__fish_zt_using_subcommand ssh" -l profile -d 'Profile (one per broker)' -r
complete -c zt -n "__fish_zt_using_subcommand ssh" -l ci -d 'Log in as this CI job with its workload identity (GitHub Actions, GitLab CI, Kubernetes, client credentials): nothing stored, nothing prompted'
complete -c zt -n "__fish_zt_using_subcommand ssh" -l json -d 'Machine-readable JSON on stdout; human text stays on stderr'
complete -c zt -n "__fish_zt_using_subcommand status" -l profile -d 'Profile (one per broker)' -r
complete -c zt -n "__fish_zt_using_subcommand status" -l json -d 'Machine-readable JSON on stdout; human text stays on stderr'
complete -c zt -n "__fish_zt_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt -n "__fish_zt_using_subcommand logout" -l profile -d 'Profile (one per broker)' -r
complete -c zt -n "__fish_zt_using_subcommand logout" -l json -d 'Machine-readable JSON on stdout; human text stays on stderr'
complete -c zt -n "__fish_zt_using_subcommand logout" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt -n "__fish_zt_using_subcommand token" -l audience -d 'Get a token for this service instead of a broker token (the policy rule must list it in `audiences`)' -r
complete -c zt -n "__fish_zt_using_subcommand token" -l format -d 'How to print the token' -r -f -a "jwt\t'The token alone, one line'
header\t'`Authorization: Bearer <token>`, for `curl -H @-`'
kubectl\t'A client.authentication.k8s.io/v1 ExecCredential, for kubectl\'s exec credential plugin'"
complete -c zt -n "__fish_zt_using_subcommand token" -l ci-source -d 'Use this workload identity source only (implies --ci)' -r -f -a "github-actions\t''
gitlab\t''
file\t''
client-credentials\t''"
complete -c zt -n "__fish_zt_using_subcommand token" -l id-token-env -d 'The variable that holds the job\'s ID token, e.g. a GitLab CI `id_tokens` entry (implies --ci)' -r
complete -c zt -n "__fish_zt_using_subcommand token" -l id-token-file -d 'A file that holds the job\'s ID token, e.g. a Kubernetes projected service-account token (implies --ci; also ZT_ID_TOKEN_FILE)' -r -F
complete -c zt -n "__fish_zt_using_subcommand token" -l profile -d 'Profile (one per broker)' -r
complete -c zt -n "__fish_zt_using_subcommand token" -l ci -d 'Log in as this CI job with its workload identity (GitHub Actions, GitLab CI, Kubernetes, client credentials): nothing stored, nothing prompted'
complete -c zt -n "__fish_zt_using_subcommand token" -l json -d 'Machine-readable JSON on stdout; human text stays on stderr'
complete -c zt -n "__fish_zt_using_subcommand token" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt -n "__fish_zt_using_subcommand posture" -l profile -d 'Profile (one per broker)' -r
complete -c zt -n "__fish_zt_using_subcommand posture" -l json -d 'Machine-readable JSON on stdout; human text stays on stderr'
complete -c zt -n "__fish_zt_using_subcommand posture" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt -n "__fish_zt_using_subcommand forward" -s L -d 'Local forward, as ssh -L' -r
complete -c zt -n "__fish_zt_using_subcommand forward" -s R -d 'Remote forward, as ssh -R' -r
complete -c zt -n "__fish_zt_using_subcommand forward" -s D -d 'SOCKS proxy on a local port, as ssh -D' -r
complete -c zt -n "__fish_zt_using_subcommand forward" -s p -l port -d 'Port to connect to on the remote host' -r
complete -c zt -n "__fish_zt_using_subcommand forward" -s o -d 'Extra ssh option (as ssh -o), after zt\'s own' -r
complete -c zt -n "__fish_zt_using_subcommand forward" -s F -d 'ssh_config file for ssh (as ssh -F)' -r -F
complete -c zt -n "__fish_zt_using_subcommand forward" -l ci-source -d 'Use this workload identity source only (implies --ci)' -r -f -a "github-actions\t''
gitlab\t''
file\t''
client-credentials\t''"
complete -c zt -n "__fish_zt_using_subcommand forward" -l id-token-env -d 'The variable that holds the job\'s ID token, e.g. a GitLab CI `id_tokens` entry (implies --ci)' -r
complete -c zt -n "__fish_zt_using_subcommand forward" -l id-token-file -d 'A file that holds the job\'s ID token, e.g. a Kubernetes projected service-account token (implies --ci; also ZT_ID_TOKEN_FILE)' -r -F
complete -c zt -n "__fish_zt_using_subcommand forward" -l profile -d 'Profile (one per broker)' -r
complete -c zt -n "__fish_zt_using_subcommand forward" -l ci -d 'Log in as this CI job with its workload identity (GitHub Actions, GitLab CI, Kubernetes, client credentials): nothing stored, nothing prompted'
complete -c zt -n "__fish_zt_using_subcommand forward" -l json -d 'Machine-readable JSON on stdout; human text stays on stderr'
complete -c zt -n "__fish_zt_using_subcommand forward" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt -n "__fish_zt_using_subcommand ssh-config; and not __fish_seen_subcommand_from install uninstall check help" -l profile -d 'Profile (one per broker)' -r
complete -c zt -n "__fish_zt_using_subcommand ssh-config; and not __fish_seen_subcommand_from install uninstall check help" -l json -d 'Machine-readable JSON on stdout; human text stays on stderr'
complete -c zt -n "__fish_zt_using_subcommand ssh-config; and not __fish_seen_subcommand_from install uninstall check help" -s h -l help -d 'Print help'
complete -c zt -n "__fish_zt_using_subcommand ssh-config; and not __fish_seen_subcommand_from install uninstall check help" -f -a "install" -d 'Write ~/.ssh/zt/PROFILE.conf for the given hosts and include it from ~/.ssh/config (one line at the top; idempotent)'
complete -c zt -n "__fish_zt_using_subcommand ssh-config; and not __fish_seen_subcommand_from install uninstall check help" -f -a "uninstall" -d 'Remove the profile\'s file, and the Include line when no profile is left'
complete -c zt -n "__fish_zt_using_subcommand ssh-config; and not __fish_seen_subcommand_from install uninstall check help" -f -a "check" -d 'Exit 0 when the certificate is valid, renewing silently if needed (run by ssh\'s `Match exec`; no network while the certificate is valid)'
complete -c zt -n "__fish_zt_using_subcommand ssh-config; and not __fish_seen_subcommand_from install uninstall check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zt -n "__fish_zt_using_subcommand ssh-config; and __fish_seen_subcommand_from install" -l hosts -d 'ssh host patterns (as for `Host`, e.g. \'*.prod.example.com\'); default: the patterns of the profile\'s existing file' -r
complete -c zt -n "__fish_zt_using_subcommand ssh-config; and __fish_seen_subcommand_from install" -l profile -d 'Profile (one per broker)' -r
complete -c zt -n "__fish_zt_using_subcommand ssh-config; and __fish_seen_subcommand_from install" -l json -d 'Machine-readable JSON on stdout; human text stays on stderr'
complete -c zt -n "__fish_zt_using_subcommand ssh-config; and __fish_seen_subcommand_from install" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt -n "__fish_zt_using_subcommand ssh-config; and __fish_seen_subcommand_from uninstall" -l profile -d 'Profile (one per broker)' -r
complete -c zt -n "__fish_zt_using_subcommand ssh-config; and __fish_seen_subcommand_from uninstall" -l json -d 'Machine-readable JSON on stdout; human text stays on stderr'
complete -c zt -n "__fish_zt_using_subcommand ssh-config; and __fish_seen_subcommand_from uninstall" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt -n "__fish_zt_using_subcommand ssh-config; and __fish_seen_subcommand_from check" -l profile -d 'Profile (one per broker)' -r
complete -c zt -n "__fish_zt_using_subcommand ssh-config; and __fish_seen_subcommand_from check" -l json -d 'Machine-readable JSON on stdout; human text stays on stderr'
complete -c zt -n "__fish_zt_using_subcommand ssh-config; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt -n "__fish_zt_using_subcommand ssh-config; and __fish_seen_subcommand_from help" -f -a "install" -d 'Write ~/.ssh/zt/PROFILE.conf for the given hosts and include it from ~/.ssh/config (one line at the top; idempotent)'
complete -c zt -n "__fish_zt_using_subcommand ssh-config; and __fish_seen_subcommand_from help" -f -a "uninstall" -d 'Remove the profile\'s file, and the Include line when no profile is left'
complete -c zt -n "__fish_zt_using_subcommand ssh-config; and __fish_seen_subcommand_from help" -f -a "check" -d 'Exit 0 when the certificate is valid, renewing silently if needed (run by ssh\'s `Match exec`; no network while the certificate is valid)'
complete -c zt -n "__fish_zt_using_subcommand ssh-config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zt -n "__fish_zt_using_subcommand completions" -l profile -d 'Profile (one per broker)' -r
complete -c zt -n "__fish_zt_using_subcommand completions" -l json -d 'Machine-readable JSON on stdout; human text stays on stderr'
complete -c zt -n "__fish_zt_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt -n "__fish_zt_using_subcommand host; and not __fish_seen_subcommand_from enroll renew krl-sync help" -l profile -d 'Profile (one per broker)' -r
complete -c zt -n "__fish_zt_using_subcommand host; and not __fish_seen_subcommand_from enroll renew krl-sync help" -l json -d 'Machine-readable JSON on stdout; human text stays on stderr'
complete -c zt -n "__fish_zt_using_subcommand host; and not __fish_seen_subcommand_from enroll renew krl-sync help" -s h -l help -d 'Print help'
complete -c zt -n "__fish_zt_using_subcommand host; and not __fish_seen_subcommand_from enroll renew krl-sync help" -f -a "enroll" -d 'Enrol this host: host certificate, user CA, KRL and an sshd drop-in'
complete -c zt -n "__fish_zt_using_subcommand host; and not __fish_seen_subcommand_from enroll renew krl-sync help" -f -a "renew" -d 'Renew the host certificate when a third of its life is left'
complete -c zt -n "__fish_zt_using_subcommand host; and not __fish_seen_subcommand_from enroll renew krl-sync help" -f -a "krl-sync" -d 'Replace sshd\'s RevokedKeys with the broker\'s current KRL'
complete -c zt -n "__fish_zt_using_subcommand host; and not __fish_seen_subcommand_from enroll renew krl-sync help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from enroll" -l broker -d 'Broker URL' -r
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from enroll" -l token -d 'Enrolment token (`zt-broker host token create`). Prefer --token-file or ZT_HOST_TOKEN: a command-line argument is visible to other users' -r
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from enroll" -l token-file -d 'Read the enrolment token from this file (`-` for stdin)' -r -F
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from enroll" -l principals -d 'Narrow the principals the token grants' -r
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from enroll" -l host-key -d 'The host\'s private key; its certificate goes next to it (-cert.pub)' -r -F
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from enroll" -l zt-dir -d 'zt\'s directory on this host (user CA, KRL, principals, state)' -r -F
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from enroll" -l sshd-config-dir -d 'Directory of sshd drop-in files; zt writes 50-zt.conf there' -r -F
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from enroll" -l profile -d 'Profile (one per broker)' -r
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from enroll" -l dry-run -d 'Print the sshd settings and the files enrolment would write; write nothing and use no token'
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from enroll" -l json -d 'Machine-readable JSON on stdout; human text stays on stderr'
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from enroll" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from renew" -l zt-dir -d 'zt\'s directory on this host (user CA, KRL, principals, state)' -r -F
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from renew" -l profile -d 'Profile (one per broker)' -r
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from renew" -l force -d 'Renew even if the certificate has more than a third of its life left'
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from renew" -l json -d 'Machine-readable JSON on stdout; human text stays on stderr'
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from renew" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from krl-sync" -l zt-dir -d 'zt\'s directory on this host (user CA, KRL, principals, state)' -r -F
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from krl-sync" -l profile -d 'Profile (one per broker)' -r
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from krl-sync" -l json -d 'Machine-readable JSON on stdout; human text stays on stderr'
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from krl-sync" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from help" -f -a "enroll" -d 'Enrol this host: host certificate, user CA, KRL and an sshd drop-in'
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from help" -f -a "renew" -d 'Renew the host certificate when a third of its life is left'
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from help" -f -a "krl-sync" -d 'Replace sshd\'s RevokedKeys with the broker\'s current KRL'
complete -c zt -n "__fish_zt_using_subcommand host; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zt -n "__fish_zt_using_subcommand help; and not __fish_seen_subcommand_from login ssh status logout token posture forward ssh-config completions host help" -f -a "login" -d 'Sign in (OAuth device flow) and get a first certificate'
complete -c zt -n "__fish_zt_using_subcommand help; and not __fish_seen_subcommand_from login ssh status logout token posture forward ssh-config completions host help" -f -a "ssh" -d 'Run OpenSSH with a fresh certificate'
complete -c zt -n "__fish_zt_using_subcommand help; and not __fish_seen_subcommand_from login ssh status logout token posture forward ssh-config completions host help" -f -a "status" -d 'Show identity, broker, and certificate expiry'
complete -c zt -n "__fish_zt_using_subcommand help; and not __fish_seen_subcommand_from login ssh status logout token posture forward ssh-config completions host help" -f -a "logout" -d 'Revoke the session, remove keys and delete local state'
complete -c zt -n "__fish_zt_using_subcommand help; and not __fish_seen_subcommand_from login ssh status logout token posture forward ssh-config completions host help" -f -a "token" -d 'Print a short-lived broker access token'
complete -c zt -n "__fish_zt_using_subcommand help; and not __fish_seen_subcommand_from login ssh status logout token posture forward ssh-config completions host help" -f -a "posture" -d 'Show the device report the broker will see'
complete -c zt -n "__fish_zt_using_subcommand help; and not __fish_seen_subcommand_from login ssh status logout token posture forward ssh-config completions host help" -f -a "forward" -d 'Keep port forwards (-L, -R, -D) up, reconnecting with fresh certificates'
complete -c zt -n "__fish_zt_using_subcommand help; and not __fish_seen_subcommand_from login ssh status logout token posture forward ssh-config completions host help" -f -a "ssh-config" -d 'Make plain ssh, scp, rsync and git use zt\'s certificate (ssh_config)'
complete -c zt -n "__fish_zt_using_subcommand help; and not __fish_seen_subcommand_from login ssh status logout token posture forward ssh-config completions host help" -f -a "completions" -d 'Print shell completions'
complete -c zt -n "__fish_zt_using_subcommand help; and not __fish_seen_subcommand_from login ssh status logout token posture forward ssh-config completions host help" -f -a "host" -d 'On a target: enrol with the broker, renew the host certificate, sync the KRL'
complete -c zt -n "__fish_zt_using_subcommand help; and not __fish_seen_subcommand_from login ssh status logout token posture forward ssh-config completions host help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zt -n "__fish_zt_using_subcommand help; and __fish_seen_subcommand_from ssh-config" -f -a "install" -d 'Write ~/.ssh/zt/PROFILE.conf for the given hosts and include it from ~/.ssh/config (one line at the top; idempotent)'
complete -c zt -n "__fish_zt_using_subcommand help; and __fish_seen_subcommand_from ssh-config" -f -a "uninstall" -d 'Remove the profile\'s file, and the Include line when no profile is left'
complete -c zt -n "__fish_zt_using_subcommand help; and __fish_seen_subcommand_from ssh-config" -f -a "check" -d 'Exit 0 when the certificate is valid, renewing silently if needed (run by ssh\'s `Match exec`; no network while the certificate is valid)'
complete -c zt -n "__fish_zt_using_subcommand help; and __fish_seen_subcommand_from host" -f -a "enroll" -d 'Enrol this host: host certificate, user CA, KRL and an sshd drop-in'
complete -c zt -n "__fish_zt_using_subcommand help; and __fish_seen_subcommand_from host" -f -a "renew" -d 'Renew the host certificate when a third of its life is left'
complete -c zt -n "__fish_zt_using_subcommand help; and __fish_seen_subcommand_from host" -f -a "krl-sync" -d 'Replace sshd\'s RevokedKeys with the broker\'s current KRL'
