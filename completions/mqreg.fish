# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mqreg_global_optspecs
    string join \n state= local-copy= json format= config= audit-log= h/help V/version
end

function __fish_mqreg_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mqreg_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mqreg_using_subcommand
    set -l cmd (__fish_mqreg_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mqreg -n "__fish_mqreg_needs_command" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_needs_command" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_needs_command" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_needs_command" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_needs_command" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_needs_command" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_needs_command" -s V -l version -d 'Print version'
complete -c mqreg -n "__fish_mqreg_needs_command" -f -a "serve" -d 'Run the MQTT broker'
complete -c mqreg -n "__fish_mqreg_needs_command" -f -a "registry" -d 'Open and close the registry; approve or reject pending devices'
complete -c mqreg -n "__fish_mqreg_needs_command" -f -a "user" -d 'Manage users and the roles they hold'
complete -c mqreg -n "__fish_mqreg_needs_command" -f -a "role" -d 'Manage roles and their topic permissions'
complete -c mqreg -n "__fish_mqreg_needs_command" -f -a "ban" -d 'Refuse logins by username, client id or address'
complete -c mqreg -n "__fish_mqreg_needs_command" -f -a "audit" -d 'Show the latest entries of the audit log'
complete -c mqreg -n "__fish_mqreg_needs_command" -f -a "token" -d 'Make, list and revoke tokens for the HTTP API'
complete -c mqreg -n "__fish_mqreg_needs_command" -f -a "ca" -d 'The registry\'s certificate authority, which signs device certificates'
complete -c mqreg -n "__fish_mqreg_needs_command" -f -a "cert" -d 'Issue a device certificate by hand'
complete -c mqreg -n "__fish_mqreg_needs_command" -f -a "client" -d 'List and disconnect the clients connected to the running broker'
complete -c mqreg -n "__fish_mqreg_needs_command" -f -a "log-level" -d 'Show or change the running broker\'s log filter, without a restart'
complete -c mqreg -n "__fish_mqreg_needs_command" -f -a "config" -d 'Show the configuration in force and where each value comes from'
complete -c mqreg -n "__fish_mqreg_needs_command" -f -a "state" -d 'Move the state between a file and a PostgreSQL database'
complete -c mqreg -n "__fish_mqreg_needs_command" -f -a "generate-docs" -d 'Write shell completions and man pages (for packagers and this repository)'
complete -c mqreg -n "__fish_mqreg_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l listen -d 'Address to accept MQTT 3.1.1 and 5 on (repeatable)' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l tls-listen -d 'Address to accept MQTT over TLS on (repeatable); needs --tls-cert and --tls-key' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l tls-cert -d 'PEM certificate chain for --tls-listen' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l tls-key -d 'PEM private key for --tls-listen (PKCS#8, PKCS#1 or SEC1)' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l tls-client-ca -d 'PEM CA certificate(s) whose client certificates log in on --tls-listen, besides the registry\'s own CA (`mqreg ca init`)' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l http -d 'Address to serve the HTTP API on (the CLI\'s operations, /metrics, /healthz); a Unix socket beside the state file serves it too, without tokens' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l http-tls-cert -d 'PEM certificate chain for --http (HTTPS); re-read on SIGHUP' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l http-tls-key -d 'PEM private key for --http-tls-cert' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l max-queued-messages -d 'Messages queued for one client: past it, publishers wait for room (at most 5 s), and an offline session\'s oldest messages are dropped' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l max-inflight -d 'QoS 1 and 2 messages in flight to one client, unacknowledged' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l stall-timeout -d 'A subscriber whose full queue makes no room for this long counts as not reading: publishers stop waiting for it and its oldest messages are dropped (counted and logged) until it reads again' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l hash-workers -d 'Password hashes computed at once [default: the number of CPUs]' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l connect-timeout -d 'Close sockets that have not completed a CONNECT within this time' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l max-packet-size -d 'Largest MQTT packet accepted, in bytes; larger ones close the connection' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l max-topic-levels -d 'Most levels in a topic or filter (PUBLISH, SUBSCRIBE, wills)' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l max-topic-bytes -d 'Most bytes in a topic or filter' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l retry-write-interval -d 'How often a device retrying unchanged while it waits for approval has its last-seen time and count written, at most (a new password, client id or address is written at once)' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l sys-interval -d 'How often the broker\'s figures are published as retained $SYS/broker/... messages (readable with a read grant on $SYS/#); 0s: never' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l persistence -d 'Keep retained messages and persistent sessions on disk (beside the state file, NAME.messages.redb), durable before they are acknowledged; off keeps them in memory only' -r -f -a "on\t''
off\t''"
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l log-format -d 'Log line format on stderr: text for people, json (one object per line) for log shippers' -r -f -a "text\t''
json\t''"
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l require-client-cert -d 'Refuse TLS clients that show no certificate, at the handshake (default: a certificate is optional, and a password logs in too)'
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l metrics-public -d 'Serve GET /metrics on --http without a token, for a Prometheus scraper'
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and not __fish_seen_subcommand_from unlock lock status list approve client-ids show watch reject help" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and not __fish_seen_subcommand_from unlock lock status list approve client-ids show watch reject help" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and not __fish_seen_subcommand_from unlock lock status list approve client-ids show watch reject help" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and not __fish_seen_subcommand_from unlock lock status list approve client-ids show watch reject help" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and not __fish_seen_subcommand_from unlock lock status list approve client-ids show watch reject help" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and not __fish_seen_subcommand_from unlock lock status list approve client-ids show watch reject help" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and not __fish_seen_subcommand_from unlock lock status list approve client-ids show watch reject help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and not __fish_seen_subcommand_from unlock lock status list approve client-ids show watch reject help" -f -a "unlock" -d 'Open the registry: unknown devices that log in are recorded as pending'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and not __fish_seen_subcommand_from unlock lock status list approve client-ids show watch reject help" -f -a "lock" -d 'Close the registry now (pending requests are kept)'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and not __fish_seen_subcommand_from unlock lock status list approve client-ids show watch reject help" -f -a "status" -d 'Show whether the registry is open, until when, and how many requests wait'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and not __fish_seen_subcommand_from unlock lock status list approve client-ids show watch reject help" -f -a "list" -d 'List pending requests (or, with --refused, the recent refused logins)'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and not __fish_seen_subcommand_from unlock lock status list approve client-ids show watch reject help" -f -a "approve" -d 'Create users from pending requests'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and not __fish_seen_subcommand_from unlock lock status list approve client-ids show watch reject help" -f -a "client-ids" -d 'Show or set which client ids users may connect with (a user\'s own rule, `mqreg user client-ids`, wins)'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and not __fish_seen_subcommand_from unlock lock status list approve client-ids show watch reject help" -f -a "show" -d 'Show one pending request with every distinct password attempt, numbered'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and not __fish_seen_subcommand_from unlock lock status list approve client-ids show watch reject help" -f -a "watch" -d 'Print each new or changed pending request as it appears, until interrupted'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and not __fish_seen_subcommand_from unlock lock status list approve client-ids show watch reject help" -f -a "reject" -d 'Drop pending requests'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and not __fish_seen_subcommand_from unlock lock status list approve client-ids show watch reject help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from unlock" -l for -d 'How long to stay open, like 90s, 10m or 1h (at most 24h)' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from unlock" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from unlock" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from unlock" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from unlock" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from unlock" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from unlock" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from unlock" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from lock" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from lock" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from lock" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from lock" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from lock" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from lock" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from lock" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from status" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from status" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from status" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from status" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from status" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from status" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from list" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from list" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from list" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from list" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from list" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from list" -l refused -d 'The recent refused logins, from the running broker'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from list" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from approve" -l match -d 'Pending requests whose username matches GLOB, like \'sensor*\'' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from approve" -l role -d 'Grant this role to every approved user (repeatable)' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from approve" -l attempt -d 'Which password attempt becomes the user\'s, numbered as `registry show USERNAME` lists them (needed with --force when there are several)' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from approve" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from approve" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from approve" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from approve" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from approve" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from approve" -l all -d 'Every pending request'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from approve" -l force -d 'Approve a named request even though it was seen with two passwords'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from approve" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from approve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from client-ids" -l set -d 'Only client ids matching one of these globs; {username} is the user\'s name. Registrations with other client ids are refused too' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from client-ids" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from client-ids" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from client-ids" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from client-ids" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from client-ids" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from client-ids" -l any -d 'Any client id (the default)'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from client-ids" -l registered -d 'Only the client id(s) each user\'s registration was approved with'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from client-ids" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from client-ids" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from show" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from show" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from show" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from show" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from show" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from show" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from watch" -l exec -d 'Run CMD (with `sh -c`) for each new request; see the environment above' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from watch" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from watch" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from watch" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from watch" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from watch" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from watch" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from watch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from reject" -l match -d 'Pending requests whose username matches GLOB, like \'sensor*\'' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from reject" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from reject" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from reject" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from reject" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from reject" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from reject" -l all -d 'Every pending request'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from reject" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from reject" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from help" -f -a "unlock" -d 'Open the registry: unknown devices that log in are recorded as pending'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from help" -f -a "lock" -d 'Close the registry now (pending requests are kept)'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from help" -f -a "status" -d 'Show whether the registry is open, until when, and how many requests wait'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from help" -f -a "list" -d 'List pending requests (or, with --refused, the recent refused logins)'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from help" -f -a "approve" -d 'Create users from pending requests'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from help" -f -a "client-ids" -d 'Show or set which client ids users may connect with (a user\'s own rule, `mqreg user client-ids`, wins)'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one pending request with every distinct password attempt, numbered'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from help" -f -a "watch" -d 'Print each new or changed pending request as it appears, until interrupted'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from help" -f -a "reject" -d 'Drop pending requests'
complete -c mqreg -n "__fish_mqreg_using_subcommand registry; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and not __fish_seen_subcommand_from list show add passwd delete grant-role revoke-role disable revoke-cert enable client-ids help" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and not __fish_seen_subcommand_from list show add passwd delete grant-role revoke-role disable revoke-cert enable client-ids help" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and not __fish_seen_subcommand_from list show add passwd delete grant-role revoke-role disable revoke-cert enable client-ids help" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and not __fish_seen_subcommand_from list show add passwd delete grant-role revoke-role disable revoke-cert enable client-ids help" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and not __fish_seen_subcommand_from list show add passwd delete grant-role revoke-role disable revoke-cert enable client-ids help" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and not __fish_seen_subcommand_from list show add passwd delete grant-role revoke-role disable revoke-cert enable client-ids help" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and not __fish_seen_subcommand_from list show add passwd delete grant-role revoke-role disable revoke-cert enable client-ids help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and not __fish_seen_subcommand_from list show add passwd delete grant-role revoke-role disable revoke-cert enable client-ids help" -f -a "list" -d 'List users with their roles'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and not __fish_seen_subcommand_from list show add passwd delete grant-role revoke-role disable revoke-cert enable client-ids help" -f -a "show" -d 'Show one user'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and not __fish_seen_subcommand_from list show add passwd delete grant-role revoke-role disable revoke-cert enable client-ids help" -f -a "add" -d 'Create a user; the password is read from stdin (first line)'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and not __fish_seen_subcommand_from list show add passwd delete grant-role revoke-role disable revoke-cert enable client-ids help" -f -a "passwd" -d 'Set a new password, read from stdin (first line)'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and not __fish_seen_subcommand_from list show add passwd delete grant-role revoke-role disable revoke-cert enable client-ids help" -f -a "delete" -d 'Remove a user; its live connections are closed'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and not __fish_seen_subcommand_from list show add passwd delete grant-role revoke-role disable revoke-cert enable client-ids help" -f -a "grant-role" -d 'Give a user roles'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and not __fish_seen_subcommand_from list show add passwd delete grant-role revoke-role disable revoke-cert enable client-ids help" -f -a "revoke-role" -d 'Take roles away from a user'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and not __fish_seen_subcommand_from list show add passwd delete grant-role revoke-role disable revoke-cert enable client-ids help" -f -a "disable" -d 'Refuse a user\'s logins and close its live connections; it keeps its password and roles'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and not __fish_seen_subcommand_from list show add passwd delete grant-role revoke-role disable revoke-cert enable client-ids help" -f -a "revoke-cert" -d 'Revoke a user\'s certificates (all, or the one with SERIAL); live connections made with them are closed at once'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and not __fish_seen_subcommand_from list show add passwd delete grant-role revoke-role disable revoke-cert enable client-ids help" -f -a "enable" -d 'Let a disabled user log in again'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and not __fish_seen_subcommand_from list show add passwd delete grant-role revoke-role disable revoke-cert enable client-ids help" -f -a "client-ids" -d 'Show or set which client ids a user may connect with'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and not __fish_seen_subcommand_from list show add passwd delete grant-role revoke-role disable revoke-cert enable client-ids help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from list" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from list" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from list" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from list" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from list" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from list" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from show" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from show" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from show" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from show" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from show" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from show" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from add" -l role -d 'Grant this role (repeatable)' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from add" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from add" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from add" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from add" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from add" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from add" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from passwd" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from passwd" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from passwd" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from passwd" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from passwd" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from passwd" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from passwd" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from delete" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from delete" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from delete" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from delete" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from delete" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from delete" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from grant-role" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from grant-role" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from grant-role" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from grant-role" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from grant-role" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from grant-role" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from grant-role" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from revoke-role" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from revoke-role" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from revoke-role" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from revoke-role" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from revoke-role" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from revoke-role" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from revoke-role" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from disable" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from disable" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from disable" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from disable" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from disable" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from disable" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from disable" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from revoke-cert" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from revoke-cert" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from revoke-cert" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from revoke-cert" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from revoke-cert" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from revoke-cert" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from revoke-cert" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from enable" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from enable" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from enable" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from enable" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from enable" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from enable" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from enable" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from client-ids" -l set -d 'Only client ids matching one of these globs; {username} is the user\'s name' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from client-ids" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from client-ids" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from client-ids" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from client-ids" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from client-ids" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from client-ids" -l any -d 'Any client id'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from client-ids" -l registered -d 'Only the client id(s) its registration was approved with'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from client-ids" -l inherit -d 'Follow the registry-wide rule (client_ids in [registry])'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from client-ids" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from client-ids" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "list" -d 'List users with their roles'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one user'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "add" -d 'Create a user; the password is read from stdin (first line)'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "passwd" -d 'Set a new password, read from stdin (first line)'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Remove a user; its live connections are closed'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "grant-role" -d 'Give a user roles'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "revoke-role" -d 'Take roles away from a user'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "disable" -d 'Refuse a user\'s logins and close its live connections; it keeps its password and roles'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "revoke-cert" -d 'Revoke a user\'s certificates (all, or the one with SERIAL); live connections made with them are closed at once'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "enable" -d 'Let a disabled user log in again'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "client-ids" -d 'Show or set which client ids a user may connect with'
complete -c mqreg -n "__fish_mqreg_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and not __fish_seen_subcommand_from list create allow disallow delete help" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and not __fish_seen_subcommand_from list create allow disallow delete help" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and not __fish_seen_subcommand_from list create allow disallow delete help" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and not __fish_seen_subcommand_from list create allow disallow delete help" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and not __fish_seen_subcommand_from list create allow disallow delete help" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and not __fish_seen_subcommand_from list create allow disallow delete help" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and not __fish_seen_subcommand_from list create allow disallow delete help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and not __fish_seen_subcommand_from list create allow disallow delete help" -f -a "list" -d 'List roles with their permissions'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and not __fish_seen_subcommand_from list create allow disallow delete help" -f -a "create" -d 'Define a role'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and not __fish_seen_subcommand_from list create allow disallow delete help" -f -a "allow" -d 'Add permissions to a role'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and not __fish_seen_subcommand_from list create allow disallow delete help" -f -a "disallow" -d 'Remove permissions from a role'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and not __fish_seen_subcommand_from list create allow disallow delete help" -f -a "delete" -d 'Remove a role, and it from every user'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and not __fish_seen_subcommand_from list create allow disallow delete help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from list" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from list" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from list" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from list" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from list" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from list" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from create" -l allow -d 'ACCESS:FILTER, e.g. write:devices/{username}/# (repeatable); ACCESS is read (subscribe), write (publish) or readwrite' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from create" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from create" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from create" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from create" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from create" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from create" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from allow" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from allow" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from allow" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from allow" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from allow" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from allow" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from allow" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from disallow" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from disallow" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from disallow" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from disallow" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from disallow" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from disallow" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from disallow" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from delete" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from delete" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from delete" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from delete" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from delete" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from delete" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from help" -f -a "list" -d 'List roles with their permissions'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from help" -f -a "create" -d 'Define a role'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from help" -f -a "allow" -d 'Add permissions to a role'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from help" -f -a "disallow" -d 'Remove permissions from a role'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Remove a role, and it from every user'
complete -c mqreg -n "__fish_mqreg_using_subcommand role; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and not __fish_seen_subcommand_from add list remove help" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and not __fish_seen_subcommand_from add list remove help" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and not __fish_seen_subcommand_from add list remove help" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and not __fish_seen_subcommand_from add list remove help" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and not __fish_seen_subcommand_from add list remove help" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and not __fish_seen_subcommand_from add list remove help" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and not __fish_seen_subcommand_from add list remove help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and not __fish_seen_subcommand_from add list remove help" -f -a "add" -d 'Ban a username, a client id or an address (IP or CIDR block)'
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and not __fish_seen_subcommand_from add list remove help" -f -a "list" -d 'List the bans in force'
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and not __fish_seen_subcommand_from add list remove help" -f -a "remove" -d 'Lift a ban'
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and not __fish_seen_subcommand_from add list remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from add" -l username -d 'Refuse this username (logins and registrations)' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from add" -l client-id -d 'Refuse this client id' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from add" -l address -d 'Refuse connections from this IP address or CIDR block' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from add" -l for -d 'Lift the ban after DURATION, like 30m, 12h or 7d [default: never]' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from add" -l reason -d 'Why, for `ban list` and the audit log' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from add" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from add" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from add" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from add" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from add" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from add" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from list" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from list" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from list" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from list" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from list" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from list" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from remove" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from remove" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from remove" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from remove" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from remove" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from remove" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from help" -f -a "add" -d 'Ban a username, a client id or an address (IP or CIDR block)'
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the bans in force'
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Lift a ban'
complete -c mqreg -n "__fish_mqreg_using_subcommand ban; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqreg -n "__fish_mqreg_using_subcommand audit" -s n -l lines -d 'How many of the latest entries to show' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand audit" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand audit" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand audit" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand audit" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand audit" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand audit" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand audit" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -f -a "create" -d 'Make an API token and print its secret, once (only a hash is kept)'
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -f -a "list" -d 'List the tokens (never their secrets)'
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -f -a "revoke" -d 'Revoke a token: requests with it are refused at once'
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from create" -l role -d 'admin may change everything; viewer may only read' -r -f -a "admin\t'Everything the CLI can do'
viewer\t'Read only: every GET, no change'"
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from create" -l for -d 'Expire after DURATION, like 12h or 90d [default: never]' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from create" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from create" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from create" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from create" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from create" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from create" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from list" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from list" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from list" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from list" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from list" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from list" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from revoke" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from revoke" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from revoke" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from revoke" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from revoke" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from revoke" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "create" -d 'Make an API token and print its secret, once (only a hash is kept)'
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the tokens (never their secrets)'
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Revoke a token: requests with it are refused at once'
complete -c mqreg -n "__fish_mqreg_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and not __fish_seen_subcommand_from init show import help" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and not __fish_seen_subcommand_from init show import help" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and not __fish_seen_subcommand_from init show import help" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and not __fish_seen_subcommand_from init show import help" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and not __fish_seen_subcommand_from init show import help" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and not __fish_seen_subcommand_from init show import help" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and not __fish_seen_subcommand_from init show import help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and not __fish_seen_subcommand_from init show import help" -f -a "init" -d 'Make the registry\'s CA: an EC P-256 key (0600) and a self-signed certificate beside the state file'
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and not __fish_seen_subcommand_from init show import help" -f -a "show" -d 'Print the CA certificate, its SHA-256 fingerprint and validity'
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and not __fish_seen_subcommand_from init show import help" -f -a "import" -d 'Adopt an existing CA: its certificate and its PKCS#8 key, PEM'
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and not __fish_seen_subcommand_from init show import help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from init" -l subject -d 'The CA certificate\'s subject CN' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from init" -l days -d 'How long the CA certificate is valid' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from init" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from init" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from init" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from init" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from init" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from init" -l force -d 'Replace an existing CA (every certificate it issued stops logging in)'
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from init" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from show" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from show" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from show" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from show" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from show" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from show" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from import" -l cert -d 'The CA certificate (PEM)' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from import" -l key -d 'Its private key (PEM, PKCS#8: BEGIN PRIVATE KEY)' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from import" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from import" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from import" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from import" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from import" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from import" -l force -d 'Replace an existing CA'
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from import" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from help" -f -a "init" -d 'Make the registry\'s CA: an EC P-256 key (0600) and a self-signed certificate beside the state file'
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the CA certificate, its SHA-256 fingerprint and validity'
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from help" -f -a "import" -d 'Adopt an existing CA: its certificate and its PKCS#8 key, PEM'
complete -c mqreg -n "__fish_mqreg_using_subcommand ca; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqreg -n "__fish_mqreg_using_subcommand cert; and not __fish_seen_subcommand_from issue help" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand cert; and not __fish_seen_subcommand_from issue help" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand cert; and not __fish_seen_subcommand_from issue help" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand cert; and not __fish_seen_subcommand_from issue help" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand cert; and not __fish_seen_subcommand_from issue help" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand cert; and not __fish_seen_subcommand_from issue help" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand cert; and not __fish_seen_subcommand_from issue help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand cert; and not __fish_seen_subcommand_from issue help" -f -a "issue" -d 'Sign a device\'s CSR for an existing user; prints the certificate (PEM)'
complete -c mqreg -n "__fish_mqreg_using_subcommand cert; and not __fish_seen_subcommand_from issue help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqreg -n "__fish_mqreg_using_subcommand cert; and __fish_seen_subcommand_from issue" -l csr -d 'The certificate signing request (PEM); - reads stdin' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand cert; and __fish_seen_subcommand_from issue" -l days -d 'How long it is valid [default: certificate_days in [registry], 365]' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand cert; and __fish_seen_subcommand_from issue" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand cert; and __fish_seen_subcommand_from issue" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand cert; and __fish_seen_subcommand_from issue" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand cert; and __fish_seen_subcommand_from issue" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand cert; and __fish_seen_subcommand_from issue" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand cert; and __fish_seen_subcommand_from issue" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand cert; and __fish_seen_subcommand_from issue" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand cert; and __fish_seen_subcommand_from help" -f -a "issue" -d 'Sign a device\'s CSR for an existing user; prints the certificate (PEM)'
complete -c mqreg -n "__fish_mqreg_using_subcommand cert; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and not __fish_seen_subcommand_from list kick help" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and not __fish_seen_subcommand_from list kick help" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and not __fish_seen_subcommand_from list kick help" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and not __fish_seen_subcommand_from list kick help" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and not __fish_seen_subcommand_from list kick help" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and not __fish_seen_subcommand_from list kick help" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and not __fish_seen_subcommand_from list kick help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and not __fish_seen_subcommand_from list kick help" -f -a "list" -d 'List the connected clients'
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and not __fish_seen_subcommand_from list kick help" -f -a "kick" -d 'Disconnect clients (MQTT 5 clients see DISCONNECT 0x98, administrative action); their wills are published, their sessions kept'
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and not __fish_seen_subcommand_from list kick help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and __fish_seen_subcommand_from list" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and __fish_seen_subcommand_from list" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and __fish_seen_subcommand_from list" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and __fish_seen_subcommand_from list" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and __fish_seen_subcommand_from list" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and __fish_seen_subcommand_from list" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and __fish_seen_subcommand_from kick" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and __fish_seen_subcommand_from kick" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and __fish_seen_subcommand_from kick" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and __fish_seen_subcommand_from kick" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and __fish_seen_subcommand_from kick" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and __fish_seen_subcommand_from kick" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and __fish_seen_subcommand_from kick" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the connected clients'
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and __fish_seen_subcommand_from help" -f -a "kick" -d 'Disconnect clients (MQTT 5 clients see DISCONNECT 0x98, administrative action); their wills are published, their sessions kept'
complete -c mqreg -n "__fish_mqreg_using_subcommand client; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqreg -n "__fish_mqreg_using_subcommand log-level" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand log-level" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand log-level" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand log-level" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand log-level" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand log-level" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand log-level" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand config; and not __fish_seen_subcommand_from show help" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand config; and not __fish_seen_subcommand_from show help" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand config; and not __fish_seen_subcommand_from show help" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand config; and not __fish_seen_subcommand_from show help" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand config; and not __fish_seen_subcommand_from show help" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand config; and not __fish_seen_subcommand_from show help" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand config; and not __fish_seen_subcommand_from show help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand config; and not __fish_seen_subcommand_from show help" -f -a "show" -d 'Print the settings in force and where each comes from (environment, config file, state file or default)'
complete -c mqreg -n "__fish_mqreg_using_subcommand config; and not __fish_seen_subcommand_from show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqreg -n "__fish_mqreg_using_subcommand config; and __fish_seen_subcommand_from show" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand config; and __fish_seen_subcommand_from show" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand config; and __fish_seen_subcommand_from show" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand config; and __fish_seen_subcommand_from show" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand config; and __fish_seen_subcommand_from show" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand config; and __fish_seen_subcommand_from show" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand config; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the settings in force and where each comes from (environment, config file, state file or default)'
complete -c mqreg -n "__fish_mqreg_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqreg -n "__fish_mqreg_using_subcommand state; and not __fish_seen_subcommand_from migrate help" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand state; and not __fish_seen_subcommand_from migrate help" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand state; and not __fish_seen_subcommand_from migrate help" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand state; and not __fish_seen_subcommand_from migrate help" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand state; and not __fish_seen_subcommand_from migrate help" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand state; and not __fish_seen_subcommand_from migrate help" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand state; and not __fish_seen_subcommand_from migrate help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand state; and not __fish_seen_subcommand_from migrate help" -f -a "migrate" -d 'Copy a state file (users, roles, pending requests, bans, tokens, settings and the registry\'s CA) into a PostgreSQL database'
complete -c mqreg -n "__fish_mqreg_using_subcommand state; and not __fish_seen_subcommand_from migrate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqreg -n "__fish_mqreg_using_subcommand state; and __fish_seen_subcommand_from migrate" -l from -d 'The state file to copy' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand state; and __fish_seen_subcommand_from migrate" -l to -d 'The database (postgresql://USER@HOST/DB); its schema is created if needed' -r
complete -c mqreg -n "__fish_mqreg_using_subcommand state; and __fish_seen_subcommand_from migrate" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand state; and __fish_seen_subcommand_from migrate" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand state; and __fish_seen_subcommand_from migrate" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand state; and __fish_seen_subcommand_from migrate" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand state; and __fish_seen_subcommand_from migrate" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand state; and __fish_seen_subcommand_from migrate" -l force -d 'Replace a registry the database holds already'
complete -c mqreg -n "__fish_mqreg_using_subcommand state; and __fish_seen_subcommand_from migrate" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand state; and __fish_seen_subcommand_from migrate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand state; and __fish_seen_subcommand_from help" -f -a "migrate" -d 'Copy a state file (users, roles, pending requests, bans, tokens, settings and the registry\'s CA) into a PostgreSQL database'
complete -c mqreg -n "__fish_mqreg_using_subcommand state; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqreg -n "__fish_mqreg_using_subcommand generate-docs" -l out -d 'Folder that receives completions/ and man/' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand generate-docs" -l state -d 'The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand generate-docs" -l local-copy -d 'With the state in PostgreSQL: this gateway\'s copy of the registry, served while the database is away; its message store, control socket and audit log sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default state file\'s folder]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand generate-docs" -l format -d 'How tables print: auto (a table on a terminal, plain columns when piped), table, plain or tsv' -r -f -a "auto\t'A table for a terminal, plain columns when piped'
table\t'A table sized to the terminal: long values are cut with "…", never broken'
plain\t'Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`'
tsv\t'Tab-separated values with a header line'"
complete -c mqreg -n "__fish_mqreg_using_subcommand generate-docs" -l config -d 'The config file: serve options and settings tables, which mqreg never writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand generate-docs" -l audit-log -d 'The audit log [default: audit.jsonl beside the state file]' -r -F
complete -c mqreg -n "__fish_mqreg_using_subcommand generate-docs" -l json -d 'Print the command\'s data or result as JSON on stdout, and nothing else'
complete -c mqreg -n "__fish_mqreg_using_subcommand generate-docs" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and not __fish_seen_subcommand_from serve registry user role ban audit token ca cert client log-level config state generate-docs help" -f -a "serve" -d 'Run the MQTT broker'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and not __fish_seen_subcommand_from serve registry user role ban audit token ca cert client log-level config state generate-docs help" -f -a "registry" -d 'Open and close the registry; approve or reject pending devices'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and not __fish_seen_subcommand_from serve registry user role ban audit token ca cert client log-level config state generate-docs help" -f -a "user" -d 'Manage users and the roles they hold'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and not __fish_seen_subcommand_from serve registry user role ban audit token ca cert client log-level config state generate-docs help" -f -a "role" -d 'Manage roles and their topic permissions'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and not __fish_seen_subcommand_from serve registry user role ban audit token ca cert client log-level config state generate-docs help" -f -a "ban" -d 'Refuse logins by username, client id or address'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and not __fish_seen_subcommand_from serve registry user role ban audit token ca cert client log-level config state generate-docs help" -f -a "audit" -d 'Show the latest entries of the audit log'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and not __fish_seen_subcommand_from serve registry user role ban audit token ca cert client log-level config state generate-docs help" -f -a "token" -d 'Make, list and revoke tokens for the HTTP API'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and not __fish_seen_subcommand_from serve registry user role ban audit token ca cert client log-level config state generate-docs help" -f -a "ca" -d 'The registry\'s certificate authority, which signs device certificates'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and not __fish_seen_subcommand_from serve registry user role ban audit token ca cert client log-level config state generate-docs help" -f -a "cert" -d 'Issue a device certificate by hand'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and not __fish_seen_subcommand_from serve registry user role ban audit token ca cert client log-level config state generate-docs help" -f -a "client" -d 'List and disconnect the clients connected to the running broker'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and not __fish_seen_subcommand_from serve registry user role ban audit token ca cert client log-level config state generate-docs help" -f -a "log-level" -d 'Show or change the running broker\'s log filter, without a restart'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and not __fish_seen_subcommand_from serve registry user role ban audit token ca cert client log-level config state generate-docs help" -f -a "config" -d 'Show the configuration in force and where each value comes from'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and not __fish_seen_subcommand_from serve registry user role ban audit token ca cert client log-level config state generate-docs help" -f -a "state" -d 'Move the state between a file and a PostgreSQL database'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and not __fish_seen_subcommand_from serve registry user role ban audit token ca cert client log-level config state generate-docs help" -f -a "generate-docs" -d 'Write shell completions and man pages (for packagers and this repository)'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and not __fish_seen_subcommand_from serve registry user role ban audit token ca cert client log-level config state generate-docs help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from registry" -f -a "unlock" -d 'Open the registry: unknown devices that log in are recorded as pending'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from registry" -f -a "lock" -d 'Close the registry now (pending requests are kept)'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from registry" -f -a "status" -d 'Show whether the registry is open, until when, and how many requests wait'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from registry" -f -a "list" -d 'List pending requests (or, with --refused, the recent refused logins)'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from registry" -f -a "approve" -d 'Create users from pending requests'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from registry" -f -a "client-ids" -d 'Show or set which client ids users may connect with (a user\'s own rule, `mqreg user client-ids`, wins)'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from registry" -f -a "show" -d 'Show one pending request with every distinct password attempt, numbered'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from registry" -f -a "watch" -d 'Print each new or changed pending request as it appears, until interrupted'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from registry" -f -a "reject" -d 'Drop pending requests'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "list" -d 'List users with their roles'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "show" -d 'Show one user'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "add" -d 'Create a user; the password is read from stdin (first line)'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "passwd" -d 'Set a new password, read from stdin (first line)'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "delete" -d 'Remove a user; its live connections are closed'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "grant-role" -d 'Give a user roles'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "revoke-role" -d 'Take roles away from a user'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "disable" -d 'Refuse a user\'s logins and close its live connections; it keeps its password and roles'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "revoke-cert" -d 'Revoke a user\'s certificates (all, or the one with SERIAL); live connections made with them are closed at once'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "enable" -d 'Let a disabled user log in again'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "client-ids" -d 'Show or set which client ids a user may connect with'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from role" -f -a "list" -d 'List roles with their permissions'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from role" -f -a "create" -d 'Define a role'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from role" -f -a "allow" -d 'Add permissions to a role'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from role" -f -a "disallow" -d 'Remove permissions from a role'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from role" -f -a "delete" -d 'Remove a role, and it from every user'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from ban" -f -a "add" -d 'Ban a username, a client id or an address (IP or CIDR block)'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from ban" -f -a "list" -d 'List the bans in force'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from ban" -f -a "remove" -d 'Lift a ban'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "create" -d 'Make an API token and print its secret, once (only a hash is kept)'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "list" -d 'List the tokens (never their secrets)'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "revoke" -d 'Revoke a token: requests with it are refused at once'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from ca" -f -a "init" -d 'Make the registry\'s CA: an EC P-256 key (0600) and a self-signed certificate beside the state file'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from ca" -f -a "show" -d 'Print the CA certificate, its SHA-256 fingerprint and validity'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from ca" -f -a "import" -d 'Adopt an existing CA: its certificate and its PKCS#8 key, PEM'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from cert" -f -a "issue" -d 'Sign a device\'s CSR for an existing user; prints the certificate (PEM)'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from client" -f -a "list" -d 'List the connected clients'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from client" -f -a "kick" -d 'Disconnect clients (MQTT 5 clients see DISCONNECT 0x98, administrative action); their wills are published, their sessions kept'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "show" -d 'Print the settings in force and where each comes from (environment, config file, state file or default)'
complete -c mqreg -n "__fish_mqreg_using_subcommand help; and __fish_seen_subcommand_from state" -f -a "migrate" -d 'Copy a state file (users, roles, pending requests, bans, tokens, settings and the registry\'s CA) into a PostgreSQL database'

# mqreg: names from the state (pending usernames, users, roles, tokens).
function __mqreg_names
    mqreg --format tsv $argv 2>/dev/null | tail -n +2 | cut -f1
end
complete -c mqreg -n "__fish_seen_subcommand_from registry; and __fish_seen_subcommand_from approve reject show" -f -a "(__mqreg_names registry list)"
complete -c mqreg -n "__fish_seen_subcommand_from user; and __fish_seen_subcommand_from show delete passwd disable enable client-ids grant-role revoke-role revoke-cert" -f -a "(__mqreg_names user list)"
complete -c mqreg -n "__fish_seen_subcommand_from cert; and __fish_seen_subcommand_from issue" -f -a "(__mqreg_names user list)"
complete -c mqreg -n "__fish_seen_subcommand_from role; and __fish_seen_subcommand_from allow disallow delete" -f -a "(__mqreg_names role list)"
complete -c mqreg -n "__fish_seen_subcommand_from token; and __fish_seen_subcommand_from revoke" -f -a "(__mqreg_names token list)"
complete -c mqreg -l role -f -a "(__mqreg_names role list)"
