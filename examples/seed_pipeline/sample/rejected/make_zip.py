"""Write the seed example's rejected sample: the good sample plus a ``.env`` holding an AWS-shaped access key id.

``s3vp package`` (and so ``s3vp run`` on a folder) leaves ``.env`` out, so this sample is a zip, written on demand:
``python3 examples/seed_pipeline/sample/rejected/make_zip.py rejected.zip``. The key id is made up and assembled
here so that secret scanners do not flag this repository.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

GOOD = Path(__file__).resolve().parent.parent / "good"
FAKE_KEY_ID = "AKIA" + "Q7ZWXN3M5KPR2TJH"


def main(output: str) -> None:
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(GOOD.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(GOOD).as_posix())
        archive.writestr(".env", f"AWS_ACCESS_KEY_ID={FAKE_KEY_ID}\nAWS_REGION=eu-west-1\n")


if __name__ == "__main__":
    main(sys.argv[1])
