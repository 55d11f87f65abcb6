"""Checks a /metrics body (on stdin) with the reference OpenMetrics parser, then prints it as JSON.

tests/daemon.rs runs this in the venv of tests/python-venv.sh. The parser is prometheus_client's
strict OpenMetrics one: it rejects a missing `# EOF`, bad escaping, a sample that does not belong
to its family (a counter's samples must end in `_total`), metadata after samples, and a family
name seen twice ("Clashing name"). On top of that this script requires a HELP text and a TYPE on
every family, and says so by name. Exit 1 with the reasons on stderr; on success, stdout is
[{"name", "type", "help", "unit", "samples": [{"name", "labels", "value"}]}] for the Rust test to
check values against its own counts.
"""

import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families


def main() -> int:
    body = sys.stdin.read()
    try:
        families = list(text_string_to_metric_families(body))
    except Exception as e:  # the parser raises bare ValueErrors too: report any
        print(f"OpenMetrics parser rejected the body: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    problems = []
    seen = set()
    for f in families:
        if f.name in seen:
            problems.append(f"{f.name}: family appears twice")
        seen.add(f.name)
        if not f.documentation:
            problems.append(f"{f.name}: no # HELP")
        if f.type == "unknown":
            problems.append(f"{f.name}: no # TYPE")
    if not families:
        problems.append("no metric families at all")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    json.dump(
        [
            {
                "name": f.name,
                "type": f.type,
                "help": f.documentation,
                "unit": f.unit,
                "samples": [
                    {"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples
                ],
            }
            for f in families
        ],
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
