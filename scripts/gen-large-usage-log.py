#!/usr/bin/env python3
"""A large usage log for the bundled example, to measure `actas drift --usage` at scale.

    scripts/gen-large-usage-log.py 1000000 > big.jsonl            # every line its own context
    scripts/gen-large-usage-log.py 1000000 --unknown > ghosts.jsonl  # every principal unknown

Each line is a request of the example (a deploy as the prod deployer, a push as the CI runner,
a plain read) whose context differs from every other line's, so no two lines are the same
request and nothing is remembered between them. With --unknown every principal is a different
entity missing from the inventory. docs/security.md gives the figures measured with it.
"""
import json
import sys

n = int(sys.argv[1])
unknown = "--unknown" in sys.argv[2:]
people = ['User::"alice"', 'User::"bob"', 'User::"carol"', 'User::"dave"', 'User::"erin"']
requests = [
    ('ServiceAccount::"prod-deployer"', 'Action::"deploy"', 'Cluster::"prod"'),
    ('ServiceAccount::"ci-runner"', 'Action::"push"', 'Bucket::"artifacts"'),
    (None, 'Action::"read"', 'Bucket::"staging-artifacts"'),
]
out = sys.stdout
for i in range(n):
    account, action, resource = requests[i % 3]
    line = {
        "time": f"2026-10-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i // 60) % 60:02d}Z",
        "principal": f'User::"ghost{i}"' if unknown else people[i % 5],
        "action": action,
        "resource": resource,
        "context": {"duration_minutes": 1 + i % 59, "mfa": True, "justification": f"CHG-{i}"},
    }
    if account:
        line["chain"] = [account]
    out.write(json.dumps(line) + "\n")
