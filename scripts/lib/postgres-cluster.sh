# A private PostgreSQL 15 cluster for one run of a script: sourced by scripts/test (the
# PostgreSQL tests) and scripts/bench (runner --store postgres). Not executable on its own.
#
#   source "$repo_root/scripts/lib/postgres-cluster.sh"
#   pg_cluster_start LABEL ROLE [ROLE...]   # starts it; sets pg_cluster_url, pg_cluster_password
#   ...                                     # use it
#   pg_cluster_stop                         # in the caller's EXIT trap: stops it, removes it
#
# The caller must define `die MESSAGE` (print and exit). Progress goes to standard output as
# "==> ..." lines (scripts/bench redirects the call to standard error).
#
# What pg_cluster_start does:
#   - `initdb` (from /usr/lib/postgresql/15/bin; UTF-8, no locale) into a fresh directory
#     /tmp/sluice-pg.XXXXXX owned by an unprivileged user, since the server refuses to run as
#     root. Run as root, it creates the system user `sluice-test` if it is missing
#     (`useradd --system`, no home, no login shell) and runs initdb, pg_ctl and psql as that
#     user through `runuser`; run as anyone else, they run as that user.
#   - It listens on no TCP address (`listen_addresses = ''`), only on a unix socket in the
#     private directory's `socket/`. The port number, derived from the sourcing script's pid,
#     only names the socket file there, so it cannot clash with another server. fsync stays on
#     (the default); shared_buffers is 16MB.
#   - pg_hba.conf admits the cluster's owner by `peer` (the setup with psql) and everyone else
#     by password only (scram-sha-256).
#   - The first ROLE (no superuser) owns a database of the same name; every further ROLE is a
#     login role with the same password and no privileges. The password is random and holds
#     characters that a URL or a conninfo string would have to quote (@ : / ? # % & = space
#     ' \ "), so clients must hand it over apart from the connection string.
#   - Sets pg_cluster_url (conninfo: socket directory, port, database, first role; no password),
#     pg_cluster_password, and pg_cluster_dir (data/, socket/, postgres.log, initdb.log).
# pg_cluster_stop stops it with `pg_ctl stop -m fast`, then removes its directory; with
# SLUICE_KEEP_TMP set the directory is kept for inspection. It does nothing if no cluster was
# started, so it is safe in any EXIT trap.
#
# LABEL names the caller (scripts/test) in the comments written into postgresql.conf and
# pg_hba.conf; its last part (test) prefixes pg_cluster_stop's messages.

pg_bin=/usr/lib/postgresql/15/bin
pg_dir=""
pg_owner=""
pg_cluster_url=""
pg_cluster_password=""
pg_cluster_dir=""
pg_cluster_prefix=""
# Optional, set by the caller before pg_cluster_start: a TCP address for the cluster to listen on
# as well (the host side of the test's network namespace link), and the clients (CIDR) admitted
# over TCP there by password. Empty: unix socket only.
pg_cluster_tcp_address=""
pg_cluster_tcp_clients=""

# Runs a command as the private cluster's owner, from inside its directory (the owner may not be
# allowed into the current one).
as_pg_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        (cd "$pg_dir" && runuser -u "$pg_owner" -- "$@")
    else
        (cd "$pg_dir" && "$@")
    fi
}

