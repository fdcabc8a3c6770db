"""Convert MobileNetV2 in a process of its own:
``python -m fruits_assets.spark_jobs.convert SPEC_JSON FOLDER CACHED_JSON``.

Writes the bytes the workers receive (``mobilenet.bundle``) to ``FOLDER/network.bin``
and the weights used (``auto`` may fall back to ``random``) to ``FOLDER/weights.txt``.
``CACHED_JSON`` lists weights names the lake's model cache already holds: when the
weights resolve to one of them, only the name is written (an offline ``auto`` re-run
then tries ImageNet again, but does not convert the random network again);
what the libraries print (Keras announces its downloads on stdout) is only diagnostics.
TensorFlow is imported here only, so the process that runs the pipeline never holds
it, and the conversion can run on one core while that process ingests on the others
(``resources.model``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .mobilenet import ModelSpec, bundle

NETWORK_FILE = "network.bin"
WEIGHTS_FILE = "weights.txt"


def main(argv: list[str]) -> int:
    spec_json, folder, cached_json = argv
    payload, weights_used = bundle(ModelSpec(**json.loads(spec_json)), json.loads(cached_json))
    if payload is not None:
        Path(folder, NETWORK_FILE).write_bytes(payload)
    Path(folder, WEIGHTS_FILE).write_text(weights_used)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
