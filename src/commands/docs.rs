//! `mqreg generate-docs`: shell completions and man pages from the clap
//! definitions, so they can never describe another program than the one built.
//! The repository keeps the output in `completions/` and `man/`; a test fails
//! when they are stale.

use std::fs;
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::cli::Cli;
use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub struct DocsArgs {
    /// Folder that receives completions/ and man/
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
}

pub fn exec(args: &DocsArgs) -> Result<()> {
    for (path, contents) in render() {
        let target = args.out.join(&path);
        if let Some(folder) = target.parent() {
            fs::create_dir_all(folder).map_err(|e| write_error(folder, e))?;
        }
        fs::write(&target, contents).map_err(|e| write_error(&target, e))?;
    }
    Ok(())
}

fn write_error(path: &Path, error: std::io::Error) -> Error {
    Error::failure(format!("cannot write {}: {error}", path.display()))
}

/// Every generated file: its path relative to the repository and its contents.
pub fn render() -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for (shell, name) in [
        (Shell::Bash, "mqreg.bash"),
        (Shell::Zsh, "_mqreg"),
        (Shell::Fish, "mqreg.fish"),
    ] {
        let mut contents = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "mqreg", &mut contents);
        contents.extend_from_slice(match shell {
            Shell::Bash => BASH_NAMES.as_bytes(),
            Shell::Fish => FISH_NAMES.as_bytes(),
            _ => b"",
        });
        files.push((Path::new("completions").join(name), contents));
    }
    let mut command = Cli::command();
    command.build();
    man_pages(&command, "mqreg", &mut files);
    files.push((
        PathBuf::from("man/mqreg-state.5"),
        STATE_PAGE.as_bytes().to_vec(),
    ));
    files
}

/// Completion of the names in the state (pending usernames, users, roles,
/// tokens), asked of mqreg itself when the user presses Tab, on top of
/// clap's completion of commands and options.
const BASH_NAMES: &str = r#"
# mqreg: names from the state (pending usernames, users, roles, tokens),
# asked of mqreg with the --state and --config the command line gives.
_mqreg_names() {
    local given=() i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            --state|--config) given+=("${COMP_WORDS[i]}" "${COMP_WORDS[i+1]}") ;;
        esac
    done
    mqreg "${given[@]}" --format tsv "$@" 2>/dev/null | tail -n +2 | cut -f1
}

