# bash completion for sigma: generated from the command tree by `nox -s docs` (python -m sigma.docs_gen); do not edit.
# Install: copy to /usr/share/bash-completion/completions/sigma (or
# ~/.local/share/bash-completion/completions/sigma), or `source` it from ~/.bashrc.

_sigma_subcommands() {
    case "$1" in
        "sigma") echo "provider vps config db user api-key mfa audit ticket deploy export import cost notify agent probe ip-check serve login logout whoami stats" ;;
        "sigma provider") echo "add list show edit rm" ;;
        "sigma vps") echo "add list show edit retire rm" ;;
        "sigma config") echo "show path set unset" ;;
        "sigma db") echo "upgrade current" ;;
        "sigma user") echo "add list show set-role disable enable reset-mfa rm passwd" ;;
        "sigma api-key") echo "create list revoke" ;;
        "sigma mfa") echo "enable disable" ;;
        "sigma audit") echo "list" ;;
        "sigma ticket") echo "list open show edit assign start resolve close reopen comment rm" ;;
        "sigma deploy") echo "node-exporter" ;;
        "sigma export") echo "prometheus ansible ical vps providers" ;;
        "sigma import") echo "vps providers" ;;
        "sigma cost") echo "summary monthly rate" ;;
        "sigma cost rate") echo "set list rm" ;;
        "sigma notify") echo "run" ;;
        "sigma agent") echo "run install provision release events" ;;
        "sigma probe") echo "run provision" ;;
        "sigma ip-check") echo "list show add rm summary purge status" ;;
    esac
}

