"""Convert MobileNetV2 in a process of its own:
``python -m fruits_assets.spark_jobs.convert SPEC_JSON OUTPUT``.

Writes the bytes the workers receive (``mobilenet.bundle``) to OUTPUT and prints the
weights used (``auto`` may fall back to ``random``). TensorFlow is imported here only,
so the process that runs the pipeline never holds it, and the conversion can run on
one core while that process ingests on the others (``resources.model``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .mobilenet import ModelSpec, bundle


def main(argv: list[str]) -> int:
    spec_json, output = argv
    payload, weights_used = bundle(ModelSpec(**json.loads(spec_json)))
    Path(output).write_bytes(payload)
    print(weights_used)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
