#!/usr/bin/env bash
#SBATCH --job-name=hmtl_jax
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --output=hmtl_jax-%j.log
# Train on several GPU nodes of a SLURM cluster: one process per node, each driving all of its node's GPUs.
#
#   launch/slurm_gpu.sh [--dry-run] CONFIG WORKDIR [--config.key=value ...]
#
# Outside a SLURM job it submits itself (`sbatch launch/slurm_gpu.sh ...`; sbatch's own options go first:
# `sbatch --nodes=4 --partition=gpu launch/slurm_gpu.sh ...` for 4 nodes); inside the job it starts
# `python -m hmtl_jax.main --distributed` on every node with srun, and JAX reads the coordinator, the number of
# processes and each process's id from SLURM's environment (jax.distributed.initialize() with no arguments).
# The project and its CUDA venv (HMTL_VENV, default .venv-gpu: `python3 -m venv .venv-gpu && .venv-gpu/bin/pip
# install -e . "jax[cuda12]"`) must be on a file system every node sees; so must WORKDIR (or use a gs:// path).
# Rerunning the same command resumes from the workdir's newest checkpoint. With --dry-run the sbatch or srun
# command is printed and nothing runs. Other clusters: docs/CLOUD.md ("Other clusters").
set -euo pipefail

dry_run=0
if [ "${1:-}" = --dry-run ]; then
  dry_run=1
  shift
fi
if [ $# -lt 2 ]; then
  echo "usage: $0 [--dry-run] CONFIG WORKDIR [--config.key=value ...]" >&2
  exit 2
fi

# Print the command, each word quoted as the shell needs, then run it unless this is a dry run.
call() {
  local word line=""
  for word in "$@"; do
    if [[ $word =~ ^[][A-Za-z0-9_./:=,@%+~-]+$ ]]; then line+=" $word"; else line+=" ${word@Q}"; fi
  done
  echo "+${line}"
  if [ "$dry_run" = 0 ]; then
    "$@"
  fi
}

if [ -z "${SLURM_JOB_ID:-}" ]; then
  call sbatch "$0" "$@"
  exit 0
fi

# sbatch runs a copy of this script from its spool directory: the project is where the job was submitted from.
cd "${SLURM_SUBMIT_DIR:-.}"
venv=${HMTL_VENV:-.venv-gpu}
if [ "$dry_run" = 0 ] && [ ! -x "$venv/bin/python" ]; then
  echo "$0: no $venv/bin/python in $PWD: create it first (python3 -m venv $venv && $venv/bin/pip install -e . \"jax[cuda12]\")" >&2
  exit 1
fi
# JAX's SLURM detection assumes one process per GPU and shows each process only GPU number SLURM_LOCALID; here one
# process drives every GPU of its node (the nodes alike).
gpus=${SLURM_GPUS_ON_NODE:-$( (nvidia-smi -L 2>/dev/null || true) | wc -l)}
if [ "$gpus" -ge 1 ]; then
  JAX_LOCAL_DEVICE_IDS=$(seq -s, 0 $((gpus - 1)))
elif [ "$dry_run" = 1 ]; then
  JAX_LOCAL_DEVICE_IDS="<0,...,SLURM_GPUS_ON_NODE-1>"
else
  echo "$0: no GPU on this node (SLURM_GPUS_ON_NODE unset, nvidia-smi -L lists none): ask sbatch for --gpus-per-node" >&2
  exit 1
fi
export JAX_LOCAL_DEVICE_IDS
echo "+ export JAX_LOCAL_DEVICE_IDS=$JAX_LOCAL_DEVICE_IDS"
config=$1 workdir=$2
shift 2
call srun --ntasks-per-node=1 --kill-on-bad-exit=1 "$venv/bin/python" -m hmtl_jax.main --config="$config" \
  --workdir="$workdir" --distributed "$@"