_sigma_options() {
    case "$1" in
        "sigma") echo "--database-url --server --local --config --debug --version --help" ;;
        "sigma provider") echo "--help" ;;
        "sigma provider add") echo "--country --website --panel-url --api-supported --no-api-supported --rating --notes -f --format -q --quiet --help" ;;
        "sigma provider list") echo "--page --per-page --all -f --format -q --quiet --help" ;;
        "sigma provider show") echo "-f --format -q --quiet --help" ;;
        "sigma provider edit") echo "--name --country --website --panel-url --api-supported --rating --notes -f --format -q --quiet --help" ;;
        "sigma provider rm") echo "-y --yes --help" ;;
        "sigma vps") echo "--help" ;;
        "sigma vps add") echo "--provider --provider-id --alias --ip --ssh-port --country --city --dc --dc-name --cpu --cpu-cores --ram-mb --disk-gb --bandwidth-tb --cost --cost-monthly --currency --status --purpose --vpn-protocol --tag --purchase-date --expire-date --monitoring --no-monitoring --node-exporter-port --extra --notes -f --format -q --quiet --help" ;;
        "sigma vps list") echo "--status --country --provider --provider-id --purpose --tag --expiring --expiring-within -s --search --ip --sort --page --per-page --all -f --format -q --quiet --help" ;;
        "sigma vps show") echo "-f --format -q --quiet --help" ;;
        "sigma vps edit") echo "--hostname --provider --provider-id --alias --ip --add-ip --remove-ip --ssh-port --country --city --dc --dc-name --cpu --cpu-cores --ram-mb --disk-gb --bandwidth-tb --cost --cost-monthly --currency --status --purpose --vpn-protocol --tag --add-tag --remove-tag --purchase-date --expire-date --monitoring --no-monitoring --node-exporter-port --extra --notes -f --format -q --quiet --help" ;;
        "sigma vps retire") echo "--help" ;;
        "sigma vps rm") echo "-y --yes --help" ;;
        "sigma config") echo "--help" ;;
        "sigma config show") echo "-f --format --help" ;;
        "sigma config path") echo "--help" ;;
        "sigma config set") echo "--help" ;;
        "sigma config unset") echo "--help" ;;
        "sigma db") echo "--help" ;;
        "sigma db upgrade") echo "--help" ;;
        "sigma db current") echo "--help" ;;
        "sigma user") echo "--help" ;;
        "sigma user add") echo "--role --name --password-stdin -f --format -q --quiet --help" ;;
        "sigma user list") echo "--role --page --per-page --all -f --format -q --quiet --help" ;;
        "sigma user show") echo "-f --format -q --quiet --help" ;;
        "sigma user set-role") echo "--help" ;;
        "sigma user disable") echo "--help" ;;
        "sigma user enable") echo "--help" ;;
        "sigma user reset-mfa") echo "--help" ;;
        "sigma user rm") echo "-y --yes --help" ;;
        "sigma user passwd") echo "--password-stdin --help" ;;
        "sigma api-key") echo "--help" ;;
        "sigma api-key create") echo "--read-only --expires-in-days --user -f --format --help" ;;
        "sigma api-key list") echo "--all -f --format -q --quiet --help" ;;
        "sigma api-key revoke") echo "--help" ;;
        "sigma mfa") echo "--help" ;;
        "sigma mfa enable") echo "--code --help" ;;
        "sigma mfa disable") echo "--code --help" ;;
        "sigma audit") echo "--help" ;;
        "sigma audit list") echo "--resource --resource-id --user-id --action --since --until --page --per-page --all -f --format -q --quiet --help" ;;
        "sigma ticket") echo "--help" ;;
        "sigma ticket list") echo "--status --priority --assigned-to --vps --provider --page --per-page --all -f --format -q --quiet --help" ;;
        "sigma ticket open") echo "-d --description -p --priority --vps --provider --assign -f --format -q --quiet --help" ;;
        "sigma ticket show") echo "-f --format -q --quiet --help" ;;
        "sigma ticket edit") echo "--title -d --description -p --priority --status --vps --provider --assign -f --format -q --quiet --help" ;;
        "sigma ticket assign") echo "--none --help" ;;
        "sigma ticket start") echo "--help" ;;
        "sigma ticket resolve") echo "--help" ;;
        "sigma ticket close") echo "--help" ;;
        "sigma ticket reopen") echo "--help" ;;
        "sigma ticket comment") echo "-f --format -q --quiet --help" ;;
        "sigma ticket rm") echo "-y --yes --help" ;;
        "sigma deploy") echo "--help" ;;
        "sigma deploy node-exporter") echo "--filter --binary --sha256 --port -u --user -i --identity --known-hosts --accept-new -j --parallel --timeout --metrics-wait --bin-path --unit-dir --dry-run -f --format -q --quiet --help" ;;
        "sigma export") echo "--help" ;;
        "sigma export prometheus") echo "-o --output --address-label --help" ;;
        "sigma export ansible") echo "--list --host -o --output --help" ;;
        "sigma export ical") echo "-o --output --help" ;;
        "sigma export vps") echo "-f --format -o --output --help" ;;
        "sigma export providers") echo "-f --format -o --output --help" ;;
        "sigma import") echo "--help" ;;
        "sigma import vps") echo "-f --format --dry-run --json --help" ;;
        "sigma import providers") echo "-f --format --dry-run --json --help" ;;
        "sigma cost") echo "--help" ;;
        "sigma cost summary") echo "--by --convert-to --convert --provider --country --status --include-retired -f --format --help" ;;
        "sigma cost monthly") echo "--months --by --convert-to --convert --provider --country --include-retired -f --format --help" ;;
        "sigma cost rate") echo "--help" ;;
        "sigma cost rate set") echo "--help" ;;
        "sigma cost rate list") echo "--from --to -f --format -q --quiet --help" ;;
        "sigma cost rate rm") echo "--help" ;;
        "sigma notify") echo "--help" ;;
        "sigma notify run") echo "--dry-run -f --format --help" ;;
        "sigma agent") echo "--help" ;;
        "sigma agent run") echo "--api-url --api-key --interval --hostname --alias --ssh-port --metrics-port --port-scan --no-port-scan --port-scan-range --port-scan-interval --metrics-addr --public-ip-url --log-level --config-file --help" ;;
        "sigma agent install") echo "--api-url --api-key --interval --hostname --alias --ssh-port --metrics-port --port-scan --no-port-scan --port-scan-range --port-scan-interval --print --unit-dir --env-file --config-file --help" ;;
        "sigma agent provision") echo "--name -f --format --help" ;;
        "sigma agent release") echo "--revoke --help" ;;
        "sigma agent events") echo "--vps --kind --limit -f --format -q --quiet --help" ;;
        "sigma probe") echo "--help" ;;
        "sigma probe run") echo "--source --api-url --api-key --interval --check-types --tcp-timeout --http-timeout --icmp-timeout --concurrency --tcp-port --http-scheme --http-port --batch-size --spool-dir --spool-max-mb --once --help" ;;
        "sigma probe provision") echo "--expires-in-days --help" ;;
        "sigma ip-check") echo "--help" ;;
        "sigma ip-check list") echo "--vps --vps-id --ip --source --check-type --type --success --page --per-page --all -f --format -q --quiet --help" ;;
        "sigma ip-check show") echo "-f --format --help" ;;
        "sigma ip-check add") echo "--vps --vps-id --ip --success --fail --check-type --type --source --latency-ms -f --format -q --quiet --help" ;;
        "sigma ip-check rm") echo "--help" ;;
        "sigma ip-check summary") echo "--vps --vps-id -f --format -q --quiet --help" ;;
        "sigma ip-check purge") echo "--older-than-days -y --yes --help" ;;
        "sigma ip-check status") echo "--vps --verdict --all -f --format -q --quiet --help" ;;
        "sigma serve") echo "--host --port --workers --log-level --help" ;;
        "sigma login") echo "-u --email --password-stdin --api-key --help" ;;
        "sigma logout") echo "--all --help" ;;
        "sigma whoami") echo "-f --format --help" ;;
        "sigma stats") echo "-f --format --help" ;;
    esac
}

