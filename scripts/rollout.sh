#!/usr/bin/env bash
# Rolls a model version out to rerankd replicas one at a time, through each
# replica's ModelAdmin endpoint (admin_listen_address):
#
#   scripts/rollout.sh --model_dir=v2 [--expect_version=VERSION] \
#       [--dry-run] [--pause_seconds=N] [--cli=PATH] [--deadline_ms=MS] \
#       [--cli_arg=ARG ...] HOST:PORT [HOST:PORT ...]
#
# For each replica in the order given: `rerank-cli reload --model_dir=DIR`,
# then `rerank-cli info` to confirm the version it now serves. It stops at the
# first replica that refuses the reload, cannot be reached, or serves another
# version than expected, names that replica, leaves the rest untouched and
# exits 1. A refused reload keeps that replica on its old model, so a stopped
# rollout leaves replicas [1, k-1] on the new model and [k, n] on the old one.
#
#   --model_dir=DIR         model directory relative to each server's model_root
#                           (the same path on every replica: a shared volume).
#   --expect_version=V      manifest model_version every replica must report
#                           afterwards. Default: whatever the first replica
#                           reports; all later ones must match it.
#   --dry-run               only read: print each replica's current model and
#                           what would be done; exit 1 if one is unreachable.
#   --pause_seconds=N       wait N seconds after each replica but the last
#                           (time to watch its metrics before going on).
#   --cli=PATH              rerank-cli to use (default $RERANK_CLI, then
#                           rerank-cli on PATH, then build/src/tools/rerank-cli).
#   --deadline_ms=MS        deadline of each reload (default 120000: a large
#                           model is read and checksummed before the swap).
#   --cli_arg=ARG           extra argument for every rerank-cli call, repeatable
#                           (e.g. the credentials flags of a ModelAdmin that
#                           needs TLS or a bearer token).
#
# Roll back the same way, to the directory served before (printed by this
# script, and by `rerank-cli info` as source_dir):
#   scripts/rollout.sh --model_dir=v1 --expect_version=<v1 version> HOST:PORT ...
#
# Exit status: 0 all replicas serve the version; 1 the rollout stopped at a
# replica (message on stderr); 2 bad arguments.
set -euo pipefail

# The header comment above, without the "# ".
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
die_usage() { echo "rollout: $*" >&2; echo "run with --help for usage" >&2; exit 2; }

model_dir=""
expect_version=""
dry_run=0
pause_seconds=0
cli=""
cli_args=()
deadline_ms=120000
replicas=()
for arg in "$@"; do
  case "$arg" in
    --model_dir=*) model_dir=${arg#*=} ;;
    --expect_version=*) expect_version=${arg#*=} ;;
    --dry-run|--dry_run) dry_run=1 ;;
    --pause_seconds=*) pause_seconds=${arg#*=} ;;
    --cli=*) cli=${arg#*=} ;;
    --deadline_ms=*) deadline_ms=${arg#*=} ;;
    --cli_arg=*) cli_args+=("${arg#*=}") ;;
    -h|--help) usage; exit 0 ;;
    -*) die_usage "unknown flag: $arg" ;;
    *) replicas+=("$arg") ;;
  esac
done

