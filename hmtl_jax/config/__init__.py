"""What a run is: every config key with its default (`defaults.py`), the shared recipes behind configs/*.py
(`recipes.py`), which tasks a config turns on (`tasks.py`), `key=value` overrides outside absl (`overrides.py`), and
the validation that refuses a config that cannot work before anything is compiled (`validation.py`).

Imports: ml_collections; `validation.py` alone also reads the allowed values from the modules that define them
(data, models, pretext, training). Nothing here has side effects.
"""
