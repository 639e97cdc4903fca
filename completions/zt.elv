
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
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand login 'Sign in (OAuth device flow) and get a first certificate'
            cand ssh 'Run OpenSSH with a fresh certificate'
            cand status 'Show identity, broker, and certificate expiry'
            cand logout 'Revoke the session, remove keys and delete local state'
            cand token 'Print a short-lived broker access token'
            cand posture 'Show the device report the broker will see'
            cand completions 'Print shell completions'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'zt;login'= {
            cand --broker 'Broker URL (saved in the profile for later commands)'
            cand --profile 'Profile (one per broker)'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'zt;ssh'= {
            cand --profile 'Profile (one per broker)'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
        }
        &'zt;status'= {
            cand --profile 'Profile (one per broker)'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'zt;logout'= {
            cand --profile 'Profile (one per broker)'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'zt;token'= {
            cand --profile 'Profile (one per broker)'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'zt;posture'= {
            cand --profile 'Profile (one per broker)'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'zt;completions'= {
            cand --profile 'Profile (one per broker)'
            cand --json 'Machine-readable JSON on stdout; human text stays on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'zt;help'= {
            cand login 'Sign in (OAuth device flow) and get a first certificate'
            cand ssh 'Run OpenSSH with a fresh certificate'
            cand status 'Show identity, broker, and certificate expiry'
            cand logout 'Revoke the session, remove keys and delete local state'
            cand token 'Print a short-lived broker access token'
            cand posture 'Show the device report the broker will see'
            cand completions 'Print shell completions'
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
        &'zt;help;completions'= {
        }
        &'zt;help;help'= {
        }
    ]
    $completions[$command]
}
