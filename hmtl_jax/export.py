"""Command line: python -m hmtl_jax.export --workdir=W --output=model.stablehlo [--platforms=cpu,cuda]

Serialises a workdir's model (newest checkpoint, weights inside) with `jax.export` as StableHLO: a function of a
batch of faces, uint8 RGB (batch, S, S, 3) with any batch size, to the class probabilities (batch, C), or head
pose's yaw, pitch and roll in degrees (batch, 3). It runs with JAX alone, without this project:

    from jax import export
    model = export.deserialize(open("model.stablehlo", "rb").read())
    probabilities = model.call(faces)

Beside it, `<output>.json` says what the model expects and answers (the class names, S, the crop). Faces are fed as
the evaluation feeds them: a square face crop, its centred `crop_fraction`, resized to S x S (docs/INFERENCE.md).
Exit status 0, or 2 with one line on stderr for a mistake in the command.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

import jax
import jax.numpy as jnp
from jax import export

from hmtl_jax.errors import UserError
from hmtl_jax.inference.trained_model import TrainedModel


def export_stablehlo(model: TrainedModel, platforms: tuple[str, ...]) -> export.Exported:
    size = model.card.image_size
    (batch,) = export.symbolic_shape("batch")
    faces = jax.ShapeDtypeStruct((batch, size, size, 3), jnp.uint8)
    return export.export(jax.jit(model.scores_function()), platforms=platforms)(faces)


def describe(model: TrainedModel, platforms: tuple[str, ...]) -> dict:
    return dataclasses.asdict(model.card) | {
        "input": "uint8 RGB faces (batch, image_size, image_size, 3)",
        "output": "yaw, pitch, roll in degrees (batch, 3)"
        if model.card.task == "head_pose"
        else "probabilities (batch, len(names))",
        "platforms": list(platforms),
        "workdir": model.workdir,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hmtl_jax.export", description=__doc__.split("\n\n")[1])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--step", type=int, default=None, help="the checkpoint of this step (default: the newest)")
    parser.add_argument("--output", required=True, help="the .stablehlo file to write")
    parser.add_argument("--platforms", default=jax.default_backend(), help="comma-separated: cpu, cuda, rocm, tpu")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    platforms = tuple(p.strip() for p in args.platforms.split(",") if p.strip())
    try:
        model = TrainedModel(args.workdir, args.step)
        exported = export_stablehlo(model, platforms)
    except UserError as error:
        print(f"error: {str(error).splitlines()[0]}", file=sys.stderr)
        sys.exit(2)
    with open(args.output, "wb") as f:
        f.write(exported.serialize())
    with open(args.output + ".json", "w") as f:
        json.dump(describe(model, platforms), f, indent=2)
    card = model.card
    print(f"Wrote {args.output} ({card.model_name}, {len(card.names)} outputs, faces of {card.image_size} px, "
          f"step {card.step}, for {', '.join(platforms)}) and {args.output}.json")  # fmt: skip


if __name__ == "__main__":
    main()
