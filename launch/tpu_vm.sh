#!/usr/bin/env bash
# Train on a Cloud TPU VM, one host or a pod slice of many: create it, put this checkout on every worker, run a
# config on all workers at once with the data and the workdir on a gs:// bucket, follow the log, stop, delete.
#
#   launch/tpu_vm.sh [--dry-run] [SETTINGS] create
#   launch/tpu_vm.sh [--dry-run] [SETTINGS] setup
#   launch/tpu_vm.sh [--dry-run] [SETTINGS] run CONFIG WORKDIR [--config.key=value ...]
#   launch/tpu_vm.sh [--dry-run] [SETTINGS] logs [WORKER]
#   launch/tpu_vm.sh [--dry-run] [SETTINGS] stop
#   launch/tpu_vm.sh [--dry-run] [SETTINGS] delete
#
#   create   creates the TPU VM; with --queued (or TPU_QUEUED=1) a queued resource instead, which waits for capacity
#            (spot or reserved capacity: --spot, --reserved).
#   setup    copies this checkout (tracked and untracked files git does not ignore) to every worker and installs it
#            with jax[tpu] into ~/hmtl_jax/.venv there. Run it again after changing code or configs.
#   run      starts `python -m hmtl_jax.main --config=CONFIG --workdir=WORKDIR --distributed` on every worker, in the
#            background (log: ~/hmtl_jax.log on each worker). A WORKDIR that is not a gs:// path is a folder of
#            $TPU_BUCKET/workdirs; the data dir is $TPU_BUCKET/data unless the overrides name --config.data.data_dir.
#            Running the same command again resumes from the workdir's newest checkpoint.
#   logs     follows the log of worker WORKER (default 0; every worker logs, process 0 writes the metrics).
#   stop     sends SIGTERM to the run on every worker: it saves a checkpoint at the next step and exits.
#   delete   deletes the TPU VM (or the queued resource, with --queued). The bucket is kept.
#
# Settings: a flag, or else the environment variable, or else the default.
#   --name=NAME                 TPU_NAME             hmtl-jax
#   --project=PROJECT           TPU_PROJECT          gcloud's configured project (`gcloud config get project`)
#   --zone=ZONE                 TPU_ZONE             (required)
#   --accelerator_type=TYPE     TPU_ACCELERATOR      v5litepod-8   (e.g. v5litepod-16: 4 hosts, v4-32: 4 hosts)
#   --runtime_version=VERSION   TPU_RUNTIME          v2-alpha-tpuv5-lite   (must match the TPU generation)
#   --bucket=gs://BUCKET        TPU_BUCKET           (required by run)
#   --queued                    TPU_QUEUED=1         use a queued resource (create, delete)
#   --spot | --reserved         TPU_CAPACITY         spot or reserved capacity (queued resources; create takes --spot)
#   --python=PYTHON             TPU_PYTHON           python3.11 (installed by setup with apt when missing)
#
# Before `run`: a bucket in the TPU's region (gcloud storage buckets create gs://BUCKET --location=REGION) and the data
# prepared on a CPU machine, copied to it (python -m data_pipelines.prepare affectnet --manual_dir ... --data_dir
# ~/prepared, then gcloud storage cp -r ~/prepared/affectnet gs://BUCKET/data/). Hosts read their records from there.
#
# Every gcloud call is printed (quoted, ready to paste) before it runs. With --dry-run nothing runs: the calls are
# printed with <PLACEHOLDERS> for the settings not given. See docs/CLOUD.md.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

dry_run=0
name=${TPU_NAME:-hmtl-jax}
project=${TPU_PROJECT:-}
zone=${TPU_ZONE:-}
accelerator=${TPU_ACCELERATOR:-v5litepod-8}
runtime=${TPU_RUNTIME:-v2-alpha-tpuv5-lite}
bucket=${TPU_BUCKET:-}
queued=${TPU_QUEUED:-0}
capacity=${TPU_CAPACITY:-}
python=${TPU_PYTHON:-python3.11}

while [ $# -gt 0 ]; do
  case $1 in
    --dry-run) dry_run=1 ;;
    --name=*) name=${1#*=} ;;
    --project=*) project=${1#*=} ;;
    --zone=*) zone=${1#*=} ;;
    --accelerator_type=*) accelerator=${1#*=} ;;
    --runtime_version=*) runtime=${1#*=} ;;
    --bucket=*) bucket=${1#*=} ;;
    --queued) queued=1 ;;
    --spot) capacity=spot ;;
    --reserved) capacity=reserved ;;
    --python=*) python=${1#*=} ;;
    -h | --help)
      usage
      exit 0
      ;;
    -*)
      echo "$0: unknown setting $1 (see $0 --help)" >&2
      exit 2
      ;;
    *) break ;;
  esac
  shift
done

if [ $# -lt 1 ]; then
  usage >&2
  exit 2
fi
subcommand=$1
shift

# A setting that is not given: a placeholder in a dry run, a one-line error otherwise.
require() {
  local value=$1 variable=$2 flag=$3
  if [ -n "$value" ]; then
    printf '%s' "$value"
  elif [ "$dry_run" = 1 ]; then
    printf '<%s>' "$variable"
  else
    echo "$0: set $variable or $flag (see $0 --help)" >&2
    return 1
  fi
}

if [ -z "$project" ] && [ "$dry_run" = 0 ] && command -v gcloud >/dev/null; then
  project=$(gcloud config get project 2>/dev/null || true)
fi
project=$(require "$project" TPU_PROJECT --project=PROJECT)
zone=$(require "$zone" TPU_ZONE --zone=ZONE)
case $capacity in
  '' | spot | reserved) ;;
  *)
    echo "$0: TPU_CAPACITY must be spot or reserved, not $capacity" >&2
    exit 2
    ;;
