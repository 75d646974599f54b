"""Write tests/data/aa-parity-exceptions-low.json: our low and info validity findings on the AWS managed
policies that Access Analyzer lacks, each with the reason its rule gives (run after a rule changes).

    PYTHONPATH=. python tests/tools/list_low_parity_exceptions.py ../shared/corpus
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REASONS = {
    "IAM203": "retired action or service: listed in rules/retired-actions.json with the catalogue that last had it "
              "(classification in tests/data/aws-managed-unknown-actions.json); Access Analyzer accepted it while "
              "it existed",
    "IAM400": "condition key of a service AWS has retired (reported at info); Access Analyzer still accepted it",
    "IAM500": "over the 6,144-character quota of a customer managed policy but under the 10,240 Access Analyzer "
              "measures identity policies against; AWS managed policies are exempt (an export marks them and the "
              "finding becomes info), a standalone file of unknown use is reported low",
    "IAM300": "a resource entry that matches no ARN format of its service, beside entries that work: dead text in "
              "the policy; Access Analyzer does not check resource formats (judged from the catalogue, spot-checked)",
    "IAM301": "a resource entry that no action of the statement can use, beside entries that work: it grants "
              "nothing; Access Analyzer does not relate actions to resource types (judged from the catalogue's "
              "action-to-resource-type lists, spot-checked)",
    "IAM302": "an action of a Deny that none of the statement's resources can be asked for on (the Tagging API's "
              "tag:TagResources, which accepts only *, beside Glue session ARNs): the Deny does not block it; Access "
              "Analyzer does not relate actions to resource types (judged from the catalogue, spot-checked)",
    "IAM405": "ForAnyValue on a single-valued key (low): Access Analyzer warns only for ForAllValues",
    "IAM502": "an action already matched by a wildcard of the same statement; in policies over 50,000 characters "
              "Access Analyzer returned nothing at all (not analysed), elsewhere it reports REDUNDANT_ACTION only "
              "as a suggestion for some",
}


def main(corpus: Path) -> None:
    from tests.test_access_analyzer_parity import lacking_findings

    rows = [{"finding": key, "reason": REASONS[key.split("|")[1]]} for key in lacking_findings(corpus, low=True)]
    out = Path(__file__).resolve().parents[1] / "data" / "aa-parity-exceptions-low.json"
    document = {"about": "Our low and info validity findings on the AWS managed policies that Access Analyzer "
                         "lacks, with the reason of their rule. Written by tests/tools/list_low_parity_exceptions.py; "
                         "checked by tests/test_access_analyzer_parity.py.", "exceptions": rows}
    out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(f"{len(rows)} findings written to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