# options that take a value: what to offer for it
_sigma_values() {
    case "$1|$2" in
        "sigma|--database-url") COMPREPLY=() ;;
        "sigma|--server") COMPREPLY=() ;;
        "sigma|--config") COMPREPLY=() ;;
        "sigma provider add|--country") COMPREPLY=() ;;
        "sigma provider add|--website") COMPREPLY=() ;;
        "sigma provider add|--panel-url") COMPREPLY=() ;;
        "sigma provider add|--rating") COMPREPLY=() ;;
        "sigma provider add|--notes") COMPREPLY=() ;;
        "sigma provider add|-f"|"sigma provider add|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma provider list|--page") COMPREPLY=() ;;
        "sigma provider list|--per-page") COMPREPLY=() ;;
        "sigma provider list|-f"|"sigma provider list|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma provider show|-f"|"sigma provider show|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma provider edit|--name") COMPREPLY=() ;;
        "sigma provider edit|--country") COMPREPLY=() ;;
        "sigma provider edit|--website") COMPREPLY=() ;;
        "sigma provider edit|--panel-url") COMPREPLY=() ;;
        "sigma provider edit|--api-supported") COMPREPLY=() ;;
        "sigma provider edit|--rating") COMPREPLY=() ;;
        "sigma provider edit|--notes") COMPREPLY=() ;;
        "sigma provider edit|-f"|"sigma provider edit|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma vps add|--provider"|"sigma vps add|--provider-id") COMPREPLY=() ;;
        "sigma vps add|--alias") COMPREPLY=() ;;
        "sigma vps add|--ip") COMPREPLY=() ;;
        "sigma vps add|--ssh-port") COMPREPLY=() ;;
        "sigma vps add|--country") COMPREPLY=() ;;
        "sigma vps add|--city") COMPREPLY=() ;;
        "sigma vps add|--dc"|"sigma vps add|--dc-name") COMPREPLY=() ;;
        "sigma vps add|--cpu"|"sigma vps add|--cpu-cores") COMPREPLY=() ;;
        "sigma vps add|--ram-mb") COMPREPLY=() ;;
        "sigma vps add|--disk-gb") COMPREPLY=() ;;
        "sigma vps add|--bandwidth-tb") COMPREPLY=() ;;
        "sigma vps add|--cost"|"sigma vps add|--cost-monthly") COMPREPLY=() ;;
        "sigma vps add|--currency") COMPREPLY=() ;;
        "sigma vps add|--status") COMPREPLY=($(compgen -W "provisioning active retiring retired suspended" -- "$3")) ;;
        "sigma vps add|--purpose") COMPREPLY=($(compgen -W "vpn-exit vpn-relay vpn-entry monitor management other" -- "$3")) ;;
        "sigma vps add|--vpn-protocol") COMPREPLY=() ;;
        "sigma vps add|--tag") COMPREPLY=() ;;
        "sigma vps add|--purchase-date") COMPREPLY=() ;;
        "sigma vps add|--expire-date") COMPREPLY=() ;;
        "sigma vps add|--node-exporter-port") COMPREPLY=() ;;
        "sigma vps add|--extra") COMPREPLY=() ;;
        "sigma vps add|--notes") COMPREPLY=() ;;
        "sigma vps add|-f"|"sigma vps add|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma vps list|--status") COMPREPLY=($(compgen -W "provisioning active retiring retired suspended" -- "$3")) ;;
        "sigma vps list|--country") COMPREPLY=() ;;
        "sigma vps list|--provider"|"sigma vps list|--provider-id") COMPREPLY=() ;;
        "sigma vps list|--purpose") COMPREPLY=($(compgen -W "vpn-exit vpn-relay vpn-entry monitor management other" -- "$3")) ;;
        "sigma vps list|--tag") COMPREPLY=() ;;
        "sigma vps list|--expiring"|"sigma vps list|--expiring-within") COMPREPLY=() ;;
        "sigma vps list|-s"|"sigma vps list|--search") COMPREPLY=() ;;
        "sigma vps list|--ip") COMPREPLY=() ;;
        "sigma vps list|--sort") COMPREPLY=() ;;
        "sigma vps list|--page") COMPREPLY=() ;;
        "sigma vps list|--per-page") COMPREPLY=() ;;
        "sigma vps list|-f"|"sigma vps list|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma vps show|-f"|"sigma vps show|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma vps edit|--hostname") COMPREPLY=() ;;
        "sigma vps edit|--provider"|"sigma vps edit|--provider-id") COMPREPLY=() ;;
        "sigma vps edit|--alias") COMPREPLY=() ;;
        "sigma vps edit|--ip") COMPREPLY=() ;;
        "sigma vps edit|--add-ip") COMPREPLY=() ;;
        "sigma vps edit|--remove-ip") COMPREPLY=() ;;
        "sigma vps edit|--ssh-port") COMPREPLY=() ;;
        "sigma vps edit|--country") COMPREPLY=() ;;
        "sigma vps edit|--city") COMPREPLY=() ;;
        "sigma vps edit|--dc"|"sigma vps edit|--dc-name") COMPREPLY=() ;;
        "sigma vps edit|--cpu"|"sigma vps edit|--cpu-cores") COMPREPLY=() ;;
        "sigma vps edit|--ram-mb") COMPREPLY=() ;;
        "sigma vps edit|--disk-gb") COMPREPLY=() ;;
        "sigma vps edit|--bandwidth-tb") COMPREPLY=() ;;
        "sigma vps edit|--cost"|"sigma vps edit|--cost-monthly") COMPREPLY=() ;;
        "sigma vps edit|--currency") COMPREPLY=() ;;
        "sigma vps edit|--status") COMPREPLY=($(compgen -W "provisioning active retiring retired suspended" -- "$3")) ;;
        "sigma vps edit|--purpose") COMPREPLY=($(compgen -W "vpn-exit vpn-relay vpn-entry monitor management other" -- "$3")) ;;
        "sigma vps edit|--vpn-protocol") COMPREPLY=() ;;
        "sigma vps edit|--tag") COMPREPLY=() ;;
        "sigma vps edit|--add-tag") COMPREPLY=() ;;
        "sigma vps edit|--remove-tag") COMPREPLY=() ;;
        "sigma vps edit|--purchase-date") COMPREPLY=() ;;
        "sigma vps edit|--expire-date") COMPREPLY=() ;;
        "sigma vps edit|--node-exporter-port") COMPREPLY=() ;;
        "sigma vps edit|--extra") COMPREPLY=() ;;
        "sigma vps edit|--notes") COMPREPLY=() ;;
        "sigma vps edit|-f"|"sigma vps edit|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma config show|-f"|"sigma config show|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma user add|--role") COMPREPLY=($(compgen -W "admin operator readonly agent probe" -- "$3")) ;;
        "sigma user add|--name") COMPREPLY=() ;;
        "sigma user add|-f"|"sigma user add|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma user list|--role") COMPREPLY=($(compgen -W "admin operator readonly agent probe" -- "$3")) ;;
        "sigma user list|--page") COMPREPLY=() ;;
        "sigma user list|--per-page") COMPREPLY=() ;;
        "sigma user list|-f"|"sigma user list|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma user show|-f"|"sigma user show|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma api-key create|--expires-in-days") COMPREPLY=() ;;
        "sigma api-key create|--user") COMPREPLY=() ;;
        "sigma api-key create|-f"|"sigma api-key create|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma api-key list|-f"|"sigma api-key list|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma mfa enable|--code") COMPREPLY=() ;;
        "sigma mfa disable|--code") COMPREPLY=() ;;
        "sigma audit list|--resource") COMPREPLY=() ;;
        "sigma audit list|--resource-id") COMPREPLY=() ;;
        "sigma audit list|--user-id") COMPREPLY=() ;;
        "sigma audit list|--action") COMPREPLY=() ;;
        "sigma audit list|--since") COMPREPLY=() ;;
        "sigma audit list|--until") COMPREPLY=() ;;
        "sigma audit list|--page") COMPREPLY=() ;;
        "sigma audit list|--per-page") COMPREPLY=() ;;
        "sigma audit list|-f"|"sigma audit list|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma ticket list|--status") COMPREPLY=($(compgen -W "open in-progress resolved closed" -- "$3")) ;;
        "sigma ticket list|--priority") COMPREPLY=($(compgen -W "low medium high critical" -- "$3")) ;;
        "sigma ticket list|--assigned-to") COMPREPLY=() ;;
        "sigma ticket list|--vps") COMPREPLY=() ;;
        "sigma ticket list|--provider") COMPREPLY=() ;;
        "sigma ticket list|--page") COMPREPLY=() ;;
        "sigma ticket list|--per-page") COMPREPLY=() ;;
        "sigma ticket list|-f"|"sigma ticket list|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma ticket open|-d"|"sigma ticket open|--description") COMPREPLY=() ;;
        "sigma ticket open|-p"|"sigma ticket open|--priority") COMPREPLY=($(compgen -W "low medium high critical" -- "$3")) ;;
        "sigma ticket open|--vps") COMPREPLY=() ;;
        "sigma ticket open|--provider") COMPREPLY=() ;;
        "sigma ticket open|--assign") COMPREPLY=() ;;
        "sigma ticket open|-f"|"sigma ticket open|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma ticket show|-f"|"sigma ticket show|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma ticket edit|--title") COMPREPLY=() ;;
        "sigma ticket edit|-d"|"sigma ticket edit|--description") COMPREPLY=() ;;
        "sigma ticket edit|-p"|"sigma ticket edit|--priority") COMPREPLY=($(compgen -W "low medium high critical" -- "$3")) ;;
        "sigma ticket edit|--status") COMPREPLY=($(compgen -W "open in-progress resolved closed" -- "$3")) ;;
        "sigma ticket edit|--vps") COMPREPLY=() ;;
        "sigma ticket edit|--provider") COMPREPLY=() ;;
        "sigma ticket edit|--assign") COMPREPLY=() ;;
        "sigma ticket edit|-f"|"sigma ticket edit|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma ticket comment|-f"|"sigma ticket comment|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma deploy node-exporter|--filter") COMPREPLY=($(compgen -W "status= country= provider= purpose= tag= search= ip= expiring-within=" -- "$3")) ;;
        "sigma deploy node-exporter|--binary") COMPREPLY=($(compgen -f -- "$3")); compopt -o filenames 2>/dev/null ;;
        "sigma deploy node-exporter|--sha256") COMPREPLY=() ;;
        "sigma deploy node-exporter|--port") COMPREPLY=() ;;
        "sigma deploy node-exporter|-u"|"sigma deploy node-exporter|--user") COMPREPLY=() ;;
        "sigma deploy node-exporter|-i"|"sigma deploy node-exporter|--identity") COMPREPLY=($(compgen -f -- "$3")); compopt -o filenames 2>/dev/null ;;
        "sigma deploy node-exporter|--known-hosts") COMPREPLY=($(compgen -f -- "$3")); compopt -o filenames 2>/dev/null ;;
        "sigma deploy node-exporter|-j"|"sigma deploy node-exporter|--parallel") COMPREPLY=() ;;
        "sigma deploy node-exporter|--timeout") COMPREPLY=() ;;
        "sigma deploy node-exporter|--metrics-wait") COMPREPLY=() ;;
        "sigma deploy node-exporter|--bin-path") COMPREPLY=() ;;
        "sigma deploy node-exporter|--unit-dir") COMPREPLY=() ;;
        "sigma deploy node-exporter|-f"|"sigma deploy node-exporter|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma export prometheus|-o"|"sigma export prometheus|--output") COMPREPLY=($(compgen -f -- "$3")); compopt -o filenames 2>/dev/null ;;
        "sigma export prometheus|--address-label") COMPREPLY=() ;;
        "sigma export ansible|--host") COMPREPLY=() ;;
        "sigma export ansible|-o"|"sigma export ansible|--output") COMPREPLY=($(compgen -f -- "$3")); compopt -o filenames 2>/dev/null ;;
        "sigma export ical|-o"|"sigma export ical|--output") COMPREPLY=($(compgen -f -- "$3")); compopt -o filenames 2>/dev/null ;;
        "sigma export vps|-f"|"sigma export vps|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma export vps|-o"|"sigma export vps|--output") COMPREPLY=($(compgen -f -- "$3")); compopt -o filenames 2>/dev/null ;;
        "sigma export providers|-f"|"sigma export providers|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma export providers|-o"|"sigma export providers|--output") COMPREPLY=($(compgen -f -- "$3")); compopt -o filenames 2>/dev/null ;;
        "sigma import vps|-f"|"sigma import vps|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma import providers|-f"|"sigma import providers|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma cost summary|--by") COMPREPLY=() ;;
        "sigma cost summary|--convert-to") COMPREPLY=() ;;
        "sigma cost summary|--provider") COMPREPLY=() ;;
        "sigma cost summary|--country") COMPREPLY=() ;;
        "sigma cost summary|--status") COMPREPLY=() ;;
        "sigma cost summary|-f"|"sigma cost summary|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma cost monthly|--months") COMPREPLY=() ;;
        "sigma cost monthly|--by") COMPREPLY=() ;;
        "sigma cost monthly|--convert-to") COMPREPLY=() ;;
        "sigma cost monthly|--provider") COMPREPLY=() ;;
        "sigma cost monthly|--country") COMPREPLY=() ;;
        "sigma cost monthly|-f"|"sigma cost monthly|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma cost rate list|--from") COMPREPLY=() ;;
        "sigma cost rate list|--to") COMPREPLY=() ;;
        "sigma cost rate list|-f"|"sigma cost rate list|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma notify run|-f"|"sigma notify run|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma agent run|--api-url") COMPREPLY=() ;;
        "sigma agent run|--api-key") COMPREPLY=() ;;
        "sigma agent run|--interval") COMPREPLY=() ;;
        "sigma agent run|--hostname") COMPREPLY=() ;;
        "sigma agent run|--alias") COMPREPLY=() ;;
        "sigma agent run|--ssh-port") COMPREPLY=() ;;
        "sigma agent run|--metrics-port") COMPREPLY=() ;;
        "sigma agent run|--port-scan-range") COMPREPLY=() ;;
        "sigma agent run|--port-scan-interval") COMPREPLY=() ;;
        "sigma agent run|--metrics-addr") COMPREPLY=() ;;
        "sigma agent run|--public-ip-url") COMPREPLY=() ;;
        "sigma agent run|--log-level") COMPREPLY=($(compgen -W "debug info warning error" -- "$3")) ;;
        "sigma agent run|--config-file") COMPREPLY=() ;;
        "sigma agent install|--api-url") COMPREPLY=() ;;
        "sigma agent install|--api-key") COMPREPLY=() ;;
        "sigma agent install|--interval") COMPREPLY=() ;;
        "sigma agent install|--hostname") COMPREPLY=() ;;
        "sigma agent install|--alias") COMPREPLY=() ;;
        "sigma agent install|--ssh-port") COMPREPLY=() ;;
        "sigma agent install|--metrics-port") COMPREPLY=() ;;
        "sigma agent install|--port-scan-range") COMPREPLY=() ;;
        "sigma agent install|--port-scan-interval") COMPREPLY=() ;;
        "sigma agent install|--unit-dir") COMPREPLY=() ;;
        "sigma agent install|--env-file") COMPREPLY=() ;;
        "sigma agent install|--config-file") COMPREPLY=() ;;
        "sigma agent provision|--name") COMPREPLY=() ;;
        "sigma agent provision|-f"|"sigma agent provision|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma agent events|--vps") COMPREPLY=() ;;
        "sigma agent events|--kind") COMPREPLY=($(compgen -W "agent-offline agent-online reachability" -- "$3")) ;;
        "sigma agent events|--limit") COMPREPLY=() ;;
        "sigma agent events|-f"|"sigma agent events|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma probe run|--source") COMPREPLY=() ;;
        "sigma probe run|--api-url") COMPREPLY=() ;;
        "sigma probe run|--api-key") COMPREPLY=() ;;
        "sigma probe run|--interval") COMPREPLY=() ;;
        "sigma probe run|--check-types") COMPREPLY=() ;;
        "sigma probe run|--tcp-timeout") COMPREPLY=() ;;
        "sigma probe run|--http-timeout") COMPREPLY=() ;;
        "sigma probe run|--icmp-timeout") COMPREPLY=() ;;
        "sigma probe run|--concurrency") COMPREPLY=() ;;
        "sigma probe run|--tcp-port") COMPREPLY=() ;;
        "sigma probe run|--http-scheme") COMPREPLY=() ;;
        "sigma probe run|--http-port") COMPREPLY=() ;;
        "sigma probe run|--batch-size") COMPREPLY=() ;;
        "sigma probe run|--spool-dir") COMPREPLY=() ;;
        "sigma probe run|--spool-max-mb") COMPREPLY=() ;;
        "sigma probe provision|--expires-in-days") COMPREPLY=() ;;
        "sigma ip-check list|--vps"|"sigma ip-check list|--vps-id") COMPREPLY=() ;;
        "sigma ip-check list|--ip") COMPREPLY=() ;;
        "sigma ip-check list|--source") COMPREPLY=() ;;
        "sigma ip-check list|--check-type"|"sigma ip-check list|--type") COMPREPLY=($(compgen -W "icmp tcp http" -- "$3")) ;;
        "sigma ip-check list|--success") COMPREPLY=($(compgen -W "true false" -- "$3")) ;;
        "sigma ip-check list|--page") COMPREPLY=() ;;
        "sigma ip-check list|--per-page") COMPREPLY=() ;;
        "sigma ip-check list|-f"|"sigma ip-check list|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma ip-check show|-f"|"sigma ip-check show|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma ip-check add|--vps"|"sigma ip-check add|--vps-id") COMPREPLY=() ;;
        "sigma ip-check add|--ip") COMPREPLY=() ;;
        "sigma ip-check add|--check-type"|"sigma ip-check add|--type") COMPREPLY=($(compgen -W "icmp tcp http" -- "$3")) ;;
        "sigma ip-check add|--source") COMPREPLY=() ;;
        "sigma ip-check add|--latency-ms") COMPREPLY=() ;;
        "sigma ip-check add|-f"|"sigma ip-check add|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma ip-check summary|--vps"|"sigma ip-check summary|--vps-id") COMPREPLY=() ;;
        "sigma ip-check summary|-f"|"sigma ip-check summary|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma ip-check purge|--older-than-days") COMPREPLY=() ;;
        "sigma ip-check status|--vps") COMPREPLY=() ;;
        "sigma ip-check status|--verdict") COMPREPLY=($(compgen -W "ok degraded blocked down unknown" -- "$3")) ;;
        "sigma ip-check status|-f"|"sigma ip-check status|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma serve|--host") COMPREPLY=() ;;
        "sigma serve|--port") COMPREPLY=() ;;
        "sigma serve|--workers") COMPREPLY=() ;;
        "sigma serve|--log-level") COMPREPLY=($(compgen -W "debug info warning error" -- "$3")) ;;
        "sigma login|-u"|"sigma login|--email") COMPREPLY=() ;;
        "sigma login|--api-key") COMPREPLY=() ;;
        "sigma whoami|-f"|"sigma whoami|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        "sigma stats|-f"|"sigma stats|--format") COMPREPLY=($(compgen -W "table json yaml csv" -- "$3")) ;;
        *) return 1 ;;
    esac
    return 0
}

_sigma() {
    # commands whose argument is a file (their paths, words joined by colons)
    local FILE_COMMANDS="sigma:import:vps sigma:import:providers"
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    local path="sigma" i word skip=0
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${COMP_WORDS[i]}"
        if ((skip)); then skip=0; continue; fi
        if [[ "$word" == -* ]]; then
            _sigma_values "$path" "$word" "" >/dev/null 2>&1 && [[ "$word" != *=* ]] && skip=1
            continue
        fi
        if [[ " $(_sigma_subcommands "$path") " == *" $word "* ]]; then path="$path $word"; fi
    done
    if [[ "$prev" == -* ]] && _sigma_values "$path" "$prev" "$cur"; then return 0; fi
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$(_sigma_options "$path")" -- "$cur"))
    elif [[ " $FILE_COMMANDS " == *" ${path// /:} "* ]]; then
        COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null
    else
        COMPREPLY=($(compgen -W "$(_sigma_subcommands "$path")" -- "$cur"))
    fi
}
complete -F _sigma sigma