esac
location=(--zone="$zone" --project="$project")

# The words as one line a shell reads back as the same words: plain words as they are, others in single quotes.
quote() {
  local word line=""
  for word in "$@"; do
    if [[ $word =~ ^[][A-Za-z0-9_./:=,@%+~-]+$ ]]; then line+=" $word"; else line+=" ${word@Q}"; fi
  done
  printf '%s' "${line# }"
}

# Print the command, then run it unless this is a dry run.
call() {
  echo "+ $(quote "$@")"
  if [ "$dry_run" = 0 ]; then
    "$@"
  fi
}

on_workers() {
  local worker=$1 command=$2
  call gcloud compute tpus tpu-vm ssh "$name" --worker="$worker" "${location[@]}" --command="$command"
}

case $subcommand in
  create)
    if [ "$queued" = 1 ]; then
      capacity_flag=()
      if [ -n "$capacity" ]; then capacity_flag=(--"$capacity"); fi
      call gcloud compute tpus queued-resources create "$name" --node-id="$name" "${location[@]}" \
        --accelerator-type="$accelerator" --runtime-version="$runtime" "${capacity_flag[@]}"
      echo "Queued; the TPU VM exists once this says ACTIVE: gcloud compute tpus queued-resources describe $name ${location[*]}"
    else
      spot_flag=()
      if [ "$capacity" = spot ]; then spot_flag=(--spot); fi
      if [ "$capacity" = reserved ]; then
        echo "$0: reserved capacity goes through a queued resource: add --queued" >&2
        exit 2
      fi
      call gcloud compute tpus tpu-vm create "$name" "${location[@]}" --accelerator-type="$accelerator" \
        --version="$runtime" "${spot_flag[@]}"
    fi
    ;;
  setup)
    cd "$(dirname "$0")/.."
    archive=${TMPDIR:-/tmp}/hmtl_jax_checkout.tar.gz
    # What git knows of, tracked or not, so that a config edited but not committed goes too; never .venv, workdirs.
    echo "+ git ls-files --cached --others --exclude-standard -z | tar --null -T - -czf $archive"
    if [ "$dry_run" = 0 ]; then
      git ls-files --cached --others --exclude-standard -z | tar --null -T - -czf "$archive"
    fi
    call gcloud compute tpus tpu-vm scp "$archive" "$name":hmtl_jax_checkout.tar.gz --worker=all "${location[@]}"
    on_workers all "set -e; command -v $python >/dev/null || { sudo apt-get -qq update && sudo apt-get -qq install -y \
${python}-venv; }; mkdir -p ~/hmtl_jax && tar -xzf ~/hmtl_jax_checkout.tar.gz -C ~/hmtl_jax && cd ~/hmtl_jax && \
{ [ -x .venv/bin/python ] || $python -m venv .venv; } && .venv/bin/pip install -q -e \".[cloud]\" \"jax[tpu]\" && \
.venv/bin/python -c \"import jax; print(jax.process_index(), jax.local_devices())\""
    ;;
  run)
    if [ $# -lt 2 ]; then
      echo "usage: $0 run CONFIG WORKDIR [--config.key=value ...]" >&2
      exit 2
    fi
    config=$1 workdir=$2
    shift 2
    bucket=$(require "$bucket" TPU_BUCKET --bucket=gs://BUCKET)
    bucket=${bucket%/}
    case $workdir in
      gs://*) ;;
      *) workdir=$bucket/workdirs/$workdir ;;
    esac
    overrides=()
    case " $* " in
      *" --config.data.data_dir="*) ;;
      *) overrides=(--config.data.data_dir="$bucket/data") ;;
    esac
    overrides+=("$@")
    arguments=$(quote --config="$config" --workdir="$workdir" --distributed "${overrides[@]}")
    # nohup and a log file: the run outlives the ssh session; `logs` follows it, `stop` ends it.
    on_workers all "cd ~/hmtl_jax && nohup .venv/bin/python -m hmtl_jax.main ${arguments} > ~/hmtl_jax.log 2>&1 \
< /dev/null &"
    echo "Started on every worker. Follow it: $0 logs; TensorBoard: tensorboard --logdir=$workdir/tensorboard"
    ;;
  logs)
    on_workers "${1:-0}" "tail -n +1 -f ~/hmtl_jax.log"
    ;;
  stop)
    # [h]: the pattern must not match the remote shell that runs pkill, whose command line holds it too.
    on_workers all "pkill -TERM -f '[h]mtl_jax.main' || echo \"no run on this worker\""
    ;;
  delete)
    if [ "$queued" = 1 ]; then
      call gcloud compute tpus queued-resources delete "$name" "${location[@]}" --force --quiet
    else
      call gcloud compute tpus tpu-vm delete "$name" "${location[@]}" --quiet
    fi
    ;;
  *)
    echo "$0: unknown subcommand $subcommand: create, setup, run, logs, stop or delete (see $0 --help)" >&2
    exit 2
    ;;
esac
