#!/usr/bin/env python3
"""Writes fixtures/usage.jsonl, the bundled example's usage log (DESIGN §3): 300 observed
requests over October 2026, deterministic (seeded). Most are allowed by the example policies;
dave pushing artifacts through the CI runner is forbidden (push-needs-platform-human), and one
line names an identity that is not in the inventory."""
import json
import random
from datetime import datetime, timedelta, timezone

random.seed(7)
SA = 'ServiceAccount::"{}"'.format
WORKLOADS = [
    # weight, principal, chain, action, resource
    (30, 'User::"alice"', [SA("prod-deployer")], 'Action::"read"', 'Bucket::"artifacts"'),
    (30, 'User::"alice"', [SA("prod-deployer")], 'Action::"deploy"', 'Cluster::"prod"'),
    (40, 'User::"carol"', [SA("ci-runner")], 'Action::"push"', 'Bucket::"artifacts"'),
    (20, 'User::"carol"', [SA("ci-runner")], 'Action::"read"', 'Bucket::"artifacts"'),
    (15, 'User::"carol"', [SA("ci-runner"), SA("prod-deployer")], 'Action::"deploy"', 'Cluster::"prod"'),
    (25, 'Agent::"triage-bot"', [SA("log-reader")], 'Action::"read"', 'Bucket::"prod-logs"'),
    (20, 'User::"bob"', [], 'Action::"read"', 'Bucket::"staging-artifacts"'),
    (5, 'User::"erin"', [SA("billing-admin")], 'Action::"read"', 'Bucket::"prod-logs"'),
    (4, 'User::"dave"', [SA("ci-runner")], 'Action::"push"', 'Bucket::"artifacts"'),
]
start = datetime(2026, 10, 1, tzinfo=timezone.utc)
lines = []
for _ in range(299):
    w = random.choices(WORKLOADS, weights=[x[0] for x in WORKLOADS])[0]
    t = start + timedelta(seconds=random.randrange(31 * 24 * 3600))
    lines.append((t, {"principal": w[1], "chain": w[2], "action": w[3], "resource": w[4]}))
t = start + timedelta(days=20, hours=3)
lines.append((t, {"principal": 'User::"mallory"', "chain": [], "action": 'Action::"read"', "resource": 'Bucket::"prod-logs"'}))
lines.sort(key=lambda x: x[0])
with open("fixtures/usage.jsonl", "w") as f:
    for t, entry in lines:
        entry = {"time": t.strftime("%Y-%m-%dT%H:%M:%SZ"), **entry}
        f.write(json.dumps(entry) + "\n")