# Starts the cluster described at the top: pg_cluster_start LABEL ROLE [ROLE...].
pg_cluster_start() {
    local label="$1" role="$2"
    shift 2
    pg_cluster_prefix="${label##*/}"
    local extra_roles=("$@")
    [[ -x $pg_bin/initdb && -x $pg_bin/pg_ctl && -x $pg_bin/psql ]] \
        || die "no PostgreSQL 15 server in $pg_bin (package postgresql-15)"
    if [[ $(id -u) -eq 0 ]]; then
        pg_owner=sluice-test
        if ! id -u "$pg_owner" >/dev/null 2>&1; then
            echo "==> Creating the system user $pg_owner (owner of the private PostgreSQL cluster)"
            useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$pg_owner" \
                || die "cannot create the system user $pg_owner"
        fi
    else
        pg_owner="$(id -un)" || die "the current user has no name (initdb needs one)"
    fi
    # /tmp, not $TMPDIR: the socket's path must stay within the 107 bytes a unix socket path may have.
    pg_dir="$(mktemp -d /tmp/sluice-pg.XXXXXX)"
    if [[ $(id -u) -eq 0 ]]; then chown "$pg_owner:" "$pg_dir"; fi
    local socket_dir="$pg_dir/socket"
    local port=$((40000 + $$ % 20000))
    local password
    password="p@ss:w/rd?#%&= '\\\"-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
    echo "==> Starting a private PostgreSQL cluster in $pg_dir (owner $pg_owner, unix socket ${pg_cluster_tcp_address:+and }${pg_cluster_tcp_address:-only})"
    as_pg_owner mkdir -m 0700 "$socket_dir"
    as_pg_owner "$pg_bin/initdb" -D "$pg_dir/data" --encoding=UTF8 --no-locale --auth-local=peer --auth-host=reject \
        >"$pg_dir/initdb.log" 2>&1 || { cat "$pg_dir/initdb.log" >&2; die "initdb failed"; }
    as_pg_owner tee -a "$pg_dir/data/postgresql.conf" >/dev/null <<END_OF_CONF

# Added by $label: a private cluster on a unix socket (and the test link's address, if any).
listen_addresses = '$pg_cluster_tcp_address'
unix_socket_directories = '$socket_dir'
port = $port
shared_buffers = 16MB
fsync = on
END_OF_CONF
    as_pg_owner tee "$pg_dir/data/pg_hba.conf" >/dev/null <<END_OF_HBA
# Written by $label. Unix socket only (there is no TCP listener): the cluster's owner by
# peer, for the setup; everyone else by password.
local all "$pg_owner" peer
local all all scram-sha-256
END_OF_HBA
    if [[ -n $pg_cluster_tcp_address ]]; then
        as_pg_owner tee -a "$pg_dir/data/pg_hba.conf" >/dev/null <<<"host all all $pg_cluster_tcp_clients scram-sha-256"
    fi
    as_pg_owner "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/postgres.log" -w -t 60 start >/dev/null \
        || { cat "$pg_dir/postgres.log" >&2; die "the PostgreSQL cluster did not start"; }
    # psql quotes the variables itself (:"name" an identifier, :'name' a literal).
    local psql_vars=(-v role="$role" -v password="$password") sql i
    sql='CREATE ROLE :"role" LOGIN PASSWORD :'\''password'\'';'$'\n''CREATE DATABASE :"role" OWNER :"role";'
    for i in "${!extra_roles[@]}"; do
        psql_vars+=(-v "extra$i=${extra_roles[$i]}")
        sql+=$'\n''CREATE ROLE :"extra'"$i"'" LOGIN PASSWORD :'\''password'\'';'
    done
    as_pg_owner "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$socket_dir" -p "$port" -d postgres "${psql_vars[@]}" \
        >/dev/null <<<"$sql" || die "cannot create the role and database $role"
    pg_cluster_url="host=$socket_dir port=$port dbname=$role user=$role"
    pg_cluster_password="$password"
    pg_cluster_dir="$pg_dir"
}

# Stops the cluster and removes its directory (kept with SLUICE_KEEP_TMP); nothing if none.
pg_cluster_stop() {
    [[ -n $pg_dir ]] || return 0
    if [[ -f $pg_dir/data/postmaster.pid ]]; then
        as_pg_owner "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w -t 60 stop >/dev/null \
            || echo "${pg_cluster_prefix:-postgres-cluster}: could not stop the PostgreSQL cluster in $pg_dir" >&2
    fi
    if [[ -n ${SLUICE_KEEP_TMP:-} ]]; then
        echo "${pg_cluster_prefix:-postgres-cluster}: kept the PostgreSQL cluster's directory $pg_dir" >&2
    else
        rm -rf "$pg_dir"
    fi
    pg_dir=""
}
