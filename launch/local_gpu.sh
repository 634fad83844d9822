#!/usr/bin/env bash
# Run a config on this machine's GPUs (all visible ones, data parallel).
#
#   launch/local_gpu.sh configs/affectnet_sl.py workdirs/affectnet_sl [--config.batch_size=256 ...]
#
# Installs the project with CUDA-enabled JAX into .venv-gpu on first use, then runs hmtl_jax.main. Rerunning the
# same command resumes from the workdir's latest checkpoint. Select GPUs with CUDA_VISIBLE_DEVICES.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 CONFIG WORKDIR [--config.key=value ...]" >&2
  exit 2
fi
config=$1 workdir=$2
shift 2
cd "$(dirname "$0")/.."
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "$0: no NVIDIA GPU visible (nvidia-smi -L failed). On a CPU use: python -m hmtl_jax.main --config=$config --workdir=$workdir" >&2
  exit 1
fi
venv=${HMTL_VENV:-.venv-gpu}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -e . "jax[cuda12]"
fi
# Let XLA take most of the GPU memory up front (fewer allocator stalls); leave some for cuDNN workspaces.
export XLA_PYTHON_CLIENT_MEM_FRACTION=${XLA_PYTHON_CLIENT_MEM_FRACTION:-0.9}
nvidia-smi -L
exec "$venv/bin/python" -m hmtl_jax.main --config="$config" --workdir="$workdir" "$@"