_mqreg_with_names() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    local words=() i skip=0
    for ((i = 1; i < COMP_CWORD; i++)); do
        if ((skip)); then skip=0; continue; fi
        case "${COMP_WORDS[i]}" in
            --state|--config|--format|--audit-log|--role|--match|--for|--attempt|--reason|--csr|--days|--subject|--cert|--key) skip=1 ;;
            -*) ;;
            *) words+=("${COMP_WORDS[i]}") ;;
        esac
    done
    local names="" command="${words[0]} ${words[1]}"
    if [[ "$cur" != -* ]]; then
        if [[ "$prev" == --role ]]; then
            names=$(_mqreg_names role list)
        else
            case "$command" in
                "registry approve"|"registry reject"|"registry show")
                    names=$(_mqreg_names registry list) ;;
                "user show"|"user delete"|"user passwd"|"user disable"|"user enable"|"user client-ids"|"user revoke-cert"|"cert issue")
                    ((${#words[@]} == 2)) && names=$(_mqreg_names user list) ;;
                "user grant-role"|"user revoke-role")
                    if ((${#words[@]} == 2)); then names=$(_mqreg_names user list); else names=$(_mqreg_names role list); fi ;;
                "role allow"|"role disallow"|"role delete")
                    ((${#words[@]} == 2)) && names=$(_mqreg_names role list) ;;
                "token revoke")
                    names=$(_mqreg_names token list) ;;
            esac
        fi
    fi
    if [[ -n "$names" ]]; then
        COMPREPLY=($(compgen -W "$names" -- "$cur"))
        return 0
    fi
    _mqreg "$@"
}

complete -F _mqreg_with_names -o bashdefault -o default mqreg
"#;

const FISH_NAMES: &str = r#"
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
"#;

/// One page per command and subcommand, named like git's: `mqreg-registry-approve.1`.
fn man_pages(command: &clap::Command, name: &str, files: &mut Vec<(PathBuf, Vec<u8>)>) {
    if command.is_hide_set() {
        return;
    }
    let page = command.clone().name(name.to_owned());
    let man = clap_mangen::Man::new(page.clone());
    let mut contents = Vec::new();
    let rendered: std::io::Result<()> = (|| {
        man.render_title(&mut contents)?;
        man.render_name_section(&mut contents)?;
        man.render_synopsis_section(&mut contents)?;
        // Without a long description clap would repeat the one-line summary;
        // the pages' own descriptions are below.
        if page.get_long_about().is_some() {
            man.render_description_section(&mut contents)?;
        } else if let Some(text) = description(name) {
            contents
                .extend_from_slice(format!(".SH DESCRIPTION\n{}\n", roff_text(text)).as_bytes());
        }
        if page.get_arguments().any(|arg| !arg.is_hide_set()) {
            man.render_options_section(&mut contents)?;
        }
        if page.get_subcommands().any(|sub| !sub.is_hide_set()) {
            man.render_subcommands_section(&mut contents)?;
        }
        Ok(())
    })();
    rendered.expect("rendering to memory cannot fail");
    contents.extend_from_slice(extra_sections(name, command).as_bytes());
    files.push((Path::new("man").join(format!("{name}.1")), contents));
    for sub in command.get_subcommands() {
        if sub.get_name() != "help" {
            man_pages(sub, &format!("{name}-{}", sub.get_name()), files);
        }
    }
}

/// Text as a roff paragraph: backslashes escaped, and a line that would start
/// with a control character protected.
fn roff_text(text: &str) -> String {
    text.lines()
        .map(|line| {
            let line = line.replace('\\', "\\e");
            if line.starts_with('.') || line.starts_with('\'') {
                format!("\\&{line}")
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn tagged(out: &mut String, tag: &str, text: &str) {
    out.push_str(".TP\n");
    out.push_str(&format!("\\fB{}\\fR\n", roff_text(tag)));
    out.push_str(&roff_text(text));
    out.push('\n');
}

/// What a page's command does, for commands whose clap text is one line.
fn description(name: &str) -> Option<&'static str> {
    Some(match name {
        "mqreg-serve" => "Runs the MQTT 3.1.1 and 5 broker on the state file, until SIGINT or SIGTERM (exit 0). Before listening it checks that it can lock, create and replace files in the state folder and append to the audit log. It follows the state file (inotify, and a check every 200 ms), so CLI changes take effect at once without a restart; SIGHUP re-reads it, reopens the audit log and re-reads the TLS certificates. It serves the HTTP API (the CLI's operations, client list and kick, events, metrics) on a Unix socket beside the state file (.NAME.sock, owner-only, no token), and with --http on a TCP address with tokens (mqreg token). A second broker on the same state file refuses to start. Logins, refusals, registrations and disconnects are logged on stderr; a refusal repeated in a loop is written once with its count.",
        "mqreg-registry" => "The registration window and the pending requests unknown devices leave while it is open: unlock, look, approve or reject, and watch for new ones.",
        "mqreg-registry-unlock" => "Opens the registry for DURATION: while it is open, a device that logs in with an unknown username and a password that meets the policy is refused but leaves a pending request. The registry locks itself when the window ends. Prints the status.",
        "mqreg-registry-lock" => "Closes the registry now. Pending requests are kept and can still be approved. Prints the status.",
        "mqreg-registry-status" => "Prints whether the registry is open and until when, how many requests wait, which state file this is and which running broker (if any) serves it.",
        "mqreg-registry-list" => "Lists pending requests: username, client id, address and protocol of the latest attempt, first and last seen, the number of attempts and of distinct passwords, and whether the request is conflicted.",
        "mqreg-registry-reject" => "Drops pending requests, named or selected with --all or --match. The devices are refused as before and may register again while the registry is open.",
        "mqreg-registry-show" => "Prints one pending request with every distinct password it was seen with, numbered for `registry approve --force --attempt N`. Hashes stay in the state file.",
        "mqreg-registry-client-ids" => "Shows or sets the registry-wide rule for which client ids users may connect with: any (the default), the ones they registered with, or globs where {username} is the user's name. A user's own rule (mqreg user client-ids) wins. Live connections the new rule refuses are closed.",
        "mqreg-user" => "Users: their passwords (argon2id hashes), roles, client id rules, and whether they are disabled.",
        "mqreg-user-list" => "Lists users with their roles, creation time and whether they are disabled.",
        "mqreg-user-show" => "Prints one user: roles, creation time, whether it is disabled, its client id rule, and every permission its roles grant.",
        "mqreg-user-add" => "Creates a user with the password read from stdin (first line; asked twice without echo at a terminal), checked against the password policy, and the roles given.",
        "mqreg-user-passwd" => "Sets a user's password, read from stdin like for user add. Live connections stay; the new password applies to the next login.",
        "mqreg-user-delete" => "Removes a user. Its live connections are closed and its sessions removed.",
        "mqreg-user-grant-role" => "Gives a user roles. The running broker applies them to live connections at once. Roles that do not exist are reported (exit 3); the others are granted.",
        "mqreg-user-revoke-role" => "Takes roles away from a user. Revoked permissions stop working on live connections at once; nobody is disconnected.",
        "mqreg-user-disable" => "Refuses a user's logins and closes its live connections (without publishing their wills), keeping its password, roles and sessions.",
        "mqreg-user-enable" => "Lets a disabled user log in again.",
        "mqreg-role" => "Roles: named sets of topic permissions (ACCESS:FILTER) that users hold.",
        "mqreg-role-list" => "Lists roles with their permissions.",
        "mqreg-role-create" => "Defines a role with the permissions given. ACCESS is read (subscribe), write (publish) or readwrite; FILTER is an MQTT topic filter that may hold {username} and {client_id}.",
        "mqreg-role-allow" => "Adds permissions to a role; read then write on one filter gives readwrite. Takes effect on live connections at once.",
        "mqreg-role-disallow" => "Removes permissions from a role; disallowing write from readwrite leaves read. Takes effect on live connections at once.",
        "mqreg-role-delete" => "Removes a role, and it from every user that held it.",
        "mqreg-ban" => "Bans refuse logins and registrations by username, client id or address, and close the live connections they match.",
        "mqreg-ban-add" => "Adds a ban on a username, a client id, or an IP address or CIDR block, for DURATION or until removed. Matching live connections are closed.",
        "mqreg-ban-list" => "Lists the bans in force, with their ids, what they match, until when and why.",
        "mqreg-ban-remove" => "Lifts a ban, by the id `ban list` shows.",
        "mqreg-token" => "Tokens for the HTTP API (serve --http): an admin token may do everything the CLI can, a viewer token may only read. Requests send one as `Authorization: Bearer TOKEN`.",
        "mqreg-token-create" => "Makes a token and prints its secret on stdout, once: only its BLAKE3 hash is kept in the state file. Changes made with it are audited as api:NAME.",
        "mqreg-token-list" => "Lists the tokens with their role, creation and expiry (never their secrets).",
        "mqreg-token-revoke" => "Revokes a token: the running broker refuses it from its next request.",
        "mqreg-client" => "The clients connected to the running broker, asked over its control socket beside the state file.",
        "mqreg-client-list" => "Lists the connected clients: client id, username, address, protocol, when they connected, and their subscriptions, queued messages and messages in flight.",
        "mqreg-client-kick" => "Disconnects clients. MQTT 5 clients get DISCONNECT 0x98 (administrative action); wills are published and sessions kept, so a device usually reconnects: to keep it out, disable its user or ban it.",
        "mqreg-config" => "The config file (--config, $MQREG_CONFIG, else /etc/mqreg/mqreg.toml when it exists): serve options in [serve] by their long names, the log filter (log), the state path (state), and the settings tables [password_policy], [argon2], [flood] and [quotas], which replace the state file's. mqreg never writes it. The command line wins over the environment, which wins over the file. SIGHUP re-reads its settings and log filter; [serve] options take effect at the next start.",
        "mqreg-config-show" => "Prints the configuration serve gets without command-line arguments, as commented TOML: each serve option, the log filter, the state file and the settings tables, with where each value comes from (environment, config file, state file or default).",
        "mqreg-log-level" => "Shows or changes the running broker's log filter, like RUST_LOG (error, warn, info, debug, trace, or per-module directives), through its control socket; the change lasts until the broker stops. Changes are audited.",
        "mqreg-ca" => "The registry's certificate authority: an EC P-256 key (NAME.ca.key, mode 0600, owned like the state) and its certificate (NAME.ca.pem) beside the state file. It signs a device's certificate when a request that sent a CSR is approved, and for `cert issue`; the broker's TLS listener lets certificates it signed log in as their CN without a password (mutual TLS).",
        "mqreg-ca-init" => "Makes the registry's CA: a new EC P-256 key and a self-signed CA certificate (CA:TRUE, path length 0, a random serial), valid for --days. An existing CA is replaced only with --force, and then every certificate the old one issued stops logging in. The running broker trusts the new CA from the next login.",
        "mqreg-ca-show" => "Prints the CA certificate's subject, SHA-256 fingerprint, serial and validity, and the certificate itself (PEM), which devices trust the broker's client side by.",
        "mqreg-ca-import" => "Adopts an existing CA: its certificate (PEM, CA:TRUE) and its private key (PKCS#8 PEM, EC, Ed25519 or RSA), checked to belong together, written beside the state file as ca init writes them.",
        "mqreg-cert" => "Device certificates signed by the registry's CA, outside the registration flow.",
        "mqreg-cert-issue" => "Signs a device's certificate signing request for an existing user: the CSR's signature must verify, its subject CN must be the username, and its key must be EC P-256 or P-384, Ed25519, or RSA of 2048 bits and more. The certificate is a client certificate (CN = the user, not a CA) valid for --days, or certificate_days in [registry] (365). Its serial and fingerprint are kept with the user (user show) and the certificate (PEM) is printed.",
        "mqreg-user-revoke-cert" => "Revokes a user's certificates, all or the one with SERIAL. Live connections made with them are closed at once; new logins with them are refused. Deleting a user revokes its certificates too.",
        "mqreg-audit" => "Prints the latest entries of the audit log: every change made with the CLI, every registration the broker recorded, and refused logins (repeats counted).",
        "mqreg-state" => "The state as a whole: a file (the default) or a PostgreSQL database that several gateways share (--state postgresql://USER@HOST/DB).",
        "mqreg-state-migrate" => "Copies a state file into a PostgreSQL database: users, roles, pending requests, bans, tokens, the settings tables and the registry's CA, the state in one transaction. The schema is created (and migrated) if needed. A database that holds a registry already is left alone unless --force, which replaces it. The file is not changed. Then point every gateway at the database with --state URL, MQREG_STATE or state = in the config file.",
        _ => return None,
    })
}

/// The exit statuses a command can end with, beyond 0.
fn exit_statuses(name: &str) -> Vec<(&'static str, &'static str)> {
    let mut codes = vec![(
        "1",
        "Could not be done: I/O, a state file that does not parse (never overwritten), a lock \
         wait that timed out, a symbolic link where a state file should be.",
    )];
    codes.push((
        "2",
        "Bad arguments or values (invalid username, role, filter, duration, address, glob).",
    ));
    let specific: &[(&str, &str)] = match name {
        "mqreg-serve" => &[(
            "0",
            "Stopped by SIGINT or SIGTERM. Exit 1 also when an address cannot be listened on or \
             the preflight finds the state folder or audit log unwritable.",
        )],
        "mqreg-registry-approve" => &[
            ("2", "Also: a request seen with several passwords approved with --force but without --attempt N (the attempts are listed)."),
            ("3", "A named pending request does not exist (the others named were still approved), or a --role does not exist (nothing approved)."),
            ("4", "A named request is conflicted and --force was not given, or a user of that name exists."),
        ],
        "mqreg-registry-reject" | "mqreg-registry-show" => {
            &[("3", "A named pending request does not exist.")]
        }
        "mqreg-user-add" => &[
            ("3", "A --role does not exist; nothing was created."),
            ("4", "The user exists already."),
        ],
        "mqreg-user-grant-role" | "mqreg-user-revoke-role" => &[(
            "3",
            "The user, or one of the roles, does not exist (the roles that exist were still granted or revoked).",
        )],
        "mqreg-user-show" | "mqreg-user-passwd" | "mqreg-user-delete" | "mqreg-user-disable"
        | "mqreg-user-enable" | "mqreg-user-client-ids" => {
            &[("3", "The user does not exist.")]
        }
        "mqreg-role-create" => &[("4", "The role exists already.")],
        "mqreg-role-allow" | "mqreg-role-disallow" | "mqreg-role-delete" => {
            &[("3", "The role does not exist.")]
        }
        "mqreg-ban-remove" => &[("3", "No ban has that id.")],
        "mqreg-token-create" => &[("4", "A token of that name exists already.")],
        "mqreg-ca-init" => &[("4", "The registry has a CA already; --force replaces it.")],
        "mqreg-ca-import" => &[
            ("2", "Also: the certificate is not a CA certificate, or the key is not its key."),
            ("4", "The registry has a CA already; --force replaces it."),
        ],
        "mqreg-ca-show" => &[("3", "The registry has no CA yet (mqreg ca init).")],
        "mqreg-cert-issue" => &[
            ("1", "Also: the registry has no CA yet (mqreg ca init)."),
            ("2", "Also: the CSR does not verify, its CN is not the user, or its key is not accepted."),
            ("3", "The user does not exist."),
            ("4", "The user holds 4 valid certificates already; revoke one first."),
        ],
        "mqreg-user-revoke-cert" => &[("3", "The user does not exist, or has no certificate with that serial.")],
        "mqreg-token-revoke" => &[("3", "No token has that name.")],
        "mqreg-state-migrate" => &[
            ("1", "Also: the database cannot be reached, or its schema is newer than this mqreg."),
            ("3", "The file named by --from does not exist."),
            ("4", "The database holds a registry already; --force replaces it."),
        ],
        "mqreg-client-list" | "mqreg-log-level" => {
            &[("1", "Also: no running broker serves the state file.")]
        }
        "mqreg-client-kick" => &[
            ("1", "Also: no running broker serves the state file."),
            ("3", "A named client is not connected (the others were still kicked)."),
        ],
        "mqreg-registry-watch" => &[(
            "0",
            "Never on its own: it runs until interrupted (SIGINT, SIGTERM), or until its reader goes away.",
        )],
        "mqreg" | "mqreg-registry" | "mqreg-user" | "mqreg-role" | "mqreg-ban" | "mqreg-token"
        | "mqreg-client" | "mqreg-ca" | "mqreg-cert" => &[
            ("3", "A named user, role, pending request or ban does not exist."),
            ("4", "Already exists, or a conflicted request without --force."),
        ],
        _ => &[],
    };
    codes.extend(specific.iter().copied());
    codes.sort_by_key(|(code, _)| *code);
    codes
}

/// Examples per page: what it is for, and the command line.
fn examples(name: &str) -> &'static [(&'static str, &'static str)] {
    match name {
        "mqreg" => &[
            ("Let devices register for ten minutes, then approve one with a role:", "sudo mqreg registry unlock --for 10m\nsudo mqreg registry list\nsudo mqreg registry approve sensor01 --role sensor"),
            ("Everything as JSON for a script:", "mqreg --json registry status | jq .pending"),
        ],
        "mqreg-serve" => &[
            ("Serve on the standard port, and TLS on 8883:", "mqreg serve --listen 0.0.0.0:1883 --tls-listen 0.0.0.0:8883 \\\n    --tls-cert /etc/mqreg/cert.pem --tls-key /etc/mqreg/key.pem"),
            ("The same from a unit file's environment, with JSON logs:", "MQREG_LISTEN=0.0.0.0:1883,[::]:1883 MQREG_LOG_FORMAT=json mqreg serve"),
            ("Reload the state and reopen the audit log:", "systemctl reload mqreg   # or: kill -HUP $(pidof mqreg)"),
        ],
        "mqreg-registry-unlock" => &[("Open the registry for an hour:", "mqreg registry unlock --for 1h")],
        "mqreg-registry-approve" => &[
            ("Approve every sensor with the sensor role:", "mqreg registry approve --match 'sensor*' --role sensor"),
            ("Approve a request seen with two passwords, choosing the second:", "mqreg registry show pump1\nmqreg registry approve pump1 --force --attempt 2"),
        ],
        "mqreg-registry-reject" => &[("Drop every pending request:", "mqreg registry reject --all")],
        "mqreg-registry-watch" => &[
            ("Follow new requests as JSON:", "mqreg registry watch --json"),
            ("Approve known devices as they register:", "mqreg registry watch --exec 'case \"$MQREG_USERNAME\" in sensor*) mqreg registry approve \"$MQREG_USERNAME\" --role sensor;; esac'"),
        ],
        "mqreg-registry-client-ids" | "mqreg-user-client-ids" => &[
            ("Bind every user to client ids named after it:", "mqreg registry client-ids --set '{username}' '{username}-*'"),
            ("Give one user its own rule:", "mqreg user client-ids pump1 --set pump1 pump1-debug"),
        ],
        "mqreg-user-add" => &[("Create a user from a script:", "printf '%s\\n' \"$PASSWORD\" | mqreg user add gateway2 --role ops")],
        "mqreg-user-disable" | "mqreg-user-enable" => &[("Lock a device out, then let it back:", "mqreg user disable sensor17\nmqreg user enable sensor17")],
        "mqreg-role-create" => &[("A role that confines each device to its own topics:", "mqreg role create sensor --allow 'write:devices/{username}/#' --allow 'read:commands/{username}'")],
        "mqreg-ban-add" => &[
            ("Ban a network for an hour:", "mqreg ban add --address 203.0.113.0/24 --for 1h --reason scanner"),
            ("Ban a stolen device's username until removed:", "mqreg ban add --username sensor17 --reason stolen"),
        ],
        "mqreg-audit" => &[("The last 200 entries for a script:", "mqreg audit -n 200 --json")],
        "mqreg-token-create" => &[
            ("A read-only token for a dashboard, and its use:", "TOKEN=$(mqreg token create grafana --role viewer)
curl -H \"Authorization: Bearer $TOKEN\" http://gateway:8080/api/v1/registry"),
        ],
        "mqreg-client-kick" => &[("Disconnect a misbehaving device and keep it out:", "mqreg client kick pump-7
mqreg user disable pump7")],
        _ => &[],
    }
}

/// EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES and SEE ALSO, which clap does
/// not know about.
fn extra_sections(name: &str, command: &clap::Command) -> String {
    let mut out = String::new();
    out.push_str(".SH \"EXIT STATUS\"\n");
    if name != "mqreg-serve" && name != "mqreg-registry-watch" {
        tagged(
            &mut out,
            "0",
            "Done (also when --all or --match matched nothing).",
        );
    }
    for (code, meaning) in exit_statuses(name) {
        tagged(&mut out, code, meaning);
    }
    out.push_str(".SH ENVIRONMENT\n");
    tagged(&mut out, "MQREG_STATE", "The state file (or a postgresql:// URL) when --state is not given. Else /var/lib/mqreg/state.toml for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml.");
    tagged(&mut out, "MQREG_LOCAL_COPY", "With the state in PostgreSQL: this gateway's copy of the registry (served while the database is away), beside which its message store, control socket and audit log sit; as --local-copy. Else gateway.toml in the default state file's folder.");
    tagged(
        &mut out,
        "MQREG_LOCK_TIMEOUT",
        "How long a change waits for the state lock, like 30s (the default) or 2m.",
    );
    tagged(
        &mut out,
        "MQREG_FORMAT",
        "How tables print: auto, table, plain or tsv (as --format).",
    );
    if name == "mqreg" || name == "mqreg-serve" {
        tagged(&mut out, "RUST_LOG", "Which log lines serve writes, e.g. mqreg=debug (default: info, the protocol layer at warn).");
        tagged(&mut out, "MQREG_LOG_FORMAT", "text or json (as --log-format). Every other serve option has its MQREG_ variable too, shown with the option.");
    }
    tagged(
        &mut out,
        "SUDO_UID",
        "Under sudo, names the admin in the audit log; believed only when running as root.",
    );
    out.push_str(".SH FILES\n");
    for (file, meaning) in [
        ("/var/lib/mqreg/state.toml", "The state: users, roles, pending requests, bans and settings; see mqreg-state(5)."),
        ("state.toml.lock", "Beside the state: the lock every change takes."),
        (".state.toml.cache", "Beside the state: a parse cache for big states, always safe to delete."),
        (".state.toml.served", "Beside the state: the running broker serving it (pid, addresses, start)."),
        ("audit.jsonl", "Beside the state (or --audit-log): one JSON line per change, registration and refused login."),
    ] {
        tagged(&mut out, file, meaning);
    }
    let examples = examples(name);
    if !examples.is_empty() {
        out.push_str(".SH EXAMPLES\n");
        for (what, line) in examples {
            out.push_str(".PP\n");
            out.push_str(&roff_text(what));
            out.push_str("\n.PP\n.nf\n.RS 4\n");
            out.push_str(&roff_text(line));
            out.push_str("\n.RE\n.fi\n");
        }
    }
    out.push_str(".SH \"SEE ALSO\"\n");
    let mut related: Vec<String> = Vec::new();
    if let Some(parent) = name.rsplit_once('-').map(|(parent, _)| parent) {
        related.push(format!("{parent}(1)"));
    }
    related.extend(
        command
            .get_subcommands()
            .filter(|sub| !sub.is_hide_set() && sub.get_name() != "help")
            .map(|sub| format!("{name}-{}(1)", sub.get_name())),
    );
    if name != "mqreg" {
        related.insert(0, "mqreg(1)".into());
    }
    related.dedup();
    related.push("mqreg-state(5)".into());
    out.push_str(&related.join(", "));
    out.push_str("\n.PP\nThe README and docs/json.md in the source repository; JSON shapes and exit codes per command are listed there.\n");
    out
}

/// `mqreg-state(5)`: the state file's format, written by hand.
const STATE_PAGE: &str = r#".TH mqreg-state 5 "" "mqreg" "File Formats"
.SH NAME
mqreg-state \- the state file of mqreg, and the files beside it
.SH DESCRIPTION
One TOML file holds everything mqreg knows: settings, roles, users (argon2id
hashes, never passwords), pending registration requests and bans. Its place is
\fB--state\fR, else \fB$MQREG_STATE\fR, else \fI/var/lib/mqreg/state.toml\fR
for root or whenever /var/lib/mqreg exists, else
\fI$XDG_STATE_HOME/mqreg/state.toml\fR. It is created with mode 0600 in a
folder created with mode 0700, and replaced whole on every change (write to a
new temporary file, fsync, rename) under an exclusive lock on
\fIstate.toml.lock\fR. Files are opened without following symbolic links; a
symlink at any of these names is an error. When root changes a state that
belongs to another user, every file written keeps that owner.
.PP
A file that does not parse is never overwritten: commands exit 1 naming the
line and column, and a running broker keeps serving its last good state. Edit
it by hand only with the broker able to reload it (it watches the file), and
keep \fBversion\fR as it is.
.SH TABLES
.TP
\fBversion\fR
The layout's version, 2. Version 1 files are read (and written as 2 on the next change).
.TP
\fB[registry]\fR
\fBunlocked_until\fR (RFC 3339, absent when locked); \fBmax_pending\fR (1000);
\fBpending_max_age\fR ("1day"); \fBclient_ids\fR: "any" (default),
"registered", or a list of globs where {username} is the user's name;
\fBcertificate_days\fR (365): how long a certificate issued at approval is valid.
.TP
\fB[password_policy]\fR
\fBmin\fR (5), \fBlower\fR, \fBupper\fR, \fBnumeric\fR, \fBsymbol\fR (0): minimum counts; 0 switches a rule off.
.TP
\fB[argon2]\fR
\fBmemory_kib\fR (19456), \fBiterations\fR (2), \fBparallelism\fR (1): the cost of new hashes.
.TP
\fB[flood]\fR
\fBmax_refusals\fR (15) and \fBmax_registrations\fR (15) per \fBwindow\fR ("1m") and peer address, after which the address is shut out for \fBban_for\fR ("5m"), as a ban of kind "flood"; 0 switches a limit off. \fBexempt\fR (["127.0.0.0/8", "::1/128"]): addresses or CIDR blocks never shut out.
.TP
\fB[quotas]\fR
What one user may keep in the broker: \fBretained_messages\fR (10000) and \fBretained_bytes\fR (67108864) of the retained messages its publishes keep, \fBsubscriptions\fR (1000) of all its sessions, \fBqueued_bytes\fR (33554432) queued for one of its offline persistent sessions. Over a quota a retained publish is refused (v5 PUBACK 0x97) and a subscription too (SUBACK 0x97, 3.1.1 0x80); an offline queue drops its oldest messages.
.TP
\fB[roles.NAME]\fR
\fBpermissions\fR: a list of {access = "read"|"write"|"readwrite", filter = "TOPIC/FILTER"}; filters may hold {username} and {client_id}. Optional \fBquotas\fR = { ... } with any of the \fB[quotas]\fR keys: the most generous of a user's roles wins over the defaults.
.TP
\fB[[bans]]\fR
\fBid\fR, \fBkind\fR ("username", "client_id", "address", or "flood" for an address the broker shut out), \fBvalue\fR, \fBcreated\fR, optional \fBuntil\fR and \fBreason\fR. Expired bans are dropped on the next write.
.TP
\fB[users.NAME]\fR
\fBpassword_hash\fR (argon2id PHC string), \fBroles\fR, \fBcreated\fR; optional \fBdisabled\fR = true, \fBclient_ids\fR (the user's own rule), \fBregistered_client_ids\fR and \fBquotas\fR = { ... } (the user's own, over its roles'), and one \fB[[users.NAME.certificates]]\fR table per certificate the registry's CA issued it: \fBserial\fR, \fBfingerprint\fR, \fBkey_fingerprint\fR, \fBissued\fR, \fBnot_after\fR, \fBrevoked\fR (when revoked) and \fBpem\fR. An empty \fBpassword_hash\fR is a user enrolled with a certificate only.
.TP
\fB[pending.NAME]\fR
\fBclient_id\fR, \fBaddress\fR, \fBprotocol\fR (of the latest attempt), \fBfirst_seen\fR, \fBlast_seen\fR, \fBattempts\fR, \fBconflict\fR, and one \fB[[pending.NAME.passwords]]\fR table per distinct password (at most 5): \fBpassword_hash\fR, \fBclient_id\fR, \fBaddress\fR, \fBprotocol\fR, \fBfirst_seen\fR, \fBlast_seen\fR, \fBcount\fR; a registration over HTTPS adds a \fB[pending.NAME.passwords.enrolment]\fR table (\fBcsr\fR, \fBcsr_subject\fR, \fBcsr_key_type\fR, \fBcsr_key_fingerprint\fR, \fBcontext\fR), and its \fBpassword_hash\fR is empty when it sent a CSR alone.
.SH FILES BESIDE IT
.TP
\fBstate.toml.lock\fR
Locked by every change; empty.
.TP
\fB.state.toml.cache\fR
For states over 64 KiB: the same state as JSON with the BLAKE3 digest of the TOML it belongs to; used only when the digest matches. Always safe to delete.
.TP
\fB.state.toml.served\fR
JSON: pid, listen addresses, start time and version of the broker serving the state; removed when it stops, recognised as stale after a crash.
.TP
\fBaudit.jsonl\fR
One JSON object per line: time, actor, action, target, outcome, detail. Appended, never rewritten; the broker reopens it on SIGHUP.
.SH EXAMPLE
.nf
.RS 4
version = 2

[registry]
max_pending = 1000
pending_max_age = "1day"
client_ids = ["{username}", "{username}-*"]

[roles.sensor]
permissions = [{ access = "write", filter = "devices/{username}/#" }]

[users.sensor01]
password_hash = "$argon2id$v=19$m=19456,t=2,p=1$..."
roles = ["sensor"]
created = "2026-11-25T10:00:00Z"
.RE
.fi
.SH "SEE ALSO"
mqreg(1), mqreg-serve(1), mqreg-registry(1)
"#;
