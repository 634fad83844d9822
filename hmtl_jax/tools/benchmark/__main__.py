"""python -m hmtl_jax.tools.benchmark <name> [args]: benchmarks that print a table of figures.

step_time       train-step time of several configs side by side (ratios to the first)
data_pipeline   preparation and input-pipeline speed on a sample AffectNet-format release (images/s)
throughput      SL / puzzle / in-paint / HMTL steps: img/s, compile times, memory, floor, PyTorch reference
init            the train state's initialisation: compile and run time with XLA's default options and the trainer's
predict         face detection and classification speed of hmtl_jax.predict on photos, separately and together
"""

import sys

from hmtl_jax.tools.benchmark import data_pipeline, init, predict, step_time, throughput

BENCHMARKS = {
    "step_time": step_time.run,
    "data_pipeline": data_pipeline.run,
    "throughput": throughput.run,
    "init": init.run,
    "predict": predict.run,
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in BENCHMARKS:
        print(__doc__)
        sys.exit(2)
    BENCHMARKS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
