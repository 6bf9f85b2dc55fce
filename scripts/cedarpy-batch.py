"""Time cedarpy's batch evaluation of the requests `examples/cedar_requests` wrote.

    python cedarpy-batch.py REQUESTS_DIR SCHEMA ENTITIES

One `is_authorized_batch` call over every request, with the policies (links written out as
static policies), the schema and the entities as text, so cedarpy's own parsing is included,
as is reading the files. Checks every decision against raw Cedar's (`expected.json`) and
prints the seconds, or exits 1 on a mismatch.
"""

import json
import sys
import time

import cedarpy


def main() -> int:
    out, schema_path, entities_path = sys.argv[1:4]
    start = time.perf_counter()
    with open(f"{out}/requests.json", encoding="utf-8") as f:
        requests = json.load(f)
    with open(f"{out}/policies.cedar", encoding="utf-8") as f:
        policies = f.read()
    with open(schema_path, encoding="utf-8") as f:
        schema = f.read()
    with open(entities_path, encoding="utf-8") as f:
        entities = f.read()
    results = cedarpy.is_authorized_batch(requests, policies, entities, schema)
    seconds = time.perf_counter() - start
    with open(f"{out}/expected.json", encoding="utf-8") as f:
        expected = json.load(f)
    got = [r.decision == cedarpy.Decision.Allow for r in results]
    wrong = sum(1 for g, e in zip(got, expected) if g != e)
    if len(got) != len(expected) or wrong:
        print(f"cedarpy: {wrong} of {len(expected)} decisions differ from raw Cedar's")
        return 1
    print(f"{seconds:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
