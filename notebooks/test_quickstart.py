"""notebooks/quickstart.ipynb, run top to bottom as a user runs it (a fresh kernel, the CPU as JAX finds it), with the
parameter cell set small. Not part of the README's test command (it needs the `notebook` extra); CI runs it:

    .venv/bin/pip install -q -e '.[notebook]' && .venv/bin/python -m pytest -q -p no:xdist notebooks
"""

import json
import os
import pathlib
import re
import time

import nbclient
import nbformat

NOTEBOOK = pathlib.Path(__file__).with_name("quickstart.ipynb")
SMALL = {"TRAIN_FACES": 1_000, "VALIDATION_FACES": 400, "EPOCHS": 2}


def _outputs(cell, kind):
    return [output for output in cell.outputs if kind in output.get("data", {}) or output.get("name") == kind]


def test_the_quickstart_runs_top_to_bottom_and_shows_what_it_says(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    parameters = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(parameters) == 1, "one cell tagged `parameters` sets the size"
    workdir = tmp_path / "run"
    # Appended, as papermill injects parameters: the cell's own values stay the defaults users see.
    parameters[0].source += "\n" + "\n".join(f"{k} = {v!r}" for k, v in {**SMALL, "WORKDIR": str(workdir)}.items())
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}  # one CPU device, as on a user's machine
    started = time.monotonic()
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3").execute(env=env, cwd=str(tmp_path))
    print(f"the notebook ran in {time.monotonic() - started:.0f} s")  # pytest -s shows it; CI's limit is 3 min

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    errors = [output for cell in code for output in cell.outputs if output.output_type == "error"]
    assert not errors, errors
    text = "\n".join(o.get("text", "") for cell in code for o in cell.outputs if o.output_type == "stream")
    assert re.search(r"JAX \S+ on 1 CPU device", text), text[:2000]
    # The pictures: the faces, the curves, the confusion matrix and the pretext views, the annotated photo.
    pictures = [len(_outputs(cell, "image/png")) for cell in code]
    assert sum(pictures) == 5, pictures
    # The figure it prints is the run's own last evaluation.
    latest = json.loads((workdir / "eval_latest.json").read_text())
    assert latest["step"] == latest["total_steps"]
    shown = re.search(r"validation accuracy ([\d.]+)%", text)
    assert shown and float(shown.group(1)) == round(100 * latest["accuracy"], 1), text[-2000:]
    assert re.search(r"\d+ face\(s\) found; the photo holds: \w+", text), text[-2000:]


def test_the_notebook_is_kept_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code), "clear the outputs first"
