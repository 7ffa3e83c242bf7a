# Back up a PostgreSQL database with pg_dump (custom format), keeping the newest N dumps.
#
# The dump is written to <directory>/<database>-<UTC timestamp>.dump and checked with
# pg_restore --list; older dumps of the same database beyond `keep` are deleted.
# Restore with: pg_restore --clean --if-exists -d <dsn> <file>
set -euo pipefail

dsn="$1"
directory="${2:-/var/backups/postgres}"
keep="${3:-7}"
pg_dump_bin="${4:-pg_dump}"

pg_restore_bin="$(dirname "$(command -v "$pg_dump_bin")")/pg_restore"
database="${dsn##*/}"
database="${database%%\?*}"
mkdir -p "$directory"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
file="$directory/$database-$stamp.dump"

echo "dumping $database to $file"
"$pg_dump_bin" --format=custom --no-owner --dbname="$dsn" --file="$file.partial"
"$pg_restore_bin" --list "$file.partial" > /dev/null
mv "$file.partial" "$file"
size="$(wc -c < "$file" | tr -d ' ')"
echo "wrote $size bytes"

# the newest `keep` dumps of this database stay; the names sort by time
mapfile -t old < <(ls -1 "$directory/$database"-*.dump | sort | head -n -"$keep")
for stale in "${old[@]}"; do
    echo "removing $stale"
    rm -f -- "$stale"
done

printf '{"file": "%s", "bytes": %s, "removed": %s}\n' "$file" "$size" "${#old[@]}"