[ -n "$model_dir" ] || die_usage "--model_dir is required (e.g. --model_dir=v2)"
[ ${#replicas[@]} -gt 0 ] || die_usage "no replicas given (HOST:PORT of each admin endpoint)"
[[ "$pause_seconds" =~ ^[0-9]+$ ]] || die_usage "--pause_seconds must be a whole number"
[[ "$deadline_ms" =~ ^[0-9]+$ ]] || die_usage "--deadline_ms must be a whole number"
for r in "${replicas[@]}"; do
  [[ "$r" =~ ^.+:[0-9]+$ ]] || die_usage "replica \"$r\" is not HOST:PORT"
done

if [ -z "$cli" ]; then
  if [ -n "${RERANK_CLI:-}" ]; then cli=$RERANK_CLI
  elif command -v rerank-cli >/dev/null; then cli=$(command -v rerank-cli)
  else cli="$(cd "$(dirname "$0")/.." && pwd)/build/src/tools/rerank-cli"
  fi
fi
[ -x "$cli" ] || die_usage "rerank-cli not found or not executable: $cli (use --cli=PATH)"
# Top-level string field FIELD of rerank-cli's protobuf JSON on stdin ("" if
# absent). rerank-cli prints one field per line, lowerCamelCase names; the
# fields read here (version, sourceDir) occur once in a ModelInfo.
json_field() {
  sed -n '/^ *"'"$1"'": "/ { s/^ *"'"$1"'": "\(.*\)",\{0,1\}$/\1/p; q; }'
}

total=${#replicas[@]}
err=$(mktemp)
trap 'rm -f "$err"' EXIT
done_list=()   # replicas already reloaded
prev_list=()   # what each of them served before, for the rollback hint

# Prints the stop message and exits 1. $1: index (1-based), $2: replica, $3: why.
stop() {
  local i=$1 replica=$2 why=$3
  {
    echo
    echo "rollout: STOPPED at replica $i/$total ($replica): $why"
    if [ ${#done_list[@]} -gt 0 ]; then
      echo "rollout: already on $model_dir: ${done_list[*]}"
    else
      echo "rollout: no replica was changed"
    fi
    # The changed replicas are always the first ones in the given order.
    local unchanged=("${replicas[@]:${#done_list[@]}}")
    if [ ${#unchanged[@]} -gt 0 ]; then
      echo "rollout: unchanged (still on their previous model): ${unchanged[*]}"
    fi
    if [ ${#done_list[@]} -gt 0 ]; then
      echo "rollout: to roll back, reload what the changed replicas served before"
      echo "rollout: (the directory relative to the model root) on them:"
      local k
      for k in "${!done_list[@]}"; do
        echo "rollout:   ${done_list[$k]} served ${prev_list[$k]}"
      done
      echo "rollout:   $0 --model_dir=<previous dir> ${done_list[*]}"
    fi
  } >&2
  exit 1
}

echo "rollout: $model_dir to $total replica(s)${expect_version:+, expecting version $expect_version}"
[ "$dry_run" = 1 ] && echo "rollout: dry run: nothing will be reloaded"

unreachable=0
for i in $(seq 1 "$total"); do
  replica=${replicas[$((i - 1))]}
  tag="[$i/$total $replica]"

  # Current state: proves the admin endpoint answers before touching it and
  # records what a rollback would reload.
  if ! before=$("$cli" info --admin_target="$replica" --format=json "${cli_args[@]}" 2>"$err"); then
    if [ "$dry_run" = 1 ]; then
      echo "$tag UNREACHABLE: $(cat "$err")"
      unreachable=1
      continue
    fi
    stop "$i" "$replica" "cannot read its model info before the reload: $(cat "$err")"
  fi
  prev_version=$(json_field version <<<"$before")
  prev_dir=$(json_field sourceDir <<<"$before")

  if [ "$dry_run" = 1 ]; then
    echo "$tag serves ${prev_version:-(no model)} from ${prev_dir:-(none)}; would reload $model_dir"
    continue
  fi

  echo "$tag reloading $model_dir (now ${prev_version:-no model} from ${prev_dir:-nowhere})"
  if ! "$cli" reload --admin_target="$replica" --model_dir="$model_dir" \
      --deadline_ms="$deadline_ms" --format=json "${cli_args[@]}" >/dev/null 2>"$err"; then
    stop "$i" "$replica" "reload refused: $(cat "$err") (it keeps serving ${prev_version:-no model})"
  fi

  if ! after=$("$cli" info --admin_target="$replica" --format=json "${cli_args[@]}" 2>"$err"); then
    stop "$i" "$replica" "reloaded, but its model info cannot be read: $(cat "$err")"
  fi
  version=$(json_field version <<<"$after")
  if [ -z "$expect_version" ]; then
    expect_version=$version
    echo "rollout: expecting version $expect_version on the remaining replicas (from the first)"
  fi
  if [ "$version" != "$expect_version" ]; then
    # The replica did swap: count it as changed so the rollback hint names it.
    done_list+=("$replica")
    prev_list+=("${prev_version:-no model} from ${prev_dir:-nowhere}")
    stop "$i" "$replica" "serves version \"$version\" after the reload, expected \"$expect_version\" (it was ${prev_version:-no model} from ${prev_dir:-nowhere})"
  fi
  done_list+=("$replica")
  prev_list+=("${prev_version:-no model} from ${prev_dir:-nowhere}")
  echo "$tag ok: serves $version (before: ${prev_version:-no model} from ${prev_dir:-nowhere})"

  if [ "$pause_seconds" -gt 0 ] && [ "$i" -lt "$total" ]; then
    echo "rollout: pausing ${pause_seconds}s before the next replica"
    sleep "$pause_seconds"
  fi
done

if [ "$dry_run" = 1 ]; then
  if [ "$unreachable" = 1 ]; then
    echo "rollout: dry run: some replicas are unreachable" >&2
    exit 1
  fi
  echo "rollout: dry run: all $total replica(s) reachable"
  exit 0
fi
echo "rollout: done: all $total replica(s) serve $expect_version from $model_dir"
