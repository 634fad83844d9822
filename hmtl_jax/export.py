"""Command line: python -m hmtl_jax.export --workdir=W --output=model.stablehlo [--platforms=cpu,cuda]
              python -m hmtl_jax.export --workdir=W --output=model.onnx --format=onnx  (in an environment with jax2onnx)

Serialises a workdir's model (newest checkpoint, weights inside): a function of a batch of faces, uint8 RGB
(batch, S, S, 3) with any batch size, to the class probabilities (batch, C), or head pose's yaw, pitch and roll in
degrees (batch, 3).
- stablehlo: `jax.export`; runs with JAX alone, without this project:
      from jax import export
      model = export.deserialize(bytearray(open("model.stablehlo", "rb").read()))
      probabilities = model.call(faces)
- onnx: jax2onnx, then checked with onnxruntime against this project's answers on synthetic faces (at most 1e-4
  apart, else it fails saying by how much). jax2onnx pins orbax-checkpoint below the training environment's, so it
  lives in its own environment: docs/INFERENCE.md, "ONNX".

Beside the file, `<output>.json` says what the model expects and answers (the class names, S, the crop). Faces are
fed as the evaluation feeds them: a square face crop, its centred `crop_fraction`, resized to S x S
(docs/INFERENCE.md). Exit status 0, or 2 with one line on stderr for a mistake in the command or a model the
converter gets wrong.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
from jax import export

from hmtl_jax.errors import ConfigError, UserError
from hmtl_jax.inference.trained_model import TrainedModel


def export_stablehlo(model: TrainedModel, platforms: tuple[str, ...]) -> export.Exported:
    size = model.card.image_size
    (batch,) = export.symbolic_shape("batch")
    faces = jax.ShapeDtypeStruct((batch, size, size, 3), jnp.uint8)
    return export.export(jax.jit(model.scores_function()), platforms=platforms)(faces)


ONNX_TOLERANCE = 1e-4
ONNX_INSTALL = ("ONNX export needs jax2onnx and onnxruntime, which pin orbax-checkpoint below this environment's: "
                "install them in an environment of their own, python3 -m venv .venv-onnx && .venv-onnx/bin/pip "
                "install -e . jax2onnx onnxruntime, and run this command with .venv-onnx/bin/python")  # fmt: skip


def export_onnx(model: TrainedModel, output: str) -> float:
    """Write the ONNX model and return its largest difference from `model.scores` on 16 synthetic faces."""
    try:
        import onnxruntime
        from jax2onnx import to_onnx
    except ImportError:
        raise ConfigError(ONNX_INSTALL) from None
    from hmtl_jax.data.synthetic.faces import SyntheticFaces

    size = model.card.image_size
    faces = jax.ShapeDtypeStruct(("batch", size, size, 3), jnp.uint8)
    proto = to_onnx(model.scores_function(), inputs=[faces], model_name=f"hmtl_jax_{model.card.model_name}",
                    input_names=["faces"], output_names=["scores"])  # fmt: skip
    serialized = proto.SerializeToString()
    samples = SyntheticFaces("validation", 16, image_size=size, seed=0)
    batch = np.stack([samples[i]["image"] for i in range(len(samples))])
    try:
        session = onnxruntime.InferenceSession(serialized, providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: BLE001 - onnxruntime's own: the converter wrote a graph it refuses
        raise ConfigError(f"jax2onnx wrote a graph onnxruntime refuses ({str(error).splitlines()[0][-200:]}): "
                          "this model cannot be exported to ONNX with it; StableHLO works") from None  # fmt: skip
    difference = float(np.max(np.abs(session.run(None, {"faces": batch})[0] - np.asarray(model.scores(batch)))))
    if difference > ONNX_TOLERANCE:
        raise ConfigError(f"the ONNX model's answers differ from the model's by {difference:.2g} (more than "
                          f"{ONNX_TOLERANCE}) on synthetic faces: nothing written")  # fmt: skip
    with open(output, "wb") as f:  # only once checked
        f.write(serialized)
    return difference


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
    parser.add_argument("--output", required=True, help="the file to write")
    parser.add_argument("--format", default="stablehlo", choices=("stablehlo", "onnx"))
    parser.add_argument("--platforms", default=jax.default_backend(), help="stablehlo: comma-separated cpu, cuda, "
                        "rocm, tpu")  # fmt: skip
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    platforms = tuple(p.strip() for p in args.platforms.split(",") if p.strip())
    checked = ""
    try:
        model = TrainedModel(args.workdir, args.step)
        if args.format == "onnx":
            platforms = ("onnx",)
            checked = f"; onnxruntime within {export_onnx(model, args.output):.1g} of the model"
        else:
            with open(args.output, "wb") as f:
                f.write(export_stablehlo(model, platforms).serialize())
    except UserError as error:
        print(f"error: {str(error).splitlines()[0]}", file=sys.stderr)
        sys.exit(2)
    with open(args.output + ".json", "w") as f:
        json.dump(describe(model, platforms), f, indent=2)
    card = model.card
    print(f"Wrote {args.output} ({card.model_name}, {len(card.names)} outputs, faces of {card.image_size} px, "
          f"step {card.step}, for {', '.join(platforms)}{checked}) and {args.output}.json")  # fmt: skip


if __name__ == "__main__":
    main()
