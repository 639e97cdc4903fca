
use builtin;
use str;

set edit:completion:arg-completer[zt] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'zt'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'zt'= {
            cand --profile 'Profile (one per broker)'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand login 'Sign in (OAuth device flow) and get a first certificate'
            cand ssh 'Run OpenSSH with a fresh certificate'
            cand status 'Show identity, broker, and certificate expiry'
            cand logout 'Revoke the session, remove keys and delete local state'
            cand token 'Print a short-lived broker access token'
            cand posture 'Show the device report the broker will see'
            cand forward 'Keep port forwards (-L, -R, -D) up, reconnecting with fresh certificates'
            cand ssh-config 'Make plain ssh, scp, rsync and git use zt''s certificate (ssh_config)'
            cand completions 'Print shell completions'
            cand host 'On a target: enrol with the broker, renew the host certificate, sync the KRL'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'zt;login'= {
            cand --broker 'Broker URL (saved in the profile for later commands)'
            cand --ci-source 'Use this workload identity source only (implies --ci)'
            cand --id-token-env 'The variable that holds the job''s ID token, e.g. a GitLab CI `id_tokens` entry (implies --ci)'
            cand --id-token-file 'A file that holds the job''s ID token, e.g. a Kubernetes projected service-account token (implies --ci; also ZT_ID_TOKEN_FILE)'
            cand --profile 'Profile (one per broker)'
            cand --ci 'Log in as this CI job with its workload identity (GitHub Actions, GitLab CI, Kubernetes, client credentials): nothing stored, nothing prompted'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt;ssh'= {
            cand --ci-source 'Use this workload identity source only (implies --ci)'
            cand --id-token-env 'The variable that holds the job''s ID token, e.g. a GitLab CI `id_tokens` entry (implies --ci)'
            cand --id-token-file 'A file that holds the job''s ID token, e.g. a Kubernetes projected service-account token (implies --ci; also ZT_ID_TOKEN_FILE)'
            cand --profile 'Profile (one per broker)'
            cand --ci 'Log in as this CI job with its workload identity (GitHub Actions, GitLab CI, Kubernetes, client credentials): nothing stored, nothing prompted'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
        }
        &'zt;status'= {
            cand --profile 'Profile (one per broker)'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt;logout'= {
            cand --profile 'Profile (one per broker)'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt;token'= {
            cand --audience 'Get a token for this service instead of a broker token (the policy rule must list it in `audiences`)'
            cand --format 'How to print the token'
            cand --ci-source 'Use this workload identity source only (implies --ci)'
            cand --id-token-env 'The variable that holds the job''s ID token, e.g. a GitLab CI `id_tokens` entry (implies --ci)'
            cand --id-token-file 'A file that holds the job''s ID token, e.g. a Kubernetes projected service-account token (implies --ci; also ZT_ID_TOKEN_FILE)'
            cand --profile 'Profile (one per broker)'
            cand --ci 'Log in as this CI job with its workload identity (GitHub Actions, GitLab CI, Kubernetes, client credentials): nothing stored, nothing prompted'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt;posture'= {
            cand --profile 'Profile (one per broker)'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt;forward'= {
            cand -L 'Local forward, as ssh -L'
            cand -R 'Remote forward, as ssh -R'
            cand -D 'SOCKS proxy on a local port, as ssh -D'
            cand -p 'Port to connect to on the remote host'
            cand --port 'Port to connect to on the remote host'
            cand -o 'Extra ssh option (as ssh -o), after zt''s own'
            cand -F 'ssh_config file for ssh (as ssh -F)'
            cand --ci-source 'Use this workload identity source only (implies --ci)'
            cand --id-token-env 'The variable that holds the job''s ID token, e.g. a GitLab CI `id_tokens` entry (implies --ci)'
            cand --id-token-file 'A file that holds the job''s ID token, e.g. a Kubernetes projected service-account token (implies --ci; also ZT_ID_TOKEN_FILE)'
            cand --profile 'Profile (one per broker)'
            cand --ci 'Log in as this CI job with its workload identity (GitHub Actions, GitLab CI, Kubernetes, client credentials): nothing stored, nothing prompted'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt;ssh-config'= {
            cand --profile 'Profile (one per broker)'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand install 'Write ~/.ssh/zt/PROFILE.conf for the given hosts and include it from ~/.ssh/config (one line at the top; idempotent)'
            cand uninstall 'Remove the profile''s file, and the Include line when no profile is left'
            cand check 'Exit 0 when the certificate is valid, renewing silently if needed (run by ssh''s `Match exec`; no network while the certificate is valid)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'zt;ssh-config;install'= {
            cand --hosts 'ssh host patterns (as for `Host`, e.g. ''*.prod.example.com''); default: the patterns of the profile''s existing file'
            cand --profile 'Profile (one per broker)'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt;ssh-config;uninstall'= {
            cand --profile 'Profile (one per broker)'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt;ssh-config;check'= {
            cand --profile 'Profile (one per broker)'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt;ssh-config;help'= {
            cand install 'Write ~/.ssh/zt/PROFILE.conf for the given hosts and include it from ~/.ssh/config (one line at the top; idempotent)'
            cand uninstall 'Remove the profile''s file, and the Include line when no profile is left'
            cand check 'Exit 0 when the certificate is valid, renewing silently if needed (run by ssh''s `Match exec`; no network while the certificate is valid)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'zt;ssh-config;help;install'= {
        }
        &'zt;ssh-config;help;uninstall'= {
        }
        &'zt;ssh-config;help;check'= {
        }
        &'zt;ssh-config;help;help'= {
        }
        &'zt;completions'= {
            cand --profile 'Profile (one per broker)'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt;host'= {
            cand --profile 'Profile (one per broker)'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand enroll 'Enrol this host: host certificate, user CA, KRL and an sshd drop-in'
            cand renew 'Renew the host certificate when a third of its life is left'
            cand krl-sync 'Replace sshd''s RevokedKeys with the broker''s current KRL'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'zt;host;enroll'= {
            cand --broker 'Broker URL'
            cand --token 'Enrolment token (`zt-broker host token create`). Prefer --token-file or ZT_HOST_TOKEN: a command-line argument is visible to other users'
            cand --token-file 'Read the enrolment token from this file (`-` for stdin)'
            cand --principals 'Narrow the principals the token grants'
            cand --host-key 'The host''s private key; its certificate goes next to it (-cert.pub)'
            cand --zt-dir 'zt''s directory on this host (user CA, KRL, principals, state)'
            cand --sshd-config-dir 'Directory of sshd drop-in files; zt writes 50-zt.conf there'
            cand --profile 'Profile (one per broker)'
            cand --dry-run 'Print the sshd settings and the files enrolment would write; write nothing and use no token'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt;host;renew'= {
            cand --zt-dir 'zt''s directory on this host (user CA, KRL, principals, state)'
            cand --profile 'Profile (one per broker)'
            cand --force 'Renew even if the certificate has more than a third of its life left'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt;host;krl-sync'= {
            cand --zt-dir 'zt''s directory on this host (user CA, KRL, principals, state)'
            cand --profile 'Profile (one per broker)'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'zt;host;help'= {
            cand enroll 'Enrol this host: host certificate, user CA, KRL and an sshd drop-in'
            cand renew 'Renew the host certificate when a third of its life is left'
            cand krl-sync 'Replace sshd''s RevokedKeys with the broker''s current KRL'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'zt;host;help;enroll'= {
        }
        &'zt;host;help;renew'= {
        }
        &'zt;host;help;krl-sync'= {
        }
        &'zt;host;help;help'= {
        }
        &'zt;help'= {
            cand login 'Sign in (OAuth device flow) and get a first certificate'
            cand ssh 'Run OpenSSH with a fresh certificate'
            cand status 'Show identity, broker, and certificate expiry'
            cand logout 'Revoke the session, remove keys and delete local state'
            cand token 'Print a short-lived broker access token'
            cand posture 'Show the device report the broker will see'
            cand forward 'Keep port forwards (-L, -R, -D) up, reconnecting with fresh certificates'
            cand ssh-config 'Make plain ssh, scp, rsync and git use zt''s certificate (ssh_config)'
            cand completions 'Print shell completions'
            cand host 'On a target: enrol with the broker, renew the host certificate, sync the KRL'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'zt;help;login'= {
        }
        &'zt;help;ssh'= {
        }
        &'zt;help;status'= {
        }
        &'zt;help;logout'= {
        }
        &'zt;help;token'= {
        }
        &'zt;help;posture'= {
        }
        &'zt;help;forward'= {
        }
        &'zt;help;ssh-config'= {
            cand install 'Write ~/.ssh/zt/PROFILE.conf for the given hosts and include it from ~/.ssh/config (one line at the top; idempotent)'
            cand uninstall 'Remove the profile''s file, and the Include line when no profile is left'
            cand check 'Exit 0 when the certificate is valid, renewing silently if needed (run by ssh''s `Match exec`; no network while the certificate is valid)'
        }
        &'zt;help;ssh-config;install'= {
        }
        &'zt;help;ssh-config;uninstall'= {
        }
        &'zt;help;ssh-config;check'= {
        }
        &'zt;help;completions'= {
        }
        &'zt;help;host'= {
            cand enroll 'Enrol this host: host certificate, user CA, KRL and an sshd drop-in'
            cand renew 'Renew the host certificate when a third of its life is left'
            cand krl-sync 'Replace sshd''s RevokedKeys with the broker''s current KRL'
        }
        &'zt;help;host;enroll'= {
        }
        &'zt;help;host;renew'= {
        }
        &'zt;help;host;krl-sync'= {
        }
        &'zt;help;help'= {
        }
    ]
    $completions[$command]
}
