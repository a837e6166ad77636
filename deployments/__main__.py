"""`python -m deployments [ZONE]` prints prefect.yaml (ZONE: the operator's, default UTC)."""

import sys

from deployments import prefect_yaml

sys.stdout.write(prefect_yaml(sys.argv[1] if len(sys.argv) > 1 else "UTC"))
